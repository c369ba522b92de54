#!/usr/bin/env python3
"""End-to-end check of the Ray driver on one machine (run by distributed/ci_ray_test.sh).

Starts a local Ray cluster of two nodes (ray.cluster_utils.Cluster), runs the driver on INPUT
with one task killed mid-way, and checks that the output equals REFERENCE (a `neardup scan` of
the same input) byte for byte. Exits non-zero on any difference.

Usage: test_ray_local.py BINARY INPUT REFERENCE_DIR TMP_DIR
"""
import filecmp
import json
import os
import sys

import ray
from ray.cluster_utils import Cluster

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import neardup_ray  # noqa: E402


def main():
    binary, data, reference, tmp = sys.argv[1:5]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        work, out = os.path.join(tmp, "work"), os.path.join(tmp, "out")
        a, scan_args = neardup_ray.parse([
            "--work", work, "-o", out, "--shards", "4", "--parts", "3", "--key-ranges", "2",
            "--binary", binary, "--address", cluster.address,
            "--kill-one", "sketch:1", "--", data,
        ])
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2, "two Ray nodes"
        stages = []
        code = neardup_ray.drive(a, scan_args, log=lambda line: (print(line), stages.append(json.loads(line))))
        assert code == 0, f"components exited {code}"
        assert os.path.exists(os.path.join(work, ".killed-sketch-1")), "the killed task ran"
        assert [s["stage"] for s in stages] == [
            "sketch", "boilerplate", "signatures", "exact", "buckets", "verify", "components"]
        for name in ("clusters.jsonl", "boilerplate.jsonl"):
            a_, b_ = os.path.join(reference, name), os.path.join(out, name)
            if not filecmp.cmp(a_, b_, shallow=False):
                sys.exit(f"FAIL: {name} differs from the local scan")
        ref = json.load(open(os.path.join(reference, "summary.json")))
        got = json.load(open(os.path.join(out, "summary.json")))
        for k in ("inputs", "documents", "clusters", "lsh", "boilerplate", "problems_by_kind"):
            if ref[k] != got[k]:
                sys.exit(f"FAIL: summary {k} differs: {ref[k]} vs {got[k]}")
        clusters = sum(1 for _ in open(os.path.join(out, "clusters.jsonl")))
        print(f"OK: Ray run identical to the local scan ({clusters} clusters, "
              f"{got['documents']['read']} documents, one task killed and retried)")
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
