"""Lessons 11 and 12's dense detectors with the pyramid starting at stride 4 (P2) or 8 (P3).

The shapes objects are 8-64 px on 128 px images. Lesson 08 moved SSD's first level to stride 4;
lessons 11 (RetinaNet) and 12 (EfficientDet-style) do the same. This script trains each
lesson's detector on its CPU settings (data, schedule, seed, one thread; no time cap) through the
lesson's own recipe, as the lesson has it (``retinanet``, ``efficientdet``) and with the
paper's stride-8 start (``retinanet_p3``, ``efficientdet_p3``), and prints val mAP for each:

* ``retinanet_p3``: ``first_stride=8`` (P3-P5) and 64 FPN channels, the course's earlier design;
* ``efficientdet_p3``: four MBConv stages ``(16, 24, 40, 80)`` x ``(1, 1, 2, 2)`` feeding
  P3-P5, P6 by pooling (``min_level=3``, ``max_level=6``), the course's earlier design.

usage: python benchmarks/bench_pyramid_start.py [--only NAME ...] [--epochs N]

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: variant -> (lesson, the settings fields it changes)
VARIANTS: dict[str, tuple[str, dict]] = {
    "retinanet": ("11", {}),
    "retinanet_p3": ("11", {"first_stride": 8, "fpn_channels": 64}),
    "efficientdet": ("12", {}),
    "efficientdet_p3": (
        "12",
        {
            "backbone_widths": (16, 24, 40, 80),
            "backbone_depths": (1, 1, 2, 2),
            "min_level": 3,
            "max_level": 6,
        },
    ),
}


def run(variant: str, epochs: int | None) -> dict:
    """One variant on its lesson's CPU settings, through the lesson's recipe; returns the row."""
    from dlcv_utils.course import recipes_efficientdet, recipes_retinanet
    from dlcv_utils.course.settings import lesson_setup

    lesson, fields = VARIANTS[variant]
    dev, cfg = lesson_setup(lesson, "cpu")
    train = replace(cfg.train, max_train_seconds=None)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    recipe = recipes_retinanet if lesson == "11" else recipes_efficientdet
    result = recipe.run_lesson_recipe(replace(cfg, train=train, **fields), dev)
    m = result.metrics
    return {
        "variant": variant,
        "lesson": lesson,
        "iterations": result.history.iterations,
        "train_s": result.train_s,
        "params_m": sum(p.numel() for p in result.model.parameters()) / 1e6,
        "map50": m["map50"],
        "map": m["map"],
        "aps": m["coco"]["APs"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS), metavar="NAME"
    )
    parser.add_argument("--epochs", type=int, default=None, help="replace the lessons' epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    from dlcv_utils.course.report import print_markdown_rows

    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    columns = [
        ("variant", "{variant}"),
        ("lesson", "{lesson}"),
        ("params (M)", "{params_m:.2f}"),
        ("iterations", "{iterations}"),
        ("train s", "{train_s:.0f}"),
        ("mAP@0.5", "{map50:.3f}"),
        ("mAP", "{map:.3f}"),
        ("AP_small", "{aps:.3f}"),
    ]
    print_markdown_rows(columns, (run(name, args.epochs) for name in args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
