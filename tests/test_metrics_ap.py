"""Tests for precision/recall curves and AP interpolations (dlcv_utils.metrics.ap, lesson 01)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils.metrics import AP_METHODS, average_precision, precision_recall_curve
from dlcv_utils.metrics.ap import COCO_RECALL_THRESHOLDS


def curve(tp, n_gt, scores=None):
    tp = np.asarray(tp, dtype=bool)
    if scores is None:
        scores = np.linspace(1, 0.01, len(tp)) if len(tp) else np.zeros(0)
    p, r, _ = precision_recall_curve(scores, tp, n_gt)
    return r, p


# ----------------------------------------------------------------------------- naive references
def naive_voc07(recall, precision):
    ap = 0.0
    for k in range(11):
        t = k / 10
        ps = [p for r, p in zip(recall, precision) if r >= t]
        ap += (max(ps) if ps else 0.0) / 11
    return ap


def naive_voc(recall, precision):
    """Area under the precision envelope, one rectangle per recall step."""
    ap, prev_r = 0.0, 0.0
    for i, r in enumerate(recall):
        if r > prev_r:
            ap += (r - prev_r) * max(precision[i:])
            prev_r = r
    return ap


def naive_coco(recall, precision):
    total = 0.0
    for t in COCO_RECALL_THRESHOLDS:
        idx = [i for i, r in enumerate(recall) if r >= t]
        total += max(precision[idx[0] :]) if idx else 0.0
    return total / 101


NAIVE = {"voc07": naive_voc07, "voc": naive_voc, "coco": naive_coco}


# ----------------------------------------------------------------------------- hand-computed
def test_precision_recall_curve_hand_computed():
    # ranking TP, FP, TP, FP with 3 objects
    p, r, t = precision_recall_curve([0.9, 0.3, 0.7, 0.5], [True, False, True, False], 3)
    assert t.tolist() == [0.9, 0.7, 0.5, 0.3]
    assert p.tolist() == pytest.approx([1 / 1, 2 / 2, 2 / 3, 2 / 4])
    assert r.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3])


def test_precision_recall_curve_ignored_and_stable_ties():
    # tie between the FP (first in input) and the TP: stable order keeps the FP first
    p, r, t = precision_recall_curve(
        [0.5, 0.5, 0.9], [False, True, False], 2, ignored=[False, False, True]
    )
    assert t.tolist() == [0.5, 0.5]  # the ignored detection is dropped
    assert p.tolist() == [0 / 1, 1 / 2]
    assert r.tolist() == [0 / 2, 1 / 2]


def test_three_interpolations_on_the_same_curve():
    # TP, FP, TP, FP, FP, TP with 4 objects
    r, p = curve([1, 0, 1, 0, 0, 1], n_gt=4)
    assert p.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 2 / 4, 2 / 5, 3 / 6])
    assert r.tolist() == pytest.approx([1 / 4, 1 / 4, 2 / 4, 2 / 4, 2 / 4, 3 / 4])
    # envelope: 1 up to recall 1/4, 2/3 up to 1/2, 1/2 up to 3/4, then 0
    assert average_precision(r, p, "voc") == pytest.approx(0.25 * 1 + 0.25 * 2 / 3 + 0.25 * 1 / 2)
    # 11-point: t = 0, .1, .2 -> 1; .3, .4, .5 -> 2/3; .6, .7 -> 1/2; .8, .9, 1 -> 0
    assert average_precision(r, p, "voc07") == pytest.approx((3 * 1 + 3 * 2 / 3 + 2 * 1 / 2) / 11)
    # 101-point: 0..0.25 (26) -> 1; 0.26..0.5 (25) -> 2/3; 0.51..0.75 (25) -> 1/2
    assert average_precision(r, p, "coco") == pytest.approx((26 + 25 * 2 / 3 + 25 * 1 / 2) / 101)


def test_perfect_detector_but_recall_capped_at_half():
    r, p = curve([1, 1], n_gt=4)
    assert average_precision(r, p, "voc") == pytest.approx(0.5)
    assert average_precision(r, p, "voc07") == pytest.approx(6 / 11)  # t = 0 .. 0.5
    assert average_precision(r, p, "coco") == pytest.approx(51 / 101)  # t = 0 .. 0.50


def test_first_ranked_detection_false_positive():
    r, p = curve([0, 1, 1], n_gt=2)  # precision 0, 1/2, 2/3; envelope 2/3 everywhere
    for method in AP_METHODS:
        assert average_precision(r, p, method) == pytest.approx(2 / 3), method


def test_perfect_detector_is_one():
    r, p = curve([1] * 7, n_gt=7)
    assert average_precision(r, p, "coco") == 1.0  # no eps here (pycocotools': 1/(1+eps))
    assert average_precision(r, p, "voc") == pytest.approx(1.0, abs=1e-12)
    assert average_precision(r, p, "voc07") == pytest.approx(1.0, abs=1e-12)


def test_empty_curve_and_no_ground_truth():
    assert average_precision([], [], "voc") == 0.0
    p, r, _ = precision_recall_curve([0.5], [False], 0)
    assert r.tolist() == [0.0] and p.tolist() == [0.0]


def test_coco_thresholds_are_pycocotools_linspace():
    assert COCO_RECALL_THRESHOLDS.tolist() == np.linspace(0.0, 1.0, 101).tolist()
    assert COCO_RECALL_THRESHOLDS[70] == 0.7000000000000001


# ----------------------------------------------------------------------------- properties
tp_lists = st.lists(st.booleans(), min_size=0, max_size=40)


@settings(max_examples=150, deadline=None)
@given(tp=tp_lists, extra=st.integers(0, 5), method=st.sampled_from(AP_METHODS))
def test_ap_in_unit_interval_and_matches_naive(tp, extra, method):
    n_gt = sum(tp) + extra
    r, p = curve(tp, n_gt)
    ap = average_precision(r, p, method)
    assert 0.0 <= ap <= 1.0
    if n_gt:
        assert ap == pytest.approx(NAIVE[method](r.tolist(), p.tolist()), abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(tp=tp_lists, extra=st.integers(0, 5), method=st.sampled_from(AP_METHODS))
def test_false_positive_at_lowest_score_never_raises_ap(tp, extra, method):
    n_gt = max(sum(tp) + extra, 1)
    r, p = curve(tp, n_gt)
    r2, p2 = curve([*tp, False], n_gt)
    assert average_precision(r2, p2, method) <= average_precision(r, p, method) + 1e-15


@settings(max_examples=100, deadline=None)
@given(tp=tp_lists, method=st.sampled_from(AP_METHODS))
def test_turning_a_false_positive_into_a_true_positive_never_lowers_ap(tp, method):
    n_gt = len(tp) + 1
    if False not in tp:
        return
    i = tp.index(False)
    better = [*tp]
    better[i] = True
    r, p = curve(tp, n_gt)
    r2, p2 = curve(better, n_gt)
    assert average_precision(r2, p2, method) >= average_precision(r, p, method) - 1e-15


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), method=st.sampled_from(AP_METHODS))
def test_perfect_detector_property(n, method):
    r, p = curve([True] * n, n)
    assert average_precision(r, p, method) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- guards
def test_guard_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        average_precision([0.5], [1.0], "voc2012")


def test_guard_lengths_nan_range_monotone():
    with pytest.raises(ValueError, match="same length"):
        average_precision([0.5, 1.0], [1.0], "voc")
    with pytest.raises(ValueError, match="recall must be finite"):
        average_precision([np.nan], [1.0])
    with pytest.raises(ValueError, match="precision must be finite"):
        average_precision([0.5], [np.inf])
    with pytest.raises(ValueError, match=r"precision must lie in \[0, 1\]"):
        average_precision([0.5], [1.5])
    with pytest.raises(ValueError, match=r"recall must lie in \[0, 1\]"):
        average_precision([-0.1], [0.5])
    with pytest.raises(ValueError, match="recall must be non-decreasing"):
        average_precision([0.5, 0.2], [1.0, 1.0])
    with pytest.raises(ValueError, match="recall must be 1-D"):
        average_precision([[0.5]], [[1.0]])
    with pytest.raises(TypeError, match="recall must be a 1-D numeric array"):
        average_precision(["a"], [1.0])


def test_guard_precision_recall_curve():
    with pytest.raises(ValueError, match="tp has length 1 but scores has length 2"):
        precision_recall_curve([0.1, 0.2], [True], 1)
    with pytest.raises(ValueError, match="ignored has length"):
        precision_recall_curve([0.1], [True], 1, ignored=[True, False])
    with pytest.raises(ValueError, match="scores must be finite"):
        precision_recall_curve([np.nan], [True], 1)
    with pytest.raises(ValueError, match="n_gt must be >= 0"):
        precision_recall_curve([0.1], [False], -1)
    with pytest.raises(ValueError, match="n_gt=1 is smaller than the number of true positives"):
        precision_recall_curve([0.1, 0.2], [True, True], 1)
    with pytest.raises(TypeError, match="n_gt must be an int"):
        precision_recall_curve([0.1], [True], 1.5)
    with pytest.raises(TypeError, match="tp must be boolean"):
        precision_recall_curve([0.1], [0.5], 1)


def test_guard_ignored_type():
    with pytest.raises(TypeError, match="ignored must be boolean"):
        precision_recall_curve([0.1], [True], 1, ignored=["yes"])
