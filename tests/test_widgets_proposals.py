"""Tests for the lesson-03 proposals panel (a plain function) and its widget wiring."""

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcv_utils.proposals.selective_search import selective_search
from dlcv_utils.viz.widgets.proposals import make_proposals_widget, proposals_panel


@pytest.fixture(autouse=True)
def _close_figures():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        yield
    plt.close("all")


def photo():
    img = np.full((48, 64, 3), 100, dtype=np.uint8)
    img[5:20, 5:30] = (250, 20, 20)
    img[25:45, 35:60] = (20, 20, 250)
    return img


def test_panel_returns_the_selective_search_boxes():
    img = photo()
    out = proposals_panel(img, scale=80, min_size=20, texture=False, max_boxes=4)
    ref = selective_search(img, scale=80, min_size=20, similarities=("color", "size", "fill"))
    assert out["similarities"] == ("color", "size", "fill")
    assert out["n_proposals"] == len(ref)
    np.testing.assert_array_equal(out["boxes"], ref[:4])


def test_panel_draws_boundaries_boxes_and_title():
    _, ax = plt.subplots()
    out = proposals_panel(photo(), scale=80, min_size=20, max_boxes=3, ax=ax)
    assert len(ax.patches) == len(out["boxes"]) == 3
    assert (
        ax.get_title()
        == f"{out['n_segments']} segments, {out['n_proposals']} proposals (top 3 drawn)"
    )
    assert len(ax.images) == 1


def test_bigger_scale_gives_fewer_segments():
    rng = np.random.default_rng(0)
    img = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    small = proposals_panel(img, scale=10, min_size=5)
    large = proposals_panel(img, scale=1000, min_size=5)
    assert large["n_segments"] < small["n_segments"]


def test_no_similarity_ticked_runs_nothing():
    _, ax = plt.subplots()
    out = proposals_panel(photo(), color=False, texture=False, size=False, fill=False, ax=ax)
    assert out["n_proposals"] == 0 and out["boxes"].shape == (0, 4)
    assert ax.get_title() == out["message"] == "tick at least one similarity"


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_panel_rejects_bad_max_boxes(bad):
    with pytest.raises(ValueError, match="max_boxes must be an int >= 1"):
        proposals_panel(photo(), max_boxes=bad)


def test_panel_passes_on_selective_search_errors():
    with pytest.raises(ValueError, match="min_size must be an int >= 1"):
        proposals_panel(photo(), min_size=0)


def test_widget_wires_sliders_to_panel(monkeypatch):
    pytest.importorskip("ipywidgets")
    calls = []
    import dlcv_utils.viz.widgets.proposals as mod

    real = mod.proposals_panel

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, "proposals_panel", spy)
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    w = make_proposals_widget(photo(), max_boxes=7)
    names = [c.description for c in w.children[:-1]]
    assert names == ["scale k", "min size (px)", "colour", "texture", "size", "fill", "boxes drawn"]
    calls.clear()
    w.children[2].value = False  # untick colour
    assert calls, "changing a control must redraw"
    args, kwargs = calls[-1]
    assert args[4:7] == (True, True, True) and args[3] is False
    assert kwargs["max_boxes"] == 7
