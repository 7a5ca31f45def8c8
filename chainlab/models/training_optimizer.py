"""The optimizer of ``train-tiny``: AdamW on every weight, or Muon on the transformer blocks' matrices.

Muon (``torch.optim.Muon``; Jordan et al. 2024) orthogonalises each matrix's momentum with a few
Newton–Schulz iterations before the step. With ``adjust_lr_fn="match_rms_adamw"`` (Liu et al. 2025,
"Muon is Scalable for LLM Training") its update has AdamW's RMS, so it takes AdamW's learning rate,
schedule and weight decay unchanged. Muon is for hidden matrices only: the embedding (tied to the
output head) and the norms' gains stay with AdamW.
"""

from __future__ import annotations

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


def build_optimizer(model, name: str, lr: float, weight_decay: float):
    """The training optimizer ``name`` (one of :data:`OPTIMIZERS`) for ``model`` (a
    ``LlamaForCausalLM``): weight decay on matrices only, none on norms. ``muon`` returns a
    :class:`CombinedOptimizer` of Muon (block matrices) and AdamW (the rest)."""
    import torch

    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    params = list(model.parameters())
    if name == "adamw":
        return _adamw(params, lr, weight_decay)
    in_muon = muon_parameters(model)
    muon = torch.optim.Muon(
        [p for p in params if id(p) in in_muon], lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"
    )
    return CombinedOptimizer(muon, _adamw([p for p in params if id(p) not in in_muon], lr, weight_decay))
