// The filters search history too (docs/dashboard.md#filters): once typing pauses, each
// endpoint in view is asked for its matches older than what the page holds, at most
// PARALLEL requests at a time; matches go into the store (each once, by cursor), and the
// status line says how much was searched and where the bridge's scan budget stopped.

import { fill, h, plural } from "./dom.js";
import { eachLimited, olderThan } from "./history.js";

const DEBOUNCE_MS = 400; // after the list's own filtering: no request per keystroke
const PER_REQUEST = 200; // matches asked for at a time
const PARALLEL = 4;
const LINES = 8; // endpoints listed by name in the status; the rest are counted

export class HistorySearch {
  /** `add(events)` puts matches into the store and the list, and returns how many were new. */
  constructor(api, store, status, add) {
    this.api = api;
    this.store = store;
    this.status = status;
    this.add = add;
    this.run = null; // {filter, controller, rows: [{name, scanned, found, next, busy, error}]}
    this.timer = null;
  }

  /** A new filter: the running search stops at once, the new one starts when typing pauses. */
  set(filter, names) {
    clearTimeout(this.timer);
    this.stop();
    if (!this.api || !filter.searches) {
      this.render();
      return;
    }
    this.timer = setTimeout(() => this.start(filter, names), DEBOUNCE_MS);
  }

  stop() {
    clearTimeout(this.timer);
    if (this.run) this.run.controller.abort();
    this.run = null;
  }

  start(filter, names) {
    const rows = names.map((name) => {
      const next = olderThan(this.store, name);
      return { name, scanned: 0, found: 0, next, busy: false, error: null };
    });
    this.run = { filter, controller: new AbortController(), rows };
    this.more(rows.filter((row) => row.next !== null));
  }

  /** Search `rows` on from where each stopped. */
  async more(rows) {
    const run = this.run;
    // A button of a search already replaced (still shown while the next one waits to start).
    if (!run || !rows.every((row) => run.rows.includes(row))) return;
    for (const row of rows) {
      row.busy = true;
      row.error = null;
    }
    this.render();
    const terms = { type: run.filter.type, q: run.filter.q };
    await eachLimited(rows, PARALLEL, async (row) => {
      if (run !== this.run) return; // a newer query took over
      try {
        const answer = await this.api.searchBefore(row.name, row.next, terms, PER_REQUEST, run.controller.signal);
        if (run !== this.run) return; // answered for an older query: dropped
        row.scanned += answer.scanned || 0;
        row.found += answer.events.length;
        row.next = answer.next || null;
        this.add(answer.events);
      } catch (err) {
        if (run !== this.run) return;
        row.error = err.message;
      } finally {
        row.busy = false;
      }
      this.render();
    });
  }

  render() {
    const run = this.run;
    if (!run) {
      fill(this.status);
      this.status.hidden = true;
      return;
    }
    const rows = run.rows;
    const scanned = rows.reduce((sum, row) => sum + row.scanned, 0);
    const found = rows.reduce((sum, row) => sum + row.found, 0);
    const busy = rows.some((row) => row.busy);
    const open = rows.filter((row) => row.busy || row.next !== null || row.error);
    const lines = open.slice(0, LINES).map((row) => this.line(row));
    if (open.length > LINES) {
      const rest = open.slice(LINES).filter((row) => !row.busy && !row.error);
      lines.push(
        h(
          "li",
          {},
          `and ${plural(open.length - LINES, "more endpoint")}`,
          rest.length ? ["; ", h("button", { type: "button", class: "btn small", onclick: () => this.more(rest) }, "search them further")] : "",
        ),
      );
    }
    const where = rows.length === 1 ? rows[0].name : plural(rows.length, "endpoint");
    const total = busy
      ? `Searching the history of ${where}…`
      : `History searched: ${found.toLocaleString()} older ${found === 1 ? "match" : "matches"} in ${scanned.toLocaleString()} older events of ${where}` +
        (open.length ? "." : ", back to the first event each holds.");
    fill(this.status, h("p", {}, total), lines.length ? h("ul", {}, lines) : null);
    this.status.hidden = false;
  }

  line(row) {
    if (row.busy) return h("li", {}, `searching ${row.name}…`);
    if (row.error) {
      return h(
        "li",
        { class: "error" },
        `could not search ${row.name}: ${row.error}; `,
        h("button", { type: "button", class: "btn small", "aria-label": `Search ${row.name} again`, onclick: () => this.more([row]) }, "again"),
      );
    }
    // `next`: the bridge stopped at its scan budget or at a full page; the rest lies before it.
    return h(
      "li",
      {},
      `searched ${row.scanned.toLocaleString()} older events in ${row.name}; `,
      h("button", { type: "button", class: "btn small", "aria-label": `Search more of ${row.name}`, onclick: () => this.more([row]) }, "more…"),
    );
  }
}
