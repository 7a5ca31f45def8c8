"""Function-preserving widening of a Llama (chainlab.models.widen)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from chainlab.models.registry import packaged_path
from chainlab.models.widen import parse_widen, widen_llama


def small_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=97, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        intermediate_size=128, max_position_embeddings=64, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # trained-looking norms, not all ones
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    return model.eval()


def test_widened_model_computes_the_same_logits():
    model = small_llama()
    wide = widen_llama(model, 96, 192, seed=1).eval()
    assert wide.config.hidden_size == 96 and wide.config.intermediate_size == 192
    assert wide.config.num_attention_heads == 3 and wide.config.head_dim == 32
    assert wide.config.tie_word_embeddings
    ids = torch.randint(0, 97, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model(ids).logits, wide(ids).logits
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    n_old = sum(p.numel() for p in model.parameters())
    n_new = sum(p.numel() for p in wide.parameters())
    assert n_new > 1.5 * n_old


def test_every_new_weight_gets_a_gradient():
    """The zero-initialised writers must learn: one backward pass reaches all of them."""
    wide = widen_llama(small_llama(), 96, 192, seed=1).train()
    ids = torch.randint(0, 97, (2, 16), generator=torch.Generator().manual_seed(1))
    wide(ids, labels=ids).loss.backward()
    layer = wide.model.layers[0]
    assert layer.self_attn.o_proj.weight.grad[64:].abs().sum() > 0  # rows writing new residual dims
    assert layer.self_attn.o_proj.weight.grad[:, 64:].abs().sum() > 0  # the new head's output
    assert layer.mlp.down_proj.weight.grad[:, 128:].abs().sum() > 0  # new neurons' output
    assert wide.model.embed_tokens.weight.grad[:, 64:].abs().sum() > 0


def test_widen_refuses_bad_sizes():
    model = small_llama()
    with pytest.raises(ValueError, match="multiple of the head size"):
        widen_llama(model, 80, 192)
    with pytest.raises(ValueError, match="at least"):
        widen_llama(model, 32, 192)
    assert parse_widen("320:896", head_dim=32) == (320, 896)
    with pytest.raises(ValueError, match="HIDDEN:INTERMEDIATE"):
        parse_widen("320x896")
    with pytest.raises(ValueError, match="multiple of the model's head size 32"):
        parse_widen("300:896", head_dim=32)


def test_widened_chainlab_tiny_answers_as_before():
    """The shipped (trained) model, widened by two heads and 128 MLP neurons, scores the same next tokens."""
    path = packaged_path("chainlab-tiny")
    model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    c = model.config
    wide = widen_llama(model, c.hidden_size + 2 * c.head_dim, c.intermediate_size + 128).eval()
    assert sum(p.numel() for p in wide.parameters()) > 1.2 * sum(p.numel() for p in model.parameters())
    ids = tok("<s>[INST] Numbers: 4 6 8 1 [/INST] 4 * 6 = 24 (left: 8 1 24)", return_tensors="pt").input_ids
    with torch.no_grad():
        a, b = model(ids).logits, wide(ids).logits
    assert (a - b).abs().max() < 2e-4
    assert torch.equal(a.argmax(-1), b.argmax(-1))
