"""Sliders of lesson 01: IoU of two boxes, NMS thresholds, and the IoU threshold of a match.

Taught in lesson 01. Each slider is backed by a plain *panel* function that takes the slider
values, returns the numbers it shows and (optionally) draws on a matplotlib ``Axes``:

* :func:`iou_panel` -> IoU, intersection and union of two boxes given as ``x, y, w, h``;
* :func:`nms_panel` -> the indices NMS keeps for a confidence and an IoU threshold;
* :func:`pr_panel` -> the precision/recall curve and AP at a matching IoU threshold.

The ``make_*_widget`` functions only wire ``ipywidgets`` sliders to these panels, so the panels
are tested without a browser.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "iou_panel",
    "make_iou_widget",
    "make_nms_widget",
    "make_pr_widget",
    "nms_panel",
    "pr_panel",
]


def _blank_canvas(width: int = 200, height: int = 200) -> np.ndarray:
    return np.full((height, width, 3), 245, dtype=np.uint8)


def _check_number(value, name: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value!r}")
    return value


# ------------------------------------------------------------------------------------ (a) IoU
def iou_panel(x1, y1, w1, h1, x2, y2, w2, h2, image=None, ax=None) -> dict:
    """IoU, intersection and union of two boxes given as ``(x, y, width, height)``.

    Args:
        x1, y1, w1, h1: the first box: top-left corner, width and height (pixels).
        x2, y2, w2, h2: the second box.
        image: optional photo to draw the boxes on (a light canvas otherwise).
        ax: the ``Axes`` to draw on; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``box1``/``box2`` (xyxy tuples), ``area1``, ``area2``, ``intersection``,
        ``union`` and ``iou`` (0 when the union is 0).

    Raises:
        TypeError: a value is not a number.
        ValueError: a value is NaN/inf, or a width/height is negative.

    Example:
        >>> out = iou_panel(0, 0, 2, 2, 1, 1, 2, 2)
        >>> out["intersection"], out["union"], round(out["iou"], 4)  # 1 / (4 + 4 - 1)
        (1.0, 7.0, 0.1429)
    """
    names = ("x1", "y1", "w1", "h1", "x2", "y2", "w2", "h2")
    vals = [_check_number(v, n) for v, n in zip((x1, y1, w1, h1, x2, y2, w2, h2), names)]
    for v, n in zip(vals, names):
        if n[0] in "wh" and v < 0:
            raise ValueError(f"{n} must be >= 0 (a width or height), got {v!r}")
    ax1, ay1, aw, ah, bx1, by1, bw, bh = vals
    box1 = (ax1, ay1, ax1 + aw, ay1 + ah)
    box2 = (bx1, by1, bx1 + bw, by1 + bh)
    iw = max(0.0, min(box1[2], box2[2]) - max(box1[0], box2[0]))
    ih = max(0.0, min(box1[3], box2[3]) - max(box1[1], box2[1]))
    inter = iw * ih
    area1, area2 = aw * ah, bw * bh
    union = area1 + area2 - inter
    iou = inter / union if union > 0 else 0.0
    out = {
        "box1": box1,
        "box2": box2,
        "area1": area1,
        "area2": area2,
        "intersection": inter,
        "union": union,
        "iou": iou,
    }
    if ax is not None:
        from matplotlib.patches import Rectangle

        from dlcv_utils.viz.plotting import PALETTE, draw_boxes, show_image

        show_image(_blank_canvas() if image is None else image, ax=ax)
        draw_boxes(ax, [box1, box2], color=[PALETTE[0], PALETTE[1]], linewidth=2.5)
        if inter > 0:
            ix, iy = max(box1[0], box2[0]), max(box1[1], box2[1])
            ax.add_patch(Rectangle((ix, iy), iw, ih, facecolor=PALETTE[2], alpha=0.5))
        ax.set_title(f"IoU = {inter:.0f} / {union:.0f} = {iou:.3f}")
    return out


# ------------------------------------------------------------------------------------ (b) NMS
def nms_panel(
    boxes,
    scores,
    score_threshold,
    iou_threshold,
    image=None,
    ax=None,
    labels=None,
    class_names=None,
) -> np.ndarray:
    """Confidence filter then greedy NMS; returns the kept indices, optionally drawn.

    A box survives the confidence filter when ``score > score_threshold``; NMS then removes a
    box whose IoU with a higher-scored kept box is ``> iou_threshold`` (see
    :func:`dlcv_utils.ops.nms.nms`). With ``labels`` the NMS is class-aware.

    Args:
        boxes: ``[N, 4]`` xyxy boxes (numpy or torch).
        scores: ``[N]`` confidences.
        score_threshold: confidence threshold in ``[0, 1]``.
        iou_threshold: NMS IoU threshold in ``[0, 1]``.
        image: photo to draw on (needed when ``ax`` is given).
        ax: the ``Axes`` to draw on; nothing is drawn when ``None``. Kept boxes are solid with
            their score, boxes removed by NMS dashed grey; boxes under the confidence threshold
            are not drawn.
        labels: optional ``[N]`` class indices (class-aware NMS, colours by class).
        class_names: names for the labels.

    Returns:
        int64 numpy array of kept indices, highest score first.

    Raises:
        TypeError/ValueError: bad thresholds, or bad boxes/scores (from ``dlcv_utils.ops.nms``).

    Example:
        >>> b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
        >>> s = np.array([0.9, 0.8, 0.3])
        >>> nms_panel(b, s, score_threshold=0.5, iou_threshold=0.5).tolist()
        [0]
    """
    from dlcv_utils.ops.nms import batched_nms, nms

    score_threshold = _check_number(score_threshold, "score_threshold", 0.0, 1.0)
    iou_threshold = _check_number(iou_threshold, "iou_threshold", 0.0, 1.0)
    b = boxes.detach().cpu().numpy() if hasattr(boxes, "detach") else np.asarray(boxes)
    s = scores.detach().cpu().numpy() if hasattr(scores, "detach") else np.asarray(scores)
    b, s = b.astype(np.float64), s.astype(np.float64)
    if labels is None:
        keep = nms(b, s, iou_threshold, score_threshold=score_threshold)
    else:
        lab = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
        keep = batched_nms(b, s, lab, iou_threshold, score_threshold=score_threshold)
    keep = np.asarray(keep, dtype=np.int64)
    if ax is not None:
        from dlcv_utils.viz.plotting import draw_boxes, show_image

        if image is None:
            raise ValueError("image is needed to draw (ax was given)")
        show_image(image, ax=ax)
        confident = np.flatnonzero(s > score_threshold)
        removed = np.setdiff1d(confident, keep)
        draw_boxes(ax, b[removed], color="0.6", linestyle="--", linewidth=1.2)
        draw_boxes(
            ax,
            b[keep],
            labels=None if labels is None else np.asarray(labels)[keep],
            scores=s[keep],
            class_names=class_names,
            color=None if labels is not None else "tab:red",
        )
        ax.set_title(
            f"kept {len(keep)} of {len(s)}: {len(s) - len(confident)} below confidence "
            f"{score_threshold:.2f}, {len(removed)} suppressed at IoU > {iou_threshold:.2f}",
            fontsize=9,
        )
    return keep


# ------------------------------------------------------------------------------ (c) PR curve
def pr_panel(gt_boxes, det_boxes, det_scores, iou_threshold, method="voc", ax=None) -> dict:
    """Match detections to ground truth at ``iou_threshold``; PR curve and AP of one class.

    Args:
        gt_boxes: one ``[G_i, 4]`` array of ground-truth boxes per image.
        det_boxes: one ``[D_i, 4]`` array of detections per image.
        det_scores: one ``[D_i]`` array of confidences per image.
        iou_threshold: minimum IoU for a true positive, in ``[0, 1]``.
        method: AP interpolation, ``"voc07"``, ``"voc"`` or ``"coco"``.
        ax: the ``Axes`` to draw the curve on; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``precision``, ``recall``, ``scores`` (ranked), ``tp`` (bool, ranked),
        ``n_gt`` and ``ap``.

    Raises:
        ValueError: the three per-image lists differ in length, or bad values (from
            :mod:`dlcv_utils.metrics`).

    Example:
        >>> gt = [np.array([[0, 0, 10, 10]])]
        >>> dets = [np.array([[0, 0, 10, 9], [0, 0, 5, 5]])]
        >>> out = pr_panel(gt, dets, [np.array([0.9, 0.8])], iou_threshold=0.5)
        >>> out["tp"].tolist(), out["ap"]
        ([True, False], 1.0)
    """
    from dlcv_utils.metrics import average_precision, match_detections, precision_recall_curve

    iou_threshold = _check_number(iou_threshold, "iou_threshold", 0.0, 1.0)
    if not (len(gt_boxes) == len(det_boxes) == len(det_scores)):
        raise ValueError(
            "gt_boxes, det_boxes and det_scores must have one entry per image, got lengths "
            f"{len(gt_boxes)}, {len(det_boxes)} and {len(det_scores)}"
        )
    all_scores, all_tp, n_gt = [], [], 0
    for g, d, s in zip(gt_boxes, det_boxes, det_scores):
        g = np.asarray(g, dtype=np.float64).reshape(-1, 4)
        d = np.asarray(d, dtype=np.float64).reshape(-1, 4)
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        tp, _ = match_detections(d, s, g, iou_threshold=iou_threshold)
        all_scores.append(s)
        all_tp.append(tp)
        n_gt += len(g)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, dtype=bool)
    precision, recall, ranked = precision_recall_curve(scores, tp, n_gt)
    ap = average_precision(recall, precision, method=method)
    order = np.argsort(-scores, kind="mergesort")
    out = {
        "precision": precision,
        "recall": recall,
        "scores": ranked,
        "tp": tp[order],
        "n_gt": n_gt,
        "ap": ap,
    }
    if ax is not None:
        from dlcv_utils.viz.plotting import plot_pr_curve

        plot_pr_curve(recall, precision, ax=ax, marker="o", label="precision after each detection")
        if len(precision):
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            plot_pr_curve(recall, envelope, ax=ax, step=True, label="envelope", color="tab:red")
        ax.set_title(f"IoU threshold {iou_threshold:.2f}: AP ({method}) = {ap:.3f}")
    return out


# ------------------------------------------------------------------------------ widget wiring
# Every control: full-width track, the same label width (tracks aligned), redraw on release
# (a redraw costs 0.1-0.4 s). Every widget: its first figure is saved with the notebook.
def _float_slider(description, value, lo, hi, step):
    import ipywidgets as widgets

    from dlcv_utils.viz.widgets._static import STYLE, slider_layout

    return widgets.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        readout_format=".2f",
        style=STYLE,
        layout=slider_layout(),
    )


def _int_slider(description, value, lo, hi):
    import ipywidgets as widgets

    from dlcv_utils.viz.widgets._static import STYLE, slider_layout

    return widgets.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=1,
        description=description,
        continuous_update=False,
        style=STYLE,
        layout=slider_layout(),
    )


def _image_size(image, default=(200, 200)) -> tuple[int, int]:
    if image is None:
        return default
    from dlcv_utils.viz.plotting import to_numpy_image

    h, w = to_numpy_image(image).shape[:2]
    return w, h


def make_iou_widget(image=None, box1=None, box2=None):
    """Eight sliders (``x, y, w, h`` of two boxes) wired to :func:`iou_panel`.

    Args:
        image: optional photo; the sliders span its width and height (200 x 200 without).
        box1, box2: starting boxes as ``(x, y, w, h)``; default: two overlapping boxes.

    Returns:
        An ``ipywidgets.interactive`` (display it by ending a cell with it). A saved notebook
        shows the figure of the starting boxes where the live widget cannot be drawn.

    Example:
        >>> w = make_iou_widget()  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import finish, show, static_class

    width, height = _image_size(image)
    box1 = box1 or (width // 5, height // 5, width * 2 // 5, height * 2 // 5)
    box2 = box2 or (width * 2 // 5, height * 3 // 10, width * 2 // 5, height * 2 // 5)
    first: dict = {}

    def update(x1, y1, w1, h1, x2, y2, w2, h2):
        fig, ax = plt.subplots(figsize=(5, 5 * height / width))
        out = iou_panel(x1, y1, w1, h1, x2, y2, w2, h2, image=image, ax=ax)
        text = (
            f"area1 = {out['area1']:.0f}, area2 = {out['area2']:.0f}, "
            f"intersection = {out['intersection']:.0f}, union = {out['union']:.0f}, "
            f"IoU = {out['iou']:.3f}"
        )
        show(fig, text, first)

    sliders = {}
    for k, (x, y, w, h) in ((1, box1), (2, box2)):
        sliders[f"x{k}"] = _int_slider(f"x{k}", int(x), 0, width)
        sliders[f"y{k}"] = _int_slider(f"y{k}", int(y), 0, height)
        sliders[f"w{k}"] = _int_slider(f"w{k}", int(w), 0, width)
        sliders[f"h{k}"] = _int_slider(f"h{k}", int(h), 0, height)
    w = static_class(widgets.interactive)(update, **sliders)
    return finish(w, first, "IoU of two boxes: sliders for box 1 and box 2")


def make_nms_widget(
    image, boxes, scores, labels=None, class_names=None, score_threshold=0.5, iou_threshold=0.5
):
    """Confidence and NMS-IoU sliders wired to :func:`nms_panel`, redrawing the kept boxes.

    Args:
        image: the photo.
        boxes, scores, labels, class_names: as for :func:`nms_panel`.
        score_threshold, iou_threshold: the sliders' starting values.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_nms_widget(img, boxes, scores)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import finish, show, static_class

    width, height = _image_size(image)
    first: dict = {}

    def update(score_threshold, iou_threshold):
        fig, ax = plt.subplots(figsize=(6, 6 * height / width))
        keep = nms_panel(
            boxes,
            scores,
            score_threshold,
            iou_threshold,
            image=image,
            ax=ax,
            labels=labels,
            class_names=class_names,
        )
        show(fig, f"kept indices: {keep.tolist()}", first)

    w = static_class(widgets.interactive)(
        update,
        score_threshold=_float_slider("confidence", score_threshold, 0.0, 1.0, 0.05),
        iou_threshold=_float_slider("NMS IoU", iou_threshold, 0.0, 1.0, 0.05),
    )
    return finish(w, first, "NMS: the boxes kept at a confidence and an IoU threshold")


def make_pr_widget(gt_boxes, det_boxes, det_scores, iou_threshold=0.5, method="voc"):
    """IoU-threshold slider (and an AP-method menu) wired to :func:`pr_panel`.

    Args:
        gt_boxes, det_boxes, det_scores: as for :func:`pr_panel`.
        iou_threshold: the slider's starting value.
        method: the menu's starting AP interpolation.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_pr_widget(gt, dets, scores)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, static_class

    first: dict = {}

    def update(iou_threshold, method):
        fig, ax = plt.subplots(figsize=(5, 4))
        out = pr_panel(gt_boxes, det_boxes, det_scores, iou_threshold, method=method, ax=ax)
        text = (
            f"TP/FP by rank: {''.join('T' if t else 'F' for t in out['tp'])}\nAP = {out['ap']:.3f}"
        )
        show(fig, text, first)

    w = static_class(widgets.interactive)(
        update,
        iou_threshold=_float_slider("TP at IoU ≥", iou_threshold, 0.05, 0.95, 0.05),
        method=widgets.Dropdown(
            options=["voc07", "voc", "coco"], value=method, description="AP method", style=STYLE
        ),
    )
    return finish(w, first, "Precision/recall curve and AP at a matching IoU threshold")
