"""Anchor boxes and the targets of a region proposal network (RPN).

Taught in lesson 05 (Faster R-CNN). The lesson writes each function in cells first, checks it
against torchvision (``AnchorGenerator``, ``det_utils.Matcher``,
``det_utils.BalancedPositiveNegativeSampler``), then uses these.

* :func:`generate_anchors` tiles ``len(scales) * len(ratios)`` anchors (앵커 박스) over every
  cell of a feature map, in exactly torchvision's order and values.
* :func:`assign_rpn_targets` labels each anchor 1 (object), 0 (background) or -1 (ignored) by
  its best IoU with a ground-truth box.
* :func:`sample_rpn` draws the mini-batch of anchors the RPN loss is computed on (256, at most
  half positive).

Conventions: boxes ``(x1, y1, x2, y2)`` pixels; an aspect ratio is **height / width**, as in
torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.validation import check_iou_threshold, check_pair, check_positive_numbers

__all__ = [
    "IGNORE",
    "NEGATIVE",
    "POSITIVE",
    "assign_rpn_targets",
    "base_anchors",
    "generate_anchors",
    "sample_rpn",
]

POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


def base_anchors(
    scales: Sequence[float] = (32, 64, 128),
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The ``len(ratios) * len(scales)`` anchors of one cell, centred on ``(0, 0)``.

    An anchor of scale ``s`` and ratio ``r = h / w`` keeps the area ``s * s``:
    ``w = s / sqrt(r)`` and ``h = s * sqrt(r)``. Coordinates are rounded to whole pixels, as
    torchvision does. Order: ratio-major, so the first ``len(scales)`` rows share ``ratios[0]``.

    Example:
        >>> base_anchors(scales=(16,), ratios=(1.0, 4.0)).tolist()
        [[-8.0, -8.0, 8.0, 8.0], [-4.0, -16.0, 4.0, 16.0]]
    """
    s = torch.as_tensor(check_positive_numbers(scales, "scales"), dtype=dtype)
    r = torch.as_tensor(check_positive_numbers(ratios, "ratios"), dtype=dtype)
    h_ratio = torch.sqrt(r)
    w_ratio = 1 / h_ratio
    ws = (w_ratio[:, None] * s[None, :]).reshape(-1)
    hs = (h_ratio[:, None] * s[None, :]).reshape(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


def generate_anchors(
    feature_size: int | tuple[int, int],
    stride: int | tuple[int, int],
    scales: Sequence[float] = (32, 64, 128),
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Anchors over a whole feature map: ``Tensor[H * W * A, 4]``, ``A = len(scales) * len(ratios)``.

    Cell ``(i, j)`` of an ``H x W`` feature map sits at pixel ``(j * stride, i * stride)`` of
    the image (torchvision puts anchors on the cell's top-left corner, not its centre); the
    :func:`base_anchors` are shifted there. Rows are ordered by cell (row-major), then by
    anchor, exactly as ``torchvision.models.detection.anchor_utils.AnchorGenerator``.

    Args:
        feature_size: ``H`` (square) or ``(H, W)`` of the feature map.
        stride: image pixels per feature cell, an int or ``(stride_y, stride_x)``.
        scales: anchor side lengths (square root of the area), in image pixels.
        ratios: aspect ratios ``height / width``.
        dtype: dtype of the result.
        device: device of the result.

    Raises:
        TypeError / ValueError: for non-positive sizes, strides, scales or ratios.

    Example:
        >>> a = generate_anchors((2, 3), stride=16, scales=(32, 64), ratios=(0.5, 1.0, 2.0))
        >>> a.shape
        torch.Size([36, 4])
        >>> a[6].tolist()  # first anchor of cell (0, 1): shifted 16 px to the right
        [-7.0, -11.0, 39.0, 11.0]
    """
    fh, fw = check_pair(feature_size, "feature_size")
    sy, sx = check_pair(stride, "stride")
    cell = base_anchors(scales, ratios, dtype=dtype).to(device)
    shift_x = torch.arange(fw, device=device, dtype=dtype) * sx
    shift_y = torch.arange(fh, device=device, dtype=dtype) * sy
    yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)  # one shift per cell
    return (shifts + cell.reshape(1, -1, 4)).reshape(-1, 4)


def assign_rpn_targets(
    anchors: torch.Tensor,
    gt_boxes: torch.Tensor,
    pos_iou: float = 0.7,
    neg_iou: float = 0.3,
    allow_low_quality: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label every anchor for the RPN: 1 object, 0 background, -1 ignored.

    1. each anchor's best IoU with any ground-truth box decides: ``>= pos_iou`` positive,
       ``< neg_iou`` negative, in between ignored (no loss);
    2. if ``allow_low_quality``, the anchor(s) with the highest IoU for each ground-truth box
       become positive too (ties included), so no object is left without an anchor.

    Same rule as torchvision's ``Matcher(pos_iou, neg_iou, allow_low_quality_matches=True)``.

    Args:
        anchors: ``[N, 4]`` anchors.
        gt_boxes: ``[M, 4]`` ground-truth boxes (``M`` may be 0: every anchor is background).
        pos_iou: positive threshold.
        neg_iou: negative threshold (``<= pos_iou``).
        allow_low_quality: keep the best anchor of each ground truth.

    Returns:
        ``labels`` (``int64 [N]``: 1, 0 or -1) and ``matched_gt`` (``int64 [N]``: index of the
        ground-truth box each anchor overlaps most; -1 where there is none).

    Example:
        >>> anchors = torch.tensor([[0., 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30], [0, 0, 8, 10]])
        >>> labels, matched = assign_rpn_targets(anchors, torch.tensor([[0., 0, 10, 10]]))
        >>> labels.tolist(), matched.tolist()
        ([1, -1, 0, 1], [0, 0, 0, 0])
    """
    for name, t in (("anchors", anchors), ("gt_boxes", gt_boxes)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 2 or t.shape[1] != 4:
            raise ValueError(f"{name} must have shape [N, 4], got {tuple(t.shape)}")
    check_iou_threshold(pos_iou, "pos_iou")
    check_iou_threshold(neg_iou, "neg_iou")
    if not 0.0 <= neg_iou <= pos_iou <= 1.0:
        raise ValueError(
            f"need 0 <= neg_iou <= pos_iou <= 1, got neg_iou={neg_iou!r}, pos_iou={pos_iou!r}"
        )
    n = anchors.shape[0]
    if gt_boxes.shape[0] == 0:
        return (
            torch.full((n,), NEGATIVE, dtype=torch.int64, device=anchors.device),
            torch.full((n,), -1, dtype=torch.int64, device=anchors.device),
        )
    iou = box_iou(gt_boxes, anchors)  # [M, N]
    best_iou, matched_gt = iou.max(dim=0)  # per anchor
    labels = torch.full((n,), IGNORE, dtype=torch.int64, device=anchors.device)
    labels[best_iou < neg_iou] = NEGATIVE
    labels[best_iou >= pos_iou] = POSITIVE
    if allow_low_quality:
        best_per_gt = iou.max(dim=1, keepdim=True).values  # [M, 1]
        is_best = (iou == best_per_gt).any(dim=0)
        labels[is_best] = POSITIVE
    return labels, matched_gt


def sample_rpn(
    labels: torch.Tensor,
    batch_size: int = 256,
    positive_fraction: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick the anchors the RPN loss is computed on: ``batch_size`` in all, at most
    ``positive_fraction`` of them positive, the rest filled with negatives.

    Positives are drawn first (a random permutation, the first ``min(#pos, batch_size *
    positive_fraction)``), then negatives (up to ``batch_size`` in total); ignored anchors
    (-1) are never drawn. With ``generator=None`` it uses torch's global RNG in the same order
    as torchvision's ``BalancedPositiveNegativeSampler``, so both pick the same anchors after
    the same ``torch.manual_seed``.

    Returns:
        Boolean masks ``(positive, negative)`` of the same shape as ``labels``.

    Example:
        >>> labels = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0, -1, -1])
        >>> pos, neg = sample_rpn(labels, batch_size=4, generator=torch.Generator().manual_seed(0))
        >>> int(pos.sum()), int(neg.sum()), bool((labels[pos] == 1).all() and (labels[neg] == 0).all())
        (2, 2, True)
    """
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D tensor, got {getattr(labels, 'shape', labels)!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction!r}")
    positive = torch.where(labels >= 1)[0]
    negative = torch.where(labels == 0)[0]
    num_pos = min(positive.numel(), int(batch_size * positive_fraction))
    num_neg = min(negative.numel(), batch_size - num_pos)
    perm_pos = torch.randperm(positive.numel(), device=labels.device, generator=generator)[:num_pos]
    perm_neg = torch.randperm(negative.numel(), device=labels.device, generator=generator)[:num_neg]
    pos_mask = torch.zeros_like(labels, dtype=torch.bool)
    neg_mask = torch.zeros_like(labels, dtype=torch.bool)
    pos_mask[positive[perm_pos]] = True
    neg_mask[negative[perm_neg]] = True
    return pos_mask, neg_mask
