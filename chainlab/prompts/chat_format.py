"""Llama-2 chat formatting: ``<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST]``.

The exact format of Meta's Llama-2-chat models (and of the notebooks chainlab grew from):

* first turn: ``<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST]``
  (without a system context: ``<s>[INST] {user} [/INST]``);
* every answered turn: ``{user} [/INST] {answer} </s>`` followed by ``<s>[INST] `` for the next;
* an optional assistant *prefill* ("generation priming", e.g. ``"```python\\n"``) is appended after
  the last ``[/INST]`` so the model continues from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableLambda

BOS = "<s>"
EOS = "</s>"
B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"

__all__ = [
    "llama2_prompt",
    "llama2_prompt_from_messages",
    "chat_template_prompt",
    "llama2_formatter",
    "messages_to_turns",
]


def llama2_prompt(
    user: str,
    system: str | None = None,
    examples: Iterable[tuple[str, str]] = (),
    prefill: str | None = None,
) -> str:
    """Build a Llama-2 chat prompt.

    Args:
        user: the new user message.
        system: optional system context (persona, instructions), put in ``<<SYS>>`` of the first turn.
        examples: earlier (user, assistant) turns, e.g. few-shot demonstrations.
        prefill: optional start of the assistant's answer, appended after the last ``[/INST]``.

    Returns:
        The prompt string, starting with ``<s>[INST]`` and ending with ``[/INST]`` (or the prefill).

    Example:
        >>> llama2_prompt("Hi", system="Be brief.")
        '<s>[INST] <<SYS>>\\nBe brief.\\n<</SYS>>\\n\\nHi [/INST]'
    """
    turns = [(u, a) for u, a in examples] + [(user, None)]
    parts: list[str] = []
    for i, (u, a) in enumerate(turns):
        if i == 0 and system:
            u = f"{B_SYS}{system.strip()}{E_SYS}{u}"
        if a is None:
            parts.append(f"{BOS}{B_INST} {u.strip()} {E_INST}")
        else:
            parts.append(f"{BOS}{B_INST} {u.strip()} {E_INST} {a.strip()} {EOS}")
    text = "".join(parts)
    if prefill:
        text += f" {prefill}"
    return text


def messages_to_turns(
    messages: Sequence[BaseMessage],
) -> tuple[str | None, list[tuple[str, str]], str, str | None]:
    """Split LangChain messages into (system, answered turns, new user message, prefill).

    Accepted shape: an optional leading ``SystemMessage``, alternating ``HumanMessage``/``AIMessage``
    pairs, a final ``HumanMessage``, and optionally one trailing ``AIMessage`` used as the prefill.
    """
    msgs = list(messages)
    if not msgs:
        raise ValueError("No messages to format: give at least one HumanMessage.")
    system = None
    if isinstance(msgs[0], SystemMessage):
        system = _text(msgs[0])
        msgs = msgs[1:]
    prefill = None
    if msgs and isinstance(msgs[-1], AIMessage):
        prefill = _text(msgs[-1])
        msgs = msgs[:-1]
    if not msgs or not isinstance(msgs[-1], HumanMessage):
        raise ValueError(
            "The messages must end with a HumanMessage (optionally followed by one AIMessage "
            "used as the assistant prefill)."
        )
    turns: list[tuple[str, str]] = []
    body = msgs[:-1]
    if len(body) % 2:
        raise ValueError(
            "Earlier turns must alternate HumanMessage, AIMessage; got "
            + ", ".join(type(m).__name__ for m in body)
        )
    for h, a in zip(body[0::2], body[1::2], strict=True):
        if not isinstance(h, HumanMessage) or not isinstance(a, AIMessage):
            raise ValueError(
                f"Earlier turns must alternate HumanMessage, AIMessage; got "
                f"{type(h).__name__}, {type(a).__name__}"
            )
        turns.append((_text(h), _text(a)))
    return system, turns, _text(msgs[-1]), prefill


def llama2_prompt_from_messages(messages: Sequence[BaseMessage] | PromptValue) -> str:
    """Llama-2 chat prompt from LangChain messages (or a ``ChatPromptValue``).

    A trailing ``AIMessage`` is the assistant prefill.
    """
    if isinstance(messages, PromptValue):
        messages = messages.to_messages()
    system, turns, user, prefill = messages_to_turns(messages)
    return llama2_prompt(user, system=system, examples=turns, prefill=prefill)


def chat_template_prompt(
    tokenizer, messages: Sequence[BaseMessage] | PromptValue, prefill: str | None = None
) -> str:
    """Format messages with the tokenizer's own chat template (``tokenizer.chat_template``).

    Falls back to :func:`llama2_prompt_from_messages` when the tokenizer has no template.
    A trailing ``AIMessage`` (or ``prefill``) is appended after the generation prompt.
    """
    if isinstance(messages, PromptValue):
        messages = messages.to_messages()
    msgs = list(messages)
    if msgs and isinstance(msgs[-1], AIMessage):
        if prefill is not None:
            raise ValueError("Give the prefill either as a trailing AIMessage or as prefill=, not both.")
        prefill = _text(msgs[-1])
        msgs = msgs[:-1]
    if not getattr(tokenizer, "chat_template", None):
        text = llama2_prompt_from_messages(msgs)
        return f"{text} {prefill}" if prefill else text
    role = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}
    conv = []
    for m in msgs:
        r = next((v for k, v in role.items() if isinstance(m, k)), None)
        if r is None:
            raise ValueError(f"Unsupported message type for a chat template: {type(m).__name__}")
        conv.append({"role": r, "content": _text(m)})
    text = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    return f"{text} {prefill}" if prefill else text


def llama2_formatter(prefill: str | None = None) -> RunnableLambda:
    """A Runnable turning a ``ChatPromptValue`` / message list into a Llama-2 prompt string.

    Use it between a ``ChatPromptTemplate`` and an LLM: ``chat_prompt | llama2_formatter() | llm``.
    """

    def _fmt(value):
        if isinstance(value, str):
            return llama2_prompt(value, prefill=prefill)
        text = llama2_prompt_from_messages(value)
        return f"{text} {prefill}" if prefill else text

    return RunnableLambda(_fmt, name="llama2_formatter")


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(c if isinstance(c, str) else c.get("text", "") for c in content)
