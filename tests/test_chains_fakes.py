"""Scripted fake LLMs for the chains tests (imported by the other ``test_chains*`` files), and
tests of :mod:`chainlab.chains.llm_calls` against them."""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.outputs import Generation, LLMResult
from pydantic import Field

from chainlab.chains.llm_calls import SamplingParams, complete, supports_n
from chainlab.prompts import game24 as g24
from chainlab.tasks.game24_math import (
    answer_expression,
    check_answer,
    format_step,
    is_solvable,
    next_steps,
    parse_numbers,
    solution_paths,
)

Responder = Callable[[str, int], str]


class RecordingLLM(BaseLLM):
    """A BaseLLM that answers by a function of (prompt, sample index), records every ``generate``
    call (its prompts and keyword arguments) and, like LocalLLM, samples ``n`` per prompt."""

    responder: Any
    supports_n: bool = True
    fail_after: int | None = None
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("fake LLM failure")
        n = kwargs.get("n", 1) if self.supports_n else 1
        self.calls.append({"prompts": list(prompts), "kwargs": dict(kwargs), "stop": stop})
        gens = [[Generation(text=self.responder(p, j)) for j in range(n)] for p in prompts]
        usage = {
            "prompt_tokens": 10 * len(prompts),
            "completion_tokens": 2 * n * len(prompts),
            "calls": 1,
        }
        return LLMResult(generations=gens, llm_output={"token_usage": usage})

    def prompt_counts(self) -> list[int]:
        """Number of prompts of each recorded call."""
        return [len(c["prompts"]) for c in self.calls]


def scripted(mapping: dict[str, Any], default: str = "") -> Responder:
    """Responder: the value of the first key found in the prompt; a list value is indexed by sample."""

    def respond(prompt: str, j: int) -> str:
        for key, value in mapping.items():
            if key in prompt:
                return value[j % len(value)] if isinstance(value, list) else value
        return default

    return respond


# ------------------------------------------------------------------ Game of 24 oracle

_INPUT = re.compile(r"Input: ([-\d/ ]+)")


def _numbers_of(prompt: str) -> tuple[Fraction, ...]:
    return parse_numbers(_INPUT.findall(prompt)[-1].strip())


def game24_oracle(
    max_proposals: int = 4, wrong_answer: bool = False, value_label: str | None = None
) -> Responder:
    """Answers the five Game of 24 prompts like a perfect model would.

    propose: the first ``max_proposals`` canonical steps that keep 24 reachable, then the rest;
    value: sure/impossible from the exhaustive solver (or always ``value_label``);
    cot with prefilled steps: the Answer line; judge: the verdict of ``check_answer``.
    """

    def respond(prompt: str, j: int) -> str:
        nums = _numbers_of(prompt)
        if g24.PROPOSE_INSTRUCTION in prompt:
            steps = sorted(next_steps(nums), key=lambda s: not is_solvable(s.left))
            return "\n".join(format_step(s) for s in steps[:max_proposals])
        if g24.VALUE_INSTRUCTION in prompt:
            return value_label or ("sure" if is_solvable(nums) else "impossible")
        if g24.JUDGE_INSTRUCTION in prompt:
            expr = prompt.split("Answer:")[-1].split("=")[0]
            puzzle = _numbers_of(prompt)
            return "Verdict: correct" if check_answer(puzzle, expr) else "Verdict: incorrect"
        if g24.COT_INSTRUCTION in prompt:
            done = prompt.split("[/INST]")[-1].strip().splitlines()
            cur, path = nums, []
            for line in done:
                step = g24.parse_step_line(line, cur)
                path.append(step)
                cur = step.left
            if wrong_answer:
                return "Answer: 1 + 2 + 3 + 4 = 24"
            rest = solution_paths(cur, limit=1)[0] if len(cur) > 1 else []
            lines = [format_step(st) for st in rest]
            return "\n".join([*lines, f"Answer: {answer_expression(nums, path + rest)} = 24"])
        return ""

    return respond


@pytest.fixture
def oracle_llm() -> RecordingLLM:
    return RecordingLLM(responder=game24_oracle())


# ------------------------------------------------------------------ llm_calls tests


def test_supports_n_detects_flag_and_plain_llms():
    assert supports_n(RecordingLLM(responder=scripted({})))
    assert not supports_n(RecordingLLM(responder=scripted({}), supports_n=False))
    assert not supports_n(FakeListLLM(responses=["x"]))


def test_complete_with_n_is_one_call_with_sampling_kwargs():
    llm = RecordingLLM(responder=lambda p, j: f"{p}-{j}")
    out = complete(llm, ["a", "b"], SamplingParams(n=3, temperature=0.7, max_new_tokens=5, seed=1))
    assert out == [["a-0", "a-1", "a-2"], ["b-0", "b-1", "b-2"]]
    assert len(llm.calls) == 1
    kw = llm.calls[0]["kwargs"]
    assert kw["n"] == 3 and kw["do_sample"] is True and kw["temperature"] == 0.7
    assert kw["max_new_tokens"] == 5 and kw["seed"] == 1


def test_complete_greedy_sends_no_temperature():
    llm = RecordingLLM(responder=lambda p, j: "x")
    complete(llm, ["a"], SamplingParams())
    kw = llm.calls[0]["kwargs"]
    assert kw["do_sample"] is False and "temperature" not in kw


def test_complete_without_n_repeats_prompts_in_one_call():
    llm = RecordingLLM(responder=lambda p, j: p.upper(), supports_n=False)
    out = complete(llm, ["a", "b"], SamplingParams(n=2, temperature=0.5))
    assert out == [["A", "A"], ["B", "B"]]
    assert llm.calls[0]["prompts"] == ["a", "a", "b", "b"]
    assert llm.calls[0]["kwargs"] == {}  # sampling settings are the LLM's own


def test_complete_with_fake_list_llm_and_chat_model():
    out = complete(FakeListLLM(responses=["1", "2", "3"]), ["p", "q"], SamplingParams(n=1))
    assert out == [["1"], ["2"]]
    chat = FakeListChatModel(responses=["hi", "there"])
    assert complete(chat, ["p", "q"], SamplingParams(n=1)) == [["hi"], ["there"]]


def test_complete_empty_and_bad_n():
    assert complete(FakeListLLM(responses=["x"]), [], SamplingParams()) == []
    with pytest.raises(ValueError, match="n must be >= 1"):
        SamplingParams(n=0)


def test_oracle_answers_like_a_perfect_model():
    respond = game24_oracle()
    assert "sure" == respond(g24.value_prompt("4 5 6 10"), 0)
    assert "impossible" == respond(g24.value_prompt("1 1 1 1"), 0)
    lines = respond(g24.propose_prompt("4 5 6 10"), 0).splitlines()
    assert all(g24.parse_step_line(line, "4 5 6 10") for line in lines)
    assert respond(g24.judge_prompt("4 5 6 10", "(5 * (10 - 4)) - 6"), 0) == "Verdict: correct"
