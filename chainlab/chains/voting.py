"""Majority and weighted voting over candidates, with a deterministic tie-break.

Candidates with the same normalized answer form one group; the group with the most votes (or the
largest total weight) wins, ties going to the group with the larger total ``tie_scores`` when they
are given (e.g. the samples' likelihoods), then to the group seen first. Candidates without an answer abstain
but still count in the denominator of the vote share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chainlab.chains.result import Candidate

__all__ = ["VoteGroup", "tally", "majority_vote"]


@dataclass
class VoteGroup:
    """All candidates sharing one normalized answer."""

    normalized: str
    answer: str | None
    first: int
    members: list[int] = field(default_factory=list)
    weight: float = 0.0
    tie_score: float = 0.0

    @property
    def votes(self) -> int:
        """Number of candidates in the group."""
        return len(self.members)


def tally(
    candidates: Sequence[Candidate],
    weights: Sequence[float] | None = None,
    tie_scores: Sequence[float] | None = None,
) -> list[VoteGroup]:
    """Groups of candidates by normalized answer, best first (votes or weight, then total
    ``tie_scores``, then first seen)."""
    for name, values in (("weights", weights), ("tie_scores", tie_scores)):
        if values is not None and len(values) != len(candidates):
            raise ValueError(f"{name} must have one entry per candidate.")
    groups: dict[str, VoteGroup] = {}
    for i, cand in enumerate(candidates):
        key = cand.normalized
        if key is None:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = VoteGroup(key, cand.answer, i)
        group.members.append(i)
        group.weight += 1.0 if weights is None else float(weights[i])
        group.tie_score += 0.0 if tie_scores is None else float(tie_scores[i])
    return sorted(groups.values(), key=lambda g: (-g.weight, -g.tie_score, g.first))


def majority_vote(
    candidates: Sequence[Candidate],
    weights: Sequence[float] | None = None,
    tie_scores: Sequence[float] | None = None,
) -> tuple[list[Candidate], float | None]:
    """One :class:`Candidate` per answer (best first, with ``votes``/``share``) and the winner's share.

    ``share`` is votes over all candidates (abstentions included); with ``weights`` the winner is the
    group of largest total weight and its ``score`` is that weight; ``tie_scores`` break ties (see
    :func:`tally`). Returns ``([], None)`` when no candidate has an answer.
    """
    groups = tally(candidates, weights, tie_scores)
    total = len(candidates)
    out: list[Candidate] = []
    for g in groups:
        first = candidates[g.first]
        out.append(
            Candidate(
                answer=g.answer,
                normalized=g.normalized,
                text=first.text,
                score=g.weight if weights is not None else first.score,
                votes=g.votes,
                share=g.votes / total if total else None,
                event=first.event,
                data={"members": list(g.members), "weight": g.weight},
            )
        )
    return out, (out[0].share if out else None)
