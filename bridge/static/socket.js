// The live connection (CONTRACT §5): one WebSocket to /ws, first-frame auth (browsers
// cannot set headers on the upgrade), and resume with `since` = the last cursor seen for
// each channel after any drop or server restart. With the admin token one glob subscription
// (`*`) follows every endpoint, those created later too: one frame however many endpoints,
// where one subscribe each would trip the inbound rate limit and the 100-subscription cap.

import { CLOSE_CODES } from "/close-codes.js";
import { compareIds } from "./events.js";

const BASE_DELAY = 500;
const MAX_DELAY = 10000;
const PING_EVERY = 20000;
const SILENCE_LIMIT = 45000; // no frame at all for this long: the connection is dead

export class LiveSocket {
  /**
   * handlers: status({state, retryAt, code, reason}), event(channel, envelope, frameBytes),
   * subscribed(frame, since), problem(channel, code, message), fatal(message),
   * dropped(frame), rejected(frame) (the last two only with `glob`).
   * glob: follow every endpoint it matches with one subscription (admin token only).
   */
  constructor(token, handlers, { glob = null } = {}) {
    this.token = token;
    this.on = handlers;
    this.glob = glob;
    this.channels = new Map(); // channel -> {cursor: string|null, active: bool}
    this.ws = null;
    this.authed = false;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
    this.lastFrameAt = 0;
    this.openedAt = 0;
    this.frames = 0;
    this.state = "idle";
  }

  start() {
    this.stopped = false;
    this.connect();
    window.addEventListener("online", this.onOnline);
  }

  stop() {
    this.stopped = true;
    this.authed = false;
    this.pending = null;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, "bye");
      this.ws = null;
    }
    this.setState("idle");
  }

  onOnline = () => this.reconnectNow();

  /** Retry at once (the "reconnect now" button, the browser coming back online). */
  reconnectNow() {
    if (this.stopped || this.state === "live" || this.state === "connecting") return;
    clearTimeout(this.timer);
    this.connect();
  }

  /** Make the subscriptions match `names`: subscribe new ones, unsubscribe dropped ones. */
  setChannels(names) {
    if (this.glob) return; // the glob's own `subscribed` frames name its channels
    const wanted = new Set(names);
    for (const name of wanted) {
      if (!this.channels.has(name)) {
        this.channels.set(name, { cursor: null, active: false });
        if (this.authed) this.subscribe(name);
      }
    }
    for (const [name, info] of this.channels) {
      if (!wanted.has(name)) {
        if (this.pending) this.settled(name);
        if (info.active && this.authed) {
          this.send({ type: "unsubscribe", channel: name, ref: `unsub:${name}` });
        }
        this.channels.delete(name);
      }
    }
  }

  connect() {
    clearTimeout(this.timer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/ws`);
    } catch {
      this.scheduleReconnect(1006, "could not open");
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
    };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (closed) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.pending = null;
      this.authed = false;
      clearInterval(this.pinger);
      for (const info of this.channels.values()) info.active = false;
      if (this.stopped) return;
      const entry = CLOSE_CODES[closed.code];
      if (entry && entry.reconnect !== "resume") {
        // No other token to try, and a retry of anything else repeats the cause (the catalogue).
        this.stopped = true;
        this.setState("unauthorized", { code: closed.code, reason: closed.reason });
        this.on.fatal(closed.reason || "the bridge refused this token");
        return;
      }
      this.scheduleReconnect(closed.code, closed.reason);
    };
  }

  scheduleReconnect(code, reason) {
    // Exponential backoff with jitter, so a restarted bridge is not hit by every tab at once.
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.setState("reconnecting", { retryAt: Date.now() + delay, code, reason });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(data) {
    this.lastFrameAt = Date.now();
    this.frames += 1;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "authed":
        this.authed = true;
        this.attempt = 0;
        this.openedAt = Date.now();
        this.frames = 0;
        this.startPinging();
        // "Live" once every channel is subscribed: from then on no event can slip past.
        if (this.glob) {
          this.pending = new Set([this.glob]);
          this.subscribe(this.glob);
        } else {
          this.pending = new Set(this.channels.keys());
          for (const name of this.channels.keys()) this.subscribe(name);
        }
        this.settled(null);
        break;
      case "subscribed": {
        if (this.glob && frame.channel === this.glob) {
          this.settled(this.glob); // every matching channel has announced itself before this
          break;
        }
        const info = this.known(frame.channel);
        if (!info) break;
        const since = info.cursor;
        info.active = true;
        // Without `since`, events after `cursor` come next: a later resume starts there.
        // A `since` beyond the stream's end means its data was reset: start again from it.
        if (since === null || compareIds(since, frame.cursor) > 0) info.cursor = frame.cursor;
        this.on.subscribed(frame, since);
        this.settled(frame.channel);
        break;
      }
      case "event": {
        const info = this.known(frame.channel);
        const envelope = frame.event;
        if (!info || !envelope || typeof envelope.id !== "string") break;
        if (!info.cursor || compareIds(envelope.id, info.cursor) > 0) info.cursor = envelope.id;
        this.on.event(frame.channel, envelope, data.length);
        break;
      }
      case "dropped":
        if (this.glob && typeof frame.channel === "string" && typeof frame.after === "string") this.on.dropped(frame);
        break;
      case "rejected":
        if (this.glob && typeof frame.channel === "string" && frame.rejection) this.on.rejected(frame);
        break;
      case "error":
        this.problem(frame);
        break;
      default:
        break; // pong, unsubscribed
    }
  }

  /** The channel's state; a glob subscription learns its channels from the frames. */
  known(channel) {
    if (typeof channel !== "string") return null;
    if (this.glob && !this.channels.has(channel)) this.channels.set(channel, { cursor: null, active: false });
    return this.channels.get(channel) || null;
  }

  /** A subscription was answered; go live when none is outstanding. */
  settled(channel) {
    if (!this.pending) return;
    if (channel !== null) this.pending.delete(channel);
    if (this.pending.size === 0) {
      this.pending = null;
      this.setState("live");
    }
  }

  problem(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    const channel = ref.startsWith("sub:") ? ref.slice(4) : null;
    if (channel) this.settled(channel);
    if (channel && frame.code === "unavailable") {
      // Redis is briefly away: ask again shortly, with the same cursor.
      setTimeout(() => {
        if (this.authed && (this.channels.has(channel) || channel === this.glob)) this.subscribe(channel);
      }, 2000);
    } else if (channel && frame.code !== "already_subscribed") {
      this.channels.delete(channel);
    }
    this.on.problem(channel, frame.code, frame.message || "");
  }

  subscribe(name) {
    const frame = { type: "subscribe", channel: name, ref: `sub:${name}` };
    if (this.glob && name === this.glob) {
      // A page that falls behind loses queued events, not its socket: it fetches each
      // `dropped` gap from the history instead of reconnecting in a loop.
      frame.on_slow = "drop_oldest";
      frame.rejections = true;
      const since = {};
      for (const [channel, info] of this.channels) if (info.cursor) since[channel] = info.cursor;
      if (Object.keys(since).length) frame.since = since;
    } else {
      const info = this.channels.get(name);
      if (info && info.cursor) frame.since = info.cursor;
    }
    this.send(frame);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  startPinging() {
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT) {
        this.ws.close(4000, "no answer to pings");
        return;
      }
      this.send({ type: "ping" });
    }, PING_EVERY);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.retryAt = extra.retryAt || 0;
    if (extra.code !== undefined) this.lastCode = extra.code;
    this.on.status({ state, ...extra });
  }
}

const PER_SOCKET = 100; // the bridge allows this many subscriptions on one socket

/**
 * Several LiveSockets behind the same interface, for more channels than one socket may
 * carry. A channel stays on the socket it was given; new channels fill the first with room.
 */
export class SocketPool {
  constructor(token, handlers) {
    this.token = token;
    this.on = handlers;
    this.sockets = [];
    this.home = new Map(); // channel -> socket
    this.started = false;
    this.add();
  }

  add() {
    const index = this.sockets.length;
    const socket = new LiveSocket(this.token, {
      ...this.on,
      status: () => this.status(index),
    });
    this.sockets.push(socket);
    if (this.started) socket.start();
    return socket;
  }

  start() {
    this.started = true;
    for (const socket of this.sockets) socket.start();
  }

  stop() {
    this.started = false;
    for (const socket of this.sockets) socket.stop();
  }

  reconnectNow() {
    for (const socket of this.sockets) socket.reconnectNow();
  }

  setChannels(names) {
    const wanted = new Set(names);
    for (const [name, socket] of this.home) {
      if (!wanted.has(name)) this.home.delete(name);
    }
    const placed = new Map(this.sockets.map((socket) => [socket, []]));
    for (const [name, socket] of this.home) placed.get(socket).push(name);
    for (const name of names) {
      if (this.home.has(name)) continue;
      let socket = this.sockets.find((s) => placed.get(s).length < PER_SOCKET);
      if (!socket) {
        socket = this.add();
        placed.set(socket, []);
      }
      placed.get(socket).push(name);
      this.home.set(name, socket);
    }
    for (const [socket, list] of placed) socket.setChannels(list);
  }

  /** The first socket's age and frame count stand for the pool in "how it works". */
  get openedAt() {
    return this.sockets[0].openedAt;
  }

  get frames() {
    return this.sockets.reduce((sum, s) => sum + s.frames, 0);
  }

  get state() {
    const states = this.sockets.map((s) => s.state);
    for (const state of ["unauthorized", "reconnecting", "connecting", "idle"]) {
      if (states.includes(state)) return state;
    }
    return "live";
  }

  status(index) {
    const socket = this.sockets[index];
    const state = this.state;
    const retrying = this.sockets.filter((s) => s.state === "reconnecting");
    this.on.status({
      state,
      retryAt: retrying.length ? Math.min(...retrying.map((s) => s.retryAt)) : 0,
      code: socket.lastCode,
      sockets: this.sockets.length,
    });
  }
}
