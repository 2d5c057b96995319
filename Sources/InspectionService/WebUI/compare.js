// Two model versions' evaluation metrics side by side with the change, better in green and worse in red: the
// Models page's comparison of any two versions and the studio's before/after of a rebuilt dual model.
import { el } from './dom.js';

export const METRICS = [
  ['image_auroc', 'Image AUROC'], ['pixel_auroc', 'Pixel AUROC'], ['aupro', 'AUPRO'], ['f1_max', 'F1-max'],
  ['average_precision', 'AP'], ['false_reject_rate', 'False rejects'], ['escape_rate', 'Escapes'], ['n_test_images', 'Test images'],
];
// Which way is better: +1 higher, -1 lower, 0 neither (a count).
const BETTER = { false_reject_rate: -1, escape_rate: -1, n_test_images: 0 };

export function metricsOf(version) {
  try { return JSON.parse(version.metrics ?? '{}') ?? {}; } catch { return {}; }
}

export function show(value) {
  if (value === undefined || value === null) return '–';
  return typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(3)) : String(value);
}

function gain(key, delta) {
  const sign = (BETTER[key] ?? 1) * (delta ?? 0);
  return sign > 0 ? 'up' : sign < 0 ? 'down' : '';
}

// `first` and `second` are model versions (as the API lists them); `headers` name their columns.
export function comparisonTable(id, first, second, headers = [`v${first.version}`, `v${second.version}`]) {
  const [a, b] = [first, second].map(metricsOf);
  const rows = el('tbody');
  for (const [key, name] of METRICS) {
    const delta = typeof a[key] === 'number' && typeof b[key] === 'number' ? b[key] - a[key] : null;
    rows.append(el('tr', { dataset: { metric: key } }, el('th', { scope: 'row', text: name }),
      el('td', { class: 'num', text: show(a[key]) }), el('td', { class: 'num', text: show(b[key]) }),
      el('td', { class: `num ${gain(key, delta)}`, text: delta === null ? '–' : `${delta >= 0 ? '+' : ''}${delta.toFixed(3)}` })));
  }
  return el('div', { class: 'scroll-x' }, el('table', { class: 'grid', id },
    el('thead', {}, el('tr', {}, ['Metric', ...headers, 'Change'].map((h) => el('th', { scope: 'col', text: h })))), rows));
}
