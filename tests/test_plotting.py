"""Tests for dlcv_utils.viz.plotting (Agg backend; we inspect the artists, never the pixels)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.viz.plotting import (
    PALETTE,
    color_for,
    draw_boxes,
    image_grid,
    plot_pr_curve,
    show_image,
    to_numpy_image,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def rgb(h=40, w=60):
    return np.zeros((h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- images
def test_to_numpy_image_accepts_uint8_hwc():
    img = rgb()
    out = to_numpy_image(img)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8


def test_to_numpy_image_converts_chw_tensor():
    t = torch.zeros(3, 5, 7)
    t[0, 1, 2] = 0.5
    out = to_numpy_image(t)
    assert out.shape == (5, 7, 3)
    assert out[1, 2, 0] == 0.5


def test_to_numpy_image_single_channel_tensor_is_grey():
    assert to_numpy_image(torch.ones(1, 4, 6)).shape == (4, 6)


def test_to_numpy_image_int_in_range_becomes_uint8():
    out = to_numpy_image(np.full((3, 3, 3), 200, dtype=np.int64))
    assert out.dtype == np.uint8 and out[0, 0, 0] == 200


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((4, 5, 2), dtype=np.uint8), "H x W x 3"),
        (np.zeros((2, 3, 4, 5), dtype=np.uint8), "H x W x 3"),
        (torch.zeros(4, 5, 6), "C x H x W"),
        (np.full((3, 3, 3), 2.0), r"\[0, 1\]"),
        (np.full((3, 3, 3), np.nan), "NaN"),
        (np.full((3, 3, 3), 300, dtype=np.int32), r"\[0, 255\]"),
        (np.zeros((0, 5, 3), dtype=np.uint8), "empty"),
    ],
)
def test_to_numpy_image_rejects_bad_images(image, match):
    with pytest.raises(ValueError, match=match):
        to_numpy_image(image)


def test_to_numpy_image_rejects_non_numbers():
    with pytest.raises(TypeError, match="image must hold numbers"):
        to_numpy_image(np.array([["a", "b"]]))


# ---------------------------------------------------------------- boxes
def test_draw_boxes_draws_rectangles_with_geometry_and_text():
    _, ax = plt.subplots()
    draw_boxes(
        ax,
        np.array([[10, 20, 50, 40], [0, 0, 5, 5]]),
        labels=[1, 0],
        scores=[0.876, 0.5],
        class_names=["cat", "dog"],
    )
    assert len(ax.patches) == 2
    r = ax.patches[0]
    assert r.get_xy() == (10, 20)
    assert r.get_width() == 50 - 10 and r.get_height() == 40 - 20
    assert [t.get_text() for t in ax.texts] == ["dog 0.88", "cat 0.50"]
    # colour by label: label 1 -> second palette colour
    assert mcolors.same_color(r.get_edgecolor(), PALETTE[1])


def test_draw_boxes_accepts_torch_and_single_box_and_empty():
    _, ax = plt.subplots()
    draw_boxes(ax, torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    draw_boxes(ax, [1, 2, 3, 4])
    draw_boxes(ax, np.zeros((0, 4)))
    assert len(ax.patches) == 2 and len(ax.texts) == 0


def test_draw_boxes_labels_without_names_and_linestyle():
    _, ax = plt.subplots()
    draw_boxes(ax, [[0, 0, 1, 1]], labels=[7], linestyle="--", color="red")
    assert ax.texts[0].get_text() == "7"
    assert ax.patches[0].get_linestyle() == "--"
    assert mcolors.same_color(ax.patches[0].get_edgecolor(), "red")


def test_draw_boxes_one_colour_per_box():
    _, ax = plt.subplots()
    draw_boxes(ax, [[0, 0, 1, 1], [1, 1, 2, 2]], color=["red", (0.0, 0.0, 1.0)])
    assert mcolors.same_color(ax.patches[1].get_edgecolor(), "blue")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"boxes": [[0, 0, 1]]}, ValueError, r"boxes must have shape \[N, 4\]"),
        ({"boxes": [[5, 0, 1, 1]]}, ValueError, "x2 >= x1"),
        ({"boxes": [[0, 0, 1, np.inf]]}, ValueError, "NaN or inf"),
        ({"boxes": [[0, 0, 1, 1]], "labels": [0, 1]}, ValueError, "labels must have one entry"),
        ({"boxes": [[0, 0, 1, 1]], "scores": []}, ValueError, "scores must have one entry"),
        (
            {"boxes": [[0, 0, 1, 1]], "labels": [3], "class_names": ["a"]},
            ValueError,
            "labels must index class_names",
        ),
        ({"boxes": [[0, 0, 1, 1]], "color": ["red", "blue"]}, ValueError, "color must have one"),
        ({"boxes": [[0, 0, 1, 1]], "color": "notacolour"}, ValueError, "color must be"),
        ({"boxes": [[0, 0, 1, 1]], "color": ["nope"]}, ValueError, "not a matplotlib colour"),
        ({"boxes": [[0, 0, 1, 1]], "labels": "a"}, TypeError, "labels must be a sequence"),
    ],
)
def test_draw_boxes_validates(kwargs, exc, match):
    _, ax = plt.subplots()
    with pytest.raises(exc, match=match):
        draw_boxes(ax, **kwargs)


def test_color_for_wraps():
    assert color_for(len(PALETTE) + 2) == color_for(2)


# ---------------------------------------------------------------- show_image
def test_show_image_returns_axes_with_title_and_boxes():
    ax = show_image(rgb(), boxes=[[1, 1, 10, 10]], labels=[0], class_names=["x"], title="t")
    assert ax.get_title() == "t"
    assert len(ax.patches) == 1
    assert len(ax.images) == 1


def test_show_image_uses_given_axes():
    _fig, axes = plt.subplots(1, 2)
    out = show_image(rgb(), ax=axes[1])
    assert out is axes[1]
    assert len(axes[0].images) == 0


def test_show_image_masks_overlay():
    masks = np.zeros((2, 40, 60), dtype=bool)
    masks[0, :10, :10] = True
    masks[1, 20:, 30:] = True
    ax = show_image(rgb(), boxes=[[0, 0, 10, 10], [30, 20, 60, 40]], masks=masks, mask_alpha=0.5)
    assert len(ax.images) == 2  # photo + overlay
    overlay = ax.images[1].get_array()
    assert overlay[5, 5, 3] == 0.5  # inside mask 0
    assert overlay[15, 15, 3] == 0.0  # outside every mask
    assert np.allclose(overlay[5, 5, :3], mcolors.to_rgb(PALETTE[0]))
    assert np.allclose(overlay[30, 40, :3], mcolors.to_rgb(PALETTE[1]))


def test_show_image_probability_masks_thresholded():
    masks = np.zeros((1, 40, 60))
    masks[0, 0, 0] = 0.7
    masks[0, 0, 1] = 0.3
    ax = show_image(rgb(), masks=masks)
    overlay = ax.images[1].get_array()
    assert overlay[0, 0, 3] > 0 and overlay[0, 1, 3] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"masks": np.zeros((1, 5, 5), dtype=bool)}, "masks must match the image size"),
        ({"masks": np.zeros((5,), dtype=bool)}, r"masks must have shape \[N, H, W\]"),
        (
            {"masks": np.zeros((2, 40, 60), dtype=bool), "boxes": [[0, 0, 1, 1]]},
            "masks must have one entry per box",
        ),
        ({"scores": [0.5]}, "without boxes"),
        ({"labels": [0]}, "without boxes"),
        ({"mask_alpha": 1.5}, "mask_alpha"),
    ],
)
def test_show_image_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        show_image(rgb(), **kwargs)


# ---------------------------------------------------------------- PR curve
def test_plot_pr_curve_line_and_step():
    ax = plot_pr_curve([0.0, 0.5, 1.0], [1.0, 1.0, 0.5], label="raw")
    plot_pr_curve([0.0, 0.5, 1.0], [1.0, 1.0, 0.5], ax=ax, step=True, label="step")
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0.0, 0.5, 1.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["raw", "step"]
    assert ax.get_xlim() == (0, 1.02)


def test_plot_pr_curve_accepts_empty_and_tensors():
    ax = plot_pr_curve(torch.tensor([]), torch.tensor([]))
    assert len(ax.lines) == 1


@pytest.mark.parametrize(
    ("recall", "precision", "match"),
    [
        ([0.1, 0.2], [1.0], "same length"),
        ([[0.1]], [[1.0]], "1-D"),
        ([0.1, 1.5], [1.0, 1.0], "recall values"),
        ([0.1, 0.2], [1.0, np.nan], "precision values"),
    ],
)
def test_plot_pr_curve_validates(recall, precision, match):
    with pytest.raises(ValueError, match=match):
        plot_pr_curve(recall, precision)


# ---------------------------------------------------------------- grid
def test_image_grid_layout_and_titles():
    fig = image_grid([rgb()] * 5, titles=list("abcde"), ncols=2, boxes=[[[0, 0, 5, 5]]] * 5)
    assert len(fig.axes) == 6  # 3 rows x 2 cols
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    assert not fig.axes[5].get_visible()
    assert all(len(ax.patches) == 1 for ax in fig.axes[:5])


def test_image_grid_fewer_images_than_columns():
    fig = image_grid([rgb(), rgb()], ncols=4)
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images": []}, "at least one image"),
        ({"images": [rgb()], "ncols": 0}, "ncols must be a positive int"),
        ({"images": [rgb()], "titles": ["a", "b"]}, "titles must have one entry per image"),
        ({"images": [rgb()], "boxes": []}, "boxes must have one entry per image"),
    ],
)
def test_image_grid_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_grid(**kwargs)


# ---------------------------------------------------------------- tags and diagram
def test_tag_goes_inside_a_box_that_touches_the_top_of_the_image():
    ax = show_image(rgb(100, 100), boxes=[[10, 0, 50, 40], [10, 50, 50, 90]], labels=[0, 1])
    assert [t.get_va() for t in ax.texts] == ["top", "bottom"]


def test_detector_diagram_names_the_three_parts():
    from dlcv_utils.viz.plotting import detector_diagram

    ax = detector_diagram()
    text = " ".join(t.get_text() for t in ax.texts)
    for part in ("backbone", "neck", "head", "P2", "C5", "NMS"):
        assert part in text
    _fig, axes = plt.subplots(1, 2)
    assert detector_diagram(ax=axes[1]) is axes[1]
