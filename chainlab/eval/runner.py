"""``compare(...)``: run strategies over the same problems, resumably, and build a :class:`Report`.

Each strategy runs over the problems in chunks of ``batch_size``: ``strategy.batch(chunk)`` batches
the LLM calls of every problem in the chunk. The chunk's result lines are appended to
``out_dir/results.jsonl`` and flushed as soon as it finishes, so a killed run loses at most the
chunk in flight; running again with the same settings skips the (problem, strategy) pairs already
stored (see :mod:`chainlab.eval.store`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from chainlab.eval.progress import StrategyProgress
from chainlab.eval.records import error_record, make_record, problem_key, record_key
from chainlab.eval.report import Report
from chainlab.eval.store import RUN_FILE, ResultStore, check_settings

__all__ = [
    "compare",
    "prepare",
    "make_settings",
    "load_report",
    "describe_strategy",
    "write_outputs",
    "PLOT_FILE",
]

PLOT_FILE = "accuracy_vs_cost.png"
#: fields never put in a strategy description (objects, not settings)
_SKIP_FIELDS = {"llm", "task", "judge_llm", "search_task", "example_selector", "name"}

StrategyLike = Any  # a Runnable with .batch, or a callable (llm, task) -> Runnable


def describe_strategy(strategy: Any) -> dict[str, Any]:
    """The JSON-able settings of a strategy (type + plain fields, nested ``base`` described too)."""
    out: dict[str, Any] = {"type": type(strategy).__name__}
    fields = getattr(type(strategy), "model_fields", None)
    if not fields:
        return out
    for name in fields:
        if name in _SKIP_FIELDS:
            continue
        value = getattr(strategy, name, None)
        if hasattr(type(value), "model_fields") and hasattr(value, "batch"):
            out[name] = describe_strategy(value)
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[name] = value
    return out


def _with_seed(strategy: Any, seed: int | None) -> Any:
    """A copy of ``strategy`` (and of its ``base``) whose unset ``seed`` is ``seed``."""
    if seed is None or not hasattr(strategy, "model_copy"):
        return strategy
    fields = getattr(type(strategy), "model_fields", {})
    update: dict[str, Any] = {}
    if "seed" in fields and getattr(strategy, "seed", None) is None:
        update["seed"] = seed
    base = getattr(strategy, "base", None)
    if "base" in fields and base is not None:
        new_base = _with_seed(base, seed)
        if new_base is not base:
            update["base"] = new_base
    return strategy.model_copy(update=update) if update else strategy


def _resolve_task(task: Any) -> Any:
    if task is None or not isinstance(task, str):
        return task
    from chainlab.tasks.registry import get_task

    return get_task(task)


def _build(strategies: Mapping[str, StrategyLike], llm: Any, task: Any) -> dict[str, Any]:
    if not strategies:
        raise ValueError("compare needs at least one strategy.")
    out = {}
    for name, s in strategies.items():
        if not hasattr(s, "batch") and callable(s):
            s = s(llm, task)
        if not hasattr(s, "batch"):
            raise TypeError(
                f"Strategy {name!r} must be a Runnable (with .batch) or a factory (llm, task) -> "
                f"Runnable, not {type(s).__name__}."
            )
        out[str(name)] = s
    return out


def _problem_items(problems: Iterable[Any], task: Any) -> list[tuple[str, dict[str, Any]]]:
    items = []
    seen: dict[str, int] = {}
    for i, p in enumerate(problems):
        if task is not None and hasattr(task, "make_problem"):
            p = task.make_problem(p)
        elif isinstance(p, str):
            p = {"question": p}
        pid = problem_key(p, i)
        if pid in seen:
            raise ValueError(
                f"Problems {seen[pid]} and {i} have the same id {pid!r}; results are keyed by id."
            )
        seen[pid] = i
        items.append((pid, p))
    if not items:
        raise ValueError("compare needs at least one problem.")
    return items


def _run_chunk(
    strategy: Any, name: str, chunk: list[tuple[str, dict[str, Any]]], task: Any, on_error: str
) -> list[dict[str, Any]]:
    problems = [p for _, p in chunk]
    try:
        results = strategy.batch(problems)
    except Exception:
        if on_error == "raise":
            raise
        results = None
    if results is not None:
        if len(results) != len(chunk):
            raise RuntimeError(
                f"Strategy {name!r} returned {len(results)} results for {len(chunk)} problems."
            )
        return [make_record(pid, name, r, task) for (pid, _), r in zip(chunk, results, strict=True)]
    # on_error="record": retry one by one; a problem that still fails is recorded as a failure
    out = []
    for pid, p in chunk:
        try:
            out.append(make_record(pid, name, strategy.invoke(p), task))
        except Exception as exc:
            out.append(error_record(pid, name, exc))
    return out


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _llm_name(llm: Any) -> str | None:
    if llm is None:
        return None
    for attr in ("model_name", "model_id", "name_or_path"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def _with_model_identity(llm: Any, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` plus the LLM's ``fingerprint()`` (a LocalLLM's digest of its config, tokenizer
    and weights) when the caller gave no ``model_weights`` (as ``chainlab compare`` does)."""
    out = dict(settings or {})
    fingerprint = getattr(llm, "fingerprint", None)
    if "model_weights" not in out and callable(fingerprint):
        out["model_fingerprint"] = fingerprint()
    return out


def prepare(
    llm: Any,
    task: Any,
    strategies: Mapping[str, StrategyLike],
    problems: Iterable[Any],
    seed: int | None,
) -> tuple[Any, dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """(task, validated strategies with the seed applied, [(problem id, problem)]) of a comparison."""
    task = _resolve_task(task)
    built = {n: _with_seed(s, seed) for n, s in _build(strategies, llm, task).items()}
    for s in built.values():
        if hasattr(s, "validate_params"):
            s.validate_params()
    return task, built, _problem_items(problems, task)


def make_settings(
    task: Any,
    built: Mapping[str, Any],
    ids: list[str],
    seed: int | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The settings stored in ``run.json`` and compared on resume."""
    return {
        "task": getattr(task, "name", None),
        "strategies": {n: describe_strategy(s) for n, s in built.items()},
        "seed": seed,
        "problems": {
            "n": len(ids),
            "ids_sha1": hashlib.sha1("\n".join(ids).encode("utf-8")).hexdigest(),
        },
        **dict(extra or {}),
    }


def compare(
    llm: Any,
    task: Any,
    strategies: Mapping[str, StrategyLike],
    problems: Iterable[Any],
    *,
    seed: int | None = 0,
    out_dir: str | Path | None = None,
    batch_size: int = 25,
    progress: bool = True,
    resume: bool = True,
    overwrite: bool = False,
    settings: Mapping[str, Any] | None = None,
    on_error: Literal["raise", "record"] = "raise",
    confidence: float = 0.95,
    plot: bool = True,
    on_chunk: Callable[[str, list[dict[str, Any]]], None] | None = None,
) -> Report:
    """Run every strategy over ``problems`` and compare them.

    Args:
        llm: the LLM; used to build strategies given as factories ``(llm, task) -> Runnable``
            (strategies given as Runnables already hold theirs).
        task: a :class:`~chainlab.tasks.base.Task` or registry name: coerces problems and scores
            candidates (for any-of-b).
        strategies: name -> strategy Runnable (``invoke``/``batch`` returning StrategyResults) or
            factory.
        problems: problem dicts (an ``id`` key names each in the results, else its position).
        seed: sampling seed given to strategies (and their ``base``) that have none.
        out_dir: directory of ``results.jsonl``, ``run.json``, ``summary.json``/``.csv`` and the
            plot; None keeps results in memory.
        batch_size: problems per ``strategy.batch`` call (and per flush of the results file;
            default 25, as ``chainlab compare --batch-size``).
        progress: draw a progress bar per strategy with the running accuracy.
        resume: continue a run stored in ``out_dir`` with the same settings (when False, a
            directory holding results is refused).
        overwrite: delete a run stored in ``out_dir`` first (whatever its settings).
        settings: extra settings stored in ``run.json`` and compared on resume (the CLI's model,
            data, split...). The task name, strategy descriptions, seed and problem ids are always
            included, and so is a :class:`~chainlab.llms.LocalLLM`'s ``fingerprint()`` (config,
            tokenizer and weights), so a resume never mixes two models' results — unless
            ``settings`` holds ``model_weights`` (``chainlab compare``'s fingerprint of the files,
            taken before the model loads).
        on_error: ``raise`` (default: stop; finished chunks stay stored) or ``record``: retry a
            failed chunk problem by problem and store problems that still fail as wrong, with
            their ``error``.
        confidence: level of the Wilson intervals.
        plot: write ``accuracy_vs_cost.png`` into ``out_dir`` (needs matplotlib).
        on_chunk: called with (strategy name, records) after each chunk is stored.

    Returns:
        The :class:`Report` over all stored results of these problems and strategies.

    Raises:
        SettingsMismatchError / RunDirError: ``out_dir`` holds another run, or results without
            ``resume``/``overwrite``.
        ValueError: no strategies/problems, duplicate problem ids, bad ``batch_size``/``on_error``,
            invalid strategy parameters.
        KeyboardInterrupt: propagated after closing the progress bars; stored chunks are kept.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}.")
    task, built, items = prepare(llm, task, strategies, problems, seed)
    ids = [pid for pid, _ in items]
    run_settings = make_settings(task, built, ids, seed, _with_model_identity(llm, settings))
    store = ResultStore(out_dir)
    stored_before = 0
    if out_dir is not None:
        stored_before = check_settings(out_dir, run_settings, resume=resume, overwrite=overwrite)
        store.repair()

    existing = store.records()
    done = {record_key(r) for r in existing}
    for name, strategy in built.items():
        mine = [r for r in existing if r["strategy"] == name]
        pending = [(pid, p) for pid, p in items if (pid, name) not in done]
        scored = [r for r in mine if r.get("correct") is not None]
        with StrategyProgress(
            name,
            len(items),
            done=len(items) - len(pending),
            correct=sum(bool(r["correct"]) for r in scored),
            scored=len(scored),
            enabled=progress,
        ) as bar:
            for chunk in _chunks(pending, batch_size):
                records = _run_chunk(strategy, name, chunk, task, on_error)
                store.append(records)
                bar.update(records)
                if on_chunk is not None:
                    on_chunk(name, records)

    meta = {
        "task": getattr(task, "name", None),
        "model": _llm_name(llm),
        "n_problems": len(ids),
        "seed": seed,
        "resumed_results": stored_before,
        "out_dir": None if out_dir is None else str(out_dir),
    }
    report = Report.from_records(
        store.records(), list(built), ids, confidence=confidence, meta=meta
    )
    if out_dir is not None:
        write_outputs(report, out_dir, plot=plot)
    return report


def write_outputs(report: Report, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
    """Write ``summary.json``, ``summary.csv`` (and the plot) into ``out_dir``; their paths."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"summary_json": d / "summary.json", "summary_csv": d / "summary.csv"}
    report.to_json(paths["summary_json"])
    report.to_csv(paths["summary_csv"])
    if plot:
        paths["plot"] = report.plot(d / PLOT_FILE)
    return paths


def load_report(out_dir: str | Path, confidence: float = 0.95) -> Report:
    """The report of a stored run (``run.json`` + ``results.jsonl``), e.g. of an interrupted one."""
    d = Path(out_dir)
    run_file = d / RUN_FILE
    if not run_file.exists():
        raise FileNotFoundError(f"{d} holds no {RUN_FILE}: not a chainlab compare run directory.")
    settings = json.loads(run_file.read_text(encoding="utf-8")).get("settings", {})
    names = list(settings.get("strategies") or {}) or None
    records = ResultStore(d).records()
    meta = {"task": settings.get("task"), "seed": settings.get("seed"), "out_dir": str(d)}
    meta["n_problems"] = (settings.get("problems") or {}).get("n")
    return Report.from_records(records, names, None, confidence=confidence, meta=meta)
