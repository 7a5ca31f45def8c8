"""``chainlab heldout-loss``: answer-token loss of chainlab-tiny builds on conversations none trained on.

A run's training loss is measured on its own batches while it learns, so two runs with different
data, batches or schedules cannot be compared by it. This draws one fixed set of first-stage
conversations (``--conversations`` of them with ``--seed``, 4242 by default — not a seed any
training stage uses) and reports every model's mean cross-entropy on the answer tokens, overall and
per skill, in float32 (``--bf16`` for bfloat16 autocast as well). ``--recipe-of MODEL`` draws
them in the formats of the stage that trained MODEL instead (a later stage's layouts differ). The research notes compare first
stages by it (sessions 43–47): 3,000 conversations give 277,322 answer tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HELDOUT_SEED = 4242


def add_arguments(p: argparse.ArgumentParser) -> None:
    """CLI options of ``chainlab heldout-loss``."""
    p.add_argument("models", nargs="+", metavar="MODEL", help="model directories or packaged names")
    p.add_argument(
        "--conversations", type=int, default=3000, help="conversations drawn (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=HELDOUT_SEED,
        help="seed of the drawn conversations (default: %(default)s; train-tiny's stages use 0–5)",
    )
    p.add_argument(
        "--recipe-of", metavar="MODEL",
        help="draw the conversations with the data options of the stage that trained MODEL (its "
        "training_log.json or training_summary.json), e.g. a fourth stage's formats; default: the "
        "first stage's recipe",
    )
    p.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per batch")
    p.add_argument("--bf16", action="store_true", help="also measure under bfloat16 autocast")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", help="write the numbers as JSON here")


def stage_recipe(model_dir: Path):
    """The data recipe of the stage that trained ``model_dir``, from its ``training_log.json``
    (a train-tiny output) or ``training_summary.json`` (an installed model)."""
    from chainlab.models.train_tiny import recipe_from_config

    for name in ("training_log.json", "training_summary.json"):
        if (model_dir / name).exists():
            return recipe_from_config(json.loads((model_dir / name).read_text())["config"])
    raise FileNotFoundError(
        f"--recipe-of {model_dir}: no training_log.json or training_summary.json records the data "
        "options it was trained with; give a train-tiny output directory or a packaged model."
    )


def heldout_records(conversations: int, seed: int = HELDOUT_SEED, recipe=None) -> list[dict]:
    """``conversations`` training records drawn with ``seed`` from ``recipe`` (a
    :class:`~chainlab.models.tiny_data.DataRecipe`; default: the first stage's)."""
    from chainlab.models.tiny_data import write_dataset
    from chainlab.models.train_tiny import load_records

    if conversations < 1:
        raise ValueError(f"--conversations must be at least 1, got {conversations}.")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dataset(Path(tmp) / "heldout.jsonl", conversations, seed, recipe)
        return load_records(path)


def answer_token_loss(model_dir: Path, records: list[dict], batch_tokens: int = 4096, bf16: bool = False) -> dict:
    """Mean cross-entropy of the model in ``model_dir`` on the answer tokens of ``records``:
    ``{"loss", "tokens", "by_skill": {skill: {"loss", "tokens"}}}``. The model reads each
    conversation with its own tokenizer, so builds with different vocabularies compare fairly
    only as far as their tokenizers segment the answers alike."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import AutoTokenizer, LlamaForCausalLM

    from chainlab.models.train_tiny import answer_positions, encode, make_batches, pad_batch

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    encoded = encode(records, tok)
    lengths = [len(ids) for ids, _ in encoded]
    sums = torch.zeros(len(records), dtype=torch.float64)
    counts = torch.zeros(len(records), dtype=torch.long)
    batches = make_batches(lengths, batch_tokens, 0)
    for idx in tqdm(batches, desc=f"held-out loss {Path(model_dir).name}", unit="batch", leave=False):
        ids, att, lab, _ = pad_batch(encoded, idx, tok.eos_token_id)
        rows = torch.tensor(idx)[(lab[:, 1:] != -100).nonzero()[:, 0]]  # the record of each target
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            states = model.model(input_ids=ids, attention_mask=att).last_hidden_state
            hidden, target = answer_positions(states, lab)
            ce = F.cross_entropy(model.lm_head(hidden).float(), target, reduction="none")
        sums.index_add_(0, rows, ce.double())
        counts.index_add_(0, rows, torch.ones_like(rows))
    by_skill: dict[str, dict] = {}
    for rec, s, c in zip(records, sums.tolist(), counts.tolist(), strict=True):
        entry = by_skill.setdefault(rec.get("skill", "?"), {"sum": 0.0, "tokens": 0})
        entry["sum"] += s
        entry["tokens"] += c
    total = int(counts.sum())
    if total == 0:
        raise ValueError(f"{model_dir}: the conversations have no answer tokens to score.")
    return {
        "loss": round(float(sums.sum()) / total, 5),
        "tokens": total,
        "by_skill": {
            k: {"loss": round(v["sum"] / v["tokens"], 5), "tokens": v["tokens"]}
            for k, v in sorted(by_skill.items()) if v["tokens"]
        },
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chainlab heldout-loss``."""
    from chainlab.models.train_tiny import resolve_init

    paths = [resolve_init(m, "heldout-loss") for m in args.models]  # every name is checked before the long part
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    recipe = stage_recipe(resolve_init(args.recipe_of, "--recipe-of")) if args.recipe_of else None
    records = heldout_records(args.conversations, args.seed, recipe)
    results = []
    for name, path in zip(args.models, paths, strict=True):
        res = {"model": name, "conversations": args.conversations, "seed": args.seed, "recipe_of": args.recipe_of}
        res["fp32"] = answer_token_loss(path, records, args.batch_tokens)
        if args.bf16:
            res["bf16"] = answer_token_loss(path, records, args.batch_tokens, bf16=True)
        results.append(res)
        skills = "  ".join(f"{k} {v['loss']:.4f}" for k, v in res["fp32"]["by_skill"].items())
        bf16 = f"  (bf16 {res['bf16']['loss']:.5f})" if args.bf16 else ""
        print(f"{name}: {res['fp32']['loss']:.5f} on {res['fp32']['tokens']} answer tokens{bf16}  |  {skills}")
        if args.out:  # written after every model: a long comparison keeps what it measured
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m chainlab.models.heldout_loss", description=__doc__)
    add_arguments(p)
    sys.exit(run(p.parse_args()))
