"""Tests for lesson 04's RoI-pooling widget."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torchvision

from dlcv_utils.viz.widgets.roi import make_roi_pool_widget, roi_bins, roi_pool_panel


def test_roi_bins_by_hand():
    # RoI 4..27 px at scale 1/4 -> cells round(1) .. round(6.75) = 1 .. 7: 7 cells into 3 bins
    cells, ys, xs = roi_bins((4, 4, 27, 27), 3, 0.25, (10, 10))
    assert cells == (1, 1, 7, 7)
    n = 7
    expected = [[1 + math.floor(i * n / 3), 1 + math.ceil((i + 1) * n / 3)] for i in range(3)]
    assert xs.tolist() == ys.tolist() == expected == [[1, 4], [3, 6], [5, 8]]
    # half away from zero: 2 * 0.25 = 0.5 -> 1
    assert roi_bins((2, 2, 10, 10), 1, 0.25, (8, 8))[0][:2] == (1, 1)
    # clipped to the map
    _, ys, _ = roi_bins((0, 0, 100, 100), 2, 1.0, (8, 8))
    assert ys.tolist() == [[0, 8], [8, 8]]  # the second bin is outside: empty


def test_panel_matches_torchvision_on_every_size():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(6, 20, 24, generator=g)
    roi = (10.0, 6.0, 70.0, 50.0)
    for p in range(1, 9):
        out = roi_pool_panel(feats, roi, p, 0.25, n_timed=0)
        ref = torchvision.ops.roi_pool(feats[None], torch.tensor([[0.0, *roi]]), p, 0.25)[0]
        torch.testing.assert_close(out["pooled"], ref)
        assert len(out["values"]) == 6 * p * p
        # each bin's value is the max over its cells
        ys, xs = out["y_edges"], out["x_edges"]
        i, j = p - 1, 0
        torch.testing.assert_close(
            out["pooled"][:, i, j], feats[:, ys[i, 0] : ys[i, 1], xs[j, 0] : xs[j, 1]].amax((1, 2))
        )
        assert math.isnan(out["ms_per_1000"])


def test_panel_empty_bins_and_timing():
    feats = torch.rand(2, 8, 8)
    out = roi_pool_panel(feats[None], (0, 0, 100, 100), 2, 1.0, n_timed=50)
    assert out["empty_bins"] == 2 * 2 - 1  # only bin (0, 0) lies on the map
    assert out["pooled"][:, 1, 1].tolist() == [0.0, 0.0]
    assert out["ms_per_1000"] > 0


def test_panel_drawing():
    feats = torch.rand(4, 16, 16)
    fig, axes = plt.subplots(1, 2)
    out = roi_pool_panel(feats, (8, 8, 40, 40), 3, 0.25, channel=2, n_timed=10, axes=axes)
    assert len(axes[0].patches) == 3 * 3 + 1  # the bins and the RoI
    assert "channel 2" in axes[0].get_title()
    assert axes[1].get_title().startswith("pooled 3x3 x 4 channels, ")
    np.testing.assert_allclose(axes[1].images[0].get_array(), out["pooled"][2].numpy())
    plt.close(fig)


def test_validation():
    feats = torch.rand(4, 16, 16)
    with pytest.raises(ValueError, match="output_size must be an int >= 1, got 0"):
        roi_pool_panel(feats, (0, 0, 8, 8), 0, 0.25)
    with pytest.raises(ValueError, match=r"channel must be None or an int in \[0, 4\)"):
        roi_pool_panel(feats, (0, 0, 8, 8), 2, 0.25, channel=4)
    with pytest.raises(ValueError, match=r"features must have shape \[C, H, W\]"):
        roi_pool_panel(torch.rand(16, 16), (0, 0, 8, 8), 2, 0.25)
    with pytest.raises(TypeError, match="features must be a torch.Tensor"):
        roi_pool_panel(np.zeros((1, 4, 4)), (0, 0, 8, 8), 2, 0.25)


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_roi_pool_widget(torch.rand(8, 32, 32), (10, 10, 90, 70), 0.25, output_size=7)
    assert [c.description for c in w.kwargs_widgets] == ["output_size", "channel (-1 = mean)"]
    assert w.static_png and "7x7 bins" in w.static_text
    with pytest.raises(ValueError, match=r"output_size must be an int in \[1, 8\]"):
        make_roi_pool_widget(torch.rand(8, 32, 32), (10, 10, 90, 70), 0.25, output_size=9)
    plt.close("all")
