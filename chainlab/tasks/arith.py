"""Synthetic multi-step arithmetic word problems, seeded, with a train/test split that never overlaps.

Design (for a ~5M-parameter model): 12 story templates with a controlled vocabulary (16 names,
12 objects), 2-3 operations each, operands 1..20 (products of factors 2..12, exact divisions),
every intermediate result an integer in 1..400. Steps are written ``a op b = c`` like the Game of 24
steps ``chainlab-tiny`` already knows, then ``Answer: N``.

Split rule: a problem's *key* is its template id plus the numbers in its question
(``"t4:3,5,6,2"``). ``sha256(key) % 100 < 20`` puts it in the test split, else train. Names and
objects are not part of the key, so a test problem's numbers never appear in a train problem of the
same template, whatever the wording — and the same question can never be in both splits.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chainlab.prompts.arith import KINDS, direct_prompt, steps_prompt, verify_prompt

__all__ = [
    "ArithProblem",
    "Step",
    "TEMPLATE_IDS",
    "NAMES",
    "OBJECTS",
    "apply_op",
    "problem_key",
    "split_of",
    "generate_problems",
    "step_by_step_solution",
    "direct_solution",
    "corrupt_solution",
    "verify_check",
    "parse_answer",
    "parse_steps",
    "check_steps",
    "sft_records",
    "write_jsonl",
    "read_jsonl",
    "corpus_sample",
    "evaluate_steps",
]

#: One arithmetic step ``(a, op, b, result)``.
Step = tuple[int, str, int, int]

MAX_RESULT = 400
TEST_PERCENT = 20

#: name -> subject pronoun
NAMES: dict[str, str] = {
    "Ann": "She", "Ben": "He", "Cara": "She", "Dan": "He", "Eva": "She", "Finn": "He",
    "Gina": "She", "Hugo": "He", "Ivy": "She", "Jack": "He", "Kim": "She", "Leo": "He",
    "Mia": "She", "Nick": "He", "Nora": "She", "Omar": "He",
}  # fmt: skip
OBJECTS: tuple[str, ...] = (
    "apples", "pens", "cards", "books", "stickers", "marbles",
    "cookies", "shells", "stamps", "toys", "eggs", "flowers",
)  # fmt: skip


@dataclass(frozen=True)
class ArithProblem:
    """A word problem, its worked steps and integer answer.

    Attributes:
        question: the problem text.
        steps: ``(a, op, b, result)`` per operation, in solving order.
        answer: the final result (``steps[-1][3]``).
        template: template id (``"t0"`` .. ``"t11"``).
        numbers: the numbers in the question, in order of appearance (the split key uses them).
    """

    question: str
    steps: tuple[Step, ...]
    answer: int
    template: str
    numbers: tuple[int, ...] = field(default=())

    @property
    def key(self) -> str:
        """Template id plus question numbers, e.g. ``"t4:3,5,6,2"``: what the split hashes."""
        return problem_key(self.template, self.numbers)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        d = asdict(self)
        d["steps"] = [list(s) for s in self.steps]
        d["numbers"] = list(self.numbers)
        return d


def apply_op(a: int, op: str, b: int) -> int | None:
    """``a op b`` over the integers; None when negative, a division is inexact, or ``op`` unknown."""
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif op == "/":
        if b == 0 or a % b:
            return None
        r = a // b
    else:
        return None
    return r if r >= 0 else None


# ---------------------------------------------------------------- templates
# Each template: (text with {N} {N2} {P} {O} {O2} and {a} {b} {c} {d}, number sampler, steps plan).
# A plan entry is (x, op, y) where x/y are "a".."d" (question numbers) or "r1".."r3" (results).

_Plan = tuple[tuple[str, str, str], ...]


def _r(lo: int, hi: int) -> Callable[[random.Random, dict[str, int]], int]:
    return lambda rng, _: rng.randint(lo, hi)


def _multiple_of(slot: str, lo: int, hi: int) -> Callable[[random.Random, dict[str, int]], int]:
    """A multiple ``slot * k`` (k in lo..hi) of an earlier slot: makes a division exact."""
    return lambda rng, values: values[slot] * rng.randint(lo, hi)


_Sampler = Callable[[random.Random, dict[str, int]], int]

# Samplers run in dict order, so one may depend on the values drawn before it.
_TEMPLATES: dict[str, tuple[str, dict[str, _Sampler], _Plan]] = {
    "t0": (
        "{N} has {a} {O}. {P} buys {b} more {O}. Then {p} gives {c} {O} to {N2}. "
        "How many {O} does {N} have now?",
        {"a": _r(1, 20), "b": _r(1, 20), "c": _r(1, 20)},
        (("a", "+", "b"), ("r1", "-", "c")),
    ),
    "t1": (
        "{N} has {a} boxes with {b} {O} in each box. {P} finds {c} more {O}. "
        "How many {O} does {N} have in all?",
        {"a": _r(2, 12), "b": _r(2, 12), "c": _r(1, 20)},
        (("a", "*", "b"), ("r1", "+", "c")),
    ),
    "t2": (
        "{N} has {a} bags with {b} {O} in each bag. {P} shares all the {O} equally among "
        "{c} friends. How many {O} does each friend get?",
        {"a": _r(2, 12), "b": _r(2, 12), "c": _r(2, 10)},
        (("a", "*", "b"), ("r1", "/", "c")),
    ),
    "t3": (
        "There are {a} {O} on the table. {N} takes {b} {O} and {N2} takes {c} {O}. "
        "How many {O} are left on the table?",
        {"a": _r(5, 20), "b": _r(1, 10), "c": _r(1, 10)},
        (("a", "-", "b"), ("r1", "-", "c")),
    ),
    "t4": (
        "{N} has {a} {O}. {P} buys {b} packs of {O} with {c} {O} in each pack. "
        "Then {p} gives {d} {O} to {N2}. How many {O} does {N} have now?",
        {"a": _r(1, 20), "b": _r(2, 12), "c": _r(2, 12), "d": _r(1, 20)},
        (("b", "*", "c"), ("a", "+", "r1"), ("r2", "-", "d")),
    ),
    "t5": (
        "{N} picks {a} {O} every day for {b} days. {N2} picks {c} fewer {O} than {N}. "
        "How many {O} do they pick together?",
        {"a": _r(2, 12), "b": _r(2, 12), "c": _r(1, 20)},
        (("a", "*", "b"), ("r1", "-", "c"), ("r1", "+", "r2")),
    ),
    "t6": (
        "{N} has {a} {O}. {N2} has {b} times as many {O} as {N}. "
        "How many {O} do they have together?",
        {"a": _r(2, 20), "b": _r(2, 12)},
        (("a", "*", "b"), ("a", "+", "r1")),
    ),
    "t7": (
        "{N} has {a} {O}. {P} puts them in groups of {b}. Then {p} makes {c} more groups. "
        "How many groups does {N} have now?",
        {"b": _r(2, 10), "a": _multiple_of("b", 1, 15), "c": _r(1, 20)},
        (("a", "/", "b"), ("r1", "+", "c")),
    ),
    "t8": (
        "{N} has {a} {O} and {N2} has {b} {O}. They put them together and share them equally "
        "among {c} kids. Then each kid finds {d} more {O}. How many {O} does each kid have now?",
        {"a": _r(1, 20), "b": _r(1, 20), "c": _r(2, 10), "d": _r(1, 20)},
        (("a", "+", "b"), ("r1", "/", "c"), ("r2", "+", "d")),
    ),
    "t9": (
        "{N} buys {a} {O} for {b} dollars each and {c} {O2} for {d} dollars each. "
        "How many dollars does {N} spend?",
        {"a": _r(2, 12), "b": _r(2, 12), "c": _r(2, 12), "d": _r(2, 12)},
        (("a", "*", "b"), ("c", "*", "d"), ("r1", "+", "r2")),
    ),
    "t10": (
        "{N} had {a} packs of {O} and gave {b} packs to {N2}. Each pack holds {c} {O}. "
        "How many {O} does {N} have left?",
        {"a": _r(3, 20), "b": _r(1, 12), "c": _r(2, 12)},
        (("a", "-", "b"), ("r1", "*", "c")),
    ),
    "t11": (
        "{N} has {a} {O} and puts them equally into {b} boxes. {P} takes {c} {O} out of one box. "
        "How many {O} are left in that box?",
        {"b": _r(2, 10), "a": _multiple_of("b", 2, 15), "c": _r(1, 14)},
        (("a", "/", "b"), ("r1", "-", "c")),
    ),
}

#: Template ids, in order.
TEMPLATE_IDS: tuple[str, ...] = tuple(_TEMPLATES)

_SLOT_RE = re.compile(r"\{([a-d])\}")


def problem_key(template: str, numbers: Iterable[int]) -> str:
    """The split key: ``"<template>:<n1>,<n2>,..."``."""
    return f"{template}:" + ",".join(str(int(n)) for n in numbers)


def split_of(template: str, numbers: Iterable[int]) -> str:
    """``"test"`` when ``sha256(key) % 100 < 20``, else ``"train"`` (see the module docstring)."""
    h = int.from_bytes(hashlib.sha256(problem_key(template, numbers).encode()).digest()[:8], "big")
    return "test" if h % 100 < TEST_PERCENT else "train"


def _solve_plan(plan: _Plan, values: Mapping[str, int]) -> tuple[Step, ...] | None:
    env = dict(values)
    steps: list[Step] = []
    for i, (x, op, y) in enumerate(plan, start=1):
        a, b = env[x], env[y]
        r = apply_op(a, op, b)
        if r is None or r < 1 or r > MAX_RESULT:
            return None
        env[f"r{i}"] = r
        steps.append((a, op, b, r))
    return tuple(steps)


def _draw(rng: random.Random, template: str | None = None) -> ArithProblem | None:
    tid = template or rng.choice(TEMPLATE_IDS)
    text, samplers, plan = _TEMPLATES[tid]
    values: dict[str, int] = {}
    for slot, sample in samplers.items():
        values[slot] = sample(rng, values)
    steps = _solve_plan(plan, values)
    if steps is None:
        return None
    name, name2 = rng.sample(sorted(NAMES), 2)
    obj, obj2 = rng.sample(OBJECTS, 2)
    pron = NAMES[name]
    question = text.format(N=name, N2=name2, P=pron, p=pron.lower(), O=obj, O2=obj2, **values)
    numbers = tuple(values[m] for m in _SLOT_RE.findall(text))
    return ArithProblem(question, steps, steps[-1][3], tid, numbers)


def generate_problems(
    n: int,
    seed: int = 0,
    *,
    split: str = "train",
    templates: Sequence[str] | None = None,
) -> list[ArithProblem]:
    """``n`` distinct problems of one split, deterministic for a given ``seed``.

    Args:
        n: how many problems.
        seed: random seed (same seed and arguments -> same list).
        split: ``"train"`` or ``"test"``; the two never share a (template, numbers) key.
        templates: restrict to these template ids (default: all of :data:`TEMPLATE_IDS`).

    Raises:
        ValueError: unknown split or template, or ``n`` more than the split can supply.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    tids = list(templates) if templates else list(TEMPLATE_IDS)
    bad = [t for t in tids if t not in _TEMPLATES]
    if bad:
        raise ValueError(f"Unknown template ids {bad}; known: {', '.join(TEMPLATE_IDS)}")
    rng = random.Random(f"arith:{split}:{seed}")
    out: list[ArithProblem] = []
    seen: set[str] = set()
    attempts, limit = 0, 200 * n + 10_000
    while len(out) < n:
        tid = tids[rng.randrange(len(tids))]  # templates are balanced: draw until this one fits
        while True:
            attempts += 1
            if attempts > limit:
                raise ValueError(
                    f"Could only generate {len(out)} distinct {split} problems of {n}."
                )
            p = _draw(rng, tid)
            if p and p.question not in seen and split_of(p.template, p.numbers) == split:
                break
        seen.add(p.question)
        out.append(p)
    return out


# ---------------------------------------------------------------- solutions and parsing


def _step_line(a: int, op: str, b: int, r: int) -> str:
    return f"{a} {op} {b} = {r}"


def step_by_step_solution(p: ArithProblem) -> str:
    """One ``a op b = c`` line per step, then ``Answer: N``."""
    lines = [_step_line(*s) for s in p.steps]
    return "\n".join([*lines, f"Answer: {p.answer}"])


def direct_solution(p: ArithProblem) -> str:
    """``Answer: N``."""
    return f"Answer: {p.answer}"


def corrupt_solution(p: ArithProblem, rng: random.Random) -> str:
    """A worked solution with exactly one mistake, for training/testing a verifier.

    Either one step's result is wrong (later steps then use the wrong value consistently, so the
    final answer is wrong too), or every step is right but the ``Answer:`` line is not the last
    result. The returned text never solves ``p``.
    """
    for _ in range(100):
        mode = rng.random()
        if mode < 0.7:
            i = rng.randrange(len(p.steps))
            a, op, b, r = p.steps[i]
            wrong = r + rng.choice([-1, 1]) * rng.randint(1, max(2, min(10, r // 2 + 1)))
            if wrong < 0 or wrong == r:
                continue
            steps = _propagate(p, i, wrong)
            if steps is None or steps[-1][3] == p.answer:
                continue
            return "\n".join([*(_step_line(*s) for s in steps), f"Answer: {steps[-1][3]}"])
        wrong = p.answer + rng.choice([-1, 1]) * rng.randint(1, 10)
        if wrong < 0:
            continue
        lines = [_step_line(*s) for s in p.steps]
        return "\n".join([*lines, f"Answer: {wrong}"])
    return "\n".join([*(_step_line(*s) for s in p.steps), f"Answer: {p.answer + 1}"])


def verify_check(solution: str) -> str:
    r"""The worked check a verifier writes for a solution text: every step recomputed, the answer
    compared with the last result, then the verdict.

    One line per step, ``a op b = <recomputed> | <written result> | <larger> - <smaller> = <gap> |
    yes|no``, then ``Answer: <answer> | <last result> | <gap line> | yes|no`` and
    ``Verdict: correct`` exactly when every line says ``yes`` (else ``Verdict: incorrect``).
    The two numbers are compared by subtracting them, an operation ``chainlab-tiny`` already
    knows, so ``yes`` follows from a ``0`` right before it: a plain ``<a> | <b> | yes|no``
    comparison left the adapter at chance (it never wrote ``no``), this one reaches 83%. Only
    words the base model already writes are used (a LoRA adapter does not retrain the tied
    output embeddings, so new words are hard for it to emit).
    Example: ``"3 * 4 = 14\nAnswer: 14"`` -> ``"3 * 4 = 12 | 14 | 14 - 12 = 2 | no\nAnswer: 14 |
    14 | 14 - 14 = 0 | yes\nVerdict: incorrect"``.
    """
    steps = parse_steps(solution)
    answer = parse_answer(solution)
    lines: list[str] = []
    ok = bool(steps) and answer is not None
    for a, op, b, c in steps:
        r = apply_op(a, op, b)
        gap, same = _gap(r, c)
        ok &= same
        lines.append(f"{a} {op} {b} = {'none' if r is None else r} | {c} | {gap} | {_yes(same)}")
    last = steps[-1][3] if steps else None
    gap, same = _gap(answer, last)
    ok &= same
    shown = [("none" if v is None else str(v)) for v in (answer, last)]
    lines.append(f"Answer: {shown[0]} | {shown[1]} | {gap} | {_yes(same)}")
    return "\n".join([*lines, f"Verdict: {'correct' if ok else 'incorrect'}"])


def _gap(x: int | None, y: int | None) -> tuple[str, bool]:
    """``"<larger> - <smaller> = <difference>"`` of two numbers and whether they are equal."""
    if x is None or y is None:
        return "none", False
    hi, lo = max(x, y), min(x, y)
    return f"{hi} - {lo} = {hi - lo}", x == y


def _yes(same: bool) -> str:
    return "yes" if same else "no"


def _propagate(p: ArithProblem, i: int, wrong: int) -> list[Step] | None:
    """Steps of ``p`` with step ``i``'s result replaced by ``wrong``, later steps recomputed."""
    _, _, plan = _TEMPLATES[p.template]
    env: dict[str, int] = {}
    text = _TEMPLATES[p.template][0]
    for slot, value in zip(_SLOT_RE.findall(text), p.numbers, strict=True):
        env[slot] = value
    steps: list[Step] = []
    for j, (x, op, y) in enumerate(plan, start=1):
        a, b = env[x], env[y]
        r = wrong if j - 1 == i else apply_op(a, op, b)
        if r is None:
            return None
        env[f"r{j}"] = r
        steps.append((a, op, b, r))
    return steps


_ANSWER_RE = re.compile(r"(?i)answer\s*(?:is|:|=)?\s*(-?\d+)")
_STEP_RE = re.compile(r"(-?\d+)\s*([-+*/x×÷])\s*(-?\d+)\s*=\s*(-?\d+)")


def parse_answer(text: str) -> int | None:
    """The integer of the first ``Answer: N`` in ``text`` (``answer is N`` also works), else None."""
    m = _ANSWER_RE.search(text)
    return int(m.group(1)) if m else None


def parse_steps(text: str) -> list[Step]:
    """Every ``a op b = c`` found in ``text``, in order (``x``/``×``/``÷`` read as ``*``/``/``)."""
    out: list[Step] = []
    for a, op, b, c in _STEP_RE.findall(text):
        op = {"x": "*", "×": "*", "÷": "/"}.get(op, op)
        out.append((int(a), op, int(b), int(c)))
    return out


def check_steps(text: str) -> bool:
    """True when ``text`` has at least one step, every step's arithmetic is right, and the
    ``Answer:`` equals the last step's result."""
    steps = parse_steps(text)
    if not steps:
        return False
    if any(apply_op(a, op, b) != c for a, op, b, c in steps):
        return False
    return parse_answer(text) == steps[-1][3]


# ---------------------------------------------------------------- SFT data

_Kinds = Sequence[str] | Mapping[str, float]


def sft_records(
    problems: Sequence[ArithProblem],
    kinds: _Kinds = KINDS,
    seed: int = 0,
    verify_pairs: bool = False,
) -> list[dict]:
    """SFT records ``{"prompt", "completion", "kind", "key"}`` for ``problems``.

    Args:
        kinds: a sequence of kinds (``"steps"``, ``"direct"``, ``"verify"``): one record of each
            kind per problem; or a mapping kind -> weight: one record per problem, its kind drawn
            with those weights. ``verify`` records check the true step-by-step solution or a
            :func:`corrupt_solution` (half each) with :func:`verify_check`'s worked lines, ending
            ``correct`` or ``incorrect``.
        seed: seeds the kind draws and the corruptions.
        verify_pairs: a ``verify`` problem gives two records, its true solution and a corrupted
            one (in random order): the pair differs only where the mistake is, so the verdict can
            only be learned from the numbers compared, not from the problem.
    """
    names = list(kinds)
    bad = [k for k in names if k not in KINDS]
    if bad:
        raise ValueError(f"Unknown kinds {bad}; known: {', '.join(KINDS)}")
    rng = random.Random(f"arith-sft:{seed}")
    out: list[dict] = []
    for p in problems:
        if isinstance(kinds, Mapping):
            chosen = rng.choices(names, weights=[float(kinds[k]) for k in names], k=1)
        else:
            chosen = names
        for kind in chosen:
            if kind == "steps":
                prompt, completion = steps_prompt(p.question), step_by_step_solution(p)
            elif kind == "direct":
                prompt, completion = direct_prompt(p.question), direct_solution(p)
            else:
                goods = [True, False] if verify_pairs else [rng.random() < 0.5]
                rng.shuffle(goods)
                for good in goods:
                    sol = step_by_step_solution(p) if good else corrupt_solution(p, rng)
                    out.append(
                        {
                            "prompt": verify_prompt(p.question, sol),
                            "completion": verify_check(sol),
                            "kind": kind,
                            "key": p.key,
                        }
                    )
                continue
            out.append({"prompt": prompt, "completion": completion, "kind": kind, "key": p.key})
    return out


def write_jsonl(
    problems: Sequence[ArithProblem],
    path: str | Path,
    kinds: _Kinds = KINDS,
    seed: int = 0,
    verify_pairs: bool = False,
) -> Path:
    """Write :func:`sft_records` of ``problems`` to ``path`` (one JSON object per line).

    The lines are what ``chainlab finetune --data`` reads (``prompt`` + ``completion``; the extra
    ``kind``/``key`` fields are ignored by training).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for rec in sft_records(problems, kinds, seed, verify_pairs):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[dict]:
    """The JSON objects of a JSONL file (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corpus_sample(n: int = 1000, seed: int = 0) -> list[str]:
    """``n`` plain texts covering this task's vocabulary, for tokenizer training.

    The first text lists every name, pronoun and object; then, cycling through the templates and
    the three prompt kinds, full training texts (``<prompt> <completion> </s>``) of train-split
    problems. Stable: same ``n`` and ``seed`` -> same texts.
    """
    texts = [
        " ".join(NAMES) + " " + " ".join(sorted(set(NAMES.values())))
        + " " + " ".join(p.lower() for p in sorted(set(NAMES.values())))
        + " " + " ".join(OBJECTS) + " correct incorrect Answer: + - * / ="
    ][:n]  # fmt: skip
    rng = random.Random(f"arith-corpus:{seed}")
    i = 0
    while len(texts) < n:
        tid = TEMPLATE_IDS[i % len(TEMPLATE_IDS)]
        kind = KINDS[(i // len(TEMPLATE_IDS)) % len(KINDS)]
        i += 1
        p = _draw(rng, tid)
        if p is None:
            continue
        rec = sft_records([p], (kind,), seed=rng.randrange(1 << 30))[0]
        texts.append(f"{rec['prompt']} {rec['completion']} </s>")
    return texts


# ---------------------------------------------------------------- evaluation


def evaluate_steps(
    generate: Callable[[str], str],
    problems: Sequence[ArithProblem],
    *,
    kind: str = "steps",
) -> float:
    """Accuracy of ``generate`` (prompt -> completion text) on ``problems``.

    A completion counts when :func:`parse_answer` gives the problem's answer. ``kind`` is
    ``"steps"`` (step-by-step prompt) or ``"direct"``.
    """
    if kind not in ("steps", "direct"):
        raise ValueError(f"kind must be 'steps' or 'direct', not {kind!r}")
    if not problems:
        return 0.0
    build = steps_prompt if kind == "steps" else direct_prompt
    hits = sum(parse_answer(generate(build(p.question))) == p.answer for p in problems)
    return hits / len(problems)
