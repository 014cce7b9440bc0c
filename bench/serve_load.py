#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sustained concurrent uploads against `partscreen serve` on loopback (closed loop: each client
POSTs a job, waits for its verdict with GET ?wait=, then sends the next). Reports throughput,
p50/p95/p99 of the accept latency (POST -> 202, bytes durable) and of the verdict latency
(POST -> result), and the error count (any non-2xx answer or failed job)."""
import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import service_harness as h  # noqa: E402


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", required=True)
    ap.add_argument("--uploads", required=True, help="folder of mesh files (walked recursively)")
    ap.add_argument("--max-file-kb", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scan-threads", type=int, default=1)
    args = ap.parse_args()

    files = []
    for d, _, names in os.walk(args.uploads):
        for n in sorted(names):
            p = os.path.join(d, n)
            if n.lower().endswith((".stl", ".off", ".obj", ".ply", ".3mf")) and os.path.getsize(p) <= args.max_file_kb * 1024:
                files.append((os.path.basename(p), open(p, "rb").read()))
    if not files:
        sys.exit(f"no mesh files under {args.uploads}")

    svc = h.Service(args.pack, tempfile.mkdtemp(prefix="partscreen-load-"), "--workers", str(args.workers),
                    "--queue", str(max(64, 4 * args.clients)), "--threads", str(args.scan_threads))
    svc.start()  # the harness passes --threads 1 first; the option given last wins
    token = svc.token("load", "--jobs-per-day", "10000000")
    accept, verdict, errors, verdicts = [], [], [], {}
    lock = threading.Lock()
    stop_at = time.time() + args.seconds

    def client(seed):
        rnd = random.Random(seed)
        while time.time() < stop_at:
            name, data = files[rnd.randrange(len(files))]
            t0 = time.perf_counter()
            try:
                r = svc.upload(token, files=[(name, data)])
                t1 = time.perf_counter()
                if r.status not in (200, 202):
                    raise RuntimeError(f"POST {r.status}: {r.body[:200]!r}")
                job = svc.wait(token, r.json()["id"], 300)
                t2 = time.perf_counter()
                if job["state"] != "done":
                    raise RuntimeError(f"job {job['id']} {job['state']}: {job.get('error')}")
                with lock:
                    accept.append(t1 - t0)
                    verdict.append(t2 - t0)
                    verdicts[job["verdict"]] = verdicts.get(job["verdict"], 0) + 1
            except Exception as e:  # counted, never hidden
                with lock:
                    errors.append(str(e))

    t_start = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t_start
    metrics = svc.request("GET", "/metrics").body.decode()
    svc.stop()
    shutil.rmtree(svc.data, ignore_errors=True)

    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    print(f"- uploads: {len(files)} files from {args.uploads} (<= {args.max_file_kb} KB each), "
          f"pack {os.path.basename(args.pack)}")
    print(f"- {args.clients} concurrent clients for {args.seconds:.0f} s, {args.workers} scan workers x "
          f"{args.scan_threads} thread, loopback")
    print(f"- jobs completed: {len(verdict)} in {elapsed:.1f} s = {len(verdict) / elapsed:.2f} jobs/s; verdicts {verdicts}")
    print(f"- errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print()
    print("| latency | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|")
    for label, v in (("accept (POST -> 202, upload durable)", accept), ("verdict (POST -> result)", verdict)):
        print(f"| {label} | {ms(pct(v, 50))} | {ms(pct(v, 95))} | {ms(pct(v, 99))} | {ms(max(v) if v else 0)} |")
    scan = [l for l in metrics.splitlines() if l.startswith("partscreen_scan_seconds_sum") or l.startswith("partscreen_scan_seconds_count")]
    if len(scan) == 2:
        total, count = float(scan[0].split()[1]), float(scan[1].split()[1])
        print(f"\nmean scan time inside the service: {ms(total / max(count, 1))}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
