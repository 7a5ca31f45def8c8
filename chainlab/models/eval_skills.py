"""Measure chainlab-tiny's Game of 24 skills on states it never saw as training starts.

``chainlab eval-tiny --model chainlab-tiny [--out skills.json]`` reports:

* ``propose``: share of proposal lines that are valid steps (operands present, exact arithmetic,
  ``left`` right), sampled at temperature 0.7 on the ToT test puzzles (4 numbers);
* ``value``: accuracy on a balanced set of solvable / unsolvable 3-number states from the
  held-out bucket (never in training), greedy;
* ``judge``: accuracy on correct vs corrupted final answers of the test puzzles, greedy;
* ``io`` and ``cot``: greedy success on the test puzzles (for reference).

Test puzzles: data indices 900..999 of ``24.csv`` when found (``--data`` or ``CHAINLAB_DATA``);
otherwise every solvable 4-multiset over 1..13 (the same population; no training start is one).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from fractions import Fraction
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """CLI options of ``chainlab eval-tiny``."""
    p.add_argument("--model", default="chainlab-tiny", help="model name or directory")
    p.add_argument("--data", help="path to 24.csv (default: $CHAINLAB_DATA/game24/24.csv)")
    p.add_argument("--puzzles", type=int, default=100, help="test puzzles (default: %(default)s)")
    p.add_argument("--states", type=int, default=200, help="value states (default: %(default)s)")
    p.add_argument("--samples", type=int, default=2, help="propose samples per puzzle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", help="write the numbers as JSON here")


def test_puzzles(data: str | None, limit: int, seed: int = 0) -> list[tuple[int, ...]]:
    """The ToT test split (indices 900..999 of 24.csv), or solver-made puzzles over 1..13."""
    from chainlab.models.tiny_data import default_data_dir, load_24_csv

    path = Path(data) if data else None
    if path is None and default_data_dir() is not None:
        path = default_data_dir() / "game24" / "24.csv"
    if path is not None:
        return load_24_csv(path)[900 : 900 + limit]
    from itertools import combinations_with_replacement

    from chainlab.tasks.game24_math import is_solvable

    pool = [c for c in combinations_with_replacement(range(1, 14), 4) if is_solvable(c)]
    random.Random(seed).shuffle(pool)
    return pool[:limit]


def value_states(n: int, seed: int) -> list[tuple[tuple[Fraction, ...], bool]]:
    """Balanced 3-number states from the held-out bucket, reached by a step from 1..13 puzzles."""
    from chainlab.models.tiny_data import holdout_bucket
    from chainlab.tasks.game24_math import is_solvable, next_steps

    rng = random.Random(seed)
    want = {True: n // 2, False: n - n // 2}
    out, seen = [], set()
    while want[True] or want[False]:
        nums = tuple(Fraction(rng.randint(1, 13)) for _ in range(4))
        steps = next_steps(nums)
        whole = [s for s in steps if s.result.denominator == 1]
        st = rng.choice(whole if rng.random() < 0.85 else steps).left
        if holdout_bucket(st) != 0 or st in seen:
            continue
        ok = is_solvable(st)
        if want[ok]:
            want[ok] -= 1
            seen.add(st)
            out.append((st, ok))
    return out


def _texts(llm, prompts: list[str], **kw) -> list[list[str]]:
    res = llm.generate(prompts, **kw)
    return [[g.text for g in gens] for gens in res.generations]


def evaluate(llm, puzzles, n_states: int = 200, samples: int = 2, seed: int = 0) -> dict:
    """All skill numbers for ``llm`` (a LocalLLM or any LangChain LLM accepting these kwargs)."""
    from chainlab.models.tiny_data import corrupt_expression, solution
    from chainlab.prompts import game24 as P
    from chainlab.tasks.game24_math import check_answer, format_numbers

    rng = random.Random(seed)
    res: dict = {"puzzles": len(puzzles)}
    t0 = time.time()

    outs = _texts(
        llm, [P.propose_prompt(p) for p in puzzles], n=samples, do_sample=True, temperature=0.7,
        max_new_tokens=160, seed=seed,
    )
    lines = valid = 0
    for p, gens in zip(puzzles, outs, strict=True):
        for g in gens:
            for line in filter(str.strip, g.splitlines()):
                lines += 1
                valid += P.parse_step_line(line, p) is not None
    res["propose_valid"] = valid / max(1, lines)
    res["propose_lines"] = lines

    states = value_states(n_states, seed)
    outs = _texts(llm, [P.value_prompt(s) for s, _ in states], max_new_tokens=4)
    hits = [(P.parse_value(o[0]) == "sure") == ok for (s, ok), o in zip(states, outs, strict=True)]
    res["value_accuracy"] = sum(hits) / len(hits)
    res["value_states"] = len(hits)

    items = []
    for p in puzzles:
        items.append((p, solution(p, rng)[1], True))
        items.append((p, corrupt_expression(p, rng), False))
    outs = _texts(llm, [P.judge_prompt(p, e) for p, e, _ in items], max_new_tokens=60)
    hits = [P.parse_judge(o[0]) is ok for (_, _, ok), o in zip(items, outs, strict=True)]
    res["judge_accuracy"] = sum(hits) / len(hits)
    res["judge_items"] = len(hits)

    outs = _texts(llm, [P.io_prompt(p) for p in puzzles], max_new_tokens=40)
    res["io_success"] = sum(check_answer(p, o[0]) for p, o in zip(puzzles, outs, strict=True)) / len(puzzles)
    outs = _texts(llm, [P.cot_prompt(p) for p in puzzles], max_new_tokens=90)
    res["cot_success"] = sum(
        check_answer(p, P.parse_answer(o[0]) or "") for p, o in zip(puzzles, outs, strict=True)
    ) / len(puzzles)
    res["seconds"] = round(time.time() - t0, 1)
    res["example_states"] = [format_numbers(s) for s, _ in states[:3]]
    return res


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab eval-tiny``."""
    from chainlab.llms import load_llm

    llm = load_llm(args.model, batch_size=args.batch_size)
    puzzles = test_puzzles(args.data, args.puzzles, args.seed)
    res = evaluate(llm, puzzles, args.states, args.samples, args.seed)
    res["model"] = args.model
    for k, v in res.items():
        print(f"{k:>16}: {v:.3f}" if isinstance(v, float) else f"{k:>16}: {v}")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m chainlab.models.eval_skills", description=__doc__)
    add_arguments(p)
    sys.exit(run(p.parse_args()))
