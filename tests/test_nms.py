"""Tests of dlcv_utils.ops.nms against a naive reference and against torchvision.ops."""

import math

import numpy as np
import pytest
import torch
import torchvision.ops as tv_ops
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.ops.nms import batched_nms, nms, soft_nms


def naive_nms(boxes, scores, iou_threshold):
    """Textbook greedy NMS: stable sort by score, suppress IoU > threshold."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    b = np.asarray(boxes)  # same dtype as the op under test: IoU == threshold cases depend on it
    iou = box_iou(b, b).astype(np.float64)
    keep = []
    for i in order:
        if all(iou[i, k] <= iou_threshold for k in keep):
            keep.append(i)
    return keep


def random_case(seed, n=None, low=0, ties=True):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(0, 80, (1,), generator=g)) if n is None else n
    xy = torch.randint(low, 60, (n, 2), generator=g).float()
    wh = torch.randint(1, 30, (n, 2), generator=g).float()
    boxes = torch.cat([xy, xy + wh], 1)
    scores = (
        torch.randint(0, 6, (n,), generator=g).float() / 5 if ties else torch.rand(n, generator=g)
    )
    labels = torch.randint(0, 4, (n,), generator=g)
    return boxes, scores, labels


class TestNms:
    def test_hand_computed(self):
        boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4], [50, 50, 60, 60]])
        scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
        # IoU(0,1) = 50/100 = 0.5 (kept at threshold 0.5: suppression is strict), IoU(0,2) = 0.4,
        # IoU(1,2) = 40/50 = 0.8 -> box 2 removed by box 1
        assert nms(boxes, scores, 0.5).tolist() == [0, 1, 3]
        assert nms(boxes, scores, 0.45).tolist() == [0, 2, 3]
        assert tv_ops.nms(boxes, scores, 0.5).tolist() == [0, 1, 3]

    def test_score_threshold_is_strict(self):
        boxes = torch.tensor([[0.0, 0, 1, 1], [5, 5, 6, 6], [8, 8, 9, 9]])
        assert nms(boxes, torch.tensor([0.5, 0.6, 0.4]), 0.5, score_threshold=0.5).tolist() == [1]

    def test_tie_rule_lower_index_first(self):
        boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]])
        scores = torch.tensor([0.5, 0.5, 0.5])
        assert nms(boxes, scores, 0.3).tolist() == [0] == tv_ops.nms(boxes, scores, 0.3).tolist()

    @pytest.mark.parametrize("seed", range(40))
    @pytest.mark.parametrize("threshold", [0.0, 1 / 3, 0.5, 0.7, 1.0])
    def test_matches_torchvision_and_naive(self, seed, threshold):
        boxes, scores, _ = random_case(seed, low=-30)
        ours = nms(boxes, scores, threshold)
        assert torch.equal(ours, tv_ops.nms(boxes, scores, threshold))
        if threshold >= 0:
            assert ours.tolist() == naive_nms(boxes, scores, threshold)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_dtypes_and_numpy(self, dtype):
        boxes, scores, _ = random_case(3, n=50, ties=False)
        boxes, scores = boxes.to(dtype), scores.to(dtype)
        ref = tv_ops.nms(boxes, scores, 0.4)
        assert torch.equal(nms(boxes, scores, 0.4), ref)
        out = nms(boxes.numpy(), scores.numpy(), 0.4)
        assert isinstance(out, np.ndarray) and out.dtype == np.int64
        np.testing.assert_array_equal(out, ref.numpy())

    def test_iou_exactly_at_threshold_float32(self):
        # IoU = 1/3 in float32 is 0.33333334 > 1/3 (double): torchvision suppresses, and so must we
        boxes = torch.tensor([[0.0, 0, 2, 1], [1, 0, 3, 1]])
        scores = torch.tensor([0.9, 0.8])
        assert nms(boxes, scores, 1 / 3).tolist() == tv_ops.nms(boxes, scores, 1 / 3).tolist()
        assert nms(boxes, scores, 0.5).tolist() == [0, 1]

    def test_empty(self):
        out = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
        assert out.shape == (0,) and out.dtype == torch.int64
        out = batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5)
        assert out.shape == (0,) and out.dtype == np.int64


class TestBatchedNms:
    @pytest.mark.parametrize("seed", range(40))
    def test_matches_torchvision(self, seed):
        boxes, scores, labels = random_case(seed)
        ours = batched_nms(boxes, scores, labels, 0.5)
        assert torch.equal(ours, tv_ops.batched_nms(boxes, scores, labels, 0.5))

    @pytest.mark.parametrize("seed", range(20))
    def test_negative_coordinates_are_class_aware(self, seed):
        boxes, scores, labels = random_case(seed, low=-80, ties=False)
        ours = batched_nms(boxes, scores, labels, 0.5)
        # per-class reference: torchvision's vanilla path (its public fast path mixes classes
        # when coordinates are negative, see the module docstring)
        ref = tv_ops.boxes._batched_nms_vanilla(boxes, scores, labels, 0.5)
        assert torch.equal(ours, ref)

    def test_negative_coordinates_trick_is_wrong(self):
        boxes = torch.tensor([[-10.0, -10, -5, -5], [-12, -12, -6, -6], [-10, -10, -5, -5]])
        scores = torch.tensor([0.9, 0.8, 0.7])
        labels = torch.tensor([0, 1, 1])
        assert batched_nms(boxes, scores, labels, 0.3).tolist() == [0, 1]
        per_class = [
            int(i)
            for c in (0, 1)
            for i in torch.nonzero(labels == c).flatten()[
                nms(boxes[labels == c], scores[labels == c], 0.3)
            ]
        ]
        assert sorted(per_class) == [0, 1]

    def test_more_than_1000_boxes(self):
        boxes, scores, labels = random_case(0, n=1500, ties=False)
        ours = batched_nms(boxes, scores, labels, 0.6)
        assert torch.equal(ours, tv_ops.batched_nms(boxes, scores, labels, 0.6))

    def test_score_threshold(self):
        boxes, scores, labels = random_case(1, n=40, ties=False)
        keep = batched_nms(boxes, scores, labels, 0.5, score_threshold=0.5)
        assert bool((scores[keep] > 0.5).all())
        sub = torch.nonzero(scores > 0.5).flatten()
        assert torch.equal(keep, sub[tv_ops.batched_nms(boxes[sub], scores[sub], labels[sub], 0.5)])


class TestSoftNms:
    def test_linear_hand_computed(self):
        boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 2]])
        keep, new = soft_nms(
            boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.3, method="linear"
        )
        # box 1: IoU 0.5 with box 0 -> 0.8 * 0.5 = 0.4
        # box 2: IoU 0.2 with box 0 (<= 0.3, unchanged 0.7), then selected before box 1
        assert keep.tolist() == [0, 2, 1]
        torch.testing.assert_close(new, torch.tensor([0.9, 0.7, 0.8 * (1 - 0.5) * (1 - 20 / 50)]))

    def test_gaussian_hand_computed(self):
        boxes = np.array([[0.0, 0, 10, 10], [0, 0, 10, 5]])
        keep, new = soft_nms(boxes, np.array([0.9, 0.8]), method="gaussian", sigma=0.5)
        np.testing.assert_allclose(new, [0.9, 0.8 * math.exp(-(0.5**2) / 0.5)])
        assert keep.tolist() == [0, 1]

    def test_score_threshold_drops(self):
        boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
        keep, _ = soft_nms(boxes, torch.tensor([0.9, 0.8]), method="linear", score_threshold=0.01)
        assert keep.tolist() == [0]  # IoU 1 -> score 0

    def test_disjoint_boxes_unchanged(self):
        keep, new = soft_nms(torch.tensor([[0.0, 0, 1, 1], [5, 5, 6, 6]]), torch.tensor([0.2, 0.3]))
        assert keep.tolist() == [1, 0] and new.tolist() == pytest.approx([0.3, 0.2])

    def test_bad_method(self):
        with pytest.raises(ValueError, match="method must be 'linear' or 'gaussian', got 'hard'"):
            soft_nms(np.zeros((1, 4)), np.zeros(1), method="hard")
        with pytest.raises(ValueError, match="sigma must be > 0"):
            soft_nms(np.zeros((1, 4)), np.zeros(1), method="gaussian", sigma=0)


class TestGuards:
    def test_mismatched_lengths(self):
        with pytest.raises(
            ValueError, match=r"scores must have shape \[3\] to match boxes, got \(2,\)"
        ):
            nms(torch.zeros(3, 4), torch.zeros(2), 0.5)
        with pytest.raises(ValueError, match=r"labels must have shape \[1\]"):
            batched_nms(torch.zeros(1, 4), torch.zeros(1), torch.zeros(2, dtype=torch.int64), 0.5)

    def test_nan_scores_and_boxes(self):
        with pytest.raises(ValueError, match="scores must be finite"):
            nms(torch.zeros(1, 4), torch.tensor([float("nan")]), 0.5)
        with pytest.raises(ValueError, match="boxes must be finite"):
            nms(torch.tensor([[0, 0, float("nan"), 1]]), torch.zeros(1), 0.5)

    def test_negative_width(self):
        with pytest.raises(ValueError, match="negative width or height"):
            nms(torch.tensor([[5.0, 0, 1, 1]]), torch.zeros(1), 0.5)

    def test_bad_threshold(self):
        with pytest.raises(TypeError, match="iou_threshold must be a number"):
            nms(torch.zeros(1, 4), torch.zeros(1), "0.5")
        with pytest.raises(ValueError, match="iou_threshold must be a finite number"):
            nms(torch.zeros(1, 4), torch.zeros(1), float("nan"))

    @pytest.mark.parametrize("threshold", [-0.1, 1.5])
    def test_iou_threshold_outside_0_1_is_rejected_everywhere(self, threshold):
        # one rule for an IoU threshold in every function (and the NMS widget): [0, 1]
        boxes, scores = torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([0.5])
        match = r"iou_threshold must be in \[0, 1\] \(IoU lies in \[0, 1\]\)"
        with pytest.raises(ValueError, match=match):
            nms(boxes, scores, threshold)
        with pytest.raises(ValueError, match=match):
            batched_nms(boxes, scores, torch.tensor([1]), threshold)
        with pytest.raises(ValueError, match=match):
            soft_nms(boxes, scores, iou_threshold=threshold, method="linear")

    def test_mixed_types(self):
        with pytest.raises(TypeError, match="both be numpy arrays or both torch tensors"):
            nms(np.zeros((1, 4)), torch.zeros(1), 0.5)
        with pytest.raises(TypeError, match="labels must be integers"):
            batched_nms(torch.zeros(1, 4), torch.zeros(1), torch.zeros(1), 0.5)


@st.composite
def nms_inputs(draw):
    n = draw(st.integers(0, 25))
    coords = st.integers(-20, 40)
    xy = np.array(
        draw(st.lists(st.tuples(coords, coords), min_size=n, max_size=n)), dtype=np.float32
    ).reshape(n, 2)
    wh = np.array(
        draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=n, max_size=n)),
        dtype=np.float32,
    ).reshape(n, 2)
    scores = (
        np.array(
            draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=np.float32
        ).reshape(n)
        / 4
    )
    thr = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    return np.concatenate([xy, xy + wh], 1), scores, thr


@settings(max_examples=200, deadline=None)
@given(nms_inputs())
def test_nms_invariants(case):
    boxes, scores, thr = case
    keep = nms(boxes, scores, thr)
    np.testing.assert_array_equal(
        keep, tv_ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()
    )
    assert len(set(keep.tolist())) == len(keep)
    assert np.all(np.diff(scores[keep]) <= 0)  # by decreasing score
    if len(keep) > 1:  # kept boxes never overlap above the threshold
        iou = box_iou(boxes[keep], boxes[keep])
        np.fill_diagonal(iou, 0)
        assert iou.max() <= thr
    # idempotent
    np.testing.assert_array_equal(keep[nms(boxes[keep], scores[keep], thr)], keep)
