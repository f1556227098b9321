"""Lesson 13's part of the shared recipe (:mod:`dlcv_utils.course.recipes` is at its size limit).

The same ``shapes loaders -> train -> evaluate`` steps as every training lesson, with masks:

* :func:`mask_datasets` builds the shapes train/val splits **with** ``target["masks"]`` (the
  random horizontal flip moves boxes and masks together);
* :func:`build_mask_rcnn_model` turns lesson 13's settings into its Mask R-CNN
  (:func:`dlcv_utils.models.mask_rcnn.build_mask_rcnn`);
* :func:`train_and_evaluate_masks` is :func:`dlcv_utils.course.recipes.train_and_evaluate`
  with an evaluation of box AP and mask AP in one pass
  (:func:`dlcv_utils.engine.instance_segmentation.evaluate_instance_segmentation`);
* :func:`bench` is the ``mask_rcnn`` row of :data:`dlcv_utils.course.recipes.BENCHMARKS`.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from dlcv_utils.course.comparison import recipe_row
from dlcv_utils.course.recipes import (
    CLASS_NAMES,
    RecipeResult,
    random_hflip,
    shapes_loaders,
    train_and_evaluate,
)
from dlcv_utils.course.settings import Lesson13, ShapesData, Training, lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.engine.instance_segmentation import evaluate_instance_segmentation

__all__ = [
    "bench",
    "build_mask_rcnn_model",
    "mask_datasets",
    "run_lesson_recipe",
    "train_and_evaluate_masks",
]


def mask_datasets(data: ShapesData) -> tuple[ShapesDetection, ShapesDetection]:
    """The shapes train and val splits of ``data`` with instance masks, generated up front.

    Example:
        >>> train, val = mask_datasets(ShapesData(n_train=2, n_val=1, image_size=64))
        >>> image, target = val[0]
        >>> tuple(target["masks"].shape[1:]), len(target["masks"]) == len(target["boxes"])
        ((64, 64), True)
    """
    if not isinstance(data, ShapesData):
        raise TypeError(f"data must be a ShapesData setting, got {type(data).__name__}")
    train = ShapesDetection(
        "train",
        n=data.n_train,
        image_size=data.image_size,
        transforms=random_hflip if data.hflip else None,
        return_masks=True,
    )
    val = ShapesDetection("val", n=data.n_val, image_size=data.image_size, return_masks=True)
    for ds in (train, val):
        for i in range(len(ds)):
            ds.sample(i)
    return train, val


def build_mask_rcnn_model(cfg: Lesson13) -> nn.Module:
    """Lesson 13's Mask R-CNN with its settings (seeded with ``cfg.seed``)."""
    from dlcv_utils.models.mask_rcnn import build_mask_rcnn

    if not isinstance(cfg, Lesson13):
        raise TypeError(f"cfg must be a Lesson13 setting, got {type(cfg).__name__}")
    torch.manual_seed(cfg.seed)
    return build_mask_rcnn(
        len(CLASS_NAMES),
        backbone=cfg.backbone,
        image_size=cfg.data.image_size,
        widths=cfg.widths,
        levels=cfg.levels,
        fpn_channels=cfg.fpn_channels,
        anchor_sizes=cfg.anchor_sizes,
        canonical_scale=cfg.canonical_scale,
        mask_layers=cfg.mask_layers,
        mask_channels=cfg.mask_channels,
        mask_roi_size=cfg.mask_roi_size,
        box_batch_size_per_image=cfg.box_batch_size_per_image,
        box_detections_per_img=cfg.detections_per_img,
    )


def train_and_evaluate_masks(
    model: nn.Module,
    train_loader,
    val_loader,
    training: Training,
    *,
    device: str | torch.device,
    seed: int = 0,
    mask_threshold: float = 0.5,
    progress: bool = True,
) -> RecipeResult:
    """Train like :func:`~dlcv_utils.course.recipes.train_and_evaluate`, evaluate boxes and masks.

    Returns:
        A :class:`~dlcv_utils.course.recipes.RecipeResult` whose ``metrics`` are those of
        :func:`~dlcv_utils.engine.instance_segmentation.evaluate_instance_segmentation`
        (``map50``/``map`` of the boxes, ``mask_map50``/``mask_map`` of the masks, ...).
    """
    evaluate = functools.partial(
        evaluate_instance_segmentation, class_names=CLASS_NAMES, mask_threshold=mask_threshold
    )
    return train_and_evaluate(
        model,
        train_loader,
        val_loader,
        training,
        device=device,
        seed=seed,
        progress=progress,
        evaluate=evaluate,
    )


def run_lesson_recipe(cfg: Lesson13, device, progress: bool = False) -> RecipeResult:
    """Lesson 13's steps with ``cfg``: masked shapes loaders, the model, training, box + mask AP.

    ``bench`` runs it with the lesson's settings; ``benchmarks/bench_mask_backbones.py`` with
    other backbones and level rules.
    """
    datasets = mask_datasets(cfg.data)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed, datasets=datasets)
    return train_and_evaluate_masks(
        build_mask_rcnn_model(cfg),
        train,
        val,
        cfg.train,
        device=device,
        seed=cfg.seed,
        mask_threshold=cfg.mask_threshold,
        progress=progress,
    )


def bench(device, progress: bool = False) -> dict[str, Any]:
    """Lesson 13's benchmark row: the box metrics as every row (``map50``, ``map``, ...), plus
    ``mask_map50``/``mask_map``."""
    dev, cfg = lesson_setup("13", device)
    result = run_lesson_recipe(cfg, dev, progress)
    m = result.metrics
    backbone = f"CNN + FPN P2-P{1 + cfg.levels}" if cfg.backbone == "tiny_fpn" else "tiny backbone"
    return recipe_row(
        f"Mask R-CNN ({backbone}, {cfg.data.image_size}px)",
        result,
        mask_map50=m["mask_map50"],
        mask_map=m["mask_map"],
    )
