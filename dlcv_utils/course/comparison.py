"""The detector benchmark's results file: write, merge, load, check and tabulate it.

``benchmarks/bench_detectors.py`` runs every row of :data:`dlcv_utils.course.recipes.BENCHMARKS`
(each lesson's own recipe and settings) and stores the rows in one JSON file per device kind,
``benchmarks/results/detectors_<device>.json`` (:func:`results_path`)::

    {"format": 1, "device_kind": "cpu", "device": {...}, "date": "...", "commit": "...",
     "settings": {"05": {...}, ...},          # dataclasses.asdict of each lesson's settings
     "rows": {"faster_rcnn": {"model": ..., "family": ..., "lesson": "05", "map50": ...,
                              "map": ..., "ap_small": ..., "ap_medium": ..., "ap_large": ...,
                              "params": ..., "infer_ms": ..., "train_s": ..., "iterations": ...,
                              "stop_reason": ..., "on_pace": ...,
                              "run": {"date", "commit", "dirty", "load_before", ...}},
              ...}}

``--only NAME`` reruns merge into the file (:func:`merge_results`): the named rows are replaced,
the others kept. Lesson 14 reads the file with :func:`load_results`, checks that it covers every
family (:func:`check_coverage`) and shows :func:`format_table`.

Taught in lesson 14.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dlcv_utils.course.settings_base import Training
from dlcv_utils.engine.schedule import lr_factor
from dlcv_utils.viz.widgets.comparison import COSTS, METRICS, check_metric

__all__ = [
    "COMMAND",
    "FAMILIES",
    "FORMAT",
    "REQUIRED_ROWS",
    "ROW_KEYS",
    "best_model",
    "check_coverage",
    "format_table",
    "load_results",
    "merge_results",
    "recipe_row",
    "results_path",
    "schedule_on_pace",
    "table_rows",
    "write_results",
]

#: the version of the file's layout
FORMAT = 1
#: how to (re)produce the results file (one row: ``--only NAME``)
COMMAND = "OMP_NUM_THREADS=1 python benchmarks/bench_detectors.py"
#: benchmark row -> the detector family it stands for, in the course's order
FAMILIES: dict[str, str] = {
    "rcnn": "R-CNN",
    "fast_rcnn": "Fast R-CNN",
    "faster_rcnn": "Faster R-CNN",
    "config_no_fpn": "Faster R-CNN (C4, no FPN)",
    "config": "Faster R-CNN + FPN",
    "single_shot": "single-shot (lesson 07)",
    "ssd": "SSD",
    "yolo_v3": "YOLO (course, v3-style)",
    "yolo": "Ultralytics YOLO",
    "retinanet": "RetinaNet",
    "efficientdet": "EfficientDet",
    "mask_rcnn": "Mask R-CNN",
}
#: the rows lesson 14's table must have: one per family
REQUIRED_ROWS: tuple[str, ...] = tuple(FAMILIES)
#: what every row of the file holds
#: row key suffix -> COCO summary key: AP of small, medium and large objects (-1: none).
SIZE_KEYS = {"small": "APs", "medium": "APm", "large": "APl"}

ROW_KEYS = (
    "model",
    "family",
    "lesson",
    "map50",
    "map",
    "ap_small",
    "ap_medium",
    "ap_large",
    "params",
    "infer_ms",
    "train_s",
    "iterations",
    "stop_reason",
    "on_pace",
)
_ROOT = Path(__file__).resolve().parents[2]


def results_path(device: str = "cpu", root: str | os.PathLike | None = None) -> Path:
    """``<root>/benchmarks/results/detectors_<device>.json`` (root: this repository).

    Example:
        >>> results_path("cpu", "/repo").as_posix()
        '/repo/benchmarks/results/detectors_cpu.json'
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return (
        Path(_ROOT if root is None else root)
        / "benchmarks"
        / "results"
        / f"detectors_{device}.json"
    )


def schedule_on_pace(lrs: Iterable[float], training: Training, n_batches: int) -> bool:
    """Whether a run of :func:`dlcv_utils.engine.fit` under ``training`` (``n_batches`` per
    epoch) ran all its iterations on the plain schedule (warm-up + cosine); ``lrs`` is its
    ``History.lr``.

    A run too slow for its time cap follows the clock instead (``engine/budget.py``), so its
    learning rates, hence its mAP, depend on the machine's timing. Two on-pace runs of the same
    settings with one thread are identical; this is what lesson 14's live rerun relies on.

    Example:
        >>> training = Training(epochs=2, lr=0.1, warmup_iters=2)
        >>> plain = [0.1 * lr_factor(i, 10, warmup_iters=2) for i in range(10)]
        >>> schedule_on_pace(plain, training, 5), schedule_on_pace(plain[:9], training, 5)
        (True, False)
        >>> schedule_on_pace(plain[:5] + [0.0] * 5, training, 5)  # the clock took over
        False
    """
    lrs = list(lrs)
    total = training.epochs * n_batches
    warmup = min(training.warmup_iters, total)
    return len(lrs) == total and all(
        math.isclose(got, training.lr * lr_factor(i, total, warmup_iters=warmup), rel_tol=1e-6)
        for i, got in enumerate(lrs)
    )


def recipe_row(model: str, result: Any, **extra: Any) -> dict[str, Any]:
    """A benchmark row (every key of :data:`ROW_KEYS` but ``family``/``lesson``, which the
    benchmark adds) from a :class:`~dlcv_utils.course.recipes.RecipeResult`.

    For a lesson recipe in its own module: ``return recipe_row("RetinaNet (...)", result)``.

    Args:
        model: the row's model name.
        result: has ``model``, ``history``, ``metrics`` (of ``evaluate_detector``: ``map50``,
            ``map``, ``seconds_per_image``, ``coco``), ``train_s`` and ``on_pace``.
        **extra: more keys (they win over the computed ones).

    Example:
        >>> from types import SimpleNamespace
        >>> from torch import nn
        >>> from dlcv_utils.engine import History
        >>> metrics = {"map50": 0.5, "map": 0.3, "seconds_per_image": 0.004,
        ...            "coco": {"APs": 0.1, "APm": 0.4, "APl": -1.0}}
        >>> result = SimpleNamespace(model=nn.Linear(2, 1), history=History(), metrics=metrics,
        ...                          train_s=9.0, on_pace=True)
        >>> row = recipe_row("m", result)
        >>> row["params"], row["infer_ms"], row["ap_small"], row["on_pace"]
        (3, 4.0, 0.1, True)
    """
    coco = result.metrics["coco"]
    return {
        "model": model,
        "train_s": result.train_s,
        "map50": result.metrics["map50"],
        "map": result.metrics["map"],
        "infer_ms": 1000.0 * result.metrics["seconds_per_image"],
        "iterations": result.history.iterations,
        "stop_reason": result.history.stop_reason,
        "params": sum(p.numel() for p in result.model.parameters()),
        "on_pace": result.on_pace,
        **{f"ap_{size}": coco[key] for size, key in SIZE_KEYS.items()},
        **extra,
    }


def _check_row(name: str, row: Any, where: str) -> None:
    if not isinstance(row, Mapping):
        raise ValueError(f"{where}: row {name!r} must be an object, got {type(row).__name__}")
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValueError(
            f"{where}: row {name!r} has no {missing}; rerun it: {COMMAND} --only {name}"
        )
    for key in ("map50", "map", "ap_small", "ap_medium", "ap_large", "params", "infer_ms"):
        value = row[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{where}: row {name!r} has {key}={value!r}, not a finite number")


def merge_results(
    old: Mapping[str, Any] | None,
    rows: Mapping[str, Mapping[str, Any]],
    *,
    device_kind: str,
    device: Mapping[str, Any],
    settings: Mapping[str, Any],
    date: str,
    commit: str,
) -> dict[str, Any]:
    """``old`` with ``rows`` replacing its rows of the same name (the others are kept).

    Args:
        old: the file's content, or ``None`` for a new file.
        rows: benchmark name -> row (every key of :data:`ROW_KEYS`).
        device_kind: ``"cpu"`` or ``"cuda"``; must match ``old``'s.
        device: the machine (platform, CPU, torch version, threads...).
        settings: lesson -> its settings as a dict; merged like the rows.
        date, commit: of this run (the file's top level says when it was last written).

    Returns:
        The new content; rows in :data:`FAMILIES` order, then any other rows by name.

    Raises:
        ValueError: a row lacks a key, or ``old`` is for another device kind.

    Example:
        >>> row = dict.fromkeys(ROW_KEYS, 0.5) | {"model": "m", "family": "SSD", "lesson": "08"}
        >>> new = merge_results(None, {"ssd": row}, device_kind="cpu", device={}, settings={},
        ...                     date="2026-12-03", commit="abc")
        >>> merged = merge_results(new, {"rcnn": row}, device_kind="cpu", device={},
        ...                        settings={}, date="2026-12-04", commit="def")
        >>> list(merged["rows"]), merged["date"]
        (['rcnn', 'ssd'], '2026-12-04')
    """
    for name, row in rows.items():
        _check_row(name, row, "merge_results")
    old = dict(old or {})
    if old and old.get("device_kind") != device_kind:
        raise ValueError(
            f"the results file is for device {old.get('device_kind')!r}, not {device_kind!r}: "
            "keep one file per device kind"
        )
    merged = {**old.get("rows", {}), **{k: dict(v) for k, v in rows.items()}}
    order = [n for n in FAMILIES if n in merged] + sorted(n for n in merged if n not in FAMILIES)
    return {
        "format": FORMAT,
        "device_kind": device_kind,
        "device": dict(device),
        "date": date,
        "commit": commit,
        "settings": dict(sorted({**old.get("settings", {}), **settings}.items())),
        "rows": {n: merged[n] for n in order},
    }


def write_results(path: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Write ``results`` as indented JSON (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_results(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read and check a results file (default: this repository's CPU file).

    Raises:
        FileNotFoundError: no file at ``path`` (the message names it and the command that
            writes it).
        ValueError: not JSON, not this layout, or a row without one of :data:`ROW_KEYS` or with
            a metric that is not a finite number.
    """
    path = results_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no benchmark results at {path}; produce them with: {COMMAND} "
            "(or one row at a time: --only NAME)"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); rerun {COMMAND}") from exc
    if not isinstance(results, dict) or not isinstance(results.get("rows"), dict):
        raise ValueError(f"{path} has no 'rows' object: not a bench_detectors results file")
    if results.get("format") != FORMAT:
        raise ValueError(f"{path} has format {results.get('format')!r}, expected {FORMAT}")
    for name, row in results["rows"].items():
        _check_row(name, row, str(path))
    return results


def check_coverage(
    results: Mapping[str, Any], required: Iterable[str] = REQUIRED_ROWS, allow_missing=()
) -> list[str]:
    """Check that ``results`` has every ``required`` row; returns the rows it has, in order.

    Args:
        results: from :func:`load_results`.
        required: benchmark names that must be there.
        allow_missing: names of ``required`` that may be absent (rows not benchmarked yet).

    Raises:
        ValueError: names the missing rows and the command that adds them.

    Example:
        >>> check_coverage({"rows": {"ssd": {}}}, ["ssd", "rcnn"])
        Traceback (most recent call last):
        ...
        ValueError: the results have no row for rcnn (R-CNN); add it: OMP_NUM_THREADS=1 python benchmarks/bench_detectors.py --only rcnn
    """
    required = list(required)
    allowed = set(allow_missing)
    missing = [n for n in required if n not in results["rows"] and n not in allowed]
    if missing:
        names = ", ".join(f"{n} ({FAMILIES.get(n, '?')})" for n in missing)
        raise ValueError(
            f"the results have no row for {names}; add it: {COMMAND} --only {' '.join(missing)}"
        )
    return [n for n in results["rows"] if n in required or n not in FAMILIES]


def table_rows(results: Mapping[str, Any], names: Iterable[str] | None = None) -> list[dict]:
    """The rows as a list of dicts, each with its benchmark ``name`` (default: all rows)."""
    rows = results["rows"]
    names = list(rows) if names is None else list(names)
    unknown = [n for n in names if n not in rows]
    if unknown:
        raise ValueError(f"names: no such rows {unknown}; the file has {list(rows)}")
    return [{"name": n, **rows[n]} for n in names]


def format_table(results: Mapping[str, Any], names: Iterable[str] | None = None) -> str:
    """A fixed-width text table of the rows: accuracy, AP by size, parameters, cost.

    An AP of -1 (no such objects in the val split) shows as ``-``.

    Example:
        >>> row = {"model": "m", "family": "SSD", "lesson": "08", "map50": 0.4, "map": 0.2,
        ...        "ap_small": -1.0, "ap_medium": 0.3, "ap_large": 0.25, "params": 12345,
        ...        "infer_ms": 2.54, "train_s": 61.2, "iterations": 750, "stop_reason": None}
        >>> print(format_table({"rows": {"ssd": row}}))
        lesson family                    mAP@.5    mAP   AP_S   AP_M   AP_L  params  ms/img train s
            08 SSD                        0.400  0.200      -  0.300  0.250   0.01M     2.5      61
    """

    def ap(v: float) -> str:
        return f"{'-':>6}" if v < 0 else f"{v:6.3f}"

    head = ("mAP@.5", "mAP", "AP_S", "AP_M", "AP_L")
    lines = [
        f"lesson {'family':25s} " + " ".join(f"{h:>6}" for h in head) + "  params  ms/img train s"
    ]
    for r in table_rows(results, names):
        aps = " ".join(ap(r[k]) for k in ("map50", "map", "ap_small", "ap_medium", "ap_large"))
        lines.append(
            f"{r['lesson']:>6} {r['family'][:25]:25s} {aps} {r['params'] / 1e6:6.2f}M "
            f"{r['infer_ms']:7.1f} {r['train_s']:7.0f}"
        )
    return "\n".join(lines)


def best_model(
    results: Mapping[str, Any],
    metric: str = "map50",
    cost: str | None = None,
    budget: float | None = None,
) -> str | None:
    """The row with the highest ``metric`` among those with ``cost <= budget`` (or all rows).

    Ties go to the cheaper row (then the first in the file). Rows without any object of a size
    (AP -1) never win on that size. ``None`` if no row fits the budget.

    Raises:
        ValueError: unknown ``metric`` or ``cost``, or only one of ``cost`` and ``budget``.

    Example:
        >>> rows = {"a": {"map50": 0.5, "infer_ms": 10.0}, "b": {"map50": 0.7, "infer_ms": 50.0}}
        >>> best_model({"rows": rows}), best_model({"rows": rows}, cost="infer_ms", budget=20)
        ('b', 'a')
    """
    check_metric(metric, METRICS, "metric")
    if (cost is None) != (budget is None):
        raise ValueError("give both cost and budget, or neither")
    if cost is not None:
        check_metric(cost, COSTS, "cost")
        budget = float(budget)
    best = None
    for name, r in results["rows"].items():
        if r[metric] < 0 or (cost is not None and r[cost] > budget):
            continue
        key = (r[metric], -r[cost] if cost else 0.0)
        if best is None or key > best[0]:
            best = (key, name)
    return None if best is None else best[1]
