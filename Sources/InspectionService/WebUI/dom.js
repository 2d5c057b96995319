// Element helpers: every piece of text goes through textContent, never innerHTML, so user text (prompts, labels,
// sources, file names) is shown as text whatever it contains.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) { while (node.firstChild) node.firstChild.remove(); return node; }

export function status(message, isError = false) {
  const line = document.getElementById('status');
  line.textContent = message;
  line.classList.toggle('error', isError);
}

export function formatScore(x) { return Number.isFinite(x) ? x.toFixed(3) : String(x); }

export function formatTime(ms) { return new Date(ms).toLocaleTimeString(); }
