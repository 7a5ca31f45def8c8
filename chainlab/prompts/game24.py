"""Game of 24 prompts in Llama-2 chat format, and parsers for their completions.

Five skills, the ones the Tree-of-Thoughts paper's prompts ask of a model (our own wording):

* ``io``      answer directly:            ``Answer: (5 * (10 - 4)) - 6 = 24``
* ``cot``     three steps, then the answer (one ``a op b = c (left: ...)`` line per step)
* ``propose`` possible next steps from the current numbers, one step line each
* ``value``   can these numbers still reach 24: ``sure`` / ``likely`` / ``impossible``
* ``judge``   is a final answer correct: works the expression out, compares its numbers with the
  input and its value with 24, ends ``Verdict: correct|incorrect``

The builders return complete prompt strings (``<s>[INST] <<SYS>>...[/INST]``); completions are the
text after ``[/INST]``. ``chainlab-tiny`` is trained on exactly these prompts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

from chainlab.prompts.chat_format import llama2_prompt
from chainlab.tasks.game24_math import (
    Step,
    apply_op,
    format_numbers,
    format_step,
    parse_numbers,
)

SYSTEM = "You are a careful solver of the Game of 24."

TASK_LINE = "Use the numbers and + - * / to make 24."
IO_INSTRUCTION = f"{TASK_LINE} Give only the answer."
COT_INSTRUCTION = f"{TASK_LINE} Combine two numbers per step, then write the answer."
PROPOSE_INSTRUCTION = "List possible next steps."
VALUE_INSTRUCTION = "Can these numbers reach 24? Answer sure, likely or impossible."
JUDGE_INSTRUCTION = "Check this answer to the Game of 24."

#: The ToT paper's value mapping (``value_outputs_unwrap`` in tot/tasks/game24.py).
VALUE_SCORES: dict[str, float] = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}

Numbers = str | Sequence[int | Fraction]
Examples = Iterable[tuple[str, str]]

__all__ = [
    "SYSTEM",
    "VALUE_SCORES",
    "io_user",
    "cot_user",
    "propose_user",
    "value_user",
    "judge_user",
    "io_prompt",
    "cot_prompt",
    "propose_prompt",
    "value_prompt",
    "judge_prompt",
    "parse_step_line",
    "parse_steps",
    "is_pair_header",
    "parse_value",
    "parse_answer",
    "parse_judge",
]


def _nums(numbers: Numbers) -> str:
    if isinstance(numbers, str):
        numbers = parse_numbers(numbers)
    return format_numbers(numbers)


def io_user(numbers: Numbers) -> str:
    """User message of the ``io`` prompt."""
    return f"{IO_INSTRUCTION}\nInput: {_nums(numbers)}"


def cot_user(numbers: Numbers) -> str:
    """User message of the ``cot`` prompt."""
    return f"{COT_INSTRUCTION}\nInput: {_nums(numbers)}"


def propose_user(numbers: Numbers) -> str:
    """User message of the ``propose`` prompt."""
    return f"{PROPOSE_INSTRUCTION}\nInput: {_nums(numbers)}"


def value_user(numbers: Numbers) -> str:
    """User message of the ``value`` prompt."""
    return f"{VALUE_INSTRUCTION}\nInput: {_nums(numbers)}"


def judge_user(numbers: Numbers, expression: str) -> str:
    """User message of the ``judge`` prompt."""
    return f"{JUDGE_INSTRUCTION}\nInput: {_nums(numbers)}\nAnswer: {_expr(expression)} = 24"


def _expr(expression: str) -> str:
    text = re.sub(r"(?i)^\s*answer\s*:\s*", "", expression.strip())
    return text.split("=")[0].strip()


def io_prompt(numbers: Numbers, system: str | None = SYSTEM, examples: Examples = ()) -> str:
    """Answer directly. Completion: ``Answer: <expression> = 24``."""
    return llama2_prompt(io_user(numbers), system=system, examples=examples)


def cot_prompt(
    numbers: Numbers,
    steps: Sequence[Step | str] = (),
    system: str | None = SYSTEM,
    examples: Examples = (),
) -> str:
    """Step by step. ``steps`` already taken are prefilled, one line each, after ``[/INST]``.

    Completion: the remaining step lines, then ``Answer: <expression> = 24``.
    """
    prefill = "".join(f"{s if isinstance(s, str) else format_step(s)}\n" for s in steps)
    return llama2_prompt(
        cot_user(numbers), system=system, examples=examples, prefill=prefill or None
    )


def propose_prompt(
    numbers: Numbers, system: str | None = SYSTEM, examples: Examples = (), restate: bool = True
) -> str:
    """Possible next steps. Completion: one ``a op b = c (left: ...)`` line per proposal.

    ``restate`` (the default) is for a model trained on restated proposals, as chainlab-tiny is
    (``train-tiny --propose-format restated``), which starts every line with the numbers it works on
    (``4 5 6 10 | 4 + 10 = 14 (left: 5 6 14)``): the prompt then ends with the first line's
    restatement as the assistant's prefill (``[/INST] 4 5 6 10 |``), so the model copies the
    numbers from the line above from then on and never from the input; the completion's first
    line starts at the step. The parsers read past the prefix either way; ``restate=False`` gives
    the plain prompt (a model trained on the plain layout).
    """
    prefill = f"{_nums(numbers)} |" if restate else None
    return llama2_prompt(propose_user(numbers), system=system, examples=examples, prefill=prefill)


def value_prompt(numbers: Numbers, system: str | None = SYSTEM, examples: Examples = ()) -> str:
    """Can the numbers reach 24. Completion: ``sure``, ``likely`` or ``impossible`` (chainlab-tiny
    works a check out first; :func:`parse_value` reads the first label)."""
    return llama2_prompt(value_user(numbers), system=system, examples=examples)


def judge_prompt(
    numbers: Numbers,
    expression: str,
    system: str | None = SYSTEM,
    examples: Examples = (),
    input_first: bool = False,
) -> str:
    """Is the answer right. Completion: worked lines, ``Numbers: ...``, ``Input: ...``,
    ``Same numbers: yes|no``, ``Makes 24: yes|no``, ``Verdict: correct|incorrect`` — the layout
    the shipped model writes; a model trained with another ``train-tiny --judge-format`` writes
    that one (``steps``: the answer replayed as restated steps, then the verdict).

    ``input_first`` is for a model trained on a judge layout whose answer starts with the
    ``Input:`` line (``train-tiny --judge-format numbers-first``, ``cross-off`` or
    ``cross-off-split``): the prompt then ends with that line as the assistant's prefill, so the
    model never copies the input, and the completion starts at the line after it.
    :func:`parse_judge` reads either layout.
    """
    prefill = f"Input: {_nums(numbers)}\n" if input_first else None
    return llama2_prompt(
        judge_user(numbers, expression), system=system, examples=examples, prefill=prefill
    )


# ---------------------------------------------------------------- parsers

_NUM = r"-?\d+(?:/\d+)?"
_STEP_RE = re.compile(
    rf"^\s*(?:{_NUM}(?: {_NUM})* \| )?({_NUM})\s*([-+*/×÷])\s*({_NUM})\s*=\s*({_NUM})\s*\(\s*left\s*:\s*([-\d/ ]*)\)\s*$"
)


def parse_step_line(line: str, numbers: Numbers) -> Step | None:
    """Parse and validate one step line against the current ``numbers``.

    Returns the :class:`Step` when the operands are among the numbers, the arithmetic is exact and
    ``left`` is exactly the remaining numbers plus the result; otherwise None.
    """
    m = _STEP_RE.match(line)
    if not m:
        return None
    cur = list(parse_numbers(numbers) if isinstance(numbers, str) else map(Fraction, numbers))
    try:
        a, b, res = (parse_numbers(m.group(i))[0] for i in (1, 3, 4))
        left = parse_numbers(m.group(5))
    except (ValueError, IndexError):
        return None
    op = {"×": "*", "÷": "/"}.get(m.group(2), m.group(2))
    if apply_op(a, op, b) != res:
        return None
    rest = list(cur)
    for x in (a, b):
        if x not in rest:
            return None
        rest.remove(x)
    expected = tuple(sorted(rest + [res]))
    if tuple(sorted(left)) != expected:
        return None
    return Step(a, op, b, res, expected)


_PAIR_HEADER_RE = re.compile(rf"^\s*{_NUM} {_NUM} \|(?: {_NUM})*\s*$")


def is_pair_header(line: str) -> bool:
    """Whether ``line`` is a pair header such as ``4 5 | 6 10`` (a pair, then the numbers it
    leaves), which a model trained on grouped proposals writes before that pair's steps. It is
    structure, not a proposal: parsers skip it."""
    return bool(_PAIR_HEADER_RE.match(line))


def parse_steps(text: str, numbers: Numbers) -> list[Step | None]:
    """Parse every step-like line of a completion (``None`` for an invalid one), in order."""
    out: list[Step | None] = []
    for line in text.splitlines():
        if "left" in line or "=" in line and "answer" not in line.lower():
            out.append(parse_step_line(line, numbers))
    return out


def parse_value(text: str) -> str | None:
    """The first ``sure``/``likely``/``impossible`` label of a value completion, else None."""
    m = re.search(r"\b(sure|likely|impossible)\b", text.lower())
    return m.group(1) if m else None


def parse_answer(text: str) -> str | None:
    """The expression of the ``Answer:`` line (text before ``=``), else None."""
    for line in text.splitlines():
        m = re.match(r"(?i)^\s*answer\s*:\s*(.+)$", line)
        if m:
            expr = m.group(1).split("=")[0].strip()
            return expr or None
    return None


def parse_judge(text: str) -> bool | None:
    """True/False from the ``Verdict:`` line of a judge completion, None when absent."""
    m = re.search(r"(?i)verdict\s*:\s*(correct|incorrect)", text)
    if not m:
        return None
    return m.group(1).lower() == "correct"
