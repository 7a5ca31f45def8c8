"""The training forward pass of ``train-tiny``: final hidden states only where an answer token is predicted.

Training puts loss on the assistant answers alone (about 55% of a conversation's tokens), so only
the positions that predict an answer token need the model's final hidden state. Every layer but
the last must run in full on every position: later positions attend to them. In the *last* layer
a prompt position's keys and values are still read by later positions, but its attention output
projection (``o_proj``), its MLP and the final norm feed nothing but its own unused state.
:class:`AnswerForward` runs the last layer's attention on every position and the rest of the
layer on the answer-predicting positions only. The result equals the full forward's hidden states
at those positions up to float rounding (tested), so the loss and its gradients are the same;
training steps of ``chainlab-tiny`` (6 layers) are about 4% faster (``benchmarks/bench_training.py``).

Use::

    forward = AnswerForward(model)            # a LlamaForCausalLM (torch.compile it if you like)
    index, target = answer_index(labels)      # host side, outside any compiled graph
    hidden = forward(input_ids, attention_mask, index)   # (n, hidden), in target's order
    loss = cross_entropy(model.lm_head(hidden), target)
"""

from __future__ import annotations

import torch
from torch import nn


def answer_index(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The answer-predicting positions of ``labels[batch, time]`` (``-100`` = no loss): their
    indices into the flattened ``batch * time`` positions (row by row, ascending) and the labelled
    tokens they predict, in the order of :func:`chainlab.models.train_tiny.answer_positions`."""
    keep = labels[:, 1:] != -100
    rows, cols = keep.nonzero(as_tuple=True)
    return rows * labels.shape[1] + cols, labels[:, 1:][keep]


class AnswerForward(nn.Module):
    """A ``LlamaForCausalLM``'s final hidden states (after the last norm) at the positions
    ``index`` (:func:`answer_index`) only. Shares the model's parameters and its attention
    implementation; ``torch.compile`` it with ``dynamic=True`` as a whole."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        from transformers.masking_utils import create_causal_mask

        inner = self.model.model
        h = inner.embed_tokens(input_ids)
        position_ids = torch.arange(h.shape[1], device=h.device).unsqueeze(0)
        mask = create_causal_mask(
            config=inner.config,
            inputs_embeds=h,
            attention_mask=attention_mask,
            past_key_values=None,
            position_ids=position_ids,
        )
        rotary = inner.rotary_emb(h, position_ids=position_ids)
        n_layers = inner.config.num_hidden_layers
        for layer in inner.layers[: n_layers - 1]:
            h = layer(h, attention_mask=mask, position_embeddings=rotary, position_ids=position_ids)
        return inner.norm(last_layer_at(inner.layers[n_layers - 1], h, mask, rotary, index))


def last_layer_at(layer, h: torch.Tensor, mask, rotary, index: torch.Tensor) -> torch.Tensor:
    """A ``LlamaDecoderLayer`` on ``h[batch, time, hidden]`` whose output is wanted only at the
    flat positions ``index``: attention on every position (its keys and values are needed), then
    ``o_proj``, the residual and the MLP at ``index`` only. Returns ``(len(index), hidden)``."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.llama.modeling_llama import (
        apply_rotary_pos_emb,
        eager_attention_forward,
    )

    attn = layer.self_attn
    b, t, d = h.shape
    x = layer.input_layernorm(h)
    shape = (b, t, -1, attn.head_dim)
    query = attn.q_proj(x).view(shape).transpose(1, 2)
    key = attn.k_proj(x).view(shape).transpose(1, 2)
    value = attn.v_proj(x).view(shape).transpose(1, 2)
    query, key = apply_rotary_pos_emb(query, key, *rotary)
    attention = ALL_ATTENTION_FUNCTIONS.get_interface(attn.config._attn_implementation, eager_attention_forward)
    out, _ = attention(attn, query, key, value, mask, dropout=0.0, scaling=attn.scaling)
    h = h.reshape(b * t, d)[index] + attn.o_proj(out.reshape(b * t, -1)[index])
    return h + layer.mlp(layer.post_attention_layernorm(h))
