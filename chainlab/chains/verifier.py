"""Verifier: k candidates from a base strategy, each scored by an LLM judge; the best one wins.

The judge (the task's judge prompt, or ``judge=`` a template/function of the problem's keys plus
``answer`` and ``solution``) is asked ``judge_samples`` times per candidate; a candidate's score is
the fraction of ``correct`` verdicts. All judge prompts of all problems go in one batched call.

Selection: the best-scoring candidate with ``score >= threshold`` (among candidates tied on the
best score, the answer most of them share, then — with ``tie_break="likelihood"`` and a LocalLLM —
the answer whose samples the model finds likelier (:mod:`chainlab.chains.likelihood`), then the
first seen: a judge that passes several candidates still lets agreement decide); with
``weighted=True``, candidates vote for their answer with their score as weight. When none passes,
``fallback`` decides: ``majority`` (self-consistency vote over the candidates), ``best`` (the
highest score anyway) or ``none`` (no answer).

``greedy_first=True`` verifies the base's greedy answer first and keeps it when the judge passes
it; only the problems whose greedy answer is rejected get the ``k`` samples (and their judging),
chosen among as above with the greedy candidate kept in the pool. It suits a judge that rarely
rejects a right answer but misses many wrong ones: sampling can then only replace answers the judge
has reason to doubt, and problems the judge passes cost two calls instead of ``2k``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from chainlab.chains.base import Outcome, PromptSpec, Run, Strategy, check_positive, render_prompt
from chainlab.chains.direct import Generator
from chainlab.chains.likelihood import TieBreak, require_loglikelihood, score_samples
from chainlab.chains.result import Candidate
from chainlab.chains.self_consistency import as_generator
from chainlab.chains.voting import majority_vote

__all__ = ["Verifier", "verifier"]

Fallback = Literal["majority", "best", "none"]


class Verifier(Strategy):
    """See the module docstring. ``judge_llm`` defaults to the base's llm."""

    base: Any
    k: int = 5
    temperature: float = 0.7
    judge: Any = None
    judge_llm: Any = None
    parse_judge: Callable[[str], Any] | None = None
    judge_samples: int = 1
    judge_temperature: float = 0.0
    judge_max_new_tokens: int | None = 128
    threshold: float = 0.5
    fallback: Fallback = "majority"
    weighted: bool = False
    greedy_first: bool = False
    tie_break: TieBreak = "first"

    def validate_params(self) -> None:
        check_positive(k=self.k, judge_samples=self.judge_samples)
        if self.fallback not in ("majority", "best", "none"):
            raise ValueError(f"fallback must be majority, best or none; got {self.fallback!r}.")
        if self.judge_samples > 1 and self.judge_temperature == 0:
            raise ValueError(
                "judge_samples > 1 needs judge_temperature > 0 (greedy repeats itself)."
            )
        self.check_truncation()
        require_loglikelihood(self.base.llm, self.tie_break)
        self.base.validate_params()

    def judge_prompt(self, problem: dict[str, Any], cand: Candidate) -> str:
        """The judge prompt of one candidate."""
        if self.judge is not None:
            inputs = {
                **self.task.prompt_inputs(problem),
                "answer": cand.answer,
                "solution": cand.text,
            }
            return render_prompt(self.judge, inputs)
        return self.task.judge_prompt(problem, cand.answer or "", cand.text)

    def read_verdict(self, text: str) -> float | None:
        """1.0 for correct, 0.0 for incorrect (or a float the custom parser returns), None if unreadable."""
        verdict = (self.parse_judge or self.task.parse_judge)(text)
        if verdict is None:
            return None
        return float(verdict)

    def _run(self, run: Run) -> list[Outcome]:
        if not self.greedy_first:
            all_cands = self.base.generate_candidates(
                run, self.k, self.temperature, self.top_k, self.top_p
            )
            self._judge(run, all_cands)
            return self._select_all(run, all_cands)
        greedy = self.base.generate_candidates(run, 1, 0.0)
        self._judge(run, greedy)
        doubted = [i for i, cands in enumerate(greedy) if not any(map(self._passes, cands))]
        if doubted:
            sub = Run(
                [run.problems[i] for i in doubted],
                [run.traces[i] for i in doubted],
                run.callbacks,
                run.calls,
                run.usage,
            )
            more = self.base.generate_candidates(
                sub, self.k, self.temperature, self.top_k, self.top_p
            )
            self._judge(sub, more, offsets=[len(greedy[i]) for i in doubted])
            run.calls = sub.calls
            for i, extra in zip(doubted, more, strict=True):
                greedy[i] = greedy[i] + extra
        return self._select_all(run, greedy)

    def _select_all(self, run: Run, all_cands: list[list[Candidate]]) -> list[Outcome]:
        if self.tie_break == "likelihood":
            score_samples(run, self.base.llm, all_cands)
        return [self._select(run, i, cands) for i, cands in enumerate(all_cands)]

    def _passes(self, cand: Candidate) -> bool:
        return cand.answer is not None and (cand.score or 0.0) >= self.threshold

    def _judge(
        self, run: Run, all_cands: list[list[Candidate]], offsets: list[int] | None = None
    ) -> None:
        """Score every candidate with an answer: one batched judge call for all of them
        (``offsets``: per problem, the index in its final candidate list of ``all_cands[i][0]``)."""
        jobs = [
            (i, j)
            for i, cands in enumerate(all_cands)
            for j, c in enumerate(cands)
            if c.answer is not None
        ]
        prompts = [self.judge_prompt(run.problems[i], all_cands[i][j]) for i, j in jobs]
        llm = self.judge_llm if self.judge_llm is not None else self.base.llm
        params = self.params(self.judge_samples, self.judge_temperature, self.judge_max_new_tokens)
        texts, call = run.complete(llm, prompts, params, "judge")
        for (i, j), prompt, outs in zip(jobs, prompts, texts, strict=True):
            cand = all_cands[i][j]
            readings = []
            for s, text in enumerate(outs):
                v = self.read_verdict(text)
                readings.append(v)
                run.traces[i].add(
                    "judge",
                    prompt,
                    text,
                    parent=cand.event,
                    call=call,
                    candidate=j + (offsets[i] if offsets else 0),
                    sample=s,
                    verdict=v,
                    error=None if v is not None else "no verdict in the judge's completion",
                )
            cand.score = sum(v for v in readings if v is not None) / len(readings)
            cand.data["verdicts"] = readings

    def _select(self, run: Run, i: int, cands: list[Candidate]) -> Outcome:
        scores = [c.score if c.score is not None else 0.0 for c in cands]
        probs = [c.data.get("normalized_prob", 0.0) for c in cands]
        ties = probs if self.tie_break == "likelihood" else None
        passing = [
            j for j, c in enumerate(cands) if c.answer is not None and scores[j] >= self.threshold
        ]
        groups, _ = majority_vote(
            cands, weights=scores if self.weighted else None, tie_scores=ties
        )
        if passing:
            if self.weighted:
                pw = [s if j in passing else 0.0 for j, s in enumerate(scores)]
                ranked, _ = majority_vote(cands, weights=pw, tie_scores=ties)
                best = ranked[0]
                answer, confidence = best.answer, best.score / max(sum(pw), 1e-12)
            else:  # the best score; among candidates tied on it, the answer most of them share
                top = max(scores[j] for j in passing)
                tied = [j for j in passing if scores[j] == top]
                ranked, _ = majority_vote(
                    [cands[j] for j in tied], tie_scores=[probs[j] for j in tied] if ties else None
                )
                answer, confidence = ranked[0].answer, top
            how = "verified"
        elif self.fallback == "majority" and groups:
            answer, confidence, how = groups[0].answer, groups[0].share, "fallback:majority"
        elif self.fallback == "best" and any(c.answer is not None for c in cands):
            j = max(
                (x for x, c in enumerate(cands) if c.answer is not None),
                key=lambda x: (scores[x], -x),
            )
            answer, confidence, how = cands[j].answer, scores[j], "fallback:best"
        else:
            answer, confidence, how = None, None, "no candidate passed"
        run.traces[i].add(
            "select",
            answer=answer,
            selection=how,
            scores=scores,
            threshold=self.threshold,
            error=None if answer is not None else "no answer selected",
        )
        ordered = sorted(range(len(cands)), key=lambda x: (-scores[x], x))
        return Outcome(
            answer,
            [cands[x] for x in ordered],
            confidence,
            {"selection": how, "groups": [g.to_dict() for g in groups]},
        )


def verifier(
    base: Generator | PromptSpec,
    k: int = 5,
    judge: PromptSpec | None = None,
    judge_llm: Any = None,
    llm: Any = None,
    task: Any = None,
    **kwargs: Any,
) -> Verifier:
    """Verifier strategy over a base strategy or prompt. See :class:`Verifier`."""
    check_positive(k=k)
    gen = as_generator(base, llm, task)
    return Verifier(
        base=gen, llm=gen.llm, task=gen.task, k=k, judge=judge, judge_llm=judge_llm, **kwargs
    )
