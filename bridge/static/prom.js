// The Prometheus text format (version 0.0.4), as far as the dashboard reads it: one sample a
// line, `name{label="value",...} value [timestamp]`, label values with the escapes `\\`,
// `\"` and `\n`, values as Go writes floats (`+Inf`, `-Inf`, `NaN`, `1e-05`); `#` lines are
// comments. A line that is none of that is skipped, never a reason to drop the rest.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const UNESCAPE = { "\\": "\\", '"': '"', n: "\n" };

/** The samples of `text` whose metric name is `name`: [{labels, value}]. */
export function samples(text, name) {
  const out = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith(name)) continue; // cheap: most lines are other metrics
    const sample = parseLine(trimmed);
    if (sample && sample.name === name) out.push(sample);
  }
  return out;
}

export function parseLine(line) {
  const named = NAME.exec(line);
  if (!named) return null;
  let i = named[0].length;
  const labels = {};
  if (line[i] === "{") {
    i += 1;
    for (;;) {
      while (line[i] === " " || line[i] === ",") i += 1;
      if (line[i] === "}") {
        i += 1;
        break;
      }
      const key = LABEL.exec(line.slice(i));
      if (!key) return null;
      i += key[0].length;
      if (line[i] !== "=" || line[i + 1] !== '"') return null;
      i += 2;
      let value = "";
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\") {
          const escaped = UNESCAPE[line[i + 1]];
          value += escaped === undefined ? line[i] + (line[i + 1] || "") : escaped;
          i += 2;
        } else {
          value += line[i];
          i += 1;
        }
      }
      if (line[i] !== '"') return null; // unterminated
      i += 1;
      labels[key[0]] = value;
    }
  }
  const [token] = line.slice(i).trim().split(/\s+/);
  const value = number(token);
  return value === null ? null : { name: named[0], labels, value };
}

function number(token) {
  if (token === "+Inf" || token === "Inf") return Infinity;
  if (token === "-Inf") return -Infinity;
  if (token === "NaN") return NaN;
  if (!token || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) return null;
  return Number(token);
}
