# cluster/lib/run-trainer.sh: sourced by train.sbatch and array.sbatch (not run on its own). Defines
#
#   run_trainer ARGS...   runs `$PROMPTCL train ARGS... --resume auto` as one job step on the allocation's tasks
#                         and ends the batch script by the trainer's exit status (below).
#
# Environment:
#   PROMPTCL   the promptcl binary (default: `promptcl` on PATH)
#   LAUNCHER   srun (default): `srun --mpi=pmix`, Slurm starts the ranks through PMIx;
#              mpirun: Open MPI's `mpirun -np $SLURM_NTASKS` inside the allocation (it reads the allocation
#              from Slurm); as root it sets OMPI_ALLOW_RUN_AS_ROOT and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM.
#   OPENBLAS_NUM_THREADS   threads per rank; default $SLURM_CPUS_PER_TASK, else 1
#
# Pre-emption: Slurm sends USR1 to the batch shell (`#SBATCH --signal=B:USR1@SECONDS`; or by hand
# `scancel --signal=USR1 --batch JOBID`). The trap sends USR1 to the job step (srun or mpirun forwards it to every
# rank): all ranks stop at the next step boundary, rank 0 writes a checkpoint, every rank exits 75. Bash runs a
# trap only between commands, so the step runs in the background and the script waits on it, again after each
# trapped signal, until the step has really ended.
# TERM (scancel, the time limit, Slurm's own pre-emption) also has the trainer checkpoint and stop, but the job
# is not requeued: it is being ended on purpose (Slurm requeues by itself where its pre-emption says so).
#
# The trainer's exit status decides (promptcl train's contract):
#   0    done: the script exits 0
#   75   stopped on request with a checkpoint written: `scontrol requeue $SLURM_JOB_ID` (the job needs
#        --requeue); the job starts again later with SLURM_RESTART_COUNT one higher and resumes
#        (--resume auto) from that checkpoint. After a TERM, or if the requeue is refused, the script exits 75
#        (the job fails; a later submission with the same OUT resumes).
#   else the job fails with that status (1: a rank failed; 2: the run could not start, e.g. a bad config).

# Prints a line to the job's log, prefixed with the script's name.
run_trainer_log() { echo "${RUN_TRAINER_NAME:-run-trainer}: $*"; }

run_trainer() {
    local promptcl=${PROMPTCL:-promptcl} launcher=${LAUNCHER:-srun}
    if ! command -v "$promptcl" >/dev/null; then
        run_trainer_log "no promptcl binary '$promptcl': set PROMPTCL to its path (or put promptcl on PATH)" >&2
        exit 2
    fi
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
    local -a launch
    case $launcher in
        srun) launch=(srun --mpi=pmix) ;;
        mpirun)
            if [[ $(id -u) -eq 0 ]]; then
                export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            fi
            launch=(mpirun -np "${SLURM_NTASKS:?mpirun needs an allocation with SLURM_NTASKS}"
                    -x OPENBLAS_NUM_THREADS)
            ;;
        *)
            run_trainer_log "LAUNCHER must be srun or mpirun, got '$launcher'" >&2
            exit 2
            ;;
    esac
    run_trainer_log "job ${SLURM_JOB_ID:-?} start, SLURM_RESTART_COUNT=${SLURM_RESTART_COUNT:-0}," \
        "${SLURM_NTASKS:-?} tasks on ${SLURM_JOB_NODELIST:-?}, $launcher, OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"

    run_trainer_stop=0 run_trainer_step="" run_trainer_interrupted=0 run_trainer_terminated=0
    trap 'run_trainer_signalled USR1' USR1
    trap 'run_trainer_signalled TERM' TERM
    run_trainer_log "${launch[*]} $promptcl train $* --resume auto"
    "${launch[@]}" "$promptcl" train "$@" --resume auto &
    run_trainer_step=$!
    # A signal that came while the step was being started: pass it on now.
    if ((run_trainer_stop)); then kill -USR1 "$run_trainer_step" 2>/dev/null || true; fi
    local status
    while :; do
        run_trainer_interrupted=0 status=0
        wait "$run_trainer_step" || status=$?
        # wait returns early (128 + signal) when a trapped signal arrives; wait again for the step's own status
        # (bash keeps it once the step has ended).
        ((run_trainer_interrupted)) || break
    done
    trap - USR1 TERM
    case $status in
        0)
            run_trainer_log "the trainer finished"
            exit 0
            ;;
        75) run_trainer_requeue ;;
        *)
            run_trainer_log "the trainer failed with exit status $status" >&2
            exit "$status"
            ;;
    esac
}

# The trap: remembers the stop (and a TERM) and sends USR1 to the job step when it runs (mpirun would end the
# ranks at once on a TERM).
run_trainer_signalled() {
    run_trainer_log "received SIG$1: asking the trainer to checkpoint and stop"
    run_trainer_stop=1 run_trainer_interrupted=1
    if [[ $1 == TERM ]]; then run_trainer_terminated=1; fi
    if [[ -n $run_trainer_step ]]; then kill -USR1 "$run_trainer_step" 2>/dev/null || true; fi
}

# After the trainer's exit 75: requeues the job, unless a TERM came (the job is being ended) or scontrol refuses;
# then the script exits 75.
run_trainer_requeue() {
    local why="the trainer stopped on request and wrote a checkpoint (exit 75)"
    if ((run_trainer_terminated)); then
        run_trainer_log "$why; SIGTERM: the job is being ended, not requeued (exit 75)" >&2
        exit 75
    fi
    run_trainer_log "$why: scontrol requeue $SLURM_JOB_ID"
    if scontrol requeue "$SLURM_JOB_ID"; then
        exit 0
    fi
    run_trainer_log "scontrol requeue $SLURM_JOB_ID failed (was the job submitted with --requeue?): exit 75" >&2
    exit 75
}
