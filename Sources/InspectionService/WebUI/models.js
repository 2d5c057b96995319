// Models: the product's versions with their evaluation metrics; fit (backbone, coreset ratio, dual on/off) and
// evaluate jobs with a progress bar and ETA from the job events; activate or roll back (admin); two versions side
// by side; an evaluated version's ROC and precision-recall curves, score histograms, per-type table and worst cases.
import { hasRole } from './api.js';
import { el, clear, status, formatTime, formatScore } from './dom.js';
import { JobProgress } from './jobs.js';
import { svgNode, curveChart, histogramChart, legend } from './charts.js';
import { METRICS, metricsOf, show, comparisonTable } from './compare.js';

export function showModels(root, api, product, _argument, me) {
  const controller = new AbortController();
  const base = `/api/v1/products/${encodeURIComponent(product)}`;
  const canExpert = hasRole(me, 'expert'), canAdmin = hasRole(me, 'admin');
  const table = el('table', { id: 'versions', class: 'grid' });
  const compare = el('div', { id: 'compare' });
  const evaluation = el('section', { id: 'evaluation', class: 'panel', hidden: true });
  let thumbnails = [];
  const job = new JobProgress(api, controller.signal, 'model-job-');
  const backbone = el('select', { id: 'fit-backbone' });
  const coreset = el('input', { id: 'fit-coreset', type: 'number', min: 0.001, max: 1, step: 0.001, value: 0.1 });
  const taps = el('input', { id: 'fit-taps', type: 'text', placeholder: 'the backbone\'s default', 'aria-describedby': 'fit-taps-help' });
  const size = el('input', { id: 'fit-size', type: 'text', placeholder: 'resize 256, crop 224', pattern: '[0-9]{2,4}x[0-9]{2,4}|short-side:[0-9]{2,4}|native(:[0-9.]+)?|resize:[0-9]{2,4}:crop:[0-9]{2,4}', 'aria-describedby': 'fit-size-help' });
  const tile = el('input', { id: 'fit-tile', type: 'text', placeholder: 'none', pattern: '[0-9]{2,4}x[0-9]{2,4}', 'aria-describedby': 'fit-tile-help' });
  const dual = el('input', { id: 'fit-dual', type: 'checkbox' });
  const activate = el('input', { id: 'fit-activate', type: 'checkbox' });
  const normalAreas = el('input', { id: 'fit-normal-areas', type: 'checkbox' });
  const fitForm = el('form', { id: 'fit-form', class: 'panel inline-form' },
    el('h2', { text: 'Fit a new version' }),
    el('label', { for: 'fit-backbone', text: 'Backbone' }), backbone,
    el('label', { for: 'fit-taps', text: 'Taps' }), taps,
    el('span', { id: 'fit-taps-help', class: 'muted small', text: 'layer names, comma-separated (e.g. features.6, features.13)' }),
    el('label', { for: 'fit-size', text: 'Input geometry' }), size,
    el('span', { id: 'fit-size-help', class: 'muted small', text: 'WxH: a plain resize (e.g. 320x192 for long parts); short-side:N: aspect kept; native or native:S: each image at its own size (times S); empty: resize 256 + centre crop 224' }),
    el('label', { for: 'fit-tile', text: 'Tiles' }), tile,
    el('span', { id: 'fit-tile-help', class: 'muted small', text: 'WxH, multiples of 32 (e.g. 512x512): large inputs in tiles with 128 px of overlap, memory bounded per tile; empty: one pass per image' }),
    el('label', { for: 'fit-coreset', text: 'Coreset ratio' }), coreset,
    el('label', { class: 'inline', for: 'fit-dual' }, dual, ' dual (accepted defects and samples as a positive bank)'),
    el('label', { class: 'inline', for: 'fit-normal-areas' }, normalAreas, ' normal areas of accepted defects in the normal bank'),
    el('label', { class: 'inline', for: 'fit-activate' }, activate, ' activate when done'),
    el('button', { type: 'submit', id: 'start-fit', text: 'Start fit' }));
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Models — ${product}` })),
    el('section', { class: 'panel' }, el('div', { class: 'scroll-x' }, table), el('p', { class: 'muted small', text: 'Tick two versions to compare them.' }), compare),
    evaluation,
    canExpert ? fitForm : null, job.bar, job.line);

  // The backbones the server takes, from its own API description.
  api.get('/api/v1/openapi.json').then((doc) => {
    const names = doc.components.schemas.FitJobRequest.properties.backbone.enum.filter((n) => n);
    for (const n of names) backbone.append(el('option', { value: n, text: n }));
    backbone.value = names.includes('mobilenet_v2') ? 'mobilenet_v2' : names[0];
  }).catch((error) => status(error.message, true));

  fitForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { backbone: backbone.value, coreset_ratio: Number(coreset.value), positives: dual.checked, activate: activate.checked };
    const tapList = taps.value.split(',').map((t) => t.trim()).filter((t) => t);
    if (tapList.length) body.taps = tapList;
    const geometry = size.value.trim();
    if (/^[0-9]{2,4}x[0-9]{2,4}$/.test(geometry)) body.size = geometry;
    else if (geometry) body.geometry = geometry;
    if (tile.value.trim()) body.tile = tile.value.trim();
    if (normalAreas.checked) body.normal_from_defects = true;
    try { await job.follow(await api.post(`${base}/jobs/fit`, body), 'fit'); await load(); } catch (error) { status(error.message, true); }
  });

  const ticked = new Set();
  async function load() {
    const [p, { items }] = await Promise.all([api.get(base), api.get(`${base}/models`)]);
    const versions = [...items].sort((a, b) => b.version - a.version);
    clear(table).append(el('thead', {}, el('tr', {},
      ['', 'Version', 'Created', 'Backbone', 'Threshold', ...METRICS.slice(0, 5).map(([, n]) => n), ''].map((h) => el('th', { scope: 'col', text: h })))));
    const body = el('tbody');
    for (const v of versions) {
      const m = metricsOf(v);
      const active = p.active_model_id === v.id;
      const box = el('input', { type: 'checkbox', 'aria-label': `compare version ${v.version}`, checked: ticked.has(v.id),
        onchange: (e) => { if (e.target.checked) ticked.add(v.id); else ticked.delete(v.id); renderCompare(versions); } });
      const actions = el('td', { class: 'actions' });
      if (active) actions.append(el('span', { class: 'badge ok', text: 'active' }));
      else if (canAdmin) actions.append(el('button', { type: 'button', class: 'activate', text: 'Activate', onclick: async () => {
        try { await api.post(`${base}/models/${v.version}/activate`); status(`version ${v.version} active`); await load(); }
        catch (error) { status(error.message, true); } } }));
      if (Array.isArray(m.images)) actions.append(el('button', { type: 'button', class: 'show-charts', text: 'Charts',
        'aria-controls': 'evaluation', onclick: () => renderEvaluation(v, m) }));
      if (canExpert) actions.append(el('button', { type: 'button', class: 'evaluate', text: 'Evaluate', onclick: async () => {
        try { await job.follow(await api.post(`${base}/models/${v.version}/evaluate`), `evaluation of v${v.version}`); await load(); }
        catch (error) { status(error.message, true); } } }));
      body.append(el('tr', { dataset: { version: String(v.version) }, class: active ? 'active' : '' },
        el('td', {}, box), el('td', { text: `v${v.version}` }), el('td', { text: formatTime(v.created_ms) }),
        el('td', { text: v.backbone }), el('td', { text: show(v.threshold) }),
        METRICS.slice(0, 5).map(([key]) => el('td', { class: 'num', text: show(m[key]) })), actions));
    }
    table.append(body);
    renderCompare(versions);
  }

  function renderCompare(versions) {
    clear(compare);
    const chosen = versions.filter((v) => ticked.has(v.id)).slice(0, 2).sort((a, b) => a.version - b.version);
    if (chosen.length !== 2) return;
    compare.append(el('h2', { text: 'Comparison' }), comparisonTable('comparison', chosen[0], chosen[1]));
  }

  function releaseThumbnails() { for (const u of thumbnails) URL.revokeObjectURL(u); thumbnails = []; }

  // The evaluation of one version: curves and histograms from the metrics the evaluate job stored, the table per
  // defect type at the version's threshold, and the good images scored highest and the defects scored lowest.
  function renderEvaluation(version, m) {
    releaseThumbnails();
    const images = m.images, t = version.threshold;
    const good = images.filter((i) => !i.defect), defects = images.filter((i) => i.defect);
    const roc = svgNode('svg', { id: 'eval-roc', role: 'img', 'aria-label': 'ROC curve' });
    const pr = svgNode('svg', { id: 'eval-pr', role: 'img', 'aria-label': 'precision-recall curve' });
    const histogram = svgNode('svg', { id: 'eval-histogram', role: 'img', 'aria-label': 'score histograms with the threshold' });
    const series = [{ name: `good (${good.length})`, values: good.map((i) => i.score), cls: 'series-good' },
                    { name: `defective (${defects.length})`, values: defects.map((i) => i.score), cls: 'series-defect' }];
    clear(evaluation).append(
      el('h2', { text: `Evaluation of v${version.version}` }),
      el('p', { class: 'muted small', text: `${images.length} held-out images (job ${m.evaluated_by_job ?? '?'}); threshold ${formatScore(t)}` }),
      el('div', { class: 'charts' },
        el('figure', {}, roc, el('figcaption', { text: `ROC (image AUROC ${show(m.image_auroc)})` })),
        el('figure', {}, pr, el('figcaption', { text: `Precision-recall (AP ${show(m.average_precision)})` }))),
      el('figure', {}, histogram, legend(series), el('figcaption', { text: 'Image scores, each set as a share of its own count; the black line is the threshold' })),
      perTypeTable(images, t, m.image_auroc_per_defect_type ?? {}, m.pixel_auroc_per_defect_type ?? {}),
      el('h3', { text: 'Good images scored highest (false rejects first)' }), gallery('eval-worst-good', [...good].sort((a, b) => b.score - a.score), t),
      el('h3', { text: 'Defects scored lowest (escapes first)' }), gallery('eval-worst-defects', [...defects].sort((a, b) => a.score - b.score), t));
    evaluation.hidden = false;
    curveChart(roc, { curves: [{ name: 'ROC', x: m.roc.fpr, y: m.roc.tpr, cls: 'series-defect' }], xLabel: 'false-positive rate', yLabel: 'true-positive rate', diagonal: true });
    curveChart(pr, { curves: [{ name: 'PR', x: m.pr.recall, y: m.pr.precision, cls: 'series-good' }], xLabel: 'recall', yLabel: 'precision', step: true });
    const all = images.map((i) => i.score).concat([t]);
    const lo = Math.min(...all), hi = Math.max(...all), margin = (hi - lo) * 0.05 || 1;
    histogramChart(histogram, { series, lo: lo - margin, hi: hi + margin, threshold: t, xLabel: 'image score' });
    evaluation.scrollIntoView({ block: 'start' });
  }

  function perTypeTable(images, t, auroc, pixelAuroc) {
    const types = [...new Set(images.map((i) => i.defect ? i.defect_type : 'good'))].sort((a, b) => (a === 'good' ? -1 : b === 'good' ? 1 : a.localeCompare(b)));
    const body = el('tbody');
    for (const type of types) {
      const group = images.filter((i) => (i.defect ? i.defect_type : 'good') === type);
      const flagged = group.filter((i) => i.score >= t).length;
      const sorted = group.map((i) => i.score).sort((a, b) => a - b);
      body.append(el('tr', { dataset: { type } }, el('th', { scope: 'row', text: type }), el('td', { class: 'num', text: String(group.length) }),
        el('td', { class: 'num', text: `${flagged} ${type === 'good' ? 'false rejects' : 'caught'}` }),
        el('td', { class: 'num', text: show(auroc[type]) }), el('td', { class: 'num', text: show(pixelAuroc[type]) }),
        el('td', { class: 'num', text: formatScore(sorted[Math.floor(sorted.length / 2)]) })));
    }
    return el('div', { class: 'scroll-x' }, el('table', { id: 'eval-per-type', class: 'grid' },
      el('thead', {}, el('tr', {}, ['Type', 'Images', 'At the threshold', 'Image AUROC', 'Pixel AUROC', 'Median score'].map((h) => el('th', { scope: 'col', text: h })))), body));
  }

  function gallery(id, items, t) {
    const list = el('ul', { id, class: 'gallery' });
    for (const item of items.slice(0, 6)) {   // the evaluate job stores overlays for as many (worstCasesShown)
      const overlay = item.overlay_blob;
      const img = el('img', { alt: `${overlay ? 'heatmap overlay of ' : ''}dataset image ${item.dataset_item_id}` });
      const wrong = item.defect ? item.score < t : item.score >= t;
      list.append(el('li', { class: wrong ? 'wrong' : '' }, img,
        el('span', { class: 'small', text: `#${item.dataset_item_id} ${item.defect_type}: ${formatScore(item.score)}${wrong ? (item.defect ? ' escape' : ' false reject') : ''}` })));
      api.blobURL(`/api/v1/blobs/${overlay ?? item.image_blob}`).then((u) => { thumbnails.push(u); img.src = u; }).catch((e) => status(e.message, true));
    }
    return list;
  }

  load().then(() => { root.dataset.loaded = 'true'; }).catch((error) => status(error.message, true));
  return () => { controller.abort(); releaseThumbnails(); };
}
