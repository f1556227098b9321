"""Lesson 09's exercises: YOLOv1's responsible cell, and YOLOv2's direct location decoding.

Taught in lesson 09. The references are :func:`dlcv_utils.models.yolo.responsible_cells` and
:func:`dlcv_utils.models.yolo.decode_v2`.
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
    "check_responsible_cell",
    "check_v2_decode",
    "solution_responsible_cell",
    "solution_v2_decode",
]


# ------------------------------------------------------------------------------ solutions
def solution_responsible_cell(box, image_size: int, grid: int) -> tuple[int, int]:
    """Model solution: ``(row, col)`` of the ``grid x grid`` cell holding the box's centre.

    Example:
        >>> solution_responsible_cell([10.0, 50.0, 30.0, 70.0], 100, 7)
        (4, 1)
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    col = min(int(cx * grid // image_size), grid - 1)  # a centre on the edge: last cell
    row = min(int(cy * grid // image_size), grid - 1)
    return row, col


def solution_v2_decode(t, cell, anchor, stride: float) -> list[float]:
    """Model solution: one raw ``(t_x, t_y, t_w, t_h)`` of cell ``(row, col)`` -> xyxy pixels.

    Example:
        >>> solution_v2_decode([0.0, 0.0, 0.0, 0.0], (1, 2), (8.0, 4.0), 16)
        [36.0, 22.0, 44.0, 26.0]
    """
    import math

    row, col = cell
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    cx, cy = (sig(t[0]) + col) * stride, (sig(t[1]) + row) * stride
    w, h = anchor[0] * math.exp(t[2]), anchor[1] * math.exp(t[3])
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


SOLUTIONS: dict[str, Callable] = {
    "responsible_cell": solution_responsible_cell,
    "v2_decode": solution_v2_decode,
}


# ------------------------------------------------------------------------------ responsible cell
def _cell_cases(n_random: int, seed: int):
    from dlcv_utils.models.yolo import responsible_cells

    hand = [
        (
            "centre in the middle of a cell",
            ([10.0, 50.0, 30.0, 70.0], 100, 7),
            "the cell holding the box's CENTRE: col = floor(cx * S / size), row from cy.",
        ),
        (
            "x is the column, y is the row",
            ([60.0, 0.0, 100.0, 20.0], 100, 4),
            "return (row, col): the row comes from the centre's y, the column from its x.",
        ),
        (
            "the centre, not a corner",
            ([0.0, 0.0, 60.0, 60.0], 100, 4),
            "the responsible cell holds the box's CENTRE ((x1 + x2) / 2, (y1 + y2) / 2).",
        ),
        (
            "a centre on a cell border",
            ([20.0, 20.0, 30.0, 30.0], 100, 4),
            "a centre exactly on a border belongs to the cell that starts there (floor).",
        ),
        (
            "a centre on the image edge",
            ([90.0, 90.0, 110.0, 110.0], 100, 5),
            "a centre on the right/bottom edge (x = image_size) goes to the last cell, S - 1.",
        ),
    ]
    cases = []
    for name, args, hint in hand:
        expected = np.array(responsible_cells([args[0]], args[1], args[2])[0].tolist())
        cases.append((name, args, expected, hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        size, grid = int(rng.choice([64, 128, 416, 448])), int(rng.integers(1, 20))
        xy = rng.uniform(0, size * 0.8, 2).round(1)
        box = [*xy.tolist(), *(xy + rng.uniform(2, size * 0.2, 2).round(1)).tolist()]
        expected = np.array(responsible_cells([box], size, grid)[0].tolist())
        cases.append((f"random #{i} (S = {grid}, {size} px)", (box, size, grid), expected, ""))
    return cases


def _compare_cell(got, expected) -> str | None:
    arr = as_array(got)
    if arr is None or arr.shape != (2,):
        return f"{fmt(got)} -- return (row, col), two integers"
    if np.array_equal(arr[::-1], expected) and not np.array_equal(arr, expected):
        return f"{fmt(arr)} -- that is (col, row): return (row, col)"
    return close(arr, expected, atol=0)


def check_responsible_cell(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(box, image_size, grid) -> (row, col)`` (YOLOv1's responsible cell).

    ``box`` is a list ``[x1, y1, x2, y2]`` in pixels of a square ``image_size`` image.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_responsible_cell(solution_responsible_cell, n_random=3)
        ✓ solution_responsible_cell passes all 8 cases (edge cases + 3 random boxes).
        True
    """
    check_callable(fn, "fn(box, image_size, grid) -> (row, col)")
    check_n_random(n_random)
    return run_cases(
        fn,
        _cell_cases(n_random, seed),
        lambda f, inputs: f(list(inputs[0]), inputs[1], inputs[2]),
        _compare_cell,
        "edge cases + {n_random} random boxes",
        n_random,
    )


# ------------------------------------------------------------------------------ v2 decoding
def _decode_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.models.yolo import decode_v2

    def ref(t, cell, anchor, stride):
        row, col = cell
        tt = torch.zeros(row + 1, col + 1, 1, 4)
        tt[row, col, 0] = torch.tensor(t, dtype=torch.float32)
        return decode_v2(tt, [anchor], stride)[row, col, 0].double().numpy()

    hand = [
        (
            "all zeros",
            ([0.0, 0.0, 0.0, 0.0], (1, 2), (8.0, 4.0), 16),
            "sigmoid(0) = 0.5 and exp(0) = 1: the middle of cell (row 1, col 2), anchor-sized.",
        ),
        (
            "the sigmoid on the offsets",
            ([2.0, -1.0, 0.0, 0.0], (0, 0), (10.0, 10.0), 8),
            "b_x = (sigmoid(t_x) + c_x) * stride: the sigmoid keeps the centre in its cell.",
        ),
        (
            "exp on the sizes",
            ([0.0, 0.0, 0.5, -0.5], (3, 1), (12.0, 20.0), 32),
            "b_w = p_w * exp(t_w), b_h = p_h * exp(t_h) (anchor sizes in pixels).",
        ),
        (
            "row and column",
            ([0.0, 0.0, 0.0, 0.0], (2, 0), (4.0, 4.0), 10),
            "cell = (row, col): c_x is the column, c_y is the row.",
        ),
    ]
    cases = [(name, args, ref(*args), hint) for name, args, hint in hand]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        t = rng.normal(0, 1.5, 4).round(3).tolist()
        cell = (int(rng.integers(0, 13)), int(rng.integers(0, 13)))
        anchor = tuple(rng.uniform(4, 120, 2).round(1).tolist())
        stride = float(rng.choice([8, 16, 32]))
        args = (t, cell, anchor, stride)
        cases.append((f"random #{i}", args, ref(*args), ""))
    return cases


def check_v2_decode(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(t, cell, anchor, stride) -> [x1, y1, x2, y2]`` (YOLOv2 direct location).

    ``t`` is ``[t_x, t_y, t_w, t_h]``, ``cell`` ``(row, col)``, ``anchor`` ``(p_w, p_h)`` in
    pixels. Reference: :func:`dlcv_utils.models.yolo.decode_v2`.

    Returns:
        ``True`` when every case agrees within ``1e-3`` px; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_v2_decode(solution_v2_decode, n_random=3)
        ✓ solution_v2_decode passes all 7 cases (edge cases + 3 random outputs).
        True
    """
    check_callable(fn, "fn(t, cell, anchor, stride) -> xyxy")
    check_n_random(n_random)
    return run_cases(
        fn,
        _decode_cases(n_random, seed),
        lambda f, inputs: f(list(inputs[0]), tuple(inputs[1]), tuple(inputs[2]), inputs[3]),
        lambda got, expected: close(got, expected, atol=1e-3),
        "edge cases + {n_random} random outputs",
        n_random,
    )
