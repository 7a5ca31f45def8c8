"""A progress bar per strategy with the running accuracy (tqdm, on stderr)."""

from __future__ import annotations

from typing import Any

__all__ = ["StrategyProgress"]


class StrategyProgress:
    """Counts done problems and correct answers of one strategy; draws a tqdm bar if enabled.

    Use as a context manager; :meth:`update` after each chunk.
    """

    def __init__(
        self, name: str, total: int, done: int = 0, correct: int = 0, scored: int = 0,
        enabled: bool = True,
    ) -> None:  # fmt: skip
        self.name = name
        self.total = total
        self.done = done
        self.correct = correct
        self.scored = scored
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=done, desc=name, unit="pb", leave=True)
            self._bar.set_postfix_str(self.postfix(), refresh=False)

    @property
    def accuracy(self) -> float | None:
        """Running accuracy over the scored problems so far."""
        return self.correct / self.scored if self.scored else None

    def postfix(self) -> str:
        """``acc=45.0% (9/20)``."""
        acc = self.accuracy
        return "acc=—" if acc is None else f"acc={100 * acc:.1f}% ({self.correct}/{self.scored})"

    def update(self, records: list[dict[str, Any]]) -> None:
        """Count the records of a finished chunk."""
        self.done += len(records)
        for r in records:
            if r.get("correct") is not None:
                self.scored += 1
                self.correct += bool(r["correct"])
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix(), refresh=False)
            self._bar.update(len(records))

    def __enter__(self) -> StrategyProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.close()
