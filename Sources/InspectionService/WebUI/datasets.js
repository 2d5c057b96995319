// Datasets: the product's good and defect images (defects beside their masks), upload of many files at once by
// drag and drop or a file picker (`x_mask.png` is the mask of `x.png`; all or none are stored), remove with undo.
import { hasRole } from './api.js';
import { el, clear, status, formatTime } from './dom.js';

export function showDatasets(root, api, product, _argument, me) {
  const base = `/api/v1/products/${encodeURIComponent(product)}`;
  const canEdit = hasRole(me, 'expert');
  const urls = [];
  let kind = 'good';
  const grid = el('ol', { id: 'dataset-items', class: 'cards', 'aria-label': 'Images of the set' });
  const summary = el('p', { id: 'dataset-summary', class: 'muted' });
  const removed = el('ul', { id: 'recently-removed', class: 'small' });
  const tabs = el('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Sets' },
    ['good', 'defect'].map((k) => el('button', { type: 'button', role: 'tab', id: `set-${k}`, 'aria-selected': String(k === kind),
      text: k, onclick: () => { kind = k; for (const t of tabs.children) t.setAttribute('aria-selected', String(t.id === `set-${k}`)); load(); } })));
  const files = el('input', { type: 'file', id: 'upload-files', multiple: true, accept: 'image/png,image/jpeg', 'aria-label': 'images to upload' });
  const label = el('input', { id: 'upload-label', maxlength: 64, placeholder: 'defect type (default: folder name)' });
  const drop = el('div', { id: 'drop-zone', class: 'drop', tabindex: 0 },
    el('p', { text: 'Drop PNG / JPEG files here, or pick them:' }), files,
    el('label', { for: 'upload-label', text: 'Label' }), label);
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Datasets — ${product}` }), tabs),
    canEdit ? drop : null, summary, removed, grid);

  async function upload(list) {
    const form = new FormData();
    for (const f of list) form.append('files', f, f.name);
    const query = label.value ? `?label=${encodeURIComponent(label.value)}` : '';
    try {
      const response = await fetch(`${base}/datasets/${kind}/batch${query}`, { method: 'POST', headers: api.headers(), body: form });
      const text = await response.text();
      if (!response.ok) throw new Error(`${response.status}: ${JSON.parse(text).error?.message ?? text}`);
      const result = JSON.parse(text);
      status(`added ${result.items.length} image(s) to the ${kind} set${result.skipped.length ? `; skipped ${result.skipped.join(', ')}` : ''}`);
      await load();
    } catch (error) { status(error.message, true); }
  }
  files.addEventListener('change', () => { if (files.files.length) upload([...files.files]); files.value = ''; });
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    upload([...event.dataTransfer.files]);
  });

  async function remove(item) {
    try {
      await api.request('DELETE', `/api/v1/datasets/${item.id}`);
      const undo = el('button', { type: 'button', class: 'restore', text: 'Undo', onclick: async () => {
        try { await api.post(`/api/v1/datasets/${item.id}/restore`); entry.remove(); status(`image ${item.id} restored`); await load(); }
        catch (error) { status(error.message, true); } } });
      const entry = el('li', { dataset: { id: String(item.id) } }, `removed image ${item.id} from the ${item.kind} set `, undo);
      removed.prepend(entry);
      await load();
    } catch (error) { status(error.message, true); }
  }

  async function load() {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    const { items } = await api.get(`${base}/datasets?kind=${kind}`);
    summary.textContent = `${items.length} ${kind} image(s)`;
    clear(grid);
    for (const item of items) {
      const pictures = el('div', { class: item.mask_blob ? 'pair' : '' });
      for (const [sha, alt] of [[item.image_blob, `image ${item.id}`], [item.mask_blob, `mask of image ${item.id}`]]) {
        if (!sha) continue;
        const img = el('img', { alt, width: 120, height: 120 });
        pictures.append(img);
        api.blobURL(`/api/v1/blobs/${sha}`).then((u) => { urls.push(u); img.src = u; }).catch((e) => status(e.message, true));
      }
      grid.append(el('li', { class: 'card', dataset: { id: String(item.id) } }, pictures,
        el('div', { class: 'small', text: item.label || item.kind }),
        el('div', { class: 'muted small', text: `${item.origin} · ${formatTime(item.created_ms)}` }),
        canEdit ? el('button', { type: 'button', class: 'remove', text: 'Remove', onclick: () => remove(item) }) : null));
    }
    root.dataset.loaded = 'true';
  }

  load().catch((error) => status(error.message, true));
  return () => { for (const u of urls.splice(0)) URL.revokeObjectURL(u); };
}
