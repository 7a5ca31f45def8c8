"""SVAMP (Patel et al., 2021): Body + Question; the gold ``Answer`` is a float."""

from __future__ import annotations

import json
import os
from typing import Any

from chainlab.tasks.answers import normalize_number
from chainlab.tasks.base import QuestionAnswerTask
from chainlab.tasks.data import data_path

__all__ = ["SVAMPTask", "svamp_question"]


def svamp_question(body: str, question: str) -> str:
    """The problem text: ``Body`` and ``Question`` joined by one space."""
    return f"{body.strip()} {question.strip()}"


class SVAMPTask(QuestionAnswerTask):
    """SVAMP with numeric matching (``51.0`` == ``51``)."""

    def __init__(self, data_root: str | os.PathLike[str] | None = None, system: str | None = None):
        super().__init__(matcher="numeric", name="svamp", system=system)
        self.data_root = data_root

    def load(self, split: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """All 1000 problems (SVAMP has one split): ``id``, ``question``, ``answer``, ``equation``, ``type``."""
        if split not in (None, "test", "all"):
            raise ValueError(f"SVAMP has a single split ('test'), got {split!r}.")
        path = data_path("svamp", "SVAMP.json", data_root=self.data_root)
        records = json.loads(path.read_text(encoding="utf-8"))
        out = [
            {
                "id": rec["ID"],
                "question": svamp_question(rec["Body"], rec["Question"]),
                "answer": normalize_number(rec["Answer"]),
                "equation": rec.get("Equation"),
                "type": rec.get("Type"),
            }
            for rec in records
        ]
        return out[:limit] if limit is not None else out
