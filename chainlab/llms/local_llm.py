"""``LocalLLM``: a LangChain LLM over a local Hugging Face causal LM, batched and sampled in one call.

Compared with wrapping a ``transformers.pipeline`` in ``HuggingFacePipeline``:

* many prompts go through **one** ``model.generate`` per batch (left padding, attention mask);
* ``n`` samples per prompt come from the same call (``num_return_sequences``);
* ``stop`` strings end decoding per sequence and are cut from the returned text;
* ``seed`` makes sampling reproducible; token usage is reported in ``llm_output``;
* chat prompts can be formatted with the Llama-2 format or the tokenizer's chat template.
"""

from __future__ import annotations

import contextlib
import copy
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
from chainlab.llms.chat import ChatFormat, format_prompt_value
from chainlab.llms.errors import PromptTooLongError
from chainlab.llms.options import GenerationOptions
from chainlab.llms.stopping import (
    CancelCriteria,
    StopBuffer,
    StopOnSubstrings,
    find_stop,
    tokens_until_stop,
)

_LC_KEYS = ("tags", "metadata", "run_name", "run_id")


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
    batch_size: int = 16
    """Prompts per ``model.generate`` call (each with ``n`` sequences)."""
    chat_format: ChatFormat = "none"
    """How a ``ChatPromptValue`` becomes text: ``"none"``, ``"llama2"`` or ``"template"``."""
    generate_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``model.generate`` (e.g. ``no_repeat_ngram_size``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # --- construction ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _check(self) -> LocalLLM:
        opts_mod.validate(self._defaults())
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got batch_size={self.batch_size}.")
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
            "chat_format": self.chat_format,
            **opts_mod.as_dict(self._defaults()),
        }

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
        generations: list[list[Generation]] = []
        calls = completion = sequences = 0
        for k, start in enumerate(range(0, len(encoded), self.batch_size)):
            chunk = encoded[start : start + self.batch_size]
            seed = None if o.seed is None else o.seed + k
            per_prompt = self._generate_batch(chunk, o, stops, seed)
            calls += 1
            for seqs in per_prompt:
                generations.append(
                    [
                        Generation(
                            text=s.text,
                            generation_info={
                                "finish_reason": s.finish_reason,
                                "completion_tokens": s.completion_tokens,
                            },
                        )
                        for s in seqs
                    ]
                )
                completion += sum(s.completion_tokens for s in seqs)
                sequences += len(seqs)
        prompt_tokens = sum(len(ids) for ids in encoded)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "sequences": sequences,
            "calls": calls,
        }
        return LLMResult(
            generations=generations, llm_output={"token_usage": usage, "model_name": self.model_id}
        )

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

        config = copy.deepcopy(self.model.generation_config)
        gen_kwargs = o.generate_kwargs()
        if num_return_sequences is not None:
            gen_kwargs["num_return_sequences"] = num_return_sequences
        config.update(**gen_kwargs)
        config.pad_token_id = pad
        if config.eos_token_id is None and self.tokenizer.eos_token_id is not None:
            config.eos_token_id = self.tokenizer.eos_token_id
        config.max_length = None

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

    def _generate_batch(
        self,
        batch: Sequence[list[int]],
        o: GenerationOptions,
        stops: Sequence[str],
        seed: int | None,
    ) -> list[list[_Sequence]]:
        """Generate ``o.n`` sequences for each prompt of ``batch`` in one ``model.generate``."""
        # Greedy decoding gives n identical sequences: decode once, repeat.
        per_row = o.n if o.sampling else 1
        input_ids, out = self._run_generate(batch, o, stops, seed, num_return_sequences=per_row)
        new = out[:, input_ids.shape[1] :].tolist()
        results: list[list[_Sequence]] = []
        for i in range(len(batch)):
            rows = new[i * per_row : (i + 1) * per_row]
            seqs = [self._analyse(r, stops, o.max_new_tokens) for r in rows]
            if per_row != o.n:
                seqs = [seqs[0]] * o.n
            results.append(seqs)
        return results

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

