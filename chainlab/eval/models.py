"""Loading the model of ``chainlab compare``, with errors that list what is available."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ModelLoadError", "load_model", "describe_models"]


class ModelLoadError(RuntimeError):
    """The model (or adapter) cannot be loaded."""


def describe_models() -> str:
    """The packaged models and whether each is installed."""
    from chainlab.models.registry import PACKAGED, available

    have = set(available())
    return ", ".join(
        f"{name} ({'installed' if name in have else 'not installed'})" for name in PACKAGED
    )


def _valid_hint() -> str:
    return (
        f"Valid models: a packaged name [{describe_models()}], a local model directory, or a "
        f"Hugging Face Hub id in the local cache (downloads need HF_HUB_OFFLINE unset)."
    )


def _offline() -> bool:
    return any(os.environ.get(v) == "1" for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_model(model: str) -> None:
    """Cheap checks before loading (no torch): a packaged name must be installed, a path must
    exist, and offline a Hub id must be in the local cache.

    Raises:
        ModelLoadError: with the list of valid models.
    """
    from chainlab.llms.errors import ModelNotFoundError
    from chainlab.llms.sources import resolve
    from chainlab.models.registry import PACKAGED, available

    if model in PACKAGED and model not in available():
        raise ModelLoadError(
            f"The packaged model {model!r} is not installed in this build (it may still be "
            f"training). {_valid_hint()}"
        )
    try:
        src = resolve(model)
    except (ModelNotFoundError, FileNotFoundError) as exc:
        raise ModelLoadError(f"{exc} {_valid_hint()}") from None
    if not src.local and _offline():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(model, "config.json"), str):
            raise ModelLoadError(
                f"Unknown model {model!r}: not a packaged name, not a local directory, and not in "
                f"the local Hugging Face cache (offline mode). {_valid_hint()}"
            )


def load_model(model: str, adapter: str | None = None, device: str | None = None) -> Any:
    """``load_llm(model, adapter=..., device=...)`` after :func:`check_model`.

    Raises:
        ModelLoadError: unknown/missing model or adapter, or loading failed.
    """
    check_model(model)
    from chainlab.llms import load_llm
    from chainlab.llms.errors import (
        AdapterMismatchError,
        MissingDependencyError,
        ModelNotFoundError,
    )

    try:
        return load_llm(model, adapter=adapter, device=device)
    except (ModelNotFoundError, AdapterMismatchError, MissingDependencyError) as exc:
        raise ModelLoadError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not load model {model!r}: {exc}") from None
