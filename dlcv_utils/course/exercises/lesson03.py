"""Lesson 03's exercises: counting sliding windows, and proposal recall at k.

Taught in lesson 03. The checkers compare the learner's function with the package's
:func:`dlcv_utils.proposals.count_sliding_windows` and :func:`dlcv_utils.proposals.proposal_recall`
on hand-made edge cases and seeded random ones.
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
    "check_recall_at_k",
    "check_window_count",
    "solution_recall_at_k",
    "solution_window_count",
]


# ------------------------------------------------------------------------------ solutions
def solution_window_count(image_width: int, image_height: int, window: int, stride: int) -> int:
    """Model solution: how many positions a ``window`` x ``window`` scan with ``stride`` visits.

    Windows start at ``(0, 0)`` and stay inside the image.

    Example:
        >>> solution_window_count(640, 480, 24, 4)  # (616 // 4 + 1) * (456 // 4 + 1)
        17825
    """
    if window > image_width or window > image_height:
        return 0  # the window does not fit at all
    per_row = (image_width - window) // stride + 1
    per_col = (image_height - window) // stride + 1
    return per_row * per_col


def solution_recall_at_k(proposals, gt_boxes, k: int, iou_threshold: float) -> float:
    """Model solution: fraction of ``gt_boxes`` hit (IoU >= threshold) by the first ``k`` proposals.

    Args:
        proposals: ``[P, 4]`` xyxy array, best first (``P`` may be 0 or smaller than ``k``).
        gt_boxes: ``[G, 4]`` xyxy array, ``G >= 1``.
        k: how many proposals to use.
        iou_threshold: a ground truth counts when some proposal has IoU ``>=`` this.

    Example:
        >>> gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
        >>> props = np.array([[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 30]])
        >>> solution_recall_at_k(props, gt, 1, 0.5), solution_recall_at_k(props, gt, 3, 0.5)
        (0.5, 1.0)
    """
    props = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)[:k]
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(props) == 0:
        return 0.0
    lt = np.maximum(gt[:, None, :2], props[None, :, :2])  # [G, P, 2]
    rb = np.minimum(gt[:, None, 2:], props[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)  # [G, P]
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    area_p = (props[:, 2] - props[:, 0]) * (props[:, 3] - props[:, 1])
    union = area_g[:, None] + area_p[None, :] - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return float(np.mean(iou.max(axis=1) >= iou_threshold))


SOLUTIONS: dict[str, Callable] = {
    "window_count": solution_window_count,
    "recall_at_k": solution_recall_at_k,
}


# ------------------------------------------------------------------------------ windows
def _window_cases(n_random: int, seed: int):
    from dlcv_utils.proposals import count_sliding_windows

    hand = [
        ("VGA image, 24 px window, stride 4", (640, 480, 24, 4), ""),
        (
            "stride divides exactly",
            (100, 100, 20, 10),
            "positions x = 0, 10, ..., 80: (100 - 20) // 10 + 1 = 9 per row.",
        ),
        (
            "stride does not divide",
            (100, 60, 30, 25),
            "use floor division: the last strip narrower than a stride is not visited.",
        ),
        (
            "window as large as the image",
            (64, 64, 64, 8),
            "a window exactly the image size fits once: (64 - 64) // 8 + 1 = 1.",
        ),
        (
            "window larger than the image",
            (50, 80, 60, 4),
            "a window wider (or taller) than the image fits 0 times.",
        ),
        (
            "non-square image",
            (320, 40, 32, 16),
            "count the positions along x and along y separately, then multiply.",
        ),
        ("stride 1", (30, 20, 5, 1), ""),
    ]
    cases = []
    for name, (w, h, win, s), hint in hand:
        expected = count_sliding_windows((h, w), win, s)
        cases.append((name, (w, h, win, s), expected, hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        w, h = (int(v) for v in rng.integers(8, 1200, size=2))
        win = int(rng.integers(4, 256))
        s = int(rng.integers(1, 64))
        cases.append(
            (f"random scan #{i}", (w, h, win, s), count_sliding_windows((h, w), win, s), "")
        )
    return cases


def _compare_int(got, expected) -> str | None:
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        if isinstance(got, float) and float(got).is_integer() and int(got) == expected:
            return None
        return f"{got!r} -- return a whole number (an int)"
    return None if int(got) == int(expected) else str(int(got))


def check_window_count(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(image_width, image_height, window, stride) -> int``, sliding-window positions.

    The reference is :func:`dlcv_utils.proposals.count_sliding_windows` (square window,
    the same stride along x and y, windows inside the image).

    Args:
        fn: the learner's function.
        n_random: how many seeded random scans to add to the hand-made ones.
        seed: seed of the random scans.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_window_count(solution_window_count, n_random=3)
        ✓ solution_window_count passes all 10 cases (edge cases + 3 random scans).
        True
    """
    check_callable(fn, "fn(image_width, image_height, window, stride) -> int")
    check_n_random(n_random)
    return run_cases(
        fn,
        _window_cases(n_random, seed),
        lambda f, inputs: f(*inputs),
        _compare_int,
        "edge cases + {n_random} random scans",
        n_random,
    )


# ------------------------------------------------------------------------------ recall at k
def _recall_cases(n_random: int, seed: int):
    from dlcv_utils.proposals import proposal_recall

    gt2 = [[0, 0, 10, 10], [20, 20, 30, 30]]
    hand = [
        (
            "first proposal hits one of two",
            [[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 30]],
            gt2,
            1,
            0.5,
            "only the FIRST k proposals count (they are ranked best first).",
        ),
        (
            "k covers all",
            [[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 30]],
            gt2,
            3,
            0.5,
            "",
        ),
        (
            "k larger than the number of proposals",
            [[0, 0, 10, 10]],
            gt2,
            100,
            0.5,
            "with fewer than k proposals, use all of them.",
        ),
        ("no proposals", np.zeros((0, 4)), gt2, 10, 0.5, "no proposals: recall 0.0."),
        (
            "IoU exactly at the threshold",
            [[0, 0, 10, 5]],
            [[0, 0, 10, 10]],
            1,
            0.5,
            "a ground truth counts at IoU >= threshold (50/100 = 0.5 counts).",
        ),
        (
            "one proposal covers two ground truths",
            [[0, 0, 30, 30]],
            [[0, 0, 30, 28], [1, 1, 30, 30]],
            1,
            0.7,
            "recall counts ground truths: one proposal may recall several of them.",
        ),
        (
            "two proposals on one ground truth",
            [[0, 0, 10, 10], [0, 0, 10, 10]],
            gt2,
            2,
            0.5,
            "divide by the number of GROUND TRUTHS, not by the number of proposals.",
        ),
        (
            "a stricter threshold",
            [[0, 0, 10, 12], [20, 20, 30, 30]],
            gt2,
            2,
            0.9,
            "IoU of (0, 0, 10, 12) with (0, 0, 10, 10) is 100/120 < 0.9.",
        ),
    ]
    cases = []
    for name, props, gt, k, t, hint in hand:
        p = np.asarray(props, dtype=np.float64).reshape(-1, 4)
        g = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
        expected = float(proposal_recall([p], [g], (t,), (k,))[0, 0])
        cases.append((name, (p, g, k, t), expected, hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n_p, n_g = int(rng.integers(0, 60)), int(rng.integers(1, 8))
        boxes = []
        for n in (n_p, n_g):
            xy = rng.uniform(0, 100, (n, 2))
            boxes.append(np.concatenate([xy, xy + rng.uniform(4, 60, (n, 2))], axis=1))
        p, g = boxes
        k = int(rng.integers(1, 80))
        t = float(rng.choice([0.3, 0.5, 0.7]))
        expected = float(proposal_recall([p], [g], (t,), (k,))[0, 0])
        cases.append(
            (f"random image #{i} ({n_p} proposals, {n_g} objects)", (p, g, k, t), expected, "")
        )
    return cases


def check_recall_at_k(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(proposals, gt_boxes, k, iou_threshold) -> float``, one image's recall at ``k``.

    The reference is :func:`dlcv_utils.proposals.proposal_recall` on a single image:
    the fraction of ground-truth boxes that one of the first ``k`` proposals overlaps with
    IoU ``>= iou_threshold``. ``proposals`` is a ``[P, 4]`` float array (best first),
    ``gt_boxes`` a ``[G, 4]`` array with ``G >= 1``.

    Args:
        fn: the learner's function.
        n_random: how many seeded random images to add to the hand-made ones.
        seed: seed of the random images.

    Returns:
        ``True`` when every case agrees within ``1e-9``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_recall_at_k(solution_recall_at_k, n_random=3)
        ✓ solution_recall_at_k passes all 11 cases (edge cases + 3 random images).
        True
    """
    check_callable(fn, "fn(proposals, gt_boxes, k, iou_threshold) -> float")
    check_n_random(n_random)
    return run_cases(
        fn,
        _recall_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].copy(), inputs[1].copy(), inputs[2], inputs[3]),
        lambda got, exp: close_float(got, exp, atol=1e-9),
        "edge cases + {n_random} random images",
        n_random,
    )
