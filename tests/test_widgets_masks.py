"""Tests for lesson 13's mask widget and colour splash."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.viz.widgets.masks import color_splash, make_mask_widget, mask_panel


def _probs():
    p = np.zeros((2, 1, 10, 12), np.float32)
    p[0, 0, 2:6, 2:6] = 0.9  # 16 px sure
    p[0, 0, 1, 2:6] = 0.4  # a soft row of 4 px
    p[1, 0, 7:9, 8:12] = 0.6  # 8 px
    return p


def test_color_splash_matches_opencv_grey_outside():
    import cv2

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    out = color_splash(img, _probs(), 0.5)
    inside = (_probs()[:, 0] >= 0.5).any(0)
    assert np.array_equal(out[inside], img[inside])
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    assert np.abs(out[~inside][:, 0].astype(int) - grey[~inside]).max() <= 1
    assert (out[..., 0] == out[..., 1])[~inside].all()
    # threshold 0.3 takes the soft row in too; no masks: everything grey
    assert (color_splash(img, _probs(), 0.3) == img).all(-1).sum() >= inside.sum() + 4
    all_grey = color_splash(torch.from_numpy(img).permute(2, 0, 1) / 255.0, np.zeros((0, 10, 12)))
    assert (all_grey[..., 0] == all_grey[..., 2]).all()


def test_color_splash_rejects_bad_input():
    img = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(ValueError, match=r"masks must be \[N, 10, 12\]"):
        color_splash(img, np.zeros((1, 9, 12)))
    with pytest.raises(ValueError, match="threshold must be a number in"):
        color_splash(img, _probs(), 1.5)
    with pytest.raises(TypeError, match="threshold must be a number"):
        color_splash(img, _probs(), "0.5")


def test_mask_panel_values():
    img = np.zeros((10, 12, 3), np.uint8)
    out = mask_panel(img, _probs(), [0.9, 0.7], mask_threshold=0.5, score_threshold=0.5)
    assert out["kept"] == [0, 1] and out["areas"] == [16, 8]
    assert mask_panel(img, _probs(), [0.9, 0.7], mask_threshold=0.3)["areas"] == [16 + 4, 8]
    assert mask_panel(img, _probs(), [0.9, 0.7], mask_threshold=0.7)["areas"] == [16, 0]
    only = mask_panel(img, _probs(), [0.9, 0.3], score_threshold=0.5)
    assert only["kept"] == [0] and only["masks"].shape == (1, 10, 12)
    assert only["soft_pixels"] == 16 + 4  # 0.9 and 0.4 are both strictly inside (0.05, 0.95)
    with pytest.raises(ValueError, match="scores must have one value per mask"):
        mask_panel(img, _probs(), [0.9])
    with pytest.raises(ValueError, match="labels must have one value per mask"):
        mask_panel(img, _probs(), [0.9, 0.7], [1])


def test_mask_panel_drawing():
    fig, axes = plt.subplots(1, 2)
    mask_panel(
        np.zeros((10, 12, 3), np.uint8), _probs(), [0.9, 0.7], [1, 2],
        class_names=["bg", "a", "b"], axes=axes,
    )  # fmt: skip
    assert axes[0].get_title() == "2 masks at threshold 0.50"
    assert axes[1].get_title() == "colour splash" and len(axes[1].images) == 1
    plt.close(fig)


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_mask_widget(np.zeros((10, 12, 3), np.uint8), _probs(), [0.9, 0.7], [1, 2])
    assert [c.description for c in w.kwargs_widgets] == ["mask threshold", "score threshold"]
    assert w.static_png and w.static_text.startswith("Instance masks at a mask threshold")
    assert "mask areas [16, 8] px" in w.static_text
    with pytest.raises(ValueError, match="mask_threshold must be a number in"):
        make_mask_widget(np.zeros((10, 12, 3), np.uint8), _probs(), [0.9, 0.7], mask_threshold=2)
    plt.close("all")
