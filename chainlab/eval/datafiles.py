"""Validating readers of benchmark files: every bad record is reported with its line and field.

* Game of 24 ``24.csv`` (columns ``Rank``, ``Puzzles``...): ``Puzzles`` must be 4 integers;
* JSONL (GSM8K ``test.jsonl``, custom tasks): one JSON object per line with the question and answer
  fields;
* SVAMP ``SVAMP.json``: a JSON array of objects with ``Body``, ``Question`` and ``Answer``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainlab.tasks.answers import normalize_number

__all__ = ["DataFileError", "read_game24_csv", "read_qa_jsonl", "read_svamp_json"]


class DataFileError(ValueError):
    """A data file is malformed (the message names the file, line/record and field)."""


def read_game24_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a Game of 24 CSV as problems ``{"id": data index, "numbers", "question", "rank"}``."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise DataFileError(f"{path}: empty file (expected a header with a 'Puzzles' column).")
        if "Puzzles" not in reader.fieldnames:
            raise DataFileError(
                f"{path}:1: missing field 'Puzzles' in the header (found: {', '.join(reader.fieldnames)})."
            )
        out = []
        for i, row in enumerate(reader):
            line = reader.line_num
            raw = (row.get("Puzzles") or "").strip()
            if not raw:
                raise DataFileError(f"{path}:{line}: missing field 'Puzzles'.")
            parts = raw.split()
            if len(parts) != 4 or not all(p.isdigit() for p in parts):
                raise DataFileError(
                    f"{path}:{line}: field 'Puzzles' must be 4 integers like '4 5 6 10', got {raw!r}."
                )
            rank = (row.get("Rank") or "").strip()
            out.append(
                {
                    "id": i,
                    "rank": int(rank) if rank.isdigit() else None,
                    "numbers": " ".join(parts),
                    "question": " ".join(parts),
                }
            )
    return out


def read_qa_jsonl(
    path: str | Path,
    question_field: str = "question",
    answer_field: str = "answer",
    gold: Callable[[Any], Any] | None = None,
) -> list[dict[str, Any]]:
    """Problems of a JSONL file: ``{**record, "id", "question", "answer"}`` (blank lines skipped).

    ``id`` is the record's own ``id`` when it has one, else its 0-based record index; ``gold`` maps
    the answer field to the gold answer (GSM8K: the text after ``####``).
    """
    path = Path(path)
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise DataFileError(f"{path}:{line_no}: not valid JSON ({exc}).") from None
            if not isinstance(rec, dict):
                raise DataFileError(
                    f"{path}:{line_no}: expected a JSON object, got {type(rec).__name__}."
                )
            for name in (question_field, answer_field):
                if name not in rec or rec[name] is None or str(rec[name]).strip() == "":
                    raise DataFileError(
                        f"{path}:{line_no}: missing field {name!r} (the record has: "
                        f"{', '.join(sorted(rec)) or 'no fields'})."
                    )
            index = len(out)
            answer = gold(rec[answer_field]) if gold is not None else rec[answer_field]
            out.append(
                {
                    **rec,
                    "id": rec.get("id", index),
                    "question": str(rec[question_field]),
                    "answer": answer,
                }
            )
    return out


def read_svamp_json(path: str | Path) -> list[dict[str, Any]]:
    """Problems of ``SVAMP.json``: ``id``, ``question`` (Body + Question), ``answer``, ``type``."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataFileError(f"{path}: not valid JSON ({exc}).") from None
    if not isinstance(records, list):
        raise DataFileError(f"{path}: expected a JSON array of problems.")
    out = []
    for i, rec in enumerate(records):
        where = f"{path}: record {i}" + (f" (ID {rec.get('ID')})" if isinstance(rec, dict) else "")
        if not isinstance(rec, dict):
            raise DataFileError(f"{where}: expected a JSON object.")
        for name in ("Body", "Question", "Answer"):
            if rec.get(name) is None:
                raise DataFileError(f"{where}: missing field {name!r}.")
        out.append(
            {
                "id": rec.get("ID", i),
                "question": f"{str(rec['Body']).strip()} {str(rec['Question']).strip()}",
                "answer": normalize_number(rec["Answer"]),
                "equation": rec.get("Equation"),
                "type": rec.get("Type"),
            }
        )
    return out
