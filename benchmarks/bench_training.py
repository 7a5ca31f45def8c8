"""Benchmark a ``chainlab train-tiny`` step against the plain Hugging Face way, in one run.

Six ways to take the same training steps (same model, same batches, same AdamW), each on a fresh
copy of the shipped ``chainlab-tiny`` weights:

1. **Hugging Face labels loss** (the baseline a competent user writes):
   ``model(input_ids, attention_mask=..., labels=labels).loss`` with ``-100`` outside the answers.
   It projects *every* position to the vocabulary.
2. **answer positions only**: the transformer body's hidden states at the positions that predict
   an answer token go through the head, nothing else.
3. **answer positions + ``torch.compile``** (``train-tiny --compile``): the body compiled with
   dynamic shapes; the one-time compile is timed separately.
4. **+ bfloat16 autocast** (``train-tiny --compile --bf16``; skipped on CPUs without AVX512-BF16
   or AMX, where torch emulates bfloat16 about 17x slower): the forward pass in bfloat16 under
   ``torch.autocast`` (weights, gradients, AdamW and the loss stay float32).
5. **+ eager attention** (``train-tiny --compile --bf16``, whose ``--attention auto`` picks it under
   bfloat16): attention as plain matrix products and a softmax that the compiler fuses, instead of
   torch's fused CPU attention (``sdpa``, modes 1-4), whose bfloat16 backward is slow.
6. **+ the last layer at the answer positions only** (``train-tiny --compile --bf16`` today):
   :class:`chainlab.models.answer_forward.AnswerForward` runs the last decoder layer's attention
   on every position but its ``o_proj``, MLP and the final norm only where an answer token is
   predicted; AdamW is fused.

Batches are real: freshly generated training conversations (``tiny_data``), length-bucketed into
batches of about 4,096 tokens as in training. Every mode takes the same ``--warmup`` untimed
steps, then ``--steps`` timed ones, interleaved (each batch through every mode, in alternating
order, so that the machine's drifting speed hits all modes alike); each mode's largest loss
difference from the baseline is printed (float rounding for 2 and 3, bfloat16 rounding for 4-6).

Run: ``.venv/bin/python benchmarks/bench_training.py [--threads 2] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def batches(tok, n_examples: int, seed: int):
    """Padded (ids, attention mask, labels) tensors of real training conversations."""
    from chainlab.models.tiny_data import write_dataset
    from chainlab.models.train_tiny import encode, load_records, make_batches, pad_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        write_dataset(path, n_examples, seed)
        records = load_records(path)
    encoded = encode(records, tok)
    lengths = [len(ids) for ids, _ in encoded]
    out = []
    for idx in make_batches(lengths, 4096, seed):
        ids, att, lab, _ = pad_batch(encoded, idx, tok.eos_token_id)
        out.append((ids, att, lab))
    return out


class Mode:
    """One way of taking training steps, on its own fresh copy of the weights."""

    def __init__(self, name: str, model_dir: Path):
        import torch
        from transformers import LlamaForCausalLM

        from chainlab.models.train_tiny import compiled_body, training_forward

        torch.manual_seed(0)
        self.name = name
        self.model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        self.last_layer = name == "last_layer_answers"
        self.model.set_attn_implementation("eager" if name.endswith("_eager") or self.last_layer else "sdpa")
        self.model.train()
        # train-tiny's AdamW is fused (one kernel per step); the earlier modes keep torch's default
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=self.last_layer or None
        )
        self.body = compiled_body(self.model) if name.startswith("compiled") else self.model.model
        self.forward = training_forward(self.model, compile_it=True) if self.last_layer else None
        self.bf16 = name.startswith("compiled_bf16") or self.last_layer
        self.seconds, self.first_step, self.losses = 0.0, 0.0, []

    def step(self, ids, att, lab) -> float:
        """One training step (forward, backward, clip, AdamW); its seconds."""
        import torch

        from chainlab.models.answer_forward import answer_index
        from chainlab.models.train_tiny import answer_positions, token_loss

        t0 = time.perf_counter()
        model = self.model
        if self.name == "hf_labels":
            loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        elif self.last_layer:
            index, target = answer_index(lab)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model.lm_head(self.forward(ids, att, index))
            loss = token_loss(logits, target)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                states = self.body(input_ids=ids, attention_mask=att).last_hidden_state
                hidden, target = answer_positions(states, lab)
                logits = model.lm_head(hidden)
            loss = token_loss(logits, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.losses.append(round(loss.item(), 5))
        return time.perf_counter() - t0


def run_modes(names: list[str], model_dir: Path, data: list, warmup: int, steps: int) -> dict:
    """Time every mode on the same batches, interleaved: each batch goes through every mode before
    the next, in alternating order, so that a drift of the machine's speed hits all modes alike."""
    modes = [Mode(name, model_dir) for name in names]
    for s, (ids, att, lab) in enumerate(tqdm(data[: warmup + steps], desc="steps (all modes)")):
        for mode in modes if s % 2 == 0 else modes[::-1]:
            seconds = mode.step(ids, att, lab)
            if s == 0:
                mode.first_step = seconds
            if s >= warmup:
                mode.seconds += seconds
    return {
        m.name: {"s_per_step": round(m.seconds / steps, 4), "first_step_s": round(m.first_step, 1), "losses": m.losses}
        for m in modes
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="chainlab-tiny", help="packaged name or model directory")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--examples", type=int, default=3000, help="conversations to batch")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--json", help="also write the numbers here")
    p.add_argument("--modes", help="comma-separated modes to time besides hf_labels (default: all)")
    p.add_argument("--bf16-anyway", action="store_true", help="time bfloat16 on a CPU that emulates it")
    args = p.parse_args(argv)

    import torch
    from transformers import AutoTokenizer

    from chainlab.models.train_tiny import native_bf16, resolve_init, slow_bf16_message

    torch.set_num_threads(args.threads)
    model_dir = resolve_init(args.model)
    tok = AutoTokenizer.from_pretrained(model_dir)
    data = batches(tok, args.examples, seed=5)
    if len(data) < args.warmup + args.steps:
        print(f"error: {len(data)} batches < --warmup + --steps; raise --examples", file=sys.stderr)
        return 2
    res = {}
    modes = ("answer_positions", "compiled", "compiled_bf16", "compiled_bf16_eager", "last_layer_answers")
    if not native_bf16() and not args.bf16_anyway:  # emulated bfloat16: ~17x slower, not a mode
        print(f"the bfloat16 modes skipped: {slow_bf16_message()}")
        modes = modes[:-3]
    if args.modes:
        modes = tuple(m for m in modes if m in args.modes.split(","))
    res.update(run_modes(["hf_labels", *modes], model_dir, data, args.warmup, args.steps))
    for mode in ("hf_labels", *modes):
        print(f"{mode:19s} {res[mode]['s_per_step']:.3f} s/step (first step {res[mode]['first_step_s']} s)")
    base = res["hf_labels"]["s_per_step"]
    for mode in modes:
        res[mode]["speedup"] = round(base / res[mode]["s_per_step"], 3)
        drift = max(abs(a - b) for a, b in zip(res[mode]["losses"], res["hf_labels"]["losses"], strict=True))
        res[mode]["max_loss_diff"] = round(drift, 6)
        print(f"{mode:19s} {res[mode]['speedup']:.2f}x the HF labels loss; max loss difference {drift:.2g}")
    res["setup"] = {"threads": args.threads, "steps": args.steps, "warmup": args.warmup,
                    "batches_tokens": 4096, "model": str(args.model), "torch": torch.__version__,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "native_bf16": native_bf16()}
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
