"use strict";
// templates/chat.js: the page-side helper every chat page (and every script a plugin adds to a
// page) uses, as the global `chat`. Included into base.html as plain text: no template syntax here.
//
//   chat.t(key, values)        a message of the page's catalogue (messages/<lang>.json), {name}s filled
//   chat.lang                  the page's language ("en", "ko")
//   chat.connect()             open the Socket.IO connection (shows its state and problems); the socket
//   chat.socket()              that socket (null before connect)
//   chat.request(event, ...a)  emit with an ack: a promise of {ok: true, ...}, or of null after showing
//                              the error inline; null at once when not connected
//   chat.show(payload, extra)  add a chat message ({nickName, msg[, cid]} or any JSON value)
//   chat.notice(text) / chat.error(text)   add a notice / an error line
//   chat.problem(key, text)    one line per key, updated in place (not repeated); chat.clearProblem(key)
//   chat.add(kind, build)      add an item: build(li) fills it; kind is its class and data-kind
//   chat.el(tag, cls, text)    a new element, text set with textContent
//   chat.outgoing(nick, msg)   the payload of an own message, recognised when it comes back
//   chat.onSubmit(input, button, send)     Enter (not while an IME composes) or the button call
//                              send(text); the text stays in the input until send's result (or the
//                              promise's) is truthy, i.e. until the server's ack says ok
//   chat.rememberNickname(input)           fills and remembers the nickname; returns a getter
//
// Every user-supplied string is written with textContent, never as HTML. Hooks for tests and
// styles: li[data-kind=message|notice|error], li[data-own], li[data-problem], .nick, .text, time;
// #status[data-state=connecting|connected|disconnected].
const chat = (() => {
  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const history = document.getElementById("chatHistory");
  const status = document.getElementById("status");
  const ACK_TIMEOUT = 10000;  // ms to wait for the server's answer to a request
  const MAX_RETRY_DELAY = 30;  // s between attempts after a refusal that may pass
  const sent = new Set();  // ids of our own messages, to tell them apart when they come back
  const problems = new Map();  // key -> the li that says it
  let socket = null;

  // A saved page follows the language of the browser it is opened in.
  function chooseLanguage() {
    const have = Object.keys(config.messages);
    if (!config.followBrowser) return config.lang;
    for (const tag of navigator.languages || [navigator.language]) {
      const primary = String(tag).toLowerCase().split("-")[0];
      if (have.includes(primary)) return primary;
    }
    return config.lang;
  }
  const lang = chooseLanguage();
  const messages = config.messages[lang] || config.messages[config.lang];

  function t(key, values) {
    const template = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return template.replace(/\{(\w+)\}/g, (whole, name) =>
      values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole);
  }

  // Labels rendered in another language than this page's (a saved page) are written again.
  function translatePage() {
    document.documentElement.lang = lang;
    if (lang === config.lang) return;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n, {url: node.dataset.i18nUrl || ""});
    }
    const attributes = {i18nPlaceholder: "placeholder", i18nAriaLabel: "aria-label", i18nTitle: "title",
                        i18nEmpty: "data-empty"};
    for (const [data, attribute] of Object.entries(attributes)) {
      const selector = "[data-" + data.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()) + "]";
      for (const node of document.querySelectorAll(selector)) node.setAttribute(attribute, t(node.dataset[data]));
    }
  }
  translatePage();

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stamp() {
    const now = new Date();
    const time = el("time", "", now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}));
    time.dateTime = now.toISOString();
    return time;
  }

  // Append an item; stay at the bottom if the reader was there (or when forced: our own lines).
  function add(kind, build, force) {
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 48;
    const li = el("li", kind);
    li.dataset.kind = kind;
    build(li);
    history.appendChild(li);
    if (force || atBottom) history.scrollTop = history.scrollHeight;
    return li;
  }

  function show(payload, extra) {
    // Payloads come from any client: a string, {nickName, msg[, cid]}, or any other JSON value.
    let nick = "", body;
    if (payload !== null && typeof payload === "object" && !Array.isArray(payload) && "msg" in payload) {
      nick = typeof payload.nickName === "string" ? payload.nickName : "";
      body = typeof payload.msg === "string" ? payload.msg : JSON.stringify(payload.msg);
    } else {
      body = typeof payload === "string" ? payload : JSON.stringify(payload);
    }
    const own = !!(payload && typeof payload.cid === "string" && sent.delete(payload.cid));
    return add("message", (li) => {
      if (own) { li.classList.add("own"); li.dataset.own = "true"; }
      li.dataset.nick = nick || t("anonymous");
      const meta = el("span", "meta");
      meta.append(el("span", "nick", nick || t("anonymous")));
      if (own) meta.append(el("span", "you", t("you")));
      if (extra && extra.room) {
        li.dataset.room = extra.room;
        meta.append(el("span", "room", t("in_room", {room: extra.room})));
      }
      meta.append(stamp());
      li.append(meta, el("span", "text", String(body)));
    }, own);
  }

  function fill(li, text) {
    li.replaceChildren();
    const meta = el("span", "meta");
    meta.append(stamp());
    li.append(meta, el("span", "text", String(text)));
  }

  function line(kind, text) {
    return add(kind, (li) => {
      fill(li, text);
      if (kind === "error") li.setAttribute("role", "alert");
    }, true);
  }

  const notice = (text) => line("notice", text);
  const error = (text) => line("error", text);

  // One line per problem: said once, then kept up to date (and moved to the bottom).
  function problem(key, text) {
    let li = problems.get(key);
    if (li && li.isConnected) {
      fill(li, text);
      history.appendChild(li);
      history.scrollTop = history.scrollHeight;
    } else {
      li = error(text);
      li.dataset.problem = key;
      problems.set(key, li);
    }
    return li;
  }

  const clearProblem = (key) => problems.delete(key);

  function outgoing(nickName, msg) {
    const cid = Math.random().toString(36).slice(2) + Date.now().toString(36);
    sent.add(cid);
    return {nickName, msg, cid};
  }

  let retryAfter = null;  // the wait the server last gave with `rate_limited`, in seconds

  function request(event, ...args) {
    if (!socket || !socket.connected) {
      error(t("not_connected", {event}));
      return null;
    }
    return new Promise((resolve) => {
      socket.timeout(ACK_TIMEOUT).emit(event, ...args, (err, res) => {
        if (err) { error(t("no_answer", {event})); resolve(null); return; }
        if (!res || res.ok !== true) {
          const why = (res && typeof res.error === "string" && res.error) || t("refused_request", {event});
          if (why.startsWith("rate limited")) {
            const match = /retry in ([\d.]+)s/.exec(why);
            const wait = retryAfter !== null ? retryAfter : (match ? Number(match[1]) : 1);
            problem("rate", t("rate_limited", {seconds: Math.max(0.1, wait).toFixed(1)}));
          } else {
            error(why);
          }
          retryAfter = null;
          resolve(null);
          return;
        }
        clearProblem("rate");
        resolve(res);
      });
    });
  }

  function setStatus(state) {
    status.dataset.state = state;
    status.textContent = t("status_" + state);
    status.className = state === "connected" ? "connected" : "";
  }

  function connect() {
    if (typeof io !== "function") {
      setStatus("disconnected");
      error(t("no_client_script", {url: config.clientScript}));
      return null;
    }
    const url = config.socketUrl;
    // `lang` tells the server which language this page's notices should be in. recover:
    // connection-state recovery (README): after a short drop the server gives back this
    // connection's rooms and the messages it missed.
    const options = {transports: config.transports, query: {lang}, auth: {recover: true}};
    socket = url ? io(url, options) : io(options);
    let lost = false, refusals = 0, retryTimer = null;
    socket.on("connect", () => {
      setStatus("connected");
      for (const key of ["unreachable", "refused"]) clearProblem(key);
      if (lost) notice(t("reconnected"));  // socket.recovered: rooms and missed messages came back too
      lost = false; refusals = 0;
    });
    socket.on("recovered", (info) => {
      const missed = info && info.missed;
      if (missed) notice(t(missed === 1 ? "missed_one" : "missed_many", {count: missed}));
    });
    socket.on("disconnect", () => {
      setStatus("disconnected");
      if (!lost && socket.active) notice(t("connection_lost"));
      lost = true;
    });
    socket.on("rate_limited", (info) => {
      if (info && typeof info.retry_after === "number") retryAfter = info.retry_after;
    });
    let attempt = 1;
    socket.io.on("reconnect_attempt", (n) => { attempt = n + 1; });
    socket.on("connect_error", (err) => {
      setStatus("disconnected");
      if (socket.active) {
        // No answer from the server (down, unreachable, or it turned this page's origin away
        // at the HTTP level): the client itself tries again, with its own back-off.
        problem("unreachable", t("cannot_reach", {url: url || location.origin, attempt}));
        return;
      }
      // The server answered and refused: the client stops here. Its reason is err.message
      // (err.data.message in older shapes); err.data.retry says whether waiting can help.
      const data = err && err.data && typeof err.data === "object" ? err.data : {};
      const reason = (typeof data.message === "string" && data.message) ||
                     (err && typeof err.message === "string" && err.message) || t("refused_unknown");
      if (data.retry || typeof data.retry_after === "number") {
        refusals += 1;
        const base = typeof data.retry_after === "number" ? data.retry_after : 2 ** Math.min(refusals, 5);
        const seconds = Math.max(1, Math.round(Math.min(MAX_RETRY_DELAY, base) * (0.8 + 0.4 * Math.random())));
        problem("refused", t("refused_retrying", {reason, seconds}));
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => { setStatus("connecting"); socket.connect(); }, seconds * 1000);
      } else {
        problem("refused", t("refused_final", {reason}));
      }
    });
    return socket;
  }

  // Enter or the button sends. The text stays in the input until the server took it.
  function onSubmit(input, button, send) {
    let pending = false;
    const go = async () => {
      const text = input.value;
      if (!text.trim() || pending) return;
      pending = true;
      try {
        const taken = await send(text);
        if (taken && input.value === text) input.value = "";
      } finally {
        pending = false;
        input.focus();
      }
    };
    button.addEventListener("click", go);
    input.addEventListener("keydown", (e) => {
      // While an IME composes (Hangul, kana...), Enter commits the composition: it is not a send.
      if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      go();
    });
  }

  // The nickname is remembered in this browser; onChange(old, new) hears edits.
  function rememberNickname(input, onChange) {
    let saved = null;
    try { saved = localStorage.getItem("chat.nickname"); } catch (e) { /* storage may be off */ }
    input.value = saved || t("guest") + Math.floor(Math.random() * 1000);
    let current = input.value.trim();
    input.addEventListener("change", () => {
      const now = input.value.trim();
      try { localStorage.setItem("chat.nickname", now); } catch (e) { /* storage may be off */ }
      if (now && now !== current && onChange) onChange(current, now);
      if (now) current = now;
    });
    return () => input.value.trim() || t("anonymous");
  }

  return {
    t, lang, connect, request, show, notice, error, problem, clearProblem, add, el, outgoing,
    onSubmit, rememberNickname,
    socket: () => socket,
  };
})();
