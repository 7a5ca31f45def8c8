"""``load_llm``: a hub id, local directory or packaged name -> a ready :class:`LocalLLM`.

Handles plain and GPTQ checkpoints (GPTQ on CPU too, through transformers + optimum +
gptqmodel), optional PEFT/LoRA adapters (merged or not), device placement and dtype.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chainlab.llms import options as opts_mod
from chainlab.llms.errors import ModelNotFoundError
from chainlab.llms.sources import Source, hub_unreachable, resolve

_LLM_FIELDS = set(opts_mod.OPTION_NAMES) | {
    "batch_size",
    "max_batch_rows",
    "max_batch_tokens",
    "prefix_reuse",
    "chat_format",
    "generate_kwargs",
    "max_tokens",
}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def load_llm(
    model: str | os.PathLike,
    *,
    adapter: str | os.PathLike | None = None,
    device: str | None = None,
    dtype: Any = None,
    merge_adapter: bool = False,
    trust_remote_code: bool = False,
    cache: Any = None,
    call_cache: Any = None,
    **generation_defaults: Any,
):
    """Load a causal LM (and optionally a LoRA adapter) as a LangChain :class:`LocalLLM`.

    Args:
        model: a Hub id (``"TheBloke/Llama-2-13B-chat-GPTQ"``), a local directory, or a packaged
            name (``"chainlab-tiny"``, ``"chainlab-tiny-gptq"``). GPTQ checkpoints are detected
            from ``quantization_config`` in their config.json.
        adapter: a PEFT/LoRA adapter (directory, packaged name or Hub id) for ``model``. Its
            tokenizer is used when the adapter directory has one.
        device: ``"cpu"``, ``"cuda"`` (all GPUs, ``device_map="auto"``), ``"cuda:1"``... Default:
            CUDA when available, else CPU.
        dtype: torch dtype or its name (``"float16"``, ``"bfloat16"``, ``"float32"``, ``"auto"``).
            Default: float32 on CPU (the checkpoint's own dtype for GPTQ), ``"auto"`` on GPU.
        merge_adapter: merge the LoRA weights into the base (``merge_and_unload``): faster
            generation, same outputs. Not possible on GPTQ models.
        trust_remote_code: allow a checkpoint's own Python code to run (off by default).
        cache: a persistent LangChain cache for re-runs: a path (an
            :class:`~chainlab.llms.sqlite_cache.SQLiteCache` file), a ``BaseCache``, or
            True/False (LangChain's global cache / none). Default: LangChain's global setting.
        call_cache: True or a :class:`~chainlab.llms.call_cache.CallCache`: serve repeated
            identical calls of this run from memory (:meth:`LocalLLM.with_cache`).
        **generation_defaults: :class:`LocalLLM` defaults: ``max_new_tokens``, ``temperature``,
            ``top_p``, ``top_k``, ``do_sample``, ``repetition_penalty``, ``seed``, ``n``,
            ``truncate``, ``chat_format``, ``generate_kwargs``, and batching: ``batch_size``,
            ``max_batch_rows``, ``max_batch_tokens``, ``prefix_reuse``.

    Returns:
        A :class:`~chainlab.llms.LocalLLM` with ``.model`` and ``.tokenizer``.

    Raises:
        ModelNotFoundError: the model/adapter is not a directory and not reachable offline.
        AdapterMismatchError: the adapter was trained for another base model.
        MissingDependencyError: a GPTQ checkpoint without gptqmodel/optimum installed.
        ValueError: bad generation options (``n < 1``, ``temperature < 0``, ...).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from chainlab.llms.adapters import attach_adapter
    from chainlab.llms.chat import default_chat_format
    from chainlab.llms.gptq import is_gptq_config, require_gptq
    from chainlab.llms.local_llm import LocalLLM

    llm_kwargs = _check_defaults(generation_defaults)
    llm_kwargs.update(_cache_kwargs(cache, call_cache))
    src = resolve(model, "model")
    config = _load_config(src, AutoConfig, trust_remote_code)
    gptq = is_gptq_config(config)
    if gptq:
        require_gptq(f"{src.name!r} is a GPTQ checkpoint (quantization_config.quant_method='gptq'); it")

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    load_kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "config": config}
    torch_dtype = _dtype(dtype, torch)
    if dev.type == "cuda":
        load_kwargs["device_map"] = "auto" if dev.index is None else {"": dev.index}
        load_kwargs["dtype"] = torch_dtype or "auto"
    elif dev.type == "cpu":
        if gptq:
            load_kwargs["device_map"] = {"": "cpu"}
            load_kwargs["dtype"] = torch_dtype or "auto"
        else:
            load_kwargs["dtype"] = torch_dtype or torch.float32
    else:
        load_kwargs["dtype"] = torch_dtype or "auto"

    try:
        hf_model = AutoModelForCausalLM.from_pretrained(src.ref, **load_kwargs)
    except OSError as exc:
        if src.local:
            raise
        raise hub_unreachable("model", src.name, exc) from exc
    if dev.type not in ("cpu", "cuda"):
        hf_model = hf_model.to(dev)

    ad_src = resolve(adapter, "adapter") if adapter is not None else None
    if ad_src is not None:
        hf_model = attach_adapter(hf_model, ad_src, src, merge=merge_adapter, quantized=gptq)
    hf_model.eval()

    tokenizer = _load_tokenizer(src, ad_src, trust_remote_code)
    llm_kwargs.setdefault("chat_format", default_chat_format(tokenizer, src.name))
    return LocalLLM(model=hf_model, tokenizer=tokenizer, model_id=src.name, **llm_kwargs)


def _cache_kwargs(cache: Any, call_cache: Any) -> dict[str, Any]:
    """``cache``/``call_cache`` arguments of :func:`load_llm` as LocalLLM fields."""
    from langchain_core.caches import BaseCache

    out: dict[str, Any] = {}
    if cache is not None:
        if isinstance(cache, (str, os.PathLike)):
            from chainlab.llms.sqlite_cache import SQLiteCache

            cache = SQLiteCache(cache)
        if not isinstance(cache, (BaseCache, bool)):
            raise TypeError(
                f"cache must be a path, a langchain BaseCache or a bool; got {type(cache).__name__}."
            )
        out["cache"] = cache
    if call_cache is not None and call_cache is not False:
        from chainlab.llms.call_cache import CallCache

        if call_cache is True:
            call_cache = CallCache()
        if not isinstance(call_cache, CallCache):
            raise TypeError(
                f"call_cache must be True or a CallCache; got {type(call_cache).__name__}."
            )
        out["call_cache"] = call_cache
    return out


def _check_defaults(defaults: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(defaults) - _LLM_FIELDS)
    if unknown:
        raise TypeError(
            f"load_llm() got unknown option(s) {unknown}. Generation options are "
            f"{sorted(_LLM_FIELDS)}; pass other model.generate() arguments as "
            "generate_kwargs={...}."
        )
    kwargs = dict(defaults)
    if "max_tokens" in kwargs:
        kwargs["max_new_tokens"] = kwargs.pop("max_tokens")
    opts_mod.resolve(opts_mod.GenerationOptions(), {k: v for k, v in kwargs.items() if k in opts_mod.OPTION_NAMES})
    return kwargs


def _load_config(src: Source, auto_config, trust_remote_code: bool):
    if src.local:
        root = Path(src.ref)
        if not (root / "config.json").exists():
            if (root / "adapter_config.json").exists():
                raise ModelNotFoundError(
                    f"{src.ref} is a PEFT adapter, not a model. Load it onto its base model: "
                    f"load_llm(BASE, adapter={src.name!r})."
                )
            raise ModelNotFoundError(
                f"{src.ref} has no config.json, so it is not a transformers model directory. "
                "Give the directory where save_pretrained() wrote the model."
            )
    try:
        return auto_config.from_pretrained(src.ref, trust_remote_code=trust_remote_code)
    except OSError as exc:
        if src.local:
            raise
        raise hub_unreachable("model", src.name, exc) from exc


def _load_tokenizer(model: Source, adapter: Source | None, trust_remote_code: bool):
    from transformers import AutoTokenizer

    ref = model.ref
    if adapter is not None and adapter.local and any(
        (Path(adapter.ref) / f).exists() for f in _TOKENIZER_FILES
    ):
        ref = adapter.ref
    try:
        return AutoTokenizer.from_pretrained(ref, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise ModelNotFoundError(
            f"Could not load a tokenizer from {ref}: {exc}. Save the tokenizer next to the model "
            "(tokenizer.save_pretrained(dir))."
        ) from exc


def _dtype(dtype: Any, torch) -> Any:
    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    aliases = {"fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32", "float": "float32"}
    name = aliases.get(str(dtype).lower(), str(dtype).lower()).removeprefix("torch.")
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(
            f"Unknown dtype {dtype!r}; use 'float32', 'float16', 'bfloat16', 'auto' or a torch.dtype."
        )
    return value
