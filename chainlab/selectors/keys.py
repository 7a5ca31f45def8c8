"""Which example fields are embedded (``input_keys``), and validation of example lists.

Rule for the default ``input_keys``: every key of the **first** example except the answer-like
ones — a key is answer-like when its lower-cased name is in :data:`ANSWER_LIKE_KEYS` or ends with
``_answer``, ``_output`` or ``_solution``. E.g. GSM8K ``{"question", "answer"}`` -> ``["question"]``.
If nothing is left, pass ``input_keys`` explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ANSWER_LIKE_KEYS", "is_answer_like", "infer_input_keys", "validate_examples"]

ANSWER_LIKE_KEYS = frozenset(
    {
        "answer",
        "answers",
        "output",
        "outputs",
        "response",
        "completion",
        "solution",
        "solutions",
        "target",
        "label",
        "labels",
        "rationale",
        "reasoning",
        "explanation",
        "equation",
    }
)


def is_answer_like(key: str) -> bool:
    """Whether ``key`` names an answer-like field (see the module docstring)."""
    k = key.lower()
    return k in ANSWER_LIKE_KEYS or k.endswith(("_answer", "_output", "_solution"))


def infer_input_keys(example: Mapping[str, Any]) -> list[str]:
    """Default ``input_keys`` for examples shaped like ``example``."""
    keys = [k for k in example if not is_answer_like(k)]
    if not keys:
        raise ValueError(
            f"Cannot infer input_keys: every key of the first example {sorted(example)} looks "
            "like an answer field. Pass input_keys=[...] explicitly."
        )
    return keys


def validate_examples(
    examples: Sequence[Mapping[str, Any]], input_keys: Sequence[str], start: int = 0
) -> None:
    """Check each example is a mapping holding every input key (``start`` offsets the index).

    Raises:
        TypeError: an example is not a mapping.
        KeyError: an example lacks an input key (names the example index and the key).
    """
    for i, ex in enumerate(examples, start):
        if not isinstance(ex, Mapping):
            raise TypeError(f"Example {i} is a {type(ex).__name__}, expected a dict.")
        for key in input_keys:
            if key not in ex:
                raise KeyError(
                    f"Example {i} is missing input key {key!r} (input_keys={list(input_keys)}, "
                    f"example keys={sorted(ex)})."
                )
