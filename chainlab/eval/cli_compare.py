"""Compare prompting strategies on a task: accuracy with 95% CIs, cost per problem, paired tests.

Writes DIR/results.jsonl (one line per problem and strategy, flushed chunk by chunk), DIR/run.json
(the settings), DIR/summary.json, DIR/summary.csv and DIR/accuracy_vs_cost.png. An interrupted
run continues with the same command plus --resume.

Strategies: io, few-shot, cot, cot-sc (k=10), cot-composed and cot-sc-composed (the same, the
answer written from the validated steps), verifier (k=5), tot (BFS, b=5, the answer written from
the validated steps), tot-paper (BFS, b=5, the model writes the answer as in the ToT paper),
tot-dfs, least-to-most. Options: --strategy-opts cot-sc.k=5 tot.b=3, or JSON '{"tot": {"b": 3}}';
tot.search_options='{"compose_answer": false}' makes tot write answers the paper's way.

Problems run in chunks of --batch-size (default 25): each strategy stage sends every problem of a
chunk to the model in one batched call, and each finished chunk is flushed to results.jsonl.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run", "resume_command", "planned_settings"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: problems per ``strategy.batch`` call (each stage's prompts for all of them in one LLM call)
DEFAULT_BATCH_SIZE = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``chainlab compare``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    g = parser.add_argument_group("model")
    g.add_argument(
        "--model", required=True, help="packaged name (chainlab-tiny), directory or Hub id"
    )
    g.add_argument("--adapter", help="LoRA adapter directory or packaged name")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    g = parser.add_argument_group("problems")
    g.add_argument("--task", required=True, help="game24, gsm8k, svamp, arith or jsonl")
    g.add_argument(
        "--data",
        help="data file (or directory holding it); game24 default: game24/24.csv in $CHAINLAB_DATA "
        "or ../shared/data beside the repo (ToT test split 900:1000), else a built-in set of 100 "
        "solvable puzzles",
    )
    g.add_argument("--split", help="START:END data indices (e.g. 900:1000)")
    g.add_argument("--limit", type=int, help="keep the first N problems")
    g.add_argument("--matcher", default="exact", choices=("exact", "numeric", "regex"),
                   help="jsonl: answer matching (default exact)")  # fmt: skip
    g.add_argument("--question-field", default="question", help="jsonl: question key")
    g.add_argument("--answer-field", default="answer", help="jsonl: gold answer key")
    g = parser.add_argument_group("strategies")
    g.add_argument("--strategies", required=True, help="comma-separated, e.g. io,cot,cot-sc,tot")
    g.add_argument(
        "--strategy-opts", nargs="+", action="extend", default=[], metavar="OPT",
        help="strategy.option=value items (cot-sc.k=10 tot.b=5) or a JSON object",
    )  # fmt: skip
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    g = parser.add_argument_group("run")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    g.add_argument("--overwrite", action="store_true", help="delete the run stored in --out first")
    g.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help="problems run together through each strategy stage (one batched LLM call "
                        f"per stage) and per flush (default {DEFAULT_BATCH_SIZE})")  # fmt: skip
    g.add_argument("--on-error", choices=("raise", "record"), default="raise",
                   help="on an LLM failure: stop (default) or record the problem as failed")  # fmt: skip
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--no-plot", action="store_true", help="do not write the plot")


def resume_command(args: argparse.Namespace, prog: str = "chainlab compare") -> str:
    """The command line that continues the run of ``args``."""
    parts = [*prog.split(), "--model", args.model]
    for flag, value in (
        ("--adapter", args.adapter), ("--device", args.device), ("--task", args.task),
        ("--data", args.data), ("--split", args.split), ("--limit", args.limit),
        ("--strategies", args.strategies), ("--seed", args.seed), ("--out", args.out),
        ("--batch-size", args.batch_size),
    ):  # fmt: skip
        if value is not None:
            parts += [flag, str(value)]
    if args.task == "jsonl":
        parts += ["--matcher", args.matcher, "--question-field", args.question_field]
        parts += ["--answer-field", args.answer_field]
    if args.strategy_opts:
        parts += ["--strategy-opts", *args.strategy_opts]
    parts.append("--resume")
    return shlex.join(parts)


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _placeholder_llm() -> Any:
    """A stand-in LLM for checking strategy options before the model loads; it has every
    capability a LocalLLM has (``loglikelihood`` too), so options are checked, not the model."""
    from langchain_core.language_models.fake import FakeListLLM

    class Placeholder(FakeListLLM):
        def loglikelihood(self, pairs: Any, callbacks: Any = None) -> Any:
            raise RuntimeError("the placeholder LLM only checks options; it does not score")

    return Placeholder(responses=[""])


def _run_identity(
    args: argparse.Namespace, problem_settings: dict, names: list[str], opts: dict
) -> dict[str, Any]:
    """What identifies a run besides its strategies and problems: the model and adapter by name
    and by a fingerprint of their weights (so a retrained model never resumes an old run), the
    data and the strategy options."""
    from chainlab.llms.fingerprint import weights_fingerprint

    return {
        "model": args.model,
        "model_weights": weights_fingerprint(args.model),
        "adapter": args.adapter,
        "adapter_weights": weights_fingerprint(args.adapter, "adapter"),
        **problem_settings,
        "strategy_names": names,
        "strategy_opts": opts,
    }


@dataclass
class _Plan:
    """Step 1 of a run, everything that needs no model."""

    names: list[str]
    opts: dict
    pset: Any
    n_problems: int
    extra: dict[str, Any]
    settings: dict[str, Any]


def _plan(args: argparse.Namespace) -> _Plan:
    from chainlab.eval.problems import load_problems
    from chainlab.eval.runner import make_settings, prepare
    from chainlab.eval.strategies import build_strategies, parse_strategy_names, parse_strategy_opts

    names = parse_strategy_names(args.strategies)
    opts = parse_strategy_opts(args.strategy_opts, names)
    pset = load_problems(
        args.task, args.data, args.split, args.limit, matcher=args.matcher,
        question_field=args.question_field, answer_field=args.answer_field,
    )  # fmt: skip
    checked = build_strategies(names, _placeholder_llm(), pset.task, opts)
    task, built, items = prepare(None, pset.task, checked, pset.problems, args.seed)
    extra = _run_identity(args, pset.settings, names, opts)
    settings = make_settings(task, built, [pid for pid, _ in items], args.seed, extra)
    return _Plan(names, opts, pset, len(items), extra, settings)


def planned_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings a ``chainlab compare`` run with ``args`` stores in ``run.json`` (no model load).

    Raises what :func:`run` reports as bad input (unknown strategy or option, missing data).
    """
    return _plan(args).settings


def run(args: argparse.Namespace) -> int:
    """Run ``chainlab compare``; exit code 0, 1 (run failed), 2 (bad input) or 130 (Ctrl-C)."""
    from chainlab.eval.datafiles import DataFileError
    from chainlab.eval.models import ModelLoadError, load_model
    from chainlab.eval.problems import ProblemSetError
    from chainlab.eval.store import RunDirError, check_settings
    from chainlab.eval.strategies import StrategyConfigError, build_strategies

    if args.resume and args.overwrite:
        _err("--resume and --overwrite contradict each other; give one.")
        return EXIT_USAGE
    if args.batch_size < 1:
        _err(f"--batch-size must be >= 1, got {args.batch_size}.")
        return EXIT_USAGE
    # 1. everything that needs no model: strategies, problems, output directory
    try:
        plan = _plan(args)
        stored = check_settings(
            args.out, plan.settings, resume=args.resume, overwrite=args.overwrite
        )
    except (StrategyConfigError, ProblemSetError, DataFileError, RunDirError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except FileNotFoundError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(f"problems: {plan.n_problems} from {plan.pset.source}", file=sys.stderr)
    if stored:
        print(f"resuming: {stored} result(s) already in {args.out}", file=sys.stderr)

    # 2. the model, then the run
    try:
        llm = load_model(args.model, args.adapter, args.device)
    except ModelLoadError as exc:
        _err(str(exc))
        return EXIT_USAGE
    strategies = build_strategies(plan.names, llm, plan.pset.task, plan.opts)
    return _run(args, llm, plan.pset, strategies, plan.extra)


def _run(args: argparse.Namespace, llm: Any, pset: Any, strategies: dict, extra: dict) -> int:
    from chainlab.eval.runner import PLOT_FILE, compare
    from chainlab.eval.store import RESULTS_FILE, ResultStore
    from chainlab.eval.table import print_report

    out = Path(args.out)
    try:
        report = compare(
            llm, pset.task, strategies, pset.problems, seed=args.seed, out_dir=out,
            batch_size=args.batch_size, progress=not args.no_progress, resume=True,
            overwrite=False, settings=extra, on_error=args.on_error, plot=not args.no_plot,
        )  # fmt: skip
    except KeyboardInterrupt:
        n = len(ResultStore(out).records())
        print(
            f"\ninterrupted: {n} result(s) are saved in {out / RESULTS_FILE}.\n"
            f"Continue with:\n  {resume_command(args)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        n = len(ResultStore(out).records())
        _err(f"{type(exc).__name__}: {exc}")
        print(
            f"{n} result(s) are saved in {out / RESULTS_FILE}; after fixing the problem, continue "
            f"with:\n  {resume_command(args)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print_report(report)
    print(f"results: {out / RESULTS_FILE}")
    print(f"summary: {out / 'summary.json'}, {out / 'summary.csv'}")
    if not args.no_plot:
        print(f"plot:    {out / PLOT_FILE}")
    return EXIT_OK
