// Live: a product's inspections as they are committed (server-sent events), newest first, with counters for the
// current shift and the last hour. The counters come from the server (so a page opened mid-shift is right) and are
// kept up by the stream between refreshes; shift start times are the page's setting (kept in this browser).
import { el, clear, status, formatScore, formatTime } from './dom.js';

const MAX_CARDS = 48;
const SHIFTS_KEY = 'patchcore.shiftStarts';
const REFRESH_MS = 60_000;

// "06:00,14:00,22:00" -> minutes after midnight, sorted; null when any part is not HH:MM.
export function parseShiftStarts(text) {
  const starts = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,2}):(\d{2})$/.exec(part);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return null;
    starts.push(Number(m[1]) * 60 + Number(m[2]));
  }
  return starts.length ? starts.sort((a, b) => a - b) : null;
}

// The latest shift start (local time) at or before `now`: today's, or yesterday's last one.
export function shiftStart(starts, now = new Date()) {
  const minutes = now.getHours() * 60 + now.getMinutes();
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const earlier = starts.filter((s) => s <= minutes);
  if (earlier.length) return new Date(today.getTime() + earlier[earlier.length - 1] * 60_000);
  const yesterday = new Date(today); yesterday.setDate(yesterday.getDate() - 1);
  return new Date(yesterday.getTime() + starts[starts.length - 1] * 60_000);
}

// Sizes go through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
function fillBar(fraction) {
  const bar = el('span', { class: 'fill' });
  bar.style.width = `${(100 * fraction).toFixed(1)}%`;
  return bar;
}   // older cards leave the page (and their images' object URLs are released)

export function showLive(root, api, product) {
  const controller = new AbortController();
  // Server counts since the shift start and since an hour ago, each with the newest inspection id it covers.
  const counts = { shift: { parts: 0, ng: 0, lastId: Infinity }, hour: { parts: 0, ng: 0, lastId: Infinity }, shiftFrom: null };
  let paused = false;
  const shiftText = el('input', { id: 'shift-starts', type: 'text', size: 17, value: localStorage.getItem(SHIFTS_KEY) ?? '06:00,14:00,22:00',
                                  'aria-describedby': 'shift-since' });
  const shiftSince = el('span', { id: 'shift-since', class: 'muted small' });
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
      el('h1', { text: `Live — ${product}` }), state, pause,
      el('label', { for: 'shift-starts', class: 'small', text: 'Shifts start' }), shiftText, shiftSince),
    el('dl', { class: 'counters' },
      el('div', {}, el('dt', { text: 'Parts this shift' }), el('dd', {}, parts)),
      el('div', {}, el('dt', { text: 'NG this shift' }), el('dd', {}, ng)),
      el('div', {}, el('dt', { text: 'NG rate' }), el('dd', {}, rate)),
      el('div', {}, el('dt', { text: 'Last hour' }), el('dd', {}, hour))),
    grid);

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? `Resume (${held.length})` : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) { for (const inspection of held.splice(0)) addCard(inspection); }
  });

  function showCounts() {
    const s = counts.shift;
    parts.textContent = String(s.parts);
    ng.textContent = String(s.ng);
    rate.textContent = s.parts ? `${(100 * s.ng / s.parts).toFixed(1)} %` : '–';
    hour.textContent = String(counts.hour.parts);
  }

  // Both counters from the server (GET .../counts); a streamed inspection is added only past the id they cover.
  async function refreshCounts() {
    const starts = parseShiftStarts(shiftText.value);
    shiftText.setAttribute('aria-invalid', String(!starts));
    if (!starts) { status('shift starts: write times as HH:MM, comma-separated (e.g. 06:00,14:00,22:00)', true); return; }
    localStorage.setItem(SHIFTS_KEY, shiftText.value);
    const from = shiftStart(starts);
    const name = encodeURIComponent(product);
    const [shift, hourAgo] = await Promise.all([
      api.get(`/api/v1/products/${name}/counts?from_ms=${from.getTime()}`),
      api.get(`/api/v1/products/${name}/counts?from_ms=${Date.now() - 3600_000}`)]);
    counts.shift = { parts: shift.parts, ng: shift.ng, lastId: shift.last_id };
    counts.hour = { parts: hourAgo.parts, ng: hourAgo.ng, lastId: hourAgo.last_id };
    shiftSince.textContent = `since ${from.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' })}`;
    showCounts();
  }
  shiftText.addEventListener('change', () => refreshCounts().catch((error) => status(error.message, true)));

  function count(inspection) {
    for (const c of [counts.shift, counts.hour]) {
      if (inspection.id <= c.lastId) continue;
      c.parts += 1;
      if (inspection.decision === 'anomalous') c.ng += 1;
    }
    showCounts();
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

  let received = 0;
  function receive(inspection) {
    received += 1;
    root.dataset.received = String(received);   // read by bench/serve/live_page.py: events delivered vs inspected
    count(inspection);
    if (paused) { held.push(inspection); pause.textContent = `Resume (${held.length})`; } else addCard(inspection);
  }

  // The latest stored inspections first (counted by the server, not here), then the stream from the newest of
  // them, so nothing committed in between is missed.
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
    try { await refreshCounts(); lastId = await history(); root.dataset.loaded = 'true'; } catch (error) { status(error.message, true); }
    const refresher = setInterval(() => refreshCounts().catch((error) => status(error.message, true)), REFRESH_MS);
    controller.signal.addEventListener('abort', () => clearInterval(refresher));
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
