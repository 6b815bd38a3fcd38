/*
 * The support bot's chat widget. Embed it with one tag:
 *
 *   <script src="https://bot.example/widget/supportbot.js" data-server="https://bot.example"
 *           data-lang="ms" data-title="Kedai Lumina" data-color="#0b5fff"
 *           data-position="right" data-open="false" defer></script>
 *
 * Plain JavaScript, no build step. It lives in a shadow root, so the shop's styles do not reach
 * it and its styles do not reach the shop. Everything the customer, the bot or an agent wrote is
 * put into the page as text: the small formatting subset (paragraphs, lists, **bold**, links) is
 * built element by element by `renderRichText`, never from HTML strings.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__supportbotWidget) return;
  window.__supportbotWidget = true;

  var LANGUAGES = ["en", "ms", "id", "tl", "vi"];
  var TEXTS = {
    en: {
      title: "Customer support", open: "Chat with us", close: "Close chat", restart: "New conversation",
      human: "Talk to a person", humanMessage: "I'd like to talk to a person",
      inputLabel: "Your message", placeholder: "Type your question…", send: "Send",
      typing: "The assistant is typing…", you: "You said:", bot: "Assistant:", agent: "Agent:",
      choices: "Suggested replies", conversation: "Conversation",
      offline: "Connection lost. Reconnecting… What you type will be sent when we are back.",
      online: "Connected again.", sending: "Sending…",
      tooLong: "That message is too long: {limit} characters at most. Please shorten it.",
      slowDown: "You're sending messages very quickly. Please wait a moment, then send again.",
      busy: "A lot of customers are writing right now. Please send again in a few seconds.",
      failed: "This message could not be sent. It will be sent again when the connection is back.",
      unavailable: "The chat cannot be reached right now. Please try again later."
    },
    ms: {
      title: "Khidmat pelanggan", open: "Sembang dengan kami", close: "Tutup sembang", restart: "Perbualan baharu",
      human: "Bercakap dengan orang", humanMessage: "Saya nak bercakap dengan orang",
      inputLabel: "Mesej anda", placeholder: "Taip soalan anda…", send: "Hantar",
      typing: "Pembantu sedang menaip…", you: "Anda:", bot: "Pembantu:", agent: "Ejen:",
      choices: "Cadangan jawapan", conversation: "Perbualan",
      offline: "Sambungan terputus. Menyambung semula… Mesej anda akan dihantar apabila sambungan pulih.",
      online: "Sambungan pulih.", sending: "Menghantar…",
      tooLong: "Mesej itu terlalu panjang: maksimum {limit} aksara. Sila pendekkan.",
      slowDown: "Anda menghantar mesej terlalu cepat. Sila tunggu sebentar, kemudian hantar semula.",
      busy: "Ramai pelanggan sedang menghubungi kami. Sila hantar semula dalam beberapa saat.",
      failed: "Mesej ini belum dapat dihantar. Ia akan dihantar semula apabila sambungan pulih.",
      unavailable: "Sembang tidak dapat dicapai sekarang. Sila cuba lagi nanti."
    },
    id: {
      title: "Layanan pelanggan", open: "Chat dengan kami", close: "Tutup chat", restart: "Percakapan baru",
      human: "Bicara dengan orang", humanMessage: "Saya mau bicara dengan orang",
      inputLabel: "Pesan kamu", placeholder: "Ketik pertanyaanmu…", send: "Kirim",
      typing: "Asisten sedang mengetik…", you: "Kamu:", bot: "Asisten:", agent: "Agen:",
      choices: "Saran balasan", conversation: "Percakapan",
      offline: "Koneksi terputus. Menyambung ulang… Pesanmu akan dikirim begitu koneksi kembali.",
      online: "Tersambung lagi.", sending: "Mengirim…",
      tooLong: "Pesan itu terlalu panjang: maksimal {limit} karakter. Tolong dipersingkat.",
      slowDown: "Kamu mengirim pesan terlalu cepat. Tunggu sebentar, lalu kirim lagi.",
      busy: "Banyak pelanggan sedang menghubungi kami. Kirim lagi dalam beberapa detik ya.",
      failed: "Pesan ini belum terkirim. Pesan akan dikirim ulang begitu koneksi kembali.",
      unavailable: "Chat tidak bisa dihubungi sekarang. Silakan coba lagi nanti."
    },
    tl: {
      title: "Suporta sa customer", open: "Makipag-chat sa amin", close: "Isara ang chat", restart: "Bagong usapan",
      human: "Makipag-usap sa tao", humanMessage: "Gusto kong makipag-usap sa tao",
      inputLabel: "Ang mensahe mo", placeholder: "I-type ang tanong mo…", send: "Ipadala",
      typing: "Nagta-type ang assistant…", you: "Ikaw:", bot: "Assistant:", agent: "Agent:",
      choices: "Mga mungkahing sagot", conversation: "Usapan",
      offline: "Naputol ang koneksyon. Kumokonekta ulit… Ipapadala ang mga mensahe mo pagbalik ng koneksyon.",
      online: "Nakakonekta na ulit.", sending: "Ipinapadala…",
      tooLong: "Masyadong mahaba ang mensahe: hanggang {limit} na character lang. Paikliin mo po.",
      slowDown: "Masyadong mabilis ang pagpapadala mo. Sandali lang po, tapos ipadala ulit.",
      busy: "Maraming customer ang nagme-message ngayon. Pakipadala ulit po pagkalipas ng ilang segundo.",
      failed: "Hindi pa naipadala ang mensaheng ito. Ipapadala ito ulit pagbalik ng koneksyon.",
      unavailable: "Hindi maabot ang chat ngayon. Pakisubukan ulit mamaya."
    },
    vi: {
      title: "Hỗ trợ khách hàng", open: "Trò chuyện với chúng tôi", close: "Đóng trò chuyện",
      restart: "Cuộc trò chuyện mới", human: "Nói chuyện với nhân viên",
      humanMessage: "Tôi muốn nói chuyện với nhân viên",
      inputLabel: "Tin nhắn của bạn", placeholder: "Nhập câu hỏi của bạn…", send: "Gửi",
      typing: "Trợ lý đang soạn tin…", you: "Bạn:", bot: "Trợ lý:", agent: "Nhân viên:",
      choices: "Câu trả lời gợi ý", conversation: "Cuộc trò chuyện",
      offline: "Mất kết nối. Đang kết nối lại… Tin nhắn của bạn sẽ được gửi khi có kết nối.",
      online: "Đã kết nối lại.", sending: "Đang gửi…",
      tooLong: "Tin nhắn quá dài: tối đa {limit} ký tự. Vui lòng rút ngắn.",
      slowDown: "Bạn đang gửi tin nhắn quá nhanh. Vui lòng đợi một chút rồi gửi lại.",
      busy: "Hiện có rất nhiều khách hàng đang nhắn tin. Bạn vui lòng gửi lại sau vài giây.",
      failed: "Chưa gửi được tin nhắn này. Tin nhắn sẽ được gửi lại khi có kết nối.",
      unavailable: "Hiện không kết nối được với trò chuyện. Vui lòng thử lại sau."
    }
  };
  var MAX_MESSAGE_CHARS = 2000; // the server's default max_message_chars (credentials.yml)
  var ACK_TIMEOUT_MS = 60000;

  var options = readOptions(script);
  var texts = TEXTS[options.lang];
  var storageKey = "supportbot:" + options.server;

  /* ---------- options ---------- */

  function readOptions(tag) {
    var data = tag.dataset;
    var server = (data.server || new URL(tag.src, location.href).origin).replace(/\/+$/, "");
    var pageLang = (document.documentElement.lang || "").slice(0, 2).toLowerCase();
    var lang = (data.lang || pageLang || "en").toLowerCase();
    return {
      server: server,
      lang: LANGUAGES.indexOf(lang) >= 0 ? lang : "en",
      title: data.title || "",
      color: data.color && window.CSS && CSS.supports("color", data.color) ? data.color : "",
      position: data.position === "left" ? "left" : "right",
      open: data.open === "true"
    };
  }

  /* ---------- stored state: session token and unsent messages ---------- */

  function loadState() {
    try {
      var state = JSON.parse(localStorage.getItem(storageKey) || "{}");
      return { token: state.token || null, pending: Array.isArray(state.pending) ? state.pending : [],
               open: !!state.open };
    } catch (error) {
      return { token: null, pending: [], open: false };
    }
  }

  function saveState() {
    try {
      localStorage.setItem(storageKey, JSON.stringify(state));
    } catch (error) { /* private mode or full storage: the chat still works for this page */ }
  }

  var state = loadState();

  /* ---------- safe rich text ---------- */

  var INLINE = /\*\*([^*]+)\*\*|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>]*[^\s<>.,;:!?)'"])|([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g;
  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:"];

  function safeHref(raw) {
    try {
      var url = new URL(raw, location.href);
      return SAFE_PROTOCOLS.indexOf(url.protocol) >= 0 ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function link(href, label) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (!href.startsWith("mailto:")) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  function renderInline(text, parent) {
    var last = 0;
    var match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var node;
      if (match[1] !== undefined) {
        node = document.createElement("strong");
        node.textContent = match[1];
      } else if (match[2] !== undefined) {
        var href = safeHref(match[3]);
        node = href ? link(href, match[2]) : document.createTextNode(match[0]);
      } else if (match[4] !== undefined) {
        node = safeHref(match[4]) ? link(match[4], match[4]) : document.createTextNode(match[4]);
      } else {
        node = link("mailto:" + match[5], match[5]);
      }
      parent.appendChild(node);
      last = INLINE.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  var BULLET = /^\s*[-*•]\s+/;
  var NUMBERED = /^\s*\d+[.)]\s+/;

  /** Paragraphs (blank lines), lists ("- ", "1. "), line breaks and inline formatting, as elements. */
  function renderRichText(text, container) {
    String(text).replace(/\r\n?/g, "\n").trim().split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n");
      var bullets = lines.every(function (l) { return BULLET.test(l); });
      var numbers = lines.every(function (l) { return NUMBERED.test(l); });
      if (bullets || numbers) {
        var list = document.createElement(bullets ? "ul" : "ol");
        lines.forEach(function (line) {
          var item = document.createElement("li");
          renderInline(line.replace(bullets ? BULLET : NUMBERED, ""), item);
          list.appendChild(item);
        });
        container.appendChild(list);
        return;
      }
      var paragraph = document.createElement("p");
      lines.forEach(function (line, index) {
        if (index > 0) paragraph.appendChild(document.createElement("br"));
        renderInline(line, paragraph);
      });
      container.appendChild(paragraph);
    });
  }

  /* ---------- the widget's elements ---------- */

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  var host = element("supportbot-chat", { "data-position": options.position });
  var shadow = host.attachShadow({ mode: "open" });
  var stylesheet = element("link", { rel: "stylesheet", href: options.server + "/widget/supportbot.css" });
  if (options.color) host.style.setProperty("--sb-accent", options.color);

  var bubble = element("button", {
    type: "button", class: "sb-bubble", "aria-expanded": "false", "aria-controls": "sb-panel",
    "aria-label": texts.open, title: texts.open
  });
  bubble.appendChild(chatIcon());
  var title = element("h2", { id: "sb-title", class: "sb-title", text: options.title || texts.title });
  var humanButton = element("button", { type: "button", class: "sb-human", text: texts.human });
  var restartButton = element("button", {
    type: "button", class: "sb-icon", "aria-label": texts.restart, title: texts.restart, text: "↺"
  });
  var closeButton = element("button", {
    type: "button", class: "sb-icon", "aria-label": texts.close, title: texts.close, text: "×"
  });
  var status = element("p", { class: "sb-status", role: "status" });
  var log = element("div", {
    class: "sb-log", role: "log", "aria-live": "polite", "aria-label": texts.conversation, tabindex: "0"
  });
  var typing = element("p", { class: "sb-typing", hidden: "" }, [
    element("span", { class: "sb-dots", "aria-hidden": "true" }),
    element("span", { class: "sb-visually-hidden", text: texts.typing })
  ]);
  var input = element("textarea", {
    id: "sb-input", rows: "1", maxlength: String(MAX_MESSAGE_CHARS), placeholder: texts.placeholder,
    autocomplete: "off"
  });
  var sendButton = element("button", { type: "submit", class: "sb-send", text: texts.send });
  var form = element("form", { class: "sb-form" }, [
    element("label", { for: "sb-input", class: "sb-visually-hidden", text: texts.inputLabel }), input, sendButton
  ]);
  var panel = element("section", {
    id: "sb-panel", class: "sb-panel", role: "dialog", "aria-labelledby": "sb-title", hidden: ""
  }, [
    element("header", { class: "sb-header" }, [title, humanButton, restartButton, closeButton]),
    status, log, typing, form
  ]);
  shadow.appendChild(stylesheet);
  shadow.appendChild(element("div", { class: "sb-root", lang: options.lang }, [panel, bubble]));

  function chatIcon() {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  /* ---------- the conversation on screen ---------- */

  var replyStart = null; // the first message of the bot's current reply

  function addMessage(sender, text, extra) {
    extra = extra || {};
    var prefix = { user: texts.you, bot: texts.bot, agent: texts.agent }[sender] || texts.bot;
    var message = element("div", { class: "sb-msg sb-" + sender });
    if (extra.id) message.dataset.id = extra.id;
    if (sender === "agent" && extra.agent) {
      // A person from the shop's team: their name, shown and read out instead of "Agent:".
      message.appendChild(element("span", { class: "sb-agent-name", text: extra.agent }));
      message.appendChild(element("span", { class: "sb-visually-hidden", text: ": " }));
    } else {
      message.appendChild(element("span", { class: "sb-visually-hidden", text: prefix + " " }));
    }
    var body = element("div", { class: "sb-body" });
    if (sender === "user") {
      body.appendChild(element("p", { text: text })); // what the customer typed is shown exactly
    } else {
      renderRichText(text, body);
    }
    message.appendChild(body);
    if (extra.quickReplies && extra.quickReplies.length) {
      message.appendChild(choiceButtons(extra.quickReplies));
    }
    if (extra.pending) message.classList.add("sb-pending");
    log.appendChild(message);
    // A long reply is shown from its start, not its end; the customer scrolls on from there.
    if (sender === "user") {
      replyStart = null;
      log.scrollTop = log.scrollHeight;
    } else {
      replyStart = replyStart || message;
      log.scrollTop = Math.min(log.scrollHeight, replyStart.offsetTop - 8);
    }
    return message;
  }

  function choiceButtons(replies) {
    var group = element("div", { class: "sb-choices", role: "group", "aria-label": texts.choices });
    replies.forEach(function (reply) {
      var button = element("button", { type: "button", class: "sb-choice", text: reply.title });
      button.addEventListener("click", function () {
        send(reply.payload, { display: reply.title });
        input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }

  /** Buttons of earlier messages are answers to questions already gone by. */
  function retireChoices() {
    log.querySelectorAll(".sb-choices").forEach(function (group) { group.remove(); });
  }

  function showTyping(on) {
    typing.hidden = !on;
    if (on) log.scrollTop = log.scrollHeight;
  }

  function setStatus(text) {
    status.textContent = text;
  }

  /* ---------- talking to the server ---------- */

  var socket = null;
  var confirmed = false;
  var inFlight = {};
  var typingTimer = null;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function send(message, metadata) {
    var text = String(message);
    if (text.length > MAX_MESSAGE_CHARS) {
      setStatus(texts.tooLong.replace("{limit}", MAX_MESSAGE_CHARS));
      return false;
    }
    var entry = { id: newId(), message: text, metadata: metadata || {}, tried: false };
    retireChoices();
    started = true;
    state.pending.push(entry);
    saveState();
    if (!entry.metadata.hidden) {
      addMessage("user", entry.metadata.display || text, { id: entry.id, pending: true });
    }
    flush();
    return true;
  }

  /** Send every unsent message, oldest first; each stays stored until the server acknowledges it. */
  function flush() {
    if (!socket || !socket.connected || !confirmed) return;
    state.pending.forEach(function (entry) {
      if (inFlight[entry.id]) return;
      inFlight[entry.id] = true;
      var retry = entry.tried;
      entry.tried = true;
      saveState();
      showTyping(true);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { showTyping(false); }, 20000);
      socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", {
        message: entry.message, message_id: entry.id, metadata: entry.metadata, retry: retry
      }, function (error, reply) {
        delete inFlight[entry.id];
        if (error) return; // no answer in time: sent again on the next connection
        acknowledge(entry, reply || {});
      });
    });
  }

  function acknowledge(entry, reply) {
    state.pending = state.pending.filter(function (p) { return p.id !== entry.id; });
    saveState();
    showTyping(false); // the bot's replies to a message all arrive before its acknowledgement
    var shown = log.querySelector('.sb-msg[data-id="' + entry.id + '"]');
    if (shown) shown.classList.remove("sb-pending");
    if (!reply.ok) {
      if (reply.error === "too_long") setStatus(texts.tooLong.replace("{limit}", reply.limit));
      if (reply.error === "rate_limited") setStatus(texts.slowDown);
      if (reply.error === "busy") setStatus(texts.busy);
      if (shown) shown.classList.add("sb-failed");
      var refused = reply.error === "too_long" || reply.error === "rate_limited" || reply.error === "busy";
      if (refused && !input.value) input.value = entry.message; // nothing typed is lost
    }
  }

  // null until the server has said whether this conversation has begun.
  var started = null;

  /** A new conversation opens with the bot's greeting, in the page's language. */
  function greetIfNew() {
    if (started === false && !panel.hidden) {
      started = true;
      send('/greet{"language": "' + options.lang + '"}', { hidden: true }); // not shown as typed
    }
  }

  function showHistory(messages) {
    log.textContent = "";
    var lastUser = -1;
    messages.forEach(function (m, index) { if (m.sender === "user") lastUser = index; });
    messages.forEach(function (m, index) {
      // Buttons still answerable: those after the customer's last message.
      var replies = index > lastUser ? m.quick_replies : null;
      addMessage(m.sender === "user" ? "user" : m.sender === "agent" ? "agent" : "bot", m.text,
                 { id: m.id, quickReplies: replies, agent: m.agent });
    });
    // A message the server has but whose acknowledgement was lost is in the history: it is sent.
    var handled = {};
    messages.forEach(function (m) { if (m.id) handled[m.id] = true; });
    state.pending = state.pending.filter(function (entry) { return !handled[entry.id]; });
    saveState();
    state.pending.forEach(function (entry) {
      if (!entry.metadata.hidden) {
        addMessage("user", entry.metadata.display || entry.message, { id: entry.id, pending: true });
      }
    });
    started = messages.length > 0 || state.pending.length > 0;
    greetIfNew();
  }

  function connect() {
    if (socket) return;
    socket = window.io(options.server, { path: "/socket.io", transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      confirmed = false;
      socket.emit("session_request", { session_id: state.token });
    });
    socket.on("session_confirm", function (token) {
      state.token = token;
      saveState();
      confirmed = true;
    });
    socket.on("history", function (data) {
      if (status.textContent === texts.offline) setStatus(texts.online);
      showHistory((data && data.messages) || []);
      flush();
    });
    socket.on("bot_uttered", function (data) {
      if (!data) return;
      showTyping(false);
      addMessage(data.agent ? "agent" : "bot", data.text || "", { quickReplies: data.quick_replies, agent: data.agent });
    });
    socket.on("user_echo", function (data) {
      if (data && !log.querySelector('.sb-msg[data-id="' + CSS.escape(String(data.id)) + '"]')) {
        addMessage("user", data.text, { id: data.id });
      }
    });
    socket.on("user_echo_withdrawn", function (data) { // the bot was too busy to take it (another tab was told)
      var echoed = data && log.querySelector('.sb-msg[data-id="' + CSS.escape(String(data.id)) + '"]');
      if (echoed) echoed.remove();
    });
    socket.on("disconnect", function () {
      confirmed = false;
      inFlight = {};
      setStatus(texts.offline);
    });
    socket.on("connect_error", function () {
      setStatus(texts.offline);
    });
  }

  /* ---------- opening, closing, keyboard ---------- */

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.hidden = true;
    state.open = true;
    saveState();
    greetIfNew();
    input.focus();
  }

  function close() {
    panel.hidden = true;
    bubble.hidden = false;
    bubble.setAttribute("aria-expanded", "false");
    state.open = false;
    saveState();
    bubble.focus();
  }

  function restart() {
    state = { token: null, pending: [], open: true };
    saveState();
    started = null;
    log.textContent = "";
    setStatus("");
    if (socket) {
      socket.disconnect();
      socket = null;
    }
    connect();
    input.focus();
  }

  bubble.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  restartButton.addEventListener("click", restart);
  humanButton.addEventListener("click", function () {
    send("/human_handoff", { display: texts.humanMessage });
    input.focus();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (send(text)) {
      input.value = "";
      setStatus("");
    }
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  /* ---------- start ---------- */

  function loadSocketIo(callback) {
    if (window.io) return callback();
    var tag = document.createElement("script");
    tag.src = options.server + "/widget/socket.io.min.js";
    tag.onload = callback;
    tag.onerror = function () { setStatus(texts.unavailable); };
    document.head.appendChild(tag);
  }

  function start() {
    document.body.appendChild(host);
    if (options.open || state.open) open();
    loadSocketIo(connect);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
