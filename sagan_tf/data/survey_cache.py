"""What decoding a folder's files found, kept on disk so that a start does not decode them again.

One JSON file per folder, named by a hash of the folder's resolved path, in
``$SAGAN_TF_CACHE/folder_surveys``, else ``$XDG_CACHE_HOME/sagan_tf/folder_surveys``, else
``~/.cache/sagan_tf/folder_surveys`` (``cache_dir``). It maps each file's path relative to the
folder to its size, modification time (ns) and what probing it found (its kind, decoded size and
Pillow mode: ``image_folder.probe``). An entry is used only while the file's (size, mtime_ns)
are unchanged, so a changed or new file is decoded again and a deleted one is forgotten. The
file is written atomically (``files.write_text``): readers, other workers included, see a
complete survey or none. Deleting the directory only costs the next start its decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from sagan_tf import files

VERSION = 1  # of the file's layout and of what a probe records


def cache_dir() -> Path:
    """Where folder surveys are kept (see the module docstring)."""
    if os.environ.get("SAGAN_TF_CACHE"):
        return Path(os.environ["SAGAN_TF_CACHE"]) / "folder_surveys"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sagan_tf" / "folder_surveys"


def cache_path(root: Path) -> Path:
    """The survey file of the folder ``root``."""
    resolved = str(Path(root).resolve())
    return cache_dir() / f"{hashlib.sha256(resolved.encode()).hexdigest()[:24]}.json"


def load(root: Path) -> dict[str, list]:
    """``rel -> [size, mtime_ns, probe...]`` from the folder's survey file ({} when there is none,
    it is unreadable, of another layout or of another folder)."""
    path = cache_path(root)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("folder") != str(Path(root).resolve()):
        return {}
    entries = data.get("files")
    return entries if isinstance(entries, dict) else {}


def save(root: Path, entries: dict[str, list]) -> Path | None:
    """Writes the survey file (atomically) and says so in one line; a cache that cannot be written
    costs only the next start's decoding (a warning line, no error). Returns the path written."""
    path = cache_path(root)
    data = {"version": VERSION, "folder": str(Path(root).resolve()), "files": entries}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, json.dumps(data, separators=(",", ":")))
    except OSError as e:
        print(f"warning: cannot write the folder survey cache {path}: {e.strerror or e}", file=sys.stderr)
        return None
    print(f"folder survey of {len(entries)} files saved in {path} (reused while the files are unchanged)",
          file=sys.stderr)
    return path
