"""Tests for dlcv_utils.models.yolo (lesson 09): v1 grid and loss, k-means anchors, v2 decoding,
CIoU, DFL decoding and the v3-style SmallYOLO."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou, complete_box_iou_loss

from dlcv_utils.models.small_yolo import SmallYOLO, split_anchors
from dlcv_utils.models.yolo import (
    anchor_points,
    ciou,
    decode_v2,
    dfl_decode,
    kmeans_anchors,
    responsible_cells,
    wh_iou,
    yolo_v1_loss,
)


# ----------------------------------------------------------------------------- v1
def test_responsible_cells_by_hand():
    # S = 4 on 64 px: cells of 16 px; centres (8, 8), (40, 24), (64, 64) (edge -> last cell)
    boxes = torch.tensor([[0.0, 0, 16, 16], [30.0, 20, 50, 28], [60.0, 60, 68, 68]])
    assert responsible_cells(boxes, 64, 4).tolist() == [[0, 0], [24 // 16, 40 // 16], [3, 3]]


def test_responsible_cells_errors():
    with pytest.raises(ValueError, match="boxes"):
        responsible_cells(torch.zeros(2, 3), 64, 4)
    with pytest.raises(ValueError, match="grid"):
        responsible_cells(torch.zeros(1, 4), 64, 0)


def test_v1_loss_by_hand():
    # S = 2, B = 2, C = 2 on a 100 px image; one box with centre (25, 75) -> cell (row 1, col 0),
    # x = 25 / 50 = 0.5, y = 75 / 50 - 1 = 0.5, w = 0.36, h = 0.16 of the image, class 1.
    s, b, c = 2, 2, 2
    pred = torch.zeros(s, s, b * 5 + c)
    pred[1, 0, 0:5] = torch.tensor([0.5, 0.5, 0.36, 0.16, 0.7])  # exact box, conf 0.7
    pred[1, 0, 5:10] = torch.tensor([0.1, 0.1, 0.01, 0.01, 0.4])  # far worse predictor
    pred[1, 0, 10:12] = torch.tensor([0.2, 0.6])  # class probabilities
    pred[0, 1, 4] = 0.3  # a confident predictor in an empty cell
    pred[0, 0, 0:4] = 0.9  # coordinates of empty cells do not count
    box = torch.tensor([[25 - 18.0, 75 - 8.0, 25 + 18.0, 75 + 8.0]])
    out = yolo_v1_loss(pred, box, torch.tensor([1]), 100, num_boxes=b)
    assert float(out["coord"]) == pytest.approx(0.0, abs=1e-6)  # predictor 0 is exact
    assert float(out["obj"]) == pytest.approx((0.7 - 1.0) ** 2)  # target: IoU = 1
    assert float(out["noobj"]) == pytest.approx(0.5 * (0.4**2 + 0.3**2))
    assert float(out["cls"]) == pytest.approx(0.2**2 + (0.6 - 1) ** 2)
    total = (0.7 - 1) ** 2 + 0.5 * (0.4**2 + 0.3**2) + 0.2**2 + 0.4**2
    assert float(out["total"]) == pytest.approx(total)


def test_v1_loss_sqrt_and_lambda_coord():
    # responsible predictor off by 0.1 in x and w = 0.25 vs 0.36: 5 * (0.1^2 + (0.5 - 0.6)^2)
    pred = torch.zeros(1, 1, 5 + 1)
    pred[0, 0, :5] = torch.tensor([0.6, 0.5, 0.25, 0.36, 1.0])
    box = torch.tensor([[50 - 30.0, 50 - 30.0, 50 + 30.0, 50 + 30.0]])  # w = h = 0.6 -> sqrt
    out = yolo_v1_loss(pred, box, torch.tensor([0]), 100, num_boxes=1, lambda_coord=5.0)
    expected = 5.0 * (0.1**2 + (math.sqrt(0.25) - math.sqrt(0.6)) ** 2 * 0 + 0)
    expected = 5.0 * (0.1**2 + (0.5 - math.sqrt(0.6)) ** 2 + (0.6 - math.sqrt(0.6)) ** 2)
    assert float(out["coord"]) == pytest.approx(expected, rel=1e-5)


def test_v1_loss_errors():
    with pytest.raises(ValueError, match="pred"):
        yolo_v1_loss(torch.zeros(2, 3, 11), torch.zeros(0, 4), torch.zeros(0), 64)
    with pytest.raises(ValueError, match="labels"):
        yolo_v1_loss(torch.zeros(2, 2, 12), torch.zeros(1, 4), torch.tensor([5]), 64)
    with pytest.raises(ValueError, match="one entry per box"):
        yolo_v1_loss(torch.zeros(2, 2, 12), torch.zeros(1, 4), torch.tensor([0, 1]), 64)
    with pytest.raises(TypeError, match="pred"):
        yolo_v1_loss("nope", torch.zeros(0, 4), torch.zeros(0), 64)


# ----------------------------------------------------------------------------- v2
def test_wh_iou_matches_box_iou_at_the_origin():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 2, generator=gen) * 50 + 1, torch.rand(4, 2, generator=gen) * 50 + 1
    za, zb = torch.zeros_like(a), torch.zeros_like(b)
    expected = box_iou(torch.cat([za, a], 1), torch.cat([zb, b], 1))
    torch.testing.assert_close(wh_iou(a, b), expected)


def test_kmeans_finds_the_clusters():
    gen = torch.Generator().manual_seed(1)
    centres = torch.tensor([[10.0, 10.0], [30.0, 15.0], [60.0, 60.0]])
    wh = torch.cat([c * (1 + 0.02 * torch.randn(40, 2, generator=gen)) for c in centres])
    anchors, mean_iou = kmeans_anchors(wh, 3, seed=3)
    torch.testing.assert_close(anchors, centres, rtol=0.05, atol=0.0)
    assert 0.9 < float(mean_iou) <= 1.0
    # the mean IoU is the mean over boxes of the best IoU with an anchor
    assert float(mean_iou) == pytest.approx(float(wh_iou(wh, anchors).max(1).values.mean()))


def test_kmeans_errors():
    with pytest.raises(ValueError, match="at least k"):
        kmeans_anchors(torch.ones(2, 2), 3)
    with pytest.raises(ValueError, match="positive"):
        kmeans_anchors(torch.tensor([[1.0, 0.0], [2.0, 2.0]]), 1)
    with pytest.raises(ValueError, match="distinct"):
        kmeans_anchors(torch.ones(5, 2), 2)


def test_decode_v2_by_hand():
    t = torch.zeros(1, 3, 2, 4)
    t[0, 2, 1] = torch.tensor([math.log(3.0), 0.0, math.log(2.0), 0.0])  # sigmoid = 0.75
    anchors = torch.tensor([[4.0, 4.0], [10.0, 6.0]])
    out = decode_v2(t, anchors, 8)
    # cell (row 0, col 2), anchor 1: centre ((0.75 + 2) * 8, 0.5 * 8) = (22, 4); size (20, 6)
    assert out[0, 2, 1].tolist() == pytest.approx([12.0, 1.0, 32.0, 7.0])
    assert out[0, 0, 0].tolist() == pytest.approx([2.0, 2.0, 6.0, 6.0])
    with pytest.raises(ValueError, match="A = 2"):
        decode_v2(torch.zeros(1, 3, 3, 4), anchors, 8)


# ----------------------------------------------------------------------------- later versions
def test_ciou_matches_torchvision():
    gen = torch.Generator().manual_seed(0)
    xy1, xy2 = torch.rand(50, 2, generator=gen) * 50, torch.rand(50, 2, generator=gen) * 50
    a = torch.cat([xy1, xy1 + torch.rand(50, 2, generator=gen) * 40 + 1], 1)
    b = torch.cat([xy2, xy2 + torch.rand(50, 2, generator=gen) * 40 + 1], 1)
    expected = complete_box_iou_loss(a, b, reduction="none")
    torch.testing.assert_close(1 - ciou(a, b), expected, atol=1e-5, rtol=1e-5)


def test_ciou_by_hand():
    # same size and shape, side by side: IoU 0, centres 2 apart, enclosing box 4 x 2 -> -4 / 20
    assert float(ciou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[2.0, 0, 4, 2]]))[0]) == (
        pytest.approx(-4 / 20)
    )
    with pytest.raises(ValueError, match="match"):
        ciou(torch.zeros(2, 4), torch.zeros(3, 4))


def test_dfl_decode_by_hand():
    reg_max = 4
    logits = torch.full((1, 4 * reg_max, 2), -1e4)
    # anchor 0: l = 1, t = 2, r = 3, b = 0 (one-hot bins); anchor 1: uniform bins, 1.5 cells
    for side, bin_ in enumerate([1, 2, 3, 0]):
        logits[0, side * reg_max + bin_, 0] = 0.0
    logits[0, :, 1] = 0.0
    pts, st = anchor_points([(1, 2)], [8])
    out = dfl_decode(logits, pts, st, reg_max)
    assert out[0, 0].tolist() == pytest.approx([(0.5 - 1) * 8, (0.5 - 2) * 8, 3.5 * 8, 0.5 * 8])
    assert out[0, 1].tolist() == pytest.approx([0.0, -1.0 * 8, 3.0 * 8, 2.0 * 8])
    with pytest.raises(ValueError, match="box_logits"):
        dfl_decode(torch.zeros(1, 10, 2), pts, st, reg_max)


def test_anchor_points_match_ultralytics():
    import importlib.util

    if importlib.util.find_spec("ultralytics") is None:
        pytest.skip("ultralytics is not installed")
    from dlcv_utils.models.ultralytics_yolo import ensure_offline

    ensure_offline()  # import it offline, keeping the print options the doctests rely on
    tal = pytest.importorskip("ultralytics.utils.tal")
    feats = [torch.zeros(1, 3, 4, 5), torch.zeros(1, 3, 2, 3)]
    ref_pts, ref_st = tal.make_anchors(feats, torch.tensor([8.0, 16.0]), 0.5)
    pts, st = anchor_points([(4, 5), (2, 3)], [8, 16])
    torch.testing.assert_close(pts, ref_pts)
    torch.testing.assert_close(st, ref_st)


# ----------------------------------------------------------------------------- model
def _model(**kw):
    torch.manual_seed(0)
    anchors = [[(12.0, 12.0), (20.0, 20.0)], [(32.0, 32.0), (48.0, 48.0)]]
    return SmallYOLO(4, anchors, strides=(8, 16), widths=(8, 8, 16, 16, 16), **kw)


def test_model_shapes_and_eval_output():
    model = _model().eval()
    outs = model.forward_raw(torch.zeros(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 12, 2, 8), (2, 4, 6, 2, 8)]
    dets = model([torch.rand(3, 64, 64)])
    assert set(dets[0]) == {"boxes", "scores", "labels"}
    if len(dets[0]["labels"]):
        assert dets[0]["labels"].min() >= 1 and dets[0]["labels"].max() <= 3
        assert (dets[0]["boxes"] >= 0).all() and (dets[0]["boxes"] <= 64).all()


def test_model_losses_train_and_drop():
    model = _model().train()
    images = [torch.rand(3, 64, 64) for _ in range(2)]
    targets = [
        {"boxes": torch.tensor([[8.0, 8.0, 24.0, 24.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)},
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        losses = model(images, targets)
        assert set(losses) == {"loss_box", "loss_obj", "loss_cls"}
        total = sum(losses.values())
        first = float(total.detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert float(total.detach()) < 0.5 * first
    # multi-scale training: a batch resized to 96 px (boxes scaled by 1.5) still trains
    ms = _model(multiscale=(96,)).train()
    assert set(ms(images, targets)) == {"loss_box", "loss_obj", "loss_cls"}


def test_model_errors():
    with pytest.raises(ValueError, match="strides"):
        SmallYOLO(3, [[(8, 8)]], strides=(12,))
    with pytest.raises(ValueError, match="one list per stride"):
        SmallYOLO(3, [[(8, 8)]], strides=(8, 16))
    with pytest.raises(ValueError, match="positive"):
        SmallYOLO(3, [[(8, -8)]], strides=(8,))
    model = _model()
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 3, 60, 64))
    with pytest.raises(ValueError, match="targets"):
        model.train()(torch.zeros(1, 3, 64, 64))


def test_recipe_builds_the_lesson_model():
    from dataclasses import replace

    from dlcv_utils.course.recipes import BENCHMARKS, CLASS_NAMES
    from dlcv_utils.course.recipes_yolo import build_yolo_model
    from dlcv_utils.course.settings import lesson_settings
    from dlcv_utils.datasets.shapes import ShapesDetection

    cfg = lesson_settings("09", "cpu")
    ds = ShapesDetection("train", n=12, image_size=cfg.data.image_size)
    model = build_yolo_model(cfg, ds)
    anchors = [model.anchors(i) for i in range(len(cfg.strides))]
    assert [len(a) for a in anchors] == [cfg.k_anchors // len(cfg.strides)] * len(cfg.strides)
    areas = torch.cat(anchors).prod(1)
    assert torch.equal(areas, areas.sort().values)  # finest scale gets the smallest anchors
    assert model.num_classes == len(CLASS_NAMES) and model.strides == cfg.strides
    assert BENCHMARKS["yolo_v3"][0] == "09"
    with pytest.raises(ValueError, match="multiple"):
        build_yolo_model(replace(cfg, k_anchors=5), ds)
    with pytest.raises(TypeError, match="Lesson09"):
        build_yolo_model(lesson_settings("08", "cpu"), ds)


def test_split_anchors_by_hand():
    wh = torch.tensor([[10.0, 10.0], [11.0, 11.0], [40.0, 40.0], [42.0, 42.0]])
    # two clusters, medians of two boxes = means: 10.5 and 41
    assert split_anchors(wh, 2, 2) == [[[10.5, 10.5]], [[41.0, 41.0]]]
    with pytest.raises(ValueError, match="multiple"):
        split_anchors(wh, 3, 2)
