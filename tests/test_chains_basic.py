"""direct, few_shot, chain_of_thought, least_to_most: prompts, batching, traces, usage, bad input."""

from __future__ import annotations

import pytest
from langchain_core.example_selectors import BaseExampleSelector
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from test_chains_fakes import RecordingLLM, game24_oracle, scripted

from chainlab.chains import (
    StrategyError,
    chain_of_thought,
    direct,
    few_shot,
    least_to_most,
)
from chainlab.llms.usage import Usage


class FirstExamples(BaseExampleSelector):
    """Selects the examples whose question shares a word with the input."""

    def __init__(self, examples):
        self.examples = examples

    def add_example(self, example):
        self.examples.append(example)

    def select_examples(self, input_variables):
        words = set(input_variables["question"].split())
        return [e for e in self.examples if words & set(e["question"].split())]


def test_direct_answer_trace_and_usage():
    llm = RecordingLLM(responder=scripted({"eggs": "Answer: $1,018.00"}))
    r = direct(llm, task="gsm8k").invoke({"question": "How many eggs?", "answer": "1018"})
    assert r.answer == "1018" and r.correct is True
    assert r["answer"] == "1018" and r.get("missing") is None
    [ev] = r.trace.llm_events()
    assert (
        ev.stage == "generate"
        and "How many eggs?" in ev.prompt
        and ev.completion == "Answer: $1,018.00"
    )
    assert isinstance(r.usage, Usage) and r.usage.calls == 1 and r.usage.prompt_tokens == 10
    assert r.extra["llm_calls"] == 1
    assert llm.calls[0]["kwargs"]["do_sample"] is False  # greedy


def test_direct_batch_sends_all_prompts_in_one_call_and_splits_usage():
    llm = RecordingLLM(responder=scripted({"one": "Answer: 1", "two": "Answer: 2", "three": "3"}))
    probs = [{"question": q, "answer": a} for q, a in [("one", "1"), ("two", "2"), ("three", "4")]]
    rs = direct(llm, task="gsm8k").batch(probs)
    assert llm.prompt_counts() == [3]
    assert [r.answer for r in rs] == ["1", "2", "3"]
    assert [r.correct for r in rs] == [True, True, False]
    assert sum(r.usage.prompt_tokens for r in rs) == 30  # the batch total, split exactly
    assert [r.trace.llm_events()[0].call for r in rs] == [0, 0, 0]


def test_direct_with_custom_prompts_and_string_input():
    llm = FakeListLLM(responses=["The answer is 7."])
    s = direct(llm, task="gsm8k", prompt=PromptTemplate.from_template("Q: {question} A:"))
    r = s.invoke("what is 3 + 4?")
    assert r.answer == "7" and r.correct is None  # no gold
    assert r.trace[0].prompt == "Q: what is 3 + 4? A:"
    chat = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    r = direct(FakeListLLM(responses=["7"]), task="gsm8k", prompt=chat).invoke("3 + 4?")
    assert r.trace[0].prompt.startswith("<s>[INST] <<SYS>>\nBe brief.")
    r = direct(FakeListLLM(responses=["7"]), prompt=lambda p: f"<<{p['question']}>>").invoke("x")
    assert r.trace[0].prompt == "<<x>>"


def test_unparsable_output_is_a_recorded_failure_not_an_exception():
    r = direct(FakeListLLM(responses=["I do not know"]), task="gsm8k").invoke(
        {"question": "q", "answer": "3"}
    )
    assert r.answer is None and r.correct is False
    assert r.trace[0].data["error"] == "no answer found in the completion"


def test_llm_error_raises_strategy_error_with_partial_trace():
    llm = RecordingLLM(responder=scripted({}, "Answer: 1"), fail_after=0)
    with pytest.raises(StrategyError) as info:
        direct(llm, task="gsm8k").invoke({"question": "q", "answer": "1"})
    err = info.value
    assert err.stage == "generate" and err.trace.stages() == ["error"]
    assert "fake LLM failure" in err.trace[0].data["error"]
    assert isinstance(err.__cause__, RuntimeError)


def test_composes_with_lcel_and_return_exceptions():
    llm = FakeListLLM(responses=["Answer: 5"])
    chain = RunnableLambda(lambda q: {"question": q, "answer": "5"}) | direct(llm, task="gsm8k")
    assert (chain | RunnableLambda(lambda r: r.correct)).invoke("q") is True
    bad = direct(RecordingLLM(responder=scripted({}), fail_after=0), task="gsm8k")
    out = bad.batch([{"question": "a"}, {"question": "b"}], return_exceptions=True)
    assert all(isinstance(e, StrategyError) for e in out)


def test_missing_llm_is_a_value_error():
    with pytest.raises(ValueError, match="needs an llm"):
        direct(None).invoke("q")


def test_game24_direct_scores_like_tot():
    llm = FakeListLLM(responses=["Answer: (5 * (10 - 4)) - 6 = 24", "Answer: 4 + 5 + 6 + 10 = 24"])
    s = direct(llm, task="game24")
    rs = s.batch(["4 5 6 10", "4 5 6 10"])
    assert [r.correct for r in rs] == [True, False]
    assert "Give only the answer." in rs[0].trace[0].prompt


# ------------------------------------------------------------------ few-shot


def test_few_shot_fixed_examples_become_chat_turns():
    llm = RecordingLLM(responder=scripted({}, "Answer: 9"))
    examples = [{"question": "2 + 2?", "answer": "Answer: 4"}, ("3 + 3?", "Answer: 6")]
    r = few_shot(llm, examples, task="gsm8k").invoke({"question": "4 + 5?", "answer": "9"})
    prompt = r.trace[0].prompt
    assert prompt.startswith(
        "<s>[INST] 2 + 2? [/INST] Answer: 4 </s><s>[INST] 3 + 3? [/INST] Answer: 6 </s>"
    )
    assert prompt.endswith("<s>[INST] 4 + 5? [/INST]") and r.correct


def test_few_shot_with_example_selector():
    sel = FirstExamples(
        [{"question": "apples cost 2", "answer": "2"}, {"question": "pears 3", "answer": "3"}]
    )
    r = few_shot(FakeListLLM(responses=["5"]), example_selector=sel, task="gsm8k").invoke(
        {"question": "how many pears", "answer": "5"}
    )
    assert "pears 3" in r.trace[0].prompt and "apples" not in r.trace[0].prompt


def test_few_shot_needs_examples():
    with pytest.raises(ValueError, match="examples"):
        few_shot(FakeListLLM(responses=["x"])).invoke("q")


# ------------------------------------------------------------------ chain of thought


def test_zero_shot_cot_two_stage_extraction_batched():
    llm = RecordingLLM(
        responder=scripted(
            {
                "Therefore": " 42.",
                "step by step.": " First 40, then 2 more, so 42 or maybe 41.",
            }
        )
    )
    s = chain_of_thought(llm, task="gsm8k")
    rs = s.batch([{"question": "a?", "answer": "42"}, {"question": "b?", "answer": "41"}])
    assert llm.prompt_counts() == [2, 2]  # reason for both, then extract for both
    r = rs[0]
    assert r.trace.stages() == ["reason", "extract"]
    reason, extract = r.trace.llm_events()
    assert reason.prompt.endswith("[/INST] Let's think step by step.")
    assert extract.prompt.endswith("so 42 or maybe 41.\nTherefore, the answer (arabic numerals) is")
    assert extract.parent == reason.id
    assert [x.answer for x in rs] == ["42", "42"] and [x.correct for x in rs] == [True, False]
    assert llm.calls[1]["kwargs"]["max_new_tokens"] == 32


def test_zero_shot_cot_falls_back_to_reasoning_when_extraction_has_no_answer():
    llm = FakeListLLM(responses=["so the total is 12", "I am not sure"])
    r = chain_of_thought(llm, task="gsm8k", mode="zero_shot").invoke(
        {"question": "q", "answer": "12"}
    )
    ext = r.trace.by_stage("extract")[0]
    assert ext.data["error"] and ext.data["fallback"] and r.answer == "12"


def test_few_shot_cot_uses_rationales():
    llm = FakeListLLM(responses=["3 apples and 4 more is 7. The answer is 7."])
    examples = [{"question": "1 + 1?", "solution": "One and one is two.\n#### 2"}]
    r = chain_of_thought(llm, task="gsm8k", examples=examples).invoke(
        {"question": "3 + 4?", "answer": "7"}
    )
    assert "One and one is two." in r.trace[0].prompt and r.trace.stages() == ["reason"]
    assert r.answer == "7"


def test_task_cot_for_game24():
    llm = RecordingLLM(responder=game24_oracle())
    r = chain_of_thought(llm, task="game24").invoke("4 5 6 10")
    assert "Combine two numbers per step" in r.trace[0].prompt
    assert r.correct is True and r.trace.stages() == ["reason"]


def test_cot_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        chain_of_thought(FakeListLLM(responses=["x"]), mode="nope").invoke("q")


# ------------------------------------------------------------------ least to most


def test_least_to_most_feeds_answers_forward_and_batches_by_step():
    llm = RecordingLLM(
        responder=scripted(
            {
                "Sub-questions:": "1. How many apples does Ann have?\n2. How many in total?",
                "Q: How many in total?": "Answer: 7",
                "Q: How many apples": "Ann has 3.",
            }
        )
    )
    probs = [
        {"question": "Ann has 3, Bob 4. Total?", "answer": "7"},
        {"question": "Other?", "answer": "7"},
    ]
    rs = least_to_most(llm, task="gsm8k").batch(probs)
    r = rs[0]
    assert r.trace.stages() == ["decompose", "solve", "solve", "solve", "answer"]
    third = r.trace.by_stage("solve")[2]
    assert "Q: How many apples does Ann have?\nA: Ann has 3." in third.prompt
    assert third.prompt.rstrip().endswith("Q: Ann has 3, Bob 4. Total? [/INST]")
    assert r.answer == "7" and r.correct
    assert llm.prompt_counts() == [2, 2, 2, 2]  # decompose, then one call per sub-question step


def test_least_to_most_without_subquestions_solves_directly():
    llm = FakeListLLM(responses=["", "Answer: 3"])
    r = least_to_most(llm, task="gsm8k").invoke({"question": "q?", "answer": "3"})
    assert r.trace.by_stage("decompose")[0].data["error"]
    assert r.trace.by_stage("decompose")[0].data["subquestions"] == ["q?"]
    assert r.answer == "3"
