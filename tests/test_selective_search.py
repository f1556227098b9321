"""Tests for dlcv_utils.proposals.selective_search: histograms, similarities, grouping, the full method."""

import numpy as np
import pytest

from dlcv_utils.proposals.selective_search import (
    COLOR_SPACES,
    FAST_MODE,
    SIMILARITIES,
    color_histograms,
    convert_color,
    fill_similarity,
    hierarchical_grouping,
    histogram_intersection,
    oversegment,
    region_adjacency,
    selective_search,
    size_similarity,
    texture_histograms,
)


def two_rectangles():
    """Grey background, two reddish rectangles side by side (touching).

    Their colours share the R and B histogram bins (21 and 2 of 25), so they are more similar
    to each other than to the grey background.
    """
    img = np.full((64, 96, 3), 128, dtype=np.uint8)
    img[10:40, 10:40] = (220, 30, 30)  # box (10, 10, 40, 40)
    img[15:50, 40:80] = (215, 90, 30)  # box (40, 15, 80, 50), touches the first at x = 40
    return img


# ---------------------------------------------------------------------------- similarities
def test_histogram_intersection_by_hand():
    a = np.array([0.2, 0.3, 0.5])
    b = np.array([0.4, 0.4, 0.2])
    assert histogram_intersection(a, b) == pytest.approx(0.2 + 0.3 + 0.2)
    assert histogram_intersection(a, a) == pytest.approx(1.0)
    assert histogram_intersection([1.0, 0.0], [0.0, 1.0]) == 0.0
    # broadcasts: one histogram against several
    np.testing.assert_allclose(histogram_intersection(a, np.stack([a, b])), [1.0, 0.7])


def test_size_similarity_by_hand():
    assert size_similarity(10, 30, 100) == pytest.approx(1 - (10 + 30) / 100)
    np.testing.assert_allclose(size_similarity([1, 50], [1, 50], 100), [1 - 2 / 100, 0.0])


def test_fill_similarity_by_hand():
    # two 10 x 10 regions at opposite corners of a 30 x 30 box: the box wastes 900 - 200 px
    s = fill_similarity([0, 0, 10, 10], [20, 20, 30, 30], 100, 100, 1000)
    assert s == pytest.approx(1 - (30 * 30 - 100 - 100) / 1000)
    # regions smaller than their boxes (e.g. two 50-px triangles filling their 10 x 10 box)
    assert fill_similarity([0, 0, 10, 10], [0, 0, 10, 10], 50, 50, 400) == pytest.approx(1.0)


def test_color_histograms_match_naive_reference():
    rng = np.random.default_rng(0)
    img = rng.random((12, 10, 3))
    labels = rng.integers(0, 4, (12, 10))
    labels[0, :4] = [0, 1, 2, 3]  # every id used
    got = color_histograms(img, labels, bins=25)
    for r in range(4):
        pix = img[labels == r]
        ref = np.concatenate([np.histogram(pix[:, c], bins=25, range=(0, 1))[0] for c in range(3)])
        np.testing.assert_allclose(got[r], ref / ref.sum())
    assert got.shape == (4, 3 * 25)


def test_texture_histograms_shape_normalised_and_flat_region():
    img = np.zeros((16, 16, 3))
    img[:, 8:] = 1.0
    labels = np.zeros((16, 16), dtype=np.int64)
    labels[:, 12:] = 1  # the right strip is flat, far from the edge
    h = texture_histograms(img, labels)
    assert h.shape == (2, 3 * 8 * 10)
    np.testing.assert_allclose(h.sum(1), 1.0)
    # the flat strip far from the edge has (almost) no response: everything in bin 0
    flat = h[1].reshape(3, 8, 10)
    assert flat[:, :, 0].sum() > 0.95
    # the edge is vertical: the response along +x (orientation 0) is non-zero somewhere in region 0
    edge = h[0].reshape(3, 8, 10)
    assert edge[:, 0, 1:].sum() > 0


def test_texture_histograms_match_naive_reference():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1)
    img = rng.random((10, 9, 1))
    labels = (np.arange(90).reshape(10, 9) % 3).astype(np.int64)
    got = texture_histograms(img, labels, orientations=4, bins=5)
    gx = gaussian_filter(img[..., 0], 1.0, order=(0, 1))
    gy = gaussian_filter(img[..., 0], 1.0, order=(1, 0))
    ref = np.zeros((3, 4 * 5))
    for k in range(4):
        theta = 2 * np.pi * k / 4
        resp = np.maximum(gx * np.cos(theta) + gy * np.sin(theta), 0)
        for r in range(3):
            counts, _ = np.histogram(resp[labels == r], bins=5, range=(0, resp.max()))
            ref[r, k * 5 : (k + 1) * 5] = counts
    np.testing.assert_allclose(got, ref / ref.sum(1, keepdims=True))


def test_region_adjacency_matches_naive_loops():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 6, (9, 11))
    labels[0, :6] = np.arange(6)
    ref = set()
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0)):
                if y + dy < h and x + dx < w and labels[y, x] != labels[y + dy, x + dx]:
                    a, b = sorted((int(labels[y, x]), int(labels[y + dy, x + dx])))
                    ref.add((a, b))
    assert [tuple(p) for p in region_adjacency(labels).tolist()] == sorted(ref)


# ---------------------------------------------------------------------------- grouping
def naive_grouping(img, labels, sims):
    """Reference: recompute every region's descriptors from its pixels at every step."""
    cur = labels.copy()
    n = int(labels.max()) + 1
    alive = list(range(n))
    merges = []
    im_size = labels.size
    nxt = n
    while len(alive) > 1:
        best, pair = -np.inf, None
        desc = {}
        for r in alive:
            mask = cur == r
            ys, xs = np.nonzero(mask)
            single = np.zeros_like(cur)  # histogram functions need ids 0..n-1: one region
            desc[r] = {
                "size": mask.sum(),
                "box": [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                "color": color_histograms(img[mask][:, None, :], single[mask][:, None])[0],
            }
        adj = {(a, b) for a, b in region_adjacency(np.searchsorted(alive, cur)).tolist()}
        for a, b in sorted(adj):
            ra, rb = alive[a], alive[b]
            s = 0.0
            if "color" in sims:
                s += histogram_intersection(desc[ra]["color"], desc[rb]["color"])
            if "size" in sims:
                s += size_similarity(desc[ra]["size"], desc[rb]["size"], im_size)
            if "fill" in sims:
                s += fill_similarity(
                    desc[ra]["box"], desc[rb]["box"], desc[ra]["size"], desc[rb]["size"], im_size
                )
            if s > best + 1e-12:
                best, pair = s, (ra, rb)
        ra, rb = pair
        cur[(cur == ra) | (cur == rb)] = nxt
        merges.append({ra, rb})
        alive = sorted((set(alive) - {ra, rb}) | {nxt})
        nxt += 1
    return merges


def test_grouping_matches_naive_reference():
    rng = np.random.default_rng(3)
    # 4 x 4 blocks of 3 x 3 pixels, each block a random flat colour plus noise
    base = rng.random((4, 4, 3))
    img = np.clip(np.kron(base, np.ones((3, 3, 1))) + rng.normal(0, 0.02, (12, 12, 3)), 0, 1)
    labels = np.kron(np.arange(16).reshape(4, 4), np.ones((3, 3), dtype=np.int64))
    sims = ("color", "size", "fill")
    h = hierarchical_grouping(img, labels, sims)
    ref = naive_grouping(img, labels, sims)
    assert [set(m) for m in h.merges.tolist()] == ref


def test_grouping_structure_and_boxes_of_every_step():
    img = convert_color(two_rectangles())
    labels = oversegment(img, scale=100, sigma=0.0, min_size=20)
    n = int(labels.max()) + 1
    h = hierarchical_grouping(img, labels, SIMILARITIES)
    assert h.n_initial == n and len(h.merges) == n - 1 and len(h.boxes) == 2 * n - 1
    assert h.boxes[-1].tolist() == [0, 0, 96, 64] and h.sizes[-1] == 64 * 96
    # after every merge, the new region's box and size are those of its pixels
    for step in range(1, len(h.merges) + 1):
        lab = h.labels_at(labels, step)
        r = n + step - 1
        ys, xs = np.nonzero(lab == r)
        assert h.sizes[r] == len(xs)
        assert h.boxes[r].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_flat_image_gives_the_whole_image_only():
    boxes = selective_search(np.full((10, 12, 3), 77, np.uint8), min_size=5)
    assert boxes.tolist() == [[0, 0, 12, 10]]


def test_grouping_takes_one_similarity_set():
    with pytest.raises(ValueError, match="one set of names for one hierarchy, got 2 sets"):
        hierarchical_grouping(np.zeros((1, 2, 3)), np.array([[0, 1]]), [("size",), ("fill",)])


def test_labels_at_rejects_bad_step():
    lab = np.array([[0, 1]])
    h = hierarchical_grouping(np.zeros((1, 2, 3)), lab, ("size",))
    with pytest.raises(ValueError, match="step must be <= 1"):
        h.labels_at(lab, 2)


# ---------------------------------------------------------------------------- full method
@pytest.mark.parametrize("sims", [SIMILARITIES, ("color",), ("texture", "size"), ("size", "fill")])
def test_two_rectangles_give_their_boxes_and_the_union(sims):
    boxes = selective_search(two_rectangles(), scale=100, sigma=0.0, min_size=20, similarities=sims)
    listed = boxes.tolist()
    assert [10, 10, 40, 40] in listed
    assert [40, 15, 80, 50] in listed
    assert [10, 10, 80, 50] in listed  # the two rectangles merge before the background
    assert [0, 0, 96, 64] in listed
    assert boxes.dtype == np.float32 and len(np.unique(boxes, axis=0)) == len(boxes)


def test_seed_changes_order_not_set_and_is_repeatable():
    img = two_rectangles()
    a = selective_search(img, sigma=0.0, min_size=20, seed=0)
    b = selective_search(img, sigma=0.0, min_size=20, seed=0)
    c = selective_search(img, sigma=0.0, min_size=20, seed=5)
    np.testing.assert_array_equal(a, b)
    assert {tuple(r) for r in a.tolist()} == {tuple(r) for r in c.tolist()}


def test_hierarchy_ranking_puts_the_whole_image_first():
    boxes = selective_search(two_rectangles(), sigma=0.0, min_size=20, ranking="hierarchy")
    assert boxes[0].tolist() == [0, 0, 96, 64]


def test_max_proposals_and_min_box_size():
    img = two_rectangles()
    full = selective_search(img, min_size=20)
    top = selective_search(img, min_size=20, max_proposals=3)
    np.testing.assert_array_equal(top, full[:3])
    big = selective_search(img, min_size=20, min_box_size=31)
    assert np.all(big[:, 2] - big[:, 0] >= 31) and np.all(big[:, 3] - big[:, 1] >= 31)
    assert len(big) < len(full)


def test_diversification_pools_strategies():
    img = two_rectangles()
    single = selective_search(img, min_size=20)
    fast = selective_search(img, min_size=20, **FAST_MODE)
    assert len(fast) >= 1 and fast.shape[1] == 4
    # every colour space runs and returns the whole-image box
    for space in COLOR_SPACES:
        out = selective_search(img, min_size=20, color_spaces=space).tolist()
        assert [0, 0, 96, 64] in out, space
    assert len(single) >= 3


def test_boxes_lie_inside_the_image():
    rng = np.random.default_rng(4)
    img = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
    boxes = selective_search(img, scale=50, min_size=5)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= 50) and np.all(boxes[:, 3] <= 40)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])


def test_float_image_gives_same_boxes_as_uint8():
    img = two_rectangles()
    np.testing.assert_array_equal(
        selective_search(img, min_size=20), selective_search(img / 255.0, min_size=20)
    )


def test_convert_color_ranges_and_rgi():
    rng = np.random.default_rng(5)
    img = (rng.random((6, 7, 3)) * 255).astype(np.uint8)
    for space in COLOR_SPACES:
        out = convert_color(img, space)
        assert out.shape == (6, 7, 1 if space == "gray" else 3)
        assert out.min() >= 0 and out.max() <= 1
    rgi = convert_color(np.array([[[60, 30, 30]]], dtype=np.uint8), "rgi")[0, 0]
    np.testing.assert_allclose(rgi, [60 / 120, 30 / 120, 120 / 3 / 255])


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("image", "exc", "match"),
    [
        ([[1, 2]], TypeError, "numpy array"),
        (np.zeros((8, 8)), ValueError, "H x W x 3"),
        (np.zeros((1, 8, 3)), ValueError, "at least 2 x 2"),
        (np.full((8, 8, 3), 2.0), ValueError, r"\[0, 1\]"),
        (np.full((8, 8, 3), np.nan), ValueError, "NaN"),
        (np.zeros((8, 8, 3), dtype=np.int32), TypeError, "uint8 or float"),
    ],
)
def test_rejects_bad_images(image, exc, match):
    with pytest.raises(exc, match=match):
        selective_search(image)


def test_rejects_torch_tensor():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch tensor"):
        selective_search(torch.zeros(3, 8, 8))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"scale": 0}, ValueError, "scale must be > 0"),
        ({"scale": "big"}, TypeError, "scale must be a number"),
        ({"scale": ()}, ValueError, "scale must not be empty"),
        ({"sigma": -1}, ValueError, "sigma must be >= 0"),
        ({"min_size": 0}, ValueError, "min_size must be an int >= 1"),
        ({"min_size": 2.5}, TypeError, "min_size must be an int"),
        ({"similarities": "color"}, TypeError, "string 'color'"),
        ({"similarities": ()}, ValueError, "similarities must not be empty"),
        ({"similarities": ("colour",)}, ValueError, "got 'colour'"),
        ({"similarities": ("size", "size")}, ValueError, "must not repeat"),
        ({"similarities": [("size",), ()]}, ValueError, "at least one similarity"),
        ({"similarities": [("size",), 3]}, TypeError, "sequences of names"),
        ({"color_spaces": ("xyz",)}, ValueError, "got 'xyz'"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"max_proposals": 0}, ValueError, "max_proposals must be an int >= 1"),
        ({"min_box_size": -1}, ValueError, "min_box_size must be an int >= 0"),
        ({"ranking": "random"}, ValueError, "ranking must be"),
    ],
)
def test_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        selective_search(two_rectangles(), **kwargs)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((3, 3), dtype=float), "integer array"),
        (np.array([[0, 2, 2], [2, 2, 2], [2, 2, 2]]), "unused ids"),
        (np.array([[-1, 0, 0], [0, 0, 0], [0, 0, 0]]), "non-empty"),
        (np.zeros((2, 2), dtype=int), "image's shape"),
    ],
)
def test_histograms_reject_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        color_histograms(np.zeros((3, 3, 3)), labels)


def test_convert_color_and_oversegment_reject_bad_arguments():
    with pytest.raises(ValueError, match="space must be one of"):
        convert_color(np.zeros((4, 4, 3), np.uint8), "cmyk")
    with pytest.raises(ValueError, match="H x W x C"):
        oversegment(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        hierarchical_grouping(np.zeros((1, 2, 3)), np.array([[0, 1]]), ("size",)).labels_at(
            np.array([[0, 1]]), -1
        )
    with pytest.raises(ValueError, match="H x W x C"):
        hierarchical_grouping(np.zeros((2, 2)), np.zeros((2, 2), int))
