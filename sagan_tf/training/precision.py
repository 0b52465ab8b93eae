"""Mixed precision (``train.precision`` / ``--precision``): dtype policy and loss scaling.

* ``float32``: everything in float32.
* ``mixed_bfloat16``: layers compute in bfloat16 (oneDNN uses the AVX512-BF16 / AMX instructions of
  recent CPUs, TPUs and Ampere+ GPUs run it natively), variables stay float32. bfloat16 has float32's
  exponent range, so gradients do not underflow and no loss scaling is needed.
* ``mixed_float16``: layers compute in float16 (GPUs with tensor cores); both optimizers are wrapped
  in dynamic loss scaling (``loss_scaling.ReplicaSafeLossScaleOptimizer``: the loss is multiplied
  by a scale before differentiation, gradients are divided by it before the update, an update with
  non-finite gradients on any replica is skipped on all of them and the scale halved), which
  ``SAGAN.train_step`` drives through ``optimizer.scale_loss``. A skipped update also leaves the
  network's running state (SN ``u``, BN moving statistics) and G's EMA where they were.

Whatever the policy, the numerically delicate parts stay in float32: spectral norm's power iteration
and ``W / sigma`` (``SpectralNormalization`` reads ``W`` in float32), the attention softmax
(``layers.attention.attend``), batch statistics (Keras ``BatchNormalization`` normalizes float16 and
bfloat16 inputs in float32), the ``tanh`` output of G, D's logits and the hinge losses. G's output
convolution and D's last linear layer and projection still compute in the policy's dtype; their
results are cast to float32 before the ``tanh`` and the losses (so a bfloat16 logit carries
bfloat16's ~3 significant digits: 0.06 at |logit| 20, harmless for the hinge).
The EMA shadow of G is built under the same policy as G.

The policy is applied while the networks are built (``policy_scope``) and stored in every layer, so
it does not leak into other models of the same process.
"""

from __future__ import annotations

import contextlib

from sagan_tf.config import PRECISIONS


@contextlib.contextmanager
def policy_scope(precision: str):
    """Layers created inside this context use the dtype policy ``precision``."""
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def needs_loss_scaling(precision: str) -> bool:
    """float16's 5-bit exponent underflows small gradients; bfloat16 and float32 do not."""
    return precision == "mixed_float16"


def wrap_optimizer(optimizer, precision: str, initial_scale: float = 2.0**15):
    """``optimizer`` (a ``keras.optimizers.Optimizer``) with dynamic loss scaling starting at
    ``initial_scale`` where ``precision`` needs it, else unchanged."""
    if needs_loss_scaling(precision):
        from sagan_tf.training.loss_scaling import ReplicaSafeLossScaleOptimizer

        return ReplicaSafeLossScaleOptimizer(optimizer, initial_scale=initial_scale, name=f"{optimizer.name}_loss_scale")
    return optimizer
