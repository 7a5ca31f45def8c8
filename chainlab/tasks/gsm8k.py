"""GSM8K (Cobbe et al., 2021): grade-school math word problems, answers after ``#### ``."""

from __future__ import annotations

import json
import os
from typing import Any

from chainlab.tasks.base import QuestionAnswerTask
from chainlab.tasks.data import data_path

__all__ = ["GSM8KTask", "gold_from_solution"]

SPLITS = ("test", "train")


def gold_from_solution(solution: str) -> str:
    """The final answer of a GSM8K solution: text after the last ``#### ``, commas removed."""
    return solution.split("####")[-1].strip().replace(",", "")


class GSM8KTask(QuestionAnswerTask):
    """GSM8K with numeric matching (``1,450`` == ``1450``, ``18.0`` == ``18``)."""

    def __init__(self, data_root: str | os.PathLike[str] | None = None, system: str | None = None):
        super().__init__(matcher="numeric", name="gsm8k", system=system)
        self.data_root = data_root

    def load(self, split: str | None = "test", limit: int | None = None) -> list[dict[str, Any]]:
        """Problems of ``split`` (``test`` or ``train``): ``id``, ``question``, ``answer``, ``solution``."""
        split = split or "test"
        if split not in SPLITS:
            raise ValueError(f"GSM8K split must be one of {SPLITS}, got {split!r}.")
        path = data_path("gsm8k", f"{split}.jsonl", data_root=self.data_root)
        out: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if limit is not None and len(out) >= limit:
                    break
                if not line.strip():
                    continue
                rec = json.loads(line)
                out.append(
                    {
                        "id": i,
                        "question": rec["question"],
                        "answer": gold_from_solution(rec["answer"]),
                        "solution": rec["answer"],
                    }
                )
        return out
