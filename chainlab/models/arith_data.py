"""Write the SFT data of the ``chainlab-tiny-arith`` adapter: synthetic arithmetic word problems.

    chainlab arith-data --out runs/arith-train.jsonl            # 6000 train problems, seed 0

Each problem becomes one record (``prompt``, ``completion``, ``kind``, ``key``) of a kind drawn with
the ``--kinds`` weights: ``steps`` (worked ``a op b = c`` lines, then ``Answer: N``), ``direct``
(``Answer: N``) or ``verify`` (a worked solution judged ``correct``/``incorrect``; by default each
verify problem gives a pair of records, its true solution and a corrupted one, so that only the
numbers compared tell the two verdicts apart; ``--no-verify-pairs``: one of the two at random). Problems come from the train split of :mod:`chainlab.tasks.arith`, so
the held-out test problems that ``chainlab eval-tiny --skills arith`` scores are never trained on.
The file is what ``chainlab finetune --data`` reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_KINDS = "steps=0.5,direct=0.15,verify=0.35"


def parse_kinds(text: str) -> dict[str, float]:
    """``"steps=0.6,direct=0.2"`` -> ``{"steps": 0.6, "direct": 0.2}`` (a clear error otherwise)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        try:
            out[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"--kinds: {part!r} is not NAME=WEIGHT (e.g. steps=0.6)") from None
    if not out:
        raise ValueError("--kinds is empty; e.g. --kinds steps=0.6,direct=0.2,verify=0.2")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``chainlab arith-data``."""
    p.add_argument("--out", required=True, help="JSONL file to write")
    p.add_argument("--n", type=int, default=6000, help="train problems (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=DEFAULT_KINDS, help="kind weights (default: %(default)s)")
    p.add_argument(
        "--verify-pairs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="verify problems give a true and a corrupted solution each (default: on)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab arith-data``."""
    from chainlab.tasks.arith import generate_problems, write_jsonl

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"error: {out} exists; pass --overwrite to replace it.", file=sys.stderr)
        return 2
    try:
        kinds = parse_kinds(args.kinds)
        problems = generate_problems(args.n, args.seed, split="train")
        path = write_jsonl(
            problems, out, kinds=kinds, seed=args.seed, verify_pairs=args.verify_pairs
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records = sum(1 for _ in path.open(encoding="utf-8"))
    print(f"wrote {records} records ({args.n} problems) to {out}")
    return 0
