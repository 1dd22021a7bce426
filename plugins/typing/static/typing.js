"use strict";
// "X is typing…" on the group chat page (plugins/typing). Tells the room while the message box is
// being typed in (at most once per 2 s; the server caps it too) and shows who else is typing.
// Names are written with textContent. Hook for tests: #typing[data-nicks] (names, comma-separated).
(() => {
  const roomName = document.getElementById("roomName");
  const message = document.getElementById("message");
  const nickname = document.getElementById("nickname");
  const socket = typeof chat === "object" && chat && typeof chat.socket === "function" ? chat.socket() : null;
  if (!roomName || !message || !socket) return;

  const SEND_EVERY = 2000;  // ms between two typing(true) from this page
  const IDLE = 3000;        // ms without a key press before this page says it stopped
  const SHOWN_FOR = 6000;   // ms a "true" is shown without a refresh (the server's expiry is 5 s)

  const line = document.createElement("div");
  line.id = "typing";
  line.setAttribute("aria-live", "polite");
  message.closest(".bar").before(line);

  const room = () => roomName.dataset.room || "";
  const typists = new Map();  // nickName -> timer that hides it
  let saidFor = "";   // the room this page last said "typing" in
  let lastSent = 0;
  let idle = null;

  function render() {
    const names = [...typists.keys()];
    line.dataset.nicks = names.join(",");
    if (names.length === 0) line.textContent = "";
    else if (names.length === 1) line.textContent = names[0] + " is typing…";
    else if (names.length === 2) line.textContent = names[0] + " and " + names[1] + " are typing…";
    else line.textContent = names.length + " people are typing…";
  }

  function stopped() {
    clearTimeout(idle);
    idle = null;
    if (saidFor && socket.connected) socket.emit("typing", saidFor, false);
    saidFor = "";
  }

  message.addEventListener("input", () => {
    const current = room();
    if (!current || !socket.connected) return;
    if (!message.value.trim()) { stopped(); return; }
    if (saidFor && saidFor !== current) stopped();
    const now = Date.now();
    if (saidFor !== current || now - lastSent >= SEND_EVERY) {
      socket.emit("typing", current, true);
      saidFor = current;
      lastSent = now;
    }
    clearTimeout(idle);
    idle = setTimeout(stopped, IDLE);
  });
  // Sending the message ends typing (the page clears the box without an input event).
  message.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.isComposing) setTimeout(stopped); });
  const send = document.getElementById("btnSend");
  if (send) send.addEventListener("click", () => setTimeout(stopped));

  socket.on("typing", (roomId, nick, typing) => {
    if (roomId !== room() || typeof nick !== "string") return;
    if (nickname && nick === nickname.value.trim()) return;  // this user in another tab
    clearTimeout(typists.get(nick));
    if (typing === true) typists.set(nick, setTimeout(() => { typists.delete(nick); render(); }, SHOWN_FOR));
    else typists.delete(nick);
    render();
  });
  // A new room (or a reconnect): whoever was typing before is not known to be typing now.
  new MutationObserver(() => {
    typists.forEach(clearTimeout);
    typists.clear();
    if (saidFor && saidFor !== room()) { clearTimeout(idle); saidFor = ""; }  // the server ended it on leave
    render();
  }).observe(roomName, {attributes: true, attributeFilter: ["data-room"]});
  socket.on("disconnect", () => { saidFor = ""; typists.forEach(clearTimeout); typists.clear(); render(); });
})();
