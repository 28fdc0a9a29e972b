// The selected event: headers, body (collapsible JSON tree or text), the raw envelope,
// verification; copy as curl, download as a fixture, replay; and "how it works".

import { clock, copyButton, download, duration, fill, h } from "./dom.js";
import { badges, TOKEN_ONLY, tokenOnly } from "./list.js";
import { isolated, jsonText, visible } from "./text.js";
import { versus } from "./versus.js";

const TREE_LIMIT = 3000; // nodes; bigger bodies are shown as indented text
const TEXT_LIMIT = 1000000; // characters shown in a <pre>; the download has everything

// Headers the network stack sets again on its own, or that a proxy added on the way in.
const SKIP_IN_CURL = new Set([
  "host", "content-length", "connection", "transfer-encoding", "accept-encoding",
  "keep-alive", "upgrade", "te", "trailer", "expect",
]);

export class Detail {
  constructor(elements, context) {
    this.root = elements.root;
    this.how = elements.how;
    this.versus = elements.versus;
    this.context = context; // {api, webhookUrl(endpoint), socket, setBanner}
    this.item = null;
    this.tab = "body";
  }

  show(item) {
    this.item = item;
    this.render();
    this.renderHow();
  }

  clear() {
    this.item = null;
    fill(this.root, h("p", { class: "muted" }, "Select an event to see its headers, body and verification."));
    this.renderHow();
  }

  render() {
    const item = this.item;
    if (!item) return this.clear();
    const { event } = item;
    const tabs = [
      ["body", "Body"],
      ["headers", `Headers (${Object.keys(event.headers || {}).length})`],
      ["raw", "Raw"],
      ["verification", "Verification"],
    ];
    const tabList = h(
      "div",
      { class: "tabs", role: "tablist", "aria-label": "Event detail" },
      tabs.map(([key, label]) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `tab-${key}`,
            "aria-selected": this.tab === key ? "true" : "false",
            "aria-controls": "detail-panel",
            tabindex: this.tab === key ? "0" : "-1",
            onclick: () => this.switchTab(key),
            onkeydown: (e) => this.tabKey(e, tabs.map(([k]) => k)),
          },
          label,
        ),
      ),
    );
    const panel = h("div", { id: "detail-panel", role: "tabpanel", "aria-labelledby": `tab-${this.tab}`, tabindex: "0" }, this.panel(event));
    fill(
      this.root,
      h(
        "div",
        { class: "detail-head" },
        h("h3", { class: "detail-title" }, isolated(event.event_type || "(no type)")),
        h("div", { class: "detail-meta" }, h("code", {}, item.endpoint), " · ", event.provider || "", " · ", h("code", {}, item.id)),
        h("div", { class: "flags" }, badges(item)),
        traceLine(event),
      ),
      h("div", { class: "actions" }, this.actions(item)),
      tabList,
      panel,
    );
    return undefined;
  }

  switchTab(key) {
    this.tab = key;
    this.render();
    const tab = this.root.querySelector(`#tab-${key}`);
    if (tab) tab.focus();
  }

  tabKey(e, keys) {
    const index = keys.indexOf(this.tab);
    if (e.key === "ArrowRight") this.switchTab(keys[(index + 1) % keys.length]);
    else if (e.key === "ArrowLeft") this.switchTab(keys[(index + keys.length - 1) % keys.length]);
  }

  panel(event) {
    if (this.tab === "headers") return headersTable(event.headers || {});
    if (this.tab === "raw") return pre(JSON.stringify(event, null, 2), jsonText);
    if (this.tab === "verification") return verification(event);
    return body(event);
  }

  actions(item) {
    const { api } = this.context;
    const out = [
      copyButton("Copy as curl", () => this.curl(item), { title: "A curl command that sends this delivery again, with its original headers" }),
      h(
        "button",
        { type: "button", class: "btn small", onclick: () => download(`${item.endpoint}-${item.id}.json`, JSON.stringify(item.event, null, 2) + "\n") },
        "Download fixture",
      ),
    ];
    if (api && api.canReplay) {
      const status = h("span", { class: "action-status", role: "status" });
      const button = h("button", { type: "button", class: "btn small" }, "Replay");
      button.addEventListener("click", async () => {
        button.disabled = true;
        status.textContent = "Replaying…";
        try {
          const answer = await api.replay(item.endpoint, item.id);
          status.textContent = `Re-published as ${(answer && answer.id) || "a new event"}`;
        } catch (err) {
          status.textContent = `Replay failed: ${err.message}`;
        } finally {
          button.disabled = false;
        }
      });
      out.push(button, status);
    }
    return out;
  }

  async curl(item) {
    const { event } = item;
    const url = this.context.webhookUrl(item.endpoint);
    const lines = [`curl -sS -X POST ${shellQuote(url)}`];
    for (const [name, value] of Object.entries(event.headers || {})) {
      if (SKIP_IN_CURL.has(name.toLowerCase()) || name.toLowerCase().startsWith("x-forwarded-") || value === "***") continue;
      lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
    }
    const { api } = this.context;
    if (api && api.canRaw) {
      try {
        const bytes = await api.raw(item.endpoint, item.id);
        return pipeBytes(bytes, lines);
      } catch {
        // fall back to the envelope's body below
      }
    }
    if (event.body_base64) return pipeBase64(event.body_base64, lines);
    const text = typeof event.body === "string" ? event.body : JSON.stringify(event.body);
    lines.push(`  --data-binary ${shellQuote(text ?? "")}`);
    const note = typeof event.body === "string"
      ? ""
      : "# The body is re-serialised from parsed JSON: if the sender's bytes had other spacing, the signature will not match.\n";
    return note + lines.join(" \\\n");
  }

  // -- how it works ---------------------------------------------------------------------

  renderHow() {
    const item = this.item;
    const parts = [
      h(
        "p",
        { class: "explain" },
        "A webhook is a one-shot HTTP request that the provider's server sends to the bridge and that ends with the answer; " +
          "a WebSocket is one long-lived two-way connection over which the bridge pushes each stored event to this browser as it happens.",
      ),
    ];
    if (!item) {
      parts.push(h("p", { class: "muted" }, "Select an event to see its two legs."));
    } else {
      parts.push(h("div", { class: "legs" }, webhookLeg(item), socketLeg(item, this.context.socket)));
    }
    fill(this.how, parts);
    if (this.versus) fill(this.versus, versus(item, this.context.socket));
  }
}

/** The delivery's trace id, and where else it appears: how to find this event's log line. */
export const TRACE_NOTE = "the same id as the X-Bridge-Trace header of the bridge's answer to the sender and the trace= of its access-log line";

function traceLine(event) {
  if (typeof event.trace !== "string" || !event.trace) return null;
  return h("p", { class: "detail-trace" }, "trace ", h("code", { class: "trace-id" }, visible(event.trace)), h("span", { class: "muted" }, `: ${TRACE_NOTE}`));
}

function webhookLeg(item) {
  const { event } = item;
  const headers = event.headers || {};
  const agent = headers["user-agent"] || "";
  const type = headers["content-type"] || "";
  return h(
    "section",
    { class: "leg", "aria-label": "Leg 1: the webhook" },
    h("h4", {}, "1 · Webhook: one HTTP POST"),
    h("p", { class: "muted" }, `${event.provider || "sender"} → bridge, then the connection ends`),
    h(
      "pre",
      { class: "wire" },
      `POST /hooks/${item.endpoint} HTTP/1.1\n`,
      type ? ["Content-Type: ", visible(type), "\n"] : "",
      agent ? ["User-Agent: ", visible(agent), "\n"] : "",
      `… ${Object.keys(headers).length} headers, signed body\n\n`,
      "HTTP/1.1 202 Accepted  (after it was stored)",
      typeof event.trace === "string" ? ["\nX-Bridge-Trace: ", visible(event.trace)] : "",
    ),
    dl([
      ["received", event.received_at ? `${clock(item.receivedMs)} (${event.received_at})` : "unknown"],
      ["signature", signatureLine(event)],
    ]),
  );
}

function signatureLine(event) {
  if (tokenOnly(event)) return "no signature: a token matched (the body is not signed)";
  return event.verified ? `verified (${(event.verification || {}).scheme || event.provider})` : "not checked (unverified endpoint)";
}

function socketLeg(item, socket) {
  const pushed = item.via === "socket";
  const latency = item.arrivedAt - item.receivedMs;
  const rows = pushed
    ? [
        ["arrived", `${clock(item.arrivedAt)} (when the frame reached this page, by this browser's clock)`],
        ["path", `received ${clock(item.receivedMs)} → stored → pushed → in this browser ${clock(item.arrivedAt)}`],
        ["latency", `${duration(latency)}${latency > 5000 ? " (delivered on resume, after a reconnect)" : ""}`],
        ["frame", `${item.frameBytes.toLocaleString()} characters of JSON`],
      ]
    : [["arrived", `${clock(item.arrivedAt)}, fetched from history (GET /api/endpoints/${item.endpoint}/events), not pushed`]];
  if (socket && socket.openedAt && socket.state === "live") {
    rows.push(["socket", `open ${duration(Date.now() - socket.openedAt)}, ${socket.frames.toLocaleString()} frames since`]);
  }
  return h(
    "section",
    { class: "leg", "aria-label": "Leg 2: the WebSocket push" },
    h("h4", {}, "2 · WebSocket: a push down an open socket"),
    h("p", { class: "muted" }, "bridge → this browser, on the connection that stays open"),
    h("pre", { class: "wire" }, `← {"type": "event", "channel": "${item.endpoint}",\n   "event": {"id": "${item.id}", …}}`),
    dl(rows),
  );
}

function dl(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

/** A long text (JSON with `jsonText`, anything else with `visible`), truncated past TEXT_LIMIT. */
function pre(text, nodes = visible) {
  const long = text.length > TEXT_LIMIT;
  return h("pre", { class: "code" }, nodes(long ? text.slice(0, TEXT_LIMIT) : text), long ? "\n… (truncated: download the fixture for all of it)" : "");
}

function headersTable(headers) {
  const names = Object.keys(headers).sort();
  if (!names.length) return h("p", { class: "muted" }, "No headers.");
  return h(
    "table",
    { class: "headers" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Header"), h("th", { scope: "col" }, "Value"))),
    h("tbody", {}, names.map((name) => h("tr", {}, h("th", { scope: "row" }, isolated(name)), h("td", {}, isolated(headers[name]))))),
  );
}

function verification(event) {
  const v = event.verification || {};
  return dl([
    ["result", verificationResult(event)],
    ["scheme", v.scheme || "n/a"],
    ["secret id", v.secret_id || "n/a"],
    ["provider", event.provider || "n/a"],
    ["event id", isolated(event.event_id || "n/a")],
    ["event type", isolated(event.event_type || "n/a")],
    ["cursor", event.id],
    ["trace", typeof event.trace === "string" ? [h("code", {}, visible(event.trace)), ` (${TRACE_NOTE})`] : "n/a"],
    ["received at", event.received_at || "n/a"],
    ["replay of", event.replay_of || "no"],
  ]);
}

function verificationResult(event) {
  if (tokenOnly(event)) return TOKEN_ONLY;
  return event.verified ? "verified: the signature matched one of the endpoint's secrets" : "UNVERIFIED: this endpoint checks no signature";
}

function body(event) {
  if (event.body_base64) {
    return h("div", {}, h("p", { class: "muted" }, "The body is not UTF-8; shown as base64."), pre(event.body_base64));
  }
  if (typeof event.body === "string") return pre(event.body);
  if (event.body === null || event.body === undefined) return h("p", { class: "muted" }, "Empty body.");
  const budget = { left: TREE_LIMIT };
  const tree = jsonNode(null, event.body, budget, 0);
  if (budget.left < 0) return pre(JSON.stringify(event.body, null, 2), jsonText);
  return h("div", { class: "json" }, tree);
}

/** A collapsible tree made of <details>; every key and value goes in as text. */
function jsonNode(key, value, budget, depth) {
  budget.left -= 1;
  const label = key === null ? null : h("span", { class: "j-key" }, jsonText(JSON.stringify(key)), ": ");
  if (value !== null && typeof value === "object") {
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
    const open = isArray ? "[" : "{";
    const close = isArray ? "]" : "}";
    if (!entries.length) return h("div", { class: "j-leaf" }, label, h("span", { class: "j-punct" }, open + close));
    const children = [];
    for (const [k, v] of entries) {
      if (budget.left < 0) break;
      children.push(jsonNode(isArray ? null : k, v, budget, depth + 1));
    }
    return h(
      "details",
      { class: "j-node", open: depth < 3 },
      h("summary", {}, label, h("span", { class: "j-punct" }, open), h("span", { class: "j-count" }, ` ${entries.length} ${isArray ? "items" : "keys"} `), h("span", { class: "j-punct" }, close)),
      h("div", { class: "j-children" }, children),
    );
  }
  const kind = value === null ? "null" : typeof value;
  return h("div", { class: "j-leaf" }, label, h("span", { class: `j-${kind}` }, jsonText(JSON.stringify(value))));
}

export function shellQuote(text) {
  return `'${String(text).replace(/'/g, "'\\''")}'`;
}

function pipeBase64(b64, lines) {
  lines.push("  --data-binary @-");
  return `printf '%s' ${shellQuote(b64)} | base64 -d | \\\n${lines.join(" \\\n")}`;
}

function pipeBytes(bytes, lines) {
  // Text survives single quotes byte for byte (newlines included); anything else goes as base64.
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    text = null;
  }
  if (text !== null && !text.includes("\0")) {
    lines.push(`  --data-binary ${shellQuote(text)}`);
    return lines.join(" \\\n");
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return pipeBase64(btoa(binary), lines);
}
