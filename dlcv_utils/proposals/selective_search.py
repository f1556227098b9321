"""Selective search (Uijlings et al., 2013): class-agnostic region proposals by grouping.

Taught in lesson 03 (region proposals, 영역 추정).

The algorithm, step by step (every step is a public function here, so the lesson can show it):

1. **Over-segment** the image with the graph-based method of Felzenszwalb & Huttenlocher
   (``skimage.segmentation.felzenszwalb``; ``scale`` is their ``k``, larger = bigger segments).
2. **Describe** each segment by its size, its bounding box, a colour histogram
   (:func:`color_histograms`: 25 bins per channel) and a texture histogram
   (:func:`texture_histograms`: Gaussian-derivative responses in 8 orientations, 10 bins each,
   per channel), both L1-normalised.
3. **Group hierarchically** (:func:`hierarchical_grouping`): repeatedly merge the two most
   similar *neighbouring* regions. The similarity is a sum of any of

   * colour: histogram intersection ``sum(min(c_i, c_j))`` of the colour histograms,
   * texture: the same on the texture histograms,
   * size: ``1 - (size_i + size_j) / size_im`` (merge small regions first),
   * fill: ``1 - (size(BB_ij) - size_i - size_j) / size_im`` (merge regions that fill each
     other's gaps; ``BB_ij`` is the box around both).

   The merged region's histograms are the size-weighted average of its parts, its neighbours
   the union of theirs. Merging continues until one region covers the image.
4. **Every region ever formed** (the initial segments and each merge) gives one box.
5. **Diversify** (optional): repeat with other colour spaces, other ``scale`` values and other
   similarity sets, and pool the boxes. :data:`FAST_MODE` is the paper's "fast" setting.
6. **Rank** as in the paper: in each hierarchy a region gets its position ``p`` counted from the
   top (the final, whole-image region has ``p = 1``, the region formed just before it ``2``,
   ..., the initial segments the largest ``p``); the value ``p * RND`` with ``RND`` uniform in
   ``[0, 1)`` (seeded) orders all boxes, smallest first, so large regions near the top of any
   hierarchy come early while the order still mixes strategies. ``ranking="hierarchy"`` drops
   the random factor (pure top-down order). Duplicate boxes keep their best rank.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    "COLOR_BINS",
    "COLOR_SPACES",
    "FAST_MODE",
    "SIMILARITIES",
    "TEXTURE_BINS",
    "TEXTURE_ORIENTATIONS",
    "Hierarchy",
    "color_histograms",
    "convert_color",
    "fill_similarity",
    "hierarchical_grouping",
    "histogram_intersection",
    "oversegment",
    "region_adjacency",
    "selective_search",
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

#: The paper's "Selective Search Fast": 2 colour spaces x 2 values of k x 2 similarity sets.
FAST_MODE: dict = {
    "color_spaces": ("hsv", "lab"),
    "scale": (50, 100),
    "similarities": (("color", "texture", "size", "fill"), ("texture", "size", "fill")),
}


# --------------------------------------------------------------------------- validation helpers


def _check_image(image, min_side: int = 1) -> np.ndarray:
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


def _check_labels(labels, shape=None) -> tuple[np.ndarray, int]:
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


def _check_similarities(similarities) -> tuple[tuple[str, ...], ...]:
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


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return (value,)
    vals = tuple(value)
    if not vals:
        raise ValueError(f"{name} must not be empty")
    return vals


def _positive_number(value, name: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def _int_at_least(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


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
    rgb = _check_image(image)
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
    scale = _positive_number(scale, "scale")
    sigma = _positive_number(sigma, "sigma", allow_zero=True)
    min_size = _int_at_least(min_size, "min_size", 1)
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
    labels, n = _check_labels(labels, img.shape[:2])
    bins = _int_at_least(bins, "bins", 1)
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
    labels, n = _check_labels(labels, img.shape[:2])
    orientations = _int_at_least(orientations, "orientations", 1)
    bins = _int_at_least(bins, "bins", 1)
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
    labels, n = _check_labels(labels)
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    diff = a != b
    lo, hi = np.minimum(a[diff], b[diff]), np.maximum(a[diff], b[diff])
    codes = np.unique(lo * n + hi)
    return np.stack([codes // n, codes % n], 1).astype(np.int64)


def _region_boxes(labels: np.ndarray, n: int) -> np.ndarray:
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


@dataclass
class Hierarchy:
    """The result of :func:`hierarchical_grouping`.

    Attributes:
        boxes: ``[R, 4]`` xyxy box of every region ever formed, in creation order: the
            ``n_initial`` segments first, then one region per merge.
        sizes: ``[R]`` pixel counts.
        merges: ``[R - n_initial, 2]`` the two regions merged into region ``n_initial + m``.
        similarity: ``[R - n_initial]`` the similarity of each merged pair.
        n_initial: number of initial segments.
    """

    boxes: np.ndarray
    sizes: np.ndarray
    merges: np.ndarray
    similarity: np.ndarray
    n_initial: int

    def labels_at(self, labels, step: int) -> np.ndarray:
        """The label map after the first ``step`` merges (ids of the regions alive then).

        Example:
            >>> lab = np.array([[0, 1]])
            >>> h = hierarchical_grouping(np.zeros((1, 2, 3)), lab, ("size",))
            >>> h.labels_at(lab, 0).tolist(), h.labels_at(lab, 1).tolist()
            ([[0, 1]], [[2, 2]])
        """
        step = _int_at_least(step, "step", 0)
        if step > len(self.merges):
            raise ValueError(
                f"step must be <= {len(self.merges)} (the number of merges), got {step}"
            )
        owner = np.arange(self.n_initial + step)
        for m in range(step):
            owner[self.merges[m]] = self.n_initial + m
        # follow each id to the region that owns it after `step` merges
        for _ in range(step + 1):
            nxt = owner[owner]
            if np.array_equal(nxt, owner):
                break
            owner = nxt
        return owner[np.asarray(labels)]


def hierarchical_grouping(image, labels, similarities=SIMILARITIES) -> Hierarchy:
    """Greedy hierarchical grouping of an over-segmentation (the heart of selective search).

    Starting from the segments of ``labels``, repeatedly merge the most similar pair of
    touching regions (similarity = sum of the chosen measures) until no touching pair is left.
    The merged region's histograms are the size-weighted averages of its parts and its
    neighbours the union of theirs. A heap keyed by similarity, with stale entries skipped,
    finds the best pair in ``O(log P)``.

    Args:
        image: ``H x W x C`` floats in ``[0, 1]`` (colour space already applied).
        labels: ``H x W`` region ids ``0..n-1`` (e.g. from :func:`oversegment`).
        similarities: names from :data:`SIMILARITIES` to sum.

    Returns:
        A :class:`Hierarchy`.

    Example:
        >>> lab = np.array([[0, 0, 1, 1], [2, 2, 1, 1]])
        >>> h = hierarchical_grouping(np.zeros((2, 4, 3)), lab, ("size", "fill"))
        >>> h.boxes.tolist()[-1], h.merges.shape
        ([0.0, 0.0, 4.0, 2.0], (2, 2))
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3:
        raise ValueError(f"image must be H x W x C floats in [0, 1], got shape {img.shape}")
    labels, n = _check_labels(labels, img.shape[:2])
    sets = _check_similarities(similarities)
    if len(sets) != 1:
        raise ValueError(
            f"similarities must be one set of names for one hierarchy, got {len(sets)} sets "
            "(selective_search runs one hierarchy per set)"
        )
    (sims,) = sets
    use_color, use_tex = "color" in sims, "texture" in sims
    use_size, use_fill = "size" in sims, "fill" in sims
    cap = 2 * n - 1
    im_size = float(labels.size)

    sizes = np.zeros(cap)
    sizes[:n] = np.bincount(labels.ravel(), minlength=n)
    boxes = np.zeros((cap, 4))
    boxes[:n] = _region_boxes(labels, n)
    if use_color:
        hc = np.zeros((cap, img.shape[2] * COLOR_BINS))
        hc[:n] = color_histograms(img, labels)
    if use_tex:
        ht = np.zeros((cap, img.shape[2] * TEXTURE_ORIENTATIONS * TEXTURE_BINS))
        ht[:n] = texture_histograms(img, labels)

    def similarity(a, b):
        s = np.zeros(len(b) if np.ndim(b) else 1)
        if use_color:
            s += histogram_intersection(hc[a], hc[b])
        if use_tex:
            s += histogram_intersection(ht[a], ht[b])
        if use_size:
            s += size_similarity(sizes[a], sizes[b], im_size)
        if use_fill:
            s += fill_similarity(boxes[a], boxes[b], sizes[a], sizes[b], im_size)
        return s

    pairs = region_adjacency(labels)
    neighbours: list[set[int]] = [set() for _ in range(cap)]
    for i, j in pairs.tolist():
        neighbours[i].add(j)
        neighbours[j].add(i)
    heap: list[tuple[float, int, int]] = []
    if len(pairs):
        s0 = similarity(pairs[:, 0], pairs[:, 1])
        heap = [(-float(s), int(i), int(j)) for s, (i, j) in zip(s0, pairs.tolist())]
        heapq.heapify(heap)
    alive = np.zeros(cap, bool)
    alive[:n] = True
    merges: list[tuple[int, int]] = []
    merge_sims: list[float] = []
    t = n
    while heap:
        neg, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue  # a stale entry: one of the two was merged already
        si, sj = sizes[i], sizes[j]
        sizes[t] = si + sj
        boxes[t, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
        boxes[t, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
        if use_color:
            hc[t] = (si * hc[i] + sj * hc[j]) / (si + sj)
        if use_tex:
            ht[t] = (si * ht[i] + sj * ht[j]) / (si + sj)
        alive[i] = alive[j] = False
        alive[t] = True
        nb = (neighbours[i] | neighbours[j]) - {i, j}
        for k in nb:
            neighbours[k].discard(i)
            neighbours[k].discard(j)
            neighbours[k].add(t)
        neighbours[t] = nb
        neighbours[i] = neighbours[j] = set()
        merges.append((i, j))
        merge_sims.append(-neg)
        if nb:
            ks = np.fromiter(sorted(nb), dtype=np.int64, count=len(nb))
            for k, s in zip(ks.tolist(), similarity(t, ks).tolist()):
                heapq.heappush(heap, (-s, k, t))
        t += 1
    return Hierarchy(
        boxes=boxes[:t].copy(),
        sizes=sizes[:t].copy(),
        merges=np.asarray(merges, dtype=np.int64).reshape(-1, 2),
        similarity=np.asarray(merge_sims, dtype=np.float64),
        n_initial=n,
    )


# ------------------------------------------------------------------------------- the full method


def selective_search(
    image,
    *,
    scale: float | Sequence[float] = 100,
    sigma: float = 0.8,
    min_size: int = 50,
    similarities: Sequence[str] | Sequence[Sequence[str]] = SIMILARITIES,
    color_spaces: str | Sequence[str] = ("rgb",),
    seed: int = 0,
    max_proposals: int | None = None,
    min_box_size: int = 0,
    ranking: str = "paper",
) -> np.ndarray:
    """Selective search region proposals (Uijlings et al., 2013), best-ranked first.

    One *strategy* is (colour space, ``scale``, similarity set): over-segment, group
    hierarchically, take the box of every region. Passing several colour spaces, scales or
    similarity sets runs every combination (diversification) and pools the boxes;
    ``selective_search(img, **FAST_MODE)`` is the paper's "fast" mode (8 strategies).

    Args:
        image: ``H x W x 3`` uint8 RGB (or floats in ``[0, 1]``).
        scale: Felzenszwalb ``k`` (one value or several).
        sigma: Felzenszwalb pre-smoothing.
        min_size: Felzenszwalb minimum segment size in pixels.
        similarities: one set of names from :data:`SIMILARITIES`, or several sets.
        color_spaces: one or several of :data:`COLOR_SPACES`.
        seed: seeds the random factor of the ranking.
        max_proposals: keep at most this many (the best ranked); ``None`` keeps all.
        min_box_size: drop boxes narrower or lower than this many pixels.
        ranking: ``"paper"`` (position in hierarchy x uniform random, ascending) or
            ``"hierarchy"`` (position in hierarchy only; top of each hierarchy first).

    Returns:
        ``[N, 4]`` float32 xyxy boxes (pixel edges, no ``+1``), unique, best first.

    Raises:
        TypeError / ValueError: malformed image or arguments (the message names the argument).

    Example:
        >>> img = np.zeros((40, 60, 3), dtype=np.uint8)
        >>> img[5:20, 5:25] = (255, 0, 0); img[22:35, 30:55] = (0, 0, 255)
        >>> boxes = selective_search(img, scale=50, min_size=10).tolist()
        >>> [5, 5, 25, 20] in boxes, [30, 22, 55, 35] in boxes, [0, 0, 60, 40] in boxes
        (True, True, True)
    """
    rgb = _check_image(image, min_side=2)
    scales = tuple(_positive_number(s, "scale") for s in _as_tuple(scale, "scale"))
    sigma = _positive_number(sigma, "sigma", allow_zero=True)
    min_size = _int_at_least(min_size, "min_size", 1)
    sim_sets = _check_similarities(similarities)
    spaces = _as_tuple(color_spaces, "color_spaces")
    for sp in spaces:
        if sp not in COLOR_SPACES:
            raise ValueError(f"color_spaces must be among {COLOR_SPACES}, got {sp!r}")
    seed = _int_at_least(seed, "seed", 0)
    if max_proposals is not None:
        max_proposals = _int_at_least(max_proposals, "max_proposals", 1)
    min_box_size = _int_at_least(min_box_size, "min_box_size", 0)
    if ranking not in ("paper", "hierarchy"):
        raise ValueError(f"ranking must be 'paper' or 'hierarchy', got {ranking!r}")

    rng = np.random.default_rng(seed)
    all_boxes, all_values = [], []
    for space in spaces:
        img = convert_color(rgb, space)
        for k in scales:
            labels = oversegment(img, scale=k, sigma=sigma, min_size=min_size)
            for sims in sim_sets:
                h = hierarchical_grouping(img, labels, sims)
                position = np.arange(len(h.boxes), 0, -1, dtype=np.float64)  # top region = 1
                if ranking == "paper":
                    position = position * rng.random(len(position))
                all_boxes.append(h.boxes)
                all_values.append(position)
    boxes = np.concatenate(all_boxes)
    values = np.concatenate(all_values)
    order = np.argsort(values, kind="stable")
    boxes = boxes[order]
    _, first = np.unique(boxes, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    if min_box_size:
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_box_size) & (
            (boxes[:, 3] - boxes[:, 1]) >= min_box_size
        )
        boxes = boxes[keep]
    if max_proposals is not None:
        boxes = boxes[:max_proposals]
    return boxes.astype(np.float32)
