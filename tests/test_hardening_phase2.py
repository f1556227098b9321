"""Issue 8 outside the datasets: NMS, box overflow, COCO segm, checkpoints, training losses,
the course runner. Every hostile input is built here."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from dlcv_utils.course import runner as course
from dlcv_utils.engine.checkpoint import load_checkpoint, save_checkpoint
from dlcv_utils.engine.loop import _finite_losses
from dlcv_utils.metrics.coco import coco_evaluate
from dlcv_utils.metrics.matching import box_iou_numpy, match_detections
from dlcv_utils.metrics.voc import evaluate_voc
from dlcv_utils.ops.boxes import box_iou, generalized_box_iou
from dlcv_utils.ops.nms import batched_nms, nms, soft_nms

# ------------------------------------------------------------------------------ soft-NMS


def test_soft_nms_keeps_no_view_of_the_full_score_tensor(monkeypatch):
    """Each kept score used to be a view of that step's [N] score tensor: N^2 memory."""
    n = 300
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 500, (n, 2))
    boxes = torch.tensor(np.hstack([xy, xy + rng.uniform(5, 60, (n, 2))]), dtype=torch.float32)
    scores = torch.rand(n, generator=torch.Generator().manual_seed(0))
    stacked = []
    real_stack = torch.stack

    def spy(tensors, *a, **k):
        stacked.extend(tensors)
        return real_stack(tensors, *a, **k)

    monkeypatch.setattr(torch, "stack", spy)
    keep, new_scores = soft_nms(boxes, scores, method="gaussian")
    monkeypatch.undo()
    assert len(stacked) == len(keep) > 100
    one = stacked[0].element_size()
    assert all(t.untyped_storage().nbytes() == one for t in stacked)  # not n * one each
    assert torch.equal(new_scores, real_stack(stacked))


# --------------------------------------------------------------------------- box overflow


@pytest.mark.parametrize("scale", [1e20, 1e30, 1e-25])
def test_iou_and_giou_of_huge_or_tiny_identical_boxes(scale):
    b = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 3.0, 1.0]]) * scale
    iou = box_iou(b, b)
    giou = generalized_box_iou(b, b)
    expected = torch.tensor([[1.0, 1 / 3], [1 / 3, 1.0]])  # scale-free ratios
    torch.testing.assert_close(iou, expected)
    torch.testing.assert_close(giou, expected)  # touching/overlapping: C == union
    assert not bool(torch.isnan(giou).any())


def test_voc_matching_never_counts_nan_iou():
    huge = np.array([[0.0, 0.0, 1.7e308, 1.7e308]])
    assert box_iou_numpy(huge, huge).tolist() == [[1.0]]
    tp, _ = match_detections(huge, np.array([0.9]), huge, 0.5)
    assert tp.tolist() == [True]
    # a NaN IoU (forced) must not match
    import dlcv_utils.metrics.matching as matching

    orig = matching.box_iou_numpy
    try:
        matching.box_iou_numpy = lambda a, b: np.full((len(a), len(b)), np.nan)
        tp, ign = match_detections(huge, np.array([0.9]), huge, 0.5)
    finally:
        matching.box_iou_numpy = orig
    assert tp.tolist() == [False] and ign.tolist() == [False]
    from dlcv_utils.datasets import ImageAnn, ObjectAnn

    gts = [ImageAnn("a", 10, 10, [ObjectAnn("x", (0.0, 0.0, 1e300, 1e300))])]
    dets = [{"boxes": [[0.0, 0.0, 1e300, 1e300]], "scores": [0.5], "labels": ["x"]}]
    assert evaluate_voc(gts, dets)["AP"]["x"] == 1.0


def test_complex_boxes_and_bool_complex_scores_refused():
    boxes = np.array([[0, 0, 1, 1]], dtype=complex)
    with pytest.raises(TypeError, match="boxes1 must be real"):
        box_iou(boxes, boxes)
    b = torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1]])
    for scores in (torch.tensor([True, False]), torch.tensor([1 + 1j, 0j])):
        with pytest.raises(TypeError, match="scores must hold real numbers"):
            nms(b, scores, 0.5)
    for scores in (np.array([True, False]), np.array([1 + 1j, 0j])):
        with pytest.raises(TypeError, match="scores must hold real numbers"):
            nms(b.numpy(), scores, 0.5)
    with pytest.raises(TypeError, match="labels must be integers, got dtype <U1"):
        batched_nms(b.numpy(), np.array([0.9, 0.8]), np.array(["a", "b"]), 0.5)
    with pytest.raises(TypeError, match="labels must be integers"):
        batched_nms(b, torch.tensor([0.9, 0.8]), torch.tensor([1j, 2j]), 0.5)


# ----------------------------------------------------------------------------- COCO segm


def _segm_gt(n_img=1, h=20, w=30):
    return {
        "images": [{"id": i + 1, "height": h, "width": w} for i in range(n_img)],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "iscrowd": 0,
                "area": 20.0,
                "bbox": [2, 2, 5, 4],
                "segmentation": [[2, 2, 7, 2, 7, 6, 2, 6]],
            }
            for i in range(n_img)
        ],
        "categories": [{"id": 1, "name": "x"}],
    }


@pytest.mark.parametrize(
    ("seg", "match"),
    [
        ([[2, 2, float("nan"), 2, 7, 6]], "non-finite coordinate nan"),
        ([[2, 2, float("inf"), 2, 7, 6]], "non-finite coordinate inf"),
        ([[2, 2, 1e12, 2, 7, 6]], "more than one image size outside"),
        ({"size": [20, 30], "counts": [10**12]}, "add up to 1000000000000"),
        ({"size": [20, 30], "counts": "PPPPPPPPPPPPPPP0"}, "too large for a mask"),
        ({"size": [20, 30], "counts": "05"}, "add up to 5, expected height"),
    ],
)
def test_segm_inputs_checked_before_pycocotools(seg, match):
    gt = _segm_gt()
    dets = [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": seg}]
    with pytest.raises(ValueError, match=rf"detections\[0\] segmentation: .*{match}"):
        coco_evaluate(gt, dets, iou_type="segm")
    gt["annotations"][0]["segmentation"] = seg
    with pytest.raises(ValueError, match=match):
        coco_evaluate(gt, [], iou_type="segm")


def test_segm_area_for_many_rle_detections_without_bbox():
    from pycocotools import mask as mask_utils

    gt = _segm_gt(n_img=300)
    m = np.zeros((20, 30), np.uint8, order="F")
    m[2:6, 2:7] = 1
    rle = mask_utils.encode(m)
    rle["counts"] = rle["counts"].decode("ascii")
    dets = [{"image_id": i + 1, "category_id": 1, "score": 0.5, "segmentation": rle}
            for i in range(300)]  # fmt: skip
    out = coco_evaluate(gt, dets, iou_type="segm")
    assert out["stats"][0] == pytest.approx(1.0)


def test_coco_true_as_score_or_id_and_bad_json_path(tmp_path):
    gt = _segm_gt(n_img=2)
    det = {"image_id": 1, "category_id": 1, "bbox": [2, 2, 5, 4]}
    with pytest.raises(TypeError, match=r"score must be numbers, got True at index 0"):
        coco_evaluate(gt, [{**det, "score": True}, {**det, "score": 0.5}])
    with pytest.raises(TypeError, match="image_id must be integers, got True at index 1"):
        coco_evaluate(gt, [{**det, "score": 0.5}, {**det, "image_id": True, "score": 0.4}])
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(gt)[:-5])
    with pytest.raises(ValueError, match=r"coco_gt: .*gt\.json: malformed JSON at line 1"):
        coco_evaluate(str(p), [])


# ---------------------------------------------------------------------------- checkpoints


def test_checkpoint_numpy_extra_failed_save_and_corrupt_files(tmp_path, monkeypatch):
    p = tmp_path / "m.pt"
    save_checkpoint(p, nn.Linear(2, 1), epoch=2, extra={"best": np.float64(0.5), "n": np.int64(3)})
    back = load_checkpoint(p, nn.Linear(2, 1))
    assert back == {"epoch": 2, "extra": {"best": 0.5, "n": 3}}
    assert type(back["extra"]["best"]) is float
    with pytest.raises(TypeError, match=r"extra\['f'\] is a function"):
        save_checkpoint(p, nn.Linear(2, 1), extra={"f": lambda: 0})

    def broken_save(obj, f):
        open(f, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "n.pt", nn.Linear(2, 1))
    monkeypatch.undo()
    assert sorted(q.name for q in tmp_path.iterdir()) == ["m.pt"]  # no n.pt, no n.pt.tmp
    good = p.read_bytes()
    for data in (good[: len(good) // 2], b"", b"\x80\x04garbage"):
        p.write_bytes(data)
        with pytest.raises(ValueError, match="m.pt' is not a readable checkpoint"):
            load_checkpoint(p, nn.Linear(2, 1))


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (0.5, TypeError, "loss term 'loss' must be a floating-point torch tensor"),
        (torch.tensor([0.5, 0.2]), ValueError, r"must be a scalar, got shape \(2,\)"),
        (torch.tensor(1), TypeError, "torch.int64"),
    ],
)
def test_float_or_vector_losses_are_clear_errors(value, exc, match):
    with pytest.raises(exc, match=match):
        _finite_losses({"loss": value}, iteration=3, epoch=1)


# ------------------------------------------------------------------------------ runner


def _nb(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_select_lessons_rejects_05abc():
    available = {"01": "01_basics.ipynb", "05": "05_faster_rcnn.ipynb"}
    assert course.select_lessons(["5", "05_faster"], available) == ["05"]
    for bad in ("05abc", "5_faster", "05_yolo", "x"):
        with pytest.raises(ValueError, match=repr(bad)):
            course.select_lessons([bad], available)


def test_dead_kernel_and_corrupt_notebook_become_failed_rows(tmp_path):
    dies = _nb(tmp_path / "01_dies.ipynb", ["x = 1", "import os; os._exit(9)"])
    corrupt = tmp_path / "02_corrupt.ipynb"
    corrupt.write_text('{"cells": [')
    fine = _nb(tmp_path / "03_fine.ipynb", ["print(1)"])
    results = course.run_lessons(
        ["01", "02", "03"], {"01": dies, "02": corrupt, "03": fine}, tmp_path / "b",
        device="cpu", html=False, progress=False,
    )  # fmt: skip
    assert [r.status for r in results] == ["FAILED", "FAILED", "ok"]
    assert results[0].error.startswith("cell 1: the kernel died")
    assert "02_corrupt.ipynb: not a readable notebook" in results[1].error
    assert (tmp_path / "b" / "01_dies.ipynb").exists()  # the notebook is still written
    table = course.format_table(results)
    assert "01_dies failed at cell 1: the kernel died" in table


def test_cuda_without_gpu_is_refused_up_front(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _nb(tmp_path / "01_x.ipynb", ["print('hi')"])
    monkeypatch.setattr(course, "NOTEBOOK_DIR", tmp_path)
    with pytest.raises(SystemExit):
        course.main(["run", "1", "--device", "cuda", "--build-dir", str(tmp_path / "b")])
    assert "torch sees no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
