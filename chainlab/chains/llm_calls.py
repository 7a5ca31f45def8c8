"""One batched LLM call for many prompts x n samples, with any LangChain LLM.

* LLMs that sample ``n`` sequences per prompt in one call (:class:`chainlab.llms.LocalLLM`, or any
  LLM with ``supports_n = True``) get ``generate(prompts, n=n, temperature=..., do_sample=...,
  max_new_tokens=..., seed=..., stop=...)``;
* any other ``BaseLLM`` (fakes, OpenAI, ...) gets every prompt repeated ``n`` times in one
  ``generate`` call (sampling settings are then the LLM's own);
* any other Runnable (chat models, ``llm.bind(...)``) gets one ``batch`` call.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseLLM

__all__ = ["supports_n", "complete", "SamplingParams"]


class SamplingParams:
    """Decoding settings of one call (``temperature == 0`` means greedy)."""

    __slots__ = ("n", "temperature", "max_new_tokens", "stop", "seed", "top_k", "top_p")

    def __init__(
        self,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}.")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}.")
        self.n = n
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.stop = list(stop) if stop else None
        self.seed = seed
        self.top_k = top_k
        self.top_p = top_p


def supports_n(llm: Any) -> bool:
    """Whether ``llm`` samples ``n`` sequences per prompt in one call (LocalLLM or ``supports_n``)."""
    if getattr(llm, "supports_n", False) is True:
        return True
    # An instance of LocalLLM implies its module is loaded: no need to import torch to check.
    module = sys.modules.get("chainlab.llms.local_llm")
    local_llm = getattr(module, "LocalLLM", None)
    return local_llm is not None and isinstance(llm, local_llm)


def complete(
    llm: Any,
    prompts: Sequence[str],
    params: SamplingParams | None = None,
    callbacks: Any = None,
) -> list[list[str]]:
    """Completions of every prompt, ``params.n`` per prompt, from ONE LLM call.

    Returns:
        ``out[i]`` = the ``n`` completion texts of ``prompts[i]``.
    """
    params = params or SamplingParams()
    prompts = list(prompts)
    if not prompts:
        return []
    n = params.n
    if supports_n(llm):
        kwargs: dict[str, Any] = {"n": n, "do_sample": params.temperature > 0}
        if params.temperature > 0:
            kwargs["temperature"] = params.temperature
            if params.top_k is not None:
                kwargs["top_k"] = params.top_k
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
        if params.max_new_tokens is not None:
            kwargs["max_new_tokens"] = params.max_new_tokens
        if params.seed is not None:
            kwargs["seed"] = params.seed
        result = llm.generate(prompts, stop=params.stop, callbacks=callbacks, **kwargs)
        out = [[g.text for g in gens] for gens in result.generations]
        if len(out) != len(prompts) or any(len(texts) != n for texts in out):
            raise RuntimeError(
                f"{type(llm).__name__} returned {[len(t) for t in out]} generations for "
                f"{len(prompts)} prompts x n={n}."
            )
        return out
    flat = [p for p in prompts for _ in range(n)]
    if isinstance(llm, BaseLLM):
        result = llm.generate(flat, stop=params.stop, callbacks=callbacks)
        texts = [gens[0].text if gens else "" for gens in result.generations]
    else:
        extra = {"stop": params.stop} if params.stop else {}
        texts = [_text(o) for o in llm.batch(flat, {"callbacks": callbacks}, **extra)]
    if len(texts) != len(flat):
        raise RuntimeError(
            f"{type(llm).__name__} returned {len(texts)} outputs for {len(flat)} prompts."
        )
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    content = getattr(output, "content", output)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c if isinstance(c, str) else c.get("text", "") for c in content)
    return str(content)
