// A `dropped` frame (on_slow "drop_oldest"): the bridge dropped `count` queued events of a
// channel this page was too slow to take, `after` being the last one it handed on before
// them. The history holds them: GET /api/endpoints/<id>/events?since=<after>, page by page
// along `next`. What the socket also delivered is skipped by the store (one item per cursor).

const PAGE = 1000; // the API's largest page
const MAX_PAGES = 40; // bounded: the page itself keeps at most 20,000 events in memory

/** Fetch the events of `channel` after `after`; `add(event)` each, oldest first. Returns how many. */
export async function fillGap(api, channel, after, add) {
  let since = after;
  let fetched = 0;
  for (let page = 0; page < MAX_PAGES && since; page += 1) {
    const answer = await api.eventsSince(channel, since, PAGE);
    for (const event of answer.events || []) {
      add(event);
      fetched += 1;
    }
    since = answer.next;
  }
  return fetched;
}

/** One gap fetch at a time per channel, in the order the frames came: the list fills in order. */
export class GapFiller {
  constructor(api, add, done) {
    this.api = api;
    this.add = add;
    this.done = done; // (channel, count, error | null)
    this.queues = new Map(); // channel -> promise of the previous fetch
  }

  dropped({ channel, after, count }) {
    const previous = this.queues.get(channel) || Promise.resolve();
    const next = previous.then(async () => {
      try {
        await fillGap(this.api, channel, after, this.add);
        this.done(channel, count, null);
      } catch (err) {
        this.done(channel, count, err);
      }
    });
    this.queues.set(channel, next);
    return next;
  }
}
