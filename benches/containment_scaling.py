#!/usr/bin/env python3
"""Candidate pairs per document as the corpus grows, with and without the containment banding.

Usage: benches/containment_scaling.py SAUDINEWSNET_DOCS_JSONL WORKDIR [SIZES...]

Realistic text without a finite pool of articles to run out of: `examples/trigram_corpus.rs` (built
and run by this script) writes every document from a word trigram model of the real saudinewsnet
articles (so common phrases recur at their real rates, which is what makes unrelated articles
collide in LSH), with article lengths drawn from the real ones (capped at 400 words). Related
documents come at a fixed rate, whatever the size: one document in ten is an edited copy of an
earlier one (a tenth of its words replaced), one in twenty a teaser (its first third, plus a
sentence of its own). A scalable candidate generator stores about the same number of pairs per
document at every size. Prints one JSON line per size and setting: stored candidate pairs per
document, and the containment banding's bucket collisions per document (which the MinHash
estimate filters as they leave the buckets), and the verified pairs split at a score of 0.5. 10^7 documents are ~24 GB of JSON Lines (~7 minutes
to write) and the scan needs about as much again in $TMPDIR for its token store.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("NEARDUP_BIN") or str(ROOT / "target/release/neardup")


def corpus(src, path, n):
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "trigram_corpus"],
                   cwd=ROOT, check=True)
    subprocess.run([str(ROOT / "target/release/examples/trigram_corpus"), str(src), str(path),
                    str(n)], check=True)


def main():
    src, work = Path(sys.argv[1]), Path(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3:]] or [10_000, 100_000]
    work.mkdir(parents=True, exist_ok=True)
    settings = [("default", []), ("no-containment", ["--no-containment"])]
    if os.environ.get("DEFAULT_ONLY"):
        settings = settings[:1]
    for n in sizes:
        path = work / f"synth-{n}.jsonl"
        if not path.exists():
            corpus(src, path, n)
        for setting, extra in settings:
            out = work / f"out-{n}-{setting}"
            child = subprocess.Popen([BIN, "scan", str(path), "-o", str(out), "-q"] + extra)
            _, status, usage = os.wait4(child.pid, 0)  # the scan's own peak RSS (KiB on Linux)
            child.returncode = os.waitstatus_to_exitcode(status)
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
                # The verified pairs per document by the score the criterion reads: at or above
                # 0.5 (similar pairs, which any generator with recall at the thresholds proposes
                # and whose number is the corpus's), and below it (collisions the 128-value
                # estimate could not rule out).
                "verified_at_or_above_half_per_document": round(
                    sum(lsh.get("verified_by_score", [0] * 10)[5:]) / n, 4),
                "verified_below_half_per_document": round(
                    sum(lsh.get("verified_by_score", [0] * 10)[:5]) / n, 4),
                "accepted": lsh["accepted"],
                "clusters": s["clusters"]["total"],
                "documents_in_clusters": s["clusters"]["documents_in_clusters"],
                "seconds": s["seconds"],
                "peak_rss_mb": round(usage.ru_maxrss / 1024),
                "input_bytes_per_document": round(path.stat().st_size / n),
            }), flush=True)


if __name__ == "__main__":
    main()
