// Calibration: histograms (SVG) of a version's held-out good scores and its reviewed good and defective
// inspections; drag the threshold (or type it, or use the arrow keys) and see the expected false-reject and escape
// rates; an admin applies it (audited) or cancels.
import { hasRole } from './api.js';
import { el, clear, status, formatScore } from './dom.js';
import { svgNode, histogramChart, legend } from './charts.js';

const W = 760, H = 260, BINS = 40;
const SERIES = [
  ['held_out_good_scores', 'held-out good (fit)', 'series-good'],
  ['reviewed_good_scores', 'reviewed good', 'series-reviewed-good'],
  ['reviewed_defect_scores', 'reviewed defective', 'series-defect'],
];

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
  const chart = svgNode('svg', { id: 'histogram', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'score histograms with the threshold' });
  const apply = el('button', { type: 'button', id: 'apply-threshold', text: 'Apply', disabled: !canApply });
  const cancel = el('button', { type: 'button', id: 'cancel-threshold', text: 'Cancel' });
  const provenance = el('p', { id: 'threshold-provenance', class: 'muted small' });
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Calibration — ${product}` }),
      el('label', { for: 'calibration-version', text: 'Version' }), versionSelect),
    el('section', { class: 'panel' },
      legend(SERIES.map(([, name, cls]) => ({ name, cls }))),
      el('div', { class: 'chart' }, chart),
      el('div', { class: 'toolbar' },
        el('label', { for: 'threshold-input', text: 'Threshold' }), input,
        el('span', {}, 'expected false rejects ', falseReject), el('span', {}, 'escapes ', escape),
        apply, cancel, canApply ? null : el('span', { class: 'muted small', text: 'an admin applies thresholds' })),
      provenance));

  let calibration = null, threshold = 0, lo = 0, hi = 1, scale = null;

  function draw(fromInput = false) {
    scale = histogramChart(chart, { series: SERIES.map(([key, name, cls]) => ({ name, values: calibration[key], cls })),
                                    lo, hi, bins: BINS, width: W, height: H, xLabel: 'score' });
    const line = svgNode('line', { id: 'threshold-line', x1: scale.x(threshold), x2: scale.x(threshold), y1: scale.top, y2: scale.bottom,
                                   class: 'threshold', tabindex: 0, role: 'slider', 'aria-label': 'threshold',
                                   'aria-valuenow': threshold, 'aria-valuemin': lo, 'aria-valuemax': hi });
    chart.append(svgNode('rect', { x: scale.x(threshold) - 6, y: scale.top, width: 12, height: scale.bottom - scale.top, class: 'handle' }), line);
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
    return scale.fromX((event.clientX - r.left) / r.width * W);
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
