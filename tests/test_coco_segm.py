"""Mask evaluation (``coco_evaluate(..., iou_type="segm")``) equals pycocotools bit for bit.

Also checks the batch RLE decoder and the per-image mask IoU of
:mod:`dlcv_utils.metrics.mask_iou` against pycocotools and against a naive numpy reference.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dlcv_utils.datasets.masks import rle_counts
from dlcv_utils.metrics import STAT_KEYS, coco_evaluate
from dlcv_utils.metrics.mask_iou import (
    MAX_RLE_NUMBER_CHARS,
    decode_rle_counts,
    mask_iou_by_image,
)


# ----------------------------------------------------------------------------- helpers
def encode_counts(cnts: list[int]) -> str:
    """pycocotools' ``rleToString`` for any list of run lengths (negative ones included)."""
    out = []
    for i, c in enumerate(cnts):
        x = c - cnts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if ch & 0x10 else (x != 0)
            out.append(chr((ch | (0x20 if more else 0)) + 48))
    return "".join(out)


def rle_of(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> dict:
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.concatenate(([0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]))
    runs = np.diff(edges).tolist()
    return {"size": list(mask.shape), "counts": [0, *runs] if flat[0] else runs}


def pycoco(gt: dict, dets: list, iou_type: str = "segm") -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_identical(gt: dict, dets: list) -> dict:
    """All 12 numbers and the precision / recall / score arrays equal, bit for bit."""
    ev = pycoco(gt, dets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = coco_evaluate(copy.deepcopy(gt), copy.deepcopy(dets), "segm")
    assert ours["stats"].tolist() == ev.stats.tolist()
    for i, key in enumerate(STAT_KEYS):
        assert ours[key] == ev.stats[i], key
    assert np.array_equal(ours["precision"], ev.eval["precision"])
    assert np.array_equal(ours["recall"], ev.eval["recall"])
    assert np.array_equal(ours["scores"], ev.eval["scores"])
    return ours


def blob(rng, h, w, kind=None):
    """A random mask: rectangle, ellipse, ring (non-convex: several runs per column) or noise."""
    kind = kind or rng.choice(["rect", "ellipse", "ring", "noise"])
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), dtype=bool)
    if kind == "rect":
        y0, x0 = rng.integers(-3, h), rng.integers(-3, w)
        m[max(y0, 0) : y0 + rng.integers(1, h), max(x0, 0) : x0 + rng.integers(1, w)] = True
    elif kind in ("ellipse", "ring"):
        cy, cx = rng.uniform(-2, h + 2), rng.uniform(-2, w + 2)
        ry, rx = rng.uniform(1, h), rng.uniform(1, w)
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        m = d <= 1 if kind == "ellipse" else (d <= 1) & (d >= 0.3)
    else:
        m = rng.random((h, w)) < 0.3
    return m


def random_case(seed: int, n_img=4, n_cat=3, h=18, w=25, n_gt=5, n_det=12, det_bbox=True):
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "height": h, "width": w} for i in range(n_img)]
    cats = [{"id": c + 1, "name": f"c{c + 1}"} for c in range(n_cat)]
    anns, dets = [], []
    for im in images:
        gts = []
        for _ in range(int(rng.integers(0, n_gt + 1))):
            m = blob(rng, h, w)
            if not m.any():
                m[0, 0] = True
            crowd = int(rng.random() < 0.2)
            cat = int(rng.integers(1, n_cat + 1))
            seg = uncompressed(m) if crowd else rle_of(m)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": cat,
                    "segmentation": seg,
                    "area": float(m.sum()),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle_of(m))],
                    "iscrowd": crowd,
                }
            )
            gts.append((m, cat))
        for _ in range(int(rng.integers(0, n_det + 1))):
            if gts and rng.random() < 0.6:  # a noisy copy of a ground truth
                src, cat = gts[int(rng.integers(len(gts)))]
                m = np.roll(src, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
                m ^= rng.random((h, w)) < 0.05
                if rng.random() < 0.2:
                    cat = int(rng.integers(1, n_cat + 1))
            else:
                m, cat = blob(rng, h, w), int(rng.integers(1, n_cat + 1))
            rle = rle_of(m)
            d = {
                "image_id": im["id"],
                "category_id": cat,
                "segmentation": rle,
                "score": float(np.round(rng.random(), 2)),  # ties
            }
            if det_bbox:
                d["bbox"] = [float(v) for v in mask_utils.toBbox(rle)]
            dets.append(d)
    return {"images": images, "annotations": anns, "categories": cats}, dets


# ----------------------------------------------------------------------------- decoder
@pytest.mark.parametrize("seed", range(3))
def test_decode_matches_pycocotools_and_the_python_reference(seed):
    rng = np.random.default_rng(seed)
    h, w = 13, 17
    masks = [blob(rng, h, w) for _ in range(60)]
    masks += [np.ones((h, w), bool), np.zeros((h, w), bool)]  # full and empty
    edge = np.zeros((h, w), bool)
    edge[-1, -1] = edge[0, 0] = True  # first and last pixel
    masks.append(edge)
    big = np.zeros((300, 400), bool)
    big[:, 7:390] = True  # runs of several characters (up to 5)
    counts = [rle_of(m)["counts"] for m in masks]
    totals = [h * w] * len(masks)
    counts.append(rle_of(big)["counts"].encode("ascii"))  # bytes work too
    totals.append(300 * 400)
    masks.append(big)
    for chunk in (1 << 16, 7):  # one chunk, and a chunk boundary after (almost) every string
        d = decode_rle_counts(counts, totals, return_runs=True, chunk_chars=chunk)
        assert d.ok.all()
        for i, (c, m) in enumerate(zip(counts, masks)):
            assert d.runs[d.offsets[i] : d.offsets[i + 1]].tolist() == rle_counts(c)
            assert d.areas[i] == m.sum() == mask_utils.area(rle_of(m))
            fg = np.flatnonzero(m.ravel(order="F"))
            if len(fg):  # pycocotools' strings have no zero-length runs: the span is exact
                assert d.span[i].tolist() == [fg[0], fg[-1]]
            else:
                assert d.span[i, 0] > d.span[i, 1]


def test_decode_refuses_what_check_segmentation_refuses():
    good = encode_counts([5, 3, 7])  # 15 pixels
    assert rle_counts(good) == [5, 3, 7]
    cases = {
        "good": (good, True),
        "bad character": (good[:-1] + "~", False),
        "below '0'": (good[:-1] + "/", False),
        "cut off": (good + "P", False),  # continuation bit on the last character
        "sum too small": (encode_counts([5, 3, 6]), False),
        "sum too large": (encode_counts([5, 3, 8]), False),
        "negative run": (encode_counts([5, 3, 4, -2, 5]), False),  # adds up to 15
        "empty string": ("", False),
        "non-ASCII": ("5é", False),
        "not a string": (17, False),
        "huge number": (encode_counts([2**40, 3]), False),
        "too many characters": ("P" * MAX_RLE_NUMBER_CHARS + encode_counts([5, 3, 7]), False),
        "zero-length runs": (encode_counts([0, 0, 5, 0, 3, 7]), True),
    }
    d = decode_rle_counts([c for c, _ in cases.values()], [15] * len(cases))
    assert dict(zip(cases, d.ok.tolist())) == {k: v for k, (_, v) in cases.items()}
    # a bad string does not spill into its neighbours, in any order
    d = decode_rle_counts([good + "P", good, "~", good], [15] * 4, chunk_chars=3)
    assert d.ok.tolist() == [False, True, False, True]
    assert d.areas[[1, 3]].tolist() == [3, 3]


def test_decode_large_images_and_int32_overflow():
    # height * width < 2**30 decodes in int32, larger ones in int64. Strings that would pass
    # if int32 wrapped around: runs 0, 2, ..., 14 of 2**29 (their sum 2**32 wraps to 0) and
    # run 1 of 2**29; and a number 2**32 larger than a run (it wraps to the run)
    wrap_sum = [2**29 if j % 2 == 0 or j == 1 else 0 for j in range(15)]
    cases = [
        (encode_counts([2**31 - 10, 4, 6]), 2**31, True),  # int64
        (encode_counts([2**31 - 10, 4, 7]), 2**31, False),
        (encode_counts([2**29 - 3, 1, 1, 1]), 2**29, True),
        (encode_counts(wrap_sum), 2**29, False),  # the runs add up to 9 * 2**29
        (encode_counts([5, 3, 7 + 2**32, -(2**32)]), 15, False),  # runs 7 + 2**32 and -2**32
        (encode_counts([5, 3, 7, 0]), 15, True),
    ]
    counts, totals = [c for c, _, _ in cases], [t for _, t, _ in cases]
    for chunk in (1, 1 << 18):  # one string per chunk (int32 where it fits), and one chunk
        d = decode_rle_counts(counts, totals, return_runs=True, chunk_chars=chunk)
        assert d.ok.tolist() == [ok for _, _, ok in cases]
        for i, (c, _, ok) in enumerate(cases):
            if ok:
                runs = rle_counts(c)
                assert d.runs[d.offsets[i] : d.offsets[i + 1]].tolist() == runs
                assert d.areas[i] == sum(runs[1::2])


def test_decode_rejects_wrong_totals_length():
    with pytest.raises(ValueError, match="totals must have one entry per string"):
        decode_rle_counts(["0"], [1, 2])


# ----------------------------------------------------------------------------- mask IoU
def naive_iou(d: np.ndarray, g: np.ndarray, crowd: bool) -> float:
    inter = int((d & g).sum())
    union = int(d.sum()) if crowd else int((d | g).sum())
    return inter / union if inter else 0.0


@pytest.mark.parametrize("prune", ["none", "columns", "areas", "both"])
def test_mask_iou_by_image_equals_pycocotools_and_naive(prune):
    rng = np.random.default_rng(5)
    h, w = 16, 21
    d_masks = [blob(rng, h, w) for _ in range(60)]
    g_masks = [blob(rng, h, w) for _ in range(12)]
    d_masks += [g_masks[i % 12] ^ (rng.random((h, w)) < 0.1) for i in range(30)]  # near copies
    n_d = len(d_masks)
    d_img, d_cat = rng.integers(0, 3, n_d), rng.integers(0, 2, n_d)
    g_img, g_cat = rng.integers(0, 3, 12), rng.integers(0, 2, 12)
    d_img[60:], d_cat[60:] = g_img[np.arange(30) % 12], g_cat[np.arange(30) % 12]
    crowd = rng.random(12) < 0.3
    d_rles, g_rles = [rle_of(m) for m in d_masks], [rle_of(m) for m in g_masks]

    def decoded(rles):
        return decode_rle_counts([r["counts"] for r in rles], [h * w] * len(rles))

    kw, min_iou = {}, 0.0
    if prune in ("columns", "both"):
        kw.update(det_cols=decoded(d_rles).span // h, gt_cols=decoded(g_rles).span // h)
    if prune in ("areas", "both"):
        kw.update(det_area=decoded(d_rles).areas, gt_area=decoded(g_rles).areas)
    if prune != "none":
        min_iou = 0.5
    di, gi, iou = mask_iou_by_image(
        d_rles, d_img, d_cat, g_rles, g_img, g_cat, crowd, min_iou=min_iou, **kw
    )
    got = {(int(a), int(b)): v for a, b, v in zip(di, gi, iou)}
    assert len(got) == len(di)
    ref = mask_utils.iou(d_rles, g_rles, crowd.astype(np.uint8).tolist())
    n_kept = 0
    for a in range(n_d):
        for b in range(12):
            if d_img[a] != g_img[b] or d_cat[a] != g_cat[b]:
                assert (a, b) not in got
                continue
            expected = naive_iou(d_masks[a], g_masks[b], bool(crowd[b]))
            assert ref[a, b] == expected  # the C code divides the same integers
            if expected >= min_iou:
                assert got[(a, b)] == expected
                n_kept += expected >= 0.5
            else:
                assert (a, b) not in got
    assert n_kept >= 10  # the near copies match


# ----------------------------------------------------------------------------- coco_evaluate
@pytest.mark.parametrize("seed", range(6))
def test_random_cases_identical(seed):
    gt, dets = random_case(seed, det_bbox=seed % 2 == 0)
    assert_identical(gt, dets)


def test_many_categories_and_empty_images():
    gt, dets = random_case(11, n_img=8, n_cat=30, n_gt=6, n_det=20)
    gt["images"].append({"id": 100, "height": 18, "width": 25})  # no gt, no dets
    gt["images"].append({"id": 101, "height": 18, "width": 25})  # dets only
    m = np.zeros((18, 25), bool)
    m[2:9, 3:12] = True
    dets.append({"image_id": 101, "category_id": 4, "segmentation": rle_of(m), "score": 0.99})
    dets[-1]["bbox"] = [float(v) for v in mask_utils.toBbox(rle_of(m))]
    assert_identical(gt, dets)


def test_max_dets_cut_and_area_ranges():
    # 130 detections on one (image, category): only the best 100 count; masks of all three
    # area ranges (small < 32^2 <= medium <= 96^2 < large)
    h, w = 120, 130
    rng = np.random.default_rng(3)
    anns, dets = [], []
    for k, (side, cat) in enumerate([(20, 1), (50, 1), (110, 1), (8, 2)]):
        m = np.zeros((h, w), bool)
        m[:side, k : k + side] = True
        anns.append(
            {
                "id": k + 1,
                "image_id": 1,
                "category_id": cat,
                "segmentation": rle_of(m),
                "area": float(m.sum()),
                "bbox": [float(v) for v in mask_utils.toBbox(rle_of(m))],
                "iscrowd": 0,
            }
        )
        for _ in range(35 if cat == 1 else 31):
            mm = np.roll(m, int(rng.integers(-3, 4)), axis=1)
            d = {"image_id": 1, "category_id": cat, "segmentation": rle_of(mm)}
            d["score"] = float(np.round(rng.random(), 2))
            dets.append(d)
    gt = {
        "images": [{"id": 1, "height": h, "width": w}],
        "annotations": anns,
        "categories": [{"id": 1}, {"id": 2}],
    }
    ours = assert_identical(gt, dets)  # no bbox: detection areas are mask areas
    assert sum(d["category_id"] == 1 for d in dets) == 105  # 5 beyond maxDets
    assert ours["APs"] > -1 and ours["APm"] > -1 and ours["APl"] > -1


def test_crowd_regions_and_border_masks():
    h, w = 10, 12
    full = np.ones((h, w), bool)
    corner = np.zeros((h, w), bool)
    corner[-4:, -5:] = True  # touches the bottom-right corner: the last pixel is foreground
    top = np.zeros((h, w), bool)
    top[0, :] = True  # one row: one run per column
    gt = {
        "images": [{"id": 1, "height": h, "width": w}, {"id": 2, "height": h, "width": w}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_of(corner)},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": uncompressed(full)},
            {"id": 3, "image_id": 2, "category_id": 1, "segmentation": rle_of(top)},
        ],
    }
    for a, m, crowd in zip(gt["annotations"], (corner, full, top), (0, 1, 0)):
        a.update(area=float(m.sum()), iscrowd=crowd, bbox=[0.0, 0.0, 1.0, 1.0])
    far = np.zeros((h, w), bool)
    far[0:2, 0:2] = True
    dets = [
        {"image_id": 1, "category_id": 1, "segmentation": rle_of(corner), "score": 0.9},
        {"image_id": 1, "category_id": 1, "segmentation": rle_of(far), "score": 0.8},  # crowd
        {"image_id": 2, "category_id": 1, "segmentation": rle_of(top), "score": 0.7},
        {"image_id": 2, "category_id": 1, "segmentation": rle_of(far), "score": 0.95},  # FP
    ]
    ours = assert_identical(gt, dets)
    # ranked: FP (image 2, IoU 2 / 14), corner (TP), det on the crowd region (IoU 4 / 4 with
    # the crowd: ignored), row (TP). Precision after the FP, TP, TP: the envelope is 2 / 3
    # at every recall threshold.
    assert ours["AP50"] == pytest.approx(2 / (3 + np.spacing(1)), abs=1e-15)
    assert ours["AR100"] == 1.0


def test_gt_polygons_and_rle_kinds():
    # single and multi polygons, a compressed-RLE ground truth, integer coordinates, a polygon
    # reaching outside the image (pycocotools clips it)
    h, w = 30, 40
    anns = [
        {"segmentation": [[2, 2, 15, 2, 15, 12, 2, 12]]},
        {"segmentation": [[20.5, 3, 30, 3, 30, 9], [20, 15, 35, 15, 35, 25, 20, 25]]},
        {"segmentation": [[-5, 20, 10, 20, 10, 45, -5, 45]]},
        {"segmentation": rle_of(np.pad(np.ones((5, 5), bool), ((20, 5), (30, 5))))},
    ]
    for i, a in enumerate(anns):
        rle = (
            mask_utils.merge(mask_utils.frPyObjects(a["segmentation"], h, w))
            if isinstance(a["segmentation"], list)
            else a["segmentation"]
        )
        a.update(
            id=i + 1,
            image_id=1,
            category_id=1,
            iscrowd=0,
            area=float(mask_utils.area(rle)),
            bbox=[float(v) for v in mask_utils.toBbox(rle)],
        )
    gt = {"images": [{"id": 1, "height": h, "width": w}], "annotations": anns}
    gt["categories"] = [{"id": 1}]
    rng = np.random.default_rng(0)
    dets = []
    for a in anns:
        rle = a["segmentation"]
        if isinstance(rle, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(rle, h, w))
        m = mask_utils.decode(rle).astype(bool)
        m ^= rng.random(m.shape) < 0.1
        dets.append({"image_id": 1, "category_id": 1, "segmentation": rle_of(m), "score": 0.5})
    assert_identical(gt, dets)


def test_no_overlap_at_all():
    gt, dets = random_case(2, n_img=2)
    h, w = 18, 25
    for d in dets:  # every detection in a corner that no ground truth touches
        m = np.zeros((h, w), bool)
        d["segmentation"] = rle_of(m)  # empty masks: IoU 0 everywhere
        d.pop("bbox", None)
    assert_identical(gt, dets)


def test_expected_value_as_arithmetic():
    # ground truth 10 x 10, detection 10 x 9 inside it: IoU 90 / 100 = 0.9 passes 9 of the 10
    # thresholds (0.9 is stored as 0.8999999999999999); precision 1 / (1 + eps)
    m = np.zeros((20, 20), bool)
    m[0:10, 0:10] = True
    d = m.copy()
    d[9, :] = False
    gt = {
        "images": [{"id": 1, "height": 20, "width": 20}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_of(m)}
            | {"area": 100.0, "iscrowd": 0, "bbox": [0.0, 0.0, 10.0, 10.0]}
        ],
    }
    dets = [{"image_id": 1, "category_id": 1, "segmentation": rle_of(d), "score": 0.5}]
    ours = assert_identical(gt, dets)
    assert ours["AP"] == pytest.approx(9 / 10 / (1 + np.spacing(1)), abs=1e-15)
    assert ours["AP75"] == pytest.approx(1 / (1 + np.spacing(1)), abs=1e-15)
    assert ours["APs"] == ours["AP"]  # area 100 < 32^2
    assert ours["APm"] == ours["APl"] == -1.0


# ----------------------------------------------------------------------------- bad input
class _IndexOnly:
    """An integer-like object that numpy and pycocotools do not take as an integer."""

    def __init__(self, value: int):
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"_IndexOnly({self.value})"


def _one_image_case():
    m = np.zeros((6, 8), bool)
    m[1:4, 2:6] = True
    gt = {
        "images": [{"id": 1, "height": 6, "width": 8}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_of(m)}
            | {"area": 12.0, "iscrowd": 0, "bbox": [2.0, 1.0, 4.0, 3.0]}
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "segmentation": rle_of(m), "score": s}
        for s in (0.9, 0.8, 0.7)
    ]
    return gt, dets


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"size": [6, 8], "counts": "0~"}, "invalid character"),
        ({"size": [6, 8], "counts": encode_counts([40, 7])}, "add up to 47, expected"),
        ({"size": [6, 8], "counts": encode_counts([30, 20, 4, -6])}, "negative run length"),
        ({"size": [6, 8], "counts": "0" * 20 + "P"}, "ends in the middle of a number"),
        ({"size": [6, 9], "counts": encode_counts([54])}, "differs from the image's"),
        ({"size": [6.0, 8.0], "counts": encode_counts([48])}, "must hold integers"),
        ({"size": [True, 8], "counts": encode_counts([48])}, "must hold integers, got True"),
        ({"size": [6, np.float64(8)], "counts": encode_counts([48])}, "must hold integers"),
        ({"size": [6, 8, 1], "counts": encode_counts([48])}, "differs from the image's"),
        ({"size": "68", "counts": encode_counts([48])}, "must be a list of integers"),
        ({"size": [6, _IndexOnly(8)], "counts": encode_counts([48])}, "must hold integers"),
        ({"size": [6, 8], "counts": [40, 7]}, "add up to 47"),
        ([[1, 1, 5, 1, True, 4]], "non-number True"),
        ([[1, 1, 5, 1, float("nan"), 4]], "non-finite"),
    ],
)
def test_malformed_detection_masks_are_refused(bad, message):
    gt, dets = _one_image_case()
    dets[1]["segmentation"] = bad
    with pytest.raises(ValueError, match=r"detections\[1\] segmentation: .*" + message):
        coco_evaluate(gt, dets, "segm")


@pytest.mark.parametrize(
    "as_size",
    [tuple, lambda s: [np.int64(v) for v in s], np.array],
    ids=["tuple", "np_int", "array"],
)
def test_rle_sizes_as_tuples_or_numpy_integers(as_size):
    gt, dets = _one_image_case()
    expected = coco_evaluate(gt, dets, "segm")["stats"]
    for d in dets:
        d["segmentation"]["size"] = as_size(d["segmentation"]["size"])
    assert coco_evaluate(gt, dets, "segm")["stats"].tolist() == expected.tolist()


def test_the_first_bad_detection_is_named():
    gt, dets = _one_image_case()
    dets[0]["segmentation"] = [[0, 0, 1]]  # slow path (polygon)
    dets[2]["segmentation"] = {"size": [6, 8], "counts": "~"}  # fast path
    with pytest.raises(ValueError, match=r"detections\[0\]"):
        coco_evaluate(gt, dets, "segm")
    gt, dets = _one_image_case()
    dets[0]["segmentation"] = {"size": [6, 8], "counts": "~"}
    dets[2]["segmentation"] = [[0, 0, 1]]
    with pytest.raises(ValueError, match=r"detections\[0\]"):
        coco_evaluate(gt, dets, "segm")


def test_malformed_ground_truth_polygons_are_refused():
    gt, dets = _one_image_case()
    gt["annotations"][0]["segmentation"] = [[0, 0, 4, 0, 4, 1e9]]
    with pytest.raises(ValueError, match=r"annotations'\]\[0\] segmentation: polygon 0 coord"):
        coco_evaluate(gt, dets, "segm")
    gt["annotations"][0]["segmentation"] = [[0, 0, 4, 0, 4, "3"]]
    with pytest.raises(ValueError, match=r"annotations'\]\[0\] segmentation: polygon 0 has a"):
        coco_evaluate(gt, dets, "segm")


def test_mask_iou_by_image_takes_any_integer_keys():
    # dense keys are used as they are, sparse ones are ranked first: the same pairs either way
    rng = np.random.default_rng(3)
    h, w = 12, 14
    d_rles = [rle_of(blob(rng, h, w)) for _ in range(25)]
    g_rles = [rle_of(blob(rng, h, w)) for _ in range(8)]
    d_img, d_cat = rng.integers(0, 3, 25), rng.integers(0, 2, 25)
    g_img, g_cat = rng.integers(0, 3, 8), rng.integers(0, 2, 8)
    crowd = np.zeros(8, bool)
    ref = mask_iou_by_image(d_rles, d_img, d_cat, g_rles, g_img, g_cat, crowd)
    assert len(ref[0]) > 0
    for to_key in (
        lambda k: k * 10**12 - 7,  # sparse: np.unique
        lambda k: np.uint64(2**64 - 1) - k.astype(np.uint64),  # dense, at the top of uint64
        lambda k: k + np.iinfo(np.int64).min,  # dense, at the bottom of int64
    ):
        got = mask_iou_by_image(
            d_rles, to_key(d_img), to_key(d_cat), g_rles, to_key(g_img), to_key(g_cat), crowd
        )
        order = np.lexsort((got[1], got[0]))
        ref_order = np.lexsort((ref[1], ref[0]))
        for a, b in zip(got, ref):
            assert a[order].tolist() == b[ref_order].tolist()


def test_mask_iou_by_image_checks_its_arrays():
    rle = rle_of(np.ones((2, 2), bool))
    one, two = np.array([1]), np.array([1, 1])
    with pytest.raises(ValueError, match=r"det_cat must have one entry per RLE \(1\), got 2"):
        mask_iou_by_image([rle], one, two, [rle], one, one, np.array([False]))
    with pytest.raises(ValueError, match=r"gt_cols must have shape \(1, 2\)"):
        mask_iou_by_image(
            [rle], one, one, [rle], one, one, np.array([False]), 0.5, np.zeros((1, 2)), one
        )


def test_polygons_on_images_of_different_sizes():
    # plain single polygons are converted per image size: each must use its own image's size
    rng = np.random.default_rng(7)
    sizes = [(18, 25), (30, 20), (18, 25), (9, 40)]
    images = [{"id": i + 1, "height": h, "width": w} for i, (h, w) in enumerate(sizes)]
    anns, dets = [], []
    for im in images:
        h, w = im["height"], im["width"]
        for _ in range(3):
            x0, y0 = int(rng.integers(-2, w - 3)), int(rng.integers(-2, h - 3))
            x1, y1 = x0 + int(rng.integers(3, w)), y0 + int(rng.integers(3, h))  # may leave
            poly = [x0, y0, x1, y0, x1, y1, x0, y1]
            rle = mask_utils.frPyObjects([poly], h, w)[0]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": 1,
                    "segmentation": [poly],
                    "area": float(mask_utils.area(rle)),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
            m = mask_utils.decode(rle).astype(bool)
            m ^= rng.random(m.shape) < 0.08
            d = {"image_id": im["id"], "category_id": 1, "segmentation": rle_of(m)}
            dets.append(d | {"score": float(rng.random())})
    assert_identical({"images": images, "annotations": anns, "categories": [{"id": 1}]}, dets)
