// Events kept in memory: sorted by cursor, deduplicated, capped, filterable.

import { bodyTexts, casefold, globToRegExp, storedType } from "./match.js";

export const MEMORY_CAP = 20000;

// Cursors are Redis stream ids "<ms>-<seq>", compared as numbers: the client library's.
import { compareCursors as compareIds, parseCursor as parseId } from "/client.js";

export { compareIds, parseId };

/** Order across endpoints: by cursor time, then sequence, then endpoint name. */
function compareEvents(a, b) {
  return a.ms - b.ms || a.seq - b.seq || (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0);
}

export class Filter {
  constructor({ endpoint = "", type = "", text = "" } = {}) {
    this.endpoint = endpoint;
    this.type = type.trim(); // the terms as the history search is asked for them
    this.q = text.trim();
    this.text = casefold(this.q);
    this.typeRe = this.type ? globToRegExp(this.type) : null;
  }

  get empty() {
    return !this.endpoint && !this.typeRe && !this.text;
  }

  /** Whether the history search has something to look for (an endpoint alone is "load older"). */
  get searches() {
    return Boolean(this.type || this.q);
  }

  matches(item) {
    if (this.endpoint && item.endpoint !== this.endpoint) return false;
    if (this.typeRe && !this.typeRe.test(storedType(item.event.event_type))) return false;
    if (this.text && !searchTexts(item).some((text) => text.includes(this.text))) return false;
    return true;
  }
}

const CACHED_TEXT = 200000; // characters: a longer body is folded again at each search, not kept twice

function searchTexts(item) {
  if (item.search !== undefined) return item.search;
  const texts = bodyTexts(item.event.body);
  if (texts.reduce((sum, text) => sum + text.length, 0) <= CACHED_TEXT) item.search = texts;
  return texts;
}

/**
 * An item wraps one envelope with what the page learnt about it: when it arrived, how
 * (pushed down the socket or fetched from history), the frame size, flags.
 */
export class EventStore {
  constructor(cap = MEMORY_CAP) {
    this.cap = cap;
    this.items = []; // ascending
    this.keys = new Set(); // endpoint|cursor
    this.byEventId = new Map(); // endpoint|event_id -> first cursor (duplicate flag)
    this.bounds = new Map(); // endpoint -> {id, inclusive}: history to fetch lies before it
    this.perEndpoint = new Map();
    this.version = 0;
  }

  get size() {
    return this.items.length;
  }

  /** Add an envelope; returns the item, or null when already held. */
  add(event, how) {
    if (!event || typeof event.id !== "string" || typeof event.endpoint !== "string") return null;
    const key = `${event.endpoint}|${event.id}`;
    if (this.keys.has(key)) return null;
    const [ms, seq] = parseId(event.id);
    const item = {
      key,
      id: event.id,
      ms,
      seq,
      endpoint: event.endpoint,
      event,
      arrivedAt: Date.now(),
      via: how.via, // "socket" | "history"
      frameBytes: how.frameBytes || 0,
      receivedMs: Date.parse(event.received_at) || ms,
      duplicateOf: null,
      deleted: false, // its endpoint was deleted on the bridge after it arrived
    };
    if (event.event_id) {
      const dedup = `${event.endpoint}|${event.event_id}`;
      const first = this.byEventId.get(dedup);
      if (first && first !== event.id) item.duplicateOf = first;
      else if (!first) this.byEventId.set(dedup, event.id);
    }
    this.keys.add(key);
    this.perEndpoint.set(item.endpoint, (this.perEndpoint.get(item.endpoint) || 0) + 1);
    const items = this.items;
    const last = items[items.length - 1];
    if (!last || compareEvents(last, item) <= 0) {
      items.push(item);
    } else {
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareEvents(items[mid], item) <= 0) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, item);
    }
    this.version += 1;
    return item;
  }

  /** Mark the items held of `endpoint` as from before its deletion; how many were marked.
   * They stay listed, but no longer count for the endpoint, nor stand as the first of an
   * event id: an endpoint created again under the id starts from none. */
  markDeleted(endpoint) {
    let marked = 0;
    for (const item of this.items) {
      if (item.endpoint === endpoint && !item.deleted) {
        item.deleted = true;
        marked += 1;
      }
    }
    if (marked) {
      this.perEndpoint.set(endpoint, this.count(endpoint) - marked);
      for (const dedup of this.byEventId.keys()) {
        if (dedup.startsWith(`${endpoint}|`)) this.byEventId.delete(dedup);
      }
      this.version += 1;
    }
    return marked;
  }

  /** Drop the oldest items past the cap; they can be fetched again with "load older". */
  trim() {
    const excess = this.items.length - this.cap;
    if (excess <= 0) return 0;
    const dropped = this.items.splice(0, excess);
    for (const item of dropped) {
      this.keys.delete(item.key);
      if (!item.deleted) this.perEndpoint.set(item.endpoint, this.perEndpoint.get(item.endpoint) - 1);
      // A search's match older than the bound is not part of the unbroken run the bound
      // starts: dropping it must not move the bound past the events between them.
      if (!this.bounds.has(item.endpoint) || !this.before(item.endpoint, item.id)) {
        this.bounds.set(item.endpoint, { id: item.id, inclusive: true, exhausted: false });
      }
    }
    this.version += 1;
    return excess;
  }

  /** The newest first: items matching `filter`, skipping `offset`, at most `limit`. */
  window(filter, offset, limit) {
    const out = [];
    let skipped = 0;
    let total = 0;
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const item = this.items[i];
      if (!filter.matches(item)) continue;
      total += 1;
      if (skipped < offset) {
        skipped += 1;
      } else if (out.length < limit) {
        out.push(item);
      }
    }
    return { items: out, total };
  }

  count(endpoint) {
    return this.perEndpoint.get(endpoint) || 0;
  }

  /** Received per minute over the last `minutes` minutes, oldest bucket first. */
  perMinute(minutes, now = Date.now()) {
    const buckets = new Array(minutes).fill(0);
    const start = now - minutes * 60000;
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const at = this.items[i].receivedMs;
      if (at < start) {
        if (this.items[i].ms < start - 60000) break; // sorted by cursor time: done
        continue;
      }
      const index = Math.min(minutes - 1, Math.floor((at - start) / 60000));
      buckets[index] += 1;
    }
    return buckets;
  }

  // -- history bounds, for "load older" ---------------------------------------------------

  setBound(endpoint, id, inclusive) {
    if (!this.bounds.has(endpoint)) this.bounds.set(endpoint, { id, inclusive, exhausted: false });
  }

  bound(endpoint) {
    return this.bounds.get(endpoint) || null;
  }

  /** True when `id` lies before the endpoint's history bound. */
  before(endpoint, id) {
    const bound = this.bounds.get(endpoint);
    if (!bound) return true;
    const order = compareIds(id, bound.id);
    return order < 0 || (order === 0 && bound.inclusive);
  }

  lowerBound(endpoint, oldestId) {
    const bound = this.bounds.get(endpoint);
    if (bound && compareIds(oldestId, bound.id) >= 0) return;
    this.bounds.set(endpoint, { id: oldestId, inclusive: false, exhausted: false });
  }

  markExhausted(endpoint) {
    const bound = this.bounds.get(endpoint);
    if (bound) bound.exhausted = true;
    else this.bounds.set(endpoint, { id: "0-0", inclusive: false, exhausted: true });
  }
}
