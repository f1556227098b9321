"""Slider of lesson 03: selective search's segmentation scale, minimum segment size and similarity set.

Taught in lesson 03. :func:`proposals_panel` is the plain function behind the widget: it runs
:func:`~dlcv_utils.proposals.selective_search.selective_search` with the slider values, returns the
numbers and boxes it shows, and (optionally) draws the initial segments' borders and the
best-ranked proposals on an ``Axes``. :func:`make_proposals_widget` only wires the sliders.
"""

from __future__ import annotations

import numpy as np

from dlcv_utils.proposals.selective_search import (
    SIMILARITIES,
    convert_color,
    oversegment,
    selective_search,
)

__all__ = ["make_proposals_widget", "proposals_panel"]


def proposals_panel(
    image,
    scale: float = 100,
    min_size: int = 50,
    color: bool = True,
    texture: bool = True,
    size: bool = True,
    fill: bool = True,
    max_boxes: int = 30,
    seed: int = 0,
    ax=None,
) -> dict:
    """Run selective search with these settings; optionally draw segments and the top boxes.

    Args:
        image: ``H x W x 3`` uint8 RGB photo.
        scale: Felzenszwalb ``k`` (bigger = fewer, larger initial segments).
        min_size: smallest initial segment, in pixels.
        color, texture, size, fill: which similarities the grouping sums.
        max_boxes: how many of the best-ranked proposals to return and draw.
        seed: the ranking seed.
        ax: the ``Axes`` to draw on; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``similarities`` (names used), ``n_segments`` (initial segments),
        ``n_proposals`` (all unique boxes) and ``boxes`` (the first ``max_boxes``, ``[K, 4]``
        xyxy). With no similarity ticked nothing is run: ``n_proposals`` is 0 and ``message``
        says why.

    Raises:
        ValueError / TypeError: as :func:`~dlcv_utils.proposals.selective_search.selective_search`,
            or ``max_boxes < 1``.

    Example:
        >>> img = np.zeros((40, 60, 3), dtype=np.uint8); img[5:20, 5:25] = 255
        >>> out = proposals_panel(img, scale=50, min_size=10, texture=False, max_boxes=3)
        >>> out["similarities"], out["boxes"].shape[1], out["n_proposals"] >= len(out["boxes"])
        (('color', 'size', 'fill'), 4, True)
    """
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int | np.integer) or max_boxes < 1:
        raise ValueError(f"max_boxes must be an int >= 1, got {max_boxes!r}")
    flags = {"color": color, "texture": texture, "size": size, "fill": fill}
    sims = tuple(name for name in SIMILARITIES if flags[name])
    labels = oversegment(convert_color(image, "rgb"), scale=scale, min_size=min_size)
    n_segments = int(labels.max()) + 1
    if not sims:
        out = {
            "similarities": sims,
            "n_segments": n_segments,
            "n_proposals": 0,
            "boxes": np.zeros((0, 4), np.float32),
            "message": "tick at least one similarity",
        }
    else:
        boxes = selective_search(
            image, scale=scale, min_size=min_size, similarities=sims, seed=seed
        )
        out = {
            "similarities": sims,
            "n_segments": n_segments,
            "n_proposals": len(boxes),
            "boxes": boxes[:max_boxes],
        }
    if ax is not None:
        from skimage.segmentation import mark_boundaries

        from dlcv_utils.viz.plotting import draw_boxes

        ax.imshow(mark_boundaries(np.asarray(image), labels, color=(1.0, 1.0, 0.0)))
        ax.set_axis_off()
        if len(out["boxes"]):
            draw_boxes(ax, out["boxes"], color="cyan", linewidth=1.2)
        ax.set_title(
            f"{n_segments} segments, {out['n_proposals']} proposals (top {len(out['boxes'])} drawn)"
            if sims
            else out["message"]
        )
    return out


def make_proposals_widget(image, max_boxes: int = 30):
    """Sliders for ``scale`` and ``min_size``, tick boxes for the similarities, wired to
    :func:`proposals_panel` on ``image``.

    Returns:
        An ``ipywidgets.interactive`` (display it by ending a cell with it); a saved notebook
        shows its first figure.

    Example:
        >>> w = make_proposals_widget(np.zeros((64, 64, 3), np.uint8))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    h, w = np.asarray(image).shape[:2]
    first: dict = {}

    def update(scale, min_size, color, texture, size, fill, top):
        fig, ax = plt.subplots(figsize=(6, 6 * h / w))
        out = proposals_panel(
            image, scale, min_size, color, texture, size, fill, max_boxes=top, ax=ax
        )
        text = f"{out['n_segments']} initial segments -> {out['n_proposals']} unique proposals"
        show(fig, text, first)

    def common():  # full-width track, aligned labels, redraw on release (selective search)
        return {"style": STYLE, "layout": slider_layout(), "continuous_update": False}

    wid = static_class(widgets.interactive)(
        update,
        scale=widgets.FloatLogSlider(
            value=100, base=10, min=1, max=3, step=0.1, description="scale k", **common()
        ),
        min_size=widgets.IntSlider(
            value=50, min=5, max=500, step=5, description="min size (px)", **common()
        ),
        color=widgets.Checkbox(value=True, description="colour", style=STYLE),
        texture=widgets.Checkbox(value=True, description="texture", style=STYLE),
        size=widgets.Checkbox(value=True, description="size", style=STYLE),
        fill=widgets.Checkbox(value=True, description="fill", style=STYLE),
        top=widgets.IntSlider(
            value=max_boxes, min=1, max=300, step=1, description="boxes drawn", **common()
        ),
    )
    return finish(wid, first, "Selective search: segmentation scale, minimum size, similarities")
