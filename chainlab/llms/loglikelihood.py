"""Log-likelihood of continuations under a local causal LM (the lm-evaluation-harness request).

``loglikelihood(llm, [(context, continuation), ...])`` returns, per pair, the summed log
probability of the continuation's tokens given the context, their count, and whether every one of
them is the model's greedy choice — what lm-evaluation-harness calls ``loglikelihood``. Strategies
use it to weight or tie-break sampled answers by how likely the model finds each sample
(:class:`~chainlab.chains.self_consistency.SelfConsistency` ``weighting``/``tie_break``).

Tokens are split as lm-evaluation-harness does: trailing whitespace of the context moves to the
continuation, the context and the whole text are encoded (BOS as in generation), and the
continuation is the whole text's tokens after the context's. Rows are right-padded (so positions
need no correction), sorted by length and batched within the LLM's ``batch_limits``; one forward
pass per sub-batch. The call reaches LangChain callbacks as one LLM run per pair with its prompt
tokens (context plus continuation), so :func:`~chainlab.llms.usage.track_usage` counts it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from langchain_core.callbacks import CallbackManager
from langchain_core.outputs import LLMResult

__all__ = ["Likelihood", "loglikelihood", "encode_pair"]

#: most logits (rows x positions x vocabulary) materialized per forward pass (about 1 GiB in fp32)
_MAX_LOGITS = 2**28


@dataclass(frozen=True)
class Likelihood:
    """The log-likelihood of one continuation.

    Attributes:
        logprob: sum of the natural-log probabilities of the continuation's tokens.
        tokens: how many tokens the continuation has.
        is_greedy: every continuation token is the most likely token at its position.
    """

    logprob: float
    tokens: int
    is_greedy: bool

    @property
    def mean_logprob(self) -> float:
        """Log probability per token (length-normalized)."""
        return self.logprob / self.tokens

    @property
    def normalized_prob(self) -> float:
        """``exp(mean_logprob)``: the per-token geometric-mean probability, in (0, 1]."""
        return math.exp(self.mean_logprob)


def encode_pair(llm: Any, context: str, continuation: str, index: int = 0) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) of one pair, split as lm-evaluation-harness does.

    Raises:
        ValueError: the continuation has no tokens.
        PromptTooLongError: context plus continuation exceed the model's context window.
    """
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    o = llm._defaults()
    whole = llm._encode(context + continuation, o, index)
    ctx = llm._encode(context, o, index)
    if whole[: len(ctx)] == ctx:
        cont = whole[len(ctx) :]
    else:  # the boundary merged into one token: encode the continuation on its own
        cont = list(llm.tokenizer(continuation, add_special_tokens=False)["input_ids"])
    if not cont:
        raise ValueError(
            f"Continuation {index} ({continuation!r}) has no tokens; score a non-empty continuation."
        )
    return ctx, cont


def loglikelihood(
    llm: Any, pairs: Sequence[tuple[str, str]], callbacks: Any = None
) -> list[Likelihood]:
    """The :class:`Likelihood` of each ``(context, continuation)`` under ``llm`` (a LocalLLM)."""
    pairs = list(pairs)
    if not pairs:
        return []
    encoded = [encode_pair(llm, c, x, i) for i, (c, x) in enumerate(pairs)]
    manager = CallbackManager.configure(inheritable_callbacks=callbacks)
    runs = manager.on_llm_start(
        {"name": type(llm).__name__, "method": "loglikelihood"}, [c + x for c, x in pairs]
    )
    try:
        out = _score(llm, encoded)
    except BaseException as exc:
        for run in runs:
            run.on_llm_error(exc)
        raise
    for run, (ctx, cont) in zip(runs, encoded, strict=True):
        tokens = len(ctx) + len(cont)
        usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
        run.on_llm_end(LLMResult(generations=[[]], llm_output={"token_usage": usage}))
    return out


def _score(llm: Any, encoded: list[tuple[list[int], list[int]]]) -> list[Likelihood]:
    """Forward passes over length-sorted, right-padded sub-batches."""
    limits = llm.batch_limits()
    vocab = int(getattr(llm.model.config, "vocab_size", 0) or 32000)
    order = sorted(range(len(encoded)), key=lambda i: -sum(map(len, encoded[i])))
    out: list[Likelihood | None] = [None] * len(encoded)
    device = llm._input_device()
    start = 0
    while start < len(order):
        width = sum(map(len, encoded[order[start]]))
        rows = max(
            1,
            min(
                limits.rows,
                limits.tokens // max(width, 1) if limits.tokens else limits.rows,
                _MAX_LOGITS // (width * vocab),
            ),
        )
        batch = order[start : start + rows]
        start += rows
        ids = torch.full((len(batch), width), llm._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            seq = encoded[i][0] + encoded[i][1]
            ids[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[r, : len(seq)] = 1
        with llm._lock, torch.inference_mode():
            logits = llm.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        for r, i in enumerate(batch):
            ctx, cont = encoded[i]
            pos = len(ctx) - 1  # logits at position p predict token p + 1
            rows_logits = logits[r, pos : pos + len(cont)].float().log_softmax(-1)
            target = torch.tensor(cont, device=rows_logits.device)
            picked = rows_logits.gather(1, target[:, None])[:, 0]
            greedy = bool((rows_logits.argmax(-1) == target).all())
            out[i] = Likelihood(float(picked.sum()), len(cont), greedy)
    return [x for x in out if x is not None]
