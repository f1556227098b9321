"""Lesson 11's part of the shared recipe (:mod:`dlcv_utils.course.recipes` is at its size limit).

:func:`build_retinanet_model` turns lesson 11's settings into its RetinaNet
(:func:`dlcv_utils.models.retinanet.build_retinanet`); :func:`bench` is the ``retinanet`` row
of :data:`dlcv_utils.course.recipes.BENCHMARKS` (the same steps as the lesson's cells).
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
from dlcv_utils.course.settings import Lesson11, lesson_setup

__all__ = ["bench", "build_retinanet_model", "run_lesson_recipe"]


def build_retinanet_model(cfg: Lesson11, gamma: float | None = None) -> nn.Module:
    """Lesson 11's RetinaNet with its settings (seeded with ``cfg.seed``).

    Args:
        cfg: lesson 11's settings.
        gamma: the focal-loss ``gamma`` (default ``cfg.gamma``; the lesson's ablation passes
            ``cfg.ablation_gamma``). Everything else, the initial weights included, is the same.

    Example:
        >>> from dlcv_utils.course.settings import lesson_settings
        >>> model = build_retinanet_model(lesson_settings("11", "cpu"), gamma=0.0)
        >>> model.head.classification_head.gamma, model.anchor_generator.num_anchors_per_location()
        (0.0, [9, 9, 9])
    """
    from dlcv_utils.models.retinanet import build_retinanet

    if not isinstance(cfg, Lesson11):
        raise TypeError(f"cfg must be a Lesson11 setting, got {type(cfg).__name__}")
    torch.manual_seed(cfg.seed)
    return build_retinanet(
        len(CLASS_NAMES),
        image_size=cfg.data.image_size,
        width=cfg.width,
        fpn_channels=cfg.fpn_channels,
        head_convs=cfg.head_convs,
        head_norm=cfg.head_norm,
        base_sizes=cfg.base_sizes,
        first_stride=cfg.first_stride,
        aspect_ratios=cfg.aspect_ratios,
        alpha=cfg.alpha,
        gamma=cfg.gamma if gamma is None else gamma,
    )


def run_lesson_recipe(cfg: Lesson11, device, progress: bool = False) -> RecipeResult:
    """Lesson 11's steps with ``cfg``: shapes loaders, the RetinaNet (focal loss), training, mAP.

    ``bench`` runs it with the lesson's settings; ``benchmarks/bench_pyramid_start.py`` with
    other ones.
    """
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    return train_and_evaluate(
        build_retinanet_model(cfg), train, val, cfg.train, device=device, seed=cfg.seed,
        progress=progress,
    )  # fmt: skip


def bench(device, progress: bool = False) -> dict[str, Any]:
    """Lesson 11's benchmark row: the lesson's data, model (focal loss), training, evaluation."""
    dev, cfg = lesson_setup("11", device)
    result = run_lesson_recipe(cfg, dev, progress)
    first = {4: 2, 8: 3}[cfg.first_stride]
    name = (
        f"RetinaNet (FPN P{first}-P{first + 2}, {cfg.fpn_channels} ch, gamma {cfg.gamma:g}, "
        f"{cfg.data.image_size}px)"
    )
    return recipe_row(name, result)
