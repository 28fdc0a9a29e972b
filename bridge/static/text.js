// Untrusted strings, shown so that what you read is what was sent. Control characters and
// bidi controls are invisible, and a U+202E (right-to-left override) would show
// "a\u202Eexe.live" as "aevil.exe": each is replaced by a visible escape such as \u202E, in
// its own style (span.ctl), and each value is isolated (<bdi>), so the direction of its text
// cannot reorder what comes after it. Everything stays text nodes, never markup (dom.js).

import { h } from "./dom.js";

// C0 (but tab, line feed, carriage return: the whitespace a text shows as such), DEL and C1,
// and the bidi controls: the marks (U+061C, U+200E, U+200F), the embeddings and overrides
// (U+202A-202E) and the isolates (U+2066-2069).
const HIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

const BIDI_NAMES = {
  0x061c: "arabic letter mark",
  0x200e: "left-to-right mark",
  0x200f: "right-to-left mark",
  0x202a: "left-to-right embedding",
  0x202b: "right-to-left embedding",
  0x202c: "pop directional formatting",
  0x202d: "left-to-right override",
  0x202e: "right-to-left override",
  0x2066: "left-to-right isolate",
  0x2067: "right-to-left isolate",
  0x2068: "first strong isolate",
  0x2069: "pop directional isolate",
};

// A hostile body can be nothing but control characters: past this many marks in one view,
// the escapes go on as plain text (still visible, just not styled), keeping the DOM small.
const MARKS_LIMIT = 5000;

export function escapeOf(code) {
  return `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

function mark(code, budget) {
  const text = escapeOf(code);
  if (budget.left <= 0) return text;
  budget.left -= 1;
  const surrogate = code >= 0xd800 && code <= 0xdfff;
  const kind = BIDI_NAMES[code] ? `bidi control: ${BIDI_NAMES[code]}` : surrogate ? "lone surrogate" : "control character";
  return h("span", { class: "ctl", title: `U+${text.slice(2)} (${kind})` }, text);
}

/** `text` as nodes, each hidden character replaced by its visible escape. */
export function visible(value, budget = { left: MARKS_LIMIT }) {
  const text = String(value);
  const out = [];
  let plain = "";
  let last = 0;
  for (const found of text.matchAll(HIDDEN)) {
    plain += text.slice(last, found.index);
    last = found.index + 1;
    const marked = mark(found[0].charCodeAt(0), budget);
    if (typeof marked === "string") {
      plain += marked;
    } else {
      if (plain) out.push(plain);
      plain = "";
      out.push(marked);
    }
  }
  plain += text.slice(last);
  if (plain) out.push(plain);
  return out;
}

/** One value: visible, and isolated from the text around it. */
export function isolated(text, budget) {
  return h("bdi", {}, visible(text, budget));
}

/** `isolated`, allowed to wrap after a `.` or `_` first (an event type, between its words). */
export function isolatedWrapping(text) {
  const budget = { left: MARKS_LIMIT };
  const parts = String(text).split(/(?<=[._])/);
  return h("bdi", {}, parts.map((part, i) => [i ? h("wbr") : [], visible(part, budget)]));
}

// A JSON string token as JSON.stringify writes it, and inside it the \uXXXX escapes it uses
// for C0 controls and lone surrogates (the rest it leaves as they are: HIDDEN finds those).
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/g;
const ESCAPE = /\\(?:u[0-9a-fA-F]{4}|.)/g;

/** A JSON text (from JSON.stringify) as nodes: each string's content visible and isolated. */
export function jsonText(json, budget = { left: MARKS_LIMIT }) {
  const out = [];
  let last = 0;
  for (const token of json.matchAll(STRING_TOKEN)) {
    out.push(...visible(json.slice(last, token.index), budget));
    last = token.index + token[0].length;
    const inner = token[0].slice(1, -1);
    // Plain ASCII can neither hide nor reorder anything: no element for it (big bodies).
    if (/^[\x20-\x5b\x5d-\x7e]*$/.test(inner)) {
      out.push(token[0]);
      continue;
    }
    out.push('"', h("bdi", {}, escapes(inner, budget)), '"');
  }
  out.push(...visible(json.slice(last), budget));
  return out;
}

function escapes(inner, budget) {
  const out = [];
  let last = 0;
  for (const found of inner.matchAll(ESCAPE)) {
    if (found[0].length !== 6) continue; // \n, \", \\ ...: ordinary
    out.push(...visible(inner.slice(last, found.index), budget));
    last = found.index + found[0].length;
    out.push(mark(parseInt(found[0].slice(2), 16), budget));
  }
  out.push(...visible(inner.slice(last), budget));
  return out;
}
