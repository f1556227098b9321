"""Lesson 10's exercises: Ultralytics' result rows as COCO results, and Ultralytics' AP.

Taught in lesson 10. The references are
:func:`dlcv_utils.models.ultralytics_yolo.yolo_boxes_to_coco` and Ultralytics' own
``ultralytics.utils.metrics.compute_ap``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    check_callable,
    check_n_random,
    close_float,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_ultralytics_ap",
    "check_yolo_results",
    "solution_ultralytics_ap",
    "solution_yolo_results",
]


# ------------------------------------------------------------------------------ solutions
def solution_yolo_results(data, image_id) -> list[dict]:
    """Model solution: ``Results.boxes.data`` rows ``(x1, y1, x2, y2, conf, cls)`` -> COCO.

    Example:
        >>> solution_yolo_results([[10, 20, 30, 60, 0.9, 2]], 7)
        [{'image_id': 7, 'category_id': 3, 'bbox': [10.0, 20.0, 20.0, 40.0], 'score': 0.9}]
    """
    rows = data.tolist() if hasattr(data, "tolist") else data
    out = []
    for x1, y1, x2, y2, conf, cls in rows:
        out.append(
            {
                "image_id": image_id,
                "category_id": int(cls) + 1,  # Ultralytics counts classes from 0, COCO from 1
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "score": float(conf),
            }
        )
    return out


def solution_ultralytics_ap(recall, precision) -> float:
    """Model solution: Ultralytics' AP of one PR curve (``compute_ap``).

    Sentinels: recall ``[0, r..., r[-1], 1]``, precision ``[1, p..., 0, 0]``; the precision
    envelope (running maximum from the right); then the trapezoid rule over the envelope
    linearly interpolated at the 101 recalls ``0, 0.01, ..., 1``.

    Example:
        >>> round(solution_ultralytics_ap([0.5, 1.0], [1.0, 1.0]), 4)
        0.995
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    last = recall[-1] if len(recall) else 1.0
    mrec = np.concatenate(([0.0], recall, [last], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))  # envelope
    x = np.linspace(0, 1, 101)
    y = np.interp(x, mrec, mpre)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))  # trapezoid rule


SOLUTIONS: dict[str, Callable] = {
    "yolo_results": solution_yolo_results,
    "ultralytics_ap": solution_ultralytics_ap,
}


# ------------------------------------------------------------------------------ results
def _results_cases(n_random: int, seed: int):
    from dlcv_utils.models.ultralytics_yolo import yolo_boxes_to_coco

    hand = [
        ("one box", np.array([[10.0, 20.0, 30.0, 60.0, 0.9, 2.0]]), 7, ""),
        (
            "class 0",
            np.array([[0.0, 0.0, 5.0, 5.0, 0.5, 0.0]]),
            1,
            "COCO category ids start at 1: category_id = cls + 1.",
        ),
        (
            "xyxy to xywh",
            np.array([[4.0, 6.0, 10.0, 20.0, 0.25, 1.0]]),
            3,
            "bbox is [x1, y1, w, h] with w = x2 - x1, h = y2 - y1.",
        ),
        ("no detections", np.zeros((0, 6)), 5, "an empty [0, 6] array gives an empty list."),
    ]
    cases = [(n, (d, i), yolo_boxes_to_coco(d, i), h) for n, d, i, h in hand]
    rng = np.random.default_rng(seed)
    for k in range(n_random):
        n = int(rng.integers(1, 8))
        xy = rng.uniform(0, 100, (n, 2))
        wh = rng.uniform(1, 50, (n, 2))
        data = np.column_stack(
            [xy, xy + wh, rng.uniform(0.001, 1, n), rng.integers(0, 5, n).astype(float)]
        )
        image_id = int(rng.integers(1, 1000))
        cases.append((f"random #{k}", (data, image_id), yolo_boxes_to_coco(data, image_id), ""))
    return cases


def _compare_results(got, expected) -> str | None:
    if not isinstance(got, list):
        return f"{type(got).__name__} -- return a list of dicts"
    if len(got) != len(expected):
        return f"{len(got)} results -- expected one per row, {len(expected)}"
    for g, e in zip(got, expected):
        if not isinstance(g, dict) or set(g) < {"image_id", "category_id", "bbox", "score"}:
            return f"{g!r} -- each result needs image_id, category_id, bbox, score"
        if g["image_id"] != e["image_id"] or g["category_id"] != e["category_id"]:
            return f"{g!r} -- wrong image_id or category_id"
        if not np.allclose(np.asarray(g["bbox"], float), e["bbox"], atol=1e-4) or not np.isclose(
            float(g["score"]), e["score"], atol=1e-6
        ):
            return f"{g!r} -- wrong bbox or score"
    return None


def check_yolo_results(fn: Callable, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(data, image_id) -> list[dict]``: Ultralytics rows to COCO results.

    ``data`` is a float ``[N, 6]`` array of ``(x1, y1, x2, y2, conf, cls)`` (what
    ``Results.boxes.data`` holds, in pixels); each row becomes ``{"image_id", "category_id":
    cls + 1, "bbox": [x, y, w, h], "score"}``, in the same order.

    Args:
        fn: the learner's function.
        n_random: how many seeded random result sets to add to the hand-made ones.
        seed: seed of the random sets.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_yolo_results(solution_yolo_results, n_random=2)
        ✓ solution_yolo_results passes all 6 cases (edge cases + 2 random result sets).
        True
    """
    check_callable(fn, "fn(data, image_id) -> list of COCO result dicts")
    check_n_random(n_random)
    return run_cases(
        fn,
        _results_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].copy(), inputs[1]),
        _compare_results,
        "edge cases + {n_random} random result sets",
        n_random,
    )


# ------------------------------------------------------------------------------ AP
def _reference_ap(recall, precision) -> float:
    from dlcv_utils.models.ultralytics_yolo import ensure_offline

    ensure_offline()
    from ultralytics.utils.metrics import compute_ap

    return float(compute_ap(np.asarray(recall, float), np.asarray(precision, float))[0])


def _ap_cases(n_random: int, seed: int):
    hand = [
        (
            "perfect detector",
            [0.5, 1.0],
            [1.0, 1.0],
            "the trapezoid rule weighs the two end points by 0.005: a perfect curve gives 0.995.",
        ),
        (
            "recall stops at 0.5",
            [0.25, 0.5],
            [1.0, 1.0],
            "after the last recall the precision drops to 0 (sentinels r[-1] and 1, p 0 and 0).",
        ),
        (
            "first detection is a false positive",
            [0.0, 0.5, 1.0],
            [0.0, 0.5, 0.6667],
            "take the envelope: the running maximum of the precision from the right.",
        ),
        (
            "between two PR points",
            [0.333, 0.667, 1.0],
            [1.0, 0.667, 0.75],
            "interpolate linearly (np.interp) at 0, 0.01, ..., 1, then integrate (trapezoid).",
        ),
    ]
    cases = [(n, (r, p), _reference_ap(r, p), h) for n, r, p, h in hand]
    rng = np.random.default_rng(seed)
    for k in range(n_random):
        n = int(rng.integers(1, 30))
        hits = rng.random(n) < 0.7
        n_gt = int(hits.sum() + rng.integers(0, 4)) or 1
        tp = np.cumsum(hits)
        recall = tp / n_gt
        precision = tp / np.arange(1, n + 1)
        cases.append(
            (f"random curve #{k}", (recall, precision), _reference_ap(recall, precision), "")
        )
    return cases


def check_ultralytics_ap(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(recall, precision) -> float``: Ultralytics' ``compute_ap`` of one PR curve.

    Args:
        fn: the learner's function; ``recall`` and ``precision`` are 1-D arrays in the order
            of decreasing confidence.
        n_random: how many seeded random PR curves to add to the hand-made ones.
        seed: seed of the random curves.

    Returns:
        ``True`` when every case agrees within ``1e-6``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_ultralytics_ap(solution_ultralytics_ap, n_random=3)
        ✓ solution_ultralytics_ap passes all 7 cases (edge cases + 3 random PR curves).
        True
    """
    check_callable(fn, "fn(recall, precision) -> float")
    check_n_random(n_random)
    return run_cases(
        fn,
        _ap_cases(n_random, seed),
        lambda f, inputs: f(np.array(inputs[0], float), np.array(inputs[1], float)),
        lambda got, expected: close_float(got, expected, atol=1e-6),
        "edge cases + {n_random} random PR curves",
        n_random,
    )
