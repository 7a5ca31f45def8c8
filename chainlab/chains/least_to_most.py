"""Least-to-most prompting (Zhou et al., 2022): decompose, then solve sub-questions in order.

Stage ``decompose`` asks for sub-questions (one per line, the last the original question); stage
``solve[j]`` answers sub-question ``j`` with the earlier (sub-question, answer) pairs fed forward.
Across a batch, each stage sends every problem that still has a sub-question in one call. The final
answer is extracted from the last sub-answer. No sub-questions parsed -> the original question is
solved directly (recorded in the trace).
"""

from __future__ import annotations

from typing import Any

from chainlab.chains.base import Outcome, PromptSpec, Run, Strategy, check_positive, render_prompt
from chainlab.chains.result import Candidate
from chainlab.prompts.chat_format import llama2_prompt
from chainlab.prompts.least_to_most import (
    DECOMPOSE_TEMPLATE,
    SOLVE_TEMPLATE,
    format_previous,
    parse_subquestions,
)

__all__ = ["LeastToMost", "least_to_most"]


class LeastToMost(Strategy):
    """See the module docstring.

    Attributes:
        decompose_prompt / solve_prompt: custom templates or functions (inputs: the problem's keys
            and ``question``; the solve prompt also ``previous`` and ``subquestion``).
        max_subquestions: sub-questions beyond this many are dropped (the last one is kept).
        append_question: add the original question as the last sub-question when the model did not.
    """

    decompose_prompt: Any = None
    solve_prompt: Any = None
    max_subquestions: int = 5
    append_question: bool = True

    def validate_params(self) -> None:
        super().validate_params()
        check_positive(max_subquestions=self.max_subquestions)

    def _decompose(self, problem: dict[str, Any]) -> str:
        inputs = self.task.prompt_inputs(problem)
        if self.decompose_prompt is not None:
            return render_prompt(self.decompose_prompt, inputs)
        return llama2_prompt(
            DECOMPOSE_TEMPLATE.format(question=inputs["question"]), system=self.task.system
        )

    def _solve(self, problem: dict[str, Any], pairs: list[tuple[str, str]], sub: str) -> str:
        inputs = {
            **self.task.prompt_inputs(problem),
            "previous": format_previous(pairs),
            "subquestion": sub,
        }
        if self.solve_prompt is not None:
            return render_prompt(self.solve_prompt, inputs)
        user = SOLVE_TEMPLATE.format(
            question=inputs["question"], previous=inputs["previous"], subquestion=sub
        )
        return llama2_prompt(user.removesuffix("A:").rstrip(), system=self.task.system)

    def _run(self, run: Run) -> list[Outcome]:
        prompts = [self._decompose(p) for p in run.problems]
        texts, call = run.complete(self.llm, prompts, self.params(), "decompose")
        plans: list[list[str]] = []
        parents: list[int] = []
        for i, (problem, prompt, outs) in enumerate(zip(run.problems, prompts, texts, strict=True)):
            subs = parse_subquestions(outs[0])
            error = None if subs else "no sub-questions parsed; solving the question directly"
            question = self.task.question(problem)
            if len(subs) > self.max_subquestions:
                subs = subs[: self.max_subquestions - 1] + subs[-1:]
            if self.append_question and (not subs or subs[-1].strip() != question.strip()):
                if not subs or len(subs) < self.max_subquestions:
                    subs.append(question)
                else:
                    subs[-1] = question
            ev = run.traces[i].add(
                "decompose", prompt, outs[0], call=call, subquestions=list(subs), error=error
            )
            plans.append(subs)
            parents.append(ev.id)
        pairs: list[list[tuple[str, str]]] = [[] for _ in run.problems]
        step = 0
        while True:
            todo = [i for i, subs in enumerate(plans) if step < len(subs)]
            if not todo:
                break
            prompts = [self._solve(run.problems[i], pairs[i], plans[i][step]) for i in todo]
            texts, call = run.complete(self.llm, prompts, self.params(), f"solve[{step}]")
            for i, prompt, outs in zip(todo, prompts, texts, strict=True):
                text = outs[0].strip()
                ev = run.traces[i].add(
                    "solve",
                    prompt,
                    outs[0],
                    parent=parents[i],
                    call=call,
                    step=step,
                    subquestion=plans[i][step],
                )
                parents[i] = ev.id
                pairs[i].append((plans[i][step], text))
            step += 1
        out = []
        for i in range(len(run.problems)):
            last_text = pairs[i][-1][1] if pairs[i] else ""
            answer = self.task.extract_answer(last_text)
            run.traces[i].add(
                "answer",
                parent=parents[i],
                answer=answer,
                error=None if answer is not None else "no answer in the last sub-answer",
            )
            cand = Candidate(answer, self.task.normalize(answer), last_text, event=parents[i])
            out.append(Outcome(answer, [cand], None, {"subquestions": plans[i], "pairs": pairs[i]}))
        return out


def least_to_most(
    llm: Any,
    task: Any = None,
    decompose_prompt: PromptSpec | None = None,
    solve_prompt: PromptSpec | None = None,
    **kwargs: Any,
) -> LeastToMost:
    """Least-to-most strategy. See :class:`LeastToMost`."""
    return LeastToMost(
        llm=llm, task=task, decompose_prompt=decompose_prompt, solve_prompt=solve_prompt, **kwargs
    )
