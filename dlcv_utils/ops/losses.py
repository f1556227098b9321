"""Detection losses (손실 함수): classification plus box regression (lesson 04 onwards).

* :func:`fast_rcnn_loss`: Fast R-CNN's multi-task loss, cross-entropy over ``K + 1`` classes
  plus smooth L1 on the deltas of the true class.
* :func:`focal_loss` (lesson 11): RetinaNet's focal loss on independent sigmoid outputs,
  ``-alpha_t (1 - p_t)^gamma log(p_t)``, and :func:`easy_loss_share`, the share of a loss that
  comes from easy examples.

Shapes: ``R`` sampled RoIs, ``K`` object classes (label 0 is background).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = ["check_focal_args", "easy_loss_share", "fast_rcnn_loss", "focal_loss"]


def fast_rcnn_loss(
    class_logits: torch.Tensor,
    box_regression: torch.Tensor,
    labels: torch.Tensor,
    regression_targets: torch.Tensor,
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-task loss: cross-entropy over ``K + 1`` classes + smooth L1 on the true class's deltas.

    ``L = CE(p, u) + lambda * [u >= 1] * smoothL1(t^u - v)`` with ``lambda = 1``; the box term is
    summed over the positives and divided by the number of sampled RoIs (as torchvision does),
    so background RoIs count in the average but add no box loss.

    Args:
        class_logits: ``[R, K + 1]``.
        box_regression: ``[R, 4 * (K + 1)]`` class-specific deltas.
        labels: ``[R]`` int64, 0 = background.
        regression_targets: ``[R, 4]`` encoded targets (used for positives only).
        beta: smooth L1 transition point (Fast R-CNN: 1).

    Returns:
        ``(loss_classifier, loss_box_reg)``.

    Example:
        >>> logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
        >>> deltas = torch.zeros(2, 8)
        >>> targets = torch.tensor([[0.5, 0.0, 0.0, 2.0], [9.0, 9.0, 9.0, 9.0]])
        >>> cls, box = fast_rcnn_loss(logits, deltas, torch.tensor([1, 0]), targets)
        >>> round(cls.item(), 4), box.item()  # ln 2;  (0.5 * 0.5**2 + (2 - 0.5)) / 2 RoIs
        (0.6931, 0.8125)
    """
    loss_cls = F.cross_entropy(class_logits, labels)
    pos = torch.nonzero(labels > 0).flatten()
    r = box_regression.reshape(box_regression.shape[0], -1, 4)
    pred = r[pos, labels[pos]]
    loss_box = F.smooth_l1_loss(pred, regression_targets[pos], beta=beta, reduction="sum") / max(
        labels.numel(), 1
    )
    return loss_cls, loss_box


def check_focal_args(logits, targets, alpha: float, gamma: float) -> None:
    """Check the arguments of :func:`focal_loss`: two tensors of one shape, ``alpha`` in [0, 1]
    (or negative: no weighting), ``gamma >= 0``; raise ``TypeError``/``ValueError`` naming them.

    Example:
        >>> check_focal_args(torch.zeros(2), torch.zeros(2), alpha=0.25, gamma=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: gamma must be a finite number >= 0, got -1.0
    """
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"logits and targets must be tensors, got {type(logits).__name__} and "
            f"{type(targets).__name__}"
        )
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits and targets must have the same shape, got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    for name, value in (("alpha", alpha), ("gamma", gamma)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(alpha) and (alpha < 0 or alpha <= 1)):
        raise ValueError(f"alpha must be in [0, 1] (or negative for no weighting), got {alpha!r}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> torch.Tensor:
    """RetinaNet's focal loss (Lin et al., 2017) on independent sigmoid outputs.

    With ``p = sigmoid(logits)``, ``p_t = p`` where the target is 1 and ``1 - p`` where it is 0,
    ``alpha_t = alpha`` for targets 1 and ``1 - alpha`` for targets 0:

    ``FL = -alpha_t (1 - p_t)^gamma log(p_t)``.

    ``gamma = 0`` and ``alpha < 0`` (no weighting) give plain binary cross-entropy. The same
    numbers as ``torchvision.ops.sigmoid_focal_loss``.

    Args:
        logits: ``Tensor[...]`` raw scores (any shape).
        targets: ``Tensor[...]`` of the same shape, 0 or 1 (soft targets in [0, 1] work too).
        alpha: weight of the positives in [0, 1], or negative for no weighting.
        gamma: focusing parameter ``>= 0``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss per element (``"none"``) or its mean or sum.

    Raises:
        TypeError: for non-tensor inputs or non-numeric ``alpha``/``gamma``.
        ValueError: for mismatched shapes, ``alpha > 1``, ``gamma < 0`` or another
            ``reduction``.

    Example:
        >>> logits, targets = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])
        >>> fl = focal_loss(logits, targets, alpha=0.25, gamma=2.0)  # p_t = 0.5 for both
        >>> [round(v, 5) for v in fl.tolist()]  # alpha_t * 0.5**2 * ln 2
        [0.04332, 0.12997]
    """
    check_focal_args(logits, targets, alpha, gamma)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # -log(p_t)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def easy_loss_share(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    easy_pt: float = 0.5,
) -> float:
    """The share of the summed focal loss that comes from *easy* examples (``p_t > easy_pt``).

    ``p_t`` is the probability the model gives the right answer. With ``gamma = 0``,
    ``alpha < 0`` this is the share of plain cross-entropy.

    Args:
        logits: ``Tensor[...]`` raw scores.
        targets: ``Tensor[...]`` 0/1 targets of the same shape.
        alpha: as in :func:`focal_loss`.
        gamma: as in :func:`focal_loss`.
        easy_pt: an example is easy when ``p_t > easy_pt`` (in [0, 1)).

    Returns:
        A float in [0, 1] (0 when the total loss is 0).

    Example:
        >>> logits = torch.tensor([-5.0, -5.0, -5.0, 0.0])  # three easy negatives, one hard
        >>> targets = torch.zeros(4)
        >>> round(easy_loss_share(logits, targets, alpha=-1, gamma=0.0), 3)  # plain CE
        0.028
        >>> f"{easy_loss_share(logits, targets, alpha=-1, gamma=2.0):.1e}"  # focal, gamma 2
        '5.2e-06'
    """
    check_focal_args(logits, targets, alpha, gamma)
    if isinstance(easy_pt, bool) or not isinstance(easy_pt, int | float) or not 0 <= easy_pt < 1:
        raise ValueError(f"easy_pt must be a number in [0, 1), got {easy_pt!r}")
    with torch.no_grad():
        loss = focal_loss(logits.float(), targets.float(), alpha, gamma)
        p = torch.sigmoid(logits.float())
        p_t = p * targets + (1 - p) * (1 - targets)
        total = loss.sum().item()
        return 0.0 if total == 0 else loss[p_t > easy_pt].sum().item() / total
