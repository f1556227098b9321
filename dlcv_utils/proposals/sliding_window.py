"""Sliding windows (슬라이딩 윈도우) over an image pyramid (이미지 피라미드): the oldest proposals.

Taught in lesson 03.

Conventions: boxes are ``[N, 4]`` float32 ``(x1, y1, x2, y2)`` in pixel edges (no ``+1``);
``image_shape`` is ``(H, W)`` or ``(H, W, C)`` as numpy gives it; ``window`` and ``stride``
are ``(width, height)`` / ``(x step, y step)``, or one int for both.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from dlcv_utils.validation import check_pair

__all__ = [
    "count_sliding_windows",
    "image_pyramid",
    "pyramid_windows",
    "sliding_window_proposals",
    "sliding_windows",
]


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints (both >= 1) as ``(x, y)``."""
    return check_pair(value, name, order="(width, height)")


def _shape(image_shape) -> tuple[int, int]:
    if isinstance(image_shape, np.ndarray) and image_shape.ndim >= 2 and image_shape.size > 3:
        raise TypeError("image_shape must be a shape tuple such as image.shape, got an image array")
    try:
        dims = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"image_shape must be (H, W) or (H, W, C), got {image_shape!r}") from None
    if len(dims) not in (2, 3) or dims[0] < 1 or dims[1] < 1:
        raise ValueError(
            f"image_shape must be (H, W) or (H, W, C) with H, W >= 1, got {image_shape!r}"
        )
    return dims[0], dims[1]


def _scale_factor(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, Real) or not math.isfinite(scale):
        raise TypeError(f"scale must be a finite number > 1, got {scale!r}")
    if scale <= 1.0:
        raise ValueError(f"scale must be > 1 (each pyramid level is smaller), got {scale!r}")
    return float(scale)


def count_sliding_windows(image_shape, window, stride) -> int:
    """How many ``window``-sized positions a scan with ``stride`` visits (closed form).

    ``(floor((W - w) / sx) + 1) * (floor((H - h) / sy) + 1)``, or 0 when the window is larger
    than the image.

    Example:
        >>> count_sliding_windows((480, 640), 24, 4)   # (616 // 4 + 1) * (456 // 4 + 1)
        17825
    """
    h, w = _shape(image_shape)
    ww, wh = _pair(window, "window")
    sx, sy = _pair(stride, "stride")
    if ww > w or wh > h:
        return 0
    return ((w - ww) // sx + 1) * ((h - wh) // sy + 1)


def sliding_windows(image_shape, window, stride) -> np.ndarray:
    """Every position of a ``window`` slid over the image with ``stride``, row by row.

    Windows start at ``(0, 0)`` and stay inside the image (the right/bottom strip narrower than
    a stride is not visited).

    Args:
        image_shape: ``(H, W)`` or ``(H, W, C)``.
        window: ``(width, height)`` of the window, or one int.
        stride: ``(x step, y step)``, or one int.

    Returns:
        ``[N, 4]`` float32 xyxy boxes, ``N = count_sliding_windows(...)``.

    Raises:
        TypeError / ValueError: malformed shape, window or stride.

    Example:
        >>> sliding_windows((4, 6), window=(4, 2), stride=2).tolist()
        [[0.0, 0.0, 4.0, 2.0], [2.0, 0.0, 6.0, 2.0], [0.0, 2.0, 4.0, 4.0], [2.0, 2.0, 6.0, 4.0]]
    """
    h, w = _shape(image_shape)
    ww, wh = _pair(window, "window")
    sx, sy = _pair(stride, "stride")
    if ww > w or wh > h:
        return np.zeros((0, 4), np.float32)
    xs = np.arange(0, w - ww + 1, sx)
    ys = np.arange(0, h - wh + 1, sy)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    x1, y1 = xx.ravel(), yy.ravel()
    return np.stack([x1, y1, x1 + ww, y1 + wh], 1).astype(np.float32)


def _level_shapes(h: int, w: int, scale: float, min_size: tuple[int, int], max_levels):
    """``(level_h, level_w, factor)`` of each pyramid level, largest first."""
    levels = []
    factor = 1.0
    while True:
        lh, lw = round(h / factor), round(w / factor)
        if lw < min_size[0] or lh < min_size[1]:
            break
        if max_levels is not None and len(levels) >= max_levels:
            break
        levels.append((lh, lw, factor))
        factor *= scale
    return levels


def image_pyramid(image, scale: float = 1.25, min_size=(24, 24), max_levels: int | None = None):
    """Repeatedly shrink ``image`` by ``scale`` until it is smaller than ``min_size``.

    A fixed-size window slid over every level finds objects of every size: an object
    ``s`` times larger than the window fits it on the level shrunk by ``s``.

    Args:
        image: ``H x W`` or ``H x W x C`` array.
        scale: shrink factor between levels (> 1); 1.25 is a common choice.
        min_size: ``(width, height)`` of the smallest level kept (usually the window size).
        max_levels: stop after this many levels (``None``: until ``min_size``).

    Returns:
        A list of ``(level_image, factor)``: ``level_image`` has size ``round(H / factor)`` x
        ``round(W / factor)``; multiply a box found on it by ``factor`` to get back to the
        original pixels. The first level is the image itself (``factor = 1``).

    Example:
        >>> levels = image_pyramid(np.zeros((100, 200, 3), np.uint8), scale=2.0, min_size=(24, 24))
        >>> [(lvl.shape[:2], f) for lvl, f in levels]
        [((100, 200), 1.0), ((50, 100), 2.0), ((25, 50), 4.0)]
    """
    import cv2

    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image must be H x W or H x W x C, got shape {arr.shape}")
    scale = _scale_factor(scale)
    min_size = _pair(min_size, "min_size")
    if max_levels is not None and (
        isinstance(max_levels, bool) or not isinstance(max_levels, Integral) or max_levels < 1
    ):
        raise ValueError(f"max_levels must be None or an int >= 1, got {max_levels!r}")
    out = []
    for lh, lw, factor in _level_shapes(arr.shape[0], arr.shape[1], scale, min_size, max_levels):
        level = arr if factor == 1.0 else cv2.resize(arr, (lw, lh), interpolation=cv2.INTER_AREA)
        out.append((level, factor))
    return out


def pyramid_windows(
    image_shape, window, stride, scale: float = 1.25, max_levels: int | None = None
):
    """All sliding-window positions over an image pyramid, mapped back to original pixels.

    This is what a classical detector scans: every level of :func:`image_pyramid`, every
    ``stride`` step, one fixed ``window``.

    Args:
        image_shape: ``(H, W)`` or ``(H, W, C)`` of the original image.
        window: ``(width, height)`` of the detector window, or one int.
        stride: step on each level (in that level's pixels), or one int.
        scale: shrink factor between levels (> 1).
        max_levels: stop after this many levels.

    Returns:
        ``(boxes, levels)``: ``[N, 4]`` float32 boxes in original pixels and ``[N]`` int64
        pyramid level of each.

    Example:
        >>> boxes, levels = pyramid_windows((48, 48), window=24, stride=24, scale=2.0)
        >>> boxes.tolist(), levels.tolist()
        ([[0.0, 0.0, 24.0, 24.0], [24.0, 0.0, 48.0, 24.0], [0.0, 24.0, 24.0, 48.0], [24.0, 24.0, 48.0, 48.0], [0.0, 0.0, 48.0, 48.0]], [0, 0, 0, 0, 1])
    """
    h, w = _shape(image_shape)
    win = _pair(window, "window")
    _pair(stride, "stride")
    scale = _scale_factor(scale)
    all_boxes, all_levels = [], []
    for i, (lh, lw, factor) in enumerate(_level_shapes(h, w, scale, win, max_levels)):
        b = sliding_windows((lh, lw), win, stride) * np.float32(factor)
        all_boxes.append(b)
        all_levels.append(np.full(len(b), i, np.int64))
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    boxes = np.concatenate(all_boxes)
    boxes[:, 2] = np.minimum(boxes[:, 2], w)  # rounding of level sizes can overshoot by < factor
    boxes[:, 3] = np.minimum(boxes[:, 3], h)
    return boxes, np.concatenate(all_levels)


def sliding_window_proposals(
    image_shape, window=24, stride=8, scale: float = 1.25, seed: int = 0
) -> np.ndarray:
    """Pyramid windows in a seeded random order: the "no idea where objects are" baseline.

    Taking the first ``N`` of them is a uniform sample of the windows a classical detector
    scans, which is what proposal recall of a sliding window at ``N`` proposals means.

    Example:
        >>> sliding_window_proposals((64, 64), window=32, stride=16, scale=2.0).shape
        (10, 4)
    """
    boxes, _ = pyramid_windows(image_shape, window, stride, scale)
    order = np.random.default_rng(seed).permutation(len(boxes))
    return boxes[order]
