"""Lesson 12's part of the shared recipe (:mod:`dlcv_utils.course.recipes` is at its size limit).

:func:`build_efficientdet_model` turns lesson 12's settings into its small EfficientDet
(:func:`dlcv_utils.models.efficientdet.build_efficientdet`); :func:`bench` is the
``efficientdet`` row of :data:`dlcv_utils.course.recipes.BENCHMARKS` (the same steps as the
lesson's cells).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlcv_utils.course.comparison import recipe_row
from dlcv_utils.course.recipes import (
    CLASS_NAMES,
    RecipeResult,
    shapes_loaders,
    train_and_evaluate,
)
from dlcv_utils.course.settings import Lesson12, lesson_setup

__all__ = ["bench", "build_efficientdet_model", "run_lesson_recipe"]


def build_efficientdet_model(cfg: Lesson12) -> nn.Module:
    """Lesson 12's EfficientDet (random init, seeded with ``cfg.seed``) for the shapes classes.

    Example:
        >>> from dlcv_utils.course.settings import lesson_settings
        >>> model = build_efficientdet_model(lesson_settings("12", "cpu"))
        >>> type(model).__name__, type(model.backbone.bifpn).__name__
        ('RetinaNet', 'BiFPN')
    """
    from dlcv_utils.models.efficientdet import build_efficientdet

    if not isinstance(cfg, Lesson12):
        raise TypeError(f"cfg must be a Lesson12 setting, got {type(cfg).__name__}")
    torch.manual_seed(cfg.seed)
    return build_efficientdet(
        len(CLASS_NAMES),
        image_size=cfg.data.image_size,
        width=cfg.width,
        bifpn_layers=cfg.bifpn_layers,
        head_layers=cfg.head_layers,
        backbone_widths=cfg.backbone_widths,
        backbone_depths=cfg.backbone_depths,
        min_level=cfg.min_level,
        max_level=cfg.max_level,
        anchor_scale=cfg.anchor_scale,
        num_scales=cfg.num_scales,
    )


def run_lesson_recipe(cfg: Lesson12, device, progress: bool = False) -> RecipeResult:
    """Lesson 12's steps with ``cfg``: shapes loaders, the EfficientDet, training, mAP.

    ``bench`` runs it with the lesson's settings; ``benchmarks/bench_pyramid_start.py`` with
    other ones.
    """
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    return train_and_evaluate(
        build_efficientdet_model(cfg), train, val, cfg.train, device=device, seed=cfg.seed,
        progress=progress,
    )  # fmt: skip


def bench(device, progress: bool = False) -> dict[str, Any]:
    """Lesson 12's benchmark row: the lesson's data, model, training and evaluation."""
    dev, cfg = lesson_setup("12", device)
    result = run_lesson_recipe(cfg, dev, progress)
    name = (
        f"EfficientDet-style (BiFPN W={cfg.width} x{cfg.bifpn_layers}, "
        f"P{cfg.min_level}-P{cfg.max_level}, "
        f"{cfg.data.image_size}px)"
    )
    return recipe_row(name, result)
