"""Terminal rendering of a :class:`~chainlab.eval.report.Report` with rich tables."""

from __future__ import annotations

from typing import Any

from chainlab.eval.report import Report

__all__ = ["strategy_table", "pairs_table", "print_report", "make_console", "PIPE_WIDTH"]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def strategy_table(report: Report) -> Any:
    """A rich Table: accuracy, CI, any-of-b and cost per problem, one row per strategy."""
    from rich.table import Table

    level = round(100 * report.confidence)
    title = "Strategy comparison"
    if report.meta.get("task"):
        title += f" — {report.meta['task']}"
    if report.meta.get("n_problems"):
        title += f", {report.meta['n_problems']} problems"
    table = Table(title=title)
    table.add_column("strategy", style="bold")
    for col in ("accuracy", f"{level}% CI", "any-of-b", "calls/pb", "prompt tok/pb"):
        table.add_column(col, justify="right")
    for col in ("compl. tok/pb", "s/pb", "done"):
        table.add_column(col, justify="right")
    best = max((s.accuracy for s in report.strategies if s.accuracy is not None), default=None)
    for s in report.strategies:
        acc = f"{_pct(s.accuracy)} ({s.correct}/{s.n_scored})"
        if best is not None and s.accuracy == best:
            acc = f"[green]{acc}[/green]"
        ci = f"{_pct(s.ci_low)}–{_pct(s.ci_high)}" if s.n_scored else "—"
        done = str(s.n) + (f" ({s.errors} err)" if s.errors else "")
        table.add_row(
            s.name, acc, ci, _pct(s.any_accuracy), f"{s.mean_calls:.1f}",
            f"{s.mean_prompt_tokens:.0f}", f"{s.mean_completion_tokens:.0f}",
            f"{s.mean_seconds:.2f}", done,
        )  # fmt: skip
    return table


def pairs_table(report: Report, alpha: float = 0.05) -> Any:
    """A rich Table of the exact McNemar test of every pair of strategies."""
    from rich.table import Table

    table = Table(title=f"Paired exact McNemar tests (alpha = {alpha})")
    for col in ("A", "B", "paired", "A only", "B only", "p", "better"):
        table.add_column(col, justify="left" if col in ("A", "B", "better") else "right")
    for p in report.pairs:
        better = p.better(alpha)
        table.add_row(
            p.a, p.b, str(p.n), str(p.a_only), str(p.b_only),
            f"{p.p_value:.3g}", f"[green]{better}[/green]" if better else "—",
        )  # fmt: skip
    return table


#: console width when stdout is not a terminal (CI logs, pipes): wide enough for every column
PIPE_WIDTH = 120


def make_console(file: Any = None) -> Any:
    """A rich Console on ``file`` (default stdout): the terminal's width on a TTY, else
    :data:`PIPE_WIDTH` columns (rich would fall back to 80 and wrap the tables)."""
    import sys

    from rich.console import Console

    stream = file if file is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Console(file=file)
    return Console(file=file, width=PIPE_WIDTH)


def print_report(report: Report, console: Any = None, alpha: float = 0.05) -> None:
    """Print both tables (to ``console``, default :func:`make_console` on stdout)."""
    if console is None:
        console = make_console()
    console.print(strategy_table(report))
    if report.pairs:
        console.print(pairs_table(report, alpha))
