"""Game of 24: the ``24.csv`` puzzles, ToT-paper scoring and the Tree-of-Thoughts search protocol.

* data: ``24.csv`` of princeton-nlp/tree-of-thought-llm; the paper's test split is data indices
  900..999 (CSV ``Rank`` 901..1000), see ``PROVENANCE.md`` of the data directory;
* scoring: :func:`chainlab.tasks.game24_math.check_answer` — each of the four numbers used exactly
  once and the value exactly 24 (a safe rational parser, never ``eval``);
* search (:class:`Game24SearchTask`): states are the steps taken so far; three ``propose`` levels
  (``a op b = c (left: ...)`` lines) and a fourth level where ``cot_prompt(numbers, steps)`` writes
  the ``Answer:`` line; values from ``value_prompt`` (``sure``/``likely``/``impossible`` summed with
  the paper's 20/1/0.001 mapping) and, for final states, from ``judge_prompt``.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Hashable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from chainlab.prompts import game24 as g24
from chainlab.tasks.answers import normalize_expression
from chainlab.tasks.base import Task
from chainlab.tasks.data import data_path
from chainlab.tasks.game24_math import (
    Step,
    check_answer,
    format_numbers,
    format_step,
    parse_numbers,
)
from chainlab.tasks.search import Expansion, SearchTask, ValueReading

__all__ = ["Game24Task", "Game24SearchTask", "Game24State", "TEST_SPLIT", "load_puzzles"]

#: The ToT paper's test split: 0-based data indices 900..999.
TEST_SPLIT = range(900, 1000)


def load_puzzles(data_root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every row of ``24.csv`` as ``{"id": data index, "rank", "numbers", "solved_rate"}``."""
    path = data_path("game24", "24.csv", data_root=data_root)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        {
            "id": i,
            "rank": int(row["Rank"]),
            "numbers": row["Puzzles"].strip(),
            "solved_rate": row.get("Solved rate"),
        }
        for i, row in enumerate(rows)
    ]


def _numbers(problem: dict[str, Any]) -> str:
    try:
        return str(problem["numbers"])
    except KeyError:
        raise KeyError(
            f"A Game of 24 problem needs a 'numbers' key like '4 5 6 10'; got {sorted(problem)}."
        ) from None


_EQ24_RE = re.compile(r"^(.*?)=\s*24\s*\.?\s*$")


class Game24Task(Task):
    """Game of 24 (no gold answer: an expression is scored by checking it)."""

    name = "game24"
    #: answers are checked, not compared to a gold answer
    checks_answers = True
    system = g24.SYSTEM

    def __init__(self, data_root: str | os.PathLike[str] | None = None) -> None:
        self.data_root = data_root

    def load(
        self,
        split: str | None = "test",
        limit: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[dict[str, Any]]:
        """Puzzles of ``split``: ``test`` (indices 900..999) or ``all``; ``start``/``end`` override."""
        rows = load_puzzles(self.data_root)
        if start is not None or end is not None:
            picked = rows[start:end]
        elif split in (None, "test"):
            picked = rows[TEST_SPLIT.start : TEST_SPLIT.stop]
        elif split == "all":
            picked = rows
        else:
            raise ValueError(f"Game of 24 split must be 'test' or 'all', got {split!r}.")
        out = [{**row, "question": row["numbers"]} for row in picked]
        return out[:limit] if limit is not None else out

    def make_problem(self, problem: dict[str, Any] | str) -> dict[str, Any]:
        if isinstance(problem, str):
            return {"numbers": problem.strip(), "question": problem.strip()}
        problem = super().make_problem(problem)
        if "question" not in problem:
            problem = {**problem, "question": _numbers(problem)}
        return problem

    def question(self, problem: dict[str, Any]) -> str:
        return g24.io_user(_numbers(problem))

    def gold(self, problem: dict[str, Any]) -> str | None:
        return None

    def direct_prompt(self, problem: dict[str, Any]) -> str:
        return g24.io_prompt(_numbers(problem))

    def cot_prompt(self, problem: dict[str, Any]) -> str | None:
        return g24.cot_prompt(_numbers(problem))

    def judge_prompt(self, problem: dict[str, Any], answer: str, solution: str = "") -> str:
        return g24.judge_prompt(_numbers(problem), answer)

    def parse_judge(self, text: str) -> bool | None:
        return g24.parse_judge(text)

    def extract_answer(self, text: str) -> str | None:
        """The expression of the ``Answer:`` line, else of a last line ending ``= 24``."""
        if not text:
            return None
        expr = g24.parse_answer(text)
        if expr:
            return expr
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        if lines:
            m = _EQ24_RE.match(lines[-1])
            if m and "left" not in lines[-1] and m.group(1).strip():
                return m.group(1).strip()
        return None

    def normalize(self, answer: str | None) -> str | None:
        return normalize_expression(answer)

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        if not answer:
            return False
        return check_answer(_numbers(problem), answer)

    def search_task(self, **kwargs: Any) -> Game24SearchTask:
        return Game24SearchTask(**kwargs)


@dataclass(frozen=True)
class Game24State:
    """A partial solution: the steps taken, the numbers left, and the answer once written."""

    steps: tuple[Step, ...]
    left: tuple[Fraction, ...]
    answer: str | None = None

    def text(self) -> str:
        """The ToT ``y``: one step line per step, then ``Answer: ... = 24`` when final."""
        lines = [format_step(s) for s in self.steps]
        if self.answer is not None:
            lines.append(f"Answer: {self.answer} = 24")
        return "\n".join(lines)


class Game24SearchTask(SearchTask):
    """Tree-of-Thoughts protocol for the Game of 24 (see the module docstring).

    A state with one number left is expanded (by the CoT prompt, prefilled with its steps) only when
    that number is 24, and valued without an LLM call: ``sure`` if it is 24, else ``impossible``
    (times ``n_evaluate_sample``, as if every evaluation said so).
    """

    def __init__(self, steps: int = 4) -> None:
        self.steps = steps

    def root(self, problem: dict[str, Any]) -> Game24State:
        return Game24State((), tuple(sorted(parse_numbers(_numbers(problem)))))

    def state_key(self, state: Game24State) -> Hashable:
        return state.text()

    def describe(self, state: Game24State) -> str:
        return state.text() or f"(start: {format_numbers(state.left)})"

    def is_final(self, problem: dict[str, Any], state: Game24State) -> bool:
        return state.answer is not None

    def answer(self, problem: dict[str, Any], state: Game24State) -> str | None:
        return state.answer

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        return bool(answer) and check_answer(_numbers(problem), answer)

    # generation ---------------------------------------------------------------
    def propose_prompt(self, problem: dict[str, Any], state: Game24State) -> str | None:
        if state.answer is not None:
            return None
        if len(state.left) == 1:
            if state.left[0] != 24:
                return None
            return g24.cot_prompt(_numbers(problem), state.steps)
        return g24.propose_prompt(state.left)

    def parse_proposals(self, problem: dict[str, Any], state: Game24State, text: str) -> Expansion:
        if len(state.left) == 1:
            return self._answer_child(state, text)
        out = Expansion()
        seen: set[str] = set()
        for line in text.splitlines():
            if not line.strip():
                continue
            step = g24.parse_step_line(line, state.left)
            if step is None:
                out.errors.append(f"invalid step line: {line.strip()!r}")
                continue
            key = format_step(step)
            if key in seen:
                continue
            seen.add(key)
            out.children.append(Game24State(state.steps + (step,), step.left))
        if not out.children:
            out.errors.append("no valid step in the proposals")
        return out

    def sample_prompt(self, problem: dict[str, Any], state: Game24State) -> str | None:
        if state.answer is not None or (len(state.left) == 1 and state.left[0] != 24):
            return None
        return g24.cot_prompt(_numbers(problem), state.steps)

    def parse_sample(self, problem: dict[str, Any], state: Game24State, text: str) -> Expansion:
        if len(state.left) == 1:
            return self._answer_child(state, text)
        for line in text.splitlines():
            if line.strip():
                step = g24.parse_step_line(line, state.left)
                if step is None:
                    return Expansion(errors=[f"invalid step line: {line.strip()!r}"])
                return Expansion(children=[Game24State(state.steps + (step,), step.left)])
        return Expansion(errors=["empty completion"])

    @staticmethod
    def _answer_child(state: Game24State, text: str) -> Expansion:
        expr = g24.parse_answer(text)
        if expr is None:
            return Expansion(errors=["no 'Answer:' line in the completion"])
        return Expansion(children=[Game24State(state.steps, state.left, expr)])

    # evaluation ---------------------------------------------------------------
    def value_prompt(self, problem: dict[str, Any], state: Game24State) -> str | None:
        if state.answer is not None:
            return g24.judge_prompt(_numbers(problem), state.answer)
        if len(state.left) == 1:
            return None
        return g24.value_prompt(state.left)

    def static_value(
        self, problem: dict[str, Any], state: Game24State, n_evaluate_sample: int
    ) -> float:
        label = "sure" if len(state.left) == 1 and state.left[0] == 24 else "impossible"
        return g24.VALUE_SCORES[label] * n_evaluate_sample

    def parse_value(self, problem: dict[str, Any], state: Game24State, text: str) -> ValueReading:
        if state.answer is not None:
            verdict = g24.parse_judge(text)
            if verdict is None:
                return ValueReading(None, None)
            label = "sure" if verdict else "impossible"
            return ValueReading(g24.VALUE_SCORES[label], "correct" if verdict else "incorrect")
        label = g24.parse_value(text)
        if label is None:
            return ValueReading(None, None)
        return ValueReading(g24.VALUE_SCORES[label], label)
