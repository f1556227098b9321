"""Detection metrics: matching, precision/recall, AP, VOC and COCO evaluation.

Taught in lesson 01.

Public API:
    match_detections: TP / FP / ignored labels of one image and class (VOC rules).
    precision_recall_curve: precision and recall after each ranked detection.
    average_precision: AP of a curve, ``"voc07"`` 11-point, ``"voc"`` all-point, ``"coco"``
        101-point.
    evaluate_voc: per-class AP and mAP at IoU 0.5, ``difficult`` ignored.
    coco_evaluate: the 12 COCO numbers, identical to pycocotools' ``COCOeval``.
"""

from dlcv_utils.metrics.ap import AP_METHODS, average_precision, precision_recall_curve
from dlcv_utils.metrics.coco import (
    AREA_LABELS,
    AREA_RANGES,
    IOU_THRESHOLDS,
    MAX_DETS,
    RECALL_THRESHOLDS,
    STAT_KEYS,
    coco_evaluate,
)
from dlcv_utils.metrics.matching import match_detections
from dlcv_utils.metrics.voc import evaluate_voc

__all__ = [
    "AP_METHODS",
    "AREA_LABELS",
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "RECALL_THRESHOLDS",
    "STAT_KEYS",
    "average_precision",
    "coco_evaluate",
    "evaluate_voc",
    "match_detections",
    "precision_recall_curve",
]
