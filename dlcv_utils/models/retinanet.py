"""RetinaNet (Lin et al., 2017) sized for the 128-px shapes images, on torchvision's ``RetinaNet``.

Taught in lesson 11. The pieces:

* :class:`RetinaNetBackbone`: lesson 08's tiny multi-scale CNN
  (:class:`~dlcv_utils.models.ssd.SSDBackbone`, strides 8, 16, 32, or 4, 8, 16 with
  ``first_stride=4``) whose maps go through an :class:`~dlcv_utils.models.fpn.FPN`, giving
  three levels (``P3..P5``, or ``P2..P4``) with ``out_channels`` channels each (what
  torchvision's ``RetinaNet`` reads);
* :func:`retinanet_anchor_sizes`: the paper's three scales per octave, ``s * 2^(i/3)``, one
  tuple per level;
* :class:`FocalClassificationHead` / :class:`LightRegressionHead`: torchvision's heads with
  ``num_convs`` convolutions instead of 4 (the paper's head is heavy for a CPU), optionally
  with group norm (as torchvision's RetinaNet v2; trained from scratch in a few hundred
  iterations the heads learn far faster with it), and a classification loss whose ``alpha``
  and ``gamma`` can be set (torchvision fixes 0.25 and 2);
* :func:`anchor_states`: RetinaNet's anchor labels (IoU >= 0.5 positive, < 0.4 negative, the
  rest ignored, plus each object's best anchor), as torchvision's ``Matcher`` gives them;
* :func:`build_retinanet`: all of it in torchvision's ``RetinaNet`` (random init; nothing
  downloaded).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision.models.detection.retinanet import (
    RetinaNetClassificationHead,
    RetinaNetRegressionHead,
)

from dlcv_utils.models.fpn import FPN
from dlcv_utils.models.ssd import SSDBackbone
from dlcv_utils.ops.losses import check_focal_args, focal_loss
from dlcv_utils.validation import check_int

__all__ = [
    "FocalClassificationHead",
    "LightRegressionHead",
    "RetinaNetBackbone",
    "anchor_states",
    "build_retinanet",
    "group_norm",
    "retinanet_anchor_sizes",
]


def retinanet_anchor_sizes(
    base_sizes: Sequence[float] = (16, 32, 64), scales_per_octave: int = 3
) -> tuple[tuple[int, ...], ...]:
    """One tuple of anchor sizes per pyramid level: ``round(s * 2^(i / n))``, ``i = 0..n-1``.

    The paper uses ``n = 3`` scales per octave (``2^0, 2^(1/3), 2^(2/3)``) on base sizes
    32..512 px for levels P3..P7; at 128 px the course uses smaller bases.

    Raises:
        ValueError: for an empty or non-positive ``base_sizes`` or ``scales_per_octave < 1``.

    Example:
        >>> retinanet_anchor_sizes((16, 32))
        ((16, 20, 25), (32, 40, 51))
    """
    n = check_int(scales_per_octave, "scales_per_octave", minimum=1)
    if isinstance(base_sizes, str) or len(base_sizes) == 0 or min(base_sizes) <= 0:
        raise ValueError(
            f"base_sizes must be a non-empty sequence of sizes > 0, got {base_sizes!r}"
        )
    return tuple(tuple(round(s * 2 ** (i / n)) for i in range(n)) for s in base_sizes)


def _check_convs(num_convs) -> int:
    num_convs = check_int(num_convs, "num_convs", minimum=0)
    if num_convs > 4:
        raise ValueError(f"num_convs must be at most 4 (torchvision's head), got {num_convs}")
    return num_convs


class RetinaNetBackbone(nn.Module):
    """A tiny CNN + FPN giving three levels of ``out_channels`` each, ``P3..P5`` or ``P2..P4``.

    The paper's ``P3..P7`` (strides 8-128) suit objects of 32-512 px on 800 px images. The
    shapes objects are 8-64 px on 128 px images: at stride 8 a third of them have no anchor of
    IoU >= 0.5 (lesson 08 measured the same for SSD), so the course starts at stride 4.

    Args:
        width: width of :class:`~dlcv_utils.models.ssd.SSDBackbone` (its 3 levels have ``4
            width``, ``8 width``, ``8 width`` channels, or ``2 width``, ``4 width``, ``8 width``
            with ``first_stride=4``).
        out_channels: FPN channels (torchvision's ``RetinaNet`` reads ``out_channels``).
        first_stride: stride of the finest level, 8 (``P3, P4, P5``: strides 8, 16, 32) or 4
            (``P2, P3, P4``: strides 4, 8, 16).

    Attributes:
        strides: the strides of the three levels.

    Example:
        >>> net = RetinaNetBackbone(width=4, out_channels=16)
        >>> {k: tuple(v.shape[1:]) for k, v in net(torch.zeros(1, 3, 128, 128)).items()}
        {'p3': (16, 16, 16), 'p4': (16, 8, 8), 'p5': (16, 4, 4)}
        >>> net = RetinaNetBackbone(width=4, out_channels=16, first_stride=4)
        >>> {k: tuple(v.shape[1:]) for k, v in net(torch.zeros(1, 3, 128, 128)).items()}
        {'p2': (16, 32, 32), 'p3': (16, 16, 16), 'p4': (16, 8, 8)}
    """

    def __init__(self, width: int = 16, out_channels: int = 64, first_stride: int = 8):
        super().__init__()
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.body = SSDBackbone(width, levels=3, first_stride=first_stride)
        self.fpn = FPN(self.body.out_channels, self.out_channels)
        self.strides = [first_stride, 2 * first_stride, 4 * first_stride]
        first = 3 if first_stride == 8 else 2
        self.level_names = tuple(f"p{first + i}" for i in range(3))

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        feats = self.fpn(self.body(x)).values()
        return OrderedDict(zip(self.level_names, feats, strict=True))


def _head_convs(head: nn.Module, num_convs, norm_layer: Callable | None) -> nn.Sequential:
    """``num_convs`` 3 x 3 conv (+ norm) + ReLU layers, initialised as torchvision's heads."""
    from torchvision.ops.misc import Conv2dNormActivation

    num_convs = _check_convs(num_convs)
    if norm_layer is None:
        return head.conv[:num_convs]
    channels = head.conv[0][0].in_channels
    layers = [
        Conv2dNormActivation(channels, channels, norm_layer=norm_layer) for _ in range(num_convs)
    ]
    for layer in layers:
        nn.init.normal_(layer[0].weight, std=0.01)
    return nn.Sequential(*layers)


def group_norm(channels: int) -> nn.GroupNorm:
    """Group norm with groups of 4 channels (at most 32 groups), for the heads.

    Example:
        >>> group_norm(64).num_groups
        16
    """
    return nn.GroupNorm(max(1, min(32, channels // 4)), channels)


class FocalClassificationHead(RetinaNetClassificationHead):
    """torchvision's ``RetinaNetClassificationHead`` with ``num_convs`` convs and a set α, γ.

    The loss is torchvision's: per image, the focal loss summed over all anchors that are not
    ignored (every class of each), divided by that image's number of positive anchors (at
    least 1); then averaged over the images. torchvision fixes ``alpha = 0.25``,
    ``gamma = 2``; here they are arguments, so ``gamma = 0`` trains with (α-weighted)
    cross-entropy for comparison.

    Args:
        in_channels: channels of the FPN maps.
        num_anchors: anchors per cell.
        num_classes: outputs per anchor (label 0, the background, is never a target).
        num_convs: 3 x 3 conv + ReLU layers before the output conv (paper: 4).
        alpha: focal-loss ``alpha`` (negative: no weighting).
        gamma: focal-loss ``gamma``.
        prior_probability: the initial foreground probability ``pi`` (paper: 0.01).
        norm_layer: ``channels -> module`` after each conv (e.g. :func:`group_norm`), or
            ``None`` (torchvision's v1 head).

    Example:
        >>> head = FocalClassificationHead(8, 9, 3, num_convs=1, gamma=0.0)
        >>> len(head.conv), head.gamma, tuple(head([torch.zeros(1, 8, 4, 4)]).shape)
        (1, 0.0, (1, 144, 3))
    """

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        num_convs: int = 2,
        alpha: float = 0.25,
        gamma: float = 2.0,
        prior_probability: float = 0.01,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__(in_channels, num_anchors, num_classes, prior_probability)
        check_focal_args(torch.zeros(1), torch.zeros(1), alpha, gamma)
        self.conv = _head_convs(self, num_convs, norm_layer)
        self.alpha, self.gamma = float(alpha), float(gamma)

    def compute_loss(self, targets, head_outputs, matched_idxs):
        """The classification loss of a batch (see the class docstring)."""
        losses = []
        for target, logits, matched in zip(targets, head_outputs["cls_logits"], matched_idxs):
            foreground = matched >= 0
            wanted = torch.zeros_like(logits)
            wanted[foreground, target["labels"][matched[foreground]]] = 1.0
            valid = matched != self.BETWEEN_THRESHOLDS
            loss = focal_loss(logits[valid], wanted[valid], self.alpha, self.gamma, "sum")
            losses.append(loss / max(1, int(foreground.sum())))
        return sum(losses) / len(targets)


class LightRegressionHead(RetinaNetRegressionHead):
    """torchvision's ``RetinaNetRegressionHead`` with ``num_convs`` convs (paper: 4).

    ``norm_layer`` as for :class:`FocalClassificationHead`.

    Example:
        >>> head = LightRegressionHead(8, 9, num_convs=1)
        >>> tuple(head([torch.zeros(2, 8, 4, 4)]).shape)
        (2, 144, 4)
    """

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_convs: int = 2,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__(in_channels, num_anchors)
        self.conv = _head_convs(self, num_convs, norm_layer)


def anchor_states(
    anchors: torch.Tensor, gt_boxes: torch.Tensor, fg_iou: float = 0.5, bg_iou: float = 0.4
) -> torch.Tensor:
    """RetinaNet's label of every anchor: 1 positive, 0 negative (background), -1 ignored.

    Positive: best IoU with a ground truth ``>= fg_iou``; negative: ``< bg_iou``; ignored in
    between; then each ground truth's best anchor(s), ties included, become positive whatever
    their IoU (torchvision's ``Matcher(fg_iou, bg_iou, allow_low_quality_matches=True)``).

    Args:
        anchors: ``Tensor[A, 4]`` xyxy.
        gt_boxes: ``Tensor[G, 4]`` xyxy (``G`` may be 0: every anchor is negative).
        fg_iou: positive threshold.
        bg_iou: negative threshold (``<= fg_iou``).

    Returns:
        ``Tensor[A]`` int64 in ``{1, 0, -1}``.

    Example:
        >>> anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 4.5], [0, 0, 10, 2], [50, 50, 60, 60]])
        >>> anchor_states(anchors, torch.tensor([[0.0, 0, 10, 10]])).tolist()
        [1, -1, 0, 0]
    """
    from torchvision.models.detection._utils import Matcher
    from torchvision.ops import box_iou

    if not (0 <= bg_iou <= fg_iou <= 1):
        raise ValueError(f"need 0 <= bg_iou <= fg_iou <= 1, got bg_iou={bg_iou}, fg_iou={fg_iou}")
    for name, t in (("anchors", anchors), ("gt_boxes", gt_boxes)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[1] != 4:
            raise ValueError(f"{name} must be a Tensor[N, 4], got {getattr(t, 'shape', t)!r}")
    if len(gt_boxes) == 0:
        return torch.zeros(len(anchors), dtype=torch.int64)
    matched = Matcher(fg_iou, bg_iou, allow_low_quality_matches=True)(box_iou(gt_boxes, anchors))
    return torch.where(matched >= 0, 1, torch.where(matched == Matcher.BELOW_LOW_THRESHOLD, 0, -1))


def build_retinanet(
    num_classes: int,
    image_size: int = 128,
    width: int = 16,
    fpn_channels: int = 64,
    head_convs: int = 2,
    head_norm: bool = True,
    base_sizes: Sequence[float] = (12, 24, 48),
    first_stride: int = 8,
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    alpha: float = 0.25,
    gamma: float = 2.0,
    **kwargs,
) -> nn.Module:
    """torchvision's ``RetinaNet`` on :class:`RetinaNetBackbone` with light heads (random init).

    Args:
        num_classes: including the background label 0 (never a target; sigmoid outputs).
        image_size: the model's transform keeps ``image_size`` px images as they are.
        width: backbone width (:class:`RetinaNetBackbone`).
        fpn_channels: FPN and head channels.
        head_convs: convs per head branch (paper: 4).
        head_norm: group norm after each head conv (:func:`group_norm`).
        base_sizes: anchor base size per level, finest first (3 scales per octave each).
        first_stride: stride of the finest level, 8 (P3-P5) or 4 (P2-P4).
        aspect_ratios: height / width ratios (the same on every level).
        alpha: focal-loss ``alpha``.
        gamma: focal-loss ``gamma`` (0: cross-entropy).
        **kwargs: passed to ``RetinaNet`` (``score_thresh``, ``nms_thresh``,
            ``detections_per_img``, ``fg_iou_thresh``, ``bg_iou_thresh``, ...).

    Example:
        >>> model = build_retinanet(6, image_size=64, width=4, fpn_channels=8).eval()
        >>> sorted(model([torch.rand(3, 64, 64)])[0]), model.anchor_generator.num_anchors_per_location()
        (['boxes', 'labels', 'scores'], [9, 9, 9])
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead

    num_classes = check_int(num_classes, "num_classes", minimum=2)
    image_size = check_int(image_size, "image_size", minimum=32)
    backbone = RetinaNetBackbone(width, fpn_channels, first_stride)
    if len(base_sizes) != len(backbone.strides):
        raise ValueError(
            f"base_sizes must give one size per level ({len(backbone.strides)}), got {base_sizes!r}"
        )
    if len(aspect_ratios) == 0 or min(aspect_ratios) <= 0:
        raise ValueError(f"aspect_ratios must be positive ratios, got {aspect_ratios!r}")
    sizes = retinanet_anchor_sizes(base_sizes)
    generator = AnchorGenerator(sizes, (tuple(aspect_ratios),) * len(sizes))
    num_anchors = generator.num_anchors_per_location()[0]
    head = RetinaNetHead(fpn_channels, num_anchors, num_classes)
    norm = group_norm if head_norm else None
    head.classification_head = FocalClassificationHead(
        fpn_channels, num_anchors, num_classes, head_convs, alpha, gamma, norm_layer=norm
    )
    head.regression_head = LightRegressionHead(fpn_channels, num_anchors, head_convs, norm)
    kwargs.setdefault("min_size", image_size)
    kwargs.setdefault("max_size", image_size)
    return RetinaNet(backbone, num_classes, anchor_generator=generator, head=head, **kwargs)
