"""Faster R-CNN builders for the course: a small model for CPU training, and COCO weights.

Taught in lesson 05 (Faster R-CNN: anchors and the RPN).

* :func:`build_faster_rcnn` assembles torchvision's ``FasterRCNN`` around a small backbone
  suited to the 128 px shapes images: ``"tiny"`` (a 6-layer CNN, stride 8, trains from scratch
  on a CPU in minutes), or torchvision's ``"mobilenet_v3"`` / ``"resnet18"`` trunks (cut at
  stride 8 too). Anchors, image size and RPN/RoI sampling are set for small images: the
  model's transform neither up- nor down-scales ``image_size`` images.
* :func:`load_pretrained_coco` loads torchvision's COCO-trained Faster R-CNN when its weights
  are in the torch cache or can be downloaded (e.g. on Colab), and raises
  :class:`WeightsUnavailableError` with a clear message otherwise.
* :func:`bench_faster_rcnn` trains the lesson-05 model with the lesson's settings and reports
  training time, mAP and inference speed (``benchmarks/bench_detectors.py`` calls it).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from dlcv_utils.models.backbones import TinyBackbone, torchvision_trunk

__all__ = [
    "BACKBONES",
    "COCO_MODELS",
    "WeightsUnavailableError",
    "build_faster_rcnn",
    "coco_weights_file",
    "load_pretrained_coco",
]

BACKBONES = ("tiny", "mobilenet_v3", "resnet18")

#: torchvision COCO Faster R-CNN builders and their weight enums.
COCO_MODELS = {
    "fasterrcnn_mobilenet_v3_large_fpn": "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
    "fasterrcnn_mobilenet_v3_large_320_fpn": "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "fasterrcnn_resnet50_fpn": "FasterRCNN_ResNet50_FPN_Weights",
    "fasterrcnn_resnet50_fpn_v2": "FasterRCNN_ResNet50_FPN_V2_Weights",
}


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable (e.g. offline)."""


# ----------------------------------------------------------------------------- backbones
def _make_backbone(name: str, pretrained: bool, width: int, stride: int) -> nn.Module:
    if name == "tiny":
        if pretrained:
            raise ValueError(
                "backbone='tiny' has no pretrained weights; use pretrained_backbone=False"
            )
        return TinyBackbone(width, stride)
    if stride != 8:
        raise ValueError(f"backbone={name!r} has stride 8; got stride={stride!r}")
    return torchvision_trunk(name, pretrained)


def _check_sizes(anchor_sizes, aspect_ratios):
    sizes = tuple(float(s) for s in anchor_sizes)
    ratios = tuple(float(r) for r in aspect_ratios)
    if not sizes or any(not s > 0 for s in sizes):
        raise ValueError(f"anchor_sizes must be positive numbers, got {anchor_sizes!r}")
    if not ratios or any(not r > 0 for r in ratios):
        raise ValueError(f"aspect_ratios must be positive numbers, got {aspect_ratios!r}")
    return sizes, ratios


def build_faster_rcnn(
    num_classes: int,
    *,
    backbone: str = "tiny",
    image_size: int = 128,
    pretrained_backbone: bool = False,
    width: int = 32,
    stride: int = 8,
    anchor_sizes: Sequence[float] = (16, 32, 64),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    representation_size: int = 256,
    rpn_batch_size_per_image: int = 256,
    box_batch_size_per_image: int = 128,
    rpn_pre_nms_top_n: tuple[int, int] = (600, 300),
    rpn_post_nms_top_n: tuple[int, int] = (300, 100),
    box_score_thresh: float = 0.01,
    box_detections_per_img: int = 100,
    roi_sampling_ratio: int = 1,
) -> nn.Module:
    """torchvision's ``FasterRCNN`` with a small stride-8 backbone, for ``image_size`` images.

    The pieces, as the lesson names them: a backbone (특징 추출기) giving one feature map; an
    ``AnchorGenerator`` with ``len(anchor_sizes) * len(aspect_ratios)`` anchors per cell; the
    RPN (3x3 conv, then objectness and box deltas per anchor; training samples
    ``rpn_batch_size_per_image`` anchors at 1:1, IoU >= 0.7 positive, < 0.3 negative); RoIAlign
    to 7x7; a two-layer MLP head; class scores and class-specific box deltas.

    Args:
        num_classes: number of classes **including** the background (shapes: 5 + 1 = 6).
        backbone: ``"tiny"`` (default; from scratch), ``"mobilenet_v3"`` or ``"resnet18"``
            (torchvision trunks, cut at stride 8).
        image_size: the training/test image side; ``min_size = max_size = image_size`` so
            the model's transform keeps images at their size.
        pretrained_backbone: ImageNet weights for the torchvision trunks (downloaded by
            torchvision; not available offline).
        width: channels of the first ``"tiny"`` layer (the output has ``4 * width``).
        stride: feature-map stride of the ``"tiny"`` backbone, 8 or 4 (see
            :class:`~dlcv_utils.models.backbones.TinyBackbone`); the torchvision trunks have stride 8.
        anchor_sizes: anchor sides in pixels (default for 128 px images: 16, 32, 64).
        aspect_ratios: anchor height / width ratios.
        representation_size: width of the box head's MLP.
        rpn_batch_size_per_image: anchors sampled per image for the RPN loss.
        box_batch_size_per_image: proposals sampled per image for the box-head loss.
        rpn_pre_nms_top_n: proposals kept before NMS, ``(train, test)``.
        rpn_post_nms_top_n: proposals kept after NMS, ``(train, test)``.
        box_score_thresh: detections below this score are dropped at test time.
        box_detections_per_img: at most this many detections per image.
        roi_sampling_ratio: bilinear samples per RoIAlign bin side (1 keeps CPU training fast;
            torchvision's default is 2).

    Raises:
        ValueError: unknown backbone, ``num_classes < 2``, bad sizes.

    Example:
        >>> model = build_faster_rcnn(6, image_size=128).eval()
        >>> out = model([torch.rand(3, 128, 128)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
    """
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"num_classes must be an int >= 2 (classes + background), got {num_classes!r}"
        )
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32, got {image_size!r}")
    sizes, ratios = _check_sizes(anchor_sizes, aspect_ratios)

    body = _make_backbone(backbone, pretrained_backbone, width, stride)
    anchor_gen = AnchorGenerator(sizes=(sizes,), aspect_ratios=(ratios,))
    roi_pool = MultiScaleRoIAlign(
        featmap_names=["0"], output_size=7, sampling_ratio=roi_sampling_ratio
    )
    box_head = TwoMLPHead(body.out_channels * 7 * 7, representation_size)
    return FasterRCNN(
        body,
        num_classes=None,  # given by the predictor
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        min_size=image_size,
        max_size=image_size,
        rpn_anchor_generator=anchor_gen,
        box_roi_pool=roi_pool,
        box_head=box_head,
        rpn_pre_nms_top_n_train=rpn_pre_nms_top_n[0],
        rpn_pre_nms_top_n_test=rpn_pre_nms_top_n[1],
        rpn_post_nms_top_n_train=rpn_post_nms_top_n[0],
        rpn_post_nms_top_n_test=rpn_post_nms_top_n[1],
        rpn_batch_size_per_image=rpn_batch_size_per_image,
        box_batch_size_per_image=box_batch_size_per_image,
        box_score_thresh=box_score_thresh,
        box_detections_per_img=box_detections_per_img,
    )


# ----------------------------------------------------------------------------- COCO weights
def _weights_enum(model_name: str):
    import torchvision.models.detection as det

    if model_name not in COCO_MODELS:
        raise ValueError(f"model_name must be one of {sorted(COCO_MODELS)}, got {model_name!r}")
    return getattr(det, COCO_MODELS[model_name]).COCO_V1


def coco_weights_file(model_name: str = "fasterrcnn_mobilenet_v3_large_fpn") -> Path:
    """Where torch's hub cache keeps (or would keep) the COCO weights of ``model_name``.

    ``$TORCH_HOME/hub/checkpoints/<file name of torchvision's URL>`` (``torch.hub.get_dir()``).

    Example:
        >>> coco_weights_file().name
        'fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth'
    """
    url = _weights_enum(model_name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _can_reach(url: str, timeout: float) -> bool:
    import urllib.request

    try:
        req = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(req, timeout=timeout):
            return True
    except Exception:
        return False


def load_pretrained_coco(
    model_name: str = "fasterrcnn_mobilenet_v3_large_fpn",
    *,
    allow_download: bool = True,
    timeout: float = 5.0,
    box_score_thresh: float = 0.5,
) -> tuple[nn.Module, list[str]]:
    """torchvision's COCO-trained Faster R-CNN (91 COCO labels), ready in eval mode.

    Looks for the weights in torch's hub cache (:func:`coco_weights_file`); if absent and
    ``allow_download``, downloads them (about 75 MB for the MobileNet model; works on Colab).
    Offline it raises :class:`WeightsUnavailableError` quickly (the server is probed with a
    ``timeout``-second request first) so a lesson can fall back.

    Args:
        model_name: one of :data:`COCO_MODELS`.
        allow_download: try the network when the weights are not cached.
        timeout: seconds to wait for the weights server before giving up.
        box_score_thresh: detections below this score are dropped.

    Returns:
        ``(model, class_names)``; ``class_names[label]`` names a label (``"__background__"``
        at 0, ``"N/A"`` for the unused COCO ids).

    Raises:
        ValueError: unknown ``model_name``.
        WeightsUnavailableError: weights not cached and not downloadable.
    """
    import torchvision.models.detection as det

    weights = _weights_enum(model_name)
    path = coco_weights_file(model_name)
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
                "automatically; here the lesson uses the shapes model instead."
            )
    builder = getattr(det, model_name)
    try:
        model = builder(weights=weights, weights_backbone=None, box_score_thresh=box_score_thresh)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:  # a broken file
        raise WeightsUnavailableError(
            f"could not load the COCO weights for {model_name}: {exc}"
        ) from exc
    return model.eval(), list(weights.meta["categories"])
