"""Detection losses (손실 함수): classification plus box regression (lesson 04 onwards).

* :func:`fast_rcnn_loss`: Fast R-CNN's multi-task loss, cross-entropy over ``K + 1`` classes
  plus smooth L1 on the deltas of the true class.

Shapes: ``R`` sampled RoIs, ``K`` object classes (label 0 is background).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["fast_rcnn_loss"]


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
