"""OpenCV's contrib selective search, wrapped for a side-by-side comparison (lesson 03).

It needs ``opencv-contrib-python``; :func:`opencv_selective_search_available` says whether it
is installed. Boxes come back as ``[N, 4]`` float32 ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["opencv_selective_search", "opencv_selective_search_available"]


def opencv_selective_search_available() -> bool:
    """Whether ``cv2.ximgproc.segmentation`` (``opencv-contrib-python``) can be imported.

    Example:
        >>> isinstance(opencv_selective_search_available(), bool)
        True
    """
    try:
        import cv2
    except ImportError:
        return False
    seg = getattr(getattr(cv2, "ximgproc", None), "segmentation", None)
    return seg is not None and hasattr(seg, "createSelectiveSearchSegmentation")


def opencv_selective_search(
    image, mode: str = "fast", max_proposals: int | None = None
) -> np.ndarray:
    """OpenCV-contrib's selective search, boxes converted to our ``xyxy`` convention.

    Args:
        image: ``H x W x 3`` uint8 RGB (converted to OpenCV's BGR here).
        mode: ``"single"`` (one strategy), ``"fast"`` or ``"quality"`` (OpenCV's presets).
        max_proposals: keep the first this many (OpenCV returns them ranked).

    Returns:
        ``[N, 4]`` float32 xyxy boxes.

    Raises:
        RuntimeError: when ``cv2.ximgproc`` is missing (install ``opencv-contrib-python-headless``
            instead of ``opencv-python-headless``).
        ValueError: bad ``image`` or ``mode``.
    """
    if mode not in ("single", "fast", "quality"):
        raise ValueError(f"mode must be 'single', 'fast' or 'quality', got {mode!r}")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"image must be H x W x 3 uint8 RGB, got shape {arr.shape} dtype {arr.dtype}"
        )
    if max_proposals is not None and (
        isinstance(max_proposals, bool)
        or not isinstance(max_proposals, Integral)
        or max_proposals < 1
    ):
        raise ValueError(f"max_proposals must be None or an int >= 1, got {max_proposals!r}")
    if not opencv_selective_search_available():
        raise RuntimeError(
            "cv2.ximgproc is not available: OpenCV's selective search is in the contrib build "
            "(pip install opencv-contrib-python-headless)"
        )
    import cv2

    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(arr[..., ::-1]))
    {
        "single": ss.switchToSingleStrategy,
        "fast": ss.switchToSelectiveSearchFast,
        "quality": ss.switchToSelectiveSearchQuality,
    }[mode]()
    rects = np.asarray(ss.process(), dtype=np.float32).reshape(-1, 4)  # x, y, w, h
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    return boxes if max_proposals is None else boxes[:max_proposals]
