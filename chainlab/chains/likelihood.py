"""How likely the model finds each sampled candidate: one batched log-likelihood call per stage.

Used by self-consistency and the verifier to weight votes by, or break ties with, the samples'
length-normalized probability (``exp`` of the mean token log-probability of the sampled
completion given its prompt — the "normalized weighted sum" of Wang et al., 2022). Needs an LLM
with ``loglikelihood(pairs)`` (chainlab's :class:`~chainlab.llms.LocalLLM`).
"""

from __future__ import annotations

from typing import Any, Literal

from chainlab.chains.result import Candidate

__all__ = ["Weighting", "TieBreak", "supports_loglikelihood", "require_loglikelihood", "score_samples"]

Weighting = Literal["votes", "normalized_prob"]
TieBreak = Literal["first", "likelihood"]


def supports_loglikelihood(llm: Any) -> bool:
    """Whether ``llm`` can score continuations (has a callable ``loglikelihood``)."""
    return callable(getattr(llm, "loglikelihood", None))


def require_loglikelihood(llm: Any, tie_break: str, weighting: str = "votes") -> None:
    """Check the options and that ``llm`` can score samples when they need it.

    Raises:
        ValueError: an unknown option, or an LLM without ``loglikelihood``.
    """
    if weighting not in ("votes", "normalized_prob"):
        raise ValueError(f"weighting must be 'votes' or 'normalized_prob'; got {weighting!r}.")
    if tie_break not in ("first", "likelihood"):
        raise ValueError(f"tie_break must be 'first' or 'likelihood'; got {tie_break!r}.")
    needs = [f"{k}={v!r}" for k, v, plain in (("weighting", weighting, "votes"),
                                              ("tie_break", tie_break, "first")) if v != plain]
    if needs and not supports_loglikelihood(llm):
        raise ValueError(
            f"{' and '.join(needs)} scores samples with llm.loglikelihood(), which "
            f"{type(llm).__name__} does not have; use chainlab's LocalLLM (load_llm(...)) or keep "
            "weighting='votes' and tie_break='first'."
        )


def score_samples(run: Any, llm: Any, all_cands: list[list[Candidate]], stage: str = "score") -> None:
    """Set ``cand.data["normalized_prob"]`` (and ``logprob``/``tokens``) on every candidate that
    has an answer, from ONE ``llm.loglikelihood`` call over their (prompt, completion) pairs.

    The pair is the candidate's reasoning event when it has one (two-stage chain-of-thought),
    else its own event. Candidates without an answer or completion get ``normalized_prob`` 0.

    Raises:
        StrategyError: the LLM raised; the error is recorded in every trace first.
    """
    jobs: list[tuple[int, int, tuple[str, str]]] = []
    for i, cands in enumerate(all_cands):
        for j, cand in enumerate(cands):
            cand.data["normalized_prob"] = 0.0
            event_id = cand.data.get("reasoning_event", cand.event)
            if cand.answer is None or event_id is None:
                continue
            ev = run.traces[i][event_id]
            if ev.prompt is None or not (ev.completion or "").strip():
                continue
            jobs.append((i, j, (ev.prompt, ev.completion)))
    scores, index = run.loglikelihood(llm, [pair for _, _, pair in jobs], stage)
    for (i, j, _), s in zip(jobs, scores, strict=True):
        cand = all_cands[i][j]
        cand.data.update(
            logprob=s.logprob, tokens=s.tokens, normalized_prob=s.normalized_prob
        )
        run.traces[i].add(
            stage,
            parent=cand.event,
            call=index,
            candidate=j,
            logprob=s.logprob,
            tokens=s.tokens,
            normalized_prob=s.normalized_prob,
        )
