"""Benchmark the detectors trained in lessons 04-06 on the shapes data, in one markdown table.

For each model: training wall time with its lesson's settings for the device, val mAP@0.5,
val mAP@[.5:.95], and inference time per image (model forward only). Every row comes from
:func:`dlcv_utils.course.recipes.run_benchmark`, which runs the same ``shapes loaders -> train
-> evaluate`` recipe, with the same settings (:mod:`dlcv_utils.course.settings`, threads
included), as the lesson's own cells: a lesson's key figure and its row here agree.

* R-CNN and Fast R-CNN (lesson 04): ``rcnn``, ``fast_rcnn``
* Faster R-CNN (lesson 05): ``faster_rcnn``
* the config-built Faster R-CNN + FPN (lesson 06): ``config``, and the same detector without
  the FPN, trained with the same budget: ``config_no_fpn`` (both rows add COCO's AP of small,
  medium and large objects)

A benchmark that fails is skipped with a note under the table, so the rest still runs.

usage: python benchmarks/bench_detectors.py [--only NAME ...] [--device cpu|cuda]
       NAME: rcnn, fast_rcnn, faster_rcnn, config, config_no_fpn, ... (see --help)

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ("model", "train_s", "map50", "map", "infer_ms")


def run_one(name: str, device: str) -> tuple[dict | None, str | None]:
    """Run bench ``name``; return ``(row, None)`` or ``(None, why it was skipped)``."""
    from dlcv_utils.course.recipes import run_benchmark

    t0 = time.perf_counter()
    try:
        row = run_benchmark(name, device=device)
    except Exception as exc:  # a broken benchmark must not hide the others
        traceback.print_exc()
        return None, f"`run_benchmark({name!r})` failed: {type(exc).__name__}: {exc}"
    missing = [k for k in KEYS if k not in row]
    if missing:
        return None, f"`run_benchmark({name!r})` returned no {missing}"
    row = dict(row, wall_s=time.perf_counter() - t0)
    return row, None


def lesson_of(name: str) -> str:
    """The lesson that trains benchmark ``name``."""
    from dlcv_utils.course.recipes import BENCHMARKS

    return BENCHMARKS[name][0]


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    """The result table in GitHub markdown."""
    lines = [
        "| lesson | model | training (s) | val mAP@0.5 | val mAP@[.5:.95] "
        "| AP small / medium / large | inference (ms/image) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        sizes = (
            " / ".join(f"{r[k]:.3f}" for k in ("ap_small", "ap_medium", "ap_large"))
            if "ap_small" in r
            else ""
        )
        lines.append(
            f"| {lesson_of(name)} | {r['model']} | {r['train_s']:.0f} | {r['map50']:.3f} "
            f"| {r['map']:.3f} | {sizes} | {r['infer_ms']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    from dlcv_utils.course.recipes import BENCHMARKS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME", help="run only these"
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args(argv)

    import torch

    os.environ.setdefault("TQDM_DISABLE", "1")
    names = args.only or list(BENCHMARKS)
    rows, notes = [], []
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        row, note = run_one(name, args.device)
        if row is None:
            print(f"[bench] {name}: skipped: {note}", flush=True)
            notes.append(f"- {name}: skipped: {note}")
        else:
            print(f"[bench] {name}: done in {row['wall_s']:.0f} s", flush=True)
            rows.append((name, row))

    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load unknown"
    machine = (
        torch.cuda.get_device_name(0)
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}"
    )
    print()
    print(markdown_table(rows))
    print()
    print(f"Device {args.device} ({machine}); torch {torch.__version__}; {load} at the end.")
    for note in notes:
        print(note)
    return 0 if rows or not names else 1


if __name__ == "__main__":
    sys.exit(main())
