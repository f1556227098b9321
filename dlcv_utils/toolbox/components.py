"""The toolbox's components: backbones, necks, heads and the detector, registered by name.

Taught in lesson 06. MMDetection and Detectron2 assemble a detector from a *config*: a nested
dict whose every block names its implementation with a ``type`` key (``backbone``, ``neck``,
``rpn_head``, ``roi_head``). Each implementation here registers itself in one of the
:mod:`~dlcv_utils.toolbox.registry` registries under that name, so a config such as::

    dict(
        type="FasterRCNN",
        backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3)),
        neck=dict(type="FPN", out_channels=64, extra_pool=True),
        rpn_head=dict(type="RPNHead", anchor_sizes=((16,), (32,), (64,), (128,), (256,))),
        roi_head=dict(type="StandardRoIHead", num_classes=5),
    )

becomes a :class:`torchvision.models.detection.FasterRCNN` through :func:`build_detector`.
Every class is defined at module level, so a built model pickles (``torch.save(model)``).

Conventions (as in MMDetection): ``num_classes`` counts the *object* classes only; the builder
adds the background class that torchvision's predictor needs. ``out_indices`` count backbone
stages from 0 (``0`` = stride 4, e.g. ResNet ``layer1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from dlcv_utils.models.backbones import (
    MultiStageBackbone,
    mobilenet_v3_stages,
    resnet_stages,
    tinynet_stages,
)
from dlcv_utils.models.fpn import FPN
from dlcv_utils.toolbox.registry import BACKBONES, DETECTORS, NECKS, ROI_HEADS, RPN_HEADS

__all__ = [
    "BackboneWithNeck",
    "FPNNeck",
    "FasterRCNNDetector",
    "MobileNetV3",
    "RPNHead",
    "ResNet",
    "StandardRoIHead",
    "TinyNet",
    "build_detector",
    "count_parameters",
]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of a ``torch.nn.Module`` (only those with ``requires_grad`` if asked).

    Example:
        >>> count_parameters(torch.nn.Linear(3, 2))
        8
    """
    if not hasattr(model, "parameters"):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# ----------------------------------------------------------------------------- backbones
@BACKBONES.register_module()
def ResNet(
    depth: int, out_indices: Sequence[int] = (0, 1, 2, 3), norm: str = "BN", frozen_stages: int = -1
) -> MultiStageBackbone:
    """A torchvision ResNet (random init) cut into its stem and four stages (strides 4..32).

    Args:
        depth: 18, 34 or 50.
        out_indices: which stages to return (0 = ``layer1``, stride 4 ... 3 = ``layer4``, 32).
        norm: ``"BN"``, ``"GN"`` (group norm) or ``"FrozenBN"`` (for pretrained weights).
        frozen_stages: freeze the stem and stages ``0..frozen_stages`` (-1: train everything).

    Example:
        >>> net = BACKBONES.build(dict(type="ResNet", depth=18, out_indices=(1, 3)))
        >>> net.out_channels_list, net.strides
        ([128, 512], [8, 32])
        >>> {k: tuple(v.shape) for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
        {'0': (1, 128, 8, 8), '1': (1, 512, 2, 2)}
    """
    return MultiStageBackbone(*resnet_stages(depth, norm), out_indices, frozen_stages)


@BACKBONES.register_module()
def MobileNetV3(
    arch: str = "large",
    out_indices: Sequence[int] = (2, 3),
    norm: str = "BN",
    frozen_stages: int = -1,
) -> MultiStageBackbone:
    """torchvision's MobileNetV3 (random init) cut at its strides 4, 8, 16 and 32 (stages 0..3).

    Args:
        arch: ``"large"`` or ``"small"``.
        out_indices: which stages to return (0 = stride 4 ... 3 = stride 32, the last 1x1 conv).
        norm: ``"BN"``, ``"GN"`` or ``"FrozenBN"``.
        frozen_stages: freeze the stem and stages ``0..frozen_stages``.

    Example:
        >>> net = BACKBONES.build(dict(type="MobileNetV3", arch="small", out_indices=(3,)))
        >>> net.out_channels_list, net.strides
        ([576], [32])
    """
    return MultiStageBackbone(*mobilenet_v3_stages(arch, norm), out_indices, frozen_stages)


@BACKBONES.register_module()
def TinyNet(
    widths: Sequence[int] = (32, 64, 128, 256),
    out_indices: Sequence[int] = (0, 1, 2, 3),
    norm: str = "BN",
    frozen_stages: int = -1,
) -> MultiStageBackbone:
    """A small plain CNN (two 3x3 conv-norm-ReLU per stage) with strides 4, 8, 16, 32.

    Args:
        widths: channels of the four stages (the stem has ``widths[0]``).
        out_indices: which stages to return (0 = stride 4 ... 3 = stride 32).
        norm: ``"BN"``, ``"GN"`` or ``"FrozenBN"``.
        frozen_stages: freeze the stem and stages ``0..frozen_stages``.

    Example:
        >>> net = BACKBONES.build(dict(type="TinyNet", widths=(8, 16, 32, 64)))
        >>> net.out_channels_list, net.strides
        ([8, 16, 32, 64], [4, 8, 16, 32])
    """
    return MultiStageBackbone(*tinynet_stages(widths, norm), out_indices, frozen_stages)


# ----------------------------------------------------------------------------- necks
@NECKS.register_module(name="FPN")
def FPNNeck(in_channels: Sequence[int], out_channels: int = 256, extra_pool: bool = True) -> FPN:
    """The Feature Pyramid Network of :mod:`dlcv_utils.models.fpn`; ``in_channels`` come from the backbone.

    Example:
        >>> NECKS.build(dict(type="FPN", out_channels=8), default_args=dict(in_channels=[16, 32])).out_channels
        8
    """
    return FPN(list(in_channels), out_channels, extra_pool=extra_pool)


class BackboneWithNeck(nn.Module):
    """Backbone followed by an optional neck; what torchvision detectors call ``backbone``.

    Attributes:
        out_channels: channels of every output level (torchvision's heads need one number).
        featmap_names: names of the levels the RoI head pools from (all but ``"pool"``).
        num_levels: number of output levels (the RPN needs one anchor size tuple per level).
    """

    def __init__(self, body: MultiStageBackbone, neck: nn.Module | None = None):
        super().__init__()
        self.body = body
        self.neck = neck
        n = len(body.out_channels_list)
        if neck is None:
            if len(set(body.out_channels_list)) != 1:
                raise ValueError(
                    "without a neck every backbone level must have the same channels (the "
                    f"heads are shared across levels), got {body.out_channels_list}; "
                    "return one level (e.g. out_indices=(3,)) or add neck=dict(type='FPN')"
                )
            self.out_channels = body.out_channels_list[0]
            extra = False
        else:
            self.out_channels = neck.out_channels
            extra = bool(getattr(neck, "extra_pool", False))
        self.featmap_names = [str(i) for i in range(n)]
        self.num_levels = n + int(extra)

    def forward(self, x: torch.Tensor):
        feats = self.body(x)
        return feats if self.neck is None else self.neck(feats)


# ----------------------------------------------------------------------------- heads
@RPN_HEADS.register_module()
def RPNHead(
    in_channels: int,
    num_levels: int,
    anchor_sizes: Sequence[Sequence[float]],
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    conv_depth: int = 1,
    pre_nms_top_n_train: int = 2000,
    pre_nms_top_n_test: int = 1000,
    post_nms_top_n_train: int = 2000,
    post_nms_top_n_test: int = 1000,
    nms_thresh: float = 0.7,
    fg_iou_thresh: float = 0.7,
    bg_iou_thresh: float = 0.3,
    batch_size_per_image: int = 256,
    positive_fraction: float = 0.5,
):
    """torchvision's region proposal network: one head shared by all levels + its anchors.

    ``in_channels`` and ``num_levels`` are filled in by the detector from its backbone/neck.
    ``anchor_sizes`` has one tuple of sizes (pixels) per level; ``aspect_ratios`` are shared.

    Example:
        >>> rpn = RPN_HEADS.build(
        ...     dict(type="RPNHead", anchor_sizes=[[32]]), default_args=dict(in_channels=8, num_levels=1)
        ... )
        >>> rpn.anchor_generator.num_anchors_per_location()
        [3]
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.models.detection.rpn import RPNHead as TVRPNHead

    sizes = tuple(tuple(float(s) for s in level) for level in anchor_sizes)
    if len(sizes) != num_levels:
        raise ValueError(
            f"anchor_sizes must have one tuple per feature level ({num_levels} levels), "
            f"got {len(sizes)}: {anchor_sizes!r}"
        )
    if len({len(s) for s in sizes}) != 1:
        raise ValueError(
            f"anchor_sizes must have the same number of sizes per level, got {anchor_sizes!r}"
        )
    ratios = (tuple(float(r) for r in aspect_ratios),) * num_levels
    anchors = AnchorGenerator(sizes, ratios)
    head = TVRPNHead(in_channels, anchors.num_anchors_per_location()[0], conv_depth=conv_depth)
    return RegionProposalNetwork(
        anchors,
        head,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        dict(training=pre_nms_top_n_train, testing=pre_nms_top_n_test),
        dict(training=post_nms_top_n_train, testing=post_nms_top_n_test),
        nms_thresh,
    )


@ROI_HEADS.register_module()
def StandardRoIHead(
    in_channels: int,
    featmap_names: Sequence[str],
    num_classes: int,
    roi_output_size: int = 7,
    sampling_ratio: int = 2,
    canonical_scale: int = 224,
    representation_size: int = 1024,
    fg_iou_thresh: float = 0.5,
    bg_iou_thresh: float = 0.5,
    batch_size_per_image: int = 512,
    positive_fraction: float = 0.25,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
):
    """RoIAlign over the pyramid + a two-layer MLP + class scores and per-class box deltas.

    ``num_classes`` counts object classes only (MMDetection's convention); the predictor gets
    ``num_classes + 1`` outputs, index 0 being background (torchvision's convention).
    An RoI of side ``s`` pools from pyramid level ``floor(4 + log2(s / canonical_scale))``
    (clamped to the levels there are; eq. 1 of the FPN paper).

    Example:
        >>> roi = ROI_HEADS.build(
        ...     dict(type="StandardRoIHead", num_classes=5, representation_size=32),
        ...     default_args=dict(in_channels=8, featmap_names=["0"]),
        ... )
        >>> roi.box_predictor.cls_score.out_features
        6
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.roi_heads import RoIHeads
    from torchvision.ops import MultiScaleRoIAlign

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive int (object classes, no background), got {num_classes!r}"
        )
    pool = MultiScaleRoIAlign(
        list(featmap_names),
        output_size=roi_output_size,
        sampling_ratio=sampling_ratio,
        canonical_scale=canonical_scale,
    )
    head = TwoMLPHead(in_channels * roi_output_size**2, representation_size)
    predictor = FastRCNNPredictor(representation_size, num_classes + 1)
    return RoIHeads(
        pool,
        head,
        predictor,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        None,
        score_thresh,
        nms_thresh,
        detections_per_img,
    )


# ----------------------------------------------------------------------------- detectors
@DETECTORS.register_module(name="FasterRCNN")
def FasterRCNNDetector(
    backbone: Mapping,
    rpn_head: Mapping,
    roi_head: Mapping,
    neck: Mapping | None = None,
    data_preprocessor: Mapping | None = None,
):
    """Assemble a torchvision ``FasterRCNN`` from the configs of its parts (built recursively).

    ``data_preprocessor`` holds torchvision's ``GeneralizedRCNNTransform`` arguments
    (``min_size``, ``max_size``, ``image_mean``, ``image_std``).
    """
    from torchvision.models.detection import FasterRCNN

    body = BACKBONES.build(backbone)
    neck_module = (
        None
        if neck is None
        else NECKS.build(neck, default_args=dict(in_channels=body.out_channels_list))
    )
    features = BackboneWithNeck(body, neck_module)
    rpn = RPN_HEADS.build(
        rpn_head,
        default_args=dict(in_channels=features.out_channels, num_levels=features.num_levels),
    )
    roi = ROI_HEADS.build(
        roi_head,
        default_args=dict(in_channels=features.out_channels, featmap_names=features.featmap_names),
    )
    pre = dict(min_size=800, max_size=1333)
    pre.update(data_preprocessor or {})
    model = FasterRCNN(
        features,
        num_classes=None,
        rpn_anchor_generator=rpn.anchor_generator,
        rpn_head=rpn.head,
        box_roi_pool=roi.box_roi_pool,
        box_head=roi.box_head,
        box_predictor=roi.box_predictor,
        **pre,
    )
    model.rpn, model.roi_heads = rpn, roi  # keep every threshold the configs set
    return model


def build_detector(cfg: Mapping):
    """Build a detector from its config (``DETECTORS.build``); accepts ``dict(model=...)`` too.

    Raises:
        TypeError / ValueError: as :func:`~dlcv_utils.toolbox.registry.build_component`, from
            whichever block is wrong.

    Example:
        >>> import torch
        >>> from dlcv_utils.toolbox.config import get_config
        >>> model = build_detector(get_config("faster_rcnn_r18_fpn")).eval()
        >>> type(model).__name__
        'FasterRCNN'
        >>> with torch.no_grad():
        ...     out = model([torch.rand(3, 64, 64)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
    """
    if isinstance(cfg, Mapping) and "model" in cfg and "type" not in cfg:
        cfg = cfg["model"]
    return DETECTORS.build(cfg)
