"""The export a trainer writes when its run is done (Vertex AI's ``AIP_MODEL_DIR``), once per checkpoint.

``export_once`` exports the run's latest checkpoint into ``<out>/<next version>/`` as
``sagan-export --formats saved_model`` does (``sagan_tf.serving.export``: checked against Keras
before it appears; the SavedModel is what Vertex AI and TF Serving serve, ``sagan-export`` adds TFLite
files from the run at any time), unless a version in ``out`` was already exported from that
checkpoint: a job that is run again after it finished, or that was stopped during the export, leaves
one version per checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sagan_tf.serving.export import MANIFEST, export_run, summary
from sagan_tf.serving.sources import existing_versions

FORMATS = ("saved_model",)


def exported_from(out: Path, checkpoint: str) -> Path | None:
    """The version directory in ``out`` exported from ``checkpoint``, if any."""
    wanted = Path(checkpoint).resolve()
    for version in existing_versions(out):
        try:
            manifest = json.loads((out / str(version) / MANIFEST).read_text())
            source = Path(manifest["source"]["checkpoint"]).resolve()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if source == wanted:
            return out / str(version)
    return None


def export_once(logdir: Path, out: Path) -> Path:
    """Exports the latest checkpoint of the run in ``logdir`` to ``out`` unless it is there already;
    says which in one line and returns the version directory."""
    from sagan_tf.runs.run_dir import latest_checkpoint

    checkpoint = latest_checkpoint(logdir)
    done = exported_from(out, checkpoint)
    if done is not None:
        print(f"export: {done} already holds {checkpoint}", file=sys.stderr)
        return done
    target, manifest = export_run(logdir, out, formats=FORMATS)
    print(summary(target, manifest), file=sys.stderr)
    return target
