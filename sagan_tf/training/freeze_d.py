"""FreezeD (Mo, Cho, Shin 2020, arXiv:2002.10964): fine-tuning with D's first blocks fixed.

``train.freeze_d: N`` keeps D's first N residual blocks, and the self-attention layers placed
after them (before block N+1), as they were: their weights get no update and their spectral-norm
``u`` does not move. The upper blocks, the final linear layer and the projection embedding train.
"""

from __future__ import annotations

import keras

from sagan_tf.errors import ConfigError


def frozen_variables(discriminator: keras.Model, n: int) -> list:
    """The variables of D's first ``n`` blocks and the attention layers after them, in D's order."""
    if n <= 0:
        return []
    components: list[str] = []
    for v in discriminator.variables:
        name = v.path.split("/")[1] if "/" in v.path else v.path
        if name not in components:
            components.append(name)
    blocks = [c for c in components if c.startswith("block")]
    if n > len(blocks):
        raise ConfigError(f"config key 'train.freeze_d' is {n}, but D has {len(blocks)} blocks")
    frozen, seen = set(), 0
    for name in components:
        if name.startswith("block"):
            if seen == n:
                break
            seen += 1
            frozen.add(name)
        elif name.startswith("attention") and seen:
            frozen.add(name)
    return [v for v in discriminator.variables if v.path.split("/")[1] in frozen]
