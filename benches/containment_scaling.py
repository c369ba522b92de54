#!/usr/bin/env python3
"""Candidate pairs per document as the corpus grows, with and without the containment banding.

Usage: benches/containment_scaling.py SAUDINEWSNET_DOCS_JSONL WORKDIR [SIZES...]

Realistic text without a finite pool of articles to run out of: a word trigram model of the real
saudinewsnet articles writes every document (so common phrases recur at their real rates, which is
what makes unrelated articles collide in LSH), with article lengths drawn from the real ones
(capped at 400 words). Related documents come at a fixed rate, whatever the size: one document in
ten is an edited copy of an earlier one (a tenth of its words replaced), one in twenty a teaser
(its first third, plus a sentence of its own). A scalable candidate generator stores about the
same number of pairs per document at every size. Prints one JSON line per size and setting:
stored candidate pairs per document, and the containment banding's bucket collisions per
document (which the MinHash estimate filters as they leave the buckets).
"""
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

BIN = os.environ.get("NEARDUP_BIN") or str(Path(__file__).resolve().parent.parent / "target/release/neardup")


def model(src):
    nxt = defaultdict(list)
    starts, lengths = [], []
    for line in open(src):
        words = json.loads(line)["text"].split()
        if len(words) < 20:
            continue
        lengths.append(min(len(words), 400))
        starts.append((words[0], words[1]))
        for a, b, c in zip(words, words[1:], words[2:]):
            nxt[(a, b)].append(c)
    return nxt, starts, lengths


def write(nxt, starts, length, rng):
    a, b = rng.choice(starts)
    out = [a, b]
    while len(out) < length:
        follow = nxt.get((a, b))
        if not follow:
            a, b = rng.choice(starts)
            out += [a, b]
            continue
        c = rng.choice(follow)
        out.append(c)
        a, b = b, c
    return out


def corpus(path, n, nxt, starts, lengths, seed=16):
    rng = random.Random(seed)
    docs = []
    with open(path, "w") as f:
        for i in range(n):
            r = rng.random()
            if docs and r < 0.1:
                words = list(rng.choice(docs))
                vocab = rng.choice(docs)
                for j in range(len(words)):
                    if rng.random() < 0.1:
                        words[j] = rng.choice(vocab)
            elif docs and r < 0.15:
                base = rng.choice(docs)
                words = base[: len(base) // 3] + write(nxt, starts, 15, rng)
            else:
                words = write(nxt, starts, rng.choice(lengths), rng)
            if len(docs) < 20_000:
                docs.append(words)
            else:
                docs[rng.randrange(len(docs))] = words
            f.write(json.dumps({"id": str(i), "text": " ".join(words)}, ensure_ascii=False) + "\n")


def main():
    src, work = Path(sys.argv[1]), Path(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3:]] or [10_000, 100_000]
    work.mkdir(parents=True, exist_ok=True)
    nxt = starts = lengths = None
    for n in sizes:
        path = work / f"synth-{n}.jsonl"
        if not path.exists():
            if nxt is None:
                nxt, starts, lengths = model(src)
            corpus(path, n, nxt, starts, lengths)
        for setting, extra in [("default", []), ("no-containment", ["--no-containment"])]:
            out = work / f"out-{n}-{setting}"
            subprocess.run([BIN, "scan", str(path), "-o", str(out), "-q"] + extra, check=False)
            s = json.load(open(out / "summary.json"))
            lsh = s["lsh"]["verify"] if "verify" in s["lsh"] else s["lsh"]
            print(json.dumps({
                "documents": n, "setting": setting,
                # Distinct pairs stored for verification (the containment banding's only when
                # their MinHash estimate is plausible), and the containment banding's bucket
                # collisions before that filter (once per band).
                "candidate_pairs": lsh["candidate_pairs"],
                "per_document": round(lsh["candidate_pairs"] / n, 3),
                "containment_collisions_per_document": round(
                    lsh.get("containment_collisions", 0) / n, 3),
                "verified_exactly": lsh["verified_exactly"],
                "accepted": lsh["accepted"],
                "clusters": s["clusters"]["total"],
                "documents_in_clusters": s["clusters"]["documents_in_clusters"],
                "seconds": s["seconds"],
            }), flush=True)


if __name__ == "__main__":
    main()
