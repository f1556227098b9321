"""Conformance of dlcv_utils.metrics.coco_evaluate with pycocotools' COCOeval (lesson 01)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dlcv_utils.metrics import (
    IOU_THRESHOLDS,
    RECALL_THRESHOLDS,
    STAT_KEYS,
    coco_evaluate,
)

TOL = 1e-9


# ----------------------------------------------------------------------------- helpers
def pycoco(gt: dict, dets: list, iou_type: str = "bbox") -> COCOeval:
    """Run pycocotools on deep copies (it mutates its inputs)."""
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


def assert_conforms(gt: dict, dets: list, iou_type: str = "bbox") -> dict:
    ev = pycoco(gt, dets, iou_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = coco_evaluate(gt, dets, iou_type)
    np.testing.assert_allclose(ours["stats"], ev.stats, rtol=0, atol=TOL)
    for i, key in enumerate(STAT_KEYS):
        assert ours[key] == pytest.approx(ev.stats[i], abs=TOL), key
    np.testing.assert_allclose(ours["precision"], ev.eval["precision"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ours["recall"], ev.eval["recall"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ours["scores"], ev.eval["scores"], rtol=0, atol=TOL)
    return ours


def box(x, y, w, h):
    return [float(x), float(y), float(w), float(h)]


def gt_dict(anns, n_images=1, cat_ids=(1,)):
    out = []
    for i, a in enumerate(anns):
        a = dict(a)
        a.setdefault("id", i + 1)
        a.setdefault("image_id", 1)
        a.setdefault("category_id", 1)
        a.setdefault("iscrowd", 0)
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
        out.append(a)
    return {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, n_images + 1)],
        "annotations": out,
        "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids],
    }


def det(bbox, score, image_id=1, category_id=1):
    return {"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": score}


def random_case(seed, n_img=8, n_cat=3, max_gt=6, max_dt=30, crowd_p=0.15, ints=False, tie=False):
    """Random ground truth with jittered detections (so that matches happen)."""
    rng = np.random.default_rng(seed)
    images = [{"id": int(i), "width": 200, "height": 200} for i in rng.permutation(n_img) * 3 + 1]
    cats = [{"id": int(c), "name": f"c{c}"} for c in rng.permutation(n_cat) * 2 + 1]
    anns, dets = [], []
    for im in images:
        for _ in range(rng.integers(0, max_gt + 1)):
            x, y, w, h = *rng.uniform(0, 100, 2), *rng.uniform(2, 150, 2)
            if ints:
                x, y, w, h = np.round([x, y, w, h])
            area = w * h * (rng.uniform(0.5, 1.0) if rng.random() < 0.5 else 1.0)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": cats[rng.integers(n_cat)]["id"],
                    "bbox": box(x, y, w, h),
                    "area": float(area),
                    "iscrowd": int(rng.random() < crowd_p),
                }
            )
        own = [a for a in anns if a["image_id"] == im["id"]]
        for _ in range(rng.integers(0, max_dt + 1)):
            if own and rng.random() < 0.7:
                g = own[rng.integers(len(own))]
                x, y, w, h = g["bbox"]
                j = rng.normal(0, 0.1, 4) * [w, h, w, h]
                bb = [x + j[0], y + j[1], max(w + j[2], 0.5), max(h + j[3], 0.5)]
                c = g["category_id"] if rng.random() < 0.85 else cats[rng.integers(n_cat)]["id"]
            else:
                bb = [*rng.uniform(0, 100, 2), *rng.uniform(2, 150, 2)]
                c = cats[rng.integers(n_cat)]["id"]
            if ints:
                bb = np.round(bb)
            score = float(rng.choice([0.1, 0.5, 0.9])) if tie else float(rng.random())
            dets.append(det(box(*bb), score, im["id"], c))
    return {"images": images, "annotations": anns, "categories": cats}, dets


# ----------------------------------------------------------------------------- random conformance
@pytest.mark.parametrize("seed", range(24))
def test_random_conformance(seed):
    gt, dets = random_case(
        seed,
        n_img=1 + seed % 9,
        n_cat=1 + seed % 4,
        ints=seed % 3 == 0,
        tie=seed % 2 == 0,
        crowd_p=0.4 if seed % 5 == 0 else 0.1,
    )
    assert_conforms(gt, dets)


@pytest.mark.parametrize("seed", range(3))
def test_random_conformance_many_detections_per_image(seed):
    # up to 300 detections per image: the per-image, per-category cut to 100 matters
    gt, dets = random_case(100 + seed, n_img=3, n_cat=2, max_gt=10, max_dt=300, tie=seed == 1)
    assert_conforms(gt, dets)


def test_conformance_with_tiny_pair_chunks(monkeypatch):
    # the IoU pairs are computed in chunks to bound memory: chunk boundaries must not matter
    import dlcv_utils.metrics.coco as coco_module

    gt, dets = random_case(55, n_img=6, n_cat=2, max_dt=60)
    monkeypatch.setattr(coco_module, "_PAIR_CHUNK", 7)
    assert_conforms(gt, dets)


# ----------------------------------------------------------------------------- hand-made cases
def test_hand_computed_recall_threshold_quirk():
    # 10 objects; ranking TP x7, FP, TP. Recall 0.7 after 7 TPs, but pycocotools' recall
    # threshold 70 is 0.7000000000000001 > 0.7, so it reads the precision 8/9 of the last TP:
    # AP50 = (70 * 1 + 11 * 8/9) / 101 (not (71 + 10 * 8/9) / 101 with exact thresholds).
    anns = [{"bbox": box(20 * i, 0, 10, 10)} for i in range(10)]
    dets = [det(box(20 * i, 0, 10, 10), 1 - 0.01 * i) for i in range(7)]
    dets.append(det(box(500, 400, 10, 10), 0.5))
    dets.append(det(box(140, 0, 10, 10), 0.4))
    assert RECALL_THRESHOLDS[70] > 0.7
    ours = assert_conforms(gt_dict(anns), dets)
    assert ours["AP50"] == pytest.approx((70 * 1 + 11 * 8 / 9) / 101, abs=1e-12)
    assert ours["AR100"] == pytest.approx(0.8, abs=1e-12)


def test_single_perfect_detection_eps_quirk():
    # pycocotools' precision is tp / (tp + fp + eps): one TP gives 1 / (1 + eps) < 1
    ours = assert_conforms(gt_dict([{"bbox": box(0, 0, 10, 10)}]), [det(box(0, 0, 10, 10), 0.9)])
    assert ours["AP"] == 1 / (1 + np.spacing(1)) < 1.0
    assert ours["AR1"] == 1.0
    # two TPs: 2 / (2 + eps) rounds to exactly 1
    gt2 = gt_dict([{"bbox": box(0, 0, 10, 10)}, {"bbox": box(50, 50, 10, 10)}])
    ours = assert_conforms(gt2, [det(box(0, 0, 10, 10), 0.9), det(box(50, 50, 10, 10), 0.8)])
    assert ours["AP"] == 1.0


def test_iou_exactly_at_thresholds():
    # gt 10x10; detections of width 5, 7.5 and 9: IoU exactly 0.5, 0.75 and 0.9
    # (0.9 passes pycocotools' threshold 0.8999999999999999). One image each.
    anns = [{"bbox": box(0, 0, 10, 10), "image_id": i} for i in (1, 2, 3)]
    dets = [
        det(box(0, 0, 5, 10), 0.9, 1),
        det(box(0, 0, 7.5, 10), 0.9, 2),
        det(box(0, 0, 9, 10), 0.9, 3),
    ]
    ours = assert_conforms(gt_dict(anns, n_images=3), dets)
    # thresholds passed: 1 (0.5), 6 (0.5..0.75), 9 (0.5..0.9) of 10, one TP of 3 GT each
    assert ours["recall"][:, 0, 0, 2].tolist() == pytest.approx(
        [1.0] + [2 / 3] * 5 + [1 / 3] * 3 + [0.0]
    )
    assert IOU_THRESHOLDS[8] < 0.9


def test_crowd_iou_uses_detection_area_and_crowd_absorbs_duplicates():
    # crowd region 100x100; detections inside it have IoU = inter / area(dt) = 1 and are
    # ignored (neither TP nor FP), any number of them
    anns = [
        {"bbox": box(0, 0, 100, 100), "iscrowd": 1},
        {"bbox": box(200, 200, 20, 20)},
    ]
    dets = [det(box(10, 10, 20, 20), 0.95), det(box(40, 40, 20, 20), 0.9)]
    dets.append(det(box(200, 200, 20, 20), 0.5))
    ours = assert_conforms(gt_dict(anns), dets)
    assert ours["AP"] == 1 / (1 + np.spacing(1))  # two crowd hits ignored, one TP


def test_area_ranges_use_annotation_area_field_inclusive():
    # box 40x40 (medium) but annotation area 1024 exactly: "small" (bounds inclusive) and
    # "medium" at the same time
    anns = [{"bbox": box(0, 0, 40, 40), "area": 1024.0}, {"bbox": box(100, 0, 40, 40)}]
    dets = [det(box(0, 0, 40, 40), 0.9), det(box(100, 0, 40, 40), 0.8)]
    ours = assert_conforms(gt_dict(anns), dets)
    assert ours["ARs"] == 1.0 and ours["ARm"] == 1.0 and ours["ARl"] == -1.0


def test_more_than_100_detections_per_image_cut_per_category():
    # 120 detections in one image, 60 per class: all are evaluated (maxDets is per
    # image *and* category). 130 in one class: the 30 lowest-scored are dropped.
    anns = [
        {"bbox": box(0, 0, 10, 10), "category_id": 1},
        {"bbox": box(0, 0, 10, 10), "category_id": 2},
    ]
    dets = [det(box(50, 50, 10, 10), 0.9 - i * 0.001, 1, 1 + i % 2) for i in range(118)]
    dets += [det(box(0, 0, 10, 10), 0.5, 1, 1), det(box(0, 0, 10, 10), 0.5, 1, 2)]
    ours = assert_conforms(gt_dict(anns, cat_ids=(1, 2)), dets)
    assert ours["AR100"] == 1.0 and ours["AR10"] == 0.0
    many = [det(box(50, 50, 10, 10), 0.9, 1, 1) for _ in range(100)]
    many.append(det(box(0, 0, 10, 10), 0.1, 1, 1))
    ours = assert_conforms(gt_dict(anns[:1]), many)
    assert ours["AR100"] == 0.0  # the true positive ranks 101st


def test_images_and_classes_without_gt_or_detections():
    gt = gt_dict([{"bbox": box(0, 0, 10, 10)}], n_images=3, cat_ids=(1, 2, 3))
    dets = [det(box(0, 0, 10, 10), 0.9), det(box(0, 0, 10, 10), 0.8, 2, 2)]
    ours = assert_conforms(gt, dets)
    assert ours["per_class_AP"][2] == -1.0 and ours["per_class_AP"][3] == -1.0
    assert ours["per_class_AP"][1] == ours["AP"]


def test_tied_scores_across_images_use_image_id_order():
    # tie between a FP in image 1 and a TP in image 2: image-id order breaks it
    gt = gt_dict([{"bbox": box(0, 0, 10, 10), "image_id": 2}], n_images=2)
    for dets in (
        [det(box(0, 0, 10, 10), 0.5, 2), det(box(50, 50, 10, 10), 0.5, 1)],
        [det(box(50, 50, 10, 10), 0.5, 1), det(box(0, 0, 10, 10), 0.5, 2)],
    ):
        ours = assert_conforms(gt, dets)
        assert ours["AP50"] == pytest.approx(0.5, abs=1e-12)  # FP first: precision 1/2


def test_explicit_ignore_field_is_overwritten_by_iscrowd():
    anns = [{"bbox": box(0, 0, 10, 10)}, {"bbox": box(50, 50, 10, 10), "ignore": 1}]
    ours = assert_conforms(gt_dict(anns), [det(box(0, 0, 10, 10), 0.9)])
    assert ours["AR100"] == 0.5  # the "ignored" object still counts as a miss


def test_annotation_id_zero_quirk_replicated_with_warning():
    anns = [{"bbox": box(0, 0, 10, 10), "id": 0}, {"bbox": box(50, 50, 10, 10), "id": 1}]
    dets = [det(box(0, 0, 10, 10), 0.9), det(box(50, 50, 10, 10), 0.8)]
    gt = gt_dict(anns)
    with pytest.warns(UserWarning, match="id 0"):
        ours = coco_evaluate(gt, dets)
    assert ours["AP"] == pytest.approx(pycoco(gt, dets).stats[0], abs=TOL)
    assert ours["AP"] < 0.5  # the perfect hit on id 0 counts as a false positive


def test_regular_gt_preferred_over_crowd_and_later_gt_wins_ties():
    anns = [
        {"bbox": box(0, 0, 10, 10)},
        {"bbox": box(0, 0, 10, 10)},  # identical: equal IoU, the later one wins
        {"bbox": box(0, 0, 12, 12), "iscrowd": 1},
    ]
    dets = [det(box(0, 0, 10, 10), 0.9), det(box(0, 0, 10, 10), 0.8), det(box(0, 0, 10, 10), 0.7)]
    assert_conforms(gt_dict(anns), dets)


def test_empty_detections_defined_values():
    gt = gt_dict([{"bbox": box(0, 0, 10, 10)}, {"bbox": box(0, 0, 100, 100), "image_id": 2}], 2)
    ours = coco_evaluate(gt, [])
    expected = {"APm": -1.0, "ARm": -1.0}  # a small and a large object, no medium one
    for key in STAT_KEYS:
        assert ours[key] == expected.get(key, 0.0), key
    # (pycocotools 2.0.11 raises IndexError in loadRes on an empty list)


def test_empty_ground_truth():
    ours = coco_evaluate({"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1}]}, [])
    assert all(ours[k] == -1.0 for k in STAT_KEYS)
    assert ours["precision"].shape == (10, 101, 1, 4, 3)


def test_json_paths_and_no_mutation(tmp_path):
    gt, dets = random_case(7)
    gt_copy, dets_copy = copy.deepcopy(gt), copy.deepcopy(dets)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    from_paths = coco_evaluate(str(tmp_path / "gt.json"), tmp_path / "dt.json")
    from_objects = coco_evaluate(gt, dets)
    assert gt == gt_copy and dets == dets_copy
    assert from_paths["stats"].tolist() == from_objects["stats"].tolist()


def test_result_layout():
    gt, dets = random_case(3, n_cat=3)
    r = coco_evaluate(gt, dets)
    assert set(STAT_KEYS) <= set(r)
    assert r["precision"].shape == (10, 101, 3, 4, 3)
    assert r["recall"].shape == (10, 3, 4, 3)
    assert r["cat_ids"] == sorted(c["id"] for c in gt["categories"])
    assert set(r["per_class_AP"]) == set(r["cat_ids"]) == set(r["category_names"])
    assert r["iou_thresholds"].tolist() == IOU_THRESHOLDS.tolist()
    valid = [v for v in r["per_class_AP"].values() if v > -1]
    assert np.mean(valid) == pytest.approx(r["AP"], abs=1e-12)


def _segm_case(seed):
    rng = np.random.default_rng(seed)
    h, w = 60, 80
    images = [{"id": i, "height": h, "width": w} for i in (1, 2)]
    anns, dets = [], []
    for im in images:
        for k in range(4):
            x, y = rng.integers(0, 50, 2)
            bw, bh = rng.integers(4, 30, 2)
            poly = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
            crowd = int(k == 3 and seed % 2 == 0)
            rle = mask_utils.merge(mask_utils.frPyObjects([list(map(float, poly[0]))], h, w))
            if crowd:
                m = mask_utils.decode(rle)
                # uncompressed RLE (column-major run lengths) of the binary mask
                runs, last, count = [], 0, 0
                for v in m.ravel(order="F"):
                    if v != last:
                        runs.append(count)
                        count, last = 0, v
                    count += 1
                runs.append(count)
                seg = {"size": [h, w], "counts": runs}
            else:
                seg = [list(map(float, poly[0]))]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": 1 + k % 2,
                    "segmentation": seg,
                    "bbox": [float(x), float(y), float(bw), float(bh)],
                    "area": float(mask_utils.area(rle)),
                    "iscrowd": crowd,
                }
            )
            for _ in range(3):
                dx, dy = rng.integers(-3, 4, 2)
                drle = mask_utils.merge(
                    mask_utils.frPyObjects(
                        [[float(v + (dx if i % 2 == 0 else dy)) for i, v in enumerate(poly[0])]],
                        h,
                        w,
                    )
                )
                drle["counts"] = drle["counts"].decode()
                dets.append(
                    {
                        "image_id": im["id"],
                        "category_id": 1 + k % 2,
                        "segmentation": drle,
                        "score": float(rng.random()),
                    }
                )
    return {"images": images, "annotations": anns, "categories": [{"id": 1}, {"id": 2}]}, dets


@pytest.mark.parametrize("seed", range(2))
def test_segm_conformance(seed):
    gt, dets = _segm_case(seed)
    assert_conforms(gt, dets, "segm")


# ----------------------------------------------------------------------------- input guards
def _valid():
    return gt_dict([{"bbox": box(0, 0, 10, 10)}]), [det(box(0, 0, 10, 10), 0.9)]


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_guard_missing_gt_key(key):
    gt, dets = _valid()
    del gt[key]
    with pytest.raises(ValueError, match=f"coco_gt is missing key '{key}'"):
        coco_evaluate(gt, dets)


@pytest.mark.parametrize("key", ["bbox", "image_id", "category_id", "id"])
def test_guard_missing_annotation_key(key):
    gt, dets = _valid()
    del gt["annotations"][0][key]
    with pytest.raises(ValueError, match=rf"annotations'\]\[0\] is missing key '{key}'"):
        coco_evaluate(gt, dets)


@pytest.mark.parametrize("key", ["bbox", "image_id", "category_id", "score"])
def test_guard_missing_detection_key(key):
    gt, dets = _valid()
    del dets[0][key]
    with pytest.raises(ValueError, match=rf"detections\[0\] is missing key '{key}'"):
        coco_evaluate(gt, dets)


def test_guard_unknown_ids():
    gt, dets = _valid()
    with pytest.raises(ValueError, match=r"detections image_id\[0\] = 7 is not an id"):
        coco_evaluate(gt, [det(box(0, 0, 1, 1), 0.5, image_id=7)])
    with pytest.raises(ValueError, match=r"detections category_id\[0\] = 9 is not an id"):
        coco_evaluate(gt, [det(box(0, 0, 1, 1), 0.5, category_id=9)])
    gt["annotations"][0]["image_id"] = 5
    with pytest.raises(ValueError, match=r"annotations'\] image_id\[0\] = 5"):
        coco_evaluate(gt, dets)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_guard_non_finite(bad):
    gt, dets = _valid()
    with pytest.raises(ValueError, match="detections score must be finite"):
        coco_evaluate(gt, [det(box(0, 0, 1, 1), bad)])
    with pytest.raises(ValueError, match=r"detections bbox\[0\] must be finite"):
        coco_evaluate(gt, [det([0.0, bad, 1.0, 1.0], 0.5)])
    gt["annotations"][0]["bbox"] = [0.0, 0.0, bad, 1.0]
    with pytest.raises(ValueError, match=r"annotations'\] bbox\[0\] must be finite"):
        coco_evaluate(gt, dets)


def test_guard_negative_width_and_bad_bbox_shape():
    gt, dets = _valid()
    with pytest.raises(ValueError, match="negative width or height"):
        coco_evaluate(gt, [det(box(0, 0, -1, 5), 0.5)])
    with pytest.raises(ValueError, match=r"must be a list of 4 numbers"):
        coco_evaluate(gt, [det([0.0, 0.0, 1.0], 0.5)])
    gt["annotations"][0]["bbox"] = [0.0, 0.0, 5.0, -2.0]
    with pytest.raises(ValueError, match="negative width or height"):
        coco_evaluate(gt, dets)


def test_guard_iou_type_and_types():
    gt, dets = _valid()
    with pytest.raises(ValueError, match="iou_type must be one of"):
        coco_evaluate(gt, dets, iou_type="keypoints")
    with pytest.raises(TypeError, match="coco_gt must be a dict"):
        coco_evaluate([gt], dets)
    with pytest.raises(TypeError, match="detections must be a list"):
        coco_evaluate(gt, {"bbox": [0, 0, 1, 1]})
    with pytest.raises(TypeError, match="detections score must be numbers"):
        coco_evaluate(gt, [det(box(0, 0, 1, 1), "0.5")])
    with pytest.raises(TypeError, match="detections image_id must be integers"):
        coco_evaluate(gt, [det(box(0, 0, 1, 1), 0.5, image_id="1")])
    with pytest.raises(TypeError, match=r"detections\[0\] must be a dict"):
        coco_evaluate(gt, [[0, 0, 1, 1]])
    with pytest.raises(TypeError, match=r"coco_gt\['images'\] must be a list"):
        coco_evaluate({**gt, "images": {}}, dets)


def test_guard_duplicate_ids_and_bad_iscrowd():
    gt, dets = _valid()
    gt["annotations"].append(dict(gt["annotations"][0]))
    with pytest.raises(ValueError, match="ids must be unique, id 1 repeats"):
        coco_evaluate(gt, dets)
    gt, dets = _valid()
    gt["annotations"][0]["iscrowd"] = 2
    with pytest.raises(ValueError, match="iscrowd must be 0 or 1"):
        coco_evaluate(gt, dets)


def test_guard_more_annotation_fields():
    gt, dets = _valid()
    with pytest.raises(TypeError, match=r"detections bbox must hold numbers"):
        coco_evaluate(gt, [det(["0", "0", "1", "1"], 0.5)])
    gt["annotations"][0]["area"] = -5.0
    with pytest.raises(ValueError, match=r"area must be >= 0, got -5.0"):
        coco_evaluate(gt, dets)
    gt, dets = _valid()
    gt["annotations"][0]["category_id"] = 42
    with pytest.raises(ValueError, match=r"annotations'\] category_id\[0\] = 42"):
        coco_evaluate(gt, dets)


def test_guard_segm_inputs():
    gt, dets = _segm_case(0)
    del gt["images"][0]["height"]
    with pytest.raises(ValueError, match="needs height and width"):
        coco_evaluate(gt, dets, "segm")
    gt, dets = _segm_case(0)
    del gt["annotations"][0]["segmentation"]
    with pytest.raises(ValueError, match=r"annotations'\]\[0\] is missing key 'segmentation'"):
        coco_evaluate(gt, dets, "segm")
    gt, dets = _segm_case(0)
    dets[0]["segmentation"] = 17
    with pytest.raises(
        ValueError, match=r"detections\[0\] segmentation: must be a polygon list or an RLE"
    ):
        coco_evaluate(gt, dets, "segm")
