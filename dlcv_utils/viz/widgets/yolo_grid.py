"""Lesson 09's widgets: YOLO's grid and k-means anchors, and its confidence / NMS thresholds.

Taught in lesson 09. :func:`yolo_grid_panel` lays an ``S x S`` grid over an image, marks the
cell responsible for each object (the one holding its centre,
:func:`dlcv_utils.models.yolo.responsible_cells`), runs k-means with the ``1 - IoU`` distance on
the given box shapes (:func:`dlcv_utils.models.yolo.kmeans_anchors`) and draws the ``k``
anchors centred in each responsible cell, the best-fitting one thicker.
:func:`yolo_thresholds_panel` re-runs a :class:`~dlcv_utils.models.small_yolo.SmallYOLO`'s
post-processing on stored raw outputs at another confidence and NMS threshold. The
``make_*_widget`` functions only wire sliders to them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "make_yolo_grid_widget",
    "make_yolo_thresholds_widget",
    "yolo_grid_panel",
    "yolo_thresholds_panel",
]

_COLOURS = ("lime", "cyan", "magenta", "yellow", "orange", "white")


def yolo_grid_panel(image, gt_boxes, box_shapes, grid: int = 7, k: int = 5, ax=None) -> dict:
    """Responsible cells of ``gt_boxes`` on an ``S x S`` grid and ``k`` k-means anchors.

    Args:
        image: ``H x W x 3`` uint8 image or ``C x H x W`` float tensor (square).
        gt_boxes: ``[G, 4]`` xyxy ground truth of this image.
        box_shapes: ``[N, 2]`` ``(w, h)`` of the data set's boxes, for k-means (``N >= k``).
        grid: ``S``.
        k: number of anchors.
        ax: draw on this axis; nothing is drawn when ``None``.

    Returns:
        ``cells`` (``[G, 2]`` ``(row, col)``), ``anchors`` (``[k, 2]``), ``mean_iou`` (of the
        data set's boxes with their best anchor) and ``best`` (``[G]`` best anchor per object).

    Raises:
        ValueError: a non-square image, ``grid`` or ``k`` below 1.

    Example:
        >>> shapes = np.array([[10, 10], [12, 12], [40, 20], [42, 22]], np.float32)
        >>> out = yolo_grid_panel(np.zeros((64, 64, 3), np.uint8), [[0, 0, 12, 12]], shapes, 4, 2)
        >>> out["cells"].tolist(), out["best"].tolist(), out["anchors"].shape
        ([[0, 0]], [0], torch.Size([2, 2]))
    """
    import torch

    from dlcv_utils.models.yolo import kmeans_anchors, responsible_cells, wh_iou
    from dlcv_utils.validation import check_int
    from dlcv_utils.viz.plotting import draw_boxes, show_image, to_numpy_image

    grid = check_int(grid, "grid", minimum=1)
    k = check_int(k, "k", minimum=1)
    img = to_numpy_image(image)
    h, w = img.shape[:2]
    if h != w:
        raise ValueError(f"image must be square, got {h} x {w}")
    gt = torch.as_tensor(np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4))
    anchors, mean_iou = kmeans_anchors(torch.as_tensor(np.asarray(box_shapes, np.float32)), k)
    cells = responsible_cells(gt, h, grid)
    best = wh_iou(gt[:, 2:] - gt[:, :2], anchors).argmax(1) if len(gt) else torch.zeros(0).long()
    if ax is not None:
        import matplotlib.patches as patches

        show_image(img, ax=ax)
        step = h / grid
        for i in range(1, grid):
            ax.axhline(i * step - 0.5, color="white", linewidth=0.5, alpha=0.6)
            ax.axvline(i * step - 0.5, color="white", linewidth=0.5, alpha=0.6)
        for g, ((r, c), b) in enumerate(zip(cells.tolist(), best.tolist())):
            colour = _COLOURS[g % len(_COLOURS)]
            ax.add_patch(
                patches.Rectangle(
                    (c * step - 0.5, r * step - 0.5), step, step, color=colour, alpha=0.3
                )
            )
            draw_boxes(ax, gt[g : g + 1], color=colour, linestyle="--", linewidth=2)
            cx, cy = (c + 0.5) * step, (r + 0.5) * step
            for j, (aw, ah) in enumerate(anchors.tolist()):
                box = torch.tensor([[cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2]])
                draw_boxes(ax, box, color=colour, linewidth=2.5 if j == b else 0.6)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_title(
            f"S = {grid}: {len(gt)} responsible cells; k = {k} anchors, "
            f"mean IoU {float(mean_iou):.2f}",
            fontsize=10,
        )
    return {"cells": cells, "anchors": anchors, "mean_iou": float(mean_iou), "best": best}


def yolo_thresholds_panel(
    image, raw_outputs, model, score_thresh: float = 0.3, nms_thresh: float = 0.5, ax=None
) -> dict:
    """Detections of stored raw outputs (one image) at another confidence and NMS threshold.

    Args:
        image: the ``C x H x W`` float tensor (or ``H x W x 3`` uint8) the outputs are of.
        raw_outputs: ``model.forward_raw(...)`` of a batch holding this image only.
        model: the :class:`~dlcv_utils.models.small_yolo.SmallYOLO` (its thresholds are restored).
        score_thresh: keep ``sigmoid(obj) * sigmoid(cls) >= score_thresh``.
        nms_thresh: class-wise NMS IoU threshold (1.0 keeps every box).
        ax: draw on this axis; nothing is drawn when ``None``.

    Returns:
        ``{"boxes", "scores", "labels"}`` of the image.
    """
    from dlcv_utils.validation import check_number
    from dlcv_utils.viz.plotting import draw_boxes, show_image, to_numpy_image

    check_number(score_thresh, "score_thresh", 0.0, 1.0)
    check_number(nms_thresh, "nms_thresh", 0.0, 1.0)
    img = to_numpy_image(image)
    saved = model.score_thresh, model.nms_thresh
    model.score_thresh, model.nms_thresh = float(score_thresh), float(nms_thresh)
    try:
        out = model.postprocess(raw_outputs, img.shape[:2])[0]
    finally:
        model.score_thresh, model.nms_thresh = saved
    if ax is not None:
        show_image(img, ax=ax)
        draw_boxes(ax, out["boxes"], color="yellow", linewidth=1)
        ax.set_title(
            f"confidence >= {score_thresh:.2f}, NMS IoU {nms_thresh:.2f}: "
            f"{len(out['boxes'])} boxes",
            fontsize=10,
        )
    return out


def make_yolo_grid_widget(image, gt_boxes, box_shapes):
    """Sliders for the grid size ``S`` and the number of anchors ``k`` (:func:`yolo_grid_panel`).

    Example:
        >>> w = make_yolo_grid_widget(np.zeros((128, 128, 3), np.uint8), [], [[8, 8]])  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    first: dict = {}

    def update(grid, k):
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        out = yolo_grid_panel(image, gt_boxes, box_shapes, grid=grid, k=k, ax=ax)
        anchors = ", ".join(f"{a:.0f}x{b:.0f}" for a, b in out["anchors"].tolist())
        fig.tight_layout()
        show(fig, f"anchors (w x h): {anchors}; mean IoU {out['mean_iou']:.3f}", first)

    def common():
        return {"continuous_update": False, "style": STYLE, "layout": slider_layout()}

    wid = static_class(widgets.interactive)(
        update,
        grid=widgets.IntSlider(value=7, min=2, max=16, description="grid S", **common()),
        k=widgets.IntSlider(value=5, min=1, max=9, description="anchors k", **common()),
    )
    return finish(wid, first, "YOLO grid, responsible cells and k-means anchors")


def make_yolo_thresholds_widget(image, raw_outputs, model):
    """Sliders for the confidence and NMS thresholds (:func:`yolo_thresholds_panel`).

    Example:
        >>> w = make_yolo_thresholds_widget(image, model.forward_raw(x), model)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    first: dict = {}

    def update(score_thresh, nms_thresh):
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        out = yolo_thresholds_panel(image, raw_outputs, model, score_thresh, nms_thresh, ax=ax)
        fig.tight_layout()
        show(fig, f"{len(out['boxes'])} detections", first)

    def common():
        return {"continuous_update": False, "style": STYLE, "layout": slider_layout()}

    wid = static_class(widgets.interactive)(
        update,
        score_thresh=widgets.FloatSlider(
            value=0.3, min=0.0, max=0.95, step=0.05, description="confidence", **common()
        ),
        nms_thresh=widgets.FloatSlider(
            value=0.5, min=0.1, max=1.0, step=0.05, description="NMS IoU", **common()
        ),
    )
    return finish(wid, first, "YOLO detections at a confidence and NMS threshold")
