"""Exact Game of 24 arithmetic: steps, solver, safe expression checker, prompt parsers."""

from fractions import Fraction

import pytest

from chainlab.prompts import game24 as P
from chainlab.tasks.game24_math import (
    ExpressionError,
    answer_expression,
    build_lines,
    check_answer,
    evaluate_expression,
    evaluation_lines,
    expansion_forms,
    expression_tree,
    format_step,
    is_solvable,
    next_steps,
    parse_numbers,
    solution_paths,
    solve,
)


def test_next_steps_canonical_order_and_format():
    steps = [format_step(s) for s in next_steps([4, 5, 6, 10])]
    assert steps[:5] == [
        "4 + 5 = 9 (left: 6 9 10)",
        "5 - 4 = 1 (left: 1 6 10)",
        "4 * 5 = 20 (left: 6 10 20)",
        "5 / 4 = 5/4 (left: 5/4 6 10)",
        "4 / 5 = 4/5 (left: 4/5 6 10)",
    ]
    assert len(steps) == len(set(steps)) == 30


def test_duplicates_removed_for_equal_numbers():
    steps = [format_step(s) for s in next_steps([2, 2])]
    assert steps == [
        "2 + 2 = 4 (left: 4)",
        "2 - 2 = 0 (left: 0)",
        "2 * 2 = 4 (left: 4)",
        "2 / 2 = 1 (left: 1)",
    ]


@pytest.mark.parametrize(
    "nums, ok",
    [((4, 5, 6, 10), True), ((1, 1, 1, 1), False), ((1, 5, 5, 5), True), ((3, 3, 8, 8), True)],
)
def test_solvability_including_fraction_solutions(nums, ok):
    assert is_solvable(nums) is ok
    sols = solve(nums)
    assert bool(sols) is ok
    for s in sols:
        assert check_answer(nums, s), s


def _solvable_by_steps(nums: tuple) -> bool:
    """The solver's definition, step by step: some canonical move leaves a solvable state."""
    if len(nums) == 1:
        return nums[0] == 24
    return any(_solvable_by_steps(s.left) for s in next_steps(nums))


def test_fast_solvability_checks_agree_with_the_step_by_step_definition():
    """``is_solvable`` works 2- and 3-number states out over whole numbers (no Step, no Fraction
    per move); it must answer exactly what enumerating the canonical moves answers, zeros,
    fractions, equal and negative numbers included."""
    import random

    rng = random.Random(0)
    pool = [Fraction(n) for n in range(-3, 30)] + [Fraction(p, q) for p in range(1, 13) for q in (2, 3, 4, 7)]
    states = [(Fraction(24),), (Fraction(0), Fraction(24)), (Fraction(3, 4), Fraction(32))]
    states += [(Fraction(8, 3), Fraction(3), Fraction(8)), (Fraction(1), Fraction(1), Fraction(0))]
    for size in (2, 3, 3, 4):
        states += [tuple(rng.choice(pool) for _ in range(size)) for _ in range(400)]
    solvable = 0
    for st in states:
        expected = _solvable_by_steps(tuple(sorted(st)))
        assert is_solvable(st) is expected, st
        solvable += expected
    assert 0.1 * len(states) < solvable < 0.9 * len(states)  # both answers exercised


def test_fraction_only_solution_is_found():
    assert solve([3, 3, 8, 8]) and all("/" in s for s in solve([3, 3, 8, 8]))


def test_answer_expression_from_path():
    path = solution_paths([4, 5, 6, 10])[0]
    expr = answer_expression([4, 5, 6, 10], path)
    assert evaluate_expression(expr) == 24



def test_expansion_forms_and_build_lines_write_the_expression_one_step_at_a_time():
    def path(nums, *lines):
        steps, state = [], [Fraction(n) for n in nums]
        for line in lines:
            step = P.parse_step_line(line, state)
            steps.append(step)
            state = list(step.left)
        return steps

    chain = path([1, 2, 4, 7], "1 + 7 = 8 (left: 2 4 8)", "4 + 8 = 12 (left: 2 12)", "2 * 12 = 24 (left: 24)")
    assert expansion_forms([1, 2, 4, 7], chain) == ["2 * 12", "2 * (4 + 8)", "2 * (4 + (1 + 7))"]
    fork = path([1, 2, 3, 4], "1 + 2 = 3 (left: 3 3 4)", "3 + 3 = 6 (left: 4 6)", "4 * 6 = 24 (left: 24)")
    assert expansion_forms([1, 2, 3, 4], fork) == ["4 * 6", "4 * (3 + 3)", "4 * ((1 + 2) + 3)"]
    frac = path([3, 3, 8, 8], "8 / 3 = 8/3 (left: 8/3 3 8)", "3 - 8/3 = 1/3 (left: 1/3 8)", "8 / 1/3 = 24 (left: 24)")
    # an unexpanded fraction is parenthesized, so every form is an expression that equals 24
    assert expansion_forms([3, 3, 8, 8], frac) == ["8 / (1/3)", "8 / (3 - (8/3))", "8 / (3 - (8 / 3))"]
    for nums in ([4, 5, 6, 10], [3, 3, 8, 8], [1, 2, 4, 7], [2, 3, 5, 12]):
        for p in solution_paths(nums):
            forms = expansion_forms(nums, p)
            assert forms[-1] == answer_expression(nums, p) and len(forms) == len(p)
            assert all(evaluate_expression(f) == 24 for f in forms)
    with pytest.raises(ValueError, match="not among the numbers"):
        expansion_forms([1, 2, 4, 7], chain[1:])
    # built forward: one line per step, earlier results written out as their own line's expression
    assert build_lines([1, 2, 4, 7], chain) == ["8 = 1 + 7", "12 = 4 + 8 = 4 + (1 + 7)", "24 = 2 * 12 = 2 * (4 + (1 + 7))"]
    assert build_lines([1, 2, 3, 4], fork) == ["3 = 1 + 2", "6 = 3 + 3 = (1 + 2) + 3", "24 = 4 * 6 = 4 * ((1 + 2) + 3)"]
    assert build_lines([3, 3, 8, 8], frac)[1:] == ["1/3 = 3 - 8/3 = 3 - (8 / 3)", "24 = 8 / 1/3 = 8 / (3 - (8 / 3))"]
    for nums in ([4, 5, 6, 10], [3, 3, 8, 8], [2, 3, 5, 12]):
        for p in solution_paths(nums):
            lines = build_lines(nums, p)
            assert lines[-1].split(" = ")[-1] == answer_expression(nums, p)
            assert all(evaluate_expression(line.split(" = ")[-1]) == s.result for line, s in zip(lines, p, strict=True))

def test_check_answer_is_the_tot_paper_rule():
    assert check_answer("4 5 6 10", "Answer: (5 * (10 - 4)) - 6 = 24")
    assert check_answer("4 5 6 10", "(10-4)*5-6")
    assert check_answer([4, 5, 6, 10], "(10 − 4) × 5 − 6 = 24")
    assert not check_answer("4 5 6 10", "(5 * (10 - 4)) - 5 = 24")  # wrong numbers
    assert not check_answer("4 5 6 10", "5 * (10 - 4) - 6 + 0 = 24")  # extra number
    assert not check_answer("4 5 6 10", "4 * 6 = 24")  # numbers unused
    assert not check_answer("4 5 6 10", "(5 + (10 - 4)) - 6 = 24")  # value is not 24
    assert not check_answer("4 5 6 10", "")
    assert not check_answer("4 5 6 10", "__import__('os').system('true')")


def test_expression_parser_is_exact_and_safe():
    assert evaluate_expression("1 / 3 + 1 / 3 + 1 / 3") == 1
    assert evaluate_expression("8 / (3 - 8 / 3)") == 24
    with pytest.raises(ExpressionError):
        evaluate_expression("1 / (2 - 2)")
    with pytest.raises(ExpressionError):
        evaluate_expression("2 ** 3")
    with pytest.raises(ExpressionError):
        evaluate_expression("(1 + 2")
    with pytest.raises(ExpressionError):
        evaluate_expression("abs(3)")


def test_evaluation_lines_follow_the_tree():
    assert evaluation_lines("(5 * (10 - 4)) - 6") == ["10 - 4 = 6", "5 * 6 = 30", "30 - 6 = 24"]
    assert evaluation_lines("8 / (3 - 8 / 3)") == ["8 / 3 = 8/3", "3 - 8/3 = 1/3", "8 / 1/3 = 24"]


def test_expression_tree_keeps_the_written_parentheses():
    two, three, four = Fraction(2), Fraction(3), Fraction(4)
    assert expression_tree("(2 + 3) * 4") == ["*", ["+", [two], [three], True], [four], False]
    assert expression_tree("2 - 3 - 4") == ["-", ["-", [two], [three], False], [four], False]  # left to right
    assert expression_tree("2 + 3 * 4") == ["+", [two], ["*", [three], [four], False], False]
    assert expression_tree("(4)") == [four]


def test_parse_numbers_errors():
    assert parse_numbers("8/3 5") == (Fraction(8, 3), Fraction(5))
    with pytest.raises(ValueError, match="Not a number"):
        parse_numbers("4 five 6")


def test_prompt_format_is_llama2():
    assert P.value_prompt("5 6 6") == (
        "<s>[INST] <<SYS>>\nYou are a careful solver of the Game of 24.\n<</SYS>>\n\n"
        "Can these numbers reach 24? Answer sure, likely or impossible.\nInput: 5 6 6 [/INST]"
    )
    assert P.cot_prompt("10 4 6 5", steps=["10 - 4 = 6 (left: 5 6 6)"], system=None) == (
        "<s>[INST] Use the numbers and + - * / to make 24. Combine two numbers per step, then "
        "write the answer.\nInput: 4 5 6 10 [/INST] 10 - 4 = 6 (left: 5 6 6)\n"
    )
    assert P.judge_user("4 5 6 10", "Answer: (10 - 4) * 5 - 6 = 24").endswith(
        "Answer: (10 - 4) * 5 - 6 = 24"
    )


def test_step_line_parser_validates_everything():
    nums = "4 5 6 10"
    assert P.parse_step_line("10 - 4 = 6 (left: 5 6 6)", nums).result == 6
    assert P.parse_step_line("10 - 4 = 7 (left: 5 6 7)", nums) is None  # arithmetic
    assert P.parse_step_line("10 - 3 = 7 (left: 5 6 7)", nums) is None  # operand not present
    assert P.parse_step_line("10 - 4 = 6 (left: 5 6)", nums) is None  # left wrong
    assert P.parse_step_line("6 / 4 = 3/2 (left: 3/2 5 10)", nums).result == Fraction(3, 2)
    assert P.parse_step_line("garbage", nums) is None


def test_other_parsers():
    assert P.parse_value("  Sure\n") == "sure"
    assert P.parse_value("maybe") is None
    assert P.parse_answer("1 + 2 = 3 (left: 3)\nAnswer: (1 + 2) * 8 = 24") == "(1 + 2) * 8"
    assert P.parse_answer("no answer here") is None
    assert P.parse_judge("Numbers: 1 2\nVerdict: correct") is True
    assert P.parse_judge("Verdict: incorrect") is False
    assert P.parse_judge("dunno") is None
