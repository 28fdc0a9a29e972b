// The signed-in dashboard: wires the socket pool, the event store and list, the endpoints
// panel, the detail and "how it works" panels, banners and the events-per-minute chart.

import { CLOSE_CODES } from "/close-codes.js";
import { Api } from "./api.js";
import { drawRate } from "./chart.js";
import { Detail } from "./detail.js";
import { $, fill, h, plural } from "./dom.js";
import { EndpointsPanel } from "./endpoints.js";
import { EventStore, Filter } from "./events.js";
import { GapFiller } from "./gaps.js";
import { eachLimited, loadOlder } from "./history.js";
import { LatencyPanel } from "./latency.js";
import { EventList } from "./list.js";
import { HistorySearch } from "./search.js";
import { LiveSocket, SocketPool } from "./socket.js";

const AUTO_HISTORY_MAX = 20; // load recent history at sign-in when there are this few endpoints
const FLUSH_MS = 40;
const CHART_MINUTES = 30;
const WHY_AWAY = { shutting_down: "bridge restarting", slow_consumer: "fell behind" }; // by catalogue name

export class Dashboard {
  constructor(token, mode, channels, onRefused) {
    this.token = token;
    this.mode = mode; // "admin" | "subscriber"
    this.fixedChannels = channels;
    this.api = mode === "admin" ? new Api(token) : null;
    this.store = new EventStore();
    this.pending = [];
    this.flushTimer = null;
    this.channels = [];
    this.autoHistory = new Set();
    this.lastRateDraw = 0;
    this.listeners = new AbortController(); // every listener on the page's elements, removed by stop()

    this.list = new EventList(
      this.store,
      { list: $("#events"), summary: $("#list-summary"), pager: $("#pager"), notice: $("#list-notice") },
      (item) => this.detail.show(item),
      this.listeners.signal,
    );
    this.list.canLoadHistory = mode === "admin";
    this.list.loadHistory = (filter) => this.loadHistory(filter);
    this.search = new HistorySearch(this.api, this.store, $("#search-status"), (events) => this.addHistory(events));
    this.latency = new LatencyPanel(
      { root: $("#latency"), canvas: $("#latency-chart"), text: $("#latency-text"), table: $("#latency-table") },
      () => $("#f-endpoint").value,
      mode === "admin" ? null : channels,
      token,
    );
    this.detail = new Detail(
      { root: $("#detail"), how: $("#how"), versus: $("#versus") },
      { api: this.api, webhookUrl: (ep) => this.webhookUrl(ep), socket: null },
    );
    const handlers = {
      status: (s) => this.status(s),
      event: (channel, envelope, bytes) => this.received(envelope, bytes),
      subscribed: (frame, since) => this.subscribed(frame, since),
      problem: (channel, code, message) => this.problem(channel, code, message),
      fatal: (message) => onRefused(`The bridge refused this token (${message}). Sign in again.`),
      dropped: (frame) => this.gaps.dropped(frame),
      rejected: (frame) => this.rejected(frame),
    };
    // The admin token follows every endpoint with one glob subscription; a subscriber token
    // may not use a glob, so it subscribes to each of its channels (one socket per 100).
    this.socket = mode === "admin" ? new LiveSocket(token, handlers, { glob: "*" }) : new SocketPool(token, handlers);
    this.gaps = new GapFiller(
      this.api,
      (event) => this.gapEvent(event),
      (channel, count, err) => this.gapFilled(channel, count, err),
    );
    this.detail.context.socket = this.socket;
    this.endpoints = null;
  }

  async start() {
    this.bindControls();
    this.detail.clear();
    this.list.emptyText = "Waiting for events: POST a webhook to an endpoint's URL and it appears here.";
    this.list.render();
    fill($("#who"), this.mode === "admin" ? "admin" : `read-only: ${this.fixedChannels.join(", ")}`);
    $("#endpoints-panel").hidden = this.mode !== "admin";
    $("#app-view").classList.toggle("no-endpoints", this.mode !== "admin");
    if (this.mode === "admin") {
      this.endpoints = new EndpointsPanel(
        {
          form: $("#create-form"),
          createBox: $("#create-box"),
          id: $("#ep-id"),
          provider: $("#ep-provider"),
          secret: $("#ep-secret"),
          secretHint: $("#ep-secret-hint"),
          secretReq: $("#ep-secret-req"),
          description: $("#ep-description"),
          mask: $("#ep-mask"),
          maskHint: $("#ep-mask-hint"),
          error: $("#create-error"),
          preview: $("#ep-url-preview"),
          list: $("#endpoint-list"),
          note: $("#endpoints-note"),
          refresh: $("#refresh-endpoints"),
        },
        {
          api: this.api,
          counts: (id) => this.store.count(id),
          onCreated: () => {},
          onChange: (list) => this.setChannels(list.map((e) => e.id)),
        },
        this.listeners.signal,
      );
      await this.api.discover();
      this.endpoints.setProviders(await this.api.providers());
      await this.endpoints.refresh();
      if (this.stopped) return; // signed out while those requests were on their way
      this.refresher = setInterval(() => this.endpoints.refresh(), 60000);
    } else {
      this.setChannels(this.fixedChannels);
    }
    this.socket.start();
    this.latency.start(this.listeners.signal);
    this.ticker = setInterval(() => this.tick(), 1000);
    this.drawRate(true);
  }

  stop() {
    this.stopped = true;
    this.search.stop();
    this.latency.stop();
    this.socket.stop();
    clearInterval(this.refresher);
    clearInterval(this.ticker);
    clearTimeout(this.flushTimer);
    clearTimeout(this.rateTimer);
    this.listeners.abort();
  }

  bindControls() {
    const pause = $("#pause");
    const filters = $("#filters");
    const onPause = () => {
      const paused = pause.getAttribute("aria-pressed") !== "true";
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
      this.list.setPaused(paused);
    };
    let debounce = null;
    const apply = () => {
      const next = this.currentFilter();
      const key = JSON.stringify([next.endpoint, next.type, next.text]);
      if (key === this.filterKey) return; // "change" on blur repeats an "input" already applied
      this.filterKey = key;
      this.list.setFilter(next);
      this.search.set(next, next.endpoint ? [next.endpoint] : this.channels);
      this.latency.render();
    };
    const onFilter = () => {
      clearTimeout(debounce);
      debounce = setTimeout(apply, 120);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      clearTimeout(debounce);
      apply();
    };
    const onRetry = () => this.socket.reconnectNow();
    const options = { signal: this.listeners.signal };
    pause.addEventListener("click", onPause, options);
    filters.addEventListener("input", onFilter, options);
    filters.addEventListener("change", onFilter, options);
    filters.addEventListener("submit", onSubmit, options);
    $("#retry").addEventListener("click", onRetry, options);
    // A previous sign-in may have left filters typed in and the list paused.
    filters.reset();
    pause.setAttribute("aria-pressed", "false");
    pause.textContent = "Pause";
  }

  currentFilter() {
    return new Filter({ endpoint: $("#f-endpoint").value, type: $("#f-type").value, text: $("#f-text").value });
  }

  webhookUrl(endpoint) {
    const known = this.endpoints && this.endpoints.endpoints.get(endpoint);
    return known ? known.url : `${location.origin}/hooks/${encodeURIComponent(endpoint)}`;
  }

  setChannels(names) {
    this.channels = names;
    this.socket.setChannels(names);
    const select = $("#f-endpoint");
    const current = select.value;
    fill(select, h("option", { value: "" }, "All endpoints"), names.map((name) => h("option", { value: name }, name)));
    select.value = names.includes(current) ? current : "";
  }

  // -- socket callbacks -----------------------------------------------------------------

  received(envelope, frameBytes) {
    const item = this.store.add(envelope, { via: "socket", frameBytes });
    if (!item) return;
    this.pending.push(item);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush() {
    this.flushTimer = null;
    const items = this.pending;
    this.pending = [];
    const dropped = this.store.trim();
    const kept = dropped ? items.filter((item) => this.store.keys.has(item.key)) : items;
    this.list.added(kept);
    if (dropped && this.list.offset > 0) this.list.render();
    if (this.endpoints) this.endpoints.updateCounts();
    this.drawRate(false);
  }

  subscribed(frame, since) {
    this.dismiss(`deleted:${frame.channel}`); // created again under its id, and followed anew
    if (frame.glob && !this.channels.includes(frame.channel)) {
      // An endpoint created after the page loaded (here or elsewhere): list it and its card.
      this.setChannels([...this.channels, frame.channel]);
      if (this.endpoints) this.endpoints.refresh();
    }
    if (since === null) {
      this.store.setBound(frame.channel, frame.cursor, true);
      if (this.mode === "admin" && this.channels.length <= AUTO_HISTORY_MAX && !this.autoHistory.has(frame.channel)) {
        this.autoHistory.add(frame.channel);
        this.fetchOlder([frame.channel], 50);
      }
    }
    if (frame.recovered === false) {
      this.banner(
        `recovered:${frame.channel}`,
        "warn",
        `Missed events on ${frame.channel}: the bridge no longer holds every event after ${since} ` +
          "(it keeps a limited history, and this page was away longer than that). " +
          "The list goes on from the oldest event it still has.",
      );
    }
  }

  /** An event of a `dropped` gap, fetched from the history: into the list in cursor order. */
  gapEvent(event) {
    const item = this.store.add(event, { via: "history" });
    if (item) this.gapItems = (this.gapItems || 0) + 1;
  }

  gapFilled(channel, count, err) {
    if (err) {
      this.banner(`gap:${channel}`, "warn", `The page fell behind on ${channel} and could not fetch the ${plural(count, "event")} it missed: ${err.message}`);
      return;
    }
    if (this.gapItems) {
      this.gapItems = 0;
      this.store.trim();
      this.list.render();
      if (this.endpoints) this.endpoints.updateCounts();
      this.drawRate(true);
    }
  }

  /** A delivery refused live (`rejected` frame): into its endpoint's rejected deliveries. */
  rejected(frame) {
    if (this.endpoints) this.endpoints.rejections.live(frame.channel, frame.rejection);
  }

  problem(channel, code, message) {
    if (code === "already_subscribed") return;
    if (code === "deleted") {
      this.banner(`deleted:${channel}`, "warn", `Endpoint ${channel} was deleted on the bridge: no more of its events come; those listed are from before (marked "deleted").`);
      if (this.store.markDeleted(channel)) this.list.render();
      if (this.endpoints) this.endpoints.refresh();
      return;
    }
    const what = channel ? `Cannot watch ${channel}` : "The bridge answered with an error";
    this.banner(`problem:${channel || code}`, "warn", `${what}: ${message || code} (${code}).`);
  }

  status({ state, retryAt, code }) {
    const conn = $("#conn");
    conn.dataset.state = state;
    this.retryAt = retryAt || 0;
    this.lastCode = code;
    $("#retry").hidden = state !== "reconnecting";
    this.renderStatus();
    if (state === "live") this.dismiss("offline");
  }

  renderStatus() {
    const state = $("#conn").dataset.state;
    let text = "Not connected";
    if (state === "connecting") text = "Connecting…";
    else if (state === "live") text = `Live · ${plural(this.channels.length, "channel")}`;
    else if (state === "unauthorized") text = "Token refused";
    else if (state === "reconnecting") {
      const seconds = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
      const why = WHY_AWAY[(CLOSE_CODES[this.lastCode] || {}).name] || "connection lost";
      text = `Reconnecting in ${seconds}s (${why})`;
    }
    const el = $("#conn-text");
    if (el.textContent !== text) el.textContent = text;
  }

  tick() {
    this.renderStatus();
    this.drawRate(false);
  }

  drawRate(force) {
    const now = Date.now();
    if (!force && now - this.lastRateDraw < 1000) {
      // Throttled: draw once more when the second is up, so the figure never lags behind.
      if (!this.rateTimer) {
        this.rateTimer = setTimeout(() => {
          this.rateTimer = null;
          this.drawRate(true);
        }, 1000 - (now - this.lastRateDraw));
      }
      return;
    }
    this.lastRateDraw = now;
    const buckets = this.store.perMinute(CHART_MINUTES, now);
    const lastMinute = this.store.perMinute(1, now)[0];
    const rate = `${lastMinute.toLocaleString()} / min`;
    if ($("#rate").textContent !== rate) $("#rate").textContent = rate;
    drawRate($("#rate-chart"), buckets);
    const total = buckets.reduce((a, b) => a + b, 0);
    $("#rate-caption").textContent = `Events per minute over the last ${CHART_MINUTES} minutes: ${lastMinute} in the last minute, ${total} in all.`;
    if (this.detail.item && now - (this.lastHow || 0) > 5000) {
      this.lastHow = now;
      this.detail.renderHow();
    }
  }

  // -- history ---------------------------------------------------------------------------

  /** "Load older": the next 200 of each endpoint shown; `done` once all reached their first event. */
  async loadHistory(filter) {
    const names = filter.endpoint ? [filter.endpoint] : this.channels;
    const added = await this.fetchOlder(names, 200);
    const done = names.every((name) => {
      const bound = this.store.bound(name);
      return bound && bound.exhausted;
    });
    return { added, done };
  }

  async fetchOlder(names, want) {
    const found = [];
    await eachLimited(names, 4, async (name) => {
      try {
        found.push(...(await loadOlder(this.api, this.store, name, want)));
      } catch (err) {
        this.banner(`history:${name}`, "warn", `Could not load history of ${name}: ${err.message}`);
      }
    });
    return this.addHistory(found);
  }

  /** Events fetched from history into the store and the list; returns how many were new. */
  addHistory(events) {
    let added = 0;
    for (const event of events) if (this.store.add(event, { via: "history" })) added += 1;
    if (added) {
      this.store.trim();
      this.list.render();
      if (this.endpoints) this.endpoints.updateCounts();
      this.drawRate(true);
    }
    return added;
  }

  // -- banners ---------------------------------------------------------------------------

  banner(key, kind, text) {
    banner(key, kind, text);
  }

  dismiss(key) {
    dismiss(key);
  }
}

function banner(key, kind, text) {
  const root = $("#banners");
  const existing = [...root.children].find((el) => el.dataset.key === key);
  const close = h("button", { type: "button", class: "btn small ghost", "aria-label": "Dismiss" }, "Dismiss");
  const el = h("div", { class: `banner ${kind}`, dataset: { key }, role: kind === "warn" ? "alert" : "status" }, h("span", {}, text), close);
  close.addEventListener("click", () => el.remove());
  if (existing) existing.replaceWith(el);
  else root.appendChild(el);
}

function dismiss(key) {
  for (const el of $("#banners").children) if (el.dataset.key === key) el.remove();
}
