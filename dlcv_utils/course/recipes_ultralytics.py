"""Lesson 10's part of the shared recipe: the Ultralytics YOLO benchmark row.

:func:`bench` is the ``yolo`` row of :data:`dlcv_utils.course.recipes.BENCHMARKS`: the same
steps as lesson 10's cells (the shapes data written in the YOLO layout, ``YOLO(cfg.model)``
trained with :func:`dlcv_utils.course.recipes.yolo_train_args` and the time-cap callback,
Ultralytics' validation, then ``coco_evaluate`` on the same predictions).
"""

from __future__ import annotations

from typing import Any

from dlcv_utils.course.comparison import SIZE_KEYS
from dlcv_utils.course.recipes import yolo_budget_callback, yolo_train_args
from dlcv_utils.course.settings import lesson_setup

__all__ = ["bench"]


def bench(
    device,
    progress: bool = False,
    *,
    train_overrides: dict[str, Any] | None = None,
    time_cap: bool = True,
) -> dict[str, Any]:
    """Lesson 10's benchmark row: the lesson's data, model, training and evaluation.

    Args:
        device: as for :func:`dlcv_utils.course.settings.lesson_setup`.
        progress: unused (Ultralytics prints its own progress); kept for the ``BENCHMARKS``
            signature.
        train_overrides: ``YOLO.train`` arguments that replace the lesson's
            (:func:`dlcv_utils.course.recipes.yolo_train_args`), e.g. ``{"batch": 4}``
            (``benchmarks/bench_ultralytics_settings.py``).
        time_cap: stop after the first epoch past ``cfg.train.max_train_seconds``, as the lesson.
    """
    import tempfile
    from pathlib import Path

    from dlcv_utils.metrics import coco_evaluate
    from dlcv_utils.models.ultralytics_yolo import (
        coco_gt_from_yolo,
        offline_ultralytics,
        renumber_results,
        train_yolo,
        val_yolo,
        write_shapes_yolo,
    )

    _dev, cfg = lesson_setup("10", device)
    with tempfile.TemporaryDirectory(prefix="dlcv-yolo-") as tmp:
        work = Path(tmp)
        offline_ultralytics(work / "ultralytics")
        from ultralytics import YOLO

        data_yaml = write_shapes_yolo(
            work / "shapes",
            n_train=cfg.data.n_train,
            n_val=cfg.data.n_val,
            image_size=cfg.data.image_size,
            seed=cfg.seed,
        )
        model = YOLO(cfg.model)
        if time_cap:
            callback = yolo_budget_callback(cfg.train.max_train_seconds)
            model.add_callback("on_train_epoch_end", callback)
        args = {**yolo_train_args(cfg), **(train_overrides or {})}
        _, train_s = train_yolo(model, data_yaml, project=work / "runs", **args)
        metrics, predictions = val_yolo(
            model, data_yaml, project=work / "runs", imgsz=cfg.data.image_size, batch=16
        )
        gt, ids = coco_gt_from_yolo(data_yaml)
        coco = coco_evaluate(gt, renumber_results(predictions, ids))
    epochs_run = model.trainer.epoch + 1  # fewer than cfg.train.epochs if the time cap stopped it
    return {
        "model": f"Ultralytics {Path(cfg.model).stem} ({cfg.data.image_size}px, from scratch)",
        "train_s": train_s,
        "map50": coco["AP50"],
        "map": coco["AP"],
        "infer_ms": float(metrics.speed["inference"]),
        "ultralytics_map50": float(metrics.box.map50),
        "ultralytics_map": float(metrics.box.map),
        "params": sum(p.numel() for p in model.model.parameters()),
        "iterations": epochs_run * -(-cfg.data.n_train // args["batch"]),
        "stop_reason": "time cap" if epochs_run < args["epochs"] else None,
        "on_pace": epochs_run == args["epochs"],  # Ultralytics' schedule ignores the clock
        **{f"ap_{s}": coco[k] for s, k in SIZE_KEYS.items()},
    }
