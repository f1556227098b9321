"""Tests for dlcv_utils.ops.box_coder (lesson 04)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.models.detection._utils import BoxCoder as TVBoxCoder

from dlcv_utils.ops.box_coder import BBOX_XFORM_CLIP, BoxCoder, decode, encode


def random_boxes(n: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 100
    wh = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 50 + 1
    return torch.cat([xy, xy + wh], dim=1).to(dtype)


def test_encode_hand_computed():
    p = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # centre (20, 40), size (20, 40)
    g = torch.tensor([[15.0, 10.0, 45.0, 50.0]])  # centre (30, 30), size (30, 40)
    expected = torch.tensor(
        [[(30 - 20) / 20, (30 - 40) / 40, math.log(30 / 20), math.log(40 / 40)]]
    )
    torch.testing.assert_close(encode(g, p), expected)
    w = (10.0, 10.0, 5.0, 5.0)
    torch.testing.assert_close(encode(g, p, w), expected * torch.tensor(w))


def test_decode_hand_computed():
    p = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    d = torch.tensor([[0.1, -0.25, math.log(3.0), 0.0]])
    # centre (5 + 1, 10 - 5), size (30, 20)
    torch.testing.assert_close(
        decode(d, p), torch.tensor([[6.0 - 15, 5.0 - 10, 6.0 + 15, 5.0 + 10]])
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0), (2.0, 3.0, 4.0, 0.5)]
)
def test_matches_torchvision(dtype, weights):
    gen = torch.Generator().manual_seed(0)
    props = random_boxes(64, gen, dtype)
    gts = random_boxes(64, gen, dtype)
    tv = TVBoxCoder(weights)
    ours = encode(gts, props, weights)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, tv.encode_single(gts, props))
    # class-specific deltas: 3 boxes per proposal, some with huge dw/dh that must be clipped
    deltas = torch.randn(64, 12, generator=gen, dtype=torch.float64).to(dtype) * 3
    deltas[:5, 2] = 50.0
    torch.testing.assert_close(decode(deltas, props, weights), tv.decode_single(deltas, props))
    torch.testing.assert_close(
        BoxCoder(weights).decode(deltas, props), tv.decode_single(deltas, props)
    )


def test_clip_limits_size():
    p = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    out = decode(torch.tensor([[0.0, 0.0, 100.0, 100.0]]), p)
    # exp(log(1000 / 16)) * 16 = 1000 wide, centred at 8
    torch.testing.assert_close(out, torch.tensor([[8.0 - 500, 8.0 - 500, 8.0 + 500, 8.0 + 500]]))
    assert math.isclose(BBOX_XFORM_CLIP, math.log(1000 / 16))


def test_numpy_in_numpy_out():
    p = np.array([[0.0, 0.0, 10.0, 10.0]])
    g = np.array([[1.0, 2.0, 11.0, 12.0]])
    d = encode(g, p)
    assert isinstance(d, np.ndarray) and d.dtype == np.float64
    np.testing.assert_allclose(d, [[0.1, 0.2, 0.0, 0.0]])
    np.testing.assert_allclose(decode(d, p), g)


def test_empty():
    e = torch.zeros(0, 4)
    assert encode(e, e).shape == (0, 4)
    assert decode(e, e).shape == (0, 4)


box_strategy = st.tuples(
    st.floats(-100, 100),
    st.floats(-100, 100),
    st.floats(1, 200),
    st.floats(1, 200),
).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=100, deadline=None)
@given(
    g=box_strategy,
    p=box_strategy,
    weights=st.tuples(*[st.floats(0.5, 10)] * 4),
)
def test_round_trip(g, p, weights):
    gt = torch.tensor([g], dtype=torch.float64)
    prop = torch.tensor([p], dtype=torch.float64)
    back = decode(encode(gt, prop, weights), prop, weights, bbox_xform_clip=math.inf)
    torch.testing.assert_close(back, gt, rtol=1e-9, atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(p=box_strategy, shift=st.floats(-2, 2), scale=st.floats(0.25, 4))
def test_scale_invariance(p, shift, scale):
    """Shifting by ``shift`` widths and scaling by ``scale`` gives the same deltas for any box size."""
    prop = torch.tensor([p], dtype=torch.float64)
    w = prop[0, 2] - prop[0, 0]
    h = prop[0, 3] - prop[0, 1]
    cx = (prop[0, 0] + prop[0, 2]) / 2 + shift * w
    cy = (prop[0, 1] + prop[0, 3]) / 2 + shift * h
    g = torch.stack(
        [cx - scale * w / 2, cy - scale * h / 2, cx + scale * w / 2, cy + scale * h / 2]
    )[None]
    expected = torch.tensor([[shift, shift, math.log(scale), math.log(scale)]], dtype=torch.float64)
    torch.testing.assert_close(encode(g, prop), expected)


def test_guards():
    b = torch.zeros(2, 4)
    with pytest.raises(TypeError, match="reference_boxes must be"):
        encode([[0, 0, 1, 1]], b)
    with pytest.raises(TypeError, match="deltas must be"):
        decode("x", b)
    with pytest.raises(ValueError, match=r"proposals must have shape \[N, 4\]"):
        encode(b, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="same length"):
        encode(b, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same length"):
        decode(b, torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"deltas must have shape \[N, 4 \* K\]"):
        decode(torch.zeros(2, 5), b)
    with pytest.raises(ValueError, match="weights must be a sequence of 4"):
        encode(b, b, weights=(1, 1))
    with pytest.raises(ValueError, match="weights must be positive"):
        BoxCoder((1, 1, 0, 1))
