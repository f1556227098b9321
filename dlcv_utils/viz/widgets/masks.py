"""Lesson 13's instance-mask figures: the mask-threshold slider and the "colour splash".

Taught in lesson 13 (Mask R-CNN). A Mask R-CNN gives every detection a mask of probabilities;
a pixel belongs to the instance when its probability reaches the **mask threshold**.
:func:`mask_panel` binarises the masks of the detections scoring at least ``score_threshold``
at ``mask_threshold``, measures them and, given axes, draws them; :func:`make_mask_widget`
wires two sliders to it. :func:`color_splash` keeps the colour inside the instance masks and
turns the rest of the image grey (the "colour splash" effect of the Matterport Mask R-CNN
demo).
"""

from __future__ import annotations

import numpy as np

__all__ = ["color_splash", "make_mask_widget", "mask_panel"]


def _masks_hw(masks, h: int, w: int) -> np.ndarray:
    if hasattr(masks, "detach"):
        masks = masks.detach().cpu().numpy()
    m = np.asarray(masks, dtype=np.float32)
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim != 3 or m.shape[1:] != (h, w):
        raise ValueError(f"masks must be [N, {h}, {w}] or [N, 1, {h}, {w}], got {m.shape}")
    return m


def _check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def color_splash(image, masks, threshold: float = 0.5) -> np.ndarray:
    """The image in grey except inside the masks, where its colour is kept.

    Grey is the luma ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as OpenCV's
    ``COLOR_RGB2GRAY``), repeated on the three channels.

    Args:
        image: ``H x W x 3`` uint8 RGB or ``C x H x W`` float tensor in ``[0, 1]``.
        masks: ``[N, H, W]`` or ``[N, 1, H, W]`` masks (binary or probabilities); ``N`` may be 0
            (the whole image turns grey).
        threshold: a pixel is in a mask when its value is ``>= threshold``.

    Returns:
        ``H x W x 3`` uint8.

    Raises:
        ValueError / TypeError: masks of another size than the image, a bad threshold.

    Example:
        >>> img = np.zeros((2, 2, 3), np.uint8); img[..., 0] = 200  # red
        >>> m = np.zeros((1, 2, 2)); m[0, 0, 0] = 1
        >>> color_splash(img, m)[:, :, 0].tolist()  # 0.299 * 200 = 59.8 -> 60 outside the mask
        [[200, 60], [60, 60]]
    """
    from dlcv_utils.viz.plotting import to_numpy_image

    img = to_numpy_image(image)
    h, w = img.shape[:2]
    m = _masks_hw(masks, h, w)
    t = _check_threshold(threshold, "threshold")
    grey = np.rint(img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    out = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    inside = (m >= t).any(axis=0) if len(m) else np.zeros((h, w), bool)
    out[inside] = img[inside]
    return out


def mask_panel(
    image,
    masks,
    scores,
    labels=None,
    *,
    mask_threshold: float = 0.5,
    score_threshold: float = 0.5,
    class_names=None,
    axes=None,
) -> dict:
    """Binarise the kept detections' masks at ``mask_threshold``; optionally draw them.

    Args:
        image: ``H x W x 3`` uint8 or ``C x H x W`` float tensor.
        masks: ``[N, 1, H, W]`` (the model's output) or ``[N, H, W]`` mask probabilities.
        scores: ``[N]`` detection scores; detections below ``score_threshold`` are dropped.
        labels: ``[N]`` class labels (colours and names).
        mask_threshold: a pixel is in the instance when its probability is ``>= mask_threshold``.
        score_threshold: detections kept.
        class_names: names indexed by label.
        axes: ``(ax_masks, ax_splash)`` to draw on: the masks over the image, and the colour
            splash of the same masks; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``kept`` (indices of the kept detections), ``areas`` (pixels in each kept
        binary mask), ``masks`` (the kept binary masks, ``[K, H, W]`` bool) and ``soft_pixels``
        (pixels of the kept masks with a probability strictly between 0.05 and 0.95: the
        uncertain border the threshold cuts through).

    Example:
        >>> p = np.zeros((1, 4, 4), np.float32); p[0, 1:3, 1:3] = 0.9; p[0, 0, :] = 0.3
        >>> out = mask_panel(np.zeros((4, 4, 3), np.uint8), p, [0.8])
        >>> out["areas"], mask_panel(np.zeros((4, 4, 3), np.uint8), p, [0.8], mask_threshold=0.2)["areas"]
        ([4], [8])
    """
    from dlcv_utils.viz.plotting import show_image, to_numpy_image

    img = to_numpy_image(image)
    h, w = img.shape[:2]
    m = _masks_hw(masks, h, w)
    mt = _check_threshold(mask_threshold, "mask_threshold")
    st = _check_threshold(score_threshold, "score_threshold")
    s = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores, np.float64)
    if s.shape != (len(m),):
        raise ValueError(f"scores must have one value per mask ({len(m)}), got shape {s.shape}")
    lab = None
    if labels is not None:
        lab = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
        if lab.shape != (len(m),):
            raise ValueError(f"labels must have one value per mask ({len(m)}), got {lab.shape}")
    kept = np.flatnonzero(s >= st)
    binary = m[kept] >= mt
    soft = m[kept]
    out = {
        "kept": kept.tolist(),
        "areas": [int(b.sum()) for b in binary],
        "masks": binary,
        "soft_pixels": int(((soft > 0.05) & (soft < 0.95)).sum()),
    }
    if axes is not None:
        ax_masks, ax_splash = axes
        show_image(
            img,
            masks=binary,
            labels=None if lab is None else lab[kept],
            scores=None,
            class_names=class_names,
            ax=ax_masks,
            title=f"{len(kept)} masks at threshold {mt:.2f}",
        )
        ax_splash.imshow(color_splash(img, binary.astype(np.float32), 0.5))
        ax_splash.set_axis_off()
        ax_splash.set_title("colour splash")
    return out


def make_mask_widget(
    image,
    masks,
    scores,
    labels=None,
    *,
    class_names=None,
    mask_threshold: float = 0.5,
    score_threshold: float = 0.5,
):
    """Sliders for the mask and score thresholds wired to :func:`mask_panel`.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_mask_widget(np.zeros((8, 8, 3), np.uint8), np.zeros((0, 8, 8)), [])  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    mask_threshold = _check_threshold(mask_threshold, "mask_threshold")
    score_threshold = _check_threshold(score_threshold, "score_threshold")
    mask_panel(image, masks, scores, labels, mask_threshold=0.5, score_threshold=0.0)  # checks
    first: dict = {}

    def update(mask_threshold, score_threshold):
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
        out = mask_panel(
            image,
            masks,
            scores,
            labels,
            mask_threshold=mask_threshold,
            score_threshold=score_threshold,
            class_names=class_names,
            axes=axes,
        )
        text = (
            f"mask threshold {mask_threshold:.2f}, score threshold {score_threshold:.2f}: "
            f"{len(out['kept'])} instances, mask areas {out['areas']} px"
        )
        fig.tight_layout()
        show(fig, text, first)

    def slider(value, description):
        return widgets.FloatSlider(
            value=value,
            min=0.05,
            max=0.95,
            step=0.05,
            description=description,
            continuous_update=False,
            style=STYLE,
            layout=slider_layout(),
        )

    wid = static_class(widgets.interactive)(
        update,
        mask_threshold=slider(mask_threshold, "mask threshold"),
        score_threshold=slider(score_threshold, "score threshold"),
    )
    return finish(wid, first, "Instance masks at a mask threshold, and their colour splash")
