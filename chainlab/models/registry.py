"""Models that ship inside the chainlab package (``chainlab/models/weights/<name>/``).

``load_llm("chainlab-tiny")`` resolves through here, offline, after ``pip install``.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: name -> (kind, description). kind is "model" (a full or GPTQ checkpoint) or "adapter" (PEFT).
PACKAGED: dict[str, tuple[str, str]] = {
    "chainlab-tiny": ("model", "small Llama trained by chainlab on Game of 24 skills"),
    "chainlab-tiny-gptq": ("model", "chainlab-tiny quantized to 4 bits with GPTQ (gptqmodel)"),
    "chainlab-tiny-arith": ("adapter", "LoRA adapter for chainlab-tiny: multi-step arithmetic"),
}


def packaged_path(name: str) -> Path | None:
    """Directory of a packaged model or adapter called ``name``, or None if it is not one.

    Raises:
        FileNotFoundError: ``name`` is a packaged name whose files are missing from this install.
    """
    if name not in PACKAGED:
        return None
    path = WEIGHTS_DIR / name
    if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        raise FileNotFoundError(
            f"The packaged model {name!r} is not in this install ({path} has no config). "
            f"Reinstall chainlab, or build it: see chainlab/models/weights/README.md."
        )
    return path


def available() -> list[str]:
    """Names of the packaged models and adapters present in this install."""
    out = []
    for name in PACKAGED:
        p = WEIGHTS_DIR / name
        if (p / "config.json").exists() or (p / "adapter_config.json").exists():
            out.append(name)
    return out
