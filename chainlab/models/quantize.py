"""GPTQ-quantize a causal LM with gptqmodel, into a checkpoint ``load_llm`` loads (on CPU too).

    chainlab quantize --model chainlab-tiny --bits 4 --group-size 32 --out runs/tiny-gptq

Calibration texts come from ``--calibration FILE`` (``.txt``: one text per non-empty line;
``.jsonl``: one JSON string or ``{"text": ...}`` object per line), else from chainlab's
embedded task data (``chainlab.models.tiny_data.calibration_texts``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_MODEL_MARKERS = ("config.json", "quantize_config.json", "adapter_config.json", "model.safetensors")


def quantize_gptq(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    bits: int = 4,
    group_size: int = 32,
    calibration_texts: Sequence[str],
    desc_act: bool = False,
    overwrite: bool = False,
    device: str | None = None,
) -> Path:
    """Quantize ``model_dir`` with GPTQ (gptqmodel) and save the checkpoint in ``out_dir``.

    Args:
        model_dir: a model directory, packaged name (``"chainlab-tiny"``) or cached Hub id.
        out_dir: where to write the quantized model (config.json with ``quantization_config``,
            packed weights, tokenizer). Written to a temporary sibling, then moved into place.
        bits: weight bits (2, 3, 4 or 8).
        group_size: columns sharing one scale (-1 = one group per row); must divide the layers'
            input sizes.
        calibration_texts: texts run through the model to measure activations (a few dozen
            representative texts of >= 10 tokens).
        desc_act: quantize columns in order of decreasing activation (slower kernels).
        overwrite: replace an existing model directory at ``out_dir``.
        device: ``"cpu"`` or ``"cuda"``; default CUDA when available.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``out_dir`` holds files and ``overwrite`` is False (or is not a model dir).
        ValueError: bad ``bits``/``group_size``/calibration texts, or ``out_dir`` == ``model_dir``.
        MissingDependencyError: gptqmodel/optimum not importable.
    """
    from chainlab.llms.gptq import require_gptq
    from chainlab.llms.sources import resolve

    if bits not in (2, 3, 4, 8):
        raise ValueError(f"bits must be 2, 3, 4 or 8; got bits={bits}.")
    if group_size != -1 and group_size < 1:
        raise ValueError(f"group_size must be -1 or >= 1 (e.g. 32, 128); got {group_size}.")
    texts = [t for t in (calibration_texts or []) if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError(
            "calibration_texts is empty: give a few dozen representative texts "
            "(--calibration FILE.txt with one text per line)."
        )
    src = resolve(model_dir, "model")
    out = Path(out_dir).expanduser().resolve()
    if src.local and (out == Path(src.ref) or out in Path(src.ref).parents):
        raise ValueError(f"out_dir {out} would overwrite the model being quantized; choose another --out.")
    _check_out_dir(out, overwrite)
    require_gptq("GPTQ quantization")

    import torch
    from gptqmodel import GPTQModel, QuantizeConfig

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    config = QuantizeConfig(bits=bits, group_size=group_size, desc_act=desc_act, offload_to_disk=False)
    model = GPTQModel.load(src.ref, config, device=device)
    model.quantize(texts, batch_size=1, calibration_data_min_length=_min_length(model, texts))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save(str(tmp))
        (tmp / "quant_log.csv").unlink(missing_ok=True)
        if src.local:
            carry_training_record(Path(src.ref), tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


TRAINING_RECORDS = ("training_summary.json", "training_log.json")


def carry_training_record(src: Path, out: Path) -> Path | None:
    """Copy ``src``'s training record (its ``training_summary.json``, else its
    ``training_log.json``) into the quantized checkpoint ``out``, so what reads a model's recipe
    (e.g. ``eval-tiny``'s judge layout) reads the same recipe from its GPTQ variant. Returns the
    copied file, None when ``src`` has no record (e.g. a Hub model)."""
    for name in TRAINING_RECORDS:
        if (src / name).is_file():
            return Path(shutil.copyfile(src / name, out / name))
    return None


def _min_length(model, texts: Sequence[str]) -> int:
    """gptqmodel drops calibration texts under 10 tokens; keep the short ones if all are short."""
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        return 10
    return max(1, min(10, max(len(tok(t)["input_ids"]) for t in texts)))


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a directory path.")
    entries = list(out.iterdir())
    if not entries:
        return
    looks_like_model = any((out / m).exists() for m in _MODEL_MARKERS)
    if not overwrite:
        raise FileExistsError(
            f"{out} already exists and is not empty; pass overwrite=True (--overwrite) to replace "
            "it, or choose another --out."
        )
    if not looks_like_model:
        raise FileExistsError(
            f"{out} is not empty and does not look like a model directory (no config.json); "
            "refusing to delete it even with --overwrite. Choose another --out."
        )


def read_calibration_file(path: str | Path) -> list[str]:
    """Texts from a ``.txt`` (one per non-empty line) or ``.jsonl`` (string or {"text"}) file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Calibration file {p} does not exist.")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if p.suffix.lower() not in (".jsonl", ".json"):
        return lines
    texts = []
    for i, line in enumerate(lines, 1):
        item = json.loads(line)
        if isinstance(item, dict):
            item = item.get("text")
        if not isinstance(item, str):
            raise ValueError(f"{p}:{i}: expected a JSON string or an object with a 'text' string.")
        texts.append(item)
    return texts


def default_calibration_texts() -> list[str]:
    """chainlab's embedded calibration texts (ImportError if that module is unavailable)."""
    from chainlab.models.tiny_data import calibration_texts

    texts = calibration_texts() if callable(calibration_texts) else calibration_texts
    return list(texts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``chainlab quantize``."""
    parser.add_argument("--model", required=True, help="model directory or packaged name")
    parser.add_argument("--bits", type=int, default=4, help="weight bits (default 4)")
    parser.add_argument("--group-size", type=int, default=32, help="GPTQ group size (default 32)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--calibration", help="calibration texts: FILE.txt (one per line) or FILE.jsonl")
    parser.add_argument("--desc-act", action="store_true", help="act-order quantization")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out model")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    """Run ``chainlab quantize``."""
    from chainlab.llms.errors import MissingDependencyError, ModelNotFoundError

    try:
        if args.calibration:
            texts = read_calibration_file(args.calibration)
        else:
            try:
                texts = default_calibration_texts()
            except ImportError as exc:
                print(
                    f"error: no --calibration file given and the default calibration texts are "
                    f"unavailable ({exc}); pass --calibration FILE.txt",
                    file=sys.stderr,
                )
                return 2
        out = quantize_gptq(
            args.model,
            args.out,
            bits=args.bits,
            group_size=args.group_size,
            calibration_texts=texts,
            desc_act=args.desc_act,
            overwrite=args.overwrite,
            device=args.device,
        )
    except (FileExistsError, FileNotFoundError, ValueError, ModelNotFoundError, MissingDependencyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"GPTQ {args.bits}-bit model written to {out}")
    return 0
