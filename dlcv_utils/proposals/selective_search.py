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

import numpy as np

from dlcv_utils.proposals.regions import (
    COLOR_BINS,
    COLOR_SPACES,
    SIMILARITIES,
    TEXTURE_BINS,
    TEXTURE_ORIENTATIONS,
    check_image,
    check_labels,
    check_similarities,
    color_histograms,
    convert_color,
    fill_similarity,
    histogram_intersection,
    oversegment,
    region_adjacency,
    region_boxes,
    size_similarity,
    texture_histograms,
)
from dlcv_utils.validation import check_int, check_number

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


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return (value,)
    vals = tuple(value)
    if not vals:
        raise ValueError(f"{name} must not be empty")
    return vals


#: The paper's "Selective Search Fast": 2 colour spaces x 2 values of k x 2 similarity sets.
FAST_MODE: dict = {
    "color_spaces": ("hsv", "lab"),
    "scale": (50, 100),
    "similarities": (("color", "texture", "size", "fill"), ("texture", "size", "fill")),
}


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
        step = check_int(step, "step", minimum=0)
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
    labels, n = check_labels(labels, img.shape[:2])
    sets = check_similarities(similarities)
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
    boxes[:n] = region_boxes(labels, n)
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
    rgb = check_image(image, min_side=2)
    scales = tuple(
        check_number(s, "scale", low=0.0, low_open=True) for s in _as_tuple(scale, "scale")
    )
    sigma = check_number(sigma, "sigma", low=0.0)
    min_size = check_int(min_size, "min_size", minimum=1)
    sim_sets = check_similarities(similarities)
    spaces = _as_tuple(color_spaces, "color_spaces")
    for sp in spaces:
        if sp not in COLOR_SPACES:
            raise ValueError(f"color_spaces must be among {COLOR_SPACES}, got {sp!r}")
    seed = check_int(seed, "seed", minimum=0)
    if max_proposals is not None:
        max_proposals = check_int(max_proposals, "max_proposals", minimum=1)
    min_box_size = check_int(min_box_size, "min_box_size", minimum=0)
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
