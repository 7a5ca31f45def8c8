"""Where benchmark data lives — the one place chainlab decides it.

Candidates, in order: ``$CHAINLAB_DATA`` (when set), then ``../shared/data`` beside the repository
(:data:`SHARED_DATA`). A file is taken from the first candidate that holds it, so a
``CHAINLAB_DATA`` holding only some of the benchmarks still finds the others beside the repo.
Data files are read in place; chainlab never copies them into the repository.

* :func:`data_dirs` — the candidate directories, in order;
* :func:`find_data_file` — a data file's path, or None when no candidate holds it;
* :func:`data_path` — the same, raising FileNotFoundError (naming the places looked at);
* :func:`data_dir` — the directory to read from (the first candidate that exists).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SHARED_DATA", "data_dirs", "data_dir", "find_data_file", "data_path"]

_REPO = Path(__file__).resolve().parents[2]

#: ``../shared/data`` beside the repository (the fallback after ``$CHAINLAB_DATA``)
SHARED_DATA = (_REPO / ".." / "shared" / "data").resolve()


def data_dirs(override: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for data: ``[override]`` when given, else ``$CHAINLAB_DATA`` (if set)
    then :data:`SHARED_DATA`."""
    if override is not None:
        return [Path(override).expanduser()]
    out: list[Path] = []
    env = os.environ.get("CHAINLAB_DATA")
    if env:
        out.append(Path(env).expanduser())
    if SHARED_DATA not in out:
        out.append(SHARED_DATA)
    return out


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else the first of :func:`data_dirs` that exists (the
    first candidate when none does)."""
    dirs = data_dirs(override)
    return next((d for d in dirs if d.is_dir()), dirs[0])


def find_data_file(*parts: str, data_root: str | os.PathLike[str] | None = None) -> Path | None:
    """``<dir>/<parts...>`` for the first of :func:`data_dirs` holding it, else None."""
    for d in data_dirs(data_root):
        path = d.joinpath(*parts)
        if path.exists():
            return path
    return None


def data_path(*parts: str, data_root: str | os.PathLike[str] | None = None) -> Path:
    """Path of a data file, e.g. ``data_path("gsm8k", "train.jsonl")``.

    Raises:
        FileNotFoundError: no candidate holds it (the message names where it looked).
    """
    path = find_data_file(*parts, data_root=data_root)
    if path is None:
        looked = ", ".join(str(d.joinpath(*parts)) for d in data_dirs(data_root))
        raise FileNotFoundError(
            f"Data file {'/'.join(parts)} not found (looked at: {looked}). Set CHAINLAB_DATA to "
            f"the data directory (holding game24/, gsm8k/, svamp/) or pass data_root=/path/to/data."
        )
    return path
