// The app shell: sign-in with an API key (kept in this tab's sessionStorage), role-aware navigation, a product
// picker, and hash routes (#/live, #/studio) that mount one page at a time.
import { API, hasRole } from './api.js';
import { el, clear, status } from './dom.js';
import { showLive } from './live.js';
import { showStudio } from './studio.js';
import { showDetail } from './detail.js';
import { showModels } from './models.js';
import { showDatasets } from './datasets.js';
import { showReview } from './review.js';
import { showCalibration } from './calibration.js';

const PAGES = {
  live: { show: showLive, role: 'operator' },
  inspection: { show: showDetail, role: 'operator' },
  review: { show: showReview, role: 'operator' },
  models: { show: showModels, role: 'operator' },
  calibration: { show: showCalibration, role: 'operator' },
  datasets: { show: showDatasets, role: 'operator' },
  studio: { show: showStudio, role: 'expert' },
};
let api = null;
let me = null;
let unmount = null;

const $ = (id) => document.getElementById(id);

async function signIn(key) {
  const candidate = new API(key);
  me = await candidate.get('/api/v1/me');
  api = candidate;
  sessionStorage.setItem('patchcore.key', key);
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = `${me.name} (${me.role})`;
  // Links of pages above the role are not shown at all (the server refuses their calls anyway).
  for (const link of $('nav').querySelectorAll('a')) {
    link.hidden = !hasRole(me, link.dataset.role ?? 'operator');
  }
  await loadProducts();
  route();
}

async function loadProducts() {
  const { items } = await api.get('/api/v1/products');
  const select = clear($('product'));
  for (const p of items) select.append(el('option', { value: p.name, text: p.name }));
  const saved = sessionStorage.getItem('patchcore.product');
  if (saved && items.some((p) => p.name === saved)) select.value = saved;
  $('product-picker').hidden = items.length === 0;
}

function route() {
  if (!api) return;
  unmount?.();
  unmount = null;
  // #/page or #/page/argument (an inspection id).
  const [name = 'live', argument] = location.hash.replace(/^#\//, '').split('/');
  const page = PAGES[name || 'live'] ?? PAGES.live;
  for (const link of $('nav').querySelectorAll('a')) {
    link.setAttribute('aria-current', link.dataset.page === name ? 'page' : 'false');
  }
  // A fresh element per route: a page still loading when it is left writes into its own, detached one. It names
  // its page at once; the page sets data-loaded when its data is shown (the browser test waits for both).
  const root = el('section', { id: 'page', dataset: { page: page === PAGES[name] ? name : 'live' } });
  $('page').replaceWith(root);
  const product = $('product').value;
  if (!hasRole(me, page.role)) {
    clear(root).append(el('p', { class: 'error', text: `This page needs the ${page.role} role.` }));
  } else if (!product) {
    clear(root).append(el('p', { text: 'No product yet: an administrator adds one (POST /api/v1/products).' }));
  } else {
    unmount = page.show(root, api, product, argument, me);
  }
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('sign-in-error').textContent = '';
  try {
    await signIn($('key').value.trim());
    $('key').value = '';
  } catch (error) {
    $('sign-in-error').textContent = error.status === 401 ? 'That key is not valid (unknown or revoked).' : error.message;
  }
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem('patchcore.key');
  location.hash = '';
  location.reload();
});

$('product').addEventListener('change', () => {
  sessionStorage.setItem('patchcore.product', $('product').value);
  route();
});

window.addEventListener('hashchange', route);

const saved = sessionStorage.getItem('patchcore.key');
if (saved) signIn(saved).catch(() => { sessionStorage.removeItem('patchcore.key'); status('Sign in again.'); });
