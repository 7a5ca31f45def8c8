"""Write the SFT data of the ``chainlab-tiny-arith`` adapter: synthetic arithmetic word problems.

    chainlab arith-data --out runs/arith-train.jsonl            # 6000 train problems, seed 0

Each problem becomes one record (``prompt``, ``completion``, ``kind``, ``key``) of a kind drawn with
the ``--kinds`` weights: ``steps`` (worked ``a op b = c`` lines, then ``Answer: N``), ``direct``
(``Answer: N``) or ``verify`` (a worked solution judged ``correct``/``incorrect``; by default each
verify problem gives a pair of records, its true solution and a corrupted one, so that only the
numbers compared tell the two verdicts apart; ``--no-verify-pairs``: one of the two at random). Problems come from the train split of :mod:`chainlab.tasks.arith`, so
the held-out test problems that ``chainlab eval-tiny --skills arith`` scores are never trained on.
The file is what ``chainlab finetune --data`` reads.

A second round adds verifier records built on a trained adapter's *own* sampled solutions
(:mod:`chainlab.models.arith_self_samples`), so the verifier learns the mistakes it will see::

    chainlab arith-data --out runs/arith-r2.jsonl --self-samples runs/arith-r1   # r1: round-1 adapter

``--self-n`` fresh train-split problems (seed ``--seed + 1``, so mostly unseen by round 1), ``--self-k``
samples each at ``--self-temperature``; the records are appended after the ordinary ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_KINDS = "steps=0.5,direct=0.15,verify=0.35"


def parse_kinds(text: str) -> dict[str, float]:
    """``"steps=0.6,direct=0.2"`` -> ``{"steps": 0.6, "direct": 0.2}`` (a clear error otherwise)."""
    from chainlab.models.options import parse_weights

    return parse_weights(text, "--kinds", "steps=0.6,direct=0.2,verify=0.2")


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
    g = p.add_argument_group("self-sampled verify records (second round)")
    g.add_argument("--self-samples", metavar="ADAPTER", help="sample with this adapter on --self-model")
    g.add_argument("--self-model", default="chainlab-tiny", help="base model (default: %(default)s)")
    g.add_argument("--self-n", type=int, default=3000, help="problems sampled (default: %(default)s)")
    g.add_argument("--self-k", type=int, default=4, help="samples per problem (default: %(default)s)")
    g.add_argument("--self-temperature", type=float, default=0.7, help="(default: %(default)s)")
    g.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab arith-data``."""
    from chainlab.tasks.arith import generate_problems, write_jsonl

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"error: {out} exists; pass --overwrite to replace it.", file=sys.stderr)
        return 2
    llm = None
    if args.self_samples:  # load the adapter first: a bad one fails before anything is written
        llm = _sampling_llm(args)
        if llm is None:
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
    if llm is not None:
        return _append_self_samples(args, llm, path)
    return 0


def _sampling_llm(args: argparse.Namespace):
    """The model that samples for ``--self-samples``, or None after printing why it cannot load."""
    from chainlab.llms import load_llm

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        return load_llm(args.self_model, adapter=args.self_samples)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: --self-samples: {exc}", file=sys.stderr)
        return None


def _append_self_samples(args: argparse.Namespace, llm, path: Path) -> int:
    """Sample with ``llm`` (the ``--self-samples`` adapter) and append its verify records."""
    import json

    from chainlab.models.arith_self_samples import sample_solutions, self_sample_records
    from chainlab.tasks.arith import generate_problems

    seen = {json.loads(line)["key"] for line in path.open(encoding="utf-8")}
    pool = generate_problems(args.self_n + len(seen), args.seed + 1, split="train")
    problems = [p for p in pool if p.key not in seen][: args.self_n]
    samples = sample_solutions(
        llm, problems, k=args.self_k, temperature=args.self_temperature, seed=args.seed
    )
    records, stats = self_sample_records(problems, samples, seed=args.seed)
    with path.open("a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(
        f"self samples: {stats['wrong_samples']} of {stats['samples']} wrong "
        f"({stats['problems_with_wrong']} of {len(problems)} problems); "
        f"appended {stats['records']} verify records to {path}"
    )
    return 0
