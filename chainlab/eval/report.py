"""The :class:`Report` of a comparison: per-strategy accuracy and cost, and paired tests.

Built from result records (:mod:`chainlab.eval.records`) of the same problems under every strategy:

* accuracy = correct / scored problems (problems the task could not score are left out), with a
  Wilson interval (95% by default);
* any-of-b accuracy = any candidate correct (ToT's final states, self-consistency's vote groups),
  reported for strategies that returned more than one final for some problem;
* mean LLM calls, prompt/completion tokens and seconds per problem (each problem's share of its
  batch, see :class:`~chainlab.chains.result.StrategyResult`);
* for every pair of strategies, the exact McNemar test on the problems both scored.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from chainlab.eval.records import record_key
from chainlab.eval.stats import mcnemar_exact, wilson_interval

__all__ = ["StrategyStats", "PairTest", "Report"]


@dataclass
class StrategyStats:
    """Accuracy and cost of one strategy (means are per problem)."""

    name: str
    n: int
    n_scored: int
    correct: int
    accuracy: float | None
    ci_low: float
    ci_high: float
    any_correct: int | None = None
    any_accuracy: float | None = None
    max_finals: int = 0
    mean_calls: float = 0.0
    mean_prompt_tokens: float = 0.0
    mean_completion_tokens: float = 0.0
    mean_seconds: float = 0.0
    errors: int = 0

    @property
    def mean_tokens(self) -> float:
        """Prompt plus completion tokens per problem."""
        return self.mean_prompt_tokens + self.mean_completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (with ``mean_tokens``)."""
        return {**asdict(self), "mean_tokens": self.mean_tokens}


@dataclass
class PairTest:
    """Exact McNemar test of strategy ``a`` against ``b`` on their paired problems.

    ``a_only`` = problems only ``a`` solved (McNemar's b), ``b_only`` = only ``b`` (c).
    """

    a: str
    b: str
    n: int
    a_only: int
    b_only: int
    p_value: float

    def better(self, alpha: float = 0.05) -> str | None:
        """The significantly better strategy at level ``alpha``, else None."""
        if self.p_value >= alpha or self.a_only == self.b_only:
            return None
        return self.a if self.a_only > self.b_only else self.b

    def flipped(self) -> PairTest:
        """The same test seen from ``b``."""
        return PairTest(self.b, self.a, self.n, self.b_only, self.a_only, self.p_value)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


@dataclass
class Report:
    """Result of :func:`chainlab.eval.compare`.

    Attributes:
        strategies: stats per strategy, in the order compared.
        pairs: McNemar tests of every pair (in ``combinations`` order of the strategies).
        confidence: level of the Wilson intervals.
        meta: task name, problem count, seed, output directory...
    """

    strategies: list[StrategyStats]
    pairs: list[PairTest]
    confidence: float = 0.95
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_records(
        cls,
        records: list[dict[str, Any]],
        strategies: list[str] | None = None,
        problem_ids: list[str] | None = None,
        *,
        confidence: float = 0.95,
        meta: dict[str, Any] | None = None,
    ) -> Report:
        """A report over ``records`` (restricted to ``strategies`` and ``problem_ids`` if given)."""
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in records:
            by_key.setdefault(record_key(rec), rec)
        if strategies is None:
            strategies = list(dict.fromkeys(k[1] for k in by_key))
        if problem_ids is None:
            problem_ids = list(dict.fromkeys(k[0] for k in by_key))
        stats = []
        per: dict[str, dict[str, dict[str, Any]]] = {}
        for name in strategies:
            recs = {pid: by_key[(pid, name)] for pid in problem_ids if (pid, name) in by_key}
            per[name] = recs
            stats.append(_stats(name, list(recs.values()), confidence))
        pairs = []
        for a, b in combinations(strategies, 2):
            both = [
                pid
                for pid in problem_ids
                if pid in per[a]
                and pid in per[b]
                and per[a][pid].get("correct") is not None
                and per[b][pid].get("correct") is not None
            ]
            a_only = sum(1 for p in both if per[a][p]["correct"] and not per[b][p]["correct"])
            b_only = sum(1 for p in both if per[b][p]["correct"] and not per[a][p]["correct"])
            pairs.append(PairTest(a, b, len(both), a_only, b_only, mcnemar_exact(a_only, b_only)))
        return cls(stats, pairs, confidence, dict(meta or {}))

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> StrategyStats:
        for s in self.strategies:
            if s.name == name:
                return s
        raise KeyError(f"No strategy {name!r} in the report; it has {self.names}.")

    @property
    def names(self) -> list[str]:
        """Strategy names, in order."""
        return [s.name for s in self.strategies]

    def pair(self, a: str, b: str) -> PairTest:
        """The McNemar test of ``a`` against ``b`` (oriented so that ``.a == a``)."""
        for p in self.pairs:
            if (p.a, p.b) == (a, b):
                return p
            if (p.a, p.b) == (b, a):
                return p.flipped()
        self[a], self[b]  # noqa: B018 -- KeyError naming the unknown strategy
        raise KeyError(f"No pair ({a!r}, {b!r}) in the report.")

    # ------------------------------------------------------------------ exports
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: ``strategies``, ``pairs``, ``confidence``, ``meta``."""
        return {
            "confidence": self.confidence,
            "meta": self.meta,
            "strategies": [s.as_dict() for s in self.strategies],
            "pairs": [{**asdict(p), "better": p.better()} for p in self.pairs],
        }

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        """The report as JSON text (also written to ``path`` when given)."""
        text = json.dumps(self.to_dict(), indent=indent, default=str) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per strategy (the columns of the CSV and the data frame)."""
        return [s.as_dict() for s in self.strategies]

    def to_csv(self, path: str | Path | None = None) -> str:
        """Per-strategy rows as CSV text (also written to ``path`` when given)."""
        rows = self.rows()
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        if path is not None:
            Path(path).write_text(buf.getvalue(), encoding="utf-8")
        return buf.getvalue()

    def to_dataframe(self):
        """Per-strategy rows as a pandas DataFrame indexed by strategy name."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is normally installed
            raise ImportError("Report.to_dataframe needs pandas (pip install pandas).") from exc
        return pd.DataFrame(self.rows()).set_index("name")

    def to_markdown(self) -> str:
        """Markdown tables: per-strategy accuracy/cost, then the pairwise McNemar tests."""
        level = f"{round(100 * self.confidence)}% CI"
        head = ["strategy", "accuracy", level, "any-of-b", "calls/pb", "prompt tok/pb"]
        head += ["compl. tok/pb", "s/pb", "n"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in self.strategies:
            acc = f"{_fmt_pct(s.accuracy)} ({s.correct}/{s.n_scored})"
            ci = f"{_fmt_pct(s.ci_low)} – {_fmt_pct(s.ci_high)}" if s.n_scored else "—"
            cells = [s.name, acc, ci, _fmt_pct(s.any_accuracy), f"{s.mean_calls:.1f}"]
            cells += [f"{s.mean_prompt_tokens:.0f}", f"{s.mean_completion_tokens:.0f}"]
            cells += [f"{s.mean_seconds:.2f}", str(s.n)]
            lines.append("| " + " | ".join(cells) + " |")
        if self.pairs:
            lines += [
                "",
                "| A | B | A only | B only | McNemar p | better |",
                "|---|---|---|---|---|---|",
            ]
            for p in self.pairs:
                cells = [p.a, p.b, str(p.a_only), str(p.b_only), _fmt_p(p.p_value)]
                cells.append(p.better() or "—")
                lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path, title: str | None = None) -> Path:
        """Accuracy (with CI error bars) vs. tokens per problem, one labelled point per strategy."""
        from chainlab.eval.plot import plot_accuracy_vs_cost

        return plot_accuracy_vs_cost(self, path, title=title)

    def __str__(self) -> str:
        return self.to_markdown()


def _stats(name: str, recs: list[dict[str, Any]], confidence: float) -> StrategyStats:
    scored = [r for r in recs if r.get("correct") is not None]
    k = sum(1 for r in scored if r["correct"])
    lo, hi = wilson_interval(k, len(scored), confidence)
    max_finals = max((int(r.get("n_finals") or 0) for r in recs), default=0)
    any_k = any_acc = None
    if max_finals > 1 and scored:
        any_k = sum(1 for r in scored if r.get("any_correct", r["correct"]))
        any_acc = any_k / len(scored)

    def usage(key: str) -> list[float]:
        return [float((r.get("usage") or {}).get(key) or 0) for r in recs if not r.get("error")]

    return StrategyStats(
        name=name,
        n=len(recs),
        n_scored=len(scored),
        correct=k,
        accuracy=k / len(scored) if scored else None,
        ci_low=lo,
        ci_high=hi,
        any_correct=any_k,
        any_accuracy=any_acc,
        max_finals=max_finals,
        mean_calls=_mean(usage("calls")),
        mean_prompt_tokens=_mean(usage("prompt_tokens")),
        mean_completion_tokens=_mean(usage("completion_tokens")),
        mean_seconds=_mean(usage("seconds")),
        errors=sum(1 for r in recs if r.get("error")),
    )
