"""Lesson 13's exercises: mask IoU, and the run-length encoding (RLE) of a mask.

Taught in lesson 13. The references are pycocotools: ``mask.iou`` (mask AP matches detections to
ground truth by this IoU) and ``mask.encode`` (COCO stores and compares masks as RLEs; its
compressed ``counts`` string is decoded with :func:`dlcv_utils.datasets.masks.rle_counts`).
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
    "check_mask_iou",
    "check_rle_counts",
    "solution_mask_iou",
    "solution_rle_counts",
]


# ------------------------------------------------------------------------------ solutions
def solution_mask_iou(mask_a, mask_b) -> float:
    """Model solution: IoU of two binary ``(H, W)`` masks, pixels in both / pixels in either.

    Two empty masks have IoU 0 (as pycocotools).

    Example:
        >>> a = np.zeros((4, 4), bool); a[:2] = True
        >>> b = np.zeros((4, 4), bool); b[:, :2] = True
        >>> solution_mask_iou(a, b)  # 4 / (8 + 8 - 4)
        0.3333333333333333
    """
    a, b = np.asarray(mask_a, bool), np.asarray(mask_b, bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def solution_rle_counts(mask) -> list[int]:
    """Model solution: COCO's uncompressed RLE counts of a binary ``(H, W)`` mask.

    Read the pixels **column by column** (Fortran order, as COCO does), then write the lengths
    of the runs, alternating 0s and 1s and always starting with a run of 0s (of length 0 when
    the first pixel is 1).

    Example:
        >>> solution_rle_counts(np.array([[0, 1], [1, 1]]))  # column-major: 0, 1, 1, 1
        [1, 3]
        >>> solution_rle_counts(np.ones((1, 2)))
        [0, 2]
    """
    flat = np.asarray(mask).astype(bool).ravel(order="F")
    counts, current, run = [], False, 0
    for pixel in flat:
        if pixel == current:
            run += 1
        else:
            counts.append(run)
            current, run = pixel, 1
    counts.append(run)
    return counts


SOLUTIONS: dict[str, Callable] = {
    "mask_iou": solution_mask_iou,
    "rle_counts": solution_rle_counts,
}


def _random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:  # a rectangle
        y1, x1 = rng.integers(0, h), rng.integers(0, w)
        m = np.zeros((h, w), bool)
        m[y1 : rng.integers(y1, h + 1), x1 : rng.integers(x1, w + 1)] = True
        return m
    if kind == 1:  # a disc
        yy, xx = np.mgrid[:h, :w]
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, max(h, w) / 2)
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return rng.random((h, w)) < rng.uniform(0.1, 0.9)  # noise


# ------------------------------------------------------------------------------ mask IoU
def _iou_cases(n_random: int, seed: int):
    from pycocotools import mask as mask_utils

    def coco_iou(a, b):
        ra = mask_utils.encode(np.asfortranarray(a.astype(np.uint8)))
        rb = mask_utils.encode(np.asfortranarray(b.astype(np.uint8)))
        return float(mask_utils.iou([ra], [rb], [0])[0, 0])

    z = np.zeros((6, 8), bool)
    left, top, full = z.copy(), z.copy(), ~z
    left[:, :4] = True
    top[:3] = True
    hand = [
        ("identical masks", left, left.copy(), "a mask with itself has IoU 1."),
        ("disjoint masks", left, ~left, "no pixel in common: IoU 0."),
        (
            "half-overlapping",
            left,
            top,
            "intersection = pixels in both (logical AND), union = pixels in either (OR).",
        ),
        ("one inside the other", top, full, "IoU = area of the small mask / area of the big one."),
        ("two empty masks", z, z.copy(), "no pixel in either mask: return 0, not a division by 0."),
        (
            "0/1 integer masks",
            left.astype(np.uint8),
            top.astype(np.uint8),
            "treat the masks as booleans (mask != 0); sum booleans, not the raw values.",
        ),
    ]
    cases = [
        (n, (a, b), coco_iou(np.asarray(a, bool), np.asarray(b, bool)), h) for n, a, b, h in hand
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        a, b = _random_mask(rng, h, w), _random_mask(rng, h, w)
        cases.append((f"random masks #{i}", (a, b), coco_iou(a, b), ""))
    return cases


def check_mask_iou(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(mask_a, mask_b) -> float``, the IoU of two binary ``(H, W)`` masks.

    The reference is pycocotools' ``mask.iou`` on the masks' RLEs.

    Args:
        fn: the learner's function.
        n_random: how many seeded random mask pairs to add to the hand-made ones.
        seed: seed of the random masks.

    Returns:
        ``True`` when every case agrees within ``1e-6``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_mask_iou(solution_mask_iou, n_random=3)
        ✓ solution_mask_iou passes all 9 cases (edge cases + 3 random mask pairs).
        True
    """
    check_callable(fn, "fn(mask_a, mask_b) -> IoU")
    check_n_random(n_random)
    return run_cases(
        fn,
        _iou_cases(n_random, seed),
        lambda f, inputs: f(*(np.copy(x) for x in inputs)),
        close_float,
        "edge cases + {n_random} random mask pairs",
        n_random,
    )


# ------------------------------------------------------------------------------ RLE counts
def _rle_cases(n_random: int, seed: int):
    from pycocotools import mask as mask_utils

    from dlcv_utils.datasets.masks import rle_counts

    def coco_counts(m):
        rle = mask_utils.encode(np.asfortranarray(np.asarray(m, bool).astype(np.uint8)))
        return rle_counts(rle["counts"])

    col = np.zeros((3, 3), np.uint8)
    col[:, 1] = 1
    row = np.zeros((3, 3), np.uint8)
    row[1] = 1
    hand = [
        ("all background", np.zeros((2, 3), np.uint8), "one run of 0s covering every pixel."),
        (
            "all foreground",
            np.ones((2, 3), np.uint8),
            "the counts always start with the 0s: a first run of length 0.",
        ),
        ("a vertical bar", col, "runs go down the columns: 3 zeros, 3 ones, 3 zeros."),
        (
            "a horizontal bar",
            row,
            "read the pixels column by column (Fortran order, mask.ravel(order='F')), not row "
            "by row.",
        ),
        ("first pixel set", np.eye(3, dtype=np.uint8), "start with a run of 0s of length 0."),
        ("one pixel", np.ones((1, 1), np.uint8), "a 1x1 mask of 1 is [0, 1]."),
    ]
    cases = [(n, (m,), coco_counts(m), h) for n, m, h in hand]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        m = _random_mask(rng, int(rng.integers(1, 16)), int(rng.integers(1, 16)))
        cases.append((f"random mask #{i}", (m.astype(np.uint8),), coco_counts(m), ""))
    return cases


def _compare_counts(got, expected) -> str | None:
    try:
        values = [int(v) for v in got]
    except (TypeError, ValueError):
        return f"{got!r} -- return a list of ints"
    if values == list(expected):
        return None
    if values and values[0] != 0 and list(expected)[:1] == [0]:
        return f"{values} -- the counts start with the run of 0s (length 0 here)"
    if sum(values) != sum(expected):
        return f"{values} -- the runs must add up to H * W = {sum(expected)}"
    return str(values)


def check_rle_counts(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(mask) -> list[int]``, COCO's uncompressed RLE counts of a binary mask.

    The reference is pycocotools' ``mask.encode`` (its compressed counts decoded with
    :func:`dlcv_utils.datasets.masks.rle_counts`).

    Args:
        fn: the learner's function.
        n_random: how many seeded random masks to add to the hand-made ones.
        seed: seed of the random masks.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_rle_counts(solution_rle_counts, n_random=3)
        ✓ solution_rle_counts passes all 9 cases (edge cases + 3 random masks).
        True
    """
    check_callable(fn, "fn(mask) -> RLE counts")
    check_n_random(n_random)
    return run_cases(
        fn,
        _rle_cases(n_random, seed),
        lambda f, inputs: f(np.copy(inputs[0])),
        _compare_counts,
        "edge cases + {n_random} random masks",
        n_random,
    )
