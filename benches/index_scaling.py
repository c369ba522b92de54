#!/usr/bin/env python3
"""Cost of `scan --against` per new document as the index grows.

Usage: benches/index_scaling.py SAUDINEWSNET_DOCS_JSONL WORKDIR [--chars N] [SIZES...]

With --chars N every article is cut to its first N characters (a short news item), so that an
index of 10^7 documents fits on a small disk.

Builds indexes of SIZES documents (default 100000 1000000) of realistic text: real saudinewsnet
articles, each indexed document a mutation of one (a fifth of its words swapped for words of
another article, every number changed), so that most are distinct and a few are near copies,
as in a real archive. The new input is the same 1,000 documents every time: 500 further
mutations and 500 unchanged real articles (copies of something indexed). Prints one JSON line
per size: index build seconds, --against seconds, per new document, and how many indexed
documents the new ones hit and were linked to.
"""
import json
import random
import subprocess
import sys
import time
from pathlib import Path

BIN = str(Path(__file__).resolve().parent.parent / "target/release/neardup")


def mutate(text, donor, rng):
    words = text.split(" ")
    dw = donor.split(" ")
    for i in range(len(words)):
        if rng.random() < 0.2:
            words[i] = rng.choice(dw)
        elif words[i].isdigit():
            words[i] = str(rng.randrange(10_000))
    return " ".join(words)


def main():
    src, work = Path(sys.argv[1]), Path(sys.argv[2])
    rest = sys.argv[3:]
    chars = None
    if rest[:1] == ["--chars"]:
        chars, rest = int(rest[1]), rest[2:]
    sizes = [int(s) for s in rest] or [100_000, 1_000_000]
    arts = [json.loads(l)["text"][:chars] for l in open(src)]
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(15)
    new = work / "new.jsonl"
    with open(new, "w") as f:
        for i in range(500):
            f.write(json.dumps({"id": f"new-m{i}", "text": mutate(rng.choice(arts), rng.choice(arts), rng)}, ensure_ascii=False) + "\n")
        for i in range(500):
            f.write(json.dumps({"id": f"new-c{i}", "text": arts[i * 7]}, ensure_ascii=False) + "\n")
    for n in sizes:
        corpus = work / f"old-{n}.jsonl"
        if not corpus.exists():
            with open(corpus, "w") as f:
                for i in range(n):
                    # The first pass over the articles is unchanged (so the copies have targets).
                    t = arts[i] if i < len(arts) else mutate(arts[i % len(arts)], rng.choice(arts), rng)
                    f.write(json.dumps({"id": f"old-{i}", "text": t}, ensure_ascii=False) + "\n")
        idx = work / f"idx-{n}"
        subprocess.run(["rm", "-rf", str(idx)], check=True)
        t = time.time()
        subprocess.run([BIN, "index", "create", "-q", str(idx), str(corpus)], check=True)
        build = time.time() - t
        best = None
        for _ in range(3):
            out = work / f"out-{n}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            t = time.time()
            subprocess.run([BIN, "scan", "-q", "--against", str(idx), "-o", str(out), str(new)], check=True)
            dt = time.time() - t
            best = dt if best is None else min(best, dt)
        s = json.load(open(out / "summary.json"))
        print(json.dumps({
            "index_documents": n,
            "chars": chars,
            "index_build_s": round(build, 1),
            "index_bytes": sum(p.stat().st_size for p in idx.rglob("*") if p.is_file()),
            "against_s": round(best, 3),
            "ms_per_new_document": round(best / 1000 * 1000, 3),
            "indexed_linked": s["against"]["indexed_linked"],
            "new_linked": s["against"]["new_linked"],
        }), flush=True)


if __name__ == "__main__":
    main()
