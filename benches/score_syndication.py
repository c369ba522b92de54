#!/usr/bin/env python3
"""Score clusters on a make_syndication.py benchmark.

Usage: score_syndication.py LABELS.jsonl CLUSTERS.jsonl [--name NAME]

Per transformation: recall = copies with that transformation that share a predicted cluster
with their base article. Precision: predicted pairs whose two documents have the same label,
over all predicted pairs that involve a base or a copy (pairs between two distractors are
reported apart: the real pool may hold a few real reprints of its own, which the labels do not
know about). Prints one JSON line.
"""
import itertools
import json
import sys
from collections import defaultdict


def main():
    labels_path, clusters_path = sys.argv[1], sys.argv[2]
    name = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--name" else clusters_path
    label, kind = {}, {}
    for line in open(labels_path):
        r = json.loads(line)
        label[r["id"]], kind[r["id"]] = r["cluster"], r["transform"]
    cluster_of = {}
    pairs_in = pairs_bg = correct = 0
    for n, line in enumerate(open(clusters_path)):
        ids = [m["id"] for m in json.loads(line)["members"]]
        for i in ids:
            cluster_of[i] = n
        for a, b in itertools.combinations(ids, 2):
            if kind[a] == "distractor" and kind[b] == "distractor":
                pairs_bg += 1
                continue
            pairs_in += 1
            correct += label[a] == label[b]
    hit, total = defaultdict(int), defaultdict(int)
    for i, k in kind.items():
        if k in ("base", "distractor"):
            continue
        total[k] += 1
        c = cluster_of.get(i)
        hit[k] += c is not None and cluster_of.get(label[i]) == c
    recall = {k: round(hit[k] / total[k], 4) for k in sorted(total)}
    allc = sum(total.values())
    print(json.dumps({
        "name": name,
        "precision": round(correct / pairs_in, 4) if pairs_in else 1.0,
        "pairs": pairs_in,
        "distractor_pairs": pairs_bg,
        "recall": round(sum(hit.values()) / allc, 4) if allc else 1.0,
        "recall_by_transform": recall,
    }))


if __name__ == "__main__":
    main()
