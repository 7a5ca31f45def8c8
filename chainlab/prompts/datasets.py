"""Locate and read the shared benchmark data (GSM8K, SVAMP) without copying it into the repo.

The data folder is ``$CHAINLAB_DATA`` when set, else ``../shared/data`` relative to the repository
root (``/work/shared/data`` in the dev workspace and CI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["data_dir", "data_path", "read_jsonl"]

_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The benchmark data folder (``$CHAINLAB_DATA`` or ``<repo>/../shared/data``)."""
    env = os.environ.get("CHAINLAB_DATA")
    if env:
        return Path(env)
    return (_REPO_ROOT / ".." / "shared" / "data").resolve()


def data_path(*parts: str) -> Path:
    """Path of a file in the data folder, e.g. ``data_path("gsm8k", "train.jsonl")``.

    Raises:
        FileNotFoundError: naming the path and how to point chainlab at the data.
    """
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: set CHAINLAB_DATA to the folder holding {'/'.join(parts)}."
        )
    return path


def read_jsonl(path: str | os.PathLike[str], limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSON-lines file (blank lines skipped), at most ``limit``."""
    with open(path, encoding="utf-8") as f:
        n = 0
        for lineno, line in enumerate(f, 1):
            if limit is not None and n >= limit:
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            n += 1
            yield row
