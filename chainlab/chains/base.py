"""The :class:`Strategy` base class: a LangChain Runnable from problem dicts to results.

A strategy's ``invoke(problem)`` returns a :class:`~chainlab.chains.result.StrategyResult`;
``batch(problems)`` runs all problems together so that each stage sends every problem's prompts in
one LLM call. All per-run state lives in a fresh :class:`Run` object, never on the strategy, so one
strategy instance can be reused and called concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForChainRun
from langchain_core.prompt_values import ChatPromptValue, PromptValue
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, field_validator, model_validator

from chainlab.chains.errors import StrategyError
from chainlab.chains.llm_calls import SamplingParams, complete
from chainlab.chains.result import Candidate, StrategyResult
from chainlab.chains.trace import Trace
from chainlab.llms.usage import Usage, track_usage
from chainlab.prompts.chat_format import llama2_prompt_from_messages
from chainlab.tasks.base import QuestionAnswerTask, Task
from chainlab.tasks.registry import get_task

__all__ = [
    "Strategy",
    "Run",
    "Outcome",
    "PromptSpec",
    "render_prompt",
    "check_positive",
    "split_usage",
]

#: a custom prompt: a LangChain prompt template (formatted with the problem's keys) or a function
PromptSpec = BasePromptTemplate | Callable[[dict[str, Any]], str]


def render_prompt(prompt: PromptSpec, inputs: dict[str, Any]) -> str:
    """The prompt string for ``inputs``; chat prompts are rendered in the Llama-2 chat format."""
    if isinstance(prompt, BasePromptTemplate):
        names = set(prompt.input_variables) | set(getattr(prompt, "optional_variables", []) or [])
        value: PromptValue = prompt.invoke({k: v for k, v in inputs.items() if k in names})
        if isinstance(value, ChatPromptValue):
            return llama2_prompt_from_messages(value)
        return value.to_string()
    if callable(prompt):
        return str(prompt(inputs))
    raise TypeError(
        f"A prompt must be a PromptTemplate or a callable, not {type(prompt).__name__}."
    )


def check_positive(**params: int | None) -> None:
    """ValueError naming every parameter that is below 1."""
    bad = [f"{k}={v}" for k, v in params.items() if v is not None and v < 1]
    if bad:
        raise ValueError(f"Invalid parameter(s): {', '.join(bad)} (each must be >= 1).")


def split_usage(usage: Usage, n: int) -> list[Usage]:
    """``usage`` split evenly into ``n`` parts whose integer fields sum exactly to the total."""
    if n <= 1:
        return [usage]
    parts = [dict() for _ in range(n)]
    for f in fields(usage):
        total = getattr(usage, f.name)
        if isinstance(total, int):
            base, rem = divmod(total, n)
            for i in range(n):
                parts[i][f.name] = base + (1 if i < rem else 0)
        else:
            for i in range(n):
                parts[i][f.name] = total / n
    return [replace(usage, **p) for p in parts]


@dataclass
class Outcome:
    """What a strategy decides for one problem (turned into a StrategyResult by the base class)."""

    answer: str | None
    candidates: list[Candidate] = field(default_factory=list)
    confidence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Fresh state of one ``invoke``/``batch``: the problems, their traces, and the LLM call count."""

    problems: list[dict[str, Any]]
    traces: list[Trace]
    callbacks: Any = None
    calls: int = 0
    usage: Usage | None = None

    def complete(
        self, llm: Any, prompts: Sequence[str], params: SamplingParams, stage: str
    ) -> tuple[list[list[str]], int | None]:
        """One batched LLM call; returns (completions per prompt, call index).

        Raises:
            StrategyError: the LLM raised; the error is recorded in every trace first.
        """
        if not prompts:
            return [], None
        return self._call(stage, lambda: complete(llm, prompts, params, callbacks=self.callbacks))

    def loglikelihood(
        self, llm: Any, pairs: Sequence[tuple[str, str]], stage: str
    ) -> tuple[list[Any], int | None]:
        """One batched ``llm.loglikelihood`` call over (prompt, continuation) pairs; returns
        (one ``Likelihood`` per pair, call index).

        Raises:
            StrategyError: the LLM raised; the error is recorded in every trace first.
        """
        if not pairs:
            return [], None
        return self._call(stage, lambda: llm.loglikelihood(list(pairs), callbacks=self.callbacks))

    def _call(self, stage: str, fn: Callable[[], Any]) -> tuple[Any, int]:
        index = self.calls
        self.calls += 1
        try:
            return fn(), index
        except Exception as exc:
            for trace in self.traces:
                trace.add(
                    "error", call=index, failed_stage=stage, error=f"{type(exc).__name__}: {exc}"
                )
            raise StrategyError(
                f"The LLM failed during stage {stage!r} (call {index}): {type(exc).__name__}: {exc}",
                traces=self.traces,
                stage=stage,
                usage=self.usage,
            ) from exc


class Strategy(RunnableSerializable[Any, StrategyResult]):
    """Base class of chainlab strategies (Runnables from a problem dict to a StrategyResult).

    Attributes:
        llm: any LangChain LLM (``BaseLLM``), chat model or Runnable from a string.
        task: a :class:`~chainlab.tasks.base.Task` or its registry name (default: a free-text QA
            task reading ``question``/``answer``).
        max_new_tokens: completion length limit (passed to LLMs that take it, like LocalLLM).
            When not given, the task's ``completion_lengths[length_key]`` is used if it has one
            (Game of 24: 48 for ``direct``, 100 for ``cot``), else 256.
        stop: stop sequences.
        seed: sampling seed (passed to LLMs that take it).
        top_k: when sampling, keep only the ``top_k`` most likely tokens (LLMs that take it).
        top_p: when sampling, keep the smallest token set of probability ``top_p`` (nucleus).
    """

    llm: Any = None
    task: Any = None
    max_new_tokens: int | None = 256
    stop: list[str] | None = None
    seed: int | None = None
    top_k: int | None = None
    top_p: float | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    #: key of the task's ``completion_lengths`` giving this strategy's default ``max_new_tokens``
    length_key: ClassVar[str | None] = None

    @field_validator("task", mode="before")
    @classmethod
    def _resolve_task(cls, value: Any) -> Task:
        if value is None:
            return QuestionAnswerTask()
        return get_task(value)

    @model_validator(mode="after")
    def _task_completion_length(self) -> Strategy:
        # a length the task asks for replaces the generic default, never a length the user gave
        if self.length_key is None or "max_new_tokens" in self.model_fields_set:
            return self
        hint = (getattr(self.task, "completion_lengths", None) or {}).get(self.length_key)
        if hint is not None:
            self.__dict__["max_new_tokens"] = int(hint)  # keeps model_fields_set as the user's
        return self

    # ------------------------------------------------------------------ Runnable API
    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> StrategyResult:
        """Run the strategy on one problem (a dict, or a string for the task's default key)."""
        return self._call_with_config(self._invoke_one, input, config, run_type="chain")

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[StrategyResult]:
        """Run several problems together: each stage batches all problems' prompts in one call."""
        if not inputs:
            return []
        cfg = config[0] if isinstance(config, list) else config
        try:
            return self._call_with_config(self._invoke_many, list(inputs), cfg, run_type="chain")
        except Exception as exc:
            if return_exceptions:
                return [exc] * len(inputs)
            raise

    def _invoke_one(self, input: Any, run_manager: CallbackManagerForChainRun) -> StrategyResult:
        return self._execute([input], run_manager)[0]

    def _invoke_many(
        self, inputs: list[Any], run_manager: CallbackManagerForChainRun
    ) -> list[StrategyResult]:
        return self._execute(inputs, run_manager)

    def _execute(
        self, inputs: list[Any], run_manager: CallbackManagerForChainRun | None
    ) -> list[StrategyResult]:
        self.validate_params()
        problems = [self.task.make_problem(x) for x in inputs]
        run = Run(problems, [Trace() for _ in problems])
        run.callbacks = run_manager.get_child() if run_manager is not None else None
        with track_usage() as usage:
            run.usage = usage
            outcomes = self._run(run)
        shares = split_usage(usage, len(problems))
        results = []
        for problem, trace, outcome, share in zip(
            problems, run.traces, outcomes, shares, strict=True
        ):
            results.append(
                StrategyResult(
                    answer=outcome.answer,
                    candidates=outcome.candidates,
                    trace=trace,
                    usage=share,
                    problem=problem,
                    confidence=outcome.confidence,
                    correct=self._correct(problem, outcome.answer),
                    strategy=self.get_name(),
                    extra={"llm_calls": run.calls, "batch_size": len(problems), **outcome.extra},
                )
            )
        return results

    def _correct(self, problem: dict[str, Any], answer: str | None) -> bool | None:
        if self.task.gold(problem) is None and not getattr(self.task, "checks_answers", False):
            return None
        return self.task.score(problem, answer)

    # ------------------------------------------------------------------ subclass API
    def validate_params(self) -> None:
        """Raise ValueError for invalid parameters (called before every run)."""
        if self.llm is None:
            raise ValueError(f"{type(self).__name__} needs an llm.")
        self.check_truncation()

    def check_truncation(self) -> None:
        """Raise ValueError for an invalid ``top_k`` or ``top_p``."""
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 disables it), got top_k={self.top_k}.")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got top_p={self.top_p}.")

    def _run(self, run: Run) -> list[Outcome]:
        """Decide every problem of ``run`` (one Outcome per problem, in order)."""
        raise NotImplementedError

    def params(
        self,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> SamplingParams:
        """Sampling settings with this strategy's stop/seed/length/truncation defaults."""
        return SamplingParams(
            n=n,
            temperature=temperature,
            max_new_tokens=max_new_tokens if max_new_tokens is not None else self.max_new_tokens,
            stop=self.stop,
            seed=self.seed,
            top_k=top_k if top_k is not None else self.top_k,
            top_p=top_p if top_p is not None else self.top_p,
        )
