"""Usage, UsageCallback and track_usage: with langchain_core fake LLMs and with LocalLLM."""

from __future__ import annotations

import asyncio
import threading

from langchain_core.language_models import FakeListChatModel, FakeListLLM
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableParallel

from chainlab.llms.usage import Usage, UsageCallback, track_usage


def test_usage_add_and_as_dict():
    a = Usage(calls=1, prompts=2, sequences=3, prompt_tokens=4, completion_tokens=5, seconds=0.5)
    b = Usage(calls=10, prompts=20, sequences=30, prompt_tokens=40, completion_tokens=50, seconds=1.0)
    c = a + b
    assert c == Usage(11, 22, 33, 44, 55, 1.5)
    assert c.as_dict() == {
        "calls": 11,
        "prompts": 22,
        "sequences": 33,
        "prompt_tokens": 44,
        "completion_tokens": 55,
        "seconds": 1.5,
        "total_tokens": 99,
    }
    assert sum([a, b], Usage()) == c


def test_track_usage_counts_fake_llm_calls_with_zero_tokens():
    llm = FakeListLLM(responses=["a", "b", "c", "d"])
    chain = PromptTemplate.from_template("Q: {q}") | llm
    with track_usage() as usage:
        chain.invoke({"q": "1"})
        chain.batch([{"q": "2"}, {"q": "3"}])
    assert (usage.calls, usage.prompts, usage.sequences) == (3, 3, 3)
    assert usage.prompt_tokens == usage.completion_tokens == 0
    assert usage.seconds >= 0
    llm.invoke("outside")  # not counted after the block
    assert usage.calls == 3


def test_track_usage_counts_chat_models_and_async_and_threads():
    chat = FakeListChatModel(responses=["x"] * 10)
    llm = FakeListLLM(responses=["y"] * 10)
    with track_usage() as usage:
        chat.invoke("hi")
        asyncio.run(llm.ainvoke("hi"))
        RunnableParallel(a=llm, b=chat).invoke("hi")  # runs in worker threads
    assert usage.calls == 4


def test_nested_blocks_both_count_and_explicit_callback():
    llm = FakeListLLM(responses=["y"] * 10)
    with track_usage() as outer:
        llm.invoke("1")
        with track_usage() as inner:
            llm.invoke("2")
            llm.invoke("3")
    assert (outer.calls, inner.calls) == (3, 2)
    cb = UsageCallback()
    llm.invoke("4", config={"callbacks": [cb]})
    assert cb.usage.calls == 1 and cb.usage.sequences == 1


def test_usage_callback_is_thread_safe():
    llm = FakeListLLM(responses=["z"] * 1000)
    cb = UsageCallback()

    def worker():
        for _ in range(25):
            llm.invoke("q", config={"callbacks": [cb]})

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cb.usage.calls == 100 and cb.usage.sequences == 100


def test_track_usage_with_local_llm_tokens(tiny_llm):
    prompts = ["hello world", "Use the numbers 4 7 8 8"]
    with track_usage() as usage:
        result = tiny_llm.generate(prompts, n=3, temperature=1.0, seed=0)
        tiny_llm.invoke("a")
    tu = result.llm_output["token_usage"]
    assert usage.calls == 3  # one LangChain run per prompt
    assert usage.prompts == 3
    assert usage.sequences == 7
    single = tiny_llm.generate(["a"]).llm_output["token_usage"]
    assert usage.prompt_tokens == tu["prompt_tokens"] + single["prompt_tokens"]
    assert usage.completion_tokens == tu["completion_tokens"] + single["completion_tokens"]
    assert usage.seconds > 0
