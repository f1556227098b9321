"""Lesson 10's Ultralytics YOLO with other training settings: what the CPU budget buys.

Lesson 10 trains ``YOLO(cfg.model)`` from its yaml, from scratch, on the shapes data written in
the YOLO layout (``Lesson10``: 256 training images at 128 px, 30 epochs, batch 8, AdamW at
2e-3, no mosaic). This script runs the same steps (``write_shapes_yolo`` -> ``train_yolo`` ->
``val_yolo`` -> ``coco_evaluate`` on the same predictions: lesson 10's benchmark recipe,
``dlcv_utils.course.recipes_ultralytics.bench``) with the lesson's settings changed by
a named variant, without the lesson's time cap, and prints one row per variant: training
seconds, COCO mAP@0.5 and mAP@[.5:.95].

* ``lesson``: the lesson's own arguments (``yolo_train_args``);
* ``batch4``: batch 4 (twice the iterations, each cheaper), warm-up 1 epoch;
* ``sgd``: SGD at lr0 0.01 (Ultralytics' from-scratch default), warm-up 2 epochs;
* ``mosaic``: mosaic augmentation on (probability 1, the last 10 epochs without);
* ``defaults``: Ultralytics' own defaults (``optimizer="auto"``, batch 16, mosaic 1).

usage: python benchmarks/bench_ultralytics_settings.py [--only VARIANT ...] [--epochs N]

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "lesson": {},
    "batch4": {"batch": 4, "warmup_epochs": 1.0},
    "sgd": {"optimizer": "SGD", "lr0": 0.01, "warmup_epochs": 2.0},
    "mosaic": {"mosaic": 1.0},
    "defaults": {"optimizer": "auto", "batch": 16, "mosaic": 1.0, "warmup_epochs": 3.0},
}


def run(variant: str, epochs: int | None) -> dict:
    """Lesson 10's benchmark recipe with ``variant``'s changes and no time cap; one row."""
    from dlcv_utils.course.recipes_ultralytics import bench

    overrides = dict(VARIANTS[variant])
    if epochs is not None:
        overrides["epochs"] = epochs
    row = bench("cpu", train_overrides=overrides, time_cap=False)
    return {"variant": variant, **row}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=None, help="replace the lesson's epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    from dlcv_utils.course.report import print_markdown_rows

    columns = [
        ("variant", "{variant}"),
        ("iterations", "{iterations}"),
        ("train s", "{train_s:.0f}"),
        ("mAP@0.5", "{map50:.3f}"),
        ("mAP@[.5:.95]", "{map:.3f}"),
    ]
    print_markdown_rows(columns, (run(name, args.epochs) for name in args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
