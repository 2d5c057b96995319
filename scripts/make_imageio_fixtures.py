#!/usr/bin/env python3
"""Writes the ImageIO test fixtures (Tests/ImageIOTests/Fixtures) with PIL and torchvision.

Deterministic (seeded). Every decoded/expected pixel array is stored raw as <name>.bin (uint8, HWC)
and described in manifest.json, so the Swift tests compare against PIL without decoding anything else.

Contents
- png_*: every PNG colour type / bit depth, tRNS, interlaced (written by a tiny PNG writer here, since PIL
  cannot write 2/4/16-bit gray, 16-bit RGB or Adam7); expected = PIL's decode (converted to L/RGB/RGBA),
  except 16-bit where PIL clips ('I;16' -> 'L'), so expected = v >> 8 (high byte, PIL's RGB;16B rule).
- jpeg_*: baseline/progressive, gray/RGB (+ CMYK, expected to be refused); expected = PIL's decode.
- bad_*: truncated, zero-byte, text, corrupt files.
- resize_*: PIL BILINEAR resizes, torchvision Resize(S)/CenterCrop(C), PIL NEAREST mask resizes, convert('L').
"""
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

import torch
_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
import torchvision.transforms as T  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "ImageIOTests", "Fixtures")
rng = np.random.default_rng(1234)
manifest = {"decode": [], "bad": [], "resize": [], "nearest": [], "gray": [], "torchvision": []}


def path(name):
    return os.path.join(OUT, name)


def save_bin(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    with open(path(name), "wb") as f:
        f.write(arr.tobytes())


def hwc(img):
    a = np.asarray(img)
    return a[:, :, None] if a.ndim == 2 else a


def smooth(h, w, c, noise=20):
    """Gradients plus noise: compresses well, exercises every level."""
    y, x = np.mgrid[0:h, 0:w]
    base = [(x * 255 / max(w - 1, 1)), (y * 255 / max(h - 1, 1)), ((x + y) * 127 / max(w + h - 2, 1))]
    chans = [np.clip(base[i % 3] + rng.normal(0, noise, (h, w)), 0, 255) for i in range(c)]
    return np.stack(chans, axis=2).round().astype(np.uint8)


# ---------- tiny PNG writer (any colour type, bit depth, Adam7) ----------
def chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples (h, w*c) ints -> list of row bytes at bit_depth."""
    rows = []
    for r in samples:
        if bit_depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in r))
        elif bit_depth == 8:
            rows.append(bytes(int(v) for v in r))
        else:
            per = 8 // bit_depth
            out = bytearray()
            for i in range(0, len(r), per):
                byte = 0
                for j in range(per):
                    v = int(r[i + j]) if i + j < len(r) else 0
                    byte |= v << (8 - bit_depth * (j + 1))
                out.append(byte)
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, samples, color_type, bit_depth, plte=None, trns=None, interlace=False, extra=b""):
    """samples: (h, w, c) ints at bit_depth (palette indices for colour type 3)."""
    h, w, c = samples.shape
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            for row in pack_rows(sub.reshape(sub.shape[0], -1), bit_depth):
                raw += b"\x00" + row
    else:
        for row in pack_rows(samples.reshape(h, -1), bit_depth):
            raw += b"\x00" + row
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    png += extra
    if plte is not None:
        png += chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path(name), "wb") as f:
        f.write(png)
    return png


def add_decode(name, expected, tolerance=0, note=""):
    save_bin(name + ".bin", expected)
    h, w, c = expected.shape
    manifest["decode"].append({"file": name, "expected": name + ".bin", "width": w, "height": h,
                               "channels": c, "tolerance": tolerance, "note": note})


def pil_expected(name, mode):
    with Image.open(path(name)) as im:
        return hwc(im.convert(mode))


def make_png_fixtures():
    h, w = 11, 13
    # gray 1/2/4/8 bit
    for bits in (1, 2, 4, 8):
        s = rng.integers(0, 2 ** bits, (h, w, 1))
        n = f"png_gray{bits}.png"
        write_png(n, s, 0, bits)
        add_decode(n, pil_expected(n, "L"))
    # gray 16 (PIL would clip: expected is the high byte, libpng may round: tolerance 1)
    s = rng.integers(0, 65536, (h, w, 1))
    write_png("png_gray16.png", s, 0, 16)
    add_decode("png_gray16.png", (s >> 8).astype(np.uint8), 1, "16-bit: expected v>>8")
    # RGB 8 / 16
    s = smooth(h, w, 3)
    write_png("png_rgb8.png", s, 2, 8)
    add_decode("png_rgb8.png", pil_expected("png_rgb8.png", "RGB"))
    s16 = rng.integers(0, 65536, (h, w, 3))
    write_png("png_rgb16.png", s16, 2, 16)
    add_decode("png_rgb16.png", pil_expected("png_rgb16.png", "RGB"), 1, "PIL keeps the high byte")
    # RGBA 8 / 16
    s = np.concatenate([smooth(h, w, 3), rng.integers(0, 256, (h, w, 1))], axis=2)
    write_png("png_rgba8.png", s, 6, 8)
    add_decode("png_rgba8.png", pil_expected("png_rgba8.png", "RGBA"))
    s16 = rng.integers(0, 65536, (h, w, 4))
    write_png("png_rgba16.png", s16, 6, 16)
    add_decode("png_rgba16.png", (s16 >> 8).astype(np.uint8), 1, "16-bit: expected v>>8")
    # gray + alpha 8 -> RGBA
    s = rng.integers(0, 256, (h, w, 2))
    write_png("png_graya8.png", s, 4, 8)
    add_decode("png_graya8.png", pil_expected("png_graya8.png", "RGBA"))
    # palette 1/2/4/8 bit, with and without tRNS
    for bits in (1, 2, 4, 8):
        n_colors = 2 ** bits if bits < 8 else 200
        plte = rng.integers(0, 256, (n_colors, 3))
        s = rng.integers(0, n_colors, (h, w, 1))
        n = f"png_palette{bits}.png"
        write_png(n, s, 3, bits, plte=plte)
        add_decode(n, pil_expected(n, "RGB"))
    plte = rng.integers(0, 256, (16, 3))
    trns = bytes(rng.integers(0, 256, 10).astype(np.uint8))  # shorter than the palette: rest opaque
    s = rng.integers(0, 16, (h, w, 1))
    write_png("png_palette4_trns.png", s, 3, 4, plte=plte, trns=trns)
    add_decode("png_palette4_trns.png", pil_expected("png_palette4_trns.png", "RGBA"))
    # gray / RGB with a tRNS colour key -> RGBA
    s = rng.integers(0, 4, (h, w, 1)) * 60
    write_png("png_gray8_trns.png", s, 0, 8, trns=struct.pack(">H", 60))
    add_decode("png_gray8_trns.png", pil_expected("png_gray8_trns.png", "RGBA"))
    s = rng.integers(0, 2, (h, w, 3)) * 200
    write_png("png_rgb8_trns.png", s, 2, 8, trns=struct.pack(">HHH", 200, 0, 200))
    add_decode("png_rgb8_trns.png", pil_expected("png_rgb8_trns.png", "RGBA"))
    # interlaced (Adam7), odd sizes
    s = smooth(17, 19, 3)
    write_png("png_rgb8_interlaced.png", s, 2, 8, interlace=True)
    add_decode("png_rgb8_interlaced.png", pil_expected("png_rgb8_interlaced.png", "RGB"))
    s = rng.integers(0, 4, (9, 7, 1))
    write_png("png_gray2_interlaced.png", s, 0, 2, interlace=True)
    add_decode("png_gray2_interlaced.png", pil_expected("png_gray2_interlaced.png", "L"))
    # gAMA 1.0 chunk: PIL ignores gamma; so must we
    s = smooth(h, w, 3)
    write_png("png_rgb8_gama.png", s, 2, 8, extra=chunk(b"gAMA", struct.pack(">I", 100000)))
    add_decode("png_rgb8_gama.png", pil_expected("png_rgb8_gama.png", "RGB"), 0, "gAMA 1.0 ignored")
    # A PNG written by PIL itself
    Image.fromarray(smooth(h, w, 3)).save(path("png_pil_rgb.png"))
    add_decode("png_pil_rgb.png", pil_expected("png_pil_rgb.png", "RGB"))


def make_jpeg_fixtures():
    h, w = 40, 48
    rgb = Image.fromarray(smooth(h, w, 3, noise=10))
    gray = Image.fromarray(smooth(h, w, 1, noise=10)[:, :, 0])
    specs = [("jpeg_rgb_baseline.jpg", rgb, dict(quality=90)),
             ("jpeg_rgb_progressive.jpg", rgb, dict(quality=90, progressive=True)),
             ("jpeg_rgb_444.jpg", rgb, dict(quality=95, subsampling=0)),
             ("jpeg_gray_baseline.jpg", gray, dict(quality=90)),
             ("jpeg_gray_progressive.jpg", gray, dict(quality=85, progressive=True))]
    for name, im, kw in specs:
        im.save(path(name), "JPEG", **kw)
        mode = "L" if im.mode == "L" else "RGB"
        add_decode(name, pil_expected(name, mode), 2, "libjpeg-turbo vs PIL's libjpeg")
    rgb.convert("CMYK").save(path("bad_cmyk.jpg"), "JPEG", quality=90)
    manifest["bad"].append({"file": "bad_cmyk.jpg", "error": "unsupported"})


def make_bad_fixtures():
    png = open(path("png_rgb8_interlaced.png"), "rb").read()
    jpg = open(path("jpeg_rgb_progressive.jpg"), "rb").read()
    base = open(path("jpeg_rgb_baseline.jpg"), "rb").read()
    bad = {
        "bad_empty.png": b"",
        "bad_text.png": b"this is not an image\n",
        "bad_truncated.png": png[: len(png) // 2],
        "bad_header_only.png": png[:20],
        "bad_truncated.jpg": base[: len(base) // 2],
        "bad_truncated_progressive.jpg": jpg[: len(jpg) // 2],
        "bad_magic_only.jpg": b"\xff\xd8\xff",
    }
    # corrupt IDAT payload (CRC no longer matches)
    idat = png.index(b"IDAT")
    bad["bad_crc.png"] = png[: idat + 10] + bytes([png[idat + 10] ^ 0xFF]) + png[idat + 11:]
    # a JPEG whose frame header claims 0 components
    sof = base.index(b"\xff\xc0")
    bad["bad_sof.jpg"] = base[: sof + 9] + b"\x00" + base[sof + 10:]
    for name, data in bad.items():
        with open(path(name), "wb") as f:
            f.write(data)
        kind = "notAnImage" if name in ("bad_empty.png", "bad_text.png") else "corrupt"
        manifest["bad"].append({"file": name, "error": kind})
    # right magic, wrong extension: a PNG named .jpg decodes fine
    with open(path("png_named.jpg"), "wb") as f:
        f.write(open(path("png_rgb8.png"), "rb").read())
    add_decode("png_named.jpg", pil_expected("png_rgb8.png", "RGB"), 0, "PNG with a .jpg name")


def make_resize_fixtures():
    cases = [((37, 29), 3, [(13, 11), (80, 61), (37, 15), (20, 29), (5, 3), (1, 1), (111, 29)]),
             ((50, 23), 1, [(25, 12), (7, 40), (100, 46)]),
             ((120, 90), 3, [(85, 64), (33, 24)])]
    for (w, h), c, sizes in cases:
        src = smooth(h, w, c, noise=40)
        name = f"resize_src_{w}x{h}x{c}.bin"
        save_bin(name, src)
        im = Image.fromarray(src if c == 3 else src[:, :, 0])
        for (ow, oh) in sizes:
            out = hwc(im.resize((ow, oh), Image.BILINEAR))
            oname = f"resize_{w}x{h}x{c}_to_{ow}x{oh}.bin"
            save_bin(oname, out)
            manifest["resize"].append({"source": name, "width": w, "height": h, "channels": c,
                                       "out_width": ow, "out_height": oh, "expected": oname})
        # torchvision Resize(S) + CenterCrop(C) on PIL
        for s, crop in [(20, 17), (64, 56), (31, 40)]:
            t = T.Compose([T.Resize(s), T.CenterCrop(crop)])
            out = hwc(t(im))
            oname = f"tv_{w}x{h}x{c}_resize{s}_crop{crop}.bin"
            save_bin(oname, out)
            manifest["torchvision"].append({"source": name, "width": w, "height": h, "channels": c,
                                            "resize": s, "crop": crop, "out_width": out.shape[1],
                                            "out_height": out.shape[0], "expected": oname})
    # nearest on masks (PIL NEAREST, what torchvision Resize(NEAREST) runs on PIL masks)
    for (w, h) in [(37, 29), (64, 48)]:
        mask = (rng.random((h, w)) > 0.6).astype(np.uint8) * 255
        mask[h // 3: 2 * h // 3, w // 4: w // 2] = 255
        name = f"mask_{w}x{h}.bin"
        save_bin(name, mask[:, :, None])
        im = Image.fromarray(mask)
        for (ow, oh) in [(13, 11), (80, 61), (224, 224), (w, 7), (3, 100)]:
            out = hwc(im.resize((ow, oh), Image.NEAREST))
            oname = f"nearest_{w}x{h}_to_{ow}x{oh}.bin"
            save_bin(oname, out)
            manifest["nearest"].append({"source": name, "width": w, "height": h, "channels": 1,
                                        "out_width": ow, "out_height": oh, "expected": oname})
    # ToTensor + Normalize(ImageNet) after Resize(20) + CenterCrop(17): float32 (3,17,17)
    src = np.fromfile(path("resize_src_37x29x3.bin"), dtype=np.uint8).reshape(29, 37, 3)
    t = T.Compose([T.Resize(20), T.CenterCrop(17), T.ToTensor(),
                   T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = t(Image.fromarray(src)).numpy().astype(np.float32)
    with open(path("tv_normalize_37x29_resize20_crop17.f32"), "wb") as f:
        f.write(x.tobytes())
    # convert('L')
    src = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    src[0, :8] = [[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3], [128, 128, 127], [254, 1, 77]]
    save_bin("gray_src_16x16x3.bin", src)
    save_bin("gray_16x16.bin", hwc(Image.fromarray(src).convert("L")))
    manifest["gray"].append({"source": "gray_src_16x16x3.bin", "width": 16, "height": 16, "channels": 3,
                             "expected": "gray_16x16.bin"})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_png_fixtures()
    make_jpeg_fixtures()
    make_bad_fixtures()
    make_resize_fixtures()
    with open(path("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes")
