"""Fake LLMs, tasks and strategies for the ``chainlab compare`` tests (imported by the other
``test_compare*`` / ``test_eval*`` files), and checks of the fakes themselves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, LLMResult
from pydantic import Field

from chainlab.chains import Candidate, StrategyResult, Trace
from chainlab.llms.usage import Usage
from chainlab.prompts import game24 as g24
from chainlab.tasks.base import QuestionAnswerTask
from chainlab.tasks.game24_math import (
    answer_expression,
    check_answer,
    format_step,
    is_solvable,
    next_steps,
    parse_numbers,
    solution_paths,
    solve,
)

Responder = Callable[[str, int], str]


class FakeLLM(BaseLLM):
    """Answers with ``responder(prompt, sample index)``, samples ``n`` per prompt like LocalLLM,
    reports token usage, and can fail (or be interrupted) on its ``fail_on``-th call."""

    responder: Any
    fail_on: int | None = None
    fail_with: Any = RuntimeError
    calls: list[list[str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "compare-fake"

    def _generate(self, prompts, stop=None, run_manager=None, **kwargs) -> LLMResult:
        if self.fail_on is not None and len(self.calls) + 1 >= self.fail_on:
            raise self.fail_with("fake LLM failure")
        self.calls.append(list(prompts))
        n = kwargs.get("n", 1)
        gens = [[Generation(text=self.responder(p, j)) for j in range(n)] for p in prompts]
        usage = {"prompt_tokens": 10 * len(prompts), "completion_tokens": 3 * n * len(prompts)}
        return LLMResult(generations=gens, llm_output={"token_usage": usage})

    def n_prompts(self) -> int:
        return sum(len(c) for c in self.calls)


# ------------------------------------------------------------------ a tiny QA task

_SUM = re.compile(r"What is (\d+) plus (\d+)\?")


def sum_task(n: int = 8) -> tuple[QuestionAnswerTask, list[dict[str, Any]]]:
    """A numeric QA task ``What is a plus b?`` and its ``n`` problems (ids ``p0``...)."""
    records = [
        {"id": f"p{i}", "question": f"What is {i + 1} plus {2 * i}?", "answer": 3 * i + 1}
        for i in range(n)
    ]
    task = QuestionAnswerTask(records, matcher="numeric", name="sums")
    return task, task.load()


def sum_responder(wrong_every: int = 0) -> Responder:
    """Right sums, except a wrong one when ``a % wrong_every == 0`` (never when 0)."""

    def respond(prompt: str, j: int) -> str:
        m = _SUM.findall(prompt)
        if not m:
            return ""
        a, b = (int(x) for x in m[-1])
        if wrong_every and a % wrong_every == 0:
            return f"Answer: {a + b + 1}"
        return f"Answer: {a + b}"

    return respond


# ------------------------------------------------------------------ Game of 24

_INPUT = re.compile(r"Input: ([-\d/ ]+)")


def game24_responder(io_correct: bool = True) -> Responder:
    """A perfect Game of 24 solver for the five prompts (io answers wrong if not ``io_correct``)."""

    def respond(prompt: str, j: int) -> str:
        nums = parse_numbers(_INPUT.findall(prompt)[-1].strip())
        if g24.PROPOSE_INSTRUCTION in prompt:
            steps = sorted(next_steps(nums), key=lambda s: not is_solvable(s.left))
            return "\n".join(format_step(s) for s in steps[:3])
        if g24.VALUE_INSTRUCTION in prompt:
            return "sure" if is_solvable(nums) else "impossible"
        if g24.JUDGE_INSTRUCTION in prompt:
            expr = prompt.split("Answer:")[-1].split("=")[0]
            return "Verdict: correct" if check_answer(nums, expr) else "Verdict: incorrect"
        if g24.COT_INSTRUCTION in prompt:
            cur, path = nums, []
            for line in prompt.split("[/INST]")[-1].strip().splitlines():
                step = g24.parse_step_line(line, cur)
                path.append(step)
                cur = step.left
            rest = solution_paths(cur, limit=1)[0] if len(cur) > 1 else []
            lines = [format_step(s) for s in rest]
            return "\n".join([*lines, f"Answer: {answer_expression(nums, path + rest)} = 24"])
        if g24.IO_INSTRUCTION in prompt:
            return f"Answer: {solve(nums, limit=1)[0]} = 24" if io_correct else "Answer: 1 + 1 = 24"
        return ""

    return respond


# ------------------------------------------------------------------ a strategy with several finals


class MultiFinal:
    """A fake strategy (not an LLM chain): for problem ``pK`` answers ``answers[K]`` top-1 and
    ``extra[K]`` as further finals; usage 1 call, 5+2 tokens per problem."""

    def __init__(self, task: Any, answers: list[Any], extra: list[list[Any]] | None = None):
        self.task = task
        self.answers = answers
        self.extra = extra or [[] for _ in answers]
        self.batches: list[int] = []

    def _one(self, p: dict[str, Any]) -> StrategyResult:
        k = int(str(p["id"])[1:])
        finals = [self.answers[k], *self.extra[k]]
        cands = [Candidate(None if a is None else str(a)) for a in finals]
        answer = cands[0].answer
        usage = Usage(calls=1, prompts=1, sequences=1, prompt_tokens=5, completion_tokens=2)
        return StrategyResult(
            answer, cands, Trace(), usage, p, correct=self.task.score(p, answer), strategy="multi"
        )

    def invoke(self, p: dict[str, Any]) -> StrategyResult:
        return self._one(p)

    def batch(self, problems: list[dict[str, Any]]) -> list[StrategyResult]:
        self.batches.append(len(problems))
        return [self._one(p) for p in problems]


# ------------------------------------------------------------------ tests of the fakes


def test_sum_responder_and_task():
    task, problems = sum_task(3)
    respond = sum_responder()
    assert task.score(problems[1], task.extract_answer(respond(task.direct_prompt(problems[1]), 0)))
    bad = sum_responder(wrong_every=1)
    assert not task.score(problems[1], task.extract_answer(bad(task.direct_prompt(problems[1]), 0)))


def test_game24_responder_solves_io_and_cot():
    respond = game24_responder()
    assert check_answer("4 5 6 10", g24.parse_answer(respond(g24.io_prompt("4 5 6 10"), 0)))
    assert check_answer("4 5 6 10", g24.parse_answer(respond(g24.cot_prompt("4 5 6 10"), 0)))
