"""Tree-of-Thoughts beats chain-of-thought on the embedded model: a significance test, as a pytest suite.

On the Tree-of-Thoughts paper's Game of 24 test split (data indices 900-999 of ``24.csv``), ``chainlab-tiny``
runs CoT and ToT BFS with the settings of ``chainlab compare``/``make demo`` (``cot`` and ``tot``, b = 5), and
the suite asserts with :func:`chainlab.eval.assert_better` that ToT solves significantly more puzzles (exact
McNemar test on the paired puzzles, alpha = 0.05).

Run it with ``pytest examples/test_strategy_suite.py`` (``tests/test_examples.py`` runs it in ``make test``).
Settings from the environment:

* ``CHAINLAB_MODEL``: the model (default ``chainlab-tiny``; skipped while it is not packaged);
* ``CHAINLAB_DATA``: the folder holding ``game24/24.csv`` (default ``../shared/data`` beside the repository);
* ``CHAINLAB_SUITE_LIMIT``: how many puzzles of the split, from its start (default 50, about 2 minutes on
  2 CPU cores; 100 = the whole split).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainlab.models.registry import available

MODEL = os.environ.get("CHAINLAB_MODEL", "chainlab-tiny")
LIMIT = int(os.environ.get("CHAINLAB_SUITE_LIMIT", "50"))
SPLIT = "900:1000"  # the ToT paper's test split
ALPHA = 0.05

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        MODEL == "chainlab-tiny" and "chainlab-tiny" not in available(),
        reason="chainlab-tiny is not packaged in this install yet "
        f"(chainlab.models.registry.available() = {available()}); set CHAINLAB_MODEL to run on another model",
    ),
]


def tot_test_csv() -> Path | None:
    """``24.csv``: ``$CHAINLAB_DATA/game24``, else ``../shared/data/game24`` beside the repository."""
    from chainlab.tasks.data import find_data_file

    return find_data_file("game24", "24.csv")


@pytest.fixture(scope="module")
def report():
    """CoT and ToT over the first ``LIMIT`` puzzles of the test split."""
    from chainlab.eval import build_strategies, compare, load_problems
    from chainlab.llms import load_llm

    csv = tot_test_csv()
    if csv is None:
        pytest.skip("24.csv not found: set CHAINLAB_DATA to the folder holding game24/24.csv")
    problem_set = load_problems("game24", data=str(csv), split=SPLIT, limit=LIMIT)
    assert [p["id"] for p in problem_set.problems] == list(range(900, 900 + LIMIT))
    llm = load_llm(MODEL)
    strategies = build_strategies(["cot", "tot"], llm, problem_set.task)
    return compare(
        llm, problem_set.task, strategies, problem_set.problems, seed=0, progress=False, plot=False
    )


def test_runs_on_the_tot_test_split(report):
    assert report.meta["n_problems"] == LIMIT
    for name in ("cot", "tot"):
        stats = report[name]
        assert stats.n == stats.n_scored == LIMIT and stats.errors == 0
    print()
    print(report.to_markdown())


def test_tot_beats_cot_significantly(report):
    from chainlab.eval import assert_better

    assert_better(report, "tot", "cot", alpha=ALPHA)
