"""chainlab.eval: compare prompting strategies on a task, with resumable runs and paired statistics.

>>> from chainlab.eval import compare, assert_better                       # doctest: +SKIP
>>> report = compare(llm, "game24", {"cot": cot, "tot": tot}, problems,    # doctest: +SKIP
...                  out_dir="runs/x")
>>> print(report.to_markdown()); report.plot("acc.png")                    # doctest: +SKIP
>>> assert_better(report, "tot", "cot", alpha=0.05)                        # doctest: +SKIP

Modules: :mod:`~chainlab.eval.runner` (``compare``), :mod:`~chainlab.eval.report` (``Report``),
:mod:`~chainlab.eval.stats` (Wilson, exact McNemar), :mod:`~chainlab.eval.store` (results file and
run settings), :mod:`~chainlab.eval.problems` and :mod:`~chainlab.eval.strategies` (the CLI's
problem sets and short strategy names), :mod:`~chainlab.eval.cli_compare` (``chainlab compare``).
Exports are imported lazily, so importing the package (e.g. by the CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "compare": "chainlab.eval.runner",
    "load_report": "chainlab.eval.runner",
    "describe_strategy": "chainlab.eval.runner",
    "Report": "chainlab.eval.report",
    "StrategyStats": "chainlab.eval.report",
    "PairTest": "chainlab.eval.report",
    "wilson_interval": "chainlab.eval.stats",
    "mcnemar_exact": "chainlab.eval.stats",
    "assert_better": "chainlab.eval.testing",
    "ResultStore": "chainlab.eval.store",
    "RunDirError": "chainlab.eval.store",
    "SettingsMismatchError": "chainlab.eval.store",
    "ResultsFileError": "chainlab.eval.store",
    "build_strategies": "chainlab.eval.strategies",
    "STRATEGY_SPECS": "chainlab.eval.strategies",
    "load_problems": "chainlab.eval.problems",
    "generated_game24": "chainlab.eval.problems",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chainlab.eval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
