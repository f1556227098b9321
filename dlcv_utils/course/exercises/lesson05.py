"""Lesson 05's exercises: anchors over a feature map, and RPN anchor labels.

Taught in lesson 05. The references are :func:`dlcv_utils.ops.anchors.generate_anchors`
(identical to torchvision's ``AnchorGenerator``) and
:func:`dlcv_utils.ops.anchors.assign_rpn_targets` (torchvision's ``Matcher(0.7, 0.3,
allow_low_quality_matches=True)``).
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
    "check_anchors",
    "check_rpn_labels",
    "solution_anchors",
    "solution_rpn_labels",
]


# ------------------------------------------------------------------------------ solutions
def solution_anchors(feature_size, stride: int, scales, ratios):
    """Model solution: all anchors of an ``H x W`` feature map, ``Tensor[H * W * A, 4]``.

    One cell's anchors: for each ratio ``r = h / w`` (outer loop) and scale ``s`` (inner loop),
    ``w = s / sqrt(r)``, ``h = s * sqrt(r)``, centred on ``(0, 0)`` and rounded to whole pixels.
    Cell ``(i, j)`` shifts them by ``(j * stride, i * stride)``; cells go row by row.

    Example:
        >>> solution_anchors((1, 2), 16, (16,), (1.0,)).tolist()
        [[-8.0, -8.0, 8.0, 8.0], [8.0, -8.0, 24.0, 8.0]]
    """
    import torch

    h_feat, w_feat = feature_size
    s = torch.as_tensor(scales, dtype=torch.float32)
    r = torch.as_tensor(ratios, dtype=torch.float32)
    ws = (s[None, :] / torch.sqrt(r)[:, None]).reshape(-1)  # ratio-major
    hs = (s[None, :] * torch.sqrt(r)[:, None]).reshape(-1)
    cell = (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()  # [A, 4]
    ys = torch.arange(h_feat, dtype=torch.float32) * stride
    xs = torch.arange(w_feat, dtype=torch.float32) * stride
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)  # [H * W, 1, 4]
    return (shifts + cell[None]).reshape(-1, 4)


def solution_rpn_labels(anchors, gt_boxes, pos_iou: float = 0.7, neg_iou: float = 0.3):
    """Model solution: RPN label of every anchor, 1 object, 0 background, -1 ignored.

    Example:
        >>> import torch
        >>> anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30]])
        >>> solution_rpn_labels(anchors, torch.tensor([[0.0, 0, 10, 10]])).tolist()
        [1, -1, 0]
    """
    import torch
    from torchvision.ops import box_iou

    labels = torch.full((len(anchors),), -1, dtype=torch.int64)
    if len(gt_boxes) == 0:
        return labels.fill_(0)  # no object: every anchor is background
    iou = box_iou(gt_boxes, anchors)  # [M, N]
    best = iou.max(dim=0).values  # each anchor's best IoU
    labels[best < neg_iou] = 0
    labels[best >= pos_iou] = 1
    best_per_gt = iou.max(dim=1, keepdim=True).values  # each object's best anchor (ties too)
    labels[(iou == best_per_gt).any(dim=0)] = 1
    return labels


SOLUTIONS: dict[str, Callable] = {
    "anchors": solution_anchors,
    "rpn_labels": solution_rpn_labels,
}


# ------------------------------------------------------------------------------ anchors
def _anchor_cases(n_random: int, seed: int):
    from dlcv_utils.ops.anchors import generate_anchors

    hand = [
        ("one cell, one square anchor", (1, 1), 16, (32,), (1.0,), ""),
        (
            "one cell, three ratios",
            (1, 1),
            16,
            (32,),
            (0.5, 1.0, 2.0),
            "ratio r = h / w keeps the area s * s: w = s / sqrt(r), h = s * sqrt(r).",
        ),
        (
            "one cell, 3 scales x 3 ratios",
            (1, 1),
            16,
            (32, 64, 128),
            (0.5, 1.0, 2.0),
            "order within a cell: ratio-major (all scales of ratios[0] first).",
        ),
        (
            "anchors are rounded",
            (1, 1),
            8,
            (15,),
            (0.5,),
            "round the centred anchor to whole pixels, as torchvision does: "
            "(torch.stack([-w, -h, w, h]) / 2).round().",
        ),
        (
            "a row of cells",
            (1, 3),
            16,
            (32,),
            (1.0,),
            "cell (i, j) sits at pixel (j * stride, i * stride): its top-left corner, not its "
            "centre.",
        ),
        (
            "non-square feature map",
            (2, 3),
            8,
            (16, 32),
            (0.5, 1.0, 2.0),
            "cells go row by row (row-major), and the A anchors of a cell are consecutive.",
        ),
    ]
    cases = []
    for name, size, stride, scales, ratios, hint in hand:
        expected = generate_anchors(size, stride, scales, ratios).numpy()
        cases.append((name, (size, stride, scales, ratios), expected, hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        size = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        stride = int(rng.choice([4, 8, 16, 32]))
        scales = tuple(
            int(v)
            for v in rng.choice(
                [8, 12, 16, 32, 64, 100, 128], int(rng.integers(1, 4)), replace=False
            )
        )
        ratios = tuple(
            float(v)
            for v in rng.choice([0.25, 0.5, 1.0, 2.0, 3.0], int(rng.integers(1, 4)), replace=False)
        )
        expected = generate_anchors(size, stride, scales, ratios).numpy()
        cases.append((f"random map #{i}", (size, stride, scales, ratios), expected, ""))
    return cases


def _compare_anchors(got, expected) -> str | None:
    problem = close(got, expected, atol=1e-3)
    if problem is None:
        return None
    arr = as_array(got)
    if arr is not None and arr.shape == expected.shape:
        rows = sorted(map(tuple, np.round(arr, 3)))
        if rows == sorted(map(tuple, np.round(expected, 3))):
            return (
                problem + " -- the right anchors in another order: cells row by row, and "
                "within a cell ratio-major (for r in ratios: for s in scales)"
            )
        if np.allclose(arr, expected, atol=0.51):
            return problem + " -- off by up to half a pixel: round the centred anchors"
    return problem


def check_anchors(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(feature_size, stride, scales, ratios) -> Tensor[H * W * A, 4]``, all anchors.

    ``feature_size`` is ``(H, W)``; the reference is
    :func:`dlcv_utils.ops.anchors.generate_anchors` (torchvision's order and rounding).

    Args:
        fn: the learner's function.
        n_random: how many seeded random feature maps to add to the hand-made ones.
        seed: seed of the random maps.

    Returns:
        ``True`` when every case agrees within ``1e-3`` px; otherwise prints the first
        failing case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_anchors(solution_anchors, n_random=3)
        ✓ solution_anchors passes all 9 cases (edge cases + 3 random feature maps).
        True
    """
    check_callable(fn, "fn(feature_size, stride, scales, ratios) -> anchors")
    check_n_random(n_random)
    return run_cases(
        fn,
        _anchor_cases(n_random, seed),
        lambda f, inputs: f(*inputs),
        _compare_anchors,
        "edge cases + {n_random} random feature maps",
        n_random,
    )


# ------------------------------------------------------------------------------ RPN labels
def _rpn_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.ops.anchors import assign_rpn_targets

    t = torch.tensor
    hand = [
        (
            "clear positive, ignored, negative",
            [[0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30]],
            [[0, 0, 10, 10]],
            "IoU >= 0.7 -> 1, IoU < 0.3 -> 0, in between -> -1 (ignored).",
        ),
        (
            "IoU exactly 0.7 is positive",
            [[0, 0, 10, 7], [50, 50, 60, 60], [0, 0, 10, 10.5]],
            [[0, 0, 10, 10]],
            "positive at IoU >= 0.7 (70/100 = 0.7 counts).",
        ),
        (
            "IoU exactly 0.3 is ignored",
            [[0, 0, 10, 3], [0, 0, 10, 10]],
            [[0, 0, 10, 10]],
            "negative only when IoU < 0.3 (strictly): 30/100 is ignored, -1.",
        ),
        (
            "an object with only a poor anchor",
            [[0, 0, 10, 10], [100, 100, 104, 104]],
            [[90, 90, 120, 120]],
            "each ground truth's best anchor is positive, even with a low IoU (0.018 here).",
        ),
        (
            "ties for the best anchor",
            [[0, 0, 10, 20], [0, -10, 10, 10], [50, 50, 60, 60]],
            [[0, 0, 10, 10]],
            "when several anchors share an object's best IoU, all of them become positive.",
        ),
        (
            "several objects",
            [[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 9, 10], [40, 40, 50, 50], [18, 18, 30, 30]],
            [[0, 0, 10, 10], [20, 20, 31, 31]],
            "use each anchor's BEST IoU over all objects (max over the ground truths).",
        ),
        (
            "no objects",
            [[0, 0, 10, 10], [5, 5, 15, 15]],
            np.zeros((0, 4)),
            "an image without objects: every anchor is background (0).",
        ),
        (
            "anchor that touches nothing",
            [[0, 0, 10, 10], [200, 200, 210, 210]],
            [[0, 0, 10, 10]],
            "IoU 0 is < 0.3: background, not ignored.",
        ),
    ]
    cases = []
    for name, anchors, gt, hint in hand:
        a = t(np.asarray(anchors, dtype=np.float32).reshape(-1, 4))
        g = t(np.asarray(gt, dtype=np.float32).reshape(-1, 4))
        cases.append((name, (a, g), assign_rpn_targets(a, g)[0].numpy(), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n, m = int(rng.integers(1, 80)), int(rng.integers(0, 5))
        boxes = []
        for k in (n, m):
            xy = rng.uniform(0, 100, (k, 2)).round()
            boxes.append(np.concatenate([xy, xy + rng.uniform(8, 60, (k, 2)).round()], axis=1))
        a, g = (t(b.astype(np.float32).reshape(-1, 4)) for b in boxes)
        cases.append(
            (
                f"random image #{i} ({n} anchors, {m} objects)",
                (a, g),
                assign_rpn_targets(a, g)[0].numpy(),
                "",
            )
        )
    return cases


def _compare_labels(got, expected) -> str | None:
    arr = as_array(got)
    if arr is None or arr.shape != expected.shape:
        return f"{fmt(got)} -- return one label per anchor (shape {expected.shape})"
    if not np.array_equal(arr, expected):
        wrong = np.flatnonzero(arr != expected)
        return f"{fmt(arr)} -- wrong at anchor(s) {wrong[:10].tolist()}"
    return None


def check_rpn_labels(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(anchors, gt_boxes) -> labels`` (``int [N]``: 1, 0 or -1), the RPN's targets.

    ``anchors`` is a float32 ``Tensor[N, 4]``, ``gt_boxes`` a ``Tensor[M, 4]`` (``M`` may be
    0). The rule (reference :func:`dlcv_utils.ops.anchors.assign_rpn_targets`): best IoU
    ``>= 0.7`` positive, ``< 0.3`` negative, else ignored; then every ground truth's best
    anchor(s) (ties included) positive.

    Args:
        fn: the learner's function.
        n_random: how many seeded random images to add to the hand-made ones.
        seed: seed of the random images.

    Returns:
        ``True`` when every label agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_rpn_labels(solution_rpn_labels, n_random=3)
        ✓ solution_rpn_labels passes all 11 cases (edge cases + 3 random images).
        True
    """
    check_callable(fn, "fn(anchors, gt_boxes) -> labels")
    check_n_random(n_random)
    return run_cases(
        fn,
        _rpn_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), inputs[1].clone()),
        _compare_labels,
        "edge cases + {n_random} random images",
        n_random,
    )
