// Defect studio: synthesis jobs on the product's data or into a mask the expert paints on one good image, their
// samples beside their masks, the expert's verdicts (buttons or one key: A accept, R reject, P back to pending, J/K
// move), and a dual model rebuilt from them.
import { el, clear, status } from './dom.js';
import { JobProgress } from './jobs.js';
import { maskPainter, maskPNGBase64, paintFromMaskImage } from './maskpaint.js';
import { placementPanel } from './region.js';
import { comparisonTable } from './compare.js';

const METHODS = ['cut_paste', 'perlin_texture', 'perlin_intensity'];

export function showStudio(root, api, product) {
  const controller = new AbortController();
  const base = `/api/v1/products/${encodeURIComponent(product)}`;
  let filter = 'pending';
  const objectURLs = [];

  const generator = el('select', { id: 'generator', name: 'generator' },
    el('option', { value: 'classical', text: 'classical (cut-paste, Perlin)' }),
    el('option', { value: 'diffusion', text: 'diffusion (server model)' }));
  const count = el('input', { id: 'count', name: 'count', type: 'number', min: 1, max: 1000, value: 8, required: true });
  const seed = el('input', { id: 'seed', name: 'seed', type: 'number', min: 0, value: 0 });
  const label = el('input', { id: 'label', name: 'label', maxlength: 64, value: 'synthetic' });
  const prompt = el('input', { id: 'prompt', name: 'prompt', maxlength: 1000, placeholder: 'a dark scratch on the glass' });
  const negative = el('input', { id: 'negative-prompt', name: 'negative_prompt', maxlength: 1000 });
  const steps = el('input', { id: 'steps', name: 'steps', type: 'number', min: 1, max: 1000, value: 30 });
  const guidance = el('input', { id: 'guidance', name: 'guidance_scale', type: 'number', min: 0, max: 100, step: 0.5, value: 7.5 });
  const strength = el('input', { id: 'strength', name: 'strength', type: 'number', min: 0.01, max: 1, step: 0.01, value: 1 });
  const paddingCrop = el('input', { id: 'padding-crop', name: 'padding_mask_crop', type: 'number', min: 0, max: 4096,
                                    placeholder: 'whole image' });
  // The prompt library: prompts saved per defect class (the label) with the settings they worked with.
  const presetSelect = el('select', { id: 'preset', 'aria-label': 'prompt library' });
  const savePreset = el('button', { type: 'button', id: 'save-preset', text: 'Save to library' });
  const removePreset = el('button', { type: 'button', id: 'remove-preset', text: 'Remove', disabled: true });
  const undoRemovePreset = el('button', { type: 'button', id: 'undo-remove-preset', text: 'Undo remove', hidden: true });
  let presets = [];
  const methodBoxes = METHODS.map((m) => el('input', { type: 'checkbox', id: `method-${m}`, value: m, checked: true }));
  const diffusionFields = el('fieldset', { id: 'diffusion-fields', hidden: true },
    el('legend', { text: 'Diffusion' }),
    el('label', { for: 'preset', text: 'Prompt library (by defect class)' }), presetSelect,
    el('div', { class: 'row small' }, savePreset, removePreset, undoRemovePreset),
    el('label', { for: 'prompt', text: 'Prompt' }), prompt,
    el('label', { for: 'negative-prompt', text: 'Negative prompt' }), negative,
    el('label', { for: 'steps', text: 'Steps' }), steps,
    el('label', { for: 'guidance', text: 'Guidance scale' }), guidance,
    el('label', { for: 'strength', text: 'Strength (1: repaint the masked area completely)' }), strength,
    el('label', { for: 'padding-crop', text: 'Padding crop (px of context around the mask; empty: whole image)' }), paddingCrop);
  const classicalFields = el('fieldset', { id: 'classical-fields' },
    el('legend', { text: 'Methods' }),
    METHODS.map((m, i) => el('label', { class: 'inline', for: `method-${m}` }, methodBoxes[i], ` ${m}`)));
  generator.addEventListener('change', () => {
    diffusionFields.hidden = generator.value !== 'diffusion';
    classicalFields.hidden = generator.value !== 'classical';
  });
  // Where the defects go: by default the masks of the product's real defects on its good images; or a mask painted
  // here on one good image (brush, eraser, undo, clear), which every sample of the job then uses as it is.
  const usePainted = el('input', { id: 'use-painted', type: 'checkbox' });
  const goodSelect = el('select', { id: 'paint-good', 'aria-label': 'good image to paint on' });
  const paintImage = el('canvas', { id: 'paint-image', 'aria-label': 'the good image' });
  const paintMask = el('canvas', { id: 'paint-mask', 'aria-label': 'the defect mask: paint with the pointer, or with the arrow keys and Space' });
  const paintBrush = el('input', { id: 'paint-brush', type: 'range', min: 2, max: 64, value: 12 });
  const erase = el('input', { id: 'paint-erase', type: 'checkbox' });
  const defectSelect = el('select', { id: 'paint-from-defect', 'aria-label': 'a real defect whose mask to start from' });
  const loadDefect = el('button', { type: 'button', id: 'paint-load-defect', text: 'Start from its mask' });
  const transforms = [['flip-h', 'Flip ↔'], ['flip-v', 'Flip ↕'], ['smaller', 'Smaller'], ['larger', 'Larger'],
                      ['left', '←'], ['right', '→'], ['up', '↑'], ['down', '↓']]
    .map(([id, text]) => el('button', { type: 'button', id: `paint-${id}`, text, 'aria-label': `mask: ${id.replace('-', ' ')}`,
                                        onclick: () => transformMask(id) }));
  const undoPaint = el('button', { type: 'button', id: 'paint-undo', text: 'Undo' });
  const clearPaint = el('button', { type: 'button', id: 'paint-clear', text: 'Clear' });
  const painter = el('fieldset', { id: 'painter' },
    el('legend', { text: 'Placement' }),
    el('label', { class: 'inline', for: 'use-painted' }, usePainted, ' put every defect in a mask painted on one good image'),
    el('div', { id: 'paint-tools', hidden: true },
      el('label', { for: 'paint-good', text: 'Good image' }), goodSelect,
      el('div', { class: 'paint-stage' }, paintImage, paintMask),
      el('div', { class: 'row small' },
        el('label', { for: 'paint-brush', text: 'Brush' }), paintBrush,
        el('label', { class: 'inline', for: 'paint-erase' }, erase, ' erase'), undoPaint, clearPaint),
      el('div', { class: 'row small' }, defectSelect, loadDefect),
      el('div', { class: 'row small', role: 'group', 'aria-label': 'move the mask' }, transforms)));
  usePainted.addEventListener('change', () => {
    painter.querySelector('#paint-tools').hidden = !usePainted.checked;
    if (usePainted.checked && !goodSelect.options.length) loadGoodImages().catch((error) => status(error.message, true));
  });
  goodSelect.addEventListener('change', () => showGood().catch((error) => status(error.message, true)));
  const painting = maskPainter(paintMask, { brush: () => Number(paintBrush.value), erase: () => erase.checked });
  const snapshot = painting.snapshot;
  undoPaint.addEventListener('click', () => painting.undo());
  clearPaint.addEventListener('click', () => {
    snapshot();
    paintMask.getContext('2d').clearRect(0, 0, paintMask.width, paintMask.height);
  });

  // Flip, scale (about the centre) or shift the mask by a tenth of the image, as the classical sampler does.
  function transformMask(kind) {
    const w = paintMask.width, h = paintMask.height;
    const copy = el('canvas'); copy.width = w; copy.height = h;
    copy.getContext('2d').drawImage(paintMask, 0, 0);
    snapshot();
    const g = paintMask.getContext('2d');
    g.save();
    g.clearRect(0, 0, w, h);
    const step = { left: [-w / 10, 0], right: [w / 10, 0], up: [0, -h / 10], down: [0, h / 10] }[kind];
    if (kind === 'flip-h') { g.translate(w, 0); g.scale(-1, 1); }
    else if (kind === 'flip-v') { g.translate(0, h); g.scale(1, -1); }
    else if (kind === 'smaller' || kind === 'larger') {
      const f = kind === 'smaller' ? 0.8 : 1.25;
      g.translate(w / 2, h / 2); g.scale(f, f); g.translate(-w / 2, -h / 2);
    } else if (step) g.translate(step[0], step[1]);
    g.drawImage(copy, 0, 0);
    g.restore();
  }

  // A real defect's mask (white = defect) as the painted mask, scaled to the good image.
  async function startFromDefect() {
    const option = defectSelect.selectedOptions[0];
    if (!option) { status('the product has no defect image with a mask', true); return; }
    const url = await api.blobURL(`/api/v1/blobs/${option.dataset.mask}`);
    objectURLs.push(url);
    const image = await new Promise((resolve, reject) => {
      const i = new Image(); i.onload = () => resolve(i); i.onerror = () => reject(new Error('the mask did not load')); i.src = url;
    });
    snapshot();
    paintFromMaskImage(paintMask, image);
  }
  loadDefect.addEventListener('click', () => startFromDefect().catch((error) => status(error.message, true)));

  async function loadGoodImages() {
    const defects = (await api.get(`${base}/datasets?kind=defect`)).items.filter((i) => i.mask_blob);
    for (const item of defects) {
      defectSelect.append(el('option', { value: item.id, text: `defect ${item.id} (${item.label || 'defect'})`, dataset: { mask: item.mask_blob } }));
    }
    loadDefect.disabled = !defects.length;
    const { items } = await api.get(`${base}/datasets?kind=good`);
    for (const item of items) goodSelect.append(el('option', { value: item.id, text: `image ${item.id}`, dataset: { blob: item.image_blob } }));
    if (items.length) await showGood(); else status('the product has no good images to paint on', true);
  }

  async function showGood() {
    const option = goodSelect.selectedOptions[0];
    if (!option) return;
    const url = await api.blobURL(`/api/v1/blobs/${option.dataset.blob}`);
    objectURLs.push(url);
    const image = await new Promise((resolve, reject) => {
      const i = new Image(); i.onload = () => resolve(i); i.onerror = () => reject(new Error('the good image did not load')); i.src = url;
    });
    for (const c of [paintImage, paintMask]) { c.width = image.naturalWidth; c.height = image.naturalHeight; }
    paintImage.getContext('2d').drawImage(image, 0, 0);
    painting.forget();
    painter.dataset.ready = 'true';
  }

  const job = new JobProgress(api, controller.signal, 'job-');
  const form = el('form', { id: 'synthesize', class: 'panel' },
    el('h2', { text: 'Make synthetic defects' }),
    el('label', { for: 'generator', text: 'Generator' }), generator,
    el('label', { for: 'count', text: 'Samples' }), count,
    el('label', { for: 'seed', text: 'Seed' }), seed,
    el('label', { for: 'label', text: 'Defect label' }), label,
    classicalFields, diffusionFields, painter,
    el('button', { type: 'submit', id: 'start-synthesis', text: 'Start synthesis' }),
    job.bar, job.line);

  const rebuild = el('button', { type: 'button', id: 'rebuild-dual', text: 'Rebuild the dual model with the accepted samples' });
  const comparison = el('section', { id: 'rebuild-comparison', 'aria-live': 'polite' });
  const tabs = el('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Samples by verdict' },
    ['pending', 'accepted', 'rejected'].map((v) => el('button', {
      type: 'button', role: 'tab', id: `tab-${v}`, 'aria-selected': String(v === filter), text: v,
      onclick: () => { filter = v; for (const t of tabs.children) t.setAttribute('aria-selected', String(t.id === `tab-${v}`)); load(); },
    })));
  const gallery = el('ol', { id: 'gallery', class: 'cards samples', 'aria-label': 'Synthetic samples' });
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Defect studio — ${product}` })),
    el('div', { class: 'studio' }, el('div', { class: 'column' }, form, placementPanel(api, base, objectURLs)),
      el('section', { class: 'panel grow' },
        el('div', { class: 'toolbar' }, tabs, rebuild), comparison,
        el('p', { class: 'muted small', text: 'Keys: A accept · R reject · P pending · J/K next/previous sample' }),
        gallery)));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { generator: generator.value, count: Number(count.value), seed: Number(seed.value), label: label.value };
    if (generator.value === 'classical') body.methods = methodBoxes.filter((b) => b.checked).map((b) => b.value);
    else {
      body.prompts = [prompt.value];
      if (negative.value) body.negative_prompt = negative.value;
      body.steps = Number(steps.value); body.guidance_scale = Number(guidance.value); body.strength = Number(strength.value);
      if (paddingCrop.value !== '') body.padding_mask_crop = Number(paddingCrop.value);
    }
    if (usePainted.checked) {
      const mask = await maskPNGBase64(paintMask);
      if (!mask) { status('paint the mask first (or untick the painted placement)', true); return; }
      body.good_item_id = Number(goodSelect.value);
      body.mask_base64 = mask;
      // cut_paste copies a real defect's own shape; into a painted mask only the procedural methods paint.
      if (body.methods) body.methods = body.methods.filter((m) => m !== 'cut_paste');
    }
    try {
      await job.follow(await api.post(`${base}/jobs/synthesize`, body), 'synthesis');
      await load();
    } catch (error) { status(error.message, true); }
  });

  // Rebuild, then before / after: the version that was active and the rebuilt one, each evaluated on the images
  // neither was trained on (`common_with`), side by side.
  rebuild.addEventListener('click', async () => {
    try {
      const [{ items: before }, current] = await Promise.all([api.get(`${base}/models`), api.get(base)]);
      const previous = before.find((v) => v.id === current.active_model_id);
      const fitted = await job.follow(await api.post(`${base}/jobs/fit`, { positives: true, activate: true }), 'dual fit');
      if (fitted?.state !== 'succeeded') return;
      const rebuilt = JSON.parse(fitted.result).version;
      if (previous) await compare(previous.version, rebuilt);
      else clear(comparison).append(el('p', { class: 'muted', text: `v${rebuilt} is the product's first version: nothing to compare it with.` }));
    } catch (error) { status(error.message, true); }
  });

  async function compare(before, after) {
    delete comparison.dataset.state;
    clear(comparison).append(el('h2', { text: `Before and after: v${before} and v${after}` }));
    for (const [version, other] of [[before, after], [after, before]]) {
      const evaluated = await job.follow(await api.post(`${base}/models/${version}/evaluate`, { common_with: other }), `evaluation of v${version}`);
      if (evaluated?.state !== 'succeeded') {
        comparison.dataset.state = 'failed';
        comparison.append(el('p', { class: 'error', text: evaluated?.error ?? 'the evaluation did not finish' }),
          el('button', { type: 'button', id: 'compare-again', text: 'Compare again', onclick: () => compare(before, after).catch((e) => status(e.message, true)) }));
        return;
      }
    }
    const { items } = await api.get(`${base}/models`);
    const [a, b] = [before, after].map((n) => items.find((v) => v.version === n));
    const n = JSON.parse(b.metrics ?? '{}');
    comparison.append(comparisonTable('studio-comparison', a, b, [`before (v${before})`, `after (v${after})`]),
      el('p', { class: 'muted small', text: `Both on the same ${n.n_good ?? '?'} good and ${n.n_defect ?? '?'} defect images that neither version was trained on.` }));
    comparison.dataset.state = 'done';
  }

  async function load() {
    for (const u of objectURLs.splice(0)) URL.revokeObjectURL(u);
    const { items } = await api.get(`${base}/datasets?kind=synthetic&verdict=${filter}`);
    clear(gallery);
    for (const item of items) gallery.append(card(item));
    gallery.querySelector('li')?.focus();
    root.dataset.loaded = 'true';
  }

  function card(item) {
    let details = {};
    try { details = JSON.parse(item.details ?? '{}'); } catch { /* shown without details */ }
    const image = el('img', { alt: `sample ${item.id}`, width: 140, height: 140 });
    const mask = el('img', { alt: `mask of sample ${item.id}`, width: 140, height: 140 });
    for (const [img, sha] of [[image, item.image_blob], [mask, item.mask_blob]]) {
      if (!sha) continue;
      api.blobURL(`/api/v1/blobs/${sha}`).then((u) => { objectURLs.push(u); img.src = u; })
        .catch((error) => status(error.message, true));
    }
    const what = details.prompt ? `“${details.prompt}”` : (details.method ?? details.generator ?? '');
    const li = el('li', { class: `card sample ${item.verdict}`, tabindex: 0, dataset: { id: String(item.id) },
                          'aria-label': `sample ${item.id}, ${item.verdict}` },
      el('div', { class: 'pair' }, image, mask),
      el('div', { class: 'small', text: what }),
      el('div', { class: 'muted small', text: `${item.label} · seed ${details.seed ?? '?'} · from ${details.source_image ?? '?'}` }),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'accept', text: 'Accept', onclick: () => verdict(li, item, 'accepted') }),
        el('button', { type: 'button', class: 'reject', text: 'Reject', onclick: () => verdict(li, item, 'rejected') })));
    li.addEventListener('keydown', (event) => {
      const key = event.key.toLowerCase();
      if (key === 'a') verdict(li, item, 'accepted');
      else if (key === 'r') verdict(li, item, 'rejected');
      else if (key === 'p') verdict(li, item, 'pending');
      else if (key === 'j') li.nextElementSibling?.focus();
      else if (key === 'k') li.previousElementSibling?.focus();
      else return;
      event.preventDefault();
    });
    return li;
  }

  async function verdict(li, item, value) {
    try {
      const updated = await api.post(`/api/v1/datasets/${item.id}/verdict`, { verdict: value });
      status(`sample ${item.id}: ${updated.verdict}`);
      if (updated.verdict !== filter) {
        const next = li.nextElementSibling ?? li.previousElementSibling;
        li.remove();
        next?.focus();
      }
    } catch (error) { status(error.message, true); }
  }

  // Presets fill the diffusion fields and the label (their defect class); saving takes the fields as they are.
  async function loadPresets(selectId) {
    presets = (await api.get(`${base}/prompts`)).items;
    clear(presetSelect).append(el('option', { value: '', text: presets.length ? '— choose a saved prompt —' : '— no saved prompts —' }));
    const classes = [...new Set(presets.map((p) => p.defect_class))];
    for (const c of classes) {
      presetSelect.append(el('optgroup', { label: c },
        presets.filter((p) => p.defect_class === c).map((p) => el('option', { value: p.id, text: p.prompt }))));
    }
    presetSelect.value = selectId ? String(selectId) : '';
    removePreset.disabled = !presetSelect.value;
  }
  presetSelect.addEventListener('change', () => {
    removePreset.disabled = !presetSelect.value;
    const preset = presets.find((p) => String(p.id) === presetSelect.value);
    if (!preset) return;
    generator.value = 'diffusion';
    generator.dispatchEvent(new Event('change'));
    prompt.value = preset.prompt;
    negative.value = preset.negative_prompt ?? '';
    steps.value = preset.steps; guidance.value = preset.guidance_scale; strength.value = preset.strength;
    paddingCrop.value = preset.padding_mask_crop ?? '';
    if (preset.seed !== undefined && preset.seed !== null) seed.value = preset.seed;
    label.value = preset.defect_class;
  });
  savePreset.addEventListener('click', async () => {
    const body = { defect_class: label.value.trim(), prompt: prompt.value, steps: Number(steps.value),
                   guidance_scale: Number(guidance.value), strength: Number(strength.value), seed: Number(seed.value) };
    if (negative.value) body.negative_prompt = negative.value;
    if (paddingCrop.value !== '') body.padding_mask_crop = Number(paddingCrop.value);
    try {
      const saved = await api.post(`${base}/prompts`, body);
      await loadPresets(saved.id);
      status(`saved to the ${saved.defect_class} prompts`);
    } catch (error) { status(error.message, true); }
  });
  removePreset.addEventListener('click', async () => {
    try {
      const removed = await api.request('DELETE', `/api/v1/prompts/${encodeURIComponent(presetSelect.value)}`);
      undoRemovePreset.dataset.id = String(removed.id);
      undoRemovePreset.hidden = false;
      await loadPresets();
      status(`removed a ${removed.defect_class} prompt`);
    } catch (error) { status(error.message, true); }
  });
  undoRemovePreset.addEventListener('click', async () => {
    try {
      const restored = await api.post(`/api/v1/prompts/${encodeURIComponent(undoRemovePreset.dataset.id)}/restore`);
      undoRemovePreset.hidden = true;
      await loadPresets(restored.id);
      status(`restored a ${restored.defect_class} prompt`);
    } catch (error) { status(error.message, true); }
  });

  load().catch((error) => status(error.message, true));
  loadPresets().catch((error) => status(error.message, true));
  return () => { controller.abort(); for (const u of objectURLs.splice(0)) URL.revokeObjectURL(u); };
}
