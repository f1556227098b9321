"""Fine-tuning (미세 조정) a COCO-pretrained Faster R-CNN on a small real dataset.

Transfer learning (전이 학습): torchvision's Faster R-CNN trained on COCO already knows what
objects look like; to detect *our* classes we keep its backbone, FPN, RPN and box head, and
replace only the last layer, the box predictor (class scores + box deltas for 91 COCO labels),
with a new ``FastRCNNPredictor`` for ``num_classes`` outputs (background + our classes). Then a
few epochs on a few hundred labelled boxes are enough.

* :func:`pretrained_detector_for` loads the COCO weights (through torch's hub cache,
  ``$TORCH_HOME/hub/checkpoints``, via :func:`~dlcv_utils.models.faster_rcnn.load_pretrained_coco`,
  which raises :class:`~dlcv_utils.models.faster_rcnn.WeightsUnavailableError` offline) and
  swaps the predictor.

The lesson-05 recipe that trains and evaluates it on Penn-Fudan (``pennfudan_loaders``,
``finetune_pennfudan``) sits on top of the engine, in :mod:`dlcv_utils.course.finetune`.

Taught in lesson 05 (section "Fine-tuning a pretrained detector on real photos").
"""

from __future__ import annotations

from typing import Any

from torch import nn

from dlcv_utils.models.faster_rcnn import COCO_MODELS, load_pretrained_coco

__all__ = [
    "FINETUNE_ARCHS",
    "pretrained_detector_for",
    "replace_box_predictor",
]

#: The torchvision COCO Faster R-CNN builders :func:`pretrained_detector_for` accepts.
FINETUNE_ARCHS = tuple(sorted(COCO_MODELS))


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_arch(arch: Any) -> str:
    if arch not in COCO_MODELS:
        raise ValueError(f"arch must be one of {list(FINETUNE_ARCHS)}, got {arch!r}")
    return arch


def replace_box_predictor(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace ``model.roi_heads.box_predictor`` by a new ``FastRCNNPredictor`` (in place).

    The new predictor reads the same ``in_features`` (the box head's output width, 1024 for
    torchvision's models) and outputs ``num_classes`` scores and ``num_classes * 4`` box deltas;
    its weights are freshly initialised, everything else is kept.

    Args:
        model: a torchvision ``FasterRCNN``.
        num_classes: number of classes **including** the background (Penn-Fudan: 1 + 1 = 2).

    Returns:
        ``model``.

    Example:
        >>> from dlcv_utils.models.faster_rcnn import build_faster_rcnn
        >>> m = replace_box_predictor(build_faster_rcnn(6), 3)
        >>> m.roi_heads.box_predictor.cls_score.out_features
        3
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    _check_int(num_classes, "num_classes", 2)
    predictor = getattr(getattr(model, "roi_heads", None), "box_predictor", None)
    cls_score = getattr(predictor, "cls_score", None)
    if not isinstance(cls_score, nn.Linear):
        raise TypeError(
            "model must be a torchvision FasterRCNN (model.roi_heads.box_predictor.cls_score "
            f"a Linear layer), got {type(model).__name__}"
        )
    new = FastRCNNPredictor(cls_score.in_features, num_classes)
    new.to(device=cls_score.weight.device)
    model.roi_heads.box_predictor = new
    return model


def pretrained_detector_for(
    num_classes: int,
    weights: str | Any | None = "DEFAULT",
    arch: str = "fasterrcnn_mobilenet_v3_large_fpn",
    *,
    freeze_backbone: bool = False,
    min_size: int | None = None,
    max_size: int | None = None,
    box_score_thresh: float = 0.05,
    allow_download: bool = True,
    timeout: float = 5.0,
) -> nn.Module:
    """A COCO-pretrained torchvision Faster R-CNN with a new box predictor for ``num_classes``.

    The weights come through torchvision's normal path: torch's hub cache
    (``$TORCH_HOME/hub/checkpoints/<file of the weights URL>``, see
    :func:`~dlcv_utils.models.faster_rcnn.coco_weights_file`), downloaded there when missing.
    torchvision then freezes the first backbone stages (it trains the last 3 of them) and
    uses frozen batch norm; ``freeze_backbone=True`` freezes the whole backbone body as well, so
    only the FPN, RPN and RoI heads learn (faster, and safer with very few images).

    Args:
        num_classes: classes **including** the background (Penn-Fudan: 2).
        weights: ``"DEFAULT"`` or ``"COCO_V1"`` (the same COCO weights), torchvision's weights
            enum member for ``arch``, or ``None`` (random initialisation, no download: a
            from-scratch baseline).
        arch: one of :data:`FINETUNE_ARCHS`, e.g. ``"fasterrcnn_mobilenet_v3_large_fpn"``
            (fast, ~19 M parameters) or ``"fasterrcnn_resnet50_fpn"`` (more accurate, ~41 M).
        freeze_backbone: stop gradients in ``model.backbone.body``.
        min_size, max_size: override the model transform's resize (torchvision: 800 / 1333);
            smaller is faster.
        box_score_thresh: detections below this score are dropped at test time (keep it low
            for mAP).
        allow_download: try the network when the weights are not cached.
        timeout: seconds to wait for the weights server before giving up.

    Returns:
        The model in train mode.

    Raises:
        ValueError / TypeError: bad arguments.
        WeightsUnavailableError: the weights are not cached and cannot be downloaded (offline).

    Example:
        >>> m = pretrained_detector_for(2, weights=None)  # no download
        >>> m.roi_heads.box_predictor.cls_score.out_features, m.training
        (2, True)
    """
    import torchvision.models.detection as det

    _check_int(num_classes, "num_classes", 2)
    _check_arch(arch)
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if value is not None:
            _check_int(value, name, 32)
    if isinstance(box_score_thresh, bool) or not 0.0 <= float(box_score_thresh) <= 1.0:
        raise ValueError(f"box_score_thresh must be a number in [0, 1], got {box_score_thresh!r}")
    enum = getattr(det, COCO_MODELS[arch])
    if weights is None:
        model = getattr(det, arch)(weights=None, weights_backbone=None, num_classes=91)
    else:
        if isinstance(weights, str):
            if weights not in ("DEFAULT", "COCO_V1"):
                raise ValueError(
                    f"weights must be 'DEFAULT', 'COCO_V1', a {enum.__name__} member or None, "
                    f"got {weights!r}"
                )
        elif weights not in list(enum):
            raise ValueError(
                f"weights must be 'DEFAULT', 'COCO_V1', a {enum.__name__} member or None, "
                f"got {weights!r} (for arch={arch!r})"
            )
        model, _ = load_pretrained_coco(
            arch, allow_download=allow_download, timeout=timeout, box_score_thresh=0.5
        )
    replace_box_predictor(model, num_classes)
    model.roi_heads.score_thresh = float(box_score_thresh)
    if min_size is not None:
        model.transform.min_size = (min_size,)
    if max_size is not None:
        model.transform.max_size = max_size
    if freeze_backbone:
        for p in model.backbone.body.parameters():
            p.requires_grad_(False)
    return model.train()
