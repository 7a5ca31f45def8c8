"""Few-shot prompts from a list of examples or an example selector, brace-safe.

Three renderings:

* :func:`few_shot_prompt` -> :class:`~chainlab.prompts.braces.BraceSafeFewShotPromptTemplate`
  (a ``FewShotPromptTemplate``): ``prefix``, one block per example, ``suffix``;
* :func:`few_shot_chat_prompt` -> ``ChatPromptTemplate`` with an optional system message, a
  ``FewShotChatMessagePromptTemplate`` (each example = human + ai message) and the new human turn;
* :class:`Llama2FewShotPromptTemplate` -> Llama-2 string where each example is an earlier answered
  ``[INST]`` turn.

Example values are never re-parsed as templates, so ``{"a": 1}`` or ``{x}`` render verbatim.
"""

from __future__ import annotations

from typing import Any

from langchain_core.example_selectors import BaseExampleSelector
from langchain_core.prompts import FewShotChatMessagePromptTemplate, PromptTemplate
from langchain_core.prompts.string import StringPromptTemplate, get_template_variables
from pydantic import model_validator

from chainlab.prompts.braces import (
    BraceSafeFewShotPromptTemplate,
    SafeChatPromptTemplate,
    SafePromptTemplate,
    check_variables,
    escape_braces,
)
from chainlab.prompts.chat_format import llama2_prompt

__all__ = [
    "few_shot_prompt",
    "few_shot_chat_prompt",
    "llama2_few_shot_prompt",
    "Llama2FewShotPromptTemplate",
]


def _as_template(template: str | PromptTemplate) -> PromptTemplate:
    if isinstance(template, PromptTemplate):
        return template
    return SafePromptTemplate.from_template(template)


def few_shot_prompt(
    *,
    examples: list[dict[str, Any]] | None = None,
    example_selector: BaseExampleSelector | None = None,
    example_template: str | PromptTemplate = "Q: {question}\nA: {answer}",
    suffix: str = "Q: {question}\nA:",
    prefix: str = "",
    example_separator: str = "\n\n",
) -> BraceSafeFewShotPromptTemplate:
    """String few-shot prompt (give exactly one of ``examples`` / ``example_selector``).

    Input variables: those of ``prefix`` + ``suffix`` (default: ``question``). The selector is
    called with the input variables, so name the suffix variable like the examples' input key.
    """
    return BraceSafeFewShotPromptTemplate(
        examples=examples,
        example_selector=example_selector,
        example_prompt=_as_template(example_template),
        prefix=prefix,
        suffix=suffix,
        example_separator=example_separator,
    )


def few_shot_chat_prompt(
    *,
    examples: list[dict[str, Any]] | None = None,
    example_selector: BaseExampleSelector | None = None,
    system: str | None = None,
    human_template: str = "{question}",
    ai_template: str = "{answer}",
    input_template: str | None = None,
) -> SafeChatPromptTemplate:
    """Chat few-shot prompt: ``[system?] + (human, ai) per example + human``.

    ``human_template``/``ai_template`` render each example; ``input_template`` (default:
    ``human_template``) is the new question. ``system`` is literal text (braces escaped).
    """
    example_prompt = SafeChatPromptTemplate.from_messages(
        [("human", human_template), ("ai", ai_template)]
    )
    shots = FewShotChatMessagePromptTemplate(
        examples=examples,
        example_selector=example_selector,
        example_prompt=example_prompt,
        input_variables=get_template_variables(input_template or human_template, "f-string"),
    )
    messages: list[Any] = []
    if system:
        messages.append(("system", escape_braces(system)))
    messages += [shots, ("human", input_template or human_template)]
    return SafeChatPromptTemplate.from_messages(messages)


class Llama2FewShotPromptTemplate(StringPromptTemplate):
    """Llama-2 chat prompt whose few-shot examples are earlier answered ``[INST]`` turns.

    ``<s>[INST] <<SYS>>..<</SYS>>\\n\\n{ex1 user} [/INST] {ex1 answer} </s><s>[INST] ... {user} [/INST]``

    Input variables: those of ``user_template``. Give ``examples`` or ``example_selector``.
    """

    user_template: str = "{question}"
    """f-string template of the new user turn (and, by default, of each example's user turn)."""
    example_user_template: str | None = None
    """Template of an example's user turn, formatted with the example (default: user_template)."""
    example_answer_template: str = "{answer}"
    """Template of an example's assistant turn, formatted with the example."""
    system: str | None = None
    """Literal system context (not a template)."""
    prefill: str | None = None
    """Literal start of the assistant answer, appended after the last ``[/INST]``."""
    examples: list[dict[str, Any]] | None = None
    example_selector: BaseExampleSelector | None = None

    model_config = {"arbitrary_types_allowed": True}

    @model_validator(mode="before")
    @classmethod
    def _fill_inputs(cls, values: dict[str, Any]) -> dict[str, Any]:
        if not values.get("input_variables"):
            values["input_variables"] = get_template_variables(
                values.get("user_template", "{question}"), "f-string"
            )
        if (values.get("examples") is None) == (values.get("example_selector") is None):
            raise ValueError("Give exactly one of 'examples' and 'example_selector'.")
        return values

    @property
    def _prompt_type(self) -> str:
        return "llama2_few_shot"

    def _turn(self, template: str, values: dict[str, Any], what: str) -> str:
        needed = get_template_variables(template, "f-string")
        check_variables(what, needed, values)
        return template.format(**{k: values[k] for k in needed})

    def _render(self, examples: list[dict[str, Any]], kwargs: dict[str, Any]) -> str:
        check_variables(type(self).__name__, self.input_variables, kwargs)
        ex_user = self.example_user_template or self.user_template
        turns = []
        for i, ex in enumerate(examples):
            turns.append(
                (
                    self._turn(ex_user, ex, f"Example {i}"),
                    self._turn(self.example_answer_template, ex, f"Example {i}"),
                )
            )
        user = self._turn(self.user_template, kwargs, type(self).__name__)
        return llama2_prompt(user, system=self.system, examples=turns, prefill=self.prefill)

    def format(self, **kwargs: Any) -> str:
        """Render the Llama-2 prompt with the selected examples."""
        kwargs = self._merge_partial_and_user_variables(**kwargs)
        if self.example_selector is not None:
            examples = self.example_selector.select_examples(kwargs)
        else:
            examples = list(self.examples or [])
        return self._render(examples, kwargs)

    async def aformat(self, **kwargs: Any) -> str:
        """Async variant of :meth:`format`."""
        kwargs = self._merge_partial_and_user_variables(**kwargs)
        if self.example_selector is not None:
            examples = await self.example_selector.aselect_examples(kwargs)
        else:
            examples = list(self.examples or [])
        return self._render(examples, kwargs)


def llama2_few_shot_prompt(
    *,
    examples: list[dict[str, Any]] | None = None,
    example_selector: BaseExampleSelector | None = None,
    user_template: str = "{question}",
    answer_template: str = "{answer}",
    system: str | None = None,
    prefill: str | None = None,
) -> Llama2FewShotPromptTemplate:
    """Build a :class:`Llama2FewShotPromptTemplate` (examples as earlier ``[INST]`` turns)."""
    return Llama2FewShotPromptTemplate(
        examples=examples,
        example_selector=example_selector,
        user_template=user_template,
        example_answer_template=answer_template,
        system=system,
        prefill=prefill,
    )
