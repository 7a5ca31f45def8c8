"""The default strategy comparison on the embedded model (``make demo``).

Runs ``chainlab compare --model chainlab-tiny --task game24 --strategies
io,cot,cot-sc,cot-composed,cot-sc-composed,tot --limit 100 --out runs/demo``: an interrupted or
finished demo continues where it stopped when run again (resume semantics) — unless the stored run was
made with other settings, e.g. an earlier build of the model (its weights fingerprint differs): that
run is moved to ``runs/demo.before-TIMESTAMP`` and the demo starts over. It prints the table and where
the plot is. Fails clearly when ``chainlab-tiny`` is not installed yet.

``tot`` is Tree-of-Thoughts BFS (b=5) with the final answer written from the validated steps;
``cot-composed`` / ``cot-sc-composed`` read CoT's answers the same way (``cot`` / ``cot-sc`` take the
model's own answer line), so CoT and ToT are compared like for like. ``--paper`` also runs
``tot-paper``, the paper's way (the model writes the answer line) — a second full search, so it
roughly doubles the run time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "run", "compare_argv", "DEFAULT_STRATEGIES", "PAPER_STRATEGY"]

MODEL = "chainlab-tiny"
DEFAULT_STRATEGIES = "io,cot,cot-sc,cot-composed,cot-sc-composed,tot"
DEFAULT_LIMIT = 100
DEFAULT_OUT = "runs/demo"
#: the strategy ``--paper`` adds
PAPER_STRATEGY = "tot-paper"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``chainlab demo`` (passed through to ``chainlab compare``)."""
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="number of puzzles")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output directory ({DEFAULT_OUT})")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES, help="comma-separated")
    parser.add_argument(
        "--paper",
        action="store_true",
        help=f"also run {PAPER_STRATEGY} (ToT as in the paper: the model writes the answer line; "
        "a second full search, about doubling the run time)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start over instead of continuing the stored run"
    )


def compare_argv(args: argparse.Namespace) -> list[str]:
    """The ``chainlab compare`` arguments the demo runs."""
    strategies = args.strategies
    if getattr(args, "paper", False) and PAPER_STRATEGY not in strategies.split(","):
        strategies = f"{strategies},{PAPER_STRATEGY}"
    argv = ["--model", MODEL, "--task", "game24", "--strategies", strategies]
    # 50 puzzles per batched stage: ToT's tree levels fill bigger batches (about 2x faster than
    # the default 25 on 2 cores) while an interrupted demo loses at most 50 puzzles of work
    argv += ["--limit", str(args.limit), "--out", args.out, "--batch-size", "50"]
    argv.append("--overwrite" if getattr(args, "overwrite", False) else "--resume")
    return argv


def set_aside_other_run(compare_args: argparse.Namespace) -> Path | None:
    """Move a stored run made with other settings (e.g. by an earlier build of ``chainlab-tiny``,
    whose weights fingerprint differs) to ``OUT.before-TIMESTAMP``, so that the demo measures the
    model installed now instead of refusing to resume; returns where it went (None: nothing moved).
    """
    from chainlab.eval import cli_compare
    from chainlab.eval.store import RUN_FILE, settings_diff

    out = Path(compare_args.out)
    try:
        stored = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
        planned = cli_compare.planned_settings(compare_args)
    except Exception:  # no stored run, or bad input that `chainlab compare` reports itself
        return None
    diff = settings_diff(stored.get("settings", stored), planned)
    if not diff:
        return None
    aside = out.with_name(f"{out.name}.before-{time.strftime('%Y%m%d-%H%M%S')}")
    out.rename(aside)
    print(
        f"chainlab demo: {out} holds a run with other settings ({'; '.join(diff)}); "
        f"moved it to {aside} and starting over.",
        file=sys.stderr,
    )
    return aside


def run(args: argparse.Namespace) -> int:
    """Run the demo comparison; 1 when ``chainlab-tiny`` is not installed."""
    from chainlab.eval import cli_compare
    from chainlab.models.registry import available

    if MODEL not in available():
        print(
            f"error: the embedded model {MODEL!r} is not installed yet (installed models: "
            f"{', '.join(available()) or 'none'}). Build it with `chainlab train-tiny`, then run "
            f"`make demo` again; or compare a model directory you have with `chainlab compare "
            f"--model PATH --task game24 --strategies {args.strategies} --out runs/demo`.",
            file=sys.stderr,
        )
        return 1
    parser = argparse.ArgumentParser(prog="chainlab compare")
    cli_compare.add_arguments(parser)
    compare_args = parser.parse_args(compare_argv(args))
    if not getattr(args, "overwrite", False):
        set_aside_other_run(compare_args)
    print(f"chainlab demo: chainlab compare {' '.join(compare_argv(args))}", file=sys.stderr)
    return cli_compare.run(compare_args)
