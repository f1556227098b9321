"""Tests for dlcv_utils.models.rcnn (lesson 04): proposal labelling, sampling, warping, loss, models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dlcv_utils.models.rcnn import (
    RCNN,
    FastRCNN,
    ProposalCache,
    assign_proposals,
    context_pad,
    sample_rois,
    small_backbone,
    warp_regions,
)
from dlcv_utils.ops.box_coder import encode
from dlcv_utils.ops.losses import fast_rcnn_loss


def fixed_proposals(image):
    return np.array(
        [[0, 0, 16, 16], [4, 4, 20, 28], [10, 2, 30, 12], [2, 18, 14, 30]], dtype=np.float32
    )


def tiny(cls, **kw):
    return cls(3, ProposalCache(fixed_proposals), channels=(4, 4, 4), hidden=8, **kw)


# ----------------------------------------------------------------------------- proposals
def test_proposal_cache_computes_once_per_image():
    calls = []

    def fn(im):
        calls.append(im.shape)
        return np.array([[0, 0, 2, 2], [1, 1, 3, 3], [0, 1, 2, 3]])

    cache = ProposalCache(fn, max_proposals=2)
    a, b = torch.zeros(3, 6, 5), torch.ones(3, 6, 5)
    assert cache(a).shape == (2, 4)
    cache(a)
    cache(b)
    assert calls == [(6, 5, 3), (6, 5, 3)] and cache.computed == 2 and len(cache) == 2
    assert cache(a).dtype == torch.float32


def test_proposal_cache_selective_search():
    img = torch.zeros(3, 40, 60)
    img[0, 5:20, 5:25] = 1.0
    img[2, 22:35, 30:55] = 1.0
    cache = ProposalCache(scale=50, min_size=10)
    boxes = cache(img).tolist()
    assert [5, 5, 25, 20] in boxes and [30, 22, 55, 35] in boxes
    assert cache.seconds > 0


def test_proposal_cache_guards():
    with pytest.raises(TypeError, match="proposal_fn must be callable"):
        ProposalCache(3)
    with pytest.raises(ValueError, match="selective search options"):
        ProposalCache(fixed_proposals, scale=10)
    with pytest.raises(ValueError, match="max_proposals must be"):
        ProposalCache(max_proposals=0)
    with pytest.raises(ValueError, match="image must be a 3 x H x W tensor"):
        ProposalCache(fixed_proposals)(torch.zeros(1, 4, 4))


# ----------------------------------------------------------------------------- labelling
def test_assign_proposals_hand_computed():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0]])
    props = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # IoU 1 with object 0
            [0.0, 0.0, 10.0, 6.0],  # 60 / 100 = 0.6 with object 0
            [0.0, 0.0, 10.0, 4.0],  # 40 / 100 = 0.4
            [20.0, 20.0, 40.0, 30.0],  # 200 / 400 = 0.5 with object 1
            [50.0, 50.0, 60.0, 60.0],  # 0
        ]
    )
    labels, matched, iou = assign_proposals(props, gt, torch.tensor([2, 5]))
    torch.testing.assert_close(iou, torch.tensor([1.0, 60 / 100, 40 / 100, 200 / 400, 0.0]))
    assert labels.tolist() == [2, 2, 0, 5, 0]
    torch.testing.assert_close(matched[3], gt[1])
    # SVM-style: background only below 0.3, 0.4 ignored
    labels, _, _ = assign_proposals(props, gt, torch.tensor([2, 5]), 0.5, (0.0, 0.3))
    assert labels.tolist() == [2, 2, -1, 5, 0]
    # Fast R-CNN style [0.1, 0.5): IoU 0 is ignored
    labels, _, _ = assign_proposals(props, gt, torch.tensor([2, 5]), 0.5, (0.1, 0.5))
    assert labels.tolist() == [2, 2, 0, 5, -1]


def test_assign_proposals_no_objects():
    props = torch.tensor([[0.0, 0.0, 5.0, 5.0]])
    labels, matched, iou = assign_proposals(
        props, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)
    )
    assert labels.tolist() == [0] and iou.tolist() == [0.0] and matched.shape == (1, 4)
    labels, _, _ = assign_proposals(
        props, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), 0.5, (0.1, 0.5)
    )
    assert labels.tolist() == [-1]


def test_assign_proposals_guards():
    p = torch.zeros(1, 4)
    with pytest.raises(ValueError, match="bg_iou_thresh"):
        assign_proposals(p, p, torch.tensor([1]), 0.5, (0.3, 0.6))
    with pytest.raises(ValueError, match="differ in length"):
        assign_proposals(p, p, torch.tensor([1, 2]))


@pytest.mark.parametrize("n_pos,n_neg", [(40, 200), (3, 200), (40, 5), (0, 0)])
def test_sample_rois_counts(n_pos, n_neg):
    labels = torch.cat(
        [
            torch.ones(n_pos, dtype=torch.int64),
            torch.zeros(n_neg, dtype=torch.int64),
            -torch.ones(7, dtype=torch.int64),
        ]
    )
    idx = sample_rois(labels, 64, 0.25, torch.Generator().manual_seed(0))
    pos = int((labels[idx] > 0).sum())
    assert pos == min(16, n_pos)
    assert len(idx) == min(64, pos + n_neg)
    assert (labels[idx] >= 0).all() and len(set(idx.tolist())) == len(idx)


def test_sample_rois_guards():
    with pytest.raises(ValueError, match="batch_size_per_image must be"):
        sample_rois(torch.zeros(3, dtype=torch.int64), 0)
    with pytest.raises(ValueError, match="positive_fraction must be"):
        sample_rois(torch.zeros(3, dtype=torch.int64), 4, 1.5)


# ----------------------------------------------------------------------------- warping
def test_context_pad():
    b = torch.tensor([[10.0, 10.0, 30.0, 20.0]])
    # 2 * 4 of 28 pixels are context: scale 28 / 20 about the centre (20, 15)
    s = 28 / (28 - 2 * 4)
    torch.testing.assert_close(
        context_pad(b, 28, 4), torch.tensor([[20 - 10 * s, 15 - 5 * s, 20 + 10 * s, 15 + 5 * s]])
    )
    torch.testing.assert_close(context_pad(b, 28, 0), b)
    with pytest.raises(ValueError, match="padding must be"):
        context_pad(b, 28, 14)


def test_warp_regions_identity_and_shape():
    img = torch.rand(3, 16, 16)
    # a box covering exactly an 8 x 8 block warped to 8 x 8 reproduces it
    out = warp_regions([img], [torch.tensor([[4.0, 2.0, 12.0, 10.0]])], 8)
    torch.testing.assert_close(out[0], img[:, 2:10, 4:12])
    two = warp_regions(
        torch.stack([img, img]), [torch.zeros(0, 4), torch.tensor([[0.0, 0.0, 5.0, 9.0]] * 3)], 6, 1
    )
    assert two.shape == (3, 3, 6, 6)


def test_small_backbone_stride():
    assert small_backbone((2, 3, 5))(torch.zeros(2, 3, 32, 24)).shape == (2, 5, 8, 6)


# ----------------------------------------------------------------------------- loss
def naive_loss(logits, deltas, labels, targets):
    cls = -sum(F.log_softmax(logits[i], 0)[labels[i]] for i in range(len(labels))) / len(labels)
    box = 0.0
    for i in range(len(labels)):
        if labels[i] > 0:
            for j in range(4):
                d = abs(float(deltas[i, 4 * labels[i] + j] - targets[i, j]))
                box += 0.5 * d * d if d < 1 else d - 0.5
    return cls, box / len(labels)


def test_fast_rcnn_loss_against_naive():
    gen = torch.Generator().manual_seed(0)
    logits, deltas = torch.randn(20, 4, generator=gen), torch.randn(20, 16, generator=gen) * 2
    labels, targets = (
        torch.randint(0, 4, (20,), generator=gen),
        torch.randn(20, 4, generator=gen) * 2,
    )
    cls, box = fast_rcnn_loss(logits, deltas, labels, targets)
    ncls, nbox = naive_loss(logits, deltas, labels, targets)
    torch.testing.assert_close(cls, ncls)
    assert math.isclose(box.item(), nbox, rel_tol=1e-5)


def test_fast_rcnn_loss_no_positives_has_no_box_loss():
    cls, box = fast_rcnn_loss(
        torch.zeros(3, 2), torch.ones(3, 8), torch.zeros(3, dtype=torch.int64), torch.zeros(3, 4)
    )
    assert box.item() == 0.0 and math.isclose(cls.item(), math.log(2), rel_tol=1e-6)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize(
    "cls,kw", [(RCNN, {"crop_size": 12}), (FastRCNN, {}), (FastRCNN, {"roi_op": "align"})]
)
def test_models_train_and_eval_interface(cls, kw):
    torch.manual_seed(0)
    model = tiny(cls, **kw)
    images = [torch.rand(3, 32, 32), torch.rand(3, 32, 32)]
    targets = [
        {"boxes": torch.tensor([[2.0, 2.0, 14.0, 15.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
    ]
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    sum(losses.values()).backward()
    assert model.cls_score.weight.grad is not None
    model.eval()
    model.score_thresh = 0.0
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    for o in out:
        assert o["boxes"].shape[1] == 4 and len(o["boxes"]) == len(o["scores"]) == len(o["labels"])
        assert ((o["labels"] >= 1) & (o["labels"] <= 2)).all()
        assert (o["boxes"] >= 0).all() and (o["boxes"] <= 32).all()  # clipped to the image
    with pytest.raises(ValueError, match="targets must be given"):
        model.train()(images)


def test_postprocess_applies_class_deltas():
    """A model whose head always says 'class 2, shift by +0.1 width' moves the proposal accordingly."""
    model = tiny(FastRCNN).eval()
    with torch.no_grad():
        for layer in (model.cls_score, model.bbox_pred):
            layer.weight.zero_()
            layer.bias.zero_()
        model.cls_score.bias[2] = 10.0
        model.bbox_pred.bias[4 * 2] = 0.1 * 10  # dx of class 2, times the weight wx = 10
        out = model([torch.rand(3, 32, 32)])[0]
    props = torch.from_numpy(fixed_proposals(None))
    expected = props + torch.tensor([0.1, 0.0, 0.1, 0.0]) * (props[:, 2:3] - props[:, 0:1])
    # kept after NMS: each shifted proposal (they overlap < 0.5), clipped to the image, class 2
    assert (out["labels"] == 2).all()
    got = sorted(map(tuple, out["boxes"].tolist()))
    want = sorted(map(tuple, expected.clamp(0, 32).tolist()))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_training_targets_are_encoded_gt():
    """The regression target of a foreground RoI decodes to its ground-truth box."""
    gt = torch.tensor([[2.0, 2.0, 14.0, 15.0]])
    props = torch.from_numpy(fixed_proposals(None))
    labels, matched, _ = assign_proposals(props, gt, torch.tensor([1]))
    fg = labels > 0
    assert fg.any()
    from dlcv_utils.ops.box_coder import decode

    torch.testing.assert_close(
        decode(encode(matched[fg], props[fg], (10, 10, 5, 5)), props[fg], (10, 10, 5, 5)),
        gt.expand(int(fg.sum()), 4),
    )


def test_model_guards():
    with pytest.raises(ValueError, match="num_classes must be"):
        FastRCNN(1, ProposalCache(fixed_proposals))
    with pytest.raises(TypeError, match="proposals must be callable"):
        FastRCNN(3, None)
    with pytest.raises(ValueError, match="roi_op must be"):
        FastRCNN(3, ProposalCache(fixed_proposals), roi_op="max")
    with pytest.raises(ValueError, match="crop_size must be a multiple of 4"):
        RCNN(3, ProposalCache(fixed_proposals), crop_size=30)
    with pytest.raises(ValueError, match="images must all have the same shape"):
        tiny(FastRCNN).eval()([torch.rand(3, 32, 32), torch.rand(3, 16, 32)])
