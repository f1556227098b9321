"""Lesson 13's Mask R-CNN on its CPU settings with other backbones and RoI level rules.

Lesson 13 trains torchvision's ``MaskRCNN`` from scratch on the shapes masks with a small CNN +
FPN (P2-P4) whose RoIs pick their level by the FPN paper's rule with a canonical side of 112 px.
This script trains, on the CPU entry's data, schedule and seed (``Lesson13`` CPU settings; only
the fields named below change; the narrow mask head is kept), through the lesson's own recipe
(``recipes_mask_rcnn.run_lesson_recipe``), without the time cap:

* ``tiny_fpn``: the lesson's model, as it is;
* ``tiny_fpn_c56``: the same with the level rule scaled down to 56 px (``canonical_scale=56``:
  objects of 28-56 px pool from P3, of 56 px and more from P4);
* ``tiny_fpn_narrow``: the same with the CNN half as wide at stride 4 and 8
  (``widths=(16, 32, 64, 128)``);
* ``tiny``: lesson 05's one-map stride-4 backbone (``widths[0]=16``, one level, anchors 16, 32,
  64 px), no FPN;

and prints box and mask mAP for each.

usage: python benchmarks/bench_mask_backbones.py [--only tiny_fpn tiny ...] [--epochs N]

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


#: the Lesson13 fields each variant changes (``tiny_fpn`` is the lesson's model as it is).
VARIANTS: dict[str, dict] = {
    "tiny_fpn": {},
    "tiny_fpn_c56": {"canonical_scale": 56},
    "tiny_fpn_narrow": {"widths": (16, 32, 64, 128)},
    "tiny": {
        "backbone": "tiny",
        "widths": (16, 32, 64, 128),
        "levels": 1,
        "anchor_sizes": ((16, 32, 64),),
    },
}


def run(variant: str, epochs: int | None) -> dict:
    """Lesson 13's CPU run with the fields of ``VARIANTS[variant]`` changed; one row."""
    from dlcv_utils.course.recipes_mask_rcnn import run_lesson_recipe
    from dlcv_utils.course.settings import lesson_setup

    dev, cfg = lesson_setup("13", "cpu")
    cfg = replace(cfg, **VARIANTS[variant])
    train = replace(cfg.train, max_train_seconds=None)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    result = run_lesson_recipe(replace(cfg, train=train), dev)
    m = result.metrics
    return {
        "variant": variant,
        "iterations": result.history.iterations,
        "train_s": result.train_s,
        "params_m": sum(p.numel() for p in result.model.parameters()) / 1e6,
        **{k: m[k] for k in ("map50", "map", "mask_map50", "mask_map")},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS), metavar="VARIANT"
    )
    parser.add_argument("--epochs", type=int, default=None, help="replace the lesson's epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    from dlcv_utils.course.report import print_markdown_rows

    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    columns = [
        ("variant", "{variant}"),
        ("params (M)", "{params_m:.2f}"),
        ("iterations", "{iterations}"),
        ("train s", "{train_s:.0f}"),
        ("box mAP@0.5", "{map50:.3f}"),
        ("box mAP", "{map:.3f}"),
        ("mask mAP@0.5", "{mask_map50:.3f}"),
        ("mask mAP", "{mask_map:.3f}"),
    ]
    print_markdown_rows(columns, (run(name, args.epochs) for name in args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
