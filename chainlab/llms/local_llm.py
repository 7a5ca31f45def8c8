"""``LocalLLM``: a LangChain LLM over a local Hugging Face causal LM, batched and sampled in one call.

Compared with wrapping a ``transformers.pipeline`` in ``HuggingFacePipeline``:

* many prompts go through **one** batched decode per sub-batch (left padding, attention mask),
  sub-batches sized by ``batch_size``/``max_batch_rows``/``max_batch_tokens`` (memory-aware);
* ``n`` samples per prompt come from the same call, and with ``prefix_reuse`` (default) a prefix
  shared by the batch's prompts and each prompt's ``n`` samples are prefilled once
  (:mod:`chainlab.llms.prefix_cache`), with the same tokens as ``model.generate``;
* ``with_cache()`` serves repeated identical calls from memory (:mod:`chainlab.llms.call_cache`);
* ``stop`` strings end decoding per sequence and are cut from the returned text;
* ``seed`` makes sampling reproducible; token usage is reported in ``llm_output``;
* chat prompts can be formatted with the Llama-2 format or the tokenizer's chat template.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.prompt_values import PromptValue
from pydantic import ConfigDict, Field, PrivateAttr, model_validator
from transformers import StoppingCriteriaList, TextIteratorStreamer

from chainlab.llms import options as opts_mod
from chainlab.llms.call_cache import CallCache, cache_key, model_fingerprint
from chainlab.llms.chat import ChatFormat, format_prompt_value
from chainlab.llms.errors import PromptTooLongError
from chainlab.llms.loglikelihood import Likelihood, loglikelihood
from chainlab.llms.options import BatchLimits, GenerationOptions
from chainlab.llms.prefix_cache import PrefixReuseUnsupported, decode_rows, static_support_problem
from chainlab.llms.stopping import (
    CancelCriteria,
    StopBuffer,
    StopOnSubstrings,
    find_stop,
    tokens_until_stop,
)

_LC_KEYS = ("tags", "metadata", "run_name", "run_id")

logger = logging.getLogger(__name__)


@dataclass
class _Sequence:
    """One generated sequence: returned text, tokens generated (incl. EOS/stop), why it ended."""

    text: str
    completion_tokens: int
    finish_reason: str


class LocalLLM(BaseLLM):
    """A LangChain LLM running a local ``transformers`` causal LM (plain, GPTQ or with LoRA).

    Build it with :func:`chainlab.llms.load_llm` or :meth:`from_pipeline`, or directly from
    ``model`` and ``tokenizer``. Generation options are defaults that every call can override
    (``llm.generate(prompts, n=8, temperature=0.8)``, ``llm.bind(n=8)``, ``llm.invoke(p, seed=1)``).

    Example:
        >>> llm = load_llm("chainlab-tiny", max_new_tokens=32)          # doctest: +SKIP
        >>> result = llm.generate(["2 + 2 ="], n=4, temperature=0.8, stop=["\\n"])  # doctest: +SKIP
        >>> [g.text for g in result.generations[0]], result.llm_output["token_usage"]  # doctest: +SKIP
    """

    model: Any = Field(exclude=True, repr=False)
    """The ``transformers`` model (``PreTrainedModel`` or ``PeftModel``)."""
    tokenizer: Any = Field(exclude=True, repr=False)
    """The tokenizer; a pad token is set (to EOS) when it has none."""
    model_id: str = ""
    """Name or path the model was loaded from (for tracing and cache keys)."""
    max_new_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    do_sample: bool | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    n: int = 1
    """Samples per prompt, all from the same ``model.generate`` call."""
    truncate: bool = False
    """Left-truncate prompts longer than the context instead of raising ``PromptTooLongError``."""
    batch_size: int = opts_mod.DEFAULT_BATCH_SIZE
    """Most distinct prompts per sub-batch (one batched decode)."""
    max_batch_rows: int = opts_mod.DEFAULT_MAX_BATCH_ROWS
    """Most sequences decoded together per sub-batch (prompts x ``n`` samples when sampling)."""
    max_batch_tokens: int | None = None
    """Most ``rows x (longest prompt + max_new_tokens)`` per sub-batch (its KV-cache size).
    None: a quarter of the free memory at the first call over the model's bytes per token, rounded
    down to a power of two. Seeded samples depend on how a request is split, so set it (and keep
    ``batch_size``/``max_batch_rows``) to reproduce seeded runs on another machine."""
    prefix_reuse: bool = True
    """Prefill a prefix shared by a sub-batch's prompts, and each prompt for its ``n`` samples,
    once (:mod:`chainlab.llms.prefix_cache`); falls back to ``model.generate`` where the model or
    the options do not allow it. Same tokens either way in float32; in float16/bfloat16 (e.g. GPTQ)
    the two paths round differently, so a sampled token can differ where two are nearly tied."""
    call_cache: CallCache | None = Field(default=None, exclude=True, repr=False)
    """In-run cache of identical calls (see :meth:`with_cache`); None: off."""
    chat_format: ChatFormat = "none"
    """How a ``ChatPromptValue`` becomes text: ``"none"``, ``"llama2"`` or ``"template"``."""
    generate_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``model.generate`` (e.g. ``no_repeat_ngram_size``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _memo: dict[Any, Any] = PrivateAttr(default_factory=dict)

    # --- construction ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _check(self) -> LocalLLM:
        opts_mod.validate(self._defaults())
        for name in ("batch_size", "max_batch_rows", "max_batch_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1; got {name}={value}.")
        tok = self.tokenizer
        if tok is None:
            raise ValueError("LocalLLM needs a tokenizer: pass tokenizer=AutoTokenizer.from_pretrained(...).")
        if tok.pad_token_id is None:
            if tok.eos_token is not None:
                tok.pad_token = tok.eos_token
            elif tok.unk_token is not None:
                tok.pad_token = tok.unk_token
        tok.padding_side = "left"
        return self

    @classmethod
    def from_pipeline(cls, pipe, **kwargs: Any) -> LocalLLM:
        """Wrap the model and tokenizer of a ``transformers`` text-generation pipeline.

        Options given in the pipeline (e.g. ``max_new_tokens``) are used as defaults unless
        given in ``kwargs``.
        """
        if getattr(pipe, "tokenizer", None) is None:
            raise ValueError("The pipeline has no tokenizer; build it with pipeline(..., tokenizer=...).")
        fwd: dict[str, Any] = {}
        forward = dict(getattr(pipe, "_forward_params", None) or {})
        fwd.update(forward.pop("generate_kwargs", None) or {})
        fwd.update(forward)
        fwd.update(getattr(pipe, "_generate_kwargs", None) or {})  # transformers >= 5
        for key in opts_mod.OPTION_NAMES:
            if key in fwd and key not in kwargs and key != "n":
                kwargs[key] = fwd[key]
        kwargs.setdefault("model_id", str(getattr(pipe.model, "name_or_path", "") or ""))
        return cls(model=pipe.model, tokenizer=pipe.tokenizer, **kwargs)

    # --- LangChain plumbing ----------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "chainlab_local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """Everything that changes outputs: LangChain caches key on it."""
        return {
            "model_id": self.model_id,
            "model_fingerprint": self.fingerprint(),
            "chat_format": self.chat_format,
            **opts_mod.as_dict(self._defaults()),
        }

    # --- caches, batching ------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A digest of the model's config, tokenizer and weights (see :func:`model_fingerprint`).

        It is part of ``_identifying_params``, so LangChain caches (``InMemoryCache``,
        :class:`~chainlab.llms.sqlite_cache.SQLiteCache`) never serve another model's outputs.
        Computed once per model object.
        """
        key = (id(self.model), id(self.tokenizer))
        memo = self._memo.get("fingerprint")
        if memo is None or memo[0] != key:
            memo = (key, model_fingerprint(self.model, self.tokenizer))
            self._memo["fingerprint"] = memo
        return memo[1]

    def with_cache(self, cache: CallCache | None = None) -> LocalLLM:
        """This LLM with an in-run cache of identical calls (a new :class:`CallCache` by default).

        Greedy calls are cached per prompt, seeded sampled calls per whole call, unseeded sampled
        calls never (see :mod:`chainlab.llms.call_cache`). Copies made by per-call options
        (``llm.bind(...)``, ``generate(..., n=4)``) share the cache; ``llm.call_cache.stats()``
        gives hits and misses. Token usage still reports every call's tokens (cached ones too),
        with ``call_cache`` hits/misses in ``llm_output``.
        """
        return self.model_copy(update={"call_cache": cache if cache is not None else CallCache()})

    def batch_limits(self) -> BatchLimits:
        """The sub-batch limits in force (``max_batch_tokens`` derived from free memory if unset)."""
        tokens = self.max_batch_tokens
        if tokens is None:
            key = ("auto_tokens", id(self.model))
            tokens = self._memo.get(key)
            if tokens is None:
                tokens = opts_mod.default_max_batch_tokens(self.model)
                self._memo[key] = tokens
        return BatchLimits(prompts=self.batch_size, rows=self.max_batch_rows, tokens=tokens)

    def prefix_reuse_problem(self) -> str | None:
        """Why this model cannot use prefix reuse (None: it can, or it was not tried yet)."""
        key = ("prefix", id(self.model))
        if key not in self._memo:
            self._memo[key] = static_support_problem(self.model)
        return self._memo[key]

    def _defaults(self) -> GenerationOptions:
        return GenerationOptions(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            do_sample=self.do_sample,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            n=self.n,
            truncate=self.truncate,
            extra=dict(self.generate_kwargs),
        )

    def _options(self, kwargs: dict[str, Any]) -> GenerationOptions:
        return opts_mod.resolve(self._defaults(), kwargs)

    def _convert_input(self, model_input) -> PromptValue:
        return format_prompt_value(super()._convert_input(model_input), self.chat_format, self.tokenizer)

    def generate_prompt(self, prompts: list[PromptValue], stop=None, callbacks=None, **kwargs):
        """Format chat prompts per ``chat_format``, then :meth:`generate`."""
        prompts = [format_prompt_value(p, self.chat_format, self.tokenizer) for p in prompts]
        return super().generate_prompt(prompts, stop=stop, callbacks=callbacks, **kwargs)

    async def agenerate_prompt(self, prompts: list[PromptValue], stop=None, callbacks=None, **kwargs):
        """Async :meth:`generate_prompt`."""
        prompts = [format_prompt_value(p, self.chat_format, self.tokenizer) for p in prompts]
        return await super().agenerate_prompt(prompts, stop=stop, callbacks=callbacks, **kwargs)

    def generate(self, prompts: list[str], stop=None, callbacks=None, **kwargs) -> LLMResult:
        """Generate for many prompts; per-call options (``n``, ``temperature``, ``seed``...) in kwargs.

        Per-call options are validated up front and folded into a copy of this LLM, so they
        are part of the LangChain cache key.
        """
        llm, lc_kwargs = self._with_call_options(kwargs)
        return BaseLLM.generate(llm, prompts, stop=stop, callbacks=callbacks, **lc_kwargs)

    async def agenerate(self, prompts: list[str], stop=None, callbacks=None, **kwargs) -> LLMResult:
        """Async :meth:`generate` (runs in a worker thread, the event loop stays free)."""
        llm, lc_kwargs = self._with_call_options(kwargs)
        return await BaseLLM.agenerate(llm, prompts, stop=stop, callbacks=callbacks, **lc_kwargs)

    def _with_call_options(self, kwargs: dict[str, Any]) -> tuple[LocalLLM, dict[str, Any]]:
        lc_kwargs = {k: kwargs.pop(k) for k in _LC_KEYS if k in kwargs}
        if not kwargs:
            return self, lc_kwargs
        o = self._options(kwargs)
        update = {
            "max_new_tokens": o.max_new_tokens,
            "temperature": o.temperature,
            "top_p": o.top_p,
            "top_k": o.top_k,
            "do_sample": o.do_sample,
            "repetition_penalty": o.repetition_penalty,
            "seed": o.seed,
            "n": o.n,
            "truncate": o.truncate,
            "generate_kwargs": o.extra,
        }
        llm = self.model_copy(update=update)
        llm.__dict__.pop("_serialized", None)
        return llm, lc_kwargs

    # --- generation ------------------------------------------------------------------------
    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        o = self._options(kwargs)
        stops = [s for s in (stop or []) if s]
        encoded = [self._encode(p, o, i) for i, p in enumerate(prompts)]
        seqs, stats = self._cached_compute(prompts, encoded, o, stops)
        generations: list[list[Generation]] = []
        completion = sequences = 0
        for per_prompt in seqs:
            generations.append(
                [
                    Generation(
                        text=s.text,
                        generation_info={
                            "finish_reason": s.finish_reason,
                            "completion_tokens": s.completion_tokens,
                        },
                    )
                    for s in per_prompt
                ]
            )
            completion += sum(s.completion_tokens for s in per_prompt)
            sequences += len(per_prompt)
        prompt_tokens = sum(len(ids) for ids in encoded)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "sequences": sequences,
            "calls": stats["calls"],
            "prefix_cached_tokens": stats["prefix_cached_tokens"],
        }
        llm_output: dict[str, Any] = {"token_usage": usage, "model_name": self.model_id}
        if self.call_cache is not None:
            llm_output["call_cache"] = {"hits": stats["hits"], "misses": stats["misses"]}
        return LLMResult(generations=generations, llm_output=llm_output)

    def _cached_compute(
        self,
        prompts: list[str],
        encoded: list[list[int]],
        o: GenerationOptions,
        stops: list[str],
    ) -> tuple[list[list[_Sequence]], dict[str, int]]:
        """:meth:`_compute`, with identical calls served by ``call_cache`` (module docstring)."""
        cache = self.call_cache
        stats = {"calls": 0, "prefix_cached_tokens": 0, "hits": 0, "misses": 0}
        if cache is None or (o.sampling and o.seed is None):
            seqs, run = self._compute(encoded, o, stops)
            stats.update(run)
            return seqs, stats
        head = [self.fingerprint(), self.chat_format, stops, opts_mod.cache_params(o)]
        if o.sampling:  # seeded: reproducible only as a whole call
            key = cache_key([*head, prompts])
            hit = None if key is None else cache.get(key, count=len(prompts))
            if hit is not None:
                stats["hits"] = len(prompts)
                return _thaw(hit), stats
            seqs, run = self._compute(encoded, o, stops)
            stats.update(run, misses=len(prompts) if key is not None else 0)
            if key is not None:
                cache.put(key, _freeze(seqs))
            return seqs, stats
        keys = [cache_key([*head, p]) for p in prompts]
        out: list[list[_Sequence] | None] = [None] * len(prompts)
        for i, key in enumerate(keys):
            hit = None if key is None else cache.get(key)
            if hit is not None:
                out[i] = _thaw([hit])[0]
                stats["hits"] += 1
            elif key is not None:
                stats["misses"] += 1
        missing = [i for i, seq in enumerate(out) if seq is None]
        if missing:
            seqs, run = self._compute([encoded[i] for i in missing], o, stops)
            stats.update(run)
            for i, per_prompt in zip(missing, seqs, strict=True):
                out[i] = per_prompt
                if keys[i] is not None:
                    cache.put(keys[i], _freeze([per_prompt])[0])
        return [seq for seq in out if seq is not None], stats

    def _compute(
        self, encoded: list[list[int]], o: GenerationOptions, stops: list[str]
    ) -> tuple[list[list[_Sequence]], dict[str, int]]:
        """Generate ``o.n`` sequences per prompt over memory-bounded sub-batches.

        Greedy: identical prompts are decoded once and each prompt once (its ``n`` sequences are
        equal). Sampling: each prompt has ``n`` rows; sub-batch ``k`` is seeded ``seed + k``.
        """
        if not encoded:
            return [], {"calls": 0, "prefix_cached_tokens": 0}
        if o.sampling:
            work, back, per_prompt = encoded, list(range(len(encoded))), o.n
        else:
            uniq: dict[tuple[int, ...], int] = {}
            back = [uniq.setdefault(tuple(ids), len(uniq)) for ids in encoded]
            work, per_prompt = [list(k) for k in uniq], 1
        plan = opts_mod.plan_batches(
            [len(ids) for ids in work], per_prompt, o.max_new_tokens, self.batch_limits()
        )
        seqs: list[list[_Sequence]] = [[] for _ in work]
        reused = 0
        for k, batch in enumerate(plan):
            owners = [i for i, rows in batch for _ in range(rows)]
            seed = None if o.seed is None else o.seed + k
            tokens, saved = self._decode_rows([work[i] for i in owners], o, stops, seed)
            reused += saved
            for i, row in zip(owners, tokens, strict=True):
                seqs[i].append(self._analyse(row, stops, o.max_new_tokens))
        if o.sampling:
            out = seqs
        else:
            out = [[seqs[back[j]][0]] * o.n for j in range(len(encoded))]
        return out, {"calls": len(plan), "prefix_cached_tokens": reused}

    def _decode_rows(
        self,
        rows: list[list[int]],
        o: GenerationOptions,
        stops: Sequence[str],
        seed: int | None,
    ) -> tuple[list[list[int]], int]:
        """New tokens of every row (one sequence each) and the prompt tokens prefix reuse saved."""
        if self.prefix_reuse and self.prefix_reuse_problem() is None:
            width = max(len(r) for r in rows)
            criteria = [StopOnSubstrings(self.tokenizer, stops, prompt_length=width)] if stops else []
            config = self._generation_config(o, num_return_sequences=1)
            try:
                with self._lock, self._rng(seed), torch.inference_mode():
                    res = decode_rows(
                        self.model,
                        rows,
                        config,
                        pad_token_id=self._pad_id,
                        stopping_criteria=criteria,
                        extra=o.extra,
                        device=self._input_device(),
                    )
                return res.tokens, res.reused_tokens
            except PrefixReuseUnsupported as exc:
                if exc.model_level:
                    self._memo[("prefix", id(self.model))] = str(exc)
                    logger.info("Prefix reuse is off for %s: %s", self.model_id or "this model", exc)
                else:
                    logger.debug("Prefix reuse skipped for this call: %s", exc)
        input_ids, out = self._run_generate(rows, o, stops, seed, num_return_sequences=1)
        return out[:, input_ids.shape[1] :].tolist(), 0

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        o = self._options(kwargs)
        if o.n != 1:
            raise ValueError(
                f"Streaming yields one sequence, but n={o.n}; use generate(prompts, n={o.n}) instead."
            )
        stops = [s for s in (stop or []) if s]
        ids = self._encode(prompt, o, 0)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["out"] = self._run_generate([ids], o, stops, o.seed, streamer, cancel)
            except BaseException as exc:  # surfaced in the consumer thread
                box["error"] = exc
                streamer.end()

        thread = threading.Thread(target=work, name="chainlab-stream", daemon=True)
        thread.start()
        buf = StopBuffer(stops)
        pending: str | None = None
        exhausted = False
        try:
            for piece in streamer:
                text = buf.push(piece)
                if text:
                    if pending is not None:
                        yield self._chunk(pending, run_manager)
                    pending = text
                if buf.stopped:
                    break
            else:
                exhausted = True
        finally:
            cancel.set()
            if not exhausted:
                for _ in streamer:  # consume until the worker's end-of-stream signal
                    pass
            thread.join()
        if "error" in box:
            raise box["error"]
        tail = buf.flush()
        pending = (pending or "") + tail
        input_ids, out = box["out"]
        seq = self._analyse(out[0, input_ids.shape[1] :].tolist(), stops, o.max_new_tokens)
        info = {
            "finish_reason": seq.finish_reason,
            "token_usage": {
                "prompt_tokens": len(ids),
                "completion_tokens": seq.completion_tokens,
                "total_tokens": len(ids) + seq.completion_tokens,
                "sequences": 1,
                "calls": 1,
            },
        }
        yield self._chunk(pending, run_manager, info)

    @staticmethod
    def _chunk(text: str, run_manager, info: dict | None = None) -> GenerationChunk:
        chunk = GenerationChunk(text=text, generation_info=info)
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk

    # --- scoring ---------------------------------------------------------------------------
    def loglikelihood(
        self, pairs: Sequence[tuple[str, str]], callbacks: Any = None
    ) -> list[Likelihood]:
        """Log-likelihood of each ``(context, continuation)`` pair, lm-evaluation-harness style.

        Returns one :class:`~chainlab.llms.loglikelihood.Likelihood` per pair (summed log
        probability, token count, whether greedy decoding would produce it); see
        :mod:`chainlab.llms.loglikelihood`.
        """
        return loglikelihood(self, pairs, callbacks=callbacks)

    # --- internals -------------------------------------------------------------------------
    def context_length(self) -> int | None:
        """The model's context window in tokens (``max_position_embeddings``), if known."""
        cfg = getattr(self.model, "config", None)
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(cfg, name, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(value, int) and 0 < value < 10**7:
            return value
        return None

    def _encode(self, text: str, o: GenerationOptions, index: int) -> list[int]:
        """Token ids of a prompt: no second BOS, length checked against the context."""
        tok = self.tokenizer
        bos = tok.bos_token
        add_special = not (bos and text.startswith(bos))
        ids = list(tok(text, add_special_tokens=add_special)["input_ids"])
        if not ids:
            if tok.bos_token_id is None:
                raise ValueError(
                    f"Prompt {index} is empty and the tokenizer has no BOS token to start from; "
                    "give a non-empty prompt."
                )
            ids = [tok.bos_token_id]
        ctx = self.context_length()
        if ctx is None:
            return ids
        if o.truncate:
            keep = ctx - o.max_new_tokens if o.max_new_tokens < ctx else ctx
            if len(ids) > keep:
                head = ids[:1] if ids[0] == tok.bos_token_id else []
                ids = head + ids[len(ids) - (keep - len(head)) :]
            return ids
        if len(ids) > ctx:
            raise PromptTooLongError(
                f"Prompt {index} is {len(ids)} tokens long but the model's context "
                f"(max_position_embeddings) is {ctx} tokens. Shorten the prompt, or pass "
                "truncate=True to keep its last tokens."
            )
        return ids

    @property
    def _pad_id(self) -> int:
        tok = self.tokenizer
        for value in (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id):
            if value is not None:
                return int(value)
        return 0

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for value in (gen_eos, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    def _input_device(self) -> torch.device:
        device = getattr(self.model, "device", None)
        if isinstance(device, torch.device):
            return device
        try:
            return next(self.model.parameters()).device
        except (StopIteration, AttributeError):
            return torch.device("cpu")

    @contextlib.contextmanager
    def _rng(self, seed: int | None):
        if seed is None:
            yield
            return
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _generation_config(self, o: GenerationOptions, num_return_sequences: int | None = None):
        """The ``GenerationConfig`` of a call: the model's, updated with ``o``."""
        config = copy.deepcopy(self.model.generation_config)
        gen_kwargs = o.generate_kwargs()
        if num_return_sequences is not None:
            gen_kwargs["num_return_sequences"] = num_return_sequences
        config.update(**gen_kwargs)
        config.pad_token_id = self._pad_id
        if config.eos_token_id is None and self.tokenizer.eos_token_id is not None:
            config.eos_token_id = self.tokenizer.eos_token_id
        config.max_length = None
        return config

    def _run_generate(
        self,
        batch: Sequence[list[int]],
        o: GenerationOptions,
        stops: Sequence[str],
        seed: int | None,
        streamer=None,
        cancel: threading.Event | None = None,
        num_return_sequences: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``model.generate`` over left-padded ``batch``; returns (input_ids, output ids)."""
        pad = self._pad_id
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, ids in enumerate(batch):
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[i, width - len(ids) :] = 1
        device = self._input_device()
        input_ids, attention = input_ids.to(device), attention.to(device)

        config = self._generation_config(o, num_return_sequences)
        criteria = StoppingCriteriaList()
        if stops:
            criteria.append(StopOnSubstrings(self.tokenizer, stops, prompt_length=width))
        if cancel is not None:
            criteria.append(CancelCriteria(cancel))
        with self._lock, self._rng(seed), torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                generation_config=config,
                stopping_criteria=criteria,
                streamer=streamer,
                **o.extra,
            )
        if not isinstance(out, torch.Tensor):  # return_dict_in_generate=True in extra/config
            out = out.sequences
        return input_ids, out.cpu()

    def _analyse(self, tokens: list[int], stops: Sequence[str], max_new_tokens: int) -> _Sequence:
        """Text (no EOS, no stop) and token count (up to and including EOS/stop) of one row."""
        eos = self._eos_ids()
        end = next((j for j, t in enumerate(tokens) if t in eos), None)
        content = tokens if end is None else tokens[:end]
        text = self.tokenizer.decode(content, skip_special_tokens=True)
        if stops:
            idx = find_stop(text, stops)
            if idx is not None:
                used = tokens_until_stop(self.tokenizer, content, stops) or len(content)
                return _Sequence(text[:idx], used, "stop")
        if end is not None:
            return _Sequence(text, end + 1, "stop")
        return _Sequence(text, len(tokens), "length" if len(tokens) >= max_new_tokens else "stop")



def _freeze(seqs: list[list[_Sequence]]) -> list[list[tuple[str, int, str]]]:
    return [[(q.text, q.completion_tokens, q.finish_reason) for q in per] for per in seqs]


def _thaw(frozen: list[list[tuple[str, int, str]]]) -> list[list[_Sequence]]:
    return [[_Sequence(*q) for q in per] for per in frozen]
