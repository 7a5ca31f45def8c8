"""One result line per (problem, strategy): built from a :class:`StrategyResult`, JSON-friendly.

A record holds ``problem_id``, ``strategy``, ``answer``, ``correct`` (top-1, None when the task
cannot score the problem), ``any_correct`` (any candidate correct: ToT's finals, self-consistency's
vote groups), ``n_finals`` (candidates with an answer), ``confidence``, ``candidates`` (answer,
score, votes, correct; the full texts are in the trace), ``usage`` (this problem's share of the
batch's LLM usage), ``trace`` (every prompt and completion) and ``error`` (None unless the problem
failed and was recorded as a failure).
"""

from __future__ import annotations

from typing import Any

__all__ = ["USAGE_KEYS", "problem_key", "make_record", "error_record", "record_key"]

#: usage counters averaged per problem in reports
USAGE_KEYS = ("calls", "prompts", "sequences", "prompt_tokens", "completion_tokens", "seconds")


def problem_key(problem: dict[str, Any], index: int) -> str:
    """The id of a problem in results files: its ``id`` field (as text), else its position."""
    value = problem.get("id", index) if isinstance(problem, dict) else index
    return str(value)


def record_key(record: dict[str, Any]) -> tuple[str, str]:
    """``(problem_id, strategy)`` of a record."""
    return str(record["problem_id"]), str(record["strategy"])


def _usage_dict(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {k: 0 for k in USAGE_KEYS}
    if hasattr(usage, "as_dict"):
        return dict(usage.as_dict())
    if isinstance(usage, dict):
        return dict(usage)
    return {k: getattr(usage, k, 0) for k in USAGE_KEYS}


def _score(task: Any, problem: dict[str, Any], answer: str | None) -> bool | None:
    if task is None or answer is None:
        return None if task is None else False
    try:
        return bool(task.score(problem, answer))
    except Exception:  # a malformed candidate is simply wrong
        return False


def make_record(problem_id: str, strategy: str, result: Any, task: Any = None) -> dict[str, Any]:
    """The result line of ``result`` (a StrategyResult or any object with the same attributes)."""
    problem = getattr(result, "problem", None) or {}
    correct = getattr(result, "correct", None)
    candidates = []
    for cand in getattr(result, "candidates", None) or []:
        answer = getattr(cand, "answer", None)
        candidates.append(
            {
                "answer": answer,
                "score": getattr(cand, "score", None),
                "votes": getattr(cand, "votes", 0),
                "correct": _score(task, problem, answer) if correct is not None else None,
            }
        )
    with_answer = [c for c in candidates if c["answer"] is not None]
    if correct is None:
        any_correct = None
    else:
        any_correct = bool(correct) or any(c["correct"] for c in with_answer)
    trace = getattr(result, "trace", None)
    return {
        "problem_id": problem_id,
        "strategy": strategy,
        "answer": getattr(result, "answer", None),
        "correct": None if correct is None else bool(correct),
        "any_correct": any_correct,
        "n_finals": len(with_answer),
        "confidence": getattr(result, "confidence", None),
        "candidates": candidates,
        "usage": _usage_dict(getattr(result, "usage", None)),
        "trace": trace.to_list() if hasattr(trace, "to_list") else (trace or []),
        "error": None,
    }


def error_record(problem_id: str, strategy: str, error: BaseException) -> dict[str, Any]:
    """The line of a problem whose run failed (counted as wrong, usage unknown)."""
    return {
        "problem_id": problem_id,
        "strategy": strategy,
        "answer": None,
        "correct": False,
        "any_correct": False,
        "n_finals": 0,
        "confidence": None,
        "candidates": [],
        "usage": _usage_dict(None),
        "trace": [],
        "error": f"{type(error).__name__}: {error}",
    }
