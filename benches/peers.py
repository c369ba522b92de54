#!/usr/bin/env python3
"""Peer near-duplicate pipelines, for side-by-side comparison with neardup.

Usage: peers.py {datasketch,rensa,gaoya} DOCS.jsonl OUT_CLUSTERS.jsonl [--threshold 0.5]
       [--num-perm 128] [--text-field text] [--id-field id]

Each peer gets the same shingles as neardup's defaults, as far as a short Python normaliser goes:
NFKC, lower case, Arabic harakat/tatweel removed and letter variants folded, tokens = runs of
word characters, word 5-grams; 128 permutations; LSH banding at the threshold chosen by
datasketch's own optimiser (false positives and negatives weighted equally), used for all three
(rensa: the nearest band count dividing 128).

* datasketch: MinHash.update_batch per document, MinHashLSH insert + query.
* rensa: RMinHash.from_token_sets in bulk (Rust), RMinHashLSH insert_many + query_all.
* gaoya: MinHashStringIndex with its Rust word 5-gram analyser on the normalised text,
  par_bulk_insert_docs + par_bulk_query (multi-threaded).

Every pair an LSH returns is linked (the usual recipe; none of them verifies) and connected
components are written as clusters.jsonl (neardup's format, so `neardup eval` and
score_syndication.py read it). Prints one JSON line of timings on stderr.
"""
import argparse
import json
import re
import sys
import time
import unicodedata

HARAKAT = re.compile("[\u064b-\u065f\u0670\u0640]")
FOLD = str.maketrans("أإآٱىةیک", "اااايهيك")
WORD = re.compile(r"\w+")
N = 5


def normal_words(text):
    t = HARAKAT.sub("", unicodedata.normalize("NFKC", text).lower()).translate(FOLD)
    return WORD.findall(t)


def shingles(text):
    w = normal_words(text)
    if len(w) < N:
        return [" ".join(w)] if w else []
    return list({" ".join(w[i : i + N]) for i in range(len(w) - N + 1)})


def banding(threshold, num_perm):
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def read(a):
    ids, texts, nbytes = [], [], 0
    with open(a.docs, encoding="utf-8") as f:
        for line in f:
            nbytes += len(line.encode("utf-8"))
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if not isinstance(d, dict):
                continue
            text = d.get(a.text_field)
            if not isinstance(text, str):
                continue
            ids.append(str(d.get(a.id_field)))
            texts.append(text)
    return ids, texts, nbytes


def components(n, pairs):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [g for _, g in sorted(groups.items()) if len(g) > 1]


def run_datasketch(texts, a, b, r):
    from datasketch import MinHash, MinHashLSH

    sigs = []
    for t in texts:
        m = MinHash(num_perm=a.num_perm, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles(t)])
        sigs.append(m)
    lsh = MinHashLSH(num_perm=a.num_perm, params=(b, r))
    for i, m in enumerate(sigs):
        if not m.is_empty():
            lsh.insert(i, m)
    for i, m in enumerate(sigs):
        if not m.is_empty():
            for j in lsh.query(m):
                if j != i:
                    yield i, j


def run_rensa(texts, a, b, r):
    from rensa import RMinHash, RMinHashLSH

    sets = [shingles(t) for t in texts]
    keep = [i for i, s in enumerate(sets) if s]
    mins = RMinHash.from_token_sets([sets[i] for i in keep], a.num_perm, 1)
    # rensa needs the band count to divide the permutations: the nearest divisor.
    bands = min((d for d in range(1, a.num_perm + 1) if a.num_perm % d == 0), key=lambda d: abs(d - b))
    lsh = RMinHashLSH(a.threshold, a.num_perm, bands)
    lsh.insert_many(mins, 0)
    for k, found in enumerate(lsh.query_all(mins)):
        for j in found:
            if j != k:
                yield keep[k], keep[j]


def run_gaoya(texts, a, b, r):
    from gaoya.minhash import MinHashStringIndex

    index = MinHashStringIndex(
        hash_size=32,
        jaccard_threshold=a.threshold,
        num_bands=b,
        band_size=r,
        analyzer="word",
        lowercase=False,
        ngram_range=(N, N),
        id_container="vec",
    )
    docs = [" ".join(normal_words(t)) for t in texts]
    keep = [i for i, d in enumerate(docs) if d]
    index.par_bulk_insert_docs(keep, [docs[i] for i in keep])
    for i, found in zip(keep, index.par_bulk_query([docs[i] for i in keep])):
        for j in found:
            if j != i:
                yield i, j


PEERS = {"datasketch": run_datasketch, "rensa": run_rensa, "gaoya": run_gaoya}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("docs")
    ap.add_argument("out")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--id-field", default="id")
    a = ap.parse_args()
    t0 = time.perf_counter()
    ids, texts, nbytes = read(a)
    b, r = banding(a.threshold, a.num_perm)
    pairs = list(PEERS[a.peer](texts, a, b, r))
    groups = components(len(ids), pairs)
    t1 = time.perf_counter()
    with open(a.out, "w", encoding="utf-8") as f:
        for n, g in enumerate(groups):
            rec = {"cluster": n, "members": [{"id": ids[i]} for i in g]}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out = {"peer": a.peer, "docs": len(ids), "bytes": nbytes, "bands": b, "rows": r,
           "pairs": len(pairs), "clusters": len(groups), "seconds": round(t1 - t0, 3)}
    print(json.dumps(out), file=sys.stderr)


if __name__ == "__main__":
    main()
