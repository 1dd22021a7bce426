// Load generator for bench/run.py: many socket.io-client 4.8.4 connections (websocket only) in one process.
//
//   node loadgen.js '<json spec>'
//
// The spec names a scenario (fanout, rooms, idle, connect, cross), the server URL(s), the server
// pid(s) (their CPU is read from /proc/<pid>/stat around each measured window, their RSS from
// /proc/<pid>/status) and the scenario's numbers. Progress goes to stderr, one JSON result to stdout.
// Latency is measured inside this process: each message carries performance.now() at send time and
// the receivers (same process, same clock) subtract it on arrival.
"use strict";

const fs = require("node:fs");
const { performance } = require("node:perf_hooks");
const { io } = require("socket.io-client");
const WebSocket = require("ws");

const spec = JSON.parse(process.argv[2] || "{}");
const CLK_TCK = spec.clkTck || 100;
const PIDS = spec.pids || [];
const log = (...a) => console.error(`  [loadgen ${spec.label || spec.scenario}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---- /proc readings -----------------------------------------------------------------------------

function procCpuSeconds(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime + stime (fields 14, 15)
}

function procRssKb(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

function serverCpu(pids = PIDS) {
  return pids.reduce((sum, pid) => sum + procCpuSeconds(pid), 0);
}

// One CPU's jiffies from /proc/stat (every process and the kernel): tells a contended core.
function cpuTimes(cpu) {
  if (cpu == null) return null;
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
  return { total, idle: v[3] + v[4], irq: v[5] + v[6] + v[7] }; // irq: irq + softirq + steal
}

// How busy a core was, how much of that was interrupts/softirq (loopback networking lands there),
// and how much went to processes other than ours (ours: `mine`, a fraction of one core).
function coreUse(a, b, mine) {
  if (!a || !b || b.total === a.total) return { busy: null, irq: null, others: null };
  const span = b.total - a.total;
  const busy = 1 - (b.idle - a.idle) / span;
  const irq = (b.irq - a.irq) / span;
  return { busy, irq, others: Math.max(0, busy - irq - mine) };
}

function selfCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// A window: wall time, server CPU, loadgen CPU, loadgen event-loop lag.
class Window {
  constructor(pids = PIDS) {
    this.pids = pids;
    this.t0 = now();
    this.s0 = serverCpu(pids);
    this.l0 = selfCpu();
    this.c0 = [cpuTimes(spec.serverCpu), cpuTimes(spec.loadgenCpu)];
    this.maxLag = 0;
    let last = now();
    this.timer = setInterval(() => {
      const t = now();
      this.maxLag = Math.max(this.maxLag, t - last - 10);
      last = t;
    }, 10);
  }
  close() {
    clearInterval(this.timer);
    const wall = (now() - this.t0) / 1000;
    const server = serverCpu(this.pids) - this.s0;
    const lg = selfCpu() - this.l0;
    const c1 = [cpuTimes(spec.serverCpu), cpuTimes(spec.loadgenCpu)];
    const sc = coreUse(this.c0[0], c1[0], server / wall);
    const lc = coreUse(this.c0[1], c1[1], lg / wall);
    return { wall_s: wall, server_cpu_s: server, server_cpu_frac: server / wall,
             loadgen_cpu_frac: lg / wall, loadgen_max_lag_ms: this.maxLag,
             // whole-core fractions: busy (everything), irq (interrupts + softirq), others (other processes)
             server_core_busy: sc.busy, server_core_irq: sc.irq, server_core_others: sc.others,
             loadgen_core_busy: lc.busy, loadgen_core_irq: lc.irq, loadgen_core_others: lc.others };
  }
}

function percentiles(values) {
  if (!values.length) return { p50: null, p99: null, max: null, n: 0 };
  const a = Float64Array.from(values).sort();
  const q = (p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  return { p50: q(0.5), p99: q(0.99), max: a[a.length - 1], n: a.length };
}

// ---- connections --------------------------------------------------------------------------------

const stats = { disconnects: 0, disconnectReasons: {} };

function countDisconnect(reason) {
  if (reason === "io client disconnect") return; // we closed it
  stats.disconnects += 1;
  stats.disconnectReasons[reason] = (stats.disconnectReasons[reason] || 0) + 1;
}

// With spec.rawReceivers, clients that only listen skip socket.io-client: a bare `ws` websocket
// speaking Engine.IO 4 / Socket.IO 5 text packets (open "0{..}" -> "40", ping "2" -> "3",
// events "42[..]"). The same wire as the real client, at a fraction of its CPU per message, so
// one loadgen core can keep up with a faster server. Senders always use socket.io-client.
class RawSocket {
  constructor(url) {
    this.handlers = new Map();
    this.ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
    this.ws.on("message", (data) => this._onMessage(data.toString()));
    this.ws.on("error", (err) => this._fire(this.connected ? "error" : "connect_error", err));
    this.ws.on("close", () => {
      if (this.connected && !this.closing) this._fire("disconnect", "transport close");
      this.connected = false;
    });
  }
  _onMessage(text) {
    switch (text.charCodeAt(0)) {
      case 50: this.ws.send("3"); return; // "2" ping -> "3" pong
      case 48: this.ws.send("40"); return; // "0{sid,...}" open -> join the default namespace
      case 49: return; // "1" close (the "close" event follows)
      case 52: break; // "4" message: a Socket.IO packet
      default: return;
    }
    const type = text.charCodeAt(1);
    if (type === 50) { // "42[event, ...args]"
      const [event, ...args] = JSON.parse(text.slice(2));
      this._fire(event, ...args);
    } else if (type === 48) { // "40{sid}" connected
      this.connected = true;
      this._fire("connect");
    } else if (type === 52) { // "44{message}" connect error
      this._fire("connect_error", new Error(text.slice(2)));
    } else if (type === 49) { // "41" disconnected by the server
      this._fire("disconnect", "io server disconnect");
    }
  }
  _fire(event, ...args) {
    const list = this.handlers.get(event);
    if (list) for (const fn of [...list]) fn(...args);
  }
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }
  off(event, fn) {
    const list = this.handlers.get(event) || [];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }
  emit(event, ...args) {
    this.ws.send("42" + JSON.stringify([event, ...args]));
  }
  close() {
    this.closing = true;
    this.ws.close();
  }
}

function connectOne(url, raw = false) {
  return new Promise((resolve) => {
    const t0 = now();
    const s = raw ? new RawSocket(url) : io(url, {
      transports: ["websocket"],
      forceNew: true, // one TCP connection per client: no multiplexing on a shared Manager
      reconnection: false,
      timeout: 60000,
      ...(spec.auth ? { auth: spec.auth } : {}), // {recover: true}: the server adds offsets (bench/run.py)
    });
    const onConnect = () => { cleanup(); resolve({ s, ok: true, ms: now() - t0 }); };
    const onError = (e) => { cleanup(); s.close(); resolve({ s: null, ok: false, ms: now() - t0, err: e.message }); };
    const cleanup = () => { s.off("connect", onConnect); s.off("connect_error", onError); };
    s.on("connect", onConnect);
    s.on("connect_error", onError);
    s.on("disconnect", countDisconnect);
  });
}

// n clients, at most `concurrency` handshakes at a time; the first `sio` of them use
// socket.io-client, the rest too unless spec.rawReceivers.
async function connectMany(url, n, concurrency = 100, sio = n) {
  const results = new Array(n);
  let next = 0;
  const t0 = now();
  async function worker() {
    while (next < n) {
      const i = next++;
      results[i] = await connectOne(url, spec.rawReceivers && i >= sio);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const elapsed = (now() - t0) / 1000;
  const ok = results.filter((r) => r.ok);
  const errors = {};
  for (const r of results) if (!r.ok) errors[r.err] = (errors[r.err] || 0) + 1;
  return { sockets: ok.map((r) => r.s), elapsed_s: elapsed, failed: n - ok.length, errors,
           latency_ms: percentiles(ok.map((r) => r.ms)) };
}

function requireAll(conn, n, what) {
  if (conn.failed) {
    throw new Error(`${what}: ${conn.failed} of ${n} connections failed: ${JSON.stringify(conn.errors)}`);
  }
}

function wsExtensions(socket) {
  try { return (socket.ws || socket.io.engine.transport.ws).extensions || ""; } catch { return "?"; }
}

// ---- one measured step at an offered rate -------------------------------------------------------

const PAD = "x".repeat(200);
let stepSeq = 0;
let current = null; // the step receivers are counting for
let late = 0; // deliveries of an earlier step that arrived after its drain window

// Payload: "<step>:<send time ms>:xxxx", padded to `size` bytes (the sender timestamp is in it).
function payload(size) {
  const head = `${current.id}:${now().toFixed(3)}:`;
  return head + PAD.slice(0, Math.max(0, size - head.length));
}

function onPayload(msg, record = true) {
  const c1 = msg.indexOf(":");
  const id = Number(msg.slice(0, c1));
  const st = current;
  if (st && id === st.id && !st.closed) {
    st.received += 1;
    if (st.sending) st.inWindow += 1;
    if (record) st.lat.push(now() - Number(msg.slice(c1 + 1, msg.indexOf(":", c1 + 1))));
    st.lastReceive = now();
  } else {
    late += 1;
  }
}

// Emit `rate` messages per second for durationMs via emitOne(i); each one should reach perMsg
// clients. Returns the step's numbers; passes when nothing is lost and p99 <= the latency limit.
async function runStep({ rate, durationMs, perMsg, emitOne, drainMs = 2000, p99Limit = 200, pids = PIDS, warmup = false }) {
  const st = { id: ++stepSeq, sent: 0, received: 0, inWindow: 0, sending: true, lat: [], closed: false,
               lastReceive: 0 };
  current = st;
  const lateBefore = late;
  const win = new Window(pids);
  const t0 = now();
  // Paced sender: every tick sends what the offered rate owes by now (so a busy loop catches up in bursts).
  while (true) {
    const elapsed = now() - t0;
    if (elapsed >= durationMs) break;
    const due = Math.floor((rate * elapsed) / 1000);
    while (st.sent < due) emitOne(st.sent++);
    await sleep(1);
  }
  const sendEnd = now();
  st.sending = false;
  const expected = st.sent * perMsg;
  while (st.received < expected && now() - sendEnd < drainMs) await sleep(5);
  const w = win.close();
  st.closed = true;
  const lat = percentiles(st.lat);
  const lost = expected - st.received;
  const res = {
    offered_msgs_s: rate,
    offered_deliveries_s: rate * perMsg,
    sent: st.sent,
    expected,
    delivered: st.received,
    lost,
    // Throughput while sending: deliveries that arrived before the last send, per second of sending.
    delivered_per_s: st.inWindow / ((sendEnd - t0) / 1000),
    cpu_us_per_delivery: st.received ? (w.server_cpu_s * 1e6) / st.received : null,
    p50_ms: lat.p50,
    p99_ms: lat.p99,
    max_ms: lat.max,
    ...w,
  };
  res.pass = lost === 0 && lat.p99 !== null && lat.p99 <= p99Limit;
  // Let the server drain whatever is still queued before the next step (counted as late).
  const quietStart = now();
  let lastLate = late;
  let lastChange = now();
  while (now() - quietStart < 20000) {
    await sleep(100);
    if (late !== lastLate) { lastLate = late; lastChange = now(); }
    else if (now() - lastChange >= 300) break;
  }
  res.late_after_drain = late - lateBefore;
  // "lost" above means not delivered within the drain window; these never came at all.
  res.never_delivered = Math.max(0, lost - res.late_after_drain);
  res.limit = res.pass ? null : limitOf(res);
  log(`${warmup ? "warm-up" : `step ${st.id}`}: offered ${fmt(res.offered_deliveries_s)} deliv/s -> ${fmt(res.delivered_per_s)} deliv/s, ` +
      `lost ${lost}, p50 ${num(lat.p50)} p99 ${num(lat.p99)} ms, server cpu ${pct(w.server_cpu_frac)}, ` +
      `loadgen cpu ${pct(w.loadgen_cpu_frac)}, ${cores(w)}` +
      `${res.pass ? "" : `  FAIL (${res.limit})`}`);
  return res;
}

// What limited a failed step: this process (near 100% of its core), the server (likewise), other
// processes on a full pinned core (a shared machine), a pinned core full with our process plus the
// kernel's network work (counted for its owner), or, when nothing is saturated but deliveries fell
// short of the offered rate, probably this process (latency spikes, GC) - marked "loadgen?".
function limitOf(r) {
  if (r.loadgen_cpu_frac >= 0.9) return "loadgen";
  if (r.server_cpu_frac >= 0.85) return "server";
  const full = (busy) => busy != null && busy >= 0.9;
  if (full(r.server_core_busy) && r.server_core_others >= 0.15) return "contended CPU (other processes on the server core)";
  if (full(r.loadgen_core_busy) && r.loadgen_core_others >= 0.15) return "contended CPU (other processes on the loadgen core)";
  if (full(r.server_core_busy)) return "server";
  if (full(r.loadgen_core_busy)) return "loadgen";
  if (r.delivered_per_s < 0.97 * r.offered_deliveries_s) return "loadgen?";
  return "unclear";
}

const fmt = (x) => (x == null ? "-" : Math.round(x).toLocaleString("en-US"));
const num = (x) => (x == null ? "-" : x.toFixed(1));
const pct = (x) => (x == null ? "-" : `${Math.round(x * 100)}%`);
const cores = (w) => `cores ${pct(w.server_core_busy)}/${pct(w.loadgen_core_busy)} busy ` +
  `(irq ${pct(w.server_core_irq)}/${pct(w.loadgen_core_irq)}, others ${pct(w.server_core_others)}/${pct(w.loadgen_core_others)})`;

// Double the rate until a step fails, then bisect (geometrically) between the best pass and the fail.
async function search({ startDeliveries, perMsg, emitOne, durationMs, maxSteps, bisect, maxDeliveries, retries = 1 }) {
  const steps = [];
  let rate = Math.max(1, startDeliveries / perMsg);
  let best = null;
  let fail = null;
  // Warm-up (JIT, caches, first-message paths), not recorded.
  await runStep({ rate, durationMs: Math.min(1000, durationMs), perMsg, emitOne, warmup: true });
  // A failed step is run once more before it counts (the machine may be shared and noisy).
  const measure = async (stepRate) => {
    let r = await runStep({ rate: stepRate, durationMs, perMsg, emitOne });
    steps.push(r);
    for (let i = 0; i < retries && !r.pass; i++) {
      r = await runStep({ rate: stepRate, durationMs, perMsg, emitOne });
      r.retry = true;
      steps.push(r);
    }
    return r;
  };
  while (steps.length < maxSteps) {
    const r = await measure(rate);
    if (r.pass) {
      best = r;
      if (fail) break;
      if (rate * 2 * perMsg > maxDeliveries) break;
      rate *= 2;
    } else {
      fail = r;
      if (best) break;
      rate /= 2;
      if (rate * perMsg < 100) break;
    }
  }
  for (let i = 0; i < bisect && best && fail; i++) {
    const mid = Math.sqrt(best.offered_msgs_s * fail.offered_msgs_s);
    const r = await measure(mid);
    if (r.pass) best = r; else fail = r;
  }
  return { best, fail_above: fail, steps };
}

// ---- scenarios ----------------------------------------------------------------------------------

async function fanout() {
  const { clients, senders = 4, size = 100 } = spec;
  const conn = await connectMany(spec.urls[0], clients, spec.concurrency, senders);
  requireAll(conn, clients, "fanout");
  const socks = conn.sockets;
  for (const s of socks) s.on("receiveAll", (msg) => onPayload(msg));
  const tx = socks.slice(0, Math.min(senders, socks.length));
  log(`${clients} clients connected in ${conn.elapsed_s.toFixed(1)} s (ws extensions: "${wsExtensions(socks[0])}")`);
  const emitOne = (i) => tx[i % tx.length].emit("broadcast", payload(size));
  const result = await search({ ...spec.search, perMsg: clients, emitOne });
  return { clients, senders: tx.length, payload_bytes: size, ws_extensions: wsExtensions(socks[0]), ...result };
}

async function rooms() {
  const { rooms: nRooms, members, size = 100 } = spec;
  const total = nRooms * members;
  // The first nRooms clients (socket.io-client) are the senders, member 0 of room 0, 1, ...
  const conn = await connectMany(spec.urls[0], total, spec.concurrency, nRooms);
  requireAll(conn, total, "rooms");
  const socks = conn.sockets;
  let misrouted = 0;
  // Client i is in room i % nRooms; clients 0 .. nRooms-1 send.
  const roomOf = (i) => `room-${i % nRooms}`;
  await Promise.all(socks.map((s, i) => new Promise((resolve, reject) => {
    const room = roomOf(i);
    const timer = setTimeout(() => reject(new Error(`no entryok welcome for ${room}`)), 30000);
    const onEntry = (text) => {
      if (typeof text === "string" && text.startsWith(`You entered room ${room}`)) {
        clearTimeout(timer);
        s.off("entryok", onEntry);
        resolve();
      }
    };
    s.on("entryok", onEntry);
    s.on("receiveGroupMsg", (roomId, msg) => {
      if (roomId !== room) misrouted += 1;
      onPayload(msg);
    });
    s.emit("entry", room, `user-${i}`);
  })));
  log(`${nRooms} rooms x ${members} members entered`);
  // Message n goes to room n % nRooms, sent by that room's sender.
  const emitOne = (n) => {
    const r = n % nRooms;
    socks[r].emit("groupmsg", roomOf(r), payload(size));
  };
  const result = await search({ ...spec.search, perMsg: members, emitOne });
  return { rooms: nRooms, members, payload_bytes: size, misrouted, ...result };
}

async function idle() {
  const { clients, warmup = 20 } = spec;
  const pid = PIDS[0];
  // Warm the server's connection path first so one-off allocations do not land in the delta.
  const w = await connectMany(spec.urls[0], warmup, spec.concurrency, 0);
  for (const s of w.sockets) s.close();
  await sleep(1500);
  const rss0 = procRssKb(pid);
  const conn = await connectMany(spec.urls[0], clients, spec.concurrency, 0);
  requireAll(conn, clients, "idle");
  await sleep(spec.settleMs ?? 3000);
  const rss1 = procRssKb(pid);
  const perThousandMb = ((rss1 - rss0) / conn.sockets.length) * 1000 / 1024;
  log(`RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MB for ${conn.sockets.length} idle clients`);
  return { clients: conn.sockets.length, rss_before_kb: rss0, rss_after_kb: rss1,
           rss_mb_per_1000: perThousandMb, ws_extensions: wsExtensions(conn.sockets[0]) };
}

async function connect() {
  const { clients } = spec;
  const win = new Window();
  const rss0 = procRssKb(PIDS[0]);
  const conn = await connectMany(spec.urls[0], clients, spec.concurrency, 0);
  const w = win.close();
  await sleep(1000);
  const rss1 = procRssKb(PIDS[0]);
  log(`${conn.sockets.length}/${clients} connected in ${conn.elapsed_s.toFixed(2)} s, ` +
      `server cpu ${pct(w.server_cpu_frac)}, loadgen cpu ${pct(w.loadgen_cpu_frac)}, ` +
      `${cores(w)}`);
  const res = { clients, connected: conn.sockets.length, failed: conn.failed, errors: conn.errors,
                concurrency: spec.concurrency, elapsed_s: conn.elapsed_s,
                connects_per_s: conn.sockets.length / conn.elapsed_s,
                connect_p50_ms: conn.latency_ms.p50, connect_p99_ms: conn.latency_ms.p99,
                rss_before_kb: rss0, rss_after_kb: rss1, ...w };
  res.limit = limitOf({ ...w, delivered_per_s: 1, offered_deliveries_s: 1 }); // no offered rate here
  return res;
}

async function cross() {
  const { receivers = 10, rate = 100, durationMs = 10000, size = 100 } = spec;
  const [urlA, urlB] = spec.urls;
  const a = await connectMany(urlA, 1, 1);
  const b = await connectMany(urlB, receivers, spec.concurrency, 0);
  requireAll(a, 1, "cross sender");
  requireAll(b, receivers, "cross receivers");
  const sender = a.sockets[0];
  const local = [];
  sender.on("receiveAll", (msg) => {
    // The sender's own copy: latency through its own server (not counted as a delivery).
    const c1 = msg.indexOf(":");
    if (current && Number(msg.slice(0, c1)) === current.id) {
      local.push(now() - Number(msg.slice(c1 + 1, msg.indexOf(":", c1 + 1))));
    }
  });
  for (const s of b.sockets) s.on("receiveAll", (msg) => onPayload(msg));
  // Wait until the two servers see each other through Redis: probe until a remote receiver hears one.
  const t0 = now();
  current = { id: ++stepSeq, sent: 0, received: 0, lat: [], closed: false };
  while (current.received === 0) {
    if (now() - t0 > 20000) throw new Error("cross: no message crossed between the servers in 20 s");
    sender.emit("broadcast", payload(size));
    await sleep(100);
  }
  log(`backplane path up after ${Math.round(now() - t0)} ms`);
  await sleep(1000);
  local.length = 0;
  const emitOne = () => sender.emit("broadcast", payload(size));
  const step = await runStep({ rate, durationMs, perMsg: receivers, emitOne, drainMs: 5000,
                               p99Limit: Infinity });
  return { receivers, rate, duration_ms: durationMs, payload_bytes: size,
           local_latency_ms: percentiles(local), ...step };
}

const SCENARIOS = { fanout, rooms, idle, connect, cross };

(async () => {
  const fn = SCENARIOS[spec.scenario];
  if (!fn) throw new Error(`unknown scenario ${spec.scenario}`);
  const result = await fn();
  result.unexpected_disconnects = stats.disconnects;
  result.disconnect_reasons = stats.disconnectReasons;
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
})().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err && err.stack || err),
                                        unexpected_disconnects: stats.disconnects,
                                        disconnect_reasons: stats.disconnectReasons }) + "\n");
  process.exit(1);
});
