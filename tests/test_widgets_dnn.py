"""Tests for lesson 07's OpenCV DNN pictures and the confidence / NMS widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.viz.widgets.dnn import blob_panel, detections_panel, make_detections_widget


def test_blob_panel_regions_and_blob():
    cv2 = pytest.importorskip("cv2")
    img = np.random.default_rng(0).integers(0, 256, (60, 120, 3), dtype=np.uint8)
    out = blob_panel(img, (30, 30), 1 / 255, (10, 20, 30), True, True)
    # scale by max(30/120, 30/60) = 0.5 -> 60 x 30, centre 30 x 30 -> x from 15 to 45 (x2 = 30..90)
    assert out["region"] == (30.0, 0.0, 90.0, 60.0)
    np.testing.assert_array_equal(
        out["blob"], cv2.dnn.blobFromImage(img, 1 / 255, (30, 30), (10, 20, 30), True, True)
    )
    assert out["view"].shape == (30, 30, 3) and out["view"].dtype == np.uint8
    assert out["view"].min() == 0 and out["view"].max() == 255
    fig, axes = plt.subplots(1, 2)
    blob_panel(img, (30, 30), axes=axes)
    assert len(axes[0].patches) == 1 and "crop=False" in axes[1].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="image must be an H x W x 3 uint8"):
        blob_panel(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="size must be"):
        blob_panel(img, (0, 3))


def test_detections_panel_scales_boxes_and_counts():
    anchors = torch.tensor([[0.0, 0.0, 8.0, 8.0], [1.0, 0.0, 9.0, 8.0], [8.0, 8.0, 16.0, 16.0]])
    logits = torch.tensor([[3.0], [2.0], [-3.0]])
    img = np.zeros((32, 64, 3), np.uint8)  # network input 16 x 16: x scales by 4, y by 2
    out = detections_panel(img, logits, torch.zeros(3, 4), anchors, (16, 16), 0.5, 0.5)
    assert out["n_before_nms"] == 2 and len(out["boxes"]) == 1
    assert out["boxes"].tolist() == [[0.0, 0.0, 32.0, 16.0]]
    off = detections_panel(img, logits, torch.zeros(3, 4), anchors, (16, 16), 0.01, 1.0)
    assert off["n_before_nms"] == len(off["boxes"]) == 3
    fig, ax = plt.subplots()
    detections_panel(img, logits, torch.zeros(3, 4), anchors, (16, 16), 0.5, 0.5, ax=ax)
    assert "after NMS @ 0.50: 1" in ax.get_title()
    plt.close(fig)


def test_widget_shows_its_first_setting():
    pytest.importorskip("ipywidgets")
    anchors = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    w = make_detections_widget(
        np.zeros((16, 16, 3), np.uint8), torch.tensor([[3.0]]), torch.zeros(1, 4), anchors, (16, 16)
    )
    assert w.static_png and "1 boxes above 0.50, 1 after NMS" in w.static_text
    assert [c.description for c in w.kwargs_widgets] == ["confidence", "NMS IoU"]
