// Inspection detail: the part at full resolution with its heatmap (opacity slider) and the predicted region
// outlined at the threshold, zoom and pan, the numbers of the decision, and the operator's verdict (confirm, override to good, override to defect with a mask painted on
// the image) with a reason; what a verdict does to the datasets is said before it is given; reviews can be undone.
// Keys: C confirm · G good · D defect · M paint / pan · + / - zoom · 0 fit.
import { el, clear, status, formatScore, formatTime } from './dom.js';
import { dab, keyboardPainting, maskPNGBase64 } from './maskpaint.js';

// What a verdict does to the datasets (as the store applies it), said before it is given.
export function effectOf(verdict, decision) {
  const ng = decision === 'anomalous';
  if (verdict === 'good') {
    return ng ? 'Override to good (a false reject): adds this image to the product\'s good set, which the next fit learns as normal.'
      : 'Good: agrees with the OK decision; no dataset changes.';
  }
  if (verdict === 'defect' || ng) {
    return `${ng ? 'Confirm NG' : 'Override to defect (an escape)'}: adds this image, with the painted mask if any, to the product's defect set.`;
  }
  return 'Confirm: the OK decision was right; no dataset changes.';
}

// The server's heatmap layer is opaque decision red exactly where the map reaches the threshold (and translucent
// ramp colours or nothing elsewhere): outline those pixels, i.e. the ones with a 4-neighbour outside the region
// (or off the image), 2 px wide so it shows at any zoom. Returns the region's pixel count.
export const REGION_RED = [230, 0, 0];
const decisionRed = (d, k) => d[k] === REGION_RED[0] && d[k + 1] === REGION_RED[1] && d[k + 2] === REGION_RED[2] && d[k + 3] === 255;
const maskWhite = (d, k) => d[k] > 127;

// Outlines in `target` the pixels of `source` for which `isInside` holds (default: the heatmap's decision red);
// returns their number.
export function outlineRegion(source, target, colour = [255, 230, 0], isInside = decisionRed) {
  const w = source.width, h = source.height;
  const src = source.getContext('2d').getImageData(0, 0, w, h).data;
  const inside = new Uint8Array(w * h);
  let area = 0;
  for (let i = 0; i < w * h; i++) {
    if (isInside(src, 4 * i)) { inside[i] = 1; area++; }
  }
  const at = (x, y) => x >= 0 && y >= 0 && x < w && y < h && inside[y * w + x] === 1;
  const g = target.getContext('2d');
  const out = g.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const here = at(x, y), n = [at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1)];
      // the inner ring (inside, next to outside) and the outer ring (outside, next to inside)
      if (here ? n.includes(false) : n.includes(true)) {
        const k = 4 * (y * w + x);
        out.data[k] = colour[0]; out.data[k + 1] = colour[1]; out.data[k + 2] = colour[2]; out.data[k + 3] = 255;
      }
    }
  }
  g.putImageData(out, 0, 0);
  return area;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not draw ${url}`));
    image.src = url;
  });
}

export function showDetail(root, api, product, id) {
  const urls = [];
  let zoom = 1, panX = 0, panY = 0, painting = false, dirtyMask = false;
  const base = el('canvas', { id: 'detail-image', 'aria-label': 'the inspected part' });
  const heat = el('canvas', { id: 'detail-heatmap', 'aria-hidden': 'true' });
  const region = el('canvas', { id: 'detail-region', 'aria-hidden': 'true' });
  const truth = el('canvas', { id: 'detail-truth', 'aria-hidden': 'true' });
  const mask = el('canvas', { id: 'detail-mask', 'aria-label': 'defect mask (paint with the pointer in paint mode, or with the arrow keys and Space)' });
  const stage = el('div', { class: 'stage' }, base, heat, region, truth, mask);
  const showRegion = el('input', { id: 'show-region', type: 'checkbox', checked: true });
  const showTruth = el('input', { id: 'show-truth', type: 'checkbox', checked: true });
  const truthFact = el('dd', { id: 'detail-truth-fact', text: 'not reviewed' });
  const viewer = el('div', { class: 'viewer', id: 'viewer' }, stage);
  const opacity = el('input', { id: 'opacity', type: 'range', min: 0, max: 100, value: 50 });
  const brush = el('input', { id: 'brush', type: 'range', min: 1, max: 64, value: 8 });
  const paint = el('button', { type: 'button', id: 'paint', 'aria-pressed': 'false', text: 'Paint mask (M)' });
  const clearMask = el('button', { type: 'button', id: 'clear-mask', text: 'Clear mask' });
  const facts = el('dl', { id: 'facts', class: 'facts' });
  const reason = el('textarea', { id: 'reason', maxlength: 2000, rows: 2 });
  const effect = el('p', { id: 'effect', class: 'muted small', 'aria-live': 'polite' });
  let decision = null;
  const buttons = ['confirm', 'good', 'defect'].map((v) => el('button', {
    type: 'button', id: `verdict-${v}`, class: v === 'good' ? 'accept' : v === 'defect' ? 'reject' : '',
    text: { confirm: 'Confirm (C)', good: 'Override: good (G)', defect: 'Defect (D)' }[v],
    onmouseenter: () => { effect.textContent = effectOf(v, decision); }, onfocus: () => { effect.textContent = effectOf(v, decision); },
    onclick: () => review(v),
  }));
  const reviews = el('ol', { id: 'reviews', class: 'reviews' });
  clear(root).append(
    el('div', { class: 'toolbar' },
      el('a', { href: '#/live', text: '← Live' }), el('h1', { text: `Inspection ${id}` })),
    el('div', { class: 'detail' },
      el('div', {},
        viewer,
        el('div', { class: 'toolbar small' },
          el('label', { for: 'opacity', text: 'Heatmap' }), opacity,
          showRegion, el('label', { for: 'show-region', text: 'Region' }),
          showTruth, el('label', { for: 'show-truth', text: 'Ground truth' }),
          el('button', { type: 'button', text: '+', 'aria-label': 'zoom in', onclick: () => zoomBy(1.25) }),
          el('button', { type: 'button', text: '−', 'aria-label': 'zoom out', onclick: () => zoomBy(0.8) }),
          el('button', { type: 'button', text: 'Fit', onclick: fit }),
          paint, el('label', { for: 'brush', text: 'Brush' }), brush, clearMask)),
      el('section', { class: 'panel' },
        facts,
        el('label', { for: 'reason', text: 'Reason' }), reason,
        el('div', { class: 'row verdicts' }, buttons),
        effect,
        el('h2', { text: 'Reviews' }), reviews)));

  const applyView = () => { stage.style.transform = `translate(${panX}px, ${panY}px) scale(${zoom})`; };
  function fit() {
    zoom = Math.min(viewer.clientWidth / base.width, viewer.clientHeight / base.height) || 1;
    panX = (viewer.clientWidth - base.width * zoom) / 2;
    panY = (viewer.clientHeight - base.height * zoom) / 2;
    applyView();
  }
  function zoomBy(factor, cx = viewer.clientWidth / 2, cy = viewer.clientHeight / 2) {
    const next = Math.max(0.05, Math.min(40, zoom * factor));
    panX = cx - (cx - panX) * (next / zoom);
    panY = cy - (cy - panY) * (next / zoom);
    zoom = next;
    applyView();
  }
  opacity.addEventListener('input', () => { heat.style.opacity = String(opacity.value / 100); });
  showRegion.addEventListener('change', () => { region.style.display = showRegion.checked ? '' : 'none'; });
  showTruth.addEventListener('change', () => { truth.style.display = showTruth.checked ? '' : 'none'; });
  viewer.addEventListener('wheel', (event) => {
    event.preventDefault();
    const r = viewer.getBoundingClientRect();
    zoomBy(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - r.left, event.clientY - r.top);
  }, { passive: false });
  paint.addEventListener('click', () => togglePaint());
  clearMask.addEventListener('click', () => {
    mask.getContext('2d').clearRect(0, 0, mask.width, mask.height);
    dirtyMask = false;
  });
  function togglePaint() {
    painting = !painting;
    paint.setAttribute('aria-pressed', String(painting));
    viewer.classList.toggle('painting', painting);
  }

  // One pointer drag: paints in paint mode, pans otherwise.
  let drag = null;
  viewer.addEventListener('pointerdown', (event) => {
    viewer.setPointerCapture(event.pointerId);
    drag = { x: event.clientX, y: event.clientY };
    if (painting) paintAt(event);
  });
  viewer.addEventListener('pointermove', (event) => {
    if (!drag) return;
    if (painting) paintAt(event);
    else { panX += event.clientX - drag.x; panY += event.clientY - drag.y; applyView(); }
    drag = { x: event.clientX, y: event.clientY };
  });
  viewer.addEventListener('pointerup', () => { drag = null; });
  // From the keyboard too (focus the mask: arrows, Space; maskpaint.js), whatever the pointer mode.
  keyboardPainting(mask, { brush: () => Number(brush.value), before: () => { dirtyMask = true; } });
  function paintAt(event) {
    dab(mask, event, Number(brush.value));
    dirtyMask = true;
  }

  // The painted mask as the API takes it (maskpaint.js), once something is painted.
  async function maskBase64() {
    return dirtyMask ? maskPNGBase64(mask) : undefined;
  }

  async function review(verdict) {
    try {
      const body = { verdict, reason: reason.value };
      if (verdict === 'defect' || (verdict === 'confirm' && decision === 'anomalous')) body.mask_base64 = await maskBase64();
      const made = await api.post(`/api/v1/inspections/${id}/review`, body);
      status(made.dataset_item_id ? `reviewed: ${verdict}; added dataset item ${made.dataset_item_id}` : `reviewed: ${verdict}`);
      reason.value = '';
      await loadReviews();
    } catch (error) { status(error.message, true); }
  }

  async function loadReviews() {
    const { items } = await api.get(`/api/v1/inspections/${id}/reviews`);
    clear(reviews);
    for (const r of items) {
      const undo = el('button', { type: 'button', class: 'undo', text: 'Undo', onclick: async () => {
        try { await api.post(`/api/v1/reviews/${r.id}/undo`); status(`review ${r.id} undone`); await loadReviews(); }
        catch (error) { status(error.message, true); }
      } });
      reviews.append(el('li', { class: r.undone_ms ? 'undone' : '', dataset: { id: String(r.id), verdict: r.verdict } },
        el('strong', { text: r.verdict }), ` by ${r.reviewer} at ${formatTime(r.created_ms)}`,
        r.dataset_item_id ? ` · dataset item ${r.dataset_item_id}` : '',
        r.reason ? el('div', { class: 'small reason', text: r.reason }) : null,
        r.undone_ms ? el('div', { class: 'muted small', text: `undone by ${r.undone_by}` }) : undo));
    }
    await showGroundTruth(items);
  }

  // Ground truth: the newest review still standing says what the part is; its mask, when it has one, is outlined
  // in green beside the predicted region.
  async function showGroundTruth(items) {
    truth.getContext('2d').clearRect(0, 0, truth.width, truth.height);
    const standing = items.filter((r) => !r.undone_ms).sort((a, b) => b.id - a.id)[0];
    if (!standing) { truthFact.textContent = 'not reviewed'; return; }
    const defect = standing.verdict === 'defect' || (standing.verdict === 'confirm' && decision === 'anomalous');
    let text = `${defect ? 'defect' : 'good'} (review ${standing.id} by ${standing.reviewer})`;
    if (standing.mask_blob) {
      const url = await api.blobURL(`/api/v1/blobs/${standing.mask_blob}`);
      urls.push(url);
      const scratch = el('canvas');
      scratch.width = truth.width; scratch.height = truth.height;
      scratch.getContext('2d').drawImage(await loadImage(url), 0, 0, truth.width, truth.height);
      const area = outlineRegion(scratch, truth, [0, 200, 80], maskWhite);
      text += area ? `, its mask outlined in green (${area} px)` : ', an empty mask';
    }
    truthFact.textContent = text;
  }

  function onKey(event) {
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement?.tagName)) return;
    const action = { c: () => review('confirm'), g: () => review('good'), d: () => review('defect'), m: togglePaint,
                     '+': () => zoomBy(1.25), '-': () => zoomBy(0.8), 0: fit }[event.key.toLowerCase()];
    if (action) { event.preventDefault(); action(); }
  }
  document.addEventListener('keydown', onKey);

  (async () => {
    const inspection = await api.get(`/api/v1/inspections/${id}`);
    const { items: versions } = await api.get(`/api/v1/products/${encodeURIComponent(product)}/models`);
    const version = versions.find((v) => v.id === inspection.model_version_id);
    decision = inspection.decision;
    const ok = inspection.decision === 'ok';
    const rows = [
      ['Decision', el('span', { class: `badge ${ok ? 'ok' : 'ng'}`, id: 'detail-decision', text: ok ? 'OK' : 'NG' })],
      ['Score', formatScore(inspection.score)], ['Normalised score', formatScore(inspection.normalized_score)],
      ['Threshold', formatScore(inspection.threshold)], ['Latency', `${inspection.latency_ms.toFixed(1)} ms`],
      ['Model version', version ? `v${version.version}` : `#${inspection.model_version_id}`],
      ['Source', inspection.source], ['Time', new Date(inspection.created_ms).toLocaleString()],
    ];
    for (const [name, value] of rows) facts.append(el('div', {}, el('dt', { text: name }), el('dd', {}, value)));
    const imageURL = await api.blobURL(`/api/v1/blobs/${inspection.image_blob}`);
    urls.push(imageURL);
    const image = await loadImage(imageURL);
    for (const c of [base, heat, region, truth, mask]) { c.width = image.naturalWidth; c.height = image.naturalHeight; }
    base.getContext('2d').drawImage(image, 0, 0);
    if (inspection.heatmap_blob) {
      const heatURL = await api.blobURL(`/api/v1/blobs/${inspection.heatmap_blob}`);
      urls.push(heatURL);
      heat.getContext('2d').drawImage(await loadImage(heatURL), 0, 0, heat.width, heat.height);
      const area = outlineRegion(heat, region);
      const share = (100 * area / (heat.width * heat.height)).toFixed(area && area < heat.width * heat.height / 1000 ? 3 : 1);
      facts.append(el('div', {}, el('dt', { text: 'Predicted region' }),
        el('dd', { id: 'detail-region-area', text: area ? `${area} px (${share} % of the image), outlined` : 'none (no pixel at the threshold)' })));
    }
    facts.append(el('div', {}, el('dt', { text: 'Ground truth' }), truthFact));
    heat.style.opacity = String(opacity.value / 100);
    fit();
    root.dataset.loaded = 'true';
    await loadReviews();
  })().catch((error) => status(error.message, true));

  return () => { document.removeEventListener('keydown', onKey); for (const u of urls) URL.revokeObjectURL(u); };
}
