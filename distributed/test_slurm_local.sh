#!/usr/bin/env bash
# End-to-end check of distributed/slurm.sh without a Slurm cluster: a stand-in `sbatch` runs
# each submitted job at once (every array index in turn, as Slurm would on its nodes), so the
# script's reading of `neardup stage plan`'s phases, its job order and its commands are
# exercised for real; the output must equal `neardup scan` byte for byte.
# Usage: distributed/test_slurm_local.sh BINARY INPUT
set -euo pipefail
bin=$(realpath "$1") input=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/sbatch" <<'SB'
#!/usr/bin/env bash
# Stand-in sbatch: run the --wrap command now, once per --array index; print a job id.
arr="" wrap=""
for a in "$@"; do case $a in --array=*) arr=${a#--array=} ;; esac; done
while [ $# -gt 0 ]; do [ "$1" = --wrap ] && wrap=$2; shift; done
lo=0 hi=0
[ -n "$arr" ] && lo=${arr%-*} hi=${arr#*-}
for i in $(seq "$lo" "$hi"); do
  SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=1 bash -c "$wrap" >&2 || exit 1
done
echo "$RANDOM"
SB
chmod +x "$tmp/bin/sbatch"
"$bin" scan "$input" -o "$tmp/ref" -q || [ $? = 2 ]
PATH="$tmp/bin:$PATH" NEARDUP="$bin" PARTS=3 KEY_RANGES=2 \
  "$(dirname "$0")/slurm.sh" "$tmp/work" "$tmp/out" 3 -- "$input" >"$tmp/log" 2>&1 \
  || { cat "$tmp/log"; exit 1; }
for f in clusters.jsonl boilerplate.jsonl; do
  cmp "$tmp/ref/$f" "$tmp/out/$f" || { echo "FAIL: $f differs from the local scan"; exit 1; }
done
phases=$(grep -c '^submitted' "$tmp/log")
[ "$phases" = 7 ] || { cat "$tmp/log"; echo "FAIL: $phases phases submitted"; exit 1; }
echo "OK: Slurm script (7 phases as planned) identical to the local scan"
