"""The synthetic multi-step arithmetic word problems of :mod:`chainlab.tasks.arith` as a task.

:mod:`chainlab.tasks.arith` (the generator) is imported lazily, on :meth:`ArithTask.load`; prompts
are those of :mod:`chainlab.prompts.arith` (``direct``, ``steps``, ``verify``), which the
``chainlab-tiny-arith`` adapter is trained on.
"""

from __future__ import annotations

import importlib
from typing import Any

from chainlab.tasks.base import QuestionAnswerTask

__all__ = ["ArithTask"]


class ArithTask(QuestionAnswerTask):
    """Synthetic arithmetic problems, numeric matching.

    Args:
        n: number of problems to generate (``load(limit=...)`` can ask for fewer).
        seed: generator seed.
        **generator_kwargs: passed to the generator of :mod:`chainlab.tasks.arith`.
    """

    def __init__(self, n: int = 100, seed: int = 0, **generator_kwargs: Any) -> None:
        super().__init__(matcher="numeric", name="arith")
        self.n = n
        self.seed = seed
        self.generator_kwargs = generator_kwargs

    def load(self, split: str | None = "test", limit: int | None = None) -> list[dict[str, Any]]:
        """Generate ``limit or n`` problems of ``split`` (``test`` or ``train``) with ``generate_problems``."""
        arith = importlib.import_module("chainlab.tasks.arith")
        count = limit if limit is not None else self.n
        items = arith.generate_problems(
            count, self.seed, split=split or "test", **self.generator_kwargs
        )
        return [self._problem(i, _as_dict(item)) for i, item in enumerate(items)]

    def direct_prompt(self, problem: dict[str, Any]) -> str:
        from chainlab.prompts.arith import direct_prompt

        return direct_prompt(self.question(problem))

    def cot_prompt(self, problem: dict[str, Any]) -> str | None:
        from chainlab.prompts.arith import steps_prompt

        return steps_prompt(self.question(problem))

    def judge_prompt(self, problem: dict[str, Any], answer: str, solution: str = "") -> str:
        from chainlab.prompts.arith import verify_prompt

        return verify_prompt(self.question(problem), solution.strip() or f"Answer: {answer}")

    def parse_judge(self, text: str) -> bool | None:
        from chainlab.prompts.arith import parse_verdict

        return parse_verdict(text)


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "to_dict"):
        return dict(item.to_dict())
    if hasattr(item, "_asdict"):
        return dict(item._asdict())
    if hasattr(item, "__dataclass_fields__"):
        return {k: getattr(item, k) for k in item.__dataclass_fields__}
    return dict(vars(item))
