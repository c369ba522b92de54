#!/usr/bin/env bash
# End-to-end throughput of `neardup scan` on the real corpora in ../shared/data, with 1 and 2
# threads, side by side with a baseline over the same bytes in the same run (`wc -w`, one pass
# that tokenises on whitespace), so figures read as ratios on a noisy machine.
#
# Usage: benches/throughput.sh [DATA_DIR]   (default ../shared/data)
# Needs: zstd (installed with apt-get if missing), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
command -v zstd >/dev/null || { apt-get update -qq && apt-get install -y -qq zstd; }
cargo build --release -q
bin=target/release/neardup
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. benches/common.sh

printf '| corpus | MB | docs | wc -w MB/s | neardup 1 thread MB/s | docs/s | × wc -w | neardup 2 threads MB/s | speed-up | peak RSS MB |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for corpus in saudinewsnet reuters21578 openiti-versions; do
  src="$data/$corpus/docs.jsonl.zst"
  [ -f "$src" ] || continue
  f="$tmp/$corpus.jsonl"
  zstd -q -d --long=27 <"$src" >"$f"
  cat "$f" >/dev/null  # warm the page cache for every contender alike
  mb=$(python3 -c "import os;print(os.path.getsize('$f')/1e6)")
  docs=$(wc -l <"$f")
  read -r t_wc _ < <(run env LC_ALL=C wc -w "$f")
  read -r t1 rss1 < <(run "$bin" scan "$f" -o "$tmp/out1" -q -j 1)
  read -r t2 rss2 < <(run "$bin" scan "$f" -o "$tmp/out2" -q -j 2)
  cmp -s "$tmp/out1/clusters.jsonl" "$tmp/out2/clusters.jsonl" || echo "WARNING: 1 and 2 threads differ" >&2
  python3 - "$corpus" "$mb" "$docs" "$t_wc" "$t1" "$t2" "$rss1" "$rss2" <<'PY'
import sys
c, mb, docs, twc, t1, t2, r1, r2 = sys.argv[1], *map(float, sys.argv[2:])
print(f"| {c} | {mb:.0f} | {docs:.0f} | {mb/twc:.0f} | {mb/t1:.0f} | {docs/t1:.0f} | {twc/t1:.2f} | {mb/t2:.0f} | {t1/t2:.2f}× | {max(r1, r2)/1024:.0f} |")
PY
done
