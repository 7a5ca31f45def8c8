"""Token-budget example selector: keep examples while the prompt fits a token budget.

LangChain's ``LengthBasedExampleSelector`` counts words; this one counts real tokens with a
tokenizer and wraps any other selector (e.g. :class:`~chainlab.selectors.SemanticExampleSelector`),
keeping its order (most relevant first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.example_selectors import BaseExampleSelector
from langchain_core.prompts import PromptTemplate
from langchain_core.prompts.string import get_template_variables

__all__ = ["TokenCounter", "make_token_counter", "TokenBudgetExampleSelector"]

TokenCounter = Callable[[str], int]


def make_token_counter(tokenizer: Any) -> TokenCounter:
    """A ``text -> number of tokens`` function from a tokenizer.

    Accepts a Hugging Face ``transformers`` tokenizer (special tokens not counted), a
    ``tokenizers.Tokenizer`` (``encode`` returns an ``Encoding``), anything with ``encode(text)``
    returning a sequence (e.g. tiktoken), or a callable returning an ``int`` (or a sequence).
    """
    encode = getattr(tokenizer, "encode", None)
    if callable(encode):

        def count(text: str) -> int:
            try:
                out = encode(text, add_special_tokens=False)
            except TypeError:
                out = encode(text)
            ids = getattr(out, "ids", out)
            return len(ids)

        return count
    if callable(tokenizer):

        def count_callable(text: str) -> int:
            out = tokenizer(text)
            return out if isinstance(out, int) else len(out)

        return count_callable
    raise TypeError(
        f"Cannot count tokens with a {type(tokenizer).__name__}: give an object with encode(), "
        "a Hugging Face tokenizer, or a callable text -> token count."
    )


class TokenBudgetExampleSelector(BaseExampleSelector):
    """Take the wrapped selector's examples, in order, while the prompt stays within budget.

    The measured text is ``separator.join(formatted examples + [rest])`` where ``rest`` is
    ``rest_template`` formatted with the input variables (e.g. the prompt's prefix + suffix), or
    the input values joined by newlines when no template is given. Selection stops at the first
    example that would push the count above ``max_tokens - reserved_tokens`` (or skips it and tries
    the next ones with ``skip_oversized=True``).

    Args:
        selector: the selector proposing examples (most relevant first).
        example_prompt: ``PromptTemplate`` (or template string) rendering one example.
        max_tokens: the token budget.
        tokenizer: see :func:`make_token_counter`.
        example_separator: separator between examples (match the few-shot prompt's).
        rest_template: the non-example part of the prompt.
        reserved_tokens: tokens kept free (e.g. for the generation).
        skip_oversized: skip an example that does not fit instead of stopping.
    """

    def __init__(
        self,
        selector: BaseExampleSelector,
        example_prompt: PromptTemplate | str,
        max_tokens: int,
        tokenizer: Any,
        *,
        example_separator: str = "\n\n",
        rest_template: PromptTemplate | str | None = None,
        reserved_tokens: int = 0,
        skip_oversized: bool = False,
    ) -> None:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        self.selector = selector
        self.example_prompt = (
            example_prompt
            if isinstance(example_prompt, PromptTemplate)
            else PromptTemplate.from_template(example_prompt)
        )
        self.max_tokens = max_tokens
        self.count_tokens = make_token_counter(tokenizer)
        self.example_separator = example_separator
        self.rest_template = rest_template
        self.reserved_tokens = reserved_tokens
        self.skip_oversized = skip_oversized

    def add_example(self, example: dict[str, Any]) -> Any:
        """Add an example to the wrapped selector."""
        return self.selector.add_example(example)

    def _rest(self, input_variables: dict[str, Any]) -> str:
        tpl = self.rest_template
        if tpl is None:
            return "\n".join(str(v) for v in input_variables.values())
        if isinstance(tpl, PromptTemplate):
            return tpl.format(**{k: input_variables.get(k, "") for k in tpl.input_variables})
        names = get_template_variables(tpl, "f-string")
        return tpl.format(**{k: input_variables.get(k, "") for k in names})

    def format_example(self, example: dict[str, Any]) -> str:
        """Render one example with ``example_prompt``."""
        return self.example_prompt.format(
            **{k: example[k] for k in self.example_prompt.input_variables}
        )

    def prompt_tokens(self, examples: Sequence[dict[str, Any]], input_variables: dict[str, Any]) -> int:
        """Token count of the measured text for these examples and inputs."""
        pieces = [self.format_example(e) for e in examples] + [self._rest(input_variables)]
        return self.count_tokens(self.example_separator.join(p for p in pieces if p))

    def select_examples(self, input_variables: dict[str, Any]) -> list[dict[str, Any]]:
        """The wrapped selector's examples that fit the budget, in its order."""
        budget = self.max_tokens - self.reserved_tokens
        chosen: list[dict[str, Any]] = []
        rest = self._rest(input_variables)
        pieces: list[str] = []
        for ex in self.selector.select_examples(input_variables):
            trial = [*pieces, self.format_example(ex)]
            text = self.example_separator.join(p for p in [*trial, rest] if p)
            if self.count_tokens(text) <= budget:
                chosen.append(ex)
                pieces = trial
            elif not self.skip_oversized:
                break
        return chosen
