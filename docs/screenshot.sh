#!/usr/bin/env bash
# Regenerate docs/report.png (shown in the README): a scan of saudinewsnet, its report, and a
# headless chromium screenshot of the page as it opens.
# Usage: docs/screenshot.sh [DATA_DIR]   (needs zstd and chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo build --release -q
zstd -q -d --long=27 <"$data/saudinewsnet/docs.jsonl.zst" >"$tmp/saudinewsnet.jsonl"
target/release/neardup scan "$tmp/saudinewsnet.jsonl" -o "$tmp/out" -q
target/release/neardup report "$tmp/out" -q
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1500 \
  --screenshot="$PWD/docs/report.png" "file://$tmp/out/report.html" 2>/dev/null
echo "wrote docs/report.png"
