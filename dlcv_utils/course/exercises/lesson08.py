"""Lesson 08's exercises: SSD's default-box scales, and matching ground truth to default boxes.

Taught in lesson 08. The references are the scales of torchvision's ``DefaultBoxGenerator``
(:func:`dlcv_utils.models.ssd.default_box_scales`) and torchvision's ``SSDMatcher(0.5)``
(:func:`dlcv_utils.models.ssd.match_default_boxes`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    as_array,
    check_callable,
    check_n_random,
    close,
    fmt,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_default_box_scales",
    "check_ssd_match",
    "solution_default_box_scales",
    "solution_ssd_match",
]


# ------------------------------------------------------------------------------ solutions
def solution_default_box_scales(m: int, s_min: float, s_max: float) -> list[float]:
    """Model solution: the ``m + 1`` scales of ``m`` levels, torchvision's convention.

    ``s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)`` for ``k = 1..m``, then ``1.0`` (used by
    the extra ratio-1 box of the last level); one level gives ``[s_min, s_max]``.

    Example:
        >>> solution_default_box_scales(2, 0.2, 0.8)
        [0.2, 0.8, 1.0]
    """
    if m == 1:
        return [s_min, s_max]
    return [s_min + (s_max - s_min) * (k - 1) / (m - 1) for k in range(1, m + 1)] + [1.0]


def solution_ssd_match(gt_boxes, dboxes, iou_threshold: float = 0.5):
    """Model solution: for each default box, its ground-truth index or ``-1``.

    Example:
        >>> import torch
        >>> d = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30]])
        >>> solution_ssd_match(torch.tensor([[0.0, 0, 10, 10]]), d).tolist()
        [0, 0, -1]
    """
    import torch
    from torchvision.ops import box_iou

    matches = torch.full((len(dboxes),), -1, dtype=torch.int64)
    if len(gt_boxes) == 0:
        return matches
    iou = box_iou(gt_boxes, dboxes)  # [G, L]
    best_iou, best_gt = iou.max(dim=0)  # each default box's best ground truth
    matches[best_iou >= iou_threshold] = best_gt[best_iou >= iou_threshold]
    matches[iou.argmax(dim=1)] = torch.arange(len(gt_boxes))  # each object's best default box
    return matches


SOLUTIONS: dict[str, Callable] = {
    "default_box_scales": solution_default_box_scales,
    "ssd_match": solution_ssd_match,
}


# ------------------------------------------------------------------------------ scales
def _scale_cases(n_random: int, seed: int):
    from dlcv_utils.models.ssd import default_box_scales

    hand = [
        ("SSD300: 6 levels, 0.2 to 0.9", (6, 0.2, 0.9), ""),
        (
            "two levels",
            (2, 0.1, 0.5),
            "k runs from 1 to m: s_1 = s_min and s_m = s_max, evenly spaced in between.",
        ),
        (
            "the extra last scale",
            (4, 0.15, 0.9),
            "return m + 1 scales: torchvision appends 1.0 for the last level's extra box "
            "sqrt(s_m * s_{m+1}).",
        ),
        (
            "one level",
            (1, 0.3, 0.7),
            "with one level the formula divides by m - 1 = 0: torchvision returns [s_min, s_max].",
        ),
        ("equal ends", (3, 0.4, 0.4), ""),
    ]
    cases = [(name, args, np.array(default_box_scales(*args)), hint) for name, args, hint in hand]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        m = int(rng.integers(1, 9))
        s_min = round(float(rng.uniform(0.05, 0.5)), 3)
        s_max = round(float(rng.uniform(s_min, 1.0)), 3)
        args = (m, s_min, s_max)
        cases.append((f"random #{i}", args, np.array(default_box_scales(*args)), ""))
    return cases


def _compare_scales(got, expected) -> str | None:
    problem = close(got, expected, atol=1e-6)
    if problem is None:
        return None
    arr = as_array(got)
    if arr is not None and arr.ndim == 1 and len(arr) == len(expected) - 1:
        return problem + " -- one scale short: append s_{m+1} = 1.0"
    return problem


def check_default_box_scales(fn: Callable, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(m, s_min, s_max) -> list of m + 1 scales`` (torchvision's convention).

    Args:
        fn: the learner's function.
        n_random: how many seeded random settings to add to the hand-made ones.
        seed: seed of the random settings.

    Returns:
        ``True`` when every case agrees within ``1e-6``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_default_box_scales(solution_default_box_scales, n_random=3)
        ✓ solution_default_box_scales passes all 8 cases (edge cases + 3 random settings).
        True
    """
    check_callable(fn, "fn(m, s_min, s_max) -> scales")
    check_n_random(n_random)
    return run_cases(
        fn,
        _scale_cases(n_random, seed),
        lambda f, inputs: f(*inputs),
        _compare_scales,
        "edge cases + {n_random} random settings",
        n_random,
    )


# ------------------------------------------------------------------------------ matching
def _match_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.models.ssd import match_default_boxes

    hand = [
        (
            "two objects",
            [[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 9, 10], [21, 21, 30, 30]],
            [[0, 0, 10, 10], [20, 20, 31, 31]],
            "return the INDEX of the matched ground truth (0, 1, ...), -1 for background.",
        ),
        (
            "IoU >= 0.5 is positive",
            [[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4], [30, 30, 40, 40]],
            [[0, 0, 10, 10], [30, 30, 42, 42]],
            "a default box is positive when its best IoU is >= 0.5 (5/10 = 0.5 counts).",
        ),
        (
            "an object with only a poor default box",
            [[0, 0, 10, 10], [100, 100, 104, 104]],
            [[90, 90, 120, 120]],
            "each ground truth takes its best default box first, whatever the IoU.",
        ),
        (
            "a best box wanted by two objects",
            [[0, 0, 10, 10], [50, 50, 60, 60]],
            [[0, 0, 10, 11], [0, 0, 11, 10]],
            "when two objects share a best default box, the later one keeps it "
            "(matches[best] = arange(G) writes in order).",
        ),
        (
            "no objects",
            [[0, 0, 10, 10], [5, 5, 15, 15]],
            np.zeros((0, 4)),
            "an image without objects: every default box is background (-1).",
        ),
    ]
    cases = []
    for name, dboxes, gt, hint in hand:
        d = torch.tensor(np.asarray(dboxes, dtype=np.float32).reshape(-1, 4))
        g = torch.tensor(np.asarray(gt, dtype=np.float32).reshape(-1, 4))
        cases.append((name, (g, d), match_default_boxes(g, d).numpy(), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n, m = int(rng.integers(1, 80)), int(rng.integers(0, 5))
        boxes = []
        for k in (m, n):
            xy = rng.uniform(0, 100, (k, 2)).round()
            boxes.append(np.concatenate([xy, xy + rng.uniform(8, 60, (k, 2)).round()], axis=1))
        g, d = (torch.tensor(b.astype(np.float32).reshape(-1, 4)) for b in boxes)
        name = f"random image #{i} ({n} default boxes, {m} objects)"
        cases.append((name, (g, d), match_default_boxes(g, d).numpy(), ""))
    return cases


def _compare_matches(got, expected) -> str | None:
    arr = as_array(got)
    if arr is None or arr.shape != expected.shape:
        return f"{fmt(got)} -- return one index per default box (shape {expected.shape})"
    if not np.array_equal(arr, expected):
        wrong = np.flatnonzero(arr != expected)
        return f"{fmt(arr)} -- wrong at default box(es) {wrong[:10].tolist()}"
    return None


def check_ssd_match(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(gt_boxes, dboxes) -> matches`` (``int [L]``: ground-truth index or -1).

    ``gt_boxes`` is a float32 ``Tensor[G, 4]`` (``G`` may be 0), ``dboxes`` a ``Tensor[L, 4]``.
    The rule (reference :func:`dlcv_utils.models.ssd.match_default_boxes`, torchvision's
    ``SSDMatcher(0.5)``): a default box whose best IoU is ``>= 0.5`` takes that ground truth;
    then each ground truth takes its own best default box.

    Args:
        fn: the learner's function.
        n_random: how many seeded random images to add to the hand-made ones.
        seed: seed of the random images.

    Returns:
        ``True`` when every index agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_ssd_match(solution_ssd_match, n_random=3)
        ✓ solution_ssd_match passes all 8 cases (edge cases + 3 random images).
        True
    """
    check_callable(fn, "fn(gt_boxes, dboxes) -> matches")
    check_n_random(n_random)
    return run_cases(
        fn,
        _match_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), inputs[1].clone()),
        _compare_matches,
        "edge cases + {n_random} random images",
        n_random,
    )
