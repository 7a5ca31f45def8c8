"""chainlab.llms: local Hugging Face models as LangChain LLMs.

* :func:`load_llm` -- hub id / local dir / packaged name (+ LoRA adapter, GPTQ) -> :class:`LocalLLM`;
* :class:`LocalLLM` -- batched ``generate`` with ``n`` samples, ``stop``, ``seed`` and token usage;
* :mod:`chainlab.llms.usage` -- :class:`Usage`, :class:`UsageCallback`, :func:`track_usage`.

Exports are imported lazily so ``import chainlab.llms`` (e.g. by the CLI) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainlab.llms.errors import (
        AdapterMismatchError,
        MissingDependencyError,
        ModelNotFoundError,
        PromptTooLongError,
    )
    from chainlab.llms.loading import load_llm
    from chainlab.llms.local_llm import LocalLLM
    from chainlab.llms.usage import Usage, UsageCallback, track_usage

_EXPORTS = {
    "load_llm": "chainlab.llms.loading",
    "LocalLLM": "chainlab.llms.local_llm",
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
    "LocalLLM",
    "MissingDependencyError",
    "ModelNotFoundError",
    "PromptTooLongError",
    "Usage",
    "UsageCallback",
    "load_llm",
    "track_usage",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chainlab.llms' has no attribute {name!r}")
