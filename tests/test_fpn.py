"""dlcv_utils.models.fpn: our FPN against torchvision's FeaturePyramidNetwork, plus a naive reference."""

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from dlcv_utils.models.fpn import FPN


def _features(channels=(8, 16, 32), size=32, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return OrderedDict(
        (str(i), torch.randn(batch, c, size // 2**i, size // 2**i, generator=g))
        for i, c in enumerate(channels)
    )


@pytest.mark.parametrize("extra_pool", [False, True])
def test_matches_torchvision_after_copying_weights(extra_pool):
    torch.manual_seed(0)
    ref = FeaturePyramidNetwork(
        [8, 16, 32], 12, extra_blocks=LastLevelMaxPool() if extra_pool else None
    )
    ours = FPN([8, 16, 32], 12, extra_pool=extra_pool)
    ours.load_state_dict(ref.state_dict())  # same parameter names
    feats = _features()
    expected, got = ref(feats), ours(feats)
    assert list(got) == list(expected) == ["0", "1", "2"] + (["pool"] if extra_pool else [])
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])


def test_odd_sizes_upsample_to_the_exact_finer_shape():
    # 15 -> 8 -> 4 (as a stride-2 conv gives): nearest upsampling must hit 15, not 16
    ref = FeaturePyramidNetwork([4, 4, 4], 4)
    ours = FPN([4, 4, 4], 4)
    ours.load_state_dict(ref.state_dict())
    feats = OrderedDict(
        a=torch.randn(1, 4, 15, 15), b=torch.randn(1, 4, 8, 8), c=torch.randn(1, 4, 4, 4)
    )
    for name, value in ref(feats).items():
        torch.testing.assert_close(ours(feats)[name], value)
    assert ours(feats)["a"].shape == (1, 4, 15, 15)


def test_naive_two_level_reference():
    # P_coarse = smooth(lat(C_coarse)); P_fine = smooth(lat(C_fine) + up2(lat(C_coarse)))
    fpn = FPN([3, 5], 2)
    c_fine, c_coarse = torch.randn(1, 3, 4, 4), torch.randn(1, 5, 2, 2)
    lat_f = F.conv2d(c_fine, fpn.inner_blocks[0][0].weight, fpn.inner_blocks[0][0].bias)
    lat_c = F.conv2d(c_coarse, fpn.inner_blocks[1][0].weight, fpn.inner_blocks[1][0].bias)
    up = lat_c.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    p_fine = F.conv2d(
        lat_f + up, fpn.layer_blocks[0][0].weight, fpn.layer_blocks[0][0].bias, padding=1
    )
    p_coarse = F.conv2d(
        lat_c, fpn.layer_blocks[1][0].weight, fpn.layer_blocks[1][0].bias, padding=1
    )
    out = fpn(OrderedDict(f=c_fine, c=c_coarse))
    torch.testing.assert_close(out["f"], p_fine)
    torch.testing.assert_close(out["c"], p_coarse)


def test_pool_level_is_stride_two_subsampling():
    fpn = FPN([4], 4, extra_pool=True)
    out = fpn(OrderedDict(x=torch.randn(1, 4, 6, 6)))
    torch.testing.assert_close(out["pool"], out["x"][:, :, ::2, ::2])


def test_gradients_reach_every_input_level():
    fpn = FPN([8, 16, 32], 4)
    feats = _features(batch=1)
    for v in feats.values():
        v.requires_grad_(True)
    sum(v.sum() for v in fpn(feats).values()).backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in feats.values())


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([], 4), "in_channels_list"),
        ((8, 4), "in_channels_list"),
        (([8, 0], 4), "in_channels_list must be positive"),
        (([8], 0), "out_channels"),
    ],
)
def test_bad_construction(args, match):
    with pytest.raises(ValueError, match=match):
        FPN(*args)


def test_wrong_number_of_levels():
    fpn = FPN([8, 16], 4)
    with pytest.raises(ValueError, match="features must have 2 levels, got 1"):
        fpn(OrderedDict(a=torch.randn(1, 8, 4, 4)))
