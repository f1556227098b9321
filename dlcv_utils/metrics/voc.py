"""PASCAL VOC-style evaluation: per-class AP and mAP at one IoU threshold.

Taught in lesson 01.

Semantics of the VOC devkit (``VOCevaldet.m``), see :mod:`dlcv_utils.metrics.matching`:
``difficult`` objects are not counted in the recall denominator and detections matched to them
are ignored; each detection takes its argmax-IoU ground truth (difficult and already-detected
ones included); a second detection of the same object is a false positive. Detections of a
class are ranked over the whole data set by descending score with a stable sort (ties keep the
order of ``detections``, image by image).

Deviation from the MATLAB devkit: boxes are continuous ``(x1, y1, x2, y2)`` coordinates and IoU
has no ``+1`` pixel (the course convention), so numbers can differ slightly from the devkit's
on small boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlcv_utils.datasets.records import ImageAnn
from dlcv_utils.metrics.ap import AP_METHODS, average_precision, precision_recall_curve
from dlcv_utils.metrics.matching import as_boxes, match_detections
from dlcv_utils.validation import check_iou_threshold

__all__ = ["evaluate_voc"]


def _to_numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _cat(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _labels_to_names(labels, class_names, where: str) -> list[str]:
    labels = _to_numpy(labels).reshape(-1)
    if labels.size == 0:
        return []
    if labels.dtype.kind in "iu":
        if class_names is None:
            raise ValueError(
                f"{where} labels are integers; pass class_names to map them to class names"
            )
        bad = (labels < 0) | (labels >= len(class_names))
        if bad.any():
            raise ValueError(
                f"{where} label {int(labels[bad][0])} is outside class_names "
                f"(0..{len(class_names) - 1})"
            )
        return [class_names[i] for i in labels.tolist()]
    if labels.dtype.kind in "UO":
        names = [str(v) for v in labels.tolist()]
        if class_names is not None:
            unknown = sorted(set(names) - set(class_names))
            if unknown:
                raise ValueError(f"{where} has labels not in class_names: {unknown[:5]}")
        return names
    raise TypeError(f"{where} labels must be class names or integer indices, got {labels.dtype}")


def evaluate_voc(
    ground_truths: Sequence[ImageAnn],
    detections: Sequence[Mapping[str, Any]],
    iou_threshold: float = 0.5,
    method: str = "voc",
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-class AP and mAP, VOC style (``difficult`` ignored, one IoU threshold).

    Args:
        ground_truths: one :class:`~dlcv_utils.datasets.records.ImageAnn` per image (labels are
            class names, ``bbox`` is ``(x1, y1, x2, y2)``, ``difficult`` is honoured).
        detections: one dict per image, in the same order, with ``"boxes"`` ``[N, 4]``
            ``(x1, y1, x2, y2)``, ``"scores"`` ``[N]`` and ``"labels"`` ``[N]`` (class names, or
            integer indices into ``class_names``); numpy arrays, lists or torch tensors.
        iou_threshold: IoU needed for a true positive (inclusive), 0.5 in VOC.
        method: AP interpolation, ``"voc"`` (all-point, VOC2010+), ``"voc07"`` (11-point) or
            ``"coco"`` (101-point).
        class_names: classes to evaluate, in order. Default: the sorted union of the
            ground-truth and detection labels.

    Returns:
        dict with ``"mAP"`` (mean over classes with at least one non-difficult object; NaN if
        there is none), ``"AP"`` ``{class: AP}`` (NaN for a class without non-difficult
        objects), ``"precision"`` / ``"recall"`` / ``"scores"`` ``{class: array}`` (the PR
        curve in descending-score order, ignored detections left out), ``"n_gt"``
        ``{class: number of non-difficult objects}``, ``"iou_threshold"``, ``"method"``.

    Raises:
        ValueError: different numbers of images, missing keys, bad boxes (NaN, negative
            widths, wrong shape), unknown labels or method, threshold outside [0, 1].
        TypeError: wrong argument types.

    Example:
        >>> from dlcv_utils.datasets.records import ImageAnn, ObjectAnn
        >>> gts = [ImageAnn("a.jpg", 100, 100, [ObjectAnn("cat", (0, 0, 10, 10)),
        ...                                     ObjectAnn("cat", (50, 50, 60, 60))])]
        >>> dets = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 11], [70, 70, 80, 80]],
        ...          "scores": [0.9, 0.8, 0.7], "labels": ["cat", "cat", "cat"]}]
        >>> r = evaluate_voc(gts, dets)
        >>> r["AP"]["cat"], r["recall"]["cat"].tolist()  # TP, duplicate FP, FP: 1 * 0.5
        (0.5, [0.5, 0.5, 0.5])
    """
    if method not in AP_METHODS:
        raise ValueError(f"method must be one of {AP_METHODS}, got {method!r}")
    check_iou_threshold(iou_threshold)
    if isinstance(ground_truths, (str, bytes, Mapping)) or not isinstance(ground_truths, Sequence):
        raise TypeError(
            f"ground_truths must be a list of ImageAnn, got {type(ground_truths).__name__}"
        )
    if isinstance(detections, (str, bytes, Mapping)) or not isinstance(detections, Sequence):
        raise TypeError(f"detections must be a list of dicts, got {type(detections).__name__}")
    if len(ground_truths) != len(detections):
        raise ValueError(
            f"ground_truths has {len(ground_truths)} images but detections has {len(detections)}"
        )
    if class_names is not None:
        class_names = [str(c) for c in class_names]

    # parse everything first so that errors name the image
    gt_parsed, dt_parsed = [], []
    for i, (img, det) in enumerate(zip(ground_truths, detections)):
        if not isinstance(img, ImageAnn):
            raise TypeError(f"ground_truths[{i}] must be an ImageAnn, got {type(img).__name__}")
        if not isinstance(det, Mapping):
            raise TypeError(f"detections[{i}] must be a dict, got {type(det).__name__}")
        for key in ("boxes", "scores", "labels"):
            if key not in det:
                raise ValueError(f"detections[{i}] is missing key {key!r}")
        g_boxes = as_boxes([o.bbox for o in img.objects], f"ground_truths[{i}] bbox")
        g_labels = [str(o.label) for o in img.objects]
        g_diff = np.array([bool(o.difficult) for o in img.objects], dtype=bool)
        d_boxes = as_boxes(_to_numpy(det["boxes"]), f"detections[{i}]['boxes']")
        d_scores = _to_numpy(det["scores"]).reshape(-1)
        if d_scores.dtype.kind not in "iuf":
            raise TypeError(f"detections[{i}]['scores'] must be numbers, got {d_scores.dtype}")
        d_scores = d_scores.astype(np.float64)
        if not np.all(np.isfinite(d_scores)):
            raise ValueError(f"detections[{i}]['scores'] contains NaN or inf")
        d_labels = _labels_to_names(det["labels"], class_names, f"detections[{i}]")
        if not (len(d_boxes) == len(d_scores) == len(d_labels)):
            raise ValueError(
                f"detections[{i}] boxes, scores and labels have different lengths: "
                f"{len(d_boxes)}, {len(d_scores)}, {len(d_labels)}"
            )
        if class_names is not None:
            unknown = sorted(set(g_labels) - set(class_names))
            if unknown:
                raise ValueError(f"ground_truths[{i}] has labels not in class_names: {unknown}")
        gt_parsed.append((g_boxes, np.array(g_labels, dtype=object), g_diff))
        dt_parsed.append((d_boxes, d_scores, np.array(d_labels, dtype=object)))

    if class_names is None:
        names: set[str] = set()
        for (_, gl, _), (_, _, dl) in zip(gt_parsed, dt_parsed):
            names.update(gl.tolist())
            names.update(dl.tolist())
        class_names = sorted(names)

    out: dict[str, Any] = {
        "AP": {},
        "precision": {},
        "recall": {},
        "scores": {},
        "n_gt": {},
        "iou_threshold": float(iou_threshold),
        "method": method,
    }
    per_cls: dict[str, tuple[list, list, list]] = {c: ([], [], []) for c in class_names}
    n_gt = dict.fromkeys(class_names, 0)
    for (g_boxes, g_labels, g_diff), (d_boxes, d_scores, d_labels) in zip(gt_parsed, dt_parsed):
        for cls, count in zip(*np.unique(g_labels[~g_diff], return_counts=True)):
            n_gt[cls] += int(count)
        for cls in np.unique(d_labels).tolist():
            dsel = d_labels == cls
            gsel = g_labels == cls
            tp, ign = match_detections(
                d_boxes[dsel], d_scores[dsel], g_boxes[gsel], iou_threshold, g_diff[gsel]
            )
            scores, tps, igns = per_cls[cls]
            scores.append(d_scores[dsel])
            tps.append(tp)
            igns.append(ign)
    for cls in class_names:
        scores, tps, igns = per_cls[cls]
        precision, recall, thresholds = precision_recall_curve(
            _cat(scores, np.float64), _cat(tps, bool), n_gt[cls], _cat(igns, bool)
        )
        out["precision"][cls] = precision
        out["recall"][cls] = recall
        out["scores"][cls] = thresholds
        out["n_gt"][cls] = n_gt[cls]
        out["AP"][cls] = average_precision(recall, precision, method) if n_gt[cls] else float("nan")
    aps = [v for v in out["AP"].values() if not np.isnan(v)]
    out["mAP"] = float(np.mean(aps)) if aps else float("nan")
    return out
