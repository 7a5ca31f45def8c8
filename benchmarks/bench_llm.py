"""Benchmark: 16 prompts x 8 samples with LocalLLM vs. a HuggingFacePipeline loop.

    python benchmarks/bench_llm.py [--model NAME_OR_DIR] [--json out.json]

* chainlab: ``LocalLLM.generate(prompts, n=8)`` -- one batched ``model.generate`` call;
* naive: ``HuggingFacePipeline(pipeline("text-generation", ..., do_sample=True,
  return_full_text=False))`` invoked 16 x 8 times (HuggingFacePipeline keeps only the first of
  ``num_return_sequences``, so a user wanting 8 samples per prompt loops).

Both use the same model object, the same ``max_new_tokens`` and temperature. The default model is
the packaged "chainlab-tiny" when installed, else a tiny random Llama built on the fly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPTS = [
    f"Use the numbers {a} {b} {c} {d} and basic arithmetic operations to obtain 24.\nSteps:\n"
    for a, b, c, d in [
        (4, 7, 8, 8), (1, 2, 3, 4), (2, 3, 5, 12), (1, 1, 4, 6), (3, 3, 8, 8), (1, 5, 5, 5),
        (2, 2, 6, 6), (4, 4, 10, 10), (1, 3, 4, 6), (2, 7, 7, 10), (5, 5, 9, 9), (1, 6, 6, 8),
        (3, 4, 5, 6), (2, 4, 8, 9), (1, 2, 7, 7), (6, 6, 6, 6),
    ]
]


def default_model(workdir: Path) -> str:
    """The packaged chainlab-tiny if installed, else a freshly built tiny random Llama."""
    from chainlab.models.registry import packaged_path

    try:
        path = packaged_path("chainlab-tiny")
    except FileNotFoundError:
        path = None
    if path is not None:
        return "chainlab-tiny"
    from chainlab.llms.tiny_random import build_tiny_llama

    return str(build_tiny_llama(workdir / "tiny-random"))


def bench_chainlab(llm, prompts: list[str], samples: int, temperature: float) -> float:
    llm.generate(prompts[:2], n=2, temperature=temperature, seed=0)  # warm-up
    t0 = time.perf_counter()
    result = llm.generate(prompts, n=samples, temperature=temperature, seed=0)
    seconds = time.perf_counter() - t0
    assert all(len(g) == samples for g in result.generations)
    return seconds


def bench_naive(model, tokenizer, prompts, samples, max_new_tokens, temperature) -> float:
    from langchain_huggingface import HuggingFacePipeline
    from transformers import pipeline

    pipe = pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        return_full_text=False,
    )
    hf = HuggingFacePipeline(pipeline=pipe)
    hf.invoke(prompts[0])  # warm-up
    t0 = time.perf_counter()
    outs = [hf.invoke(p) for p in prompts for _ in range(samples)]
    seconds = time.perf_counter() - t0
    assert len(outs) == len(prompts) * samples
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or directory (default: chainlab-tiny or random)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: tiny matmuls are fastest single-threaded, "
        "and multi-threaded ones stall badly on a busy machine; 0 = torch's default)",
    )
    parser.add_argument("--json", help="write {chainlab_s, naive_s, ratio} to this file")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoTokenizer

    from chainlab.llms import load_llm

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    with tempfile.TemporaryDirectory() as tmp:
        model_name = args.model or default_model(Path(tmp))
        llm = load_llm(model_name, device="cpu", max_new_tokens=args.max_new_tokens, batch_size=len(prompts))
        chainlab_s = bench_chainlab(llm, prompts, args.samples, args.temperature)
        # a fresh tokenizer: LocalLLM set padding on its own copy
        tok_src = llm.tokenizer.name_or_path
        naive_tok = AutoTokenizer.from_pretrained(tok_src)
        naive_s = bench_naive(
            llm.model, naive_tok, prompts, args.samples, args.max_new_tokens, args.temperature
        )
    ratio = naive_s / chainlab_s
    n = len(prompts) * args.samples
    print(f"model: {model_name}  ({len(prompts)} prompts x {args.samples} samples, "
          f"max_new_tokens={args.max_new_tokens}, torch threads={torch.get_num_threads()})")
    print(f"chainlab LocalLLM.generate(n={args.samples}): {chainlab_s:8.2f} s  ({n / chainlab_s:7.1f} seq/s)")
    print(f"HuggingFacePipeline invoke loop x{n}:   {naive_s:8.2f} s  ({n / naive_s:7.1f} seq/s)")
    print(f"speed-up: {ratio:.1f}x")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"chainlab_s": chainlab_s, "naive_s": naive_s, "ratio": ratio}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
