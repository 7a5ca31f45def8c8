"""Errors raised by chainlab strategies."""

from __future__ import annotations

from typing import Any

__all__ = ["StrategyError"]


class StrategyError(RuntimeError):
    """The LLM failed in the middle of a strategy run.

    Attributes:
        trace: the partial :class:`~chainlab.chains.trace.Trace` of the problem (a list of traces
            when the failing run was a batch of several problems).
        traces: always the list of partial traces, one per problem.
        stage: the stage whose LLM call failed.
        usage: LLM usage up to the failure, when known.
    """

    def __init__(
        self,
        message: str,
        traces: list[Any] | None = None,
        stage: str | None = None,
        usage: Any = None,
    ) -> None:
        super().__init__(message)
        self.traces = list(traces or [])
        self.trace = self.traces[0] if len(self.traces) == 1 else self.traces
        self.stage = stage
        self.usage = usage
