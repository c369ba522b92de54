#!/usr/bin/env bash
# neardup side by side with datasketch, rensa and gaoya (benches/peers.py: same word 5-grams,
# 128 permutations, threshold 0.5), in one run, on the same files:
#   * labelled sets: the syndication benchmark (make_syndication.py, ar and en) and
#     openiti-versions: speed and pairwise F1 (`neardup eval`) of every tool;
#   * saudinewsnet in full: speed only (no pair labels);
#   * synthetic 40-word documents (synth.py), 1e5 and 1e6 (and 1e7 with SCALE=1e7): neardup's
#     time and peak RSS per document, to show linear growth.
# Prints the markdown tables of BENCHMARKS.md. Usage: benches/compare.sh [DATA_DIR]
# Needs python3 (venv), zstd (installed with apt-get if missing); installs the peers from PyPI
# into target/peers-venv. PEERS="rensa gaoya" to leave one out (datasketch takes ~2 min on openiti).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
peers=${PEERS:-datasketch rensa gaoya}
scale=${SCALE:-1e6}
command -v zstd >/dev/null || { apt-get update -qq && apt-get install -y -qq zstd; }
cargo build --release -q
bin=$PWD/target/release/neardup
venv=target/peers-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import datasketch, rensa, gaoya" 2>/dev/null ||
  "$venv/bin/pip" install -q datasketch rensa gaoya
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. benches/common.sh
f1() { [ -n "$2" ] && "$bin" eval --json --truth "$2" "$1" | python3 -c "import json,sys;print(f\"{json.load(sys.stdin)['f1']:.3f}\")" || echo "—"; }

python3 benches/make_syndication.py ar "$data" "$tmp/syn-ar" >/dev/null 2>&1
python3 benches/make_syndication.py en "$data" "$tmp/syn-en" >/dev/null 2>&1
zstd -q -d --long=27 <"$data/openiti-versions/docs.jsonl.zst" >"$tmp/openiti.jsonl"
zstd -q -d --long=27 <"$data/saudinewsnet/docs.jsonl.zst" >"$tmp/saudinewsnet.jsonl"

header="| corpus | docs | MB | neardup 1 thread MB/s | docs/s | 2 threads MB/s | speed-up | F1 | peak RSS MB |"
for p in $peers; do header+=" $p docs/s | × | F1 | RSS MB |"; done
echo "$header"
echo "$header" | sed 's/[^|]*|/---|/g; s/^---//'
for corpus in syn-ar:"$tmp/syn-ar/docs.jsonl":"$tmp/syn-ar/labels.jsonl" \
              syn-en:"$tmp/syn-en/docs.jsonl":"$tmp/syn-en/labels.jsonl" \
              openiti:"$tmp/openiti.jsonl":"$data/openiti-versions/labels.jsonl" \
              saudinewsnet:"$tmp/saudinewsnet.jsonl":; do
  IFS=: read -r name docs labels <<<"$corpus"
  cat "$docs" >/dev/null # warm the page cache for every contender alike
  n=$(wc -l <"$docs")
  mb=$(python3 -c "import os;print(os.path.getsize('$docs')/1e6)")
  read -r t1 rss1 < <(run "$bin" scan "$docs" -o "$tmp/nd1" -q -j 1)
  read -r t2 rss2 < <(run "$bin" scan "$docs" -o "$tmp/nd2" -q -j 2)
  cmp -s "$tmp/nd1/clusters.jsonl" "$tmp/nd2/clusters.jsonl" || echo "WARNING: 1 and 2 threads differ" >&2
  row=$(python3 -c "
n, mb, t1, t2, r = $n, $mb, $t1, $t2, max($rss1, $rss2)
print(f'| $name | {n} | {mb:.0f} | {mb/t1:.0f} | {n/t1:,.0f} | {mb/t2:.0f} | {t1/t2:.2f}× | $(f1 "$tmp/nd2/clusters.jsonl" "$labels") | {r/1024:.0f} |', end='')")
  for p in $peers; do
    read -r tp rssp < <(run "$venv/bin/python" benches/peers.py "$p" "$docs" "$tmp/$p.jsonl")
    row+=$(python3 -c "
n, t2, tp, r = $n, $t2, $tp, $rssp
print(f' {n/tp:,.0f} | {tp/t2:.1f}× | $(f1 "$tmp/$p.jsonl" "$labels") | {r/1024:.0f} |', end='')")
  done
  echo "$row"
done

echo
echo "| synthetic docs | MB | seconds (2 threads) | µs/doc | peak RSS MB | RSS − input, bytes/doc |"
echo "|---|---|---|---|---|---|"
for n in 1e5 1e6 1e7; do
  python3 -c "import sys; sys.exit(0 if float('$n') <= float('$scale') else 1)" || continue
  count=$(python3 -c "print(int(float('$n')))")
  python3 benches/synth.py "$count" "$tmp/synth.jsonl"
  read -r t rss < <(run "$bin" scan "$tmp/synth.jsonl" -o "$tmp/synth-out" -q -j 2)
  python3 -c "
import os
n, t, rss, size = $count, $t, $rss * 1024, os.path.getsize('$tmp/synth.jsonl')
print(f'| {n:.0e} | {size/1e6:.0f} | {t:.2f} | {t/n*1e6:.2f} | {rss/2**20:.0f} | {(rss-size)/n:.0f} |')"
  rm -f "$tmp/synth.jsonl"
done
