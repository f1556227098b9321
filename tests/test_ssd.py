"""Tests for dlcv_utils.models.ssd (lesson 08): default boxes, matching, loss, model."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection._utils import SSDMatcher
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from dlcv_utils.course.recipes import BENCHMARKS, CLASS_NAMES, build_ssd_model
from dlcv_utils.course.settings import lesson_settings
from dlcv_utils.models.ssd import (
    BOX_WEIGHTS,
    SSDBackbone,
    build_ssd,
    default_box_scales,
    default_box_sizes,
    default_boxes,
    hard_negative_mask,
    match_default_boxes,
    ssd_loss,
)


def _random_boxes(gen, n, low=0.0, high=100.0, size=(8.0, 50.0)):
    xy = torch.rand(n, 2, generator=gen) * (high - low) + low
    wh = torch.rand(n, 2, generator=gen) * (size[1] - size[0]) + size[0]
    return torch.cat([xy, xy + wh], 1)


# ----------------------------------------------------------------------------- scales and boxes
def test_scales_by_hand():
    # s_k = 0.2 + 0.7 (k - 1) / 5, k = 1..6, then 1
    assert default_box_scales(6, 0.2, 0.9) == pytest.approx(
        [0.2 + 0.7 * k / 5 for k in range(6)] + [1.0]
    )
    assert default_box_scales(1, 0.3, 0.7) == [0.3, 0.7]
    assert default_box_scales(3, 0.5, 0.5) == pytest.approx([0.5, 0.5, 0.5, 1.0])


@pytest.mark.parametrize("m", [1, 2, 4, 6])
def test_scales_match_torchvision(m):
    gen = DefaultBoxGenerator([[2]] * m, min_ratio=0.15, max_ratio=0.85)
    assert default_box_scales(m, 0.15, 0.85) == pytest.approx(gen.scales, abs=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0.2, 0.9), "m must be"),
        ((3, 0.0, 0.9), "s_min"),
        ((3, 0.2, 1.5), "s_max"),
        ((3, 0.8, 0.2), "s_min must be <= s_max"),
    ],
)
def test_scales_reject_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        default_box_scales(*args)


def test_box_sizes_by_hand():
    sizes = default_box_sizes([0.2, 0.5, 1.0], [[2, 3], []])
    assert [tuple(s.shape) for s in sizes] == [(6, 2), (2, 2)]
    w2, h2 = 0.2 * math.sqrt(2), 0.2 / math.sqrt(2)
    w3, h3 = 0.2 * math.sqrt(3), 0.2 / math.sqrt(3)
    s_prime = math.sqrt(0.2 * 0.5)
    expected = [[0.2, 0.2], [s_prime, s_prime], [w2, h2], [h2, w2], [w3, h3], [h3, w3]]
    torch.testing.assert_close(sizes[0], torch.tensor(expected))
    torch.testing.assert_close(sizes[1], torch.tensor([[0.5, 0.5], [math.sqrt(0.5)] * 2]))
    with pytest.raises(ValueError, match="one entry more than aspect_ratios"):
        default_box_sizes([0.2, 0.5], [[2], [2]])
    with pytest.raises(ValueError, match=r"aspect_ratios\[0\]"):
        default_box_sizes([0.2, 0.5], [[-1.0]])


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("steps", [None, [8, 16, 32]])
def test_default_boxes_match_torchvision(clip, steps):
    ratios = [[2], [2, 3], [3]]
    grids = [(12, 10), (6, 5), (3, 3)]
    image = (96, 80)
    gen = DefaultBoxGenerator(ratios, scales=[0.3, 0.6, 0.9, 1.2], steps=steps, clip=clip)
    feats = [torch.zeros(1, 1, *g) for g in grids]
    expected = gen(ImageList(torch.zeros(1, 3, *image), [image]), feats)[0]
    got = default_boxes(grids, image, ratios, gen.scales, steps=steps, clip=clip)
    assert got.shape == (12 * 10 * 4 + 6 * 5 * 6 + 3 * 3 * 4, 4)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_default_boxes_by_hand():
    boxes = default_boxes([(2, 2)], (64, 64), [[]], [0.25, 1.0])
    # cell (0, 0): centre (16, 16), side 0.25 * 64 = 16, then sqrt(0.25) * 64 = 32
    assert boxes[:2].tolist() == [[8, 8, 24, 24], [0, 0, 32, 32]]
    # cell (0, 1) comes next (row-major): centre (48, 16)
    assert boxes[2].tolist() == [40, 8, 56, 24]
    # clipping clamps the *size* to the image, not the corners
    big = default_boxes([(1, 1)], (10, 10), [[4]], [0.8, 1.0])
    assert big[2].tolist() == pytest.approx([0, 3, 10, 7])  # w = 1.6 -> 1, h = 0.4
    with pytest.raises(ValueError, match="grid_sizes must have one"):
        default_boxes([(2, 2), (1, 1)], (64, 64), [[]], [0.25, 1.0])
    with pytest.raises(ValueError, match="steps must have one entry per level"):
        default_boxes([(2, 2)], (64, 64), [[]], [0.25, 1.0], steps=[8, 16])


# ----------------------------------------------------------------------------- matching
def test_match_by_hand():
    d = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4], [100, 100, 104, 104]])
    gt = torch.tensor([[0.0, 0, 10, 10], [90, 90, 120, 120]])
    # IoU 1, 0.5 (counts), 0.4 (no), and the far object's only (poor, 16/900) box
    assert match_default_boxes(gt, d).tolist() == [0, 0, -1, 1]
    assert match_default_boxes(torch.zeros(0, 4), d).tolist() == [-1] * 4
    assert match_default_boxes(gt, d, iou_threshold=0.3).tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="iou_threshold"):
        match_default_boxes(gt, d, iou_threshold=1.5)


def test_match_equals_torchvision_ssd_matcher():
    gen = torch.Generator().manual_seed(0)
    dboxes = default_boxes(
        [(16, 16), (8, 8), (4, 4)], (128, 128), [[2, 3]] * 3, default_box_scales(3, 0.1, 0.6)
    )
    for n in range(1, 12):
        gt = _random_boxes(gen, n)
        expected = SSDMatcher(0.5)(box_iou(gt, dboxes))
        assert torch.equal(match_default_boxes(gt, dboxes), expected)


# ----------------------------------------------------------------------------- loss
def test_hard_negatives_by_hand():
    loss = torch.tensor([[0.1, 0.9, 0.5, 0.3, 2.0, 0.7], [0.4, 0.2, 0.6, 0.1, 0.0, 0.3]])
    labels = torch.tensor([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0]])
    mask = hard_negative_mask(loss, labels, neg_pos_ratio=3)
    # image 0: 1 positive -> the 3 largest negative losses 0.9, 0.7, 0.5; image 1: none
    assert mask.tolist() == [
        [False, True, True, False, False, True],
        [False] * 6,
    ]
    with pytest.raises(ValueError, match="cls_loss and labels"):
        hard_negative_mask(loss, labels[0], 3)
    with pytest.raises(ValueError, match="neg_pos_ratio"):
        hard_negative_mask(loss, labels, -1)


def test_loss_equals_torchvision_compute_loss():
    torch.manual_seed(0)
    model = build_ssd(6, image_size=128, width=4, levels=4)
    dboxes = default_boxes(
        [(16, 16), (8, 8), (4, 4), (2, 2)],
        (128, 128),
        [[2, 3]] * 4,
        default_box_scales(4, 0.1, 0.6),
    )
    gen = torch.Generator().manual_seed(1)
    targets = [
        {"boxes": _random_boxes(gen, n), "labels": torch.randint(1, 6, (n,), generator=gen)}
        for n in (3, 1, 5)
    ]
    head = {
        "cls_logits": torch.randn(3, len(dboxes), 6, generator=gen),
        "bbox_regression": torch.randn(3, len(dboxes), 4, generator=gen),
    }
    matched = [match_default_boxes(t["boxes"], dboxes) for t in targets]
    expected = model.compute_loss(targets, head, [dboxes] * 3, matched)
    got = ssd_loss(head["cls_logits"], head["bbox_regression"], [dboxes] * 3, targets, matched)
    for key in ("bbox_regression", "classification"):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)
    assert model.box_coder.weights == BOX_WEIGHTS


def test_loss_of_a_perfect_prediction_is_small():
    dboxes = torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]])
    targets = [{"boxes": torch.tensor([[1.0, 0, 11, 10]]), "labels": torch.tensor([2])}]
    matched = [match_default_boxes(targets[0]["boxes"], dboxes)]
    logits = torch.full((1, 3, 3), -20.0)
    logits[0, 0, 2] = logits[0, 1, 0] = logits[0, 2, 0] = 20.0
    # the right offsets: dx = 10 * (6 - 5) / 10 = 1, the rest 0
    reg = torch.zeros(1, 3, 4)
    reg[0, 0, 0] = 1.0
    out = ssd_loss(logits, reg, [dboxes], targets, matched)
    assert out["bbox_regression"].item() == pytest.approx(0.0, abs=1e-6)
    assert out["classification"].item() < 1e-6
    with pytest.raises(ValueError, match="cls_logits must be"):
        ssd_loss(logits[0], reg, [dboxes], targets, matched)


# ----------------------------------------------------------------------------- model
def test_backbone_shapes_and_validation():
    net = SSDBackbone(width=4, levels=3)
    feats = net(torch.zeros(2, 3, 64, 64))
    assert [tuple(f.shape) for f in feats.values()] == [(2, 16, 8, 8), (2, 32, 4, 4), (2, 32, 2, 2)]
    assert net.out_channels == [16, 32, 32]
    with pytest.raises(ValueError, match="width"):
        SSDBackbone(width=0)


@pytest.mark.parametrize("levels", [1, 2, 4])
def test_backbone_first_stride_4(levels):
    net = SSDBackbone(width=4, levels=levels, first_stride=4)
    feats = list(net(torch.zeros(1, 3, 64, 64)).values())
    # strides 4, 8, 16, ...: 64 / 4 = 16 cells, then halved; channels 2w, 4w, then 8w
    assert [f.shape[-1] for f in feats] == [16 // 2**k for k in range(levels)]
    assert net.out_channels == [8, 16, 32, 32][:levels]
    assert [f.shape[1] for f in feats] == net.out_channels
    # the stride-8 backbone computes the same trunk: one level fewer stage at the end
    assert len(net.stages) == levels and len(SSDBackbone(4, levels).stages) == levels + 1


@pytest.mark.parametrize("bad", [2, 16, True, "4"])
def test_backbone_rejects_bad_first_stride(bad):
    with pytest.raises(ValueError, match="first_stride must be 4 or 8"):
        SSDBackbone(width=4, levels=2, first_stride=bad)


def test_stride_4_level_matches_small_objects():
    # a 12 px square centred at (16, 16), between stride-8 cell centres (12 and 20): the
    # 12.8 px square (s_min = 0.1) at (20, 20) overlaps it by 8.4^2 / (144 + 12.8^2 - 8.4^2)
    # = 0.297, the other shapes do little better
    gt = torch.tensor([[10.0, 10.0, 22.0, 22.0]])
    stride8 = default_boxes([(16, 16)], (128, 128), [[2, 3]], [0.1, 0.6])
    square8 = torch.tensor([[13.6, 13.6, 26.4, 26.4]])
    assert box_iou(gt, square8).item() == pytest.approx(8.4**2 / (144 + 12.8**2 - 8.4**2))
    assert box_iou(gt, stride8).max() < 0.35
    # stride 4 has a centre at (18, 18), 2 px off; its 10.24 px square (s_min = 0.08) overlaps
    # it by 9.12^2 / (144 + 10.24^2 - 9.12^2) = 0.502
    stride4 = default_boxes([(32, 32)], (128, 128), [[2, 3]], [0.08, 0.6])
    best = box_iou(gt, stride4).max().item()
    assert best == pytest.approx(9.12**2 / (144 + 10.24**2 - 9.12**2), abs=1e-4)
    assert best >= 0.5


def test_build_ssd_trains_and_predicts():
    torch.manual_seed(0)
    model = build_ssd(3, image_size=64, width=4, levels=3)
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [
        {"boxes": torch.tensor([[5.0, 5, 30, 30]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[10.0, 20, 60, 50], [0, 0, 12, 12]]),
            "labels": torch.tensor([2, 1]),
        },
    ]
    losses = model.train()(images, targets)
    assert set(losses) == {"bbox_regression", "classification"}
    sum(losses.values()).backward()
    out = model.eval()(images)
    assert len(out) == 2 and out[0]["boxes"].shape[1] == 4
    n_anchors = 8 * 8 * 6 + 4 * 4 * 6 + 2 * 2 * 6
    assert model.anchor_generator.num_anchors_per_location() == [6, 6, 6]
    assert (
        sum(
            model.anchor_generator.num_anchors_per_location()[k] * s * s
            for k, s in enumerate((8, 4, 2))
        )
        == n_anchors
    )
    with pytest.raises(ValueError, match="aspect_ratios must have one list per level"):
        build_ssd(3, levels=3, aspect_ratios=[[2]])
    with pytest.raises(ValueError, match="first_stride"):
        build_ssd(3, levels=3, first_stride=2)
    with pytest.raises(ValueError, match="num_classes"):
        build_ssd(1)


def test_build_ssd_first_stride_4_default_boxes_equal_the_package():
    torch.manual_seed(0)
    model = build_ssd(3, image_size=64, width=4, levels=3, s_min=0.1, s_max=0.5, first_stride=4)
    images = [torch.rand(3, 64, 64)]
    batch, _ = model.eval().transform(images)
    feats = list(model.backbone(batch.tensors).values())
    got = model.anchor_generator(batch, feats)[0]
    grids = [(16, 16), (8, 8), (4, 4)]  # 64 px at strides 4, 8, 16
    expected = default_boxes(grids, (64, 64), [[2, 3]] * 3, default_box_scales(3, 0.1, 0.5))
    assert len(got) == (16 * 16 + 8 * 8 + 4 * 4) * 6
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)
    assert len(model(images)) == 1


def test_recipe_builds_the_lesson_model():
    cfg = lesson_settings("08", "cpu")
    model = build_ssd_model(cfg)
    assert model.transform.fixed_size == (cfg.data.image_size, cfg.data.image_size)
    assert model.anchor_generator.scales == pytest.approx(
        default_box_scales(cfg.levels, cfg.s_min, cfg.s_max)
    )
    assert model.head.classification_head.num_columns == len(CLASS_NAMES)
    assert model.backbone.first_stride == cfg.first_stride
    side = cfg.data.image_size
    feats = model.backbone(torch.zeros(1, 3, side, side))
    assert [f.shape[-1] for f in feats.values()] == [
        side // (cfg.first_stride * 2**k) for k in range(cfg.levels)
    ]
    assert BENCHMARKS["ssd"][0] == "08"
    assert 0 < cfg.train.map50_floor <= 1
