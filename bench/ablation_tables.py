#!/usr/bin/env python3
"""Compact tables of a `patchcore ablation` run for bench/ABLATION.md: one line per positive set x isolation, image
AUROC per rule, pixel AUROC / AUPRO per map, positive bank size and the measured inference ratio of the default rule.
Run: python3 bench/ablation_tables.py bench/out/ablation_mt/ablation.json
"""
import json
import sys

RULES = ["thesis", "at_negative_argmax", "min_positive", "difference", "log_ratio", "patch_log_ratio"]  # "-" where a run predates a rule


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}"


def main(path):
    d = json.load(open(path))
    rows = d["rows"]
    single = next(r for r in rows if r["method"] == "PatchCore")
    print(f"PatchCore (single bank, negative coreset {d['negative_coreset_ratio']}): image AUROC **{pct(single['image_auroc'])}**, "
          f"pixel AUROC **{pct(single['pixel_auroc'])}**, AUPRO {pct(single['aupro'])}, F1-max {pct(single['f1_max'])}; "
          f"negative bank {single['negative_bank_rows']} rows, scoring {single['score_ms_per_image']:.0f} ms/image, "
          f"backbone {d['backbone_ms_per_image']:.0f} ms/image. Default: rule `{d['default_rule']}`, isolation `{d['default_isolation']}`.\n")
    print("| positives | isolation | pos. bank | image AUROC: " + " | ".join(RULES) +
          " | pixel AUROC (map) | AUPRO (map) | F1-max: log_ratio | ratio (default rule) |")
    print("|---" * (3 + len(RULES) + 4) + "|")
    groups = []
    for r in rows:
        if r["method"] == "PatchCore":
            continue
        key = (r["positives"], r["isolation"])
        if key not in groups:
            groups.append(key)
    for positives, isolation in groups:
        by_rule = {r["rule"]: r for r in rows if r["positives"] == positives and r["isolation"] == isolation}
        any_row = next(iter(by_rule.values()))
        cells = [positives, isolation, str(any_row["positive_bank_rows"])]
        cells += [pct(by_rule[k]["image_auroc"]) if k in by_rule else "-" for k in RULES]
        ratio_map = by_rule.get("thesis") or by_rule.get("min_positive") or by_rule.get("at_negative_argmax")
        # Every rule draws the same map, n_i / (p_i + eps) (see DualScoring.patchScores).
        cells += [pct(ratio_map and ratio_map["pixel_auroc"]), pct(ratio_map and ratio_map["aupro"]),
                  pct(by_rule.get("log_ratio", {}).get("f1_max"))]
        default = by_rule.get(d["default_rule"])
        cells.append(f"{default['inference_ratio']:.2f}" if default else "-")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
