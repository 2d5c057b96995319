#!/usr/bin/env python3
"""Markdown table of the bench/run_geometry.sh rows in bench/out/geometry/ (one row per <name>.json)."""
import json
import pathlib
import re
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/geometry")
print("| row | command flags | geometry, patches per image | image AUROC | pixel AUROC | AUPRO | pixel AUROC / AUPRO "
      "(input res.) | ms / image | wall s | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|---|")


def f(v, d=3):
    return "-" if v is None else f"{v:.{d}f}"


for path in sorted(out.glob("*.json")):
    name = path.stem
    m = json.loads(path.read_text())
    meta = (out / f"{name}.meta").read_text() if (out / f"{name}.meta").exists() else ""
    flags = re.sub(r"^command: patchcore evaluate --threads \d+ --calibration-split 0 ", "",
                   meta.splitlines()[0] if meta else "")
    flags = re.sub(r"--(manifest|data) \S+/(magnetic_tile|bottle)\S*", r"\2", flags)
    geometry = next((l.replace("input geometry: ", "") for l in meta.splitlines() if l.startswith("input geometry")), "-")
    rss, wall = ((out / f"{name}.rss").read_text().split() + ["-", "-"])[:2]
    rss = f"{int(rss) / 1048576:.2f} GiB" if rss.isdigit() else "-"
    print(f"| {name} | `{flags}` | {geometry} | {f(m['image_auroc'])} | {f(m.get('pixel_auroc'))} | {f(m.get('aupro'))} | "
          f"{f(m.get('pixel_auroc_input'))} / {f(m.get('aupro_input'))} | {m['inference_seconds_per_image'] * 1000:.1f} | "
          f"{wall} | {rss} |")
