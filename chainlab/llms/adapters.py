"""Loading PEFT/LoRA adapters onto a base model, after checking they were made for it.

A LoRA adapter trained on another base model either fails deep inside torch with a "size
mismatch" or, worse, loads silently when only some shapes agree. :func:`check_adapter_fits`
compares the adapter's recorded base model and the shapes of its LoRA weights with the model's
layers first, and raises :class:`~chainlab.llms.errors.AdapterMismatchError` naming both.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from chainlab.llms.errors import AdapterMismatchError, ModelNotFoundError
from chainlab.llms.sources import Source, hub_unreachable

_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[\w-]+)?\.weight$")


def read_adapter_config(src: Source) -> dict[str, Any]:
    """The adapter's ``adapter_config.json`` as a dict."""
    if src.local:
        cfg = Path(src.ref) / "adapter_config.json"
        if not cfg.exists():
            hint = " It has a config.json: pass it as the model, not as adapter=." if (
                Path(src.ref) / "config.json"
            ).exists() else ""
            raise ModelNotFoundError(
                f"{src.ref} is not a PEFT adapter directory: it has no adapter_config.json.{hint}"
            )
        return json.loads(cfg.read_text())
    try:
        from peft import PeftConfig

        return PeftConfig.from_pretrained(src.ref).to_dict()
    except Exception as exc:
        raise hub_unreachable("adapter", src.name, exc) from exc


def _same_base(recorded: str | None, model: Source) -> bool:
    if not recorded:
        return True
    names = {model.name, model.ref, Path(model.ref).name}
    return recorded in names or Path(recorded).name in names


def lora_shape_problems(model, weights_file: Path) -> list[str]:
    """Mismatches between the LoRA weights in ``weights_file`` and the model's layers."""
    from safetensors import safe_open

    problems: list[str] = []
    with safe_open(str(weights_file), framework="pt") as f:
        for key in f.keys():
            m = _LORA_KEY.match(key)
            if not m:
                continue
            name, ab = m.group("module"), m.group("ab")
            shape = f.get_slice(key).get_shape()
            try:
                module = model.get_submodule(name)
            except AttributeError:
                problems.append(f"{name}: no such layer in the model")
                continue
            if ab == "A":
                expected, got, what = getattr(module, "in_features", None), shape[-1], "in_features"
            else:
                expected, got, what = getattr(module, "out_features", None), shape[0], "out_features"
            if expected is not None and int(expected) != int(got):
                problems.append(f"{name}: adapter has {what}={got}, model has {expected}")
    return list(dict.fromkeys(problems))


def check_adapter_fits(model, adapter: Source, base: Source, config: dict[str, Any]) -> None:
    """Raise ``AdapterMismatchError`` if the adapter's LoRA shapes don't fit ``model``.

    A different recorded ``base_model_name_or_path`` with fitting shapes only warns (the same
    model often lives under several paths).
    """
    recorded = config.get("base_model_name_or_path")
    weights = Path(adapter.ref) / "adapter_model.safetensors" if adapter.local else None
    problems = lora_shape_problems(model, weights) if weights and weights.exists() else []
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise AdapterMismatchError(
            f"The adapter {adapter.name!r} does not fit the model {base.name!r}: it was trained on "
            f"{recorded!r}, and its LoRA weights don't match the model's layers ({shown}). Load it "
            f"onto the base model it was trained for (load_llm({recorded!r}, adapter=...)), or "
            "train an adapter for this model."
        )
    if not _same_base(recorded, base):
        warnings.warn(
            f"The adapter {adapter.name!r} records base model {recorded!r} but is loaded onto "
            f"{base.name!r}; the layer shapes fit, so loading anyway.",
            stacklevel=3,
        )


def attach_adapter(model, adapter: Source, base: Source, *, merge: bool, quantized: bool):
    """Check and load ``adapter`` onto ``model`` with peft; merge it when ``merge``."""
    from peft import PeftModel

    config = read_adapter_config(adapter)
    check_adapter_fits(model, adapter, base, config)
    if merge and quantized:
        raise ValueError(
            "merge_adapter=True cannot merge LoRA weights into a GPTQ-quantized model (its weights "
            "are packed integers). Use merge_adapter=False (the adapter runs beside the quantized "
            "layers), or merge into the unquantized model and quantize the result."
        )
    try:
        peft_model = PeftModel.from_pretrained(model, adapter.ref, is_trainable=False)
    except RuntimeError as exc:
        if "size mismatch" in str(exc):
            raise AdapterMismatchError(
                f"The adapter {adapter.name!r} does not fit the model {base.name!r} (trained on "
                f"{config.get('base_model_name_or_path')!r}): {str(exc).splitlines()[0]}. Load it "
                "onto the base model it was trained for."
            ) from exc
        raise
    except OSError as exc:
        if adapter.local:
            raise
        raise hub_unreachable("adapter", adapter.name, exc) from exc
    if merge:
        return peft_model.merge_and_unload()
    return peft_model
