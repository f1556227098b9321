"""Tests for dlcv_utils.proposals: sliding windows, image pyramid, proposal recall, OpenCV wrapper."""

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils import proposals
from dlcv_utils.proposals import (
    cascade_scan,
    count_sliding_windows,
    image_pyramid,
    opencv_selective_search,
    opencv_selective_search_available,
    proposal_recall,
    pyramid_windows,
    sliding_window_proposals,
    sliding_windows,
)


# ---------------------------------------------------------------------------- sliding windows
def naive_windows(h, w, ww, wh, sx, sy):
    out = []
    y = 0
    while y + wh <= h:
        x = 0
        while x + ww <= w:
            out.append([x, y, x + ww, y + wh])
            x += sx
        y += sy
    return np.array(out, dtype=np.float32).reshape(-1, 4)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    ww=st.integers(1, 12),
    wh=st.integers(1, 12),
    sx=st.integers(1, 7),
    sy=st.integers(1, 7),
)
def test_sliding_windows_match_naive_loops(h, w, ww, wh, sx, sy):
    got = sliding_windows((h, w, 3), (ww, wh), (sx, sy))
    np.testing.assert_array_equal(got, naive_windows(h, w, ww, wh, sx, sy))
    assert count_sliding_windows((h, w), (ww, wh), (sx, sy)) == len(got)


def test_sliding_window_count_by_hand():
    # 640 x 480 image, 24 px window, stride 4
    assert count_sliding_windows((480, 640), 24, 4) == ((640 - 24) // 4 + 1) * ((480 - 24) // 4 + 1)
    assert count_sliding_windows((10, 10), 11, 1) == 0
    assert sliding_windows((10, 10), 11, 1).shape == (0, 4)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (((10, 10), 0, 1), ValueError, "window must hold ints >= 1"),
        (((10, 10), (4, 4, 4), 1), TypeError, "window must be an int or a pair"),
        (((10, 10), 4.5, 1), TypeError, "window must be an int or a pair"),
        (((10, 10), 4, (1, 0)), ValueError, "stride must hold ints >= 1"),
        (((10, 10), 4, True), TypeError, "stride must be an int or a pair"),
        (((10,), 4, 1), ValueError, "image_shape must be"),
        ((None, 4, 1), TypeError, "image_shape must be"),
        ((np.zeros((10, 10, 3)), 4, 1), TypeError, "image array"),
    ],
)
def test_sliding_windows_reject_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        sliding_windows(*args)


# ---------------------------------------------------------------------------- pyramid
def test_image_pyramid_sizes_and_factors():
    img = np.zeros((100, 160, 3), np.uint8)
    levels = image_pyramid(img, scale=1.5, min_size=(24, 24))
    factors = [f for _, f in levels]
    np.testing.assert_allclose(factors, [1.5**i for i in range(len(levels))])
    for lvl, f in levels:
        assert lvl.shape == (round(100 / f), round(160 / f), 3)
        assert min(lvl.shape[:2]) >= 24
    # the next level would be smaller than the window
    assert round(100 / (factors[-1] * 1.5)) < 24
    assert levels[0][0] is img
    assert len(image_pyramid(img, scale=1.5, max_levels=2)) == 2


def test_image_pyramid_keeps_content():
    img = np.zeros((64, 64), np.uint8)
    img[:32] = 200  # top half bright
    small, f = image_pyramid(img, scale=2.0, min_size=(16, 16))[1]
    assert f == 2.0 and small.shape == (32, 32)
    assert small[:16].min() == 200 and small[16:].max() == 0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"scale": 1.0}, ValueError, "scale must be > 1"),
        ({"scale": "2"}, TypeError, "scale must be a finite number"),
        ({"min_size": 0}, ValueError, "min_size must hold ints >= 1"),
        ({"max_levels": 0}, ValueError, "max_levels must be None or an int >= 1"),
    ],
)
def test_image_pyramid_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        image_pyramid(np.zeros((32, 32), np.uint8), **kwargs)
    with pytest.raises(ValueError, match="H x W or H x W x C"):
        image_pyramid(np.zeros(5))


def test_pyramid_windows_count_and_bounds():
    shape = (120, 200, 3)
    boxes, levels = pyramid_windows(shape, window=24, stride=6, scale=1.25)
    expected = 0
    f, i = 1.0, 0
    while round(120 / f) >= 24 and round(200 / f) >= 24:
        n = count_sliding_windows((round(120 / f), round(200 / f)), 24, 6)
        assert (levels == i).sum() == n
        expected += n
        f *= 1.25
        i += 1
    assert len(boxes) == expected
    assert np.all(boxes >= 0) and np.all(boxes[:, 2] <= 200) and np.all(boxes[:, 3] <= 120)
    # windows of level i are 24 * 1.25 ** i pixels wide in the original image (up to clipping)
    w0 = boxes[levels == 0, 2] - boxes[levels == 0, 0]
    assert np.all(w0 == 24)
    # too small for one window: nothing
    b, lv = pyramid_windows((10, 10), 24, 4)
    assert b.shape == (0, 4) and lv.shape == (0,)


def test_sliding_window_proposals_are_a_seeded_shuffle():
    a = sliding_window_proposals((64, 80), window=16, stride=8, scale=1.5, seed=0)
    b = sliding_window_proposals((64, 80), window=16, stride=8, scale=1.5, seed=0)
    c = sliding_window_proposals((64, 80), window=16, stride=8, scale=1.5, seed=1)
    ref, _ = pyramid_windows((64, 80), 16, 8, 1.5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, ref.tolist()))


# ---------------------------------------------------------------------------- recall
def naive_recall(props, gts, t, n):
    hit = total = 0
    for p, g in zip(props, gts):
        for gb in g:
            total += 1
            best = 0.0
            for pb in p[:n]:
                ix = max(0.0, min(gb[2], pb[2]) - max(gb[0], pb[0]))
                iy = max(0.0, min(gb[3], pb[3]) - max(gb[1], pb[1]))
                inter = ix * iy
                union = (
                    (gb[2] - gb[0]) * (gb[3] - gb[1]) + (pb[2] - pb[0]) * (pb[3] - pb[1]) - inter
                )
                best = max(best, inter / union)
            hit += best >= t
    return hit / total


def test_recall_by_hand():
    gt = [np.array([[0, 0, 10, 10]]), np.array([[0, 0, 20, 20], [30, 30, 40, 40]])]
    props = [
        np.array([[0, 0, 10, 20], [0, 0, 10, 10]]),  # IoU 0.5 then 1.0
        np.array([[0, 0, 20, 20]]),  # the second gt is never found
    ]
    r = proposal_recall(props, gt, iou_thresholds=(0.5, 0.7), counts=(1, 2, 10))
    np.testing.assert_allclose(r, [[2 / 3, 2 / 3, 2 / 3], [1 / 3, 2 / 3, 2 / 3]])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_recall_matches_naive_and_is_monotone(seed):
    rng = np.random.default_rng(seed)

    def rand_boxes(n):
        xy = rng.uniform(0, 50, (n, 2))
        wh = rng.uniform(1, 30, (n, 2))
        return np.concatenate([xy, xy + wh], 1)

    gts = [rand_boxes(int(rng.integers(0, 4))) for _ in range(3)]
    gts[0] = rand_boxes(2)
    props = [rand_boxes(int(rng.integers(0, 30))) for _ in range(3)]
    ts, cs = (0.3, 0.5, 0.7), (1, 5, 20, 100)
    r = proposal_recall(props, gts, iou_thresholds=ts, counts=cs)
    for i, t in enumerate(ts):
        for j, n in enumerate(cs):
            assert r[i, j] == pytest.approx(naive_recall(props, gts, t, n))
    assert np.all(np.diff(r, axis=1) >= 0)  # more proposals never lose a hit
    assert np.all(np.diff(r, axis=0) <= 0)  # a stricter threshold never gains one


def test_recall_accepts_torch_and_empty_images():
    torch = pytest.importorskip("torch")
    gt = [torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros(0, 4)]
    props = [torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros(0, 4)]
    np.testing.assert_allclose(proposal_recall(props, gt, counts=(1,)), [[1.0], [1.0]])


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([np.zeros((1, 4))], []), {}, "one entry per image"),
        (([np.zeros((1, 4))], [np.zeros((0, 4))]), {}, "no boxes at all"),
        (([np.zeros((1, 3))], [np.ones((1, 4))]), {}, r"proposals_per_image\[0\] must be \[N, 4\]"),
        (([np.zeros((1, 4))], [np.ones((1, 5))]), {}, r"gt_boxes_per_image\[0\] must be"),
        (([np.zeros((1, 4))], [np.ones((1, 4))]), {"iou_thresholds": (1.5,)}, "iou_thresholds"),
        (([np.zeros((1, 4))], [np.ones((1, 4))]), {"counts": (0,)}, "counts must be ints >= 1"),
        (([np.zeros((1, 4))], [np.ones((1, 4))]), {"counts": (2.5,)}, "counts must be ints >= 1"),
        (([np.zeros((1, 4))], [np.ones((1, 4))]), {"counts": ()}, "counts must not be empty"),
    ],
)
def test_recall_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        proposal_recall(*args, **kwargs)


# ---------------------------------------------------------------------------- OpenCV wrapper
class FakeSS:
    """Stands in for cv2.ximgproc.segmentation.SelectiveSearchSegmentation."""

    def __init__(self, log):
        self.log = log

    def setBaseImage(self, img):
        self.log["image"] = img

    def switchToSingleStrategy(self):
        self.log["mode"] = "single"

    def switchToSelectiveSearchFast(self):
        self.log["mode"] = "fast"

    def switchToSelectiveSearchQuality(self):
        self.log["mode"] = "quality"

    def process(self):
        return np.array([[1, 2, 10, 20], [0, 0, 5, 5]], dtype=np.int32)  # x, y, w, h


@pytest.fixture
def fake_ximgproc(monkeypatch):
    import cv2

    log = {}
    seg = types.SimpleNamespace(createSelectiveSearchSegmentation=lambda: FakeSS(log))
    monkeypatch.setattr(cv2, "ximgproc", types.SimpleNamespace(segmentation=seg), raising=False)
    return log


def test_opencv_wrapper_converts_boxes_and_colours(fake_ximgproc):
    assert opencv_selective_search_available()
    img = np.zeros((30, 40, 3), np.uint8)
    img[..., 0] = 255  # red in RGB
    boxes = opencv_selective_search(img, mode="quality")
    np.testing.assert_array_equal(boxes, [[1, 2, 11, 22], [0, 0, 5, 5]])
    assert boxes.dtype == np.float32
    assert fake_ximgproc["mode"] == "quality"
    assert fake_ximgproc["image"][0, 0].tolist() == [0, 0, 255]  # handed over as BGR
    assert len(opencv_selective_search(img, max_proposals=1)) == 1
    assert fake_ximgproc["mode"] == "fast"


def test_opencv_wrapper_without_contrib(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "ximgproc", raising=False)
    assert not opencv_selective_search_available()
    with pytest.raises(RuntimeError, match="opencv-contrib-python"):
        opencv_selective_search(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((8, 8), np.uint8), {}, "H x W x 3 uint8"),
        (np.zeros((8, 8, 3), np.float32), {}, "H x W x 3 uint8"),
        (np.zeros((8, 8, 3), np.uint8), {"mode": "slow"}, "mode must be"),
        (np.zeros((8, 8, 3), np.uint8), {"max_proposals": 0}, "max_proposals must be"),
    ],
)
def test_opencv_wrapper_rejects_bad_input(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        opencv_selective_search(image, **kwargs)


def test_selective_search_is_reexported():
    from dlcv_utils.proposals.selective_search import selective_search

    assert proposals.selective_search is selective_search


# ---------------------------------------------------------------------------- LBP cascade
@pytest.fixture(scope="module")
def face_cascade():
    from skimage.data import lbp_frontal_face_cascade_filename

    from dlcv_utils.proposals import LBPCascade

    return LBPCascade.from_xml(lbp_frontal_face_cascade_filename())


def test_cascade_file_is_parsed(face_cascade):
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    ref = Cascade(lbp_frontal_face_cascade_filename())
    assert face_cascade.window == (ref.window_width, ref.window_height)
    assert len(face_cascade.stages) == ref.stages_number
    assert sum(len(s[0]) for s in face_cascade.stages) == ref.stumps_number
    assert len(face_cascade.features) == ref.features_number
    for fidx, luts, leaves in face_cascade.stages:
        assert (
            luts.shape == (len(fidx), 8)
            and luts.dtype == np.uint32
            and leaves.shape == (len(fidx), 2)
        )


def test_integral_image_box_sums():
    from dlcv_utils.proposals import integral_image

    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (13, 17))
    ii = integral_image(g)
    assert ii.dtype == np.int64 and ii.shape == (14, 18)
    y1, y2, x1, x2 = 3, 11, 2, 9
    assert ii[y2, x2] - ii[y1, x2] - ii[y2, x1] + ii[y1, x1] == g[y1:y2, x1:x2].sum()
    assert integral_image(g / 255.0).dtype == np.float64
    with pytest.raises(ValueError, match="gray must be an H x W array"):
        integral_image(np.zeros((2, 2, 3)))


def test_lbp_codes_match_skimage_multiblock_lbp(face_cascade):
    from skimage.feature import multiblock_lbp
    from skimage.transform import integral_image as sk_integral

    from dlcv_utils.proposals import integral_image

    rng = np.random.default_rng(1)
    g = rng.integers(0, 4, (80, 80))  # few grey levels: many exact ties between block sums
    ii, sk_ii = integral_image(g), sk_integral(g.astype(np.float64))
    xs, ys = rng.integers(0, 80 - 24, 40), rng.integers(0, 80 - 24, 40)
    for f in range(0, len(face_cascade.features), 5):
        fx, fy, fw, fh = face_cascade.features[f].tolist()
        ref = [multiblock_lbp(sk_ii, int(y) + fy, int(x) + fx, fw, fh) for x, y in zip(xs, ys)]
        np.testing.assert_array_equal(face_cascade.lbp_codes(ii, xs, ys, f), ref)


def test_lbp_code_bit_order_by_hand(face_cascade):
    from dlcv_utils.proposals import integral_image

    fx, fy, fw, fh = face_cascade.features[0].tolist()

    def grid(values):
        """A 24 x 24 image whose feature-0 blocks hold the given 3 x 3 values."""
        g = np.zeros((24, 24), np.int64)
        for r in range(3):
            for c in range(3):
                g[fy + r * fh : fy + (r + 1) * fh, fx + c * fw : fx + (c + 1) * fw] = values[r][c]
        return integral_image(g)

    code = lambda values: face_cascade.lbp_codes(grid(values), [0], [0], 0).tolist()[0]  # noqa: E731
    assert code([[1, 1, 1], [1, 1, 1], [1, 1, 1]]) == 255  # ties count as "brighter"
    assert code([[0, 0, 0], [0, 1, 0], [0, 0, 0]]) == 0
    # clockwise from the top-left: 128, 64, 32, 16 (right), 8, 4, 2 (bottom-left), 1 (left)
    assert code([[1, 0, 1], [1, 1, 1], [0, 1, 1]]) == 255 - 64 - 2
    assert code([[0, 1, 0], [0, 1, 2], [0, 0, 0]]) == 64 + 16


def test_cascade_matches_skimage_on_one_scale(face_cascade):
    from skimage.color import rgb2gray
    from skimage.data import astronaut, lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    gray = np.round(rgb2gray(astronaut()) * 255).astype(np.uint8)[0:200, 120:320]
    # skimage at scale 1 only (max_size < 24 * 1.25), every raw window kept (no grouping)
    ref = Cascade(lbp_frontal_face_cascade_filename()).detect_multi_scale(
        img=gray.astype(np.float64),
        scale_factor=1.25,
        step_ratio=1,
        min_size=(24, 24),
        max_size=(29, 29),
        min_neighbor_number=0,
        intersection_score_threshold=1.01,
    )
    out = cascade_scan(gray, face_cascade, stride=1, max_levels=1)
    # skimage's loop stops one position before the last one that fits
    mine = {(int(b[0]), int(b[1])) for b in out["boxes"] if b[0] < 200 - 24 and b[1] < 200 - 24}
    assert mine == {(d["c"], d["r"]) for d in ref}
    assert len(mine) >= 1


def test_cascade_scan_counts_windows(face_cascade):
    out = cascade_scan(np.zeros((60, 80), np.uint8), face_cascade, scale=1.5, stride=3)
    expected = [
        count_sliding_windows((round(60 / 1.5**i), round(80 / 1.5**i)), 24, 3) for i in range(3)
    ]
    assert out["windows_per_level"] == expected and out["n_windows"] == sum(expected)
    # a flat image fails the first stage everywhere: exactly one stage per window
    assert out["stage_evaluations"] == out["n_windows"]
    assert out["boxes"].shape == (0, 4)
    with pytest.raises(ValueError, match="uint8"):
        cascade_scan(np.zeros((60, 80)), face_cascade)


def test_cascade_rejects_non_lbp_file(tmp_path):
    from dlcv_utils.proposals import LBPCascade

    p = tmp_path / "haar.xml"
    p.write_text(
        "<opencv_storage><cascade><featureType>HAAR</featureType></cascade></opencv_storage>"
    )
    with pytest.raises(ValueError, match="LBP cascade"):
        LBPCascade.from_xml(p)


# ---------------------------------------------------------------------------- plotting
def test_plot_proposal_recall_draws_one_line_per_method():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlcv_utils.proposals import plot_proposal_recall

    curves = {"a": np.array([[0.1, 0.5], [0.0, 0.2]]), "b": np.array([[0.3, 0.9], [0.1, 0.4]])}
    axes = plot_proposal_recall([10, 100], curves, title="t")
    assert len(axes) == 2 and [len(ax.lines) for ax in axes] == [2, 2]
    np.testing.assert_array_equal(axes[1].lines[1].get_ydata(), [0.1, 0.4])
    assert axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match=r"curves\['a'\] must have shape \(2, 3\)"):
        plot_proposal_recall([1, 10, 100], curves)
    plt.close("all")
