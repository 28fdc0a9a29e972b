// The history search's own matching (bridge/search.py), in the browser: live events are
// filtered here with the same answers the server gives for history. `event_type` is Python's
// fnmatchcase (case-sensitive, `*` `?` `[seq]` `[!seq]`) over the stored type (line breaks as
// spaces); `q` is a casefolded substring of a text body, or of one key or value of a JSON body
// (numbers as Python writes them). What JSON.parse cannot give back (1.0 or 1e3 as written,
// integers past 2^53) is the only place the two can differ: docs/dashboard.md.

/** fnmatch.translate of Python 3.11, as a RegExp over code points (`u`), `.` matching line breaks (`s`). */
export function globToRegExp(glob) {
  const pat = [...glob]; // code points, as Python indexes a str
  const STAR = {};
  const res = [];
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i];
    i += 1;
    if (c === "*") {
      if (!res.length || res[res.length - 1] !== STAR) res.push(STAR);
    } else if (c === "?") {
      res.push(".");
    } else if (c === "[") {
      let j = i;
      if (j < n && pat[j] === "!") j += 1;
      if (j < n && pat[j] === "]") j += 1;
      while (j < n && pat[j] !== "]") j += 1;
      if (j >= n) {
        res.push("\\[");
      } else {
        res.push(charClass(pat, i, j));
        i = j + 1;
      }
    } else {
      res.push(literal(c));
    }
  }
  // Python joins `*fixed*` as atomic lazy groups; for a whole-string test that matches
  // exactly what plain `.*` matches.
  const body = res.map((piece) => (piece === STAR ? ".*" : piece)).join("");
  return new RegExp(`^(?:${body})$`, "su");
}

/**
 * The class `pat[start:end]` as Python builds it: its `-` between two characters makes a
 * range unless it is the first character (after a `!`) or the last, a range whose ends are in
 * the wrong order is dropped, every other character is literal; then as a `u` RegExp class.
 */
function charClass(pat, start, end) {
  let i = start;
  let chunks;
  if (!pat.slice(start, end).includes("-")) {
    chunks = [pat.slice(start, end)];
  } else {
    chunks = [];
    let k = pat[i] === "!" ? i + 2 : i + 1;
    for (;;) {
      k = pat.indexOf("-", k);
      if (k < 0 || k >= end) break;
      chunks.push(pat.slice(i, k));
      i = k + 1;
      k += 3;
    }
    const chunk = pat.slice(i, end);
    if (chunk.length) chunks.push(chunk);
    else chunks[chunks.length - 1].push("-");
    for (let m = chunks.length - 1; m > 0; m -= 1) {
      const low = chunks[m - 1][chunks[m - 1].length - 1];
      if (low.codePointAt(0) > chunks[m][0].codePointAt(0)) {
        chunks[m - 1] = [...chunks[m - 1].slice(0, -1), ...chunks[m].slice(1)];
        chunks.splice(m, 1);
      }
    }
  }
  const chars = chunks.flat();
  if (!chars.length) return "(?!)"; // an empty class never matches
  if (chars.length === 1 && chars[0] === "!") return "."; // a negated empty one: any character
  const negate = chars[0] === "!";
  if (negate) chunks[0] = chunks[0].slice(1);
  const inside = chunks.map((chunk) => chunk.map((ch) => (/[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch)).join("")).join("-");
  return `[${negate ? "^" : ""}${inside}]`;
}

function literal(c) {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** The event type as the server stores and matches it: line breaks become spaces. */
export function storedType(eventType) {
  return (eventType || "").replace(/[\n\r]/g, " ");
}

// -- casefold ---------------------------------------------------------------------------

const folded = new Map();

/**
 * Python's str.casefold for one code point. Upper then lower gives the full case folding
 * (ß -> ss, ﬁ -> fi, ς -> σ) but for three cases: Cherokee folds to its capitals, dotless ı
 * has no folding, and capital ẞ folds to "ss".
 */
function foldChar(ch) {
  let out = folded.get(ch);
  if (out !== undefined) return out;
  const cp = ch.codePointAt(0);
  if ((cp >= 0x13a0 && cp <= 0x13fd) || (cp >= 0xab70 && cp <= 0xabbf)) out = ch.toUpperCase();
  else if (cp === 0x131) out = ch;
  else if (cp === 0x1e9e) out = "ss";
  else out = ch.toUpperCase().toLowerCase();
  folded.set(ch, out);
  return out;
}

/** Python's str.casefold (per code point, so no context-dependent final sigma). */
export function casefold(text) {
  return text.replace(/[A-Z]|[^\0-\x7f]/gu, foldChar);
}

// -- the body as the server searches it -----------------------------------------------------

/**
 * The texts `q` is looked for in (bridge/search.py `body_holds`), casefolded: a text body
 * whole; of a JSON body, each key and string value as sent, and each number or boolean as
 * Python writes it. A non-UTF-8 body (`null` in the envelope) holds none.
 */
export function bodyTexts(body) {
  const texts = [];
  const pending = [body];
  while (pending.length) {
    const item = pending.pop();
    if (item === null || item === undefined) continue;
    if (typeof item === "string") texts.push(casefold(item));
    else if (typeof item === "number") texts.push(pythonNumber(item));
    else if (typeof item === "boolean") texts.push(String(item));
    else if (Array.isArray(item)) for (const value of item) pending.push(value);
    else {
      for (const key of Object.keys(item)) {
        texts.push(casefold(key));
        pending.push(item[key]);
      }
    }
  }
  return texts;
}

/** Whether `body` holds the casefolded text `folded`, as the history search answers. */
export function bodyHolds(body, folded) {
  return bodyTexts(body).some((text) => text.includes(folded));
}

function pythonNumber(x) {
  // JSON.parse keeps no trace of `1.0` against `1`: an integral value was (almost always) an int.
  if (Number.isInteger(x)) return Number.isSafeInteger(x) ? String(x) : BigInt(x).toString();
  if (Math.abs(x) >= 1e-4) return String(x); // both languages: shortest digits, fixed notation
  // Below 1e-4 Python's repr switches to an exponent of at least two digits: 1e-05.
  const [mantissa, exponent] = x.toExponential().split("e");
  const sign = exponent[0] === "-" ? "-" : "+";
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, "").padStart(2, "0")}`;
}
