"""Lesson 13's Mask R-CNN on its CPU settings with the two backbones the settings know.

Lesson 13 trains torchvision's ``MaskRCNN`` from scratch on the shapes masks. Its CPU entry uses
lesson 05's one-map stride-4 tiny backbone; its GPU entry a tiny CNN + FPN (P2-P4). This script
trains both on the CPU entry's data, schedule and seed (``Lesson13`` CPU settings; only the
backbone fields change, to the values of the GPU entry: ``backbone``, ``levels``,
``anchor_sizes``; the narrow CPU mask head is kept), through the lesson's own recipe
(``recipes_mask_rcnn``), without the time cap, and prints box and mask mAP for each.

usage: python benchmarks/bench_mask_backbones.py [--only tiny tiny_fpn] [--epochs N]

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


def run(backbone: str, epochs: int | None) -> dict:
    """Lesson 13's CPU run with ``backbone`` (``"tiny"`` or ``"tiny_fpn"``); one row."""
    from dlcv_utils.course.recipes_mask_rcnn import run_lesson_recipe
    from dlcv_utils.course.settings import SETTINGS, lesson_setup

    dev, cfg = lesson_setup("13", "cpu")
    gpu = SETTINGS["13"][1]
    if backbone != cfg.backbone:
        cfg = replace(cfg, backbone=backbone, levels=gpu.levels, anchor_sizes=gpu.anchor_sizes)
    train = replace(cfg.train, max_train_seconds=None)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    result = run_lesson_recipe(replace(cfg, train=train), dev)
    m = result.metrics
    return {
        "backbone": backbone,
        "iterations": result.history.iterations,
        "train_s": result.train_s,
        "params": sum(p.numel() for p in result.model.parameters()),
        **{k: m[k] for k in ("map50", "map", "mask_map50", "mask_map")},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=("tiny", "tiny_fpn"), default=["tiny", "tiny_fpn"]
    )
    parser.add_argument("--epochs", type=int, default=None, help="replace the lesson's epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    print(
        "| backbone | params (M) | iterations | train s | box mAP@0.5 | box mAP | mask mAP@0.5 | mask mAP |"
    )
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for name in args.only:
        r = run(name, args.epochs)
        print(
            f"| {name} | {r['params'] / 1e6:.2f} | {r['iterations']} | {r['train_s']:.0f} | "
            f"{r['map50']:.3f} | {r['map']:.3f} | {r['mask_map50']:.3f} | {r['mask_map']:.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
