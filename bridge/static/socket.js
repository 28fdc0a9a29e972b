// The dashboard's live connection: the bridge's own client library (/client.js, the one
// every user's page gets) behind the interface the dashboard was written against. With the
// admin token one glob subscription (`*`) follows every endpoint, those created later too:
// one frame however many endpoints, where one subscribe each would trip the inbound rate
// limit and the 100-subscription cap.

import { CLOSE_CODES, connect } from "/client.js";

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
    this.names = new Set(); // the exact channels wanted, without a glob
    this.feed = null;
    this.state = "idle";
    this.retryAt = 0;
    this.lastCode = undefined;
  }

  start() {
    this.feed = connect({ token: this.token });
    this.feed.on("state", (change) => this.changed(change));
    this.feed.on("error", ({ channel, code, message }) => this.on.problem(channel, code, message));
    if (this.glob) {
      // A page that falls behind loses queued events, not its socket: it fetches each
      // `dropped` gap from the history instead of reconnecting in a loop.
      this.follow(this.glob, { onSlow: "drop_oldest", rejections: true });
    } else {
      for (const name of this.names) this.follow(name);
    }
  }

  stop() {
    const feed = this.feed;
    this.feed = null; // first: the feed's last state change (closed) is no refusal
    if (feed) feed.close();
    this.setState("idle");
  }

  /** Retry at once (the "reconnect now" button). */
  reconnectNow() {
    if (this.feed) this.feed.reconnectNow();
  }

  /** Make the subscriptions match `names`: subscribe new ones, unsubscribe dropped ones. */
  setChannels(names) {
    if (this.glob) return; // the glob's own `subscribed` frames name its channels
    const wanted = new Set(names);
    for (const name of wanted) if (!this.names.has(name) && this.feed) this.follow(name);
    for (const name of this.names) if (!wanted.has(name) && this.feed) this.feed.unsubscribe(name);
    this.names = wanted;
  }

  follow(channel, extra = {}) {
    this.feed.subscribe(channel, {
      ...extra,
      onEvent: (envelope, { channel: name, bytes }) => this.on.event(name, envelope, bytes),
      onSubscribed: (answer) => this.on.subscribed({ type: "subscribed", ...answer }, answer.since),
      onDropped: (frame) => this.on.dropped(frame),
      onRejected: (frame) => this.on.rejected(frame),
    });
  }

  /** The feed's states, as the dashboard shows them. */
  changed({ state, retryAt, code, reason, fatal }) {
    if (!this.feed) return;
    if (fatal) {
      this.setState("unauthorized", { code, reason });
      const entry = CLOSE_CODES[code];
      this.on.fatal(reason || (entry ? entry.meaning : "the bridge closed this connection"));
    } else if (state === "offline") {
      this.setState("reconnecting", { retryAt, code, reason });
    } else {
      this.setState(state === "resyncing" ? "connecting" : state, { code, reason });
    }
  }

  /** For "how it works": the open socket's age and frame count. */
  get openedAt() {
    return this.feed ? this.feed.openedAt : 0;
  }

  get frames() {
    return this.feed ? this.feed.frames : 0;
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
