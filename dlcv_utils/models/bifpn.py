"""BiFPN (양방향 특징 피라미드 네트워크), EfficientDet's neck, with fast normalised fusion.

An FPN (lesson 06) adds each coarse level into the next finer one, top-down only. The BiFPN
(Tan, Pang and Le, *EfficientDet*, CVPR 2020) repeats a *bidirectional* cell: a top-down path
``P7 -> P3`` and then a bottom-up path ``P3 -> P7``, where every node fuses its inputs with
**fast normalised fusion** (빠른 정규화 융합), one learned non-negative weight per input:

    O = sum_i  w_i / (eps + sum_j w_j) * I_i,     w_i = ReLU(raw_i),  eps = 1e-4,

then applies SiLU (swish) and a depthwise-separable 3 x 3 convolution with batch norm. The same
layout as ``effdet``'s ``BiFpn`` (Ross Wightman's port of google/automl), module for module
and tensor for tensor in ``state_dict`` order, so one model's weights load into the other
(:func:`load_state_dict_in_order`); lesson 12 checks that both give the same outputs.

Taught in lesson 12.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BiFPN",
    "BiFPNLayer",
    "FusionNode",
    "SeparableConvBN",
    "fast_normalized_fusion",
    "fusion_weights",
    "load_state_dict_in_order",
    "resize_to",
]

#: batch-norm ``eps`` of the TensorFlow original; ``momentum`` 0.1 (PyTorch's default; the
#: original's 0.01 suits 300-epoch runs: the running statistics lag far behind in short ones).
BN_EPS, BN_MOMENTUM = 1e-3, 0.1


def _check_channels(value, name: str) -> list[int]:
    if isinstance(value, int) or not isinstance(value, Sequence) or len(value) == 0:
        raise TypeError(f"{name} must be a non-empty sequence of ints, got {value!r}")
    for c in value:
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"{name} must hold ints >= 1, got {list(value)!r}")
    return list(value)


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def fast_normalized_fusion(
    inputs: Sequence[torch.Tensor], weights: torch.Tensor, eps: float = 1e-4
) -> torch.Tensor:
    """``sum_i relu(w_i) / (eps + sum_j relu(w_j)) * inputs[i]`` (EfficientDet, eq. 3).

    Args:
        inputs: ``n`` tensors of one shape (e.g. ``Tensor[N, C, H, W]``).
        weights: ``Tensor[n]``, the raw learned weights (any sign; ReLU keeps them >= 0).
        eps: keeps the division stable when every weight is 0.

    Returns:
        The fused tensor, of the inputs' shape.

    Raises:
        ValueError: no inputs, a weight count other than ``len(inputs)``, or shapes that differ.

    Example:
        >>> a, b = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 3.0)
        >>> round(fast_normalized_fusion([a, b], torch.tensor([1.0, 1.0]))[0, 0, 0, 0].item(), 3)
        2.0
        >>> fast_normalized_fusion([a, b], torch.tensor([-5.0, 2.0]))[0, 0, 0, 0].item()  # relu
        2.9998...
    """
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one tensor, got none")
    if weights.ndim != 1 or len(weights) != len(inputs):
        raise ValueError(
            f"weights must be a Tensor[{len(inputs)}] (one per input), got {tuple(weights.shape)}"
        )
    shapes = {tuple(x.shape) for x in inputs}
    if len(shapes) != 1:
        raise ValueError(f"inputs must share one shape, got {sorted(shapes)}")
    w = F.relu(weights.to(inputs[0].dtype))
    total = w.sum() + eps
    return torch.stack([x * (w[i] / total) for i, x in enumerate(inputs)], dim=-1).sum(-1)


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bring a feature map to a neighbouring level's ``size`` (BiFPN's resampling).

    Larger than ``size``: 3 x 3 max pooling of stride 2 (padding 1, so ``H -> ceil(H / 2)``);
    smaller: nearest-neighbour upsampling to ``size``; equal: unchanged.

    Example:
        >>> resize_to(torch.zeros(1, 2, 5, 5), (3, 3)).shape, resize_to(torch.zeros(1, 2, 3, 3), (5, 5)).shape
        (torch.Size([1, 2, 3, 3]), torch.Size([1, 2, 5, 5]))
    """
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    if h > size[0] and w > size[1]:
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    return F.interpolate(x, size=tuple(size), mode="nearest")


class SeparableConvBN(nn.Sequential):
    """Depthwise 3 x 3 conv, pointwise 1 x 1 conv (no biases), batch norm: ``[N, C, H, W]`` kept.

    Example:
        >>> SeparableConvBN(8)(torch.zeros(2, 8, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, channels: int) -> None:
        _check_positive_int(channels, "channels")
        super().__init__()
        self.conv_dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.conv_pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class _Projection(nn.Sequential):
    """1 x 1 conv (no bias) + batch norm: a backbone level's channels to the BiFPN width."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class FusionNode(nn.Module):
    """One BiFPN node: project, resize, fuse (fast normalised), SiLU, separable conv.

    Args:
        in_channels: channels of each input (an input whose channels differ from ``channels``
            gets a 1 x 1 conv + batch norm first).
        channels: the BiFPN width ``W``.
        eps: of :func:`fast_normalized_fusion`.

    Attributes:
        edge_weights: ``Parameter[len(in_channels)]``, the raw fusion weights (start at 1).

    Example:
        >>> node = FusionNode([16, 8], 8)
        >>> node([torch.zeros(1, 16, 8, 8), torch.zeros(1, 8, 4, 4)], (8, 8)).shape
        torch.Size([1, 8, 8, 8])
    """

    def __init__(self, in_channels: Sequence[int], channels: int, eps: float = 1e-4) -> None:
        super().__init__()
        in_channels = _check_channels(in_channels, "in_channels")
        _check_positive_int(channels, "channels")
        self.eps = float(eps)
        self.edge_weights = nn.Parameter(torch.ones(len(in_channels)))
        self.project = nn.ModuleList(
            nn.Identity() if c == channels else _Projection(c, channels) for c in in_channels
        )
        self.act = nn.SiLU()
        self.conv = SeparableConvBN(channels)

    def normalized_weights(self) -> torch.Tensor:
        """``Tensor[n]``: ``relu(w) / (eps + sum relu(w))``, the share of each input."""
        w = F.relu(self.edge_weights)
        return w / (w.sum() + self.eps)

    def forward(self, inputs: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        if len(inputs) != len(self.project):
            raise ValueError(f"inputs must hold {len(self.project)} tensors, got {len(inputs)}")
        resized = [resize_to(p(x), size) for p, x in zip(self.project, inputs)]
        return self.conv(self.act(fast_normalized_fusion(resized, self.edge_weights, self.eps)))


class BiFPNLayer(nn.Module):
    """One bidirectional cell over ``L`` levels (finest first).

    Top-down: ``td_i = node(P_i, td_{i+1})`` for ``i = L-2 .. 0`` (``td_{L-1} = P_{L-1}``);
    bottom-up: ``out_0 = td_0``, ``out_i = node(P_i, td_i, out_{i-1})`` for the middle levels
    and ``out_{L-1} = node(P_{L-1}, out_{L-2})``: ``2 (L - 1)`` nodes, the order of
    ``effdet``'s ``bifpn_config``.

    Args:
        in_channels: channels of each input level (the BiFPN width after the first layer).
        channels: the BiFPN width ``W``.

    Example:
        >>> layer = BiFPNLayer([8, 8, 8], 8)
        >>> [tuple(o.shape[1:]) for o in layer([torch.zeros(1, 8, s, s) for s in (8, 4, 2)])]
        [(8, 8, 8), (8, 4, 4), (8, 2, 2)]
    """

    def __init__(self, in_channels: Sequence[int], channels: int) -> None:
        super().__init__()
        in_channels = _check_channels(in_channels, "in_channels")
        _check_positive_int(channels, "channels")
        if len(in_channels) < 2:
            raise ValueError(f"in_channels must name >= 2 levels, got {len(in_channels)}")
        n = len(in_channels)
        self.num_levels = n
        nodes = []
        for i in range(n - 2, -1, -1):  # top-down
            above = in_channels[i + 1] if i == n - 2 else channels
            nodes.append(FusionNode([in_channels[i], above], channels))
        for i in range(1, n):  # bottom-up
            ins = [in_channels[i], channels] if i < n - 1 else [in_channels[i]]
            nodes.append(FusionNode([*ins, channels], channels))
        self.fnode = nn.ModuleList(nodes)

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        n = self.num_levels
        if len(features) != n:
            raise ValueError(f"features must hold {n} levels, got {len(features)}")
        sizes = [tuple(f.shape[-2:]) for f in features]
        td = list(features)
        k = 0
        for i in range(n - 2, -1, -1):
            td[i] = self.fnode[k]([features[i], td[i + 1]], sizes[i])
            k += 1
        out = [td[0]]
        for i in range(1, n):
            ins = [features[i], td[i]] if i < n - 1 else [features[i]]
            out.append(self.fnode[k]([*ins, out[i - 1]], sizes[i]))
            k += 1
        return out


class BiFPN(nn.Module):
    """``num_layers`` BiFPN cells over the backbone's levels plus ``extra_levels`` coarser ones.

    The extra levels (``P6``, ``P7`` of EfficientDet) come from the last backbone map: a 1 x 1
    conv + batch norm to ``channels`` (if its width differs), then 3 x 3 max pooling of stride 2,
    once per extra level.

    Args:
        in_channels: channels of the backbone maps, finest first (e.g. ``C3, C4, C5``).
        channels: the BiFPN width ``W``.
        num_layers: BiFPN cells ``D_bifpn``.
        extra_levels: coarser levels added by downsampling.

    Example:
        >>> fpn = BiFPN([16, 24, 40], channels=8, num_layers=2, extra_levels=1)
        >>> feats = [torch.zeros(1, c, s, s) for c, s in ((16, 16), (24, 8), (40, 4))]
        >>> [tuple(o.shape[1:]) for o in fpn(feats)]
        [(8, 16, 16), (8, 8, 8), (8, 4, 4), (8, 2, 2)]
    """

    def __init__(
        self, in_channels: Sequence[int], channels: int, num_layers: int, extra_levels: int = 0
    ) -> None:
        super().__init__()
        in_channels = _check_channels(in_channels, "in_channels")
        _check_positive_int(channels, "channels")
        _check_positive_int(num_layers, "num_layers")
        _check_positive_int(extra_levels, "extra_levels", minimum=0)
        self.num_backbone_levels = len(in_channels)
        self.resample = nn.ModuleList()
        last = in_channels[-1]
        for _ in range(extra_levels):
            proj = nn.Identity() if last == channels else _Projection(last, channels)
            self.resample.append(nn.Sequential(proj, nn.MaxPool2d(3, stride=2, padding=1)))
            last = channels
        levels = in_channels + [channels] * extra_levels
        if len(levels) < 2:
            raise ValueError("a BiFPN needs >= 2 levels: pass more in_channels or extra_levels")
        self.cell = nn.ModuleList(
            BiFPNLayer(levels if k == 0 else [channels] * len(levels), channels)
            for k in range(num_layers)
        )
        self.out_channels = channels
        self.num_levels = len(levels)

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(features) != self.num_backbone_levels:
            raise ValueError(
                f"features must hold {self.num_backbone_levels} backbone levels, "
                f"got {len(features)}"
            )
        feats = list(features)
        for resample in self.resample:
            feats.append(resample(feats[-1]))
        for layer in self.cell:
            feats = layer(feats)
        return feats


def fusion_weights(bifpn: BiFPN) -> list[list[torch.Tensor]]:
    """The normalised fusion weights of every node: ``[layer][node] -> Tensor[n_inputs]``.

    Example:
        >>> w = fusion_weights(BiFPN([8, 8, 8], 8, num_layers=1))
        >>> len(w[0]), [round(x, 4) for x in w[0][0].tolist()]  # 4 nodes; initial weights 1, 1
        (4, [0.5, 0.5])
    """
    if not isinstance(bifpn, BiFPN):
        raise TypeError(f"bifpn must be a BiFPN, got {type(bifpn).__name__}")
    with torch.no_grad():
        return [[node.normalized_weights().clone() for node in layer.fnode] for layer in bifpn.cell]


def load_state_dict_in_order(dst: nn.Module, state_dict: dict[str, torch.Tensor]) -> int:
    """Copy ``state_dict``'s tensors into ``dst``'s, position by position (names may differ).

    For two implementations of one architecture (this BiFPN and ``effdet``'s ``BiFpn``): their
    ``state_dict`` s list the same tensors in the same order under different names.

    Returns:
        The number of tensors copied.

    Raises:
        ValueError: different tensor counts, or a shape that differs at some position (named).

    Example:
        >>> a, b = nn.Linear(2, 3), nn.Linear(2, 3)
        >>> load_state_dict_in_order(a, b.state_dict()), torch.equal(a.weight, b.weight)
        (2, True)
    """
    dst_sd = dst.state_dict()
    if len(dst_sd) != len(state_dict):
        raise ValueError(
            f"state_dict has {len(state_dict)} tensors but the module has {len(dst_sd)}"
        )
    new = {}
    for (name, mine), (src_name, theirs) in zip(dst_sd.items(), state_dict.items()):
        if mine.shape != theirs.shape:
            raise ValueError(
                f"shape mismatch: {name} {tuple(mine.shape)} vs {src_name} {tuple(theirs.shape)}"
            )
        new[name] = theirs
    dst.load_state_dict(new)
    return len(new)
