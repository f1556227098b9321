"""Precision/recall curves and average precision (AP) under three interpolations.

Taught in lesson 01.

* ``"voc07"``: PASCAL VOC 2007 11-point AP. For each recall level ``t`` in
  ``0, 0.1, ..., 1`` take the best precision reached at recall ``>= t`` (0 if the recall is
  never reached) and average the 11 values. The levels are ``np.arange(11) / 10`` (correctly
  rounded, so 0.3 is the double nearest 0.3; ``np.arange(0, 1.1, 0.1)`` would give
  0.30000000000000004).
* ``"voc"``: VOC 2010+ all-point AP (``VOCap.m``): the area under the precision envelope,
  summed over the recall steps.
* ``"coco"``: COCO 101-point AP exactly as pycocotools' ``accumulate``: recall thresholds
  ``np.linspace(0, 1, 101)`` (some entries are one ulp above ``j/100``), the envelope of the
  precision, and a *step lookup*: at threshold ``r`` take the envelope at the first point whose
  recall is ``>= r`` (``np.searchsorted(recall, r, side="left")``), 0 if recall never gets there;
  AP is the mean of the 101 values.

pycocotools divides by ``tp + fp + np.spacing(1)``, so its "perfect" precision is
0.9999999999999998. :func:`precision_recall_curve` divides exactly, so a perfect detector gets
AP 1.0 here; :func:`dlcv_utils.metrics.coco_evaluate` reproduces pycocotools' eps.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["AP_METHODS", "average_precision", "precision_recall_curve"]

AP_METHODS = ("voc07", "voc", "coco")

#: pycocotools' recall thresholds, bit for bit (``Params.setDetParams``).
COCO_RECALL_THRESHOLDS = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)


def _as_1d_float(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a 1-D numeric array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(arr.shape)}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr[~np.isfinite(arr)][:3].tolist()}")
    return arr


def _as_1d_bool(values, name: str, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(arr.shape)}")
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isin(arr, (0, 1))):
            raise TypeError(f"{name} must be boolean (or 0/1), got dtype {arr.dtype}")
        arr = arr.astype(bool)
    if len(arr) != n:
        raise ValueError(f"{name} has length {len(arr)} but scores has length {n}")
    return arr


def precision_recall_curve(scores, tp, n_gt: int, ignored=None):
    """Precision and recall after each detection, ranked by descending score.

    Detections are ranked by ``-scores`` with a *stable* sort (ties keep their input order, as
    in the VOC devkit and pycocotools). Detections flagged ``ignored`` (e.g. matched to a
    ``difficult`` box) are dropped: they are neither true nor false positives.

    Args:
        scores: ``[N]`` confidence of each detection.
        tp: ``[N]`` bool, detection is a true positive.
        n_gt: number of (non-ignored) ground-truth objects, the recall denominator.
            When 0, recall is all zeros.
        ignored: optional ``[N]`` bool, detections to leave out.

    Returns:
        ``(precision, recall, thresholds)``, 1-D float arrays of the same length, in
        descending-score order; ``thresholds[i]`` is the score of the i-th kept detection.

    Raises:
        ValueError: lengths differ, non-finite scores, ``n_gt`` negative or smaller than the
            number of true positives.
        TypeError: non-numeric input or non-integer ``n_gt``.

    Example:
        >>> p, r, t = precision_recall_curve([0.9, 0.8, 0.7], [True, False, True], n_gt=4)
        >>> p.tolist(), r.tolist(), t.tolist()
        ([1.0, 0.5, 0.6666666666666666], [0.25, 0.25, 0.5], [0.9, 0.8, 0.7])
    """
    scores = _as_1d_float(scores, "scores")
    tp = _as_1d_bool(tp, "tp", len(scores))
    if ignored is None:
        ignored = np.zeros(len(scores), dtype=bool)
    else:
        ignored = _as_1d_bool(ignored, "ignored", len(scores))
    if isinstance(n_gt, bool) or not isinstance(n_gt, numbers.Integral):
        raise TypeError(f"n_gt must be an int, got {n_gt!r}")
    n_gt = int(n_gt)
    if n_gt < 0:
        raise ValueError(f"n_gt must be >= 0, got {n_gt}")
    n_tp = int(np.count_nonzero(tp & ~ignored))
    if n_tp > n_gt:
        raise ValueError(f"n_gt={n_gt} is smaller than the number of true positives ({n_tp})")
    order = np.argsort(-scores, kind="mergesort")
    keep = ~ignored[order]
    order = order[keep]
    tps = tp[order]
    tp_cum = np.cumsum(tps, dtype=np.float64)
    fp_cum = np.cumsum(~tps, dtype=np.float64)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1.0)
    recall = tp_cum / n_gt if n_gt > 0 else np.zeros_like(tp_cum)
    return precision, recall, scores[order]


def _check_curve(recall, precision):
    recall = _as_1d_float(recall, "recall")
    precision = _as_1d_float(precision, "precision")
    if len(recall) != len(precision):
        raise ValueError(
            f"recall and precision must have the same length, got {len(recall)} and "
            f"{len(precision)}"
        )
    for name, arr in (("recall", recall), ("precision", precision)):
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1], got values in [{arr.min()}, {arr.max()}]")
    if recall.size > 1 and np.any(np.diff(recall) < 0):
        i = int(np.argmax(np.diff(recall) < 0))
        raise ValueError(
            f"recall must be non-decreasing (detections in descending-score order), got "
            f"recall[{i}]={recall[i]} > recall[{i + 1}]={recall[i + 1]}"
        )
    return recall, precision


def average_precision(recall, precision, method: str = "voc") -> float:
    """Average precision of one precision/recall curve.

    Args:
        recall: ``[N]`` recall after each detection, non-decreasing, in [0, 1].
        precision: ``[N]`` precision after each detection, in [0, 1].
        method: ``"voc07"`` (11-point), ``"voc"`` (all-point, VOC2010+) or ``"coco"``
            (101-point, pycocotools' thresholds and step lookup).

    Returns:
        AP as a Python float in [0, 1]; 0.0 for an empty curve.

    Raises:
        ValueError: unknown method, different lengths, NaN/inf, values outside [0, 1],
            decreasing recall.

    Example:
        >>> r = [0.25, 0.25, 0.5]
        >>> p = [1.0, 0.5, 2 / 3]
        >>> round(average_precision(r, p, "voc"), 6)  # 0.25 * 1 + 0.25 * 2/3
        0.416667
        >>> round(average_precision(r, p, "voc07"), 6)  # (3 * 1 + 3 * 2/3) / 11
        0.454545
        >>> round(average_precision(r, p, "coco"), 6)  # (26 * 1 + 25 * 2/3) / 101
        0.422442
    """
    if method not in AP_METHODS:
        raise ValueError(f"method must be one of {AP_METHODS}, got {method!r}")
    recall, precision = _check_curve(recall, precision)
    if recall.size == 0:
        return 0.0
    if method == "voc07":
        total = 0.0
        for t in np.arange(11) / 10:
            sel = precision[recall >= t]
            total += sel.max() if sel.size else 0.0
        return float(total / 11)  # sum first: 11 * (1 / 11) would exceed 1
    if method == "voc":
        mrec = np.concatenate(([0.0], recall, [1.0]))
        mpre = np.concatenate(([0.0], precision, [0.0]))
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        i = np.flatnonzero(mrec[1:] != mrec[:-1])
        # the recall steps telescope to at most 1; clip the last-ulp rounding of their sum
        return float(min(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]), 1.0))
    # coco
    env = np.maximum.accumulate(precision[::-1])[::-1]
    inds = np.searchsorted(recall, COCO_RECALL_THRESHOLDS, side="left")
    q = np.where(inds < len(env), env[np.minimum(inds, len(env) - 1)], 0.0)
    return float(np.mean(q))
