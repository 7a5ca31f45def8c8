"""Persona prompts: a system context plus a user prompt, as a Llama-2 string or chat messages.

Two renderings of the same persona:

* :func:`persona_prompt` -> a ``PromptTemplate`` producing the Llama-2 chat string
  ``<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST]`` (via
  :func:`chainlab.prompts.chat_format.llama2_prompt`);
* :func:`persona_chat_prompt` -> a ``ChatPromptTemplate`` ``[system, human]``.

The persona text is inserted verbatim (braces in it are escaped); the input variables are those of
``user_template`` (default: ``input``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chainlab.prompts.braces import SafeChatPromptTemplate, SafePromptTemplate, escape_braces
from chainlab.prompts.chat_format import llama2_prompt

__all__ = [
    "Persona",
    "PERSONAS",
    "PRODUCT_REVIEW_TEMPLATE",
    "get_persona",
    "persona_prompt",
    "persona_chat_prompt",
    "product_review_prompt",
]


@dataclass(frozen=True)
class Persona:
    """A named system context."""

    name: str
    system: str
    description: str = ""


PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona(
            "satisfied_customer",
            "You are a customer who is delighted with nearly everything you buy. You notice what "
            "works well, describe it warmly and concretely, and even when something is imperfect "
            "you mention it kindly and stay upbeat. You write in the first person, like a real "
            "shopper leaving a review.",
            "A perennially satisfied customer writing reviews.",
        ),
        Persona(
            "critical_reviewer",
            "You are a meticulous product reviewer. You test claims against everyday use, point out "
            "shortcomings plainly, and back every judgement with a specific observation.",
            "A demanding, evidence-driven reviewer.",
        ),
        Persona(
            "math_tutor",
            "You are a patient mathematics tutor for school students. You solve problems step by "
            "step, explain each step in plain words, and state the final answer clearly.",
            "A step-by-step math tutor.",
        ),
        Persona(
            "concise_assistant",
            "You are a helpful assistant. Answer accurately and as briefly as the question allows.",
            "A terse general assistant.",
        ),
    )
}

PRODUCT_REVIEW_TEMPLATE = (
    "Write a short review of the {product} you bought recently. "
    "Mention these aspects: {aspects}."
)
"""User template of the product-review use case; input variables ``product``, ``aspects``."""


def get_persona(persona: str | Persona) -> Persona:
    """Look a persona up by name (or pass a :class:`Persona` through)."""
    if isinstance(persona, Persona):
        return persona
    try:
        return PERSONAS[persona]
    except KeyError:
        raise KeyError(f"Unknown persona {persona!r}; known: {sorted(PERSONAS)}") from None


def persona_prompt(
    persona: str | Persona, user_template: str = "{input}", prefill: str | None = None
) -> SafePromptTemplate:
    """Llama-2 ``PromptTemplate``: the persona in ``<<SYS>>``, ``user_template`` as the turn.

    Args:
        persona: a key of :data:`PERSONAS` or a :class:`Persona`.
        user_template: f-string template of the user message; its variables are the prompt's
            input variables.
        prefill: optional literal start of the assistant answer (braces are escaped).
    """
    p = get_persona(persona)
    text = llama2_prompt(
        user_template,
        system=escape_braces(p.system),
        prefill=escape_braces(prefill) if prefill else None,
    )
    return SafePromptTemplate.from_template(text)


def persona_chat_prompt(persona: str | Persona, user_template: str = "{input}") -> SafeChatPromptTemplate:
    """``ChatPromptTemplate`` ``[("system", persona), ("human", user_template)]``."""
    p = get_persona(persona)
    return SafeChatPromptTemplate.from_messages(
        [("system", escape_braces(p.system)), ("human", user_template)]
    )


def product_review_prompt(chat: bool = False) -> SafePromptTemplate | SafeChatPromptTemplate:
    """The "perennially satisfied customer" writing a product review.

    Input variables: ``product``, ``aspects``. ``chat=True`` returns chat messages instead of the
    Llama-2 string template.
    """
    if chat:
        return persona_chat_prompt("satisfied_customer", PRODUCT_REVIEW_TEMPLATE)
    return persona_prompt("satisfied_customer", PRODUCT_REVIEW_TEMPLATE)
