"""Rendering tests for chainlab.prompts templates (no model needed)."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import BasePromptTemplate

from chainlab.prompts import (
    PERSONAS,
    TOT_OUTPUT_KEYS,
    MissingVariableError,
    Persona,
    SafePromptTemplate,
    data_path,
    decomposition_prompt,
    escape_braces,
    few_shot_chat_prompt,
    few_shot_cot_prompt,
    few_shot_prompt,
    format_previous,
    gsm8k_answer_to_rationale,
    gsm8k_cot_examples,
    gsm8k_final_answer,
    llama2_few_shot_prompt,
    parse_subquestions,
    parse_verdict,
    persona_chat_prompt,
    persona_prompt,
    product_review_prompt,
    strip_calculator_notes,
    subquestion_prompt,
    tot_prompts,
    verifier_prompt,
    zero_shot_cot_prompts,
)

BRACE_EXAMPLES = [
    {"question": 'Return {"a": 1} as JSON', "answer": '{"a": 1}'},
    {"question": "What is the set {x}?", "answer": "{x}"},
]


def _gsm8k_train():
    try:
        return data_path("gsm8k", "train.jsonl")
    except FileNotFoundError:
        pytest.skip("GSM8K data not found (set CHAINLAB_DATA)")


# ---------------------------------------------------------------- personas
def test_product_review_llama2_exact():
    p = product_review_prompt()
    assert isinstance(p, BasePromptTemplate)
    assert sorted(p.input_variables) == ["aspects", "product"]
    system = PERSONAS["satisfied_customer"].system
    assert p.format(product="kettle", aspects="speed, noise") == (
        f"<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n"
        "Write a short review of the kettle you bought recently. "
        "Mention these aspects: speed, noise. [/INST]"
    )


def test_persona_with_braces_and_prefill_exact():
    persona = Persona("json_bot", 'Always answer as JSON like {"ok": true}.')
    p = persona_prompt(persona, "Status of {service}?", prefill="{")
    assert p.input_variables == ["service"]
    assert p.format(service="db") == (
        '<s>[INST] <<SYS>>\nAlways answer as JSON like {"ok": true}.\n<</SYS>>\n\n'
        "Status of db? [/INST] {"
    )


def test_persona_chat_messages():
    msgs = product_review_prompt(chat=True).format_messages(product="lamp", aspects="light")
    assert [type(m) for m in msgs] == [SystemMessage, HumanMessage]
    assert msgs[0].content == PERSONAS["satisfied_customer"].system
    assert msgs[1].content == (
        "Write a short review of the lamp you bought recently. Mention these aspects: light."
    )
    assert persona_chat_prompt("math_tutor").input_variables == ["input"]


def test_unknown_persona():
    with pytest.raises(KeyError, match="satisfied_customer"):
        persona_prompt("nobody")


def test_personas_have_text():
    assert len(PERSONAS) >= 3
    assert all(p.system and p.name == k for k, p in PERSONAS.items())


# ---------------------------------------------------------------- few-shot
def test_few_shot_string_braces_verbatim():
    p = few_shot_prompt(examples=BRACE_EXAMPLES, prefix="Answer the questions.")
    assert p.input_variables == ["question"]
    assert p.format(question="And {y}?") == (
        "Answer the questions.\n\n"
        'Q: Return {"a": 1} as JSON\nA: {"a": 1}\n\n'
        "Q: What is the set {x}?\nA: {x}\n\n"
        "Q: And {y}?\nA:"
    )


def test_few_shot_chat_braces_verbatim():
    p = few_shot_chat_prompt(examples=BRACE_EXAMPLES, system="Use {JSON}.")
    msgs = p.format_messages(question="q?")
    assert [type(m) for m in msgs] == [
        SystemMessage, HumanMessage, AIMessage, HumanMessage, AIMessage, HumanMessage,
    ]
    assert [m.content for m in msgs] == [
        "Use {JSON}.", 'Return {"a": 1} as JSON', '{"a": 1}', "What is the set {x}?", "{x}", "q?",
    ]


def test_llama2_few_shot_exact():
    p = llama2_few_shot_prompt(examples=BRACE_EXAMPLES, system="Be exact.")
    assert p.input_variables == ["question"]
    assert p.format(question="{z}?") == (
        "<s>[INST] <<SYS>>\nBe exact.\n<</SYS>>\n\n"
        'Return {"a": 1} as JSON [/INST] {"a": 1} </s>'
        "<s>[INST] What is the set {x}? [/INST] {x} </s>"
        "<s>[INST] {z}? [/INST]"
    )


def test_llama2_few_shot_needs_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        llama2_few_shot_prompt()


def test_missing_variable_error_names_variable():
    p = few_shot_prompt(examples=BRACE_EXAMPLES)
    with pytest.raises(MissingVariableError) as err:
        p.format()
    msg = str(err.value)
    assert "'question'" in msg and "expected variables: ['question']" in msg
    assert isinstance(err.value, KeyError)

    tpl = SafePromptTemplate.from_template("{a} and {b}")
    with pytest.raises(KeyError, match=r"missing input variable\(s\) 'b'"):
        tpl.format(a=1)


def test_example_missing_field_named():
    p = few_shot_prompt(examples=[{"question": "q"}])
    with pytest.raises(MissingVariableError, match="Example 0.*'answer'"):
        p.format(question="x")


def test_escape_braces():
    assert escape_braces("{a}}") == "{{a}}}}"


# ---------------------------------------------------------------- chain of thought
def test_zero_shot_cot_two_stages_exact():
    cot = zero_shot_cot_prompts()
    assert cot.reasoning.input_variables == ["question"]
    assert sorted(cot.answer.input_variables) == ["question", "reasoning"]
    assert cot.reasoning.format(question="2+2?") == "Q: 2+2?\nA: Let's think step by step."
    stage2 = cot.answer.format(question="2+2?", reasoning="2 plus 2 is 4.")
    assert stage2 == (
        "Q: 2+2?\nA: Let's think step by step. 2 plus 2 is 4.\n"
        "Therefore, the answer (arabic numerals) is"
    )
    assert stage2.startswith(cot.reasoning.format(question="2+2?"))


def test_zero_shot_cot_llama2_exact():
    cot = zero_shot_cot_prompts("yes_no", llama2=True, system="Think.")
    assert cot.reasoning.format(question="Is 3 odd?") == (
        "<s>[INST] <<SYS>>\nThink.\n<</SYS>>\n\nIs 3 odd? [/INST] Let's think step by step."
    )
    assert cot.answer.format(question="Is 3 odd?", reasoning="3 = 2+1.").endswith(
        "[/INST] Let's think step by step. 3 = 2+1.\nTherefore, the answer (Yes or No) is"
    )


def test_gsm8k_rationale():
    ans = "He buys 2*3=<<2*3=6>>6 pens.\nThen 6+1=<<6+1=7>>7.\n#### 1,007"
    assert strip_calculator_notes(ans).startswith("He buys 2*3=6 pens.")
    assert gsm8k_final_answer(ans) == "1007"
    assert gsm8k_answer_to_rationale(ans) == "He buys 2*3=6 pens.\nThen 6+1=7.\nThe answer is 1007."
    with pytest.raises(ValueError, match="####"):
        gsm8k_final_answer("no final line")


def test_gsm8k_cot_examples_from_data():
    path = _gsm8k_train()
    exs = gsm8k_cot_examples(path, k=3)
    assert len(exs) == 3
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert exs[0]["question"] == first["question"]
    assert exs[0]["answer"].endswith(f"The answer is {gsm8k_final_answer(first['answer'])}.")
    assert all("<<" not in e["answer"] and "####" not in e["answer"] for e in exs)
    sampled = gsm8k_cot_examples(path, k=2, seed=1)
    assert len(sampled) == 2 and sampled == gsm8k_cot_examples(path, k=2, seed=1)


def test_few_shot_cot_prompt():
    exs = [{"question": "1+1?", "answer": "1+1=2.\nThe answer is 2."}]
    p = few_shot_cot_prompt(examples=exs)
    assert p.format(question="2+3?") == "Q: 1+1?\nA: 1+1=2.\nThe answer is 2.\n\nQ: 2+3?\nA:"
    l2 = few_shot_cot_prompt(examples=exs, llama2=True)
    assert l2.format(question="2+3?") == (
        "<s>[INST] 1+1? [/INST] 1+1=2.\nThe answer is 2. </s><s>[INST] 2+3? [/INST]"
    )


# ---------------------------------------------------------------- tree of thoughts
def test_tot_keys():
    tot = tot_prompts()
    assert TOT_OUTPUT_KEYS == ("solutions", "evaluations", "enhanced_reasoning", "ranked_solutions")
    got = [(sorted(s.input_variables), s.output_key) for s in tot.stages]
    assert got == [
        (["factors", "num_solutions", "problem"], "solutions"),
        (["factors", "problem", "solutions"], "evaluations"),
        (["evaluations"], "enhanced_reasoning"),
        (["enhanced_reasoning"], "ranked_solutions"),
    ]
    assert list(tot.as_dict()) == list(TOT_OUTPUT_KEYS)
    text = tot.generate.prompt.format(problem="P", factors="cost", num_solutions=3)
    assert "Propose 3 distinct solutions" in text and "cost" in text
    ev = tot.evaluate.prompt.format(problem="P", factors="f", solutions="1. a")
    assert all(w in ev for w in ("pros", "cons", "feasibility", "probability of success"))
    l2 = tot_prompts(llama2=True).rank.prompt.format(enhanced_reasoning="R")
    assert l2.startswith("<s>[INST] ") and l2.endswith(" [/INST]")


# ---------------------------------------------------------------- verifier, least-to-most
def test_verifier():
    p = verifier_prompt()
    assert sorted(p.input_variables) == ["question", "solution"]
    text = p.format(question="2+2?", solution="{4}")
    assert "Question: 2+2?" in text and "{4}" in text and "Verdict: incorrect" in text
    assert parse_verdict("Steps fine.\nVerdict: correct") is True
    assert parse_verdict("Verdict: **incorrect**") is False
    assert parse_verdict("This is incorrect.") is False
    assert parse_verdict("no idea") is None
    assert verifier_prompt(llama2=True, prefill="Verdict").format(question="q", solution="s").endswith(
        "[/INST] Verdict"
    )


def test_least_to_most():
    assert decomposition_prompt().input_variables == ["question"]
    assert parse_subquestions("1. How many apples?\n2) How many left?\n\n- Total?") == [
        "How many apples?", "How many left?", "Total?",
    ]
    prev = format_previous([("How many apples?", "5"), ("How many left?", "3")])
    text = subquestion_prompt().format(question="P", previous=prev, subquestion="Total?")
    assert text == (
        "Problem: P\n\nQ: How many apples?\nA: 5\n\nQ: How many left?\nA: 3\n\nQ: Total?\nA:"
    )
    assert subquestion_prompt().format(question="P", previous="", subquestion="S") == (
        "Problem: P\n\nQ: S\nA:"
    )
