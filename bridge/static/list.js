// The event list: newest first, at most PAGE rows in the DOM, paged through memory, with
// pause (events are kept and counted, the list holds still) and "load older" from history.

import { clock, fill, h, plural } from "./dom.js";
import { Filter } from "./events.js";
import { isolatedWrapping } from "./text.js";

export const PAGE = 500;

// A token scheme (GitLab's X-Gitlab-Token) compares a shared secret sent as is: it proves who
// sent the request, not what the body said, so it must not look like a signature.
export const TOKEN_ONLY =
  "token: the sender proved it knows the secret; the body is not signed, so a changed body would pass";

export function tokenOnly(event) {
  return Boolean(event.verified && event.verification && event.verification.scheme === "token");
}

export function badges(item) {
  const { event } = item;
  const out = [];
  if (tokenOnly(event)) {
    const secret = event.verification.secret_id ? ` (secret ${event.verification.secret_id})` : "";
    out.push(h("span", { class: "badge token", title: TOKEN_ONLY + secret }, "token"));
  } else if (event.verified) {
    out.push(h("span", { class: "badge ok", title: verificationTitle(event) }, "verified"));
  } else {
    out.push(
      h("span", { class: "badge danger", title: "No signature was checked: anyone who knows the URL can post here" }, "unverified"),
    );
  }
  if (event.replay_of) out.push(h("span", { class: "badge info", title: `replay of ${event.replay_of}` }, "replay"));
  if (item.duplicateOf) {
    out.push(h("span", { class: "badge warn", title: `same provider event id as ${item.duplicateOf}` }, "duplicate"));
  }
  if (item.deleted) {
    const title = "Its endpoint was deleted on the bridge since: this event is no longer stored there";
    out.push(h("span", { class: "badge neutral deleted", title }, "deleted"));
  }
  return out;
}

function verificationTitle(event) {
  const v = event.verification || {};
  return `signature checked: ${v.scheme || event.provider}${v.secret_id ? `, secret ${v.secret_id}` : ""}`;
}

export class EventList {
  constructor(store, elements, onSelect, signal) {
    this.store = store;
    this.list = elements.list;
    this.summary = elements.summary;
    this.pager = elements.pager;
    this.notice = elements.notice;
    this.onSelect = onSelect;
    this.filter = new Filter();
    this.offset = 0;
    this.paused = false;
    this.held = 0; // arrived while paused or while looking at an older page
    this.total = 0;
    this.selectedKey = null;
    this.canLoadHistory = false;
    this.loadHistory = null; // async (filter) => {added: events added, done: no older ones left}
    this.loading = false;
    this.emptyText = "Waiting for events.";
    this.list.addEventListener("keydown", (e) => this.keydown(e), { signal });
    this.list.addEventListener(
      "click",
      (e) => {
        const li = e.target.closest("li");
        if (li && li.item && this.list.contains(li)) this.select(li.item);
      },
      { signal },
    );
  }

  setFilter(filter) {
    this.filter = filter;
    this.offset = 0;
    this.historyDone = false;
    this.render();
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) {
      this.held = 0;
      this.render();
    } else {
      this.renderNotice();
    }
  }

  /** New items arrived (already in the store). */
  added(items) {
    if (!items.length) return;
    const matching = items.filter((item) => this.filter.matches(item));
    if (this.paused || this.offset > 0) {
      this.held += matching.length;
      if (this.offset > 0) this.offset += matching.length; // the page keeps showing the same rows
      this.total += matching.length;
      this.renderNotice();
      this.renderSummary();
      return;
    }
    const first = this.list.firstElementChild;
    const top = first && first.item;
    const allNewer = matching.every((item) => !top || compareItems(item, top) > 0);
    if (!allNewer || matching.length > PAGE) {
      this.render();
      return;
    }
    if (!matching.length) return;
    const empty = this.list.querySelector("li.empty");
    if (empty) empty.remove();
    matching.sort(compareItems);
    const batch = document.createDocumentFragment();
    for (let i = matching.length - 1; i >= 0; i -= 1) batch.appendChild(this.row(matching[i], true));
    this.list.insertBefore(batch, this.list.firstChild);
    const extra = this.list.childElementCount - PAGE;
    if (extra > 0) {
      const tail = document.createRange();
      tail.setStartBefore(this.list.children[PAGE]);
      tail.setEndAfter(this.list.lastElementChild);
      tail.deleteContents();
    }
    this.total += matching.length;
    this.renderSummary();
  }

  /** Rebuild the visible page from the store. */
  render() {
    const { items, total } = this.store.window(this.filter, this.offset, PAGE);
    this.total = total;
    const rows = items.map((item) => this.row(item, false));
    if (!rows.length) {
      const text = this.store.size && !this.filter.empty ? "No event matches the filter." : this.emptyText;
      fill(this.list, h("li", { class: "empty" }, text));
    } else {
      fill(this.list, rows);
    }
    this.renderSummary();
    this.renderNotice();
  }

  row(item, fresh) {
    const { event } = item;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "row";
    button.setAttribute("aria-pressed", item.key === this.selectedKey ? "true" : "false");
    button.dataset.key = item.key;
    button.dataset.cursor = item.id;
    button.dataset.eventId = event.event_id || "";
    button.dataset.endpoint = item.endpoint;
    if (item.deleted) button.dataset.deleted = "true";
    button.append(
      cell("c-time", clock(item.receivedMs), event.received_at),
      cell("c-endpoint", item.endpoint, item.endpoint),
      cell("c-provider", event.provider || ""),
      h("span", { class: "c-type" }, isolatedWrapping(event.event_type || "(no type)")),
      h("span", { class: "c-flags" }, badges(item)),
    );
    const li = document.createElement("li");
    if (fresh) li.className = "fresh";
    li.appendChild(button);
    li.item = item;
    return li;
  }

  select(item) {
    this.selectedKey = item.key;
    for (const button of this.list.querySelectorAll('button.row[aria-pressed="true"]')) {
      button.setAttribute("aria-pressed", "false");
    }
    const li = [...this.list.children].find((child) => child.item === item);
    if (li) li.firstChild.setAttribute("aria-pressed", "true");
    this.onSelect(item);
  }

  keydown(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const li = e.target.closest("li");
    if (!li) return;
    const next = e.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
    if (next && next.item) {
      e.preventDefault();
      next.firstChild.focus();
      this.select(next.item);
    }
  }

  renderSummary() {
    const shown = this.list.querySelectorAll("button.row").length;
    const from = shown ? this.offset + 1 : 0;
    const memory = this.store.size;
    const what = this.filter.empty ? "events" : "matching events";
    fill(
      this.summary,
      shown
        ? `Showing ${from.toLocaleString()}–${(this.offset + shown).toLocaleString()} of ${this.total.toLocaleString()} ${what}`
        : `0 ${what}`,
      memory !== this.total ? ` (${plural(memory, "event")} in memory)` : "",
    );
    const buttons = [];
    if (this.offset > 0) {
      buttons.push(h("button", { type: "button", class: "btn small", onclick: () => this.page(-1) }, "Newer"));
    }
    if (this.offset + PAGE < this.total) {
      buttons.push(h("button", { type: "button", class: "btn small", onclick: () => this.page(1) }, "Older"));
    } else if (this.canLoadHistory && this.loadHistory) {
      const label = this.loading ? "Loading…" : this.historyDone ? "No older events in history" : "Load older from history";
      buttons.push(
        h("button", { type: "button", class: "btn small", disabled: this.loading || this.historyDone, onclick: () => this.older() }, label),
      );
    }
    fill(this.pager, buttons);
  }

  renderNotice() {
    const parts = [];
    if (this.paused) {
      parts.push(h("span", {}, `Paused: ${plural(this.held, "new event")} held, nothing dropped.`));
    } else if (this.offset > 0 && this.held) {
      parts.push(h("span", {}, `${plural(this.held, "newer event")} above this page.`));
    }
    if (this.offset > 0) {
      parts.push(h("button", { type: "button", class: "btn small", onclick: () => this.newest() }, "Back to newest"));
    }
    fill(this.notice, parts);
    this.notice.hidden = parts.length === 0;
  }

  page(direction) {
    this.offset = Math.max(0, this.offset + direction * PAGE);
    if (this.offset === 0) this.held = 0;
    this.render();
    this.list.scrollTop = 0;
  }

  newest() {
    this.offset = 0;
    this.held = 0;
    this.render();
  }

  async older() {
    if (this.loading) return;
    this.loading = true;
    this.renderSummary();
    let added = 0;
    try {
      const loaded = await this.loadHistory(this.filter);
      added = loaded.added;
      this.historyDone = added === 0 || loaded.done;
    } finally {
      this.loading = false;
    }
    // Stay on the page that shows what was just loaded.
    const before = this.offset;
    this.render();
    if (added && this.offset + PAGE < this.total && before === this.offset && this.list.childElementCount >= PAGE) {
      this.page(1);
    }
  }
}

function cell(className, text, title) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

function compareItems(a, b) {
  return a.ms - b.ms || a.seq - b.seq || (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0);
}
