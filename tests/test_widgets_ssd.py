"""Tests for lesson 08's default-box widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.models.ssd import default_box_scales
from dlcv_utils.viz.widgets.ssd import default_boxes_panel, make_default_boxes_widget

IMG = np.zeros((128, 128, 3), np.uint8)


def test_panel_counts_and_scales():
    out = default_boxes_panel(IMG, np.zeros((0, 4)), level=1, levels=3, s_min=0.2, s_max=0.8)
    assert out["scales"] == pytest.approx([0.2, 0.5, 0.8, 1.0])
    assert out["grid"] == (128 // 16, 128 // 16)
    assert out["boxes_per_level"] == [16 * 16 * 4, 8 * 8 * 4, 4 * 4 * 4]
    assert out["positives_per_level"] == [0, 0, 0]
    assert len(out["level_positives"]) == 0


def test_panel_first_stride():
    out = default_boxes_panel(IMG, [[10.0, 10, 22, 22]], level=0, levels=4, first_stride=4)
    assert out["grid"] == (128 // 4, 128 // 4)
    assert out["boxes_per_level"] == [(128 // s) ** 2 * 4 for s in (4, 8, 16, 32)]
    with pytest.raises(ValueError, match="first_stride must be a power of 2"):
        default_boxes_panel(IMG, [], first_stride=6)


def test_panel_matches_a_box_on_its_level():
    # a 32 px square centred on a stride-16 cell centre: level 1 (s = 0.25 -> 32 px) fits it
    gt = [[40.0, 40.0, 72.0, 72.0]]
    out = default_boxes_panel(IMG, gt, level=1, levels=3, s_min=0.125, s_max=0.375)
    assert out["positives_per_level"][1] >= 1
    assert torch.equal(out["level_gt"], torch.zeros(len(out["level_positives"]), dtype=torch.int64))
    torch.testing.assert_close(out["level_positives"][0], torch.tensor(gt[0]))
    assert sum(out["positives_per_level"]) >= out["positives_per_level"][1]


def test_panel_drawing_and_validation():
    fig, ax = plt.subplots()
    out = default_boxes_panel(torch.zeros(3, 64, 64), [[0.0, 0, 20, 20], [30, 30, 60, 60]], ax=ax)
    # 2 ground truths + their positives + the 4 boxes of the centre cell
    assert len(ax.patches) == 2 + len(out["level_positives"]) + 4
    assert ax.get_title().startswith("level 0: 8 x 8 cells, s = 0.10")
    plt.close(fig)
    with pytest.raises(ValueError, match="level must be in 0..3"):
        default_boxes_panel(IMG, [], level=4)
    with pytest.raises(ValueError, match="s_min must be <= s_max"):
        default_boxes_panel(IMG, [], s_min=0.5, s_max=0.2)
    assert default_box_scales(4, 0.1, 0.6) == default_boxes_panel(IMG, [])["scales"]


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_default_boxes_widget(IMG, [[10.0, 10, 40, 40]])
    assert [c.description for c in w.children[:4]] == ["level", "s_min", "s_max", "aspect ratio"]
    assert w.static_png and w.static_text.startswith("SSD default boxes")
    with pytest.raises(ValueError, match="levels"):
        make_default_boxes_widget(IMG, [], levels=0)
    plt.close("all")
