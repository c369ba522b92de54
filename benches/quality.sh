#!/usr/bin/env bash
# Quality, side by side: neardup at its defaults vs a datasketch MinHash-LSH pipeline (same word
# 5-grams, 128 permutations, threshold 0.5), on
#   * the syndication benchmark built by make_syndication.py from ../shared/data (Arabic from
#     saudinewsnet, English from reuters21578): precision and recall per transformation;
#   * openiti-versions and clough-stevenson labels: pairwise P / R / F1 / ARI (neardup eval).
# Usage: benches/quality.sh [DATA_DIR]  (needs python3 with venv, zstd; installs datasketch into
# a venv of its own under target/)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
command -v zstd >/dev/null || { apt-get update -qq && apt-get install -y -qq zstd; }
cargo build --release -q
bin=target/release/neardup
venv=target/peers-venv
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q datasketch; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "## Syndication benchmark (per-transformation recall, precision)"
for lang in ar en; do
  python3 benches/make_syndication.py "$lang" "$data" "$tmp/syn-$lang" >&2
  "$bin" scan "$tmp/syn-$lang/docs.jsonl" -o "$tmp/nd-$lang" -q
  python3 benches/score_syndication.py "$tmp/syn-$lang/labels.jsonl" "$tmp/nd-$lang/clusters.jsonl" --name "neardup $lang"
  "$venv/bin/python" benches/peers.py datasketch "$tmp/syn-$lang/docs.jsonl" "$tmp/ds-$lang.jsonl" 2>/dev/null
  python3 benches/score_syndication.py "$tmp/syn-$lang/labels.jsonl" "$tmp/ds-$lang.jsonl" --name "datasketch $lang"
done

echo "## Labelled corpora (pairwise)"
zstd -q -d --long=27 <"$data/openiti-versions/docs.jsonl.zst" >"$tmp/openiti.jsonl"
for corpus in openiti:"$tmp/openiti.jsonl":"$data/openiti-versions/labels.jsonl" \
              clough:"$data/clough-stevenson/docs.jsonl":"$data/clough-stevenson/labels.jsonl"; do
  IFS=: read -r name docs labels <<<"$corpus"
  cat_flag=()
  [ "$name" = clough ] && cat_flag=(--category-field category)
  "$bin" scan "$docs" -o "$tmp/nd-$name" -q
  echo "neardup $name: $("$bin" eval --json --truth "$labels" "$tmp/nd-$name/clusters.jsonl" "${cat_flag[@]}" | tr -d '\n ')"
  "$venv/bin/python" benches/peers.py datasketch "$docs" "$tmp/ds-$name.jsonl" 2>/dev/null
  echo "datasketch $name: $("$bin" eval --json --truth "$labels" "$tmp/ds-$name.jsonl" "${cat_flag[@]}" | tr -d '\n ')"
done
