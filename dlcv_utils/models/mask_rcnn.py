"""Mask R-CNN (인스턴스 분할) for the course: a small model for CPU training, mask targets, COCO weights.

Taught in lesson 13 (Mask R-CNN).

* :func:`build_mask_rcnn` assembles torchvision's ``MaskRCNN`` around a small plain CNN with an
  FPN (:class:`~dlcv_utils.models.fpn.FPN`, levels P2-P4 of strides 4, 8, 16), sized for the
  128 px shapes images; RoIs pick their pyramid level by the FPN paper's rule with a canonical
  side of 112 px (below 56 px: P2, 56-112 px: P3); its mask head is narrow (``mask_layers`` 3x3 convolutions of
  ``mask_channels`` instead of torchvision's 4 x 256) so it trains on a CPU in minutes.
* :func:`mask_targets` is the mask head's training target: each ground-truth mask cropped to its
  RoI and resampled to ``M x M`` with RoIAlign (torchvision's ``project_masks_on_boxes``).
* :func:`masks_to_rles` turns predicted mask probabilities into COCO RLEs (``segm`` results).
* :func:`load_pretrained_mask_rcnn` loads torchvision's COCO-trained Mask R-CNN from torch's hub
  cache (downloading it where there is internet, e.g. Colab) or raises
  :class:`~dlcv_utils.models.faster_rcnn.WeightsUnavailableError`.

Masks are ``[N, H, W]`` (binary) or ``[N, 1, H, W]`` (probabilities, as the model returns them);
boxes ``[N, 4]`` xyxy in pixel edges.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from dlcv_utils.models.backbones import MultiStageBackbone, TinyBackbone, tinynet_stages
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError
from dlcv_utils.models.fpn import FPN

__all__ = [
    "COCO_MASK_MODELS",
    "MASK_BACKBONES",
    "FPNBackbone",
    "build_mask_rcnn",
    "coco_mask_weights_file",
    "load_pretrained_mask_rcnn",
    "mask_targets",
    "masks_to_rles",
]

#: the backbones :func:`build_mask_rcnn` builds.
MASK_BACKBONES = ("tiny_fpn", "tiny")

#: torchvision COCO Mask R-CNN builders and their weight enums.
COCO_MASK_MODELS = {
    "maskrcnn_resnet50_fpn": "MaskRCNN_ResNet50_FPN_Weights",
    "maskrcnn_resnet50_fpn_v2": "MaskRCNN_ResNet50_FPN_V2_Weights",
}


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


class FPNBackbone(nn.Module):
    """A small plain CNN (:func:`~dlcv_utils.models.backbones.tinynet_stages`) and an FPN.

    Args:
        widths: channels of the four CNN stages (strides 4, 8, 16, 32).
        levels: how many stages feed the FPN, finest first (3: P2-P4, strides 4, 8, 16).
        out_channels: channels of every pyramid level.

    Example:
        >>> net = FPNBackbone((8, 16, 32, 64), levels=3, out_channels=16)
        >>> {k: tuple(v.shape) for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
        {'0': (1, 16, 16, 16), '1': (1, 16, 8, 8), '2': (1, 16, 4, 4)}
    """

    def __init__(
        self, widths: Sequence[int] = (32, 64, 128, 128), levels: int = 3, out_channels: int = 64
    ):
        super().__init__()
        _check_int(levels, "levels", 1)
        if levels > 4:
            raise ValueError(f"levels must be an int in 1..4, got {levels!r}")
        _check_int(out_channels, "out_channels", 1)
        self.body = MultiStageBackbone(*tinynet_stages(widths), out_indices=tuple(range(levels)))
        self.fpn = FPN(self.body.out_channels_list, out_channels)
        self.out_channels = out_channels
        self.strides = list(self.body.strides)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(self.body(x))


def build_mask_rcnn(
    num_classes: int,
    *,
    backbone: str = "tiny_fpn",
    image_size: int = 128,
    widths: Sequence[int] = (32, 64, 128, 128),
    levels: int = 3,
    fpn_channels: int = 64,
    anchor_sizes: Sequence[Sequence[float]] = ((12, 16, 24), (24, 32, 48), (48, 64, 96)),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    representation_size: int = 256,
    mask_layers: int = 2,
    mask_channels: int = 32,
    mask_roi_size: int = 14,
    box_batch_size_per_image: int = 64,
    rpn_pre_nms_top_n: tuple[int, int] = (300, 300),
    rpn_post_nms_top_n: tuple[int, int] = (200, 100),
    box_score_thresh: float = 0.01,
    box_detections_per_img: int = 100,
    sampling_ratio: int = 1,
    canonical_scale: int = 112,
) -> nn.Module:
    """torchvision's ``MaskRCNN`` with a small CNN + FPN backbone, for ``image_size`` images.

    The Faster R-CNN parts (RPN with ``len(anchor_sizes[i]) * len(aspect_ratios)`` anchors per
    cell and level, RoIAlign to 7 x 7, a two-layer MLP box head) plus the mask branch: RoIAlign
    to ``mask_roi_size`` x ``mask_roi_size``, ``mask_layers`` 3x3 conv-ReLU of
    ``mask_channels``, a 2x transposed convolution and a 1x1 convolution giving one
    ``2 * mask_roi_size`` square mask logit map **per class** (the loss reads the map of the
    RoI's ground-truth class only). An RoI of side ``s = sqrt(w h)`` pools from level
    ``floor(4 + log2(s / canonical_scale))``, clipped to the levels there are (the FPN paper's
    rule, whose canonical side is 224 for ImageNet-sized objects): with ``canonical_scale=112``
    the shapes objects under 56 px pool from P2 and those of 56-112 px from P3. Scaling the rule
    down further (56: a 28 px object pools from P3, where it covers 3.5 cells) costs about 0.2
    box mAP@0.5 on the shapes (``benchmarks/bench_mask_backbones.py``).

    Args:
        num_classes: classes **including** the background (shapes: 5 + 1 = 6).
        backbone: ``"tiny_fpn"`` (:class:`FPNBackbone`: ``widths``, ``levels``,
            ``fpn_channels``) or ``"tiny"`` (lesson 05's
            :class:`~dlcv_utils.models.backbones.TinyBackbone` of stride 4, one feature map of
            ``4 * widths[0]`` channels, so ``levels`` must be 1; it learns the shapes faster on
            a CPU).
        image_size: image side; ``min_size = max_size = image_size`` (no resize).
        widths: channels of the four CNN stages (``"tiny"``: only ``widths[0]`` is used).
        levels: pyramid levels used (P2.. of strides 4, 8, ...); ``len(anchor_sizes)`` must
            equal it.
        fpn_channels: channels of every pyramid level (``"tiny_fpn"`` only).
        anchor_sizes: anchor sides per level, finest level first.
        aspect_ratios: anchor height / width ratios (the same at every level).
        representation_size: width of the box head's MLP.
        mask_layers: 3x3 convolutions in the mask head (torchvision: 4).
        mask_channels: their channels (torchvision: 256).
        mask_roi_size: RoIAlign output side of the mask branch (torchvision: 14; the masks
            are twice that, 28).
        box_batch_size_per_image: proposals sampled per image for the head losses.
        rpn_pre_nms_top_n: proposals kept before NMS, ``(train, test)``.
        rpn_post_nms_top_n: proposals kept after NMS, ``(train, test)``.
        box_score_thresh: detections below this score are dropped at test time.
        box_detections_per_img: at most this many detections per image.
        sampling_ratio: bilinear samples per RoIAlign bin side (1 keeps the CPU fast).
        canonical_scale: the FPN level rule's canonical RoI side (pixels; ``"tiny"`` has one
            level, so it has no effect there).

    Raises:
        ValueError / TypeError: ``num_classes < 2``, bad sizes, ``len(anchor_sizes) != levels``,
            an unknown backbone, ``backbone="tiny"`` with ``levels != 1``.

    Example:
        >>> model = build_mask_rcnn(6).eval()
        >>> out = model([torch.rand(3, 128, 128)])[0]
        >>> sorted(out), tuple(out["masks"].shape[1:])
        (['boxes', 'labels', 'masks', 'scores'], (1, 128, 128))
    """
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    _check_int(num_classes, "num_classes", 2)
    _check_int(image_size, "image_size", 32)
    _check_int(levels, "levels", 1)
    for name, value in (
        ("fpn_channels", fpn_channels),
        ("representation_size", representation_size),
        ("mask_layers", mask_layers),
        ("mask_channels", mask_channels),
        ("mask_roi_size", mask_roi_size),
        ("sampling_ratio", sampling_ratio),
        ("canonical_scale", canonical_scale),
    ):
        _check_int(value, name, 1)
    if len(anchor_sizes) != levels:
        raise ValueError(
            f"anchor_sizes must give one tuple of sizes per level ({levels}), got {anchor_sizes!r}"
        )
    sizes = tuple(tuple(float(s) for s in level) for level in anchor_sizes)
    ratios = tuple(float(r) for r in aspect_ratios)
    if any(not s > 0 for level in sizes for s in level) or any(len(lv) == 0 for lv in sizes):
        raise ValueError(f"anchor_sizes must be positive numbers, got {anchor_sizes!r}")
    if not ratios or any(not r > 0 for r in ratios):
        raise ValueError(f"aspect_ratios must be positive numbers, got {aspect_ratios!r}")

    if backbone not in MASK_BACKBONES:
        raise ValueError(f"backbone must be one of {MASK_BACKBONES}, got {backbone!r}")
    if backbone == "tiny":
        if levels != 1:
            raise ValueError(f"backbone='tiny' has one feature map: levels must be 1, got {levels}")
        body = TinyBackbone(int(widths[0]), stride=4)
    else:
        body = FPNBackbone(widths, levels, fpn_channels)
    channels = body.out_channels
    names = [str(i) for i in range(levels)]
    anchor_gen = AnchorGenerator(sizes=sizes, aspect_ratios=(ratios,) * levels)
    box_pool = MultiScaleRoIAlign(names, 7, sampling_ratio, canonical_scale=canonical_scale)
    mask_pool = MultiScaleRoIAlign(
        names, mask_roi_size, sampling_ratio, canonical_scale=canonical_scale
    )
    layers = [mask_channels] * mask_layers
    return MaskRCNN(
        body,
        num_classes=None,  # given by the predictors
        min_size=image_size,
        max_size=image_size,
        rpn_anchor_generator=anchor_gen,
        rpn_pre_nms_top_n_train=rpn_pre_nms_top_n[0],
        rpn_pre_nms_top_n_test=rpn_pre_nms_top_n[1],
        rpn_post_nms_top_n_train=rpn_post_nms_top_n[0],
        rpn_post_nms_top_n_test=rpn_post_nms_top_n[1],
        box_roi_pool=box_pool,
        box_head=TwoMLPHead(channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        box_batch_size_per_image=box_batch_size_per_image,
        box_score_thresh=box_score_thresh,
        box_detections_per_img=box_detections_per_img,
        mask_roi_pool=mask_pool,
        mask_head=MaskRCNNHeads(channels, layers, dilation=1),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, num_classes),
    )


# ----------------------------------------------------------------------------- targets
def mask_targets(
    gt_masks: torch.Tensor, boxes: torch.Tensor, matched_idxs: torch.Tensor, size: int = 28
) -> torch.Tensor:
    """The mask head's targets: each RoI's matched ground-truth mask, cropped and resampled.

    RoI ``i`` reads mask ``gt_masks[matched_idxs[i]]`` inside ``boxes[i]`` on a ``size x size``
    grid with RoIAlign (``aligned=False``; each cell averages ``ceil(box side / size)`` x
    ``ceil(box side / size)`` bilinear samples, torchvision's adaptive ``sampling_ratio=-1``),
    the same values as torchvision's ``project_masks_on_boxes``; the loss then compares them
    with the predicted logits by binary cross-entropy.

    Args:
        gt_masks: ``[G, H, W]`` binary masks (any dtype).
        boxes: ``[N, 4]`` xyxy RoIs in pixels.
        matched_idxs: ``[N]`` int64 index into ``gt_masks`` per RoI.
        size: output side ``M`` (torchvision: 28).

    Returns:
        ``Tensor[N, size, size]`` float in ``[0, 1]`` (soft at the mask's edges).

    Raises:
        ValueError: shapes that do not fit, an index out of range, ``size < 1``.

    Example:
        >>> m = torch.zeros(1, 8, 8); m[0, :, :4] = 1  # left half
        >>> # a cell is 4 px: samples at x = 0.5, 1.5, 2.5, 3.5; bilinear at 3.5 gives 0.5
        >>> mask_targets(m, torch.tensor([[0.0, 0.0, 8.0, 8.0]]), torch.tensor([0]), 2).tolist()
        [[[0.875, 0.0], [0.875, 0.0]]]
    """
    from torchvision.ops import roi_align

    _check_int(size, "size", 1)
    gt_masks, boxes = torch.as_tensor(gt_masks), torch.as_tensor(boxes)
    matched_idxs = torch.as_tensor(matched_idxs)
    if gt_masks.ndim != 3:
        raise ValueError(f"gt_masks must be [G, H, W], got shape {tuple(gt_masks.shape)}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be [N, 4], got shape {tuple(boxes.shape)}")
    if matched_idxs.shape != (len(boxes),):
        raise ValueError(
            f"matched_idxs must be [N] = [{len(boxes)}], got shape {tuple(matched_idxs.shape)}"
        )
    if len(boxes) and (int(matched_idxs.min()) < 0 or int(matched_idxs.max()) >= len(gt_masks)):
        raise ValueError(f"matched_idxs must index gt_masks (0..{len(gt_masks) - 1})")
    rois = torch.cat([matched_idxs[:, None].to(boxes), boxes], dim=1).float()
    masks = gt_masks[:, None].float()
    return roi_align(masks, rois, (size, size), 1.0)[:, 0]


def masks_to_rles(masks: torch.Tensor, threshold: float = 0.5) -> list[dict]:
    """Binarise mask probabilities at ``threshold`` and encode each as a COCO RLE.

    Args:
        masks: ``[N, 1, H, W]`` (the model's output) or ``[N, H, W]`` probabilities.
        threshold: a pixel belongs to the instance when its probability is ``>= threshold``.

    Returns:
        ``N`` dicts ``{"size": [H, W], "counts": str}`` (pycocotools' compressed RLE), ready
        for a COCO ``segm`` result.

    Raises:
        ValueError: bad shape or a threshold outside ``[0, 1]``.

    Example:
        >>> p = torch.zeros(1, 1, 2, 3); p[0, 0, 0, :2] = 0.9
        >>> rle = masks_to_rles(p)[0]
        >>> from dlcv_utils.datasets.masks import rle_counts
        >>> rle["size"], rle_counts(rle["counts"])  # column by column: 1 0 | 1 0 | 0 0
        ([2, 3], [0, 1, 1, 1, 3])
    """
    import numpy as np
    from pycocotools import mask as mask_utils

    masks = torch.as_tensor(masks)
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.ndim != 3:
        raise ValueError(f"masks must be [N, 1, H, W] or [N, H, W], got {tuple(masks.shape)}")
    if isinstance(threshold, bool) or not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    binary = (masks.detach().float().cpu() >= float(threshold)).numpy().astype(np.uint8)
    if len(binary) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
    return [
        {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")} for r in rles
    ]


# ----------------------------------------------------------------------------- COCO weights
def _weights_enum(model_name: str):
    import torchvision.models.detection as det

    if model_name not in COCO_MASK_MODELS:
        raise ValueError(
            f"model_name must be one of {sorted(COCO_MASK_MODELS)}, got {model_name!r}"
        )
    return getattr(det, COCO_MASK_MODELS[model_name]).COCO_V1


def coco_mask_weights_file(model_name: str = "maskrcnn_resnet50_fpn") -> Path:
    """Where torch's hub cache keeps (or would keep) the COCO weights of ``model_name``.

    Example:
        >>> coco_mask_weights_file().name
        'maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth'
    """
    url = _weights_enum(model_name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _can_reach(url: str, timeout: float) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except Exception:
        return False


def load_pretrained_mask_rcnn(
    model_name: str = "maskrcnn_resnet50_fpn",
    *,
    allow_download: bool = True,
    timeout: float = 5.0,
    box_score_thresh: float = 0.5,
) -> tuple[nn.Module, list[str]]:
    """torchvision's COCO-trained Mask R-CNN (91 COCO labels), in eval mode.

    Looks for the weights in torch's hub cache (:func:`coco_mask_weights_file`); when absent
    and ``allow_download``, torchvision downloads them (about 170 MB; works on Colab). Offline
    it raises quickly (the server is probed with a ``timeout``-second request first).

    Args:
        model_name: one of :data:`COCO_MASK_MODELS`.
        allow_download: try the network when the weights are not cached.
        timeout: seconds to wait for the weights server.
        box_score_thresh: detections below this score are dropped.

    Returns:
        ``(model, class_names)`` with ``class_names[label]`` (``"__background__"`` at 0).

    Raises:
        ValueError: unknown ``model_name``.
        WeightsUnavailableError: not cached and not downloadable, or a broken file.
    """
    import torchvision.models.detection as det

    weights = _weights_enum(model_name)
    if isinstance(box_score_thresh, bool) or not 0.0 <= float(box_score_thresh) <= 1.0:
        raise ValueError(f"box_score_thresh must be a number in [0, 1], got {box_score_thresh!r}")
    path = coco_mask_weights_file(model_name)
    if not path.is_file():
        if not allow_download:
            raise WeightsUnavailableError(
                f"COCO weights for {model_name} are not in the torch cache ({path}) and "
                "allow_download=False"
            )
        if not _can_reach(weights.url, timeout):
            raise WeightsUnavailableError(
                f"cannot download the COCO weights for {model_name} from {weights.url} "
                f"(offline?) and they are not cached at {path}. On Colab they download "
                "automatically."
            )
    try:
        model = getattr(det, model_name)(
            weights=weights, weights_backbone=None, box_score_thresh=float(box_score_thresh)
        )
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise WeightsUnavailableError(
            f"could not load the COCO weights for {model_name}: {exc}"
        ) from exc
    return model.eval(), list(weights.meta["categories"])
