"""Tests for lesson 11's focal-loss widget."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from dlcv_utils.viz.widgets.focal import focal_loss_panel, make_focal_loss_widget

LOGITS = torch.tensor([2.0, -6.0, -6.0, -6.0, 0.5])
TARGETS = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])


def _ce(x, t):
    p = 1 / (1 + math.exp(-x))
    return -math.log(p if t else 1 - p)


def test_panel_shares_by_hand():
    out = focal_loss_panel(LOGITS, TARGETS, gamma=0.0, alpha=-1)
    ce = [_ce(x, t) for x, t in zip(LOGITS.tolist(), TARGETS.tolist())]
    total = sum(ce)
    assert out["ce_total"] == pytest.approx(total, rel=1e-4)
    assert out["ce"]["positives"] == pytest.approx(ce[0] / total, rel=1e-4)
    assert out["ce"]["hard negatives"] == pytest.approx(ce[4] / total, rel=1e-4)
    assert out["ce"]["easy negatives"] == pytest.approx(sum(ce[1:4]) / total, rel=1e-4)
    # gamma 0 and no alpha: the focal loss is the cross-entropy
    assert out["focal"] == pytest.approx(out["ce"])
    assert out["n"] == {"positives": 1, "hard negatives": 1, "easy negatives": 3}
    assert out["factor_at_09"] == 1.0


def test_panel_gamma_moves_loss_off_easy_negatives():
    shares = [
        focal_loss_panel(LOGITS, TARGETS, gamma=g)["focal"]["easy negatives"] for g in (0, 1, 2, 5)
    ]
    assert shares == sorted(shares, reverse=True) and shares[-1] < 1e-6
    out = focal_loss_panel(LOGITS, TARGETS, gamma=2.0, alpha=0.25)
    assert sum(out["focal"].values()) == pytest.approx(1.0)
    assert out["factor_at_09"] == pytest.approx(0.1**2)
    with pytest.raises(ValueError, match="same shape"):
        focal_loss_panel(LOGITS, TARGETS[:3])
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        focal_loss_panel(LOGITS, TARGETS, gamma=-1.0)


def test_panel_drawing():
    fig, axes = plt.subplots(1, 2)
    focal_loss_panel(LOGITS, TARGETS, gamma=2.0, axes=axes)
    assert len(axes[0].lines) == 1 + 3 + 1  # CE, three faint gammas, the chosen one
    assert axes[0].get_title() == "(1 - p_t)^gamma at p_t = 0.9: 0.01"
    assert len(axes[1].patches) == 2 * 3  # two bars of three parts
    assert axes[1].get_title().startswith("easy negatives: ")
    plt.close(fig)


def test_widget_builds():
    pytest.importorskip("ipywidgets")
    w = make_focal_loss_widget(LOGITS, TARGETS, gamma=2.0, alpha=0.25)
    assert [c.description for c in w.kwargs_widgets] == ["gamma", "alpha"]
    assert w.static_png and w.static_text.startswith("Focal loss: the loss curve")
    assert "gamma 2, alpha 0.25: easy negatives carry" in w.static_text
    with pytest.raises(ValueError, match="gamma must be a number in"):
        make_focal_loss_widget(LOGITS, TARGETS, gamma=9.0)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        make_focal_loss_widget(LOGITS, TARGETS, alpha=2.0)
    plt.close("all")
