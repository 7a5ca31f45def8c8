"""``chainlab pair-skills``: two models' ``eval-tiny --log-samples`` files compared item by item.

Two skill rates measured on the same items are paired data: what matters is the items one model
gets right and the other wrong. For every skill logged in both files this counts the items B won
(right only in B) and lost (right only in A), and gives the exact McNemar p-value — the test the
research notes use to say whether a rebuild's judge differs from the shipped model's. The two runs
must have scored the same items in the same order (the same ``--seed``, ``--puzzles``, ``--states``
and ``--judge-answers``); anything else is an error naming the first item that differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chainlab.eval.stats import mcnemar_exact

ITEM_KEYS = ("skill", "numbers", "answer", "expected")  # what identifies an item (not output/right)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """CLI options of ``chainlab pair-skills``."""
    p.add_argument("a", metavar="A.jsonl", help="the reference model's eval-tiny --log-samples file")
    p.add_argument("b", metavar="B.jsonl", help="the other model's file, same items")
    p.add_argument("--out", help="write the numbers as JSON here")


def load_samples(path: str | Path) -> list[dict]:
    """The records of an ``eval-tiny --log-samples`` file; a clear error for a missing or malformed one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such sample log; write one with `chainlab eval-tiny --log-samples {path}`."
        )
    recs = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or "skill" not in rec or not isinstance(rec.get("right"), bool):
                raise ValueError("needs 'skill' and a true/false 'right'")
        except ValueError as exc:
            raise ValueError(f"{path}:{i}: not an eval-tiny sample record: {exc}") from exc
        recs.append(rec)
    return recs


def pair_samples(a: list[dict], b: list[dict]) -> dict[str, dict]:
    """Per skill logged in both: ``{"items", "a_right", "b_right", "b_won", "b_lost", "p"}``."""
    out: dict[str, dict] = {}
    for skill in sorted({r["skill"] for r in a} & {r["skill"] for r in b}):
        ra = [r for r in a if r["skill"] == skill]
        rb = [r for r in b if r["skill"] == skill]
        if len(ra) != len(rb):
            raise ValueError(
                f"{skill}: A logged {len(ra)} items and B {len(rb)}; score both with the same "
                "eval-tiny --seed, --puzzles, --states and --judge-answers."
            )
        for k, (x, y) in enumerate(zip(ra, rb, strict=True)):
            if any(x.get(key) != y.get(key) for key in ITEM_KEYS):
                item = {key: x.get(key) for key in ITEM_KEYS if key in x}
                other = {key: y.get(key) for key in ITEM_KEYS if key in y}
                raise ValueError(
                    f"{skill} item {k}: A has {item}, B has {other}; the logs must score the same "
                    "items in the same order (same eval-tiny --seed, --puzzles, --states, --judge-answers)."
                )
        won = sum(1 for x, y in zip(ra, rb, strict=True) if y["right"] and not x["right"])
        lost = sum(1 for x, y in zip(ra, rb, strict=True) if x["right"] and not y["right"])
        out[skill] = {
            "items": len(ra), "a_right": sum(r["right"] for r in ra), "b_right": sum(r["right"] for r in rb),
            "b_won": won, "b_lost": lost, "p": mcnemar_exact(won, lost),
        }  # fmt: skip
    if not out:
        raise ValueError("the two logs share no skill to pair.")
    return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab pair-skills``."""
    res = pair_samples(load_samples(args.a), load_samples(args.b))
    for skill, r in res.items():
        n = r["items"]
        print(
            f"{skill}: A {r['a_right']}/{n} ({r['a_right'] / n:.1%}), B {r['b_right']}/{n} "
            f"({r['b_right'] / n:.1%}); B won {r['b_won']}, lost {r['b_lost']}, exact McNemar p = {r['p']:.3f}"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"a": args.a, "b": args.b, "skills": res}, indent=2))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m chainlab.models.pair_samples", description=__doc__)
    add_arguments(p)
    sys.exit(run(p.parse_args()))
