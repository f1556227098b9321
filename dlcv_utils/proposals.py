"""Region proposals (영역 추정): sliding windows over an image pyramid, and proposal recall.

Taught in lesson 03. Selective search itself lives in :mod:`dlcv_utils.selective_search`
(re-exported here); OpenCV's contrib implementation is wrapped by
:func:`opencv_selective_search` for a side-by-side comparison where ``opencv-contrib`` is
installed.

Conventions: boxes are ``[N, 4]`` float32 ``(x1, y1, x2, y2)`` in pixel edges (no ``+1``);
``image_shape`` is ``(H, W)`` or ``(H, W, C)`` as numpy gives it; ``window`` and ``stride``
are ``(width, height)`` / ``(x step, y step)``, or one int for both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from dlcv_utils.selective_search import FAST_MODE, selective_search

__all__ = [
    "FAST_MODE",
    "LBPCascade",
    "cascade_scan",
    "count_sliding_windows",
    "image_pyramid",
    "integral_image",
    "opencv_selective_search",
    "opencv_selective_search_available",
    "plot_proposal_recall",
    "proposal_recall",
    "pyramid_windows",
    "selective_search",
    "sliding_window_proposals",
    "sliding_windows",
]


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints (both >= 1) as ``(x, y)``."""
    vals = (value, value) if isinstance(value, Integral) and not isinstance(value, bool) else value
    if isinstance(vals, str) or not isinstance(vals, Sequence | np.ndarray) or len(vals) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints (width, height), got {value!r}")
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise TypeError(f"{name} must hold ints, got {value!r}")
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


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


def _as_box_array(boxes, name: str) -> np.ndarray:
    if hasattr(boxes, "detach"):
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be [N, 4] xyxy boxes, got shape {arr.shape}")
    return arr


def proposal_recall(
    proposals_per_image,
    gt_boxes_per_image,
    iou_thresholds=(0.5, 0.7),
    counts=(1, 10, 100, 1000),
) -> np.ndarray:
    """Fraction of ground-truth boxes covered by one of the first ``N`` proposals.

    A ground-truth box counts as *recalled* at ``N`` proposals and threshold ``t`` when one of
    the first ``N`` proposals of its image has IoU ``>= t`` with it (class is ignored:
    proposals are class-agnostic). Images with fewer than ``N`` proposals use all they have.

    Args:
        proposals_per_image: one ``[P_i, 4]`` xyxy array per image, best first.
        gt_boxes_per_image: one ``[G_i, 4]`` xyxy array per image (``G_i`` may be 0).
        iou_thresholds: IoU thresholds ``t``.
        counts: the numbers of proposals ``N``.

    Returns:
        ``[len(iou_thresholds), len(counts)]`` float64 recall values.

    Raises:
        ValueError: different numbers of images, malformed boxes, no ground truth at all,
            thresholds outside ``[0, 1]`` or counts < 1.

    Example:
        >>> gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
        >>> props = [np.array([[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 30]])]
        >>> proposal_recall(props, gt, iou_thresholds=(0.5, 0.9), counts=(1, 3)).tolist()
        [[0.5, 1.0], [0.0, 0.5]]
    """
    from dlcv_utils.boxes import box_iou

    props = list(proposals_per_image)
    gts = list(gt_boxes_per_image)
    if len(props) != len(gts):
        raise ValueError(
            f"proposals_per_image and gt_boxes_per_image must have one entry per image, "
            f"got {len(props)} and {len(gts)}"
        )
    ts = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if ts.size == 0 or not np.all((ts >= 0) & (ts <= 1)):
        raise ValueError(
            f"iou_thresholds must be non-empty and lie in [0, 1], got {iou_thresholds!r}"
        )
    cs = []
    for c in np.atleast_1d(counts).tolist():
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"counts must be ints >= 1, got {counts!r}")
        cs.append(c)
    if not cs:
        raise ValueError("counts must not be empty")
    hits = np.zeros((ts.size, len(cs)))
    total = 0
    max_count = max(cs)
    for i, (p, g) in enumerate(zip(props, gts)):
        p = _as_box_array(p, f"proposals_per_image[{i}]")[:max_count]
        g = _as_box_array(g, f"gt_boxes_per_image[{i}]")
        total += len(g)
        if len(g) == 0 or len(p) == 0:
            continue
        best = np.maximum.accumulate(box_iou(g, p), axis=1)  # best IoU within the first n
        for ci, c in enumerate(cs):
            col = best[:, min(c, len(p)) - 1]
            hits[:, ci] += (col[None, :] >= ts[:, None]).sum(1)
    if total == 0:
        raise ValueError("gt_boxes_per_image holds no boxes at all: recall is undefined")
    return hits / total


def plot_proposal_recall(counts, curves: dict, iou_thresholds=(0.5, 0.7), axes=None, title=None):
    """Recall-vs-number-of-proposals curves, one panel per IoU threshold (log x axis).

    Args:
        counts: the numbers of proposals ``N`` (x axis).
        curves: ``{method name: [len(iou_thresholds), len(counts)] recall}`` as returned by
            :func:`proposal_recall`.
        iou_thresholds: one panel each.
        axes: as many matplotlib ``Axes`` as thresholds; a new figure when ``None``.
        title: figure title.

    Returns:
        The list of ``Axes``.

    Raises:
        ValueError: a curve of another shape than ``(len(iou_thresholds), len(counts))``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> axes = plot_proposal_recall([1, 10], {"toy": np.array([[0.5, 1.0], [0.2, 0.6]])})
        >>> [ax.get_title() for ax in axes]
        ['IoU >= 0.5', 'IoU >= 0.7']
        >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    ts = list(iou_thresholds)
    for name, r in curves.items():
        if np.shape(r) != (len(ts), len(counts)):
            raise ValueError(
                f"curves[{name!r}] must have shape {(len(ts), len(counts))} (thresholds x counts), "
                f"got {np.shape(r)}"
            )
    if axes is None:
        fig, axes = plt.subplots(1, len(ts), figsize=(4.5 * len(ts), 3.6), squeeze=False)
        axes = list(axes[0])
        if title is not None:
            fig.suptitle(title)
    for i, (ax, t) in enumerate(zip(axes, ts)):
        for name, r in curves.items():
            ax.plot(counts, np.asarray(r)[i], marker="o", markersize=3, label=name)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("number of proposals N")
        ax.set_ylabel("recall")
        ax.set_title(f"IoU >= {t}")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    return axes


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


# ------------------------------------------------------------------ a classical detector: LBP cascade


@dataclass
class LBPCascade:
    """A boosted cascade of multi-block LBP stumps, as OpenCV's ``traincascade`` writes it.

    Each *feature* is a ``3 x 3`` grid of equal blocks (``x, y`` = top-left of the grid inside
    the detector window, ``w, h`` = one block). Its value is an 8-bit code: bit ``b`` is set when
    the sum of outer block ``b`` is ``>=`` the centre block's sum (clockwise from the top-left,
    the most significant bit first, as in OpenCV). Each *stump* looks its code up in a 256-bit
    table and adds one of two leaf values to the stage sum; a window passes a stage when the
    sum reaches the stage threshold, and is a detection when it passes every stage. Most
    windows fail in the first stages, which is what makes a cascade fast.

    Attributes:
        window: ``(width, height)`` of the detector window (24 x 24 for the face cascade).
        features: ``[F, 4]`` int64 ``(x, y, w, h)`` of one block of each feature.
        stage_thresholds: ``[S]`` float64.
        stages: ``S`` tuples ``(feature_idx [K], luts [K, 8] uint32, leaves [K, 2])``.
    """

    window: tuple[int, int]
    features: np.ndarray
    stage_thresholds: np.ndarray
    stages: list

    @classmethod
    def from_xml(cls, path) -> LBPCascade:
        """Read an OpenCV LBP cascade XML file (``featureType`` ``LBP``, stumps only).

        Example:
            >>> from skimage.data import lbp_frontal_face_cascade_filename
            >>> c = LBPCascade.from_xml(lbp_frontal_face_cascade_filename())
            >>> c.window, len(c.stages), sum(len(s[0]) for s in c.stages), len(c.features)
            ((24, 24), 20, 139, 136)
        """
        import defusedxml.ElementTree as ET

        root = ET.parse(str(path)).getroot()
        node = root.find("cascade")
        if node is None or (node.findtext("featureType") or "").strip() != "LBP":
            raise ValueError(f"path must be an OpenCV LBP cascade XML file, got {path!r}")
        window = (int(node.findtext("width")), int(node.findtext("height")))
        features = np.array(
            [[int(v) for v in f.findtext("rect").split()] for f in node.find("features")],
            dtype=np.int64,
        )
        thresholds, stages = [], []
        for stage in node.find("stages"):
            thresholds.append(float(stage.findtext("stageThreshold")))
            idx, luts, leaves = [], [], []
            for weak in stage.find("weakClassifiers"):
                nodes = [int(v) for v in weak.findtext("internalNodes").split()]
                if len(nodes) != 11:
                    raise ValueError(
                        "only depth-1 LBP stumps (11 internalNodes values) are supported"
                    )
                idx.append(nodes[2])
                luts.append(np.array(nodes[3:], dtype=np.int64).astype(np.uint32))
                leaves.append([float(v) for v in weak.findtext("leafValues").split()])
            stages.append((np.array(idx), np.stack(luts), np.array(leaves)))
        return cls(window, features, np.array(thresholds), stages)

    def lbp_codes(self, integral, xs, ys, feature: int) -> np.ndarray:
        """The 8-bit MB-LBP code of ``feature`` in the windows at ``(xs, ys)`` (vectorised).

        Args:
            integral: ``(H + 1) x (W + 1)`` integral image (:func:`integral_image`).
            xs, ys: ``[N]`` top-left corners of the windows.
            feature: feature index.

        Example:
            >>> from skimage.data import lbp_frontal_face_cascade_filename
            >>> c = LBPCascade.from_xml(lbp_frontal_face_cascade_filename())
            >>> flat = integral_image(np.ones((24, 24)))
            >>> c.lbp_codes(flat, np.array([0]), np.array([0]), 0).tolist()  # all blocks equal
            [255]
        """
        fx, fy, fw, fh = self.features[feature]
        cols = np.asarray(xs)[:, None] + fx + fw * np.arange(4)  # [N, 4] grid lines
        rows = np.asarray(ys)[:, None] + fy + fh * np.arange(4)
        g = integral[rows[:, :, None], cols[:, None, :]]  # [N, 4, 4] corners
        blocks = g[:, 1:, 1:] - g[:, :-1, 1:] - g[:, 1:, :-1] + g[:, :-1, :-1]  # [N, 3, 3]
        centre = blocks[:, 1, 1]
        code = np.zeros(len(centre), dtype=np.int64)
        for (r, c), bit in zip(_LBP_ORDER, (128, 64, 32, 16, 8, 4, 2, 1)):
            code |= np.where(blocks[:, r, c] >= centre, bit, 0)
        return code

    def classify(self, integral, xs, ys):
        """Run the cascade on the windows at ``(xs, ys)`` of one pyramid level.

        Returns:
            ``(passed, stages_run, margin)``: ``[N]`` bool (a detection), ``[N]`` number of
            stages evaluated (the cost of the window), ``[N]`` last stage sum minus its
            threshold (a confidence for the detections).
        """
        xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
        n = len(xs)
        alive = np.arange(n)
        stages_run = np.zeros(n, np.int64)
        margin = np.zeros(n)
        for threshold, (fidx, luts, leaves) in zip(self.stage_thresholds, self.stages):
            if not len(alive):
                break
            stages_run[alive] += 1
            total = np.zeros(len(alive))
            for f, lut, leaf in zip(fidx, luts, leaves):
                code = self.lbp_codes(integral, xs[alive], ys[alive], int(f))
                bit = (lut[code >> 5] >> (code & 31).astype(np.uint32)) & 1
                total += np.where(bit == 1, leaf[0], leaf[1])
            margin[alive] = total - threshold
            alive = alive[total >= threshold]
        passed = np.zeros(n, bool)
        passed[alive] = True
        return passed, stages_run, margin


# the 8 outer blocks (row, col) of the 3 x 3 grid, clockwise from the top-left (bits 128 ... 1)
_LBP_ORDER = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0))


def integral_image(gray) -> np.ndarray:
    """``(H + 1) x (W + 1)`` summed-area table: ``ii[y, x] = gray[:y, :x].sum()``.

    Any box sum is then 4 look-ups: ``ii[y2, x2] - ii[y1, x2] - ii[y2, x1] + ii[y1, x1]``.
    Integer images give an exact int64 table (as OpenCV uses), so equal block sums compare
    equal; float images give float64.

    Example:
        >>> ii = integral_image(np.arange(6).reshape(2, 3))
        >>> ii.tolist(), int(ii[2, 3] - ii[0, 3] - ii[2, 1] + ii[0, 1])  # columns 1..2
        ([[0, 0, 0, 0], [0, 0, 1, 3], [0, 3, 8, 15]], 12)
    """
    g = np.asarray(gray)
    if g.ndim != 2:
        raise ValueError(f"gray must be an H x W array, got shape {g.shape}")
    dtype = np.int64 if np.issubdtype(g.dtype, np.integer) or g.dtype == np.bool_ else np.float64
    ii = np.zeros((g.shape[0] + 1, g.shape[1] + 1), dtype=dtype)
    ii[1:, 1:] = g.astype(dtype).cumsum(0).cumsum(1)
    return ii


def cascade_scan(
    image, cascade: LBPCascade, scale: float = 1.25, stride: int = 2, max_levels=None
) -> dict:
    """Slide the cascade's window over every level of an image pyramid (a classical detector).

    The image is turned into uint8 grey (``round(255 * rgb2gray)``), every pyramid level too,
    so the integral images are exact integers.

    Args:
        image: ``H x W x 3`` uint8 RGB or ``H x W`` uint8 grey.
        cascade: an :class:`LBPCascade`.
        scale: pyramid factor between levels (> 1).
        stride: window step in each level's pixels.
        max_levels: stop after this many levels.

    Returns:
        ``dict`` with ``boxes`` (``[D, 4]`` float32 xyxy detections, original pixels),
        ``scores`` (``[D]`` last-stage margins), ``levels`` (``[D]``), ``n_windows`` (windows
        scanned), ``windows_per_level`` (list), ``stage_evaluations`` (total stages run over
        all windows: the cascade's real cost).

    Example:
        >>> from skimage.data import lbp_frontal_face_cascade_filename
        >>> c = LBPCascade.from_xml(lbp_frontal_face_cascade_filename())
        >>> out = cascade_scan(np.zeros((48, 48), np.uint8), c, scale=2.0, stride=4)
        >>> out["n_windows"], out["windows_per_level"], len(out["boxes"])
        (50, [49, 1], 0)
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(
            f"image must be H x W x 3 RGB or H x W grey, uint8; got shape {arr.shape} "
            f"dtype {arr.dtype}"
        )
    if arr.ndim == 3:
        from skimage.color import rgb2gray

        gray = np.round(rgb2gray(arr) * 255).astype(np.uint8)
    else:
        gray = arr
    stride = _pair(stride, "stride")
    boxes, scores, levels, per_level = [], [], [], []
    stage_evals = 0
    for i, (level, factor) in enumerate(image_pyramid(gray, scale, cascade.window, max_levels)):
        wins = sliding_windows(level.shape, cascade.window, stride).astype(np.int64)
        per_level.append(len(wins))
        passed, run, margin = cascade.classify(integral_image(level), wins[:, 0], wins[:, 1])
        stage_evals += int(run.sum())
        boxes.append(wins[passed].astype(np.float32) * np.float32(factor))
        scores.append(margin[passed])
        levels.append(np.full(int(passed.sum()), i, np.int64))

    def cat(xs, shape, dt):
        return np.concatenate(xs) if xs else np.zeros(shape, dt)

    return {
        "boxes": cat(boxes, (0, 4), np.float32),
        "scores": cat(scores, (0,), np.float64),
        "levels": cat(levels, (0,), np.int64),
        "n_windows": int(sum(per_level)),
        "windows_per_level": per_level,
        "stage_evaluations": stage_evals,
    }
