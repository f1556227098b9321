"""Tests for lesson 09's widgets (YOLO grid and anchors; confidence and NMS thresholds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.models.small_yolo import SmallYOLO
from dlcv_utils.viz.widgets.yolo_grid import (
    make_yolo_grid_widget,
    make_yolo_thresholds_widget,
    yolo_grid_panel,
    yolo_thresholds_panel,
)

IMG = np.zeros((128, 128, 3), np.uint8)
SHAPES = np.array([[10, 10], [11, 11], [30, 30], [32, 32], [60, 30], [62, 31]], np.float32)


def test_grid_panel_cells_and_anchors():
    gt = [[0, 0, 20, 20], [100, 40, 128, 80]]  # centres (10, 10), (114, 60)
    out = yolo_grid_panel(IMG, gt, SHAPES, grid=4, k=3)
    assert out["cells"].tolist() == [[0, 0], [60 // 32, 114 // 32]]
    torch.testing.assert_close(
        out["anchors"], torch.tensor([[10.5, 10.5], [31.0, 31.0], [61.0, 30.5]])
    )
    # 20 x 20: IoU 110.25 / 400 with 10.5 x 10.5, 400 / 961 with 31 x 31 -> anchor 1;
    # 28 x 40: 868 / 1213 with 31 x 31, 854 / 2126.5 with 61 x 30.5 -> anchor 1
    assert 400 / 961 > 110.25 / 400 and 868 / 1213 > 854 / 2126.5
    assert out["best"].tolist() == [1, 1]
    assert 0.9 < out["mean_iou"] <= 1.0


def test_grid_panel_draws_and_validates():
    fig, ax = plt.subplots()
    yolo_grid_panel(IMG, [[0, 0, 20, 20]], SHAPES, grid=7, k=2, ax=ax)
    assert "S = 7" in ax.get_title() and len(ax.patches) >= 1
    plt.close(fig)
    with pytest.raises(ValueError, match="square"):
        yolo_grid_panel(np.zeros((64, 32, 3), np.uint8), [], SHAPES)
    with pytest.raises(ValueError, match="grid"):
        yolo_grid_panel(IMG, [], SHAPES, grid=0)
    with pytest.raises(ValueError, match="at least k"):
        yolo_grid_panel(IMG, [], SHAPES, k=10)


def _model():
    torch.manual_seed(0)
    return SmallYOLO(3, [[(16, 16)], [(32, 32)]], strides=(8, 16), widths=(8, 8, 8, 8, 8)).eval()


def test_thresholds_panel_monotone_and_restores():
    model = _model()
    with torch.no_grad():
        raw = model.forward_raw(torch.rand(1, 3, 64, 64))
    counts = [
        len(yolo_thresholds_panel(IMG[:64, :64], raw, model, s, 1.0)["boxes"])
        for s in (0.0, 0.005, 0.5)
    ]
    assert counts[0] >= counts[1] >= counts[2]
    assert counts[0] == 100  # detections_per_img caps the boxes when every score passes
    nms = len(yolo_thresholds_panel(IMG[:64, :64], raw, model, 0.0, 0.3)["boxes"])
    assert nms <= counts[0]
    assert (model.score_thresh, model.nms_thresh) == (0.05, 0.5)
    with pytest.raises(ValueError, match="score_thresh"):
        yolo_thresholds_panel(IMG, raw, model, 1.5, 0.5)


def test_widgets_build():
    pytest.importorskip("ipywidgets")
    w = make_yolo_grid_widget(IMG, [[0, 0, 20, 20]], SHAPES)
    assert w is not None
    model = _model()
    with torch.no_grad():
        raw = model.forward_raw(torch.rand(1, 3, 64, 64))
    assert make_yolo_thresholds_widget(IMG[:64, :64], raw, model) is not None
    plt.close("all")
