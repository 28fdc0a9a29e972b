'use strict';
/*
 * The bench's second socket client (issue 13 item 5): an ordinary Node client, the `ws`
 * package, that JSON.parses every frame and takes the bench mark from the parsed object.
 *
 * It is the cross-check of bench/wsclients.py (picows on uvloop, which only `find`s the mark
 * in the frame's bytes): if both see the same latencies, the figures are the server's and not
 * an artefact of a client tuned for the bench. It speaks the same stdin/stdout protocol (one
 * JSON line per command, one JSON line per answer, in order) for the commands the latency and
 * fan-out scenarios send: `open`, `reset`, `wait`, `report`, `await_closed`, `close`. `storm`
 * is answered with an error line. Both protocols, as in wsclients.py:
 * - `bridge`: `Authorization` header, `subscribe` frames, `{"type":"event",...}` frames;
 *   the mark is `event.body.bench`.
 * - `sio`: Socket.IO v5 over Engine.IO v4 (`0{...}` open, `40{auth}` connect, `42N[...]`
 *   subscribe with ack id N answered by `43N[...]`, `42["event",{...}]` events, `2` ping,
 *   `3` pong); the mark is the event's `body.bench`.
 *
 * Differences from the picows client that are deliberate:
 * - Every frame is decoded (UTF-8) and JSON.parsed, and its receive time is taken after the
 *   parse: the moment an application holds the event. The parse of one frame also delays the
 *   frames queued behind it in this process, as in any single-threaded client.
 * - permessage-deflate is not offered (ws offers it by default): picows does not offer it,
 *   the bridge refuses it, and the peer (simple-websocket) would accept it, so offering it
 *   would compare a compressed peer with an uncompressed bridge.
 * ws sets TCP_NODELAY on its sockets itself, as wsclients.py does.
 *
 * Node 18 or later (Debian bookworm's nodejs is 18.20; socket.resetAndDestroy needs 18.3).
 *
 * File limit: Node raises its soft RLIMIT_NOFILE to the hard limit at startup (src/node.cc,
 * PlatformInit), and run.py has already raised the hard one, so no `raise_nofile` here.
 */

const readline = require('node:readline');
const WebSocket = require('ws');

/*
 * The clock. The load generator writes `time.monotonic()` (CLOCK_MONOTONIC) into each webhook
 * and the latency is receive time minus that, so this process must read the same clock.
 * `performance.now()` counts from this process's start (and `timeOrigin` is wall time), so it
 * is not it. `process.hrtime.bigint()` is libuv's uv_hrtime(), clock_gettime(CLOCK_MONOTONIC)
 * on Linux. Checked on this machine (Node 20.20, Linux): a Python process took
 * time.monotonic() before and after running `node -e` printing process.hrtime.bigint()/1e9,
 * three times; each Node reading fell between the two Python ones (e.g. 46668.095 within
 * [46667.950, 46668.102]), while performance.now()-based readings were ~1.8e9 (epoch) off.
 * Nanoseconds since boot stay far below 2^53, so the Number conversion loses nothing.
 */
function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

function cpuSeconds() {
  const usage = process.cpuUsage(); // this process, user and system, microseconds
  return (usage.user + usage.system) / 1e6;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Counter extends Map {
  add(key, by = 1) {
    this.set(key, (this.get(key) || 0) + by);
  }

  top(n) {
    const entries = [...this.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
    return Object.fromEntries(entries);
  }
}

/** Every socket of this process, and what they received. */
class Pool {
  constructor() {
    this.conns = new Set();
    this.lastDisconnect = 0;
    this.closes = new Counter();
    this.reset();
  }

  reset() {
    this.latencies = [];
    this.seqs = new Map(); // seq -> [count, first receipt, last receipt]
    this.dups = 0;
    this.other = new Counter();
    this.cpuMark = cpuSeconds();
    this.wallMark = now();
  }

  record(conn, mark, at) {
    if (!Array.isArray(mark) || mark.length !== 2) {
      this.other.add('event without mark');
      return;
    }
    const [seq, sent] = mark;
    // A set, not the last seq, tells a duplicate: overlapping sends may be stored out of order.
    if (conn.seen.has(seq)) {
      this.dups += 1;
      return;
    }
    conn.seen.add(seq);
    this.latencies.push(at - sent);
    const entry = this.seqs.get(seq);
    if (entry === undefined) {
      this.seqs.set(seq, [1, at, at]);
    } else {
      entry[0] += 1;
      entry[2] = at;
    }
  }
}

/** A Socket.IO packet inside an Engine.IO message (`4...`): its type and its JSON data. */
function sioPacket(text) {
  const type = text[1];
  let at = 2;
  if (text[at] === '/') at = text.indexOf(',', at) + 1; // a namespace; ours is the default
  const start = at;
  while (at < text.length && text[at] >= '0' && text[at] <= '9') at += 1;
  const ack = at > start ? Number(text.slice(start, at)) : null;
  const data = at < text.length ? JSON.parse(text.slice(at)) : null;
  return { type, ack, data };
}

class Conn {
  constructor(pool, proto, url, token, channels, track) {
    this.pool = pool;
    this.proto = proto;
    this.token = token;
    this.channels = channels;
    this.pending = channels.length;
    this.seen = new Set();
    this.track = track;
    this.last = null; // the cursor of the last event, when `track`
    this.socket = null; // the TCP socket, from the upgrade response
    this.aborted = false;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.settled = false;
    const headers = proto === 'bridge' ? { Authorization: `Bearer ${token}` } : {};
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 60000 });
    this.ws.on('upgrade', (response) => {
      this.socket = response.socket;
    });
    this.ws.on('open', () => this.onOpen());
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onText(data.toString());
    });
    this.ws.on('close', (code) => this.onClose(code));
    this.ws.on('error', (error) => this.fail(error));
  }

  send(value) {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  onOpen() {
    this.pool.conns.add(this);
    if (this.proto !== 'bridge') return; // sio waits for the server's open packet
    for (const channel of this.channels) {
      const subscribe = { type: 'subscribe', channel };
      if (this.last !== null) subscribe.since = this.last;
      this.send(subscribe);
    }
    if (this.channels.length === 0) this.setReady();
  }

  onText(text) {
    try {
      if (this.proto === 'bridge') this.bridgeFrame(JSON.parse(text), text);
      else this.sioFrame(text);
    } catch (error) {
      this.unexpected(text, error);
    }
  }

  bridgeFrame(frame, text) {
    if (frame.type === 'event') {
      const at = now();
      const event = frame.event || {};
      if (this.track) this.last = event.id;
      this.pool.record(this, event.body && event.body.bench, at);
    } else if (frame.type === 'subscribed') {
      this.pending -= 1;
      if (this.pending === 0) this.setReady();
    } else {
      this.unexpected(text);
    }
  }

  sioFrame(text) {
    const kind = text[0];
    if (kind === '2') {
      this.send('3');
    } else if (kind === '0') {
      JSON.parse(text.slice(1)); // the handshake (sid, ping interval): parsed, not needed
      this.send(`40${JSON.stringify({ token: this.token })}`);
    } else if (kind === '4') {
      const packet = sioPacket(text);
      if (packet.type === '2' && Array.isArray(packet.data) && packet.data[0] === 'event') {
        const at = now();
        const envelope = packet.data[1] || {};
        this.pool.record(this, envelope.body && envelope.body.bench, at);
      } else if (packet.type === '3') {
        this.pending -= 1;
        if (this.pending === 0) this.setReady();
      } else if (packet.type === '0') {
        this.channels.forEach((channel, ack) => {
          this.send(`42${ack}${JSON.stringify(['subscribe', { channel }])}`);
        });
        if (this.channels.length === 0) this.setReady();
      } else {
        this.unexpected(text);
      }
    } else {
      this.unexpected(text);
    }
  }

  unexpected(text, error) {
    this.pool.other.add(text.slice(0, 60));
    this.fail(error || new Error(text.slice(0, 200)));
  }

  setReady() {
    if (this.settled) return;
    this.settled = true;
    this.resolveReady();
  }

  fail(error) {
    if (this.settled) return;
    this.settled = true;
    this.rejectReady(error);
  }

  onClose(code) {
    // 1006 is never on the wire: it means no close frame came (a reset, ours or the server's).
    // Only close frames count, as in wsclients.py; ws has already answered them.
    if (code !== 1006 && !this.aborted) this.pool.closes.add(String(code));
    this.pool.conns.delete(this);
    this.pool.lastDisconnect = now();
    this.fail(new Error('disconnected before subscribed'));
  }

  /** Drop the connection with a reset: no TIME_WAIT left behind for the next scenario. */
  abort() {
    this.aborted = true;
    if (this.socket !== null && typeof this.socket.resetAndDestroy === 'function') {
      this.socket.resetAndDestroy();
    } else {
      this.ws.terminate();
    }
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Process {
  constructor() {
    this.pool = new Pool();
    this.subscribed = new Counter();
  }

  async open(cmd) {
    const { url, proto, token, offset, count } = cmd;
    // [[channel, upto], ...]: sockets with a global index below `upto` follow it;
    // [[channel, lo, upto], ...]: those from `lo` on (as bench/wsclients.py).
    const plan = cmd.channels.map((e) => (e.length === 3 ? e : [e[0], 0, e[1]]));
    const concurrency = Math.max(1, cmd.concurrency || 100);
    const track = Boolean(cmd.track);
    const errors = new Counter();
    let opened = 0;
    let next = 0;
    const started = now();
    const cpu = cpuSeconds();

    const one = async (index) => {
      const channels = plan.filter(([, lo, upto]) => lo <= index && index < upto).map(([name]) => name);
      const conn = new Conn(this.pool, proto, url, token, channels, track);
      try {
        await withTimeout(conn.ready, 60000, 'not subscribed');
      } catch (error) {
        errors.add(`${error.name}: ${String(error.message).slice(0, 120)}`);
        conn.abort();
        return;
      }
      opened += 1;
      for (const name of channels) this.subscribed.add(name);
    };
    // `concurrency` handshakes at a time, each worker taking the next index until none left.
    const worker = async () => {
      while (next < count) {
        const index = offset + next;
        next += 1;
        await one(index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return {
      opened,
      failed: count - opened,
      errors: errors.top(5),
      seconds: now() - started,
      cpu: cpuSeconds() - cpu,
      subscribed: Object.fromEntries(this.subscribed),
    };
  }

  /** Until every seq in `expect` reached its count here (or `timeout`). */
  async wait(cmd) {
    const expect = Object.entries(cmd.expect).map(([seq, n]) => [Number(seq), n]);
    const deadline = now() + (cmd.timeout === undefined ? 10 : cmd.timeout);
    const seqs = this.pool.seqs;
    while (now() < deadline) {
      if (expect.every(([seq, n]) => (seqs.get(seq) || [0])[0] >= n)) return { done: true };
      await sleep(5);
    }
    return { done: false };
  }

  report(cmd) {
    const pool = this.pool;
    const answer = {
      open: pool.conns.size,
      seqs: Object.fromEntries(pool.seqs),
      dups: pool.dups,
      other: pool.other.top(5),
      cpu: cpuSeconds() - pool.cpuMark,
      wall: now() - pool.wallMark,
      closes: Object.fromEntries(pool.closes),
    };
    if (cmd.latencies !== false) answer.latencies_us = pool.latencies.map((x) => Math.round(x * 1e6));
    return answer;
  }

  async awaitClosed(cmd) {
    const deadline = now() + (cmd.timeout === undefined ? 30 : cmd.timeout);
    while (this.pool.conns.size > 0 && now() < deadline) await sleep(10);
    return {
      remaining: this.pool.conns.size,
      last_disconnect: this.pool.lastDisconnect,
      closes: Object.fromEntries(this.pool.closes),
    };
  }

  close() {
    const conns = [...this.pool.conns];
    for (const conn of conns) conn.abort();
    this.pool.conns.clear();
    this.subscribed.clear();
    return { aborted: conns.length };
  }

  async handle(cmd) {
    switch (cmd.cmd) {
      case 'open':
        return this.open(cmd);
      case 'reset':
        this.pool.reset();
        return { ok: true };
      case 'wait':
        return this.wait(cmd);
      case 'report':
        return this.report(cmd);
      case 'await_closed':
        return this.awaitClosed(cmd);
      case 'close':
        return this.close();
      case 'storm':
        return { error: 'storm is not supported by the Node client (bench/node/client.js)' };
      default:
        return { error: `unknown command ${JSON.stringify(cmd.cmd)}` };
    }
  }
}

async function main() {
  const process_ = new Process();
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  // One command at a time, in order: the orchestrator reads one answer per command it sent.
  for await (const line of lines) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    let answer;
    try {
      answer = await process_.handle(cmd);
    } catch (error) {
      answer = { error: `${error.name}: ${error.message}` };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`); // a pipe: synchronous on Linux
    if (cmd.cmd === 'close' && cmd.exit !== false) break;
  }
  lines.close();
  process_.close();
  await sleep(50); // let the resets leave
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
