"""Least-to-most prompting (Zhou et al., 2022): decompose, then solve sub-questions in order.

* :func:`decomposition_prompt` — input ``question``; the model lists sub-questions, one per line
  (read them back with :func:`parse_subquestions`).
* :func:`subquestion_prompt` — inputs ``question``, ``previous`` (earlier sub-question/answer
  pairs rendered by :func:`format_previous`) and ``subquestion``; answers the next sub-question
  with the earlier answers fed forward. The last sub-question should be the original question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chainlab.prompts.braces import SafePromptTemplate

__all__ = [
    "DECOMPOSE_TEMPLATE",
    "SOLVE_TEMPLATE",
    "decomposition_prompt",
    "subquestion_prompt",
    "format_previous",
    "parse_subquestions",
]

DECOMPOSE_TEMPLATE = (
    "Break the problem below into simpler sub-questions that, answered in order, lead to the "
    "answer. Write one sub-question per line, numbered, and make the last one the original "
    "question.\n\n"
    "Problem: {question}\n\n"
    "Sub-questions:\n"
)

SOLVE_TEMPLATE = (
    "Problem: {question}\n\n"
    "{previous}"
    "Q: {subquestion}\n"
    "A:"
)

_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•]|Q\d*[:.])\s*")


def decomposition_prompt() -> SafePromptTemplate:
    """Stage-1 prompt (input ``question``) asking for numbered sub-questions."""
    return SafePromptTemplate.from_template(DECOMPOSE_TEMPLATE)


def subquestion_prompt() -> SafePromptTemplate:
    """Stage-2 prompt (inputs ``question``, ``previous``, ``subquestion``)."""
    return SafePromptTemplate.from_template(SOLVE_TEMPLATE)


def format_previous(pairs: Iterable[tuple[str, str]]) -> str:
    """Render earlier (sub-question, answer) pairs as ``Q: ..\\nA: ..\\n\\n`` blocks ('' if none)."""
    return "".join(f"Q: {q.strip()}\nA: {a.strip()}\n\n" for q, a in pairs)


def parse_subquestions(text: str) -> list[str]:
    """Sub-questions from the decomposition output: one per non-empty line, numbering removed."""
    out = []
    for line in text.splitlines():
        line = _NUMBERED.sub("", line).strip()
        if line:
            out.append(line)
    return out
