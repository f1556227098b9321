"""How val mAP grows with the training budget: lesson 06's detectors and lesson 05's, side by side.

Lesson 06 compares its config-built Faster R-CNN + FPN with the same detector without the neck
at an equal, short budget (``Lesson06.train``: 300 iterations on the CPU). This script trains
the same models, through the same recipe (``shapes_loaders`` -> ``train_and_evaluate``, the
lesson's data, seed, learning rate and schedule), for a chosen number of epochs, so anyone can
see how far each is from converged at the lesson's budget and what budget a target needs:

* ``fpn``: ``cfg.config`` (TinyNet + FPN, P2-P4), lesson 06's settings;
* ``c4``: ``cfg.baseline_config`` (the same detector, no neck), lesson 06's settings;
* ``fpn_w32``: ``fpn`` with a TinyNet twice as wide (widths 32, 64, 128, 256);
* ``faster_rcnn``: lesson 05's detector (its one stride-4 map, its own settings).

``--epochs`` replaces the lesson's epochs; the time cap is off (every run does all its
iterations). One row per model: iterations, training seconds, val mAP@0.5, mAP@[.5:.95] and
COCO's AP of small and medium objects.

usage: python benchmarks/bench_fpn_budget.py --epochs 6 [--only MODEL ...] [--device cpu|cuda]

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

MODELS = ("fpn", "c4", "fpn_w32", "faster_rcnn")


def run(name: str, epochs: int, device: str | None) -> dict:
    """Train model ``name`` for ``epochs`` with its lesson's settings; return one table row."""
    from dlcv_utils.course import recipes
    from dlcv_utils.course.settings import lesson_setup

    lesson = "05" if name == "faster_rcnn" else "06"
    dev, cfg = lesson_setup(lesson, device)
    cfg = replace(cfg, train=replace(cfg.train, epochs=epochs, max_train_seconds=None))
    train, val = recipes.shapes_loaders(cfg.data, seed=cfg.seed)
    if name == "faster_rcnn":
        model = recipes.build_faster_rcnn_model(cfg)
    elif name in ("fpn", "c4"):
        model = recipes.build_config_model(
            cfg, cfg.config if name == "fpn" else cfg.baseline_config
        )
    else:  # fpn_w32: the lesson's FPN config with a wider backbone
        model = recipes.build_config_model(
            cfg, cfg.config, overrides={"backbone.widths": [32, 64, 128, 256]}
        )
    result = recipes.train_and_evaluate(
        model, train, val, cfg.train, device=dev, seed=cfg.seed, progress=False
    )
    coco = result.metrics["coco"]
    return {
        "model": name,
        "lesson": lesson,
        "iterations": result.history.iterations,
        "train_s": result.train_s,
        "map50": result.metrics["map50"],
        "map": result.metrics["map"],
        "ap_small": coco["APs"],
        "ap_medium": coco["APm"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, required=True, help="epochs of every run")
    parser.add_argument("--only", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    print(f"load average {os.getloadavg()[0]:.1f}; {args.epochs} epochs per run", flush=True)
    from dlcv_utils.course.report import print_markdown_rows

    columns = [
        ("model", "{model}"),
        ("lesson", "{lesson}"),
        ("iterations", "{iterations}"),
        ("train s", "{train_s:.0f}"),
        ("mAP@0.5", "{map50:.3f}"),
        ("mAP", "{map:.3f}"),
        ("AP_small", "{ap_small:.3f}"),
        ("AP_medium", "{ap_medium:.3f}"),
    ]
    print_markdown_rows(columns, (run(name, args.epochs, args.device) for name in args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
