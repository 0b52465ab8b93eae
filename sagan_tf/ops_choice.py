"""``model.ops``: which implementation of each computation in ``sagan_tf.ops`` the networks run.

Every op there has a ``reference`` implementation, the paper's and the official code's sequence of
operations, and a ``fast`` one that computes the same function with fewer operations or fewer
passes over memory (tested equal, forward and gradient). The setting names the ops that run in
their fast form:

* ``reference``: none of them; ``fast``: all of them;
* a comma-separated list of op names (``upsample_conv,conv_avgpool``): those, the others reference;
* ``auto`` (the config default): ``fast`` where the fast forms were measured faster (CPUs:
  ``docs/performance.md``), ``reference`` on GPUs and TPUs, where nothing has measured them yet.
  ``sagan-train --compare-ops`` times both on the user's hardware and says which to set.

The ops (``sagan_tf.ops.<name>``):

* ``upsample_conv``: G's 3x3 convolution of the 2x nearest-neighbour upsampled features, as one
  stride-2 transposed convolution of the features.
* ``conv_avgpool``: D's 3x3 convolution followed by 2x2 average pooling, as one stride-2 convolution.
* ``batch_norm``: the training-mode normalization of conditional batch norm with the local batch's
  statistics, as one fused kernel.
* ``scale_shift_relu``, ``add_upsampled``, ``bias_add``: conditional batch norm's per-class affine
  with the ReLU after it, G's residual sum with its upsampled shortcut, and every bias addition, each
  as fused kernels whose gain is in the backward pass. They run in training calls only
  (``TRAINING_ONLY``): inference, and so every export, runs their reference form.

Plain Python (no TensorFlow): a config is validated without building anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OPS = ("upsample_conv", "conv_avgpool", "batch_norm", "scale_shift_relu", "add_upsampled", "bias_add")
TRAINING_ONLY = frozenset({"scale_shift_relu", "add_upsampled", "bias_add"})
REFERENCE, FAST, AUTO = "reference", "fast", "auto"
IMPLS = (REFERENCE, FAST)


@dataclass(frozen=True)
class OpChoice:
    """The ops that run in their fast form; every other op runs its reference form."""

    fast: frozenset[str] = frozenset()

    def __post_init__(self):
        unknown = sorted(set(self.fast) - set(OPS))
        if unknown:
            raise ValueError(f"unknown op(s) {', '.join(unknown)} (known: {', '.join(OPS)})")
        object.__setattr__(self, "fast", frozenset(self.fast))

    def impl(self, op: str, training: bool = True) -> str:
        """``"fast"`` or ``"reference"``: the implementation of ``op`` for a call with ``training``."""
        if op not in OPS:
            raise ValueError(f"unknown op {op!r} (known: {', '.join(OPS)})")
        if op not in self.fast or (op in TRAINING_ONLY and not training):
            return REFERENCE
        return FAST

    def __str__(self) -> str:
        if not self.fast:
            return REFERENCE
        if self.fast == frozenset(OPS):
            return FAST
        return ",".join(op for op in OPS if op in self.fast)


def parse(value: str | OpChoice | Iterable[str]) -> OpChoice:
    """``"reference"``, ``"fast"``, ``"op,op"``, an iterable of op names or an ``OpChoice`` -> ``OpChoice``
    (``"auto"`` is not a choice yet: ``resolve`` it first)."""
    if isinstance(value, OpChoice):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == AUTO:
            raise ValueError("ops 'auto' must be resolved for the hardware first (ops_choice.resolve)")
        if text == REFERENCE:
            return OpChoice()
        if text == FAST:
            return OpChoice(frozenset(OPS))
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise ValueError("ops must be auto, reference, fast or a comma-separated list of op names")
        return OpChoice(frozenset(names))
    return OpChoice(frozenset(value))


def check(value: str) -> None:
    """Raises ``ValueError`` with one line when ``value`` is not a valid ``model.ops`` setting."""
    if value != AUTO:
        try:
            parse(value)
        except ValueError as e:
            raise ValueError(f"{e}; model.ops is auto, reference, fast or a comma-separated list of {', '.join(OPS)}") from None


def choose(tpu: bool, gpus: bool) -> tuple[str, str]:
    """``(choice, reason)`` of ``auto`` for the devices that compute: ``fast`` on CPUs, where its forms
    were measured faster, ``reference`` on GPUs and TPUs, where they have not been measured."""
    if tpu:
        return REFERENCE, "TPU: the fast forms have not been measured there (sagan-train --compare-ops times both)"
    if gpus:
        return REFERENCE, "GPU: the fast forms have not been measured there (sagan-train --compare-ops times both)"
    return FAST, "CPU: the fast forms were measured faster there"


def resolve(value: str, tpu: bool = False, gpus: bool = False) -> tuple[OpChoice, str | None]:
    """``(choice, reason)``: ``value`` itself (reason None), or ``auto`` decided by ``choose``."""
    if value == AUTO:
        chosen, reason = choose(tpu, gpus)
        return parse(chosen), reason
    return parse(value), None
