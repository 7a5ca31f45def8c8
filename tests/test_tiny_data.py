"""Training data of chainlab-tiny: format, loss spans, and the held-out protocol."""

import random
import re
from fractions import Fraction

import pytest

from chainlab.models import tiny_data as D
from chainlab.prompts import game24 as P
from chainlab.tasks.game24_math import (
    check_answer,
    evaluate_expression,
    expression_numbers,
    format_step,
    is_solvable,
    parse_numbers,
    solution_paths,
)


@pytest.fixture(scope="module")
def sample():
    return list(D.iter_examples(250, seed=0))


def test_reproducible(sample):
    again = list(D.iter_examples(50, seed=0))
    assert [e.text() for e in again] == [e.text() for e in sample[:50]]
    assert [e.text() for e in D.iter_examples(5, seed=1)] != [e.text() for e in sample[:5]]


def test_every_skill_and_format_present(sample):
    assert {e.skill for e in sample} == set(D.DEFAULT_MIX) == set(D.SKILLS) - {"calc", "lists"}  # opt-in drills
    for e in sample:
        text = e.text()
        assert text.startswith("<s>[INST] ") and text.endswith(" </s>")
        for a, b in e.answer_spans():
            assert text[a:b].startswith(" ") and text[a:b].endswith(" </s>")


def test_answers_are_right(sample):
    for e in sample:
        user, answer = e.turns[-1]
        nums = user.split("Input: ")[1].splitlines()[0]
        if e.skill in ("io", "cot"):
            assert check_answer(nums, answer.splitlines()[-1])
        if e.skill == "cot":
            state = nums
            for line in answer.splitlines()[:-1]:
                step = P.parse_step_line(line, state)
                assert step is not None, line
                state = step.left
        if e.skill == "propose":
            for line in answer.splitlines():
                assert P.parse_step_line(line, nums) is not None, line
        if e.skill == "value":
            assert answer.splitlines()[-1] in ("sure", "impossible")
            assert (answer.splitlines()[-1] == "sure") == is_solvable(P_numbers(nums))
            assert P.parse_value(answer) == answer.splitlines()[-1]
        if e.skill == "judge":
            expr = user.split("Answer: ")[1].split("=")[0]
            verdict = P.parse_judge(answer)
            assert verdict == check_answer(nums, expr)
            lines = answer.splitlines()
            assert lines[-6].split(" = ")[-1] == _fmt(evaluate_expression(expr))
            assert lines[-4] == f"Input: {nums}"
            assert lines[-3] == f"Same numbers: {'yes' if _same(lines[-5], lines[-4]) else 'no'}"
            assert lines[-2] == f"Makes 24: {'yes' if evaluate_expression(expr) == 24 else 'no'}"
            assert verdict == (lines[-3].endswith("yes") and lines[-2].endswith("yes"))


def P_numbers(text):
    from chainlab.tasks.game24_math import parse_numbers

    return parse_numbers(text)


def _fmt(x):
    from chainlab.tasks.game24_math import format_number

    return format_number(x)


def test_value_set_is_balanced(sample):
    vals = [e.turns[-1][1].splitlines()[-1] for e in sample if e.skill == "value"]
    assert 0.35 < vals.count("sure") / len(vals) < 0.65


def test_held_out_protocol_against_24_csv(sample):
    """No 4-number multiset of 24.csv is a 4-number start of any training example."""
    if D.default_data_dir() is None:
        pytest.skip("24.csv not found (set CHAINLAB_DATA)")
    held_out = {tuple(sorted(p)) for p in D.load_24_csv()}
    assert len(held_out) == 1362
    more = list(D.iter_examples(600, seed=0))  # the first examples of the shipped model's data
    for ex in more:
        for start in D.example_starts(ex):
            assert tuple(int(x) for x in start) not in held_out, ex.text()
            assert D.is_training_start(start)


def test_value_holdout_bucket_is_never_trained(sample):
    for e in sample:
        if e.skill == "value":
            nums = P_numbers(e.turns[-1][0].split("Input: ")[1])
            if len(nums) == 3:
                assert D.holdout_bucket(nums) != 0


def test_corruptions_are_wrong():
    rng = random.Random(3)
    for _ in range(40):
        nums = D.random_start(rng, solvable=True)
        assert not check_answer(nums, D.corrupt_expression(nums, rng))


def test_value_check_is_exact_on_whole_states():
    """The worked check (one number against the results of the other two) decides solvability."""
    rng = random.Random(5)
    for _ in range(300):
        nums = [rng.randint(1, 13) for _ in range(4)]
        state = rng.choice(D.whole_moves(nums)).left
        lines, ok = D.value_check(state)
        assert ok == is_solvable(state)
        assert lines[-1].endswith("yes" if ok else "no")


def _same(numbers_line: str, input_line: str) -> bool:
    return sorted(numbers_line.split(":")[1].split()) == sorted(input_line.split(":")[1].split())


def test_value_check_marks_the_matching_result():
    """A pair result among the needed values carries the mark; a line says yes exactly then."""
    assert D.value_answer((10, 12, 20)).splitlines() == [
        "10: need 14 34 240 | 12 20 -> 32 8 240! | yes",
        "sure",
    ]
    assert (
        D.value_answer((2, 2, 20)).splitlines()[0]
        == "2: need 12 22 26 48 | 2 20 -> 22! 18 40 10 | yes"
    )
    rng = random.Random(3)
    for _ in range(200):
        state = D.random_state(rng, 3, solvable=rng.random() < 0.5)
        for line in D.value_check(state)[0]:
            assert line.endswith("yes") == (D.MATCH in line)


def test_value_check_lines():
    assert D.value_answer((2, 12)) == "2: need 12 22 26 48 | 12! | yes\nsure"
    assert D.value_answer((4, 6, 10)).splitlines() == [
        "4: need 6 20 28 96 | 6 10 -> 16 4 60 | no",
        "6: need 4 18 30 144 | 4 10 -> 14 6 40 | no",
        "10: need 14 34 240 | 4 6 -> 10 2 24 | no",
        "impossible",
    ]
    with pytest.raises(ValueError, match="whole numbers"):
        D.value_check((Fraction(8, 3), 9))


def test_pair_check_lines():
    """The ``pairs`` check: each pair with its results and the third number, then each result with
    the third number; a 24 is marked and ends the check."""
    assert D.value_answer((2, 12), "pairs") == "2 12 -> 14 10 24! 6\nsure"
    assert D.value_answer((4, 9, 11), "pairs").splitlines() == [
        "4 9 -> 13 5 36 | 11", "13 11 -> 24! 2 143", "sure"]
    assert D.value_answer((4, 6, 10), "pairs").splitlines() == [
        "4 6 -> 10 2 24 | 10", "10 10 -> 20 0 100 1", "2 10 -> 12 8 20 5", "24 10 -> 34 14 240",
        "4 10 -> 14 6 40 | 6", "14 6 -> 20 8 84", "6 6 -> 12 0 36 1", "40 6 -> 46 34 240",
        "6 10 -> 16 4 60 | 4", "16 4 -> 20 12 64 4", "4 4 -> 8 0 16 1", "60 4 -> 64 56 240 15",
        "impossible"]
    # a repeated pair is checked once; results above PAIRS_LIMIT are not written
    assert D.value_answer((1, 1, 1), "pairs").count("| 1") == 1
    assert "2028" not in D.value_answer((12, 13, 13), "pairs")
    with pytest.raises(ValueError, match="whole numbers"):
        D.pair_check((Fraction(8, 3), 9))
    with pytest.raises(ValueError, match="Unknown value format 'x'; choose from need, pairs"):
        D.value_answer((2, 12), "x")


def test_pair_check_agrees_with_value_check():
    """Both worked checks give the same verdict (and the marks sit exactly on the 24s)."""
    rng = random.Random(8)
    for k in range(400):
        if k % 2:
            state = D.wide_state(rng, solvable=k % 4 == 1)
        else:
            state = D.random_state(rng, 3 if k % 3 else 2, solvable=rng.random() < 0.5)
        lines, ok = D.pair_check(state)
        assert ok == D.value_check(state)[1]
        assert [D.MATCH in line for line in lines] == [False] * (len(lines) - 1) + [ok]
        assert all("24" + D.MATCH in line for line in lines if D.MATCH in line)


def test_value_format_reaches_the_examples():
    ex = [e for e in D.iter_examples(60, seed=4, value_format="pairs") if e.skill == "value"]
    assert ex and all(" -> " in a and "need" not in a for e in ex for _, a in e.turns)
    with pytest.raises(ValueError, match="Unknown value format"):
        next(D.iter_examples(1, value_format="x"))


def test_judge_other_share_sets_the_share_of_other_puzzle_answers():
    from chainlab.models.tiny_data import _correct, training_wrong_expression
    from chainlab.tasks.game24_math import expression_numbers

    def other_share(share: float) -> float:
        rng, nums = random.Random(5), (1, 2, 3, 20)  # a train start (20 is outside 1..13)
        exprs = [training_wrong_expression(nums, rng, share) for _ in range(300)]
        assert not any(_correct(nums, e) for e in exprs)
        return sum(sorted(expression_numbers(e)) != sorted(nums) and D.evaluate_expression(e) == 24
                   for e in exprs) / len(exprs)

    assert other_share(0.0) < 0.2 and other_share(1.0) == 1.0 and 0.4 < other_share(0.5) < 0.7
    # 0 draws exactly what the generator drew before the option existed
    assert [e.text() for e in D.iter_examples(40, seed=3)] == [
        e.text() for e in D.iter_examples(40, seed=3, judge_other_share=0.0)]
    with pytest.raises(ValueError, match="judge_other_share"):
        next(D.iter_examples(1, judge_other_share=2))


def test_judge_correct_share_sets_the_share_of_right_judge_answers():
    def right_share(share: float) -> float:
        exs = list(D.iter_examples(300, seed=6, mix={"judge": 1.0}, judge_correct_share=share))
        verdicts = []
        for e in exs:
            for user, answer in e.turns:
                nums = user.split("Input: ")[1].splitlines()[0]
                expr = user.split("Answer: ")[1].split("=")[0]
                assert P.parse_judge(answer) == check_answer(nums, expr)  # every target stays right
                verdicts.append(P.parse_judge(answer))
        return sum(verdicts) / len(verdicts)

    assert right_share(0.0) == 0.0 and right_share(1.0) == 1.0 and 0.2 < right_share(0.3) < 0.4
    # 0.5 (the default) draws exactly what the generator drew before the option existed
    assert [e.text() for e in D.iter_examples(40, seed=3)] == [
        e.text() for e in D.iter_examples(40, seed=3, judge_correct_share=0.5)]
    with pytest.raises(ValueError, match="judge_correct_share"):
        next(D.iter_examples(1, judge_correct_share=1.5))


def test_shipped_stage_two_data_is_unchanged():
    """The shipped second stage's data (seed 1, all wide, pairs, other share 0.5) is pinned, so
    that retraining by the model card's command draws the same conversations."""
    import hashlib

    texts = D.iter_examples(60, seed=1, wide_share=1.0, value_format="pairs", judge_other_share=0.5)
    digest = hashlib.sha256("".join(e.text() for e in texts).encode()).hexdigest()
    assert digest == "90d868f69460d5e1044a74064f6b2f10a1e5ac9430a19218edfc569eb4317259"


def test_write_dataset_writes_the_drawn_examples_and_restores_garbage_collection(tmp_path, monkeypatch):
    """``write_dataset`` pauses automatic garbage collection while drawing (collecting the young
    generations every ``_GC_EVERY`` examples); the file holds exactly ``iter_examples``' draws and
    collection is back on afterwards."""
    import gc
    import json

    monkeypatch.setattr(D, "_GC_EVERY", 7)
    path = D.write_dataset(tmp_path / "d.jsonl", 30, seed=4, judge_other_share=0.5)
    assert gc.isenabled()
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    drawn = list(D.iter_examples(30, seed=4, judge_other_share=0.5))
    assert [r["text"] for r in recs] == [e.text() for e in drawn]
    assert [r["skill"] for r in recs] == [e.skill for e in drawn]
    assert not (tmp_path / "d.partial").exists()


def test_small_puzzles_are_solvable_and_never_four_numbers():
    rng = random.Random(2)
    puzzles = [D.small_puzzle(rng) for _ in range(200)]
    assert {len(p) for p in puzzles} == set(D.SMALL_PUZZLE_SIZES)
    for p in puzzles:
        assert is_solvable(p) and all(1 <= n <= 13 for n in p)
        assert len(p) != 3 or D.holdout_bucket(tuple(Fraction(n) for n in p)) != 0
        path, expr = D.solution(p, rng)
        assert len(path) == len(p) - 1 and check_answer(p, expr)
    with pytest.raises(ValueError, match="size"):
        D.small_puzzle(rng, 4)


def test_judge_small_share_puts_judge_turns_on_small_puzzles():
    def judge_inputs(share: float) -> list[tuple[str, str]]:
        exs = D.iter_examples(150, seed=4, mix={"judge": 1.0}, judge_small_share=share)
        return [(u.split("Input: ")[1].splitlines()[0], u) for e in exs for u, _ in e.turns]

    assert all(len(n.split()) == 4 for n, _ in judge_inputs(0.0))
    small = judge_inputs(1.0)
    assert {len(n.split()) for n, _ in small} == {3, 5}
    half = [len(n.split()) != 4 for n, _ in judge_inputs(0.5)]
    assert 0.35 < sum(half) / len(half) < 0.65
    for e in D.iter_examples(60, seed=5, mix={"judge": 1.0}, judge_small_share=1.0):
        assert D.example_starts(e) == []  # no 4-number start at all
        for user, answer in e.turns:
            nums = user.split("Input: ")[1].splitlines()[0]
            expr = user.split("Answer: ")[1].split("=")[0]
            assert P.parse_judge(answer) == check_answer(nums, expr)
            assert answer.splitlines()[-4] == f"Input: {nums}"
    assert [e.text() for e in D.iter_examples(40, seed=3)] == [
        e.text() for e in D.iter_examples(40, seed=3, judge_small_share=0.0)]
    with pytest.raises(ValueError, match="judge_small_share"):
        next(D.iter_examples(1, judge_small_share=-0.1))


def test_propose_targets_are_every_whole_move():
    ans = D.proposals((4, 5, 6, 10))
    assert all(s.result.denominator == 1 and s.result != 0 for s in ans)
    assert len(ans) == len({str(s) for s in ans}) == 19


def test_grouped_propose_answers_add_a_header_per_pair():
    from chainlab.models.eval_skills import _valid_proposals

    for state in [(4, 5, 6, 10), (1, 11, 11, 13), (3, 5, 8), (4, 6)]:
        plain, grouped = D.propose_answer(state), D.propose_answer(state, "grouped")
        headers = [line for line in grouped.splitlines() if P.is_pair_header(line)]
        steps = [line for line in grouped.splitlines() if not P.is_pair_header(line)]
        assert steps == plain.splitlines() and plain == "\n".join(map(D.format_step, D.proposals(state)))
        assert all(P.parse_step_line(line, state) is not None for line in steps)
        assert _valid_proposals([state], [[grouped]]) == (len(steps), len(steps))
        for h in headers:  # the pair, then exactly the numbers it leaves
            pair, rest = (list(P_numbers(x)) if x.strip() else [] for x in h.split("|"))
            assert len(pair) == 2 and sorted(pair + rest) == sorted(Fraction(n) for n in state)
    text = D.propose_answer((4, 5, 6, 10), "grouped").splitlines()
    assert text[:2] == ["4 5 | 6 10", "4 + 5 = 9 (left: 6 9 10)"] and len(text) == 19 + 6
    assert text.count("10 - 4 = 6 (left: 5 6 6)") == 1 and "4 10 | 5 6" in text
    assert not P.is_pair_header("4 + 5 = 9 (left: 6 9 10)") and P.is_pair_header("4 6 |")
    exs = list(D.iter_examples(80, seed=6, mix={"propose": 1.0}, propose_format="grouped"))
    assert all(P.is_pair_header(e.turns[-1][1].splitlines()[0]) for e in exs)
    with pytest.raises(ValueError, match="propose format"):
        next(D.iter_examples(1, propose_format="tree"))


def test_restated_propose_answers_start_each_line_with_its_numbers():
    from chainlab.models.eval_skills import _valid_proposals

    for state in [(4, 5, 6, 10), (1, 11, 11, 13), (3, 5, 8), (4, 6)]:
        plain, restated = D.propose_answer(state), D.propose_answer(state, "restated")
        prefix = f"{D.format_numbers(state)} | "
        lines = restated.splitlines()
        assert all(line.startswith(prefix) for line in lines)
        assert [line.removeprefix(prefix) for line in lines] == plain.splitlines()
        assert [P.parse_step_line(line, state) for line in lines] == [
            P.parse_step_line(line, state) for line in plain.splitlines()
        ]
        assert _valid_proposals([state], [[restated]]) == (len(lines), len(lines))
    assert D.propose_answer((4, 5, 6, 10), "restated").splitlines()[0] == "4 5 6 10 | 4 + 5 = 9 (left: 6 9 10)"
    # the prefix is read past, not checked: the step is judged against the real numbers
    assert P.parse_step_line("4 5 6 10 | 4 + 10 = 14 (left: 4 6 14)", (4, 5, 6, 10)) is None
    assert P.parse_step_line("1 2 3 | 4 + 10 = 14 (left: 5 6 14)", (4, 5, 6, 10)) is not None
    assert not P.is_pair_header("4 5 6 10 | 4 + 5 = 9 (left: 6 9 10)")
    exs = list(D.iter_examples(40, seed=6, mix={"propose": 1.0}, propose_format="restated"))
    assert all(" | " in e.turns[-1][1].splitlines()[0] for e in exs)


def test_numbers_first_judge_answers_compare_the_numbers_before_the_worked_lines():
    for nums, expr in [((3, 4, 6, 8), "(8 - 4) * 6 + 3"), ((3, 4, 6, 8), "(8 - 4) * 6 * 1"), ((2, 3, 4), "2 * 3 * 4")]:
        plain = D.judge_answer(nums, expr).splitlines()
        first = D.judge_answer(nums, expr, "numbers-first").splitlines()
        assert sorted(plain) == sorted(first) and plain[-2:] == first[-2:]
        assert first[0] == f"Input: {D.format_numbers(nums)}" and first[1].startswith("Numbers: ")
        assert first[2].startswith("Same numbers: ") and P.parse_judge("\n".join(first)) == P.parse_judge("\n".join(plain))
    assert D.judge_answer((3, 4, 6, 8), "(8 - 4) * 6 * 1", "numbers-first").splitlines()[:3] == [
        "Input: 3 4 6 8", "Numbers: 1 4 6 8", "Same numbers: no",
    ]
    exs = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}, judge_format="numbers-first"))
    assert all(e.turns[-1][1].startswith("Input: ") for e in exs)
    default = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}))
    assert [e.turns[-1][0] for e in exs] == [e.turns[-1][0] for e in default]  # same draws, new layout
    with pytest.raises(ValueError, match="judge format"):
        next(D.iter_examples(1, judge_format="last"))


def _line_value(text: str) -> Fraction:
    """Value of a part of a worked line, whose numbers may be fractions (``3/7``) or negative."""
    text = re.sub(r"(?<![\d)])-(\d+)", r"(0 - \1)", text)  # -6 -> (0 - 6)
    text = re.sub(r"(\(0 - \d+\)|\d+)/(\d+)", r"(\1 / \2)", text)  # 3/7 -> (3 / 7)
    return evaluate_expression(text)


def test_split_fraction_lines_work_fractions_over_whole_numbers_and_each_part_is_equal():
    from chainlab.tasks.game24_math import evaluation_steps

    assert D.worked_operation(Fraction(12), "/", Fraction(3, 4), Fraction(16)) == "12 / 3/4 = 12 * 4 / 3 = 48 / 3 = 16"
    assert D.worked_operation(Fraction(3, 2), "/", Fraction(9), Fraction(1, 6)) == "3/2 / 9 = 3 / (2 * 9) = 3 / 18 = 1/6"
    assert D.worked_operation(Fraction(2), "-", Fraction(7, 4), Fraction(1, 4)) == "2 - 7/4 = 8/4 - 7/4 = 1/4"
    assert D.worked_operation(Fraction(6), "/", Fraction(1, 4), Fraction(24)) == "6 / 1/4 = 6 * 4 = 24"
    assert D.worked_operation(Fraction(1, 2), "*", Fraction(12), Fraction(6)) == "1/2 * 12 = 12 / 2 = 6"
    assert D.worked_operation(Fraction(10), "-", Fraction(4), Fraction(6)) == "10 - 4 = 6"  # whole: plain
    rng = random.Random(3)
    seen = 0
    for _ in range(300):  # every part of every line has the value of the operation
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        for a, op, b, r in evaluation_steps(expr):
            parts = D.worked_operation(a, op, b, r).split(" = ")
            assert all(_line_value(part) == r for part in parts), parts
            assert len(parts) == len(set(parts))
            seen += len(parts) > 2
    assert seen > 20
    # the layout is plain's, only the lines of fraction operations change
    for nums, expr in [((2, 4, 6, 7), "6 / (2 - (7 / 4))"), ((3, 4, 6, 8), "(8 - 4) * 6 + 3")]:
        plain = D.judge_answer(nums, expr).splitlines()
        split = D.judge_answer(nums, expr, "split-fractions").splitlines()
        assert plain[-5:] == split[-5:] and len(plain) == len(split)
        assert [line.split(" = ")[0] for line in plain] == [line.split(" = ")[0] for line in split]
    assert D.judge_answer((2, 4, 6, 7), "6 / (2 - (7 / 4))", "split-fractions").splitlines()[:3] == [
        "7 / 4 = 7/4", "2 - 7/4 = 8/4 - 7/4 = 1/4", "6 / 1/4 = 6 * 4 = 24",
    ]


def test_need_last_checks_the_last_operation_against_the_value_it_needs():
    assert D.need_line(Fraction(4), "*", Fraction(6)) == "4 * 6: need 24 / 6 = 4, have 4: yes"
    assert D.need_line(Fraction(6, 5), "*", Fraction(91)) == "6/5 * 91: need 24 / 91 = 24/91, have 6/5: no"
    assert D.need_line(Fraction(6), "/", Fraction(1, 4)) == "6 / 1/4: need 24 * 1/4 = 6, have 6: yes"
    assert D.need_line(Fraction(36), "-", Fraction(36)) == "36 - 36: need 24 + 36 = 60, have 36: no"
    assert D.need_line(Fraction(19), "+", Fraction(5)) == "19 + 5: need 24 - 5 = 19, have 19: yes"
    assert D.need_line(Fraction(24), "*", Fraction(0)) == "24 * 0: need none, have 24: no"
    rng = random.Random(4)
    for _ in range(300):  # the need line says yes exactly when the expression makes 24
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        plain = D.judge_answer(nums, expr).splitlines()
        need = D.judge_answer(nums, expr, "need-last").splitlines()
        assert plain[:-6] == need[:-6] and plain[-5:] == need[-5:]  # only the last worked line changes
        last = need[-6]
        assert last.startswith(plain[-6].split(" = ")[0] + ": need ")
        assert last.endswith(": yes") == (evaluate_expression(expr) == 24) == need[-2].endswith("yes")
        if "none" not in last:
            undo, value = last.split(": need 24 ")[1].split(",")[0].split(" = ")
            a = Fraction(last.split(", have ")[1].split(":")[0])
            op = {"-": "+", "+": "-", "*": "/", "/": "*"}[undo.split()[0]]
            b = Fraction(undo.split()[1])
            assert Fraction(value) == {"+": 24 - b, "-": 24 + b, "*": 24 / b, "/": 24 * b}[op]
            assert (a == Fraction(value)) == last.endswith("yes")


def test_cross_off_takes_the_expression_numbers_from_the_input_one_by_one():
    assert D.judge_answer((4, 5, 6, 10), "4 + ((5 * 6) - 10)", "cross-off").splitlines() == [
        "Input: 4 5 6 10", "Take 4: 5 6 10", "Take 5: 6 10", "Take 6: 10", "Take 10: none",
        "Same numbers: yes", "5 * 6 = 30", "30 - 10 = 20", "4 + 20 = 24", "Makes 24: yes", "Verdict: correct",
    ]
    assert D.cross_off_lines((4, 5, 6, 10), "5 + ((5 * 6) - 10)") == (["Take 5: 4 6 10", "Take 5: missing"], False)
    assert D.cross_off_lines((4, 5, 6, 10), "(5 * 6) - 6") == (["Take 5: 4 6 10", "Take 6: 4 10", "Take 6: missing"], False)
    assert D.cross_off_lines((2, 3, 4, 4), "2 * 3 * 4") == (["Take 2: 3 4 4", "Take 3: 4 4", "Take 4: 4"], False)
    rng = random.Random(5)
    for _ in range(300):  # same numbers, makes 24 and the verdict agree with the plain layout
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        plain = D.judge_answer(nums, expr).splitlines()
        cross = D.judge_answer(nums, expr, "cross-off").splitlines()
        assert cross[0] == f"Input: {D.format_numbers(nums)}" and plain[-2:] == cross[-2:]
        taken = [line for line in cross if line.startswith("Take ")]
        assert cross[1 : 1 + len(taken)] == taken and cross[1 + len(taken)] == plain[-3]
        assert cross[2 + len(taken) : -2] == [line for line in plain if " = " in line]
        assert not any(line.startswith("Numbers:") for line in cross)
        assert [line.split(":")[0][5:] for line in taken] == [
            D.format_number(x) for x in D.expression_numbers(expr)
        ][: len(taken)]
    exs = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}, judge_format="cross-off"))
    default = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}))
    assert [e.turns[-1][0] for e in exs] == [e.turns[-1][0] for e in default]  # same draws, new layout


def test_cross_off_split_is_cross_off_with_the_split_fraction_worked_lines():
    assert D.judge_answer((2, 4, 6, 7), "6 / (2 - (7 / 4))", "cross-off-split").splitlines() == [
        "Input: 2 4 6 7", "Take 6: 2 4 7", "Take 2: 4 7", "Take 7: 4", "Take 4: none", "Same numbers: yes",
        "7 / 4 = 7/4", "2 - 7/4 = 8/4 - 7/4 = 1/4", "6 / 1/4 = 6 * 4 = 24", "Makes 24: yes", "Verdict: correct",
    ]
    rng = random.Random(9)
    for _ in range(300):  # the cross-off head and ending, the split-fractions worked lines
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        cross = D.judge_answer(nums, expr, "cross-off").splitlines()
        both = D.judge_answer(nums, expr, "cross-off-split").splitlines()
        split = D.judge_answer(nums, expr, "split-fractions").splitlines()
        head = [line for line in cross if " = " not in line]
        assert [line for line in both if " = " not in line] == head
        assert [line for line in both if " = " in line] == [line for line in split if " = " in line]
        assert both[: len(head) - 2] == cross[: len(head) - 2]


def test_steps_replays_the_expression_as_restated_propose_steps():
    assert D.judge_answer((4, 5, 6, 10), "(5 * (10 - 4)) - 6", "steps").splitlines() == [
        "4 5 6 10 | 10 - 4 = 6 (left: 5 6 6)", "5 6 6 | 5 * 6 = 30 (left: 6 30)",
        "6 30 | 30 - 6 = 24 (left: 24)", "Verdict: correct",
    ]
    assert D.judge_answer((3, 3, 8, 8), "8 / (3 - (8 / 3))", "steps").splitlines() == [
        "3 3 8 8 | 8 / 3 = 8/3 (left: 8/3 3 8)", "8/3 3 8 | 3 - 8/3 = 1/3 (left: 1/3 8)",
        "1/3 8 | 8 / 1/3 = 24 (left: 24)", "Verdict: correct",
    ]
    assert D.replay_lines((4, 5, 6, 10), "(5 * (10 - 3)) - 6") == ["4 5 6 10 | 10 - 3: 3 missing"]
    assert D.replay_lines((4, 5, 6, 10), "(5 * 6) - 6") == [
        "4 5 6 10 | 5 * 6 = 30 (left: 4 10 30)", "4 10 30 | 30 - 6: 6 missing",
    ]
    assert D.replay_lines((2, 3, 4, 4), "2 * 3 * 4")[-1] == "4 4 6 | 6 * 4 = 24 (left: 4 24)"  # a 4 unused
    rng = random.Random(11)
    for _ in range(1000):  # the replay ends at (left: 24) exactly when the answer is correct
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        lines = D.judge_answer(nums, expr, "steps").splitlines()
        ok = D._correct(nums, expr)
        assert lines[-1] == f"Verdict: {'correct' if ok else 'incorrect'}"
        assert lines[-2].endswith("(left: 24)") == ok
        assert lines[0].startswith(D.format_numbers(nums) + " | ")
        for above, line in zip(lines, lines[1:-1], strict=False):  # each line works on the numbers the line above left
            assert line.split(" | ")[0] == above.split("(left: ")[1].rstrip(")")
        for line, (a, op, b, r) in zip(lines[:-1], D.evaluation_steps(expr), strict=False):
            assert line.split(" | ")[1].startswith(f"{D.format_number(a)} {op} {D.format_number(b)}")
            assert line.endswith(" missing") or f" = {D.format_number(r)} (left: " in line
    exs = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}, judge_format="steps"))
    default = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}))
    assert [e.turns[-1][0] for e in exs] == [e.turns[-1][0] for e in default]  # same draws, new layout


def test_ordered_copies_the_numbers_as_written_then_sorts_them_before_the_worked_lines():
    assert D.judge_answer((4, 5, 6, 10), "5 + ((5 * 6) - 10)", "ordered").splitlines() == [
        "Written: 5 5 6 10", "Numbers: 5 5 6 10", "Input: 4 5 6 10", "Same numbers: no",
        "5 * 6 = 30", "30 - 10 = 20", "5 + 20 = 25", "Makes 24: no", "Verdict: incorrect",
    ]
    assert D.judge_answer((2, 4, 6, 7), "6 / (2 - (7 / 4))", "ordered").splitlines()[:2] == [
        "Written: 6 2 7 4", "Numbers: 2 4 6 7",
    ]
    rng = random.Random(12)
    for _ in range(300):  # the plain layout's lines, the list lines first, one copy line more
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        plain = D.judge_answer(nums, expr).splitlines()
        ordered = D.judge_answer(nums, expr, "ordered").splitlines()
        assert ordered[1:4] == plain[-5:-2] and ordered[4:] == plain[:-5] + plain[-2:]
        written = ordered[0].removeprefix("Written: ").split()
        assert written == [D.format_number(x) for x in D.expression_numbers(expr)]
        assert ordered[1] == f"Numbers: {D.format_numbers(D.expression_numbers(expr))}"
    exs = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}, judge_format="ordered"))
    default = list(D.iter_examples(40, seed=6, mix={"judge": 1.0}))
    assert [e.turns[-1][0] for e in exs] == [e.turns[-1][0] for e in default]  # same draws, new layout


def test_compared_is_ordered_with_the_sorted_lists_compared_place_by_place():
    assert D.judge_answer((4, 5, 6, 10), "5 + ((5 * 6) - 10)", "compared").splitlines()[:5] == [
        "Written: 5 5 6 10", "Numbers: 5 5 6 10", "Input: 4 5 6 10",
        "Compare: 5 4 no, 5 5 yes, 6 6 yes, 10 10 yes", "Same numbers: no",
    ]
    assert D.compare_line([Fraction(3), Fraction(8)], (3, 8, 8)) == "Compare: 3 3 yes, 8 8 yes, - 8 no"
    rng = random.Random(13)
    for _ in range(300):  # the ordered layout plus one line; a "no" exactly when the numbers differ
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        ordered = D.judge_answer(nums, expr, "ordered").splitlines()
        compared = D.judge_answer(nums, expr, "compared").splitlines()
        assert compared[:3] + compared[4:] == ordered
        assert (" no" in compared[3]) == (compared[4] == "Same numbers: no")


def test_insert_sorted_writes_the_sort_out_one_number_at_a_time():
    assert D.judge_answer((4, 6, 6, 9), "(4 * 9) - (6 + 6)", "insert-sorted").splitlines()[:3] == [
        "Written: 4 9 6 6", "Sort: 4 | 4 9 | 4 6 9 | 4 6 6 9", "Numbers: 4 6 6 9",
    ]
    rng = random.Random(14)
    for _ in range(300):  # the compared layout plus one line, whose last list is the Numbers line
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        compared = D.judge_answer(nums, expr, "compared").splitlines()
        inserted = D.judge_answer(nums, expr, "insert-sorted").splitlines()
        assert inserted[:1] + inserted[2:] == compared
        assert inserted[1].split(" | ")[-1].removeprefix("Sort: ") == compared[1].removeprefix("Numbers: ")


def test_rewrite_lines_put_each_result_in_place_of_its_operation():
    assert D.rewrite_lines("(9 - (2 + 4)) * 8") == ["2 + 4 = 6: (9 - 6) * 8", "9 - 6 = 3: 3 * 8", "3 * 8 = 24"]
    assert D.rewrite_lines("12 / (7 - (13 / 2))") == [  # fractions in parentheses: never 12 / 1 / 2
        "13 / 2 = 13/2: 12 / (7 - (13/2))", "7 - 13/2 = 1/2: 12 / (1/2)", "12 / 1/2 = 24",
    ]
    assert D.rewrite_lines("8 - 2 - 3 - 1") == ["8 - 2 = 6: 6 - 3 - 1", "6 - 3 = 3: 3 - 1", "3 - 1 = 2"]
    assert D.rewrite_lines("(10 - (5 * 8)) / 6") == ["5 * 8 = 40: (10 - 40) / 6", "10 - 40 = -30: -30 / 6", "-30 / 6 = -5"]
    rng = random.Random(15)
    for _ in range(300):  # the compared layout with each worked line followed by its rewrite
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        compared = D.judge_answer(nums, expr, "compared").splitlines()
        rewritten = D.judge_answer(nums, expr, "rewrite").splitlines()
        assert [line.split(": ")[0] if " = " in line else line for line in rewritten] == compared
        rewrites = [line.split(": ", 1)[1] for line in rewritten if " = " in line and ": " in line]
        unsigned = [r for r in rewrites if not r.startswith("-") and "(-" not in r]  # the parser has no unary minus
        assert all(evaluate_expression(r) == evaluate_expression(expr) for r in unsigned)


def test_written_cross_off_is_cross_off_after_the_written_copy():
    assert D.judge_answer((4, 5, 6, 10), "5 + ((5 * 6) - 10)", "written-cross-off").splitlines()[:4] == [
        "Written: 5 5 6 10", "Input: 4 5 6 10", "Take 5: 4 6 10", "Take 5: missing",
    ]
    rng = random.Random(15)
    for _ in range(300):
        nums = D.random_start(rng, solvable=True)
        expr = D.solution(nums, rng)[1] if rng.random() < 0.5 else D.training_wrong_expression(nums, rng, 0.5)
        lines = D.judge_answer(nums, expr, "written-cross-off").splitlines()
        assert lines[1:] == D.judge_answer(nums, expr, "cross-off").splitlines()
        assert lines[0] == D.judge_answer(nums, expr, "ordered").splitlines()[0]


def test_calc_drill_works_out_the_judge_operations_mostly_on_fractions():
    rng = random.Random(8)
    ops = D.calc_operations(rng, 2000)
    assert len(ops) == 2000
    assert all(D.apply_op(a, op, b) == r for a, op, b, r in ops)
    share = sum(any(x.denominator != 1 for x in (a, b, r)) for a, _, b, r in ops) / len(ops)
    assert 0.5 < share < 0.8, share
    user, answer = D.make_turn("calc", random.Random(1), D.DataRecipe(mix={"calc": 1.0}))
    lines = user.splitlines()
    assert lines[0] == D.CALC_INSTRUCTION and 4 <= len(lines) - 1 <= 8
    assert [line.split(" = ")[0] for line in answer.splitlines()] == lines[1:]
    for line in answer.splitlines():
        a, op, b, _, r = line.split(" ")
        assert D.apply_op(Fraction(a), op, Fraction(b)) == Fraction(r)
    exs = list(D.iter_examples(30, seed=2, mix={"calc": 1.0}))
    assert all(e.skill == "calc" and not D.example_starts(e) for e in exs)
    # the default mix has no drill, so default data is drawn as before the drill existed
    assert "calc" not in D.DEFAULT_MIX


def test_lists_drill_writes_the_compared_judge_list_lines_on_held_out_safe_lists():
    rng = random.Random(4)
    test_puzzles = {tuple(sorted(p)) for p in D.load_24_csv()} if D.default_data_dir() else set()
    # the compared judge layout's list lines after its Written copy: Numbers, Input, Compare, Same
    judge_lines = D.judge_answer((1, 2, 3, 4), "1 + 2 + 3 + 4", "compared").splitlines()
    kinds = {"same": 0, "differ": 0, "low": 0}
    for _ in range(600):
        nums, written = D.drill_lists(rng)
        assert D.is_training_start(nums) and D.is_training_start(tuple(sorted(written)))
        assert tuple(sorted(nums)) not in test_puzzles and tuple(sorted(written)) not in test_puzzles
        kinds["same" if sorted(written) == sorted(nums) else "differ"] += 1
        kinds["low"] += max(nums) <= 13
        answer = D.lists_answer(nums, written).splitlines()
        assert [line.split(":")[0] for line in answer] == [judge_lines[1].split(":")[0], "Compare", "Same numbers"]
        assert answer[1] == D.compare_line(written, nums)
        assert answer[2] == f"Same numbers: {'yes' if ' no' not in answer[1] else 'no'}"
    assert 250 < kinds["same"] < 350 and 250 < kinds["low"] < 350, kinds
    user, answer = D.make_turn("lists", random.Random(1), D.DataRecipe(mix={"lists": 1.0}))
    head, written, given = user.splitlines()
    assert head == D.LISTS_INSTRUCTION and written.startswith("Written: ") and given.startswith("Input: ")
    exs = list(D.iter_examples(40, seed=2, mix={"lists": 1.0}))
    assert all(e.skill == "lists" and len(D.example_starts(e)) == len(e.turns) for e in exs)
    assert "lists" not in D.DEFAULT_MIX


def test_judge_low_share_judges_wrong_answers_to_low_unsolvable_puzzles_without_test_solutions():
    test_puzzles = {tuple(sorted(p)) for p in D.load_24_csv()} if D.default_data_dir() else set()
    kinds = {"same": 0, "differ": 0, "makes 24": 0}
    for e in D.iter_examples(150, seed=6, mix={"judge": 1.0}, judge_low_share=1.0, judge_format="compared"):
        assert all(D.is_training_start(s) and max(s) <= 13 for s in D.example_starts(e))
        for user, answer in e.turns:
            nums = parse_numbers(user.split("Input: ")[1].splitlines()[0])
            expr = user.split("Answer: ")[1].split(" = 24")[0]
            assert P.parse_judge(answer) is False and answer == D.judge_answer(nums, expr, "compared")
            used = tuple(sorted(expression_numbers(expr)))
            kinds["same" if used == tuple(sorted(nums)) else "differ"] += 1
            if evaluate_expression(expr) == 24:  # another puzzle's answer: never a test puzzle's
                kinds["makes 24"] += 1
                assert len(used) == 4 and D.is_training_start(used) and used not in test_puzzles
    turns = sum(kinds[k] for k in ("same", "differ"))
    assert 0.35 < kinds["same"] / turns < 0.65 and kinds["makes 24"] > 0.05 * turns, kinds
    half = [max(s) <= 13 for e in D.iter_examples(200, seed=7, mix={"judge": 1.0}, judge_low_share=0.5)
            for s in D.example_starts(e)]  # fmt: skip
    assert 0.35 < sum(half) / len(half) < 0.65
    assert [e.text() for e in D.iter_examples(40, seed=3)] == [
        e.text() for e in D.iter_examples(40, seed=3, judge_low_share=0.0)]
    with pytest.raises(ValueError, match="judge_low_share"):
        next(D.iter_examples(1, judge_low_share=1.5))


def test_unsolvable_low_starts_are_allowed_but_never_solvable():
    rng = random.Random(2)
    starts = {D.random_start(rng, low_unsolvable=1.0) for _ in range(50)}
    assert all(max(s) <= 13 and not is_solvable(s) and D.is_training_start(s) for s in starts)
    assert not D.is_training_start((4, 5, 6, 10))


def test_a_data_recipe_or_its_options_draw_the_same_data():
    recipe = D.DataRecipe(value_format="pairs", wide_share=1.0)
    assert [e.text() for e in D.iter_examples(20, seed=2, recipe=recipe)] == [
        e.text() for e in D.iter_examples(20, seed=2, value_format="pairs", wide_share=1.0)]
    with pytest.raises(TypeError, match="either recipe= or its options"):
        next(D.iter_examples(1, recipe=recipe, wide_share=0.5))
    with pytest.raises(ValueError, match="wide_share must be within 0..1"):
        D.DataRecipe(wide_share=2)


def test_cot_expand_writes_the_expression_back_before_the_answer():
    nums = (1, 2, 4, 7)
    path = next(
        q for q in solution_paths(nums)
        if [format_step(s) for s in q] == ["1 + 7 = 8 (left: 2 4 8)", "4 + 8 = 12 (left: 2 12)", "2 * 12 = 24 (left: 24)"]
    )
    assert D.cot_answer(nums, path).splitlines()[3:] == ["Answer: 2 * (4 + (1 + 7)) = 24"]
    assert D.cot_answer(nums, path, "expand").splitlines()[3:] == [
        "24 = 2 * 12 = 2 * (4 + 8) = 2 * (4 + (1 + 7))", "Answer: 2 * (4 + (1 + 7)) = 24",
    ]
    assert D.cot_answer(nums, path, "build").splitlines()[3:] == [
        "8 = 1 + 7", "12 = 4 + 8 = 4 + (1 + 7)", "24 = 2 * 12 = 2 * (4 + (1 + 7))", "Answer: 2 * (4 + (1 + 7)) = 24",
    ]
    with pytest.raises(ValueError, match="CoT format"):
        D.DataRecipe(cot_format="tree")
    # the default draws what the generator drew before the option; expand only adds the line
    rng_a, rng_b = random.Random(3), random.Random(3)
    for _ in range(50):
        user, plain = D.make_turn("cot", rng_a)
        user_b, expand = D.make_turn("cot", rng_b, D.DataRecipe(cot_format="expand"))
        assert user == user_b
        lines = expand.splitlines()
        assert [ln for ln in lines if not ln.startswith("24 = ")] == plain.splitlines()
        assert lines[-2].startswith("24 = ") and lines[-2].endswith(" = " + P.parse_answer(lines[-1]))
        assert P.parse_answer(expand) == P.parse_answer(plain)
