#!/usr/bin/env python3
"""Per-image 1-NN cost against bank size and patch count: Swift (exact, and the inverted file behind --search ivf)
beside faiss-cpu (IndexFlatL2, and IndexIVFFlat with the same lists and probes) on the same banks and queries, in one
invocation (issue 14's sweep; results in bench/RESULTS.md).

  python3 bench/knn_sweep.py --bank /tmp/bank_magnetic_tile.f32 [--bin .build/release/CoresetBench]
                             [--rows 1000,10000,100000,1000000] [--queries 784,5000,20000] [--probes 1,8,32]
                             [--json FILE]
  python3 bench/knn_sweep.py --table FILE        the markdown table of RESULTS.md from a --json file

Bank file: `coreset_bench.py make-bank --kind magnetic_tile` (548,800 x 128 real patch features, 700 images).
Queries are the last rows of the file (whole images' patches in raster order, as an image's patches come); banks
are an evenly strided sample of the other rows, and above their count (the 1M bank) the other rows again, each
moved by Gaussian noise of 1% of the features' standard deviation (so no query meets exact duplicates).
Recall@1: the share of queries whose approximate neighbour is as near as the exact one (faiss: distances recomputed
from the returned rows; Swift reports direct distances already). 2 threads on both sides.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np


def direct_distances(bank, queries, found):
    """||q - b|| of each query and its found row, in float64 by differences: the same found row gives the same
    distance whichever index returned it (faiss's own distances round differently in IndexFlatL2 and IVF)."""
    return np.sqrt(((queries.astype(np.float64) - bank[found].astype(np.float64)) ** 2).sum(axis=1))


def faiss_side(bank, queries, lists, probes, threads):
    import faiss
    faiss.omp_set_num_threads(threads)
    flat = faiss.IndexFlatL2(bank.shape[1])
    flat.add(bank)
    t0 = time.perf_counter(); d, i = flat.search(queries, 1); warm = time.perf_counter() - t0
    runs = 1 if warm > 2 else (15 if warm < 0.1 else 3)       # as CoresetBench pair: searches under 0.1 s are noisy
    times = [warm] if runs == 1 else []
    for _ in range(0 if runs == 1 else runs):
        t0 = time.perf_counter(); d, i = flat.search(queries, 1); times.append(time.perf_counter() - t0)
    exact = direct_distances(bank, queries, i[:, 0])
    rows = [{"side": "faiss", "search": "exact", "rows": len(bank), "queries": len(queries),
             "ms": float(np.median(times)) * 1e3, "runs": runs}]
    quantizer = faiss.IndexFlatL2(bank.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, bank.shape[1], lists)
    t0 = time.perf_counter(); ivf.train(bank); ivf.add(bank); build = time.perf_counter() - t0
    for p in probes:
        ivf.nprobe = p
        times = []
        for _ in range(runs):
            t0 = time.perf_counter(); _, i = ivf.search(queries, 1); times.append(time.perf_counter() - t0)
        approx = direct_distances(bank, queries, i[:, 0])
        rows.append({"side": "faiss", "search": "ivf", "lists": lists, "probes": p, "rows": len(bank),
                     "queries": len(queries), "ms": float(np.median(times)) * 1e3,
                     "recall": float(np.mean(approx <= exact)), "build_s": build, "runs": runs})
    return rows


def markdown(results):
    """One row per bank size and query count: exact on both sides, then each probe count (time, recall@1)."""
    probes = sorted({r["probes"] for r in results if r["search"] == "ivf"})
    head = ["bank rows", "queries", "Swift exact", "faiss IndexFlatL2", "Swift / faiss"]
    head += [f"IVF {p} probes: Swift / faiss ms (recall@1)" for p in probes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in dict.fromkeys((r["rows"], r["queries"]) for r in results):
        at = [r for r in results if (r["rows"], r["queries"]) == key]
        ex = {r["side"]: r["ms"] for r in at if r["search"] == "exact"}
        lists = next((r["lists"] for r in at if r["search"] == "ivf"), "?")
        row = [f"{key[0]:,} ({lists} lists)", f"{key[1]:,}", f"{ex['swift']:,.1f} ms", f"{ex['faiss']:,.1f} ms",
               f"{ex['faiss'] / ex['swift']:.2f}x faster"]
        for p in probes:
            iv = {r["side"]: r for r in at if r["search"] == "ivf" and r["probes"] == p}
            row.append(f"{iv['swift']['ms']:,.1f} ({iv['swift']['recall']:.3f}) / {iv['faiss']['ms']:,.1f} ({iv['faiss']['recall']:.3f})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", help="print the markdown table of a --json file and stop")
    ap.add_argument("--bank")
    ap.add_argument("--bin", default=".build/release/CoresetBench")
    ap.add_argument("--rows", default="1000,10000,100000,1000000")
    ap.add_argument("--queries", default="784,5000,20000")
    ap.add_argument("--probes", default="1,8,32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write every result line here")
    a = ap.parse_args()
    if a.table:
        print(markdown([json.loads(l) for l in pathlib.Path(a.table).read_text().splitlines() if l.strip()]))
        return
    if not a.bank:
        ap.error("--bank is required")
    x = np.fromfile(a.bank, dtype="<f4").reshape(-1, 128)
    sizes = [int(v) for v in a.rows.split(",")]
    counts = [int(v) for v in a.queries.split(",")]
    probes = [int(v) for v in a.probes.split(",")]
    others = x[:-max(counts)]
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            if n <= len(others):
                bank = np.ascontiguousarray(others[np.linspace(0, len(others) - 1, n).astype(np.int64)])
            else:
                extra = others[np.arange(n - len(others)) % len(others)]
                extra = extra + rng.normal(0, 0.01 * float(others.std()), extra.shape).astype(np.float32)
                bank = np.ascontiguousarray(np.concatenate([others, extra]))
            bank_file = pathlib.Path(tmp, "bank.f32"); bank.astype("<f4").tofile(bank_file)
            lists = max(1, round(np.sqrt(n)))
            for m in counts:
                queries = np.ascontiguousarray(x[-m:])
                query_file = pathlib.Path(tmp, "queries.f32"); queries.astype("<f4").tofile(query_file)
                out = subprocess.run([a.bin, "pair", str(bank_file), str(query_file), a.probes],
                                     capture_output=True, text=True, check=True).stdout
                lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
                lines += faiss_side(bank, queries, lists, probes, a.threads)
                for r in lines:
                    print(json.dumps(r), flush=True)
                results += lines
    if a.json:
        pathlib.Path(a.json).write_text("".join(json.dumps(r) + "\n" for r in results))


if __name__ == "__main__":
    sys.exit(main())
