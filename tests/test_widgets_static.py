"""Saved notebooks show a picture for every widget cell; sliders share one layout.

Runs on ipywidgets 7.7 (Colab) and 8.x: ``tests/test_colab_sim.py`` runs this file under 7.7.
"""

import base64
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

ipywidgets = pytest.importorskip("ipywidgets")

from dlcv_utils.viz.widgets._static import STYLE, ipywidgets_major, static_class  # noqa: E402
from dlcv_utils.viz.widgets.anchors import anchors_panel, make_anchors_widget  # noqa: E402
from dlcv_utils.viz.widgets.basics import (  # noqa: E402
    make_iou_widget,
    make_nms_widget,
    make_pr_widget,
)
from dlcv_utils.viz.widgets.proposals import make_proposals_widget  # noqa: E402
from dlcv_utils.viz.widgets.video import make_frame_slider  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        yield


def _image(h=60, w=90):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


BOXES = np.array([[5, 5, 40, 40], [8, 8, 42, 42], [50, 10, 80, 50]], dtype=float)
SCORES = np.array([0.9, 0.6, 0.8])


def all_widgets():
    frames = [_image(), _image()[::-1].copy()]
    return {
        "iou": make_iou_widget(image=_image()),
        "nms": make_nms_widget(_image(), BOXES, SCORES, score_threshold=0.3),
        "pr": make_pr_widget(
            [np.array([[0, 0, 10, 10]])], [BOXES[:2] / 4], [SCORES[:2]], iou_threshold=0.5
        ),
        "anchors": make_anchors_widget(_image(64, 96), scales=(16, 32)),
        "proposals": make_proposals_widget(_image(40, 60), max_boxes=5),
        "frames": make_frame_slider(frames, [BOXES[:1], BOXES[1:2]]),
    }


@pytest.fixture(scope="module")
def widgets_by_name():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        return all_widgets()


@pytest.mark.parametrize("name", ["iou", "nms", "pr", "anchors", "proposals", "frames"])
def test_display_bundle_carries_a_picture_a_sentence_and_the_live_view(widgets_by_name, name):
    w = widgets_by_name[name]
    bundle = w._static_bundle()
    pictures = [k for k in ("image/png", "image/jpeg") if k in bundle]
    assert len(pictures) == 1, bundle.keys()  # the smaller of the two encodings, only
    picture = base64.b64decode(bundle[pictures[0]])
    magic = PNG_MAGIC if pictures[0] == "image/png" else b"\xff\xd8"
    assert picture.startswith(magic) and len(picture) > 1000
    text = bundle["text/plain"]
    assert not text.startswith(("interactive(", "VBox(", "Static")), text
    assert "Run the notebook" in text
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    if ipywidgets_major() >= 8:
        assert w._repr_mimebundle_() == bundle
    else:  # 7.x displays through _ipython_display_, which IPython prefers
        assert callable(type(w)._ipython_display_)


def test_static_text_includes_what_the_first_setting_printed(widgets_by_name):
    assert "IoU = " in widgets_by_name["iou"].static_text
    assert "kept indices: [0, 2]" in widgets_by_name["nms"].static_text  # 1 overlaps 0
    assert "AP = " in widgets_by_name["pr"].static_text
    assert "frame 0" in widgets_by_name["frames"].static_text


def test_picture_is_the_first_setting_not_a_later_one(monkeypatch):
    w = make_nms_widget(_image(), BOXES, SCORES, score_threshold=0.3)
    before = w.static_png
    w.kwargs_widgets[0].value = 0.95  # redraw with another setting
    assert w.static_png == before
    assert "kept indices: [0, 2]" in w.static_text


def test_the_first_setting_is_drawn_once_at_construction(monkeypatch):
    from dlcv_utils.viz.widgets import basics

    calls = []
    real = basics.iou_panel
    monkeypatch.setattr(basics, "iou_panel", lambda *a, **k: calls.append(a) or real(*a, **k))
    make_iou_widget()
    assert len(calls) == 1


@pytest.mark.parametrize("name", ["iou", "nms", "pr", "anchors", "proposals", "frames"])
def test_sliders_are_full_width_aligned_and_redraw_on_release(widgets_by_name, name):
    w = widgets_by_name[name]
    controls = [c for c in w.children if hasattr(c, "description") and c.description]
    sliders = [
        c
        for c in controls
        if isinstance(
            c, ipywidgets.widgets.widget_int._Int | (ipywidgets.widgets.widget_float._Float)
        )
    ]
    assert sliders, name
    for c in controls:
        assert c.style.description_width == STYLE["description_width"], (name, c.description)
    for s in sliders:
        assert s.layout.width == "100%", (name, s.description)
        assert s.continuous_update is False, (name, s.description)


def test_static_class_is_a_real_widget_subclass():
    cls = static_class(ipywidgets.VBox)
    assert issubclass(cls, ipywidgets.VBox) and static_class(ipywidgets.VBox) is cls
    box = cls([ipywidgets.IntSlider()])
    assert box._static_bundle()["text/plain"] == "<VBox widget>"
    assert not {"image/png", "image/jpeg"} & set(box._static_bundle())


def test_anchor_figure_is_the_image_plus_the_drawn_anchors():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = anchors_panel(np.zeros((64, 96, 3), np.uint8), stride=16, scales=(16,), ax=ax)
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    plt.close(fig)
    a = out["cell_anchors"]
    # the view holds the image and the anchors, with a margin of 3 % of the image size
    assert x0 == pytest.approx(min(0, a[:, 0].min()) - 0.03 * 96)
    assert x1 == pytest.approx(max(96, a[:, 2].max()) + 0.03 * 96)
    assert y0 == pytest.approx(min(0, a[:, 1].min()) - 0.03 * 64)
    assert y1 == pytest.approx(max(64, a[:, 3].max()) + 0.03 * 64)
