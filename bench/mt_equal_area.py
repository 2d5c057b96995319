"""Magnetic Tile with every image scaled to the same area (aspect ratio kept), for the geometry comparison in
bench/RESULTS.md: is the 224 x 224 stretch better because it gives every image the same patch count, or because of
the stretch itself? Writes resized images (bilinear), masks (nearest) and split.csv to OUT (outside the repository).

    python3 bench/mt_equal_area.py OUT [SIDE]      # SIDE x SIDE pixels of area per image, default 224
    patchcore evaluate --manifest OUT/split.csv --native ...       # aspect kept, same patch count for every image
    patchcore evaluate --manifest OUT/split.csv --size 224x224 ... # stretched, metrics at the same resolution
"""
import csv
import math
import os
import sys

from PIL import Image

SRC = os.environ.get("PATCHCORE_DATASETS", os.path.join(os.path.dirname(__file__), "../../shared/datasets"))
SRC = os.path.join(SRC, "magnetic_tile")


def main(out, side):
    rows = list(csv.DictReader(open(os.path.join(SRC, "split.csv"))))
    area = side * side
    written = []
    for row in rows:
        image = Image.open(os.path.join(SRC, row["image"]))
        w, h = image.size
        s = math.sqrt(area / (w * h))
        size = (max(32, round(w * s)), max(32, round(h * s)))
        row = dict(row)
        # The images become PNG beside their masks' names, so the masks get a suffix.
        row["image"] = os.path.splitext(row["image"])[0] + ".png"
        path = os.path.join(out, row["image"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        image.convert("RGB").resize(size, Image.BILINEAR).save(path)
        if row["mask"]:
            mask = Image.open(os.path.join(SRC, row["mask"])).resize(size, Image.NEAREST)
            row["mask"] = os.path.splitext(row["mask"])[0] + "_mask.png"
            mask.save(os.path.join(out, row["mask"]))
        written.append(row)
    with open(os.path.join(out, "split.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=rows[0].keys())
        writer.writeheader()
        writer.writerows(written)
    print(f"{len(written)} images of {side} x {side} pixels' area in {out}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 224)
