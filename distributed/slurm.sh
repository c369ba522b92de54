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
buckets=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['buckets'])" "$plan")
submit() { # submit NAME ARRAY_SIZE DEPENDENCY COMMAND (which may use $SLURM_ARRAY_TASK_ID)
  local dep=()
  [ -n "$3" ] && dep=(--dependency="afterok:$3")
  sbatch --parsable --job-name="neardup-$1" --array="0-$(($2 - 1))" "${dep[@]}" \
    --cpus-per-task="${CPUS:-4}" --mem="${MEM:-8G}" --requeue --wrap "$4"
}
big() { # one task on a big-memory node
  local dep=()
  [ -n "$2" ] && dep=(--dependency="afterok:$2")
  sbatch --parsable --job-name="neardup-$1" "${dep[@]}" --cpus-per-task="${CPUS:-4}" \
    --mem="${BIG_MEM:-64G}" --requeue --wrap "$3"
}
w="--work $work -q -j \${SLURM_CPUS_PER_TASK:-1}"
j1=$(submit sketch "$shards" "" "$nd stage sketch $w --shard \$SLURM_ARRAY_TASK_ID")
j2=$(big boilerplate "$j1" "$nd stage boilerplate $w")
j3=$(submit signatures "$shards" "$j2" "$nd stage signatures $w --shard \$SLURM_ARRAY_TASK_ID")
je=$(big exact "$j3" "$nd stage exact $w")
j4=$(submit buckets "$buckets" "$je" "$nd stage buckets $w --task \$SLURM_ARRAY_TASK_ID")
j5=$(submit verify "$parts" "$j4" "$nd stage verify $w --part \$SLURM_ARRAY_TASK_ID")
j6=$(big components "$j5" "$nd stage components $w -o $out")
echo "submitted: sketch $j1, boilerplate $j2, signatures $j3, exact $je, buckets $j4," \
  "verify $j5, components $j6"
