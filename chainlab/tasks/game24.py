"""Game of 24: the ``24.csv`` puzzles, ToT-paper scoring and the Tree-of-Thoughts search protocol.

* data: ``24.csv`` of princeton-nlp/tree-of-thought-llm; the paper's test split is data indices
  900..999 (CSV ``Rank`` 901..1000), see ``PROVENANCE.md`` of the data directory;
* scoring: :func:`chainlab.tasks.game24_math.check_answer` — each of the four numbers used exactly
  once and the value exactly 24 (a safe rational parser, never ``eval``);
* search (:class:`Game24SearchTask`): states are the steps taken so far; three ``propose`` levels
  (``a op b = c (left: ...)`` lines) and a fourth level that writes the ``Answer:`` line — by the
  model from ``cot_prompt(numbers, steps)`` (the paper's way, default), or, with
  ``compose_answer=True``, from the validated steps themselves
  (:func:`~chainlab.tasks.game24_math.answer_expression`, no LLM call); values from
  ``value_prompt`` (the first ``sure``/``likely``/``impossible`` of the completion — the model
  may work the check out first — summed with the paper's 20/1/0.001 mapping) and, for final states
  the model wrote, from ``judge_prompt``.

Completion lengths (``max_new_tokens``) the prompts need: ``propose`` lists every whole-number
move, up to ~25 lines / ~400 tokens for 4 numbers (512); ``value`` is a short worked check ending
``sure`` or ``impossible``, up to ~120 tokens (192); the answer line from the CoT prompt (128);
the judge (128); IO 48 and CoT 128 (:attr:`Game24Task.completion_lengths`).
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
    ExpressionError,
    Step,
    answer_expression,
    check_answer,
    evaluate_expression,
    expression_numbers,
    format_number,
    format_numbers,
    format_step,
    parse_numbers,
)
from chainlab.tasks.search import Expansion, SearchTask, ValueReading

__all__ = [
    "Game24Task", "Game24SearchTask", "Game24State", "TEST_SPLIT", "load_puzzles", "steps_answer",
]

#: The ToT paper's test split: 0-based data indices 900..999.
TEST_SPLIT = range(900, 1000)

#: default completion lengths of the Game of 24 prompts (see the module docstring)
IO_MAX_NEW_TOKENS = 48
COT_MAX_NEW_TOKENS = 128
PROPOSE_MAX_NEW_TOKENS = 512
VALUE_MAX_NEW_TOKENS = 192
ANSWER_MAX_NEW_TOKENS = COT_MAX_NEW_TOKENS
JUDGE_MAX_NEW_TOKENS = 128


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
    #: ``max_new_tokens`` of IO (``Answer: ... = 24``) and CoT (3 step lines + the answer)
    completion_lengths = {"direct": IO_MAX_NEW_TOKENS, "cot": COT_MAX_NEW_TOKENS}

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

    composes_answers = True

    def compose_answer(self, problem: dict[str, Any], text: str) -> str | None:
        """The expression that the step lines of a CoT completion compute, when they chain from
        the puzzle's numbers to 24.

        Every line with ``left`` must be a valid step from the numbers the previous step left (the
        first from the puzzle's), the last leaving exactly ``24``; the expression is then written
        from those steps (:func:`~chainlab.tasks.game24_math.answer_expression`), so it uses the
        four numbers once and equals 24, whatever the model's own ``Answer:`` line says. This is
        ``tot``'s ``compose_answer`` applied to one chain of thought. None when a step line does
        not check, none is present, or they stop short of 24.
        """
        return steps_answer(_numbers(problem), text)

    def normalize(self, answer: str | None) -> str | None:
        """The vote key of an answer: the numbers it uses and its exact value.

        Two expressions that use the same numbers and have the same value are one answer to a
        Game of 24 puzzle (``(10 - 4) * 5 - 6`` and ``5 * (10 - 4) - 6`` both solve ``4 5 6 10``),
        the way ``18.0`` and ``$18`` are one GSM8K answer: ``"4 5 6 10 = 24"``. Text that is not
        an arithmetic expression is None; an expression that cannot be evaluated (``1 / 0``)
        keeps its spacing-normalized text.
        """
        text = normalize_expression(answer)
        if text is None:
            return None
        try:
            value, numbers = evaluate_expression(text), expression_numbers(text)
        except ExpressionError:
            return text
        return f"{format_numbers(sorted(numbers))} = {format_number(value)}"

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        if not answer:
            return False
        return check_answer(_numbers(problem), answer)

    def search_task(self, **kwargs: Any) -> Game24SearchTask:
        """The ToT protocol; ``kwargs`` go to :class:`Game24SearchTask` (``compose_answer``...)."""
        return Game24SearchTask(**kwargs)


def steps_answer(numbers: g24.Numbers, text: str) -> str | None:
    """The answer expression of the step lines (``a op b = c (left: ...)``) of ``text`` when they
    chain validly from ``numbers`` to exactly ``24``, else None (see
    :meth:`Game24Task.compose_answer`). Lines without ``left`` (the ``Answer:`` line) are skipped."""
    start = parse_numbers(numbers) if isinstance(numbers, str) else tuple(map(Fraction, numbers))
    current: tuple[Fraction, ...] = start
    steps: list[Step] = []
    for line in (text or "").splitlines():
        if "left" not in line.lower():
            continue
        step = g24.parse_step_line(line, current)
        if step is None:
            return None
        steps.append(step)
        current = step.left
    if not steps or current != (Fraction(24),):
        return None
    try:
        return answer_expression(start, steps)
    except ValueError:
        return None


@dataclass(frozen=True)
class Game24State:
    """A partial solution: the steps taken, the numbers left, and the answer once written."""

    steps: tuple[Step, ...]
    left: tuple[Fraction, ...]
    answer: str | None = None
    #: the answer was written from the steps (``compose_answer``), not by the model
    composed: bool = False

    def text(self) -> str:
        """The ToT ``y``: one step line per step, then ``Answer: ... = 24`` when final."""
        lines = [format_step(s) for s in self.steps]
        if self.answer is not None:
            lines.append(f"Answer: {self.answer} = 24")
        return "\n".join(lines)


class Game24SearchTask(SearchTask):
    """Tree-of-Thoughts protocol for the Game of 24 (see the module docstring).

    A state with one number left is expanded only when that number is 24, and valued without an
    LLM call: ``sure`` if it is 24, else ``impossible`` (times ``n_evaluate_sample``, as if every
    evaluation said so). How its ``Answer:`` line is written:

    * ``compose_answer=False`` (default, the ToT paper's way): the model writes it from the CoT
      prompt prefilled with the steps, and the judge prompt values it. A small model can reach 24
      with valid steps and still write a wrong answer line.
    * ``compose_answer=True``: :meth:`static_expansion` writes it from the validated steps with
      :func:`~chainlab.tasks.game24_math.answer_expression` (each step line was checked by exact
      arithmetic when parsed, so the expression uses the four numbers once and equals 24). No LLM
      call is made for it (traced as a ``compose`` event), and it is valued ``sure`` without the
      judge.

    Args:
        steps: tree levels (3 steps + the answer line).
        compose_answer: see above.
        restate_proposals: prefill each propose prompt with the numbers, for a model trained on
            restated proposals such as chainlab-tiny (:func:`chainlab.prompts.game24.propose_prompt`
            ``restate``); false for a model trained on the plain layout.
        judge_input_first: prefill each judge prompt with the ``Input:`` line, for a model trained
            on the ``numbers-first`` judge layout (:func:`chainlab.prompts.game24.judge_prompt`
            ``input_first``).
        propose_max_new_tokens / value_max_new_tokens / answer_max_new_tokens /
            judge_max_new_tokens: completion lengths of the propose, value, CoT (answer line) and
            judge prompts (:meth:`max_new_tokens`).
    """

    def __init__(
        self,
        steps: int = 4,
        compose_answer: bool = False,
        restate_proposals: bool = True,
        judge_input_first: bool = False,
        propose_max_new_tokens: int = PROPOSE_MAX_NEW_TOKENS,
        value_max_new_tokens: int = VALUE_MAX_NEW_TOKENS,
        answer_max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
        judge_max_new_tokens: int = JUDGE_MAX_NEW_TOKENS,
    ) -> None:
        if not isinstance(compose_answer, bool):
            raise TypeError(f"compose_answer must be true or false, got {compose_answer!r}.")
        for name, flag in (
            ("restate_proposals", restate_proposals),
            ("judge_input_first", judge_input_first),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be true or false, got {flag!r}.")
        self.steps = steps
        self.compose_answer = compose_answer
        self.restate_proposals = restate_proposals
        self.judge_input_first = judge_input_first
        self.propose_max_new_tokens = propose_max_new_tokens
        self.value_max_new_tokens = value_max_new_tokens
        self.answer_max_new_tokens = answer_max_new_tokens
        self.judge_max_new_tokens = judge_max_new_tokens

    def __repr__(self) -> str:
        extra = "" if self.restate_proposals else ", restate_proposals=False"
        extra += ", judge_input_first=True" if self.judge_input_first else ""
        return f"Game24SearchTask(steps={self.steps}, compose_answer={self.compose_answer}{extra})"

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
    def static_expansion(self, problem: dict[str, Any], state: Game24State) -> Expansion | None:
        """With ``compose_answer``: the answer of a state at 24, written from its steps."""
        if not self.compose_answer or state.answer is not None:
            return None
        if len(state.left) != 1 or state.left[0] != 24:
            return None
        try:
            expr = answer_expression(parse_numbers(_numbers(problem)), list(state.steps))
        except ValueError as exc:  # steps that do not chain from the puzzle's numbers
            return Expansion(errors=[f"cannot compose the answer: {exc}"])
        return Expansion(children=[Game24State(state.steps, state.left, expr, composed=True)])

    def max_new_tokens(self, stage: str, problem: dict[str, Any], state: Game24State) -> int | None:
        if stage in ("propose", "sample"):
            if stage == "sample" or len(state.left) == 1:
                return self.answer_max_new_tokens  # the CoT prompt: remaining steps + answer
            return self.propose_max_new_tokens
        if stage == "value":
            if state.answer is not None:
                return self.judge_max_new_tokens
            return self.value_max_new_tokens
        return None

    def propose_prompt(self, problem: dict[str, Any], state: Game24State) -> str | None:
        if state.answer is not None:
            return None
        if len(state.left) == 1:
            if state.left[0] != 24:
                return None
            return g24.cot_prompt(_numbers(problem), state.steps)
        return g24.propose_prompt(state.left, restate=self.restate_proposals)

    def parse_proposals(self, problem: dict[str, Any], state: Game24State, text: str) -> Expansion:
        if len(state.left) == 1:
            return self._answer_child(state, text)
        out = Expansion()
        seen: set[str] = set()
        for line in text.splitlines():
            if not line.strip() or g24.is_pair_header(line):
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
        if state.composed:
            return None  # correct by construction: valued "sure" by static_value
        if state.answer is not None:
            return g24.judge_prompt(_numbers(problem), state.answer, input_first=self.judge_input_first)
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
