"""chainlab.llms: local Hugging Face models as LangChain LLMs.

* :func:`load_llm` -- hub id / local dir / packaged name (+ LoRA adapter, GPTQ) -> :class:`LocalLLM`;
* :class:`LocalLLM` -- batched ``generate`` with ``n`` samples, ``stop``, ``seed`` and token usage,
  memory-bounded sub-batches and shared-prefix KV reuse (:mod:`chainlab.llms.prefix_cache`);
* :class:`CallCache` (``llm.with_cache()``) -- identical calls of a run served from memory;
  :class:`SQLiteCache` -- a persistent LangChain cache (JSON, keyed by :func:`model_fingerprint`);
* :mod:`chainlab.llms.usage` -- :class:`Usage`, :class:`UsageCallback`, :func:`track_usage`.

Exports are imported lazily so ``import chainlab.llms`` (e.g. by the CLI) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainlab.llms.call_cache import CacheStats, CallCache, model_fingerprint
    from chainlab.llms.errors import (
        AdapterMismatchError,
        MissingDependencyError,
        ModelNotFoundError,
        PromptTooLongError,
    )
    from chainlab.llms.loading import load_llm
    from chainlab.llms.local_llm import LocalLLM
    from chainlab.llms.options import BatchLimits
    from chainlab.llms.prefix_cache import PrefixReuseUnsupported, decode_rows
    from chainlab.llms.sqlite_cache import SQLiteCache
    from chainlab.llms.usage import Usage, UsageCallback, track_usage

_EXPORTS = {
    "load_llm": "chainlab.llms.loading",
    "LocalLLM": "chainlab.llms.local_llm",
    "BatchLimits": "chainlab.llms.options",
    "CallCache": "chainlab.llms.call_cache",
    "CacheStats": "chainlab.llms.call_cache",
    "model_fingerprint": "chainlab.llms.call_cache",
    "SQLiteCache": "chainlab.llms.sqlite_cache",
    "PrefixReuseUnsupported": "chainlab.llms.prefix_cache",
    "decode_rows": "chainlab.llms.prefix_cache",
    "Usage": "chainlab.llms.usage",
    "UsageCallback": "chainlab.llms.usage",
    "track_usage": "chainlab.llms.usage",
    "AdapterMismatchError": "chainlab.llms.errors",
    "MissingDependencyError": "chainlab.llms.errors",
    "ModelNotFoundError": "chainlab.llms.errors",
    "PromptTooLongError": "chainlab.llms.errors",
}

__all__ = [
    "AdapterMismatchError",
    "BatchLimits",
    "CacheStats",
    "CallCache",
    "LocalLLM",
    "MissingDependencyError",
    "ModelNotFoundError",
    "PrefixReuseUnsupported",
    "PromptTooLongError",
    "SQLiteCache",
    "Usage",
    "UsageCallback",
    "decode_rows",
    "load_llm",
    "model_fingerprint",
    "track_usage",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chainlab.llms' has no attribute {name!r}")
