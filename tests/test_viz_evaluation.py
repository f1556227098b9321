"""Tests for dlcv_utils.viz.evaluation: TP/FP/FN matching, the detection confusion matrix, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from dlcv_utils.viz.evaluation import (
    FN_COLOR,
    FP_COLOR,
    TP_COLOR,
    collect_predictions,
    detection_confusion_matrix,
    draw_tp_fp_fn,
    match_image,
    plot_confusion_matrix,
    plot_per_class_ap,
    show_evaluation,
)

NAMES = ("__background__", "circle", "square", "star")


def box(x, y, side=10):
    return [x, y, x + side, y + side]


# ------------------------------------------------------------------------------ match_image
def test_match_image_counts_by_hand():
    gt = [box(0, 0), box(20, 0), box(40, 0), box(60, 0)]
    gt_labels = [1, 1, 2, 3]
    pred = [
        box(0, 0),  # circle on circle: TP
        box(1, 0),  # second circle on the same circle: FP (duplicate)
        box(20, 0),  # square on a circle: FP (class-aware), and that circle is missed
        box(40, 1),  # square on square, IoU 90/110 >= 0.5: TP
        box(60, 5),  # star on star, IoU 50/150 < 0.5: FP, the star is missed
        box(90, 90),  # on nothing: FP
    ]
    scores = [0.9, 0.85, 0.8, 0.7, 0.6, 0.55]
    labels = [1, 1, 2, 2, 3, 1]
    m = match_image(pred, scores, labels, gt, gt_labels, iou_threshold=0.5)
    assert m["tp"].tolist() == [True, False, False, True, False, False]
    assert m["fp"].tolist() == [False, True, True, False, True, True]
    assert m["gt_found"].tolist() == [True, False, True, False]
    assert (m["n_tp"], m["n_fp"], m["n_fn"]) == (2, 6 - 2, 4 - 2)
    # a looser IoU turns the star into a TP: one TP more, one FP and one FN fewer
    m = match_image(pred, scores, labels, gt, gt_labels, iou_threshold=0.3)
    assert (m["n_tp"], m["n_fp"], m["n_fn"]) == (3, 3, 1)


def test_match_image_score_threshold_and_greedy_order():
    gt = [box(0, 0)]
    pred = [box(1, 0), box(0, 0)]  # the better box scores lower
    m = match_image(pred, [0.9, 0.6], [1, 1], gt, [1])
    assert m["tp"].tolist() == [True, False]  # greedy by score, not by IoU
    m = match_image(pred, [0.4, 0.6], [1, 1], gt, [1], score_threshold=0.5)
    assert m["keep"].tolist() == [False, True]
    assert m["tp"].tolist() == [False, True] and m["fp"].tolist() == [False, False]


def test_match_image_empty_inputs():
    m = match_image(np.zeros((0, 4)), [], [], [box(0, 0)], [2])
    assert (m["n_tp"], m["n_fp"], m["n_fn"]) == (0, 0, 1)
    m = match_image([box(0, 0)], [0.9], [2], np.zeros((0, 4)), [])
    assert (m["n_tp"], m["n_fp"], m["n_fn"]) == (0, 1, 0)


def test_match_image_validation():
    with pytest.raises(ValueError, match=r"pred_boxes must have shape \[N, 4\]"):
        match_image([[0, 0, 1]], [0.5], [1], [box(0, 0)], [1])
    with pytest.raises(ValueError, match="pred_scores has length 2 but its boxes have 1 rows"):
        match_image([box(0, 0)], [0.5, 0.4], [1], [box(0, 0)], [1])
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\], got 1.5"):
        match_image([box(0, 0)], [0.5], [1], [box(0, 0)], [1], iou_threshold=1.5)
    with pytest.raises(ValueError, match="gt_boxes contains NaN"):
        match_image([box(0, 0)], [0.5], [1], [[0, 0, np.nan, 1]], [1])


def test_draw_tp_fp_fn_colours():
    fig, ax = plt.subplots()
    pred = {
        "boxes": torch.tensor([box(0, 0), box(30, 30)], dtype=torch.float32),
        "scores": torch.tensor([0.9, 0.8]),
        "labels": torch.tensor([1, 2]),
    }
    target = {"boxes": torch.tensor([box(0, 0), box(50, 0)]), "labels": torch.tensor([1, 3])}
    m = draw_tp_fp_fn(ax, torch.zeros(3, 64, 64), pred, target, class_names=NAMES)
    assert (m["n_tp"], m["n_fp"], m["n_fn"]) == (1, 1, 1)
    edges = [matplotlib.colors.to_hex(p.get_edgecolor()) for p in ax.patches]
    assert edges == [matplotlib.colors.to_hex(c) for c in (TP_COLOR, FP_COLOR, FN_COLOR)]
    assert ax.patches[2].get_linestyle() == "--"
    assert ax.get_title() == "TP 1 · FP 1 · FN 1"
    plt.close(fig)


# ------------------------------------------------------------------------------ confusion
def test_confusion_matrix_by_hand():
    t1 = {"boxes": [box(0, 0), box(20, 0), box(40, 0)], "labels": [1, 2, 3]}
    p1 = {
        "boxes": [box(0, 0), box(20, 0), box(1, 1), box(80, 80), box(40, 0)],
        "scores": [0.9, 0.8, 0.7, 0.6, 0.3],
        "labels": [1, 3, 1, 2, 3],
    }
    t2 = {"boxes": [box(0, 0)], "labels": [2]}
    p2 = {"boxes": np.zeros((0, 4)), "scores": [], "labels": []}
    m = detection_confusion_matrix([p1, p2], [t1, t2], num_classes=4, score_threshold=0.5)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[1, 1] += 1  # circle found as circle
    expected[2, 3] += 1  # square called a star (class-agnostic matching)
    expected[0, 1] += 1  # duplicate circle: nothing left under it -> background row
    expected[0, 2] += 1  # square on empty space
    expected[3, 0] += 1  # the star: its prediction scores 0.3 < 0.5 -> missed
    expected[2, 0] += 1  # image 2: the square nobody predicted
    np.testing.assert_array_equal(m, expected)
    assert m.dtype == np.int64
    # every object is counted once per row: the row sums are the objects per class
    assert m[1:].sum(axis=1).tolist() == [1, 2, 1]
    # every kept prediction is counted once per column
    assert m[:, 1:].sum() == 4


def test_confusion_matrix_iou_threshold():
    t = [{"boxes": [box(0, 0)], "labels": [1]}]
    p = [{"boxes": [box(0, 5)], "scores": [0.9], "labels": [1]}]  # IoU 50/150 = 1/3
    assert detection_confusion_matrix(p, t, 2, iou_threshold=0.3).tolist() == [[0, 0], [0, 1]]
    assert detection_confusion_matrix(p, t, 2, iou_threshold=0.5).tolist() == [[0, 1], [1, 0]]


def test_confusion_matrix_validation():
    t = [{"boxes": [box(0, 0)], "labels": [1]}]
    p = [{"boxes": [box(0, 0)], "scores": [0.9], "labels": [3]}]
    with pytest.raises(ValueError, match=r"predictions\[0\]\['labels'\] must lie in 1..2"):
        detection_confusion_matrix(p, t, 3)
    with pytest.raises(ValueError, match="one entry per image, got 1 and 2"):
        detection_confusion_matrix(p, t * 2, 4)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        detection_confusion_matrix(p, t, 1)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        detection_confusion_matrix(p, t, 4.0)


def test_plot_confusion_matrix_writes_counts():
    m = np.array([[0, 2, 0], [1, 5, 0], [0, 1, 3]])
    ax = plot_confusion_matrix(m, ("bg", "circle", "square"))
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["2", "0", "1", "5", "0", "0", "1", "3"]  # [0, 0] is left blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ["background", "circle", "square"]
    objects, right = 1 + 5 + 0 + 0 + 1 + 3, 5 + 3
    assert ax.get_title() == f"confusion matrix\n{right} of {objects} objects found, right class"
    with pytest.raises(ValueError, match="class_names has 2 entries but matrix is 3 x 3"):
        plot_confusion_matrix(m, ("bg", "circle"))
    plt.close("all")


def test_plot_per_class_ap():
    ax = plot_per_class_ap({"circle": 0.8, "square": 0.4, "star": -1})
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.8, 0.4, 0.0])
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.40", "no GT"]
    assert ax.get_title() == f"AP per class (mean {(0.8 + 0.4) / 2:.3f})"
    ax = plot_per_class_ap({1: 0.5, 2: 1.0}, class_names=NAMES)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["circle", "square"]
    with pytest.raises(ValueError, match="per_class is empty"):
        plot_per_class_ap({})
    with pytest.raises(ValueError, match=r"per_class\['x'\] must be an AP in \[0, 1\] or -1"):
        plot_per_class_ap({"x": 1.5})
    plt.close("all")


# ------------------------------------------------------------------------------ with a model
class Echo(nn.Module):
    """Predicts each image's ground truth (kept in a list), shifted and relabelled by rules."""

    def __init__(self, targets):
        super().__init__()
        self.targets = targets
        self.calls = 0
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        assert not self.training
        out = []
        for _ in images:
            t = self.targets[self.calls]
            self.calls += 1
            n = len(t["boxes"])
            labels = t["labels"].clone()
            labels[-1:] = labels[-1:] % 3 + 1  # the last object gets the wrong class
            out.append(
                {
                    "boxes": t["boxes"].float(),
                    "scores": torch.linspace(0.9, 0.6, n),
                    "labels": labels,
                }
            )
        return out


def test_collect_predictions_and_show_evaluation():
    targets = [
        {
            "boxes": torch.tensor([box(0, 0), box(20, 20)], dtype=torch.float32),
            "labels": torch.tensor([1, 2]),
        }
        for _ in range(5)
    ]
    loader = [
        ([torch.zeros(3, 40, 40)] * 2, targets[:2]),
        ([torch.zeros(3, 40, 40)] * 3, targets[2:]),
    ]
    model = Echo(targets).train()
    images, tgts, preds = collect_predictions(model, loader, max_images=4)
    assert len(images) == len(tgts) == len(preds) == 4
    assert model.training  # mode restored
    model.calls = 0
    fig, res = show_evaluation(
        model, loader, NAMES, per_class={"circle": 1.0, "square": 0.0, "star": -1}
    )
    # per image: circle right (TP), square called star (FP + FN); 5 images
    assert (res["n_tp"], res["n_fp"], res["n_fn"]) == (5, 5, 5)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[1, 1] = 5
    expected[2, 3] = 5
    np.testing.assert_array_equal(res["matrix"], expected)
    assert len(fig.axes) == 3 + 2
    plt.close(fig)
    with pytest.raises(ValueError, match="max_images must be an int >= 1"):
        collect_predictions(model, loader, max_images=0)
