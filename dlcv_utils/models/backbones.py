"""Backbones (백본) shared by every detector family: one conv-norm-ReLU block, three tiny CNNs,
the torchvision trunks, and the multi-stage wrapper the config toolbox builds on.

* :func:`small_backbone` (lesson 04): a VGG-like CNN of stride 4 for R-CNN / Fast R-CNN;
* :class:`TinyBackbone` and :func:`torchvision_trunk` (lesson 05): one feature map of stride 8
  (or 4) for Faster R-CNN;
* :class:`MultiStageBackbone` with :func:`tinynet_stages`, :func:`resnet_stages` and
  :func:`mobilenet_v3_stages` (lesson 06): four stages of strides 4, 8, 16 and 32 for an FPN.

All of them are built from :func:`conv_norm_relu`, so "a 3 x 3 conv, a norm, a ReLU" is written
once. Images are ``[N, 3, H, W]``; feature maps ``[N, C, H / stride, W / stride]``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from dlcv_utils.validation import check_choice

__all__ = [
    "NORMS",
    "MultiStageBackbone",
    "TinyBackbone",
    "conv_norm_relu",
    "mobilenet_v3_stages",
    "norm_layer",
    "resnet_stages",
    "small_backbone",
    "tinynet_stages",
    "torchvision_trunk",
]

NORMS = ("BN", "GN", "FrozenBN")
STAGE_STRIDES = (4, 8, 16, 32)


def norm_layer(norm: str = "BN"):
    """``channels -> norm module`` for ``"BN"``, ``"GN"`` (group norm) or ``"FrozenBN"``.

    Example:
        >>> gn = norm_layer("GN")(64)
        >>> type(gn).__name__, gn.num_groups
        ('GroupNorm', 16)
    """
    from torchvision.ops import FrozenBatchNorm2d

    check_choice(norm, "norm", NORMS)
    if norm == "BN":
        return nn.BatchNorm2d
    if norm == "FrozenBN":
        return FrozenBatchNorm2d
    return lambda c: nn.GroupNorm(min(32, c // 4) or 1, c)


def conv_norm_relu(
    cin: int, cout: int, stride: int = 1, dilation: int = 1, norm: str = "BN"
) -> nn.Sequential:
    """A 3 x 3 convolution (no bias, ``padding = dilation``), a norm and a ReLU.

    Example:
        >>> conv_norm_relu(3, 8, stride=2)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 8, 16, 16])
    """
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        norm_layer(norm)(cout),
        nn.ReLU(inplace=True),
    )


# ----------------------------------------------------------------------------- lesson 04
def small_backbone(channels: Sequence[int] = (32, 64, 128)) -> nn.Sequential:
    """A tiny VGG-like CNN of stride 4: conv-pool, conv-pool, conv (3 x 3 convs, BN, ReLU).

    Example:
        >>> small_backbone((8, 16, 32))(torch.zeros(1, 3, 28, 28)).shape
        torch.Size([1, 32, 7, 7])
    """
    c1, c2, c3 = channels
    return nn.Sequential(
        conv_norm_relu(3, c1),
        nn.MaxPool2d(2),
        conv_norm_relu(c1, c2),
        nn.MaxPool2d(2),
        conv_norm_relu(c2, c3),
    )


# ----------------------------------------------------------------------------- lesson 05
class TinyBackbone(nn.Sequential):
    """Six 3x3 conv-BN-ReLU layers giving one feature map of stride 8 (or 4).

    With ``stride=8`` three layers halve the resolution: at 128 px the output is ``16 x 16``
    cells, each seeing about 40 px of the image. With ``stride=4`` the last two layers keep the
    resolution and use dilation 2 instead, so the cells still see about 50 px but the map is
    ``32 x 32``: finer features for small objects, at about twice the compute.
    ``out_channels`` is read by torchvision's ``FasterRCNN``.

    Example:
        >>> TinyBackbone(width=16)(torch.zeros(1, 3, 128, 128)).shape
        torch.Size([1, 64, 16, 16])
        >>> TinyBackbone(width=16, stride=4)(torch.zeros(1, 3, 128, 128)).shape
        torch.Size([1, 64, 32, 32])
    """

    def __init__(self, width: int = 32, stride: int = 8):
        check_choice(stride, "stride", (4, 8))
        c = int(width)
        last_stride, dil = (2, 1) if stride == 8 else (1, 2)
        super().__init__(
            conv_norm_relu(3, c, 2),  # stride 2
            conv_norm_relu(c, c, 1),
            conv_norm_relu(c, 2 * c, 2),  # stride 4
            conv_norm_relu(2 * c, 2 * c, 1),
            conv_norm_relu(2 * c, 4 * c, last_stride, dil),  # stride 8 (or 4, dilated)
            conv_norm_relu(4 * c, 4 * c, 1, dil),
        )
        self.out_channels = 4 * c


def torchvision_trunk(name: str, pretrained: bool = False) -> nn.Module:
    """A torchvision classification network cut at stride 8; ``out_channels`` is set on it.

    Args:
        name: ``"resnet18"`` (128 channels) or ``"mobilenet_v3"`` (large, 40 channels).
        pretrained: load torchvision's ImageNet weights (from the torch cache; downloads them
            only if they are not there).
    """
    import torchvision

    check_choice(name, "name", ("resnet18", "mobilenet_v3"))
    if name == "resnet18":
        weights = torchvision.models.ResNet18_Weights.DEFAULT if pretrained else None
        net = torchvision.models.resnet18(weights=weights)
        trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
        trunk.out_channels = 128
        return trunk
    weights = torchvision.models.MobileNet_V3_Large_Weights.DEFAULT if pretrained else None
    trunk = torchvision.models.mobilenet_v3_large(weights=weights).features[:7]
    trunk.out_channels = 40
    return trunk


# ----------------------------------------------------------------------------- lesson 06
class MultiStageBackbone(nn.Module):
    """Runs ``stem`` then ``stages``; returns the chosen stage outputs as ``{"0": ..., ...}``.

    Args:
        stem: the layers before the first stage.
        stages: four modules of strides 4, 8, 16 and 32 (relative to the image).
        channels: output channels of each stage.
        out_indices: increasing stage indices to return (0 = stride 4 ... 3 = stride 32).
        frozen_stages: freeze the stem and stages ``0..frozen_stages`` (-1: train everything),
            as MMDetection's ``frozen_stages``.

    Attributes:
        out_channels_list: channels of the returned maps.
        strides: strides of the returned maps.

    Example:
        >>> net = MultiStageBackbone(*tinynet_stages((8, 16, 32, 64)), out_indices=(1, 3))
        >>> net.out_channels_list, net.strides
        ([16, 64], [8, 32])
        >>> {k: tuple(v.shape) for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
        {'0': (1, 16, 8, 8), '1': (1, 64, 2, 2)}
    """

    def __init__(
        self,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        channels: Sequence[int],
        out_indices: Sequence[int] = (0, 1, 2, 3),
        frozen_stages: int = -1,
    ):
        super().__init__()
        idx = tuple(int(i) for i in out_indices)
        if not idx or list(idx) != sorted(set(idx)) or idx[0] < 0 or idx[-1] >= len(stages):
            raise ValueError(
                f"out_indices must be increasing stage indices in 0..{len(stages) - 1}, "
                f"got {out_indices!r}"
            )
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.out_indices = idx
        self.out_channels_list = [int(channels[i]) for i in idx]
        self.strides = [STAGE_STRIDES[i] for i in idx]
        frozen = [stem, *self.stages[: frozen_stages + 1]] if frozen_stages >= 0 else []
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out = OrderedDict()
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                out[str(len(out))] = x
            if i == self.out_indices[-1]:
                break
        return out


def tinynet_stages(widths: Sequence[int] = (32, 64, 128, 256), norm: str = "BN"):
    """``(stem, stages, channels)`` of a small plain CNN: two 3x3 conv-norm-ReLU per stage.

    Trains from scratch on the 128-px shapes images in CPU minutes, where a ResNet-18 needs a GPU.
    """
    widths = [int(w) for w in widths]
    if len(widths) != 4 or min(widths) < 1:
        raise ValueError(f"widths must be 4 positive ints, got {widths!r}")
    stem = conv_norm_relu(3, widths[0], 2, norm=norm)
    cins = [widths[0], *widths[:-1]]
    stages = [
        nn.Sequential(conv_norm_relu(ci, co, 2, norm=norm), conv_norm_relu(co, co, 1, norm=norm))
        for ci, co in zip(cins, widths)
    ]
    return stem, stages, widths


def resnet_stages(depth: int = 18, norm: str = "BN"):
    """``(stem, stages, channels)`` of a torchvision ResNet (random init), depth 18, 34 or 50."""
    import torchvision

    builders = {
        18: torchvision.models.resnet18,
        34: torchvision.models.resnet34,
        50: torchvision.models.resnet50,
    }
    check_choice(depth, "depth", tuple(builders))
    net = builders[depth](weights=None, norm_layer=norm_layer(norm))
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    width = 1 if depth < 50 else 4
    channels = [64 * width, 128 * width, 256 * width, 512 * width]
    return stem, [net.layer1, net.layer2, net.layer3, net.layer4], channels


def mobilenet_v3_stages(arch: str = "large", norm: str = "BN"):
    """``(stem, stages, channels)`` of torchvision's MobileNetV3 cut at strides 4, 8, 16, 32."""
    import torchvision

    check_choice(arch, "arch", ("large", "small"))
    build = (
        torchvision.models.mobilenet_v3_large
        if arch == "large"
        else torchvision.models.mobilenet_v3_small
    )
    features = build(weights=None, norm_layer=norm_layer(norm)).features
    # feature blocks where the stride reaches 4, 8, 16 and 32 (the first block is the stem)
    cuts = (1, 4, 7, 13, 17) if arch == "large" else (1, 2, 4, 9, 13)
    stages = [nn.Sequential(*features[a:b]) for a, b in itertools.pairwise(cuts)]
    return features[0], stages, [stage[-1].out_channels for stage in stages]
