"""Benchmark every detector the lessons train (04-13) on the shapes data, in one markdown table.

For each model: training wall time with its lesson's settings for the device, val mAP@0.5,
val mAP@[.5:.95], and inference time per image (model forward only). Every row comes from
:func:`dlcv_utils.course.recipes.run_benchmark`, which runs the same ``shapes loaders -> train
-> evaluate`` recipe, with the same settings (:mod:`dlcv_utils.course.settings`, threads
included), as the lesson's own cells: a lesson's key figure and its row here agree.

* R-CNN and Fast R-CNN (lesson 04): ``rcnn``, ``fast_rcnn``
* Faster R-CNN (lesson 05): ``faster_rcnn``
* the config-built Faster R-CNN + FPN (lesson 06): ``config``, and the same detector without
  the FPN, trained with the same budget: ``config_no_fpn``
* the single-shot detector of lesson 07 (``single_shot``), SSD (08, ``ssd``), the v3-style YOLO
  (09, ``yolo_v3``), Ultralytics YOLOv8n (10, ``yolo``), RetinaNet (11, ``retinanet``), the
  EfficientDet-style detector (12, ``efficientdet``) and Mask R-CNN (13, ``mask_rcnn``; its row
  adds the mask mAP)

A benchmark that fails is skipped with a note under the table, so the rest still runs.

Every row is also stored in the results file ``benchmarks/results/detectors_<device>.json``
(:mod:`dlcv_utils.course.comparison`; lesson 14 reads it): per row the model, family, lesson,
mAP@0.5, mAP@[.5:.95], AP small/medium/large, parameters, inference ms/image, training
seconds, iterations, stop reason and the run's date, commit, load and threads; at the top the
device (platform, CPU, torch, threads), the date, the git commit and each lesson's settings.
``--only NAME ...`` merges: those rows are replaced, the others kept, so rows can be rerun one
at a time (``--no-save`` leaves the file alone).

usage: OMP_NUM_THREADS=1 python benchmarks/bench_detectors.py [--only NAME ...]
           [--device cpu|cuda] [--results PATH] [--no-save]
       NAME: rcnn, fast_rcnn, faster_rcnn, config, config_no_fpn, ... (see --help)

Timings depend on the machine and its load: say both when you quote them (each row records the
load average before and after its run).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import subprocess
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


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or ``None`` where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def git_commit() -> str:
    """The repository's HEAD commit (``"unknown"`` outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty() -> bool | None:
    """Whether tracked files differ from the commit (the row's code may not be the commit's)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return bool(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: str) -> dict:
    """The machine a row ran on: platform, CPU, cores, torch, threads (and the GPU on cuda)."""
    import torch

    desc = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
    if device == "cuda":
        desc["gpu"] = torch.cuda.get_device_name(0)
    return desc


def lesson_settings_dict(lesson: str, device: str) -> dict:
    """``dataclasses.asdict`` of the lesson's settings for ``device``."""
    from dlcv_utils.course.settings import lesson_settings

    return dataclasses.asdict(lesson_settings(lesson, device))


def record(name: str, row: dict, device: str, date: str, commit: str, load_before) -> dict:
    """``row`` as the results file stores it: family, lesson and the run's circumstances."""
    import torch

    from dlcv_utils.course.comparison import FAMILIES

    run = {
        "date": date,
        "commit": commit,
        "dirty": git_dirty(),
        "load_before": load_before,
        "load_after": load_average(),
        "threads": torch.get_num_threads(),
        "wall_s": round(row["wall_s"], 1),
    }
    extra = {k: v for k, v in row.items() if k != "wall_s"}
    return {"family": FAMILIES.get(name, name), "lesson": lesson_of(name), **extra, "run": run}


def save(path: Path, records: dict, device: str, date: str, commit: str) -> Path:
    """Merge ``records`` into the results file at ``path`` (created if absent)."""
    import json

    from dlcv_utils.course.comparison import merge_results, write_results

    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    lessons = sorted({r["lesson"] for r in records.values()})
    merged = merge_results(
        old,
        records,
        device_kind=device,
        device=device_description(device),
        settings={lesson: lesson_settings_dict(lesson, device) for lesson in lessons},
        date=date,
        commit=commit,
    )
    return write_results(path, merged)


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
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="results file to merge the rows into (default benchmarks/results/detectors_<device>.json)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = parser.parse_args(argv)
    from dlcv_utils.course.comparison import results_path

    path = args.results or results_path(args.device)
    commit = git_commit()

    import torch

    os.environ.setdefault("TQDM_DISABLE", "1")
    names = args.only or list(BENCHMARKS)
    rows, notes = [], []
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        load_before = load_average()
        row, note = run_one(name, args.device)
        if row is None:
            print(f"[bench] {name}: skipped: {note}", flush=True)
            notes.append(f"- {name}: skipped: {note}")
            continue
        print(f"[bench] {name}: done in {row['wall_s']:.0f} s", flush=True)
        rows.append((name, row))
        if not args.no_save:  # after every row, so a later failure keeps the finished ones
            date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            rec = record(name, row, args.device, date, commit, load_before)
            try:
                saved = save(path, {name: rec}, args.device, date, commit)
            except ValueError as exc:  # e.g. a row without ap_small: not stored, said below
                print(f"[bench] {name}: NOT saved: {exc}", flush=True)
                notes.append(f"- {name}: not saved to {path}: {exc}")
            else:
                print(f"[bench] {name}: saved to {saved}", flush=True)

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
