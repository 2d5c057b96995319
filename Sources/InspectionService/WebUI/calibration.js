// Calibration: histograms (SVG) of a version's held-out good scores and its reviewed good and defective
// inspections; drag the threshold (or type it, or use the arrow keys) and see the expected false-reject and escape
// rates; an admin applies it (audited) or cancels.
import { hasRole } from './api.js';
import { el, clear, status, formatScore } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 760, H = 260, PAD = { left: 40, right: 12, top: 12, bottom: 28 }, BINS = 40;
const SERIES = [
  ['held_out_good_scores', 'held-out good (fit)', 'series-good'],
  ['reviewed_good_scores', 'reviewed good', 'series-reviewed-good'],
  ['reviewed_defect_scores', 'reviewed defective', 'series-defect'],
];

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function rates(calibration, t) {
  const good = [...calibration.held_out_good_scores, ...calibration.reviewed_good_scores];
  const defects = calibration.reviewed_defect_scores;
  return {
    falseReject: good.length ? good.filter((s) => s >= t).length / good.length : null,
    escape: defects.length ? defects.filter((s) => s < t).length / defects.length : null,
    good: good.length, defects: defects.length,
  };
}

export function showCalibration(root, api, product, _argument, me) {
  const base = `/api/v1/products/${encodeURIComponent(product)}`;
  const canApply = hasRole(me, 'admin');
  const versionSelect = el('select', { id: 'calibration-version' });
  const input = el('input', { id: 'threshold-input', type: 'number', step: 'any' });
  const falseReject = el('output', { id: 'expected-false-rejects' });
  const escape = el('output', { id: 'expected-escapes' });
  const chart = svg('svg', { id: 'histogram', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'score histograms with the threshold' });
  const apply = el('button', { type: 'button', id: 'apply-threshold', text: 'Apply', disabled: !canApply });
  const cancel = el('button', { type: 'button', id: 'cancel-threshold', text: 'Cancel' });
  const provenance = el('p', { id: 'threshold-provenance', class: 'muted small' });
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Calibration — ${product}` }),
      el('label', { for: 'calibration-version', text: 'Version' }), versionSelect),
    el('section', { class: 'panel' },
      el('div', { class: 'legend small' }, SERIES.map(([, name, cls]) => el('span', { class: `key ${cls}`, text: name }))),
      el('div', { class: 'chart' }, chart),
      el('div', { class: 'toolbar' },
        el('label', { for: 'threshold-input', text: 'Threshold' }), input,
        el('span', {}, 'expected false rejects ', falseReject), el('span', {}, 'escapes ', escape),
        apply, cancel, canApply ? null : el('span', { class: 'muted small', text: 'an admin applies thresholds' })),
      provenance));

  let calibration = null, threshold = 0, lo = 0, hi = 1;
  const x = (s) => PAD.left + (s - lo) / (hi - lo) * (W - PAD.left - PAD.right);
  const fromX = (px) => lo + (px - PAD.left) / (W - PAD.left - PAD.right) * (hi - lo);

  function draw(fromInput = false) {
    while (chart.firstChild) chart.firstChild.remove();
    const width = (hi - lo) / BINS;
    const counts = SERIES.map(([key]) => {
      const c = new Array(BINS).fill(0);
      for (const s of calibration[key]) c[Math.max(0, Math.min(BINS - 1, Math.floor((s - lo) / width)))] += 1;
      return c;
    });
    // Each series as a share of its own size, so a few defects are as visible as many good images.
    const shares = counts.map((c) => { const n = c.reduce((a, b) => a + b, 0) || 1; return c.map((v) => v / n); });
    const top = Math.max(0.01, ...shares.flat());
    const plotH = H - PAD.top - PAD.bottom;
    chart.append(svg('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }));
    for (let i = 0; i <= 4; i += 1) {
      const s = lo + (hi - lo) * i / 4;
      chart.append(svg('text', { x: x(s), y: H - 8, 'text-anchor': 'middle', class: 'tick' }, formatScore(s)));
    }
    shares.forEach((series, k) => {
      series.forEach((v, b) => {
        if (v === 0) return;
        const barW = (W - PAD.left - PAD.right) / BINS / SERIES.length;
        const h = v / top * plotH;
        chart.append(svg('rect', { x: x(lo + b * width) + k * barW, y: H - PAD.bottom - h, width: barW, height: h,
                                   class: `bar ${SERIES[k][2]}` }));
      });
    });
    const line = svg('line', { id: 'threshold-line', x1: x(threshold), x2: x(threshold), y1: PAD.top, y2: H - PAD.bottom,
                               class: 'threshold', tabindex: 0, role: 'slider', 'aria-label': 'threshold',
                               'aria-valuenow': threshold, 'aria-valuemin': lo, 'aria-valuemax': hi });
    chart.append(svg('rect', { x: x(threshold) - 6, y: PAD.top, width: 12, height: plotH, class: 'handle' }), line);
    if (!fromInput) input.value = threshold.toPrecision(6);   // never rewrite what the user is typing
    const r = rates(calibration, threshold);
    falseReject.textContent = r.falseReject === null ? '–' : `${(100 * r.falseReject).toFixed(1)} % of ${r.good}`;
    escape.textContent = r.escape === null ? '– (no reviewed defects)' : `${(100 * r.escape).toFixed(1)} % of ${r.defects}`;
    apply.disabled = !canApply || threshold === calibration.threshold;
  }

  function setThreshold(t, fromInput = false) { if (Number.isFinite(t)) { threshold = t; draw(fromInput); } }
  let dragging = false;
  const toScore = (event) => {
    const r = chart.getBoundingClientRect();
    return fromX((event.clientX - r.left) / r.width * W);
  };
  chart.addEventListener('pointerdown', (event) => { dragging = true; chart.setPointerCapture(event.pointerId); setThreshold(toScore(event)); });
  chart.addEventListener('pointermove', (event) => { if (dragging) setThreshold(toScore(event)); });
  chart.addEventListener('pointerup', () => { dragging = false; });
  chart.addEventListener('keydown', (event) => {
    const step = (hi - lo) / 200;
    if (event.key === 'ArrowRight') setThreshold(threshold + step);
    else if (event.key === 'ArrowLeft') setThreshold(threshold - step);
    else return;
    event.preventDefault();
  });
  input.addEventListener('change', () => { if (input.value.trim() !== '') setThreshold(Number(input.value), true); });
  cancel.addEventListener('click', () => setThreshold(calibration.threshold));
  apply.addEventListener('click', async () => {
    try {
      const updated = await api.post(`${base}/models/${calibration.version}/threshold`, { threshold });
      status(`version ${updated.version}: threshold ${formatScore(updated.threshold)} applied`);
      await load(calibration.version);
    } catch (error) { status(error.message, true); }
  });
  versionSelect.addEventListener('change', () => load(Number(versionSelect.value)));

  async function load(version) {
    calibration = await api.get(`${base}/models/${version}/calibration`);
    const all = SERIES.flatMap(([key]) => calibration[key]).concat([calibration.threshold]);
    lo = Math.min(...all); hi = Math.max(...all);
    const margin = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo -= margin; hi += margin;
    threshold = calibration.threshold;
    provenance.textContent = `current threshold ${formatScore(calibration.threshold)}: ${calibration.threshold_provenance}`;
    draw();
    root.dataset.loaded = 'true';
  }

  (async () => {
    const [p, { items }] = await Promise.all([api.get(base), api.get(`${base}/models`)]);
    for (const v of [...items].sort((a, b) => b.version - a.version)) {
      versionSelect.append(el('option', { value: v.version, text: `v${v.version}${v.id === p.active_model_id ? ' (active)' : ''}` }));
    }
    const active = items.find((v) => v.id === p.active_model_id) ?? items[0];
    if (!active) { status('no model version yet'); return; }
    versionSelect.value = String(active.version);
    await load(active.version);
  })().catch((error) => status(error.message, true));
  return () => {};
}
