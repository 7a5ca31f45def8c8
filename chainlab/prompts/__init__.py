"""Prompt templates and chat formatting for chainlab."""

from chainlab.prompts.chat_format import (
    chat_template_prompt,
    llama2_formatter,
    llama2_prompt,
    llama2_prompt_from_messages,
)

__all__ = [
    "chat_template_prompt",
    "llama2_formatter",
    "llama2_prompt",
    "llama2_prompt_from_messages",
]
