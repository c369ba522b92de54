#!/usr/bin/env bash
# neardup's stages as Slurm job arrays, each stage depending on the one before.
# Usage: distributed/slurm.sh WORK OUT SHARDS -- INPUT... [scan options]
# WORK, OUT, the inputs and the neardup binary must be on storage every node mounts at the same
# path. Re-running the script on the same WORK resumes: finished tasks exit at once.
set -euo pipefail
work=$1 out=$2 shards=$3
shift 3
[ "${1:-}" = "--" ] && shift
nd=${NEARDUP:-neardup}
parts=${PARTS:-8}
plan=$("$nd" stage plan -q --work "$work" --shards "$shards" --parts "$parts" \
  --key-ranges "${KEY_RANGES:-1}" -- "$@")
w="--work $work -q -j \${SLURM_CPUS_PER_TASK:-1}"
# One job (array) per phase, in the order `stage plan` prints them, each after the one before;
# whole-corpus phases go to a big-memory node, the output phase gets -o.
dep=""
while IFS=$'\t' read -r name tasks index whole output; do
  cmd="$nd stage $name $w"
  [ "$index" != - ] && cmd="$cmd $index \$SLURM_ARRAY_TASK_ID"
  [ "$output" = 1 ] && cmd="$cmd -o $out"
  d=()
  [ -n "$dep" ] && d=(--dependency="afterok:$dep")
  if [ "$whole" = 1 ]; then
    opts=(--mem="${BIG_MEM:-64G}")
  else
    opts=(--array="0-$((tasks - 1))" --mem="${MEM:-8G}")
  fi
  dep=$(sbatch --parsable --job-name="neardup-$name" "${d[@]}" "${opts[@]}" \
    --cpus-per-task="${CPUS:-4}" --requeue --wrap "$cmd")
  echo "submitted $name ($tasks tasks): job $dep"
done < <(python3 -c '
import json, sys
for p in json.loads(sys.argv[1])["phases"]:
    print(p["name"], p["tasks"], p["index"] or "-", int(p["whole_corpus"]), int(p["output"]), sep="\t")
' "$plan")
