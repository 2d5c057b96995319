// Painting a defect mask on a canvas laid over an image, for the inspection detail (a verdict's mask) and the
// defect studio (where a synthetic defect goes); the API takes the mask as a PNG at the image's size.

// A round dab of `diameter` image pixels where the pointer is (the canvas may be shown scaled); `erase` clears.
export function dab(mask, event, diameter, erase = false) {
  const r = mask.getBoundingClientRect();
  dabAt(mask, (event.clientX - r.left) / r.width * mask.width, (event.clientY - r.top) / r.height * mask.height, diameter, erase);
}

function dabAt(mask, x, y, diameter, erase) {
  const g = mask.getContext('2d');
  g.save();
  g.globalCompositeOperation = erase ? 'destination-out' : 'source-over';
  g.fillStyle = '#ff2020';
  g.beginPath();
  g.arc(x, y, diameter / 2, 0, 2 * Math.PI);
  g.fill();
  g.restore();
}

// Painting without a pointer: the canvas takes focus; arrow keys move a ring cursor by a twentieth of the image
// (with Shift, an eightieth), Space or Enter paints a dab there, and holding P while moving paints a stroke.
// `brush()` and `erase()` read the page's controls; `before()` runs before each change (the page's undo snapshot).
export function keyboardPainting(mask, { brush, erase = () => false, before = () => {} }) {
  mask.tabIndex = 0;
  const cursor = document.createElement('div');
  cursor.className = 'paint-cursor';
  cursor.hidden = true;
  mask.parentElement.append(cursor);
  let x = 0.5, y = 0.5, stroke = false;
  const place = () => {
    cursor.style.left = `${x * 100}%`; cursor.style.top = `${y * 100}%`;
    cursor.style.width = cursor.style.height = `${brush() / Math.max(1, mask.width) * 100}%`;
    mask.setAttribute('aria-valuetext', `cursor at ${Math.round(x * 100)} % across, ${Math.round(y * 100)} % down`);
  };
  const paint = () => { before(); dabAt(mask, x * mask.width, y * mask.height, brush(), erase()); };
  mask.addEventListener('focus', () => { cursor.hidden = false; place(); });
  mask.addEventListener('blur', () => { cursor.hidden = true; stroke = false; });
  mask.addEventListener('keyup', (event) => { if (event.key === 'p' || event.key === 'P') stroke = false; });
  mask.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? 1 / 80 : 1 / 20;
    const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
    if (move) {
      x = Math.min(1, Math.max(0, x + move[0])); y = Math.min(1, Math.max(0, y + move[1]));
      place();
      if (stroke) paint();
    } else if (event.key === ' ' || event.key === 'Enter') paint();
    else if ((event.key === 'p' || event.key === 'P') && !event.repeat) { stroke = true; paint(); }
    else return;
    event.preventDefault();
  });
}

// A mask canvas painted with the pointer (strokes) and the keyboard (keyboardPainting), with an undo history of 30
// changes. `snapshot()` records the canvas before a change made elsewhere (a clear, a transform, a loaded mask).
export function maskPainter(mask, { brush, erase = () => false }) {
  const history = [];
  const snapshot = () => {
    history.push(mask.getContext('2d').getImageData(0, 0, mask.width, mask.height));
    if (history.length > 30) history.shift();
  };
  let stroke = false;
  mask.addEventListener('pointerdown', (event) => {
    mask.setPointerCapture(event.pointerId);
    snapshot();
    stroke = true;
    dab(mask, event, brush(), erase());
  });
  mask.addEventListener('pointermove', (event) => { if (stroke) dab(mask, event, brush(), erase()); });
  mask.addEventListener('pointerup', () => { stroke = false; });
  keyboardPainting(mask, { brush, erase, before: snapshot });
  return {
    snapshot,
    undo() { const last = history.pop(); if (last) mask.getContext('2d').putImageData(last, 0, 0); },
    forget() { history.length = 0; },
  };
}

// A mask image (white = marked) as painted pixels, scaled to the canvas; it replaces what was painted.
export function paintFromMaskImage(mask, image) {
  const w = mask.width, h = mask.height;
  const scratch = document.createElement('canvas');
  scratch.width = w; scratch.height = h;
  const sg = scratch.getContext('2d');
  sg.drawImage(image, 0, 0, w, h);
  const source = sg.getImageData(0, 0, w, h).data;
  const g = mask.getContext('2d');
  const out = g.createImageData(w, h);
  for (let i = 0; i < source.length; i += 4) {
    if (source[i] > 127) { out.data[i] = 255; out.data[i + 1] = 32; out.data[i + 2] = 32; out.data[i + 3] = 255; }
  }
  g.putImageData(out, 0, 0);
}

// The painted pixels as the API takes them: base64 of a PNG at the canvas's size, white where painted, black
// elsewhere; undefined when nothing is painted.
export async function maskPNGBase64(mask) {
  const painted = mask.getContext('2d').getImageData(0, 0, mask.width, mask.height);
  const out = document.createElement('canvas');
  out.width = mask.width; out.height = mask.height;
  const g = out.getContext('2d');
  const pixels = g.createImageData(mask.width, mask.height);
  let any = false;
  for (let i = 0; i < painted.data.length; i += 4) {
    const v = painted.data[i + 3] > 0 ? 255 : 0;
    if (v) any = true;
    pixels.data[i] = v; pixels.data[i + 1] = v; pixels.data[i + 2] = v; pixels.data[i + 3] = 255;
  }
  if (!any) return undefined;
  g.putImageData(pixels, 0, 0);
  const blob = await new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
