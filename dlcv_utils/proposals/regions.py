"""The building blocks of selective search: colour spaces, segments, region features (lesson 03).

:func:`oversegment` cuts an image into Felzenszwalb segments; each segment is described by a
colour histogram (:func:`color_histograms`) and a texture histogram
(:func:`texture_histograms`); :func:`histogram_intersection`, :func:`size_similarity` and
:func:`fill_similarity` compare two regions, and :func:`region_adjacency` says which touch.
:mod:`dlcv_utils.proposals.selective_search` groups the regions with them.

Images are ``H x W x 3`` RGB arrays (uint8, or floats in ``[0, 1]``); label maps ``H x W``
ints ``0..n-1``; boxes ``(x1, y1, x2, y2)`` in pixel edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcv_utils.validation import check_int, check_number

__all__ = [
    "COLOR_BINS",
    "COLOR_SPACES",
    "SIMILARITIES",
    "TEXTURE_BINS",
    "TEXTURE_ORIENTATIONS",
    "check_image",
    "check_labels",
    "check_similarities",
    "color_histograms",
    "convert_color",
    "fill_similarity",
    "histogram_intersection",
    "oversegment",
    "region_adjacency",
    "region_boxes",
    "size_similarity",
    "texture_histograms",
]

#: The four similarity measures of the paper, by name.
SIMILARITIES: tuple[str, ...] = ("color", "texture", "size", "fill")
#: Colour spaces :func:`convert_color` knows (``rgi`` = normalised r, g plus intensity).
COLOR_SPACES: tuple[str, ...] = ("rgb", "hsv", "lab", "rgi", "gray")
COLOR_BINS = 25
TEXTURE_ORIENTATIONS = 8
TEXTURE_BINS = 10


# --------------------------------------------------------------------------- validation helpers


def check_image(image, min_side: int = 1) -> np.ndarray:
    """Return ``image`` as a float64 ``H x W x 3`` array in ``[0, 1]``."""
    if not isinstance(image, np.ndarray):
        if hasattr(image, "detach"):
            raise TypeError(
                "image must be an H x W x 3 numpy array (uint8 RGB), got a torch tensor; "
                "use tensor.permute(1, 2, 0).numpy()"
            )
        raise TypeError(f"image must be an H x W x 3 numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape H x W x 3 (RGB), got {image.shape}")
    if image.shape[0] < min_side or image.shape[1] < min_side:
        raise ValueError(
            f"image must be at least {min_side} x {min_side} pixels, got {image.shape[:2]}"
        )
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError("image contains NaN or inf values")
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float image values must lie in [0, 1], got range [{lo:.3g}, {hi:.3g}]"
            )
        return image.astype(np.float64)
    raise TypeError(f"image must be uint8 or float in [0, 1], got dtype {image.dtype}")


def check_labels(labels, shape=None) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be an H x W integer array, got shape {labels.shape} dtype {labels.dtype}"
        )
    if shape is not None and labels.shape != tuple(shape):
        raise ValueError(f"labels must have the image's shape {tuple(shape)}, got {labels.shape}")
    if labels.size == 0 or labels.min() < 0:
        raise ValueError("labels must be non-empty and hold region ids 0..n-1")
    n = int(labels.max()) + 1
    if np.bincount(labels.ravel(), minlength=n).min() == 0:
        raise ValueError(f"labels must use every id 0..{n - 1} (found unused ids)")
    return labels.astype(np.int64), n


def check_similarities(similarities) -> tuple[tuple[str, ...], ...]:
    """Accept one set (``("color", "size")``) or several (``(("color",), ("size", "fill"))``)."""
    if isinstance(similarities, str):
        raise TypeError(
            f"similarities must be a sequence of names such as ('color', 'size'), "
            f"got the string {similarities!r}"
        )
    sims = list(similarities)
    if not sims:
        raise ValueError("similarities must not be empty")
    sets = [sims] if all(isinstance(s, str) for s in sims) else sims
    out = []
    for s in sets:
        if isinstance(s, str) or not isinstance(s, Sequence):
            raise TypeError(
                f"similarities must be names or sequences of names, got {similarities!r}"
            )
        names = tuple(s)
        if not names:
            raise ValueError("each similarity set must name at least one similarity")
        bad = [x for x in names if x not in SIMILARITIES]
        if bad:
            raise ValueError(f"similarities must be among {SIMILARITIES}, got {bad[0]!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"similarities must not repeat a name, got {names}")
        out.append(names)
    return tuple(out)


# ---------------------------------------------------------------------------- the building blocks


def convert_color(image, space: str = "rgb") -> np.ndarray:
    """Convert an RGB image to ``space``, every channel scaled to ``[0, 1]``.

    Args:
        image: ``H x W x 3`` uint8 RGB, or floats in ``[0, 1]``.
        space: one of :data:`COLOR_SPACES`: ``"rgb"``, ``"hsv"``, ``"lab"`` (L/100, a and b
            shifted by 128 and divided by 255), ``"rgi"`` (normalised r, g, and intensity) or
            ``"gray"`` (one channel).

    Returns:
        ``H x W x C`` float64 array (``C = 1`` for ``"gray"``, else 3).

    Raises:
        ValueError: unknown ``space`` or malformed image.

    Example:
        >>> img = np.zeros((2, 2, 3), dtype=np.uint8); img[..., 0] = 255
        >>> convert_color(img, "hsv")[0, 0].round(3).tolist()
        [0.0, 1.0, 1.0]
        >>> convert_color(img, "gray").shape
        (2, 2, 1)
    """
    rgb = check_image(image)
    if space not in COLOR_SPACES:
        raise ValueError(f"space must be one of {COLOR_SPACES}, got {space!r}")
    if space == "rgb":
        return rgb
    from skimage import color

    if space == "hsv":
        return color.rgb2hsv(rgb)
    if space == "lab":
        lab = color.rgb2lab(rgb)
        out = np.stack(
            [lab[..., 0] / 100.0, (lab[..., 1] + 128) / 255, (lab[..., 2] + 128) / 255], -1
        )
        return np.clip(out, 0.0, 1.0)
    total = rgb.sum(-1, keepdims=True)
    intensity = total / 3.0
    if space == "gray":
        return intensity
    norm = np.divide(rgb[..., :2], total, out=np.full_like(rgb[..., :2], 1 / 3), where=total > 0)
    return np.concatenate([norm, intensity], -1)


def oversegment(image, scale: float = 100, sigma: float = 0.8, min_size: int = 50) -> np.ndarray:
    """Felzenszwalb-Huttenlocher graph-based over-segmentation, labels ``0..n-1``.

    A thin wrapper over ``skimage.segmentation.felzenszwalb`` that accepts our ``[0, 1]``
    colour-space images (any number of channels).

    Args:
        image: ``H x W x C`` floats in ``[0, 1]`` (e.g. from :func:`convert_color`), or uint8 RGB.
        scale: the paper's ``k``, in 0..255 intensity units; larger gives bigger segments.
        sigma: Gaussian smoothing before segmenting.
        min_size: segments smaller than this many pixels are merged into a neighbour.

    Returns:
        ``H x W`` int64 label map.

    Example:
        >>> img = np.zeros((20, 20, 3), dtype=np.uint8); img[:, 10:] = 200
        >>> np.unique(oversegment(img, scale=100, min_size=40)).tolist()
        [0, 1]
    """
    from skimage.segmentation import felzenszwalb

    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float64) / 255.0
    if arr.ndim != 3:
        raise ValueError(f"image must be H x W x C, got shape {arr.shape}")
    scale = check_number(scale, "scale", low=0.0, low_open=True)
    sigma = check_number(sigma, "sigma", low=0.0)
    min_size = check_int(min_size, "min_size", minimum=1)
    if arr.shape[2] == 1:
        labels = felzenszwalb(
            arr[..., 0], scale=scale, sigma=sigma, min_size=min_size, channel_axis=None
        )
    else:
        labels = felzenszwalb(arr, scale=scale, sigma=sigma, min_size=min_size)
    # felzenszwalb's ids are already 0..n-1; relabel defensively so every id is used
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int64)


def _l1_normalise(hist: np.ndarray) -> np.ndarray:
    total = hist.sum(1, keepdims=True)
    return np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)


def color_histograms(image, labels, bins: int = COLOR_BINS) -> np.ndarray:
    """Per-region colour histograms: ``bins`` bins per channel, L1-normalised per region.

    Args:
        image: ``H x W x C`` floats in ``[0, 1]`` (a :func:`convert_color` output).
        labels: ``H x W`` region ids ``0..n-1``.
        bins: bins per channel over ``[0, 1]``.

    Returns:
        ``[n, C * bins]`` float64; each row sums to 1.

    Example:
        >>> img = np.zeros((2, 2, 1)); img[0, 0, 0] = 1.0
        >>> color_histograms(img, np.array([[0, 1], [1, 1]]), bins=2).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    img = np.asarray(image, dtype=np.float64)
    labels, n = check_labels(labels, img.shape[:2])
    bins = check_int(bins, "bins", minimum=1)
    flat = labels.ravel()
    hist = np.empty((n, img.shape[2] * bins))
    for c in range(img.shape[2]):
        b = np.minimum((img[..., c].ravel() * bins).astype(np.int64), bins - 1)
        hist[:, c * bins : (c + 1) * bins] = np.bincount(
            flat * bins + b, minlength=n * bins
        ).reshape(n, bins)
    return _l1_normalise(hist)


def texture_histograms(
    image,
    labels,
    orientations: int = TEXTURE_ORIENTATIONS,
    bins: int = TEXTURE_BINS,
    sigma: float = 1.0,
) -> np.ndarray:
    """Per-region texture histograms (SIFT-like), as in the paper.

    For every channel, Gaussian derivatives (``sigma = 1``) give the image gradient
    ``(gx, gy)``; its response in direction ``theta_k = 2 pi k / orientations`` is
    ``max(0, gx cos theta_k + gy sin theta_k)``. Each response map is binned into ``bins`` bins
    over ``[0, its maximum in the image]`` and histogrammed per region.

    Args:
        image: ``H x W x C`` floats in ``[0, 1]``.
        labels: ``H x W`` region ids ``0..n-1``.
        orientations: number of derivative directions (8 in the paper).
        bins: bins per direction and channel (10 in the paper).
        sigma: scale of the Gaussian derivative.

    Returns:
        ``[n, C * orientations * bins]`` float64; each row sums to 1.

    Example:
        >>> img = np.zeros((8, 8, 3)); img[:, 4:] = 1.0   # one vertical edge
        >>> h = texture_histograms(img, np.zeros((8, 8), dtype=int))
        >>> h.shape, round(float(h.sum()), 6)
        ((1, 240), 1.0)
    """
    from scipy.ndimage import gaussian_filter

    img = np.asarray(image, dtype=np.float64)
    labels, n = check_labels(labels, img.shape[:2])
    orientations = check_int(orientations, "orientations", minimum=1)
    bins = check_int(bins, "bins", minimum=1)
    flat = labels.ravel()
    width = orientations * bins
    hist = np.empty((n, img.shape[2] * width))
    angles = 2 * np.pi * np.arange(orientations) / orientations
    for c in range(img.shape[2]):
        gx = gaussian_filter(img[..., c], sigma, order=(0, 1)).ravel()
        gy = gaussian_filter(img[..., c], sigma, order=(1, 0)).ravel()
        for k, theta in enumerate(angles):
            resp = np.maximum(gx * np.cos(theta) + gy * np.sin(theta), 0.0)
            top = resp.max()
            b = (
                np.zeros(resp.shape, np.int64)
                if top <= 0
                else np.minimum((resp / top * bins).astype(np.int64), bins - 1)
            )
            off = c * width + k * bins
            hist[:, off : off + bins] = np.bincount(flat * bins + b, minlength=n * bins).reshape(
                n, bins
            )
    return _l1_normalise(hist)


def histogram_intersection(hist1, hist2) -> np.ndarray:
    """``sum_k min(hist1[k], hist2[k])`` over the last axis (broadcasts).

    For L1-normalised histograms it is 1 for identical and 0 for disjoint ones.

    Example:
        >>> float(histogram_intersection([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]))
        0.5
    """
    return np.minimum(np.asarray(hist1, dtype=np.float64), np.asarray(hist2, dtype=np.float64)).sum(
        -1
    )


def size_similarity(size1, size2, image_size) -> np.ndarray:
    """``1 - (size1 + size2) / image_size``: high when both regions are small.

    Example:
        >>> float(size_similarity(10, 30, 100))
        0.6
    """
    return 1.0 - (np.asarray(size1, np.float64) + np.asarray(size2, np.float64)) / float(image_size)


def fill_similarity(box1, box2, size1, size2, image_size) -> np.ndarray:
    """``1 - (area(BB) - size1 - size2) / image_size``, ``BB`` the box around both boxes.

    High when the two regions fill their joint bounding box (one fits into a gap of the other).

    Example:
        >>> # two 10 x 10 squares side by side fill their 20 x 10 box exactly
        >>> float(fill_similarity([0, 0, 10, 10], [10, 0, 20, 10], 100, 100, 400))
        1.0
    """
    b1 = np.asarray(box1, np.float64)
    b2 = np.asarray(box2, np.float64)
    w = np.maximum(b1[..., 2], b2[..., 2]) - np.minimum(b1[..., 0], b2[..., 0])
    h = np.maximum(b1[..., 3], b2[..., 3]) - np.minimum(b1[..., 1], b2[..., 1])
    return 1.0 - (w * h - np.asarray(size1, np.float64) - np.asarray(size2, np.float64)) / float(
        image_size
    )


def region_adjacency(labels) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of regions that touch (4-connectivity), sorted.

    Example:
        >>> region_adjacency(np.array([[0, 0, 1], [2, 2, 1]])).tolist()
        [[0, 1], [0, 2], [1, 2]]
    """
    labels, n = check_labels(labels)
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    diff = a != b
    lo, hi = np.minimum(a[diff], b[diff]), np.maximum(a[diff], b[diff])
    codes = np.unique(lo * n + hi)
    return np.stack([codes // n, codes % n], 1).astype(np.int64)


def region_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    flat = labels.ravel()
    boxes = np.empty((n, 4))
    boxes[:, 0] = np.full(n, w, dtype=np.int64)
    boxes[:, 1] = h
    boxes[:, 2] = 0
    boxes[:, 3] = 0
    np.minimum.at(boxes[:, 0], flat, xs.ravel())
    np.minimum.at(boxes[:, 1], flat, ys.ravel())
    np.maximum.at(boxes[:, 2], flat, xs.ravel() + 1)
    np.maximum.at(boxes[:, 3], flat, ys.ravel() + 1)
    return boxes
