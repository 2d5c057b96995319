// Painting a defect mask on a canvas laid over an image, for the inspection detail (a verdict's mask) and the
// defect studio (where a synthetic defect goes); the API takes the mask as a PNG at the image's size.

// A round dab of `diameter` image pixels where the pointer is (the canvas may be shown scaled); `erase` clears.
export function dab(mask, event, diameter, erase = false) {
  const r = mask.getBoundingClientRect();
  const x = (event.clientX - r.left) / r.width * mask.width, y = (event.clientY - r.top) / r.height * mask.height;
  const g = mask.getContext('2d');
  g.save();
  g.globalCompositeOperation = erase ? 'destination-out' : 'source-over';
  g.fillStyle = '#ff2020';
  g.beginPath();
  g.arc(x, y, diameter / 2, 0, 2 * Math.PI);
  g.fill();
  g.restore();
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
