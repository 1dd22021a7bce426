"use strict";
// The member list on the group chat page (plugins/presence): members(roomId) once the page has
// entered a room, then the presence(roomId, diff) pushes. Every name is written with textContent.
// Hooks for tests: #members, #memberCount, #memberList li[data-nick] (.member-count when count > 1).
(() => {
  const roomName = document.getElementById("roomName");
  const history = document.getElementById("chatHistory");
  const socket = typeof chat === "object" && chat && typeof chat.socket === "function" ? chat.socket() : null;
  if (!roomName || !history || !socket) return;

  const panel = document.createElement("aside");
  panel.id = "members";
  panel.setAttribute("aria-label", "Members of the room");
  const heading = document.createElement("h2");
  heading.textContent = "In this room ";
  const count = document.createElement("span");
  count.id = "memberCount";
  heading.append(count);
  const list = document.createElement("ul");
  list.id = "memberList";
  panel.append(heading, list);
  history.parentNode.insertBefore(panel, history);

  let room = "";
  let members = new Map();  // nickName -> {since, ids: Set of connection ids, untracked: count without ids}
  let unlisted = 0;         // members the last members() answer counted but did not list
  let pending = null;       // diffs that arrived while members() was on its way
  let refresh = null;       // timer: a long room's count is asked again rather than guessed

  function countOf(m) { return m.ids.size + m.untracked; }

  function render() {
    panel.dataset.room = room;
    const shown = [...members.entries()].sort((a, b) => a[1].since - b[1].since || (a[0] < b[0] ? -1 : 1));
    const items = shown.map(([nick, m]) => {
      const li = document.createElement("li");
      li.dataset.nick = nick;
      const name = document.createElement("span");
      name.className = "member-name";
      name.textContent = nick;
      li.append(name);
      if (countOf(m) > 1) {
        const n = document.createElement("span");
        n.className = "member-count";
        n.title = "connected " + countOf(m) + " times";
        n.textContent = "×" + countOf(m);
        li.append(n);
      }
      return li;
    });
    list.replaceChildren(...items);
    const n = members.size + unlisted;
    count.textContent = room ? "(" + n + ")" : "";
    count.dataset.count = String(room ? n : 0);
  }

  function join(entry) {
    const nick = String(entry.nickName);
    let m = members.get(nick);
    if (!m) {
      m = {since: Number(entry.since) || Date.now(), ids: new Set(), untracked: 0};
      members.set(nick, m);
    }
    m.ids.add(String(entry.id));
  }

  function leave(entry) {
    const nick = String(entry.nickName);
    const m = members.get(nick);
    if (!m) return;
    if (!m.ids.delete(String(entry.id)) && m.untracked > 0) m.untracked -= 1;
    if (countOf(m) > 0) return;
    members.delete(nick);
    // group_chat announces leaves itself; a member whose server process died is announced here.
    if (entry.reason === "lost") chat.notice(nick + " lost the connection (their server stopped)");
  }

  function apply(diff) {
    if (!diff || typeof diff !== "object") return;
    (Array.isArray(diff.joined) ? diff.joined : []).forEach(join);
    (Array.isArray(diff.left) ? diff.left : []).forEach(leave);
    // Part of the room is not listed: a diff may be about those; ask again rather than guess.
    if (unlisted > 0 && !refresh) refresh = setTimeout(load, 5000);
  }

  function load() {
    clearTimeout(refresh);
    refresh = null;
    const wanted = room;
    if (!wanted) return;
    pending = pending || [];
    const answer = chat.request("members", wanted);
    if (!answer) { pending = null; return; }
    answer.then((res) => {
      if (room !== wanted) return;
      const later = pending || [];
      pending = null;
      if (!res) return;
      members = new Map();
      for (const m of Array.isArray(res.members) ? res.members : []) {
        const ids = new Set(Array.isArray(m.ids) ? m.ids.map(String) : []);
        members.set(String(m.nickName), {since: Number(m.since) || 0, ids,
                                         untracked: Math.max(0, (Number(m.count) || 1) - ids.size)});
      }
      unlisted = Math.max(0, (Number(res.total) || 0) - members.size);
      later.forEach(apply);
      render();
    });
  }

  socket.on("presence", (roomId, diff) => {
    if (roomId !== room) return;
    if (pending) { pending.push(diff); return; }
    apply(diff);
    render();
  });

  // The page names its room in #roomName[data-room] once the entry is acknowledged (again after
  // a reconnect), which is when members() can answer.
  new MutationObserver(() => {
    const now = roomName.dataset.room || "";
    if (now !== room) { members = new Map(); unlisted = 0; }
    room = now;
    render();
    load();
  }).observe(roomName, {attributes: true, attributeFilter: ["data-room"]});
  render();
})();
