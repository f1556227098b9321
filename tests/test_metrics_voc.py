"""Tests for VOC matching and evaluate_voc (dlcv_utils.metrics, lesson 01)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcv_utils.datasets.records import ImageAnn, ObjectAnn
from dlcv_utils.metrics import evaluate_voc, match_detections


# ----------------------------------------------------------------------------- naive reference
def naive_iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def naive_voc_eval(gts, dets, cls, thr=0.5, use_07=False):
    """Line-by-line port of the devkit's VOCevaldet.m / VOCap.m (no +1 pixel)."""
    npos = 0
    gt = {}
    for i, img in enumerate(gts):
        objs = [o for o in img.objects if o.label == cls]
        npos += sum(not o.difficult for o in objs)
        gt[i] = {"boxes": [o.bbox for o in objs], "diff": [o.difficult for o in objs]}
        gt[i]["det"] = [False] * len(objs)
    cand = []
    for i, d in enumerate(dets):
        for b, s, lab in zip(d["boxes"], d["scores"], d["labels"]):
            if lab == cls:
                cand.append((i, float(s), list(b)))
    order = sorted(range(len(cand)), key=lambda k: -cand[k][1])  # stable
    tp, fp = [], []
    for k in order:
        i, _, b = cand[k]
        ovmax, jmax = -math.inf, -1
        for j, g in enumerate(gt[i]["boxes"]):
            iw = min(b[2], g[2]) - max(b[0], g[0])
            ih = min(b[3], g[3]) - max(b[1], g[1])
            if iw > 0 and ih > 0:
                ov = naive_iou(b, g)
                if ov > ovmax:
                    ovmax, jmax = ov, j
        if ovmax >= thr:
            if gt[i]["diff"][jmax]:
                continue  # neither TP nor FP
            if not gt[i]["det"][jmax]:
                gt[i]["det"][jmax] = True
                tp.append(1)
                fp.append(0)
            else:
                tp.append(0)
                fp.append(1)
        else:
            tp.append(0)
            fp.append(1)
    tp_c = np.cumsum(tp)
    fp_c = np.cumsum(fp)
    rec = tp_c / npos
    prec = tp_c / np.maximum(tp_c + fp_c, 1)
    if use_07:
        ap = 0.0
        for t in np.arange(11) / 10:
            p = prec[rec >= t].max() if (rec >= t).any() else 0.0
            ap += p
        return ap / 11
    mrec = [0.0, *rec.tolist(), 1.0]
    mpre = [0.0, *prec.tolist(), 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum(
        (mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]
    )


def random_voc(seed, n_img=6, classes=("cat", "dog", "car")):
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for i in range(n_img):
        objs = []
        for _ in range(rng.integers(0, 6)):
            x1, y1 = rng.integers(0, 80, 2)
            w, h = rng.integers(3, 40, 2)
            objs.append(
                ObjectAnn(
                    str(rng.choice(classes)),
                    (float(x1), float(y1), float(x1 + w), float(y1 + h)),
                    difficult=bool(rng.random() < 0.2),
                )
            )
        gts.append(ImageAnn(f"{i}.jpg", 128, 128, objs, image_id=i))
        boxes, scores, labels = [], [], []
        for _ in range(rng.integers(0, 12)):
            if objs and rng.random() < 0.7:
                o = objs[rng.integers(len(objs))]
                b = np.array(o.bbox) + rng.integers(-3, 4, 4)
                b[2:] = np.maximum(b[2:], b[:2] + 1)
                lab = o.label if rng.random() < 0.8 else str(rng.choice(classes))
            else:
                x1, y1 = rng.integers(0, 80, 2)
                b = np.array([x1, y1, x1 + rng.integers(3, 40), y1 + rng.integers(3, 40)])
                lab = str(rng.choice(classes))
            boxes.append(b.astype(float).tolist())
            scores.append(float(rng.choice([0.2, 0.4, 0.6, 0.8])))  # many ties
            labels.append(lab)
        dets.append({"boxes": np.array(boxes).reshape(-1, 4), "scores": scores, "labels": labels})
    return gts, dets


# ----------------------------------------------------------------------------- match_detections
def test_match_difficult_duplicate_and_miss():
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    dets = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    scores = [0.9, 0.8, 0.7, 0.95]
    tp, ign = match_detections(dets, scores, gt, gt_difficult=[False, True])
    assert tp.tolist() == [True, False, False, False]  # duplicate -> FP, miss -> FP
    assert ign.tolist() == [False, False, True, False]  # matched a difficult box


def test_match_no_fallback_to_second_best_gt():
    # both detections overlap gt0 most; gt1 also has IoU >= 0.5 with the second one, but the
    # devkit never falls back: the second detection is a false positive
    gt = [[0, 0, 10, 10], [1, 0, 11, 10]]
    dets = [[0, 0, 10, 10], [0.4, 0, 10.4, 10]]
    iou0 = naive_iou(dets[1], gt[0])
    assert iou0 > naive_iou(dets[1], gt[1]) >= 0.5
    tp, ign = match_detections(dets, [0.9, 0.8], gt)
    assert tp.tolist() == [True, False] and not ign.any()


def test_match_iou_exactly_at_threshold_and_ties():
    gt = [[0, 0, 10, 10], [0, 0, 10, 10]]  # identical boxes: the first one wins the tie
    tp, _ = match_detections([[0, 0, 5, 10], [0, 0, 5, 10]], [0.9, 0.8], gt, 0.5)
    # IoU 50/100 = 0.5 matches (>=); the second detection's argmax is again gt 0 (first of
    # the tie), already detected: a false positive, no fall back to the identical gt 1
    assert tp.tolist() == [True, False]
    tp, _ = match_detections([[0, 0, 5, 10]], [0.9], gt[:1], 0.5 + 1e-12)
    assert tp.tolist() == [False]


def test_match_tied_scores_keep_input_order_and_zero_overlap():
    gt = [[0, 0, 10, 10]]
    tp, _ = match_detections([[0, 0, 10, 9], [0, 0, 10, 10]], [0.5, 0.5], gt)
    assert tp.tolist() == [True, False]  # stable order: the first of the tie is processed first
    tp, _ = match_detections([[20, 20, 30, 30]], [0.5], gt, iou_threshold=0.0)
    assert tp.tolist() == [False]  # no overlap is never a match
    tp, ign = match_detections(np.zeros((0, 4)), [], gt)
    assert tp.shape == ign.shape == (0,)


def test_match_accepts_torch():
    tp, _ = match_detections(
        torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([0.3]), torch.tensor([[0.0, 0, 10, 10]])
    )
    assert tp.tolist() == [True]


def test_match_guards():
    with pytest.raises(ValueError, match=r"det_boxes must have shape \[N, 4\]"):
        match_detections([[0, 0, 1]], [0.5], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="gt_boxes contains NaN"):
        match_detections([[0, 0, 1, 1]], [0.5], [[0, 0, np.nan, 1]])
    with pytest.raises(ValueError, match="negative width or height"):
        match_detections([[5, 0, 1, 1]], [0.5], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="det_scores has length 2"):
        match_detections([[0, 0, 1, 1]], [0.5, 0.4], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="det_scores contains NaN"):
        match_detections([[0, 0, 1, 1]], [np.nan], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        match_detections([[0, 0, 1, 1]], [0.5], [[0, 0, 1, 1]], iou_threshold=1.5)
    with pytest.raises(ValueError, match="gt_difficult has length 2"):
        match_detections([[0, 0, 1, 1]], [0.5], [[0, 0, 1, 1]], gt_difficult=[True, False])
    with pytest.raises(TypeError, match="det_boxes must be a numeric"):
        match_detections([["a", "b", "c", "d"]], [0.5], [[0, 0, 1, 1]])


# ----------------------------------------------------------------------------- evaluate_voc
def test_evaluate_voc_hand_computed():
    gts = [
        ImageAnn(
            "a.jpg",
            100,
            100,
            [ObjectAnn("cat", (0, 0, 10, 10)), ObjectAnn("dog", (50, 50, 70, 70))],
        ),
        ImageAnn(
            "b.jpg",
            100,
            100,
            [ObjectAnn("cat", (0, 0, 20, 20)), ObjectAnn("cat", (40, 40, 60, 60), difficult=True)],
        ),
    ]
    dets = [
        {
            "boxes": [[0, 0, 10, 10], [50, 50, 70, 70]],
            "scores": [0.9, 0.6],
            "labels": ["cat", "dog"],
        },
        {
            "boxes": [[40, 40, 60, 60], [80, 80, 90, 90], [0, 0, 20, 20]],
            "scores": [0.95, 0.7, 0.5],
            "labels": ["cat", "cat", "cat"],
        },
    ]
    r = evaluate_voc(gts, dets)
    # cat: difficult hit ignored; ranking TP(0.9), FP(0.7), TP(0.5) with 2 objects
    assert r["n_gt"] == {"cat": 2, "dog": 1}
    assert r["precision"]["cat"].tolist() == pytest.approx([1 / 1, 1 / 2, 2 / 3])
    assert r["recall"]["cat"].tolist() == pytest.approx([1 / 2, 1 / 2, 2 / 2])
    assert r["AP"]["cat"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert r["AP"]["dog"] == 1.0
    assert r["mAP"] == pytest.approx((0.5 + 0.5 * 2 / 3 + 1.0) / 2)
    r07 = evaluate_voc(gts, dets, method="voc07")
    assert r07["AP"]["cat"] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("method", ["voc", "voc07"])
def test_evaluate_voc_matches_naive_devkit_port(seed, method):
    gts, dets = random_voc(seed)
    r = evaluate_voc(gts, dets, method=method, class_names=["cat", "dog", "car"])
    for cls in ("cat", "dog", "car"):
        if r["n_gt"][cls] == 0:
            assert math.isnan(r["AP"][cls])
            continue
        expected = naive_voc_eval(gts, dets, cls, use_07=method == "voc07")
        assert r["AP"][cls] == pytest.approx(expected, abs=1e-12), cls


def test_evaluate_voc_class_without_gt_is_nan_and_left_out_of_map():
    gts = [ImageAnn("a.jpg", 50, 50, [ObjectAnn("cat", (0, 0, 10, 10))])]
    dets = [
        {
            "boxes": [[0, 0, 10, 10], [20, 20, 30, 30]],
            "scores": [0.9, 0.8],
            "labels": ["cat", "dog"],
        }
    ]
    r = evaluate_voc(gts, dets)
    assert math.isnan(r["AP"]["dog"]) and r["AP"]["cat"] == 1.0 and r["mAP"] == 1.0


def test_evaluate_voc_integer_labels_and_torch():
    gts = [ImageAnn("a.jpg", 50, 50, [ObjectAnn("dog", (0, 0, 10, 10))])]
    dets = [
        {
            "boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]),
            "scores": torch.tensor([0.5]),
            "labels": torch.tensor([1]),
        }
    ]
    r = evaluate_voc(gts, dets, class_names=["cat", "dog"])
    assert r["AP"]["dog"] == 1.0 and math.isnan(r["AP"]["cat"])


def test_evaluate_voc_guards():
    gts = [ImageAnn("a.jpg", 50, 50, [ObjectAnn("cat", (0, 0, 10, 10))])]
    ok = {"boxes": [[0, 0, 10, 10]], "scores": [0.5], "labels": ["cat"]}
    with pytest.raises(ValueError, match="ground_truths has 1 images but detections has 2"):
        evaluate_voc(gts, [ok, ok])
    for key in ("boxes", "scores", "labels"):
        bad = {k: v for k, v in ok.items() if k != key}
        with pytest.raises(ValueError, match=rf"detections\[0\] is missing key '{key}'"):
            evaluate_voc(gts, [bad])
    with pytest.raises(ValueError, match="pass class_names"):
        evaluate_voc(gts, [{**ok, "labels": [0]}])
    with pytest.raises(ValueError, match="label 3 is outside class_names"):
        evaluate_voc(gts, [{**ok, "labels": [3]}], class_names=["cat"])
    with pytest.raises(ValueError, match="labels not in class_names"):
        evaluate_voc(gts, [{**ok, "labels": ["dog"]}], class_names=["cat"])
    with pytest.raises(ValueError, match="different lengths"):
        evaluate_voc(gts, [{**ok, "scores": [0.5, 0.4]}])
    with pytest.raises(ValueError, match="scores'\\] contains NaN"):
        evaluate_voc(gts, [{**ok, "scores": [float("nan")]}])
    with pytest.raises(ValueError, match="negative width or height"):
        evaluate_voc(gts, [{**ok, "boxes": [[10, 0, 0, 10]]}])
    with pytest.raises(ValueError, match="method must be one of"):
        evaluate_voc(gts, [ok], method="11point")
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        evaluate_voc(gts, [ok], iou_threshold=2)
    with pytest.raises(TypeError, match=r"ground_truths\[0\] must be an ImageAnn"):
        evaluate_voc([{"objects": []}], [ok])
    with pytest.raises(TypeError, match=r"detections\[0\] must be a dict"):
        evaluate_voc(gts, [[0, 0, 10, 10]])
    with pytest.raises(TypeError, match="ground_truths must be a list of ImageAnn"):
        evaluate_voc("gt.json", [ok])


def test_more_type_guards():
    with pytest.raises(TypeError, match="iou_threshold must be a number"):
        match_detections([[0, 0, 1, 1]], [0.5], [[0, 0, 1, 1]], iou_threshold="0.5")
    with pytest.raises(TypeError, match="det_scores must be numeric"):
        match_detections([[0, 0, 1, 1]], ["high"], [[0, 0, 1, 1]])
    gts = [ImageAnn("a.jpg", 50, 50, [ObjectAnn("cat", (0, 0, 10, 10))])]
    ok = {"boxes": [[0, 0, 10, 10]], "scores": [0.5], "labels": ["cat"]}
    with pytest.raises(TypeError, match=r"scores'\] must be numbers"):
        evaluate_voc(gts, [{**ok, "scores": ["x"]}])
    with pytest.raises(TypeError, match="labels must be class names or integer indices"):
        evaluate_voc(gts, [{**ok, "labels": [0.5]}])
    with pytest.raises(TypeError, match="detections must be a list of dicts"):
        evaluate_voc(gts, {"boxes": []})
    with pytest.raises(TypeError, match="iou_threshold must be a number"):
        evaluate_voc(gts, [ok], iou_threshold=None)
