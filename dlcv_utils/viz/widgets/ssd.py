"""Lesson 08's default-box widget: the default boxes of one SSD level and the objects they match.

Taught in lesson 08. :func:`default_boxes_panel` builds the default boxes of ``levels`` square
feature maps (:func:`dlcv_utils.models.ssd.default_boxes`, torchvision's conventions), matches
the ground truth to *all* of them (:func:`dlcv_utils.models.ssd.match_default_boxes`) and, given
an axis, draws the chosen level's positives over the image with the ground truth.
:func:`make_default_boxes_widget` only wires sliders (level, ``s_min``, ``s_max``, extra ratio)
to it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["default_boxes_panel", "make_default_boxes_widget"]

_COLOURS = ("lime", "cyan", "magenta", "yellow", "orange", "white")


def default_boxes_panel(
    image,
    gt_boxes,
    level: int = 0,
    levels: int = 4,
    s_min: float = 0.1,
    s_max: float = 0.6,
    ratio: float = 2.0,
    iou_threshold: float = 0.5,
    ax=None,
    first_stride: int = 8,
) -> dict:
    """Default boxes of ``levels`` feature maps (strides ``first_stride``, x2, ...) and matches.

    Level ``k`` of a ``H x W`` image has ``ceil(H / (first_stride 2**k)) x ceil(W / (first_stride
    2**k))`` cells (as :class:`~dlcv_utils.models.ssd.SSDBackbone`), each with 4 default boxes: ratio 1 at ``s_k``, ratio 1 at ``sqrt(s_k s_{k+1})``, ``ratio`` and
    ``1 / ratio`` at ``s_k``.

    Args:
        image: ``H x W x 3`` uint8 image or ``C x H x W`` float tensor.
        gt_boxes: ``[G, 4]`` xyxy ground truth.
        level: the level drawn, ``0..levels - 1``.
        levels: feature maps ``m``.
        s_min: smallest scale (fraction of the image side).
        s_max: largest scale.
        ratio: the extra aspect ratio (with its inverse).
        iou_threshold: IoU for a positive match.
        ax: draw on this axis; nothing is drawn when ``None``.
        first_stride: stride of level 0 (a power of 2).

    Returns:
        ``dict`` with ``scales`` (the ``m + 1`` scales), ``grid`` (cells of ``level``),
        ``boxes_per_level``, ``positives_per_level`` (matched default boxes per level),
        ``level_positives`` (``[P, 4]`` the drawn positives) and ``level_gt`` (their ground
        truth index).

    Raises:
        ValueError: ``level`` outside ``0..levels - 1`` (and the checks of the ssd functions).

    Example:
        >>> img = np.zeros((128, 128, 3), np.uint8)
        >>> out = default_boxes_panel(img, [[10, 10, 40, 40]], level=0)
        >>> out["grid"], out["boxes_per_level"], [round(s, 3) for s in out["scales"]]
        ((16, 16), [1024, 256, 64, 16], [0.1, 0.267, 0.433, 0.6, 1.0])
    """
    import torch

    from dlcv_utils.models.ssd import default_box_scales, default_boxes, match_default_boxes
    from dlcv_utils.validation import check_int

    levels = check_int(levels, "levels", minimum=1)
    level = check_int(level, "level", minimum=0)
    first_stride = check_int(first_stride, "first_stride", minimum=1)
    if first_stride & (first_stride - 1):
        raise ValueError(f"first_stride must be a power of 2, got {first_stride}")
    if level >= levels:
        raise ValueError(f"level must be in 0..{levels - 1} (levels={levels}), got {level}")
    from dlcv_utils.viz.plotting import draw_boxes, show_image, to_numpy_image

    img = to_numpy_image(image)
    h, w = img.shape[:2]
    gt = torch.as_tensor(np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4))
    scales = default_box_scales(levels, s_min, s_max)
    grids = [(-(-h // (first_stride << k)), -(-w // (first_stride << k))) for k in range(levels)]
    ratios = [[ratio]] * levels
    dboxes = default_boxes(grids, (h, w), ratios, scales)
    per_level = [gh * gw * 4 for gh, gw in grids]
    matches = match_default_boxes(gt, dboxes, iou_threshold)
    split = torch.split(matches, per_level)
    start = sum(per_level[:level])
    chosen = split[level] >= 0
    positives = dboxes[start : start + per_level[level]][chosen]
    level_gt = split[level][chosen]
    out = {
        "scales": scales,
        "grid": grids[level],
        "boxes_per_level": per_level,
        "positives_per_level": [int((m >= 0).sum()) for m in split],
        "level_positives": positives,
        "level_gt": level_gt,
    }
    if ax is not None:
        show_image(img, ax=ax)
        for g in range(len(gt)):
            colour = _COLOURS[g % len(_COLOURS)]
            draw_boxes(ax, gt[g : g + 1], color=colour, linestyle="--", linewidth=2)
            draw_boxes(ax, positives[level_gt == g], color=colour, linewidth=1)
        # the 4 default boxes of the centre cell, to show the shapes even without a match
        gh, gw = grids[level]
        centre = ((gh // 2) * gw + gw // 2) * 4
        draw_boxes(ax, dboxes[start + centre : start + centre + 4], color="red", linewidth=1)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_title(
            f"level {level}: {gh} x {gw} cells, s = {scales[level]:.2f} "
            f"({scales[level] * h:.0f} px), {len(positives)} positives",
            fontsize=10,
        )
    return out


def make_default_boxes_widget(
    image,
    gt_boxes,
    levels: int = 4,
    first_stride: int = 8,
    s_min: float = 0.1,
    s_max: float = 0.6,
):
    """Sliders for the level, ``s_min``, ``s_max`` and the ratio, wired to :func:`default_boxes_panel`.

    ``levels`` and ``first_stride`` fix the feature maps; ``s_min`` and ``s_max`` are the
    sliders' starting values.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_default_boxes_widget(np.zeros((128, 128, 3), np.uint8), [])  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.validation import check_int
    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    levels = check_int(levels, "levels", minimum=1)
    first: dict = {}

    def update(level, s_min, s_max, ratio):
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        s_max = max(s_max, s_min)
        out = default_boxes_panel(
            image,
            gt_boxes,
            level=level,
            levels=levels,
            s_min=s_min,
            s_max=s_max,
            ratio=ratio,
            ax=ax,
            first_stride=first_stride,
        )
        text = (
            f"level {level}: {out['grid'][0]} x {out['grid'][1]} cells; positives per level "
            f"{out['positives_per_level']}"
        )
        fig.tight_layout()
        show(fig, text, first)

    def common():
        return {"continuous_update": False, "style": STYLE, "layout": slider_layout()}

    wid = static_class(widgets.interactive)(
        update,
        level=widgets.IntSlider(value=0, min=0, max=levels - 1, description="level", **common()),
        s_min=widgets.FloatSlider(
            value=s_min, min=0.02, max=0.5, step=0.02, description="s_min", **common()
        ),
        s_max=widgets.FloatSlider(
            value=s_max, min=0.2, max=1.0, step=0.05, description="s_max", **common()
        ),
        ratio=widgets.FloatSlider(
            value=2.0, min=1.0, max=4.0, step=0.5, description="aspect ratio", **common()
        ),
    )
    return finish(wid, first, "SSD default boxes of one level and the ground truth they match")
