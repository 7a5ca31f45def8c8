"""The 4-stage "Tree of Thoughts" prompt pipeline of the seed notebooks, as LCEL.

``problem, factors, num_solutions -> solutions -> evaluations -> enhanced_reasoning ->
ranked_solutions``: each stage is ``prompt | llm | StrOutputParser()`` assigned to its key with
``RunnablePassthrough.assign``. :meth:`TotSequential.as_lcel` is that pure chain (dict in, dict of all
keys out); invoking the strategy itself returns a StrategyResult (``answer`` = ranked solutions,
``extra`` = every key, a traced prompt/completion per stage). :meth:`TotSequential.as_sequential_chain`
builds the same pipeline with the classic API (``SequentialChain`` of ``LLMChain``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnablePassthrough

from chainlab.chains.base import Outcome, Run, Strategy
from chainlab.chains.errors import StrategyError
from chainlab.chains.result import Candidate
from chainlab.prompts.tot import TOT_OUTPUT_KEYS, tot_prompts

__all__ = ["TotSequential", "tot_sequential", "INPUT_KEYS", "OUTPUT_KEYS"]

INPUT_KEYS: tuple[str, str, str] = ("problem", "factors", "num_solutions")
OUTPUT_KEYS: tuple[str, ...] = TOT_OUTPUT_KEYS


class _StageRecorder(BaseCallbackHandler):
    """Collects (stage, prompt, completion) of LLM runs, the stage being the enclosing run name."""

    def __init__(self) -> None:
        self.names: dict[UUID, str] = {}
        self.parents: dict[UUID, UUID | None] = {}
        self.starts: dict[UUID, tuple[str, list[str]]] = {}
        self.records: list[tuple[str, str, str]] = []

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        self.names[run_id] = kw.get("name") or ""
        self.parents[run_id] = parent_run_id

    def _stage(self, run_id: UUID | None) -> str:
        while run_id is not None:
            name = self.names.get(run_id, "")
            if name in OUTPUT_KEYS:
                return name
            run_id = self.parents.get(run_id)
        return "llm"

    def on_llm_start(
        self,
        serialized: Any,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        self.starts[run_id] = (self._stage(parent_run_id), list(prompts))

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        self.starts[run_id] = (self._stage(parent_run_id), [str(m) for m in messages])

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        stage, prompts = self.starts.pop(run_id, ("llm", [""]))
        for prompt, gens in zip(prompts, response.generations, strict=False):
            self.records.append((stage, prompt, gens[0].text if gens else ""))


class TotSequential(Strategy):
    """The four-stage generate -> evaluate -> deepen -> rank pipeline.

    Attributes:
        prompts: four prompt templates, in stage order (default: :func:`chainlab.prompts.tot.tot_prompts`
            in the Llama-2 chat format), or a dict ``{output_key: template}``.
        factors / num_solutions: defaults for inputs that the problem dict does not give.
    """

    prompts: Any = None
    factors: str = "feasibility, cost, risks and expected outcomes"
    num_solutions: int = 3
    max_new_tokens: int | None = 512

    def validate_params(self) -> None:
        super().validate_params()
        self.templates()

    def templates(self) -> list[BasePromptTemplate]:
        """The four prompt templates in stage order."""
        if self.prompts is None:
            return [s.prompt for s in tot_prompts(llama2=True).stages]
        if isinstance(self.prompts, dict):
            missing = [k for k in OUTPUT_KEYS if k not in self.prompts]
            if missing:
                raise ValueError(
                    f"prompts lacks the stage(s) {missing}; give all of {list(OUTPUT_KEYS)}."
                )
            return [self.prompts[k] for k in OUTPUT_KEYS]
        prompts = list(self.prompts)
        if len(prompts) != 4:
            raise ValueError(f"prompts must hold 4 templates, got {len(prompts)}.")
        return prompts

    def _llm_runnable(self) -> Runnable:
        if self.max_new_tokens is not None and getattr(self.llm, "supports_n", False):
            return self.llm.bind(max_new_tokens=self.max_new_tokens)
        return self.llm

    def as_lcel(self) -> Runnable:
        """``RunnablePassthrough.assign(solutions=...).assign(evaluations=...)...``: dict -> dict."""
        llm = self._llm_runnable()
        chain: Runnable = RunnablePassthrough()
        for key, prompt in zip(OUTPUT_KEYS, self.templates(), strict=True):
            stage = (prompt | llm | StrOutputParser()).with_config(run_name=key)
            chain = chain | RunnablePassthrough.assign(**{key: stage})
        return chain.with_config(run_name="tot_sequential")

    def as_sequential_chain(self, verbose: bool = False) -> Any:
        """The classic ``SequentialChain`` of four ``LLMChain``s (inputs problem, factors, num_solutions)."""
        import warnings

        from langchain_classic.chains import LLMChain, SequentialChain

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chains = [
                LLMChain(llm=self.llm, prompt=prompt, output_key=key)
                for key, prompt in zip(OUTPUT_KEYS, self.templates(), strict=True)
            ]
        needed = sorted({v for c in chains for v in c.prompt.input_variables} - set(OUTPUT_KEYS))
        return SequentialChain(
            chains=chains,
            input_variables=needed,
            output_variables=list(OUTPUT_KEYS),
            verbose=verbose,
        )

    def inputs(self, problem: dict[str, Any]) -> dict[str, Any]:
        """The pipeline inputs of a problem (``problem`` falls back to the question)."""
        text = problem.get("problem")
        if text is None:
            text = self.task.question(problem)
        return {
            "problem": text,
            "factors": problem.get("factors", self.factors),
            "num_solutions": problem.get("num_solutions", self.num_solutions),
        }

    def _run(self, run: Run) -> list[Outcome]:
        recorders = [_StageRecorder() for _ in run.problems]
        configs: list[dict[str, Any]] = []
        for rec in recorders:
            if run.callbacks is not None:
                manager = run.callbacks.copy()
                manager.add_handler(rec, inherit=True)
                configs.append({"callbacks": manager})
            else:
                configs.append({"callbacks": [rec]})
        inputs = [self.inputs(p) for p in run.problems]
        try:
            outputs = self.as_lcel().batch(inputs, configs)
        except Exception as exc:
            self._record(run, recorders)
            raise StrategyError(
                f"The LLM failed during tot_sequential: {type(exc).__name__}: {exc}",
                traces=run.traces,
                stage="tot_sequential",
                usage=run.usage,
            ) from exc
        run.calls += len(OUTPUT_KEYS)
        self._record(run, recorders)
        out = []
        for o in outputs:
            ranked = o["ranked_solutions"]
            extra = {k: o[k] for k in OUTPUT_KEYS}
            answer = ranked.strip() or None
            out.append(Outcome(answer, [Candidate(answer, None, ranked)], None, extra))
        return out

    @staticmethod
    def _record(run: Run, recorders: list[_StageRecorder]) -> None:
        for trace, rec in zip(run.traces, recorders, strict=True):
            parent = None
            for stage, prompt, completion in rec.records:
                parent = trace.add(stage, prompt, completion, parent=parent).id


def tot_sequential(llm: Any, prompts: Any = None, task: Any = None, **kwargs: Any) -> TotSequential:
    """The 4-stage ToT prompt pipeline. See :class:`TotSequential`."""
    return TotSequential(llm=llm, prompts=prompts, task=task, **kwargs)
