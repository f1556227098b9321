"""Tests of dlcv_utils.ops.boxes: hand-computed values, torchvision agreement, dtypes, guards."""

import numpy as np
import pytest
import torch
import torchvision.ops as tv_ops
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcv_utils.ops.boxes import (
    BOX_FORMATS,
    box_area,
    box_convert,
    box_inter_union,
    box_iou,
    generalized_box_iou,
)


def random_boxes(n, seed=0, low=-50, high=200, dtype=torch.float32):
    """Random xyxy boxes that respect x1 <= x2, y1 <= y2 by construction (zero sizes included)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.randint(low, high, (n, 2), generator=g)
    wh = torch.randint(0, 60, (n, 2), generator=g)
    return torch.cat([xy, xy + wh], 1).to(dtype)


def naive_iou(a, b):
    """Per-pair loop, the textbook definition."""
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


class TestBoxIou:
    def test_hand_computed(self):
        a = np.array([[0, 0, 10, 10]])
        b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [10, 0, 20, 10], [0, 0, 5, 10]])
        expected = [[25 / (100 + 100 - 25), 1.0, 0.0, 50 / 100]]
        np.testing.assert_allclose(box_iou(a, b), expected)

    def test_inter_union(self):
        inter, union = box_inter_union(np.array([[0, 0, 4, 2]]), np.array([[2, 0, 6, 2]]))
        assert inter[0, 0] == 2 * 2 and union[0, 0] == 8 + 8 - 4

    @pytest.mark.parametrize(
        "dtype",
        [torch.float16, torch.float32, torch.float64, torch.int16, torch.int32, torch.int64],
    )
    def test_matches_torchvision_dtypes(self, dtype):
        a = random_boxes(30, seed=1, low=0, high=100).to(dtype)
        b = random_boxes(20, seed=2, low=0, high=100).to(dtype)
        ours = box_iou(a, b)
        ref = torch.nan_to_num(tv_ops.box_iou(a, b), nan=0.0)
        torch.testing.assert_close(ours, ref)

    def test_cartesian_against_naive_loop(self):
        a = random_boxes(25, seed=3, dtype=torch.float64)
        b = random_boxes(17, seed=4, dtype=torch.float64)
        np.testing.assert_allclose(
            box_iou(a.numpy(), b.numpy()), naive_iou(a.numpy(), b.numpy()), rtol=1e-12
        )

    def test_int16_large_coordinates_do_not_overflow(self):
        a = torch.tensor([[0, 0, 30000, 30000]], dtype=torch.int16)
        b = torch.tensor([[0, 0, 15000, 30000]], dtype=torch.int16)
        # 15000*30000 = 4.5e8 overflows int16 (and int32 for the union of bigger boxes)
        torch.testing.assert_close(box_iou(a, b), torch.tensor([[0.5]]))
        assert box_area(np.array([[0, 0, 60000, 60000]], dtype=np.int32))[0] == 3.6e9

    def test_zero_area_gives_zero_not_nan(self):
        a = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
        assert box_iou(a, a).item() == 0.0
        assert torch.isnan(tv_ops.box_iou(a, a)).item()  # the library we improve on
        assert generalized_box_iou(a, a).item() == 0.0

    def test_type_preserved(self):
        assert isinstance(box_iou(np.zeros((1, 4)), np.zeros((2, 4))), np.ndarray)
        assert isinstance(box_iou(torch.zeros(1, 4), torch.zeros(2, 4)), torch.Tensor)
        assert (
            box_iou(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32)).dtype == np.float32
        )

    @pytest.mark.parametrize("n,m", [(0, 3), (3, 0), (0, 0)])
    def test_empty(self, n, m):
        out = box_iou(torch.zeros(n, 4), torch.zeros(m, 4))
        assert out.shape == (n, m) and out.dtype == torch.float32
        out = box_iou(np.zeros((n, 4)), np.zeros((m, 4)))
        assert out.shape == (n, m) and out.dtype == np.float64

    def test_gradients_flow(self):
        a = torch.tensor([[0.0, 0.0, 2.0, 2.0]], requires_grad=True)
        box_iou(a, torch.tensor([[1.0, 1.0, 3.0, 3.0]])).sum().backward()
        assert a.grad is not None and torch.isfinite(a.grad).all()


class TestGiou:
    def test_hand_computed_disjoint(self):
        # enclosing box 30x10 = 300, union 200: 0 - (300 - 200) / 300
        out = generalized_box_iou(np.array([[0, 0, 10, 10]]), np.array([[20, 0, 30, 10]]))
        np.testing.assert_allclose(out, [[-(300 - 200) / 300]])

    def test_matches_torchvision(self):
        a, b = random_boxes(20, seed=5, low=0), random_boxes(15, seed=6, low=0)
        a[:, 2:] += 1  # torchvision is NaN on degenerate pairs
        b[:, 2:] += 1
        torch.testing.assert_close(generalized_box_iou(a, b), tv_ops.generalized_box_iou(a, b))


class TestBoxConvert:
    @pytest.mark.parametrize("in_fmt", BOX_FORMATS)
    @pytest.mark.parametrize("out_fmt", BOX_FORMATS)
    def test_round_trip(self, in_fmt, out_fmt):
        xyxy = random_boxes(10, seed=7, low=0, high=100, dtype=torch.float64)
        size = (200, 160)
        src = box_convert(xyxy, "xyxy", in_fmt, image_size=size)
        there = box_convert(src, in_fmt, out_fmt, image_size=size)
        back = box_convert(there, out_fmt, "xyxy", image_size=size)
        torch.testing.assert_close(back, xyxy)

    @pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
    def test_matches_torchvision(self, fmt):
        boxes = random_boxes(10, seed=8, dtype=torch.float64)
        torch.testing.assert_close(
            box_convert(boxes, "xyxy", fmt), tv_ops.box_convert(boxes, "xyxy", fmt)
        )

    def test_hand_computed(self):
        out = box_convert(np.array([[10, 20, 30, 60]]), "xyxy", "xywh")
        np.testing.assert_array_equal(out, [[10, 20, 30 - 10, 60 - 20]])
        out = box_convert(np.array([[100, 50, 40, 20]]), "cxcywh", "xywhn", image_size=(200, 100))
        np.testing.assert_allclose(out, [[80 / 200, 40 / 100, 40 / 200, 20 / 100]])

    def test_empty(self):
        assert box_convert(torch.zeros(0, 4), "xyxy", "cxcywh").shape == (0, 4)


class TestGuards:
    def test_wrong_shape(self):
        with pytest.raises(ValueError, match=r"boxes1 must have shape \[N, 4\], got \(3, 5\)"):
            box_iou(np.zeros((3, 5)), np.zeros((1, 4)))
        with pytest.raises(ValueError, match=r"boxes must have shape \[N, 4\], got \(4,\)"):
            box_area(np.zeros(4))

    def test_nan_and_inf(self):
        with pytest.raises(ValueError, match="boxes2 must be finite"):
            box_iou(np.zeros((1, 4)), np.array([[0, 0, np.nan, 1]]))
        with pytest.raises(ValueError, match="boxes must be finite"):
            box_convert(torch.tensor([[0, 0, float("inf"), 1]]), "xyxy", "xywh")

    def test_negative_width(self):
        with pytest.raises(
            ValueError, match=r"boxes1 must be xyxy .* box 1 is \[5.0, 0.0, 2.0, 1.0\]"
        ):
            box_iou(np.array([[0, 0, 1, 1], [5, 0, 2, 1]]), np.zeros((1, 4)))
        with pytest.raises(ValueError, match="must have w, h >= 0"):
            box_convert(np.array([[0, 0, -1, 1]]), "xywh", "xyxy")

    def test_unknown_format(self):
        with pytest.raises(ValueError, match="in_fmt must be one of"):
            box_convert(np.zeros((1, 4)), "xyzw", "xyxy")
        with pytest.raises(ValueError, match="out_fmt must be one of"):
            box_convert(np.zeros((1, 4)), "xyxy", "yolo")

    def test_missing_or_bad_image_size(self):
        with pytest.raises(ValueError, match="image_size=.* is required"):
            box_convert(np.zeros((1, 4)), "xyxy", "cxcywhn")
        with pytest.raises(ValueError, match="image_size must be two positive numbers"):
            box_convert(np.zeros((1, 4)), "xyxyn", "xyxy", image_size=(0, 10))
        with pytest.raises(ValueError, match="image_size must be"):
            box_convert(np.zeros((1, 4)), "xyxyn", "xyxy", image_size="big")

    def test_wrong_types(self):
        with pytest.raises(TypeError, match="boxes must be a numpy.ndarray or torch.Tensor"):
            box_area([[0, 0, 1, 1]])
        with pytest.raises(TypeError, match="both be numpy arrays or both be torch tensors"):
            box_iou(np.zeros((1, 4)), torch.zeros(1, 4))
        with pytest.raises(TypeError, match="must hold numbers"):
            box_area(np.array([["a", "b", "c", "d"]]))


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
sizes = st.one_of(
    st.just(0.0), st.floats(0.01, 500)
)  # no subnormal sizes: a shift would round them to 0


@st.composite
def box_arrays(draw, max_n=8):
    n = draw(st.integers(0, max_n))
    xy = np.array(
        draw(st.lists(st.tuples(finite, finite), min_size=n, max_size=n)), dtype=np.float64
    ).reshape(n, 2)
    wh = np.array(
        draw(st.lists(st.tuples(sizes, sizes), min_size=n, max_size=n)),
        dtype=np.float64,
    ).reshape(n, 2)
    return np.concatenate([xy, xy + wh], 1)


@settings(max_examples=150, deadline=None)
@given(box_arrays(), box_arrays())
def test_iou_properties(a, b):
    iou = box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    assert np.all((iou >= 0) & (iou <= 1 + 1e-12))
    np.testing.assert_allclose(iou, box_iou(b, a).T)  # symmetric
    giou = generalized_box_iou(a, b)
    assert np.all(giou <= iou + 1e-12) and np.all(giou >= -1 - 1e-12)
    if len(a):
        self_iou = np.diag(box_iou(a, a))
        positive = box_area(a) > 0
        np.testing.assert_allclose(self_iou[positive], 1.0)


@settings(max_examples=100, deadline=None)
@given(box_arrays(), st.floats(-100, 100), st.floats(-100, 100))
def test_iou_translation_invariant(a, dx, dy):
    shift = np.array([dx, dy, dx, dy])
    np.testing.assert_allclose(box_iou(a, a[::-1]), box_iou(a + shift, a[::-1] + shift), atol=1e-6)
