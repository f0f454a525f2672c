#!/usr/bin/env bash
# A Slurm job array of seqtune workers on one study kept on a PostgreSQL server.
# The study was launched once, anywhere:  seqtune launch SPEC --storage "$SEQTUNE_STORAGE"
# Submit:  SEQTUNE_STORAGE='postgresql+psycopg://USER:PASSWORD@HOST:5432/DB' sbatch slurm_workers.sh
# (sbatch passes the environment on; the password stays out of the job script and `ps`).
#SBATCH --job-name=seqtune-workers
#SBATCH --array=0-7                # eight workers; the study's budget is shared, not multiplied
#SBATCH --cpus-per-task=1          # each worker trains on one TensorFlow thread
#SBATCH --mem=2G
#SBATCH --time=04:00:00
#SBATCH --requeue                  # a preempted worker's trial is failed by heartbeat and run again
set -euo pipefail
: "${SEQTUNE_STORAGE:?set SEQTUNE_STORAGE to the study's database URL}"
STUDY="${STUDY:-airline-lstm}"
DATA="${DATA:-$HOME/data/airline.csv}"          # a copy of the launch's CSV (checked by sha256)
ARTIFACTS="${ARTIFACTS:-$HOME/seqtune-artifacts}" # on a shared file system: export finds every checkpoint
source "${VENV:-$HOME/seqtune/.venv}/bin/activate"
exec seqtune worker --study "$STUDY" --data "$DATA" --artifacts "$ARTIFACTS" --wait 300
