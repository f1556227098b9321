"""Fine-tune a COCO-pretrained Faster R-CNN on Penn-Fudan (lesson 05, section 6): one table row.

Runs :func:`dlcv_utils.course.finetune.finetune_pennfudan`, the recipe the lesson's cell runs:
seeded split (50 validation photos), COCO weights with a new 2-class box predictor, SGD with
warm-up and cosine decay, COCO mAP on the validation photos before and after. With
``--from-scratch`` it also trains the same architecture from random weights, for the transfer
learning comparison.

Needs the Penn-Fudan photos (``--root``; default: ``download("pennfudan")``) and the COCO
weights (downloaded by torchvision into ``$TORCH_HOME/hub/checkpoints``), so internet the first
time. Meant for a GPU: on a CPU pass ``--min-size 320 --max-size 512`` and expect minutes per
epoch.

usage: python benchmarks/bench_finetune.py [--root DIR] [--device cpu|cuda] [--epochs N]
       [--arch fasterrcnn_mobilenet_v3_large_fpn|fasterrcnn_resnet50_fpn|...] [--batch-size N]
       [--lr LR] [--freeze-backbone] [--min-size PX --max-size PX] [--max-seconds S]
       [--from-scratch]

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None) -> argparse.Namespace:
    from dlcv_utils.models.finetune import FINETUNE_ARCHS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", help="PennFudanPed folder or its parent (default: download it)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--arch", default="fasterrcnn_mobilenet_v3_large_fpn", choices=FINETUNE_ARCHS)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--n-val", type=int, default=50)
    p.add_argument("--freeze-backbone", action="store_true")
    p.add_argument("--min-size", type=int, default=None)
    p.add_argument("--max-size", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--from-scratch", action="store_true", help="also train without COCO weights")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import torch

    from dlcv_utils.course.finetune import finetune_pennfudan
    from dlcv_utils.datasets.download import DownloadError, download
    from dlcv_utils.models.faster_rcnn import WeightsUnavailableError

    args = parse_args(argv)
    try:
        root = args.root if args.root is not None else download("pennfudan")
    except DownloadError as exc:
        print(f"error: {exc}")
        return 1
    runs = [("COCO", "DEFAULT")] + ([("none (from scratch)", None)] if args.from_scratch else [])
    rows = []
    for label, weights in runs:
        try:
            r = finetune_pennfudan(
                root,
                args.device,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                arch=args.arch,
                weights=weights,
                freeze_backbone=args.freeze_backbone,
                n_val=args.n_val,
                min_size=args.min_size,
                max_size=args.max_size,
                evaluate_before=True,
                max_seconds=args.max_seconds,
                seed=args.seed,
                progress=not args.quiet,
            )
        except WeightsUnavailableError as exc:
            print(f"error: {exc}")
            return 1
        rows.append(
            f"| {args.arch} | {label} | {args.epochs} | {r.n_train}/{r.n_val} "
            f"| {r.history.train_seconds:.0f} | {r.metrics_before['map50']:.3f} "
            f"| {r.metrics['map50']:.3f} | {r.metrics['map']:.3f} |"
        )
        if r.history.stop_reason:
            rows[-1] += f" stopped early: {r.history.stop_reason}"
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = f", {torch.cuda.get_device_name(0)}" if device.startswith("cuda") else ""
    print(
        f"\nPenn-Fudan fine-tuning on {device}{gpu} ({platform.processor() or platform.machine()})"
    )
    print(
        "| model | weights | epochs | train/val photos | train s | AP50 before | AP50 after | mAP |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
