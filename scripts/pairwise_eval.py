#!/usr/bin/env python3
"""Pairwise precision/recall/F1 of a neardup clusters.jsonl against a labels.jsonl.

Usage: pairwise_eval.py LABELS.jsonl CLUSTERS.jsonl [--category-field category]
Labels: {"id":..., "cluster":...} per document. Documents not in any predicted cluster are
singletons. Prints one JSON line. (Stop-gap until `neardup eval` exists.)
"""
import itertools, json, sys
from collections import Counter, defaultdict

def pairs(groups):
    out = set()
    for g in groups:
        for a, b in itertools.combinations(sorted(g), 2):
            out.add((a, b))
    return out

def main():
    labels_path, clusters_path = sys.argv[1], sys.argv[2]
    cat_field = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--category-field" else None
    truth, cat = defaultdict(list), {}
    for line in open(labels_path):
        r = json.loads(line)
        truth[r["cluster"]].append(r["id"])
        if cat_field:
            cat[r["id"]] = r.get(cat_field)
    pred = [[m["id"] for m in json.loads(l)["members"]] for l in open(clusters_path)]
    tp_set, pp = pairs(truth.values()), pairs(pred)
    tp = len(tp_set & pp)
    p = tp / len(pp) if pp else 1.0
    r = tp / len(tp_set) if tp_set else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    res = {"pred_pairs": len(pp), "true_pairs": len(tp_set), "tp": tp,
           "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}
    if cat_field:
        per = Counter(); hit = Counter()
        for a, b in tp_set:
            c = cat[a] if cat[a] != "orig" else cat[b]
            per[c] += 1
            hit[c] += (a, b) in pp
        res["recall_by_category"] = {c: round(hit[c] / per[c], 4) for c in sorted(per)}
    print(json.dumps(res))

if __name__ == "__main__":
    main()
