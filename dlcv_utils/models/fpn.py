"""Feature Pyramid Network (FPN), the "neck" of a modern detector, written out in plain PyTorch.

Taught in lesson 06. The lesson builds the same module in its cells; this copy is what
:mod:`dlcv_utils.toolbox` registers as the ``"FPN"`` neck.

An FPN takes the backbone's feature maps ``C2..C5`` (fine and weak to coarse and strong) and
returns maps ``P2..P5`` that all have ``out_channels`` channels:

1. a *lateral* 1x1 convolution brings every ``Ci`` to ``out_channels``;
2. the *top-down* path starts at the coarsest map and repeatedly upsamples (nearest neighbour,
   to the exact size of the next finer map) and adds the next lateral map;
3. a 3x3 *smoothing* convolution on every sum removes upsampling artefacts;
4. optionally (``extra_pool=True``) a ``"pool"`` level is added by subsampling the coarsest
   output with stride 2, as torchvision's Faster R-CNN does for its largest anchors.

The parameter names (``inner_blocks.i.0`` for the laterals, ``layer_blocks.i.0`` for the
smoothing convolutions) match :class:`torchvision.ops.FeaturePyramidNetwork`, so a state dict
loads across and both give the same outputs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FPN"]


class FPN(nn.Module):
    """Feature Pyramid Network over an ordered dict of feature maps (finest first).

    Args:
        in_channels_list: channels of each input level, finest (highest resolution) first.
        out_channels: channels of every output level.
        extra_pool: add a ``"pool"`` level (stride-2 max-pool of the coarsest output).

    Raises:
        ValueError: for an empty ``in_channels_list`` or non-positive channel counts.

    Example:
        >>> fpn = FPN([8, 16], out_channels=4, extra_pool=True)
        >>> feats = OrderedDict(c2=torch.zeros(1, 8, 16, 16), c3=torch.zeros(1, 16, 8, 8))
        >>> {k: tuple(v.shape) for k, v in fpn(feats).items()}
        {'c2': (1, 4, 16, 16), 'c3': (1, 4, 8, 8), 'pool': (1, 4, 4, 4)}
    """

    def __init__(
        self, in_channels_list: Sequence[int], out_channels: int, extra_pool: bool = False
    ):
        super().__init__()
        if isinstance(in_channels_list, int) or len(in_channels_list) == 0:
            raise ValueError(
                f"in_channels_list must be a non-empty list of ints, got {in_channels_list!r}"
            )
        if any(int(c) <= 0 for c in in_channels_list):
            raise ValueError(f"in_channels_list must be positive, got {list(in_channels_list)}")
        if int(out_channels) <= 0:
            raise ValueError(f"out_channels must be positive, got {out_channels!r}")
        self.in_channels_list = [int(c) for c in in_channels_list]
        self.out_channels = int(out_channels)
        self.extra_pool = bool(extra_pool)
        # nn.Sequential wrappers only so that parameter names match torchvision's FPN
        self.inner_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, out_channels, kernel_size=1)) for c in self.in_channels_list
        )
        self.layer_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1))
            for _ in self.in_channels_list
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # the same initialisation as torchvision
                nn.init.kaiming_uniform_(m.weight, a=1)
                nn.init.constant_(m.bias, 0)

    def forward(self, features: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
        """Return the pyramid as an ordered dict with the input names (plus ``"pool"``)."""
        names = list(features.keys())
        xs = list(features.values())
        if len(xs) != len(self.inner_blocks):
            raise ValueError(
                f"features must have {len(self.inner_blocks)} levels, got {len(xs)} ({names})"
            )
        last = self.inner_blocks[-1](xs[-1])
        outs = [self.layer_blocks[-1](last)]
        for i in range(len(xs) - 2, -1, -1):
            lateral = self.inner_blocks[i](xs[i])
            top_down = F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            last = lateral + top_down
            outs.insert(0, self.layer_blocks[i](last))
        if self.extra_pool:
            names.append("pool")
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return OrderedDict(zip(names, outs, strict=True))
