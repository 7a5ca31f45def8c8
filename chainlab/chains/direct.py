"""Single-prompt strategies: ``direct`` (IO) and ``few_shot``.

Both are :class:`Generator` strategies: they can produce ``n`` sampled candidates per problem in one
batched call, which :mod:`~chainlab.chains.self_consistency` and :mod:`~chainlab.chains.verifier`
build on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.example_selectors import BaseExampleSelector

from chainlab.chains.base import Outcome, PromptSpec, Run, Strategy, render_prompt
from chainlab.chains.result import Candidate
from chainlab.prompts.chat_format import llama2_prompt

__all__ = ["Generator", "Direct", "FewShot", "direct", "few_shot"]


class Generator(Strategy):
    """A strategy whose candidates are samples of a prompt (plus optional post-processing)."""

    def generate_candidates(
        self,
        run: Run,
        n: int = 1,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[list[Candidate]]:
        """``n`` candidates for every problem of ``run``, from one batched LLM call per stage
        (``top_k``/``top_p``: sampling truncation; None keeps this strategy's own)."""
        raise NotImplementedError

    def _run(self, run: Run) -> list[Outcome]:
        out = []
        for cands in self.generate_candidates(run, n=1, temperature=0.0):
            best = cands[0] if cands else None
            out.append(Outcome(best.answer if best else None, cands))
        return out

    def _sample(
        self,
        run: Run,
        prompts: list[str],
        n: int,
        temperature: float,
        stage: str,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[list[Candidate]]:
        """Sample ``n`` completions of each problem's prompt; extract answers; trace everything."""
        params = self.params(n, temperature, top_k=top_k, top_p=top_p)
        texts, call = run.complete(self.llm, prompts, params, stage)
        out: list[list[Candidate]] = []
        for i, (prompt, outs) in enumerate(zip(prompts, texts, strict=True)):
            cands = []
            for j, text in enumerate(outs):
                answer = self.task.extract_answer(text)
                norm = self.task.normalize(answer)
                data: dict[str, Any] = {"sample": j, "answer": answer}
                if answer is None:
                    data["error"] = "no answer found in the completion"
                ev = run.traces[i].add(stage, prompt, text, call=call, **data)
                cands.append(Candidate(answer, norm, text, event=ev.id, data={"sample": j}))
            out.append(cands)
        return out


class Direct(Generator):
    """Direct (IO) prompting: the task's direct prompt, or ``prompt`` (template or function).

    ``max_new_tokens`` defaults to the task's ``completion_lengths["direct"]`` (Game of 24: 48).
    """

    length_key = "direct"
    prompt: Any = None

    def build_prompt(self, problem: dict[str, Any]) -> str:
        """The prompt of one problem."""
        if self.prompt is not None:
            return render_prompt(self.prompt, self.task.prompt_inputs(problem))
        return self.task.direct_prompt(problem)

    def generate_candidates(
        self,
        run: Run,
        n: int = 1,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[list[Candidate]]:
        prompts = [self.build_prompt(p) for p in run.problems]
        return self._sample(run, prompts, n, temperature, "generate", top_k, top_p)


class FewShot(Direct):
    """Few-shot prompting: examples as earlier Llama-2 chat turns.

    Attributes:
        examples: fixed examples: dicts (``question`` or task keys, and ``output_key``) or
            ``(question, answer)`` pairs.
        example_selector: a LangChain ``BaseExampleSelector`` choosing examples per problem
            (called with ``{"question": <question text>}``).
        output_key: example key holding the demonstrated answer.
        input_key: example key holding the question (None: ``task.question(example)``).
    """

    examples: list[Any] = []
    example_selector: Any = None
    output_key: str = "answer"
    input_key: str | None = None
    instruction: str | None = None

    def validate_params(self) -> None:
        super().validate_params()
        if not self.examples and self.example_selector is None and self.prompt is None:
            raise ValueError("few_shot needs examples=[...] or example_selector=... (or a prompt).")
        if self.example_selector is not None and not isinstance(
            self.example_selector, BaseExampleSelector
        ):
            raise ValueError("example_selector must be a langchain BaseExampleSelector.")

    def pick_examples(self, problem: dict[str, Any]) -> list[tuple[str, str]]:
        """The (question, answer) demonstrations for ``problem``."""
        if self.example_selector is not None:
            raw: Sequence[Any] = self.example_selector.select_examples(
                {"question": self.task.question(problem)}
            )
        else:
            raw = self.examples
        return [self._pair(ex) for ex in raw]

    def _pair(self, ex: Any) -> tuple[str, str]:
        if isinstance(ex, tuple | list):
            q, a = ex
            return str(q), str(a)
        if self.input_key is not None:
            q = str(ex[self.input_key])
        else:
            q = self.task.question(self.task.make_problem(ex))
        if self.output_key not in ex:
            raise KeyError(f"Example {ex!r} lacks the answer key {self.output_key!r}.")
        return q, str(ex[self.output_key])

    def user_message(self, problem: dict[str, Any]) -> str:
        """The new user turn: the question (plus ``instruction``)."""
        q = self.task.question(problem)
        return f"{q}\n{self.instruction}" if self.instruction else q

    def build_prompt(self, problem: dict[str, Any]) -> str:
        if self.prompt is not None:
            return super().build_prompt(problem)
        examples = self.pick_examples(problem)
        if self.instruction:
            examples = [(f"{q}\n{self.instruction}", a) for q, a in examples]
        return llama2_prompt(self.user_message(problem), system=self.task.system, examples=examples)


def direct(llm: Any, task: Any = None, prompt: PromptSpec | None = None, **kwargs: Any) -> Direct:
    """Direct (IO) prompting strategy. See :class:`Direct`."""
    return Direct(llm=llm, task=task, prompt=prompt, **kwargs)


def few_shot(
    llm: Any,
    examples: Sequence[Any] = (),
    example_selector: BaseExampleSelector | None = None,
    task: Any = None,
    **kwargs: Any,
) -> FewShot:
    """Few-shot prompting with fixed examples or a LangChain example selector. See :class:`FewShot`."""
    return FewShot(
        llm=llm, task=task, examples=list(examples), example_selector=example_selector, **kwargs
    )
