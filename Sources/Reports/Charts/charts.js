// SVG charts drawn in the page. One module for every chart the project shows: the web app imports it from
// /ui/charts.js, and the report.html files of `evaluate` and `ablation` carry it inline (one self-contained file).
// No dependency; text only through textContent.
const NS = 'http://www.w3.org/2000/svg';
const PAD = { left: 48, right: 14, top: 14, bottom: 40 };

export function svgNode(tag, attributes = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function tickText(v) { return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toFixed(Math.abs(v) < 1 ? 2 : 1); }

// A plot area on [x0, x1] x [y0, y1] inside an svg of width x height, with both axes, ticks and their labels.
function frame(svg, { width, height, x0, x1, y0, y1, xLabel, yLabel, ticks = 4 }) {
  while (svg.firstChild) svg.firstChild.remove();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.classList.add('chart');
  const x = (v) => PAD.left + (v - x0) / (x1 - x0 || 1) * (width - PAD.left - PAD.right);
  const y = (v) => height - PAD.bottom - (v - y0) / (y1 - y0 || 1) * (height - PAD.top - PAD.bottom);
  const fromX = (px) => x0 + (px - PAD.left) / (width - PAD.left - PAD.right) * (x1 - x0);
  svg.append(svgNode('line', { x1: PAD.left, y1: y(y0), x2: width - PAD.right, y2: y(y0), class: 'axis' }),
    svgNode('line', { x1: PAD.left, y1: y(y0), x2: PAD.left, y2: PAD.top, class: 'axis' }));
  for (let i = 0; i <= ticks; i += 1) {
    const vx = x0 + (x1 - x0) * i / ticks, vy = y0 + (y1 - y0) * i / ticks;
    svg.append(svgNode('text', { x: x(vx), y: height - PAD.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, tickText(vx)),
      svgNode('text', { x: PAD.left - 4, y: y(vy) + 4, 'text-anchor': 'end', class: 'tick' }, tickText(vy)));
  }
  if (xLabel) svg.append(svgNode('text', { x: (PAD.left + width - PAD.right) / 2, y: height - 6, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  if (yLabel) svg.append(svgNode('text', { x: 12, y: (PAD.top + height - PAD.bottom) / 2, 'text-anchor': 'middle', class: 'axis-label',
    transform: `rotate(-90 12 ${(PAD.top + height - PAD.bottom) / 2})` }, yLabel));
  return { x, y, fromX, top: PAD.top, bottom: height - PAD.bottom };
}

// Curves on [0, 1] x [0, 1] (ROC, precision-recall): each {name, x: [...], y: [...], cls}; `step` draws them as
// steps (precision-recall), `diagonal` the chance line (ROC).
export function curveChart(svg, { curves, xLabel, yLabel, width = 420, height = 320, diagonal = false, step = false }) {
  const f = frame(svg, { width, height, x0: 0, x1: 1, y0: 0, y1: 1, xLabel, yLabel });
  if (diagonal) svg.append(svgNode('line', { x1: f.x(0), y1: f.y(0), x2: f.x(1), y2: f.y(1), class: 'chance' }));
  curves.forEach((c, k) => {
    let d = '';
    c.x.forEach((vx, i) => {
      const px = f.x(vx).toFixed(1), py = f.y(c.y[i]).toFixed(1);
      if (i === 0) d = `M${px},${py}`;
      else d += step ? `V${py}H${px}` : `L${px},${py}`;   // a step holds precision p_k over (r_{k-1}, r_k], as AP sums it
    });
    svg.append(svgNode('path', { d, class: `curve ${c.cls ?? `series-${k}`}`, 'data-points': c.x.length }));
  });
  return f;
}

// Histograms of several series on one score axis [lo, hi], each bar the share of its own series (a few defects
// show as clearly as many good parts); `threshold` draws the decision line.
export function histogramChart(svg, { series, lo, hi, bins = 40, threshold, width = 760, height = 260, xLabel }) {
  const binWidth = (hi - lo) / bins;
  const shares = series.map((s) => {
    const counts = new Array(bins).fill(0);
    for (const v of s.values) counts[Math.max(0, Math.min(bins - 1, Math.floor((v - lo) / binWidth)))] += 1;
    const n = s.values.length || 1;
    return counts.map((c) => c / n);
  });
  const top = Math.max(0.01, ...shares.flat());
  const f = frame(svg, { width, height, x0: lo, x1: hi, y0: 0, y1: top, xLabel, yLabel: 'share' });
  const barWidth = (f.x(hi) - f.x(lo)) / bins / Math.max(1, series.length);
  shares.forEach((bars, k) => bars.forEach((v, b) => {
    if (v === 0) return;
    svg.append(svgNode('rect', { x: f.x(lo + b * binWidth) + k * barWidth, y: f.y(v), width: barWidth, height: f.y(0) - f.y(v),
      class: `column ${series[k].cls ?? `series-${k}`}` }));
  }));
  if (threshold !== undefined && threshold !== null) {
    svg.append(svgNode('line', { x1: f.x(threshold), x2: f.x(threshold), y1: f.top, y2: f.bottom, class: 'threshold' }));
  }
  return f;
}

// Grouped bars: one group per category, one bar per series ({name, values, cls}), values on [lo, hi].
export function barChart(svg, { categories, series, lo = 0, hi = 1, width = 760, height = 280, yLabel }) {
  const f = frame(svg, { width, height, x0: 0, x1: categories.length, y0: lo, y1: hi, yLabel, ticks: 4 });
  // the x ticks of the frame are indexes; categories are labelled below their groups instead
  for (const t of [...svg.querySelectorAll('text.tick')].filter((t) => t.getAttribute('text-anchor') === 'middle')) t.remove();
  const groupWidth = f.x(1) - f.x(0), barWidth = groupWidth * 0.8 / Math.max(1, series.length);
  categories.forEach((name, i) => {
    svg.append(svgNode('text', { x: f.x(i + 0.5), y: f.bottom + 14, 'text-anchor': 'middle', class: 'tick' }, name));
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const clamped = Math.max(lo, Math.min(hi, v));
      const bar = svgNode('rect', { x: f.x(i) + groupWidth * 0.1 + k * barWidth, y: f.y(clamped), width: barWidth,
        height: f.y(lo) - f.y(clamped), class: `column ${s.cls ?? `series-${k}`}` });
      bar.append(svgNode('title', {}, `${s.name}, ${name}: ${v.toFixed(4)}`));
      svg.append(bar);
    });
  });
  return f;
}

// A legend: one swatch per series.
export function legend(series) {
  const box = document.createElement('div');
  box.className = 'legend small';
  series.forEach((s, k) => {
    const key = document.createElement('span');
    key.className = `key ${s.cls ?? `series-${k}`}`;
    key.textContent = s.name;
    box.append(key);
  });
  return box;
}

// Draws every chart described in `specs` ({id: {kind: 'curves' | 'histogram' | 'bars', ...options}}) into the svg
// of that id under `root`, with a legend after it; the report.html files describe their charts this way.
export function drawCharts(root, specs) {
  const draw = { curves: curveChart, histogram: histogramChart, bars: barChart };
  for (const [id, spec] of Object.entries(specs)) {
    const svg = root.querySelector(`svg#${CSS.escape(id)}`);
    if (!svg || !draw[spec.kind]) throw new Error(`no chart '${id}' of kind '${spec.kind}'`);
    draw[spec.kind](svg, spec);
    const series = spec.curves ?? spec.series ?? [];
    if (series.length > 1) svg.after(legend(series));
    svg.dataset.drawn = 'true';
  }
}
