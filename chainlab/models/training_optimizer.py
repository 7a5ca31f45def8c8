"""The optimizer of ``train-tiny``: AdamW on every weight, or Muon on the transformer blocks' matrices.

Muon (``torch.optim.Muon``; Jordan et al. 2024) orthogonalises each matrix's momentum with a few
Newton–Schulz iterations before the step. With ``adjust_lr_fn="match_rms_adamw"`` (Liu et al. 2025,
"Muon is Scalable for LLM Training") its update has AdamW's RMS, so it takes AdamW's learning rate,
schedule and weight decay unchanged. Muon is for hidden matrices only: the embedding (tied to the
output head) and the norms' gains stay with AdamW.
"""

from __future__ import annotations

import math

OPTIMIZERS = ("adamw", "muon")
ADAMW_BETAS = (0.9, 0.95)


class CombinedOptimizer:
    """Several torch optimizers stepped, zeroed, saved and loaded as one.

    ``param_groups`` lists every group of every optimizer, so a schedule that sets ``g["lr"]`` on
    each group drives all of them.
    """

    def __init__(self, *optimizers) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        parts = state.get("optimizers")
        if not isinstance(parts, list) or len(parts) != len(self.optimizers):
            raise ValueError("the optimizer state holds another optimizer")
        for opt, part in zip(self.optimizers, parts, strict=True):
            opt.load_state_dict(part)


def muon_parameters(model) -> set[int]:
    """``id`` of every parameter Muon takes: the 2-D weights inside the transformer blocks
    (attention projections and MLP), not the embedding, the output head or the norms."""
    return {id(p) for p in model.model.layers.parameters() if p.dim() == 2}


def _adamw(params: list, lr: float, weight_decay: float):
    """Fused AdamW over ``params``: weight decay on matrices, none on vectors (norms)."""
    import torch

    return torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=ADAMW_BETAS,
        fused=True,  # one kernel per step instead of a loop over tensors: about 1% of a step
    )


def newton_schulz(grad, coefficients: tuple[float, float, float], steps: int, eps: float, dtype):
    """torch's Muon orthogonalisation of ``grad`` (its quintic Newton–Schulz iteration, as
    ``torch.optim.Muon`` computes it) with its matrix products in ``dtype``; a new tensor."""
    import torch

    a, b, c = coefficients
    x = grad.to(dtype, copy=True)
    tall = grad.size(0) > grad.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)  # spectral norm at most 1
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def float32_muon_class():
    """``torch.optim.Muon`` with its Newton–Schulz products in float32 instead of bfloat16, for
    CPUs without bfloat16 instructions: there torch emulates bfloat16, and one Muon step of
    chainlab-tiny took 11.8 s instead of 0.14 s (``benchmarks/bench_optimizer.py`` under
    ``ONEDNN_MAX_CPU_ISA=AVX2``). Same update rule, state and options otherwise."""
    import torch

    class Float32Muon(torch.optim.Muon):
        """Muon whose orthogonalisation computes in float32 (see :func:`float32_muon_class`)."""

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                params, grads, bufs = [], [], []
                self._init_group(group, params, grads, bufs)
                lr, momentum = float(group["lr"]), group["momentum"]
                for p, g, buf in zip(params, grads, bufs, strict=True):
                    buf.lerp_(g, 1 - momentum)
                    update = g.lerp(buf, momentum) if group["nesterov"] else buf
                    update = newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"],
                                           torch.float32)  # fmt: skip
                    p.mul_(1 - lr * group["weight_decay"])
                    p.add_(update, alpha=-muon_lr(lr, group["adjust_lr_fn"], p.shape))
            return loss

    return Float32Muon


def muon_lr(lr: float, adjust_lr_fn: str | None, shape) -> float:
    """Muon's learning rate for a matrix of ``shape``, as ``torch.optim.Muon`` adjusts it."""
    a, b = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(a, b))
    if adjust_lr_fn in (None, "original"):
        return lr * math.sqrt(max(1, a / b))
    return lr


def build_optimizer(model, name: str, lr: float, weight_decay: float, native_bf16: bool | None = None):
    """The training optimizer ``name`` (one of :data:`OPTIMIZERS`) for ``model`` (a
    ``LlamaForCausalLM``): weight decay on matrices only, none on norms. ``muon`` returns a
    :class:`CombinedOptimizer` of Muon (block matrices) and AdamW (the rest). Muon is torch's
    own, with its Newton–Schulz products in bfloat16, where the CPU computes bfloat16 natively
    (``native_bf16``; default: ask oneDNN), and :func:`float32_muon_class`'s elsewhere."""
    import torch

    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    params = list(model.parameters())
    if name == "adamw":
        return _adamw(params, lr, weight_decay)
    in_muon = muon_parameters(model)
    if native_bf16 is None:
        from chainlab.models.train_tiny import native_bf16 as cpu_has_bf16

        native_bf16 = cpu_has_bf16()
    muon_class = torch.optim.Muon if native_bf16 else float32_muon_class()
    muon = muon_class(
        [p for p in params if id(p) in in_muon], lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"
    )
    return CombinedOptimizer(muon, _adamw([p for p in params if id(p) not in in_muon], lr, weight_decay))
