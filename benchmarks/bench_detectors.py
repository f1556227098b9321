"""Benchmark the detectors trained in lessons 04-06 on the shapes data, in one markdown table.

For each model: training wall time with its lesson's settings for the device, val mAP@0.5,
val mAP@[.5:.95], and inference time per image (model forward only). Each model comes from the
``bench_*`` function next to its code:

* R-CNN and Fast R-CNN (lesson 04): ``dlcv_utils.models.rcnn.bench_rcnn`` / ``bench_fast_rcnn``
* Faster R-CNN (lesson 05): ``dlcv_utils.models.faster_rcnn.bench_faster_rcnn``
* the config-built Faster R-CNN R18-FPN (lesson 06): ``dlcv_utils.toolbox.bench_config_detector``

Each returns ``dict(model=..., train_s=..., map50=..., map=..., infer_ms=...)``. A function that
does not exist (yet) or fails is skipped with a note under the table, so the rest still runs.

usage: python benchmarks/bench_detectors.py [--only NAME ...] [--device cpu|cuda] [--threads N]
       NAME: rcnn, fast_rcnn, faster_rcnn, config

Timings depend on the machine and its load: say both when you quote them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (module, function, lesson)
BENCHES: dict[str, tuple[str, str, str]] = {
    "rcnn": ("dlcv_utils.models.rcnn", "bench_rcnn", "04"),
    "fast_rcnn": ("dlcv_utils.models.rcnn", "bench_fast_rcnn", "04"),
    "faster_rcnn": ("dlcv_utils.models.faster_rcnn", "bench_faster_rcnn", "05"),
    "config": ("dlcv_utils.toolbox", "bench_config_detector", "06"),
}
KEYS = ("model", "train_s", "map50", "map", "infer_ms")


def run_one(name: str, device: str) -> tuple[dict | None, str | None]:
    """Run bench ``name``; return ``(row, None)`` or ``(None, why it was skipped)``."""
    module_name, func_name, _ = BENCHES[name]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        return None, f"`{module_name}.{func_name}` is not available ({type(exc).__name__}: {exc})"
    t0 = time.perf_counter()
    try:
        row = func(device=device)
    except Exception as exc:  # a broken benchmark must not hide the others
        traceback.print_exc()
        return None, f"`{module_name}.{func_name}` failed: {type(exc).__name__}: {exc}"
    missing = [k for k in KEYS if k not in row]
    if missing:
        return None, f"`{module_name}.{func_name}` returned no {missing}"
    row = dict(row, wall_s=time.perf_counter() - t0)
    return row, None


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    """The result table in GitHub markdown."""
    lines = [
        "| lesson | model | training (s) | val mAP@0.5 | val mAP@[.5:.95] | inference (ms/image) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {BENCHES[name][2]} | {r['model']} | {r['train_s']:.0f} | {r['map50']:.3f} "
            f"| {r['map']:.3f} | {r['infer_ms']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(BENCHES), metavar="NAME", help="run only these"
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    names = args.only or list(BENCHES)
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
