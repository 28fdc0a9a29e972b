// "Load older": fetch events older than what the page holds, from
// GET /api/endpoints/<id>/events?since=... (oldest first, `since` exclusive).
// The API reads forwards only, so look back through widening windows before the oldest
// event held until one holds something, and keep the newest `want` of what it found.

import { parseId } from "./events.js";

const WINDOWS_MS = [60e3, 10 * 60e3, 3600e3, 86400e3, Infinity];
const PAGE = 1000;
const MAX_PAGES = 50; // per window; retention bounds it anyway

export async function loadOlder(api, store, endpoint, want = 200) {
  const bound = store.bound(endpoint);
  if (!bound || bound.exhausted) return [];
  const [boundMs] = parseId(bound.id);
  for (const width of WINDOWS_MS) {
    const start = width === Infinity || boundMs - width <= 0 ? "0-0" : `${boundMs - width}-0`;
    let since = start;
    const found = [];
    let reached = false;
    for (let page = 0; page < MAX_PAGES && !reached; page += 1) {
      const answer = await api.events(endpoint, since, PAGE);
      for (const event of answer.events) {
        if (store.before(endpoint, event.id)) found.push(event);
        else reached = true;
      }
      if (!answer.next) break;
      since = answer.next;
    }
    if (found.length) {
      const kept = found.slice(-want);
      store.lowerBound(endpoint, kept[0].id);
      return kept;
    }
    if (start === "0-0") break;
  }
  store.markExhausted(endpoint);
  return [];
}

/** Run `task` over `items`, at most `limit` at a time. */
export async function eachLimited(items, limit, task) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) await task(queue.shift());
  });
  await Promise.all(workers);
}
