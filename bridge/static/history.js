// "Load older": fetch the events just older than what the page holds, newest first, from
// GET /api/endpoints/<id>/events?before=<cursor> (the newest `limit` strictly before it,
// oldest first within the page; `next` null when the page reaches the first retained event).

import { parseId } from "./events.js";

/** The `before` cursor of the history the page does not hold for `endpoint`; null: none is left. */
export function olderThan(store, endpoint) {
  const bound = store.bound(endpoint);
  if (!bound || bound.exhausted) return null;
  // `before` is exclusive: an inclusive bound (an event the page does not hold yet) moves
  // one sequence number up so that event comes too.
  const [ms, seq] = parseId(bound.id);
  return bound.inclusive ? `${ms}-${seq + 1}` : bound.id;
}

export async function loadOlder(api, store, endpoint, want = 200) {
  const before = olderThan(store, endpoint);
  if (before === null) return [];
  const answer = await api.eventsBefore(endpoint, before, want);
  const found = answer.events.filter((event) => store.before(endpoint, event.id));
  if (found.length) store.lowerBound(endpoint, found[0].id);
  if (!answer.next) store.markExhausted(endpoint);
  return found;
}

/** Run `task` over `items`, at most `limit` at a time. */
export async function eachLimited(items, limit, task) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) await task(queue.shift());
  });
  await Promise.all(workers);
}
