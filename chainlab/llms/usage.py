"""Count LLM calls, sequences, tokens and time of LangChain LLM runs.

>>> from chainlab.llms.usage import track_usage
>>> with track_usage() as usage:          # doctest: +SKIP
...     chain.invoke({"question": "..."})
>>> usage.calls, usage.completion_tokens   # doctest: +SKIP

Works with any LangChain LLM or chat model: calls, prompts, sequences and time are always
counted; tokens come from ``llm_output["token_usage"]`` (as :class:`~chainlab.llms.LocalLLM`
reports them) and are 0 for models that report none (e.g. langchain_core's fake LLMs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, fields
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import register_configure_hook

__all__ = ["Usage", "UsageCallback", "track_usage"]


@dataclass
class Usage:
    """Totals of LLM work: LangChain LLM runs, prompts, generated sequences, tokens, seconds.

    ``calls`` counts LangChain LLM runs (one per prompt: ``llm.batch`` of 4 prompts is 4 calls);
    ``seconds`` is wall-clock time during which at least one LLM run was in flight.
    """

    calls: int = 0
    prompts: int = 0
    sequences: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict (plus ``total_tokens``), e.g. for JSON reports."""
        d = asdict(self)
        d["total_tokens"] = self.total_tokens
        return d


class UsageCallback(BaseCallbackHandler):
    """A thread-safe callback handler accumulating :class:`Usage` over LLM runs.

    Pass it in ``config={"callbacks": [cb]}`` or use :func:`track_usage`. ``parents`` are other
    callbacks that receive the same counts (used for nested ``track_usage`` blocks).
    """

    run_inline = True  # keep start/end ordering in async code

    def __init__(self, parents: list[UsageCallback] | None = None) -> None:
        super().__init__()
        self.usage = Usage()
        self._parents = list(parents or [])
        self._lock = threading.Lock()
        self._active: set[UUID] = set()
        self._busy_since: float | None = None

    def __repr__(self) -> str:
        return f"UsageCallback({self.usage})"

    # --- LangChain events ------------------------------------------------------------------
    def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """One LLM call starts (chat models are routed here by LangChain too)."""
        self._start(run_id, prompts=len(prompts))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Add sequences and tokens of a finished call."""
        sequences = sum(len(g) for g in response.generations)
        prompt_tokens, completion_tokens = _tokens(response)
        self._finish(run_id, sequences, prompt_tokens, completion_tokens)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A failed call still counts as a call and its time."""
        self._finish(run_id, 0, 0, 0)

    # --- bookkeeping (deduplicated by run id: a run reaching us twice counts once) ---------
    def _start(self, run_id: UUID, prompts: int) -> None:
        with self._lock:
            if run_id in self._active:
                return
            self.usage.calls += 1
            self.usage.prompts += prompts
            if not self._active:
                self._busy_since = time.perf_counter()
            self._active.add(run_id)
        for p in self._parents:
            p._start(run_id, prompts)

    def _finish(
        self, run_id: UUID, sequences: int, prompt_tokens: int, completion_tokens: int
    ) -> None:
        with self._lock:
            if run_id not in self._active:
                return
            self._active.discard(run_id)
            self.usage.sequences += sequences
            self.usage.prompt_tokens += prompt_tokens
            self.usage.completion_tokens += completion_tokens
            if not self._active and self._busy_since is not None:
                self.usage.seconds += time.perf_counter() - self._busy_since
                self._busy_since = None
        for p in self._parents:
            p._finish(run_id, sequences, prompt_tokens, completion_tokens)


def _tokens(response: LLMResult) -> tuple[int, int]:
    """(prompt, completion) tokens of a result; 0, 0 when the model reports none."""
    usage = (response.llm_output or {}).get("token_usage") or {}
    if usage:
        return int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0)
    if response.llm_output is None:
        # Streaming runs end with llm_output=None; LocalLLM puts the counts on the last chunk.
        p = c = 0
        for gens in response.generations:
            for g in gens:
                tu = (g.generation_info or {}).get("token_usage") or {}
                p += int(tu.get("prompt_tokens", 0) or 0)
                c += int(tu.get("completion_tokens", 0) or 0)
        return p, c
    return 0, 0


_usage_callback_var: ContextVar[UsageCallback | None] = ContextVar(
    "chainlab_usage_callback", default=None
)
register_configure_hook(_usage_callback_var, inheritable=True)


@contextmanager
def track_usage() -> Iterator[Usage]:
    """Count every LangChain LLM call made inside the ``with`` block (same thread/context).

    Yields a :class:`Usage` updated in place. Nested blocks all count the inner calls.

    Example:
        >>> with track_usage() as usage:    # doctest: +SKIP
        ...     llm.invoke("2 + 2 =")
        >>> usage.calls                       # doctest: +SKIP
        1
    """
    outer = _usage_callback_var.get()
    cb = UsageCallback(parents=[outer] if outer is not None else None)
    token = _usage_callback_var.set(cb)
    try:
        yield cb.usage
    finally:
        _usage_callback_var.reset(token)
