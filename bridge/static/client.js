// The bridge's browser client (docs/client.md), served at /client.js for any origin to
// import: one WebSocket to /ws, first-frame auth (browsers cannot set headers on the
// upgrade), reconnect with jittered backoff, and resume of every channel from the last
// cursor it delivered. What a close code means, and whether it is worth a retry, is the
// bridge's own catalogue (close-codes.js, generated from bridge/closecodes.py).

import { CLOSE_CODES } from "./close-codes.js";

const BASE_DELAY = 500; // ms; doubles per failed attempt, up to MAX_DELAY
const MAX_DELAY = 10000;
const PING_EVERY = 20000;
const SILENCE_LIMIT = 45000; // no frame at all for this long: the connection is dead
const SILENT = 4000; // the close code this client uses on a silent connection
const UNAVAILABLE_RETRY = 2000; // storage briefly away at the bridge: ask again after this
const REFRESH_SHARE = 0.2; // refresh a token when this share of its lifetime is left...
const REFRESH_MAX_AHEAD = 60000; // ...but never more than this long before it expires
const STORAGE_PREFIX = "webhook-bridge:cursors:";

/** Cursors are Redis stream ids "<ms>-<seq>"; compare them as numbers, not strings. */
export function parseCursor(id) {
  const dash = id.indexOf("-");
  if (dash < 0) return [Number(id), 0];
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export function compareCursors(a, b) {
  const [am, as] = parseCursor(a);
  const [bm, bs] = parseCursor(b);
  return am - bm || as - bs;
}

/** Subscriber tokens are `wbs1.<base64url JSON {"c": channels, "e": expiry}>.<mac>`. */
export function tokenClaims(token) {
  const parts = String(token).split(".");
  if (parts.length !== 3 || parts[0] !== "wbs1") return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
    const channels = Array.isArray(claims.c) ? claims.c.map(String) : [];
    return { channels, expiresAt: Number(claims.e) * 1000 };
  } catch {
    return null;
  }
}

/** `*` any run, `?` one character: the bridge's channel globs. */
function globPattern(glob) {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

function isGlob(channel) {
  return channel.includes("*") || channel.includes("?");
}

/** What to do after a close with `code`: "resume", "token" or "never" (the catalogue). */
export function reconnectAfter(code) {
  const entry = CLOSE_CODES[code];
  return entry ? entry.reconnect : "resume";
}

export { CLOSE_CODES };

/**
 * Open a feed: `url` is the bridge's base URL (default: where this module was loaded from);
 * `token` a subscriber or admin token; `getToken()` (optional) returns, or resolves to, a
 * fresh token: called before a subscriber token expires and when the bridge refuses one.
 */
export function connect(options = {}) {
  return new Feed(options);
}

export class Feed {
  constructor({ url, token = null, getToken = null, storage = null, backoff = {} } = {}) {
    const base = new URL(url || new URL(import.meta.url).origin);
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    base.pathname = base.pathname.replace(/\/+$/, "") + "/ws";
    this.wsUrl = base.href;
    this.token = token;
    this.getToken = getToken;
    this.storage = storage;
    this.storageKey = STORAGE_PREFIX + this.wsUrl;
    this.baseDelay = backoff.base || BASE_DELAY;
    this.maxDelay = backoff.max || MAX_DELAY;
    this.subs = new Map(); // name (channel or glob) -> {name, options, pattern}
    this.cursors = new Map(this.loadCursors()); // channel -> last cursor delivered
    this.listeners = new Map(); // kind -> Set of functions
    this.ws = null;
    this.authed = false;
    this.pending = null; // subscriptions not yet answered since the last auth
    this.attempt = 0;
    this.everLive = false;
    this.timers = new Set();
    this.closed = false;
    this.fatal = false; // offline for good: a close the catalogue says not to retry
    this.opening = false; // waiting on getToken() before a socket exists
    this.state = "connecting";
    this.lastClose = null; // {code, reason} of the last close, for the state listeners
    this.openedAt = 0; // when the current socket was authenticated (diagnostics)
    this.frames = 0; // frames received on it
    this.onOnline = () => this.reconnectNow();
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    this.open();
  }

  /** Follow `channel` (an endpoint id, or a glob with the admin token); returns {unsubscribe}. */
  subscribe(channel, options = {}) {
    const sub = { name: channel, options, pattern: isGlob(channel) ? globPattern(channel) : null };
    this.subs.set(channel, sub);
    if (typeof options.since === "string" && !this.cursors.has(channel)) this.remember(channel, options.since);
    if (sub.pattern && options.since && typeof options.since === "object") {
      for (const [name, cursor] of Object.entries(options.since)) if (!this.cursors.has(name)) this.remember(name, cursor);
    }
    if (this.authed) this.sendSubscribe(sub);
    return {
      unsubscribe: () => this.unsubscribe(channel),
      cursor: () => this.cursors.get(channel) || null,
    };
  }

  unsubscribe(channel) {
    if (!this.subs.delete(channel)) return;
    if (this.pending) this.settled(channel);
    if (this.authed) this.send({ type: "unsubscribe", channel, ref: `unsub:${channel}` });
  }

  /** Listen to "state" ({state, code, reason, retryAt, fatal}), "gap" or "error"; returns off(). */
  on(kind, fn) {
    if (!this.listeners.has(kind)) this.listeners.set(kind, new Set());
    this.listeners.get(kind).add(fn);
    if (kind === "state") fn(this.describe());
    return () => this.listeners.get(kind).delete(fn);
  }

  /** Close the feed for good. */
  close() {
    this.closed = true;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    this.drop(1000, "bye");
    this.setState("offline", { fatal: true });
  }

  /** Retry at once (a "reconnect now" button; the browser coming back online). */
  reconnectNow() {
    if (this.closed || this.ws || this.opening || this.fatal) return;
    this.clearTimers();
    this.open();
  }

  cursor(channel) {
    return this.cursors.get(channel) || null;
  }

  // -- connection ----------------------------------------------------------------------

  async open() {
    this.clearTimers();
    this.setState(this.everLive ? "resyncing" : "connecting");
    if (this.getToken && (!this.token || this.expiresSoon())) {
      this.opening = true;
      try {
        this.token = await this.getToken();
      } catch (error) {
        this.emit("error", { code: "token_refresh_failed", message: String(error) });
        this.retryLater(null, "could not get a token");
        return;
      } finally {
        this.opening = false;
      }
      if (this.closed) return;
    }
    let ws;
    try {
      ws = new WebSocket(this.wsUrl);
    } catch {
      this.retryLater(1006, "could not open");
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
      this.reset();
      if (this.closed) return;
      this.lastClose = { code: closed.code, reason: closed.reason };
      const next = reconnectAfter(closed.code);
      if (next === "resume" || (next === "token" && this.getToken)) {
        if (next === "token") this.token = null; // the next attempt asks getToken() first
        this.retryLater(closed.code, closed.reason);
        return;
      }
      this.fatal = true;
      this.setState("offline", { fatal: true, code: closed.code, reason: closed.reason });
    };
  }

  /** Drop the socket without a reconnect of its own. */
  drop(code, reason) {
    const ws = this.ws;
    this.reset();
    this.clearTimers();
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    }
  }

  reset() {
    this.ws = null;
    this.authed = false;
    this.pending = null;
    this.clearTimers();
  }

  retryLater(code, reason) {
    // Exponential backoff with jitter, so a restarted bridge is not hit by every tab at once.
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.setState("offline", { retryAt: Date.now() + delay, code, reason });
    this.later(delay, () => this.open());
  }

  expiresSoon() {
    const claims = tokenClaims(this.token);
    return claims !== null && claims.expiresAt - Date.now() < 1000;
  }

  /** Refresh a subscriber token before the bridge closes its socket at `expires_at`. */
  scheduleRefresh() {
    const claims = this.getToken && tokenClaims(this.token);
    if (!claims || !Number.isFinite(claims.expiresAt)) return;
    const left = claims.expiresAt - Date.now();
    const ahead = Math.min(REFRESH_MAX_AHEAD, left * REFRESH_SHARE);
    this.later(Math.max(0, left - ahead), () => this.refresh());
  }

  async refresh() {
    let token;
    try {
      token = await this.getToken();
    } catch (error) {
      // The socket stays up until the bridge closes it (4001); the reconnect asks again.
      this.emit("error", { code: "token_refresh_failed", message: String(error) });
      return;
    }
    if (this.closed || !token) return;
    this.token = token;
    // A socket keeps the token it authenticated with: reconnect at once, resuming every
    // channel from its cursor, so nothing is missed or repeated.
    this.drop(1000, "token refresh");
    this.open();
  }

  later(delay, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, delay);
    this.timers.add(timer);
  }

  clearTimers() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearInterval(this.pinger);
  }

  startPinging() {
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT) {
        this.ws.close(SILENT, "no answer to pings");
        return;
      }
      this.send({ type: "ping" });
    }, PING_EVERY);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  // -- frames --------------------------------------------------------------------------

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
        this.fatal = false;
        this.openedAt = Date.now();
        this.frames = 0;
        this.startPinging();
        this.scheduleRefresh();
        // "Live" once every subscription is answered: from then on no event can slip past.
        this.pending = new Set(this.subs.keys());
        for (const sub of this.subs.values()) this.sendSubscribe(sub);
        this.settled(null);
        break;
      case "subscribed":
        this.subscribed(frame);
        break;
      case "event": {
        const envelope = frame.event;
        const sub = this.route(frame.channel);
        if (!sub || !envelope || typeof envelope.id !== "string") break;
        const last = this.cursors.get(frame.channel);
        if (last && compareCursors(envelope.id, last) <= 0) break; // already delivered
        this.remember(frame.channel, envelope.id);
        if (sub.options.onEvent) sub.options.onEvent(envelope, { channel: frame.channel, bytes: data.length });
        break;
      }
      case "dropped": {
        const sub = this.route(frame.channel);
        if (sub && sub.options.onDropped) sub.options.onDropped(frame);
        break;
      }
      case "rejected": {
        const sub = this.route(frame.channel);
        if (sub && sub.options.onRejected) sub.options.onRejected(frame);
        break;
      }
      case "error":
        this.problem(frame);
        break;
      case "unsubscribed":
        if (frame.reason === "deleted") this.deleted(frame);
        break; // else the answer to our own unsubscribe
      default:
        break; // pong
    }
  }

  /** The bridge ended a channel's subscription because its endpoint was deleted. */
  deleted(frame) {
    if (typeof frame.channel !== "string") return;
    const sub = this.route(frame.channel);
    // An exact subscription does not carry over to an endpoint created again under the id,
    // and a cursor of the deleted one would only resume it as `recovered: false`.
    if (sub && !sub.pattern) this.subs.delete(frame.channel);
    this.forget(frame.channel);
    const error = { channel: frame.channel, code: "deleted", message: `endpoint ${frame.channel} was deleted` };
    if (sub && sub.options.onError) sub.options.onError(error);
    this.emit("error", error);
  }

  /** The subscription an event of `channel` belongs to: its own, else a glob's. */
  route(channel) {
    if (typeof channel !== "string") return null;
    const own = this.subs.get(channel);
    if (own) return own;
    for (const sub of this.subs.values()) if (sub.pattern && sub.pattern.test(channel)) return sub;
    return null;
  }

  subscribed(frame) {
    if (typeof frame.channel !== "string") return;
    const globSub = typeof frame.glob === "string" ? this.subs.get(frame.glob) : null;
    if (this.subs.get(frame.channel) && this.subs.get(frame.channel).pattern) {
      this.settled(frame.channel); // a glob's own answer: every matching channel came first
      return;
    }
    const sub = globSub || this.subs.get(frame.channel);
    if (!sub) return;
    const since = this.cursors.get(frame.channel) || null;
    // Without `since`, events after `cursor` come next: a later resume starts there.
    // A `since` beyond the stream's end means its data was reset: start again from it.
    if (typeof frame.cursor === "string" && (since === null || compareCursors(since, frame.cursor) > 0)) {
      this.remember(frame.channel, frame.cursor);
    }
    const answer = { channel: frame.channel, since, cursor: frame.cursor, recovered: frame.recovered !== false };
    if (globSub) answer.glob = globSub.name; // a channel the glob found, maybe one created since
    if (sub.options.onSubscribed) sub.options.onSubscribed(answer);
    if (!answer.recovered) {
      // `since` was older than the history the bridge keeps: events were missed, and the
      // caller may reload from GET /api/endpoints/<id>/events.
      if (sub.options.onGap) sub.options.onGap(answer);
      this.emit("gap", answer);
    }
    if (!globSub) this.settled(frame.channel);
  }

  problem(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    const name = ref.startsWith("sub:") ? ref.slice(4) : null;
    const sub = name === null ? null : this.subs.get(name);
    const error = { channel: name, code: frame.code, message: frame.message || "" };
    if (sub && frame.code === "unavailable") {
      // Storage is briefly away at the bridge: ask again shortly, from the same cursor.
      this.later(UNAVAILABLE_RETRY, () => {
        if (this.authed && this.subs.get(name) === sub) this.sendSubscribe(sub);
      });
      if (this.pending) this.settled(name);
    } else if (sub && frame.code !== "already_subscribed") {
      this.subs.delete(name); // forbidden, unknown_channel, bad_request: asking again will not help
      if (this.pending) this.settled(name);
    }
    if (sub && sub.options.onError) sub.options.onError(error);
    this.emit("error", error);
  }

  sendSubscribe(sub) {
    const { filter, onSlow, rejections } = sub.options;
    const frame = { type: "subscribe", channel: sub.name, ref: `sub:${sub.name}` };
    if (sub.pattern) {
      const since = {};
      for (const [channel, cursor] of this.cursors) if (sub.pattern.test(channel)) since[channel] = cursor;
      if (Object.keys(since).length) frame.since = since;
    } else if (this.cursors.has(sub.name)) {
      frame.since = this.cursors.get(sub.name);
    }
    if (filter) frame.filter = filter;
    if (onSlow) frame.on_slow = onSlow;
    if (rejections) frame.rejections = true;
    this.send(frame);
  }

  /** A subscription was answered; go live when none is outstanding. */
  settled(name) {
    if (!this.pending) return;
    if (name !== null) this.pending.delete(name);
    if (this.pending.size === 0) {
      this.pending = null;
      this.everLive = true;
      this.setState("live");
    }
  }

  // -- cursors and state ---------------------------------------------------------------

  remember(channel, cursor) {
    this.cursors.set(channel, cursor);
    this.save();
  }

  forget(channel) {
    this.cursors.delete(channel);
    this.save();
  }

  save() {
    if (!this.storage) return;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(Object.fromEntries(this.cursors)));
    } catch {
      // Storage full or refused (private mode): the cursors in memory still resume.
    }
  }

  loadCursors() {
    if (!this.storage) return [];
    try {
      const saved = JSON.parse(this.storage.getItem(this.storageKey) || "{}");
      return Object.entries(saved).filter(([, cursor]) => typeof cursor === "string");
    } catch {
      return [];
    }
  }

  describe(extra = {}) {
    const close = this.lastClose || {};
    return { state: this.state, code: close.code, reason: close.reason, ...extra };
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit("state", this.describe({ retryAt: 0, fatal: false, ...extra }));
  }

  emit(kind, value) {
    for (const fn of this.listeners.get(kind) || []) {
      try {
        fn(value);
      } catch (error) {
        // A listener's bug must not stop the feed; report it where a developer looks.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
