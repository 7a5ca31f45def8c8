"""Chain-of-thought prompts: zero-shot CoT with two-stage answer extraction, and few-shot CoT.

Zero-shot CoT (Kojima et al., 2022, "Large Language Models are Zero-Shot Reasoners"):

* stage 1 (reasoning extraction), input ``question``::

      Q: {question}
      A: Let's think step by step.

* stage 2 (answer extraction), inputs ``question``, ``reasoning`` (the stage-1 generation)::

      Q: {question}
      A: Let's think step by step. {reasoning}
      Therefore, the answer (arabic numerals) is

Few-shot CoT (Wei et al., 2022) exemplars come from a dataset's worked solutions:
:func:`gsm8k_cot_examples` turns GSM8K train answers into rationales (``<<expr=result>>``
calculator notes stripped, the final ``#### n`` line replaced by ``The answer is n.``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from os import PathLike
from typing import Any

from langchain_core.example_selectors import BaseExampleSelector

from chainlab.prompts.braces import (
    BraceSafeFewShotPromptTemplate,
    SafePromptTemplate,
    escape_braces,
)
from chainlab.prompts.chat_format import llama2_prompt
from chainlab.prompts.datasets import data_path, read_jsonl
from chainlab.prompts.few_shot import Llama2FewShotPromptTemplate

__all__ = [
    "COT_TRIGGER",
    "ANSWER_TRIGGERS",
    "ZeroShotCoT",
    "zero_shot_cot_prompts",
    "strip_calculator_notes",
    "gsm8k_answer_to_rationale",
    "gsm8k_final_answer",
    "gsm8k_cot_examples",
    "few_shot_cot_prompt",
]

COT_TRIGGER = "Let's think step by step."
"""Kojima et al.'s reasoning trigger."""

ANSWER_TRIGGERS: dict[str, str] = {
    "arabic": "Therefore, the answer (arabic numerals) is",
    "multiple_choice": "Therefore, among A through E, the answer is",
    "yes_no": "Therefore, the answer (Yes or No) is",
    "free": "Therefore, the answer is",
}
"""Stage-2 answer-extraction triggers by answer format (Kojima et al., Table 9 style)."""

_CALC_NOTE = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"\n?####\s*(.+?)\s*$", re.S)


@dataclass(frozen=True)
class ZeroShotCoT:
    """The two prompts of zero-shot CoT.

    Attributes:
        reasoning: stage 1, input ``question``; the LLM output is the ``reasoning``.
        answer: stage 2, inputs ``question``, ``reasoning``; the LLM output holds the answer.
    """

    reasoning: SafePromptTemplate
    answer: SafePromptTemplate


def zero_shot_cot_prompts(
    answer_format: str = "arabic",
    *,
    trigger: str = COT_TRIGGER,
    llama2: bool = False,
    system: str | None = None,
) -> ZeroShotCoT:
    """Build Kojima et al.'s two-stage zero-shot CoT prompts.

    Args:
        answer_format: key of :data:`ANSWER_TRIGGERS` (or a literal extraction trigger).
        trigger: the reasoning trigger (literal text).
        llama2: render as a Llama-2 chat prompt: the question is the ``[INST]`` turn and the
            trigger is the assistant prefill, so stage 2 continues the assistant turn.
        system: optional system context for the Llama-2 form (literal text).
    """
    extract = ANSWER_TRIGGERS.get(answer_format, answer_format)
    if llama2:
        stage1 = llama2_prompt(
            "{question}",
            system=escape_braces(system) if system else None,
            prefill=escape_braces(trigger),
        )
    else:
        stage1 = f"Q: {{question}}\nA: {escape_braces(trigger)}"
    stage2 = f"{stage1} {{reasoning}}\n{escape_braces(extract)}"
    return ZeroShotCoT(
        reasoning=SafePromptTemplate.from_template(stage1),
        answer=SafePromptTemplate.from_template(stage2),
    )


def strip_calculator_notes(text: str) -> str:
    """Remove GSM8K calculator annotations: ``"2*3=<<2*3=6>>6"`` -> ``"2*3=6"``."""
    return _CALC_NOTE.sub("", text)


def gsm8k_final_answer(answer: str) -> str:
    """The number after ``####`` in a GSM8K answer, thousands separators removed."""
    m = _FINAL.search(answer)
    if not m:
        raise ValueError(f"No '#### <answer>' line in GSM8K answer: {answer[-80:]!r}")
    return m.group(1).replace(",", "").strip()


def gsm8k_answer_to_rationale(answer: str) -> str:
    """GSM8K worked solution -> CoT rationale ending in ``The answer is n.``"""
    final = gsm8k_final_answer(answer)
    body = _FINAL.sub("", strip_calculator_notes(answer)).strip()
    return f"{body}\nThe answer is {final}." if body else f"The answer is {final}."


def gsm8k_cot_examples(
    path: str | PathLike[str] | None = None, k: int | None = None, *, seed: int | None = None
) -> list[dict[str, str]]:
    """Few-shot CoT exemplars from GSM8K: ``{"question", "answer", "final_answer"}`` dicts.

    ``answer`` is the rationale from :func:`gsm8k_answer_to_rationale`; ``final_answer`` the
    number. Args: ``path`` (default: ``<data>/gsm8k/train.jsonl``), ``k`` (first ``k`` rows, or
    ``k`` rows sampled with ``seed`` when a seed is given; all rows when ``None``).
    """
    path = path or data_path("gsm8k", "train.jsonl")
    rows = list(read_jsonl(path, limit=None if seed is not None else k))
    if seed is not None and k is not None:
        rows = random.Random(seed).sample(rows, min(k, len(rows)))
    out = []
    for i, row in enumerate(rows):
        if "question" not in row or "answer" not in row:
            raise ValueError(f"{path}: row {i} lacks 'question'/'answer' keys: {sorted(row)}")
        out.append(
            {
                "question": row["question"].strip(),
                "answer": gsm8k_answer_to_rationale(row["answer"]),
                "final_answer": gsm8k_final_answer(row["answer"]),
            }
        )
    return out


def few_shot_cot_prompt(
    *,
    examples: list[dict[str, Any]] | None = None,
    example_selector: BaseExampleSelector | None = None,
    llama2: bool = False,
    system: str | None = None,
    prefix: str = "",
) -> BraceSafeFewShotPromptTemplate | Llama2FewShotPromptTemplate:
    """Few-shot CoT prompt over ``{"question", "answer"}`` exemplars (e.g. GSM8K rationales).

    String form: ``Q: {question}\\nA: {answer}`` blocks, then ``Q: {question}\\nA:``.
    ``llama2=True``: exemplars become earlier ``[INST]`` turns. Input variable: ``question``.
    """
    if llama2:
        return Llama2FewShotPromptTemplate(
            examples=examples,
            example_selector=example_selector,
            user_template="{question}",
            example_answer_template="{answer}",
            system=system,
        )
    return BraceSafeFewShotPromptTemplate(
        examples=examples,
        example_selector=example_selector,
        example_prompt=SafePromptTemplate.from_template("Q: {question}\nA: {answer}"),
        prefix=prefix,
        suffix="Q: {question}\nA:",
    )
