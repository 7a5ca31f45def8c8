"""Install trained builds into the models that ship inside chainlab (``chainlab/models/weights``).

    chainlab install-tiny --model runs/chainlab-tiny
    chainlab install-tiny --adapter runs/chainlab-tiny-arith --gptq runs/chainlab-tiny-gptq

Copies exactly the files that ship — safetensors weights, JSON configs, the tokenizer, the chat
template and the loss curve; no checkpoints, data or pickles — into ``chainlab-tiny``,
``chainlab-tiny-arith`` and ``chainlab-tiny-gptq``. Every file is checked before any is copied, so
a build with a missing file leaves the installed model as it was. ``--model`` (a ``chainlab
train-tiny`` run) also writes ``training_summary.json``, which the model card reads: the run's
``training_log.json`` without its per-step history and, for a run that continued another
(``--init-from``), that run's summary the same way under ``base`` (recursively; an installed
init model's ``training_summary.json`` as it is). ``--gptq`` also ships the
``training_summary.json`` that ``chainlab quantize`` carried over from its source, when there is
one. ``make tiny-release`` runs this
between training and measuring.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from chainlab.models.model_card import REBUILD_FILE
from chainlab.models.registry import WEIGHTS_DIR

#: kind -> (packaged name, files that ship, the command that builds it)
SHIPPED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "model": (
        "chainlab-tiny",
        ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
         "tokenizer_config.json", "chat_template.jinja", "loss_curve.png"),
        "chainlab train-tiny",
    ),
    "adapter": (
        "chainlab-tiny-arith",
        ("adapter_config.json", "adapter_model.safetensors", "chat_template.jinja", "loss_curve.png",
         "tokenizer.json", "tokenizer_config.json", "training_args.json"),
        "chainlab finetune",
    ),
    "gptq": (
        "chainlab-tiny-gptq",
        ("chat_template.jinja", "config.json", "generation_config.json", "model.safetensors",
         "quantize_config.json", "tokenizer.json", "tokenizer_config.json"),
        "chainlab quantize",
    ),
}

#: kind -> files that ship when the build has them (a GPTQ variant of a chainlab model carries that
#: model's training summary, which ``eval-tiny`` reads for the judge layout)
SHIPPED_IF_PRESENT: dict[str, tuple[str, ...]] = {"gptq": ("training_summary.json",)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``chainlab install-tiny``."""
    p.add_argument("--model", help="a finished `chainlab train-tiny` run directory")
    p.add_argument("--adapter", help="a `chainlab finetune` output directory")
    p.add_argument("--gptq", help="a `chainlab quantize` output directory")
    p.add_argument(
        "--weights-dir", default=str(WEIGHTS_DIR),
        help="where the packaged models live (default: this install's chainlab/models/weights)",
    )


def _log_without_history(run: Path) -> dict:
    path = run / "training_log.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{run} holds no training_log.json: it is not a finished `chainlab train-tiny` run "
            "(rerun the same train-tiny command to finish it)."
        )
    log = json.loads(path.read_text())
    log.pop("history", None)
    return log


def training_summary(run: Path) -> dict:
    """``training_log.json`` of ``run`` without its history; the run it continued under ``base``,
    summarised the same way (so a model trained in three stages nests two levels deep).

    A continued run's init model may also be an installed one (a ``training_summary.json`` beside
    its weights, e.g. an earlier stage taken from git): its summary is used as it is.
    """
    summary = _log_without_history(run)
    init_from = summary.get("config", {}).get("init_from")
    if init_from:
        base = Path(init_from)
        if (base / "training_log.json").exists():
            summary["base"] = training_summary(base)
        elif (base / "training_summary.json").exists():
            summary["base"] = json.loads((base / "training_summary.json").read_text())
        else:
            raise FileNotFoundError(
                f"{run} continued {base}, which holds neither training_log.json nor "
                "training_summary.json: the model card needs every earlier stage's log; keep "
                f"{base} until the model is installed."
            )
    return summary


def check_build(src: Path, kind: str) -> dict | None:
    """Raise FileNotFoundError unless ``src`` holds every file that ships for ``kind`` (model,
    adapter or gptq); returns the training summary of a model, else None."""
    name, files, command = SHIPPED[kind]
    if not src.is_dir():
        raise FileNotFoundError(f"--{kind} {src}: no such directory.")
    missing = [f for f in files if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{src} lacks {', '.join(missing)}: not a finished `{command}` output; nothing was "
            f"installed into {name}."
        )
    return training_summary(src) if kind == "model" else None


def install(src: Path, kind: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """Copy the shipped files of build ``src`` (``kind``: model, adapter or gptq) into
    ``weights_dir``; returns the packaged model's directory.

    Raises:
        FileNotFoundError: ``src`` lacks a file that ships (nothing is copied then).
    """
    summary = check_build(src, kind)
    name, files, _ = SHIPPED[kind]
    dest = weights_dir / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(src / f, dest / f)
    for f in SHIPPED_IF_PRESENT.get(kind, ()):
        if (src / f).is_file():
            shutil.copyfile(src / f, dest / f)
        else:  # a stale record of earlier weights must not describe these
            (dest / f).unlink(missing_ok=True)
    if summary is not None:
        (dest / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        # the new weights are `make tiny-model`'s own: a stored rebuild of other weights no longer applies
        (dest / REBUILD_FILE).unlink(missing_ok=True)
    return dest


def run(args: argparse.Namespace) -> int:
    """``chainlab install-tiny``: install the given builds."""
    builds = [(kind, getattr(args, kind)) for kind in SHIPPED if getattr(args, kind)]
    if not builds:
        print("error: nothing to install; give --model, --adapter and/or --gptq.", file=sys.stderr)
        return 2
    try:
        for kind, src in builds:  # every build is checked before any is installed
            check_build(Path(src), kind)
        for kind, src in builds:
            dest = install(Path(src), kind, Path(args.weights_dir))
            print(f"installed {src} as {dest}")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
