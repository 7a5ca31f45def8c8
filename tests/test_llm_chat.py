"""LocalLLM in LangChain compositions and the chat-format path."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

from chainlab.prompts.chat_format import llama2_prompt


def test_prompt_template_pipe_llm_pipe_parser(tiny_llm):
    chain = PromptTemplate.from_template("Numbers: {nums}. Answer:") | tiny_llm | StrOutputParser()
    out = chain.invoke({"nums": "4 7 8 8"})
    assert isinstance(out, str)
    assert out == tiny_llm.invoke("Numbers: 4 7 8 8. Answer:")
    many = chain.batch([{"nums": "1 2 3 4"}, {"nums": "4 7 8 8"}])
    assert many[1] == out


def test_string_prompts_pass_through_unchanged(tiny_llm):
    llm = tiny_llm.model_copy(update={"chat_format": "llama2"})
    assert llm.invoke("hello world") == tiny_llm.model_copy(update={"chat_format": "none"}).invoke(
        "hello world"
    )


@pytest.mark.parametrize("fmt", ["llama2", "template"])
def test_chat_prompt_value_is_formatted(tiny_llm, fmt):
    llm = tiny_llm.model_copy(update={"chat_format": fmt})
    value = ChatPromptValue(messages=[SystemMessage("Be brief."), HumanMessage("hi")])
    expected_prompt = llama2_prompt("hi", system="Be brief.")  # the tiny tokenizer's template is Llama-2
    assert llm._convert_input(value).to_string() == expected_prompt
    assert llm.invoke(value) == tiny_llm.invoke(expected_prompt)
    chat = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    assert (chat | llm | StrOutputParser()).invoke({"q": "hi"}) == llm.invoke(value)
    # the prompt starts with the literal <s>: exactly one BOS is fed to the model
    result = llm.generate_prompt([value])
    n_prompt = result.llm_output["token_usage"]["prompt_tokens"]
    tok = llm.tokenizer
    assert n_prompt == len(tok(expected_prompt, add_special_tokens=False)["input_ids"])


def test_chat_format_none_uses_langchain_strings(tiny_llm):
    llm = tiny_llm.model_copy(update={"chat_format": "none"})
    value = ChatPromptValue(messages=[HumanMessage("hi")])
    assert llm._convert_input(value).to_string() == "Human: hi"


def test_load_llm_picks_template_for_tokenizers_with_one(tiny_llm):
    assert tiny_llm.chat_format == "template"
