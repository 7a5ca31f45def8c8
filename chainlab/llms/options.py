"""Generation options of :class:`~chainlab.llms.LocalLLM`: defaults, per-call overrides, validation.

One place decides what ``temperature=0``, ``do_sample=None`` or ``n=8`` mean, so the batched,
streaming and CLI paths all agree:

* greedy by default;
* ``temperature > 0`` with ``do_sample`` unspecified means sampling;
* ``temperature == 0`` means greedy (whatever ``do_sample`` says);
* ``n`` samples per prompt come from the same ``model.generate`` call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

#: Option names accepted by ``load_llm(**generation_defaults)``, ``LocalLLM(...)`` and per call.
OPTION_NAMES = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "do_sample",
    "repetition_penalty",
    "seed",
    "n",
    "truncate",
)


@dataclass(frozen=True)
class GenerationOptions:
    """Resolved, validated options of one generation call."""

    max_new_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    do_sample: bool | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    n: int = 1
    truncate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sampling(self) -> bool:
        """True when tokens are sampled, False for greedy decoding."""
        if self.temperature is not None and self.temperature == 0:
            return False
        if self.do_sample is not None:
            return bool(self.do_sample)
        return self.temperature is not None and self.temperature > 0

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``GenerationConfig.update`` (sampling knobs only when sampling)."""
        kw: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_return_sequences": self.n,
            "do_sample": self.sampling,
        }
        if self.repetition_penalty is not None:
            kw["repetition_penalty"] = self.repetition_penalty
        if self.sampling:
            kw["temperature"] = self.temperature if self.temperature is not None else 1.0
            kw["top_p"] = self.top_p
            kw["top_k"] = self.top_k
        else:
            # Greedy: clear sampling knobs a model's generation_config may carry
            # (e.g. Llama-2-chat ships temperature=0.6, top_p=0.9) so transformers doesn't warn.
            kw.update(temperature=None, top_p=None, top_k=None)
        return kw


def validate(options: GenerationOptions) -> GenerationOptions:
    """Raise ``ValueError`` naming the bad option and the accepted range; return ``options``."""
    o = options
    if not isinstance(o.n, int) or isinstance(o.n, bool) or o.n < 1:
        raise ValueError(f"n must be an integer >= 1 (samples per prompt); got n={o.n!r}.")
    if not isinstance(o.max_new_tokens, int) or o.max_new_tokens < 1:
        raise ValueError(
            f"max_new_tokens must be an integer >= 1; got max_new_tokens={o.max_new_tokens!r}."
        )
    if o.temperature is not None and o.temperature < 0:
        raise ValueError(
            f"temperature must be >= 0 (0 means greedy); got temperature={o.temperature!r}."
        )
    if o.top_p is not None and not 0 < o.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1]; got top_p={o.top_p!r}.")
    if o.top_k is not None and o.top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 disables it); got top_k={o.top_k!r}.")
    if o.repetition_penalty is not None and o.repetition_penalty <= 0:
        raise ValueError(
            f"repetition_penalty must be > 0 (1.0 = none); got {o.repetition_penalty!r}."
        )
    if o.seed is not None and (not isinstance(o.seed, int) or o.seed < 0):
        raise ValueError(f"seed must be a non-negative integer; got seed={o.seed!r}.")
    return o


def resolve(defaults: GenerationOptions, overrides: dict[str, Any]) -> GenerationOptions:
    """Apply per-call ``overrides`` to ``defaults`` and validate.

    Keys that are not chainlab options (e.g. ``no_repeat_ngram_size``) are passed through to
    ``model.generate`` in ``extra``. A ``None`` value keeps the default.
    """
    known = {f.name for f in fields(GenerationOptions)} - {"extra"}
    update: dict[str, Any] = {}
    extra = dict(defaults.extra)
    for key, value in overrides.items():
        if key in known:
            if value is not None:
                update[key] = value
        elif key == "max_tokens":  # the name LangChain / OpenAI users reach for
            if value is not None:
                update["max_new_tokens"] = value
        else:
            extra[key] = value
    return validate(replace(defaults, **update, extra=extra))


def as_dict(options: GenerationOptions) -> dict[str, Any]:
    """A flat dict of the options (for identifying params / cache keys)."""
    d = asdict(options)
    d.update(d.pop("extra"))
    return d
