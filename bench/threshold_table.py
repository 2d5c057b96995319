"""bench/THRESHOLDS.md from bench/run_thresholds.sh's outputs: rates at the saved threshold, before and after."""
import json, pathlib, sys

out = pathlib.Path(sys.argv[1])
rows = []
for metrics in sorted(out.glob("*.json")):
    name = metrics.stem
    m = json.loads(metrics.read_text())
    preds = [json.loads(l) for l in (out / name / "predictions.jsonl").read_text().splitlines() if l.strip()]
    good = [p for p in preds if p.get("label") == "good"]
    bad = [p for p in preds if p.get("label") == "defect"]
    red = lambda p: p["map_max"] >= p["map_threshold"]
    agree = sum(red(p) == p["anomalous"] for p in preds) / len(preds)
    rule = preds[0].get("decision_rule", "")
    rows.append((name, len(good), len(bad), m["threshold"], m["false_reject_rate"], m["escape_rate"], m["image_auroc"],
                 m.get("pixel_auroc"), sum(map(red, bad)) / max(len(bad), 1), sum(map(red, good)) / max(len(good), 1), agree, rule))

print("# Thresholds: false rejects and escapes at the saved threshold\n")
print("Written by `bash bench/run_thresholds.sh` (release build, 2 threads). *before*: the threshold earlier releases")
print("saved, the largest training-image score (`--calibration-split 0 --false-reject-rate 0`); *after*: the default,")
print("10% of the good training images held out of the bank, threshold for a 1% target false-reject rate.")
print("A part is anomalous when score >= threshold. *red*: the heatmap shows the decision colour (map maximum >= the")
print("model's map threshold); *agree*: share of test images whose heatmap shows red exactly when the part is flagged.\n")
print("| run | good / defect test images | threshold | false-reject rate (test good) | escape rate (test defects) | image AUROC | pixel AUROC | defect maps with red | good maps with red | map agrees with decision |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} / {r[2]} | {r[3]:.4g} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.4f} | {r[7] if r[7] is None else f'{r[7]:.4f}'} | {r[8]:.0%} | {r[9]:.0%} | {r[10]:.0%} |")
print("\nDecision rules as recorded in the predictions:\n")
for r in rows:
    print(f"- {r[0]}: {r[11]}")
