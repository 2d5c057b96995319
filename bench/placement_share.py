"""Share of each synthetic defect's pixels that lie off the part (see bench/run_placement.sh). Prints JSON.
Args: GOOD_DIR NONE_MASKS AUTO_MASKS COMMAND COMMIT."""
import datetime
import glob
import json
import os
import sys

import numpy as np
from PIL import Image

good, none_dir, auto_dir, command, commit = sys.argv[1:6]
files = sorted(glob.glob(os.path.join(good, "*.png")))[:16]
mean = np.mean([np.asarray(Image.open(f).convert("L"), dtype=float) for f in files], axis=0)
border = np.concatenate([mean[0], mean[-1], mean[:, 0], mean[:, -1]])
part = np.abs(mean - np.median(border)) > 24


def shares(folder):
    out = []
    for m in sorted(glob.glob(os.path.join(folder, "*.png"))):
        mask = np.asarray(Image.open(m).convert("L")) > 127
        out.append(round(float(1 - part[mask].mean()), 3) if mask.any() else None)
    return out


result = {"command": command, "commit": commit, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
          "part_pixels_share": round(float(part.mean()), 3)}
for name, folder in (("placement_none", none_dir), ("placement_auto", auto_dir)):
    s = shares(folder)
    valid = [v for v in s if v is not None]
    result[name] = {"samples": len(s), "over_10_percent_off_the_part": sum(v > 0.1 for v in valid),
                    "mean_share_off_the_part": round(float(np.mean(valid)), 3) if valid else None, "per_sample": s}
print(json.dumps(result, indent=2))
