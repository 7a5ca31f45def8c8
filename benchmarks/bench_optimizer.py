"""Benchmark the optimizer step of ``chainlab train-tiny``: AdamW against Muon, in one run.

Both take steps on the shipped ``chainlab-tiny`` weights with the same real gradients (one
backward pass of a batch of freshly generated training conversations, about 4,096 tokens, as in
training), interleaved step by step so that the machine's drifting speed hits both alike:

1. **AdamW** (fused, every weight; ``train-tiny --optimizer adamw``, the default and what a
   competent PyTorch user writes).
2. **Muon** (``train-tiny --optimizer muon``): ``torch.optim.Muon`` on the transformer blocks'
   matrices, fused AdamW on the embedding and norms (:mod:`chainlab.models.training_optimizer`).

It prints the seconds per optimizer step of each, Muon's extra seconds, and a full training step
(forward, backward, optimizer) of the same batch for scale, so the extra time reads as a share of
a step.

Run: ``.venv/bin/python benchmarks/bench_optimizer.py [--threads 2] [--steps 20] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def one_batch(tok, seed: int):
    """The padded tensors of the first ~4,096-token batch of freshly generated conversations."""
    import tempfile
    from pathlib import Path

    from chainlab.models.tiny_data import write_dataset
    from chainlab.models.train_tiny import encode, load_records, make_batches, pad_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        write_dataset(path, 400, seed)
        encoded = encode(load_records(path), tok)
    batch = make_batches([len(ids) for ids, _ in encoded], 4096, seed)[0]
    return pad_batch(encoded, batch, tok.eos_token_id)[:3]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="timed steps per optimizer")
    p.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args(argv)

    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from chainlab.models.registry import packaged_path
    from chainlab.models.training_optimizer import build_optimizer

    torch.set_num_threads(args.threads)
    path = packaged_path("chainlab-tiny")
    tok = AutoTokenizer.from_pretrained(path)
    base = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32)
    ids, att, lab = one_batch(tok, seed=7)
    models = {name: copy.deepcopy(base) for name in ("adamw", "muon")}
    opts = {name: build_optimizer(m, name, 1e-4, 0.1) for name, m in models.items()}

    def train_step(name: str) -> tuple[float, float]:
        """(seconds of forward + backward, seconds of the optimizer step) of one step."""
        model, opt = models[name], opts[name]
        t0 = time.perf_counter()
        model(input_ids=ids, attention_mask=att, labels=lab).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return t1 - t0, time.perf_counter() - t1

    for name in models:  # untimed: allocate the optimizer state
        train_step(name)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for k in range(args.steps):
        for name in (("adamw", "muon") if k % 2 == 0 else ("muon", "adamw")):
            times[name].append(train_step(name))
    result = {
        "threads": args.threads,
        "steps": args.steps,
        "batch_tokens": int(ids.numel()),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    for name, t in times.items():
        result[name] = {
            "forward_backward_s": round(statistics.median(a for a, _ in t), 4),
            "optimizer_step_s": round(statistics.median(b for _, b in t), 4),
        }
    extra = result["muon"]["optimizer_step_s"] - result["adamw"]["optimizer_step_s"]
    step = result["adamw"]["forward_backward_s"] + result["adamw"]["optimizer_step_s"]
    result["muon_extra_s"] = round(extra, 4)
    result["muon_extra_share_of_adamw_step"] = round(extra / step, 3)
    print(f"{'optimizer':<8} {'fwd+bwd s':>10} {'opt step s':>11}   (median of {args.steps}, {ids.numel()} tokens)")
    for name in models:
        r = result[name]
        print(f"{name:<8} {r['forward_backward_s']:>10.3f} {r['optimizer_step_s']:>11.4f}")
    print(f"Muon adds {extra:.3f} s a step: {100 * extra / step:.0f}% of an eager float32 AdamW step")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
