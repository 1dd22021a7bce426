// The tutorial's chat on socket.io 4.8, the reference the Python server is benchmarked against.
//
//   node server.js [port]          (or PORT=3000; REDIS_URL=redis://127.0.0.1:6379 for the Redis adapter)
//
// Default namespace, path /socket.io, websocket + polling, no permessage-deflate (the default),
// the same events and notice wordings as the Python server's global_chat and group_chat plugins.
// The wire-conformance tests (tests/core/sio/) set PING_INTERVAL / PING_TIMEOUT /
// MAX_HTTP_BUFFER_SIZE and, through `require`, add a few handlers before start() (see `module.exports`).
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";
const redisUrl = process.env.REDIS_URL || "";

const httpServer = http.createServer((req, res) => {
  // socket.io answers /socket.io/ itself; everything else is a readiness probe.
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("ok\n");
});

const io = new Server(httpServer, {
  transports: ["polling", "websocket"],
  perMessageDeflate: false,
  httpCompression: true,
  pingInterval: Number(process.env.PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT || 20000),
  maxHttpBufferSize: Number(process.env.MAX_HTTP_BUFFER_SIZE || 1e6),
  cors: { origin: true },
});

io.on("connection", (socket) => {
  const rooms = new Map(); // roomId -> nickName, for the leave notice

  socket.on("broadcast", (msg) => io.emit("receiveAll", msg));
  socket.on("test1", (a, b) => io.emit("receive1", a, b));
  socket.on("test2", (obj) => io.emit("receive2", obj));

  socket.on("entry", (roomId, nickName) => {
    if (!rooms.has(roomId)) {
      socket.join(roomId);
      socket.to(roomId).emit("entryok", `${nickName} entered the room`);
    }
    rooms.set(roomId, nickName);
    socket.emit("entryok", `You entered room ${roomId} as ${nickName}`);
  });

  socket.on("groupmsg", (roomId, msg) => io.to(roomId).emit("receiveGroupMsg", roomId, msg));

  socket.on("disconnecting", () => {
    for (const [roomId, nickName] of rooms) socket.to(roomId).emit("entryok", `${nickName} left the room`);
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pubClient = createClient({ url: redisUrl });
    const subClient = pubClient.duplicate();
    for (const c of [pubClient, subClient]) c.on("error", (err) => console.error("redis:", err.message));
    await Promise.all([pubClient.connect(), subClient.connect()]);
    io.adapter(createAdapter(pubClient, subClient));
  }
  httpServer.listen(port, host, () => {
    console.error(`node chat on http://${host}:${port} (adapter: ${redisUrl ? "redis" : "memory"})`);
  });
}

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    setTimeout(() => process.exit(0), 200).unref();
  });
}

function start() {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

if (require.main === module) start();
module.exports = { io, start };
