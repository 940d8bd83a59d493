#!/usr/bin/env bash
# cluster/chain.sh: submits prepare -> train -> report as three Slurm jobs, each starting only when the one
# before it ended well (--dependency=afterok), and prints their job ids. Run it where you run sbatch.
#
#   PREPARE="--dataset fashion-mnist --source /usr/share/datasets/fashion-mnist --image-size 32" \
#   CONFIG=configs/demo/fashion-mnist.toml SEEDS="0 1 2" OUT=runs/chain PROMPTCL=$PWD/.build/release/promptcl \
#       cluster/chain.sh [sbatch options for all three jobs, e.g. --partition=P --account=A]
#
# prints
#   prepare 101
#   train 102
#   report 103
#
# The jobs:
#   prepare  `promptcl prepare $PREPARE --out $DATA` on the job's tasks (srun --mpi=pmix; 2 tasks)
#   train    cluster/array.sbatch over SEEDS (with CONFIG) or CONFIGS, every element with --set data.path=$DATA:
#            one run directory per element under OUT, pre-emptible and requeued like cluster/train.sbatch
#   report   `promptcl report --markdown` over the runs under OUT, written to OUT/report.md and to its log
# If a job fails, the ones after it are cancelled (a dependency that can no longer be met), not left pending.
#
# Environment:
#   PREPARE    `promptcl prepare` arguments but --out, separated by spaces (required)
#   DATA       the prepared directory (default: OUT/data)
#   CONFIG, SEEDS, CONFIGS   as in cluster/array.sbatch (SEEDS with CONFIG, or CONFIGS)
#   OUT        the directory of the runs (required); logs go to OUT/logs/
#   PROMPTCL   the promptcl binary (default: `promptcl` on PATH); LAUNCHER for the training as in train.sbatch
# What a site changes: the sbatch options given as arguments (partition, account, time); the training job's
# resources in cluster/array.sbatch's header; the prepare job's tasks (--ntasks below).
set -euo pipefail
cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "chain.sh: $*" >&2; exit 2; }
: "${OUT:?chain.sh: set OUT to the directory of the runs}"
: "${PREPARE:?chain.sh: set PREPARE to the promptcl prepare arguments (e.g. --dataset synthetic --image-size 32)}"
[[ -n ${SEEDS:-} || -n ${CONFIGS:-} ]] || fail "set SEEDS (with CONFIG) or CONFIGS: the training runs"
if [[ -n ${SEEDS:-} && -n ${CONFIGS:-} ]]; then fail "set SEEDS or CONFIGS, not both"; fi
if [[ -n ${SEEDS:-} ]]; then
    : "${CONFIG:?chain.sh: SEEDS needs CONFIG, the config of every run}"
    read -r -a items <<<"$SEEDS"
else
    read -r -a items <<<"$CONFIGS"
fi
promptcl=${PROMPTCL:-promptcl}
command -v "$promptcl" >/dev/null || fail "no promptcl binary '$promptcl': set PROMPTCL to its path"
promptcl=$(command -v "$promptcl")
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
DATA=${DATA:-$OUT/data}
export OUT DATA PROMPTCL=$promptcl

# sbatch ARGS... with a bash script on stdin; prints the job id.
submit() { sbatch --parsable "$@" | cut -d';' -f1; }

prepare=$(submit --job-name=promptcl-prepare --nodes=1 --ntasks=2 --output="$OUT/logs/prepare-%j.log" "$@" <<EOF
#!/bin/bash
set -euo pipefail
export OPENBLAS_NUM_THREADS=1
srun --mpi=pmix $(printf '%q' "$promptcl") prepare $PREPARE --out $(printf '%q' "$DATA")
EOF
)
echo "prepare $prepare"

train=$(submit --dependency=afterok:"$prepare" --array=0-$((${#items[@]} - 1)) \
    --output="$OUT/logs/train-%A_%a.log" "$@" "$cluster_dir/array.sbatch" --set data.path="$DATA")
echo "train $train"

report=$(submit --dependency=afterok:"$train" --job-name=promptcl-report --ntasks=1 \
    --output="$OUT/logs/report-%j.log" "$@" <<EOF
#!/bin/bash
set -euo pipefail
runs=()
for run in $(printf '%q' "$OUT")/*/; do
    if [[ -f \$run/summary.json ]]; then runs+=("\${run%/}"); fi
done
$(printf '%q' "$promptcl") report --markdown "\${runs[@]}" | tee $(printf '%q' "$OUT/report.md")
EOF
)
echo "report $report"
