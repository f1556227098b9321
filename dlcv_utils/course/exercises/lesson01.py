"""Lesson 01's exercises: IoU, NMS and AP checkers, and their model solutions.

Taught in lesson 01. The references are torchvision (``box_iou``, ``nms``, ``batched_nms``)
and the written-out all-point AP; the model solutions are the ``solution_*`` functions at the
bottom (print one with ``show_solution("iou")`` once you have tried).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    check_callable,
    check_n_random,
    close_float,
    fn_name,
    report_fail,
    report_not_attempted,
    report_pass,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_ap",
    "check_iou",
    "check_nms",
    "solution_ap",
    "solution_batched_nms",
    "solution_iou",
    "solution_iou_xywh",
    "solution_nms",
]


# ------------------------------------------------------------------------------------- IoU
def _to_xyxy(box, fmt: str) -> tuple[float, float, float, float]:
    x1, y1, a, b = (float(v) for v in box)
    return (x1, y1, x1 + a, y1 + b) if fmt == "xywh" else (x1, y1, a, b)


def _iou_cases(fmt: str, n_random: int, seed: int):
    """Yield (case name, box_a, box_b, hint) in the requested format."""
    xyxy = [
        ("partial overlap", (0, 0, 2, 2), (1, 1, 3, 3), ""),
        ("identical boxes", (10, 20, 50, 80), (10, 20, 50, 80), "IoU of a box with itself is 1."),
        (
            "disjoint boxes",
            (0, 0, 10, 10),
            (20, 20, 30, 30),
            "clamp the intersection width and height at 0: max(0, x2 - x1).",
        ),
        (
            "disjoint in x only",
            (0, 0, 10, 10),
            (15, 0, 25, 10),
            "a negative width times a positive height must not count as overlap; clamp each side at 0.",
        ),
        (
            "disjoint in x and y (two negative sides)",
            (0, 0, 10, 10),
            (12, 14, 20, 20),
            "two negative sides multiply to a positive 'intersection'; clamp each side at 0.",
        ),
        (
            "touching edges",
            (0, 0, 10, 10),
            (10, 0, 20, 10),
            "boxes that only share an edge have intersection 0 (no +1 in this course).",
        ),
        (
            "nested boxes",
            (0, 0, 10, 10),
            (2, 2, 6, 6),
            "the small box lies inside the big one: IoU = area(small) / area(big).",
        ),
        ("nested, other order", (2, 2, 6, 6), (0, 0, 10, 10), "IoU is symmetric."),
        (
            "widths without +1",
            (0, 0, 1, 1),
            (0, 0, 1, 2),
            "width is x2 - x1 (no +1): the boxes have areas 1 and 2.",
        ),
        (
            "zero-area box",
            (5, 5, 5, 5),
            (0, 0, 10, 10),
            "a zero-area box has IoU 0 with anything.",
        ),
        (
            "two identical zero-area boxes",
            (5, 5, 5, 5),
            (5, 5, 5, 5),
            "union is 0 here: return 0.0 instead of dividing by zero.",
        ),
        (
            "negative coordinates",
            (-4, -4, 2, 2),
            (-1, -1, 5, 5),
            "coordinates may be negative (boxes partly outside the image).",
        ),
        (
            "float coordinates",
            (0.5, 0.25, 3.75, 2.5),
            (1.5, 1.0, 4.0, 4.0),
            "do not round coordinates to integers.",
        ),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        xy = rng.uniform(-20, 80, size=(2, 2))
        wh = rng.uniform(0, 60, size=(2, 2))
        if i % 2:
            xy, wh = np.round(xy), np.round(wh)
        a = (*xy[0], *(xy[0] + wh[0]))
        b = (*xy[1], *(xy[1] + wh[1]))
        xyxy.append((f"random pair #{i}", tuple(map(float, a)), tuple(map(float, b)), ""))
    for name, a, b, hint in xyxy:
        if fmt == "xywh":
            a = (a[0], a[1], a[2] - a[0], a[3] - a[1])
            b = (b[0], b[1], b[2] - b[0], b[3] - b[1])
            if not hint:
                hint = "boxes are (x, y, width, height): x2 = x + width, y2 = y + height."
        yield name, tuple(float(v) for v in a), tuple(float(v) for v in b), hint


def _reference_iou(a, b) -> float:
    import torch
    from torchvision.ops import box_iou

    t = torch.tensor([a, b], dtype=torch.float64)
    value = float(box_iou(t[:1], t[1:])[0, 0])
    return 0.0 if math.isnan(value) else value  # torchvision gives NaN for 0/0


def check_iou(fn: Callable, fmt: str = "xyxy", n_random: int = 200, seed: int = 0) -> bool:
    """Check ``fn(box_a, box_b) -> float``, the IoU of two boxes, against torchvision.

    Args:
        fn: the learner's function; boxes arrive as tuples of four floats.
        fmt: ``"xyxy"`` (``x1, y1, x2, y2``) or ``"xywh"`` (``x, y, width, height``, COCO).
        n_random: how many seeded random pairs to add to the hand-made edge cases.
        seed: seed of the random pairs.

    Returns:
        ``True`` when every case agrees within ``1e-6``; otherwise prints the first failing
        case (inputs, expected, got, a hint) and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for an unknown ``fmt`` or a negative ``n_random``.

    Example:
        >>> check_iou(solution_iou, n_random=5)
        ✓ solution_iou passes all 18 cases (edge cases + 5 random pairs, xyxy boxes).
        True
    """
    check_callable(fn, "fn(box_a, box_b) -> float")
    if fmt not in ("xyxy", "xywh"):
        raise ValueError(f"fmt must be 'xyxy' or 'xywh', got {fmt!r}")
    check_n_random(n_random)
    cases = (
        (case, (a, b), _reference_iou(_to_xyxy(a, fmt), _to_xyxy(b, fmt)), hint)
        for case, a, b, hint in _iou_cases(fmt, n_random, seed)
    )
    return run_cases(
        fn,
        cases,
        lambda f, inputs: f(*inputs),
        lambda got, expected: close_float(got, expected, atol=1e-6),
        f"edge cases + {{n_random}} random pairs, {fmt} boxes",
        n_random,
    )


# ------------------------------------------------------------------------------------- NMS
def _nms_cases(class_aware: bool, n_random: int, seed: int):
    """Yield (case name, boxes [N,4], scores [N], labels [N], iou_threshold, exact, hint).

    ``exact`` is False for tie cases, where any tie order is fine as long as the kept set
    is the same and the scores come out in non-increasing order.
    """
    f = np.float32
    cases = [
        (
            "two overlapping boxes",
            [[0, 0, 10, 10], [1, 1, 11, 11]],
            [0.9, 0.8],
            [0, 0],
            0.5,
            True,
            "the lower-scored box overlaps the best one with IoU 81/119 > 0.5: suppress it.",
        ),
        (
            "scores not sorted",
            [[1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]],
            [0.3, 0.9, 0.5],
            [0, 0, 0],
            0.5,
            True,
            "visit boxes from the highest score down, and return the ORIGINAL indices.",
        ),
        (
            "disjoint boxes",
            [[0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]],
            [0.5, 0.7, 0.6],
            [0, 0, 0],
            0.5,
            True,
            "nothing overlaps, so every box is kept, ordered by decreasing score.",
        ),
        (
            "IoU exactly at the threshold",
            [[0, 0, 4, 1], [0, 0, 2, 1]],
            [0.9, 0.8],
            [0, 0],
            0.5,
            True,
            "IoU is exactly 0.5 here; suppress only when IoU > threshold (strictly), as torchvision does.",
        ),
        (
            "chain: A suppresses B, B would suppress C",
            [[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]],
            [0.9, 0.8, 0.7],
            [0, 0, 0],
            0.3,
            True,
            "a suppressed box must not suppress others: C survives because B was removed.",
        ),
        (
            "nested boxes",
            [[0, 0, 100, 100], [10, 10, 90, 90], [40, 40, 60, 60]],
            [0.6, 0.9, 0.8],
            [0, 0, 0],
            0.5,
            True,
            "",
        ),
        ("single box", [[3, 4, 5, 6]], [0.1], [0], 0.5, True, ""),
        (
            "empty input",
            np.zeros((0, 4)),
            [],
            [],
            0.5,
            True,
            "with no boxes, return an empty index list (handle N = 0 before anything else).",
        ),
        (
            "threshold 0: any overlap suppresses",
            [[0, 0, 10, 10], [9, 9, 20, 20], [10, 0, 20, 9]],
            [0.9, 0.8, 0.7],
            [0, 0, 0],
            0.0,
            True,
            "with iou_threshold=0 a box is removed as soon as IoU > 0; touching edges do not overlap.",
        ),
        (
            "threshold 1: nothing suppressed",
            [[0, 0, 10, 10], [0, 0, 10, 10]],
            [0.9, 0.8],
            [0, 0],
            1.0,
            True,
            "IoU can never be > 1, so every box is kept.",
        ),
        (
            "tied scores, no overlap",
            [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]],
            [0.5, 0.5, 0.5],
            [0, 0, 0],
            0.5,
            False,
            "all three boxes are kept whatever the tie order.",
        ),
    ]
    if class_aware:
        cases += [
            (
                "same box, two classes",
                [[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]],
                [0.9, 0.8, 0.7],
                [0, 1, 0],
                0.5,
                True,
                "boxes of different classes never suppress each other; return the kept indices"
                " of all classes together, sorted by decreasing score.",
            ),
            (
                "interleaved classes",
                [[0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 11, 10], [1, 0, 11, 10], [50, 50, 60, 60]],
                [0.9, 0.85, 0.8, 0.75, 0.1],
                [2, 5, 2, 5, 2],
                0.5,
                True,
                "run NMS within each class, then merge and sort all kept indices by score.",
            ),
        ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 40))
        xy = rng.uniform(0, 100, size=(n, 2))
        wh = rng.uniform(5, 50, size=(n, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1)
        scores = rng.permutation(n).astype(f) / n + f(0.01)  # distinct scores: no ties
        labels = rng.integers(0, 3, size=n) if class_aware else np.zeros(n, dtype=np.int64)
        thr = float(rng.choice([0.3, 0.5, 0.7]))
        cases.append((f"random set #{i} ({n} boxes)", boxes, scores, labels, thr, True, ""))
    for name, boxes, scores, labels, thr, exact, hint in cases:
        yield (
            name,
            np.asarray(boxes, dtype=f).reshape(-1, 4),
            np.asarray(scores, dtype=f),
            np.asarray(labels, dtype=np.int64),
            thr,
            exact,
            hint,
        )


def check_nms(fn: Callable, class_aware: bool = False, n_random: int = 100, seed: int = 0) -> bool:
    """Check the learner's NMS against ``torchvision.ops.nms`` / ``batched_nms``.

    ``fn`` is called as ``fn(boxes, scores, iou_threshold)`` or, with ``class_aware=True``,
    ``fn(boxes, scores, labels, iou_threshold)``; ``boxes`` is a float32 ``Tensor[N, 4]``
    (``xyxy``), ``scores`` a ``Tensor[N]``, ``labels`` an int64 ``Tensor[N]``. It must return
    the indices of the kept boxes (tensor, array or list), highest score first, like
    torchvision. Cases with tied scores accept any tie order that keeps the same boxes.

    Args:
        fn: the learner's function.
        class_aware: check a class-aware (batched) NMS instead of a plain one.
        n_random: how many seeded random box sets to add to the hand-made cases.
        seed: seed of the random sets.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and
        returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_nms(solution_batched_nms, class_aware=True, n_random=3)
        ✓ solution_batched_nms passes all 16 cases (edge cases + 3 random sets, class-aware).
        True
    """
    import torch
    from torchvision.ops import batched_nms, nms

    check_callable(fn, "fn(boxes, scores, [labels,] iou_threshold) -> kept indices")
    check_n_random(n_random)
    name = fn_name(fn)
    n = 0
    for case, b, s, lab, thr, exact, hint in _nms_cases(class_aware, n_random, seed):
        n += 1
        boxes, scores, labels = torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(lab)
        if class_aware:
            expected = batched_nms(boxes, scores, labels, thr).tolist()
            args = (boxes.clone(), scores.clone(), labels.clone(), thr)
        else:
            expected = nms(boxes, scores, thr).tolist()
            args = (boxes.clone(), scores.clone(), thr)
        shown = (
            f"{b.shape[0]} boxes (see the case name), iou_threshold={thr}"
            if b.shape[0] > 5
            else f"boxes={np.round(b.astype(float), 4).tolist()}, "
            f"scores={np.round(s.astype(float), 4).tolist()}"
            + (f", labels={lab.tolist()}" if class_aware else "")
            + f", iou_threshold={thr}"
        )
        try:
            got = fn(*args)
        except NotImplementedError:
            return report_not_attempted(name)
        except Exception as exc:
            if isinstance(exc, TypeError) and "argument" in str(exc):
                hint = "check the signature: " + (
                    "fn(boxes, scores, labels, iou_threshold)"
                    if class_aware
                    else "fn(boxes, scores, iou_threshold)"
                )
            return report_fail(
                name, case, shown, str(expected), f"{type(exc).__name__}: {exc}", hint
            )
        if got is None:
            return report_fail(
                name, case, shown, str(expected), "None", "did you forget to `return` the indices?"
            )
        try:
            got_list = [int(i) for i in (got.tolist() if hasattr(got, "tolist") else got)]
        except (TypeError, ValueError):
            return report_fail(
                name, case, shown, str(expected), repr(got), "return a list/tensor of indices."
            )
        if got_list == expected:
            continue
        if not exact and sorted(got_list) == sorted(expected):
            kept_scores = s[got_list]
            if np.all(np.diff(kept_scores) <= 0):
                continue
        if sorted(got_list) == sorted(expected):
            hint = "you keep the right boxes but in another order: sort them by decreasing score."
        elif set(got_list) - set(range(b.shape[0])):
            hint = "return indices into the ORIGINAL boxes, not positions in a sorted copy."
        return report_fail(name, case, shown, str(expected), str(got_list), hint)
    what = f"edge cases + {n_random} random sets" + (", class-aware" if class_aware else "")
    return report_pass(name, n, what)


# ------------------------------------------------------------------------------------- AP
def _ap_cases(n_random: int, seed: int):
    cases = [
        ("all correct", [0.9, 0.8, 0.7], [1, 1, 1], 3, "precision is 1 at every recall: AP = 1."),
        ("all wrong", [0.9, 0.8], [0, 0], 2, "no true positive: AP = 0."),
        (
            "one miss at the top",
            [0.9, 0.8, 0.7],
            [0, 1, 1],
            2,
            "precision at recall 1/2 is 1/2, at recall 2/2 it is 2/3; the envelope makes both 2/3.",
        ),
        (
            "missed ground truths",
            [0.9, 0.8],
            [1, 1],
            4,
            "recall only reaches 2/4: divide true positives by num_gt, not by the detections.",
        ),
        (
            "precision dips then rises",
            [0.9, 0.8, 0.7, 0.6],
            [1, 0, 0, 1],
            2,
            "use the envelope: precision at recall r is the MAX precision at any recall >= r.",
        ),
        (
            "unsorted scores",
            [0.2, 0.9, 0.5],
            [1, 0, 1],
            2,
            "sort the detections by decreasing score first.",
        ),
        ("no detections", [], [], 3, "no detections: AP = 0."),
        ("no ground truth", [0.5], [0], 0, "with num_gt = 0 return 0.0 (not NaN)."),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 30))
        scores = rng.permutation(n) / n + 0.01
        tp = (rng.random(n) < 0.6).astype(int)
        num_gt = int(tp.sum() + rng.integers(0, 4))
        cases.append((f"random #{i} ({n} detections)", scores, tp, num_gt, ""))
    for name, scores, tp, num_gt, hint in cases:
        yield name, np.asarray(scores, dtype=np.float64), np.asarray(tp, dtype=bool), num_gt, hint


def check_ap(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(scores, is_tp, num_gt) -> float``, all-point (VOC2010+) AP of one class.

    ``scores`` (float array) and ``is_tp`` (bool array, already matched) describe the
    detections in any order; ``num_gt`` is the number of ground-truth boxes. The reference is
    :func:`solution_ap` (area under the precision envelope, summed where recall changes).

    Returns:
        ``True`` when every case agrees within ``1e-9``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_ap(solution_ap, n_random=2)
        ✓ solution_ap passes all 10 cases (edge cases + 2 random rankings).
        True
    """
    check_callable(fn, "fn(scores, is_tp, num_gt) -> float")
    check_n_random(n_random)
    cases = (
        (case, (scores, tp, num_gt), solution_ap(scores, tp, num_gt), hint)
        for case, scores, tp, num_gt, hint in _ap_cases(n_random, seed)
    )
    return run_cases(
        fn,
        cases,
        lambda f, inputs: f(inputs[0].copy(), inputs[1].copy(), inputs[2]),
        lambda got, expected: close_float(got, expected, atol=1e-9),
        "edge cases + {n_random} random rankings",
        n_random,
    )


# ----------------------------------------------------------------------- model solutions
def solution_iou(box_a, box_b) -> float:
    """Model solution: IoU of two ``(x1, y1, x2, y2)`` boxes (plain Python).

    Example:
        >>> solution_iou((0, 0, 2, 2), (1, 1, 3, 3)) == 1 / (4 + 4 - 1)
        True
    """
    ax1, ay1, ax2, ay2 = box_a
    bx1, by1, bx2, by2 = box_b
    inter_w = max(0.0, min(ax2, bx2) - max(ax1, bx1))  # clamp: disjoint boxes overlap by 0
    inter_h = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = inter_w * inter_h
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def solution_iou_xywh(box_a, box_b) -> float:
    """Model solution: IoU of two COCO ``(x, y, width, height)`` boxes.

    Example:
        >>> solution_iou_xywh((0, 0, 2, 2), (1, 1, 2, 2)) == 1 / 7
        True
    """
    x, y, w, h = box_a
    u, v, s, t = box_b
    return solution_iou((x, y, x + w, y + h), (u, v, u + s, v + t))


def solution_nms(boxes, scores, iou_threshold: float):
    """Model solution: greedy NMS, suppressing a box when its IoU with a kept one is > threshold.

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
        >>> solution_nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
        [0, 2]
    """
    import torch
    from torchvision.ops import box_iou

    order = torch.argsort(scores, descending=True, stable=True)
    iou = box_iou(boxes, boxes)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def solution_batched_nms(boxes, scores, labels, iou_threshold: float):
    """Model solution: class-aware NMS (NMS within each class, merged by decreasing score).

    Example:
        >>> import torch
        >>> b = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
        >>> solution_batched_nms(b, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist()
        [0, 1]
    """
    import torch

    keep = []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        keep.append(idx[solution_nms(boxes[idx], scores[idx], iou_threshold)])
    if not keep:
        return torch.zeros(0, dtype=torch.int64)
    keep = torch.cat(keep)
    return keep[torch.argsort(scores[keep], descending=True, stable=True)]


def solution_ap(scores, is_tp, num_gt: int) -> float:
    """Model solution: all-point (VOC2010+) average precision of one class.

    Example:
        >>> solution_ap([0.9, 0.8, 0.7], [False, True, True], 2) == 2 / 3
        True
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_tp = np.asarray(is_tp, dtype=bool)
    if num_gt == 0 or scores.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_tp[order])
    fp = np.cumsum(~is_tp[order])
    recall = tp / num_gt
    precision = tp / (tp + fp)
    # envelope: precision at recall r = best precision at any recall >= r
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))  # recall gained at each detection
    return float(np.sum(steps * envelope))


SOLUTIONS: dict[str, Callable] = {
    "iou": solution_iou,
    "iou_xywh": solution_iou_xywh,
    "nms": solution_nms,
    "batched_nms": solution_batched_nms,
    "ap": solution_ap,
}
