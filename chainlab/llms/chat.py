"""Turn LangChain chat prompts into the prompt string a local model was trained on.

``LocalLLM(chat_format=...)``:

* ``"none"``: LangChain's default ``ChatPromptValue.to_string()`` ("Human: ...\\nAI: ...");
* ``"llama2"``: :func:`chainlab.prompts.chat_format.llama2_prompt_from_messages`;
* ``"template"``: the tokenizer's own chat template (Llama-2 format when it has none).

Plain string prompts always pass through unchanged.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.prompt_values import ChatPromptValue, PromptValue, StringPromptValue

from chainlab.prompts.chat_format import chat_template_prompt, llama2_prompt_from_messages

ChatFormat = Literal["none", "llama2", "template"]
CHAT_FORMATS: tuple[str, ...] = ("none", "llama2", "template")


def format_prompt_value(value: PromptValue, chat_format: str, tokenizer) -> PromptValue:
    """``value`` itself, or a ``StringPromptValue`` with the chat-formatted text of its messages."""
    if chat_format == "none" or not isinstance(value, ChatPromptValue):
        return value
    if chat_format == "llama2":
        return StringPromptValue(text=llama2_prompt_from_messages(value))
    if chat_format == "template":
        return StringPromptValue(text=chat_template_prompt(tokenizer, value))
    raise ValueError(f"chat_format must be one of {CHAT_FORMATS}; got {chat_format!r}.")


def default_chat_format(tokenizer, model_name: str = "") -> ChatFormat:
    """A sensible chat format for a model: its chat template, Llama-2 for Llama-2-chat, else none."""
    if getattr(tokenizer, "chat_template", None):
        return "template"
    name = model_name.lower().replace("_", "-")
    if "llama-2" in name and "chat" in name:
        return "llama2"
    return "none"
