"""Tests for dlcv_utils.ops.anchors: anchors, RPN target assignment and sampling vs torchvision."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from dlcv_utils.ops.anchors import (
    IGNORE,
    NEGATIVE,
    POSITIVE,
    assign_rpn_targets,
    base_anchors,
    generate_anchors,
    sample_rpn,
)
from dlcv_utils.ops.boxes import box_iou


def torchvision_anchors(feature_hw, stride, scales, ratios):
    h, w = feature_hw
    gen = AnchorGenerator(sizes=(tuple(scales),), aspect_ratios=(tuple(ratios),))
    images = ImageList(torch.zeros(1, 3, h * stride, w * stride), [(h * stride, w * stride)])
    return gen(images, [torch.zeros(1, 8, h, w)])[0]


# ----------------------------------------------------------------------------- anchors
def test_base_anchors_by_hand():
    # scale 32, ratio h/w = 2: w = 32 / sqrt(2), h = 32 * sqrt(2), rounded after halving
    a = base_anchors(scales=(32,), ratios=(2.0,))
    w, h = 32 / math.sqrt(2), 32 * math.sqrt(2)
    assert a.tolist() == [[round(-w / 2), round(-h / 2), round(w / 2), round(h / 2)]]
    # area is (about) preserved for every ratio
    a = base_anchors(scales=(64,), ratios=(0.5, 1.0, 2.0))
    areas = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    assert torch.allclose(areas, torch.full((3,), 64.0 * 64), rtol=0.02)


def test_three_by_three_per_location():
    a = generate_anchors((4, 5), 8, scales=(16, 32, 64))
    assert a.shape == (4 * 5 * 9, 4)
    # the 9 anchors of cell (1, 2) are the base anchors shifted by (2 * 8, 1 * 8)
    cell = a.reshape(4, 5, 9, 4)[1, 2]
    torch.testing.assert_close(cell, base_anchors((16, 32, 64)) + torch.tensor([16.0, 8, 16, 8]))


@pytest.mark.parametrize(
    ("feature_hw", "stride", "scales", "ratios"),
    [
        ((4, 4), 16, (32, 64, 128), (0.5, 1.0, 2.0)),
        ((3, 7), 8, (16, 24, 40), (0.5, 1.0, 2.0)),
        ((1, 1), 32, (100,), (1.0,)),
        ((5, 2), 4, (10, 20), (0.25, 1.0, 3.0, 0.7)),
    ],
)
def test_matches_torchvision_anchor_generator(feature_hw, stride, scales, ratios):
    ours = generate_anchors(feature_hw, stride, scales, ratios)
    theirs = torchvision_anchors(feature_hw, stride, scales, ratios)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_rectangular_stride():
    a = generate_anchors((2, 2), (8, 4), scales=(4,), ratios=(1.0,))
    assert a.tolist() == [
        [-2, -2, 2, 2],
        [2, -2, 6, 2],
        [-2, 6, 2, 10],
        [2, 6, 6, 10],
    ]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype(dtype):
    assert generate_anchors(2, 4, dtype=dtype).dtype == dtype


def test_anchor_validation():
    with pytest.raises(ValueError, match="feature_size must hold ints >= 1"):
        generate_anchors((0, 3), 8)
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        generate_anchors(3, "8")
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        generate_anchors(3, True)
    with pytest.raises(ValueError, match="scales must be a non-empty sequence of positive"):
        generate_anchors(3, 8, scales=(32, -1))
    with pytest.raises(ValueError, match="ratios must be a non-empty sequence of positive"):
        generate_anchors(3, 8, ratios=())
    with pytest.raises(TypeError, match=r"ratios\[0\] must be a number, got str"):
        generate_anchors(3, 8, ratios=("a",))


# ----------------------------------------------------------------------------- assignment
def naive_assign(anchors, gt, pos_iou=0.7, neg_iou=0.3, allow_low_quality=True):
    """Loop version of the rule, written straight from the paper."""
    labels = []
    iou = box_iou(gt, anchors)
    for j in range(anchors.shape[0]):
        best = float(iou[:, j].max())
        labels.append(POSITIVE if best >= pos_iou else NEGATIVE if best < neg_iou else IGNORE)
    if allow_low_quality:
        for i in range(gt.shape[0]):
            top = float(iou[i].max())
            for j in range(anchors.shape[0]):
                if float(iou[i, j]) == top:
                    labels[j] = POSITIVE
    return torch.tensor(labels)


def torchvision_labels(anchors, gt, pos_iou=0.7, neg_iou=0.3, allow_low_quality=True):
    matcher = det_utils.Matcher(pos_iou, neg_iou, allow_low_quality_matches=allow_low_quality)
    m = matcher(box_iou(gt, anchors))
    labels = torch.where(m >= 0, POSITIVE, torch.where(m == -1, NEGATIVE, IGNORE))
    return labels, m


def test_assign_by_hand():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    anchors = torch.tensor(
        [
            [0.0, 0, 10, 10],  # IoU 1 -> positive
            [0.0, 0, 10, 5],  # IoU 0.5 -> ignored
            [0.0, 0, 10, 2],  # IoU 0.2 -> negative
            [50.0, 50, 60, 60],  # IoU 0 -> negative
        ]
    )
    labels, matched = assign_rpn_targets(anchors, gt)
    assert labels.tolist() == [POSITIVE, IGNORE, NEGATIVE, NEGATIVE]
    assert matched.tolist() == [0, 0, 0, 0]


def test_low_quality_best_anchor_is_kept():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    anchors = torch.tensor([[0.0, 0, 10, 5], [0.0, 0, 10, 2]])  # best IoU is only 0.5
    labels, _ = assign_rpn_targets(anchors, gt)
    assert labels.tolist() == [POSITIVE, NEGATIVE]
    labels, _ = assign_rpn_targets(anchors, gt, allow_low_quality=False)
    assert labels.tolist() == [IGNORE, NEGATIVE]


def test_no_ground_truth_all_negative():
    labels, matched = assign_rpn_targets(generate_anchors(2, 8), torch.zeros(0, 4))
    assert (labels == NEGATIVE).all() and (matched == -1).all()


def random_boxes(g, n, size=64.0):
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 2 + 2
    return torch.cat([xy, xy + wh], dim=1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_gt=st.integers(1, 6), low_quality=st.booleans())
def test_assign_matches_torchvision_matcher_and_naive(seed, n_gt, low_quality):
    g = torch.Generator().manual_seed(seed)
    anchors = generate_anchors((6, 6), 8, scales=(8, 16, 32))
    gt = random_boxes(g, n_gt)
    labels, matched = assign_rpn_targets(anchors, gt, allow_low_quality=low_quality)
    want, m = torchvision_labels(anchors, gt, allow_low_quality=low_quality)
    assert torch.equal(labels, want)
    assert torch.equal(labels, naive_assign(anchors, gt, allow_low_quality=low_quality))
    pos = labels == POSITIVE
    assert torch.equal(matched[pos], m[pos])


def test_every_gt_gets_an_anchor():
    g = torch.Generator().manual_seed(3)
    anchors = generate_anchors((8, 8), 8, scales=(16, 32, 64))
    gt = random_boxes(g, 5)
    labels, matched = assign_rpn_targets(anchors, gt)
    assert set(matched[labels == POSITIVE].tolist()) == set(range(5))


def test_assign_validation():
    a = generate_anchors(2, 8)
    with pytest.raises(ValueError, match=r"need 0 <= neg_iou <= pos_iou <= 1"):
        assign_rpn_targets(a, a[:1], pos_iou=0.3, neg_iou=0.7)
    with pytest.raises(ValueError, match=r"gt_boxes must have shape \[N, 4\], got \(4,\)"):
        assign_rpn_targets(a, a[0])
    with pytest.raises(TypeError, match=r"anchors must be a torch\.Tensor, got list"):
        assign_rpn_targets([[0, 0, 1, 1]], a)


# ----------------------------------------------------------------------------- sampling
@pytest.mark.parametrize(("n_pos", "n_neg"), [(10, 1000), (300, 1000), (0, 50), (5, 20)])
def test_sample_counts(n_pos, n_neg):
    labels = torch.cat([torch.ones(n_pos), torch.zeros(n_neg), -torch.ones(30)]).long()
    pos, neg = sample_rpn(labels, generator=torch.Generator().manual_seed(0))
    want_pos = min(n_pos, 128)
    assert int(pos.sum()) == want_pos
    assert int(neg.sum()) == min(n_neg, 256 - want_pos)
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    assert not (pos & neg).any()


def test_sample_matches_torchvision_sampler():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(-1, 2, (2000,), generator=g)
    labels[torch.randperm(2000, generator=g)[:1900]] = 0  # few positives, as in real images
    sampler = det_utils.BalancedPositiveNegativeSampler(256, 0.5)
    torch.manual_seed(42)
    (tv_pos,), (tv_neg,) = sampler([labels])
    torch.manual_seed(42)
    pos, neg = sample_rpn(labels)
    assert torch.equal(pos, tv_pos.bool())
    assert torch.equal(neg, tv_neg.bool())


def test_sample_generator_is_repeatable():
    labels = torch.cat([torch.ones(200), torch.zeros(500)]).long()
    a = sample_rpn(labels, generator=torch.Generator().manual_seed(5))
    b = sample_rpn(labels, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_sample_validation():
    with pytest.raises(ValueError, match="labels must be a 1-D tensor"):
        sample_rpn(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        sample_rpn(torch.zeros(3), batch_size=0)
    with pytest.raises(ValueError, match=r"positive_fraction must be in \[0, 1\], got 1.5"):
        sample_rpn(torch.zeros(3), positive_fraction=1.5)
