"""A cheap identity of a model's (or adapter's) weights, so that a stored run notices when they change.

A packaged name such as ``chainlab-tiny`` or a directory path stays the same when the weights behind
it are retrained; ``chainlab compare --resume`` compares this fingerprint so that it never mixes the
results of two different models in one run. It hashes each weight and config file's name, size and
three 1 MiB samples (start, middle, end) — cheap on a 13B checkpoint, and any retraining changes them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["directory_fingerprint", "weights_fingerprint"]

#: files that define what a model computes (weights, architecture, quantization, adapter)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
CONFIG_FILES = ("config.json", "adapter_config.json", "quantize_config.json", "tokenizer.json")
SAMPLE_BYTES = 1 << 20


def _file_digest(path: Path, h: Any) -> None:
    size = path.stat().st_size
    h.update(f"{path.name}\0{size}\0".encode())
    with path.open("rb") as fh:
        if size <= 3 * SAMPLE_BYTES:
            h.update(fh.read())
            return
        for offset in (0, size // 2, size - SAMPLE_BYTES):
            fh.seek(offset)
            h.update(fh.read(SAMPLE_BYTES))


def directory_fingerprint(directory: str | os.PathLike[str]) -> str | None:
    """A 16-hex-digit fingerprint of the weight and config files in ``directory`` (not recursive).

    Returns None when the directory holds none of them.
    """
    d = Path(directory)
    files = sorted(
        p for p in d.iterdir()
        if p.is_file() and (p.name in CONFIG_FILES or p.name.endswith(WEIGHT_SUFFIXES))
    )  # fmt: skip
    if not files:
        return None
    h = hashlib.sha256()
    for p in files:
        _file_digest(p, h)
    return h.hexdigest()[:16]


def weights_fingerprint(name: str | os.PathLike[str] | None, kind: str = "model") -> str | None:
    """The fingerprint of a packaged name, local directory or Hub id in the local cache.

    ``kind`` is ``"model"`` or ``"adapter"``. Returns None when ``name`` is None or its files are
    not on this machine (a Hub id not downloaded yet): loading it reports that problem, not this.
    """
    if name is None:
        return None
    from chainlab.llms.errors import ModelNotFoundError
    from chainlab.llms.sources import resolve

    try:
        src = resolve(name, kind)
    except (ModelNotFoundError, FileNotFoundError):
        return None
    if src.path is not None:
        return directory_fingerprint(src.path)
    try:
        from huggingface_hub import try_to_load_from_cache

        config = "adapter_config.json" if kind == "adapter" else "config.json"
        cached = try_to_load_from_cache(src.ref, config)
    except Exception:  # a malformed id: loading the model reports it
        return None
    return directory_fingerprint(Path(cached).parent) if isinstance(cached, str) else None
