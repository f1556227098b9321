"""Lesson 10's widget: a YOLO head's raw output, filtered by confidence and class-wise NMS.

A YOLOv8/YOLO11 detection head (after its own decoding) gives, for each of its ``A`` anchor
points, a box ``(cx, cy, w, h)`` in pixels and ``K`` class probabilities: ``Tensor[4 + K,
A]`` per image. Ultralytics' post-processing then keeps, for each anchor point, its best
class; drops anchors whose best probability is not above ``conf``; runs NMS per class at
``iou``; and keeps the ``max_det`` best. :func:`yolo_postprocess_panel` does the same with the
course's NMS (no Ultralytics import) and draws the result; :func:`make_yolo_threshold_widget`
wires two sliders to it.
"""

from __future__ import annotations

import numpy as np

from dlcv_utils.validation import check_number

__all__ = ["make_yolo_threshold_widget", "yolo_postprocess", "yolo_postprocess_panel"]


def yolo_postprocess(raw, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> np.ndarray:
    """Ultralytics-style post-processing of one image's raw head output.

    Args:
        raw: ``[4 + K, A]`` (numpy or torch): ``cx, cy, w, h`` in pixels, then ``K`` class
            probabilities, for ``A`` anchor points (Ultralytics' ``model(x)[0][i]``).
        conf: keep anchors whose best class probability is ``> conf``.
        iou: class-wise NMS IoU threshold (a box is removed when its IoU with a better box of
            the same class is ``> iou``).
        max_det: keep at most this many detections.

    Returns:
        ``float64 [N, 6]`` rows ``(x1, y1, x2, y2, conf, cls)``, best first: the layout of
        Ultralytics' ``Results.boxes.data``.

    Raises:
        ValueError: ``raw`` is not ``[4 + K, A]`` with ``K >= 1``, or a bad threshold.

    Example:
        >>> raw = np.array([[10, 11, 40], [10, 10, 40], [8, 8, 8], [8, 8, 8],
        ...                 [0.9, 0.8, 0.1], [0.05, 0.1, 0.7]], dtype=float)
        >>> yolo_postprocess(raw, conf=0.25, iou=0.5)[:, 4:].tolist()
        [[0.9, 0.0], [0.7, 1.0]]
    """
    from dlcv_utils.ops.nms import batched_nms

    conf = float(check_number(conf, "conf", low=0.0, high=1.0))
    iou = float(check_number(iou, "iou", low=0.0, high=1.0))
    if isinstance(max_det, bool) or not isinstance(max_det, int) or max_det < 1:
        raise ValueError(f"max_det must be a positive int, got {max_det!r}")
    r = raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)
    r = r.astype(np.float64)
    if r.ndim != 2 or r.shape[0] < 5:
        raise ValueError(f"raw must be [4 + K, A] with K >= 1 classes, got shape {r.shape}")
    probs = r[4:]  # [K, A]
    cls = probs.argmax(0)
    score = probs.max(0)
    keep = score > conf
    cx, cy, w, h = r[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    score, cls = score[keep], cls[keep]
    if len(score) == 0:
        return np.zeros((0, 6))
    kept = np.asarray(batched_nms(boxes, score, cls, iou), dtype=np.int64)[:max_det]
    return np.column_stack([boxes[kept], score[kept], cls[kept].astype(np.float64)])


def yolo_postprocess_panel(
    image, raw, conf: float, iou: float, class_names=None, ax=None, max_det: int = 300
) -> np.ndarray:
    """:func:`yolo_postprocess`, drawn: kept boxes with class and score on the image.

    Args:
        image: the ``H x W x 3`` image the head saw.
        raw, conf, iou, max_det: as for :func:`yolo_postprocess`.
        class_names: names by class index.
        ax: the ``Axes`` to draw on; nothing is drawn when ``None``.

    Returns:
        The ``[N, 6]`` detections.

    Example:
        >>> raw = np.array([[10.0], [10.0], [8.0], [8.0], [0.9]])
        >>> yolo_postprocess_panel(np.zeros((20, 20, 3)), raw, 0.5, 0.7).shape
        (1, 6)
    """
    dets = yolo_postprocess(raw, conf, iou, max_det)
    if ax is not None:
        from dlcv_utils.viz.plotting import draw_boxes, show_image

        n_anchor = np.asarray(raw.shape)[1]
        show_image(image, ax=ax)
        draw_boxes(
            ax,
            dets[:, :4],
            labels=dets[:, 5].astype(int),
            scores=dets[:, 4],
            class_names=class_names,
        )
        ax.set_title(
            f"{len(dets)} of {n_anchor} anchor points kept (conf > {conf:.2f}, NMS IoU {iou:.2f})",
            fontsize=9,
        )
    return dets


def _slider(description: str, value: float, low: float):
    import ipywidgets as widgets

    from dlcv_utils.viz.widgets._static import STYLE, slider_layout

    return widgets.FloatSlider(
        value=value,
        min=low,
        max=1.0,
        step=0.05,
        description=description,
        style=STYLE,
        layout=slider_layout(),
        continuous_update=False,
        readout_format=".2f",
    )


def make_yolo_threshold_widget(image, raw, class_names=None, conf=0.25, iou=0.7):
    """Confidence and NMS-IoU sliders wired to :func:`yolo_postprocess_panel`.

    Args:
        image, raw, class_names: as for :func:`yolo_postprocess_panel`.
        conf, iou: the sliders' starting values (Ultralytics' ``predict`` defaults).

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_yolo_threshold_widget(img, raw, names)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import finish, show, static_class

    height, width = np.asarray(image).shape[:2]
    first: dict = {}

    def update(conf, iou):
        fig, ax = plt.subplots(figsize=(5, 5 * height / width))
        dets = yolo_postprocess_panel(image, raw, conf, iou, class_names=class_names, ax=ax)
        show(fig, f"{len(dets)} detections", first)

    w = static_class(widgets.interactive)(
        update,
        conf=_slider("confidence", conf, 0.0),
        iou=_slider("NMS IoU", iou, 0.05),
    )
    return finish(w, first, "YOLO post-processing at a confidence and an NMS IoU threshold")
