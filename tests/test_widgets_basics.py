"""Tests for the lesson-01 slider panels (plain functions) and their widget wiring."""

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils.viz.widgets import basics
from dlcv_utils.viz.widgets.basics import (
    iou_panel,
    make_iou_widget,
    make_nms_widget,
    make_pr_widget,
    nms_panel,
    pr_panel,
)


@pytest.fixture(autouse=True)
def _close_figures():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        yield
    plt.close("all")


# ------------------------------------------------------------------------------ iou_panel
@pytest.mark.parametrize(
    ("boxes", "inter", "union"),
    [
        ((0, 0, 2, 2, 1, 1, 2, 2), 1 * 1, 4 + 4 - 1),  # partial overlap
        ((0, 0, 10, 10, 20, 20, 5, 5), 0, 100 + 25),  # disjoint
        ((0, 0, 10, 10, 2, 2, 4, 4), 4 * 4, 100),  # nested
        ((0, 0, 10, 10, 10, 0, 10, 10), 0, 100 + 100),  # touching edges
        ((3, 4, 5, 6, 3, 4, 5, 6), 5 * 6, 5 * 6),  # identical
        ((0, 0, 4, 2, 2, 0, 4, 2), 2 * 2, 8 + 8 - 4),  # half shifted
    ],
)
def test_iou_panel_hand_computed(boxes, inter, union):
    out = iou_panel(*boxes)
    assert out["intersection"] == inter
    assert out["union"] == union
    assert out["iou"] == pytest.approx(inter / union)


def test_iou_panel_boxes_and_areas():
    out = iou_panel(1, 2, 3, 4, 5, 6, 7, 8)
    assert out["box1"] == (1, 2, 1 + 3, 2 + 4)
    assert out["box2"] == (5, 6, 5 + 7, 6 + 8)
    assert (out["area1"], out["area2"]) == (3 * 4, 7 * 8)


def test_iou_panel_zero_union_is_zero_not_nan():
    out = iou_panel(5, 5, 0, 0, 5, 5, 0, 0)
    assert out["union"] == 0 and out["iou"] == 0.0


def test_iou_panel_agrees_with_package_box_iou():
    from dlcv_utils.ops.boxes import box_iou

    rng = np.random.default_rng(0)
    for _ in range(50):
        x1, y1, x2, y2 = rng.uniform(0, 100, 4)
        w1, h1, w2, h2 = rng.uniform(0, 60, 4)
        out = iou_panel(x1, y1, w1, h1, x2, y2, w2, h2)
        ref = box_iou(np.array([out["box1"]]), np.array([out["box2"]]))[0, 0]
        assert out["iou"] == pytest.approx(ref, abs=1e-12)


def test_iou_panel_draws_boxes_intersection_and_title():
    _, ax = plt.subplots()
    iou_panel(0, 0, 2, 2, 1, 1, 2, 2, ax=ax)
    assert len(ax.patches) == 3  # two boxes + the shaded intersection
    assert ax.get_title() == f"IoU = 1 / 7 = {1 / 7:.3f}"


def test_iou_panel_draws_on_photo_no_intersection_patch_when_disjoint():
    _, ax = plt.subplots()
    iou_panel(0, 0, 5, 5, 10, 10, 5, 5, image=np.zeros((30, 40, 3), np.uint8), ax=ax)
    assert len(ax.patches) == 2
    assert ax.images[0].get_array().shape == (30, 40, 3)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((0, 0, -1, 2, 1, 1, 2, 2), ValueError, "w1 must be >= 0"),
        ((0, 0, 1, 2, 1, 1, 2, -2), ValueError, "h2 must be >= 0"),
        ((np.nan, 0, 1, 2, 1, 1, 2, 2), ValueError, "x1 must be finite"),
        ((0, 0, 1, 2, 1, "1", 2, 2), TypeError, "y2 must be a number"),
        ((0, 0, 1, 2, 1, True, 2, 2), TypeError, "y2 must be a number"),
    ],
)
def test_iou_panel_validates(args, exc, match):
    with pytest.raises(exc, match=match):
        iou_panel(*args)


# ------------------------------------------------------------------------------ nms_panel
# A and B overlap with IoU 81/119 = 0.68; C and D likewise; A/B never touch C/D.
BOXES = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 21, 31, 31]], float)
SCORES = np.array([0.9, 0.8, 0.6, 0.3])


@pytest.mark.parametrize(
    ("score_threshold", "iou_threshold", "expected"),
    [
        (0.5, 0.5, [0, 2]),  # D under the confidence threshold, B suppressed by A
        (0.2, 0.5, [0, 2]),  # D now confident but suppressed by C
        (0.2, 81 / 119 + 0.01, [0, 1, 2, 3]),  # threshold above the overlaps: keep all
        (0.7, 0.9, [0, 1]),  # C and D below the confidence threshold
        (0.95, 0.5, []),
        (0.9, 0.5, []),  # a score equal to the threshold is filtered (strictly above)
    ],
)
def test_nms_panel_hand_computed(score_threshold, iou_threshold, expected):
    keep = nms_panel(BOXES, SCORES, score_threshold, iou_threshold)
    assert keep.dtype == np.int64
    assert keep.tolist() == expected


def test_nms_panel_accepts_torch_and_class_labels():
    keep = nms_panel(torch.tensor(BOXES), torch.tensor(SCORES), 0.0, 0.5, labels=[0, 1, 0, 0])
    assert keep.tolist() == [0, 1, 2]  # B is another class than A: kept


def test_nms_panel_draws_kept_solid_and_suppressed_dashed():
    _, ax = plt.subplots()
    img = np.zeros((40, 40, 3), np.uint8)
    nms_panel(BOXES, SCORES, 0.2, 0.5, image=img, ax=ax)
    styles = [p.get_linestyle() for p in ax.patches]
    assert styles.count("--") == 2 and styles.count("-") == 2
    assert [t.get_text() for t in ax.texts] == ["0.90", "0.60"]
    assert ax.get_title().startswith("kept 2 of 4: 0 below confidence 0.20, 2 suppressed")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"score_threshold": 1.5}, ValueError, "score_threshold must lie in"),
        ({"iou_threshold": -0.1}, ValueError, "iou_threshold must lie in"),
        ({"iou_threshold": "0.5"}, TypeError, "iou_threshold must be a number"),
        ({"ax": "not used"}, ValueError, "image is needed"),
    ],
)
def test_nms_panel_validates(kwargs, exc, match):
    args = {"score_threshold": 0.5, "iou_threshold": 0.5, **kwargs}
    with pytest.raises(exc, match=match):
        nms_panel(BOXES, SCORES, **args)


# ------------------------------------------------------------------------------- pr_panel
# image 0: GT G0; a perfect detection (0.9) and a duplicate with IoU 90/110 (0.7).
# image 1: GT G1; a detection with IoU 80/100 (0.8) and a false alarm (0.6).
GT = [np.array([[0, 0, 10, 10]]), np.array([[20, 20, 30, 30]])]
DETS = [
    np.array([[0, 0, 10, 10], [1, 0, 11, 10]]),
    np.array([[20, 20, 30, 28], [50, 50, 60, 60]]),
]
SC = [np.array([0.9, 0.7]), np.array([0.8, 0.6])]


def test_pr_panel_at_half():
    out = pr_panel(GT, DETS, SC, 0.5)
    assert out["n_gt"] == 2
    assert out["tp"].tolist() == [True, True, False, False]  # ranks 0.9, 0.8, 0.7, 0.6
    np.testing.assert_allclose(out["precision"], [1 / 1, 2 / 2, 2 / 3, 2 / 4])
    np.testing.assert_allclose(out["recall"], [1 / 2, 2 / 2, 2 / 2, 2 / 2])
    np.testing.assert_allclose(out["scores"], [0.9, 0.8, 0.7, 0.6])
    assert out["ap"] == pytest.approx(1.0)


def test_pr_panel_strict_threshold_turns_detections_into_false_positives():
    out = pr_panel(GT, DETS, SC, 0.85)  # 0.8 and 0.818 overlaps no longer count
    assert out["tp"].tolist() == [True, False, False, False]
    np.testing.assert_allclose(out["precision"], [1 / 1, 1 / 2, 1 / 3, 1 / 4])
    assert out["ap"] == pytest.approx(0.5 * 1.0)  # all-point: recall 1/2 at precision 1
    voc07 = pr_panel(GT, DETS, SC, 0.85, method="voc07")["ap"]
    assert voc07 == pytest.approx(6 / 11)  # recall levels 0, 0.1, ..., 0.5 have precision 1


def test_pr_panel_matches_package_average_precision():
    from dlcv_utils.metrics import average_precision

    for method in ("voc07", "voc", "coco"):
        out = pr_panel(GT, DETS, SC, 0.85, method=method)
        assert out["ap"] == average_precision(out["recall"], out["precision"], method=method)


def test_pr_panel_draws_curve_and_envelope():
    _, ax = plt.subplots()
    pr_panel(GT, DETS, SC, 0.5, ax=ax)
    assert len(ax.lines) == 2
    assert ax.get_title() == "IoU threshold 0.50: AP (voc) = 1.000"


def test_pr_panel_validates():
    with pytest.raises(ValueError, match="one entry per image"):
        pr_panel(GT, DETS[:1], SC, 0.5)
    with pytest.raises(ValueError, match="iou_threshold must lie in"):
        pr_panel(GT, DETS, SC, 1.2)


# ------------------------------------------------------------------------------ widgets
def _controls(w):
    return {c.description: c for c in w.kwargs_widgets}


def test_make_iou_widget_ranges_follow_the_image():
    w = make_iou_widget(image=np.zeros((100, 300, 3), np.uint8))
    c = _controls(w)
    assert sorted(c) == sorted(["x1", "y1", "w1", "h1", "x2", "y2", "w2", "h2"])
    assert c["x1"].max == 300 and c["w2"].max == 300
    assert c["y1"].max == 100 and c["h2"].max == 100
    assert (c["x1"].value, c["y1"].value, c["w1"].value, c["h1"].value) == (60, 20, 120, 40)


def test_make_iou_widget_custom_start_boxes():
    w = make_iou_widget(box1=(1, 2, 3, 4), box2=(5, 6, 7, 8))
    assert [c.value for c in w.kwargs_widgets] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_make_iou_widget_calls_the_panel_on_change(monkeypatch):
    calls = []
    real = basics.iou_panel

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(basics, "iou_panel", spy)
    w = make_iou_widget()
    _controls(w)["w1"].value = 17
    assert calls[-1][2] == 17


def test_make_nms_widget_sliders_and_wiring(monkeypatch):
    calls = []
    monkeypatch.setattr(basics, "nms_panel", lambda *a, **k: calls.append(a) or np.zeros(0, int))
    img = np.zeros((40, 40, 3), np.uint8)
    w = make_nms_widget(img, BOXES, SCORES, score_threshold=0.3, iou_threshold=0.6)
    c = _controls(w)
    assert (c["confidence"].min, c["confidence"].max, c["confidence"].value) == (0.0, 1.0, 0.3)
    assert (c["NMS IoU"].min, c["NMS IoU"].max, c["NMS IoU"].value) == (0.0, 1.0, 0.6)
    c["NMS IoU"].value = 0.25
    assert calls[-1][2:] == (0.3, 0.25)


def test_make_pr_widget_sliders_and_wiring(monkeypatch):
    calls = []
    real = basics.pr_panel

    def spy(*args, **kwargs):
        calls.append((args[3], kwargs["method"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(basics, "pr_panel", spy)
    w = make_pr_widget(GT, DETS, SC, iou_threshold=0.5, method="coco")
    c = _controls(w)
    assert (c["TP at IoU ≥"].min, c["TP at IoU ≥"].max) == (0.05, 0.95)
    assert c["AP method"].options == ("voc07", "voc", "coco")
    assert calls[-1] == (0.5, "coco")
    c["AP method"].value = "voc07"
    assert calls[-1] == (0.5, "voc07")


def test_real_widgets_run_their_callbacks_without_errors(caplog):
    # ipywidgets logs (instead of raising) an exception raised inside the callback
    img = np.zeros((40, 40, 3), np.uint8)
    widgets = [
        make_iou_widget(image=img),
        make_nms_widget(img, torch.tensor(BOXES), torch.tensor(SCORES), labels=[0, 1, 0, 0]),
        make_pr_widget(GT, DETS, SC),
    ]
    for w in widgets:
        w.kwargs_widgets[0].value = (
            w.kwargs_widgets[0].max if hasattr(w.kwargs_widgets[0], "max") else 0
        )
        w.update()
    assert "Exception in interact callback" not in caplog.text


def test_a_failing_callback_is_visible_in_the_log(caplog, monkeypatch):
    # the check above relies on this: a callback error shows up in the log
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(basics, "iou_panel", boom)
    make_iou_widget().update()
    assert "Exception in interact callback" in caplog.text


# ------------------------------------------------------------------------------ properties
coord = st.floats(min_value=-100, max_value=100, allow_nan=False)
size = st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(coord, coord, size, size, coord, coord, size, size)
def test_iou_panel_properties(x1, y1, w1, h1, x2, y2, w2, h2):
    from dlcv_utils.ops.boxes import box_iou

    out = iou_panel(x1, y1, w1, h1, x2, y2, w2, h2)
    swapped = iou_panel(x2, y2, w2, h2, x1, y1, w1, h1)
    assert 0.0 <= out["iou"] <= 1.0
    assert out["iou"] == pytest.approx(swapped["iou"], abs=1e-12)  # symmetric
    assert out["intersection"] <= min(out["area1"], out["area2"]) + 1e-9
    ref = box_iou(np.array([out["box1"]]), np.array([out["box2"]]))[0, 0]
    assert out["iou"] == pytest.approx(ref, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_nms_panel_monotone_in_the_confidence_threshold(t1, t2, iou_threshold):
    low, high = sorted((t1, t2))
    kept_low = set(nms_panel(BOXES, SCORES, low, iou_threshold).tolist())
    kept_high = set(nms_panel(BOXES, SCORES, high, iou_threshold).tolist())
    # raising the confidence threshold never brings back a box with a score above it...
    assert all(SCORES[i] > high for i in kept_high)
    # ...and every kept box above the higher threshold is also kept at the lower one here,
    # because the boxes that could suppress it (same cluster, higher score) are the same
    assert kept_high <= kept_low
