"""Tests for lesson 12's scaling widget and fusion-weight figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from dlcv_utils.viz.widgets.efficientdet import (
    make_scaling_widget,
    plot_fusion_weights,
    scaling_panel,
)

ROWS = {
    phi: dict(
        image_size=512 + 128 * phi,
        width=64 + 24 * phi,
        bifpn_layers=3 + phi,
        head_layers=3,
        params=4e6 * (1 + phi),
        macs=2.5e9 * 2**phi,
    )
    for phi in range(3)
}


def test_panel_numbers():
    out = scaling_panel(2, ROWS)
    assert out["image_size"] == 768 and out["growth"]["image_size"] == 768 / 512
    assert out["growth"]["macs"] == 4.0 and out["growth"]["params"] == 3.0
    assert out["growth"]["head_layers"] == 1.0
    with pytest.raises(ValueError, match=r"phi must be one of \[0, 1, 2\]"):
        scaling_panel(5, ROWS)
    with pytest.raises(ValueError, match=r"rows\[0\] lacks \['macs'\]"):
        scaling_panel(0, {0: {k: 1 for k in ROWS[0] if k != "macs"}})
    with pytest.raises(TypeError, match="rows must be a non-empty dict"):
        scaling_panel(0, {})


def test_panel_drawing():
    fig, axes = plt.subplots(1, 2)
    rows = {p: dict(r, paper_params=1.0, paper_macs=2.0) for p, r in ROWS.items()}
    scaling_panel(1, rows, axes=axes)
    assert len(axes[0].lines) == 2 + 2 + 1  # measured, paper, current phi
    assert axes[0].get_title() == "D1: 8.0 M params, 5.0 B MACs"
    assert len(axes[1].patches) == 6
    plt.close(fig)


def test_fusion_weights_plot():
    ax = plot_fusion_weights(
        [[0.5, 0.5], [0.3, 0.7], [0.2, 0.3, 0.5], [0.6, 0.4]], ["P3", "P4", "P5"]
    )
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["td P4", "td P3", "out P4", "out P5"]
    assert len(ax.patches) == 2 + 2 + 3 + 2
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["same", "td", "below"]
    assert len({tuple(h.get_facecolor()) for h in legend.legend_handles}) == 3
    with pytest.raises(ValueError, match="= 4 nodes, got 1"):
        plot_fusion_weights([[1.0]], ["P3", "P4", "P5"])
    plt.close("all")


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_scaling_widget(ROWS, phi=1)
    assert w.children[0].description == "phi"
    assert w.static_png and w.static_text.startswith("EfficientDet compound scaling")
    assert "D1: 640 px" in w.static_text
    with pytest.raises(ValueError, match="phi must be one of"):
        make_scaling_widget(ROWS, phi=9)
    plt.close("all")
