"""In-run cache of identical LLM calls, and the model fingerprint that keys every chainlab cache.

A strategy comparison sends the same prompt with the same settings many times (Tree-of-Thoughts
values, a strategy re-run on the same problems, a CoT base shared by two strategies).
``llm.with_cache()`` (:meth:`chainlab.llms.LocalLLM.with_cache`) returns the same LLM with a
:class:`CallCache`: a repeated identical call is answered from memory, without running the model.

What is identical:

* **greedy** calls: per prompt — (model fingerprint, prompt, stop, generation options). Greedy
  output does not depend on the seed, temperature, top-p/top-k or on the other prompts of a
  batch, so those are not part of the key, and a prompt is served from the cache whatever batch
  it comes in;
* **seeded sampling**: per call — the whole prompt list, options and seed. A seeded batch is
  reproducible only as a whole (the prompts of a batch share one random stream), so only a
  repetition of the same call is served;
* **sampling without a seed** is never cached: each such call must draw new samples.

:func:`model_fingerprint` identifies a model by its config, tokenizer and a sample of every weight
tensor, so caches (this one and :class:`~chainlab.llms.sqlite_cache.SQLiteCache`) never serve one
model's outputs to another.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CallCache", "CacheStats", "cache_key", "model_fingerprint"]

#: a cached call: per prompt, per sequence, (text, generation_info)
CachedGenerations = list[list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class CacheStats:
    """Counts of a :class:`CallCache`: prompts served from memory (hits) or computed (misses)."""

    hits: int
    misses: int
    entries: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before any lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def cache_key(payload: Any) -> str | None:
    """A SHA-256 key of a JSON-able ``payload``; None when it holds non-JSON values."""
    try:
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CallCache:
    """A thread-safe in-memory map from call keys to generations, with hit/miss counts.

    Args:
        max_entries: keep at most this many entries, evicting the least recently used
            (None: unbounded; a run's calls are bounded by the run).

    Example:
        >>> llm = load_llm("chainlab-tiny").with_cache()          # doctest: +SKIP
        >>> llm.invoke("2 + 2 ="); llm.invoke("2 + 2 =")          # doctest: +SKIP
        >>> llm.call_cache.stats()                                 # doctest: +SKIP
        CacheStats(hits=1, misses=1, entries=1)
    """

    def __init__(self, max_entries: int | None = None) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be >= 1 or None; got {max_entries!r}.")
        self.max_entries = max_entries
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"CallCache(entries={len(self)}, hits={self.hits}, misses={self.misses})"

    def __len__(self) -> int:
        return len(self._data)

    def __deepcopy__(self, memo: dict) -> CallCache:
        return self  # copies of an LLM share its cache

    def get(self, key: str, count: int = 1) -> Any | None:
        """The value stored under ``key`` (None if absent); counts ``count`` hits or misses."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += count
                return None
            self._data.move_to_end(key)
            self.hits += count
            return value

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (evicting the oldest entry beyond ``max_entries``)."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if self.max_entries is not None:
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)

    def stats(self) -> CacheStats:
        """Hits, misses (counted per prompt) and the number of stored entries."""
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._data))

    def clear(self) -> None:
        """Drop every entry and reset the counts."""
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


def _config_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        d = config.to_dict()
    except Exception:
        return {"repr": repr(config)}
    for key in ("_name_or_path", "transformers_version", "_commit_hash", "dtype", "torch_dtype"):
        d.pop(key, None)
    return d


def _tokenizer_digest(tokenizer: Any, h: Any) -> None:
    if tokenizer is None:
        return
    try:
        vocab = sorted(tokenizer.get_vocab().items())
    except Exception:
        vocab = []
    h.update(json.dumps(vocab, ensure_ascii=False).encode("utf-8"))
    for attr in ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template"):
        h.update(repr(getattr(tokenizer, attr, None)).encode("utf-8"))
    h.update(repr(getattr(tokenizer, "add_bos_token", None)).encode("utf-8"))


def model_fingerprint(model: Any, tokenizer: Any = None, sample: int = 2048) -> str:
    """A short hex digest identifying a model's behaviour: config, tokenizer and weights.

    Every parameter and buffer contributes its name, shape, dtype and ``sample`` evenly spaced
    values, so a fine-tuned, re-quantized or LoRA-adapted model (merged or not) differs from its
    base, while the same weights loaded twice, or from another directory, match. Cost: a few
    thousand values per tensor (milliseconds for a 7B model).

    Args:
        model: a ``transformers`` or PEFT model (anything with ``named_parameters``).
        tokenizer: its tokenizer (the vocabulary and special tokens are part of the behaviour).
        sample: values read per tensor.
    """
    import torch

    h = hashlib.sha256()
    h.update(type(model).__name__.encode("utf-8"))
    config = getattr(model, "config", None)
    h.update(json.dumps(_config_dict(config), sort_keys=True, default=repr).encode("utf-8"))
    _tokenizer_digest(tokenizer, h)
    tensors: Sequence[tuple[str, Any]] = []
    try:
        tensors = list(model.named_parameters()) + list(model.named_buffers())
    except Exception:
        pass
    for name, t in tensors:
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        try:
            flat = t.detach().reshape(-1)
            if flat.numel() > sample:
                idx = torch.linspace(0, flat.numel() - 1, sample, device=flat.device).long()
                flat = flat[idx]
            values = flat.to("cpu", copy=True)
            if values.dtype == torch.bfloat16:
                values = values.float()
            h.update(values.numpy().tobytes())
        except Exception:  # meta/offloaded tensors: shape and dtype only
            continue
    return h.hexdigest()[:24]
