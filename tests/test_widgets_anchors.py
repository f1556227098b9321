"""Tests for lesson 05's anchor widget callback."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcv_utils.ops.anchors import generate_anchors
from dlcv_utils.viz.widgets.anchors import anchors_panel, make_anchors_widget


def test_counts_by_hand():
    img = np.zeros((128, 100, 3), np.uint8)
    out = anchors_panel(img, stride=16, scales=(16, 32), ratios=(0.5, 1.0, 2.0))
    assert out["feature_size"] == (128 // 16, -(-100 // 16))  # 8 x 7
    assert out["per_cell"] == 2 * 3
    assert out["n_anchors"] == 8 * 7 * 6
    assert out["cell"] == (4, 3)


def test_cell_anchors_are_the_right_rows():
    img = np.zeros((64, 64, 3), np.uint8)
    out = anchors_panel(img, stride=8, scales=(16,), ratios=(1.0, 2.0), cell=(2, 5))
    all_anchors = generate_anchors((8, 8), 8, (16,), (1.0, 2.0)).numpy()
    np.testing.assert_array_equal(
        out["cell_anchors"], all_anchors[(2 * 8 + 5) * 2 : (2 * 8 + 5) * 2 + 2]
    )
    # the square anchor of scale 16 is centred on the cell's corner (5 * 8, 2 * 8)
    np.testing.assert_array_equal(out["cell_anchors"][0], [40 - 8, 16 - 8, 40 + 8, 16 + 8])


def test_drawing():
    img = np.zeros((64, 64, 3), np.uint8)
    fig, ax = plt.subplots()
    out = anchors_panel(img, stride=16, scales=(16, 32, 64), ax=ax)
    assert len(ax.patches) == out["per_cell"] == 9
    grid_dots = ax.lines[0].get_xdata()
    assert len(grid_dots) == 4 * 4
    assert ax.get_title() == "stride 16: 4 x 4 cells x 9 anchors = 144"
    plt.close(fig)


def test_validation():
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="stride must be a positive int, got 0"):
        anchors_panel(img, stride=0)
    with pytest.raises(ValueError, match=r"cell must be \(row, col\) inside the 4 x 4 grid"):
        anchors_panel(img, stride=16, cell=(4, 0))
    with pytest.raises(ValueError, match="scales must be a non-empty sequence"):
        anchors_panel(img, scales=())


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_anchors_widget(np.zeros((64, 64, 3), np.uint8))
    assert w.children[0].description == "stride"
    plt.close("all")
