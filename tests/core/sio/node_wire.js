// The Node reference server (bench/node/server.js) plus the hooks the wire-conformance tests need,
// the same as tests/core/fixture_plugins/wire_probe on the Python side: auth {refuse, data} is
// refused by a middleware, auth {greet} gets `welcome("hi")` once connected, and `echo` emits its
// arguments back as `echoed` and answers them as the ack (binary attachments included).
//
//   PING_INTERVAL=300 PING_TIMEOUT=200 node tests/core/sio/node_wire.js <port>
"use strict";

const { io, start } = require("../../../bench/node/server.js");

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.refuse) {
    const err = new Error("go away");
    if (auth.data !== undefined) err.data = auth.data;
    return next(err);
  }
  next();
});

io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  if (auth.greet) socket.emit("welcome", "hi");
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    socket.emit("echoed", ...args);
    if (ack) ack(...args);
  });
});

start();
