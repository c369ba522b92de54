#!/usr/bin/env python3
"""A datasketch MinHash-LSH pipeline, for side-by-side comparison with neardup.

Usage: peer_datasketch.py DOCS.jsonl OUT_CLUSTERS.jsonl [--threshold 0.5] [--num-perm 128]
       [--text-field text] [--id-field id]

Same shingles as neardup's defaults, as far as a short Python normaliser goes: NFKC, lower case,
Arabic harakat/tatweel removed and letter variants folded, tokens = runs of word characters,
word 5-grams. MinHash with 128 permutations, MinHashLSH at the threshold; every pair the LSH
returns is linked (the usual datasketch recipe; no verification) and connected components are
written as clusters.jsonl (the same format as neardup's, so the same scorers read both).
Prints timing as JSON on stderr.
"""
import argparse
import json
import re
import sys
import time
import unicodedata

from datasketch import MinHash, MinHashLSH

HARAKAT = re.compile("[\u064b-\u065f\u0670\u0640]")
FOLD = str.maketrans("أإآٱىةیک", "اااايهيك")


def shingles(text, n=5):
    t = HARAKAT.sub("", unicodedata.normalize("NFKC", text).lower()).translate(FOLD)
    w = re.findall(r"\w+", t)
    if len(w) < n:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("docs")
    ap.add_argument("out")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--id-field", default="id")
    a = ap.parse_args()
    t0 = time.perf_counter()
    ids, sigs = [], []
    nbytes = 0
    for line in open(a.docs, encoding="utf-8"):
        d = json.loads(line)
        text = d.get(a.text_field) or ""
        nbytes += len(line.encode("utf-8"))
        m = MinHash(num_perm=a.num_perm, seed=1)
        sh = shingles(text)
        if not sh:
            continue
        m.update_batch([s.encode("utf-8") for s in sh])
        ids.append(str(d.get(a.id_field)))
        sigs.append(m)
    t1 = time.perf_counter()
    lsh = MinHashLSH(threshold=a.threshold, num_perm=a.num_perm)
    for i, m in enumerate(sigs):
        lsh.insert(str(i), m)
    parent = list(range(len(ids)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            a_, b_ = find(i), find(int(j))
            if a_ != b_:
                parent[max(a_, b_)] = min(a_, b_)
    groups = {}
    for i in range(len(ids)):
        groups.setdefault(find(i), []).append(i)
    t2 = time.perf_counter()
    with open(a.out, "w", encoding="utf-8") as f:
        n = 0
        for root in sorted(groups):
            g = groups[root]
            if len(g) < 2:
                continue
            f.write(json.dumps({"cluster": n, "members": [{"id": ids[i]} for i in g]}, ensure_ascii=False) + "\n")
            n += 1
    print(json.dumps({"peer": "datasketch", "docs": len(ids), "bytes": nbytes,
                      "sketch_s": round(t1 - t0, 3), "lsh_s": round(t2 - t1, 3),
                      "total_s": round(t2 - t0, 3)}), file=sys.stderr)


if __name__ == "__main__":
    main()
