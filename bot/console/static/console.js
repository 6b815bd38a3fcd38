/*
 * The agent console (served at /console/): the queue of chats the bot handed to a person, the
 * handoff packet, live replies, ending a handoff or turning it into a ticket, and the tickets.
 *
 * Plain JavaScript, no build step, nothing loaded from elsewhere. It talks to the server's JSON API
 * under /console/api (cookie session, X-CSRF-Token on every POST) and gets live updates from the
 * WebSocket at /console/ws. Everything that comes from the server — above all what customers
 * wrote — is put into the page as text (textContent, createElement), never as HTML.
 */
(function () {
  "use strict";

  /* ---------- fixed texts (one place, so translations can be added later) ---------- */

  var TEXTS = {
    appTitle: "Agent console", signedInAs: "Signed in as", logout: "Log out", loggedOut: "You are logged out.",
    loginHeading: "Log in", username: "Username", password: "Password", login: "Log in",
    loginMissing: "Enter your username and password.",
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
    ticketsHeading: "Tickets", ticketsTable: "Tickets table", filterLabel: "Show", refresh: "Refresh", ticketsEmpty: "No tickets to show.",
    statusAll: "All",
    statuses: {
      open: "Open", in_progress: "In progress", waiting_for_customer: "Waiting for customer",
      resolved: "Resolved", closed: "Closed"
    },
    colTicket: "Ticket", colCustomer: "Customer", colTopic: "Topic", colReplyBy: "Reply by",
    colStatus: "Status", colNote: "Note for the customer", colSave: "Save",
    statusOf: "Status of ticket {id}", noteFor: "Note for the customer about ticket {id}",
    lastNote: "Last note: {note}", save: "Save", ticketSaved: "Ticket {id} saved: {status}."
  };

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

  /** The status line (role=status, polite): what just happened, or what went wrong. */
  function showNotice(text, isError) {
    notice.textContent = text || "";
    notice.classList.toggle("error", !!isError);
  }

  /* ---------- state ---------- */

  var csrfToken = null;
  var me = null;              // {username, display_name}
  var queue = [];             // the open handoffs, oldest first
  var unread = {};            // handoff id -> true: messages arrived while it was not open
  var openChat = null;        // {id, handoff, messages: [...], keys: {...}}
  var openRequest = null;     // the handoff id whose GET is the latest asked for
  var closingId = null;       // the handoff this agent is ending (its "handoff" frame is expected)
  var drafts = {};            // handoff id -> unsent reply text
  var sending = false;
  var busy = {};              // handoff id -> a claim/end/ticket request is under way

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
        var error = new Error(data && data.error ? String(data.error) : t("httpError", { status: response.status }));
        error.status = response.status;
        throw error;
      });
    }, function () {
      var error = new Error(TEXTS.networkError);
      error.status = 0;
      throw error;
    });
  }

  /** The usual error handling: a 401 means the session is gone, anything else is shown as a notice. */
  function fail(error) {
    if (error && error.status === 401) sessionExpired();
    else showNotice(error && error.message ? error.message : TEXTS.networkError, true);
  }

  /* ---------- login, session, logout ---------- */

  function showLogin(message) {
    app.hidden = true;
    session.hidden = true;
    loginView.hidden = false;
    loginError.textContent = message || "";
    usernameInput.focus();
  }

  function startSession(data, fromLogin) {
    csrfToken = data.csrf_token || null;
    me = data.agent || {};
    agentName.textContent = me.display_name || me.username || "";
    passwordInput.value = "";
    loginError.textContent = "";
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
    showLogin(message);
  }

  function sessionExpired() {
    showNotice("");
    endSession(TEXTS.sessionExpired);
  }

  var loggingIn = false;

  loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var username = usernameInput.value.trim();
    var password = passwordInput.value;
    if (!username || !password) {
      loginError.textContent = TEXTS.loginMissing;
      (username ? passwordInput : usernameInput).focus();
      return;
    }
    if (loggingIn) return;
    loggingIn = true;
    loginError.textContent = "";
    api("POST", "/login", { username: username, password: password }).then(function (data) {
      showNotice("");
      startSession(data, true);
    }).catch(function (error) {
      loginError.textContent = error.message; // wrong password (401), too many attempts (429), network
      passwordInput.select();
      passwordInput.focus();
    }).then(function () { loggingIn = false; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").then(function () {
      endSession("");
      showNotice(TEXTS.loggedOut);
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
      showNotice(t("claimed", { name: customerName(data.handoff || handoff) }));
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
        showNotice(handoff.status === "ended" ? t("chatEnded", { name: customerName(handoff) })
          : handoff.status === "timed_out" ? t("chatTimedOut", { name: customerName(handoff) }) : TEXTS.chatNotYours, true);
        return;
      }
      var switching = !openChat || openChat.id !== id;
      if (switching) {
        if (openChat) drafts[openChat.id] = reply.value;
        openChat = { id: id, handoff: handoff, messages: [], keys: {} };
        reply.value = drafts[id] || "";
      }
      openChat.handoff = handoff;
      delete unread[id];
      renderPacket(handoff, data.packet || {});
      renderDeliveries(Array.isArray(data.deliveries) ? data.deliveries : []);
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
        el("td", { class: c.matched ? null : "muted", text: c.matched || TEXTS.noMatch }),
        el("td", { class: "num", text: percent(c.score) }),
        el("td", {}, others.length ? [el("ul", { class: "others" }, others.map(function (o) {
          return el("li", { text: o.id + " " + percent(o.score) });
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
      el("p", { class: "msg-text", text: m.text === undefined || m.text === null ? "" : String(m.text) })
    ]);
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
      transcript.setAttribute("aria-busy", "true"); // a redraw is not news for screen readers
      transcript.textContent = "";
      openChat.messages.forEach(function (m) { transcript.appendChild(messageNode(m)); });
      transcript.removeAttribute("aria-busy");
    }
    if (stick || fresh.some(function (m) { return m.sender === "agent"; })) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  /* ---------- replying, ending, tickets from a chat ---------- */

  replyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!openChat || sending) return;
    var text = reply.value.trim();
    if (!text) { showNotice(TEXTS.replyEmpty, true); return; }
    if (text.length > MAX_REPLY_CHARS) { showNotice(t("replyTooLong", { limit: MAX_REPLY_CHARS }), true); return; }
    var id = openChat.id;
    sending = true;
    api("POST", "/handoffs/" + encodeURIComponent(id) + "/messages", { text: text }).then(function (data) {
      delete drafts[id];
      if (openChat && openChat.id === id) {
        if (reply.value.trim() === text) reply.value = "";
        if (data.message) addMessages([data.message]);
      }
      showNotice(TEXTS.replySent);
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
      showNotice(kind === "ticket" ? t("ticketMade", { id: data.ticket_id || "?" }) : TEXTS.ended);
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
        showNotice(TEXTS.reconnected);
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
      showNotice(TEXTS.reconnecting, true);
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
          showNotice(handoff.status === "timed_out" ? t("chatTimedOut", { name: customerName(handoff) })
            : handoff.status === "ended" ? t("chatEnded", { name: customerName(handoff) }) : TEXTS.chatNotYours, true);
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
      Object.keys(TEXTS.statuses).map(function (s) { return el("option", { value: s, text: TEXTS.statuses[s] }); }));
    if (!TEXTS.statuses[ticket.status]) select.appendChild(el("option", { value: ticket.status, text: ticket.status }));
    select.value = ticket.status;
    var note = el("input", { id: noteId, class: "ticket-note", type: "text", maxlength: "2000", autocomplete: "off" });
    var lastNote = el("p", { class: "last-note" });
    var save = el("button", { type: "button", class: "ticket-save", "aria-describedby": idId, text: TEXTS.save });

    function showLastNote(text) {
      lastNote.textContent = text ? t("lastNote", { note: text }) : "";
      lastNote.hidden = !text;
    }
    showLastNote(ticket.last_note);

    function saveTicket() {
      if (save.getAttribute("aria-disabled") === "true") return;
      save.setAttribute("aria-disabled", "true");
      api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/status",
          { status: select.value, note: note.value.trim() }).then(function (data) {
        var saved = data.ticket || {};
        if (saved.status) select.value = saved.status;
        showLastNote(saved.last_note);
        note.value = "";
        showNotice(t("ticketSaved", { id: ticket.id, status: statusName(select.value) }));
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
      el("td", {}, lines([ticket.category, languageName(ticket.language)])),
      el("td", {}, [timeElement(ticket.reply_by, dateTime(ticket.reply_by))]),
      el("td", {}, [el("label", { for: statusId, class: "visually-hidden", text: t("statusOf", { id: ticket.id }) }), select]),
      el("td", { class: "wrap" }, [
        el("label", { for: noteId, class: "visually-hidden", text: t("noteFor", { id: ticket.id }) }), note, lastNote
      ]),
      el("td", {}, [save])
    ]);
  }

  /* ---------- start ---------- */

  applyTexts();
  api("GET", "/me").then(function (data) {
    startSession(data, false);
  }).catch(function (error) {
    showLogin("");
    if (error.status !== 401) showNotice(error.message, true);
  });
})();
