"""Tests for dlcv_utils.course.exercises: correct solutions pass, typical bugs fail with a useful hint."""

import numpy as np
import pytest
import torch

from dlcv_utils.course import exercises
from dlcv_utils.course.exercises import (
    SOLUTIONS,
    check_ap,
    check_iou,
    check_nms,
    show_solution,
    solution_ap,
    solution_batched_nms,
    solution_iou,
)

N_RANDOM = 30  # enough random cases to catch the bugs below, fast


# -------------------------------------------------------------------------- solutions
def test_solution_iou_hand_computed():
    assert solution_iou((0, 0, 2, 2), (1, 1, 3, 3)) == 1 / (4 + 4 - 1)
    assert solution_iou((0, 0, 10, 10), (2, 2, 6, 6)) == 16 / 100
    assert solution_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert solution_iou((5, 5, 5, 5), (5, 5, 5, 5)) == 0.0


def test_solution_iou_agrees_with_torchvision():
    from torchvision.ops import box_iou

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 50, (40, 2))
    b = np.concatenate([xy, xy + rng.uniform(1, 40, (40, 2))], axis=1)
    ref = box_iou(torch.tensor(b), torch.tensor(b)).numpy()
    mine = np.array([[solution_iou(p, q) for q in b] for p in b])
    np.testing.assert_allclose(mine, ref, atol=1e-12)


def test_solution_batched_nms_agrees_with_package():
    from dlcv_utils.ops.nms import batched_nms

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(60, 2, generator=g) * 40 + 1], dim=1)
    scores = torch.rand(60, generator=g)
    labels = torch.randint(0, 4, (60,), generator=g)
    assert torch.equal(
        solution_batched_nms(boxes, scores, labels, 0.5), batched_nms(boxes, scores, labels, 0.5)
    )


def test_solution_ap_hand_computed_and_matches_metrics():
    from dlcv_utils.metrics import average_precision, precision_recall_curve

    # ranks: T F T with 4 ground truths -> P = 1, 1/2, 2/3 at R = 1/4, 1/4, 2/4
    assert solution_ap([0.9, 0.8, 0.7], [1, 0, 1], 4) == pytest.approx(1 / 4 * 1 + 1 / 4 * 2 / 3)
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 25))
        scores = rng.random(n)
        tp = rng.random(n) < 0.5
        n_gt = int(tp.sum() + rng.integers(0, 3))
        if n_gt == 0:
            continue
        p, r, _ = precision_recall_curve(scores, tp, n_gt)
        assert solution_ap(scores, tp, n_gt) == pytest.approx(average_precision(r, p, "voc"))


def test_show_solution_prints_source(capsys):
    show_solution("nms")
    assert "def solution_nms(" in capsys.readouterr().out
    with pytest.raises(ValueError, match="name must be one of"):
        show_solution("yolo")


def test_every_solution_passes_its_check(capsys):
    assert check_iou(SOLUTIONS["iou"], n_random=N_RANDOM)
    assert check_iou(SOLUTIONS["iou_xywh"], fmt="xywh", n_random=N_RANDOM)
    assert check_nms(SOLUTIONS["nms"], n_random=N_RANDOM)
    assert check_nms(SOLUTIONS["batched_nms"], class_aware=True, n_random=N_RANDOM)
    assert check_ap(SOLUTIONS["ap"], n_random=N_RANDOM)
    out = capsys.readouterr().out
    assert out.count("✓") == 5 and "✗" not in out


# -------------------------------------------------------------------------- IoU bugs
def iou_no_clamp(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def iou_plus_one(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = iw * ih
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return inter / union


def iou_divides_by_zero(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def iou_union_without_minus(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return iw * ih / union if union else 0.0


def iou_forgets_return(a, b):
    solution_iou(a, b)


def iou_returns_list(a, b):
    return [solution_iou(a, b)]


@pytest.mark.parametrize(
    ("fn", "case", "hint"),
    [
        (iou_no_clamp, "disjoint boxes", "clamp"),
        (iou_plus_one, "partial overlap", ""),
        (iou_divides_by_zero, "two identical zero-area boxes", "return 0.0 instead of dividing"),
        (iou_union_without_minus, "partial overlap", ""),
        (iou_forgets_return, "partial overlap", "forget to `return`"),
        (iou_returns_list, "partial overlap", "return one number"),
    ],
)
def test_check_iou_catches_bugs(fn, case, hint, capsys):
    assert check_iou(fn, n_random=N_RANDOM) is False
    out = capsys.readouterr().out
    assert f"✗ {fn.__name__} fails on case '{case}'" in out
    assert "expected:" in out and "got:" in out
    assert hint in out


def test_check_iou_xyxy_function_fails_the_xywh_check(capsys):
    assert check_iou(solution_iou, fmt="xywh", n_random=0) is False
    assert "x2 = x + width" in capsys.readouterr().out


def test_check_iou_accepts_numpy_and_torch_scalars(capsys):
    assert check_iou(lambda a, b: np.float32(solution_iou(a, b)), n_random=N_RANDOM)
    assert check_iou(lambda a, b: torch.tensor(solution_iou(a, b)), n_random=N_RANDOM)


def test_check_reports_not_attempted(capsys):
    def my_iou(a, b):
        raise NotImplementedError

    def my_nms(boxes, scores, iou_threshold):
        raise NotImplementedError

    def my_ap(scores, is_tp, num_gt):
        raise NotImplementedError

    assert check_iou(my_iou) is False
    assert check_nms(my_nms) is False
    assert check_ap(my_ap) is False
    out = capsys.readouterr().out
    assert out.count("not attempted yet") == 3
    assert "in my_iou above" in out and "✗" not in out


# -------------------------------------------------------------------------- NMS bugs
def nms_greater_equal(boxes, scores, iou_threshold):
    from torchvision.ops import box_iou

    order = torch.argsort(scores, descending=True).tolist()
    iou = box_iou(boxes, boxes)
    keep, dead = [], set()
    for i in order:
        if i in dead:
            continue
        keep.append(i)
        dead |= {j for j in order if iou[i, j] >= iou_threshold}
    return keep


def nms_suppressed_boxes_still_suppress(boxes, scores, iou_threshold):
    from torchvision.ops import box_iou

    order = torch.argsort(scores, descending=True).tolist()
    iou = box_iou(boxes, boxes)
    return [i for k, i in enumerate(order) if all(iou[j, i] <= iou_threshold for j in order[:k])]


def nms_sorted_positions(boxes, scores, iou_threshold):
    order = torch.argsort(scores, descending=True)
    keep = solution_nms_positions(boxes[order], iou_threshold)
    return keep  # positions in the sorted copy, not original indices


def solution_nms_positions(sorted_boxes, iou_threshold):
    from torchvision.ops import box_iou

    iou = box_iou(sorted_boxes, sorted_boxes)
    keep, dead = [], torch.zeros(len(sorted_boxes), dtype=torch.bool)
    for i in range(len(sorted_boxes)):
        if not dead[i]:
            keep.append(i)
            dead |= iou[i] > iou_threshold
    return keep


def nms_no_sort(boxes, scores, iou_threshold):
    return solution_nms_positions(boxes, iou_threshold)


def nms_crashes_on_empty(boxes, scores, iou_threshold):
    if len(boxes) == 0:
        return torch.stack([])  # RuntimeError, like many hand-written versions
    return exercises.solution_nms(boxes, scores, iou_threshold)


@pytest.mark.parametrize(
    ("fn", "case", "hint"),
    [
        (nms_greater_equal, "IoU exactly at the threshold", "strictly"),
        (nms_suppressed_boxes_still_suppress, "chain: A suppresses B", "must not suppress"),
        (nms_sorted_positions, "scores not sorted", "ORIGINAL"),
        (nms_no_sort, "scores not sorted", ""),
        (nms_crashes_on_empty, "empty input", "N = 0"),
    ],
)
def test_check_nms_catches_bugs(fn, case, hint, capsys):
    assert check_nms(fn, n_random=N_RANDOM) is False
    out = capsys.readouterr().out
    assert f"✗ {fn.__name__} fails on case '{case}" in out
    assert hint in out


def test_check_nms_class_blind_fails_class_aware_check(capsys):
    def blind(boxes, scores, labels, iou_threshold):
        return exercises.solution_nms(boxes, scores, iou_threshold)

    assert check_nms(blind, class_aware=True, n_random=N_RANDOM) is False
    assert "fails on case 'same box, two classes'" in capsys.readouterr().out


def test_check_nms_per_class_concatenation_gets_order_hint(capsys):
    def unsorted(boxes, scores, labels, iou_threshold):
        out = []
        for c in sorted(set(labels.tolist())):
            idx = torch.nonzero(labels == c).flatten()
            out += idx[exercises.solution_nms(boxes[idx], scores[idx], iou_threshold)].tolist()
        return out

    assert check_nms(unsorted, class_aware=True, n_random=N_RANDOM) is False
    assert "sort them by decreasing score" in capsys.readouterr().out


def test_check_nms_wrong_signature_hint(capsys):
    assert check_nms(lambda boxes, scores: [], n_random=0) is False
    assert "fn(boxes, scores, iou_threshold)" in capsys.readouterr().out


def test_check_nms_tie_order_is_free(capsys):
    def reverse_ties(boxes, scores, iou_threshold):
        # visit tied boxes last-index-first: still a valid greedy NMS
        order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), -i))
        from torchvision.ops import box_iou

        iou = box_iou(boxes, boxes)
        keep, dead = [], set()
        for i in order:
            if i not in dead:
                keep.append(i)
                dead |= {j for j in order if iou[i, j] > iou_threshold}
        return keep

    assert check_nms(reverse_ties, n_random=N_RANDOM)


# -------------------------------------------------------------------------- AP bugs
def ap_no_envelope(scores, is_tp, num_gt):
    if num_gt == 0 or len(scores) == 0:
        return 0.0
    order = np.argsort(-scores)
    tp = np.cumsum(is_tp[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / num_gt
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def ap_recall_over_detections(scores, is_tp, num_gt):
    if num_gt == 0 or len(scores) == 0:
        return 0.0
    return solution_ap(scores, is_tp, int(np.sum(is_tp)) or 1)


def ap_no_sort(scores, is_tp, num_gt):
    return solution_ap(np.arange(len(scores), 0, -1), is_tp, num_gt)


def ap_nan_without_gt(scores, is_tp, num_gt):
    if len(scores) == 0:
        return 0.0
    tp = np.cumsum(is_tp[np.argsort(-scores)])
    return float(np.mean(tp / num_gt)) if num_gt else float("nan")


@pytest.mark.parametrize(
    ("fn", "case", "hint"),
    [
        (ap_no_envelope, "one miss at the top", "envelope"),
        (ap_recall_over_detections, "missed ground truths", "num_gt"),
        (ap_no_sort, "unsorted scores", "sort"),
        (ap_nan_without_gt, "all correct", ""),
    ],
)
def test_check_ap_catches_bugs(fn, case, hint, capsys):
    assert check_ap(fn, n_random=N_RANDOM) is False
    out = capsys.readouterr().out
    assert f"✗ {fn.__name__} fails on case '{case}'" in out
    assert hint in out


# -------------------------------------------------------------------------- guards
@pytest.mark.parametrize("check", [check_iou, check_nms, check_ap])
def test_checks_reject_non_callables(check):
    with pytest.raises(TypeError, match="fn must be a function"):
        check("my_iou")


@pytest.mark.parametrize("check", [check_iou, check_nms, check_ap])
def test_checks_reject_bad_n_random(check):
    with pytest.raises(ValueError, match="n_random must be a non-negative int"):
        check(solution_iou, n_random=-1)


def test_check_iou_rejects_unknown_format():
    with pytest.raises(ValueError, match="fmt must be 'xyxy' or 'xywh'"):
        check_iou(solution_iou, fmt="cxcywh")
