"""``chainlab eval-tiny``: the skill scoring on scripted outputs, and a run on the shipped model."""

import json

import pytest
from langchain_core.language_models import FakeListLLM

from chainlab.cli import main
from chainlab.models.eval_skills import evaluate, evaluate_arith, value_states


def test_scoring_counts_exactly_what_it_claims():
    puzzle = (1, 2, 3, 4)
    states = value_states(2, seed=0)
    assert sorted(ok for _, ok in states) == [False, True]
    value_outs = ["sure" for _ in states]  # right on the solvable state only
    llm = FakeListLLM(
        responses=[
            # propose, sampled: one valid line of two (the second's operand 9 is not there)
            "1 + 2 = 3 (left: 3 3 4)\n1 + 9 = 10 (left: 3 4 10)",
            # propose, greedy: valid
            "2 * 3 = 6 (left: 1 4 6)",
            *value_outs,
            "Verdict: correct",  # judge on the right answer: right
            "Verdict: correct",  # judge on the corrupted answer: wrong
            "Answer: (1 + 2 + 3) * 4 = 24",  # io: solved
            "4 * 6 = 24\nAnswer: 4 * 6 = 24",  # cot: not a use of the four numbers
            "Answer: ((1 + 2) + 3) * 4 = 24",  # answer after the prefilled steps: right
        ]
    )
    res = evaluate(llm, [puzzle], n_states=2, samples=1, seed=0)
    assert res["propose_valid"] == 0.5 and res["propose_lines"] == 2
    assert res["propose_valid_greedy"] == 1.0
    assert res["value_accuracy"] == 0.5 and res["value_states"] == 2
    assert res["judge_accuracy"] == 0.5 and res["judge_items"] == 2
    assert res["io_success"] == 1.0 and res["cot_success"] == 0.0
    assert res["answer_success"] == 1.0 and res["answer_puzzles"] == 1


def test_answer_skill_prefills_a_whole_number_solution():
    """``answer`` prompts CoT with a right solution's three steps, all results whole numbers (the
    paths a search over whole-number proposals finds), and scores the Answer line written next; a
    puzzle with only fraction solutions is left out."""
    from langchain_core.callbacks import BaseCallbackHandler

    from chainlab.models.eval_skills import answer_paths
    from chainlab.tasks.game24_math import format_step

    class Prompts(BaseCallbackHandler):
        seen: list[str] = []

        def on_llm_start(self, serialized, prompts, **kwargs):
            self.seen.extend(prompts)

    items = answer_paths([(1, 2, 3, 4), (1, 5, 5, 5), (4, 5, 6, 10)], seed=0)
    assert [p for p, _ in items] == [(1, 2, 3, 4), (4, 5, 6, 10)]  # 5 * (5 - 1/5) needs a fraction
    for _, steps in items:
        assert len(steps) == 3 and steps[-1].result == 24
        assert all(s.result.denominator == 1 for s in steps)
    llm = FakeListLLM(responses=["Answer: ((1 + 2) + 3) * 4 = 24", "Answer: (10 - 4) * (5 - 6 + 5) = 24"],
                      callbacks=[Prompts()])  # fmt: skip
    res = evaluate(llm, [(1, 2, 3, 4), (1, 5, 5, 5), (4, 5, 6, 10)], seed=0, only=("answer",))
    assert res["answer_puzzles"] == 2 and res["answer_success"] == 0.5
    steps = items[0][1]
    assert Prompts.seen[0].endswith("[/INST] " + "".join(f"{format_step(s)}\n" for s in steps))


def test_restated_proposals_are_prompted_with_a_prefill():
    """``restate=True`` ends each propose prompt with the numbers; the completions' first lines
    (without the prefix) and later ones (with it) both count as proposals. ``judge_input_first``
    ends each judge prompt with the ``Input:`` line."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Prompts(BaseCallbackHandler):
        seen: list[str] = []

        def on_llm_start(self, serialized, prompts, **kwargs):
            self.seen.extend(prompts)

    puzzle = (1, 2, 3, 4)
    llm = FakeListLLM(
        responses=[" 1 + 2 = 3 (left: 3 3 4)\n1 2 3 4 | 1 + 9 = 10 (left: 3 4 10)",
                   " 2 * 3 = 6 (left: 1 4 6)", *["sure"] * 2, *["Verdict: correct"] * 2, "x", "x"],
        callbacks=[Prompts()],
    )  # fmt: skip
    res = evaluate(llm, [puzzle], n_states=2, samples=1, seed=0, restate=True, judge_input_first=True)
    assert res["propose_valid"] == 0.5 and res["propose_valid_greedy"] == 1.0
    assert sum(p.endswith("Input: 1 2 3 4 [/INST] 1 2 3 4 |") for p in Prompts.seen) == 2
    # judge prompts (a right and a corrupted answer) end with the Input line as the prefill
    assert sum(p.endswith(" = 24 [/INST] Input: 1 2 3 4\n") for p in Prompts.seen) == 2
    assert res["judge_accuracy"] == 0.5


def test_arith_scoring():
    # unparsable outputs score as failures
    llm = FakeListLLM(responses=["x"] * 6)
    res = evaluate_arith(llm, n=2, seed=0)
    assert res["steps_accuracy"] == res["direct_accuracy"] == res["verify_accuracy"] == 0.0
    from chainlab.tasks.arith import generate_problems

    # steps: right then wrong; direct: wrong twice; verify: 'correct' for the true solution
    # (item 0, right) and for the corrupted one (item 1, wrong)
    p0, _ = generate_problems(2, 0, split="test")
    llm = FakeListLLM(responses=[f"Answer: {p0.answer}", "Answer: -1", "Answer: -1", "Answer: -1",
                                 "Verdict: correct", "Verdict: correct"])  # fmt: skip
    res = evaluate_arith(llm, n=2, seed=0)
    assert res["steps_accuracy"] == 0.5 and res["direct_accuracy"] == 0.0
    assert res["verify_accuracy"] == 0.5


def test_eval_tiny_on_the_shipped_model(tmp_path, capsys):
    out = tmp_path / "skills.json"
    # 8 puzzles: the model's greedy lists drift to a neighbouring multiset on some puzzles (on 1 2 4 7
    # it writes the lines of 1 2 4 5 from the fifth on), so fewer would test one puzzle's luck
    args = ["eval-tiny", "--puzzles", "8", "--states", "4", "--samples", "1", "--out", str(out)]
    assert main(args) == 0
    res = json.loads(out.read_text())
    assert res["puzzles"] == 8 and res["value_states"] == 4 and res["judge_items"] == 16
    assert res["propose_lines"] > 2
    for key in ("propose_valid", "propose_valid_greedy", "value_accuracy", "judge_accuracy"):
        assert 0.0 <= res[key] <= 1.0, key
    assert res["propose_valid_greedy"] > 0.5  # the shipped model proposes mostly valid steps
    assert 0 < res["answer_puzzles"] <= 8 and 0.0 <= res["answer_success"] <= 1.0
    assert "propose_valid" in capsys.readouterr().out
    lo, hi = res["judge_ci95"]
    assert lo <= res["judge_accuracy"] <= hi
    assert res["judge_right_rejected"] + res["judge_wrong_accepted"] == round(16 * (1 - res["judge_accuracy"]))


def test_eval_tiny_logs_its_samples(tmp_path):
    log = tmp_path / "samples.jsonl"
    args = ["eval-tiny", "--puzzles", "2", "--states", "2", "--samples", "1", "--judge-answers", "2",
            "--log-samples", str(log), "--out", str(tmp_path / "s.json")]  # fmt: skip
    assert main(args) == 0
    res = json.loads((tmp_path / "s.json").read_text())
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["skill"] for r in recs] == ["value"] * 2 + ["judge"] * 8
    assert res["judge_items"] == 8
    assert sum(r["right"] for r in recs if r["skill"] == "judge") == round(8 * res["judge_accuracy"])
    assert all(r["output"] and r["expected"] in ("correct", "incorrect") for r in recs[2:])


def test_larger_test_sets_and_their_intervals():
    """``judge_items`` with one answer each draws what eval-tiny always drew; with K it gives K
    right and K corrupted distinct answers per puzzle. ``all_value_states`` scores the whole
    held-out pool (692 states, 90 solvable) and reports the balanced accuracy and intervals."""
    import random

    from chainlab.models.eval_skills import held_out_value_states, judge_items
    from chainlab.models.tiny_data import corrupt_expression, solution
    from chainlab.tasks.game24_math import check_answer

    puzzles = [(1, 2, 3, 4), (4, 6, 8, 8), (3, 3, 8, 8)]
    rng = random.Random(0)
    before = [x for p in puzzles for x in ((p, solution(p, rng)[1], True), (p, corrupt_expression(p, rng), False))]
    assert judge_items(puzzles, 1, random.Random(0)) == before
    items = judge_items(puzzles, 3, random.Random(0))
    assert len(items) == 18
    for p in puzzles:
        mine = [(e, ok) for q, e, ok in items if q == p]
        assert sum(ok for _, ok in mine) == 3
        assert all(check_answer(p, f"{e} = 24") is ok for e, ok in mine)
    # distinct where the puzzle allows: 1 2 3 4 has many solutions, 3 3 8 8 one
    assert len({e for q, e, _ in items if q == (1, 2, 3, 4)}) == 6

    pool = held_out_value_states()
    assert len(pool) == 692 and sum(ok for _, ok in pool) == 90
    llm = FakeListLLM(responses=["x", "x", *["sure"] * 692, "Verdict: correct", "Verdict: incorrect",
                                 "Verdict: correct", "Verdict: correct", "x", "x"])  # fmt: skip
    res = evaluate(llm, [(1, 2, 3, 4)], samples=1, all_value_states=True, judge_answers=2)
    assert res["value_states"] == 692 and res["value_accuracy"] == 90 / 692
    assert res["value_solvable_accuracy"] == 1.0 and res["value_unsolvable_accuracy"] == 0.0
    assert res["value_balanced_accuracy"] == 0.5
    lo, hi = res["value_ci95"]
    assert lo < 90 / 692 < hi
    # judge items: right, corrupted, right, corrupted -> right accepted, wrong rejected, right
    # accepted, wrong accepted
    assert res["judge_items"] == 4 and res["judge_accuracy"] == 0.75
    assert res["judge_right_rejected"] == 0 and res["judge_wrong_accepted"] == 1
    with pytest.raises(ValueError, match="judge-answers"):
        judge_items(puzzles, 0, random.Random(0))


def test_only_scores_the_named_skills_on_the_same_items():
    """``only=("judge",)`` asks the model only the judge prompts, and they are the items (and
    answers) a full run judges; ``--only`` names unknown skills and refuses arith."""
    from chainlab.models.eval_skills import GAME24_SKILLS, parse_only

    puzzle = (1, 2, 3, 4)
    llm = FakeListLLM(responses=["Verdict: correct", "Verdict: incorrect"])
    res = evaluate(llm, [puzzle], samples=1, seed=0, only=("judge",), judge_answers=1)
    assert res["skills"] == ["judge"] and res["judge_accuracy"] == 1.0 and res["judge_items"] == 2
    assert not any(k.startswith(("propose", "value", "io", "cot", "answer")) for k in res)
    full_log: list[dict] = []
    judge_log: list[dict] = []
    evaluate(FakeListLLM(responses=["x"] * 10), [puzzle], n_states=2, samples=1, seed=3, log=full_log)
    evaluate(FakeListLLM(responses=["x"] * 2), [puzzle], seed=3, only=("judge",), log=judge_log)
    assert [r["answer"] for r in judge_log] == [r["answer"] for r in full_log if r["skill"] == "judge"]

    assert parse_only(None) == GAME24_SKILLS
    assert parse_only("judge, value") == ("value", "judge")  # run order, not typed order
    with pytest.raises(ValueError, match="unknown skill.*jugde.*choose from propose"):
        parse_only("value,jugde")
    with pytest.raises(ValueError, match="does not apply to --skills arith"):
        main(["eval-tiny", "--skills", "arith", "--only", "judge"])


def test_judge_line_report_names_the_kind_of_line_that_fails(tmp_path):
    from chainlab.models.eval_skills import judge_layout, judge_line_kind, judge_line_report
    from chainlab.models.tiny_data import judge_answer

    assert [judge_line_kind(x) for x in ("3 / 1/4 = 12", "12 / 4 = 3", "Take 5: 4 6", "Input: 1 2 3 4",
                                         "Numbers: 1 2", "Same numbers: no", "Makes 24: yes", "Verdict: correct")] == [
        "fraction", "whole", "take", "input", "numbers", "same", "makes", None,
    ]  # fmt: skip
    items = [((2, 3, 6, 9), "(9 / (2 / 6)) - 3", True), ((4, 5, 6, 10), "5 + ((5 * 6) - 10)", False)]
    right = [judge_answer(p, e) for p, e, _ in items]
    rep = judge_line_report(items, right)
    assert set(rep["accuracy"].values()) == {1.0}
    assert rep["lines"] == {"fraction": 2, "whole": 4, "input": 2, "numbers": 2, "same": 2, "makes": 2}
    # the model's outputs of v13 on these items (eval-tiny --log-samples): a wrong fraction line,
    # then a wrong whole line carried from it; a miscopied worked line and Same numbers misread
    wrong = [
        "2 / 6 = 1/3\n9 / 1/3 = 9\n9 - 3 = 6\nNumbers: 2 3 6 9\nInput: 2 3 6 9\nSame numbers: yes\n"
        "Makes 24: no\nVerdict: incorrect",
        "5 * 6 = 30\n30 - 10 = 20\n4 + 20 = 24\nNumbers: 5 5 6 10\nInput: 4 5 6 10\nSame numbers: yes\n"
        "Makes 24: yes\nVerdict: correct",
    ]
    rep = judge_line_report(items, wrong)
    assert rep["accuracy"] == {"fraction": 0.5, "whole": 0.5, "input": 1.0, "numbers": 1.0, "same": 0.5, "makes": 0.0}
    cross = judge_line_report(items, [judge_answer(p, e, "cross-off") for p, e, _ in items], "cross-off")
    assert cross["lines"]["take"] == 6 and "numbers" not in cross["lines"] and cross["accuracy"]["take"] == 1.0
    steps = judge_line_report(items, [judge_answer(p, e, "steps") for p, e, _ in items], "steps")
    assert steps["lines"] == {"fraction": 2, "whole": 3, "missing": 1} and set(steps["accuracy"].values()) == {1.0}
    assert judge_line_kind("6 30 | 30 - 6 = 24 (left: 24)") == "whole"
    assert judge_line_kind("1/4 6 | 6 * 4 = 24 (left: 24)") == "whole"  # by its operation, not its list
    assert judge_line_kind("4 10 30 | 30 - 6: 6 missing") == "missing"
    assert judge_line_kind("2 + 4 = 6: (9 - (1/2)) * 8") == "whole"  # a rewrite line: by its operation
    rewrite = judge_line_report(items, [judge_answer(p, e, "rewrite") for p, e, _ in items], "rewrite")
    assert rewrite["lines"]["fraction"] == 2 and set(rewrite["accuracy"].values()) == {1.0}
    ordered = judge_line_report(items, [judge_answer(p, e, "ordered") for p, e, _ in items], "ordered")
    assert ordered["lines"]["written"] == 2 and set(ordered["accuracy"].values()) == {1.0}
    assert judge_line_kind("Written: 5 5 6 10") == "written"
    assert judge_line_report(items, ["", ""])["accuracy"]["same"] == 0.0  # missing lines count wrong
    assert judge_layout("chainlab-tiny") == "compared"  # v16 and v17 learnt the `compared` layout
    assert judge_layout(str(tmp_path)) == "plain"
    (tmp_path / "training_log.json").write_text(json.dumps({"config": {"judge_format": "cross-off"}}))
    assert judge_layout(str(tmp_path)) == "cross-off"  # as train-tiny saved it
    (tmp_path / "training_summary.json").write_text(json.dumps({"config": {"judge_format": "need-last"}}))
    assert judge_layout(str(tmp_path)) == "need-last"  # as install-tiny packaged it
