/*
 * The agent console (served at /console/): the queue of chats the bot handed to a person, the
 * handoff packet, live replies, ending a handoff or turning it into a ticket, and the tickets.
 *
 * Plain JavaScript, no build step, nothing loaded from elsewhere. It talks to the server's JSON API
 * under /console/api (cookie session, X-CSRF-Token on every POST) and gets live updates from the
 * WebSocket at /console/ws. Everything that comes from the server — above all what customers
 * wrote — is put into the page as text (textContent, createElement), never as HTML.
 *
 * The fixed texts are in ALL_TEXTS, in the five languages; the agent picks one in the top bar (the
 * browser's language by default, the choice kept in localStorage) and everything is redrawn in it.
 */
(function () {
  "use strict";

  /* ---------- fixed texts, in the five languages (a key missing in one falls back to English) ---------- */

  var LANGUAGES = ["en", "ms", "id", "tl", "vi"];
  // Each language's name in that language, for the language menu (so an agent finds their own).
  var LANGUAGE_NAMES = { en: "English", ms: "Bahasa Melayu", id: "Bahasa Indonesia", tl: "Tagalog", vi: "Tiếng Việt" };
  // Browser language tags that mean one of ours: Filipino, and the old code for Indonesian.
  var LANGUAGE_ALIASES = { fil: "tl", "in": "id" };
  var LANGUAGE_KEY = "supportbot-console:language"; // localStorage: the agent's choice

  var ALL_TEXTS = {
    en: {
      appTitle: "Agent console", signedInAs: "Signed in as", report: "Report", logout: "Log out", loggedOut: "You are logged out.",
      languageLabel: "Language",
      loginHeading: "Log in", username: "Username", password: "Password", login: "Log in",
      loginMissing: "Enter your username and password.",
      loginWrong: "Wrong username or password.",
      loginThrottled: "Too many failed log-ins. Wait a few minutes and try again.",
      sessionExpired: "Session expired, please log in again.",
      networkError: "The server cannot be reached. Check the connection and try again.",
      httpError: "The server answered with an error ({status}). Please try again.",
      reconnecting: "Connection lost. Reconnecting…", reconnected: "Connected again.",
      views: "Views", tabQueue: "Queue", tabTickets: "Tickets",
      queueHeading: "Chats handed to a person",
      queueEmpty: "No chats are waiting. New ones appear here by themselves.",
      noName: "Customer (no name given)", waitingFor: "Waiting {time}", handedOffAgo: "Handed off {time} ago",
      stateWaiting: "Waiting for an agent", stateMine: "With you", stateOther: "With {name}",
      unread: "New messages", claim: "Claim", open: "Open", claimed: "You have the chat with {name}.",
      chatWith: "Chat with {name}", handedOffAt: "handed off {time}", conversation: "Conversation",
      customer: "Customer", bot: "Bot", agent: "Agent",
      replyLabel: "Reply to the customer",
      replyHint: "Enter sends, Shift+Enter starts a new line. At most {limit} characters.",
      send: "Send", replySent: "Reply sent.", replyEmpty: "Write a reply first.",
      replyTooLong: "The reply is too long: {limit} characters at most.",
      endHandoff: "End and hand back to the bot", makeTicket: "Turn into a ticket",
      ended: "The chat is back with the bot.", ticketMade: "Ticket {id} created. The chat is back with the bot.",
      chatEnded: "The chat with {name} has ended.", chatTimedOut: "The chat with {name} timed out.",
      chatNotYours: "This chat is not yours (any more).",
      packetHeading: "Handoff details", notGiven: "not given",
      packetTruncated: "Earlier messages were left out of the handoff packet (the conversation shown here is the live record).",
      fields: {
        name: "Name", email: "E-mail", phone: "Phone", order_number: "Order number", ticket_id: "Ticket",
        language: "Language", reason: "Why the bot handed off", created_at: "Handed off at"
      },
      deliveriesHeading: "Copies of this handoff", deliveryWebhook: "Webhook", deliveryEmail: "E-mail",
      deliverySent: "delivered", deliveryPending: "pending, {attempts} failed attempts so far",
      faqHeading: "FAQ answers the bot considered", faqNone: "The bot considered no FAQ answers.",
      faqMessage: "Customer message", faqMatched: "Matched", faqScore: "Score", faqOthers: "Other candidates",
      noMatch: "none",
      reasons: {
        asked: "Customer asked for a person", not_understood: "Bot did not understand twice",
        not_helpful: "Answers marked not helpful twice", upset: "Customer seemed upset",
        needs_person: "Topic needs a person"
      },
      languages: { en: "English", ms: "Malay", id: "Indonesian", tl: "Tagalog", vi: "Vietnamese" },
      chatPlaceholder: "Claim a chat from the queue, or open one of yours, to see it here.",
      ticketsHeading: "Tickets", ticketsTable: "Tickets table", filterLabel: "Show", refresh: "Refresh",
      ticketsEmpty: "No tickets to show.",
      statusAll: "All",
      statuses: {
        open: "Open", in_progress: "In progress", waiting_for_customer: "Waiting for customer",
        resolved: "Resolved", closed: "Closed"
      },
      colTicket: "Ticket", colCustomer: "Customer", colTopic: "Topic", colReplyBy: "Reply by",
      colStatus: "Status", colNote: "Note for the customer", colSave: "Save",
      statusOf: "Status of ticket {id}", noteFor: "Note for the customer about ticket {id}",
      lastNote: "Last note: {note}", save: "Save", ticketSaved: "Ticket {id} saved: {status}."
    },

    ms: {
      appTitle: "Konsol ejen", signedInAs: "Log masuk sebagai", report: "Laporan", logout: "Log keluar", loggedOut: "Anda telah log keluar.",
      languageLabel: "Bahasa",
      loginHeading: "Log masuk", username: "Nama pengguna", password: "Kata laluan", login: "Log masuk",
      loginMissing: "Masukkan nama pengguna dan kata laluan anda.",
      loginWrong: "Nama pengguna atau kata laluan salah.",
      loginThrottled: "Terlalu banyak cubaan log masuk yang gagal. Tunggu beberapa minit dan cuba lagi.",
      sessionExpired: "Sesi telah tamat. Sila log masuk semula.",
      networkError: "Pelayan tidak dapat dihubungi. Semak sambungan dan cuba lagi.",
      httpError: "Pelayan membalas dengan ralat ({status}). Sila cuba lagi.",
      reconnecting: "Sambungan terputus. Menyambung semula…", reconnected: "Sambungan pulih.",
      views: "Paparan", tabQueue: "Giliran", tabTickets: "Tiket",
      queueHeading: "Sembang yang diserahkan kepada ejen",
      queueEmpty: "Tiada sembang yang menunggu. Sembang baharu akan muncul di sini dengan sendirinya.",
      noName: "Pelanggan (tiada nama)", waitingFor: "Menunggu {time}", handedOffAgo: "Diserahkan {time} lalu",
      stateWaiting: "Menunggu ejen", stateMine: "Dengan anda", stateOther: "Dengan {name}",
      unread: "Mesej baharu", claim: "Ambil", open: "Buka", claimed: "Anda kini mengendalikan sembang dengan {name}.",
      chatWith: "Sembang dengan {name}", handedOffAt: "diserahkan {time}", conversation: "Perbualan",
      customer: "Pelanggan", bot: "Bot", agent: "Ejen",
      replyLabel: "Balas kepada pelanggan",
      replyHint: "Enter untuk hantar, Shift+Enter untuk baris baharu. Maksimum {limit} aksara.",
      send: "Hantar", replySent: "Balasan dihantar.", replyEmpty: "Tulis balasan dahulu.",
      replyTooLong: "Balasan terlalu panjang: maksimum {limit} aksara.",
      endHandoff: "Tamatkan dan serahkan semula kepada bot", makeTicket: "Jadikan tiket",
      ended: "Sembang telah diserahkan semula kepada bot.",
      ticketMade: "Tiket {id} telah dibuat. Sembang telah diserahkan semula kepada bot.",
      chatEnded: "Sembang dengan {name} telah tamat.", chatTimedOut: "Sembang dengan {name} telah tamat masa.",
      chatNotYours: "Sembang ini bukan (lagi) dikendalikan oleh anda.",
      packetHeading: "Butiran serahan", notGiven: "tidak diberi",
      packetTruncated: "Mesej yang lebih awal tidak dimasukkan dalam pakej serahan (perbualan yang dipaparkan di sini ialah rekod langsung).",
      fields: {
        name: "Nama", email: "E-mel", phone: "Telefon", order_number: "Nombor pesanan", ticket_id: "Tiket",
        language: "Bahasa", reason: "Sebab bot menyerahkan", created_at: "Diserahkan pada"
      },
      deliveriesHeading: "Salinan serahan ini", deliveryWebhook: "Webhook", deliveryEmail: "E-mel",
      deliverySent: "telah dihantar", deliveryPending: "belum dihantar, {attempts} cubaan gagal setakat ini",
      faqHeading: "Jawapan FAQ yang dipertimbangkan oleh bot", faqNone: "Bot tidak mempertimbangkan sebarang jawapan FAQ.",
      faqMessage: "Mesej pelanggan", faqMatched: "Padanan", faqScore: "Skor", faqOthers: "Calon lain",
      noMatch: "tiada",
      reasons: {
        asked: "Pelanggan minta bercakap dengan ejen", not_understood: "Bot tidak faham dua kali",
        not_helpful: "Jawapan ditanda tidak membantu dua kali", upset: "Pelanggan kelihatan marah",
        needs_person: "Topik ini perlu dikendalikan oleh ejen"
      },
      languages: { en: "Inggeris", ms: "Melayu", id: "Indonesia", tl: "Tagalog", vi: "Vietnam" },
      chatPlaceholder: "Ambil sembang daripada giliran, atau buka sembang anda, untuk melihatnya di sini.",
      ticketsHeading: "Tiket", ticketsTable: "Jadual tiket", filterLabel: "Tunjukkan", refresh: "Muat semula",
      ticketsEmpty: "Tiada tiket untuk ditunjukkan.",
      statusAll: "Semua",
      statuses: {
        open: "Dibuka", in_progress: "Sedang diuruskan", waiting_for_customer: "Menunggu pelanggan",
        resolved: "Selesai", closed: "Ditutup"
      },
      colTicket: "Tiket", colCustomer: "Pelanggan", colTopic: "Topik", colReplyBy: "Balas sebelum",
      colStatus: "Status", colNote: "Nota untuk pelanggan", colSave: "Simpan",
      statusOf: "Status tiket {id}", noteFor: "Nota untuk pelanggan tentang tiket {id}",
      lastNote: "Nota terakhir: {note}", save: "Simpan", ticketSaved: "Tiket {id} disimpan: {status}."
    },

    id: {
      appTitle: "Konsol agen", signedInAs: "Masuk sebagai", report: "Laporan", logout: "Keluar", loggedOut: "Anda sudah keluar.",
      languageLabel: "Bahasa",
      loginHeading: "Masuk", username: "Nama pengguna", password: "Kata sandi", login: "Masuk",
      loginMissing: "Masukkan nama pengguna dan kata sandi Anda.",
      loginWrong: "Nama pengguna atau kata sandi salah.",
      loginThrottled: "Terlalu banyak percobaan masuk yang gagal. Tunggu beberapa menit, lalu coba lagi.",
      sessionExpired: "Sesi sudah berakhir. Silakan masuk lagi.",
      networkError: "Server tidak dapat dihubungi. Periksa koneksi, lalu coba lagi.",
      httpError: "Server membalas dengan error ({status}). Silakan coba lagi.",
      reconnecting: "Koneksi terputus. Menyambung ulang…", reconnected: "Tersambung lagi.",
      views: "Tampilan", tabQueue: "Antrean", tabTickets: "Tiket",
      queueHeading: "Chat yang dialihkan ke agen",
      queueEmpty: "Tidak ada chat yang menunggu. Chat baru akan muncul di sini dengan sendirinya.",
      noName: "Pelanggan (tanpa nama)", waitingFor: "Menunggu {time}", handedOffAgo: "Dialihkan {time} lalu",
      stateWaiting: "Menunggu agen", stateMine: "Dengan Anda", stateOther: "Dengan {name}",
      unread: "Pesan baru", claim: "Ambil", open: "Buka", claimed: "Anda sekarang menangani chat dengan {name}.",
      chatWith: "Chat dengan {name}", handedOffAt: "dialihkan {time}", conversation: "Percakapan",
      customer: "Pelanggan", bot: "Bot", agent: "Agen",
      replyLabel: "Balas ke pelanggan",
      replyHint: "Enter untuk mengirim, Shift+Enter untuk baris baru. Maksimal {limit} karakter.",
      send: "Kirim", replySent: "Balasan terkirim.", replyEmpty: "Tulis balasan dulu.",
      replyTooLong: "Balasan terlalu panjang: maksimal {limit} karakter.",
      endHandoff: "Selesai dan kembalikan ke bot", makeTicket: "Jadikan tiket",
      ended: "Chat sudah dikembalikan ke bot.", ticketMade: "Tiket {id} dibuat. Chat sudah dikembalikan ke bot.",
      chatEnded: "Chat dengan {name} sudah selesai.", chatTimedOut: "Waktu chat dengan {name} sudah habis.",
      chatNotYours: "Chat ini bukan (lagi) ditangani oleh Anda.",
      packetHeading: "Detail pengalihan", notGiven: "tidak diberikan",
      packetTruncated: "Pesan-pesan sebelumnya tidak dimasukkan ke paket pengalihan (percakapan yang ditampilkan di sini adalah catatan langsungnya).",
      fields: {
        name: "Nama", email: "Email", phone: "Telepon", order_number: "Nomor pesanan", ticket_id: "Tiket",
        language: "Bahasa", reason: "Alasan bot mengalihkan", created_at: "Dialihkan pada"
      },
      deliveriesHeading: "Salinan pengalihan ini", deliveryWebhook: "Webhook", deliveryEmail: "Email",
      deliverySent: "terkirim", deliveryPending: "tertunda, sudah {attempts} kali gagal",
      faqHeading: "Jawaban FAQ yang dipertimbangkan bot", faqNone: "Bot tidak mempertimbangkan jawaban FAQ apa pun.",
      faqMessage: "Pesan pelanggan", faqMatched: "Cocok", faqScore: "Skor", faqOthers: "Kandidat lain",
      noMatch: "tidak ada",
      reasons: {
        asked: "Pelanggan minta bicara dengan agen", not_understood: "Bot dua kali tidak mengerti",
        not_helpful: "Jawaban dua kali ditandai tidak membantu", upset: "Pelanggan tampak kesal",
        needs_person: "Topik ini perlu ditangani agen"
      },
      languages: { en: "Inggris", ms: "Melayu", id: "Indonesia", tl: "Tagalog", vi: "Vietnam" },
      chatPlaceholder: "Ambil chat dari antrean, atau buka chat Anda, untuk melihatnya di sini.",
      ticketsHeading: "Tiket", ticketsTable: "Tabel tiket", filterLabel: "Tampilkan", refresh: "Muat ulang",
      ticketsEmpty: "Tidak ada tiket untuk ditampilkan.",
      statusAll: "Semua",
      statuses: {
        open: "Terbuka", in_progress: "Sedang diproses", waiting_for_customer: "Menunggu pelanggan",
        resolved: "Selesai", closed: "Ditutup"
      },
      colTicket: "Tiket", colCustomer: "Pelanggan", colTopic: "Topik", colReplyBy: "Balas sebelum",
      colStatus: "Status", colNote: "Catatan untuk pelanggan", colSave: "Simpan",
      statusOf: "Status tiket {id}", noteFor: "Catatan untuk pelanggan tentang tiket {id}",
      lastNote: "Catatan terakhir: {note}", save: "Simpan", ticketSaved: "Tiket {id} disimpan: {status}."
    },

    tl: {
      appTitle: "Agent console", signedInAs: "Naka-log in bilang", report: "Report", logout: "Mag-log out", loggedOut: "Naka-log out ka na.",
      languageLabel: "Wika",
      loginHeading: "Mag-log in", username: "Username", password: "Password", login: "Mag-log in",
      loginMissing: "Ilagay ang username at password mo.",
      loginWrong: "Mali ang username o password.",
      loginThrottled: "Masyadong maraming maling pag-log in. Maghintay ng ilang minuto bago subukan ulit.",
      sessionExpired: "Nag-expire na ang session. Mag-log in ulit.",
      networkError: "Hindi maabot ang server. Tingnan ang koneksyon at subukan ulit.",
      httpError: "Nagkaroon ng error sa server ({status}). Pakisubukan ulit.",
      reconnecting: "Naputol ang koneksyon. Kumokonekta ulit…", reconnected: "Nakakonekta na ulit.",
      views: "Mga view", tabQueue: "Queue", tabTickets: "Tickets",
      queueHeading: "Mga chat na ipinasa sa agent",
      queueEmpty: "Walang naghihintay na chat. Kusang lalabas dito ang mga bago.",
      noName: "Customer (walang pangalan)", waitingFor: "Naghihintay nang {time}", handedOffAgo: "Ipinasa {time} na ang nakalipas",
      stateWaiting: "Naghihintay ng agent", stateMine: "Hawak mo", stateOther: "Hawak ni {name}",
      unread: "Mga bagong mensahe", claim: "Kunin", open: "Buksan", claimed: "Hawak mo na ang chat ni {name}.",
      chatWith: "Chat kay {name}", handedOffAt: "ipinasa noong {time}", conversation: "Usapan",
      customer: "Customer", bot: "Bot", agent: "Agent",
      replyLabel: "Sagot sa customer",
      replyHint: "Enter para ipadala, Shift+Enter para sa bagong linya. Hanggang {limit} na character.",
      send: "Ipadala", replySent: "Naipadala na ang sagot.", replyEmpty: "Magsulat muna ng sagot.",
      replyTooLong: "Masyadong mahaba ang sagot: hanggang {limit} na character lang.",
      endHandoff: "Tapusin at ibalik sa bot", makeTicket: "Gawing ticket",
      ended: "Nasa bot na ulit ang chat.", ticketMade: "Nagawa na ang ticket {id}. Nasa bot na ulit ang chat.",
      chatEnded: "Tapos na ang chat ni {name}.", chatTimedOut: "Nag-time out ang chat ni {name}.",
      chatNotYours: "Hindi (na) sa iyo ang chat na ito.",
      packetHeading: "Detalye ng handoff", notGiven: "hindi ibinigay",
      packetTruncated: "Hindi isinama sa handoff packet ang mga naunang mensahe (ang usapang nakikita rito ang live na record).",
      fields: {
        name: "Pangalan", email: "E-mail", phone: "Telepono", order_number: "Order number", ticket_id: "Ticket",
        language: "Wika", reason: "Bakit ipinasa ng bot", created_at: "Ipinasa noong"
      },
      deliveriesHeading: "Mga kopya ng handoff na ito", deliveryWebhook: "Webhook", deliveryEmail: "E-mail",
      deliverySent: "naipadala na", deliveryPending: "pending, {attempts} bigong subok sa ngayon",
      faqHeading: "Mga sagot sa FAQ na pinagpilian ng bot", faqNone: "Walang sagot sa FAQ na pinagpilian ang bot.",
      faqMessage: "Mensahe ng customer", faqMatched: "Tumugma", faqScore: "Score", faqOthers: "Iba pang pagpipilian",
      noMatch: "wala",
      reasons: {
        asked: "Humiling ang customer na makausap ang tao", not_understood: "Dalawang beses hindi naintindihan ng bot",
        not_helpful: "Dalawang beses minarkahang hindi nakatulong ang sagot", upset: "Mukhang inis ang customer",
        needs_person: "Kailangan ng tao para sa topic na ito"
      },
      languages: { en: "English", ms: "Malay", id: "Indonesian", tl: "Tagalog", vi: "Vietnamese" },
      chatPlaceholder: "Kumuha ng chat sa queue, o buksan ang isa sa mga chat mo, para makita ito rito.",
      ticketsHeading: "Tickets", ticketsTable: "Table ng mga ticket", filterLabel: "Ipakita", refresh: "I-refresh",
      ticketsEmpty: "Walang ticket na maipapakita.",
      statusAll: "Lahat",
      statuses: {
        open: "Open", in_progress: "Inaasikaso", waiting_for_customer: "Hinihintay ang customer",
        resolved: "Resolved", closed: "Closed"
      },
      colTicket: "Ticket", colCustomer: "Customer", colTopic: "Topic", colReplyBy: "Sagutin bago ang",
      colStatus: "Status", colNote: "Note para sa customer", colSave: "I-save",
      statusOf: "Status ng ticket {id}", noteFor: "Note para sa customer tungkol sa ticket {id}",
      lastNote: "Huling note: {note}", save: "I-save", ticketSaved: "Na-save ang ticket {id}: {status}."
    },

    vi: {
      appTitle: "Bảng điều khiển nhân viên", signedInAs: "Đã đăng nhập:", report: "Báo cáo", logout: "Đăng xuất",
      loggedOut: "Bạn đã đăng xuất.",
      languageLabel: "Ngôn ngữ",
      loginHeading: "Đăng nhập", username: "Tên đăng nhập", password: "Mật khẩu", login: "Đăng nhập",
      loginMissing: "Vui lòng nhập tên đăng nhập và mật khẩu.",
      loginWrong: "Sai tên đăng nhập hoặc mật khẩu.",
      loginThrottled: "Đăng nhập sai quá nhiều lần. Vui lòng đợi vài phút rồi thử lại.",
      sessionExpired: "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.",
      networkError: "Không kết nối được với máy chủ. Hãy kiểm tra kết nối rồi thử lại.",
      httpError: "Máy chủ báo lỗi ({status}). Vui lòng thử lại.",
      reconnecting: "Mất kết nối. Đang kết nối lại…", reconnected: "Đã kết nối lại.",
      views: "Chế độ xem", tabQueue: "Hàng chờ", tabTickets: "Phiếu hỗ trợ",
      queueHeading: "Cuộc trò chuyện được chuyển cho nhân viên",
      queueEmpty: "Không có cuộc trò chuyện nào đang chờ. Cuộc trò chuyện mới sẽ tự hiện ở đây.",
      noName: "Khách hàng (không có tên)", waitingFor: "Đã chờ {time}", handedOffAgo: "Đã chuyển {time} trước",
      stateWaiting: "Đang chờ nhân viên", stateMine: "Bạn đang xử lý", stateOther: "{name} đang xử lý",
      unread: "Tin nhắn mới", claim: "Nhận", open: "Mở", claimed: "Bạn đã nhận cuộc trò chuyện với {name}.",
      chatWith: "Trò chuyện với {name}", handedOffAt: "chuyển lúc {time}", conversation: "Cuộc trò chuyện",
      customer: "Khách hàng", bot: "Bot", agent: "Nhân viên",
      replyLabel: "Trả lời khách hàng",
      replyHint: "Enter để gửi, Shift+Enter để xuống dòng. Tối đa {limit} ký tự.",
      send: "Gửi", replySent: "Đã gửi câu trả lời.", replyEmpty: "Hãy viết câu trả lời trước.",
      replyTooLong: "Câu trả lời quá dài: tối đa {limit} ký tự.",
      endHandoff: "Kết thúc và chuyển lại cho bot", makeTicket: "Tạo phiếu hỗ trợ",
      ended: "Cuộc trò chuyện đã được chuyển lại cho bot.",
      ticketMade: "Đã tạo phiếu {id}. Cuộc trò chuyện đã được chuyển lại cho bot.",
      chatEnded: "Cuộc trò chuyện với {name} đã kết thúc.", chatTimedOut: "Cuộc trò chuyện với {name} đã hết thời gian chờ.",
      chatNotYours: "Cuộc trò chuyện này không (còn) do bạn xử lý.",
      packetHeading: "Thông tin chuyển giao", notGiven: "chưa cung cấp",
      packetTruncated: "Các tin nhắn cũ hơn không có trong gói chuyển giao (cuộc trò chuyện hiển thị ở đây là bản ghi trực tiếp).",
      fields: {
        name: "Tên", email: "E-mail", phone: "Số điện thoại", order_number: "Mã đơn hàng", ticket_id: "Phiếu hỗ trợ",
        language: "Ngôn ngữ", reason: "Lý do bot chuyển", created_at: "Chuyển lúc"
      },
      deliveriesHeading: "Các bản sao của gói chuyển giao", deliveryWebhook: "Webhook", deliveryEmail: "E-mail",
      deliverySent: "đã gửi", deliveryPending: "đang chờ, đã thất bại {attempts} lần",
      faqHeading: "Câu trả lời FAQ bot đã cân nhắc", faqNone: "Bot không cân nhắc câu trả lời FAQ nào.",
      faqMessage: "Tin nhắn của khách", faqMatched: "Khớp", faqScore: "Điểm", faqOthers: "Lựa chọn khác",
      noMatch: "không có",
      reasons: {
        asked: "Khách yêu cầu gặp nhân viên", not_understood: "Bot hai lần không hiểu",
        not_helpful: "Hai câu trả lời bị đánh dấu không hữu ích", upset: "Khách có vẻ bực bội",
        needs_person: "Chủ đề cần nhân viên xử lý"
      },
      languages: { en: "Tiếng Anh", ms: "Tiếng Mã Lai", id: "Tiếng Indonesia", tl: "Tiếng Tagalog", vi: "Tiếng Việt" },
      chatPlaceholder: "Nhận một cuộc trò chuyện từ hàng chờ, hoặc mở cuộc trò chuyện của bạn, để xem ở đây.",
      ticketsHeading: "Phiếu hỗ trợ", ticketsTable: "Bảng phiếu hỗ trợ", filterLabel: "Hiển thị", refresh: "Làm mới",
      ticketsEmpty: "Không có phiếu nào để hiển thị.",
      statusAll: "Tất cả",
      statuses: {
        open: "Đang mở", in_progress: "Đang xử lý", waiting_for_customer: "Chờ khách phản hồi",
        resolved: "Đã giải quyết", closed: "Đã đóng"
      },
      colTicket: "Phiếu", colCustomer: "Khách hàng", colTopic: "Chủ đề", colReplyBy: "Hạn trả lời",
      colStatus: "Trạng thái", colNote: "Ghi chú cho khách", colSave: "Lưu",
      statusOf: "Trạng thái phiếu {id}", noteFor: "Ghi chú cho khách về phiếu {id}",
      lastNote: "Ghi chú gần nhất: {note}", save: "Lưu", ticketSaved: "Đã lưu phiếu {id}: {status}."
    }
  };

  // The chosen language's texts, English where a key is missing (see setLanguage).
  var TEXTS = ALL_TEXTS.en;

  /** The texts of one language over the English ones, key by key (nested too). */
  function withFallback(english, translated) {
    var merged = {};
    Object.keys(english).forEach(function (key) {
      var value = translated ? translated[key] : undefined;
      if (english[key] !== null && typeof english[key] === "object") {
        merged[key] = withFallback(english[key], value !== null && typeof value === "object" ? value : null);
      } else {
        merged[key] = typeof value === "string" ? value : english[key];
      }
    });
    return merged;
  }

  /** A deep, frozen copy (the text tables as tests see them: they cannot change the console's). */
  function frozenCopy(value) {
    if (value === null || typeof value !== "object") return value;
    var copy = {};
    Object.keys(value).forEach(function (key) { copy[key] = frozenCopy(value[key]); });
    return Object.freeze(copy);
  }

  window.SupportbotConsoleTexts = frozenCopy(ALL_TEXTS);

  var API = "/console/api";
  var MAX_REPLY_CHARS = 2000;
  var PING_MS = 20000;
  var FIRST_RETRY_MS = 1000;
  var MAX_RETRY_MS = 15000;
  var OPEN_STATUSES = ["waiting", "active"];

  /* ---------- small helpers ---------- */

  function $(id) { return document.getElementById(id); }

  /** A text from TEXTS ("a.b" looks into nested objects) with {placeholders} filled in. */
  function t(key, values) {
    var text = key.split(".").reduce(function (obj, part) { return obj && obj[part]; }, TEXTS);
    text = typeof text === "string" ? text : key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

  /** A fixed text to show later: kept as key and values, so it can be shown again in another language. */
  function phrase(key, values) { return { key: key, values: values }; }

  /** The text of a phrase (its values may be phrases too) in the chosen language; a plain string stays as it is. */
  function say(message) {
    if (!message || typeof message !== "object") return String(message || "");
    var values = {};
    Object.keys(message.values || {}).forEach(function (name) {
      var value = message.values[name];
      values[name] = value && typeof value === "object" ? say(value) : value;
    });
    return t(message.key, values);
  }

  /** Build an element: attributes ("text" becomes its textContent) and child nodes. */
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  /** An FAQ id ("orders.track_parcel") as text that may break after its dots, underscores and dashes only. */
  function faqId(id) {
    var nodes = [];
    String(id).split(/(?<=[._-])/).forEach(function (part, index) {
      if (index > 0) nodes.push(document.createElement("wbr"));
      nodes.push(document.createTextNode(part));
    });
    return nodes;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function parseTime(iso) {
    var ms = Date.parse(iso);
    return isNaN(ms) ? null : new Date(ms);
  }

  /** HH:MM:SS in the agent's local time (transcript lines). */
  function clock(iso) {
    var d = parseTime(iso);
    return d ? pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) : String(iso || "");
  }

  /** YYYY-MM-DD HH:MM in the agent's local time. */
  function dateTime(iso) {
    var d = parseTime(iso);
    if (!d) return String(iso || "");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function timeElement(iso, text) {
    return el("time", { datetime: iso, text: text });
  }

  /** m:ss, or h:mm:ss from an hour on. */
  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  }

  function percent(score) {
    return typeof score === "number" && isFinite(score) ? Math.round(score * 100) + "%" : "—";
  }

  function languageName(code) { return TEXTS.languages[code] || String(code || "—"); }
  function reasonText(reason) { return TEXTS.reasons[reason] || String(reason || "—"); }
  function statusName(status) { return TEXTS.statuses[status] || String(status || "—"); }
  function customerName(handoff) { return (handoff && handoff.customer_name) || TEXTS.noName; }
  function customerNamePhrase(handoff) { return (handoff && handoff.customer_name) || phrase("noName"); }

  var uid = 0;
  function newId(prefix) { uid += 1; return prefix + "-" + uid; }

  /* ---------- the page's elements ---------- */

  var loginView = $("login-view"), loginForm = $("login-form"), loginError = $("login-error");
  var usernameInput = $("login-username"), passwordInput = $("login-password");
  var session = $("session"), agentName = $("agent-name"), app = $("app"), notice = $("notice");
  var tabQueue = $("tab-queue"), tabTickets = $("tab-tickets");
  var queueView = $("queue-view"), queueList = $("queue"), queueEmpty = $("queue-empty");
  var queueHeading = $("queue-heading");
  var chat = $("chat"), chatHeading = $("chat-heading"), chatMeta = $("chat-meta");
  var transcript = $("transcript"), replyForm = $("reply-form"), reply = $("reply");
  var packetFields = $("packet-fields"), packetTruncated = $("packet-truncated");
  var faqTable = $("faq"), faqNone = $("faq-none");
  var deliveriesSection = $("deliveries"), deliveriesList = $("deliveries-list");
  var ticketsView = $("tickets-view"), ticketFilter = $("ticket-status-filter");
  var ticketsBody = $("tickets").tBodies[0], ticketsEmpty = $("tickets-empty");
  var languageSelect = $("console-language");

  /** Fill the page's fixed wording from TEXTS. */
  function applyTexts() {
    document.title = TEXTS.appTitle;
    document.querySelectorAll("[data-text]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-text"), { limit: MAX_REPLY_CHARS });
    });
    document.querySelectorAll("[data-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-label")));
    });
  }

  var noticeShown = "";       // the notice's phrase or text, to show it again after a change of language
  var loginErrorShown = "";   // the same for the login form's error

  /** The status line (role=status, polite): what just happened, or what went wrong (a phrase or the server's text). */
  function showNotice(message, isError) {
    noticeShown = message || "";
    notice.textContent = say(noticeShown);
    notice.classList.toggle("error", !!isError);
  }

  function showLoginError(message) {
    loginErrorShown = message || "";
    loginError.textContent = say(loginErrorShown);
  }

  /* ---------- state ---------- */

  var csrfToken = null;
  var me = null;              // {username, display_name}
  var queue = [];             // the open handoffs, oldest first
  var unread = {};            // handoff id -> true: messages arrived while it was not open
  var openChat = null;        // {id, handoff, packet, deliveries, messages: [...], keys: {...}}
  var openRequest = null;     // the handoff id whose GET is the latest asked for
  var closingId = null;       // the handoff this agent is ending (its "handoff" frame is expected)
  var drafts = {};            // handoff id -> unsent reply text
  var sending = false;
  var busy = {};              // handoff id -> a claim/end/ticket request is under way
  var ticketRelabels = [];    // one function per shown ticket row that rewrites its fixed texts

  /* ---------- the agent's language ---------- */

  /** One of ours from a language tag ("ms-MY" -> ms, "fil" -> tl, "in" -> id), or null. */
  function languageOf(tag) {
    var primary = String(tag || "").toLowerCase().split(/[-_]/)[0];
    primary = LANGUAGE_ALIASES[primary] || primary;
    return LANGUAGES.indexOf(primary) >= 0 ? primary : null;
  }

  function storedLanguage() {
    try {
      return languageOf(localStorage.getItem(LANGUAGE_KEY));
    } catch (error) {
      return null; // storage blocked: the browser's language it is
    }
  }

  /** The browser's first language that the console has, else English. */
  function browserLanguage() {
    var tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < tags.length; i++) {
      var code = languageOf(tags[i]);
      if (code) return code;
    }
    return "en";
  }

  /** Switch every fixed text to `code` at once (no reload); `remember` stores the agent's choice. */
  function setLanguage(code, remember) {
    TEXTS = withFallback(ALL_TEXTS.en, ALL_TEXTS[code]);
    document.documentElement.lang = code;
    languageSelect.value = code;
    if (remember) {
      try {
        localStorage.setItem(LANGUAGE_KEY, code);
      } catch (error) { /* private mode or full storage: the choice lasts for this page */ }
    }
    applyTexts();
    loginError.textContent = say(loginErrorShown);
    notice.textContent = say(noticeShown);
    if (!me) return;
    renderQueue();
    if (openChat && openChat.packet) {
      renderPacket(openChat.handoff, openChat.packet);
      renderDeliveries(openChat.deliveries);
      var scrolled = transcript.scrollTop;
      drawTranscript();
      transcript.scrollTop = scrolled;
    }
    ticketRelabels.forEach(function (relabel) { relabel(); });
  }

  /** The language menu: each language named in itself (and marked as such for screen readers). */
  function buildLanguageMenu() {
    LANGUAGES.forEach(function (code) {
      languageSelect.appendChild(el("option", { value: code, lang: code, text: LANGUAGE_NAMES[code] }));
    });
    languageSelect.addEventListener("change", function () {
      var code = languageOf(languageSelect.value);
      if (code) setLanguage(code, true);
    });
  }

  /* ---------- the JSON API ---------- */

  /** fetch with the session cookie; resolves to the JSON body, rejects with an Error carrying .status (0 = network). */
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      if (csrfToken) options.headers["X-CSRF-Token"] = csrfToken;
      options.body = JSON.stringify(body || {});
    }
    return fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data || {};
        var made = data && data.error ? null : phrase("httpError", { status: response.status });
        var error = new Error(made ? say(made) : String(data.error));
        error.phrase = made;
        error.status = response.status;
        throw error;
      });
    }, function () {
      var error = new Error(TEXTS.networkError);
      error.phrase = phrase("networkError");
      error.status = 0;
      throw error;
    });
  }

  /** The usual error handling: a 401 means the session is gone, anything else is shown as a notice. */
  function fail(error) {
    if (error && error.status === 401) sessionExpired();
    else showNotice(error && (error.phrase || error.message) || phrase("networkError"), true);
  }

  /* ---------- login, session, logout ---------- */

  function showLogin(message) {
    app.hidden = true;
    session.hidden = true;
    loginView.hidden = false;
    showLoginError(message);
    usernameInput.focus();
  }

  function startSession(data, fromLogin) {
    csrfToken = data.csrf_token || null;
    me = data.agent || {};
    agentName.textContent = me.display_name || me.username || "";
    passwordInput.value = "";
    showLoginError("");
    loginView.hidden = true;
    session.hidden = false;
    app.hidden = false;
    showTab("queue");
    loadQueue();
    connectSocket();
    if (fromLogin) queueHeading.focus();
  }

  /** Forget everything of the session (after logout or a 401) and show the login form. */
  function endSession(message) {
    stopSocket();
    csrfToken = null;
    me = null;
    queue = [];
    unread = {};
    drafts = {};
    busy = {};
    openRequest = null;
    closeChat();
    queueList.textContent = "";
    ticketsBody.textContent = "";
    ticketRelabels = [];
    showLogin(message);
  }

  function sessionExpired() {
    showNotice("");
    endSession(phrase("sessionExpired"));
  }

  var loggingIn = false;

  loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var username = usernameInput.value.trim();
    var password = passwordInput.value;
    if (!username || !password) {
      showLoginError(phrase("loginMissing"));
      (username ? passwordInput : usernameInput).focus();
      return;
    }
    if (loggingIn) return;
    loggingIn = true;
    showLoginError("");
    api("POST", "/login", { username: username, password: password }).then(function (data) {
      showNotice("");
      startSession(data, true);
    }).catch(function (error) {
      // Wrong details (401) and too many attempts (429) in the agent's language; anything else as it came.
      showLoginError(error.status === 401 ? phrase("loginWrong")
        : error.status === 429 ? phrase("loginThrottled") : error.phrase || error.message);
      passwordInput.select();
      passwordInput.focus();
    }).then(function () { loggingIn = false; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").then(function () {
      endSession("");
      showNotice(phrase("loggedOut"));
    }).catch(fail);
  });

  /* ---------- tabs ---------- */

  function showTab(name) {
    queueView.hidden = name !== "queue";
    ticketsView.hidden = name !== "tickets";
    tabQueue.setAttribute("aria-current", name === "queue" ? "page" : "false");
    tabTickets.setAttribute("aria-current", name === "tickets" ? "page" : "false");
    if (name === "tickets") loadTickets();
  }

  tabQueue.addEventListener("click", function () { showTab("queue"); });
  tabTickets.addEventListener("click", function () { showTab("tickets"); });

  /* ---------- the queue ---------- */

  function loadQueue() {
    api("GET", "/queue").then(function (data) { setQueue(data.handoffs || []); }).catch(fail);
  }

  function setQueue(handoffs) {
    queue = handoffs.slice();
    var ids = {};
    queue.forEach(function (h) { ids[h.id] = true; });
    Object.keys(unread).forEach(function (id) { if (!ids[id]) delete unread[id]; });
    renderQueue();
    // The open chat left the queue without a "handoff" frame: ask the server what became of it.
    if (openChat && !ids[openChat.id] && openChat.id !== closingId) openHandoff(openChat.id, true);
  }

  /** One handoff changed: keep it in the queue (oldest first) while it is waiting or active. */
  function upsertHandoff(handoff) {
    queue = queue.filter(function (h) { return h.id !== handoff.id; });
    if (OPEN_STATUSES.indexOf(handoff.status) >= 0) {
      queue.push(handoff);
      queue.sort(function (a, b) { return (Date.parse(a.created_at) || 0) - (Date.parse(b.created_at) || 0); });
    } else {
      delete unread[handoff.id];
    }
    renderQueue();
  }

  function isMine(handoff) {
    return !!(handoff && me && handoff.status === "active" && handoff.claimed_by === me.username);
  }

  function findQueueItem(id) {
    for (var i = 0; i < queueList.children.length; i++) {
      if (queueList.children[i].getAttribute("data-handoff-id") === id) return queueList.children[i];
    }
    return null;
  }

  /** Redraw the queue; a focused button keeps the focus (on its item's new button). */
  function renderQueue() {
    var active = document.activeElement;
    var focusedItem = active && queueList.contains(active) ? active.closest(".queue-item") : null;
    var focusedId = focusedItem ? focusedItem.getAttribute("data-handoff-id") : null;
    queueList.textContent = "";
    queue.forEach(function (handoff) { queueList.appendChild(queueItem(handoff)); });
    queueEmpty.hidden = queue.length > 0;
    updateWaitTimes();
    if (focusedId) {
      var item = findQueueItem(focusedId);
      var button = item && item.querySelector("button");
      (button || queueHeading).focus();
    }
  }

  function queueItem(handoff) {
    var nameId = newId("queue-name");
    var mine = isMine(handoff);
    var state = handoff.status === "waiting" ? TEXTS.stateWaiting
      : mine ? TEXTS.stateMine : t("stateOther", { name: handoff.claimed_by_name || handoff.claimed_by || "?" });
    var item = el("li", {
      class: "queue-item status-" + handoff.status + (mine ? " mine" : "") + (unread[handoff.id] ? " unread" : ""),
      "data-handoff-id": handoff.id,
      "aria-current": openChat && openChat.id === handoff.id ? "true" : null
    }, [
      el("div", { class: "q-top" }, [
        el("strong", { id: nameId, class: "q-name", text: customerName(handoff) }),
        el("span", { class: "q-wait", "data-created-at": handoff.created_at, "data-status": handoff.status })
      ]),
      el("div", { class: "q-details", text: languageName(handoff.language) + " · " + reasonText(handoff.reason) }),
      unread[handoff.id] ? el("div", { class: "q-unread", text: TEXTS.unread }) : null,
      el("div", { class: "q-bottom" }, [
        el("span", { class: "q-state", text: state }),
        actionButton(handoff, mine, nameId)
      ])
    ]);
    return item;
  }

  function actionButton(handoff, mine, nameId) {
    if (handoff.status === "waiting") {
      var claimButton = el("button", { type: "button", class: "claim", "aria-describedby": nameId, text: TEXTS.claim });
      claimButton.addEventListener("click", function () { claim(handoff); });
      return claimButton;
    }
    if (mine) {
      var openButton = el("button", { type: "button", class: "open", "aria-describedby": nameId, text: TEXTS.open });
      openButton.addEventListener("click", function () { openHandoff(handoff.id); });
      return openButton;
    }
    return null;
  }

  /** The waiting times count up every second (only the texts change, so focus is not disturbed). */
  function updateWaitTimes() {
    var now = Date.now();
    queueList.querySelectorAll(".q-wait").forEach(function (node) {
      var since = Date.parse(node.getAttribute("data-created-at"));
      var time = isNaN(since) ? "?" : duration(now - since);
      node.textContent = node.getAttribute("data-status") === "waiting"
        ? t("waitingFor", { time: time }) : t("handedOffAgo", { time: time });
    });
  }
  setInterval(updateWaitTimes, 1000);

  function claim(handoff) {
    if (busy[handoff.id]) return;
    busy[handoff.id] = true;
    api("POST", "/handoffs/" + encodeURIComponent(handoff.id) + "/claim").then(function (data) {
      if (data.handoff) upsertHandoff(data.handoff);
      showNotice(phrase("claimed", { name: customerNamePhrase(data.handoff || handoff) }));
      openHandoff(handoff.id);
    }).catch(function (error) {
      fail(error); // 409: "Already claimed by Siti"
      if (error.status === 409) loadQueue();
    }).then(function () { delete busy[handoff.id]; });
  }

  /* ---------- the open chat: packet and transcript ---------- */

  /** Fetch a handoff and show it; also used to fill gaps after a reconnect (keepFocus). */
  function openHandoff(id, keepFocus) {
    if (keepFocus && openRequest && openRequest !== id) return; // the agent is opening another chat
    openRequest = id;
    return api("GET", "/handoffs/" + encodeURIComponent(id)).then(function (data) {
      if (openRequest !== id) return; // another chat was opened meanwhile
      openRequest = null;
      var handoff = data.handoff || {};
      if (!isMine(handoff)) {
        if (openChat && openChat.id === id) closeChat();
        upsertHandoff(handoff);
        showNotice(handoff.status === "ended" ? phrase("chatEnded", { name: customerNamePhrase(handoff) })
          : handoff.status === "timed_out" ? phrase("chatTimedOut", { name: customerNamePhrase(handoff) })
          : phrase("chatNotYours"), true);
        return;
      }
      var switching = !openChat || openChat.id !== id;
      if (switching) {
        if (openChat) drafts[openChat.id] = reply.value;
        openChat = { id: id, handoff: handoff, messages: [], keys: {} };
        reply.value = drafts[id] || "";
      }
      openChat.handoff = handoff;
      openChat.packet = data.packet || {};
      openChat.deliveries = Array.isArray(data.deliveries) ? data.deliveries : [];
      delete unread[id];
      renderPacket(handoff, openChat.packet);
      renderDeliveries(openChat.deliveries);
      addMessages(data.transcript || [], switching);
      chat.hidden = false;
      renderQueue();
      if (!keepFocus) chatHeading.focus();
    }).catch(function (error) {
      if (openRequest === id) openRequest = null;
      fail(error);
    });
  }

  /** Hide the chat view; the focus goes back to the queue if it was inside the chat. */
  function closeChat() {
    if (!openChat) return;
    delete drafts[openChat.id];
    openChat = null;
    var focusWasInside = chat.contains(document.activeElement) || document.activeElement === document.body;
    chat.hidden = true;
    transcript.textContent = "";
    reply.value = "";
    renderQueue();
    if (focusWasInside && !app.hidden) queueHeading.focus();
  }

  function field(label, value) {
    var given = value !== null && value !== undefined && value !== "";
    return [
      el("dt", { text: label }),
      el("dd", { class: given ? null : "muted", text: given ? String(value) : TEXTS.notGiven })
    ];
  }

  function renderPacket(handoff, packet) {
    var customer = packet.customer || {};
    var name = handoff.customer_name || customer.name;
    chatHeading.textContent = t("chatWith", { name: name || TEXTS.noName });
    chatMeta.textContent = handoff.id + " · " + languageName(handoff.language) + " · " +
      t("handedOffAt", { time: dateTime(handoff.created_at) });

    packetFields.textContent = "";
    ["name", "email", "phone", "order_number", "ticket_id"].forEach(function (key) {
      field(TEXTS.fields[key], customer[key]).forEach(function (node) { packetFields.appendChild(node); });
    });
    [
      [TEXTS.fields.language, languageName(packet.language || handoff.language)],
      [TEXTS.fields.reason, reasonText(packet.reason || handoff.reason)],
      [TEXTS.fields.created_at, dateTime(packet.created_at || handoff.created_at)]
    ].forEach(function (pair) {
      field(pair[0], pair[1]).forEach(function (node) { packetFields.appendChild(node); });
    });
    packetTruncated.hidden = !packet.transcript_truncated;

    var body = faqTable.tBodies[0];
    body.textContent = "";
    var candidates = Array.isArray(packet.faq_candidates) ? packet.faq_candidates : [];
    candidates.forEach(function (c) {
      var others = (c.candidates || []).filter(function (o) { return o.id !== c.matched; });
      body.appendChild(el("tr", {}, [
        el("td", {}, [timeElement(c.at, clock(c.at)), el("div", { class: "faq-text", text: c.text || "" })]),
        c.matched ? el("td", { class: "faq-id" }, faqId(c.matched)) : el("td", { class: "muted", text: TEXTS.noMatch }),
        el("td", { class: "num", text: percent(c.score) }),
        el("td", {}, others.length ? [el("ul", { class: "others" }, others.map(function (o) {
          var score = el("span", { class: "num", text: percent(o.score) });
          return el("li", { class: "faq-id" }, faqId(o.id).concat([document.createTextNode(" "), score]));
        }))] : [el("span", { class: "muted", text: "—" })])
      ]));
    });
    faqTable.hidden = candidates.length === 0;
    faqNone.hidden = candidates.length > 0;
  }

  /** Where copies of the packet went (webhook, e-mail): sent, or still pending with the last error. */
  function renderDeliveries(deliveries) {
    deliveriesList.textContent = "";
    deliveries.forEach(function (d) {
      var state = d.status === "sent" ? TEXTS.deliverySent
        : t("deliveryPending", { attempts: d.attempts }) + (d.last_error ? " — " + d.last_error : "");
      deliveriesList.appendChild(el("li", { class: "delivery delivery-" + (d.status === "sent" ? "sent" : "pending") }, [
        el("strong", { text: (d.kind === "webhook" ? TEXTS.deliveryWebhook : TEXTS.deliveryEmail) + ": " }),
        el("span", { text: state })
      ]));
    });
    deliveriesSection.hidden = deliveries.length === 0;
  }

  /** A message is known by its id (customer and agent messages, the bot's during a handoff), else by its time, sender and text. */
  function messageKey(m) {
    if (m.id) return "id|" + m.id;
    return (Date.parse(m.at) || m.at) + "|" + m.sender + "|" + m.text;
  }

  function messageNode(m) {
    var sender = ["customer", "bot", "agent"].indexOf(m.sender) >= 0 ? m.sender : "bot";
    var who = sender === "customer" ? TEXTS.customer : sender === "bot" ? TEXTS.bot : (m.agent_name || TEXTS.agent);
    return el("div", { class: "msg msg-" + sender }, [
      el("div", { class: "msg-head" }, [
        el("span", { class: "msg-sender", text: who }),
        document.createTextNode(" "),
        timeElement(m.at, clock(m.at))
      ]),
      messageText(sender, m.text === undefined || m.text === null ? "" : String(m.text))
    ]);
  }

  var BOLD = /\*\*([^*\n]+)\*\*/g;

  /**
   * The bot's answers mark emphasis as the widget shows it ("go to **My orders**"): bold here too,
   * instead of asterisks. As text nodes and <strong>, never HTML. What people typed stays as typed.
   */
  function messageText(sender, text) {
    var paragraph = el("p", { class: "msg-text" });
    if (sender !== "bot") {
      paragraph.textContent = text;
      return paragraph;
    }
    var last = 0;
    var match;
    BOLD.lastIndex = 0;
    while ((match = BOLD.exec(text)) !== null) {
      paragraph.appendChild(document.createTextNode(text.slice(last, match.index)));
      paragraph.appendChild(el("strong", { text: match[1] }));
      last = BOLD.lastIndex;
    }
    paragraph.appendChild(document.createTextNode(text.slice(last)));
    return paragraph;
  }

  function nearBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
  }

  /**
   * Add messages to the open chat, skipping ones already shown (a reply comes back both from the
   * POST and over the WebSocket; a refetch repeats what is there). In time order; appended when
   * they are the newest, otherwise the transcript is redrawn.
   */
  function addMessages(list, redraw) {
    if (!openChat) return;
    var stick = redraw || nearBottom();
    var fresh = list.filter(function (m) {
      var key = messageKey(m);
      if (openChat.keys[key]) return false;
      openChat.keys[key] = true;
      return true;
    });
    if (!fresh.length && !redraw) return;
    var last = openChat.messages[openChat.messages.length - 1];
    var inOrder = !redraw && fresh.every(function (m) { return !last || !(Date.parse(m.at) < Date.parse(last.at)); });
    openChat.messages = openChat.messages.concat(fresh);
    if (inOrder) {
      fresh.forEach(function (m) { transcript.appendChild(messageNode(m)); });
    } else {
      openChat.messages.sort(function (a, b) { return (Date.parse(a.at) || 0) - (Date.parse(b.at) || 0); });
      drawTranscript();
    }
    if (stick || fresh.some(function (m) { return m.sender === "agent"; })) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  /** Draw the open chat's messages anew (after a reordering, or in another language). */
  function drawTranscript() {
    transcript.setAttribute("aria-busy", "true"); // a redraw is not news for screen readers
    transcript.textContent = "";
    openChat.messages.forEach(function (m) { transcript.appendChild(messageNode(m)); });
    transcript.removeAttribute("aria-busy");
  }

  /* ---------- replying, ending, tickets from a chat ---------- */

  replyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!openChat || sending) return;
    var text = reply.value.trim();
    if (!text) { showNotice(phrase("replyEmpty"), true); return; }
    if (text.length > MAX_REPLY_CHARS) { showNotice(phrase("replyTooLong", { limit: MAX_REPLY_CHARS }), true); return; }
    var id = openChat.id;
    sending = true;
    api("POST", "/handoffs/" + encodeURIComponent(id) + "/messages", { text: text }).then(function (data) {
      delete drafts[id];
      if (openChat && openChat.id === id) {
        if (reply.value.trim() === text) reply.value = "";
        if (data.message) addMessages([data.message]);
      }
      showNotice(phrase("replySent"));
    }).catch(fail).then(function () { sending = false; });
  });

  reply.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      replyForm.requestSubmit();
    }
  });

  /** End the open handoff ("end") or turn it into a ticket ("ticket", which also ends it). */
  function finishChat(kind) {
    if (!openChat || busy[openChat.id]) return;
    var id = openChat.id;
    busy[id] = true;
    closingId = id;
    api("POST", "/handoffs/" + encodeURIComponent(id) + "/" + kind).then(function (data) {
      upsertHandoff(data.handoff || { id: id, status: "ended" });
      if (openChat && openChat.id === id) closeChat();
      showNotice(kind === "ticket" ? phrase("ticketMade", { id: data.ticket_id || "?" }) : phrase("ended"));
    }).catch(fail).then(function () {
      delete busy[id];
      if (closingId === id) closingId = null;
    });
  }

  $("end-handoff").addEventListener("click", function () { finishChat("end"); });
  $("make-ticket").addEventListener("click", function () { finishChat("ticket"); });

  /* ---------- live updates over the WebSocket ---------- */

  var socket = null, socketWanted = false, lost = false;
  var retryMs = FIRST_RETRY_MS, retryTimer = null, pingTimer = null;

  function connectSocket() {
    socketWanted = true;
    clearTimeout(retryTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws";
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      if (socket !== ws) return;
      retryMs = FIRST_RETRY_MS;
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
      if (lost) {
        lost = false;
        showNotice(phrase("reconnected"));
        if (openChat) openHandoff(openChat.id, true); // fill what was missed; the queue comes by itself
      }
    };
    ws.onmessage = function (event) {
      if (socket !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      if (frame && typeof frame === "object") handleFrame(frame);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      clearInterval(pingTimer);
      if (!socketWanted) return;
      if (event.code === 4401) { sessionExpired(); return; }
      lost = true;
      showNotice(phrase("reconnecting"), true);
      scheduleReconnect();
    };
  }

  /** Retry after 1 s, 2 s, 4 s … 15 s; ask /me first, since a refused upgrade looks like any close. */
  function scheduleReconnect() {
    clearTimeout(retryTimer);
    var delay = retryMs;
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    retryTimer = setTimeout(function () {
      api("GET", "/me").then(function (data) {
        if (!socketWanted) return;
        if (data.csrf_token) csrfToken = data.csrf_token;
        connectSocket();
      }).catch(function (error) {
        if (!socketWanted) return;
        if (error.status === 401) sessionExpired();
        else scheduleReconnect();
      });
    }, delay);
  }

  function stopSocket() {
    socketWanted = false;
    lost = false;
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    retryMs = FIRST_RETRY_MS;
    if (socket) {
      var ws = socket;
      socket = null;
      ws.close(1000);
    }
  }

  function handleFrame(frame) {
    if (frame.type === "queue") {
      setQueue(Array.isArray(frame.handoffs) ? frame.handoffs : []);
    } else if (frame.type === "message" && frame.message) {
      if (openChat && frame.handoff_id === openChat.id) {
        addMessages([frame.message]);
      } else if (findQueueItem(frame.handoff_id)) {
        unread[frame.handoff_id] = true;
        renderQueue();
      }
    } else if (frame.type === "handoff" && frame.handoff) {
      var handoff = frame.handoff;
      upsertHandoff(handoff);
      if (openChat && openChat.id === handoff.id && handoff.id !== closingId) {
        if (isMine(handoff)) {
          openChat.handoff = handoff;
        } else {
          closeChat();
          showNotice(handoff.status === "timed_out" ? phrase("chatTimedOut", { name: customerNamePhrase(handoff) })
            : handoff.status === "ended" ? phrase("chatEnded", { name: customerNamePhrase(handoff) })
            : phrase("chatNotYours"), true);
        }
      }
    }
  }

  /* ---------- tickets ---------- */

  var ticketsRequest = 0;

  function loadTickets() {
    var status = ticketFilter.value === "all" ? "" : ticketFilter.value;
    var request = ++ticketsRequest;
    api("GET", "/tickets?status=" + encodeURIComponent(status)).then(function (data) {
      if (request !== ticketsRequest) return; // a newer filter was chosen meanwhile
      var tickets = Array.isArray(data.tickets) ? data.tickets : [];
      ticketsBody.textContent = "";
      ticketRelabels = [];
      tickets.forEach(function (ticket) { ticketsBody.appendChild(ticketRow(ticket)); });
      ticketsEmpty.hidden = tickets.length > 0;
    }).catch(fail);
  }

  ticketFilter.addEventListener("change", loadTickets);
  $("tickets-refresh").addEventListener("click", loadTickets);

  function lines(values) {
    return values.filter(function (v) { return v !== null && v !== undefined && v !== ""; })
      .map(function (v) { return el("div", { text: String(v) }); });
  }

  function ticketRow(ticket) {
    var idId = newId("ticket-id"), statusId = newId("ticket-status"), noteId = newId("ticket-note");
    var select = el("select", { id: statusId, class: "ticket-status" },
      Object.keys(TEXTS.statuses).map(function (s) { return el("option", { value: s }); }));
    if (!TEXTS.statuses[ticket.status]) select.appendChild(el("option", { value: ticket.status, text: ticket.status }));
    select.value = ticket.status;
    var note = el("input", { id: noteId, class: "ticket-note", type: "text", maxlength: "2000", autocomplete: "off" });
    var lastNote = el("p", { class: "last-note" });
    var save = el("button", { type: "button", class: "ticket-save", "aria-describedby": idId });
    var topic = el("td");
    var statusLabel = el("label", { for: statusId, class: "visually-hidden" });
    var noteLabel = el("label", { for: noteId, class: "visually-hidden" });
    var shownNote = ticket.last_note;

    function showLastNote(text) {
      shownNote = text;
      lastNote.textContent = text ? t("lastNote", { note: text }) : "";
      lastNote.hidden = !text;
    }

    /** The row's fixed texts in the chosen language (again after a change of language; edits stay). */
    function relabel() {
      Array.prototype.forEach.call(select.options, function (option) {
        if (TEXTS.statuses[option.value]) option.textContent = TEXTS.statuses[option.value];
      });
      save.textContent = TEXTS.save;
      statusLabel.textContent = t("statusOf", { id: ticket.id });
      noteLabel.textContent = t("noteFor", { id: ticket.id });
      topic.textContent = "";
      lines([ticket.category, languageName(ticket.language)]).forEach(function (node) { topic.appendChild(node); });
      showLastNote(shownNote);
    }
    relabel();
    ticketRelabels.push(relabel);

    function saveTicket() {
      if (save.getAttribute("aria-disabled") === "true") return;
      save.setAttribute("aria-disabled", "true");
      api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/status",
          { status: select.value, note: note.value.trim() }).then(function (data) {
        var saved = data.ticket || {};
        if (saved.status) select.value = saved.status;
        showLastNote(saved.last_note);
        note.value = "";
        showNotice(phrase("ticketSaved", {
          id: ticket.id, status: TEXTS.statuses[select.value] ? phrase("statuses." + select.value) : statusName(select.value)
        }));
      }).catch(fail).then(function () { save.removeAttribute("aria-disabled"); });
    }
    save.addEventListener("click", saveTicket);
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing) { event.preventDefault(); saveTicket(); }
    });

    return el("tr", { class: "ticket", "data-ticket-id": ticket.id }, [
      el("td", {}, [
        el("strong", { id: idId, text: ticket.id }),
        el("div", { class: "muted" }, [timeElement(ticket.created_at, dateTime(ticket.created_at))])
      ]),
      el("td", { class: "wrap" }, lines([ticket.name, ticket.email, ticket.order_number])),
      topic,
      el("td", {}, [timeElement(ticket.reply_by, dateTime(ticket.reply_by))]),
      el("td", {}, [statusLabel, select]),
      el("td", { class: "wrap" }, [noteLabel, note, lastNote]),
      el("td", {}, [save])
    ]);
  }

  /* ---------- start ---------- */

  buildLanguageMenu();
  setLanguage(storedLanguage() || browserLanguage(), false);
  api("GET", "/me").then(function (data) {
    startSession(data, false);
  }).catch(function (error) {
    showLogin("");
    if (error.status !== 401) showNotice(error.phrase || error.message, true);
  });
})();
