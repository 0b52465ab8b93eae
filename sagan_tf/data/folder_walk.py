"""Which files of a folder of images belong to which class: torchvision's ``ImageFolder`` walk.

As ``torchvision.datasets.folder`` (``find_classes``, ``make_dataset``): the classes are the folder's
top-level subfolders in sorted order (labels 0..K-1), and every file at any depth below a class
folder belongs to that class. Hidden entries (a name starting with ``.``, and ``__MACOSX``) are
skipped at every level, so ``.DS_Store``, ``.ipynb_checkpoints`` and macOS archive folders never
become classes or images. Symbolic links are followed; a directory reached twice (by its device
and inode: a link loop, or two links to one folder) is walked once. When the folder has no class
subfolder its own files (not below it) are the images of unconditional training.

Plain Python (``os.scandir``): the walk reads names, sizes and modification times, never contents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """A file found by the walk: its path relative to the folder, size and modification time."""

    rel: str
    size: int
    mtime_ns: int


def hidden(name: str) -> bool:
    """Whether the walk skips an entry of this name (dot files and folders, macOS archive folders)."""
    return name.startswith(".") or name == "__MACOSX"


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def class_directories(root: Path) -> list[Path]:
    """The class subfolders of ``root`` in label order (sorted by name), hidden ones skipped."""
    with os.scandir(root) as entries:
        return sorted((Path(e.path) for e in entries if not hidden(e.name) and _is_dir(e)), key=lambda p: p.name)


def _files_of(directory: Path, root: Path) -> list[Entry]:
    """The files directly in ``directory`` (not hidden), relative to ``root``."""
    found = []
    with os.scandir(directory) as entries:
        for e in entries:
            if hidden(e.name) or _is_dir(e):
                continue
            try:
                st = e.stat()  # follows links; a dangling link is skipped
            except OSError:
                continue
            found.append(Entry(os.path.relpath(e.path, root), st.st_size, st.st_mtime_ns))
    return found


def walk_class(directory: Path, root: Path, seen: set[tuple[int, int]]) -> list[Entry]:
    """Every file at any depth below ``directory`` (links followed, each directory once by its
    (device, inode), tracked in ``seen``), sorted by relative path."""
    found: list[Entry] = []
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        found += _files_of(current, root)
        with os.scandir(current) as entries:
            stack += [Path(e.path) for e in entries if not hidden(e.name) and _is_dir(e)]
    return sorted(found, key=lambda entry: entry.rel)


@dataclass
class Walk:
    """A folder's classes (None: no class subfolder, unconditional) and files per class, in label
    order; ``root_files``: the files directly in the folder beside its class subfolders."""

    root: Path
    class_dirs: list[Path]
    files: list[list[Entry]]
    root_files: list[Entry]

    def entries(self) -> list[Entry]:
        """Every file the walk found, the root's beside class folders included."""
        return [entry for per_class in self.files for entry in per_class] + self.root_files


def walk(root: Path) -> Walk:
    """The folder's files by class (``root`` must be a directory)."""
    class_dirs = class_directories(root)
    top = sorted(_files_of(root, root), key=lambda entry: entry.rel)
    if not class_dirs:
        return Walk(root, [], [top], [])
    seen = {(os.stat(root).st_dev, os.stat(root).st_ino)}
    return Walk(root, class_dirs, [walk_class(d, root, seen) for d in class_dirs], top)
