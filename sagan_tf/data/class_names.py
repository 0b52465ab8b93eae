"""The names of a run's classes as its data source knows them, for ``export.json`` and ``sagan-explore``.

``data.class_names`` when the config gives them (``sagan-train`` records a folder's subfolders
there, so the names stay with the run when the folder moves). Otherwise TFDS datasets name their classes in the label feature (Fashion-MNIST: "T-shirt/top", "Trouser",
...; read from the dataset's builder, which needs no prepared data for datasets defined in code); an
image folder names them by its sorted subfolders (``data.image_folder``). Names are a
convenience: when they cannot be found (an unknown dataset, a folder that is not there,
a dataset whose names are just "0", "1", ...) the answer is None and the classes go by number.
"""

from __future__ import annotations

import os
from pathlib import Path

from sagan_tf.config import DataConfig


def class_names(cfg: DataConfig, data_dir: str | None = None) -> list[str] | None:
    """One name per class (``data.num_classes`` of them), or None when the source has none to give."""
    if cfg.num_classes <= 0:
        return None
    if cfg.class_names is not None:
        return list(cfg.class_names)
    try:
        names = _tfds_names(cfg, data_dir) if cfg.source == "tfds" else _folder_names(cfg)
    except Exception:  # any failure of the lookup only costs the names
        return None
    names = [str(name) for name in names or []]
    if len(names) != cfg.num_classes or names == [str(i) for i in range(cfg.num_classes)]:
        return None
    return names


def _tfds_names(cfg: DataConfig, data_dir: str | None) -> list[str] | None:
    import tensorflow_datasets as tfds

    builder = tfds.builder(cfg.name, data_dir=data_dir or os.environ.get("TFDS_DATA_DIR"))
    return getattr(builder.info.features[cfg.label_key], "names", None)


def _folder_names(cfg: DataConfig) -> list[str] | None:
    from sagan_tf.data.image_folder import class_directories

    root = Path(cfg.path) if cfg.path else None
    return [p.name for p in class_directories(root)] if root is not None and root.is_dir() else None
