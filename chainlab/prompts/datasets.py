"""Read the shared benchmark data (GSM8K, SVAMP) without copying it into the repo.

Where the data lives is decided in one place, :mod:`chainlab.tasks.data`: ``$CHAINLAB_DATA`` when
set, else ``../shared/data`` next to the repository. ``data_dir`` and ``data_path`` are re-exported
from there so ``chainlab.prompts`` users keep their imports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from chainlab.tasks.data import data_dir, data_path

__all__ = ["data_dir", "data_path", "read_jsonl"]


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
