"use strict";
// Moderation notices on the group chat page (plugins/moderation): who was muted, unmuted or
// removed from the room. Shown with the page's own notice helper (text only, never HTML).
(() => {
  const roomName = document.getElementById("roomName");
  const socket = typeof chat === "object" && chat && typeof chat.socket === "function" ? chat.socket() : null;
  if (!roomName || !socket) return;

  socket.on("moderation", (roomId, info) => {
    if (roomId !== (roomName.dataset.room || "") || !info || typeof info !== "object") return;
    const nick = String(info.nickName);
    const seconds = Number(info.seconds);
    if (info.action === "muted") chat.notice(nick + " was muted by a moderator" + (seconds ? " for " + seconds + " s" : ""));
    else if (info.action === "unmuted") chat.notice(nick + " may talk again");
    else if (info.action === "kicked") chat.notice(nick + " was removed from the room by a moderator");
  });
})();
