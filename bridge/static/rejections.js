// "Rejected deliveries" in an endpoint's card: the signature debugger of
// GET /api/endpoints/<id>/rejections. Admin token only (the endpoints panel is).
// Every rejected delivery is untrusted (its body, its headers, even the hints quote header
// names a sender chose): all of it goes in as text, through dom.js.

import { clock, fill, h, plural } from "./dom.js";
import { visible } from "./text.js";

const KEPT = 50; // as many as the bridge keeps per endpoint

export const EMPTY_TEXT = "No rejected deliveries (the bridge keeps the last 50 for a week)";

let serial = 0; // unique element ids for aria-controls / aria-labelledby

export class Rejections {
  constructor(api) {
    this.api = api;
    this.cache = new Map(); // endpoint id -> {entries, at}
    this.views = new Map(); // endpoint id -> the elements of its (latest rendered) section
    this.requests = new Map(); // endpoint id -> sequence number of the newest request
    this.expanded = new Set(); // rejection ids whose details are shown
    this.loading = new Set(); // endpoint ids whose list a live rejection is fetching
  }

  /** The section for an endpoint's card; shows what was last fetched, if anything. */
  section(endpointId) {
    const n = ++serial;
    const titleId = `rejections-title-${n}`;
    const refresh = h(
      "button",
      { type: "button", class: "btn small", "aria-label": `Refresh rejected deliveries of ${endpointId}` },
      "Refresh",
    );
    const status = h("p", { class: "hint rej-status", role: "status", "aria-live": "polite" });
    const list = h("ol", { class: "rejection-list", "aria-labelledby": titleId });
    const root = h(
      "section",
      { class: "rejections", "aria-labelledby": titleId, dataset: { endpoint: endpointId } },
      h("div", { class: "rej-head" }, h("h3", { class: "kv-label", id: titleId }, "Rejected deliveries"), refresh),
      status,
      list,
    );
    refresh.addEventListener("click", () => this.load(endpointId));
    const view = { root, status, list, refresh };
    this.views.set(endpointId, view);
    const cached = this.cache.get(endpointId);
    if (cached) this.renderEntries(view, cached);
    return root;
  }

  /** Fetch the endpoint's rejections and show them in its section (the newest answer wins). */
  async load(endpointId) {
    const seq = (this.requests.get(endpointId) || 0) + 1;
    this.requests.set(endpointId, seq);
    const before = this.views.get(endpointId);
    if (before) {
      before.list.setAttribute("aria-busy", "true");
      before.status.textContent = this.cache.has(endpointId) ? "Refreshing…" : "Loading…";
    }
    let answer = null;
    let failure = null;
    try {
      answer = await this.api.rejections(endpointId);
    } catch (err) {
      failure = err;
    }
    if (this.requests.get(endpointId) !== seq) return; // a newer request is on its way
    const view = this.views.get(endpointId);
    if (failure) {
      if (view) {
        view.list.removeAttribute("aria-busy");
        view.status.textContent = `Could not load rejected deliveries: ${failure.message}`;
      }
      return;
    }
    const entries = newestFirst(Array.isArray(answer) ? answer : []);
    const cached = { entries, at: Date.now() };
    this.cache.set(endpointId, cached);
    if (view) this.renderEntries(view, cached);
  }

  /** A `rejected` frame: the delivery refused this instant goes on top of what is shown. */
  live(endpointId, rejection) {
    if (!rejection || typeof rejection !== "object") return;
    const cached = this.cache.get(endpointId);
    const view = this.views.get(endpointId);
    if (!cached) {
      // Never fetched: an unfolded card fetches the list (this one included), once at a time,
      // so a flood of forgeries costs one request in flight; a folded one fetches on unfolding.
      const card = view && view.root.closest("details");
      if (card && card.open && !this.loading.has(endpointId)) {
        this.loading.add(endpointId);
        this.load(endpointId).finally(() => this.loading.delete(endpointId));
      }
      return;
    }
    const key = rejection.id;
    const entries = [rejection, ...cached.entries.filter((e) => key === undefined || e.id !== key)].slice(0, KEPT);
    const next = { entries, at: Date.now() };
    this.cache.set(endpointId, next);
    if (view && view.root.isConnected) this.renderEntries(view, next);
  }

  renderEntries(view, { entries, at }) {
    view.list.removeAttribute("aria-busy");
    view.status.textContent = entries.length
      ? `${entries.length} rejected ${entries.length === 1 ? "delivery" : "deliveries"}, newest first (checked at ${clock(at).slice(0, 8)})`
      : "";
    fill(view.list, entries.length ? entries.map((entry) => this.entry(entry)) : h("li", { class: "empty" }, EMPTY_TEXT));
  }

  entry(entry) {
    const diagnosis = entry.diagnosis || {};
    const tried = Array.isArray(diagnosis.secrets_tried) ? diagnosis.secrets_tried.map(String) : [];
    const hints = Array.isArray(diagnosis.hints) ? diagnosis.hints.map(String) : [];
    const reason = String(entry.reason || diagnosis.reason || "rejected");
    const when = entry.received_at ? String(entry.received_at) : "";
    const moreId = `rejection-more-${++serial}`;
    const key = String(entry.id || `${when}|${reason}|${entry.body_bytes}`);
    const open = this.expanded.has(key);
    const more = h("div", { class: "rej-more", id: moreId, hidden: !open }, signatureTable(diagnosis), work(diagnosis.work), bodyPreview(entry));
    const toggle = h(
      "button",
      { type: "button", class: "btn small", "aria-expanded": String(open), "aria-controls": moreId, "aria-label": `Details of the rejection at ${stamp(when)}` },
      open ? "Hide details" : "Details",
    );
    toggle.addEventListener("click", () => {
      more.hidden = !more.hidden;
      toggle.setAttribute("aria-expanded", String(!more.hidden));
      toggle.textContent = more.hidden ? "Details" : "Hide details";
      if (more.hidden) this.expanded.delete(key);
      else this.expanded.add(key);
    });
    return h(
      "li",
      { class: "rejection", dataset: { rejection: key } },
      h(
        "div",
        { class: "rej-line" },
        h("time", { class: "rej-time", datetime: when, title: when }, stamp(when)),
        h("span", { class: "badge danger rej-reason" }, reason),
      ),
      h(
        "dl",
        { class: "facts" },
        diagnosis.detail ? [h("dt", {}, "Detail"), h("dd", { class: "rej-detail" }, String(diagnosis.detail))] : null,
        h("dt", {}, "Body"),
        h("dd", { class: "rej-size" }, Number.isFinite(entry.body_bytes) ? plural(entry.body_bytes, "byte") : "unknown"),
        h("dt", {}, "Secrets tried"),
        h("dd", { class: "rej-secrets" }, tried.length ? tried.join(", ") : "none"),
      ),
      firstDifference(diagnosis.first_difference),
      hints.length ? h("ul", { class: "rej-hints", "aria-label": "Hints" }, hints.map((hint) => h("li", {}, hint))) : null,
      toggle,
      more,
    );
  }
}

function newestFirst(entries) {
  const time = (e) => {
    const t = Date.parse(e && e.received_at);
    return Number.isFinite(t) ? t : -Infinity;
  };
  // Stable: entries of the same second keep the bridge's order (already newest first).
  return entries.filter((e) => e && typeof e === "object").sort((a, b) => time(b) - time(a));
}

const pad = (n) => String(n).padStart(2, "0");

/** 2024-05-01 14:03:07 in local time (rejections are kept a week, so the date matters). */
function stamp(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso || "unknown time";
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t).slice(0, 8)}`;
}

/** The debugger's shape of a signature header: "prefix 'sha256=', hex (32 bytes)". */
function say(shape) {
  const first = shape && Array.isArray(shape.first) ? shape.first : [];
  if (!first.length) return "empty";
  const one = first[0] || {};
  const prefix = one.prefix ? `prefix '${one.prefix}', ` : "no prefix, ";
  const size = "bytes" in one ? plural(Number(one.bytes), "byte") : `${Number(one.length) || 0} chars`;
  const entries = Number(shape.entries) > 1 ? `; ${shape.entries} entries` : "";
  return `${prefix}${one.encoding || "unknown"} (${size})${entries}`;
}

function signatureTable(diagnosis) {
  const headers = diagnosis.signature_headers && typeof diagnosis.signature_headers === "object" ? diagnosis.signature_headers : {};
  const names = Object.keys(headers).sort();
  const missing = Array.isArray(diagnosis.missing_headers) ? diagnosis.missing_headers.map(String) : [];
  return [
    h("div", { class: "kv-label" }, "Signature: received vs expected"),
    names.length
      ? h(
          "table",
          { class: "headers rej-shapes" },
          h("caption", { class: "offscreen" }, "Signature headers: the shape received next to the shape expected"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Header"), h("th", { scope: "col" }, "Received"), h("th", { scope: "col" }, "Expected"))),
          h(
            "tbody",
            {},
            names.map((name) => {
              const pair = headers[name] || {};
              const differs = say(pair.received) !== say(pair.expected);
              return h(
                "tr",
                { class: differs ? "differs" : null },
                h("th", { scope: "row" }, name),
                h("td", {}, say(pair.received)),
                h("td", {}, say(pair.expected)),
              );
            }),
          ),
        )
      : h("p", { class: "hint" }, "No signature header to compare."),
    missing.length ? h("p", { class: "hint" }, `Missing: ${missing.join(", ")}`) : null,
  ];
}

/** The debugger's verdict: the most specific difference between what came and what was expected. */
function firstDifference(found) {
  if (!found || typeof found !== "object") return null;
  return h(
    "p",
    { class: "rej-first" },
    h("span", { class: "kv-label" }, "First difference: "),
    h("code", { class: "rej-first-kind" }, String(found.kind || "unknown")),
    " ",
    h("span", { class: "rej-first-detail" }, visible(String(found.detail || ""))),
  );
}

/** The debugger's work: what the provider signs, this request's signed string, and the first
 * 8 characters of each signature expected (per live secret) next to those received. */
function work(done) {
  if (!done || typeof done !== "object") return null;
  const expected = done.expected && typeof done.expected === "object" ? Object.entries(done.expected) : [];
  const received = Array.isArray(done.received) ? done.received.map(String) : [];
  return [
    h("div", { class: "kv-label" }, "The debugger's work"),
    h(
      "dl",
      { class: "facts rej-work" },
      h("dt", {}, "Signs"),
      h("dd", {}, h("code", { class: "rej-template" }, visible(String(done.template || "")))),
      h("dt", {}, "This request"),
      h("dd", {}, h("code", { class: "rej-signed" }, visible(String(done.signed || "")))),
      h("dt", {}, "Expected"),
      h(
        "dd",
        { class: "rej-expected" },
        expected.length
          ? expected.map(([secret, start], i) => [i ? ", " : "", `${secret}: `, h("code", {}, visible(String(start)))])
          : "none: only the sender can sign (a private key)",
      ),
      h("dt", {}, "Received"),
      h("dd", { class: "rej-received" }, received.length ? received.map((start, i) => [i ? ", " : "", h("code", {}, visible(start))]) : "none"),
    ),
  ];
}

function bodyPreview(entry) {
  const preview = typeof entry.body_preview === "string" ? entry.body_preview : "";
  const shown = new TextEncoder().encode(preview).length;
  const total = Number(entry.body_bytes);
  const label = Number.isFinite(total) && total > shown ? `Body preview (the start of ${plural(total, "byte")})` : "Body";
  return [
    h("div", { class: "kv-label" }, label),
    preview ? h("pre", { class: "code rej-body", tabindex: "0", "aria-label": label }, visible(preview)) : h("p", { class: "hint" }, "(empty body)"),
  ];
}
