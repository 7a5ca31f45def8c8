"""Where benchmark data lives: ``$CHAINLAB_DATA``, else ``../shared/data`` next to the repository.

Data files are read in place; chainlab never copies them into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "data_path"]

_REPO = Path(__file__).resolve().parents[2]


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$CHAINLAB_DATA``, else ``<repo>/../shared/data``."""
    if override is not None:
        return Path(override)
    env = os.environ.get("CHAINLAB_DATA")
    if env:
        return Path(env)
    return (_REPO / ".." / "shared" / "data").resolve()


def data_path(*parts: str, data_root: str | os.PathLike[str] | None = None) -> Path:
    """Path of a data file; FileNotFoundError naming the places looked at when it is missing."""
    path = data_dir(data_root).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"Data file {path} not found. Set CHAINLAB_DATA to the data directory "
            f"(holding game24/, gsm8k/, svamp/) or pass data_root=/path/to/data."
        )
    return path
