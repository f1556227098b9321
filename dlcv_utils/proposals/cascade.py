"""A classical detector: a boosted cascade of multi-block LBP features (lesson 03).

:class:`LBPCascade` reads OpenCV's ``traincascade`` XML; :func:`cascade_scan` slides it over an
image pyramid (:mod:`dlcv_utils.proposals.sliding_window`) using an :func:`integral_image`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcv_utils.proposals.sliding_window import image_pyramid, sliding_windows
from dlcv_utils.validation import check_pair

__all__ = ["LBPCascade", "cascade_scan", "integral_image"]


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
    stride = check_pair(stride, "stride")
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
