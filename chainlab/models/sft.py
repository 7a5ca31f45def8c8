"""Supervised fine-tuning on (prompt, completion) pairs, on CPU, with loss only on the completion.

Generic: works with any causal LM (a plain ``transformers`` model or a ``peft`` model; only the
parameters with ``requires_grad`` are trained and checkpointed) and a fast tokenizer.

* :func:`tokenize_pair` — ``prompt`` and ``sep + completion + eos`` are encoded separately and
  concatenated, so the label mask is exact: ``-100`` on every prompt token, the completion's ids
  after it (``-100`` on padding too, see :class:`PadCollator`).
* :func:`bucket_batches` — shuffled, length-bucketed batches (little padding).
* :func:`train_sft` — AdamW, linear warmup then linear decay, gradient clipping, seeded; a tqdm bar
  with the loss; every ``save_every`` steps (and on Ctrl-C) a checkpoint of the trainable weights,
  optimizer state and RNG state in ``<out_dir>/checkpoint/`` (safetensors + JSON, no pickle); a
  later call with the same data and settings resumes from it. The loss history goes to
  ``<out_dir>/loss_history.json`` and ``<out_dir>/loss_curve.png``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

__all__ = [
    "SFTConfig",
    "SFTResult",
    "tokenize_pair",
    "tokenize_pairs",
    "PadCollator",
    "bucket_batches",
    "train_sft",
    "trainable_state_dict",
    "plot_losses",
    "CHECKPOINT_DIR",
    "CheckpointMismatchError",
]

IGNORE_INDEX = -100
CHECKPOINT_DIR = "checkpoint"


class CheckpointMismatchError(ValueError):
    """The checkpoint in the output directory was made by a run with other data or settings."""


@dataclass
class SFTConfig:
    """Training settings of :func:`train_sft`.

    Attributes:
        epochs: passes over the data (fractional allowed); ignored when ``max_steps`` is set.
        max_steps: stop after this many optimizer steps.
        lr: peak learning rate (AdamW).
        weight_decay: AdamW weight decay.
        warmup_ratio: share of the steps with a linear warmup from 0; then linear decay to 0.
        batch_size: sequences per step.
        max_length: truncate sequences to this many tokens (pairs with no completion left are
            dropped).
        grad_clip: max gradient norm (0 disables clipping).
        seed: seeds the data order and torch's RNG (dropout).
        save_every: checkpoint every this many steps (0: only at the end and on Ctrl-C).
        bucket_size: batches per length bucket (sorted by length inside a bucket).
        sep: text between the prompt and the completion.
        eos: text appended to the completion (the model learns to stop).
        progress: show a tqdm progress bar.
    """

    epochs: float = 1.0
    max_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    batch_size: int = 8
    max_length: int = 512
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int = 100
    bucket_size: int = 50
    sep: str = " "
    eos: str = " </s>"
    progress: bool = True


@dataclass
class SFTResult:
    """What :func:`train_sft` did."""

    steps: int
    total_steps: int
    resumed_from: int = 0
    final_loss: float | None = None
    history: list[dict] = field(default_factory=list)
    dropped: int = 0


# ---------------------------------------------------------------- tokenization


def tokenize_pair(
    tokenizer,
    prompt: str,
    completion: str,
    *,
    max_length: int | None = None,
    sep: str = " ",
    eos: str = " </s>",
) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` for one pair; labels are ``-100`` on the prompt tokens.

    The prompt is encoded on its own (``add_special_tokens=False``: Llama-2 prompts already start
    with ``<s>``), then ``sep + completion + eos``; the ids are concatenated, so the prompt part is
    exactly what the model sees at inference. Truncated to ``max_length`` from the end.
    """
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(sep + completion + eos, add_special_tokens=False)["input_ids"]
    ids = list(p_ids) + list(c_ids)
    labels = [IGNORE_INDEX] * len(p_ids) + list(c_ids)
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}


def tokenize_pairs(
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    *,
    max_length: int | None = None,
    sep: str = " ",
    eos: str = " </s>",
) -> tuple[list[dict[str, list[int]]], int]:
    """Tokenize many pairs (batched); returns (examples, number dropped for having no completion
    token left after truncation)."""
    if not pairs:
        return [], 0
    prompts = [p for p, _ in pairs]
    completions = [sep + c + eos for _, c in pairs]
    p_all = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    c_all = tokenizer(completions, add_special_tokens=False)["input_ids"]
    out, dropped = [], 0
    for p_ids, c_ids in zip(p_all, c_all, strict=True):
        ids = list(p_ids) + list(c_ids)
        labels = [IGNORE_INDEX] * len(p_ids) + list(c_ids)
        if max_length is not None:
            ids, labels = ids[:max_length], labels[:max_length]
        if all(x == IGNORE_INDEX for x in labels):
            dropped += 1
            continue
        out.append({"input_ids": ids, "labels": labels})
    return out, dropped


class PadCollator:
    """Right-pads a list of examples into ``input_ids``, ``attention_mask``, ``labels`` tensors.

    Padding positions get ``pad_token_id`` in ``input_ids``, 0 in the mask and ``-100`` in labels.
    """

    def __init__(self, pad_token_id: int):
        self.pad_token_id = int(pad_token_id)

    def __call__(self, examples: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        for i, e in enumerate(examples):
            n = len(e["input_ids"])
            ids[i, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
            labels[i, :n] = torch.tensor(e["labels"], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def bucket_batches(
    lengths: Sequence[int], batch_size: int, seed: int, bucket_size: int = 50
) -> list[list[int]]:
    """Index batches for one epoch: shuffle, sort by length inside chunks of ``bucket_size``
    batches, cut into batches, shuffle the batch order. Deterministic for a given ``seed``."""
    rng = random.Random(seed)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = max(1, batch_size * bucket_size)
    batches: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


# ---------------------------------------------------------------- checkpoints


def trainable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters with ``requires_grad`` (detached, contiguous copies), by name."""
    return {
        n: p.detach().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad
    }


def _save_checkpoint(
    ckpt: Path, model, optimizer, step: int, history: list[dict], run_id: str
) -> None:
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(trainable_state_dict(model), str(tmp / "trainable.safetensors"))
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for pid, pstate in state["state"].items():
        for k, v in pstate.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v.detach().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    tensors["__torch_rng__"] = torch.get_rng_state()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    meta = {
        "step": step,
        "run_id": run_id,
        "param_groups": state["param_groups"],
        "scalars": scalars,
        "python_rng": _py_rng_state(),
        "history": history,
    }
    (tmp / "trainer_state.json").write_text(json.dumps(meta), encoding="utf-8")
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)


def _py_rng_state() -> list:
    v, s, g = random.getstate()
    return [v, list(s), g]


def _load_checkpoint(ckpt: Path, model, optimizer) -> tuple[int, list[dict], str]:
    meta = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    weights = load_file(str(ckpt / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing:
        raise ValueError(f"Checkpoint {ckpt} does not match the model (missing {missing[:3]}...).")
    with torch.no_grad():
        for n, t in weights.items():
            params[n].copy_(t)
    tensors = load_file(str(ckpt / "optimizer.safetensors"))
    rng_state = tensors.pop("__torch_rng__")
    opt_state: dict[int, dict] = {}
    for key, t in tensors.items():
        pid, k = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[k] = t
    for pid, sc in meta["scalars"].items():
        opt_state.setdefault(int(pid), {}).update(sc)
    optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(rng_state)
    v, s, g = meta["python_rng"]
    random.setstate((v, tuple(s), g))
    return int(meta["step"]), list(meta["history"]), meta.get("run_id", "")


def _run_id(examples: Sequence[dict], config: SFTConfig, names: Sequence[str]) -> str:
    """Fingerprint of data + settings + trainable parameter names: a checkpoint resumes only a
    run with the same one."""
    h = hashlib.sha256()
    cfg = {k: v for k, v in asdict(config).items() if k not in ("progress", "save_every")}
    h.update(json.dumps(cfg, sort_keys=True).encode())
    h.update(json.dumps(list(names)).encode())
    for e in examples:
        h.update(json.dumps(e["input_ids"]).encode())
        h.update(json.dumps(e["labels"]).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- plotting


def plot_losses(history: Sequence[dict], path: str | Path, title: str = "training loss") -> Path:
    """Save a loss-curve PNG of ``history`` (``{"step", "loss"}`` records) with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    losses = [h["loss"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, losses, lw=1, alpha=0.5, label="loss")
    if len(losses) >= 10:
        w = max(2, len(losses) // 20)
        smooth = [sum(losses[max(0, i - w + 1) : i + 1]) / len(losses[max(0, i - w + 1) : i + 1])
                  for i in range(len(losses))]  # fmt: skip
        ax.plot(steps, smooth, lw=2, label=f"mean of {w}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- training loop


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def train_sft(
    model: torch.nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    config: SFTConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    resume: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> SFTResult:
    """Fine-tune ``model`` on ``(prompt, completion)`` pairs, loss on the completion tokens only.

    Args:
        model: a causal LM returning ``.loss`` when given ``labels``; its ``requires_grad``
            parameters are trained (all of them for a plain model, the adapter for a peft model).
        tokenizer: a fast tokenizer; ``pad_token_id`` (else ``eos_token_id``) pads batches.
        pairs: the training data.
        config: settings (default :class:`SFTConfig`).
        out_dir: where checkpoints, ``loss_history.json`` and ``loss_curve.png`` go (None: none).
        resume: continue from ``<out_dir>/checkpoint`` when it exists and was made by a run with
            the same data and settings (else :class:`CheckpointMismatchError`).
        on_step: called with ``(step, loss)`` after every optimizer step.

    Returns:
        An :class:`SFTResult`; the model is left in eval mode with the trained weights.
    """
    from tqdm.auto import tqdm

    cfg = config or SFTConfig()
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    examples, dropped = tokenize_pairs(
        tokenizer, pairs, max_length=cfg.max_length, sep=cfg.sep, eos=cfg.eos
    )
    if not examples:
        raise ValueError("No training examples (empty data, or every completion truncated away).")
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    collate = PadCollator(pad_id)
    lengths = [len(e["input_ids"]) for e in examples]
    per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps else max(1, math.ceil(per_epoch * cfg.epochs))
    warmup = int(total * cfg.warmup_ratio)

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(
            "The model has no trainable parameters (requires_grad is False everywhere)."
        )
    optimizer = torch.optim.AdamW([p for _, p in named], lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(warmup, total))
    run_id = _run_id(examples, cfg, [n for n, _ in named])

    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT_DIR if out is not None else None
    step, history = 0, []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and ckpt is not None and (ckpt / "trainer_state.json").exists():
            saved_id = json.loads((ckpt / "trainer_state.json").read_text())["run_id"]
            if saved_id != run_id:
                raise CheckpointMismatchError(
                    f"{ckpt} holds a checkpoint of a different run (other data or settings). "
                    "Delete it, or start fresh (resume=False / --overwrite)."
                )
            step, history, _ = _load_checkpoint(ckpt, model, optimizer)
            for group in optimizer.param_groups:  # LambdaLR reads initial_lr; keep it in sync
                group.setdefault("initial_lr", cfg.lr)
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, _lr_lambda(warmup, total), last_epoch=step - 1
            )
    resumed_from = step

    def save() -> None:
        if ckpt is not None:
            _save_checkpoint(ckpt, model, optimizer, step, history, run_id)
            _write_history(out, history)

    model.train()
    bar = tqdm(total=total, initial=step, disable=not cfg.progress, desc="sft", unit="step")
    try:
        while step < total:
            epoch, offset = divmod(step, per_epoch)
            batches = bucket_batches(lengths, cfg.batch_size, cfg.seed * 1_000_003 + epoch,
                                     cfg.bucket_size)  # fmt: skip
            for batch_idx in batches[offset:]:
                if step >= total:
                    break
                batch = collate([examples[i] for i in batch_idx])
                loss = model(**batch).loss
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_([p for _, p in named], cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                value = float(loss.detach())
                history.append({"step": step, "loss": value, "lr": scheduler.get_last_lr()[0]})
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}")
                if cfg.save_every and step % cfg.save_every == 0 and step < total:
                    save()
                if on_step is not None:
                    on_step(step, value)
    except KeyboardInterrupt:
        save()
        raise
    finally:
        bar.close()
        model.eval()
    save()
    return SFTResult(
        steps=step,
        total_steps=total,
        resumed_from=resumed_from,
        final_loss=history[-1]["loss"] if history else None,
        history=history,
        dropped=dropped,
    )


def _write_history(out: Path | None, history: list[dict]) -> None:
    if out is None:
        return
    (out / "loss_history.json").write_text(json.dumps(history, indent=0), encoding="utf-8")
    if history:
        plot_losses(history, out / "loss_curve.png")
