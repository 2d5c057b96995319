// Review queue: unreviewed NG parts and unreviewed good ones within a band below the active threshold, oldest
// first. One key per verdict on the focused part (C confirm, G good, D defect, Enter opens it, J/K move); what the
// verdict will do to the datasets is shown for the focused part before the key is pressed.
import { el, clear, status, formatScore, formatTime } from './dom.js';
import { effectOf } from './detail.js';

export function showReview(root, api, product) {
  const name = encodeURIComponent(product);
  const urls = [];
  const band = el('input', { id: 'band', type: 'number', min: 0, max: 100, step: 1, value: 10 });
  const list = el('ol', { id: 'queue', class: 'queue', 'aria-label': 'Parts to review, oldest first' });
  const summary = el('p', { id: 'queue-summary', class: 'muted' });
  const effect = el('p', { id: 'queue-effect', class: 'small', 'aria-live': 'polite' });
  clear(root).append(
    el('div', { class: 'toolbar' }, el('h1', { text: `Review — ${product}` }),
      el('label', { for: 'band', text: 'Also good parts within' }), band, el('span', { text: '% below the threshold' })),
    el('p', { class: 'muted small', text: 'Keys on the focused part: C confirm · G good · D defect · Enter open · J/K next/previous' }),
    summary, effect, list);
  band.addEventListener('change', () => load());

  async function load() {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    const p = await api.get(`/api/v1/products/${name}`);
    const { items: versions } = await api.get(`/api/v1/products/${name}/models`);
    const active = versions.find((v) => v.id === p.active_model_id);
    const ng = (await api.get(`/api/v1/inspections?product=${name}&decision=anomalous&reviewed=false&limit=200`)).items;
    let near = [];
    if (active && Number(band.value) > 0) {
      const low = active.threshold * (1 - Number(band.value) / 100);
      near = (await api.get(`/api/v1/inspections?product=${name}&decision=ok&reviewed=false&min_score=${low}&limit=200`)).items;
    }
    const parts = [...ng, ...near].sort((a, b) => a.id - b.id);
    summary.textContent = `${ng.length} NG and ${near.length} near-threshold good part(s) to review`;
    clear(list);
    for (const i of parts) list.append(row(i));
    root.dataset.loaded = 'true';
  }

  function row(inspection) {
    const ok = inspection.decision === 'ok';
    const img = el('img', { alt: `inspection ${inspection.id}`, width: 72, height: 72 });
    if (inspection.overlay_blob) {
      api.blobURL(`/api/v1/blobs/${inspection.overlay_blob}`).then((u) => { urls.push(u); img.src = u; }).catch((e) => status(e.message, true));
    }
    const li = el('li', { tabindex: 0, class: ok ? 'ok' : 'ng', dataset: { id: String(inspection.id) },
                          'aria-label': `inspection ${inspection.id}, ${ok ? 'OK' : 'NG'}, score ${formatScore(inspection.score)}` },
      img,
      el('span', { class: `badge ${ok ? 'ok' : 'ng'}`, text: ok ? 'OK' : 'NG' }),
      el('span', { text: `#${inspection.id}` }),
      el('span', { class: 'muted', text: `score ${formatScore(inspection.score)} / ${formatScore(inspection.threshold)}` }),
      el('span', { class: 'muted', text: `${inspection.source} · ${formatTime(inspection.created_ms)}` }),
      el('span', { class: 'row' }, ['confirm', 'good', 'defect'].map((v) => el('button', {
        type: 'button', class: `verdict-${v}`, text: v, onclick: () => review(li, inspection, v) }))));
    li.addEventListener('focus', () => {
      effect.textContent = `#${inspection.id}: ${effectOf('confirm', inspection.decision)} ${effectOf(ok ? 'defect' : 'good', inspection.decision)}`;
    });
    li.addEventListener('keydown', (event) => {
      const key = event.key.toLowerCase();
      const verdict = { c: 'confirm', g: 'good', d: 'defect' }[key];
      if (verdict) review(li, inspection, verdict);
      else if (key === 'enter') location.hash = `#/inspection/${inspection.id}`;
      else if (key === 'j') li.nextElementSibling?.focus();
      else if (key === 'k') li.previousElementSibling?.focus();
      else return;
      event.preventDefault();
    });
    return li;
  }

  async function review(li, inspection, verdict) {
    try {
      const made = await api.post(`/api/v1/inspections/${inspection.id}/review`, { verdict });
      status(`#${inspection.id}: ${verdict}${made.dataset_item_id ? `, dataset item ${made.dataset_item_id} added` : ''}`);
      const next = li.nextElementSibling ?? li.previousElementSibling;
      li.remove();
      next?.focus();
      summary.textContent = `${list.children.length} part(s) left to review`;
    } catch (error) { status(error.message, true); }
  }

  load().then(() => list.querySelector('li')?.focus()).catch((error) => status(error.message, true));
  return () => { for (const u of urls.splice(0)) URL.revokeObjectURL(u); };
}
