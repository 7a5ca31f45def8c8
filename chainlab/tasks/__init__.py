"""chainlab.tasks: benchmarks as :class:`Task` objects (problems, prompts, answers, scoring).

``get_task("game24")``, ``get_task("gsm8k")``, ``get_task("svamp")``, ``get_task("arith")``,
``get_task("jsonl", path=..., matcher="numeric")``. Names are exported lazily, so importing this
package stays cheap and free of import cycles.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Task": "chainlab.tasks.base",
    "QuestionAnswerTask": "chainlab.tasks.base",
    "get_task": "chainlab.tasks.registry",
    "task_names": "chainlab.tasks.registry",
    "Game24Task": "chainlab.tasks.game24",
    "Game24SearchTask": "chainlab.tasks.game24",
    "GSM8KTask": "chainlab.tasks.gsm8k",
    "SVAMPTask": "chainlab.tasks.svamp",
    "ArithTask": "chainlab.tasks.synthetic",
    "JsonlTask": "chainlab.tasks.jsonl",
    "SearchTask": "chainlab.tasks.search",
    "Expansion": "chainlab.tasks.search",
    "ValueReading": "chainlab.tasks.search",
    "data_dir": "chainlab.tasks.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chainlab.tasks' has no attribute {name!r}")
