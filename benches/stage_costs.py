#!/usr/bin/env python3
"""Per-stage cost of a staged (scale-out) run, and a projection to 10^7-10^9 documents.

Usage: stage_costs.py BINARY INPUT [--shards 4] [--parts 4] [--cores 64] [--scan-args ...]

Runs every `neardup stage` task of INPUT one after another on one thread (`-j 1`), measuring
each task's wall time and peak RSS, and the bytes each stage leaves in the work directory. Then
prints markdown tables: measured per-stage rates (documents per second per core, bytes per
document written, peak RSS per task and per document for the one-task stages), and a projection
for 10^7, 10^8 and 10^9 documents of the same shape: core-hours per stage, wall time on
`--cores` cores (one-task stages do not parallelise across tasks: their time is counted whole),
work-directory storage, and the memory the one-task stages need (per-document RSS times
documents, the figure that decides the size of the biggest node).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def measured(cmd):
    """(seconds, peak RSS bytes) of one command, each in a fresh Python child."""
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
            "print(time.perf_counter()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
            "r.returncode)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.split()
    if int(out[2]) not in (0, 1, 2):
        sys.exit(f"{' '.join(cmd)} failed")
    return float(out[0]), int(out[1]) * 1024


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("input")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--cores", type=int, default=64)
    ap.add_argument("--scan-args", nargs=argparse.REMAINDER, default=[])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work, out = os.path.join(tmp, "work"), os.path.join(tmp, "out")
        p = subprocess.run([a.binary, "stage", "plan", "-q", "--work", work, "--shards",
                            str(a.shards), "--parts", str(a.parts), "--", a.input, *a.scan_args],
                           stdout=subprocess.PIPE, check=True, text=True)
        plan = json.loads(p.stdout)
        w = ["--work", work, "-q", "-j", "1"]
        stages = [
            ("sketch", [["sketch", "--shard", str(i)] for i in range(plan["shards"])]),
            ("boilerplate", [["boilerplate"]]),
            ("signatures", [["signatures", "--shard", str(i)] for i in range(plan["shards"])]),
            ("exact", [["exact"]]),
            ("buckets", [["buckets", "--task", str(t)] for t in range(plan["buckets"])]),
            ("verify", [["verify", "--part", str(q)] for q in range(plan["parts"])]),
            ("components", [["components", "-o", out]]),
        ]
        rows = []
        for name, tasks in stages:
            size0 = du(work)
            secs, peak = 0.0, 0
            for t in tasks:
                s, r = measured([a.binary, "stage", *t, *w])
                secs, peak = secs + s, max(peak, r)
            rows.append({"stage": name, "tasks": len(tasks), "seconds": secs, "peak": peak,
                         "bytes": du(work) - size0})
        docs = json.load(open(os.path.join(out, "summary.json")))["documents"]["read"]
        mb = os.path.getsize(a.input) / 1e6 if os.path.isfile(a.input) else du(a.input) / 1e6
    single = {"boilerplate", "exact", "components"}
    print(f"Measured on {docs:,} documents ({mb:.0f} MB), {a.shards} shards, one thread per task:\n")
    print("| stage | tasks | core-seconds | docs/s per core | written, B/doc | peak RSS per task MB |"
          " RSS per doc (one-task stages), B |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_doc = f"{r['peak'] / docs:,.0f}" if r["stage"] in single else "—"
        print(f"| {r['stage']} | {r['tasks']} | {r['seconds']:.2f} | {docs / r['seconds']:,.0f} | "
              f"{r['bytes'] / docs:,.0f} | {r['peak'] / 2**20:,.0f} | {per_doc} |")
    print(f"\nProjection for documents of this shape ({mb * 1e6 / docs:,.0f} B each), "
          f"{a.cores} cores, linear in documents:\n")
    print("| documents | core-hours | wall hours on "
          f"{a.cores} cores | work dir GB | boilerplate node GB | components node GB |")
    print("|---|---|---|---|---|---|")
    per_doc_s = sum(r["seconds"] for r in rows) / docs
    store = sum(r["bytes"] for r in rows) / docs
    bp_mem = next(r["peak"] for r in rows if r["stage"] == "boilerplate") / docs
    cc_mem = next(r["peak"] for r in rows if r["stage"] == "components") / docs
    for n in (1e7, 1e8, 1e9):
        par = sum(r["seconds"] for r in rows if r["stage"] not in single) / docs * n / a.cores
        ser = sum(r["seconds"] for r in rows if r["stage"] in single) / docs * n
        print(f"| {n:.0e} | {per_doc_s * n / 3600:,.1f} | {(par + ser) / 3600:,.1f} | "
              f"{store * n / 1e9:,.0f} | {bp_mem * n / 1e9:,.0f} | {cc_mem * n / 1e9:,.0f} |")


if __name__ == "__main__":
    main()
