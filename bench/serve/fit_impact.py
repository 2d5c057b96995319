#!/usr/bin/env python3
"""Inspection latency before, during and after a fit job on the same server (one connection, back to back).

Sends the PNG to the inspect route for BASELINE seconds, then starts a fit job (the product's good set) and keeps
inspecting until the job has ended and AFTER more seconds have passed. Each request's start and latency are kept;
the job's started/finished times (from GET /api/v1/jobs/{id}) split them into before / during / after.
Prints one JSON object. Standard library only.
usage: fit_impact.py PORT KEY IMAGE [BASELINE] [AFTER]
"""
import http.client
import json
import statistics
import sys
import time

port, key, image = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
baseline = float(sys.argv[4]) if len(sys.argv) > 4 else 30
after = float(sys.argv[5]) if len(sys.argv) > 5 else 10
auth = {"Authorization": f"Bearer {key}"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
api = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers={**auth, **(headers or {})})
    r = c.getresponse()
    return r.status, r.read()


samples = []   # (unix start, seconds, status)


def inspect():
    t0 = time.time()
    status, _ = call(conn, "POST", "/api/v1/products/bottle/inspect", image, {"Content-Type": "image/png"})
    samples.append((t0, time.time() - t0, status))


end = time.time() + baseline
while time.time() < end:
    inspect()
status, body = call(api, "POST", "/api/v1/products/bottle/jobs/fit", json.dumps({}), {"Content-Type": "application/json"})
assert status == 201, (status, body)
job_id = json.loads(body)["id"]
job, done_at = None, None
while True:
    inspect()
    if done_at is None and len(samples) % 5 == 0:
        job = json.loads(call(api, "GET", f"/api/v1/jobs/{job_id}")[1])
        if job["state"] in ("succeeded", "failed", "cancelled"):
            done_at = time.time()
    if done_at is not None and time.time() > done_at + after:
        break
job = json.loads(call(api, "GET", f"/api/v1/jobs/{job_id}")[1])
start, finish = job["started_ms"] / 1000, job["finished_ms"] / 1000


def summary(rows):
    ms = sorted(s[1] * 1000 for s in rows)
    if not ms:
        return None
    return {"requests": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1), "max_ms": round(ms[-1], 1),
            "non_200": sum(1 for s in rows if s[2] != 200)}


print(json.dumps({
    "job": {"id": job_id, "state": job["state"], "seconds": round(finish - start, 1), "stage": job.get("stage")},
    "before_fit": summary([s for s in samples if s[0] + s[1] < start]),
    "during_fit": summary([s for s in samples if s[0] >= start and s[0] + s[1] <= finish]),
    "after_fit": summary([s for s in samples if s[0] > finish]),
}, indent=2))
