"""Lesson 07's OpenCV DNN pictures: what ``blobFromImage`` feeds the network, and a
confidence / NMS slider over the raw outputs of one frame.

Taught in lesson 07 (OpenCV DNN). :func:`blob_panel` runs ``cv2.dnn.blobFromImage`` on a BGR
image and shows the blob as a picture next to the part of the original image it came from (the
centre cut when ``crop=True``); :func:`detections_panel` decodes raw single-shot head outputs
(:func:`dlcv_utils.models.single_shot.decode_detections`) at a confidence and an NMS threshold
and draws them on the original frame; :func:`make_detections_widget` wires two sliders to it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["blob_panel", "detections_panel", "make_detections_widget"]


def _check_image(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"image must be an H x W x 3 uint8 array, got shape {img.shape} and dtype {img.dtype}"
        )
    return img


def blob_panel(
    image_bgr,
    size: tuple[int, int],
    scalefactor: float = 1.0,
    mean=(0.0, 0.0, 0.0),
    swap_rb: bool = True,
    crop: bool = False,
    axes=None,
) -> dict:
    """``cv2.dnn.blobFromImage`` on one BGR image, and what the network sees.

    Args:
        image_bgr: ``H x W x 3`` uint8 image in OpenCV's BGR order.
        size: ``(W, H)`` of the blob.
        scalefactor / mean / swap_rb / crop: as ``blobFromImage``.
        axes: ``(ax_image, ax_blob)`` to draw on; nothing is drawn when ``None``.

    Returns:
        ``blob`` (``float32 [1, 3, H, W]``), ``region`` (``(x1, y1, x2, y2)`` of the original
        image the blob covers) and ``view`` (the blob as an ``H x W x 3`` uint8 picture, its
        channels shown as R, G, B; min-max scaled).

    Raises:
        ValueError: a bad image or size.

    Example:
        >>> img = np.zeros((100, 200, 3), np.uint8)
        >>> blob_panel(img, (50, 50), crop=True)["region"]
        (50.0, 0.0, 150.0, 100.0)
        >>> blob_panel(img, (50, 50))["region"]
        (0.0, 0.0, 200.0, 100.0)
    """
    import cv2

    img = _check_image(image_bgr)
    if len(size) != 2 or min(int(v) for v in size) < 1:
        raise ValueError(f"size must be (width, height) with positive ints, got {size!r}")
    w, h = int(size[0]), int(size[1])
    blob = cv2.dnn.blobFromImage(img, scalefactor, (w, h), tuple(mean), swap_rb, crop)
    ih, iw = img.shape[:2]
    if crop:
        f = max(w / iw, h / ih)
        cw, ch = w / f, h / f
        region = ((iw - cw) / 2, (ih - ch) / 2, (iw + cw) / 2, (ih + ch) / 2)
    else:
        region = (0.0, 0.0, float(iw), float(ih))
    region = tuple(float(v) for v in region)
    view = blob[0].transpose(1, 2, 0)
    lo, hi = float(view.min()), float(view.max())
    view = ((view - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    if axes is not None:
        from matplotlib.patches import Rectangle

        ax_img, ax_blob = axes
        ax_img.imshow(img[..., ::-1])
        x1, y1, x2, y2 = region
        ax_img.add_patch(
            Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="yellow", linewidth=2)
        )
        ax_img.set_title(f"original {iw}x{ih}: the blob covers the yellow box")
        ax_blob.imshow(view)
        ax_blob.set_title(f"blob {w}x{h}, swapRB={swap_rb}, crop={crop}")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
    return {"blob": blob, "region": region, "view": view}


def detections_panel(
    image,
    class_logits,
    box_deltas,
    anchors,
    input_size: tuple[int, int],
    score_thresh: float = 0.5,
    nms_thresh: float = 0.5,
    class_names=None,
    ax=None,
) -> dict:
    """Decode raw head outputs at ``score_thresh`` / ``nms_thresh`` and draw them on ``image``.

    Args:
        image: ``H x W x 3`` uint8 RGB original frame (any size; boxes are scaled to it).
        class_logits: ``[L, K]`` (or ``[1, L, K]``) raw class logits.
        box_deltas: ``[L, 4]`` (or ``[1, L, 4]``) raw box deltas.
        anchors: ``[L, 4]`` anchors in network-input pixels.
        input_size: ``(height, width)`` of the network input.
        score_thresh: confidence threshold.
        nms_thresh: NMS IoU threshold (1.0 keeps every box).
        class_names: names indexed by label (entry 0 the background).
        ax: matplotlib axes to draw on; nothing is drawn when ``None``.

    Returns:
        ``boxes`` (``[D, 4]`` in original-image pixels), ``scores``, ``labels`` and
        ``n_before_nms`` (boxes above the threshold before NMS).

    Example:
        >>> import torch
        >>> anchors = torch.tensor([[0.0, 0.0, 8.0, 8.0], [1.0, 0.0, 9.0, 8.0]])
        >>> out = detections_panel(np.zeros((32, 32, 3), np.uint8), torch.tensor([[3.0], [2.0]]),
        ...                        torch.zeros(2, 4), anchors, (16, 16), 0.5, 0.5)
        >>> out["n_before_nms"], len(out["boxes"]), out["boxes"][0].tolist()
        (2, 1, [0.0, 0.0, 16.0, 16.0])
    """
    import torch

    from dlcv_utils.models.single_shot import decode_detections

    img = _check_image(image)
    ih, iw = img.shape[:2]
    height, width = (int(v) for v in input_size)
    kwargs = {"score_thresh": float(score_thresh), "detections_per_img": 10_000}
    before = decode_detections(
        class_logits, box_deltas, anchors, (height, width), nms_thresh=1.0, **kwargs
    )[0]
    det = decode_detections(
        class_logits, box_deltas, anchors, (height, width), nms_thresh=nms_thresh, **kwargs
    )[0]
    scale = torch.tensor([iw / width, ih / height, iw / width, ih / height])
    boxes = det["boxes"] * scale
    out = {
        "boxes": boxes,
        "scores": det["scores"],
        "labels": det["labels"],
        "n_before_nms": len(before["boxes"]),
    }
    if ax is not None:
        from dlcv_utils.viz.plotting import show_image

        show_image(
            img,
            boxes=boxes,
            labels=det["labels"],
            scores=det["scores"],
            class_names=class_names,
            ax=ax,
            title=f"score >= {score_thresh:.2f}: {out['n_before_nms']} boxes; "
            f"after NMS @ {nms_thresh:.2f}: {len(boxes)}",
        )
    return out


def make_detections_widget(
    image,
    class_logits,
    box_deltas,
    anchors,
    input_size,
    class_names=None,
    score_thresh=0.5,
    nms_thresh=0.5,
):
    """Confidence and NMS sliders wired to :func:`detections_panel` on one frame.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_detections_widget(frame, logits, deltas, anchors, (128, 128))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    img = _check_image(image)
    first: dict = {}

    def update(score, iou):
        fig, ax = plt.subplots(figsize=(5, 5 * img.shape[0] / img.shape[1]))
        out = detections_panel(
            img, class_logits, box_deltas, anchors, input_size, score, iou, class_names, ax=ax
        )
        text = f"{out['n_before_nms']} boxes above {score:.2f}, {len(out['boxes'])} after NMS"
        show(fig, text, first)

    def slider(description, value, lo, hi, step):
        return widgets.FloatSlider(
            value=value, min=lo, max=hi, step=step, description=description,
            style=STYLE, layout=slider_layout(), continuous_update=False,
        )  # fmt: skip

    wid = static_class(widgets.interactive)(
        update,
        score=slider("confidence", float(score_thresh), 0.05, 0.95, 0.05),
        iou=slider("NMS IoU", float(nms_thresh), 0.1, 1.0, 0.05),
    )
    return finish(wid, first, "Confidence / NMS sliders over OpenCV DNN's raw outputs")
