"""Tests for dlcv_utils.ops.roi (lesson 04): SPP, RoI pooling, quantisation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import roi_pool as tv_roi_pool

from dlcv_utils.ops.roi import (
    SpatialPyramidPooling,
    bin_centres,
    roi_pool,
    round_half_away,
    spp_rois,
)


def naive_roi_pool(x, rois, ph, pw, scale):
    """Triple loop straight from the Fast R-CNN Caffe kernel."""
    k_total, c = rois.shape[0], x.shape[1]
    height, width = x.shape[2:]
    out = torch.zeros(k_total, c, ph, pw, dtype=x.dtype)
    for k in range(k_total):
        b = int(rois[k, 0])
        x1, y1, x2, y2 = (
            math.floor(abs(v) * scale + 0.5) * (1 if v >= 0 else -1) for v in rois[k, 1:].tolist()
        )
        rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        for i in range(ph):
            for j in range(pw):
                hs = min(max(math.floor(i * rh / ph) + y1, 0), height)
                he = min(max(math.ceil((i + 1) * rh / ph) + y1, 0), height)
                ws = min(max(math.floor(j * rw / pw) + x1, 0), width)
                we = min(max(math.ceil((j + 1) * rw / pw) + x1, 0), width)
                if he > hs and we > ws:
                    out[k, :, i, j] = x[b, :, hs:he, ws:we].amax(dim=(1, 2))
    return out


def random_rois(n, batch, extent, gen, dtype=torch.float32):
    xy = torch.rand(n, 2, generator=gen) * (extent + 20) - 20
    wh = torch.rand(n, 2, generator=gen) * extent * 0.7
    idx = torch.randint(0, batch, (n, 1), generator=gen).float()
    return torch.cat([idx, xy, xy + wh], dim=1).to(dtype)


def test_roi_pool_hand_computed():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)  # value = 6 * row + col
    # box (0, 0)-(3, 3) at scale 1 covers cells 0..3 (inclusive): 2x2 bins of 2x2 cells each
    out = roi_pool(x, torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 2)
    torch.testing.assert_close(
        out[0, 0], torch.tensor([[6.0 * 1 + 1, 6.0 * 1 + 3], [6.0 * 3 + 1, 6.0 * 3 + 3]])
    )
    # scale 0.5: box (2, 2)-(9, 9) -> cells round(1)..round(4.5) = 1..5; bins 1..3 (ceil 2.5) and 3..5
    out = roi_pool(x, torch.tensor([[0.0, 2.0, 2.0, 9.0, 9.0]]), 2, spatial_scale=0.5)
    torch.testing.assert_close(
        out[0, 0], torch.tensor([[6.0 * 3 + 3, 6.0 * 3 + 5], [6.0 * 5 + 3, 6.0 * 5 + 5]])
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 0.5, 1 / 8, 0.3])
@pytest.mark.parametrize("size", [(7, 7), (2, 3), (1, 1)])
def test_roi_pool_matches_torchvision_and_naive(dtype, scale, size):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 12, 15, generator=gen, dtype=torch.float64).to(dtype)
    rois = random_rois(25, 2, 15 / scale, gen, dtype)
    ours = roi_pool(x, rois, size, scale)
    torch.testing.assert_close(ours, tv_roi_pool(x, rois, size, scale))
    torch.testing.assert_close(ours, naive_roi_pool(x, rois, *size, scale))


def test_roi_pool_list_of_boxes_and_empty():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 10, 10, generator=gen)
    b0 = torch.tensor([[0.0, 0.0, 5.0, 5.0]])
    b1 = torch.tensor([[1.0, 2.0, 9.0, 9.0], [3.0, 3.0, 4.0, 4.0]])
    ours = roi_pool(x, [b0, b1], 3)
    torch.testing.assert_close(ours, tv_roi_pool(x, [b0, b1], 3))
    assert roi_pool(x, torch.zeros(0, 5), 3).shape == (0, 4, 3, 3)
    # a RoI entirely outside the map pools to zeros (empty bins)
    torch.testing.assert_close(
        roi_pool(x, [torch.tensor([[50.0, 50.0, 60.0, 60.0]])], 2), torch.zeros(1, 4, 2, 2)
    )


@settings(max_examples=30, deadline=None)
@given(
    x1=st.floats(-10, 60),
    y1=st.floats(-10, 60),
    w=st.floats(0, 60),
    h=st.floats(0, 60),
    scale=st.sampled_from([1.0, 0.5, 0.25, 1 / 16, 0.7]),
    out=st.integers(1, 5),
)
def test_roi_pool_property(x1, y1, w, h, scale, out):
    x = torch.randn(1, 2, 9, 11, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0.0, x1, y1, x1 + w, y1 + h]])
    torch.testing.assert_close(roi_pool(x, rois, out, scale), tv_roi_pool(x, rois, out, scale))


def test_round_half_away():
    torch.testing.assert_close(
        round_half_away(torch.tensor([-2.5, -1.4, 0.0, 0.49, 0.5, 2.5, 3.5])),
        torch.tensor([-3.0, -1.0, 0.0, 0.0, 1.0, 3.0, 4.0]),
    )


@pytest.mark.parametrize("hw", [(1, 1), (4, 4), (7, 13), (32, 9)])
def test_spp_fixed_length(hw):
    spp = SpatialPyramidPooling((1, 2, 4))
    x = torch.randn(3, 5, *hw)
    out = spp(x)
    assert out.shape == (3, 5 * (1 + 4 + 16)) == (3, spp.output_features(5))
    # level 1 is the global max of each channel
    torch.testing.assert_close(out[:, :5], x.amax(dim=(2, 3)))


def test_spp_equals_roi_pool_of_whole_map():
    """Adaptive max pooling and RoIPool use the same floor/ceil bins on a full-map RoI."""
    x = torch.randn(1, 3, 11, 14)
    whole = torch.tensor([[0.0, 0.0, 14.0 - 1, 11.0 - 1]])
    torch.testing.assert_close(spp_rois(x, [whole]), SpatialPyramidPooling()(x))


def test_spp_rois_shape():
    x = torch.randn(2, 6, 16, 16)
    rois = torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0], [1.0, 2.0, 5.0, 60.0, 40.0]])
    assert spp_rois(x, rois, (1, 3), spatial_scale=0.25).shape == (2, 6 * (1 + 9))


def test_bin_centres_quantisation():
    box = (20.0, 20.0, 76.0, 60.0)
    exact = torch.tensor(
        [20.0 + (i + 0.5) * (76.0 - 20.0) / 7 for i in range(7)], dtype=torch.float64
    )
    torch.testing.assert_close(bin_centres(box, 7, 1 / 8, "align"), exact)
    pool_err = (bin_centres(box, 7, 1 / 8, "pool") - exact).abs()
    assert pool_err.max() > 2.0  # whole feature cells of 8 px: RoIPool misplaces bins by pixels


def test_guards():
    x = torch.randn(1, 2, 4, 4)
    rois = torch.zeros(1, 5)
    with pytest.raises(TypeError, match=r"input must be a torch\.Tensor"):
        roi_pool(x.numpy(), rois, 2)
    with pytest.raises(ValueError, match=r"input must have shape \[N, C, H, W\]"):
        roi_pool(x[0], rois, 2)
    with pytest.raises(ValueError, match=r"output_size must hold ints >= 1, got \(2, 0\)"):
        roi_pool(x, rois, (2, 0))
    with pytest.raises(TypeError, match="output_size must be an int or a pair of ints"):
        roi_pool(x, rois, "7")
    with pytest.raises(ValueError, match="spatial_scale must be"):
        roi_pool(x, rois, 2, spatial_scale=0)
    with pytest.raises(ValueError, match=r"boxes must have shape \[K, 5\]"):
        roi_pool(x, torch.zeros(1, 4), 2)
    with pytest.raises(TypeError, match="boxes must be"):
        roi_pool(x, "boxes", 2)
    with pytest.raises(ValueError, match=r"boxes\[0\] must be a Tensor\[L, 4\]"):
        roi_pool(x, [torch.zeros(1, 5)], 2)
    with pytest.raises(ValueError, match="batch indices"):
        roi_pool(x, torch.tensor([[3.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match="levels must be"):
        SpatialPyramidPooling(())
    with pytest.raises(ValueError, match="levels must be"):
        spp_rois(x, rois, levels=(1, -2))
    with pytest.raises(ValueError, match="method must be"):
        bin_centres((0, 0, 1, 1), 2, 1.0, "avg")
