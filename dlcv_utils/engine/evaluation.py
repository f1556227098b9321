"""COCO-style evaluation of a torchvision-style detector on a loader (lesson 05).

In eval mode the model returns one dict per image with ``boxes`` ``[N, 4]`` (xyxy pixels),
``scores`` ``[N]`` and ``labels`` ``[N]`` (``1..K``; 0 is background).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from dlcv_utils.engine.batch import split_batch, to_device

__all__ = ["COCO_KEYS", "evaluate_detector", "model_device", "timed_forward"]

#: the COCO numbers :func:`evaluate_detector` returns under ``"coco"`` (pycocotools' names).
COCO_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "ARs", "ARm", "ARl")


def model_device(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """``device`` as a ``torch.device``; ``None``: the device of the model's first parameter
    (the CPU for a model without parameters).

    Example:
        >>> model_device(nn.Linear(2, 1)), model_device(nn.Identity(), "cpu")
        (device(type='cpu'), device(type='cpu'))
    """
    if device is None:
        first = next(iter(model.parameters()), None)
        return first.device if first is not None else torch.device("cpu")
    return torch.device(device)


def timed_forward(
    model: nn.Module, images, device: torch.device, amp: bool = False
) -> tuple[Any, float]:
    """``(model(images), seconds)``: the forward pass alone, timed (CUDA synchronised around it).

    Example:
        >>> out, seconds = timed_forward(nn.Identity(), [1, 2], torch.device("cpu"))
        >>> out, seconds >= 0
        ([1, 2], True)
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    with torch.autocast(device.type, enabled=bool(amp)):
        outputs = model(images)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return outputs, time.perf_counter() - t0


@torch.no_grad()
def evaluate_detector(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device | None = None,
    score_threshold: float = 0.0,
    *,
    class_names: Sequence[str] | None = None,
    amp: bool = False,
) -> dict[str, Any]:
    """COCO-style evaluation of a torchvision-style detector on a loader.

    Builds the COCO ground-truth dict from the loader's targets (image ids are assigned in
    loader order), runs the model in eval mode, and calls
    :func:`dlcv_utils.metrics.coco_evaluate`.

    Args:
        model: detector; returned to the train/eval mode it was in.
        loader: yields ``(images, targets)`` with ``boxes`` and ``labels`` (1..K) per target.
        device: where to run (default: the model's device).
        score_threshold: detections scoring below it are dropped before evaluation.
        class_names: names indexed by label, entry 0 being the background (as
            ``ShapesDetection.classes``); labels ``1..len(class_names) - 1`` are evaluated and
            named in ``per_class``. Default: the labels seen, named by their number.
        amp: run the forward under ``torch.autocast`` (CUDA).

    Returns:
        ``map50`` (AP at IoU 0.5), ``map`` (AP averaged over IoU 0.5:0.95), ``per_class``
        (``{name: AP@0.5}``, -1 for a class without ground truth), ``seconds_per_image`` (model forward time only),
        ``num_images``, ``num_detections`` and ``coco`` (``{name: value}`` for the COCO
        numbers in :data:`COCO_KEYS`: ``APs``/``APm``/``APl`` are the AP of the small
        (area < 32 * 32 px), medium (< 96 * 96) and large objects, -1 where there are none).

    Example:
        >>> class Perfect(nn.Module):  # predicts the ground truth
        ...     def forward(self, images, targets=None):
        ...         return [{"boxes": torch.tensor([[2.0, 2.0, 8.0, 8.0]]),
        ...                  "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}
        ...                 for _ in images]
        >>> batch = ([torch.zeros(3, 10, 10)],
        ...          [{"boxes": torch.tensor([[2.0, 2.0, 8.0, 8.0]]), "labels": torch.tensor([1])}])
        >>> m = evaluate_detector(Perfect(), [batch], "cpu")
        >>> round(m["map50"], 3), round(m["map"], 3)
        (1.0, 1.0)
    """
    from dlcv_utils.metrics import coco_evaluate

    if not 0.0 <= float(score_threshold) <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold!r}")
    device = model_device(model, device)
    was_training = model.training
    model.eval()
    images_gt: list[dict] = []
    anns: list[dict] = []
    dets: list[dict] = []
    labels_seen: set[int] = set()
    forward_s = 0.0
    try:
        for batch in loader:
            images, targets = split_batch(batch)
            images, _ = to_device(images, None, device)
            outputs, seconds = timed_forward(model, images, device, amp)
            forward_s += seconds
            for img, tgt, out in zip(images, targets, outputs):
                image_id = len(images_gt) + 1
                h, w = int(img.shape[-2]), int(img.shape[-1])
                images_gt.append({"id": image_id, "width": w, "height": h})
                boxes = torch.as_tensor(tgt["boxes"], dtype=torch.float64).reshape(-1, 4).cpu()
                labels = torch.as_tensor(tgt["labels"]).reshape(-1).cpu()
                crowd = tgt.get("iscrowd")
                crowd = torch.zeros_like(labels) if crowd is None else torch.as_tensor(crowd).cpu()
                for b, lab, c in zip(boxes.tolist(), labels.tolist(), crowd.tolist()):
                    bw, bh = b[2] - b[0], b[3] - b[1]
                    labels_seen.add(int(lab))
                    anns.append(
                        {
                            "id": len(anns) + 1,
                            "image_id": image_id,
                            "category_id": int(lab),
                            "bbox": [b[0], b[1], bw, bh],
                            "area": bw * bh,
                            "iscrowd": int(c),
                        }
                    )
                ob = out["boxes"].detach().float().cpu()
                os_ = out["scores"].detach().float().cpu()
                ol = out["labels"].detach().cpu()
                keep = os_ >= score_threshold
                for b, s, lab in zip(ob[keep].tolist(), os_[keep].tolist(), ol[keep].tolist()):
                    dets.append(
                        {
                            "image_id": image_id,
                            "category_id": int(lab),
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                            "score": float(s),
                        }
                    )
    finally:
        model.train(was_training)
    if not images_gt:
        raise ValueError("loader yielded no images")
    if class_names is not None:
        cat_ids = list(range(1, len(class_names)))
        names = {i: str(class_names[i]) for i in cat_ids}
    else:
        cat_ids = sorted(labels_seen | {d["category_id"] for d in dets})
        names = {i: str(i) for i in cat_ids}
    coco_gt = {
        "images": images_gt,
        "annotations": anns,
        "categories": [{"id": i, "name": names[i]} for i in cat_ids],
    }
    dets = [d for d in dets if d["category_id"] in names]
    result = coco_evaluate(coco_gt, dets)
    per_class = {
        names[int(k)]: float(v) for k, v in result["per_class_AP50"].items() if int(k) in names
    }
    return {
        "map50": float(result["AP50"]),
        "map": float(result["AP"]),
        "per_class": per_class,
        "seconds_per_image": forward_s / len(images_gt),
        "num_images": len(images_gt),
        "num_detections": len(dets),
        "coco": {k: float(result[k]) for k in COCO_KEYS},
    }
