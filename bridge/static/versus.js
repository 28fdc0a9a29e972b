// "Webhook vs WebSocket": the selected event followed through both legs, side by side, with
// what each side knows (docs/webhooks-vs-websockets.md tells the same story in prose). Every
// value from the event goes in as text.

import { clock, duration, h } from "./dom.js";
import { tokenOnly } from "./list.js";
import { visible } from "./text.js";

export const DOC = "docs/webhooks-vs-websockets.md";

/** The table for `item` (null: a prompt), `socket` the live connection it came down. */
export function versus(item, socket) {
  const intro = h(
    "p",
    { class: "explain" },
    "One event, two legs: the provider's one-shot HTTP request to the bridge, and the frame the bridge pushed down this page's open WebSocket. The whole story, with polling and Server-Sent Events, is in ",
    h("code", { class: "doc-ref" }, DOC),
    " in the bridge's source.",
  );
  if (!item) return [intro, h("p", { class: "muted" }, "Select an event to follow it through both legs.")];
  const { event } = item;
  const headers = event.headers || {};
  const pushed = item.via === "socket";
  const open = socket && socket.openedAt && socket.state === "live";
  const size = Number(headers["content-length"]);
  const rows = [
    [
      "who starts it",
      [`${event.provider || "the sender"}'s server`, headers["user-agent"] ? [" (", visible(headers["user-agent"]), ")"] : "", ", for this one event"],
      open ? `this browser, once, when the page loaded (open ${duration(Date.now() - socket.openedAt)})` : "this browser, once, when the page loaded",
    ],
    [
      "the connection",
      `one POST /hooks/${item.endpoint}, closed after its 202`,
      pushed ? "stays open: this event was one frame on it, pushed without being asked for" : "this event was fetched from the history (GET), not pushed",
    ],
    [
      "proof",
      proof(event),
      "the token, shown once in the auth frame; the frame itself carries no signature, only the result (verified)",
    ],
    [
      "size",
      `${Number.isFinite(size) ? `${size.toLocaleString()} bytes of body` : "the body"} and ${Object.keys(headers).length} headers`,
      pushed ? `${item.frameBytes.toLocaleString()} characters of JSON in one frame` : "n/a (not pushed)",
    ],
    [
      "when",
      `received ${clock(item.receivedMs)}`,
      pushed ? `arrived ${clock(item.arrivedAt)}, ${duration(item.arrivedAt - item.receivedMs)} later` : `fetched ${clock(item.arrivedAt)}`,
    ],
    [
      "its ids",
      ["event id ", h("code", {}, visible(event.event_id || "none")), "; trace ", h("code", { class: "versus-trace" }, visible(event.trace || "none")), " (the X-Bridge-Trace of the 202)"],
      ["cursor ", h("code", { class: "versus-cursor" }, item.id), ": where this page resumes (since) after a reconnect; the same trace"],
    ],
    [
      "knows",
      "the URL and the secret; it never learns who watches",
      "the token and the cursor; never the endpoint's secret",
    ],
    [
      "receiver down",
      "the provider gets an error and retries or not, by its own rules",
      "the page reconnects and resumes from the cursor: nothing lost while the bridge keeps the history",
    ],
  ];
  return [
    intro,
    h(
      "table",
      { class: "versus", "aria-label": `Event ${item.id} of ${item.endpoint}: the webhook and the WebSocket legs` },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), h("th", { scope: "col" }, "Webhook: provider → bridge"), h("th", { scope: "col" }, "WebSocket: bridge → this page"))),
      h("tbody", {}, rows.map(([label, hook, ws]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, hook), h("td", {}, ws)))),
    ),
  ];
}

function proof(event) {
  if (tokenOnly(event)) return "a token the sender knows (the body is not signed)";
  const v = event.verification || {};
  if (!event.verified) return "none: this endpoint checks nothing";
  return `a signature over the raw bytes (${v.scheme || event.provider}), matched by secret ${v.secret_id || "?"}`;
}
