#!/usr/bin/env python3
"""How well a 128-value OPH signature tells a short document's containment in a longer one.

Usage: benches/containment_own_bins.py [TRIALS]

Simulates one-permutation hashing with optimal densification (128 bins; an empty bin copies the
first non-empty bin on its own fixed probe sequence, the same for every document) for a short
document A inside a longer document B at containment C, and compares two plausibility tests at
the same recall for C = 0.6:

* the test in use: the containment estimate from the number of equal values over all 128 bins
  (Jaccard = equal / 128, intersection = J (|A| + |B|) / (1 + J)), at least 0.4;
* A's own bins only (those a shingle of A reached, not densification copies): the share of
  "shared" (a = b) among the decisive ones (a = b, or a < b: A's minimum is not in B), its
  threshold set for the same recall at C = 0.6.

Prints, per size pair, the share of pairs each test lets through at C = 0.2, 0.3, 0.4, 0.6
(BENCHMARKS.md, "Issue 16, ninth steps").
"""
import random
import sys

K = 128


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rng = random.Random(1)
    probes = [[rng.randrange(K) for _ in range(64)] for _ in range(K)]

    def oph(hashes):
        bins = [None] * K
        for h in hashes:
            b = (h >> 32) * K >> 32
            v = h & 0xFFFFFFFF
            if bins[b] is None or v < bins[b]:
                bins[b] = v
        own = [x is not None for x in bins]
        out = list(bins)
        for i in range(K):
            if out[i] is None:
                out[i] = next(bins[p] for p in probes[i] if bins[p] is not None)
        return out, own

    def trial(na, nb, c):
        shared = int(round(c * na))
        common = [rng.getrandbits(64) for _ in range(shared)]
        a = common + [rng.getrandbits(64) for _ in range(na - shared)]
        b = common + [rng.getrandbits(64) for _ in range(nb - shared)]
        sa, own = oph(a)
        sb, _ = oph(b)
        j = sum(x == y for x, y in zip(sa, sb)) / K
        in_use = min(1.0, j * (na + nb) / (1 + j) / na)
        eq = sum(1 for i in range(K) if own[i] and sa[i] == sb[i])
        less = sum(1 for i in range(K) if own[i] and sa[i] < sb[i])
        return in_use, eq / (eq + less) if eq + less else 0.0

    cs = [0.2, 0.3, 0.4, 0.6]
    for na, nb in [(40, 160), (40, 320), (60, 480), (100, 400)]:
        res = {c: [trial(na, nb, c) for _ in range(trials)] for c in cs}
        rate = lambda c, k, t: sum(r[k] >= t for r in res[c]) / trials
        target = rate(0.6, 0, 0.4)
        t_own = max(t / 100 for t in range(10, 80) if rate(0.6, 1, t / 100) >= target)
        print(f"{na}/{nb} in use (>= 0.4):", {c: round(rate(c, 0, 0.4), 3) for c in cs})
        print(f"{na}/{nb} own bins (>= {t_own}):", {c: round(rate(c, 1, t_own), 3) for c in cs},
              flush=True)


if __name__ == "__main__":
    main()
