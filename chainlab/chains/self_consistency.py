"""Self-consistency (Wang et al., 2022): k samples in one batched call, then a majority vote.

Answers are compared by the task's normalization (numbers: commas/units stripped, ``18.0 == 18``;
Game of 24: canonical expression spacing). Ties go to the answer seen first; the winner's vote share
(votes / k, abstentions included) is the confidence.

With a LocalLLM, one more batched call can score every sample's likelihood
(:mod:`chainlab.chains.likelihood`): ``tie_break="likelihood"`` gives a tie to the answer whose
samples have the larger summed normalized probability; ``weighting="normalized_prob"`` makes each
sample's vote that probability (Wang et al.'s "normalized weighted sum") instead of 1.
"""

from __future__ import annotations

from typing import Any

from chainlab.chains.base import Outcome, PromptSpec, Run, Strategy, check_positive
from chainlab.chains.direct import Direct, Generator
from chainlab.chains.likelihood import TieBreak, Weighting, require_loglikelihood, score_samples
from chainlab.chains.voting import majority_vote

__all__ = ["SelfConsistency", "self_consistency", "as_generator"]


def as_generator(base: Any, llm: Any = None, task: Any = None) -> Generator:
    """``base`` if it is a Generator strategy, else a :class:`Direct` strategy with ``base`` as prompt."""
    if isinstance(base, Generator):
        return base
    if isinstance(base, Strategy):
        raise ValueError(
            f"{type(base).__name__} cannot be sampled; use direct, few_shot or chain_of_thought."
        )
    if llm is None:
        raise ValueError("Give llm=... when the base is a prompt rather than a strategy.")
    return Direct(llm=llm, task=task, prompt=base)


class SelfConsistency(Strategy):
    """Sample ``k`` candidates from ``base`` (temperature ``temperature``, optionally truncated
    to the ``top_k`` tokens or the ``top_p`` nucleus, as Wang et al. did with top-k 40) and vote.

    ``llm`` and ``task`` are the base's. ``weighting`` (``votes`` or ``normalized_prob``) and
    ``tie_break`` (``first`` or ``likelihood``): see the module docstring.
    """

    base: Any
    k: int = 5
    temperature: float = 0.7
    weighting: Weighting = "votes"
    tie_break: TieBreak = "first"

    def validate_params(self) -> None:
        check_positive(k=self.k)
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}.")
        self.check_truncation()
        require_loglikelihood(self.llm, self.tie_break, self.weighting)
        self.base.validate_params()

    @property
    def scores_samples(self) -> bool:
        """Whether a run scores the samples' likelihood (an extra batched call)."""
        return self.weighting != "votes" or self.tie_break != "first"

    def _run(self, run: Run) -> list[Outcome]:
        out = []
        samples = self.base.generate_candidates(
            run, self.k, self.temperature, self.top_k, self.top_p
        )
        if self.scores_samples:
            score_samples(run, self.llm, samples)
        for i, cands in enumerate(samples):
            probs = [c.data.get("normalized_prob", 0.0) for c in cands]
            weights = probs if self.weighting == "normalized_prob" else None
            ties = probs if self.tie_break == "likelihood" else None
            groups, share = majority_vote(cands, weights=weights, tie_scores=ties)
            winner = groups[0] if groups else None
            run.traces[i].add(
                "vote",
                answer=winner.answer if winner else None,
                votes={g.normalized: g.votes for g in groups},
                weights={g.normalized: g.data["weight"] for g in groups} if weights else None,
                abstentions=sum(c.normalized is None for c in cands),
                error=None if winner else "no sample had an answer",
            )
            out.append(
                Outcome(
                    winner.answer if winner else None,
                    groups,
                    share,
                    {"samples": [c.to_dict() for c in cands]},
                )
            )
        return out


def self_consistency(
    base: Generator | PromptSpec,
    k: int = 5,
    temperature: float = 0.7,
    llm: Any = None,
    task: Any = None,
    **kwargs: Any,
) -> SelfConsistency:
    """Self-consistency over a base strategy (direct/few_shot/chain_of_thought) or a prompt."""
    check_positive(k=k)
    gen = as_generator(base, llm, task)
    return SelfConsistency(
        base=gen, llm=gen.llm, task=gen.task, k=k, temperature=temperature, **kwargs
    )
