#!/bin/bash
# Train a SAGAN on a Cloud TPU VM of one host (v2-8, v3-8, v4-8, v5litepod-8, ...): sagan-train runs on
# the VM with --strategy tpu --tpu local, one replica per TPU core TensorFlow lists there (8 on a v3-8,
# 4 on a v4-8), and the global batch is split over them. Run from your machine, with gcloud set to the
# TPU's project:
#
#   TPU=my-tpu ZONE=us-central2-b deploy/tpu/train.sh            # start; to resume, run it again
#   TPU=my-tpu ZONE=us-central2-b CONFIG=celeba64 RUN=/mnt/runs/celeba deploy/tpu/train.sh
#
# The VM needs TensorFlow with TPU support and sagan_tf installed; ACTIVATE is the shell line that
# brings them into PATH there (default: the virtual environment ~/sagan-venv). RUN and DATA_DIR are
# paths on the VM: its own disk, or a Cloud Storage bucket mounted with gcsfuse (a run on the boot disk
# is lost with the VM). The trainer runs in the foreground of this ssh session (start the script in
# tmux or screen to let it outlive your terminal). SIGTERM or SIGINT to the trainer on the VM stops it
# after the step in flight with a checkpoint of that step:
#   gcloud compute tpus tpu-vm ssh "$TPU" --zone="$ZONE" --worker=all --command="pkill -TERM -x sagan-train"
# A session that breaks, or a VM that goes away without signalling, loses the steps since the last
# periodic checkpoint (log.checkpoint_every). Running the script again resumes from the checkpoint.
set -euo pipefail

TPU=${TPU:?set TPU to the name of the TPU VM}
ZONE=${ZONE:?set ZONE to the zone of the TPU VM}
CONFIG=${CONFIG:-imagenet128}
RUN=${RUN:-runs/$CONFIG}                       # on the VM, relative to the home directory
DATA_DIR=${DATA_DIR:-tensorflow_datasets}      # on the VM, relative to the home directory
ACTIVATE=${ACTIVATE:-source ~/sagan-venv/bin/activate}

# --worker=all: the command runs on every host of the slice (one for these TPU types).
remote="$ACTIVATE && exec sagan-train --strategy tpu --tpu local --config $(printf '%q' "$CONFIG")"
remote+=" --logdir $(printf '%q' "$RUN") --data-dir $(printf '%q' "$DATA_DIR")"
exec gcloud compute tpus tpu-vm ssh "$TPU" --zone="$ZONE" --worker=all --command="$remote"
