"""Accuracy vs. cost plot of a :class:`~chainlab.eval.report.Report` (matplotlib's Agg canvas, no pyplot).

One labelled point per strategy: x = prompt + completion tokens per problem (log axis), y = accuracy
with its confidence interval as error bars. When some strategy used no tokens (LLMs that report
none), x falls back to LLM calls per problem; when that is zero too, the axis is linear.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainlab.eval.report import Report

__all__ = ["plot_accuracy_vs_cost"]


def plot_accuracy_vs_cost(report: Report, path: str | Path, title: str | None = None) -> Path:
    """Write the plot to ``path`` (PNG unless the suffix says otherwise) and return the path."""
    # a bare Figure renders with the Agg canvas and leaves pyplot's global state alone
    from matplotlib.figure import Figure

    stats = [s for s in report.strategies if s.accuracy is not None]
    xs = [s.mean_tokens for s in stats]
    xlabel = "tokens per problem (prompt + completion)"
    if any(x <= 0 for x in xs):
        xs = [s.mean_calls for s in stats]
        xlabel = "LLM calls per problem (the LLM reported no tokens)"
    log = bool(xs) and all(x > 0 for x in xs)

    fig = Figure(figsize=(6.4, 4.4), dpi=110)
    ax = fig.subplots()
    for s, x in zip(stats, xs, strict=True):
        y = s.accuracy
        err = [[max(0.0, y - s.ci_low)], [max(0.0, s.ci_high - y)]]
        ax.errorbar([x], [y], yerr=err, fmt="o", capsize=4, markersize=6)
        ax.annotate(s.name, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    if log:
        ax.set_xscale("log")
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.8, hi * 1.8)
    ax.set_ylim(-0.03, 1.08)
    ax.set_xlabel(xlabel)
    level = round(100 * report.confidence)
    ax.set_ylabel(f"accuracy (error bars: {level}% Wilson CI)")
    task = report.meta.get("task")
    default_title = "Accuracy vs. cost" + (f" — {task}" if task else "")
    n = report.meta.get("n_problems")
    if n:
        default_title += f" ({n} problems)"
    ax.set_title(title or default_title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
