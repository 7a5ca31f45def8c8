"""Brace safety and clear missing-variable errors for LangChain prompt templates.

LangChain's f-string templates have two sharp edges this module removes:

* ``FewShotPromptTemplate`` formats each example, joins them with the prefix and suffix into
  one *template* and formats that again, so an example value holding ``{`` or ``}`` (JSON, code,
  sets) raises ``KeyError``. :class:`BraceSafeFewShotPromptTemplate` escapes the rendered
  examples before the second pass, so they come out verbatim.
* ``PromptTemplate.format`` with a missing variable raises a bare ``KeyError('x')``.
  :class:`SafePromptTemplate` (and the other classes here) raise
  :class:`MissingVariableError`, which names the missing variables and the expected ones.
  It subclasses ``KeyError``, so code catching ``KeyError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate, FewShotPromptTemplate, PromptTemplate
from langchain_core.prompts.string import DEFAULT_FORMATTER_MAPPING

__all__ = [
    "MissingVariableError",
    "escape_braces",
    "check_variables",
    "SafePromptTemplate",
    "SafeChatPromptTemplate",
    "BraceSafeFewShotPromptTemplate",
]


class MissingVariableError(KeyError):
    """A prompt was formatted without one or more of its input variables."""

    def __init__(self, template_name: str, missing: Iterable[str], expected: Iterable[str]):
        self.template_name = template_name
        self.missing = sorted(missing)
        self.expected = list(expected)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Human-readable description naming the missing and expected variables."""
        names = ", ".join(repr(m) for m in self.missing)
        return (
            f"{self.template_name} is missing input variable(s) {names}; "
            f"expected variables: {self.expected}. If a brace was meant literally, "
            f"escape it as '{{{{' / '}}}}' (or use chainlab.prompts.escape_braces)."
        )

    def __str__(self) -> str:  # KeyError's default __str__ shows the repr of the message
        return self.message


def escape_braces(text: str) -> str:
    """Escape ``{`` and ``}`` so an f-string template renders ``text`` verbatim."""
    return text.replace("{", "{{").replace("}", "}}")


def check_variables(
    template_name: str, expected: Iterable[str], given: Mapping[str, Any]
) -> None:
    """Raise :class:`MissingVariableError` if any ``expected`` variable is absent from ``given``."""
    expected = list(expected)
    missing = [v for v in expected if v not in given]
    if missing:
        raise MissingVariableError(template_name, missing, expected)


class SafePromptTemplate(PromptTemplate):
    """``PromptTemplate`` whose ``format`` names missing variables in its error.

    Build it like a ``PromptTemplate`` (``SafePromptTemplate.from_template("Q: {question}")``).
    """

    def format(self, **kwargs: Any) -> str:
        """Format the template; raise :class:`MissingVariableError` on a missing variable."""
        merged = self._merge_partial_and_user_variables(**kwargs)
        check_variables(type(self).__name__, self.input_variables, merged)
        return super().format(**kwargs)


class SafeChatPromptTemplate(ChatPromptTemplate):
    """``ChatPromptTemplate`` whose ``format_messages`` names missing variables in its error."""

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """Format to messages; raise :class:`MissingVariableError` on a missing variable."""
        merged = self._merge_partial_and_user_variables(**kwargs)
        check_variables(type(self).__name__, self.input_variables, merged)
        return super().format_messages(**kwargs)


class BraceSafeFewShotPromptTemplate(FewShotPromptTemplate):
    """``FewShotPromptTemplate`` that renders example values containing braces verbatim.

    Same fields as ``FewShotPromptTemplate`` (``examples`` *or* ``example_selector``,
    ``example_prompt``, ``prefix``, ``suffix``, ``example_separator``); the input variables are
    those of ``prefix`` + ``suffix``. Only the f-string format is supported.
    """

    def _render(self, examples: list[dict[str, Any]], kwargs: dict[str, Any]) -> str:
        if self.template_format != "f-string":
            raise ValueError("BraceSafeFewShotPromptTemplate supports template_format='f-string' only.")
        check_variables(type(self).__name__, self.input_variables, kwargs)
        needed = self.example_prompt.input_variables
        strings = []
        for i, ex in enumerate(examples):
            missing = [k for k in needed if k not in ex]
            if missing:
                raise MissingVariableError(f"Example {i} for the example prompt", missing, needed)
            strings.append(escape_braces(self.example_prompt.format(**{k: ex[k] for k in needed})))
        pieces = [self.prefix, *strings, self.suffix]
        template = self.example_separator.join(p for p in pieces if p)
        return DEFAULT_FORMATTER_MAPPING[self.template_format](template, **kwargs)

    def format(self, **kwargs: Any) -> str:
        """Format with examples rendered verbatim (braces included)."""
        kwargs = self._merge_partial_and_user_variables(**kwargs)
        return self._render(self._get_examples(**kwargs), kwargs)

    async def aformat(self, **kwargs: Any) -> str:
        """Async variant of :meth:`format`."""
        kwargs = self._merge_partial_and_user_variables(**kwargs)
        return self._render(await self._aget_examples(**kwargs), kwargs)
