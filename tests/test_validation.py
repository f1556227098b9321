"""dlcv_utils.validation: one rule per kind of argument, and every module follows it."""

import math

import numpy as np
import pytest
import torch

from dlcv_utils import validation as v
from dlcv_utils.metrics.matching import match_detections
from dlcv_utils.metrics.voc import evaluate_voc
from dlcv_utils.models.rcnn import assign_proposals
from dlcv_utils.ops.anchors import assign_rpn_targets
from dlcv_utils.ops.nms import batched_nms, nms, soft_nms

IOU_RULE = r"must be in \[0, 1\] \(IoU lies in \[0, 1\]\)"
BOX = torch.tensor([[0.0, 0.0, 10.0, 10.0]])


# ----------------------------------------------------------------------------- the checks
def test_check_int():
    assert v.check_int(np.int64(3), "n", minimum=1) == 3
    with pytest.raises(TypeError, match="n must be an int, got bool True"):
        v.check_int(True, "n")
    with pytest.raises(TypeError, match="n must be an int, got float 2.0"):
        v.check_int(2.0, "n")
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        v.check_int(0, "n", minimum=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(low=0.0, low_open=True), "x must be > 0, got -1"),
        (dict(low=0.0), "x must be >= 0, got -1"),
        (dict(high=-2.0), "x must be <= -2, got -1"),
        (dict(low=0.0, high=1.0, high_open=True), r"x must be in \[0, 1\), got -1"),
    ],
)
def test_check_number_bounds_in_the_message(kwargs, match):
    with pytest.raises(ValueError, match=match):
        v.check_number(-1, "x", **kwargs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_number_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="x must be a finite number"):
        v.check_number(bad, "x")


def test_check_number_types():
    assert v.check_number(np.float32(0.5), "x") == 0.5
    for bad in (True, "0.5", None, torch.tensor(0.5)):
        with pytest.raises(TypeError, match="x must be a number"):
            v.check_number(bad, "x")


def test_iou_threshold_edges_are_inclusive():
    assert v.check_iou_threshold(0) == 0.0 and v.check_iou_threshold(1) == 1.0
    for bad in (-1e-9, 1 + 1e-9):
        with pytest.raises(ValueError, match=IOU_RULE):
            v.check_iou_threshold(bad)


def test_check_choice_suggests():
    with pytest.raises(
        ValueError, match=r"one of \('cosine', 'step'\), got 'cosin' \(did you mean 'cosine'\?\)"
    ):
        v.check_choice("cosin", "schedule", ("cosine", "step"))
    with pytest.raises(ValueError, match=r"got 7$"):
        v.check_choice(7, "stride", (4, 8))


def test_check_pair_and_positive_numbers():
    assert v.check_pair(np.int64(3), "s") == (3, 3)
    with pytest.raises(TypeError, match=r"w must be an int or a pair of ints \(width, height\)"):
        v.check_pair((1, 2, 3), "w", order="(width, height)")
    with pytest.raises(TypeError, match="w must hold ints"):
        v.check_pair((1, 2.5), "w")
    assert v.check_positive_numbers(2, "r") == (2.0,)
    with pytest.raises(ValueError, match="r must be a non-empty sequence of positive numbers"):
        v.check_positive_numbers((1, 0), "r")


# ----------------------------------------------------------------------------- one rule everywhere
@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan])
@pytest.mark.parametrize(
    "call",
    [
        lambda t: nms(BOX, torch.tensor([0.9]), t),
        lambda t: batched_nms(BOX, torch.tensor([0.9]), torch.tensor([1]), t),
        lambda t: soft_nms(BOX, torch.tensor([0.9]), iou_threshold=t, method="linear"),
        lambda t: match_detections(BOX.numpy(), np.array([0.9]), BOX.numpy(), iou_threshold=t),
        lambda t: evaluate_voc([], [], iou_threshold=t),
        lambda t: assign_proposals(BOX, BOX, torch.tensor([1]), fg_iou_thresh=t),
        lambda t: assign_rpn_targets(BOX, BOX, pos_iou=t),
    ],
    ids=[
        "nms",
        "batched_nms",
        "soft_nms",
        "match_detections",
        "evaluate_voc",
        "assign_proposals",
        "assign_rpn_targets",
    ],
)
def test_every_iou_threshold_follows_one_rule(call, bad):
    with pytest.raises(ValueError, match="must be (in \\[0, 1\\]|a finite number)"):
        call(bad)
