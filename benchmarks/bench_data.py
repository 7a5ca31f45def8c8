"""Benchmark ``train-tiny``'s data generation against the straightforward solver, in one run.

Every ``train-tiny`` stage first draws its conversations (``tiny_data.write_dataset``); the draws
call the exact Game of 24 solver hundreds of thousands of times (is this start solvable, every
solution path of it, is this 3-number state solvable). Two ways, on the same recipe and seed:

1. **step-by-step solver, default garbage collection** (the baseline, and chainlab's own code
   before session 33): solvability as "some canonical move leaves a solvable state", over
   ``Fraction`` states, memoized with ``functools.lru_cache``; Python's cyclic collector on.
2. **chainlab** (``game24_math._solvable``): 2- and 3-number states checked over whole numbers
   (no ``Step`` and no ``Fraction`` per move), and ``write_dataset`` collecting only the young
   generations every 1,000 examples instead of letting full collections walk the solver's caches.

Each way runs in a fresh Python process (cold caches, as a ``train-tiny`` run starts); the two
files must be byte-identical, so the faster way draws exactly the same training data.

Run: ``.venv/bin/python benchmarks/bench_data.py [--examples 28000] [--recipe fourth] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPES = {
    # make tiny-model's first stage: the default recipe
    "first": {},
    # make tiny-model's fourth stage as v15 ran it (the README's numbers; v16 adds judge lists)
    "fourth": dict(
        mix=dict(io=0.04, cot=0.1, propose=0.24, value=0.28, judge=0.34),
        wide_share=1.0,
        value_format="pairs",
        judge_other_share=0.5,
        propose_format="restated",
        cot_format="expand",
    ),
}


def _baseline_solver() -> None:
    """Swap in the step-by-step solver and leave garbage collection as Python sets it."""
    from functools import lru_cache

    from chainlab.models import tiny_data
    from chainlab.tasks import game24_math as M

    @lru_cache(maxsize=500_000)
    def solvable(key):
        if len(key) == 1:
            return key[0] == M.TARGET
        return any(solvable(s.left) for s in M._next_steps(key))

    M._solvable = solvable

    def write_dataset(path, n, seed=0, recipe=None, **options):
        path = Path(path)
        with open(path, "w") as f:
            for ex in tiny_data.iter_examples(n, seed, recipe, **options):
                rec = {"skill": ex.skill, "text": ex.text(), "spans": ex.answer_spans()}
                f.write(json.dumps(rec) + "\n")
        return path

    tiny_data.write_dataset = write_dataset


def run_one(way: str, n: int, recipe: str, seed: int, out: str) -> dict:
    """Draw ``n`` examples one way (in this process) and time it."""
    if way == "baseline":
        _baseline_solver()
    from chainlab.models import tiny_data

    t = time.perf_counter()
    tiny_data.write_dataset(out, n, seed=seed, recipe=tiny_data.DataRecipe(**RECIPES[recipe]))
    seconds = time.perf_counter() - t
    return {
        "way": way,
        "seconds": round(seconds, 2),
        "examples_per_second": round(n / seconds, 1),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "sha256": hashlib.sha256(Path(out).read_bytes()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=28000)
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="fourth")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--one", choices=["baseline", "chainlab"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:  # a child process: one way, result as JSON on stdout
        print(json.dumps(run_one(args.one, args.examples, args.recipe, args.seed, args.out)))
        return 0

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for way in ("baseline", "chainlab"):
            cmd = [sys.executable, __file__, "--one", way, "--examples", str(args.examples),
                   "--recipe", args.recipe, "--seed", str(args.seed), "--out", f"{tmp}/{way}.jsonl"]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(f"{way:9s} {r['seconds']:8.1f} s  {r['examples_per_second']:7.1f} ex/s  "
                  f"max RSS {r['max_rss_mb']} MB")  # fmt: skip
    base, ours = results
    same = base["sha256"] == ours["sha256"]
    speedup = base["seconds"] / ours["seconds"]
    print(f"speed-up {speedup:.2f}x; identical data: {same}")
    if args.json:
        summary = {"examples": args.examples, "recipe": args.recipe, "seed": args.seed,
                   "speedup": round(speedup, 2), "identical": same, "results": results}  # fmt: skip
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
