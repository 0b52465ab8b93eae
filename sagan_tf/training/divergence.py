"""When a training step has diverged: the test behind the loop's guard and the final checkpoint.

A NaN or Inf loss means divergence, unless dynamic loss scaling (``mixed_float16``) skipped that
network's update on every replica, which changed nothing. A loss scale that has fallen below
``MIN_LOSS_SCALE`` is divergence too: the float16 gradients overflow even unscaled, so every later
update would be skipped as well.
"""

from __future__ import annotations

import math

WATCHED = {"d_loss": "d_skipped", "g_loss": "g_skipped"}  # loss -> its update's skip flag in the logs
MIN_LOSS_SCALE = 1.0


def divergence(logs: dict[str, float]) -> str | None:
    """Why the state after a step with these logs must not be trained on or saved, else None."""
    bad = [k for k, skipped in WATCHED.items() if k in logs and not math.isfinite(logs[k]) and not logs.get(skipped)]
    if bad:
        return ", ".join(f"{k}={logs[k]}" for k in bad)
    low = [k for k in ("loss_scale_d", "loss_scale_g") if k in logs and logs[k] < MIN_LOSS_SCALE]
    if low:
        return f"{', '.join(f'{k}={logs[k]:g}' for k in low)}: float16 gradients overflow even without scaling"
    return None
