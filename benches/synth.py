#!/usr/bin/env python3
"""Synthetic short documents for memory and scaling runs.

Usage: synth.py N OUT.jsonl [--seed 1] [--words 40]

N JSON Lines records {"id": "dN", "text": "..."} of `--words` words drawn from a 20,000-word
vocabulary, one record in ten a near copy (one word changed) of an earlier one, so LSH buckets
and verification do real work. Deterministic for a seed. Writes about 10^6 records/s.
"""
import argparse
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--words", type=int, default=40)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = sorted({"".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(20000)})
    recent = []
    with open(a.out, "w") as f:
        buf = []
        for i in range(a.n):
            if recent and i % 10 == 9:
                words = list(rng.choice(recent))
                words[rng.randrange(len(words))] = rng.choice(vocab)
            else:
                words = rng.choices(vocab, k=a.words)
                if len(recent) < 1000:
                    recent.append(words)
                else:
                    recent[rng.randrange(1000)] = words
            buf.append('{"id":"d%d","text":"%s"}\n' % (i, " ".join(words)))
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    main()
