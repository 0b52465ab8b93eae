"""One worker of a 2-process MultiWorkerMirroredStrategy run on 127.0.0.1 (used by test_multiworker).

Usage: python -m tests.helpers.multiworker_worker INDEX CLUSTER LOGDIR OUT.npz STEPS [k=v ...]
CLUSTER is ``PORT0,PORT1`` (the helper writes TF_CONFIG), ``slurm:PORT_BASE`` (the process's
Slurm environment describes the cluster: ``--cluster slurm --port-base PORT_BASE``) or ``kubernetes``
(the process's Indexed-Job environment does: ``--cluster kubernetes``).
Trains with ``sagan_tf.trainer.Trainer(strategy="multiworker")`` (what ``sagan-train --strategy
multiworker`` runs) and saves this worker's final G and D weights to OUT.npz, with its step,
replicas, updates and G's dtype policy.
``SAGAN_TEST_POISON=REPLICA:STEP`` makes that replica's noise overflow float16 in that step (both
updates' losses become NaN there, on that worker only). ``SAGAN_TEST_CPU_FLAGS`` (a JSON list, one
list of flags per worker) gives each worker the CPU feature flags ``precision: auto`` looks at.
"""

import json
import os
import sys


def main():
    index, where, logdir, out, steps, *overrides = sys.argv[1:]
    if not where.startswith(("slurm:", "kubernetes")):
        workers = [f"127.0.0.1:{p}" for p in where.split(",")]
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": int(index)}})
    import numpy as np

    from sagan_tf.trainer import Trainer

    cluster = {"slurm": "slurm", "kubernetes": "kubernetes"}.get(where.split(":", 1)[0], "tf_config")
    port_base = int(where.split(":", 1)[1]) if cluster == "slurm" else None
    if os.environ.get("SAGAN_TEST_CPU_FLAGS"):
        from sagan_tf.training import precision

        flags = set(json.loads(os.environ["SAGAN_TEST_CPU_FLAGS"])[int(index)])
        precision.cpu_flags = lambda: flags  # what ``precision: auto`` reads of this host

    if os.environ.get("SAGAN_TEST_POISON"):
        poison_noise(*(int(x) for x in os.environ["SAGAN_TEST_POISON"].split(":")))
    trainer = Trainer("configs/fashion_mnist32.yaml", logdir, overrides=overrides, strategy="multiworker",
                      cluster=cluster, port_base=port_base, verbose=0)
    model = trainer.train(int(steps))
    strategy = trainer.strategy
    weights = {v.path: v.numpy() for v in model.generator.variables + model.discriminator.variables}
    weights["__step__"] = np.array(int(model.step.numpy()))
    weights["__replicas__"] = np.array(strategy.num_replicas_in_sync)
    weights["__g_updates__"] = np.array(int(model.g_optimizer.iterations.numpy()))
    weights["__d_updates__"] = np.array(int(model.d_optimizer.iterations.numpy()))
    weights["__policy__"] = np.array(model.generator.dtype_policy.name)
    np.savez(out, **weights)


def poison_noise(replica: int, step: int) -> None:
    import tensorflow as tf

    from sagan_tf.training.gan import SAGAN

    clean = SAGAN.noise

    def noise(self, batch, phase, at=None):
        z = clean(self, batch, phase, at)
        here = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, replica)
        hit = tf.logical_and(here, tf.equal(tf.cast(at, tf.int64), step))
        return tf.where(hit, z * 1e30, z)

    SAGAN.noise = noise


if __name__ == "__main__":
    main()
