// Drives the official socket.io-client from the tests: JSON commands on stdin, JSON events on stdout.
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");

let socket = null;
// Binary values cross the JSON pipe as {"$bytes": "<base64>"}, both ways, at any depth.
const isBinary = (v) => Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
function toWire(v) {
  if (isBinary(v)) return { $bytes: Buffer.from(v instanceof ArrayBuffer ? v : v.buffer ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v).toString("base64") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWire(x)]));
  return v;
}
function fromWire(v) {
  if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.$bytes === "string")
    return Buffer.from(v.$bytes, "base64");
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWire(x)]));
  return v;
}
const out = (obj) => process.stdout.write(JSON.stringify(toWire(obj)) + "\n");

function connect({ url, opts }) {
  socket = io(url, { reconnection: false, ...opts });
  // Listen for the upgrade as soon as the engine exists: on localhost it can finish before "connect".
  socket.io.on("open", () => socket.io.engine.on("upgrade", (t) => out({ type: "upgrade", transport: t.name })));
  socket.on("connect", () => out({ type: "connect", transport: socket.io.engine.transport.name,
                                   id: socket.id, recovered: socket.recovered }));
  socket.on("connect_error", (err) => out({ type: "connect_error", message: err.message, data: err.data ?? null }));
  socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
  socket.onAny((event, ...args) => out({ type: "event", event, args }));
}

function emit({ event, args: wireArgs, ack }) {
  const args = fromWire(wireArgs);
  if (ack === undefined || ack === null) {
    socket.emit(event, ...args);
    return;
  }
  socket.timeout(5000).emit(event, ...args, (err, ...res) => {
    out({ type: "ack", id: ack, error: err ? String(err) : null, args: res });
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line);
  if (cmd.op === "connect") connect(cmd);
  else if (cmd.op === "emit") emit(cmd);
  else if (cmd.op === "drop") socket.io.engine.close();  // the transport goes, as on a network drop
  else if (cmd.op === "disconnect") socket.disconnect();  // the client's own disconnect()
  else if (cmd.op === "reconnect") socket.connect();
  else if (cmd.op === "close") { socket?.disconnect(); setTimeout(() => process.exit(0), 50); }
});
rl.on("close", () => { socket?.disconnect(); process.exit(0); });
