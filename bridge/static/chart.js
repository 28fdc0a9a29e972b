// Bars on a canvas, events per minute and deliveries per latency bucket (no styles or
// markup from data: just rectangles).
// Size and colours are read once and on resize, never per draw: reading layout or computed
// style right after the list changed would force a synchronous layout of the whole page.

const seen = new WeakMap(); // canvas -> {width, height, colours}

function measure(canvas) {
  let info = seen.get(canvas);
  if (info) return info;
  const style = getComputedStyle(canvas);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  info = {
    width: canvas.clientWidth || canvas.width,
    height: canvas.clientHeight || canvas.height,
    bar: read("--bar", "#93b4f5"),
    now: read("--bar-now", "#1d4ed8"),
    grid: read("--grid", "#d8dde5"),
    text: read("--chart-text", "#4b5563"),
  };
  seen.set(canvas, info);
  if (window.ResizeObserver) {
    new ResizeObserver(([entry]) => {
      info.width = entry.contentRect.width || info.width;
      info.height = entry.contentRect.height || info.height;
    }).observe(canvas);
  }
  return info;
}

const LABEL_HEIGHT = 14;

/** The canvas sized to its box, cleared, with a base line: {ctx, info, width, plot}, or null. */
function prepare(canvas) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  const info = measure(canvas);
  const { width, height } = info;
  if (!width || !height) return null;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const plot = height - LABEL_HEIGHT;
  ctx.strokeStyle = info.grid;
  ctx.beginPath();
  ctx.moveTo(0, plot + 0.5);
  ctx.lineTo(width, plot + 0.5);
  ctx.stroke();
  return { ctx, info, width, height, plot };
}

/** One bar per count, the `marked` one in the strong colour; labels left and right below. */
function bars(canvas, counts, marked, left, right) {
  const drawn = prepare(canvas);
  if (!drawn) return;
  const { ctx, info, width, height, plot } = drawn;
  const top = Math.max(1, ...counts);
  const slot = width / counts.length;
  counts.forEach((count, i) => {
    const barHeight = count ? Math.max(2, (count / top) * (plot - 4)) : 0;
    ctx.fillStyle = i === marked ? info.now : info.bar;
    ctx.fillRect(i * slot + 1, plot - barHeight, Math.max(1, slot - 2), barHeight);
  });
  ctx.fillStyle = info.text;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  ctx.fillText(left, 0, height);
  ctx.textAlign = "right";
  ctx.fillText(right(top), width, height);
}

export function drawRate(canvas, buckets) {
  bars(canvas, buckets, buckets.length - 1, `-${buckets.length} min`, (top) => `now · peak ${top}/min`);
}

/** Deliveries per latency bucket (`labels[i]` its upper bound), the p50 bucket marked. */
export function drawHistogram(canvas, counts, labels, marked) {
  if (!counts.length) return bars(canvas, [0], -1, "no deliveries yet", () => "");
  return bars(canvas, counts, marked, `≤ ${labels[0]}`, () => labels[labels.length - 1]);
}
