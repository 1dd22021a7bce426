// history's addition to /groupchat and /chat: what was said before you came, and "load earlier messages".
// Everything from other users is written with textContent, never as HTML.
"use strict";
(() => {
  const socket = chat.socket();
  const list = document.getElementById("chatHistory");
  if (!socket || !list) return;
  const PAGE = 50;
  // The archive's REST route lives on the chat server (the page's own origin, or public_url when standalone).
  const base = typeof socket.io.uri === "string" && /^https?:/.test(socket.io.uri) ? socket.io.uri.replace(/\/$/, "") : "";
  const shown = new Map();  // room ("" for the everybody-chat) -> {newestAt, live: [keys of live lines]}

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const key = (msg) => JSON.stringify(msg);

  // An item {nickName, msg, at}; msg may be the pages' own {nickName, msg, cid} or any JSON value.
  function line(item) {
    let nick = typeof item.nickName === "string" ? item.nickName : "";
    let body = item.msg;
    if (body !== null && typeof body === "object" && !Array.isArray(body) && "msg" in body) {
      if (typeof body.nickName === "string" && body.nickName) nick = body.nickName;
      body = body.msg;
    }
    const li = el("li", "message history");
    li.dataset.kind = "message";
    li.dataset.history = "true";
    li.dataset.nick = nick || "anonymous";
    const meta = el("span", "meta");
    meta.append(el("span", "nick", nick || "anonymous"));
    const when = new Date(typeof item.at === "number" ? item.at : Date.now());
    const t = el("time", "", when.toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}));
    t.dateTime = when.toISOString();
    meta.append(t);
    li.append(meta, el("span", "text", typeof body === "string" ? body : JSON.stringify(body)));
    return li;
  }

  function loader(room, oldest) {
    const li = el("li", "notice history-more");
    li.dataset.kind = "notice";
    const button = el("button", "load-earlier", "Load earlier messages");
    button.type = "button";
    li.append(button);
    let cursor = null, anchor = null;
    button.addEventListener("click", async () => {
      button.disabled = true;
      const path = room === "" ? "/api/chat/messages" : "/api/rooms/" + encodeURIComponent(room) + "/messages";
      // First below the oldest message shown (by its id; by its time if the archive lacks it), then by cursor.
      const query = cursor ? "before=" + encodeURIComponent(cursor)
        : (oldest.id ? "before_id=" + encodeURIComponent(oldest.id) + "&" : "") + "before_at=" + encodeURIComponent(oldest.at);
      let page;
      try {
        const res = await fetch(base + path + "?limit=" + PAGE + "&" + query);
        if (res.status === 404) { button.textContent = "No archive on this server"; return; }
        page = await res.json();
        if (!res.ok) { chat.error(page.error || "could not load earlier messages"); button.disabled = false; return; }
      } catch (e) {
        chat.error("could not load earlier messages: " + e);
        button.disabled = false;
        return;
      }
      // Newest first: each goes above the previous one, right below the button.
      let below = anchor || li.nextSibling;
      for (const item of page.messages) {
        const node = line(item);
        node.dataset.earlier = "true";
        list.insertBefore(node, below);
        below = node;
      }
      anchor = below;
      cursor = page.next;
      if (cursor) button.disabled = false;
      else button.textContent = "No earlier messages";
    });
    return li;
  }

  function showHistory(room, items) {
    const state = shown.get(room) || {newestAt: -Infinity, live: []};
    // After a reconnect the page enters again: show only what it has not shown yet.
    const fresh = items.filter((i) => i.at > state.newestAt && !state.live.includes(key(i.msg)));
    const first = !shown.has(room);
    shown.set(room, state);
    if (first) list.appendChild(loader(room, items.length ? items[0] : {id: null, at: Date.now()}));
    for (const item of fresh) list.appendChild(line(item));
    if (items.length) state.newestAt = Math.max(state.newestAt, items[items.length - 1].at);
    list.scrollTop = list.scrollHeight;
  }

  function noteLive(room, msg) {
    const state = shown.get(room);
    if (!state) return;
    state.live.push(key(msg));
    if (state.live.length > PAGE) state.live.shift();
  }

  socket.on("groupHistory", (roomId, items) => { if (Array.isArray(items)) showHistory(String(roomId), items); });
  socket.on("chatHistory", (items) => { if (Array.isArray(items) && !document.getElementById("roomid")) showHistory("", items); });
  socket.on("receiveGroupMsg", (roomId, msg) => noteLive(String(roomId), msg));
  socket.on("receiveAll", (msg) => noteLive("", msg));
})();
