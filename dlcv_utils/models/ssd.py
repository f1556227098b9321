"""SSD (Single Shot MultiBox Detector, 단일 샷 멀티박스 검출기): default boxes, matching, loss.

SSD predicts from several feature maps of a plain bottom-up backbone, each with its own scale
of default boxes (기본 박스) and no top-down fusion (unlike an FPN). This module holds the parts
lesson 08 writes from scratch, written once so they can be tested and reused:

* :func:`default_box_scales` - the scale rule ``s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)``
  with torchvision's extra ``s_{m+1} = 1``;
* :func:`default_boxes` - the default boxes of every level, cell by cell, in the order and
  conventions of ``torchvision.models.detection.anchor_utils.DefaultBoxGenerator`` (centres
  ``(i + 0.5) / f_k``, widths and heights clipped to ``[0, 1]`` *before* converting to xyxy,
  pixel xyxy output);
* :func:`match_default_boxes` - each ground truth takes its best default box, then every default
  box with IoU >= 0.5 (torchvision's ``SSDMatcher``);
* :func:`hard_negative_mask` and :func:`ssd_loss` - smooth-L1 localisation on the positives plus
  cross-entropy on the positives and the 3x as many hardest negatives, both over the number of
  positives (torchvision's ``SSD.compute_loss``);
* :class:`SSDBackbone` and :func:`build_ssd` - a tiny multi-scale CNN and torchvision's ``SSD``
  around it (random init, nothing downloaded).

Boxes are ``[N, 4]`` xyxy in pixels unless stated otherwise. Taught in lesson 08.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dlcv_utils.models.backbones import conv_norm_relu
from dlcv_utils.ops.box_coder import encode
from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.validation import check_int, check_iou_threshold, check_number

__all__ = [
    "BOX_WEIGHTS",
    "SSDBackbone",
    "build_ssd",
    "default_box_scales",
    "default_box_sizes",
    "default_boxes",
    "hard_negative_mask",
    "match_default_boxes",
    "ssd_loss",
]

#: the box-coder weights (1 / variances 0.1, 0.1, 0.2, 0.2) of torchvision's SSD
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def default_box_scales(m: int, s_min: float = 0.2, s_max: float = 0.9) -> list[float]:
    """The ``m + 1`` default-box scales (fractions of the image side) for ``m`` levels.

    ``s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)`` for ``k = 1..m``, then ``s_{m+1} = 1`` (the
    extra ratio-1 box of the last level uses ``sqrt(s_m * s_{m+1})``), as torchvision's
    ``DefaultBoxGenerator``. With one level the scales are ``[s_min, s_max]``.

    Raises:
        ValueError: ``m < 1`` or scales outside ``(0, 1]`` or ``s_min > s_max``.

    Example:
        >>> [round(s, 3) for s in default_box_scales(3, 0.2, 0.8)]
        [0.2, 0.5, 0.8, 1.0]
    """
    m = check_int(m, "m", minimum=1)
    s_min = check_number(s_min, "s_min", low=0.0, high=1.0, low_open=True)
    s_max = check_number(s_max, "s_max", low=0.0, high=1.0, low_open=True)
    if s_min > s_max:
        raise ValueError(f"s_min must be <= s_max, got s_min={s_min} and s_max={s_max}")
    if m == 1:
        return [s_min, s_max]
    return [s_min + (s_max - s_min) * k / (m - 1) for k in range(m)] + [1.0]


def _check_ratios(aspect_ratios, m: int | None = None) -> list[list[float]]:
    if not isinstance(aspect_ratios, Sequence) or not aspect_ratios:
        raise ValueError(f"aspect_ratios must be a non-empty list of lists, got {aspect_ratios!r}")
    out = []
    for k, ratios in enumerate(aspect_ratios):
        if not isinstance(ratios, Sequence):
            raise ValueError(f"aspect_ratios[{k}] must be a list of numbers, got {ratios!r}")
        out.append([check_number(r, f"aspect_ratios[{k}]", low=0.0, low_open=True) for r in ratios])
    if m is not None and len(out) != m:
        raise ValueError(f"aspect_ratios must have one list per level ({m}), got {len(out)}")
    return out


def default_box_sizes(
    scales: Sequence[float], aspect_ratios: Sequence[Sequence[float]]
) -> list[torch.Tensor]:
    """Per level ``k``, the ``[A_k, 2]`` (w, h) of its default boxes as fractions of the image.

    The order is torchvision's: ``(s_k, s_k)``, ``(s'_k, s'_k)`` with ``s'_k = sqrt(s_k s_{k+1})``,
    then for each ratio ``a`` in ``aspect_ratios[k]`` the pair ``(s_k sqrt(a), s_k / sqrt(a))``
    and its transpose (so ``[2]`` gives ratios 2 and 1/2, ``[2, 3]`` gives 2, 1/2, 3, 1/3).

    Example:
        >>> default_box_sizes([0.25, 1.0], [[4]])[0]
        tensor([[0.2500, 0.2500],
                [0.5000, 0.5000],
                [0.5000, 0.1250],
                [0.1250, 0.5000]])
    """
    ratios = _check_ratios(aspect_ratios)
    if len(scales) != len(ratios) + 1:
        raise ValueError(
            f"scales must have one entry more than aspect_ratios ({len(ratios) + 1}), "
            f"got {len(scales)}"
        )
    out = []
    for k, level in enumerate(ratios):
        s, s_next = float(scales[k]), float(scales[k + 1])
        pairs = [[s, s], [math.sqrt(s * s_next)] * 2]
        for a in level:
            w, h = s * math.sqrt(a), s / math.sqrt(a)
            pairs += [[w, h], [h, w]]
        out.append(torch.tensor(pairs, dtype=torch.float32))
    return out


def default_boxes(
    grid_sizes: Sequence[tuple[int, int]],
    image_size: tuple[int, int],
    aspect_ratios: Sequence[Sequence[float]],
    scales: Sequence[float],
    steps: Sequence[int] | None = None,
    clip: bool = True,
) -> torch.Tensor:
    """All default boxes ``[L, 4]`` xyxy in pixels, level by level, cell by cell, box by box.

    Args:
        grid_sizes: ``(h_k, w_k)`` of each feature map.
        image_size: ``(H, W)`` of the (resized) image.
        aspect_ratios: per level, the extra ratios (see :func:`default_box_sizes`).
        scales: ``m + 1`` scales (see :func:`default_box_scales`).
        steps: per level, the pixel step between cell centres (default: ``H / h_k``, ``W / w_k``).
        clip: clamp the normalised widths and heights to ``[0, 1]`` (centres are not clipped).

    Returns:
        ``L = sum_k h_k w_k A_k`` boxes; the same numbers as torchvision's ``DefaultBoxGenerator``.

    Example:
        >>> boxes = default_boxes([(2, 2)], (64, 64), [[]], [0.25, 1.0])
        >>> boxes.shape, boxes[0].tolist(), boxes[1].tolist()
        (torch.Size([8, 4]), [8.0, 8.0, 24.0, 24.0], [0.0, 0.0, 32.0, 32.0])
    """
    sizes = default_box_sizes(scales, aspect_ratios)
    if len(grid_sizes) != len(sizes):
        raise ValueError(
            f"grid_sizes must have one (h, w) per level ({len(sizes)}), got {len(grid_sizes)}"
        )
    if steps is not None and len(steps) != len(sizes):
        raise ValueError(f"steps must have one entry per level ({len(sizes)}), got {len(steps)}")
    height, width = (int(v) for v in image_size)
    out = []
    for k, (gh, gw) in enumerate(grid_sizes):
        gh, gw = int(gh), int(gw)
        fy, fx = (height / steps[k], width / steps[k]) if steps is not None else (gh, gw)
        cy, cx = torch.meshgrid(
            (torch.arange(gh) + 0.5) / fy, (torch.arange(gw) + 0.5) / fx, indexing="ij"
        )
        wh = sizes[k].clamp(0, 1) if clip else sizes[k]
        centres = torch.stack((cx.reshape(-1), cy.reshape(-1)), 1)  # [h w, 2]
        centres = centres[:, None].expand(-1, len(wh), 2).reshape(-1, 2)
        wh = wh.repeat(gh * gw, 1)
        scale = torch.tensor([width, height], dtype=torch.float32)
        out.append(torch.cat(((centres - wh / 2) * scale, (centres + wh / 2) * scale), 1))
    return torch.cat(out)


def match_default_boxes(
    gt_boxes: torch.Tensor, dboxes: torch.Tensor, iou_threshold: float = 0.5
) -> torch.Tensor:
    """For each default box, the index of its ground truth, or ``-1`` (background).

    Every default box with IoU >= ``iou_threshold`` to some ground truth takes the best one;
    then each ground truth takes its own best default box, whatever the IoU (so no ground truth
    is left without a positive). Same result as torchvision's ``SSDMatcher``.

    Args:
        gt_boxes: ``[G, 4]`` xyxy.
        dboxes: ``[L, 4]`` xyxy.
        iou_threshold: in ``[0, 1]``.

    Returns:
        ``[L]`` int64 in ``-1..G-1``.

    Example:
        >>> d = torch.tensor([[0.0, 0, 10, 10], [0, 0, 9, 10], [20, 20, 30, 30]])
        >>> match_default_boxes(torch.tensor([[0.0, 0, 10, 10], [22, 22, 34, 34]]), d)
        tensor([0, 0, 1])
    """
    thr = check_iou_threshold(iou_threshold)
    dboxes = torch.as_tensor(dboxes, dtype=torch.float32)
    gt_boxes = torch.as_tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4)
    matches = torch.full((len(dboxes),), -1, dtype=torch.int64)
    if len(gt_boxes) == 0:
        return matches
    iou = box_iou(gt_boxes, dboxes)  # [G, L]
    best_iou, best_gt = iou.max(0)
    matches = torch.where(best_iou >= thr, best_gt, matches)
    best_dbox = iou.argmax(1)  # the best default box of each ground truth
    matches[best_dbox] = torch.arange(len(gt_boxes))
    return matches


def hard_negative_mask(
    cls_loss: torch.Tensor, labels: torch.Tensor, neg_pos_ratio: float = 3.0
) -> torch.Tensor:
    """The hardest negatives: per image, the ``neg_pos_ratio x #positives`` largest losses.

    Args:
        cls_loss: ``[N, L]`` per-box classification losses.
        labels: ``[N, L]`` class targets (0 = background).
        neg_pos_ratio: negatives kept per positive (3 in SSD).

    Returns:
        ``[N, L]`` bool, True for the kept negatives (never a positive).

    Example:
        >>> loss = torch.tensor([[0.1, 0.9, 0.5, 0.3, 2.0]])
        >>> hard_negative_mask(loss, torch.tensor([[0, 0, 0, 0, 1]]), neg_pos_ratio=2)
        tensor([[False,  True,  True, False, False]])
    """
    neg_pos_ratio = check_number(neg_pos_ratio, "neg_pos_ratio", low=0.0)
    if cls_loss.shape != labels.shape or cls_loss.ndim != 2:
        raise ValueError(
            f"cls_loss and labels must both be [N, L], got {tuple(cls_loss.shape)} and "
            f"{tuple(labels.shape)}"
        )
    positive = labels > 0
    num_neg = neg_pos_ratio * positive.sum(1, keepdim=True)
    loss = cls_loss.detach().masked_fill(positive, -math.inf)
    order = loss.argsort(1, descending=True)
    rank = order.argsort(1)  # rank of each box in the descending order
    return (rank < num_neg) & ~positive


def ssd_loss(
    cls_logits: torch.Tensor,
    bbox_regression: torch.Tensor,
    dboxes: Sequence[torch.Tensor],
    targets: Sequence[dict],
    matched_idxs: Sequence[torch.Tensor],
    neg_pos_ratio: float = 3.0,
) -> dict[str, torch.Tensor]:
    """SSD's loss: smooth-L1 on the positives' offsets + cross-entropy with hard negatives.

    Args:
        cls_logits: ``[N, L, K + 1]`` class scores (0 = background).
        bbox_regression: ``[N, L, 4]`` predicted offsets (coded with :data:`BOX_WEIGHTS`).
        dboxes: per image ``[L, 4]`` xyxy default boxes.
        targets: per image ``{"boxes": [G, 4], "labels": [G]}``.
        matched_idxs: per image ``[L]`` from :func:`match_default_boxes`.
        neg_pos_ratio: hard negatives per positive.

    Returns:
        ``{"bbox_regression", "classification"}``, both summed and divided by the number of
        positives in the batch (at least 1), as torchvision's ``SSD.compute_loss``.
    """
    if cls_logits.ndim != 3 or bbox_regression.shape != (*cls_logits.shape[:2], 4):
        raise ValueError(
            "cls_logits must be [N, L, K + 1] and bbox_regression [N, L, 4], got "
            f"{tuple(cls_logits.shape)} and {tuple(bbox_regression.shape)}"
        )
    box_losses, labels = [], []
    num_pos = 0
    for reg, anchors, target, matched in zip(bbox_regression, dboxes, targets, matched_idxs):
        fg = torch.where(matched >= 0)[0]
        num_pos += len(fg)
        gt = target["boxes"][matched[fg]]
        wanted = encode(gt, anchors[fg], BOX_WEIGHTS) if len(fg) else reg[fg]
        box_losses.append(F.smooth_l1_loss(reg[fg], wanted, reduction="sum"))
        lab = torch.zeros(len(matched), dtype=torch.int64, device=reg.device)
        lab[fg] = target["labels"][matched[fg]].to(torch.int64)
        labels.append(lab)
    labels_t = torch.stack(labels)
    cls_loss = F.cross_entropy(cls_logits.flatten(0, 1), labels_t.flatten(), reduction="none")
    cls_loss = cls_loss.view_as(labels_t)
    negatives = hard_negative_mask(cls_loss, labels_t, neg_pos_ratio)
    n = max(1, num_pos)
    return {
        "bbox_regression": torch.stack(box_losses).sum() / n,
        "classification": (cls_loss[labels_t > 0].sum() + cls_loss[negatives].sum()) / n,
    }


class SSDBackbone(nn.Module):
    """A tiny plain CNN giving ``levels`` feature maps of strides ``first_stride``, x2, x4, ...

    A stride-8 trunk (the layers of :class:`~dlcv_utils.models.backbones.TinyBackbone`), then
    one extra stride-2 block per further level, as SSD's extra feature layers. With
    ``first_stride=4`` the first level is tapped from the trunk at stride 4 (before its last
    stride-2 block), for objects too small for stride-8 cells. No top-down fusion. Returns
    ``{"0": ..., "1": ...}``; ``out_channels`` (a list) is read by torchvision's ``SSD``.

    Example:
        >>> net = SSDBackbone(width=8, levels=4)
        >>> [tuple(f.shape[1:]) for f in net(torch.zeros(1, 3, 128, 128)).values()]
        [(32, 16, 16), (64, 8, 8), (64, 4, 4), (64, 2, 2)]
        >>> net = SSDBackbone(width=8, levels=4, first_stride=4)
        >>> [tuple(f.shape[1:]) for f in net(torch.zeros(1, 3, 128, 128)).values()]
        [(16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 4, 4)]
    """

    def __init__(self, width: int = 16, levels: int = 4, first_stride: int = 8):
        super().__init__()
        c = check_int(width, "width", minimum=1)
        levels = check_int(levels, "levels", minimum=1)
        if isinstance(first_stride, bool) or first_stride not in (4, 8):
            raise ValueError(f"first_stride must be 4 or 8, got {first_stride!r}")
        self.first_stride = int(first_stride)
        # stage outputs: stride 4 (2c channels), stride 8 (4c), then 8c at strides 16, 32, ...
        chans = [2 * c, 4 * c] + [8 * c] * levels
        n_stages = levels + (1 if first_stride == 8 else 0)
        stages = [
            nn.Sequential(
                conv_norm_relu(3, c, 2),
                conv_norm_relu(c, c),
                conv_norm_relu(c, 2 * c, 2),
                conv_norm_relu(2 * c, 2 * c),
            )
        ]
        for cin, cout in itertools.pairwise(chans[:n_stages]):
            stages.append(nn.Sequential(conv_norm_relu(cin, cout, 2), conv_norm_relu(cout, cout)))
        self.stages = nn.ModuleList(stages)
        self.out_channels = chans[n_stages - levels : n_stages]

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        skip = len(self.stages) - len(self.out_channels)  # the stride-4 stage when not a level
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= skip:
                out[str(len(out))] = x
        return out


def build_ssd(
    num_classes: int,
    image_size: int = 128,
    width: int = 16,
    levels: int = 4,
    s_min: float = 0.1,
    s_max: float = 0.6,
    aspect_ratios: Sequence[Sequence[float]] | None = None,
    first_stride: int = 8,
    **kwargs,
) -> nn.Module:
    """torchvision's ``SSD`` on :class:`SSDBackbone` (random init; nothing downloaded).

    Args:
        num_classes: including the background (label 0).
        image_size: torchvision's SSD resizes every image to ``image_size x image_size``.
        width: backbone width.
        levels: feature maps (``m``); scales from :func:`default_box_scales`.
        s_min: smallest scale.
        s_max: largest scale.
        aspect_ratios: per level (default ``[2, 3]`` everywhere: ratios 1, 2, 1/2, 3, 1/3 and
            the extra ratio-1 box, 6 boxes per cell).
        **kwargs: passed to ``SSD`` (``score_thresh``, ``nms_thresh``, ``detections_per_img``).

    Example:
        >>> model = build_ssd(6, image_size=64, width=4, levels=3).eval()
        >>> out = model([torch.rand(3, 64, 64)])
        >>> sorted(out[0]), model.anchor_generator.num_anchors_per_location()
        (['boxes', 'labels', 'scores'], [6, 6, 6])
    """
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD

    num_classes = check_int(num_classes, "num_classes", minimum=2)
    image_size = check_int(image_size, "image_size", minimum=8)
    ratios = _check_ratios(aspect_ratios or [[2, 3]] * levels, levels)
    generator = DefaultBoxGenerator(ratios, scales=default_box_scales(levels, s_min, s_max))
    backbone = SSDBackbone(width, levels, first_stride)
    return SSD(backbone, generator, (image_size, image_size), num_classes, **kwargs)
