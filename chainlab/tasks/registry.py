"""``get_task(name, **kw)``: the task registry (imports each task module lazily)."""

from __future__ import annotations

import importlib
from typing import Any

from chainlab.tasks.base import Task

__all__ = ["TASKS", "get_task", "task_names"]

#: name -> (module, class)
TASKS: dict[str, tuple[str, str]] = {
    "game24": ("chainlab.tasks.game24", "Game24Task"),
    "gsm8k": ("chainlab.tasks.gsm8k", "GSM8KTask"),
    "svamp": ("chainlab.tasks.svamp", "SVAMPTask"),
    "arith": ("chainlab.tasks.synthetic", "ArithTask"),
    "jsonl": ("chainlab.tasks.jsonl", "JsonlTask"),
    "qa": ("chainlab.tasks.base", "QuestionAnswerTask"),
}


def task_names() -> list[str]:
    """The registered task names."""
    return sorted(TASKS)


def get_task(name: str | Task, **kwargs: Any) -> Task:
    """A task by name (``game24``, ``gsm8k``, ``svamp``, ``arith``, ``jsonl``, ``qa``).

    A :class:`Task` instance is returned unchanged. ``kwargs`` go to the task's constructor
    (``jsonl`` needs ``path=``).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if isinstance(name, Task):
        return name
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    aliases = {"24": "game24", "gameof24": "game24", "gsm": "gsm8k", "custom": "jsonl"}
    key = aliases.get(key, key)
    if key not in TASKS:
        raise ValueError(f"Unknown task {name!r}; valid names: {', '.join(task_names())}.")
    module, cls = TASKS[key]
    return getattr(importlib.import_module(module), cls)(**kwargs)
