"""Shared fixtures: a tiny random Llama, its real GPTQ 4-bit checkpoint and a real LoRA adapter.

Everything is built offline in a session temp dir (a few seconds on CPU):

* ``tiny_model_dir`` -- random-init ``LlamaForCausalLM`` (hidden 64, 2 layers, ~320 tokens) with a
  trained byte-level BPE tokenizer (``<s>``, ``</s>``, ``<unk>``) and a Llama-2 chat template;
* ``tiny_gptq_dir`` -- that model quantized to 4 bits (group size 32) by gptqmodel on CPU;
* ``tiny_lora_dir`` -- a peft LoRA adapter for it (q/k/v/o projections, random non-zero A and B).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run fastest on one thread (and the CPU may be shared with other jobs)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CALIBRATION = [
    "Use the numbers 4 7 8 8 and basic arithmetic operations to obtain 24.",
    "4 + 8 = 12 (left: 7 8 12). 12 - 7 = 5 (left: 5 8). 5 * 8 = 40 (left: 40).",
    "Question: what is 3 times 8? Answer: 3 * 8 = 24. The answer is 24.",
    "The quick brown fox jumps over the lazy dog while the model counts to ten.",
    "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello there [/INST] Hi! How can I help?",
    "Let's think step by step. First add the numbers, then multiply, then check the result.",
    "Input: 1 2 3 4\nSteps:\n1 + 2 = 3 (left: 3 3 4)\n3 * 3 = 9 (left: 4 9)\n9 + 4 = 13\nAnswer: no",
    "Evaluate if given numbers can reach 24 (sure/likely/impossible): 10 14 -> 10 + 14 = 24 sure.",
]


@pytest.fixture(scope="session")
def tiny_calibration_texts() -> list[str]:
    """A few short calibration texts for GPTQ runs on the tiny model."""
    return list(CALIBRATION)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Directory of a tiny random-init Llama with a real BPE tokenizer and chat template."""
    from chainlab.llms.tiny_random import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_gptq_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """``tiny_model_dir`` quantized to a real GPTQ 4-bit checkpoint (gptqmodel, CPU)."""
    from chainlab.models.quantize import quantize_gptq

    out = tmp_path_factory.mktemp("tiny-gptq") / "model"
    return quantize_gptq(
        tiny_model_dir, out, bits=4, group_size=32, calibration_texts=CALIBRATION * 2, device="cpu"
    )


@pytest.fixture(scope="session")
def tiny_lora_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A peft LoRA adapter for ``tiny_model_dir`` with random non-zero A and B weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False,  # random A and B: the adapter really changes the outputs
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    out = tmp_path_factory.mktemp("tiny-lora") / "adapter"
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_llm(tiny_model_dir):
    """``load_llm(tiny_model_dir)`` on CPU, 12 new tokens by default (don't mutate it)."""
    from chainlab.llms import load_llm

    return load_llm(tiny_model_dir, device="cpu", max_new_tokens=12)
