#!/usr/bin/env bash
# CI end-to-end test of the Ray driver on one machine, inside a network namespace with only
# loopback (Ray never listens on an outside address): a two-node local Ray cluster runs every
# stage on saudinewsnet (one 108 MB JSON Lines file, cut into 4 shards at line starts), one task
# is killed mid-way and retried, and the output must equal `neardup scan` byte for byte.
# Stops by itself (timeout) and removes its namespace, processes and files.
# Usage: distributed/ci_ray_test.sh [DATA_DIR]   (root; installs ray into target/ray-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
command -v zstd >/dev/null || { apt-get update -qq && apt-get install -y -qq zstd; }
command -v ip >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2; }
cargo build --release -q
bin=$PWD/target/release/neardup
venv=$PWD/target/ray-venv
"$venv/bin/python" -c "import ray" 2>/dev/null || {
  python3 -m venv "$venv" && "$venv/bin/pip" install -q ray
}
tmp=$(mktemp -d)
ns=neardup-ray-$$
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

zstd -q -d --long=27 <"$data/saudinewsnet/docs.jsonl.zst" >"$tmp/saudinewsnet.jsonl"
"$bin" scan "$tmp/saudinewsnet.jsonl" -o "$tmp/ref" -q

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
timeout -s KILL 900 ip netns exec "$ns" env RAY_USAGE_STATS_ENABLED=0 \
  "$venv/bin/python" distributed/test_ray_local.py "$bin" "$tmp/saudinewsnet.jsonl" "$tmp/ref" "$tmp"
