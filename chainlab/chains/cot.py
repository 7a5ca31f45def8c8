"""Chain-of-thought prompting: zero-shot (two-stage extraction), few-shot, and task-specific.

* ``zero_shot`` (Kojima et al., 2022): stage ``reason`` prompts the question with the assistant
  prefilled by ``"Let's think step by step."``; stage ``extract`` continues that text with the
  reasoning and an answer trigger (``"Therefore, the answer (arabic numerals) is"``) and reads the
  answer from the short completion. Both stages send all problems (and all samples) in one call.
* ``few_shot`` (Wei et al., 2022): worked examples as earlier chat turns; the answer is read from
  the rationale (``The answer is n`` / ``#### n`` / ``Answer: ...``).
* ``task``: the task's own CoT prompt (Game of 24: ``cot_prompt``, answer from the ``Answer:`` line).

``compose_answer=True`` (tasks whose steps can be checked: Game of 24) takes the answer from the
reasoning's validated steps when they reach a final answer, instead of the model's own answer line —
what ``tot_search`` does with ``search_options={"compose_answer": True}``. Such a candidate gets a
``compose`` trace event (no LLM call) holding the composed answer and the model's; a completion
whose steps do not check keeps the model's answer.
"""

from __future__ import annotations

from typing import Any, Literal

from chainlab.chains.base import PromptSpec, Run, render_prompt
from chainlab.chains.direct import FewShot
from chainlab.chains.result import Candidate
from chainlab.prompts.chat_format import llama2_prompt
from chainlab.prompts.cot import COT_TRIGGER

__all__ = ["ChainOfThought", "chain_of_thought"]

Mode = Literal["auto", "zero_shot", "few_shot", "task"]


class ChainOfThought(FewShot):
    """Chain-of-thought strategy (see the module docstring).

    Attributes:
        mode: ``auto`` picks ``few_shot`` when examples/selector are given, else ``task`` when
            the task has its own CoT prompt, else ``zero_shot``.
        trigger: the zero-shot reasoning trigger.
        answer_trigger: the zero-shot extraction trigger (default: the task's).
        extract_max_new_tokens: completion length of the extraction stage.
        output_key: few-shot example key holding the rationale (falls back to ``rationale``,
            ``solution``, ``answer``).
        compose_answer: answer from the validated steps when they check (see the module
            docstring); the task must compose answers (``task.composes_answers``).

    ``max_new_tokens`` (the reasoning stage) defaults to the task's ``completion_lengths["cot"]``
    (Game of 24: 128), else 256.
    """

    length_key = "cot"
    mode: Mode = "auto"
    trigger: str = COT_TRIGGER
    answer_trigger: str | None = None
    extract_max_new_tokens: int = 32
    output_key: str = "rationale"
    compose_answer: bool = False

    def validate_params(self) -> None:
        if self.llm is None:
            raise ValueError("chain_of_thought needs an llm.")
        if self.mode not in ("auto", "zero_shot", "few_shot", "task"):
            raise ValueError(f"mode must be auto, zero_shot, few_shot or task; got {self.mode!r}.")
        if self.mode == "few_shot" and not (self.examples or self.example_selector or self.prompt):
            raise ValueError(
                "chain_of_thought(mode='few_shot') needs examples or an example_selector."
            )
        if self.compose_answer and not getattr(self.task, "composes_answers", False):
            raise ValueError(
                f"compose_answer=True needs a task whose reasoning steps can be checked (game24); "
                f"task {self.task.name!r} cannot compose answers — drop compose_answer."
            )

    def resolved_mode(self, problem: dict[str, Any]) -> str:
        """The mode used for ``problem``."""
        if self.mode != "auto":
            return self.mode
        if self.examples or self.example_selector is not None:
            return "few_shot"
        if self.prompt is None and self.task.cot_prompt(problem) is not None:
            return "task"
        return "zero_shot"

    def _pair(self, ex: Any) -> tuple[str, str]:
        if isinstance(ex, dict) and self.output_key not in ex:
            key = next((k for k in ("rationale", "solution", "answer") if k in ex), None)
            if key is not None:
                ex = {**ex, self.output_key: ex[key]}
        return super()._pair(ex)

    def reasoning_prompt(self, problem: dict[str, Any], mode: str) -> str:
        """The (first-stage) prompt of ``problem``."""
        if self.prompt is not None:
            return render_prompt(self.prompt, self.task.prompt_inputs(problem))
        if mode == "task":
            prompt = self.task.cot_prompt(problem)
            if prompt is None:
                raise ValueError(f"Task {self.task.name!r} has no CoT prompt; use another mode.")
            return prompt
        if mode == "few_shot":
            return FewShot.build_prompt(self, problem)
        return llama2_prompt(
            self.task.question(problem), system=self.task.system, prefill=self.trigger
        )

    def build_prompt(self, problem: dict[str, Any]) -> str:
        return self.reasoning_prompt(problem, self.resolved_mode(problem))

    def generate_candidates(
        self,
        run: Run,
        n: int = 1,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[list[Candidate]]:
        cands = self._reason(run, n, temperature, top_k, top_p)
        if self.compose_answer:
            cands = [self._composed(run, i, row) for i, row in enumerate(cands)]
        return cands

    def _composed(self, run: Run, i: int, cands: list[Candidate]) -> list[Candidate]:
        """Candidates of problem ``i`` with answers composed from their validated steps."""
        out = []
        for cand in cands:
            answer = self.task.compose_answer(run.problems[i], cand.text)  # text: the reasoning
            if answer is None:
                out.append(cand)
                continue
            ev = run.traces[i].add(  # no prompt, no completion: not an LLM call (as in tot)
                "compose", parent=cand.event, sample=cand.data.get("sample"), answer=answer,
                model_answer=cand.answer,
            )  # fmt: skip
            data = {**cand.data, "composed": True, "model_answer": cand.answer}
            norm = self.task.normalize(answer)
            out.append(Candidate(answer, norm, cand.text, event=ev.id, data=data))
        return out

    def _reason(
        self,
        run: Run,
        n: int,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
    ) -> list[list[Candidate]]:
        modes = [self.resolved_mode(p) for p in run.problems]
        prompts = [self.reasoning_prompt(p, m) for p, m in zip(run.problems, modes, strict=True)]
        cands = self._sample(run, prompts, n, temperature, "reason", top_k, top_p)
        two_stage = [
            (i, j) for i, m in enumerate(modes) if m == "zero_shot" for j in range(len(cands[i]))
        ]
        if not two_stage:
            return cands
        trigger = self.answer_trigger or self.task.answer_trigger
        ext_prompts = [f"{prompts[i]} {cands[i][j].text.strip()}\n{trigger}" for i, j in two_stage]
        texts, call = run.complete(
            self.llm,
            ext_prompts,
            self.params(1, 0.0, max_new_tokens=self.extract_max_new_tokens),
            "extract",
        )
        for (i, j), prompt, outs in zip(two_stage, ext_prompts, texts, strict=True):
            cand = cands[i][j]
            answer = self.task.extract_after_trigger(outs[0])
            data: dict[str, Any] = {"sample": j, "answer": answer}
            if answer is None:
                fallback = self.task.extract_answer(cand.text)
                data["error"] = "no answer after the extraction trigger"
                if fallback is not None:
                    data["fallback"] = "answer taken from the reasoning"
                answer = fallback
            ev = run.traces[i].add("extract", prompt, outs[0], parent=cand.event, call=call, **data)
            cands[i][j] = Candidate(
                answer,
                self.task.normalize(answer),
                cand.text,
                event=ev.id,
                data={"sample": j, "reasoning_event": cand.event},
            )
        return cands


def chain_of_thought(
    llm: Any,
    task: Any = None,
    mode: Mode = "auto",
    examples: list[Any] | None = None,
    example_selector: Any = None,
    prompt: PromptSpec | None = None,
    **kwargs: Any,
) -> ChainOfThought:
    """Chain-of-thought strategy. See :class:`ChainOfThought`."""
    return ChainOfThought(
        llm=llm,
        task=task,
        mode=mode,
        examples=list(examples or []),
        example_selector=example_selector,
        prompt=prompt,
        **kwargs,
    )
