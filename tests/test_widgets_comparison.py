"""Tests for lesson 14's speed-accuracy widget (dlcv_utils.viz.widgets.comparison)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from dlcv_utils.viz.widgets.comparison import (
    COSTS,
    METRICS,
    check_metric,
    make_speed_accuracy_widget,
    pareto_front,
    speed_accuracy_panel,
)

ROWS = [
    {
        "name": "fast",
        "family": "F",
        "map50": 0.40,
        "ap_small": 0.05,
        "infer_ms": 2.0,
        "params": 9e5,
    },
    {"name": "mid", "family": "M", "map50": 0.35, "ap_small": 0.20, "infer_ms": 8.0, "params": 1e5},
    {
        "name": "slow",
        "family": "S",
        "map50": 0.80,
        "ap_small": -1.0,
        "infer_ms": 30.0,
        "params": 3e6,
    },
]


def test_pareto_front_by_hand():
    # (2, .4) beats (8, .35); (30, .8) is the most accurate; (5, .4) ties (2, .4) on y, costs more
    assert pareto_front([(2, 0.4), (8, 0.35), (30, 0.8), (5, 0.4)]) == [0, 2]
    assert pareto_front([(1, 0.5)]) == [0]
    assert pareto_front([(1, 0.5), (1, 0.5)]) == [0, 1]  # equal points do not beat each other
    assert pareto_front([]) == []


def test_panel_values():
    out = speed_accuracy_panel(ROWS, "map50", "infer_ms")
    assert out["names"] == ["fast", "mid", "slow"]
    assert out["x"] == [2.0, 8.0, 30.0] and out["y"] == [0.40, 0.35, 0.80]
    assert out["front"] == ["fast", "slow"] and out["best"] == "slow"
    # on parameters, 'mid' is the cheapest: it joins the front
    assert speed_accuracy_panel(ROWS, "map50", "params")["front"] == ["mid", "fast", "slow"]


def test_panel_skips_rows_without_such_objects():
    out = speed_accuracy_panel(ROWS, "ap_small", "infer_ms")
    assert out["skipped"] == ["slow"] and out["names"] == ["fast", "mid"]
    assert out["best"] == "mid" and out["front"] == ["fast", "mid"]


def test_panel_drawing():
    fig, ax = plt.subplots()
    out = speed_accuracy_panel(ROWS, "map50", "infer_ms", ax=ax)
    assert len(ax.collections) == len(out["names"])  # one scatter per row
    assert [t.get_text() for t in ax.texts] == ["F", "M", "S"]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel().startswith(COSTS["infer_ms"]) and ax.get_ylabel() == METRICS["map50"]
    plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "mAP"}, "metric must be one of .*got 'mAP'"),
        ({"cost": "fps"}, "cost must be one of .*got 'fps'"),
        ({"metric": None}, "metric must be one of"),
    ],
)
def test_unknown_metric_or_cost(kwargs, message):
    with pytest.raises(ValueError, match=message):
        speed_accuracy_panel(ROWS, **kwargs)
    with pytest.raises(ValueError, match=message):
        make_speed_accuracy_widget(ROWS, **kwargs)


def test_bad_rows():
    with pytest.raises(ValueError, match="rows must not be empty"):
        speed_accuracy_panel([])
    with pytest.raises(ValueError, match=r"rows\[1\] has no \['infer_ms'\]"):
        speed_accuracy_panel([ROWS[0], {"name": "x", "family": "X", "map50": 0.1}])
    assert check_metric("params", COSTS, "cost") == "params"


def test_widget_shows_its_first_setting():
    pytest.importorskip("ipywidgets")
    w = make_speed_accuracy_widget(ROWS, metric="ap_small", cost="params")
    assert w.static_png.startswith((b"\x89PNG", b"\xff\xd8"))  # PNG or JPEG bytes
    assert "best AP small" in w.static_text and "no such objects: slow" in w.static_text
    assert [c.value for c in w.kwargs_widgets] == ["ap_small", "params"]
    plt.close("all")
