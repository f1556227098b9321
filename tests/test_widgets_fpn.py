"""Tests for lesson 06's FPN-level widget."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.viz.widgets.fpn import fpn_level, fpn_level_panel, make_fpn_level_widget


def test_fpn_level_matches_torchvision():
    from torchvision.ops.poolers import LevelMapper

    sides = [1, 3, 12, 27.9, 56, 111.99, 112, 223, 224, 447, 448, 896, 5000]
    boxes = torch.tensor([[0.0, 0.0, s, s] for s in sides])
    for scale in (224, 56):
        expected = (LevelMapper(2, 5, scale, 4)([boxes]) + 2).tolist()
        assert [fpn_level(s, canonical_scale=scale) for s in sides] == expected


def test_fpn_level_by_hand_and_validation():
    assert fpn_level(112) == math.floor(4 + math.log2(112 / 224)) == 3
    assert fpn_level(56, canonical_scale=56) == 4
    assert fpn_level(0) == 2
    assert fpn_level(10_000, k_max=6) == 6
    with pytest.raises(ValueError, match="side must be a finite number >= 0, got -1"):
        fpn_level(-1)
    with pytest.raises(TypeError, match="side must be a number of pixels"):
        fpn_level("40")
    with pytest.raises(ValueError, match="need k_min <= k_max"):
        fpn_level(40, k_min=5, k_max=2)


def test_panel_values():
    img = np.zeros((128, 96, 3), np.uint8)
    out = fpn_level_panel(img, 40)
    # paper: floor(4 + log2(40 / 224)) = 1 -> clamped to P2; course: floor(4 + log2(40 / 56)) = 3
    assert (out["level_paper"], out["level_course"]) == (2, 3)
    assert out["stride"] == 2**3
    assert out["grid"] == (128 // 8, 96 // 8)
    assert out["cells_per_roi"] == 40 / 8
    assert out["roi"] == [48 - 20, 64 - 20, 48 + 20, 64 + 20]
    big = fpn_level_panel(img, 448)
    assert (big["level_paper"], big["level_course"], big["grid"]) == (5, 5, (4, 3))


def test_panel_drawing():
    fig, axes = plt.subplots(1, 2)
    out = fpn_level_panel(torch.zeros(3, 64, 64), 100, axes=axes)
    assert out["level_course"] == math.floor(4 + math.log2(100 / 56))
    assert len(axes[0].patches) == 1  # the RoI
    assert axes[0].get_title().startswith("RoI 100 px -> P4 (stride 16)")
    assert len(axes[1].lines) == 2 + 1  # two rules and the current side
    assert axes[1].get_title() == f"paper rule: P{out['level_paper']}   course rule: P4"
    plt.close(fig)


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_fpn_level_widget(np.zeros((64, 64, 3), np.uint8), side=40)
    assert w.children[0].description == "RoI side (px)"
    assert w.static_png and w.static_text.startswith("FPN level of an RoI")
    assert "course rule P3" in w.static_text
    with pytest.raises(ValueError, match="side must be an int in"):
        make_fpn_level_widget(np.zeros((64, 64, 3), np.uint8), side=0)
    plt.close("all")
