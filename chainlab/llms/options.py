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


def cache_params(options: GenerationOptions) -> dict[str, Any]:
    """The options that decide a call's output, normalized for cache keys.

    Greedy decoding ignores ``temperature``, ``top_p``, ``top_k`` and ``seed``, so greedy calls
    that differ only in those share a key; ``n`` is kept (it is the number of returned sequences).
    """
    d = as_dict(options)
    d["do_sample"] = options.sampling
    if not options.sampling:
        for key in ("temperature", "top_p", "top_k", "seed"):
            d.pop(key, None)
    return d


# --- sub-batching ----------------------------------------------------------------------------

#: defaults of :class:`~chainlab.llms.LocalLLM`'s sub-batching limits
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_BATCH_ROWS = 128


@dataclass(frozen=True)
class BatchLimits:
    """How much one ``model.generate`` (one sub-batch) may hold.

    Attributes:
        prompts: distinct prompts per sub-batch (``LocalLLM.batch_size``).
        rows: sequences decoded together, prompts x samples (``LocalLLM.max_batch_rows``).
        tokens: ``rows x (longest prompt + max_new_tokens)`` per sub-batch, the KV-cache size of
            the padded batch (``LocalLLM.max_batch_tokens``).
    """

    prompts: int = DEFAULT_BATCH_SIZE
    rows: int = DEFAULT_MAX_BATCH_ROWS
    tokens: int = 1 << 17

    def __post_init__(self) -> None:
        for name in ("prompts", "rows", "tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Batch limit {name} must be an integer >= 1; got {value!r}.")


def plan_batches(
    lengths: list[int] | tuple[int, ...],
    rows_per_prompt: int,
    max_new_tokens: int,
    limits: BatchLimits,
) -> list[list[tuple[int, int]]]:
    """Split prompts into sub-batches within ``limits``, keeping their order.

    Args:
        lengths: token count of each prompt.
        rows_per_prompt: sequences to decode per prompt (``n`` when sampling, 1 when greedy).
        max_new_tokens: completion length limit.
        limits: the sub-batch limits.

    Returns:
        Sub-batches, each a list of ``(prompt index, rows)``. A prompt's rows stay in one
        sub-batch unless they alone exceed an empty sub-batch; then they are split over several.
    """
    batches: list[list[tuple[int, int]]] = []
    cur: list[tuple[int, int]] = []
    cur_rows = cur_width = 0

    def fits(rows: int, width: int) -> bool:
        return (
            len(cur) < limits.prompts
            and rows <= limits.rows
            and rows * (width + max_new_tokens) <= limits.tokens
        )

    for i, length in enumerate(lengths):
        remaining = rows_per_prompt
        # rows of this prompt an empty sub-batch holds: more than that are split anyway
        alone = min(limits.rows, max(1, limits.tokens // (length + max_new_tokens)))
        while remaining:
            width = max(cur_width, length)
            if cur and not fits(cur_rows + remaining, width):
                room = 0
                if remaining > alone and len(cur) < limits.prompts:  # split anyway: fill up first
                    room = min(limits.rows, limits.tokens // (width + max_new_tokens)) - cur_rows
                if room <= 0:
                    batches.append(cur)
                    cur, cur_rows, cur_width = [], 0, 0
                    continue
                take = min(room, remaining)
            elif not cur:
                take = min(remaining, alone)
            else:
                take = remaining
            cur.append((i, take))
            cur_rows += take
            cur_width = max(cur_width, length)
            remaining -= take
            if remaining:  # the prompt's rows alone overflow a sub-batch: continue in a new one
                batches.append(cur)
                cur, cur_rows, cur_width = [], 0, 0
    if cur:
        batches.append(cur)
    return batches


def available_memory_bytes(device: Any = None) -> int | None:
    """Free memory for generation: free CUDA memory on a CUDA ``device``, else available RAM."""
    if device is not None and getattr(device, "type", None) == "cuda":
        try:
            import torch

            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # pragma: no cover - no CUDA here
            return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def default_max_batch_tokens(model: Any, fraction: float = 0.25) -> int:
    """A token budget per sub-batch from free memory: ``fraction`` of it over the bytes per token.

    A token costs its keys and values in every layer plus (roughly) the transient activations of
    a prefill. The result is rounded down to a power of two, so small changes in free memory do
    not change how requests are split, and kept within ``[4096, 2**20]``.
    """
    cfg = getattr(model, "config", None)
    if cfg is not None and hasattr(cfg, "get_text_config"):
        try:
            cfg = cfg.get_text_config()
        except Exception:
            pass
    hidden = int(getattr(cfg, "hidden_size", 0) or 4096)
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 32)
    heads = int(getattr(cfg, "num_attention_heads", 0) or 32)
    kv_heads = int(getattr(cfg, "num_key_value_heads", 0) or heads)
    head_dim = int(getattr(cfg, "head_dim", 0) or max(1, hidden // max(1, heads)))
    itemsize, device = 4, None
    try:
        p = next(model.parameters())
        device = p.device
        if p.dtype.is_floating_point:
            itemsize = p.element_size()
    except Exception:
        pass
    per_token = 2 * layers * kv_heads * head_dim * itemsize + 32 * hidden
    free = available_memory_bytes(device)
    if free is None:
        return 1 << 16
    tokens = max(4096, min(1 << 20, int(free * fraction) // per_token))
    return 1 << (tokens.bit_length() - 1)
