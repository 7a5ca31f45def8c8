"""Train a LoRA adapter (peft) on a causal LM from a JSONL file of prompt/completion records.

    chainlab finetune --model chainlab-tiny --data arith.jsonl --out adapters/arith

Data: one JSON object per line, either

* ``{"prompt": "<s>[INST] ... [/INST]", "completion": "..."}`` — the prompt is used verbatim
  (already chat-formatted), or
* ``{"question": "...", "answer": "..."}`` — the question is wrapped as a Llama-2 user turn
  (``<s>[INST] {question} [/INST]``, no system text); the answer may be a string or a number.

Other fields are ignored; blank lines are skipped. The loss is on the completion only; the training
text of a record is ``prompt + " " + completion + " </s>"``.

Output (``--out``): ``adapter_config.json`` + ``adapter_model.safetensors`` (``save_pretrained``,
then stored in float16 like the shipped base: half the size; peft casts the weights to the
model's dtype when it loads them), the tokenizer, ``training_args.json``, ``loss_history.json``
and ``loss_curve.png``. While training, ``checkpoint/`` holds the last checkpoint; rerunning the
same command resumes from it; it is removed once the adapter is saved. An output directory that
already holds an adapter or a model is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from chainlab.models import registry

__all__ = [
    "DEFAULT_TARGET_MODULES",
    "FinetuneError",
    "load_records",
    "resolve_base",
    "check_out_dir",
    "finetune_lora",
    "add_arguments",
    "run",
]

#: Llama attention and MLP projections.
DEFAULT_TARGET_MODULES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)

_MODEL_FILES = ("adapter_config.json", "adapter_model.safetensors", "config.json",
                "model.safetensors")  # fmt: skip


class FinetuneError(ValueError):
    """A user error (bad data, base or output directory), with a message saying what to fix."""


# ---------------------------------------------------------------- data


def _record_pair(obj: object, where: str) -> tuple[str, str]:
    if not isinstance(obj, Mapping):
        raise FinetuneError(f"{where}: expected a JSON object, got {type(obj).__name__}.")
    if "prompt" in obj or "completion" in obj:
        keys = ("prompt", "completion")
    elif "question" in obj or "answer" in obj:
        keys = ("question", "answer")
    else:
        raise FinetuneError(
            f"{where}: needs 'prompt' and 'completion' (or 'question' and 'answer'); "
            f"got keys {sorted(obj)}."
        )
    for k in keys:
        if k not in obj:
            raise FinetuneError(f"{where}: has {keys[1 - keys.index(k)]!r} but no {k!r}.")
    first, second = obj[keys[0]], obj[keys[1]]
    if keys[1] == "answer" and isinstance(second, int | float) and not isinstance(second, bool):
        second = str(second)
    for k, v in zip(keys, (first, second), strict=True):
        if not isinstance(v, str):
            raise FinetuneError(f"{where}: {k!r} must be a string, got {type(v).__name__}.")
        if not v.strip():
            raise FinetuneError(f"{where}: {k!r} is empty.")
    if keys[0] == "question":
        from chainlab.prompts.chat_format import llama2_prompt

        first = llama2_prompt(first)
    return first, second


def load_records(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) pairs of a JSONL file (format in the module docstring).

    Raises:
        FileNotFoundError: no such file.
        FinetuneError: a malformed line (its number and the problem), or no records at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Data file not found: {path}")
    pairs: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FinetuneError(
                    f"{where}: not valid JSON ({exc.msg}, column {exc.colno})."
                ) from None
            pairs.append(_record_pair(obj, where))
    if not pairs:
        raise FinetuneError(f"{path} has no records.")
    return pairs


def _as_pairs(records: Iterable) -> list[tuple[str, str]]:
    out = []
    for i, r in enumerate(records, start=1):
        if isinstance(r, tuple | list) and len(r) == 2:
            out.append(_record_pair({"prompt": r[0], "completion": r[1]}, f"record {i}"))
        else:
            out.append(_record_pair(r, f"record {i}"))
    if not out:
        raise FinetuneError("No training records.")
    return out


# ---------------------------------------------------------------- base and output


def resolve_base(name_or_dir: str | Path) -> Path:
    """Directory of the base model: a packaged name (``chainlab-tiny``) or a local model directory.

    Raises:
        FinetuneError: neither a packaged name nor a directory with a ``config.json``, or an
            adapter directory (give the base model, not an adapter).
        FileNotFoundError: a packaged name whose files are missing from this install.
    """
    p = registry.packaged_path(str(name_or_dir))
    if p is None:
        p = Path(name_or_dir)
        if not p.is_dir():
            names = ", ".join(registry.PACKAGED)
            raise FinetuneError(
                f"Unknown base model {str(name_or_dir)!r}: not a packaged model ({names}) "
                "and not a local directory."
            )
    if (p / "adapter_config.json").exists() and not (p / "config.json").exists():
        raise FinetuneError(f"{p} is a LoRA adapter, not a base model; give the base model.")
    if not (p / "config.json").exists():
        raise FinetuneError(f"{p} has no config.json: not a Hugging Face model directory.")
    return p


def check_out_dir(out_dir: str | Path, overwrite: bool = False) -> Path:
    """Make sure ``out_dir`` can receive an adapter.

    A directory holding an adapter or model files is refused unless ``overwrite`` (then those
    files and any checkpoint are removed). A directory with only an unfinished ``checkpoint/`` is
    accepted: training resumes from it.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FinetuneError(f"Output path {out} exists and is not a directory.")
    if not out.exists():
        return out
    found = [f for f in _MODEL_FILES if (out / f).exists()]
    if found and not overwrite:
        raise FinetuneError(
            f"Output directory {out} already holds a model/adapter ({', '.join(found)}). "
            "Use --overwrite (overwrite=True) to replace it, or choose another directory."
        )
    if overwrite:
        from chainlab.models.sft import CHECKPOINT_DIR

        for f in found:
            (out / f).unlink()
        if (out / CHECKPOINT_DIR).exists():
            shutil.rmtree(out / CHECKPOINT_DIR)
    return out


# ---------------------------------------------------------------- training


def finetune_lora(
    base: str | Path,
    records: Sequence[Mapping | tuple[str, str]] | str | Path,
    out_dir: str | Path,
    *,
    epochs: float = 3.0,
    lr: float = 2e-3,
    rank: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.05,
    target_modules: Sequence[str] = DEFAULT_TARGET_MODULES,
    max_steps: int | None = None,
    batch_size: int = 16,
    max_length: int = 512,
    warmup_ratio: float = 0.05,
    save_every: int = 100,
    seed: int = 0,
    overwrite: bool = False,
    keep_checkpoint: bool = False,
    threads: int | None = None,
    progress: bool = True,
) -> Path:
    """Train a LoRA adapter on ``base`` and save it (with the tokenizer) into ``out_dir``.

    Args:
        base: packaged model name or local model directory.
        records: ``{"prompt", "completion"}`` / ``{"question", "answer"}`` dicts,
            ``(prompt, completion)`` tuples, or the path of a JSONL file of such records.
        out_dir: output directory (see the module docstring for its contents).
        epochs, lr, max_steps, batch_size, max_length, warmup_ratio, save_every, seed: training
            settings (:class:`chainlab.models.sft.SFTConfig`).
        rank, alpha, dropout, target_modules: the ``peft.LoraConfig``.
        overwrite: replace an adapter/model already in ``out_dir``.
        keep_checkpoint: keep ``out_dir/checkpoint`` after saving the adapter.
        threads: ``torch.set_num_threads`` for the run (default: torch's choice). Small models
            on a busy CPU are often fastest with 1.
        progress: tqdm progress bar.

    Returns:
        ``out_dir``.
    """
    pairs = load_records(records) if isinstance(records, str | Path) else _as_pairs(records)
    base_dir = resolve_base(base)
    out = check_out_dir(out_dir, overwrite=overwrite)
    targets = [t.strip() for t in target_modules if t.strip()]
    if not targets:
        raise FinetuneError("No target modules given.")

    import peft
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chainlab.models.sft import (
        CHECKPOINT_DIR,
        CheckpointMismatchError,
        SFTConfig,
        train_sft,
    )

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir, trust_remote_code=False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, trust_remote_code=False, dtype=torch.float32
    )
    leaf_names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                  if isinstance(m, torch.nn.Linear)}  # fmt: skip
    unknown = [t for t in targets if t not in leaf_names]
    if unknown:
        raise FinetuneError(
            f"Target modules {unknown} are not linear layers of {base}; "
            f"available: {', '.join(sorted(leaf_names))}."
        )
    lora = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    cfg = SFTConfig(
        epochs=epochs,
        max_steps=max_steps,
        lr=lr,
        warmup_ratio=warmup_ratio,
        batch_size=batch_size,
        max_length=max_length,
        save_every=save_every,
        seed=seed,
        progress=progress,
    )
    try:
        result = train_sft(model, tokenizer, pairs, cfg, out)
    except CheckpointMismatchError as exc:
        raise FinetuneError(f"{exc} (use --overwrite to discard it)") from None

    model.peft_config["default"].base_model_name_or_path = str(base)
    model.save_pretrained(str(out), safe_serialization=True)
    store_float16(out / "adapter_model.safetensors")
    tokenizer.save_pretrained(str(out))
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    args = {
        "base": str(base),
        "base_path": str(base_dir),
        "data": str(records) if isinstance(records, str | Path) else None,
        "records": len(pairs),
        "epochs": epochs,
        "max_steps": max_steps,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "lr": lr,
        "batch_size": batch_size,
        "max_length": max_length,
        "warmup_ratio": warmup_ratio,
        "seed": seed,
        "lora": {"r": rank, "alpha": alpha, "dropout": dropout, "target_modules": targets},
        "trainable_parameters": n_trainable,
        "final_loss": result.final_loss,
        "dropped_records": result.dropped,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },  # fmt: skip
    }
    (out / "training_args.json").write_text(json.dumps(args, indent=2), encoding="utf-8")
    if not keep_checkpoint and (out / CHECKPOINT_DIR).exists():
        shutil.rmtree(out / CHECKPOINT_DIR)
    return out


def store_float16(path: Path) -> None:
    """Rewrite the float32 tensors of a safetensors file as float16 (metadata kept)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors = {k: v.to(torch.float16) if v.dtype == torch.float32 else v for k, v in tensors.items()}
    save_file(tensors, str(path), metadata=metadata)


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``chainlab finetune``."""
    parser.add_argument("--model", required=True, help="packaged model name or local model dir")
    parser.add_argument("--data", required=True, help="JSONL: prompt+completion or question+answer")
    parser.add_argument("--out", required=True, help="output directory for the adapter")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha")
    parser.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout")
    parser.add_argument(
        "--target-modules",
        default=",".join(DEFAULT_TARGET_MODULES),
        help="comma-separated module names (default: attention and MLP projections)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing adapter")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``chainlab finetune``; returns the exit code (2 on a user error)."""
    try:
        out = finetune_lora(
            args.model,
            args.data,
            args.out,
            epochs=args.epochs,
            lr=args.lr,
            rank=args.rank,
            alpha=args.alpha,
            dropout=args.dropout,
            target_modules=args.target_modules.split(","),
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            max_length=args.max_length,
            save_every=args.save_every,
            seed=args.seed,
            overwrite=args.overwrite,
            threads=args.threads,
            progress=not args.no_progress,
        )
    except (FinetuneError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args_file = out / "training_args.json"
    info = json.loads(args_file.read_text(encoding="utf-8"))
    print(
        f"Saved the adapter to {out} ({info['steps']} steps, final loss {info['final_loss']:.4f})."
    )
    return 0
