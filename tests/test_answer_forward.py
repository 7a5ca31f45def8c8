"""AnswerForward: the last decoder layer's output only at answer-predicting positions, equal to the full body's."""

from __future__ import annotations

import pytest
import torch

from chainlab.models.answer_forward import AnswerForward, answer_index
from chainlab.models.train_tiny import answer_positions, token_loss


def _model(attention: str, kv_heads: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=kv_heads, max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.set_attn_implementation(attention)
    return model.train()


def _batch():
    """Three right-padded rows; labels on several answer spans per row (as few-shot turns)."""
    torch.manual_seed(1)
    ids = torch.randint(3, 97, (3, 17))
    att = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for r, n in enumerate([17, 12, 5]):
        att[r, :n] = 1
    labels[0, 3:6], labels[0, 10:17] = ids[0, 3:6], ids[0, 10:17]
    labels[1, 1:2], labels[1, 7:12] = ids[1, 1:2], ids[1, 7:12]
    labels[2, 4:5] = ids[2, 4:5]
    return ids, att, labels


def test_answer_index_order():
    labels = torch.full((3, 6), -100)
    labels[0, [2, 3, 5]] = torch.tensor([7, 8, 9])
    labels[2, 1] = 4
    index, target = answer_index(labels)
    assert index.tolist() == [1, 2, 4, 12] and target.tolist() == [7, 8, 9, 4]
    _, expected = answer_positions(torch.zeros(3, 6, 1), labels)
    assert torch.equal(target, expected)
    index, target = answer_index(torch.full((2, 4), -100))
    assert index.numel() == 0 and target.numel() == 0


@pytest.mark.parametrize(("attention", "kv_heads"), [("eager", 4), ("sdpa", 4), ("eager", 2)])
def test_equals_the_full_body_with_the_same_gradients(attention, kv_heads):
    """Hidden states, loss and every parameter's gradient equal the full body's (float32),
    with either attention implementation and with grouped-query attention."""
    model = _model(attention, kv_heads)
    ids, att, labels = _batch()

    hidden, target = answer_positions(model.model(input_ids=ids, attention_mask=att).last_hidden_state, labels)
    full_loss = token_loss(model.lm_head(hidden), target)
    full_loss.backward()
    full_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    index, target2 = answer_index(labels)
    hidden2 = AnswerForward(model)(ids, att, index)
    assert hidden2.shape == hidden.shape == (3 + 7 + 1 + 5 + 1, 64) and torch.equal(target, target2)
    assert torch.allclose(hidden2, hidden, atol=1e-5)
    loss = token_loss(model.lm_head(hidden2), target2)
    assert torch.allclose(loss, full_loss, atol=1e-6)
    loss.backward()
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, full_grads[name], atol=1e-6, rtol=1e-4), name


@pytest.mark.slow
def test_compiled_with_dynamic_shapes_matches_under_bf16():
    """torch.compile(dynamic=True) over batches of different shapes, under bfloat16 autocast: the
    same hidden states as the eager full body within bfloat16 rounding."""
    model = _model("eager", 4)
    forward = torch.compile(AnswerForward(model), dynamic=True)
    ids, att, labels = _batch()
    for rows in (slice(0, 3), slice(1, 3)):  # a second shape reuses the dynamic graph
        width = int(att[rows].sum(1).max())
        i, a, lab = ids[rows, :width], att[rows, :width], labels[rows, :width]
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            full, _ = answer_positions(model.model(input_ids=i, attention_mask=a).last_hidden_state, lab)
            got = forward(i, a, answer_index(lab)[0])
        assert got.shape == full.shape
        assert torch.allclose(got.float(), full.float(), atol=0.1, rtol=0.05)
