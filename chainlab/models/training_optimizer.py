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


def build_optimizer(model, name: str, lr: float, weight_decay: float):
    """The training optimizer ``name`` (one of :data:`OPTIMIZERS`) for ``model`` (a
    ``LlamaForCausalLM``): weight decay on matrices only, none on norms. ``muon`` returns a
    :class:`CombinedOptimizer` of Muon (block matrices) and AdamW (the rest)."""
    import torch

    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    named = list(model.named_parameters())
    if name == "adamw":
        decay = [p for _, p in named if p.dim() >= 2]
        no_decay = [p for _, p in named if p.dim() < 2]
        return torch.optim.AdamW(
            [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=lr,
            betas=ADAMW_BETAS,
            fused=True,  # one kernel per step instead of a loop over tensors: about 1% of a step
        )
    in_muon = muon_parameters(model)
    muon = torch.optim.Muon(
        [p for _, p in named if id(p) in in_muon],
        lr=lr,
        weight_decay=weight_decay,
        adjust_lr_fn="match_rms_adamw",
    )
    rest_decay = [p for _, p in named if id(p) not in in_muon and p.dim() >= 2]
    rest_no_decay = [p for _, p in named if id(p) not in in_muon and p.dim() < 2]
    adamw = torch.optim.AdamW(
        [{"params": rest_decay, "weight_decay": weight_decay}, {"params": rest_no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=ADAMW_BETAS,
        fused=True,
    )
    return CombinedOptimizer(muon, adamw)
