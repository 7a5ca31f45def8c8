"""Verifier (LLM-as-judge) prompt: is a proposed worked solution to a question correct?

Input variables: ``question``, ``solution``. The model is asked to end with exactly one of
``Verdict: correct`` / ``Verdict: incorrect``; :func:`parse_verdict` reads it back.
"""

from __future__ import annotations

import re

from chainlab.prompts.braces import SafePromptTemplate, escape_braces
from chainlab.prompts.chat_format import llama2_prompt

__all__ = ["VERIFIER_TEMPLATE", "verifier_prompt", "parse_verdict"]

VERIFIER_TEMPLATE = (
    "You are checking a student's work.\n\n"
    "Question: {question}\n\n"
    "Proposed solution:\n{solution}\n\n"
    "Check every step and the final answer. Then finish with one line that is exactly "
    '"Verdict: correct" or "Verdict: incorrect".'
)

_VERDICT = re.compile(r"verdict\s*[:\-]?\s*\**\s*(incorrect|correct)\b", re.I)
_BARE = re.compile(r"\b(incorrect|correct)\b", re.I)


def verifier_prompt(
    *, llama2: bool = False, system: str | None = None, prefill: str | None = None
) -> SafePromptTemplate:
    """The verifier ``PromptTemplate`` (inputs ``question``, ``solution``).

    ``llama2=True`` wraps it in the Llama-2 chat format with an optional system context and
    assistant prefill (both literal text).
    """
    if not llama2:
        return SafePromptTemplate.from_template(VERIFIER_TEMPLATE)
    text = llama2_prompt(
        VERIFIER_TEMPLATE,
        system=escape_braces(system) if system else None,
        prefill=escape_braces(prefill) if prefill else None,
    )
    return SafePromptTemplate.from_template(text)


def parse_verdict(text: str) -> bool | None:
    """``True`` for correct, ``False`` for incorrect, ``None`` if no verdict is found.

    Prefers the last ``Verdict: ...`` line; otherwise the last bare ``correct``/``incorrect``.
    """
    hits = _VERDICT.findall(text) or _BARE.findall(text)
    if not hits:
        return None
    return hits[-1].lower() == "correct"
