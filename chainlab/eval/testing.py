"""Test helpers: ``assert_better(report, "tot", "cot")`` for pytest suites."""

from __future__ import annotations

from chainlab.eval.report import Report, StrategyStats

__all__ = ["assert_better"]


def _describe(s: StrategyStats, level: int) -> str:
    if s.accuracy is None:
        return f"{s.name}: no scored problems"
    return (
        f"{s.name}: {s.correct}/{s.n_scored} = {100 * s.accuracy:.1f}% "
        f"({level}% CI {100 * s.ci_low:.1f}–{100 * s.ci_high:.1f}%)"
    )


def assert_better(report: Report, better: str, worse: str, alpha: float = 0.05) -> None:
    """Assert that ``better`` is significantly more accurate than ``worse``.

    Passes when ``better`` solved more of the paired problems than ``worse`` and the exact McNemar
    p-value is below ``alpha``.

    Raises:
        AssertionError: with both accuracies, the discordant counts and the p-value.
        KeyError: a strategy is not in the report.
    """
    a, b = report[better], report[worse]
    pair = report.pair(better, worse)
    level = round(100 * report.confidence)
    numbers = (
        f"{_describe(a, level)}; {_describe(b, level)}; on {pair.n} paired problems "
        f"{pair.a_only} solved only by {better}, {pair.b_only} only by {worse}; "
        f"exact McNemar p = {pair.p_value:.4g} (alpha = {alpha})"
    )
    if pair.a_only <= pair.b_only:
        raise AssertionError(f"{better} is not better than {worse}: {numbers}")
    if pair.p_value >= alpha:
        raise AssertionError(f"{better} is not significantly better than {worse}: {numbers}")
