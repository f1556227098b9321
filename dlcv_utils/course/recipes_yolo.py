"""Lesson 09's part of the shared recipe (:mod:`dlcv_utils.course.recipes` is at its size limit).

:func:`build_yolo_model` turns lesson 09's settings into its
:class:`~dlcv_utils.models.small_yolo.SmallYOLO`; :func:`bench` is the ``yolo_v3`` row of
:data:`dlcv_utils.course.recipes.BENCHMARKS` (the same steps as the lesson's cells).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlcv_utils.course.comparison import recipe_row
from dlcv_utils.course.recipes import (
    CLASS_NAMES,
    shapes_datasets,
    shapes_loaders,
    train_and_evaluate,
)
from dlcv_utils.course.settings import Lesson09, lesson_setup

__all__ = ["bench", "build_yolo_model"]


def build_yolo_model(cfg: Lesson09, train_dataset) -> nn.Module:
    """Lesson 09's SmallYOLO, anchors by k-means on ``train_dataset``'s boxes (seeded).

    Args:
        cfg: lesson 09's settings.
        train_dataset: yields ``(image, target)``; its ``target["boxes"]`` shapes give the
            ``cfg.k_anchors`` anchors (:func:`~dlcv_utils.models.small_yolo.split_anchors`).
    """
    from dlcv_utils.models.small_yolo import SmallYOLO, split_anchors

    if not isinstance(cfg, Lesson09):
        raise TypeError(f"cfg must be a Lesson09 setting, got {type(cfg).__name__}")
    wh = torch.cat([(lambda b: b[:, 2:] - b[:, :2])(t["boxes"]) for _, t in train_dataset])
    anchors = split_anchors(wh, cfg.k_anchors, len(cfg.strides), seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    kw = {"strides": cfg.strides, "widths": cfg.widths, "blocks": cfg.blocks}
    return SmallYOLO(len(CLASS_NAMES), anchors, match_iou=cfg.match_iou, **kw)


def bench(device, progress: bool = False) -> dict[str, Any]:
    """Lesson 09's benchmark row: the lesson's data, model, training and evaluation."""
    dev, cfg = lesson_setup("09", device)
    datasets = shapes_datasets(cfg.data)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed, datasets=datasets)
    model = build_yolo_model(cfg, datasets[0])
    result = train_and_evaluate(
        model, train, val, cfg.train, device=dev, seed=cfg.seed, progress=progress
    )
    return recipe_row(f"YOLOv3-style ({len(cfg.strides)} scales, {cfg.data.image_size}px)", result)
