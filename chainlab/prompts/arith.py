"""Arithmetic word-problem prompts in Llama-2 chat format, and the verdict parser.

Three prompt kinds (our own wording), each a complete prompt string ending with ``[/INST]``:

* ``direct`` answer directly:         completion ``Answer: 17``
* ``steps``  solve step by step:      completion ``3 * 4 = 12`` / ``5 + 12 = 17`` / ``Answer: 17``
* ``verify`` check a worked solution: each step recomputed (``3 * 4 = 12 | 12 | 12 - 12 = 0 | yes``), the answer
  against the last result, then ``Verdict: correct|incorrect`` (:func:`chainlab.tasks.arith.verify_check`)

The ``chainlab-tiny-arith`` adapter is trained on exactly these prompts
(see :mod:`chainlab.tasks.arith` for the problems and the completions).
"""

from __future__ import annotations

import re

from chainlab.prompts.chat_format import llama2_prompt

SYSTEM = "You are a careful solver of arithmetic word problems."

DIRECT_INSTRUCTION = "Solve the problem. Give only the answer."
STEPS_INSTRUCTION = "Solve the problem step by step, one operation per line, then write the answer."
VERIFY_INSTRUCTION = "Check the solution to the problem. Reply correct or incorrect."

__all__ = [
    "SYSTEM",
    "KINDS",
    "direct_user",
    "steps_user",
    "verify_user",
    "direct_prompt",
    "steps_prompt",
    "verify_prompt",
    "parse_verdict",
]

#: The prompt kinds, in the order used by :func:`chainlab.tasks.arith.write_jsonl`.
KINDS = ("steps", "direct", "verify")


def direct_user(question: str) -> str:
    """User message of the ``direct`` prompt."""
    return f"{DIRECT_INSTRUCTION}\nProblem: {question.strip()}"


def steps_user(question: str) -> str:
    """User message of the ``steps`` prompt."""
    return f"{STEPS_INSTRUCTION}\nProblem: {question.strip()}"


def verify_user(question: str, solution: str) -> str:
    """User message of the ``verify`` prompt."""
    return f"{VERIFY_INSTRUCTION}\nProblem: {question.strip()}\nSolution:\n{solution.strip()}"


def direct_prompt(question: str, system: str | None = SYSTEM) -> str:
    """Prompt asking for the answer only (completion: ``Answer: N``)."""
    return llama2_prompt(direct_user(question), system=system)


def steps_prompt(question: str, system: str | None = SYSTEM) -> str:
    """Prompt asking for a step-by-step solution (``a op b = c`` lines, then ``Answer: N``)."""
    return llama2_prompt(steps_user(question), system=system)


def verify_prompt(question: str, solution: str, system: str | None = SYSTEM) -> str:
    """Prompt asking whether ``solution`` solves ``question`` (completion: worked check, then
    ``Verdict: correct|incorrect``; read it with :func:`parse_verdict`)."""
    return llama2_prompt(verify_user(question, solution), system=system)


_VERDICT_RE = re.compile(r"(?i)\b(incorrect|correct|wrong|right)\b")


def parse_verdict(text: str) -> bool | None:
    """True for ``correct``, False for ``incorrect`` (first verdict word in ``text``), else None.

    The worked lines before the verdict say ``yes``/``no``, never a verdict word.

    ``right``/``wrong`` are accepted as synonyms.

    Example:
        >>> parse_verdict(" incorrect </s>")
        False
    """
    m = _VERDICT_RE.search(text)
    if not m:
        return None
    return m.group(1).lower() in ("correct", "right")
