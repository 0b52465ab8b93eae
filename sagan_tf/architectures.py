"""The two network families as tables: which resolutions exist and where attention can go.

Plain Python (no TensorFlow), so that a config can be validated without building a model; the
Keras models (``sagan_tf.models``) are built from the same tables.

* ``resnet`` (``models.resnet``): channel multipliers of ``ch`` per residual block, keyed by output
  resolution (32: PyTorch-StudioGAN's CIFAR-10 SAGAN; 64: StudioGAN's resnet 64x64 table, whose D
  is also BigGAN's; 128: the official SAGAN ImageNet model). G starts at 4x4 and doubles per block;
  D blocks are (multiplier, downsample).
* ``dcgan`` (``models.dcgan``): G starts at 7x7 (28 px) or 4x4 and doubles per block, halving the
  channels down to ``ch``; D mirrors it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ARCHS = ("resnet", "dcgan")


@dataclass(frozen=True)
class ResnetTable:
    """Channel multipliers per block; D blocks are (multiplier, downsample)."""

    g_init: int
    g_blocks: tuple[int, ...]
    d_blocks: tuple[tuple[int, bool], ...]


RESNET_TABLES: dict[int, ResnetTable] = {
    32: ResnetTable(g_init=4, g_blocks=(4, 4, 4), d_blocks=((2, True), (2, True), (2, False), (2, False))),
    64: ResnetTable(g_init=16, g_blocks=(8, 4, 2, 1), d_blocks=((1, True), (2, True), (4, True), (8, True), (16, False))),
    128: ResnetTable(
        g_init=16,
        g_blocks=(16, 8, 4, 2, 1),
        d_blocks=((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
    ),
}

DCGAN_START_SIZE: dict[int, int] = {28: 7, 32: 4, 64: 4}  # output resolution -> G's first feature map

RESOLUTIONS: dict[str, tuple[int, ...]] = {"resnet": tuple(sorted(RESNET_TABLES)), "dcgan": tuple(sorted(DCGAN_START_SIZE))}


def check_resolution(arch: str, resolution: int) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if resolution not in RESOLUTIONS[arch]:
        raise ValueError(f"{arch} resolution must be one of {list(RESOLUTIONS[arch])}, got {resolution}")


def resnet_table(resolution: int) -> ResnetTable:
    check_resolution("resnet", resolution)
    return RESNET_TABLES[resolution]


def generator_resolutions(arch: str, resolution: int) -> list[int]:
    """Output resolution of each G block, in order (dcgan: the start block first; its output
    layer doubles the last)."""
    check_resolution(arch, resolution)
    if arch == "resnet":
        return [4 * 2 ** (i + 1) for i in range(len(RESNET_TABLES[resolution].g_blocks))]
    size, out = DCGAN_START_SIZE[resolution], []
    while size < resolution:
        out.append(size)
        size *= 2
    return out


def discriminator_resolutions(arch: str, resolution: int) -> list[int]:
    """Output resolution of each D block, in order."""
    check_resolution(arch, resolution)
    if arch == "dcgan":
        return list(reversed(generator_resolutions(arch, resolution)))
    res, out = resolution, []
    for _, down in RESNET_TABLES[resolution].d_blocks:
        res = res // 2 if down else res
        out.append(res)
    return out


def check_attention(attention: Sequence[int], available: Sequence[int], variant: str, net: str) -> tuple[int, ...]:
    """The requested attention resolutions, checked against the blocks' output sizes; the ``pooled``
    variant max-pools keys 2x2 and needs even sizes."""
    attention = tuple(int(r) for r in attention)
    for r in attention:
        if r not in available:
            raise ValueError(f"{net} attention at {r}x{r}: no {net} block outputs that size (have {sorted(set(available))})")
        if variant == "pooled" and r % 2:
            raise ValueError(f"{net} attention at {r}x{r}: pooled attention max-pools 2x2 and needs an even size (the 'paper' variant does not)")
    return attention
