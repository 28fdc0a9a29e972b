// "How it works": delivery latency over the last minutes, from the bridge's own histogram
// bridge_delivery_seconds at /metrics (public unless BRIDGE_METRICS_TOKEN is set, then read
// with the admin token; summed over the workers by the multiprocess collector). The page
// polls it while the panel is open and the tab is visible, keeps the cumulative bucket counts of each poll, and shows what was
// added between the oldest snapshot of the window and the newest: deliveries, not totals.

import { drawHistogram } from "./chart.js";
import { clock, fill, h } from "./dom.js";
import { samples } from "./prom.js";

const METRIC = "bridge_delivery_seconds_bucket";
const POLL_MS = 5000;
const WINDOW_MS = 5 * 60000;

export class LatencyPanel {
  /** `endpoint()`: the endpoint to show ("" for all); `channels`: the only ones shown, or null for
   * any; `token`: sent along, for a bridge whose /metrics asks for one (the admin token does). */
  constructor(elements, endpoint, channels, token) {
    this.token = token;
    this.root = elements.root; // a <details>
    this.canvas = elements.canvas;
    this.text = elements.text;
    this.table = elements.table;
    this.endpoint = endpoint;
    this.channels = channels ? new Set(channels) : null;
    this.snapshots = []; // [{at, series: Map endpoint -> Map le -> cumulative count}], oldest first
    this.problem = null;
  }

  start(signal) {
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.root.addEventListener("toggle", () => this.poll(), { signal });
    document.addEventListener("visibilitychange", () => this.poll(), { signal });
    this.poll();
  }

  stop() {
    clearInterval(this.timer);
    this.stopped = true;
  }

  async poll() {
    if (!this.root.open || document.hidden || this.busy) return;
    this.busy = true;
    try {
      const headers = this.token ? { Authorization: `Bearer ${this.token}` } : {};
      const response = await fetch("/metrics", { cache: "no-store", headers });
      if (response.status === 401) throw new Error("this bridge's /metrics needs the admin or metrics token");
      if (!response.ok) throw new Error(`/metrics answered HTTP ${response.status}`);
      this.add({ at: Date.now(), series: series(await response.text(), this.channels) });
      this.problem = null;
    } catch (err) {
      this.problem = err.message;
    } finally {
      this.busy = false;
    }
    if (!this.stopped) this.render();
  }

  add(snapshot) {
    const last = this.snapshots[this.snapshots.length - 1];
    // A count that went down: the bridge restarted (its metrics start again from zero). A
    // long pause (the panel folded, the tab hidden): the window would span more than it says.
    if (last && (fell(last.series, snapshot.series) || snapshot.at - last.at > 3 * POLL_MS)) this.snapshots = [];
    this.snapshots.push(snapshot);
    // Keep one snapshot at or before the window's start: the baseline its deltas start from.
    const start = snapshot.at - WINDOW_MS;
    while (this.snapshots.length > 2 && this.snapshots[1].at <= start) this.snapshots.shift();
  }

  render() {
    if (this.problem && !this.snapshots.length) {
      fill(this.text, `Latency unavailable: ${this.problem}.`);
      fill(this.table);
      return;
    }
    if (!this.snapshots.length) return;
    const first = this.snapshots[0];
    const last = this.snapshots[this.snapshots.length - 1];
    const endpoint = this.endpoint();
    const { bounds, counts } = deltas(first.series, last.series, endpoint);
    const total = counts.reduce((a, b) => a + b, 0);
    const labels = bounds.map(bucketLabel);
    const p50 = quantile(0.5, bounds, counts);
    const p99 = quantile(0.99, bounds, counts);
    const where = endpoint || "all endpoints";
    const since = last.at - first.at >= WINDOW_MS ? "in the last 5 minutes" : `since ${clock(first.at)}`;
    const spread = total ? `: p50 ≈ ${seconds(p50)}, p99 ≈ ${seconds(p99)} (estimated from the buckets)` : "";
    fill(
      this.text,
      `${total.toLocaleString()} ${total === 1 ? "delivery" : "deliveries"} to ${where} ${since}${spread}.`,
      this.problem ? ` Last poll failed: ${this.problem}.` : "",
    );
    const marked = total ? bounds.findIndex((bound) => bound >= p50) : -1;
    drawHistogram(this.canvas, counts, labels, marked);
    fill(
      this.table,
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "latency"), h("th", { scope: "col" }, "deliveries"))),
      h(
        "tbody",
        {},
        counts.map((count, i) => h("tr", {}, h("th", { scope: "row" }, `≤ ${labels[i]}`), h("td", {}, count.toLocaleString()))),
      ),
    );
  }
}

/** endpoint -> le -> cumulative count, from the exposition text (series of other channels left out). */
function series(text, channels) {
  const out = new Map();
  for (const { labels, value } of samples(text, METRIC)) {
    const endpoint = labels.endpoint;
    if (endpoint === undefined || labels.le === undefined) continue;
    if (channels && !channels.has(endpoint)) continue;
    const bound = labels.le === "+Inf" ? Infinity : Number(labels.le);
    if (Number.isNaN(bound) || !Number.isFinite(value)) continue;
    if (!out.has(endpoint)) out.set(endpoint, new Map());
    const buckets = out.get(endpoint);
    buckets.set(bound, (buckets.get(bound) || 0) + value); // the same series twice: summed
  }
  return out;
}

function fell(before, after) {
  for (const [endpoint, buckets] of before) {
    const now = after.get(endpoint);
    for (const [bound, count] of buckets) if (!now || (now.get(bound) || 0) < count) return true;
  }
  return false;
}

/** Per-bucket deliveries between two snapshots, for one endpoint or all: {bounds, counts}. */
export function deltas(before, after, endpoint) {
  const cumulative = new Map();
  for (const [name, buckets] of after) {
    if (endpoint && name !== endpoint) continue;
    const base = before.get(name);
    for (const [bound, count] of buckets) {
      const added = count - ((base && base.get(bound)) || 0);
      cumulative.set(bound, (cumulative.get(bound) || 0) + added);
    }
  }
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  let previous = 0;
  const counts = bounds.map((bound) => {
    const count = Math.max(0, cumulative.get(bound) - previous);
    previous = Math.max(previous, cumulative.get(bound));
    return count;
  });
  return { bounds, counts };
}

/** The q-quantile as Prometheus's histogram_quantile estimates it: linear within the bucket. */
export function quantile(q, bounds, counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i += 1) {
    if (below + counts[i] >= rank && counts[i] > 0) {
      if (bounds[i] === Infinity) return bounds[i - 1] ?? Infinity; // past the last finite bound
      const lower = i ? bounds[i - 1] : 0;
      return lower + (bounds[i] - lower) * ((rank - below) / counts[i]);
    }
    below += counts[i];
  }
  return bounds[bounds.length - 1];
}

function bucketLabel(bound) {
  return bound === Infinity ? "+Inf" : seconds(bound);
}

function seconds(value) {
  if (!Number.isFinite(value)) return "more than the largest bucket";
  if (value < 0.01) return `${+(value * 1000).toFixed(2)} ms`;
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  return `${+value.toFixed(2)} s`;
}
