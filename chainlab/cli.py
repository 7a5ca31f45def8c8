"""The ``chainlab`` command line: one subcommand per job, each implemented in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help). Each module defines ``add_arguments(parser)`` and ``run(args) -> int``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("chainlab.demo", "run the default strategy comparison on the embedded model"),
    "generate": ("chainlab.llms.cli_generate", "load a model and print a generation"),
    "train-tiny": ("chainlab.models.train_tiny", "train the embedded chainlab-tiny model"),
    "eval-tiny": ("chainlab.models.eval_skills", "measure chainlab-tiny's skills (model card numbers)"),
    "quantize": ("chainlab.models.quantize", "GPTQ-quantize a model with gptqmodel"),
    "finetune": ("chainlab.models.finetune", "train a LoRA adapter with peft"),
    "heldout-loss": ("chainlab.models.heldout_loss", "answer-token loss of chainlab-tiny builds on fresh conversations"),
    "pair-skills": ("chainlab.models.pair_samples", "pair two eval-tiny sample logs item by item (McNemar)"),
    "install-tiny": ("chainlab.models.install_tiny", "install trained builds as the packaged models"),
    "model-card": ("chainlab.models.model_card", "write chainlab-tiny's MODEL_CARD.md from measurements"),
    "arith-data": ("chainlab.models.arith_data", "write the arithmetic SFT data of the adapter"),
    "compare": ("chainlab.eval.cli_compare", "compare prompting strategies on a task"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="chainlab",
        description="chainlab: prompting strategies on local LLMs, from LangChain.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("chainlab"):
                continue  # not built yet
            raise
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chainlab`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
