"""``chainlab eval-tiny``: the skill scoring on scripted outputs, and a run on the shipped model."""

import json

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
        ]
    )
    res = evaluate(llm, [puzzle], n_states=2, samples=1, seed=0)
    assert res["propose_valid"] == 0.5 and res["propose_lines"] == 2
    assert res["propose_valid_greedy"] == 1.0
    assert res["value_accuracy"] == 0.5 and res["value_states"] == 2
    assert res["judge_accuracy"] == 0.5 and res["judge_items"] == 2
    assert res["io_success"] == 1.0 and res["cot_success"] == 0.0


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
    assert "propose_valid" in capsys.readouterr().out
