"""Training data for ``chainlab-tiny``: the five Game of 24 skills, in Llama-2 chat format.

Held-out protocol (tested): no 4-number multiset listed in the ToT paper's ``24.csv`` is the
4-number starting state of any training example. That file lists every solvable 4-multiset over
1..13, so every 4-number start drawn here either holds a number in 14..24 or is one of the 458
*unsolvable* multisets over 1..13 (never a row of the file; they let the propose skill see
4-number states of the test range). The test puzzles' 3- and 2-number sub-states are fair game. For the value skill, 3-number states whose
:func:`holdout_bucket` is 0 are kept out of training, so the skill can be measured on unseen states.

Each example is a conversation: an optional system context (several wordings, or none), 0-2
earlier solved turns of the same skill (few-shot), and the final turn. Loss is taken on every
assistant answer.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm, prod
from pathlib import Path

from chainlab.prompts import game24 as P
from chainlab.prompts.chat_format import llama2_prompt
from chainlab.tasks.game24_math import (
    Step,
    answer_expression,
    apply_op,
    build_lines,
    evaluate_expression,
    evaluation_lines,
    evaluation_steps,
    expansion_forms,
    expression_numbers,
    expression_tree,
    format_number,
    format_numbers,
    format_step,
    is_solvable,
    next_steps,
    solution_paths,
)

LOW, HIGH = 1, 24  # numbers of training starts; at least one is > 13

SYSTEMS: list[str | None] = [
    P.SYSTEM,
    P.SYSTEM,
    None,
    None,
    "You are a helpful assistant.",
    "You are a patient math tutor who answers exactly in the requested format.",
    "You are an expert at arithmetic puzzles. Be concise.",
    "You are a friendly assistant who always follows the instructions.",
    "You are a perennially satisfied customer who loves every product.",
    "Answer in the format shown. Do not explain.",
    "You are a puzzle master. Think carefully before you answer.",
    "You are a cheerful pirate who is also good at math.",
]

MATCH = "!"  # value checks: marks a needed pair result (need) or a result of 24 (pairs)
VALUE_FORMATS = ("need", "pairs")  # worked value checks: see value_check and pair_check
PROPOSE_FORMATS = ("plain", "grouped", "restated")  # propose answers: see propose_answer
COT_FORMATS = ("plain", "expand", "build")  # CoT answers: see cot_answer
JUDGE_FORMATS = (
    "plain", "numbers-first", "split-fractions", "need-last", "cross-off", "cross-off-split", "steps",
    "ordered", "compared", "insert-sorted", "written-cross-off", "rewrite",
)  # see judge_answer
PAIRS_LIMIT = 999  # pair_check does not write second-level results above this (never 24)

SKILLS = ("io", "cot", "propose", "value", "judge", "calc", "lists")  # calc, lists: training-only drills
CALC_INSTRUCTION = "Work out each operation exactly. Write a fraction as a/b."
CALC_WHOLE_SHARE = 0.1  # share of whole-number operations a calc drill keeps
LISTS_INSTRUCTION = (
    "Sort the written numbers, compare them with the input place by place and say whether they are the same."
)
LOW_SAME_SHARE = 0.5  # share of judge answers to a low unsolvable puzzle that use its numbers
LOW_OTHER_SHARE = 0.15  # share of them that answer another training puzzle
LISTS_LOW_SHARE = 0.5  # share of the lists drill's lists that are unsolvable multisets over 1..13
DEFAULT_MIX = {"io": 0.05, "cot": 0.12, "propose": 0.28, "value": 0.32, "judge": 0.23}

WIDE_MAX = 200  # largest number of a wide value state (test states hold at most 13 * 13)
WIDE_SHARE = 0.5  # share of 3-number value states drawn wide rather than from puzzles
RANDOM_WRONG_SHARE = 0.35  # share of wrong judge answers that are random expressions
SMALL_PUZZLE_SIZES = (3, 5)  # judge puzzles over 1..13 that are not 4-number starts (held out)


@dataclass
class Example:
    """One training conversation; ``text()`` is the full string, ``answer_spans()`` the loss spans."""

    skill: str
    system: str | None
    turns: list[tuple[str, str]] = field(default_factory=list)  # earlier turns + final

    def text(self) -> str:
        *ex, (user, answer) = self.turns
        return f"{llama2_prompt(user, system=self.system, examples=ex)} {answer} </s>"

    def answer_spans(self) -> list[tuple[int, int]]:
        """Character spans (start, end) of every assistant answer, including ``' '`` and ``</s>``."""
        text = self.text()
        spans, pos = [], 0
        for _, answer in self.turns:
            piece = f" {answer.strip()} </s>"
            i = text.index(piece, pos)
            spans.append((i, i + len(piece)))
            pos = i + len(piece)
        return spans


# ---------------------------------------------------------------- held-out sets


def default_data_dir() -> Path | None:
    """The data directory holding ``game24/24.csv`` (see :mod:`chainlab.tasks.data`), or None."""
    from chainlab.tasks.data import find_data_file

    path = find_data_file("game24", "24.csv")
    return path.parents[1] if path else None


def load_24_csv(path: str | Path | None = None) -> list[tuple[int, ...]]:
    """Puzzles of ``24.csv`` in file order (data index 0 = first row)."""
    if path is None:
        from chainlab.tasks.data import data_path

        path = data_path("game24", "24.csv")
    with open(path, newline="") as f:
        return [tuple(int(x) for x in row["Puzzles"].split()) for row in csv.DictReader(f)]


def is_training_start(nums) -> bool:
    """Whether a 4-number multiset may start a training example.

    It must hold a number > 13, or be an unsolvable multiset over 1..13 (``24.csv`` lists only
    solvable puzzles, so neither kind can be a test puzzle).
    """
    return len(nums) == 4 and (max(nums) > 13 or not is_solvable(nums))


def holdout_bucket(nums) -> int:
    """A stable bucket 0..9 of a multiset; bucket 0 of 3-number states is held out of training."""
    key = format_numbers(nums).encode()
    return hashlib.sha1(key).digest()[0] % 10


# ---------------------------------------------------------------- samplers


def random_start(
    rng: random.Random, solvable: bool | None = None, low_unsolvable: float = 0.0
) -> tuple[int, ...]:
    """A 4-number training start: with probability ``low_unsolvable`` an unsolvable multiset over
    1..13, else one holding at least one number in 14..24 (solvable or not as asked)."""
    if solvable is not True and rng.random() < low_unsolvable:
        while True:
            nums = tuple(sorted(rng.randint(1, 13) for _ in range(4)))
            if not is_solvable(nums):
                return nums
    while True:
        nums = tuple(
            sorted(
                rng.randint(1, 13) if rng.random() < 0.72 else rng.randint(14, HIGH)
                for _ in range(4)
            )
        )
        if not is_training_start(nums):
            continue
        if solvable is None or is_solvable(nums) == solvable:
            return nums


def small_puzzle(rng: random.Random, size: int | None = None) -> tuple[int, ...]:
    """A solvable puzzle of 3 or 5 numbers over 1..13 (``size``, else either at random).

    Every 4-number start over 1..13 is a possible test puzzle, so 4-number training starts hold a
    number above 13 (:func:`is_training_start`). Judge items on these puzzles show right answers
    made of small numbers only, as the test puzzles' are. 3-number puzzles of the value test
    bucket are never drawn.
    """
    size = size or rng.choice(SMALL_PUZZLE_SIZES)
    if size not in SMALL_PUZZLE_SIZES:
        raise ValueError(f"size must be one of {SMALL_PUZZLE_SIZES}, got {size}")
    while True:
        nums = tuple(sorted(rng.randint(1, 13) for _ in range(size)))
        if size == 3 and holdout_bucket(nums) == 0:
            continue
        if is_solvable(nums):
            return nums


def _other_start(nums, rng: random.Random) -> tuple[int, ...]:
    """A solvable puzzle of the same size as ``nums`` (drawn the way ``nums`` was)."""
    return random_start(rng, solvable=True) if len(nums) == 4 else small_puzzle(rng, len(nums))


def random_state(rng: random.Random, size: int, solvable: bool) -> tuple[Fraction, ...]:
    """A ``size``-number state (3 or 2) reached by whole-number moves, with the wanted value-check
    verdict; 3-number states of the held-out bucket are never drawn."""
    while True:
        if rng.random() < 0.6:
            nums: tuple = tuple(rng.randint(1, 13) for _ in range(4))
        else:
            nums = random_start(rng)
        state = tuple(Fraction(n) for n in nums)
        while len(state) > size:
            whole = whole_moves(state)
            if not whole:
                break
            state = rng.choice(whole).left
        if len(state) != size:
            continue
        if size == 3 and holdout_bucket(state) == 0:
            continue
        if value_check(state)[1] == solvable:
            return state


def _wide_number(rng: random.Random) -> int:
    r = rng.random()
    return rng.randint(1, 13) if r < 0.55 else rng.randint(14, 60) if r < 0.8 else rng.randint(61, 200)


def wide_state(rng: random.Random, solvable: bool) -> tuple[Fraction, ...]:
    """A random 3-number whole state, not tied to any puzzle, with the wanted value-check verdict.

    Sub-states of puzzles form a small pool that a small model can memorize; these states make
    the check itself pay off. A solvable one is built backwards: a number ``x``, a value ``r`` that
    ``x`` needs, and two numbers that make ``r`` with a random operation. States of the held-out
    bucket are never drawn.
    """
    while True:
        if solvable:
            x = _wide_number(rng)
            needs = [v for v in _needs(Fraction(x)) if 0 < v <= WIDE_MAX]
            if not needs:
                continue
            r = rng.choice(needs)
            op = rng.choice("+-*/")
            if op == "+":
                if r < 2:
                    continue
                y = rng.randint(1, r - 1)
                z = r - y
            elif op == "-":
                y = _wide_number(rng)
                z = y + r
            elif op == "*":
                y = rng.choice([d for d in range(1, int(r**0.5) + 1) if r % d == 0])
                z = r // y
            else:
                y = rng.randint(1, 13)
                z = r * y
            nums = (x, y, z)
        else:
            nums = tuple(_wide_number(rng) for _ in range(3))
        if max(nums) > WIDE_MAX or (sum(n > 13 for n in nums) > 1 and rng.random() < 0.8):
            continue  # mostly like the states search visits: at most one number above 13
        state = tuple(sorted(Fraction(n) for n in nums))
        if holdout_bucket(state) == 0:
            continue
        if value_check(state)[1] == solvable:
            return state


def proposals(state) -> list[Step]:
    """Target proposals: every move with a whole, non-zero result, in the canonical order."""
    return whole_moves(state)


def _check_propose_format(propose_format: str) -> None:
    if propose_format not in PROPOSE_FORMATS:
        raise ValueError(f"Unknown propose format {propose_format!r}; choose from {PROPOSE_FORMATS}.")


def propose_answer(state, propose_format: str = "plain") -> str:
    """Target of the propose skill: every move of :func:`proposals`, one step line each.

    ``grouped`` writes a header before each pair's moves, the pair and the numbers it leaves
    (``4 10 | 5 6``), so that each step's ``left`` copies two numbers from the line above rather
    than working them out from the input far back (``P.is_pair_header`` lines are skipped by the
    parsers). ``restated`` starts every step line with the numbers it works on
    (``4 5 6 10 | 4 + 10 = 14 (left: 5 6 14)``): each line copies that list from the line above
    and takes its ``left`` from the same line, never from the input far back.
    """
    _check_propose_format(propose_format)
    lines: list[str] = []
    last = None
    for step in proposals(state):
        pair = tuple(sorted((step.a, step.b)))
        if propose_format == "grouped" and pair != last:
            rest = [Fraction(n) for n in state]
            rest.remove(pair[0])
            rest.remove(pair[1])
            lines.append(f"{format_numbers(pair)} | {format_numbers(rest)}".rstrip())
            last = pair
        prefix = f"{format_numbers(state)} | " if propose_format == "restated" else ""
        lines.append(prefix + format_step(step))
    return "\n".join(lines)


def whole_moves(state) -> list[Step]:
    """The canonical moves of ``state`` whose result is a whole number other than 0."""
    return [s for s in next_steps(state) if s.result.denominator == 1 and s.result != 0]


def _needs(x: Fraction) -> list[int]:
    """Whole values ``r`` with ``x op r = 24`` or ``r op x = 24`` for some op (ascending)."""
    out = {24 + x, 24 * x}
    out.add(24 - x if x <= 24 else x - 24)
    if 24 % x == 0:
        out.add(24 // x)
    if x % 24 == 0:
        out.add(x // 24)
    return sorted(int(v) for v in out)


def _pair_results(y: Fraction, z: Fraction) -> list[int]:
    """Whole results of combining ``y`` and ``z`` once: sum, difference, product, exact quotient."""
    lo, hi = sorted((y, z))
    out = [hi + lo, hi - lo, hi * lo]
    if lo and hi % lo == 0:
        out.append(hi // lo)
    return [int(v) for v in dict.fromkeys(out)]


def value_check(state) -> tuple[list[str], bool]:
    """The worked value check of a 2- or 3-number whole-number state: lines, and the verdict.

    Every expression over three numbers combines one number ``x`` with a result of the other two,
    so the check tries each ``x``: ``x: need <values r with x op r = 24> | <y> <z> -> <results> |
    yes|no``, stopping at the first ``yes``. With two numbers ``y z`` is just the other number.
    A result that is among the needed values is marked with ``!`` right after it (``34!``), so
    the line's ``yes`` follows from a mark written next to the number rather than from comparing
    two lists at the end. Only whole intermediate results are tried (the moves ``propose`` makes).
    """
    nums = sorted(Fraction(n) for n in state)
    if any(n.denominator != 1 for n in nums) or len(nums) not in (2, 3):
        raise ValueError(f"value_check takes 2 or 3 whole numbers, got {format_numbers(nums)}")
    lines: list[str] = []
    firsts = nums if len(nums) == 3 else nums[:1]
    seen: set[Fraction] = set()
    for i, x in enumerate(nums):
        if x not in firsts or x in seen:
            continue
        seen.add(x)
        rest = nums[:i] + nums[i + 1 :]
        need = _needs(x)
        got = _pair_results(*rest) if len(rest) == 2 else [int(rest[0])]
        marked = " ".join(f"{g}{MATCH}" if g in need else str(g) for g in got)
        pair = f"{format_numbers(rest)} -> {marked}" if len(rest) == 2 else marked
        ok = any(g in need for g in got)
        lines.append(
            f"{format_number(x)}: need {' '.join(map(str, need))} | {pair} | {'yes' if ok else 'no'}"
        )
        if ok:
            return lines, True
    return lines, False


def pair_check(state) -> tuple[list[str], bool]:
    """The ``pairs`` value check of a 2- or 3-number whole-number state: lines, and the verdict.

    Every expression over three numbers first combines a pair, then the pair's result with the
    third number. The check writes each pair with its whole results and the third number
    (``4 6 -> 10 2 24 | 8``), then one line per result combined with the third number
    (``24 8 -> 32 16 192 3``), and marks a result of 24 with ``!`` (``24!``), stopping there. Every
    step is the pair arithmetic that ``propose`` does, and the only comparison is with the
    constant 24, where :func:`value_check` matches a result against a list of needed values.
    Second-level results above :data:`PAIRS_LIMIT` are left out: they are never 24. With two
    numbers the check is their one line. The verdict equals :func:`value_check`'s.
    """
    nums = sorted(Fraction(n) for n in state)
    if any(n.denominator != 1 for n in nums) or len(nums) not in (2, 3):
        raise ValueError(f"pair_check takes 2 or 3 whole numbers, got {format_numbers(nums)}")

    def marked(vals: list[int]) -> str:
        return " ".join(f"{v}{MATCH}" if v == 24 else str(v) for v in vals)

    if len(nums) == 2:
        got = _pair_results(*nums)
        return [f"{format_numbers(nums)} -> {marked(got)}"], 24 in got
    lines: list[str] = []
    seen: set[tuple[Fraction, ...]] = set()
    for i, j, k in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        y, z, x = nums[i], nums[j], nums[k]
        if (y, z, x) in seen:
            continue
        seen.add((y, z, x))
        firsts = _pair_results(y, z)
        lines.append(f"{format_numbers((y, z))} -> {' '.join(map(str, firsts))} | {format_number(x)}")
        for r in firsts:
            got = [g for g in _pair_results(Fraction(r), x) if g <= PAIRS_LIMIT]
            lines.append(f"{r} {format_number(x)} -> {marked(got)}")  # "-> " alone if none is left
            if 24 in got:
                return lines, True
    return lines, False


def _check_value_format(value_format: str) -> None:
    if value_format not in VALUE_FORMATS:
        raise ValueError(f"Unknown value format {value_format!r}; choose from {', '.join(VALUE_FORMATS)}.")


def value_answer(state, value_format: str = "need") -> str:
    """Target of the value skill: the worked check (``value_format``: ``need`` for
    :func:`value_check`, ``pairs`` for :func:`pair_check`), then ``sure`` or ``impossible``."""
    _check_value_format(value_format)
    lines, ok = (value_check if value_format == "need" else pair_check)(state)
    return "\n".join([*lines, "sure" if ok else "impossible"])


def solution(nums, rng: random.Random) -> tuple[list[Step], str]:
    """A random solution path of a solvable puzzle and its expression.

    Up to 4 numbers: one of the first 64 paths; 5 numbers: a random walk through solvable states
    (enumerating 5-number paths is slow)."""
    if len(nums) > 4:
        path, state = [], tuple(Fraction(n) for n in nums)
        while len(state) > 1:
            moves = next_steps(state)
            rng.shuffle(moves)
            step = next(s for s in moves if is_solvable(s.left))
            path.append(step)
            state = step.left
        return path, answer_expression(nums, path)
    paths = solution_paths(nums, limit=64)
    path = rng.choice(paths)
    return path, answer_expression(nums, path)


def _check_cot_format(cot_format: str) -> None:
    if cot_format not in COT_FORMATS:
        raise ValueError(f"Unknown CoT format {cot_format!r}; choose from {COT_FORMATS}.")


def cot_answer(nums, path: list[Step], cot_format: str = "plain") -> str:
    """Target of the CoT skill: the path's step lines, then ``Answer: <expression> = 24``.

    ``expand`` writes, before the ``Answer:`` line, the expression back from the last step, one
    step's result replaced by its operation per form (:func:`expansion_forms`):
    ``24 = 2 * 12 = 2 * (4 + 8) = 2 * (4 + (1 + 7))`` — each form copies the one before it and
    changes one number, and the answer copies the last form, where the plain layout writes the
    whole expression from the steps in one go. ``build`` writes it forward instead, one line per
    step (:func:`build_lines`): ``8 = 1 + 7``, ``12 = 4 + 8 = 4 + (1 + 7)``, ``24 = 2 * 12 = 2 * (4 +
    (1 + 7))`` — an earlier result is looked up by the line that starts with it."""
    _check_cot_format(cot_format)
    lines = [format_step(s) for s in path]
    if cot_format == "expand":
        lines.append("24 = " + " = ".join(expansion_forms(nums, path)))
    elif cot_format == "build":
        lines += build_lines(nums, path)
    lines.append(f"Answer: {answer_expression(nums, path)} = 24")
    return "\n".join(lines)


def change_one_number(expr: str, rng: random.Random) -> str:
    """``expr`` with one of its numbers, drawn at random, shifted by -2..+3 (never below 1)."""
    tokens = expr.split(" ")
    i = rng.choice([i for i, t in enumerate(tokens) if t.strip("()").isdigit()])
    digits = tokens[i].strip("()")
    tokens[i] = tokens[i].replace(digits, str(max(1, int(digits) + rng.choice([-2, -1, 1, 2, 3]))))
    return " ".join(tokens)


def corrupt_expression(nums, rng: random.Random) -> str:
    """A wrong answer: one operator changed, one number changed, or another puzzle's answer."""
    for _ in range(50):
        kind = rng.random()
        if kind < 0.45:  # change one operator of a solution path
            path, _ = solution(nums, rng)
            k = rng.randrange(len(path))
            st = path[k]
            op = rng.choice([o for o in "+-*/" if o != st.op])
            res = apply_op(st.a, op, st.b)
            if res is None:
                continue
            new = [*path[:k], Step(st.a, op, st.b, res, st.left)]
            expr = _replay(nums, new, path[k + 1 :])
        elif kind < 0.8:  # change one number
            expr = change_one_number(solution(nums, rng)[1], rng)
        else:  # an answer to a different puzzle
            other = _other_start(nums, rng)
            if sorted(other) == sorted(nums):
                continue
            _, expr = solution(other, rng)
        if expr and not _correct(nums, expr) and _evaluates(expr):
            return expr
    raise RuntimeError("could not corrupt")


def random_wrong_expression(nums, rng: random.Random) -> str:
    """A wrong answer that uses exactly the puzzle's numbers: random steps whose value is not 24."""
    for _ in range(50):
        state: tuple = tuple(Fraction(n) for n in nums)
        path = []
        while len(state) > 1:
            step = rng.choice(next_steps(state))
            path.append(step)
            state = step.left
        if state[0] != 24:
            return answer_expression(nums, path)
    return corrupt_expression(nums, rng)


def other_puzzle_expression(nums, rng: random.Random) -> str:
    """A wrong answer that solves *another* puzzle: a correct 24 over other numbers."""
    for _ in range(50):
        other = _other_start(nums, rng)
        if sorted(other) == sorted(nums):
            continue
        _, expr = solution(other, rng)
        if not _correct(nums, expr):
            return expr
    raise RuntimeError(f"no other puzzle's answer found for {format_numbers(nums)}")


def training_wrong_expression(nums, rng: random.Random, other_share: float = 0.0) -> str:
    """A wrong answer for judge training: with probability ``other_share`` an answer to another
    puzzle (:func:`other_puzzle_expression`); otherwise a near miss (:func:`corrupt_expression`)
    or, with probability ``RANDOM_WRONG_SHARE``, random steps over the same numbers.

    ``other_share`` 0 draws exactly as before it existed (no extra random number)."""
    if other_share and rng.random() < other_share:
        return other_puzzle_expression(nums, rng)
    if rng.random() < RANDOM_WRONG_SHARE:
        return random_wrong_expression(nums, rng)
    return corrupt_expression(nums, rng)


def low_wrong_expression(nums, rng: random.Random) -> str:
    """A judge training answer to an unsolvable puzzle over 1..13 (every answer to one is wrong),
    drawn like the test's corruptions: with probability ``LOW_SAME_SHARE`` random steps over its
    numbers (the same numbers, as an operator change keeps them), else those steps with one
    number changed by -2..+3, else (``LOW_OTHER_SHARE``) another training puzzle's answer.

    Unsolvable multisets over 1..13 are the only 4-number puzzles of small numbers that training
    may hold (every solvable one is a test puzzle), so these are where the judge's list lines see
    two equal lists of small numbers; an answer that makes 24 is kept only if its numbers are a
    training start, so no test puzzle's solution is ever written."""
    for _ in range(100):
        r = rng.random()
        if r < LOW_SAME_SHARE:
            return random_wrong_expression(nums, rng)
        if r < 1.0 - LOW_OTHER_SHARE:
            expr = change_one_number(random_wrong_expression(nums, rng), rng)
        else:
            expr = solution(random_start(rng, solvable=True), rng)[1]
        if not _evaluates(expr):
            continue
        used = tuple(sorted(expression_numbers(expr)))
        if evaluate_expression(expr) != 24 or (len(used) == 4 and is_training_start(used)):
            return expr
    raise RuntimeError(f"no wrong answer found for {format_numbers(nums)}")


def _replay(nums, head: list[Step], tail: list[Step]) -> str | None:
    """Expression of ``head`` followed by ``tail`` replayed on the changed values."""
    items = [Fraction(n) for n in nums]
    path = []
    for st in head:
        items.remove(st.a)
        items.remove(st.b)
        items.append(st.result)
        path.append(Step(st.a, st.op, st.b, st.result, tuple(sorted(items))))
    for st in tail:  # same operand positions, recomputed values
        if len(items) < 2:
            return None
        a, b = sorted(items)[:2] if st.a not in items or st.b not in items else (st.a, st.b)
        if a not in items or b not in items or (a == b and items.count(a) < 2):
            return None
        r = apply_op(a, st.op, b)
        if r is None:
            return None
        items.remove(a)
        items.remove(b)
        items.append(r)
        path.append(Step(a, st.op, b, r, tuple(sorted(items))))
    try:
        return answer_expression(nums, path)
    except ValueError:
        return None


def _evaluates(expr: str) -> bool:
    try:
        evaluation_lines(expr)
    except ValueError:
        return False
    return True


def _correct(nums, expr: str) -> bool:
    from chainlab.tasks.game24_math import check_answer

    return check_answer(tuple(nums), expr)


def _check_judge_format(judge_format: str) -> None:
    if judge_format not in JUDGE_FORMATS:
        raise ValueError(f"Unknown judge format {judge_format!r}; choose from {JUDGE_FORMATS}.")


def _product(factors: list[int]) -> str:
    """``12 * 4`` from [12, 4]; factors of 1 left out (a lone 1 kept)."""
    kept = [f for f in factors if f != 1] or [1]
    return " * ".join(str(f) for f in kept)


def worked_operation(a: Fraction, op: str, b: Fraction, result: Fraction) -> str:
    """One operation of a judged expression as a line; one with a fraction operand worked over
    integers first.

    Whole operands give the plain line (``10 - 4 = 6``). With a fraction operand, ``*`` and ``/``
    go through the integer products of numerators and denominators (``12 / 3/4 = 12 * 4 / 3 =
    48 / 3 = 16``, ``3/2 / 9 = 3 / (2 * 9) = 3 / 18 = 1/6``), ``+`` and ``-`` through a common
    denominator (``2 - 7/4 = 8/4 - 7/4 = 1/4``): each part of the line equals the next, and each
    multiplication or division in it is of whole numbers.
    """
    head = f"{format_number(a)} {op} {format_number(b)}"
    if a.denominator == 1 and b.denominator == 1:
        return f"{head} = {format_number(result)}"
    parts = [head]
    if op in "+-":
        d = lcm(a.denominator, b.denominator)
        common = f"{a.numerator * d // a.denominator}/{d} {op} {b.numerator * d // b.denominator}/{d}"
        if common != head:
            parts.append(common)
    else:
        num = [a.numerator, b.numerator] if op == "*" else [a.numerator, b.denominator]
        den = [a.denominator, b.denominator] if op == "*" else [a.denominator, b.numerator]
        den_text = _product(den)
        if den_text == "1":  # 6 / 1/4 = 6 * 4 = 24
            parts += [_product(num), str(prod(num))]
        else:
            parts.append(f"{_product(num)} / " + (f"({den_text})" if " * " in den_text else den_text))
            parts.append(f"{prod(num)} / {prod(den)}")
    parts.append(format_number(result))
    return " = ".join(p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1])


_UNDO = {"+": "-", "-": "+", "*": "/", "/": "*"}  # a op b = 24  <=>  a = 24 undo[op] b


def need_line(a: Fraction, op: str, b: Fraction) -> str:
    """The last operation of a judged expression checked against 24 from the value it needs:
    ``a op b`` makes 24 exactly when ``a`` equals ``24`` with ``b`` undone, so the line works out
    that needed value (one operand is always 24, a small family of facts the value skill
    practises) and compares it with ``a``: ``4 * 6: need 24 / 6 = 4, have 4: yes``,
    ``6/5 * 91: need 24 / 91 = 24/91, have 6/5: no``; ``need none`` when nothing times 0 is 24.
    """
    head = f"{format_number(a)} {op} {format_number(b)}: need "
    have = f", have {format_number(a)}: "
    if op == "*" and b == 0:
        return head + "none" + have + "no"
    undo = _UNDO[op]
    need = apply_op(Fraction(24), undo, b)
    return head + f"24 {undo} {format_number(b)} = {format_number(need)}" + have + ("yes" if need == a else "no")


def cross_off_lines(nums, expr: str) -> tuple[list[str], bool]:
    """The expression's numbers taken from the puzzle's one at a time, in the order they are
    written, each with what is left: ``Take 5: 4 6 10`` ... ``Take 10: none``; a number the puzzle
    does not hold (any more) ends the list as ``Take 5: missing``. Returns the lines and whether
    the expression uses exactly the puzzle's numbers (no number missing, nothing left).

    Each line is one removal from a short sorted list, the step every ``(left: …)`` of the propose
    skill takes, instead of a comparison of two lists the model has to sort first."""
    left = sorted(Fraction(n) for n in nums)
    lines = []
    for x in expression_numbers(expr):
        if x not in left:
            lines.append(f"Take {format_number(x)}: missing")
            return lines, False
        left.remove(x)
        lines.append(f"Take {format_number(x)}: {format_numbers(left) or 'none'}")
    return lines, not left


def replay_lines(nums, expr: str) -> list[str]:
    """The expression replayed as the propose skill's restated steps, from the puzzle's numbers:
    each operation in evaluation order takes its two operands from the numbers left and writes
    what is left (``4 5 6 10 | 10 - 4 = 6 (left: 5 6 6)``); an operand the numbers left do not
    hold ends the replay as ``4 5 6 10 | 10 - 3: 3 missing``.

    The replay ends at ``(left: 24)`` exactly when the answer is correct: taking every operand
    from the numbers left checks that the expression uses the puzzle's numbers (a leaf the puzzle
    lacks goes missing, an unused one stays left) and the last ``left`` is its value."""
    left = [Fraction(n) for n in nums]
    head = format_numbers(nums)
    lines = []
    for a, op, b, result in evaluation_steps(expr):
        work = f"{format_number(a)} {op} {format_number(b)}"
        for x in (a, b):
            if x not in left:
                lines.append(f"{head} | {work}: {format_number(x)} missing")
                return lines
            left.remove(x)
        left = sorted([*left, result])
        lines.append(f"{head} | {work} = {format_number(result)} (left: {format_numbers(left)})")
        head = format_numbers(left)
    return lines


def _render(node) -> str:
    """A tree of :func:`~chainlab.tasks.game24_math.expression_tree` written out, its parentheses where the expression had
    them; a number that is not whole is put in parentheses, ``(13/2)``, so that ``12 / (1/2)``
    cannot be read as ``12 / 1 / 2``."""
    if len(node) == 1:
        x = node[0]
        return format_number(x) if x.denominator == 1 else f"({format_number(x)})"
    op, left, right, paren = node
    text = f"{_render(left)} {op} {_render(right)}"
    return f"({text})" if paren else text


def rewrite_lines(expr: str) -> list[str]:
    """The expression worked out one operation at a time, each line the operation and its result
    followed by the expression with that operation replaced by its result:
    ``2 + 4 = 6: (9 - 6) * 8``, ``9 - 6 = 3: 3 * 8``, ``3 * 8 = 24`` (the last line has nothing
    left to rewrite). Each operation is the first of the line above's expression to work out, its
    operands two numbers written there next to each other, so no earlier result has to be found
    further up."""
    tree, lines = expression_tree(expr), []
    while len(tree) > 1:
        path, node = [], tree
        while len(node[1]) > 1 or len(node[2]) > 1:  # down to the first operation of two numbers
            side = 1 if len(node[1]) > 1 else 2
            path.append((node, side))
            node = node[side]
        op, (a,), (b,), _ = node
        result = apply_op(a, op, b)
        work = f"{format_number(a)} {op} {format_number(b)} = {format_number(result)}"
        if not path:
            lines.append(work)
            break
        parent, side = path[-1]
        parent[side] = [result]
        lines.append(f"{work}: {_render(tree)}")
    return lines


def compare_line(used, nums) -> str:
    """The judge's place-by-place comparison of the expression's numbers with the puzzle's, both
    sorted: ``Compare: 5 4 no, 5 5 yes, 6 6 yes, 10 10 yes``; a place one list lacks is ``-``."""
    a = [format_number(x) for x in sorted(Fraction(x) for x in used)]
    b = [format_number(x) for x in sorted(Fraction(x) for x in nums)]
    width = max(len(a), len(b))
    a, b = a + ["-"] * (width - len(a)), b + ["-"] * (width - len(b))
    return "Compare: " + ", ".join(f"{x} {y} {'yes' if x == y else 'no'}" for x, y in zip(a, b, strict=True))


def written_line(expr: str) -> str:
    """The expression's numbers copied in the order they are written: ``Written: 5 5 6 10``."""
    return "Written: " + " ".join(format_number(n) for n in expression_numbers(expr))


def insertion_line(used) -> str:
    """The judge's sort of the expression's numbers, written out: each number in the order
    written put into the sorted list so far, ``Sort: 4 | 4 9 | 4 6 9 | 4 6 6 9``."""
    done: list[Fraction] = []
    lists = []
    for x in used:
        done = sorted([*done, Fraction(x)])
        lists.append(format_numbers(done))
    return "Sort: " + " | ".join(lists)


def judge_answer(nums, expr: str, judge_format: str = "plain") -> str:
    """Target of the judge skill: the expression worked out, the numbers used next to the input's,
    whether they are the same and whether the value is 24 (each a yes/no read off adjacent lines),
    then the verdict (correct exactly when both are yes).

    ``plain`` works the expression out first; ``numbers-first`` starts with the ``Input:`` line
    and the ``Numbers:`` the expression uses (copied from the prompt's two lines just above,
    before any worked line holds an intermediate result or the 24 to copy by mistake), then
    ``Same numbers``, then the worked lines, ``Makes 24`` and the verdict. ``split-fractions`` is
    ``plain`` with every operation on a fraction worked over whole numbers first
    (:func:`worked_operation`). ``need-last`` is ``plain`` with the last operation checked against
    the value it needs to make 24 (:func:`need_line`) instead of worked out. ``cross-off`` starts
    with the ``Input:`` line and takes the expression's numbers from it one by one
    (:func:`cross_off_lines`) before ``Same numbers``, then works the expression out; it has no
    ``Numbers:`` line. ``cross-off-split`` is ``cross-off`` with the worked lines of
    ``split-fractions``. ``steps`` replays the expression in the propose skill's restated step
    lines (:func:`replay_lines`), so that the numbers and the value are checked by the lines the
    model writes best, then gives the verdict. ``ordered`` starts with the expression's numbers
    copied in the order they are written (``Written:``), then the same numbers sorted
    (``Numbers:``), the ``Input:`` line and ``Same numbers``, then works the expression out: each
    list line is a copy or a sort of the line just above it, and the two sorted lists that
    ``Same numbers`` compares are adjacent. ``compared`` is ``ordered`` with the two sorted lists
    compared place by place before ``Same numbers`` (:func:`compare_line`), so that the yes/no is
    read off one line that holds a ``no`` exactly when the lists differ. ``insert-sorted`` is
    ``compared`` with the sort written out (:func:`insertion_line`): the written numbers put
    into a sorted list one at a time, as every proposal's ``(left: …)`` puts its result.
    ``written-cross-off`` is ``cross-off`` after the ``Written:`` line: each ``Take`` line takes
    the next number of that copy, the line the model writes best, rather than of the expression.
    ``rewrite`` is ``compared`` with each worked line followed by the expression rewritten with
    that operation's result (:func:`rewrite_lines`), so that the next operation's operands are
    read off the line just above.
    """
    _check_judge_format(judge_format)
    verdict = f"Verdict: {'correct' if _correct(nums, expr) else 'incorrect'}"
    if judge_format == "steps":
        return "\n".join([*replay_lines(nums, expr), verdict])
    makes = evaluate_expression(expr) == 24
    ending = [f"Makes 24: {'yes' if makes else 'no'}", verdict]
    if judge_format in ("split-fractions", "cross-off-split"):
        lines = [worked_operation(*op) for op in evaluation_steps(expr)]
    elif judge_format == "rewrite":
        lines = rewrite_lines(expr)
    elif judge_format == "need-last":
        *first, (a, op, b, _) = evaluation_steps(expr)
        lines = evaluation_lines(expr)[: len(first)] + [need_line(a, op, b)]
    else:
        lines = evaluation_lines(expr)
    if judge_format.startswith("cross-off") or judge_format == "written-cross-off":
        taken, same = cross_off_lines(nums, expr)
        copy = [] if judge_format.startswith("cross-off") else [written_line(expr)]
        return "\n".join([
            *copy, f"Input: {format_numbers(nums)}", *taken, f"Same numbers: {'yes' if same else 'no'}",
            *lines, *ending,
        ])  # fmt: skip
    used = expression_numbers(expr)
    same = sorted(used) == sorted(Fraction(n) for n in nums)
    numbers = [
        f"Numbers: {format_numbers(used)}",
        f"Input: {format_numbers(nums)}",
        f"Same numbers: {'yes' if same else 'no'}",
    ]
    if judge_format == "numbers-first":
        numbers[:2] = numbers[1], numbers[0]
        head, tail = numbers, lines
    elif judge_format in ("ordered", "compared", "insert-sorted", "rewrite"):
        if judge_format != "ordered":
            numbers.insert(2, compare_line(used, nums))
        if judge_format == "insert-sorted":
            numbers.insert(0, insertion_line(used))
        head, tail = [written_line(expr), *numbers], lines
    else:
        head, tail = lines, numbers
    return "\n".join([*head, *tail, *ending])


def calc_operations(rng: random.Random, n: int) -> list[tuple[Fraction, str, Fraction, Fraction]]:
    """``n`` operations ``(a, op, b, result)`` as the judge works them out: the steps of right and
    wrong answers to training puzzles (drawn as the judge's are, half of the wrong ones answering
    another puzzle), every step that holds a fraction, and a ``CALC_WHOLE_SHARE`` of the others."""
    out: list[tuple[Fraction, str, Fraction, Fraction]] = []
    while len(out) < n:
        nums = random_start(rng, solvable=True)
        expr = solution(nums, rng)[1] if rng.random() < 0.5 else training_wrong_expression(nums, rng, 0.5)
        for step in evaluation_steps(expr):
            if any(x.denominator != 1 for x in (step[0], step[2], step[3])) or rng.random() < CALC_WHOLE_SHARE:
                out.append(step)
    return out[:n]


def calc_user(operations) -> str:
    """User message of the ``calc`` drill: the operations to work out, one per line."""
    lines = [f"{format_number(a)} {op} {format_number(b)}" for a, op, b, *_ in operations]
    return "\n".join([CALC_INSTRUCTION, *lines])


def calc_answer(operations) -> str:
    """Target of the ``calc`` drill: each operation with its exact result, as the judge writes it."""
    return "\n".join(
        f"{format_number(a)} {op} {format_number(b)} = {format_number(r)}" for a, op, b, r in operations
    )


def drill_lists(rng: random.Random) -> tuple[tuple[int, ...], list[int]]:
    """The two lists of a ``lists`` drill: an input (a training start, a ``LISTS_LOW_SHARE`` of
    them unsolvable multisets over 1..13) and a written list in random order — the same numbers
    half the time, else the input with one number changed by -2..+3 (as a near-miss judge answer
    changes one) or another start's numbers. Neither list is ever a test puzzle's multiset.

    The judge's test puzzles hold only numbers up to 13, while every training puzzle it can be
    given holds a number above 13: the unsolvable low lists are the only 4-number lists over
    1..13 training may hold, and the drill is where they meet the judge's list lines."""
    nums = random_start(rng, low_unsolvable=LISTS_LOW_SHARE)
    while True:
        r = rng.random()
        written = list(nums)
        if 0.5 <= r < 0.85:
            i = rng.randrange(len(written))
            written[i] = max(1, written[i] + rng.choice([-2, -1, 1, 2, 3]))
        elif r >= 0.85:  # another start (below 0.5: the same numbers)
            written = list(random_start(rng, low_unsolvable=LISTS_LOW_SHARE))
        if is_training_start(tuple(sorted(written))):
            rng.shuffle(written)
            return nums, written


def lists_user(nums, written) -> str:
    """User message of the ``lists`` drill: the instruction, the written list, the input."""
    return "\n".join([LISTS_INSTRUCTION, f"Written: {' '.join(str(n) for n in written)}", f"Input: {format_numbers(nums)}"])


def lists_answer(nums, written) -> str:
    """Target of the ``lists`` drill: the judge's list lines of the ``compared`` layout that follow
    its copies — the written numbers sorted, the place-by-place comparison, the yes/no."""
    same = sorted(Fraction(n) for n in written) == sorted(Fraction(n) for n in nums)
    return "\n".join([
        f"Numbers: {format_numbers(written)}", compare_line(written, nums), f"Same numbers: {'yes' if same else 'no'}",
    ])  # fmt: skip


# ---------------------------------------------------------------- one turn per skill


@dataclass(frozen=True)
class DataRecipe:
    """The options that shape the generated conversations (``train-tiny``'s data options).

    ``mix``: the skill weights. ``wide_share``: the share of 3-number value states drawn wide
    (numbers up to ``WIDE_MAX``) rather than from puzzle-like states. ``value_format``: the worked
    value check (:func:`value_answer`). ``judge_other_share``: the share of the judge's wrong
    answers that answer another puzzle (:func:`training_wrong_expression`). ``judge_small_share``:
    the share of judge turns on a 3- or 5-number puzzle over 1..13 (:func:`small_puzzle`).
    ``judge_low_share``: the share of judge turns on an unsolvable 4-number puzzle over 1..13,
    answered wrong (:func:`low_wrong_expression`).
    ``judge_correct_share``: the share of judge turns whose answer is right (the rest are wrong).
    ``propose_format``: see :func:`propose_answer`; ``judge_format``: see :func:`judge_answer`;
    ``cot_format``: see :func:`cot_answer`. An option at its default draws exactly what the
    generator drew before the option existed.
    """

    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    wide_share: float = WIDE_SHARE
    value_format: str = "need"
    judge_other_share: float = 0.0
    judge_small_share: float = 0.0
    judge_low_share: float = 0.0
    judge_correct_share: float = 0.5
    propose_format: str = "plain"
    judge_format: str = "plain"
    cot_format: str = "plain"

    def __post_init__(self) -> None:
        for name in ("wide_share", "judge_other_share", "judge_small_share", "judge_low_share", "judge_correct_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {share}")
        _check_value_format(self.value_format)
        _check_propose_format(self.propose_format)
        _check_judge_format(self.judge_format)
        _check_cot_format(self.cot_format)


def make_turn(skill: str, rng: random.Random, recipe: DataRecipe = DataRecipe()) -> tuple[str, str]:
    """A (user message, assistant answer) pair of ``skill``, drawn as ``recipe`` says."""
    if skill == "io":
        nums = random_start(rng, solvable=True)
        _, expr = solution(nums, rng)
        return P.io_user(nums), f"Answer: {expr} = 24"
    if skill == "cot":
        nums = random_start(rng, solvable=True)
        path, _ = solution(nums, rng)
        return P.cot_user(nums), cot_answer(nums, path, recipe.cot_format)
    if skill == "propose":
        r = rng.random()
        if r < 0.5:
            state: tuple = tuple(Fraction(n) for n in random_start(rng, low_unsolvable=0.45))
        else:
            size = 3 if r < 0.85 else 2
            state = random_state(rng, size, solvable=rng.random() < 0.6)
        return P.propose_user(state), propose_answer(state, recipe.propose_format)
    if skill == "value":
        size = 3 if rng.random() < 0.7 else 2
        ok = rng.random() < 0.5
        if size == 3 and rng.random() < recipe.wide_share:
            state = wide_state(rng, solvable=ok)
        else:
            state = random_state(rng, size, solvable=ok)
        return P.value_user(state), value_answer(state, recipe.value_format)
    if skill == "judge":
        small = bool(recipe.judge_small_share) and rng.random() < recipe.judge_small_share
        if not small and recipe.judge_low_share and rng.random() < recipe.judge_low_share:
            nums = random_start(rng, low_unsolvable=1.0)
            expr = low_wrong_expression(nums, rng)
            return P.judge_user(nums, expr), judge_answer(nums, expr, recipe.judge_format)
        nums = small_puzzle(rng) if small else random_start(rng, solvable=True)
        good = rng.random() < recipe.judge_correct_share
        expr = solution(nums, rng)[1] if good else training_wrong_expression(
            nums, rng, recipe.judge_other_share
        )
        return P.judge_user(nums, expr), judge_answer(nums, expr, recipe.judge_format)
    if skill == "calc":
        ops = calc_operations(rng, rng.randint(4, 8))
        return calc_user(ops), calc_answer(ops)
    if skill == "lists":
        nums, written = drill_lists(rng)
        return lists_user(nums, written), lists_answer(nums, written)
    raise ValueError(f"Unknown skill {skill!r}; choose from {SKILLS}.")


def make_example(rng: random.Random, recipe: DataRecipe = DataRecipe()) -> Example:
    """A conversation: random system context, 0-2 earlier turns of the same skill, the final turn."""
    mix = recipe.mix
    skill = rng.choices(list(mix), weights=list(mix.values()))[0]
    system = rng.choice(SYSTEMS)
    r = rng.random()
    n_prev = 0 if r < 0.72 else 1 if r < 0.92 else 2
    if skill == "propose" and n_prev:  # long answers: keep few-shot propose short
        n_prev = 1
    turns = [make_turn(skill, rng, recipe) for _ in range(n_prev + 1)]
    return Example(skill, system, turns)


def iter_examples(n: int, seed: int = 0, recipe: DataRecipe | None = None, **options) -> Iterator[Example]:
    """``n`` training examples, reproducible from ``seed`` and the recipe: ``recipe``, or a
    :class:`DataRecipe` made from ``options`` (``mix=``, ``wide_share=``, ...)."""
    if recipe is None:
        recipe = DataRecipe(**options)
    elif options:
        raise TypeError("give either recipe= or its options, not both")
    rng = random.Random(seed)
    for _ in range(n):
        yield make_example(rng, recipe)


def calibration_texts(n: int = 128, seed: int = 1234) -> list[str]:
    """Prompt+answer texts for GPTQ calibration (training distribution, own seed)."""
    return [ex.text() for ex in iter_examples(n, seed=seed)]


def example_starts(ex: Example) -> list[tuple[Fraction, ...]]:
    """The 4-number states that appear as ``Input:`` in an example's turns."""
    out = []
    for user, _ in ex.turns:
        for line in user.splitlines():
            if line.startswith("Input: "):
                from chainlab.tasks.game24_math import parse_numbers

                nums = parse_numbers(line[len("Input: ") :])
                if len(nums) == 4:
                    out.append(tuple(sorted(nums)))
    return out


_GC_EVERY = 1000  # examples between collections of the young generations in write_dataset


def write_dataset(
    path: str | Path, n: int, seed: int = 0, recipe: DataRecipe | None = None, **options
) -> Path:
    """Write ``n`` examples (see :func:`iter_examples`) as JSONL (skill, text, answer spans), with a
    progress bar.

    Python's automatic garbage collection is paused while the examples are drawn: the solver's
    caches hold hundreds of thousands of tuples that every full collection would walk again (nearly
    half of the drawing time once the solver is fast; see the research notes, session 33). The
    young generations, where the few reference cycles of drawing (recursive helpers) are, are
    collected every ``_GC_EVERY`` examples instead."""
    import gc
    import json

    from tqdm import tqdm

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with open(tmp, "w") as f:
            examples = iter_examples(n, seed, recipe, **options)
            for i, ex in enumerate(tqdm(examples, total=n, desc="training data", unit="ex"), 1):
                rec = {"skill": ex.skill, "text": ex.text(), "spans": ex.answer_spans()}
                f.write(json.dumps(rec) + "\n")
                if i % _GC_EVERY == 0:
                    gc.collect(1)
    finally:
        if was_enabled:
            gc.enable()
    tmp.rename(path)
    return path
