// The product's placement region in the defect studio: where classical synthetic defects may go, shown over one
// good image as the server resolves it (painted for the product, else estimated from the good images' foreground,
// else anywhere); the expert paints it once (brush, eraser, undo) and saves it, or forgets it to estimate again.
import { el, status } from './dom.js';
import { maskPainter, maskPNGBase64, paintFromMaskImage } from './maskpaint.js';

const SOURCES = {
  painted: 'painted for this product',
  estimated: "estimated from the good images' foreground",
  none: 'anywhere (no region: a texture that fills the frame, or no good images yet)',
};

export function placementPanel(api, base, objectURLs) {
  const source = el('p', { id: 'region-source', class: 'small', 'aria-live': 'polite' });
  const image = el('canvas', { id: 'region-image', 'aria-label': 'a good image of the product' });
  const mask = el('canvas', { id: 'region-mask', class: 'overlay', 'aria-label': 'the placement region: paint with the pointer, or with the arrow keys and Space' });
  const brush = el('input', { id: 'region-brush', type: 'range', min: 4, max: 96, value: 24 });
  const erase = el('input', { id: 'region-erase', type: 'checkbox' });
  const undo = el('button', { type: 'button', id: 'region-undo', text: 'Undo' });
  const save = el('button', { type: 'button', id: 'region-save', text: "Save as the product's region" });
  const forget = el('button', { type: 'button', id: 'region-forget', text: 'Forget (estimate again)' });
  const panel = el('details', { id: 'region-panel', class: 'panel' },
    el('summary', { text: 'Placement region of the product' }), source,
    el('div', { class: 'paint-stage' }, image, mask),
    el('div', { class: 'row small' },
      el('label', { for: 'region-brush', text: 'Brush' }), brush,
      el('label', { class: 'inline', for: 'region-erase' }, erase, ' erase'), undo),
    el('div', { class: 'row small' }, save, forget));
  const painting = maskPainter(mask, { brush: () => Number(brush.value), erase: () => erase.checked });
  undo.addEventListener('click', () => painting.undo());

  async function picture(sha) {
    const url = await api.blobURL(`/api/v1/blobs/${sha}`);
    objectURLs.push(url);
    return new Promise((resolve, reject) => {
      const i = new Image(); i.onload = () => resolve(i); i.onerror = () => reject(new Error('an image of the region did not load')); i.src = url;
    });
  }

  // The region as the server resolves it, over the product's first good image.
  async function show(placement) {
    source.textContent = `Defects go: ${SOURCES[placement.source] ?? placement.source}`;
    forget.disabled = placement.source !== 'painted';
    const { items } = await api.get(`${base}/datasets?kind=good`);
    if (!items.length) { panel.dataset.source = placement.source; panel.dataset.ready = 'true'; return; }
    const good = await picture(items[0].image_blob);
    for (const c of [image, mask]) { c.width = good.naturalWidth; c.height = good.naturalHeight; }
    image.getContext('2d').drawImage(good, 0, 0);
    mask.getContext('2d').clearRect(0, 0, mask.width, mask.height);
    if (placement.mask_blob) paintFromMaskImage(mask, await picture(placement.mask_blob));
    painting.forget();
    // Set once the region is drawn: what the browser test waits for.
    panel.dataset.source = placement.source;
    panel.dataset.ready = 'true';
  }

  save.addEventListener('click', async () => {
    try {
      const painted = await maskPNGBase64(mask);
      if (!painted) { status('paint the part first: the region is where defects may go', true); return; }
      await show(await api.request('PUT', `${base}/placement`, { mask_base64: painted }));
      status("saved the product's placement region: classical jobs keep their defects inside it");
    } catch (error) { status(error.message, true); }
  });
  forget.addEventListener('click', async () => {
    try {
      await show(await api.request('DELETE', `${base}/placement`));
      status('forgot the painted region: jobs estimate it from the good images');
    } catch (error) { status(error.message, true); }
  });
  // Loaded when opened: the estimate reads the good images.
  panel.addEventListener('toggle', () => {
    if (panel.open && !panel.dataset.ready) api.get(`${base}/placement`).then(show).catch((error) => status(error.message, true));
  });
  return panel;
}
