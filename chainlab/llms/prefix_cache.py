"""Shared-prefix KV reuse: prefill what a batch's rows have in common once, then decode them together.

``model.generate`` prefills every row of a batch in full: ``n`` samples of one prompt are ``n``
copies of it (``num_return_sequences`` repeats the input), and prompts that share a system message,
few-shot exemplars or instructions recompute those tokens in every row. :func:`decode_rows`
produces the same tokens with less work:

1. the longest token prefix common to all distinct prompts of the batch is prefilled **once**
   (one forward pass of one row, giving a transformers ``DynamicCache``);
2. that cache is expanded (a view, no copy) to every distinct prompt, and each prompt's remaining
   suffix is prefilled in one padded forward pass (padding sits *between* the shared prefix and
   the suffix, masked, with explicit position ids so every real token keeps its position);
3. the per-prompt cache is gathered to the rows (``n`` samples of a prompt share one prefill);
4. all rows decode together. Each layer's keys and values then live in a preallocated buffer
   (:class:`GrowingLayer`) that new tokens are written into in place — ``DynamicLayer`` would
   ``torch.cat`` (copy) the whole cache at every step; the buffer grows by half its size when
   full. Rows that finished (EOS, a stop string) are dropped from the cache once they are a
   quarter of it, so stragglers decode alone.

Decoding follows ``GenerationMixin._sample`` step by step — the model's own generation config
preparation, logits processors and stopping criteria, run on the left-padded ``input_ids`` the
plain path would hold, and one ``torch.multinomial`` over all rows per step — so greedy and seeded
sampling give the same tokens as ``model.generate`` on the left-padded batch, up to floating
point differences between the two ways of computing the same attention: none seen in float32
(the tests compare token for token); in float16 (GPTQ on CPU) greedy decoding matched and about
one sampled token in a few hundred flipped where two tokens were nearly tied — as happens in
float16 whenever the batch composition changes.

It needs a decoder-only model whose forward takes ``past_key_values``/``position_ids``/
``attention_mask`` and fills a ``DynamicCache`` of full-attention ``DynamicLayer`` s (Llama-style
models, their GPTQ-quantized and LoRA-adapted versions). Anything else — sliding-window or
linear-attention caches, encoder-decoders, beam search, custom ``logits_processor`` objects,
``return_dict_in_generate`` — raises :class:`PrefixReuseUnsupported` before any token is sampled,
and :class:`~chainlab.llms.LocalLLM` falls back to ``model.generate``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

__all__ = [
    "PrefixReuseUnsupported",
    "DecodeResult",
    "GrowingLayer",
    "common_prefix_length",
    "decode_rows",
    "static_support_problem",
]

#: a shared prefix shorter than this is not worth its own forward pass
MIN_SHARED_PREFIX = 4
#: drop finished rows from the cache once they are this fraction of its rows
COMPACT_FRACTION = 0.25
#: decode steps a cache buffer has room for before it first grows
GROWTH_TOKENS = 64

_SUPPORTED_MODES = ("greedy_search", "sample")
_HF_METHODS = (
    "_prepare_generation_config",
    "_prepare_special_tokens",
    "_get_logits_processor",
    "_get_stopping_criteria",
)


class PrefixReuseUnsupported(RuntimeError):
    """The model or the generation settings cannot use prefix reuse; use ``model.generate``.

    ``model_level`` is True when the model itself is the reason (no later call can use it).
    """

    def __init__(self, message: str, model_level: bool = False) -> None:
        super().__init__(message)
        self.model_level = model_level


@dataclass
class DecodeResult:
    """Tokens generated per row (after the prompt, padded after a row finished) and prefill work.

    Attributes:
        tokens: ``tokens[r]`` = the new tokens of row ``r`` (all rows have the same length; a
            finished row continues with the pad token, as with ``model.generate``).
        prompt_tokens: prompt tokens of all rows (what a full recompute prefills, padding excluded).
        prefilled_tokens: prompt tokens actually run through the model.
    """

    tokens: list[list[int]]
    prompt_tokens: int
    prefilled_tokens: int

    @property
    def reused_tokens(self) -> int:
        """Prompt tokens served from a shared prefix cache instead of recomputed."""
        return self.prompt_tokens - self.prefilled_tokens


class GrowingLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys/values are views of a preallocated buffer.

    ``update`` writes the new states in place (no copy of the cache); the buffer grows by
    half (at least :data:`GROWTH_TOKENS` tokens) when full. Row selection copies it.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        super().__init__()
        n = keys.shape[-2]
        capacity = max(capacity, n)
        self._k = keys.new_empty((*keys.shape[:-2], capacity, keys.shape[-1]))
        self._v = values.new_empty((*values.shape[:-2], capacity, values.shape[-1]))
        self._k[..., :n, :] = keys
        self._v[..., :n, :] = values
        self._n = n
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._views()

    def _views(self) -> None:
        self.keys = self._k[..., : self._n, :]
        self.values = self._v[..., : self._n, :]

    def _reserve(self, needed: int) -> None:
        capacity = self._k.shape[-2]
        if needed <= capacity:
            return
        capacity = max(needed, capacity + max(GROWTH_TOKENS, capacity // 2))
        k = self._k.new_empty((*self._k.shape[:-2], capacity, self._k.shape[-1]))
        v = self._v.new_empty((*self._v.shape[:-2], capacity, self._v.shape[-1]))
        k[..., : self._n, :] = self.keys
        v[..., : self._n, :] = self.values
        self._k, self._v = k, v

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        n = key_states.shape[-2]
        self._reserve(self._n + n)
        self._k[..., self._n : self._n + n, :] = key_states
        self._v[..., self._n : self._n + n, :] = value_states
        self._n += n
        self._views()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._n

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove.")
        self._n = max(0, self._n + tokens_to_remove)
        self._views()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._k, self._v = self._k[indices], self._v[indices]
        self._views()

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._k = self._k.repeat_interleave(repeats, dim=0)
        self._v = self._v.repeat_interleave(repeats, dim=0)
        self._views()

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.batch_select_indices(beam_idx.to(self._k.device))

    def reset(self) -> None:
        self._n = 0
        self._views()


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by all ``rows`` (0 for no rows)."""
    if not rows:
        return 0
    first = rows[0]
    limit = min(len(r) for r in rows)
    k = 0
    while k < limit and all(r[k] == first[k] for r in rows):
        k += 1
    return k


def _base_model(model: Any) -> Any:
    """The ``transformers`` model under a PEFT wrapper (the model itself otherwise)."""
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base):
        try:
            return get_base()
        except Exception:
            return model
    return model


def static_support_problem(model: Any) -> str | None:
    """Why ``model`` cannot use prefix reuse (None when it may: the cache type is checked later)."""
    base = _base_model(model)
    config = getattr(base, "config", None)
    if config is None:
        return "the model has no config"
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder models are not supported"
    missing = [m for m in _HF_METHODS if not callable(getattr(base, m, None))]
    if missing:
        return f"this transformers version lacks {', '.join(missing)}"
    try:
        params = inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return "the model's forward signature cannot be inspected"
    needed = {"past_key_values", "position_ids", "attention_mask"}
    if not needed <= set(params):
        return f"the model's forward lacks {', '.join(sorted(needed - set(params)))}"
    return None


def _check_cache(cache: Any) -> None:
    if not isinstance(cache, DynamicCache):
        raise PrefixReuseUnsupported(
            f"the model returned a {type(cache).__name__}, not a DynamicCache", model_level=True
        )
    layers = getattr(cache, "layers", None)
    if not layers:
        raise PrefixReuseUnsupported("the model's DynamicCache has no layers", model_level=True)
    odd = sorted({type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer})
    if odd:
        raise PrefixReuseUnsupported(
            f"cache layers {', '.join(odd)} (sliding-window/linear attention) are not supported",
            model_level=True,
        )


def _prepare(
    model: Any,
    generation_config: Any,
    extra: dict[str, Any],
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    width: int,
    stopping_criteria: Sequence[Any],
) -> tuple[Any, Any, Any]:
    """(generation config, logits processors, stopping criteria) exactly as ``generate`` builds them."""
    from transformers import LogitsProcessorList, StoppingCriteriaList

    base = _base_model(model)
    config = copy.deepcopy(generation_config)
    unused = config.update(**extra) if extra else {}
    if unused:
        raise PrefixReuseUnsupported(
            f"generate() arguments {sorted(unused)} are not generation-config options"
        )
    try:
        config, model_kwargs = base._prepare_generation_config(config)
    except (TypeError, AttributeError) as exc:
        raise PrefixReuseUnsupported(f"cannot prepare the generation config: {exc}") from exc
    if model_kwargs:
        raise PrefixReuseUnsupported(f"model kwargs {sorted(model_kwargs)} are not supported")
    mode = config.get_generation_mode()
    mode_name = getattr(mode, "value", str(mode))
    if mode_name not in _SUPPORTED_MODES:
        raise PrefixReuseUnsupported(f"generation mode {mode_name!r} is not supported")
    if config.return_dict_in_generate or config.output_scores or config.output_logits:
        raise PrefixReuseUnsupported("return_dict_in_generate/output_scores are not supported")
    if config.cache_implementation is not None or config.use_cache is False:
        raise PrefixReuseUnsupported(f"cache_implementation={config.cache_implementation!r}")
    if getattr(config, "token_healing", False):
        raise PrefixReuseUnsupported("token_healing is not supported")
    if config.guidance_scale is not None and config.guidance_scale != 1:
        raise PrefixReuseUnsupported("classifier-free guidance is not supported")
    device = input_ids.device
    try:
        base._prepare_special_tokens(config, True, device=device, batch_size=input_ids.shape[0])
        config.max_length = width + config.max_new_tokens
        processors = base._get_logits_processor(
            generation_config=config,
            input_ids_seq_length=width,
            encoder_input_ids=input_ids,
            prefix_allowed_tokens_fn=None,
            logits_processor=LogitsProcessorList(),
            device=device,
            model_kwargs={"attention_mask": attention_mask},
        )
        criteria = base._get_stopping_criteria(
            generation_config=config,
            stopping_criteria=StoppingCriteriaList(list(stopping_criteria)),
            tokenizer=None,
        )
    except (TypeError, AttributeError, ValueError) as exc:
        raise PrefixReuseUnsupported(f"cannot build logits processors/stopping criteria: {exc}") from exc
    return config, processors, criteria


def _forward(model: Any, keep_logits: bool, **inputs: Any) -> Any:
    if keep_logits:
        inputs["logits_to_keep"] = 1
    return model(use_cache=True, return_dict=True, **inputs)


def decode_rows(
    model: Any,
    rows: Sequence[Sequence[int]],
    generation_config: Any,
    *,
    pad_token_id: int,
    stopping_criteria: Sequence[Any] = (),
    extra: dict[str, Any] | None = None,
    device: torch.device | str | None = None,
    min_shared_prefix: int = MIN_SHARED_PREFIX,
    compact_fraction: float = COMPACT_FRACTION,
) -> DecodeResult:
    """Generate for every row of ``rows`` with shared prefixes prefilled once.

    Equivalent to ``model.generate(left_padded(rows), attention_mask=..., generation_config=...,
    stopping_criteria=..., **extra)`` (each row one sequence; repeat a prompt for several
    samples). Run it under ``torch.inference_mode()`` and a seeded RNG for reproducible sampling.

    Args:
        model: a decoder-only ``transformers`` model (or a PEFT model around one).
        rows: prompt token ids, one list per sequence to generate.
        generation_config: the ``GenerationConfig`` ``generate`` would get (max_new_tokens, sampling
            settings, eos/pad ids).
        pad_token_id: pad token of the left-padded layout.
        stopping_criteria: extra ``StoppingCriteria``; they see the left-padded ``input_ids`` of
            all rows, of width ``max(len(row))`` before the generated tokens.
        extra: other ``generate`` keyword arguments; only generation-config options are allowed.
        device: where the inputs go (default: the model's device).
        min_shared_prefix: a shared prefix shorter than this is prefilled with the suffixes.
        compact_fraction: drop finished rows from the cache once they are this fraction of it.

    Raises:
        PrefixReuseUnsupported: before any sampling, when the model or settings are not supported.
    """
    problem = static_support_problem(model)
    if problem is not None:
        raise PrefixReuseUnsupported(problem, model_level=True)
    if not rows or any(len(r) == 0 for r in rows):
        raise PrefixReuseUnsupported("every row needs at least one prompt token")

    base = _base_model(model)
    if device is None:
        device = getattr(base, "device", None) or next(base.parameters()).device
    device = torch.device(device)
    keep_logits = "logits_to_keep" in inspect.signature(base.forward).parameters

    # The left-padded batch the plain path would build: logits processors and stopping criteria see it.
    n_rows = len(rows)
    width = max(len(r) for r in rows)
    input_ids = torch.full((n_rows, width), pad_token_id, dtype=torch.long, device=device)
    left_mask = torch.zeros((n_rows, width), dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r) :] = torch.tensor(list(r), dtype=torch.long, device=device)
        left_mask[i, width - len(r) :] = 1
    config, processors, criteria = _prepare(
        model, generation_config, dict(extra or {}), input_ids, left_mask, width, stopping_criteria
    )
    max_new = int(config.max_new_tokens)
    do_sample = bool(config.do_sample)
    has_eos = any(hasattr(c, "eos_token_id") for c in criteria)
    pad = config._pad_token_tensor
    pad = torch.tensor(pad_token_id, device=device) if pad is None else pad.to(device)

    # 1. distinct prompts and their shared prefix (every suffix keeps at least one token)
    uniq: dict[tuple[int, ...], int] = {}
    row_to_u = [uniq.setdefault(tuple(r), len(uniq)) for r in rows]
    prompts = list(uniq)
    n_u = len(prompts)
    lcp = min(common_prefix_length(prompts), min(len(p) for p in prompts) - 1)
    if n_u == 1 or lcp < min_shared_prefix:  # one prompt: prefilling it whole is the same work
        lcp = 0

    cache = DynamicCache(config=base.config)
    prefilled = 0
    if lcp:
        prefix = torch.tensor([prompts[0][:lcp]], dtype=torch.long, device=device)
        _forward(
            model,
            keep_logits,
            input_ids=prefix,
            attention_mask=torch.ones_like(prefix),
            position_ids=torch.arange(lcp, device=device)[None, :],
            past_key_values=cache,
        )
        prefilled += lcp
        _check_cache(cache)
        if n_u > 1:
            for layer in cache.layers:  # a view: the suffix prefill's torch.cat makes the copy
                layer.keys = layer.keys.expand(n_u, -1, -1, -1)
                layer.values = layer.values.expand(n_u, -1, -1, -1)

    # 2. every distinct prompt's suffix, padded on the left of the suffix (between prefix and it)
    suffixes = [p[lcp:] for p in prompts]
    sw = max(len(s) for s in suffixes)
    suffix_ids = torch.full((n_u, sw), pad_token_id, dtype=torch.long, device=device)
    mask = torch.zeros((n_u, lcp + sw), dtype=torch.long, device=device)
    mask[:, :lcp] = 1
    for u, s in enumerate(suffixes):
        suffix_ids[u, sw - len(s) :] = torch.tensor(s, dtype=torch.long, device=device)
        mask[u, lcp + sw - len(s) :] = 1
    positions = (mask.cumsum(-1) - 1)[:, lcp:].masked_fill(mask[:, lcp:] == 0, 1)
    out = _forward(
        model,
        keep_logits,
        input_ids=suffix_ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
    )
    prefilled += sum(len(s) for s in suffixes)
    if not lcp:
        _check_cache(cache)
    logits = out.logits[:, -1]
    del out
    next_pos = mask.sum(-1)  # position of each prompt's next token

    # 3. rows: gather the per-prompt cache (n samples of a prompt share its prefill)
    if row_to_u != list(range(n_u)):
        index = torch.tensor(row_to_u, dtype=torch.long, device=device)
        cache.batch_select_indices(index)
        logits, mask, next_pos = logits[index], mask[index], next_pos[index]
    cache_rows = torch.arange(n_rows, device=device)  # which row each cache row holds
    room = min(max_new, GROWTH_TOKENS)
    cache.layers = [
        GrowingLayer(layer.keys, layer.values, layer.get_seq_length() + room) for layer in cache.layers
    ]

    # 4. decode: GenerationMixin._sample, with finished rows dropped from the cache
    unfinished = torch.ones(n_rows, dtype=torch.long, device=device)
    vocab = logits.shape[-1]
    for step in range(max_new):
        full = logits.to(dtype=torch.float32, device=device)
        if full.shape[0] != n_rows:
            full = torch.zeros((n_rows, vocab), dtype=torch.float32, device=device)
            full[cache_rows] = logits.to(torch.float32)
        scores = processors(input_ids, full)
        if do_sample:
            probs = torch.nn.functional.softmax(scores, dim=-1)
            next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            next_tokens = torch.argmax(scores, dim=-1)
        if has_eos:
            next_tokens = next_tokens * unfinished + pad * (1 - unfinished)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        unfinished = unfinished & ~criteria(input_ids, None)
        if unfinished.max() == 0 or step + 1 >= max_new:
            break
        # (without an EOS criterion, generate keeps decoding finished rows: so do we)
        done = unfinished[cache_rows] == 0
        n_done = int(done.sum()) if has_eos else 0
        if n_done and n_done >= compact_fraction * len(cache_rows):
            keep = torch.nonzero(~done).squeeze(1)
            cache.batch_select_indices(keep)
            mask, next_pos, cache_rows = mask[keep], next_pos[keep], cache_rows[keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        out = _forward(
            model,
            keep_logits,
            input_ids=next_tokens[cache_rows][:, None],
            attention_mask=mask,
            position_ids=next_pos[:, None],
            past_key_values=cache,
        )
        next_pos = next_pos + 1
        logits = out.logits[:, -1]
        del out
    del cache
    return DecodeResult(
        tokens=input_ids[:, width:].tolist(),
        prompt_tokens=sum(len(r) for r in rows),
        prefilled_tokens=prefilled,
    )
