"""Custom JSONL tasks: one JSON object per line, a question field, an answer field and a matcher."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chainlab.tasks.base import QuestionAnswerTask

__all__ = ["JsonlTask", "read_jsonl"]


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (blank lines skipped); ValueError names a bad line."""
    out: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}).") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}.")
            out.append(rec)
    return out


class JsonlTask(QuestionAnswerTask):
    """Problems from a JSONL file.

    Args:
        path: the JSONL file.
        question_field / answer_field: keys of the question and the gold answer.
        matcher: ``exact``, ``numeric`` or ``regex`` (see :class:`QuestionAnswerTask`).
        name: registry name (default: the file stem).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        question_field: str = "question",
        answer_field: str = "answer",
        matcher: str = "exact",
        name: str | None = None,
        system: str | None = None,
    ) -> None:
        super().__init__(
            records=None,
            question_field=question_field,
            answer_field=answer_field,
            matcher=matcher,
            name=name or Path(path).stem,
            system=system,
        )
        self.path = Path(path)

    def load(self, split: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The file's records as problem dicts (``split`` is ignored)."""
        out = [self._problem(i, r) for i, r in enumerate(read_jsonl(self.path))]
        return out[:limit] if limit is not None else out
