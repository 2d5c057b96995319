// Live: a product's inspections as they are committed (server-sent events), newest first, with counters.
import { el, clear, status, formatScore, formatTime } from './dom.js';

const MAX_CARDS = 48;

// Sizes go through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
function fillBar(fraction) {
  const bar = el('span', { class: 'fill' });
  bar.style.width = `${(100 * fraction).toFixed(1)}%`;
  return bar;
}   // older cards leave the page (and their images' object URLs are released)

export function showLive(root, api, product) {
  const controller = new AbortController();
  const counts = { parts: 0, ng: 0, times: [] };
  let paused = false;
  const held = [];
  const parts = el('output', { id: 'count-parts', text: '0' });
  const ng = el('output', { id: 'count-ng', text: '0' });
  const rate = el('output', { id: 'count-rate', text: '–' });
  const hour = el('output', { id: 'count-hour', text: '0' });
  const pause = el('button', { type: 'button', id: 'pause', 'aria-pressed': 'false', text: 'Pause' });
  const grid = el('ol', { id: 'live-cards', class: 'cards', 'aria-label': 'Latest inspections, newest first' });
  const state = el('span', { id: 'stream-state', class: 'muted', text: 'connecting…' });
  clear(root).append(
    el('div', { class: 'toolbar' },
      el('h1', { text: `Live — ${product}` }), state, pause),
    el('dl', { class: 'counters' },
      el('div', {}, el('dt', { text: 'Parts' }), el('dd', {}, parts)),
      el('div', {}, el('dt', { text: 'NG' }), el('dd', {}, ng)),
      el('div', {}, el('dt', { text: 'NG rate' }), el('dd', {}, rate)),
      el('div', {}, el('dt', { text: 'Last hour' }), el('dd', {}, hour))),
    grid);

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? `Resume (${held.length})` : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) { for (const inspection of held.splice(0)) addCard(inspection); }
  });

  function count(inspection) {
    counts.parts += 1;
    if (inspection.decision === 'anomalous') counts.ng += 1;
    counts.times.push(inspection.created_ms);
    const hourAgo = Date.now() - 3600_000;
    while (counts.times.length && counts.times[0] < hourAgo) counts.times.shift();
    parts.textContent = String(counts.parts);
    ng.textContent = String(counts.ng);
    rate.textContent = `${(100 * counts.ng / counts.parts).toFixed(1)} %`;
    hour.textContent = String(counts.times.length);
  }

  function addCard(inspection) {
    const ok = inspection.decision === 'ok';
    // The bar puts the threshold at its middle: a score twice the threshold fills it.
    const fill = Math.max(0, Math.min(1, inspection.score / (2 * inspection.threshold)));
    const image = el('img', { alt: `inspection ${inspection.id} with its heatmap`, width: 160, height: 160 });
    const open = () => { location.hash = `#/inspection/${inspection.id}`; };
    const card = el('li', { class: `card ${ok ? 'ok' : 'ng'}`, dataset: { id: String(inspection.id) }, tabindex: 0,
                            'aria-label': `inspection ${inspection.id}: ${ok ? 'OK' : 'NG'}, open`,
                            onclick: open, onkeydown: (e) => { if (e.key === 'Enter') open(); } },
      image,
      el('div', { class: 'row' },
        el('span', { class: `badge ${ok ? 'ok' : 'ng'}`, text: ok ? 'OK' : 'NG' }),
        el('span', { class: 'muted', text: `#${inspection.id} · v${inspection.model_version}` })),
      el('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 2 * inspection.threshold,
                  'aria-valuenow': inspection.score, 'aria-label': 'score against the threshold' },
        fillBar(fill),
        el('span', { class: 'threshold' })),
      el('div', { class: 'muted small', text: `score ${formatScore(inspection.score)} / threshold ${formatScore(inspection.threshold)}` }),
      el('div', { class: 'muted small', text: `${inspection.source} · ${formatTime(inspection.created_ms)}` }));
    grid.prepend(card);
    const url = inspection.overlay_url ?? inspection.image_url;
    if (url) {
      api.blobURL(url).then((objectURL) => {
        if (card.isConnected) image.src = objectURL; else URL.revokeObjectURL(objectURL);
      }).catch((error) => status(String(error.message), true));
    }
    while (grid.children.length > MAX_CARDS) {
      const old = grid.lastElementChild;
      const src = old.querySelector('img')?.src;
      if (src?.startsWith('blob:')) URL.revokeObjectURL(src);
      old.remove();
    }
  }

  function receive(inspection) {
    count(inspection);
    if (paused) { held.push(inspection); pause.textContent = `Resume (${held.length})`; } else addCard(inspection);
  }

  // The latest stored inspections first (not counted: the counters start with the page), then the stream from the
  // newest of them, so nothing committed in between is missed.
  async function history() {
    const name = encodeURIComponent(product);
    const versions = new Map((await api.get(`/api/v1/products/${name}/models`)).items.map((v) => [v.id, v.version]));
    const page = await api.get(`/api/v1/inspections?product=${name}&limit=24`);
    for (const i of [...page.items].reverse()) {
      addCard({ ...i, model_version: versions.get(i.model_version_id) ?? '?',
                overlay_url: i.overlay_blob ? `/api/v1/blobs/${i.overlay_blob}` : null,
                image_url: `/api/v1/blobs/${i.image_blob}` });
    }
    return page.items.length ? String(page.items[0].id) : null;
  }

  (async () => {
    let lastId = null;
    try { lastId = await history(); } catch (error) { status(error.message, true); }
    for (let attempt = 0; !controller.signal.aborted; attempt += 1) {
      try {
        const opened = () => { state.textContent = 'live'; attempt = 0; };
        for await (const message of api.events(`/api/v1/products/${encodeURIComponent(product)}/events`, controller.signal, lastId, opened)) {
          if (message.event !== 'inspection') continue;
          lastId = message.id;
          receive(JSON.parse(message.data));
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        state.textContent = `reconnecting (${error.message})`;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * (attempt + 1))));
    }
  })();
  return () => controller.abort();
}
