"""Exact Game of 24 arithmetic: steps, an exhaustive solver and a safe expression checker.

Everything is done over :class:`fractions.Fraction` (no floats, division allowed), and model text is
parsed by a small recursive-descent parser — never ``eval``/``sympify``.

The step format is the Tree-of-Thoughts paper's: ``4 + 5 = 9 (left: 6 9 10)``, with the remaining
numbers in ascending order. chainlab's canonical steps write ``+``/``*`` with the smaller operand
first, ``-`` as larger minus smaller (no negative intermediates) and ``/`` in both directions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

TARGET = Fraction(24)
OPS = ("+", "-", "*", "/")

__all__ = [
    "Step",
    "ExpressionError",
    "parse_numbers",
    "format_number",
    "format_numbers",
    "format_step",
    "apply_op",
    "next_steps",
    "is_solvable",
    "solve",
    "solution_paths",
    "evaluate_expression",
    "evaluation_lines",
    "expression_numbers",
    "check_answer",
    "answer_expression",
    "expansion_forms",
    "build_lines",
]


@dataclass(frozen=True)
class Step:
    """One move: ``a op b = result``, leaving the numbers ``left`` (ascending)."""

    a: Fraction
    op: str
    b: Fraction
    result: Fraction
    left: tuple[Fraction, ...]

    def __str__(self) -> str:
        return format_step(self)


def format_number(x: Fraction | int) -> str:
    """``5`` for integers, ``8/3`` for fractions, ``-2`` for negatives."""
    if not isinstance(x, Fraction):
        x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def format_numbers(nums) -> str:
    """Space-separated numbers in ascending order."""
    return " ".join(format_number(n) for n in sorted(Fraction(n) for n in nums))


_NUM_RE = re.compile(r"-?\d+(?:/\d+)?")


def parse_numbers(text: str) -> tuple[Fraction, ...]:
    """Parse ``"4 5 6 10"`` (or ``"8/3 5"``) into a tuple of Fractions.

    Raises:
        ValueError: the text holds something other than whitespace-separated numbers.
    """
    parts = text.split()
    out = []
    for p in parts:
        if not _NUM_RE.fullmatch(p):
            raise ValueError(f"Not a number in {text!r}: {p!r} (expected e.g. '4 5 6 10').")
        n, _, d = p.partition("/")
        if d and int(d) == 0:
            raise ValueError(f"Zero denominator in {text!r}.")
        out.append(Fraction(int(n), int(d) if d else 1))
    return tuple(out)


def format_step(step: Step) -> str:
    """``"4 + 5 = 9 (left: 6 9 10)"``."""
    return (
        f"{format_number(step.a)} {step.op} {format_number(step.b)} = "
        f"{format_number(step.result)} (left: {format_numbers(step.left)})"
    )


def apply_op(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    """``a op b`` exactly; None for division by zero."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return None if b == 0 else a / b
    raise ValueError(f"Unknown operator {op!r}; use one of + - * /.")


def next_steps(numbers) -> list[Step]:
    """All distinct canonical moves from ``numbers``, in a fixed order.

    Pairs are taken in ascending order of the sorted numbers; for each pair the moves are
    ``a + b``, ``b - a``, ``a * b``, ``b / a``, ``a / b`` (with ``a <= b``, zero divisors skipped,
    duplicates removed).
    """
    return list(_next_steps(tuple(sorted(Fraction(n) for n in numbers))))


@lru_cache(maxsize=200_000)
def _next_steps(nums: tuple[Fraction, ...]) -> tuple[Step, ...]:
    seen: set[tuple] = set()
    steps: list[Step] = []
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            a, b = nums[i], nums[j]
            rest = nums[:i] + nums[i + 1 : j] + nums[j + 1 :]
            for x, op, y in ((a, "+", b), (b, "-", a), (a, "*", b), (b, "/", a), (a, "/", b)):
                r = apply_op(x, op, y)
                if r is None or (x, op, y) in seen:
                    continue
                seen.add((x, op, y))
                steps.append(Step(x, op, y, r, tuple(sorted((*rest, r)))))
    return tuple(steps)


def _pair_makes_24(p: int, q: int, r: int, s: int) -> bool:
    """Whether one canonical move on ``p/q`` and ``r/s`` (``q, s > 0``, not necessarily in lowest
    terms) makes exactly 24.

    The moves of :func:`_next_steps` on a pair ``x <= y`` are ``x + y``, ``y - x``, ``x * y``,
    ``y / x`` and ``x / y`` (zero divisors skipped); each is compared with 24 over whole numbers,
    without building a Fraction.
    """
    ps, rq, qs24 = p * s, r * q, 24 * q * s
    return (
        ps + rq == qs24
        or abs(rq - ps) == qs24
        or p * r == qs24
        or (p != 0 and rq == 24 * p * s)
        or (r != 0 and ps == 24 * r * q)
    )


def _three_make_24(key: tuple[Fraction, ...]) -> bool:
    """``_solvable`` of a 3-number state (ascending): some canonical move leaves a pair that makes
    24. The move's result is kept as an unreduced ``(numerator, denominator)``, denominator > 0."""
    for i, j, k in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        a, b, c = key[i], key[j], key[k]  # a <= b
        p1, q1, p2, q2 = a.numerator, a.denominator, b.numerator, b.denominator
        results = [(p1 * q2 + p2 * q1, q1 * q2), (p2 * q1 - p1 * q2, q1 * q2), (p1 * p2, q1 * q2)]
        if p1:  # b / a
            results.append((p2 * q1, q2 * p1) if p1 > 0 else (-p2 * q1, -q2 * p1))
        if p2:  # a / b
            results.append((p1 * q2, q1 * p2) if p2 > 0 else (-p1 * q2, -q1 * p2))
        cn, cd = c.numerator, c.denominator
        if any(_pair_makes_24(n, d, cn, cd) for n, d in results):
            return True
    return False


@lru_cache(maxsize=500_000)
def _solvable(key: tuple[Fraction, ...]) -> bool:
    if len(key) == 1:
        return key[0] == TARGET
    if len(key) == 2:
        a, b = key
        return _pair_makes_24(a.numerator, a.denominator, b.numerator, b.denominator)
    if len(key) == 3:
        return _three_make_24(key)
    return any(_solvable(s.left) for s in _next_steps(key))


def is_solvable(numbers) -> bool:
    """Whether 24 can be reached from ``numbers`` with canonical steps (exact arithmetic)."""
    return _solvable(tuple(sorted(Fraction(n) for n in numbers)))


def solution_paths(numbers, limit: int | None = None) -> list[list[Step]]:
    """Every sequence of canonical steps from ``numbers`` that ends at exactly 24."""
    out: list[list[Step]] = []

    def rec(nums: tuple[Fraction, ...], path: list[Step]) -> None:
        if limit is not None and len(out) >= limit:
            return
        if len(nums) == 1:
            if nums[0] == TARGET:
                out.append(list(path))
            return
        for s in _next_steps(nums):  # nums is already a sorted tuple of Fractions
            if _solvable(s.left):
                rec(s.left, path + [s])

    rec(tuple(sorted(Fraction(n) for n in numbers)), [])
    return out


def answer_expression(numbers, path: list[Step]) -> str:
    """The expression that a step path computes, each step parenthesized.

    ``answer_expression([4,5,6,10], steps)`` -> ``"(5 * (10 - 4)) - 6"``. An operand that an earlier
    step made is written out as that step (the latest such step; else the puzzle's number).
    """
    full: list[str] = []
    for (na, nb), st in zip(_step_operands(numbers, path), path, strict=True):
        full.append(" ".join(n if isinstance(n, str) else f"({full[n]})" for n in (na, st.op, nb)))
    return full[-1] if full else format_number(numbers[0])


def expansion_forms(numbers, path: list[Step]) -> list[str]:
    """The expression of a step path written back from its last step, one step expanded per form.

    The first form is the last step's operation; each next one replaces the result of the step
    before it with that step's operation in parentheses, so the last form is
    :func:`answer_expression`'s: ``[1, 2, 4, 7]`` by ``1 + 7 = 8``, ``4 + 8 = 12``, ``2 * 12 = 24``
    gives ``["2 * 12", "2 * (4 + 8)", "2 * (4 + (1 + 7))"]``. An unexpanded fraction result is
    parenthesized, so every form equals 24.
    """
    operands = _step_operands(numbers, path)

    def render(node, expanded: int, top: bool = False) -> str:
        if isinstance(node, str):
            return node
        if node < expanded:
            r = path[node].result
            return format_number(r) if r.denominator == 1 else f"({format_number(r)})"
        (a, b), op = operands[node], path[node].op
        text = f"{render(a, expanded)} {op} {render(b, expanded)}"
        return text if top else f"({text})"

    last = len(path) - 1
    return [render(last, k, top=True) for k in range(last, -1, -1)]


def build_lines(numbers, path: list[Step]) -> list[str]:
    """The expression of a step path built forward, one line per step: the step's result, its
    operation, and (when an operand was made by an earlier step) the operation with that operand
    written out as its own line's expression — the last line ends with :func:`answer_expression`'s.

    ``[1, 2, 4, 7]`` by ``1 + 7 = 8``, ``4 + 8 = 12``, ``2 * 12 = 24`` gives ``["8 = 1 + 7",
    "12 = 4 + 8 = 4 + (1 + 7)", "24 = 2 * 12 = 2 * (4 + (1 + 7))"]``: each line looks up an earlier
    result by the line that starts with it.
    """
    full: list[str] = []
    lines = []
    for (na, nb), st in zip(_step_operands(numbers, path), path, strict=True):
        raw = f"{format_number(st.a)} {st.op} {format_number(st.b)}"
        full.append(" ".join(n if isinstance(n, str) else f"({full[n]})" for n in (na, st.op, nb)))
        line = f"{format_number(st.result)} = {raw}"
        lines.append(line if full[-1] == raw else f"{line} = {full[-1]}")
    return lines


def _step_operands(numbers, path: list[Step]) -> list[tuple[str | int, str | int]]:
    """Each step's two operands: the index of the earlier step that made it (the latest one of that
    value), else the puzzle's number as written. Raises ValueError unless the path takes numbers
    that are there and ends with one."""
    items: list[tuple[Fraction, str | int]] = [(Fraction(n), format_number(n)) for n in numbers]

    def take(value: Fraction) -> str | int:
        made = [k for k, (v, node) in enumerate(items) if v == value and isinstance(node, int)]
        leaves = [k for k, (v, node) in enumerate(items) if v == value and isinstance(node, str)]
        if not made and not leaves:
            raise ValueError(f"{format_number(value)} is not among the numbers left.")
        return items.pop(made[-1] if made else leaves[0])[1]

    operands = []
    for k, st in enumerate(path):
        operands.append((take(st.a), take(st.b)))
        items.append((st.result, k))
    if len(items) != 1:
        raise ValueError("The path does not reduce the numbers to one.")
    return operands


def solve(numbers, limit: int | None = None) -> list[str]:
    """Distinct solution expressions for ``numbers`` (empty if unsolvable)."""
    seen: dict[str, None] = {}
    for p in solution_paths(numbers, limit=limit):
        seen.setdefault(answer_expression(numbers, p), None)
    return list(seen)


# ---------------------------------------------------------------- safe expression parsing


class ExpressionError(ValueError):
    """Raised when an expression cannot be parsed or evaluated."""


_TOKEN_RE = re.compile(r"\s*(?:(\d+)|(.))")
_OP_ALIASES = {"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-", "–": "-"}


def _tokenize(expr: str) -> list[str]:
    tokens: list[str] = []
    for m in _TOKEN_RE.finditer(expr):
        num, ch = m.group(1), m.group(2)
        if num is not None:
            tokens.append(num)
        elif ch is not None and not ch.isspace():
            ch = _OP_ALIASES.get(ch, ch)
            if ch not in "+-*/()":
                raise ExpressionError(f"Unexpected character {ch!r} in {expr!r}.")
            tokens.append(ch)
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := INT | '(' expr ')'"""

    def __init__(self, tokens: list[str]):
        self.toks = tokens
        self.i = 0
        self.leaves: list[Fraction] = []
        self.ops: list[tuple[Fraction, str, Fraction, Fraction]] = []
        self.trees: list[list] = []  # parsed subtrees, see expression_tree

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _combine(self, op: str) -> None:
        right = self.trees.pop()
        self.trees.append([op, self.trees.pop(), right, False])

    def eat(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("Expression ends too early.")
        self.i += 1
        return tok

    def expr(self) -> Fraction:
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.eat()
            r = self.term()
            res = v + r if op == "+" else v - r
            self.ops.append((v, op, r, res))
            self._combine(op)
            v = res
        return v

    def term(self) -> Fraction:
        v = self.factor()
        while self.peek() in ("*", "/"):
            op = self.eat()
            r = self.factor()
            if op == "/" and r == 0:
                raise ExpressionError("Division by zero.")
            res = v * r if op == "*" else v / r
            self.ops.append((v, op, r, res))
            self._combine(op)
            v = res
        return v

    def factor(self) -> Fraction:
        tok = self.eat()
        if tok == "(":
            v = self.expr()
            if self.eat() != ")":
                raise ExpressionError("Missing ')'.")
            if len(self.trees[-1]) == 4:
                self.trees[-1][3] = True  # an operation written in parentheses
            return v
        if tok.isdigit():
            v = Fraction(int(tok))
            self.leaves.append(v)
            self.trees.append([v])
            return v
        raise ExpressionError(f"Unexpected {tok!r}.")


def _run_parser(expr: str) -> _Parser:
    tokens = _tokenize(expr)
    if not tokens:
        raise ExpressionError("Empty expression.")
    p = _Parser(tokens)
    p.value = p.expr()
    if p.peek() is not None:
        raise ExpressionError(f"Unexpected {p.peek()!r} after the end of the expression.")
    return p


def _parse(expr: str) -> tuple[Fraction, list[Fraction]]:
    p = _run_parser(expr)
    return p.value, p.leaves


def evaluation_steps(expr: str) -> list[tuple[Fraction, str, Fraction, Fraction]]:
    """The operations of an expression in evaluation order, as ``(a, op, b, result)`` tuples."""
    return list(_run_parser(expr).ops)


def expression_tree(expr: str) -> list:
    """``expr`` as a tree: ``[value]`` leaves and ``[op, left, right, parenthesized]`` nodes, where
    ``parenthesized`` says the operation was written in parentheses."""
    return _run_parser(expr).trees[-1]


def evaluation_lines(expr: str) -> list[str]:
    """The operations of an expression in evaluation order: ``["10 - 4 = 6", "5 * 6 = 30", ...]``."""
    return [
        f"{format_number(a)} {op} {format_number(b)} = {format_number(r)}"
        for a, op, b, r in evaluation_steps(expr)
    ]


def evaluate_expression(expr: str) -> Fraction:
    """Exact value of an arithmetic expression over integers with + - * / and parentheses."""
    return _parse(expr)[0]


def expression_numbers(expr: str) -> list[Fraction]:
    """The integer literals of an expression, in order."""
    return _parse(expr)[1]


def check_answer(puzzle, answer: str) -> bool:
    """Score an answer as the ToT paper does: each puzzle number used once, value exactly 24.

    ``answer`` may be a whole line (``"Answer: (5 * (10 - 4)) - 6 = 24"``); the text after
    ``Answer:`` and before the first ``=`` is the expression. Unparsable text scores False.
    """
    text = answer.strip().splitlines()[-1] if answer.strip() else ""
    text = re.sub(r"(?i)^.*answer\s*:\s*", "", text)
    expr = text.split("=")[0]
    try:
        value, leaves = _parse(expr)
    except ExpressionError:
        return False
    want = Counter(Fraction(n) for n in (parse_numbers(puzzle) if isinstance(puzzle, str) else puzzle))
    return Counter(leaves) == want and value == TARGET
