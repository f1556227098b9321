"""Matching detections to ground truth at an IoU threshold (VOC rules).

Taught in lesson 01.

The rule, per image and per class, is the PASCAL VOC devkit's (``VOCevaldet.m``):

1. rank the detections by descending score (stable: ties keep their input order);
2. each detection takes the ground-truth box it overlaps most (argmax IoU over *all* boxes
   of the class in the image, including ``difficult`` and already-detected ones; on equal IoU
   the first box wins);
3. if that IoU is ``>= iou_threshold``: a ``difficult`` box makes the detection *ignored*
   (neither TP nor FP); a box not yet detected makes it a true positive and marks the box
   detected; an already-detected box makes it a false positive (a duplicate) -- there is no
   fall back to the second-best box;
4. otherwise the detection is a false positive.

Deviation from the MATLAB devkit: boxes are continuous ``(x1, y1, x2, y2)`` coordinates
without the devkit's ``+1`` pixel in widths and heights (the course convention).
"""

from __future__ import annotations

import numpy as np

from dlcv_utils.validation import check_iou_threshold

__all__ = ["box_iou_numpy", "match_detections"]


def as_boxes(boxes, name: str) -> np.ndarray:
    """``boxes`` (numpy, torch or nested lists) as a float64 ``[N, 4]`` array; ``name`` in errors."""
    if hasattr(boxes, "detach"):  # torch tensor
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric [N, 4] array, got dtype {arr.dtype}")
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4], got {tuple(arr.shape)}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name} must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1, got {name}[{i}] = "
            f"{arr[i].tolist()} (negative width or height)"
        )
    return arr


def box_iou_numpy(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU matrix of two float ``(x1, y1, x2, y2)`` arrays, zero-area pairs give 0.

    Example:
        >>> box_iou_numpy(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 3, 2]])).tolist()
        [[0.3333333333333333]]
    """
    s = max(np.abs(boxes1).max(initial=0.0), np.abs(boxes2).max(initial=0.0))
    if s > 2.0**500 or 0.0 < s < 2.0**-500:  # areas would overflow / underflow: IoU is a ratio,
        scale = 2.0 ** -int(np.frexp(s)[1])  # unchanged by an exact power-of-two scale
        boxes1, boxes2 = boxes1 * scale, boxes2 * scale
    w = np.minimum(boxes1[:, None, 2], boxes2[None, :, 2]) - np.maximum(
        boxes1[:, None, 0], boxes2[None, :, 0]
    )
    h = np.minimum(boxes1[:, None, 3], boxes2[None, :, 3]) - np.maximum(
        boxes1[:, None, 1], boxes2[None, :, 1]
    )
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    a1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    a2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    union = a1[:, None] + a2[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=inter > 0)
    return out


def match_detections(
    det_boxes, det_scores, gt_boxes, iou_threshold: float = 0.5, gt_difficult=None
):
    """Label each detection of one image and one class as TP, FP or ignored (VOC rules).

    Args:
        det_boxes: ``[N, 4]`` detections ``(x1, y1, x2, y2)``.
        det_scores: ``[N]`` confidences.
        gt_boxes: ``[M, 4]`` ground-truth boxes ``(x1, y1, x2, y2)``.
        iou_threshold: minimum IoU (inclusive) for a match, in [0, 1].
        gt_difficult: optional ``[M]`` bool, ``difficult`` boxes (matching them is ignored).

    Returns:
        ``(tp, ignored)``: two ``bool[N]`` arrays in the *input* order of the detections.
        A detection with ``tp`` and ``ignored`` both False is a false positive.

    Raises:
        ValueError: wrong shapes, NaN/inf, negative widths, mismatched lengths, threshold
            outside [0, 1].
        TypeError: non-numeric input.

    Example:
        >>> gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
        >>> dets = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 31]]
        >>> tp, ign = match_detections(dets, [0.9, 0.8, 0.7], gt, gt_difficult=[False, True])
        >>> tp.tolist(), ign.tolist()
        ([True, False, False], [False, False, True])
    """
    det_boxes = as_boxes(det_boxes, "det_boxes")
    gt_boxes = as_boxes(gt_boxes, "gt_boxes")
    if hasattr(det_scores, "detach"):
        det_scores = det_scores.detach().cpu().numpy()
    scores = np.asarray(det_scores)
    if scores.dtype == object or not np.issubdtype(scores.dtype, np.number):
        raise TypeError(f"det_scores must be numeric, got dtype {scores.dtype}")
    scores = scores.astype(np.float64).reshape(-1) if scores.size else np.zeros(0)
    if len(scores) != len(det_boxes):
        raise ValueError(
            f"det_scores has length {len(scores)} but det_boxes has {len(det_boxes)} rows"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("det_scores contains NaN or inf")
    check_iou_threshold(iou_threshold)
    if gt_difficult is None:
        difficult = np.zeros(len(gt_boxes), dtype=bool)
    else:
        difficult = np.asarray(gt_difficult).reshape(-1).astype(bool)
        if len(difficult) != len(gt_boxes):
            raise ValueError(
                f"gt_difficult has length {len(difficult)} but gt_boxes has {len(gt_boxes)} rows"
            )
    n = len(det_boxes)
    tp = np.zeros(n, dtype=bool)
    ignored = np.zeros(n, dtype=bool)
    if n == 0 or len(gt_boxes) == 0:
        return tp, ignored
    order = np.argsort(-scores, kind="mergesort")
    ious = box_iou_numpy(det_boxes[order], gt_boxes)
    best = np.argmax(ious, axis=1)  # first maximum on ties, like `ov > ovmax`
    best_iou = ious[np.arange(n), best]
    detected = np.zeros(len(gt_boxes), dtype=bool)
    for rank in range(n):
        if not best_iou[rank] >= iou_threshold or best_iou[rank] <= 0:  # NaN never matches
            continue  # no overlap at all is never a match, even at threshold 0
        g = best[rank]
        if difficult[g]:
            ignored[order[rank]] = True
        elif not detected[g]:
            tp[order[rank]] = True
            detected[g] = True
    return tp, ignored
