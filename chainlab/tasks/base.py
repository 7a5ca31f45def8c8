"""The :class:`Task` base: problems, prompts, answer extraction/normalization and scoring.

A *problem* is a plain dict (JSON-friendly). Every task puts the text shown to the model under
``"question"`` and the gold answer (when there is one) under ``"answer"``; tasks add their own keys
(Game of 24: ``"numbers"``). Strategies in :mod:`chainlab.chains` only talk to a task through the
methods below, so a new benchmark is one small subclass.
"""

from __future__ import annotations

import re
from typing import Any

from chainlab.prompts.chat_format import llama2_prompt
from chainlab.tasks.answers import (
    extract_first_number,
    extract_number,
    normalize_number,
    normalize_text,
    parse_verdict_line,
)

__all__ = ["Task", "QuestionAnswerTask", "MATCHERS"]

#: Answer matchers understood by :class:`QuestionAnswerTask`.
MATCHERS = ("exact", "numeric", "regex")

_CUE_RE = re.compile(r"(?i)(?:the\s+(?:final\s+)?answer\s+is|answer\s*:|####)\s*:?\s*(.+)")


class Task:
    """Base class of a task. Subclasses override what differs; defaults suit free-text QA."""

    #: registry name
    name: str = "task"
    #: system context put in the ``<<SYS>>`` block of the default prompts
    system: str | None = None
    #: zero-shot-CoT answer-extraction trigger (Kojima et al., 2022)
    answer_trigger: str = "Therefore, the answer is"
    #: instruction appended to the question in the direct (IO) prompt
    direct_instruction: str = "Give only the final answer, as 'Answer: <answer>'."
    #: completion lengths (``max_new_tokens``) the task's prompts need, by strategy kind
    #: (``direct``, ``cot``); strategies use them unless given ``max_new_tokens`` themselves
    completion_lengths: dict[str, int] = {}

    # ------------------------------------------------------------------ problems
    def load(self, split: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The task's problems (dicts with at least ``question``)."""
        raise NotImplementedError(f"Task {self.name!r} has no data to load.")

    def make_problem(self, problem: dict[str, Any] | str) -> dict[str, Any]:
        """Coerce user input into a problem dict (a bare string is the question)."""
        if isinstance(problem, str):
            return {"question": problem}
        if not isinstance(problem, dict):
            raise TypeError(f"A problem must be a dict or a string, not {type(problem).__name__}.")
        return problem

    def question(self, problem: dict[str, Any]) -> str:
        """The question text shown to the model."""
        try:
            return str(problem["question"])
        except KeyError:
            raise KeyError(
                f"Task {self.name!r} needs a 'question' key; the problem has {sorted(problem)}."
            ) from None

    def gold(self, problem: dict[str, Any]) -> str | None:
        """The gold answer, if any."""
        value = problem.get("answer")
        return None if value is None else str(value)

    def prompt_inputs(self, problem: dict[str, Any]) -> dict[str, Any]:
        """Variables for user-supplied prompt templates: the problem plus ``question``."""
        return {**problem, "question": self.question(problem)}

    # ------------------------------------------------------------------ prompts
    def direct_prompt(self, problem: dict[str, Any]) -> str:
        """The direct (IO) prompt."""
        return llama2_prompt(
            f"{self.question(problem)}\n{self.direct_instruction}", system=self.system
        )

    def cot_prompt(self, problem: dict[str, Any]) -> str | None:
        """A task-specific chain-of-thought prompt, or None when the task has none."""
        return None

    def judge_prompt(self, problem: dict[str, Any], answer: str, solution: str = "") -> str:
        """Ask whether a candidate answer is right; the completion should end ``Verdict: ...``."""
        body = f"Question: {self.question(problem)}\n"
        if solution.strip():
            body += f"Proposed solution: {solution.strip()}\n"
        body += (
            f"Proposed answer: {answer}\n"
            "Is the proposed answer correct? Check it, then end with a line "
            "'Verdict: correct' or 'Verdict: incorrect'."
        )
        return llama2_prompt(body, system=self.system)

    def parse_judge(self, text: str) -> bool | None:
        """The verdict of a judge completion (None when there is none)."""
        return parse_verdict_line(text)

    # ------------------------------------------------------------------ answers
    def extract_answer(self, text: str) -> str | None:
        """The answer in a completion (None when there is none)."""
        if not text or not text.strip():
            return None
        hits = _CUE_RE.findall(text)
        if hits:
            return hits[-1].strip().rstrip(".").strip() or None
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else None

    def extract_after_trigger(self, text: str) -> str | None:
        """The answer in the completion of the zero-shot-CoT extraction prompt."""
        return self.extract_answer(text)

    #: :meth:`compose_answer` can write answers from checked reasoning steps (Game of 24)
    composes_answers: bool = False

    def compose_answer(self, problem: dict[str, Any], text: str) -> str | None:
        """The answer that the reasoning steps of ``text`` compute, when every step checks
        against ``problem`` and they reach a final answer; None otherwise (and for tasks whose
        steps cannot be checked, :attr:`composes_answers` False). Used by
        ``chain_of_thought(compose_answer=True)``."""
        return None

    def normalize(self, answer: str | None) -> str | None:
        """Canonical form used for voting and exact matching."""
        return normalize_text(answer)

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        """Whether ``answer`` solves ``problem`` (False for None)."""
        gold = self.gold(problem)
        if answer is None or gold is None:
            return False
        return self.normalize(answer) == self.normalize(gold)

    # ------------------------------------------------------------------ search
    def search_task(self, **kwargs: Any):
        """The :class:`chainlab.chains.SearchTask` of this task (Tree-of-Thoughts search)."""
        raise NotImplementedError(f"Task {self.name!r} has no Tree-of-Thoughts search protocol.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class QuestionAnswerTask(Task):
    """A question/answer task with a configurable matcher.

    Args:
        records: the problems (dicts), if already loaded.
        question_field / answer_field: keys of the question and gold answer in each record.
        matcher: ``exact`` (normalized text equality), ``numeric`` (number equality after dropping
            commas/units, ``18.0 == 18``) or ``regex`` (the gold answer is a regular expression that
            must match the whole normalized prediction, case-insensitively).
        name: registry name.
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        question_field: str = "question",
        answer_field: str = "answer",
        matcher: str = "exact",
        name: str = "qa",
        system: str | None = None,
    ) -> None:
        if matcher not in MATCHERS:
            raise ValueError(f"matcher must be one of {MATCHERS}, got {matcher!r}.")
        self.records = list(records or [])
        self.question_field = question_field
        self.answer_field = answer_field
        self.matcher = matcher
        self.name = name
        self.system = system
        if matcher == "numeric":
            self.answer_trigger = "Therefore, the answer (arabic numerals) is"

    def load(self, split: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The records given at construction, as problem dicts."""
        out = [self._problem(i, r) for i, r in enumerate(self.records)]
        return out[:limit] if limit is not None else out

    def _problem(self, index: int, record: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in (self.question_field, self.answer_field) if k not in record]
        if missing:
            raise KeyError(f"Record {index} of task {self.name!r} lacks the field(s) {missing}.")
        return {
            **record,
            "id": record.get("id", index),
            "question": str(record[self.question_field]),
            "answer": record[self.answer_field],
        }

    def extract_answer(self, text: str) -> str | None:
        if self.matcher == "numeric":
            return extract_number(text)
        return super().extract_answer(text)

    def extract_after_trigger(self, text: str) -> str | None:
        if self.matcher == "numeric":
            return extract_first_number(text)
        return super().extract_after_trigger(text)

    def normalize(self, answer: str | None) -> str | None:
        if self.matcher == "numeric":
            return normalize_number(answer)
        return normalize_text(answer)

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        gold = self.gold(problem)
        if answer is None or gold is None:
            return False
        if self.matcher == "regex":
            pred = normalize_text(answer) or ""
            try:
                return re.fullmatch(gold, pred, flags=re.IGNORECASE) is not None
            except re.error:
                return False
        return self.normalize(answer) is not None and self.normalize(answer) == self.normalize(gold)
