"""Lesson 04's Fast R-CNN with and without box-aware augmentation, at equal budget.

Every row trains the same model (same initial weights, seed, settings ``cfg.fast_rcnn``: same
epochs and iterations) with a different ``Augmentation`` (:mod:`dlcv_utils.course.settings`),
through the shared recipe (:func:`dlcv_utils.course.recipes.box_augment`, ``shapes_loaders``,
``train_and_evaluate``), exactly as lesson 04's cells do; ``none`` and ``lesson`` are the two
runs of the lesson. Evaluation is on the same, never augmented, val split.

usage: python benchmarks/bench_augment.py [--only VARIANT ...] [--device cpu|cuda]
       VARIANT: none, flip, flip+affine, lesson

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def variants(augment):
    """Variant name -> ``Augmentation`` (``None``: no augmentation), from the lesson's setting."""
    off = {"photometric": 0.0, "scale": (1.0, 1.0), "translate": 0.0}
    return {
        "none": None,
        "flip": replace(augment, **off),
        "flip+affine": replace(augment, photometric=0.0),
        "lesson": augment,
    }


def main(argv=None) -> int:
    from dlcv_utils.course.recipes import (
        box_augment,
        build_rcnn_model,
        proposal_cache,
        shapes_datasets,
        shapes_loaders,
        train_and_evaluate,
    )
    from dlcv_utils.course.settings import lesson_setup

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    device, cfg = lesson_setup("04", args.device)
    table = variants(cfg.augment)
    for name in args.only or ():
        if name not in table:
            parser.error(f"unknown variant {name!r}; choose from {', '.join(table)}")
    datasets = shapes_datasets(cfg.data)
    proposals = proposal_cache(cfg)
    for ds in datasets:
        proposals.precompute(img for img, _ in ds)
    print(f"Fast R-CNN, lesson 04 settings on {cfg.device}, {cfg.fast_rcnn.epochs} epochs\n")
    print("| augmentation | iterations | train s | mAP@0.5 | mAP@[.5:.95] | final loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, augmentation in table.items():
        if args.only and name not in args.only:
            continue
        augment = None if augmentation is None else box_augment(augmentation, proposals)
        train, val = shapes_loaders(cfg.data, seed=cfg.seed, datasets=datasets, augment=augment)
        model = build_rcnn_model("fast_rcnn", cfg, proposals)
        run = train_and_evaluate(
            model, train, val, cfg.fast_rcnn, device=device, seed=cfg.seed, progress=False
        )
        m = run.metrics
        print(
            f"| {name} | {run.history.iterations} | {run.train_s:.0f} | {m['map50']:.3f} | "
            f"{m['map']:.3f} | {run.history.epochs[-1]['loss']:.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
