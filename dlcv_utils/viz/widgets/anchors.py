"""Lesson 05's anchor widget: scales, aspect ratios and stride, drawn over an image.

Taught in lesson 05 (Faster R-CNN). :func:`anchors_panel` is the plain function behind the
sliders: it builds the anchors with :func:`dlcv_utils.ops.anchors.generate_anchors`, returns the
numbers it shows and, given an ``Axes``, draws the grid of anchor positions and the anchors of
one cell. :func:`make_anchors_widget` only wires the sliders to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["anchors_panel", "make_anchors_widget"]


def anchors_panel(
    image,
    stride: int = 16,
    scales: Sequence[float] = (16, 32, 64),
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
    cell: tuple[int, int] | None = None,
    ax=None,
) -> dict:
    """Anchors of a ``stride``-pixel grid over ``image``; optionally drawn.

    The feature map has ``ceil(H / stride) x ceil(W / stride)`` cells (what a backbone of that
    stride gives for this image); every cell holds ``len(scales) * len(ratios)`` anchors.

    Args:
        image: ``H x W x 3`` uint8 RGB image (or a ``C x H x W`` float tensor).
        stride: image pixels per feature-map cell.
        scales: anchor sides in pixels.
        ratios: anchor height / width ratios.
        cell: ``(row, col)`` of the cell whose anchors are drawn; default the centre cell.
        ax: the ``Axes`` to draw on; nothing is drawn when ``None``. Anchor positions are dots,
            the chosen cell's anchors are boxes coloured by scale.

    Returns:
        ``dict`` with ``feature_size`` ``(rows, cols)``, ``per_cell`` (anchors per cell),
        ``n_anchors`` (all anchors), ``cell`` (the drawn cell), ``cell_anchors`` (its
        ``[A, 4]`` anchors, numpy) and ``anchors`` (all of them, ``[n_anchors, 4]`` numpy).

    Raises:
        ValueError / TypeError: bad stride, scales or ratios (from ``generate_anchors``), or a
            ``cell`` outside the grid.

    Example:
        >>> out = anchors_panel(np.zeros((64, 96, 3), np.uint8), stride=16)
        >>> out["feature_size"], out["per_cell"], out["n_anchors"], out["cell"]
        ((4, 6), 9, 216, (2, 3))
    """
    from dlcv_utils.ops.anchors import generate_anchors
    from dlcv_utils.viz.plotting import color_for, draw_boxes, show_image, to_numpy_image

    img = to_numpy_image(image)
    h, w = img.shape[:2]
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    stride = int(stride)
    rows, cols = -(-h // stride), -(-w // stride)
    anchors = generate_anchors((rows, cols), stride, scales, ratios)
    per_cell = anchors.shape[0] // (rows * cols)
    if cell is None:
        cell = (rows // 2, cols // 2)
    r, c = (int(v) for v in cell)
    if not (0 <= r < rows and 0 <= c < cols):
        raise ValueError(f"cell must be (row, col) inside the {rows} x {cols} grid, got {cell!r}")
    start = (r * cols + c) * per_cell
    cell_anchors = anchors[start : start + per_cell].numpy()
    out = {
        "feature_size": (rows, cols),
        "per_cell": per_cell,
        "n_anchors": int(anchors.shape[0]),
        "cell": (r, c),
        "cell_anchors": cell_anchors,
        "anchors": anchors.numpy(),
    }
    if ax is not None:
        show_image(img, ax=ax)
        ys, xs = np.meshgrid(np.arange(rows) * stride, np.arange(cols) * stride, indexing="ij")
        ax.plot(xs.ravel(), ys.ravel(), ".", color="white", markersize=3)
        ax.plot([c * stride], [r * stride], "o", color="red", markersize=6)
        n_scales = len(tuple(scales))
        colors = [color_for(i % n_scales) for i in range(per_cell)]  # same colour, same scale
        draw_boxes(ax, cell_anchors, color=colors, linewidth=1.5)
        # the image plus the drawn anchors (which may reach past it), with a small margin
        x0 = min(0.0, float(cell_anchors[:, 0].min())) - 0.03 * w
        x1 = max(float(w), float(cell_anchors[:, 2].max())) + 0.03 * w
        y0 = min(0.0, float(cell_anchors[:, 1].min())) - 0.03 * h
        y1 = max(float(h), float(cell_anchors[:, 3].max())) + 0.03 * h
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        ax.set_title(
            f"stride {stride}: {rows} x {cols} cells x {per_cell} anchors = {out['n_anchors']}"
        )
    return out


def make_anchors_widget(image, scales: Sequence[float] = (16, 32, 64)):
    """Sliders for stride, the smallest scale, the number of scales and the set of ratios,
    and the cell to show, wired to :func:`anchors_panel` on ``image``.

    Scales double from the smallest: ``smallest * 2 ** k``.

    Returns:
        An ``ipywidgets.interactive`` (display it by ending a cell with it); a saved notebook
        shows its first figure.

    Example:
        >>> w = make_anchors_widget(np.zeros((128, 128, 3), np.uint8))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    img = np.asarray(image) if not hasattr(image, "permute") else image
    shape = img.shape
    h, w = (shape[-2], shape[-1]) if hasattr(image, "permute") else (shape[0], shape[1])
    first: dict = {}

    def update(stride, smallest, n_scales, ratios, row_frac, col_frac):
        sc = tuple(smallest * 2**k for k in range(n_scales))
        rows, cols = -(-h // stride), -(-w // stride)
        cell = (min(int(row_frac * rows), rows - 1), min(int(col_frac * cols), cols - 1))
        fig, ax = plt.subplots(figsize=(6, 6 * h / w))
        out = anchors_panel(image, stride, sc, ratios or (1.0,), cell=cell, ax=ax)
        text = f"scales {sc}, ratios {tuple(ratios or (1.0,))}: {out['n_anchors']} anchors"
        show(fig, text, first)

    def common():  # full-width track, aligned labels, redraw on release (a redraw is ~0.2 s)
        return {"style": STYLE, "layout": slider_layout(), "continuous_update": False}

    wid = static_class(widgets.interactive)(
        update,
        stride=widgets.IntSlider(value=16, min=4, max=64, step=4, description="stride", **common()),
        smallest=widgets.IntSlider(
            value=int(scales[0]), min=4, max=128, step=4, description="smallest scale", **common()
        ),
        n_scales=widgets.IntSlider(
            value=len(scales), min=1, max=4, description="scales", **common()
        ),
        ratios=widgets.SelectMultiple(
            options=[0.25, 0.5, 1.0, 2.0, 4.0],
            value=[0.5, 1.0, 2.0],
            description="ratios h/w",
            style=STYLE,
        ),
        row_frac=widgets.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.05, description="cell row", **common()
        ),
        col_frac=widgets.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.05, description="cell col", **common()
        ),
    )
    return finish(wid, first, "Anchors of one feature-map cell: stride, scales and ratios")
