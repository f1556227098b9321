"""Lesson 02's exercises: YOLO label line -> COCO box, Open Images CSV row -> pixel box.

Taught in lesson 02. Each ``check_*`` function runs the learner's function on hand-made edge
cases and seeded random cases, compares it with the written-out model solution below (tested
against the package's readers in ``tests/test_exercises_lessons.py``), prints one line, and
returns ``True`` or ``False``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    as_array,
    check_callable,
    check_n_random,
    close,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_open_images_row",
    "check_yolo_to_coco",
    "solution_open_images_row",
    "solution_yolo_to_coco",
]


# ------------------------------------------------------------------------------ solutions
def solution_yolo_to_coco(line: str, width: int, height: int) -> tuple[int, list[float]]:
    """Model solution: one YOLO label line ``"class cx cy w h"`` (normalised) -> COCO box.

    Args:
        line: ``"class cx cy w h"``, centre and size divided by the image width / height.
        width, height: image size in pixels.

    Returns:
        ``(class_id, [x, y, w, h])``: the 0-based class id and the COCO box in pixels
        (top-left corner, width, height).

    Example:
        >>> solution_yolo_to_coco("2 0.5 0.25 0.5 0.1", 200, 100)
        (2, [50.0, 20.0, 100.0, 10.0])
    """
    fields = line.split()  # any whitespace, trailing newline included
    class_id = int(fields[0])
    cx, cy, w, h = (float(v) for v in fields[1:5])
    bw, bh = w * width, h * height  # sizes scale with the image size, like the centre
    return class_id, [cx * width - bw / 2, cy * height - bh / 2, bw, bh]


def solution_open_images_row(row: dict, width: int, height: int) -> tuple[float, ...]:
    """Model solution: one Open Images box row (strings, as ``csv.DictReader`` gives) -> xyxy.

    Args:
        row: the CSV row; ``XMin, XMax, YMin, YMax`` are divided by the image width / height.
        width, height: image size in pixels (read from the image file: the CSV has none).

    Returns:
        ``(x1, y1, x2, y2)`` in pixels.

    Example:
        >>> row = {"XMin": "0.25", "XMax": "0.75", "YMin": "0.1", "YMax": "0.5"}
        >>> solution_open_images_row(row, 200, 100)
        (50.0, 10.0, 150.0, 50.0)
    """
    x1, x2 = float(row["XMin"]) * width, float(row["XMax"]) * width  # both x first ...
    y1, y2 = float(row["YMin"]) * height, float(row["YMax"]) * height  # ... then both y
    return x1, y1, x2, y2


SOLUTIONS: dict[str, Callable] = {
    "yolo_to_coco": solution_yolo_to_coco,
    "open_images_row": solution_open_images_row,
}


# ------------------------------------------------------------------------------ YOLO -> COCO
def _yolo_cases(n_random: int, seed: int):
    hand = [
        (
            "centred box, square image",
            "0 0.5 0.5 0.5 0.5",
            100,
            100,
            "YOLO stores the box CENTRE: the COCO corner is (cx - w/2, cy - h/2).",
        ),
        (
            "wide image",
            "3 0.5 0.5 0.2 0.4",
            640,
            480,
            "multiply x and w by the image WIDTH, y and h by the image HEIGHT.",
        ),
        (
            "tall image, off-centre",
            "1 0.25 0.75 0.1 0.2",
            300,
            600,
            "YOLO stores the box CENTRE: the COCO corner is (cx - w/2, cy - h/2).",
        ),
        (
            "box touching the top-left corner",
            "4 0.05 0.1 0.1 0.2",
            200,
            100,
            "x = (cx - w / 2) * width; here it is 0.",
        ),
        (
            "whole image",
            "0 0.5 0.5 1.0 1.0",
            320,
            240,
            "a box covering the image is [0, 0, width, height].",
        ),
        (
            "trailing newline and double spaces",
            "2  0.5 0.5  0.25 0.5\n",
            128,
            64,
            "split on any whitespace: `line.split()` (not `line.split(' ')`).",
        ),
        (
            "class id 12",
            "12 0.5 0.5 0.5 0.5",
            10,
            10,
            "the class id is the first field, an int (not a float, not one digit).",
        ),
        (
            "values in scientific notation",
            "7 5e-1 2.5E-1 1e-1 5e-2",
            1000,
            800,
            "parse the numbers with float(), which reads 5e-1.",
        ),
    ]
    cases = []
    for name, line, w, h, hint in hand:
        cases.append((name, (line, w, h), solution_yolo_to_coco(line, w, h), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        width, height = (int(v) for v in rng.integers(16, 2000, size=2))
        bw, bh = rng.uniform(0.01, 1.0, size=2)
        cx, cy = rng.uniform(bw / 2, 1 - bw / 2), rng.uniform(bh / 2, 1 - bh / 2)
        line = f"{int(rng.integers(0, 80))} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}"
        cases.append(
            (
                f"random line #{i}",
                (line, width, height),
                solution_yolo_to_coco(line, width, height),
                "",
            )
        )
    return cases


def _compare_class_and_box(got, expected) -> str | None:
    try:
        class_id, box = got
    except (TypeError, ValueError):
        return f"{got!r} -- return a pair (class_id, [x, y, w, h])"
    if isinstance(class_id, bool) or not isinstance(class_id, int | np.integer):
        return f"class id {class_id!r} -- the class id must be an int"
    if int(class_id) != expected[0]:
        return f"class id {class_id}"
    arr = as_array(box, (4,))
    if arr is None:
        return f"box {box!r} -- the box must be four numbers [x, y, w, h]"
    problem = close(arr, expected[1], atol=1e-3)
    return None if problem is None else f"({int(class_id)}, {problem})"


def check_yolo_to_coco(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(line, width, height) -> (class_id, [x, y, w, h])``, YOLO line to COCO box.

    ``line`` is one line of a YOLO label file, ``"class cx cy w h"`` with the centre and the
    size divided by the image size; the result is the class id (an int) and the COCO box in
    pixels. Boxes must agree within 0.001 px.

    Args:
        fn: the learner's function.
        n_random: how many seeded random lines to add to the hand-made ones.
        seed: seed of the random lines.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_yolo_to_coco(solution_yolo_to_coco, n_random=3)
        ✓ solution_yolo_to_coco passes all 11 cases (edge cases + 3 random lines).
        True
    """
    check_callable(fn, "fn(line, width, height) -> (class_id, [x, y, w, h])")
    check_n_random(n_random)
    return run_cases(
        fn,
        _yolo_cases(n_random, seed),
        lambda f, inputs: f(*inputs),
        _compare_class_and_box,
        "edge cases + {n_random} random lines",
        n_random,
    )


# ------------------------------------------------------------------------------ Open Images
_OI_COLUMNS = (
    "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,"
    "IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside"
).split(",")


def _oi_row(xmin, xmax, ymin, ymax) -> dict:
    values = ["img", "xclick", "/m/01g317", "1", xmin, xmax, ymin, ymax, "0", "0", "0", "0", "0"]
    return dict(zip(_OI_COLUMNS, (str(v) for v in values)))


def _oi_cases(n_random: int, seed: int):
    hand = [
        (
            "square image",
            _oi_row("0.25", "0.75", "0.1", "0.5"),
            100,
            100,
            "the CSV order is XMin, XMax, YMin, YMax (both x first); return x1, y1, x2, y2.",
        ),
        (
            "columns are XMin, XMax, YMin, YMax",
            _oi_row("0.1", "0.4", "0.6", "0.9"),
            200,
            200,
            "the CSV order is XMin, XMax, YMin, YMax (both x first), not x1, y1, x2, y2; "
            "read the columns by name.",
        ),
        (
            "wide image",
            _oi_row("0.5", "1.0", "0.0", "0.5"),
            640,
            480,
            "x values are divided by the image WIDTH, y values by the HEIGHT.",
        ),
        (
            "tall image",
            _oi_row("0.0", "0.25", "0.5", "1.0"),
            300,
            900,
            "x values are divided by the image WIDTH, y values by the HEIGHT.",
        ),
        ("whole image", _oi_row("0", "1", "0", "1"), 1024, 683, ""),
        (
            "values are strings",
            _oi_row("0.286667", "0.683333", "0.042500", "0.762500"),
            600,
            400,
            "csv.DictReader gives strings: convert with float().",
        ),
    ]
    cases = []
    for name, row, w, h, hint in hand:
        cases.append((name, (row, w, h), solution_open_images_row(row, w, h), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        width, height = (int(v) for v in rng.integers(16, 4000, size=2))
        xs = np.sort(rng.uniform(0, 1, 2))
        ys = np.sort(rng.uniform(0, 1, 2))
        row = _oi_row(f"{xs[0]:.6f}", f"{xs[1]:.6f}", f"{ys[0]:.6f}", f"{ys[1]:.6f}")
        expected = solution_open_images_row(row, width, height)
        cases.append((f"random row #{i}", (row, width, height), expected, ""))
    return cases


def check_open_images_row(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(row, width, height) -> (x1, y1, x2, y2)``, an Open Images row in pixels.

    ``row`` is one row of an Open Images box CSV as ``csv.DictReader`` returns it (a dict of
    strings, ``XMin, XMax, YMin, YMax`` divided by the image size). Boxes must agree within
    0.001 px.

    Args:
        fn: the learner's function.
        n_random: how many seeded random rows to add to the hand-made ones.
        seed: seed of the random rows.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_open_images_row(solution_open_images_row, n_random=2)
        ✓ solution_open_images_row passes all 8 cases (edge cases + 2 random rows).
        True
    """
    check_callable(fn, "fn(row, width, height) -> (x1, y1, x2, y2)")
    check_n_random(n_random)
    return run_cases(
        fn,
        _oi_cases(n_random, seed),
        lambda f, inputs: f(dict(inputs[0]), inputs[1], inputs[2]),
        lambda got, exp: close(got, exp, atol=1e-3),
        "edge cases + {n_random} random rows",
        n_random,
    )
