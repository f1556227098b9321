"""Optimizers and learning-rate schedules of :func:`dlcv_utils.engine.fit` (lesson 05).

The schedule is a linear warm-up followed by cosine, step or constant decay; see
:func:`lr_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["SCHEDULES", "WarmupSchedule", "lr_factor", "make_optimizer"]

SCHEDULES = ("cosine", "step", "constant")


def lr_factor(
    iteration: int,
    total_iters: int,
    *,
    warmup_iters: int = 0,
    warmup_factor: float = 0.001,
    schedule: str = "cosine",
    milestones: Sequence[float] = (0.7, 0.9),
    gamma: float = 0.1,
) -> float:
    """Multiplier of the base learning rate at ``iteration`` (0-based).

    * warm-up (``iteration < warmup_iters``): a straight line from ``warmup_factor`` at
      iteration 0 towards 1 at ``warmup_iters``;
    * ``"cosine"``: afterwards ``0.5 * (1 + cos(pi * t))`` with ``t`` going from 0 (end of
      warm-up) to 1 (``total_iters``);
    * ``"step"``: multiplied by ``gamma`` at each milestone (a fraction of ``total_iters``);
    * ``"constant"``: 1.

    Raises:
        ValueError: for an unknown schedule or out-of-range numbers.

    Example:
        >>> lr_factor(0, 100, warmup_iters=10, warmup_factor=0.1)
        0.1
        >>> round(lr_factor(5, 100, warmup_iters=10, warmup_factor=0.1), 6)
        0.55
        >>> lr_factor(10, 100, warmup_iters=10)
        1.0
        >>> lr_factor(80, 100, schedule="step", milestones=(0.7, 0.9))
        0.1
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if total_iters < 1:
        raise ValueError(f"total_iters must be >= 1, got {total_iters!r}")
    if warmup_iters < 0:
        raise ValueError(f"warmup_iters must be >= 0, got {warmup_iters!r}")
    if not 0.0 < warmup_factor <= 1.0:
        raise ValueError(f"warmup_factor must be in (0, 1], got {warmup_factor!r}")
    if iteration < warmup_iters:
        return warmup_factor + (1.0 - warmup_factor) * iteration / warmup_iters
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        span = max(total_iters - warmup_iters, 1)
        t = min(max(iteration - warmup_iters, 0) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * t))
    passed = sum(iteration >= m * total_iters for m in milestones)
    return gamma**passed


class WarmupSchedule:
    """Sets an optimizer's learning rates to their base rates times :func:`lr_factor`.

    Args:
        optimizer: its current learning rates are the base (peak) rates.
        total_iters: planned iterations of the run.
        **kwargs: ``warmup_iters``, ``warmup_factor``, ``schedule``, ``milestones``, ``gamma``
            of :func:`lr_factor` (``warmup_iters`` is capped at ``total_iters``).

    Example:
        >>> opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
        >>> sched = WarmupSchedule(opt, 100, warmup_iters=10, warmup_factor=0.1)
        >>> sched.step_to(0); round(opt.param_groups[0]["lr"], 6)
        0.01
        >>> sched.step_to(10); opt.param_groups[0]["lr"]
        0.1
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_iters: int, **kwargs) -> None:
        kwargs["warmup_iters"] = min(kwargs.get("warmup_iters", 0), total_iters)
        lr_factor(0, total_iters, **kwargs)  # validates the arguments now, not mid-run
        self.optimizer = optimizer
        self.total_iters = total_iters
        self.kwargs = kwargs
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]

    def step_to(self, iteration: int) -> None:
        """Set the learning rates for ``iteration`` (0-based)."""
        factor = lr_factor(iteration, self.total_iters, **self.kwargs)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor


# ----------------------------------------------------------------------------- optimizers
def make_optimizer(
    model: nn.Module,
    name: str = "sgd",
    lr: float | None = None,
    weight_decay: float | None = None,
) -> torch.optim.Optimizer:
    """The default optimizers of :func:`fit`, over the parameters that require gradients.

    * ``"sgd"``: SGD, momentum 0.9, weight decay 1e-4, default lr 0.01 (the Faster R-CNN recipe);
    * ``"adamw"``: AdamW, weight decay 1e-4, default lr 1e-3.

    Example:
        >>> opt = make_optimizer(nn.Linear(2, 1), "adamw")
        >>> type(opt).__name__, opt.param_groups[0]["lr"]
        ('AdamW', 0.001)
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require gradients")
    wd = 1e-4 if weight_decay is None else weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01 if lr is None else lr, momentum=0.9, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3 if lr is None else lr, weight_decay=wd)
    raise ValueError(f"optimizer must be 'sgd', 'adamw' or a torch.optim.Optimizer, got {name!r}")
