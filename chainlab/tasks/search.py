"""The task protocol of Tree-of-Thoughts search (:mod:`chainlab.chains.tot_search`).

A :class:`SearchTask` says how to grow and judge partial solutions ("states") of one problem; the
search strategy owns the control flow (BFS/DFS, batching, caching, tracing). States must be
immutable; :meth:`SearchTask.state_key` identifies duplicates.

Mirrors the task interface of princeton-nlp/tree-of-thought-llm (``propose_prompt_wrap``,
``value_prompt_wrap``, ``value_outputs_unwrap``, ``vote_prompt_wrap``, ...), one state at a time.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchTask", "Expansion", "ValueReading"]


@dataclass
class Expansion:
    """Children parsed from one generation, and what could not be parsed."""

    children: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ValueReading:
    """One evaluation output: its numeric value (None = unparsable) and the label read."""

    value: float | None
    label: str | None = None


class SearchTask:
    """Base class of a Tree-of-Thoughts search task. Override the methods marked *required*."""

    #: default number of tree levels (Game of 24: 3 steps + the answer line)
    steps: int = 1

    # -------------------------------------------------------------- states (required)
    def root(self, problem: dict[str, Any]) -> Any:
        """The start state of ``problem`` (required)."""
        raise NotImplementedError

    def state_key(self, state: Any) -> Hashable:
        """Identity of a state, for de-duplication (default: the state itself)."""
        return state

    def describe(self, state: Any) -> str:
        """Human-readable text of a state, for the trace."""
        return str(state)

    def is_final(self, problem: dict[str, Any], state: Any) -> bool:
        """Whether ``state`` is a complete solution (required)."""
        raise NotImplementedError

    def answer(self, problem: dict[str, Any], state: Any) -> str | None:
        """The answer of a final state (None when it has none)."""
        return None

    def score(self, problem: dict[str, Any], answer: str | None) -> bool:
        """Whether ``answer`` solves ``problem``."""
        return False

    # -------------------------------------------------------------- generation
    def static_expansion(self, problem: dict[str, Any], state: Any) -> Expansion | None:
        """Children of ``state`` computed without the LLM, or None (default) to expand it with
        the LLM (:meth:`propose_prompt` / :meth:`sample_prompt`).

        The search asks this first, for every state it expands, in either generation mode; a
        non-None result is traced as a ``compose`` event and no prompt is sent for that state.
        :class:`~chainlab.tasks.game24.Game24SearchTask` (``compose_answer=True``) uses it to
        write the answer of a state that reached 24 from its validated steps.
        """
        return None

    def max_new_tokens(self, stage: str, problem: dict[str, Any], state: Any) -> int | None:
        """Completion length the prompt of ``stage`` for ``state`` needs; None = no opinion.

        ``stage`` is ``propose``, ``sample``, ``value`` or ``vote``. The search sends each batched
        call with the largest length its prompts need, unless the strategy sets
        ``max_new_tokens`` (generation) or ``value_max_new_tokens`` (value/vote) itself.
        """
        return None

    def propose_prompt(self, problem: dict[str, Any], state: Any) -> str | None:
        """Prompt asking for the next thoughts of ``state``; None = do not expand (dead end)."""
        raise NotImplementedError(f"{type(self).__name__} does not support propose generation.")

    def parse_proposals(self, problem: dict[str, Any], state: Any, text: str) -> Expansion:
        """Children of ``state`` from a propose completion."""
        raise NotImplementedError(f"{type(self).__name__} does not support propose generation.")

    def sample_prompt(self, problem: dict[str, Any], state: Any) -> str | None:
        """Prompt sampled ``n_generate_sample`` times for the next thought (``sample`` mode)."""
        raise NotImplementedError(f"{type(self).__name__} does not support sample generation.")

    def parse_sample(self, problem: dict[str, Any], state: Any, text: str) -> Expansion:
        """The child of ``state`` in one sampled completion (usually one or none)."""
        raise NotImplementedError(f"{type(self).__name__} does not support sample generation.")

    # -------------------------------------------------------------- evaluation
    def value_prompt(self, problem: dict[str, Any], state: Any) -> str | None:
        """Prompt asking how promising ``state`` is; None = use :meth:`static_value`."""
        raise NotImplementedError(f"{type(self).__name__} does not support value evaluation.")

    def parse_value(self, problem: dict[str, Any], state: Any, text: str) -> ValueReading:
        """Read one value completion."""
        raise NotImplementedError(f"{type(self).__name__} does not support value evaluation.")

    def static_value(self, problem: dict[str, Any], state: Any, n_evaluate_sample: int) -> float:
        """Value of a state whose :meth:`value_prompt` is None (no LLM call)."""
        return 0.0

    def vote_prompt(self, problem: dict[str, Any], states: Sequence[Any]) -> str:
        """Prompt asking which of ``states`` is most promising (``vote`` evaluation)."""
        raise NotImplementedError(f"{type(self).__name__} does not support vote evaluation.")

    def parse_vote(self, problem: dict[str, Any], states: Sequence[Any], text: str) -> int | None:
        """Index (0-based) of the state a vote completion chose, None when unparsable."""
        raise NotImplementedError(f"{type(self).__name__} does not support vote evaluation.")
