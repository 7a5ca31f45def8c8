"""The run directory: ``results.jsonl`` (append-only, crash-tolerant) and ``run.json`` (settings).

* Each chunk's lines are written, flushed and fsync'ed together, so a killed run loses at most the
  chunk in flight.
* Reading tolerates a truncated or corrupted *last* line (a crash in the middle of a write): it is
  skipped with a warning, and :meth:`ResultStore.repair` cuts it off before new lines are appended,
  so its problem is simply run again. A corrupted line anywhere else is an error.
* Duplicate ``(problem_id, strategy)`` lines are never written; if a file holds some anyway, the
  first one counts (with a warning).
* ``run.json`` holds the settings of the run; :func:`check_settings` refuses a directory holding a
  run with different settings unless it is overwritten.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from chainlab.eval.records import record_key

__all__ = [
    "RESULTS_FILE",
    "RUN_FILE",
    "ResultStore",
    "RunDirError",
    "SettingsMismatchError",
    "ResultsFileError",
    "check_settings",
    "settings_diff",
]

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
#: outputs that ``overwrite`` removes besides the results
OUTPUT_FILES = ("summary.json", "summary.csv", "accuracy_vs_cost.png")


class RunDirError(ValueError):
    """The output directory cannot be used as asked."""


class SettingsMismatchError(RunDirError):
    """The directory holds a run with different settings."""


class ResultsFileError(ValueError):
    """``results.jsonl`` is corrupted somewhere other than its last line."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


class ResultStore:
    """The records of ``DIR/results.jsonl`` (or in memory when ``directory`` is None)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._memory: list[dict[str, Any]] = []

    @property
    def path(self) -> Path | None:
        """The results file (None in memory)."""
        return self.directory / RESULTS_FILE if self.directory is not None else None

    # ------------------------------------------------------------------ reading
    def _scan(self) -> tuple[list[dict[str, Any]], int, bool]:
        """(records, byte offset after the last good line, whether that line lacks its newline)."""
        if self.path is None or not self.path.exists():
            return [], 0, False
        data = self.path.read_bytes()
        records: list[dict[str, Any]] = []
        good_end = 0
        missing_newline = False
        pos = 0
        lineno = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl + 1
            raw = data[pos:end]
            lineno += 1
            is_last = end >= len(data)
            if raw.strip():
                try:
                    rec = json.loads(raw.decode("utf-8"))
                    if not isinstance(rec, dict):
                        raise ValueError("not a JSON object")
                    record_key(rec)
                except (ValueError, KeyError, UnicodeDecodeError) as exc:
                    if is_last:
                        warnings.warn(
                            f"{self.path}:{lineno}: skipping a truncated/corrupted last line "
                            f"({type(exc).__name__}); its problem will be run again.",
                            stacklevel=3,
                        )
                        break
                    raise ResultsFileError(
                        f"{self.path}:{lineno}: corrupted result line ({exc}). Fix or delete the "
                        f"line, or start over with --overwrite."
                    ) from None
                records.append(rec)
                missing_newline = nl < 0
            good_end = end
            pos = end
        return records, good_end, missing_newline

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, first occurrence of each (problem_id, strategy), in file order."""
        raw = list(self._memory) if self.path is None else self._scan()[0]
        seen: set[tuple[str, str]] = set()
        out = []
        for rec in raw:
            key = record_key(rec)
            if key in seen:
                warnings.warn(
                    f"duplicate result for problem {key[0]!r}, strategy {key[1]!r}: "
                    f"keeping the first",
                    stacklevel=2,
                )
                continue
            seen.add(key)
            out.append(rec)
        return out

    def done(self) -> set[tuple[str, str]]:
        """The (problem_id, strategy) pairs already stored."""
        return {record_key(r) for r in self.records()}

    # ------------------------------------------------------------------ writing
    def repair(self) -> None:
        """Cut a truncated last line off the file and end it with a newline, before appending."""
        if self.path is None or not self.path.exists():
            return
        _, good_end, missing_newline = self._scan()
        size = self.path.stat().st_size
        if good_end < size:
            with self.path.open("r+b") as fh:
                fh.truncate(good_end)
        if missing_newline:
            with self.path.open("ab") as fh:
                fh.write(b"\n")

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` as lines, flushed and fsync'ed before returning."""
        if not records:
            return
        if self.path is None:
            self._memory.extend(records)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(_dumps(r) + "\n" for r in records)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        """Delete the results (and the derived summary files)."""
        self._memory.clear()
        if self.directory is None:
            return
        for name in (RESULTS_FILE, *OUTPUT_FILES):
            (self.directory / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------- settings


def _normalize(obj: Any) -> Any:
    """JSON round trip, so tuples/ints-as-keys compare like what run.json holds."""
    return json.loads(_dumps(obj))


def settings_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two settings dicts (top-level keys)."""
    old, new = _normalize(old), _normalize(new)
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            a, b = _dumps(old.get(key)), _dumps(new.get(key))
            if len(a) > 80:
                a = a[:77] + "..."
            if len(b) > 80:
                b = b[:77] + "..."
            out.append(f"{key}: {a} (stored) != {b} (now)")
    return out


def check_settings(
    directory: str | os.PathLike[str],
    settings: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
) -> int:
    """Prepare ``directory`` for a run with ``settings``; returns the number of stored records.

    * empty/new directory: writes ``run.json``;
    * ``overwrite``: deletes earlier results and writes ``run.json``;
    * same settings: continues when ``resume`` (or when nothing is stored yet), else refuses;
    * different settings: refuses (SettingsMismatchError naming the differences), unless no
      result is stored yet (then the new settings replace the old).

    Raises:
        RunDirError: the directory holds results and neither ``resume`` nor ``overwrite`` is set.
        SettingsMismatchError: the stored run has other settings and ``overwrite`` is not set.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise RunDirError(f"The output path {d} is a file, not a directory.")
    d.mkdir(parents=True, exist_ok=True)
    run_file = d / RUN_FILE
    store = ResultStore(d)
    if overwrite:
        store.clear()
        run_file.unlink(missing_ok=True)
    has_results = store.path is not None and store.path.exists() and store.path.stat().st_size > 0
    if run_file.exists():
        try:
            stored = json.loads(run_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RunDirError(
                f"{run_file} is not valid JSON ({exc}); use --overwrite to start over."
            ) from None
        diff = settings_diff(stored.get("settings", stored), settings)
        if diff and not has_results:  # nothing stored yet: the new settings simply replace it
            run_file.unlink()
        elif diff:
            raise SettingsMismatchError(
                f"{d} holds a run with different settings:\n  "
                + "\n  ".join(diff)
                + "\nUse another --out directory, or --overwrite to delete that run."
            )
    elif has_results:
        raise RunDirError(
            f"{d} holds {RESULTS_FILE} but no {RUN_FILE}: it is not a chainlab compare run "
            f"directory (or run.json was deleted). Use --overwrite to start over."
        )
    n = len(store.records()) if has_results else 0
    if n and not resume:
        raise RunDirError(
            f"{d} already holds {n} result(s) of this run. Add --resume to continue it, or "
            f"--overwrite to start over."
        )
    if not run_file.exists():
        tmp = run_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"settings": _normalize(settings)}, indent=2) + "\n", "utf-8")
        os.replace(tmp, run_file)
    return n
