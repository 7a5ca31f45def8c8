"""Widen a trained Llama without changing what it computes (function-preserving growth).

``widen_llama`` returns a copy of a ``LlamaForCausalLM`` with a wider residual stream (more
attention heads of the same size) and a wider MLP, whose outputs equal the original's up to float
rounding. The new part starts where it cannot change the output and can still learn:

- everything that *writes* into the new residual dimensions (embedding columns, the rows of
  ``o_proj`` and ``down_proj``), and every new head's and MLP neuron's output column, starts at 0;
- everything that *reads* (the new input columns of ``q/k/v/gate/up_proj``, the new heads' and
  neurons' rows) starts small and random, so gradients reach the zero parts from the first step;
- RMSNorm weights are scaled by ``sqrt(old / new)`` and its epsilon by ``old / new``: the mean
  square is now taken over more dimensions, which are zero.

``train-tiny --init-from MODEL --widen HIDDEN:INTERMEDIATE`` continues training such a copy:
capacity added to a trained model instead of a larger model trained from the start.
"""

from __future__ import annotations

import math


def parse_widen(text: str, head_dim: int | None = None) -> tuple[int, int]:
    """``"320:896"`` -> ``(320, 896)``; a clear error for anything else."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--widen {text!r}: expected HIDDEN:INTERMEDIATE, e.g. --widen 320:896")
    hidden, inter = (int(p) for p in parts)
    if head_dim and hidden % head_dim:
        raise ValueError(
            f"--widen {text}: the hidden size must be a multiple of the model's head size {head_dim} "
            f"(new heads have the old heads' size), e.g. {((hidden // head_dim) + 1) * head_dim}"
        )
    return hidden, inter


def widen_llama(model, hidden_size: int, intermediate_size: int, *, std: float = 0.02, seed: int = 0):
    """A wider copy of ``model`` (a ``LlamaForCausalLM``) that computes the same function.

    ``hidden_size`` must be a multiple of the model's head size and at least its hidden size;
    ``intermediate_size`` at least its MLP width. ``std``: scale of the new random weights.
    The copy is float32 and in training mode if ``model`` was.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    old = model.config
    h0, i0 = old.hidden_size, old.intermediate_size
    head_dim = getattr(old, "head_dim", None) or h0 // old.num_attention_heads
    if old.num_key_value_heads != old.num_attention_heads:
        raise ValueError("widen_llama: grouped-query attention (fewer key/value heads) is not supported")
    if hidden_size < h0 or intermediate_size < i0:
        raise ValueError(
            f"widen_llama: the new sizes ({hidden_size}:{intermediate_size}) must be at least the "
            f"model's ({h0}:{i0})"
        )
    if hidden_size % head_dim:
        raise ValueError(f"widen_llama: hidden size {hidden_size} is not a multiple of the head size {head_dim}")
    heads = hidden_size // head_dim
    cfg = LlamaConfig(**{
        **old.to_dict(),
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "head_dim": head_dim,
        "rms_norm_eps": old.rms_norm_eps * h0 / hidden_size,  # the mean square shrinks by h0 / hidden
        "dtype": "float32",
    })
    new = LlamaForCausalLM(cfg)
    gen = torch.Generator().manual_seed(seed)
    scale = math.sqrt(h0 / hidden_size)

    def grown(w: torch.Tensor, rows: int, cols: int, zero_new_rows: bool, zero_new_cols: bool) -> torch.Tensor:
        out = torch.randn(rows, cols, generator=gen) * std
        if zero_new_rows:
            out[w.shape[0]:] = 0
        if zero_new_cols:
            out[:, w.shape[1]:] = 0
        out[: w.shape[0], : w.shape[1]] = w
        return out

    H, I = hidden_size, intermediate_size  # noqa: E741
    state = {}
    with torch.no_grad():
        for name, w in model.state_dict().items():
            w = w.float()
            if name.endswith("norm.weight"):
                v = torch.full((H,), float(w.mean()) * scale)
                v[:h0] = w * scale
                state[name] = v
            elif name.endswith("embed_tokens.weight") or name == "lm_head.weight":
                state[name] = grown(w, w.shape[0], H, False, True)
            elif name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
                state[name] = grown(w, H, H, False, False)
            elif name.endswith("o_proj.weight"):
                state[name] = grown(w, H, H, True, True)
            elif name.endswith(("gate_proj.weight", "up_proj.weight")):
                state[name] = grown(w, I, H, False, False)
            elif name.endswith("down_proj.weight"):
                state[name] = grown(w, H, I, True, True)
            else:
                raise ValueError(f"widen_llama: no rule for parameter {name} (a Llama without biases is expected)")
    new.load_state_dict(state)
    new.tie_weights()
    new.train(model.training)
    return new
