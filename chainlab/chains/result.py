"""What a strategy returns: :class:`StrategyResult` with the answer, candidates, trace and usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainlab.chains.trace import Trace

__all__ = ["Candidate", "StrategyResult"]


@dataclass
class Candidate:
    """One candidate answer.

    Attributes:
        answer: the extracted answer (None when the completion had none).
        normalized: its canonical form (what votes compare).
        text: the completion (or reasoning) it came from.
        score: judge score / search value, when the strategy computes one.
        votes: how many samples gave this answer (voting strategies).
        share: ``votes / k`` (voting strategies).
        event: id of the trace event it came from.
        data: strategy-specific details.
    """

    answer: str | None
    normalized: str | None = None
    text: str = ""
    score: float | None = None
    votes: int = 0
    share: float | None = None
    event: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {
            "answer": self.answer,
            "normalized": self.normalized,
            "text": self.text,
            "score": self.score,
            "votes": self.votes,
            "share": self.share,
            "event": self.event,
            "data": dict(self.data),
        }


@dataclass
class StrategyResult:
    """The result of one problem. Supports ``result["answer"]`` as well as ``result.answer``.

    Attributes:
        answer: the final answer (None = no answer: counts as a failure).
        candidates: the candidates considered, best first where the strategy ranks them.
        trace: every prompt and completion, in order (see :mod:`chainlab.chains.trace`).
        usage: LLM usage (:class:`chainlab.llms.usage.Usage`); in a batch, the batch total split
            evenly across problems (integer fields sum exactly to the total).
        problem: the problem dict.
        confidence: vote share / judge score of the answer, when the strategy has one.
        correct: the task's score of the answer (None when the task cannot score the problem).
        strategy: the strategy's name.
        extra: strategy-specific outputs (e.g. ``tot_sequential``'s named stage outputs).
    """

    answer: str | None
    candidates: list[Candidate]
    trace: Trace
    usage: Any
    problem: dict[str, Any]
    confidence: float | None = None
    correct: bool | None = None
    strategy: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        if key in self.__dataclass_fields__:
            return getattr(self, key)
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``result[key]`` or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (trace events as dicts, usage via ``as_dict()``)."""
        usage = self.usage.as_dict() if hasattr(self.usage, "as_dict") else self.usage
        return {
            "answer": self.answer,
            "confidence": self.confidence,
            "correct": self.correct,
            "strategy": self.strategy,
            "problem": self.problem,
            "candidates": [c.to_dict() for c in self.candidates],
            "trace": self.trace.to_list(),
            "usage": usage,
            "extra": self.extra,
        }
