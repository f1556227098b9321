"""EfficientDet (Tan, Pang and Le, CVPR 2020): compound scaling, a small EfficientNet-style
backbone, the BiFPN neck and separable class/box heads on torchvision's RetinaNet machinery.

EfficientDet is a RetinaNet-style one-stage detector (원스테이지 검출기): anchors on every level
``P3..P7``, a class head trained with the focal loss and a box head, shared over the levels. What
is new is the neck (:mod:`dlcv_utils.models.bifpn`) and **compound scaling** (복합 스케일링): one
coefficient ``phi`` grows the input resolution, the BiFPN's width and depth and the heads' depth
together (:func:`compound_scaling`, checked against the paper's Table 1 in
:data:`EFFICIENTDET_TABLE`).

* :class:`TinyEfficientNet`: MBConv blocks (inverted residual + squeeze-and-excitation, SiLU),
  a few stages only, for training from scratch on a CPU;
* :class:`EfficientDetHead`: torchvision's ``RetinaNetHead`` (its focal and L1 losses) with
  EfficientDet's stack of separable convolutions, shared over the levels, batch norm per level;
* :func:`build_efficientdet`: the detector, a torchvision ``RetinaNet`` with the BiFPN as neck;
* :func:`count_parameters`, :func:`count_macs`: measured size and cost.

Taught in lesson 12.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from torchvision.models.detection.retinanet import (
    RetinaNet,
    RetinaNetClassificationHead,
    RetinaNetHead,
    RetinaNetRegressionHead,
)

from dlcv_utils.models.bifpn import BN_EPS, BN_MOMENTUM, BiFPN

__all__ = [
    "EFFICIENTDET_TABLE",
    "PAPER_COST",
    "EfficientDetFeatures",
    "EfficientDetHead",
    "MBConv",
    "Scaling",
    "TinyEfficientNet",
    "anchor_sizes",
    "build_efficientdet",
    "compound_scaling",
    "count_macs",
    "count_parameters",
    "round_to_multiple",
]


class Scaling(NamedTuple):
    """One EfficientDet size: input side, BiFPN width and depth, head depth, backbone."""

    phi: int
    image_size: int
    width: int
    bifpn_layers: int
    head_layers: int
    backbone: str


#: Table 1 of the paper (= google/automl's ``hparams_config.py`` and effdet's ``model_config``).
EFFICIENTDET_TABLE: dict[int, Scaling] = {
    0: Scaling(0, 512, 64, 3, 3, "efficientnet-b0"),
    1: Scaling(1, 640, 88, 4, 3, "efficientnet-b1"),
    2: Scaling(2, 768, 112, 5, 3, "efficientnet-b2"),
    3: Scaling(3, 896, 160, 6, 4, "efficientnet-b3"),
    4: Scaling(4, 1024, 224, 7, 4, "efficientnet-b4"),
    5: Scaling(5, 1280, 288, 7, 4, "efficientnet-b5"),
    6: Scaling(6, 1280, 384, 8, 5, "efficientnet-b6"),
    7: Scaling(7, 1536, 384, 8, 5, "efficientnet-b6"),
}

#: The paper's Table 2: ``phi -> (parameters in millions, FLOPs in billions = multiply-adds)``.
PAPER_COST: dict[int, tuple[float, float]] = {
    0: (3.9, 2.5),
    1: (6.6, 6.1),
    2: (8.1, 11.0),
    3: (12.0, 25.0),
    4: (21.0, 55.0),
    5: (34.0, 135.0),
    6: (52.0, 226.0),
    7: (52.0, 325.0),
}


def _check_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def round_to_multiple(x: float, multiple: int = 8) -> int:
    """``x`` rounded to the nearest multiple of ``multiple`` (at least ``multiple``).

    Example:
        >>> round_to_multiple(86.4), round_to_multiple(157.5), round_to_multiple(3.0)
        (88, 160, 8)
    """
    _check_int(multiple, "multiple", 1)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"x must be a positive finite number, got {x!r}")
    return max(multiple, round(x / multiple) * multiple)


def compound_scaling(phi: int) -> Scaling:
    """EfficientDet's scaling *rules* for ``phi`` (paper, eqs. 1-3), before the table's tweaks.

    ``R = 512 + 128 phi``, ``W = 64 * 1.35 ** phi`` rounded to a multiple of 8,
    ``D_bifpn = 3 + phi``, ``D_box = D_class = 3 + floor(phi / 3)``; backbone ``B{phi}``.
    The paper's Table 1 (:data:`EFFICIENTDET_TABLE`) departs from the rules at some ``phi``.

    Raises:
        TypeError, ValueError: ``phi`` not an int in 0..7.

    Example:
        >>> compound_scaling(0)
        Scaling(phi=0, image_size=512, width=64, bifpn_layers=3, head_layers=3, backbone='efficientnet-b0')
        >>> compound_scaling(3)[1:5]
        (896, 160, 6, 4)
    """
    _check_int(phi, "phi", 0)
    if phi > 7:
        raise ValueError(f"phi must be in 0..7 (EfficientDet-D0..D7), got {phi!r}")
    return Scaling(
        phi,
        512 + 128 * phi,
        round_to_multiple(64 * 1.35**phi),
        3 + phi,
        3 + phi // 3,
        f"efficientnet-b{phi}",
    )


def anchor_sizes(
    min_level: int, max_level: int, anchor_scale: float = 4.0, num_scales: int = 3
) -> tuple[tuple[float, ...], ...]:
    """EfficientDet's anchor sides per level: ``anchor_scale * 2**level * 2**(k / num_scales)``.

    Example:
        >>> anchor_sizes(3, 4, anchor_scale=4.0, num_scales=1)
        ((32.0,), (64.0,))
        >>> [round(s, 1) for s in anchor_sizes(3, 3, 2.0, 3)[0]]
        [16.0, 20.2, 25.4]
    """
    _check_int(min_level, "min_level", 1)
    _check_int(max_level, "max_level", min_level)
    _check_int(num_scales, "num_scales", 1)
    if not anchor_scale > 0:
        raise ValueError(f"anchor_scale must be > 0, got {anchor_scale!r}")
    return tuple(
        tuple(anchor_scale * 2.0**level * 2.0 ** (k / num_scales) for k in range(num_scales))
        for level in range(min_level, max_level + 1)
    )


# ----------------------------------------------------------------------------- backbone
def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """EfficientNet's block: 1 x 1 expand, depthwise 3 x 3, squeeze-and-excitation, 1 x 1 project.

    A residual connection when the stride is 1 and the width is kept. ``[N, C_in, H, W] ->
    [N, C_out, H / stride, W / stride]``.

    Example:
        >>> MBConv(16, 24, stride=2)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 24, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        expand: int = 4,
        se: float = 0.25,
    ) -> None:
        super().__init__()
        _check_int(in_channels, "in_channels", 1)
        _check_int(out_channels, "out_channels", 1)
        _check_int(expand, "expand", 1)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        mid = in_channels * expand
        squeeze = max(1, int(in_channels * se))
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(in_channels, mid, 1, bias=False), _bn(mid), nn.SiLU()]
        layers += [nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), _bn(mid), nn.SiLU()]
        self.expand_dw = nn.Sequential(*layers)
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(mid, squeeze, 1),
            nn.SiLU(),
            nn.Conv2d(squeeze, mid, 1),
            nn.Sigmoid(),
        )
        self.project = nn.Sequential(nn.Conv2d(mid, out_channels, 1, bias=False), _bn(out_channels))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand_dw(x)
        y = self.project(y * self.se(y))
        return x + y if self.residual else y


class TinyEfficientNet(nn.Module):
    """A few-stage EfficientNet: a stride-2 stem, then one stride-2 stage per width.

    Stage ``k`` (of ``len(widths)``) has stride ``2 ** (k + 2)`` and ``depths[k]`` MBConv
    blocks; the last ``out_levels`` stages are returned (finest first), e.g. ``C3, C4, C5``.

    Args:
        widths: channels of each stage.
        depths: MBConv blocks per stage.
        stem: channels of the stem convolution.
        expand: MBConv expansion ratio.
        out_levels: how many of the last stages to return.

    Example:
        >>> net = TinyEfficientNet((16, 24, 40, 80), (1, 1, 1, 1))
        >>> [tuple(f.shape[1:]) for f in net(torch.zeros(1, 3, 64, 64))]
        [(24, 8, 8), (40, 4, 4), (80, 2, 2)]
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 24, 40, 80),
        depths: Sequence[int] = (1, 1, 2, 2),
        stem: int = 16,
        expand: int = 4,
        out_levels: int = 3,
    ) -> None:
        super().__init__()
        if len(widths) != len(depths) or len(widths) == 0:
            raise ValueError(
                f"widths and depths must be non-empty and of one length, got {widths!r}, {depths!r}"
            )
        _check_int(out_levels, "out_levels", 1)
        if out_levels > len(widths):
            raise ValueError(f"out_levels must be <= len(widths)={len(widths)}, got {out_levels}")
        for d in depths:
            _check_int(d, "depths[i]", 1)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), _bn(stem), nn.SiLU())
        stages, prev = [], stem
        for width, depth in zip(widths, depths):
            blocks = [MBConv(prev, width, stride=2, expand=expand)]
            blocks += [MBConv(width, width, expand=expand) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.out_levels = out_levels
        self.out_channels = list(widths[-out_levels:])
        self.strides = [2 ** (k + 2) for k in range(len(widths))][-out_levels:]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs[-self.out_levels :]


class EfficientDetFeatures(nn.Module):
    """Backbone + BiFPN: an image batch ``[N, 3, H, W]`` -> ``OrderedDict`` of ``L`` levels.

    Has ``out_channels`` (the BiFPN width), as torchvision's detectors want of a backbone.

    Example:
        >>> body = TinyEfficientNet((16, 24, 40, 80), (1, 1, 1, 1))
        >>> feats = EfficientDetFeatures(body, BiFPN(body.out_channels, 16, 1, extra_levels=1)).eval()
        >>> {k: tuple(v.shape[1:]) for k, v in feats(torch.zeros(1, 3, 64, 64)).items()}
        {'P3': (16, 8, 8), 'P4': (16, 4, 4), 'P5': (16, 2, 2), 'P6': (16, 1, 1)}
    """

    def __init__(self, body: nn.Module, bifpn: BiFPN, min_level: int = 3) -> None:
        super().__init__()
        if not isinstance(bifpn, BiFPN):
            raise TypeError(f"bifpn must be a BiFPN, got {type(bifpn).__name__}")
        self.body, self.bifpn, self.min_level = body, bifpn, _check_int(min_level, "min_level", 1)
        self.out_channels = bifpn.out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        feats = self.bifpn(self.body(x))
        return OrderedDict((f"P{self.min_level + i}", f) for i, f in enumerate(feats))


# ----------------------------------------------------------------------------- head
class _SeparableStack(nn.Module):
    """``depth`` x (separable conv, batch norm of *this level*, SiLU); convs shared by levels."""

    def __init__(self, channels: int, depth: int, num_levels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
                nn.Conv2d(channels, channels, 1),
            )
            for _ in range(depth)
        )
        self.bns = nn.ModuleList(
            nn.ModuleList(_bn(channels) for _ in range(num_levels)) for _ in range(depth)
        )
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, level: int) -> torch.Tensor:
        for conv, bns in zip(self.convs, self.bns):
            x = self.act(bns[level](conv(x)))
        return x


class _ClassHead(RetinaNetClassificationHead):
    def __init__(self, channels, num_anchors, num_classes, depth, num_levels):
        super().__init__(channels, num_anchors, num_classes)
        self.conv = _SeparableStack(channels, depth, num_levels)

    def forward(self, x):
        out = []
        for level, features in enumerate(x):
            logits = self.cls_logits(self.conv(features, level))
            n, _, h, w = logits.shape
            logits = logits.view(n, -1, self.num_classes, h, w).permute(0, 3, 4, 1, 2)
            out.append(logits.reshape(n, -1, self.num_classes))  # [N, H W A, K]
        return torch.cat(out, dim=1)


class _BoxHead(RetinaNetRegressionHead):
    def __init__(self, channels, num_anchors, depth, num_levels):
        super().__init__(channels, num_anchors)
        self.conv = _SeparableStack(channels, depth, num_levels)

    def forward(self, x):
        out = []
        for level, features in enumerate(x):
            reg = self.bbox_reg(self.conv(features, level))
            n, _, h, w = reg.shape
            reg = reg.view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2)
            out.append(reg.reshape(n, -1, 4))  # [N, H W A, 4]
        return torch.cat(out, dim=1)


class EfficientDetHead(RetinaNetHead):
    """EfficientDet's class and box nets in torchvision's ``RetinaNetHead`` (same losses).

    Each net: ``depth`` separable 3 x 3 convolutions shared by all levels, each followed by a
    batch norm of its own per level and SiLU, then torchvision's 3 x 3 predictor (class logits
    with the focal-loss prior bias, or 4 box offsets per anchor).

    Args:
        channels: the BiFPN width.
        num_anchors: anchors per cell.
        num_classes: class logits per anchor (label 0 = background is never a target).
        depth: ``D_box = D_class``.
        num_levels: feature levels.

    Example:
        >>> head = EfficientDetHead(8, 9, 5, depth=2, num_levels=2)
        >>> out = head([torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)])
        >>> tuple(out["cls_logits"].shape), tuple(out["bbox_regression"].shape)
        ((1, 180, 5), (1, 180, 4))
    """

    def __init__(
        self, channels: int, num_anchors: int, num_classes: int, depth: int, num_levels: int
    ) -> None:
        for name, v in (("channels", channels), ("num_anchors", num_anchors)):
            _check_int(v, name, 1)
        _check_int(num_classes, "num_classes", 2)
        _check_int(depth, "depth", 1)
        _check_int(num_levels, "num_levels", 1)
        nn.Module.__init__(self)
        self.classification_head = _ClassHead(channels, num_anchors, num_classes, depth, num_levels)
        self.regression_head = _BoxHead(channels, num_anchors, depth, num_levels)


# ----------------------------------------------------------------------------- the detector
def build_efficientdet(
    num_classes: int,
    *,
    image_size: int = 128,
    width: int = 32,
    bifpn_layers: int = 2,
    head_layers: int = 2,
    backbone_widths: Sequence[int] = (16, 24, 40, 80),
    backbone_depths: Sequence[int] = (1, 1, 2, 2),
    min_level: int = 3,
    max_level: int = 6,
    anchor_scale: float = 2.0,
    num_scales: int = 3,
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    score_thresh: float = 0.05,
    detections_per_img: int = 100,
) -> RetinaNet:
    """A small EfficientDet: :class:`TinyEfficientNet` + :class:`~dlcv_utils.models.bifpn.BiFPN`
    + :class:`EfficientDetHead` in torchvision's ``RetinaNet`` (anchors, matching at IoU 0.5 /
    0.4, focal loss, decoding, NMS). Random weights; nothing is downloaded.

    The backbone returns its last 3 stages as ``P{min_level}..P{min_level+2}``; the BiFPN adds
    ``max_level - min_level - 2`` coarser levels by max pooling. Anchors: ``num_scales`` sides
    per level (:func:`anchor_sizes`) times ``aspect_ratios`` (``h / w``). Images are resized to
    ``image_size`` (square images stay square).

    Args:
        num_classes: classes including the background label 0 (torchvision's convention).
        image_size: input side.
        width, bifpn_layers, head_layers: ``W_bifpn``, ``D_bifpn``, ``D_box = D_class``.
        backbone_widths, backbone_depths: of :class:`TinyEfficientNet` (the last 3 stages feed
            the BiFPN: strides 8, 16, 32 for 4 stages).
        min_level, max_level: pyramid levels (``P3..P7`` in the paper).
        anchor_scale, num_scales, aspect_ratios: anchors.
        score_thresh, detections_per_img: post-processing.

    Example:
        >>> model = build_efficientdet(5, image_size=64).eval()
        >>> out = model([torch.zeros(3, 64, 64)])[0]
        >>> sorted(out)
        ['boxes', 'labels', 'scores']
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    _check_int(num_classes, "num_classes", 2)
    _check_int(image_size, "image_size", 32)
    _check_int(min_level, "min_level", 2)
    _check_int(max_level, "max_level", min_level + 2)
    body = TinyEfficientNet(backbone_widths, backbone_depths, out_levels=3)
    expected = [2**level for level in range(min_level, min_level + 3)]
    if body.strides != expected:
        raise ValueError(
            f"backbone strides {body.strides} do not match min_level={min_level} "
            f"(want {expected}): use {min_level - 1} backbone stages"
        )
    extra = max_level - min_level - 2
    bifpn = BiFPN(body.out_channels, width, bifpn_layers, extra_levels=extra)
    features = EfficientDetFeatures(body, bifpn, min_level)
    sizes = anchor_sizes(min_level, max_level, anchor_scale, num_scales)
    ratios = tuple(float(r) for r in aspect_ratios)
    anchors = AnchorGenerator(sizes, (ratios,) * len(sizes))
    head = EfficientDetHead(
        width, anchors.num_anchors_per_location()[0], num_classes, head_layers, len(sizes)
    )
    return RetinaNet(
        features,
        num_classes,
        min_size=image_size,
        max_size=image_size,
        anchor_generator=anchors,
        head=head,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
    )


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``model``.

    Example:
        >>> count_parameters(nn.Linear(3, 2))
        8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


def count_macs(module: nn.Module, inputs) -> int:
    """Multiply-adds of ``module(inputs)``, measured with ``torch.utils.flop_counter``.

    Counts convolutions and matrix products (what papers call FLOPs: one multiply-add = one
    "FLOP" in EfficientDet's tables), i.e. half of ``FlopCounterMode``'s count.

    Example:
        >>> count_macs(nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.zeros(1, 3, 4, 4))
        3456
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(inputs)
    return counter.get_total_flops() // 2
