"""COCO box and mask evaluation of an instance-segmentation model on a loader (lesson 13).

In eval mode a torchvision-style Mask R-CNN returns one dict per image with ``boxes``
``[N, 4]`` xyxy, ``scores`` ``[N]``, ``labels`` ``[N]`` (``1..K``) and ``masks``
``[N, 1, H, W]`` probabilities. :func:`evaluate_instance_segmentation` runs the model once over
the loader and scores the same detections twice with
:func:`dlcv_utils.metrics.coco_evaluate`: ``iou_type="bbox"`` (box AP) and ``"segm"`` (mask AP,
the masks binarised at ``mask_threshold`` and encoded as COCO RLEs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcv_utils.engine.batch import split_batch, to_device
from dlcv_utils.engine.evaluation import COCO_KEYS, model_device, timed_forward

__all__ = ["evaluate_instance_segmentation", "instance_coco_gt"]


def _gt_rles(masks: torch.Tensor) -> list[dict]:
    from pycocotools import mask as mask_utils

    m = torch.as_tensor(masks).to(torch.uint8).cpu().numpy()
    if len(m) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(m.transpose(1, 2, 0)))
    return [
        {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")} for r in rles
    ]


def instance_coco_gt(
    targets: Sequence[dict], sizes: Sequence[tuple[int, int]], class_names: Sequence[str]
) -> dict:
    """A COCO ground-truth dict with boxes **and** RLE masks from torchvision-style targets.

    Image ``i`` gets id ``i + 1``; each object's ``area`` is its mask area (COCO's convention).

    Args:
        targets: one dict per image with ``boxes`` ``[N, 4]``, ``labels`` ``[N]`` and
            ``masks`` ``[N, H, W]``.
        sizes: ``(H, W)`` of every image.
        class_names: names by label, entry 0 the background.

    Raises:
        ValueError: a target without ``masks`` or with masks of another size than its image.

    Example:
        >>> m = torch.zeros(1, 4, 6, dtype=torch.uint8); m[0, 1:3, 2:5] = 1
        >>> t = {"boxes": torch.tensor([[2.0, 1, 5, 3]]), "labels": torch.tensor([1]), "masks": m}
        >>> gt = instance_coco_gt([t], [(4, 6)], ["__background__", "square"])
        >>> a = gt["annotations"][0]
        >>> a["bbox"], a["area"], a["segmentation"]["size"]
        ([2.0, 1.0, 3.0, 2.0], 6.0, [4, 6])
    """
    if len(targets) != len(sizes):
        raise ValueError(f"need one size per target, got {len(targets)} and {len(sizes)}")
    images, anns = [], []
    for i, (tgt, (h, w)) in enumerate(zip(targets, sizes)):
        if "masks" not in tgt:
            raise ValueError(f"targets[{i}] has no 'masks' (build the dataset with return_masks)")
        masks = torch.as_tensor(tgt["masks"])
        if masks.ndim != 3 or tuple(masks.shape[-2:]) != (h, w):
            raise ValueError(
                f"targets[{i}]['masks'] must be [N, {h}, {w}], got {tuple(masks.shape)}"
            )
        images.append({"id": i + 1, "height": int(h), "width": int(w)})
        boxes = torch.as_tensor(tgt["boxes"], dtype=torch.float64).reshape(-1, 4).cpu()
        labels = torch.as_tensor(tgt["labels"]).reshape(-1).cpu()
        areas = masks.reshape(len(masks), -1).sum(1).tolist()
        for b, lab, rle, area in zip(boxes.tolist(), labels.tolist(), _gt_rles(masks), areas):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(lab),
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    "area": float(area),
                    "segmentation": rle,
                    "iscrowd": 0,
                }
            )
    cats = [{"id": i, "name": str(class_names[i])} for i in range(1, len(class_names))]
    return {"images": images, "annotations": anns, "categories": cats}


def _summary(result: dict, names: dict[int, str]) -> dict[str, Any]:
    per_class = {
        names[int(k)]: float(v) for k, v in result["per_class_AP50"].items() if int(k) in names
    }
    return {
        "map50": float(result["AP50"]),
        "map": float(result["AP"]),
        "per_class": per_class,
        "coco": {k: float(result[k]) for k in COCO_KEYS},
    }


@torch.no_grad()
def evaluate_instance_segmentation(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device | None = None,
    *,
    class_names: Sequence[str],
    mask_threshold: float = 0.5,
    score_threshold: float = 0.0,
) -> dict[str, Any]:
    """COCO box AP and mask AP of a Mask R-CNN-style model on a loader, from one pass.

    Args:
        model: returns ``boxes``, ``scores``, ``labels`` and ``masks`` per image in eval mode;
            put back in the train/eval mode it was in.
        loader: yields ``(images, targets)``, targets with ``boxes``, ``labels`` and ``masks``.
        device: where to run (default: the model's device).
        class_names: names by label, entry 0 the background (``ShapesDetection.classes``).
        mask_threshold: a mask pixel is "in" when its probability is ``>= mask_threshold``.
        score_threshold: detections scoring below it are dropped first.

    Returns:
        ``map50``, ``map``, ``per_class`` and ``coco`` of the **boxes** (as
        :func:`~dlcv_utils.engine.evaluate_detector`), the same of the **masks** as
        ``mask_map50``, ``mask_map``, ``mask_per_class``, ``mask_coco``; ``seconds_per_image``
        (forward only), ``num_images``, ``num_detections``; and ``coco_gt``,
        ``bbox_results``, ``segm_results`` (the COCO inputs, e.g. for pycocotools).

    Raises:
        ValueError: bad thresholds, an empty loader, targets without masks.
    """
    from dlcv_utils.metrics import coco_evaluate
    from dlcv_utils.models.mask_rcnn import masks_to_rles

    for name, value in (("mask_threshold", mask_threshold), ("score_threshold", score_threshold)):
        if isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    device = model_device(model, device)
    was_training = model.training
    model.eval()
    targets_all, sizes, bbox_results, segm_results = [], [], [], []
    forward_s = 0.0
    try:
        for batch in loader:
            images, targets = split_batch(batch)
            images, _ = to_device(images, None, device)
            outputs, seconds = timed_forward(model, images, device)
            forward_s += seconds
            for img, tgt, out in zip(images, targets, outputs):
                image_id = len(sizes) + 1
                sizes.append((int(img.shape[-2]), int(img.shape[-1])))
                targets_all.append(tgt)
                keep = out["scores"] >= score_threshold
                boxes = out["boxes"][keep].detach().float().cpu().tolist()
                scores = out["scores"][keep].detach().float().cpu().tolist()
                labels = out["labels"][keep].detach().cpu().tolist()
                rles = masks_to_rles(out["masks"][keep], mask_threshold)
                for b, s, lab, rle in zip(boxes, scores, labels, rles):
                    common = {"image_id": image_id, "category_id": int(lab), "score": float(s)}
                    bbox_results.append({**common, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
                    segm_results.append({**common, "segmentation": rle})
    finally:
        model.train(was_training)
    if not sizes:
        raise ValueError("loader yielded no images")
    coco_gt = instance_coco_gt(targets_all, sizes, class_names)
    names = {c["id"]: c["name"] for c in coco_gt["categories"]}
    bbox_results = [d for d in bbox_results if d["category_id"] in names]
    segm_results = [d for d in segm_results if d["category_id"] in names]
    box = _summary(coco_evaluate(coco_gt, bbox_results, iou_type="bbox"), names)
    mask = _summary(coco_evaluate(coco_gt, segm_results, iou_type="segm"), names)
    return {
        **box,
        **{f"mask_{k}": v for k, v in mask.items()},
        "seconds_per_image": forward_s / len(sizes),
        "num_images": len(sizes),
        "num_detections": len(bbox_results),
        "coco_gt": coco_gt,
        "bbox_results": bbox_results,
        "segm_results": segm_results,
    }
