"""Lesson 02's frame slider: scrub through the frames of a video, with boxes drawn.

The callback :func:`render_frame` is a plain function (frame index in, RGB image out);
:func:`make_frame_slider` only wires an ``IntSlider`` to it.

Taught in lesson 02 (OpenCV and datasets).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["make_frame_slider", "render_frame"]


def render_frame(
    frames: Sequence[np.ndarray],
    index: int,
    boxes: Sequence[np.ndarray] | None = None,
    labels: Sequence[np.ndarray] | None = None,
    class_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Return frame ``index`` as a new RGB image with its boxes (and class names) drawn by OpenCV.

    Args:
        frames: ``H x W x 3`` uint8 RGB frames.
        index: which frame (``0 <= index < len(frames)``).
        boxes: per-frame ``[K, 4]`` xyxy boxes, or ``None``.
        labels: per-frame ``[K]`` integer labels, or ``None``.
        class_names: names indexed by label (e.g. ``ShapesDetection.classes``).

    Raises:
        IndexError: if ``index`` is out of range.
        ValueError: if ``boxes``/``labels`` do not have one entry per frame.

    Example:
        >>> frames = [np.zeros((20, 20, 3), np.uint8)] * 2
        >>> out = render_frame(frames, 1, boxes=[np.zeros((0, 4))] + [np.array([[2, 2, 10, 10]])])
        >>> out.shape, out[2, 5].tolist() != [0, 0, 0], int(frames[1].max())
        ((20, 20, 3), True, 0)
    """
    import cv2

    n = len(frames)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not 0 <= index < n:
        raise IndexError(f"index must be in [0, {n}), got {index}")
    for name, per_frame in (("boxes", boxes), ("labels", labels)):
        if per_frame is not None and len(per_frame) != n:
            raise ValueError(f"{name} must have one entry per frame ({n}), got {len(per_frame)}")
    out = np.ascontiguousarray(frames[index]).copy()
    if boxes is None:
        return out
    frame_boxes = np.asarray(boxes[index], dtype=np.float64).reshape(-1, 4)
    frame_labels = None if labels is None else np.asarray(labels[index]).reshape(-1)
    for k, (x1, y1, x2, y2) in enumerate(frame_boxes):
        color = (255, 255, 0)
        # a box of pixel edges [x1, x2) covers pixels x1 .. x2 - 1
        p1 = (round(x1), round(y1))
        p2 = (max(round(x2) - 1, p1[0]), max(round(y2) - 1, p1[1]))
        cv2.rectangle(out, p1, p2, color, 1)
        if frame_labels is not None:
            lab = int(frame_labels[k])
            text = class_names[lab] if class_names is not None else str(lab)
            cv2.putText(out, text, (p1[0], max(p1[1] - 2, 7)), cv2.FONT_HERSHEY_PLAIN, 0.6,
                        color, 1, cv2.LINE_AA)  # fmt: skip
    return out


def make_frame_slider(
    frames: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray] | None = None,
    labels: Sequence[np.ndarray] | None = None,
    class_names: Sequence[str] | None = None,
    figsize: tuple[float, float] = (4, 4),
):
    """An ``IntSlider`` over the frames, showing :func:`render_frame` of the chosen one.

    Returns:
        An ``ipywidgets.VBox`` ``(slider, output)``; ``box.children[0]`` is the slider. A saved
        notebook shows frame 0 where the live widget cannot be drawn.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, figure_picture, slider_layout, static_class

    if len(frames) == 0:
        raise ValueError("frames must contain at least one frame, got 0")
    slider = widgets.IntSlider(
        value=0,
        min=0,
        max=len(frames) - 1,
        description="frame",
        style=STYLE,
        layout=slider_layout(),
        continuous_update=False,  # a redraw (matplotlib) is ~0.1 s: redraw on release
    )
    out = widgets.Output()
    first: dict = {}

    def show(change=None):
        image = render_frame(frames, slider.value, boxes, labels, class_names)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=figsize)
            ax.imshow(image)
            ax.set_title(f"frame {slider.value} / {len(frames) - 1}")
            ax.axis("off")
            if not first:
                first["png"] = figure_picture(fig)
            plt.show()
            plt.close(fig)

    slider.observe(show, names="value")
    show()
    box = static_class(widgets.VBox)([slider, out])
    box.static_png = first.get("png")
    box.static_text = (
        f"Frame slider over {len(frames)} video frames. Run the notebook to move it; the "
        "picture shows frame 0."
    )
    return box
