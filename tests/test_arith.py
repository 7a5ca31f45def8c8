"""The synthetic arithmetic word problems (chainlab.tasks.arith) and their prompts."""

from __future__ import annotations

import json
import random

import pytest

from chainlab.prompts.arith import (
    SYSTEM,
    direct_prompt,
    parse_verdict,
    steps_prompt,
    verify_prompt,
)
from chainlab.tasks.arith import (
    NAMES,
    OBJECTS,
    TEMPLATE_IDS,
    ArithProblem,
    apply_op,
    check_steps,
    corpus_sample,
    corrupt_solution,
    direct_solution,
    evaluate_steps,
    generate_problems,
    parse_answer,
    parse_steps,
    read_jsonl,
    sft_records,
    split_of,
    step_by_step_solution,
    verify_check,
    write_jsonl,
)


@pytest.fixture(scope="module")
def train_set() -> list[ArithProblem]:
    return generate_problems(2000, seed=0)


@pytest.fixture(scope="module")
def test_set() -> list[ArithProblem]:
    return generate_problems(500, seed=0, split="test")


def test_deterministic_per_seed():
    assert generate_problems(50, seed=3) == generate_problems(50, seed=3)
    assert generate_problems(50, seed=3) != generate_problems(50, seed=4)
    assert generate_problems(20, 1, split="test") == generate_problems(20, 1, split="test")


def test_train_and_test_are_disjoint(train_set, test_set):
    assert {p.key for p in train_set}.isdisjoint({p.key for p in test_set})
    assert {p.question for p in train_set}.isdisjoint({p.question for p in test_set})
    assert all(split_of(p.template, p.numbers) == "train" for p in train_set)
    assert all(split_of(p.template, p.numbers) == "test" for p in test_set)
    # a different seed of the test split is still disjoint from train
    other = generate_problems(300, seed=7, split="test")
    assert {p.key for p in train_set}.isdisjoint({p.key for p in other})


def test_problems_are_distinct_and_cover_templates(train_set):
    assert len({p.question for p in train_set}) == len(train_set)
    assert {p.template for p in train_set} == set(TEMPLATE_IDS)


def test_every_step_is_right_and_integer(train_set, test_set):
    for p in [*train_set, *test_set]:
        assert 2 <= len(p.steps) <= 3
        for a, op, b, r in p.steps:
            assert all(isinstance(x, int) for x in (a, b, r))
            assert apply_op(a, op, b) == r
            assert 1 <= r <= 400
        assert p.answer == p.steps[-1][3]
        # the question's numbers are the ones written in it, all 1..200
        for n in p.numbers:
            assert str(n) in p.question
        # every question operand of a step appears in the question
        results = {s[3] for s in p.steps}
        for a, _, b, _ in p.steps:
            assert a in p.numbers or a in results
            assert b in p.numbers or b in results


def test_solutions_parse_back(train_set):
    for p in train_set[:300]:
        sol = step_by_step_solution(p)
        assert parse_answer(sol) == p.answer
        assert parse_steps(sol) == list(p.steps)
        assert check_steps(sol)
        assert sol.splitlines()[-1] == f"Answer: {p.answer}"
        assert parse_answer(direct_solution(p)) == p.answer


def test_step_format_example():
    p = ArithProblem("q", ((3, "*", 4, 12), (5, "+", 12, 17)), 17, "t1", (3, 4, 5))
    assert step_by_step_solution(p) == "3 * 4 = 12\n5 + 12 = 17\nAnswer: 17"
    assert direct_solution(p) == "Answer: 17"


def test_corruptions_are_really_wrong(train_set):
    rng = random.Random(0)
    for p in train_set[:500]:
        bad = corrupt_solution(p, rng)
        assert bad != step_by_step_solution(p)
        assert not check_steps(bad) or parse_answer(bad) != p.answer
        assert parse_answer(bad) is not None
        # exactly one thing is wrong: one wrong step, or only the answer line
        steps = parse_steps(bad)
        wrong = [s for s in steps if apply_op(s[0], s[1], s[2]) != s[3]]
        if wrong:
            assert len(wrong) == 1
            assert parse_answer(bad) == steps[-1][3] != p.answer
        else:
            assert steps == list(p.steps) and parse_answer(bad) != p.answer


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Answer: 17", 17),
        ("2 + 3 = 5\nAnswer: 5 </s>", 5),
        ("the answer is 42.", 42),
        ("answer:-3", -3),
        ("no number here", None),
        ("Answer: x", None),
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("correct", True), (" incorrect </s>", False), ("Incorrect.", False), ("maybe", None)],
)
def test_parse_verdict(text, expected):
    assert parse_verdict(text) is expected


def test_prompts_are_llama2_formatted():
    q = "Ann has 3 apples. How many?"
    for prompt in (direct_prompt(q), steps_prompt(q), verify_prompt(q, "1 + 2 = 3\nAnswer: 3")):
        assert prompt.startswith(f"<s>[INST] <<SYS>>\n{SYSTEM}\n<</SYS>>\n\n")
        assert prompt.endswith(" [/INST]")
        assert q in prompt
    assert "Solution:\n1 + 2 = 3\nAnswer: 3 [/INST]" in verify_prompt(q, "1 + 2 = 3\nAnswer: 3")
    assert direct_prompt(q) != steps_prompt(q)


def test_jsonl_roundtrip(tmp_path, train_set):
    probs = train_set[:40]
    path = write_jsonl(probs, tmp_path / "d" / "arith.jsonl", seed=1)
    recs = read_jsonl(path)
    assert len(recs) == 3 * len(probs)
    assert recs == sft_records(probs, seed=1)
    by_kind: dict[str, list[dict]] = {}
    for r in recs:
        assert set(r) >= {"prompt", "completion"}
        assert r["prompt"].startswith("<s>[INST]") and r["prompt"].endswith("[/INST]")
        by_kind.setdefault(r["kind"], []).append(r)
    assert [r["completion"] for r in by_kind["steps"]] == [step_by_step_solution(p) for p in probs]
    assert [r["completion"] for r in by_kind["direct"]] == [direct_solution(p) for p in probs]
    verdicts = [r["completion"] for r in by_kind["verify"]]
    assert {v.splitlines()[-1] for v in verdicts} == {"Verdict: correct", "Verdict: incorrect"}
    for p, r in zip(probs, by_kind["verify"], strict=True):
        sol = r["prompt"].split("Solution:\n", 1)[1].rsplit(" [/INST]", 1)[0]
        assert r["completion"] == verify_check(sol)
        assert (sol == step_by_step_solution(p)) == (r["completion"].endswith(" correct"))
    # every line is standalone JSON
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines)


def test_weighted_kind_mix(train_set):
    recs = sft_records(train_set[:300], {"steps": 0.6, "direct": 0.2, "verify": 0.2}, seed=0)
    assert len(recs) == 300
    counts = {k: sum(r["kind"] == k for r in recs) for k in ("steps", "direct", "verify")}
    assert counts["steps"] > counts["direct"] > 20 and counts["verify"] > 20
    with pytest.raises(ValueError, match="Unknown kinds"):
        sft_records(train_set[:3], ("steps", "poem"))


def test_corpus_sample_is_stable_and_covers_vocabulary():
    texts = corpus_sample(200, seed=0)
    assert len(texts) == 200 and texts == corpus_sample(200, seed=0)
    assert corpus_sample(50, seed=0) == texts[:50]
    joined = " ".join(texts)
    for word in [*NAMES, *OBJECTS, "correct", "incorrect", "Answer:", "[INST]", "</s>"]:
        assert word in joined
    for phrase in ("times as many", "groups of", "dollars each", "fewer", "on the table"):
        assert phrase in joined


def test_evaluate_steps_with_an_oracle(test_set):
    answers = {steps_prompt(p.question): step_by_step_solution(p) for p in test_set[:20]}
    assert evaluate_steps(lambda prompt: answers[prompt], test_set[:20]) == 1.0
    assert evaluate_steps(lambda prompt: "Answer: -1", test_set[:20]) == 0.0
    assert evaluate_steps(lambda prompt: "Answer: 0", test_set[:20], kind="direct") == 0.0


def test_errors():
    with pytest.raises(ValueError, match="split"):
        generate_problems(1, split="dev")
    with pytest.raises(ValueError, match="Unknown template"):
        generate_problems(1, templates=["t99"])


def test_verify_check_recomputes_every_step():
    assert verify_check("3 * 4 = 12\n5 + 12 = 17\nAnswer: 17").splitlines() == [
        "3 * 4 = 12 | 12 | 12 - 12 = 0 | yes",
        "5 + 12 = 17 | 17 | 17 - 17 = 0 | yes",
        "Answer: 17 | 17 | 17 - 17 = 0 | yes",
        "Verdict: correct",
    ]
    assert verify_check("3 * 4 = 14\n5 + 14 = 19\nAnswer: 19").splitlines() == [
        "3 * 4 = 12 | 14 | 14 - 12 = 2 | no",
        "5 + 14 = 19 | 19 | 19 - 19 = 0 | yes",
        "Answer: 19 | 19 | 19 - 19 = 0 | yes",
        "Verdict: incorrect",
    ]
    assert verify_check("3 * 4 = 12\nAnswer: 13").endswith(
        "Answer: 13 | 12 | 13 - 12 = 1 | no\nVerdict: incorrect"
    )
    assert verify_check("Answer: 5").splitlines() == [
        "Answer: 5 | none | none | no",
        "Verdict: incorrect",
    ]
    assert verify_check("7 / 2 = 3\nAnswer: 3").startswith("7 / 2 = none | 3 | none | no")
    assert parse_verdict(verify_check("3 * 4 = 12\nAnswer: 12")) is True


def test_verify_check_never_says_correct_for_a_corrupted_solution(train_set):
    rng = random.Random(0)
    for p in train_set[:300]:
        assert verify_check(step_by_step_solution(p)).endswith("Verdict: correct")
        assert verify_check(corrupt_solution(p, rng)).endswith("Verdict: incorrect")
