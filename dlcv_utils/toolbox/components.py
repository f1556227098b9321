"""A config-driven detector toolbox in miniature: registries, dict configs, ``build_detector``.

Taught in lesson 06. MMDetection and Detectron2 assemble a detector from a *config*: a nested
dict whose every block names its implementation with a ``type`` key (``backbone``, ``neck``,
``rpn_head``, ``roi_head``). Each implementation registers itself in a :class:`Registry`
under that name; building a block means "look the type up, call it with the other keys". This
module implements that pattern over torchvision parts, so a config such as::

    dict(
        type="FasterRCNN",
        backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3)),
        neck=dict(type="FPN", out_channels=64, extra_pool=True),
        rpn_head=dict(type="RPNHead", anchor_sizes=((16,), (32,), (64,), (128,), (256,))),
        roi_head=dict(type="StandardRoIHead", num_classes=5),
    )

becomes a :class:`torchvision.models.detection.FasterRCNN` through :func:`build_detector`.

Conventions (as in MMDetection): ``num_classes`` counts the *object* classes only; the builder
adds the background class that torchvision's predictor needs. ``out_indices`` count backbone
stages from 0 (``0`` = ResNet ``layer1``, stride 4). Configs are plain nested dicts; they can be
loaded from a ``.py``, ``.yaml`` or ``.json`` file with :func:`load_config`, which also resolves
``_base_`` inheritance (see :func:`merge_config`).
"""

from __future__ import annotations

import copy
import difflib
import inspect
import itertools
import json
import pprint
import runpy
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BACKBONES",
    "CONFIGS",
    "DETECTORS",
    "NECKS",
    "ROI_HEADS",
    "RPN_HEADS",
    "Registry",
    "build_detector",
    "config_to_str",
    "count_parameters",
    "get_config",
    "load_config",
    "merge_config",
]


def _close(name: str, choices) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


class Registry:
    """A name → builder table; ``build(cfg)`` calls the builder named by ``cfg["type"]``.

    Args:
        name: what the registry holds, used in error messages (e.g. ``"BACKBONES"``).

    Example:
        >>> LAYERS = Registry("LAYERS")
        >>> @LAYERS.register()
        ... def Scale(factor, offset=0.0):
        ...     return lambda x: factor * x + offset
        >>> f = LAYERS.build(dict(type="Scale", factor=2.0))
        >>> f(3.0)
        6.0
        >>> "Scale" in LAYERS, len(LAYERS)
        (True, 1)
    """

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self._table: dict[str, Callable] = {}

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, types={sorted(self._table)})"

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __len__(self) -> int:
        return len(self._table)

    def keys(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._table)

    def register(self, name: str | Callable | None = None, *, force: bool = False):
        """Decorator that registers a class or function under ``name`` (default: its ``__name__``).

        ``@REG.register()``, ``@REG.register("Alias")`` and plain ``@REG.register`` all work.

        Raises:
            TypeError: if ``name`` is not a string, or the decorated object is not callable.
            ValueError: if the name is taken (pass ``force=True`` to replace it).
        """
        if callable(name) and not isinstance(name, str):  # used as @REG.register
            return self._add(name, None, force)
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty string or None, got {name!r}")

        def decorator(obj):
            return self._add(obj, name, force)

        return decorator

    def _add(self, obj, name, force):
        if not callable(obj):
            raise TypeError(f"{self.name} can only register callables, got {type(obj).__name__}")
        key = name or obj.__name__
        if key in self._table and not force:
            raise ValueError(
                f"{self.name} already has a type named {key!r}; pass force=True to replace it"
            )
        self._table[key] = obj
        return obj

    def get(self, name: str) -> Callable:
        """Return the builder registered as ``name``.

        Raises:
            TypeError: if ``name`` is not a string.
            ValueError: for an unknown name; the message lists the registered ones.
        """
        if not isinstance(name, str):
            raise TypeError(
                f"{self.name} type must be a string, got {type(name).__name__} {name!r}"
            )
        if name not in self._table:
            raise ValueError(
                f"unknown {self.name} type {name!r}{_close(name, self._table)}; "
                f"available: {self.keys()}"
            )
        return self._table[name]

    def build(self, cfg: Mapping[str, Any], **default_args):
        """Build the object described by ``cfg``: ``get(cfg["type"])(**other keys)``.

        Args:
            cfg: a mapping with a ``"type"`` key; it is not modified.
            **default_args: values used for keys that ``cfg`` does not set, and only if the
                builder accepts them (how a detector passes ``in_channels`` down to its neck).

        Raises:
            TypeError: if ``cfg`` is not a mapping or its type is not a string.
            ValueError: if ``"type"`` is missing or unknown, a required key is missing, or a
                key is not an argument of the builder (typos such as ``num_clases``).
        """
        if not isinstance(cfg, Mapping):
            raise TypeError(
                f"cfg for {self.name} must be a dict with a 'type' key, got {type(cfg).__name__}"
            )
        if "type" not in cfg:
            raise ValueError(f"cfg for {self.name} has no 'type' key; got keys {sorted(cfg)}")
        kwargs = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "type"}
        builder = self.get(cfg["type"])
        name = f"{self.name} type {cfg['type']!r}"
        params = inspect.signature(builder).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        named = {
            k: p
            for k, p in params.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }
        for key, value in default_args.items():
            if key not in kwargs and (takes_any or key in named):
                kwargs[key] = value
        if not takes_any:
            unknown = sorted(set(kwargs) - set(named))
            if unknown:
                raise ValueError(
                    f"{name} got unexpected key(s) {unknown}{_close(unknown[0], named)}; "
                    f"accepted keys: {sorted(named)}"
                )
        missing = [k for k, p in named.items() if p.default is p.empty and k not in kwargs]
        if missing:
            raise ValueError(f"{name} is missing required key(s) {missing}")
        return builder(**kwargs)


BACKBONES = Registry("BACKBONES")
NECKS = Registry("NECKS")
RPN_HEADS = Registry("RPN_HEADS")
ROI_HEADS = Registry("ROI_HEADS")
DETECTORS = Registry("DETECTORS")


# ----------------------------------------------------------------------------- configs


def merge_config(base: Mapping, override: Mapping) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (MMDetection's ``_base_`` rule).

    Dicts merge key by key; any other value (lists included) replaces the base value. A dict in
    ``override`` with ``_delete_=True`` replaces the base dict instead of merging into it.

    Raises:
        TypeError: if either argument is not a mapping.

    Example:
        >>> base = dict(model=dict(type="A", depth=18, neck=dict(type="FPN", out_channels=64)))
        >>> merge_config(base, dict(model=dict(depth=34, neck=dict(_delete_=True, type="X"))))
        {'model': {'type': 'A', 'depth': 34, 'neck': {'type': 'X'}}}
    """
    for arg, value in (("base", base), ("override", override)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg} must be a dict, got {type(value).__name__}")
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping):
            value = dict(value)
            if value.pop("_delete_", False) or not isinstance(out.get(key), Mapping):
                out[key] = merge_config({}, value)
            else:
                out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path) -> dict:
    """Load a config from a ``.py``, ``.yaml``/``.yml`` or ``.json`` file, resolving ``_base_``.

    A ``.py`` config is run and its top-level names that do not start with ``_`` (modules and
    functions excepted) form the dict. ``_base_`` (a path or a list of paths, relative to the
    file) names configs that are loaded first and merged in order; this file's keys are merged
    on top with :func:`merge_config`.

    Raises:
        FileNotFoundError: if the file (or a base) does not exist.
        ValueError: for another suffix, a file that is not a dict, or a ``_base_`` cycle.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "base.yaml").write_text("model: {type: A, depth: 18}\\n")
        >>> _ = (d / "child.py").write_text("_base_ = 'base.yaml'\\nmodel = dict(depth=34)\\n")
        >>> load_config(d / "child.py")
        {'model': {'type': 'A', 'depth': 34}}
    """
    return _load(Path(path), ())


def _load(path: Path, seen: tuple[Path, ...]) -> dict:
    path = path.resolve()
    if path in seen:
        raise ValueError(f"_base_ cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".py":
        ns = runpy.run_path(str(path))
        raw = {
            k: v
            for k, v in ns.items()
            if (not k.startswith("_") or k == "_base_")
            and not inspect.ismodule(v)
            and not inspect.isfunction(v)
            and not inspect.isclass(v)
        }
    elif suffix in (".yaml", ".yml"):
        import yaml

        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    elif suffix == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
    else:
        raise ValueError(f"path must end in .py, .yaml, .yml or .json, got {path.name!r}")
    if not isinstance(raw, dict):
        raise ValueError(f"config {path.name} must hold a dict, got {type(raw).__name__}")
    bases = raw.pop("_base_", [])
    bases = [bases] if isinstance(bases, (str, Path)) else list(bases)
    merged: dict = {}
    for base in bases:
        merged = merge_config(merged, _load(path.parent / base, (*seen, path)))
    return merge_config(merged, raw)


def config_to_str(cfg: Mapping) -> str:
    """Pretty-print a config (keys in their written order), as a toolbox prints it before training.

    Example:
        >>> print(config_to_str(dict(type="ResNet", depth=18)))
        {'type': 'ResNet', 'depth': 18}
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be a dict, got {type(cfg).__name__}")
    return pprint.pformat(dict(cfg), sort_dicts=False, width=100)


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters of a ``torch.nn.Module`` (only those with ``requires_grad`` if asked).

    Example:
        >>> import torch
        >>> count_parameters(torch.nn.Linear(3, 2))
        8
    """
    if not hasattr(model, "parameters"):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# ----------------------------------------------------------------------------- backbones


def _norm_layer(norm: str):
    import torch
    from torchvision.ops import FrozenBatchNorm2d

    if norm == "BN":
        return torch.nn.BatchNorm2d
    if norm == "FrozenBN":
        return FrozenBatchNorm2d
    if norm == "GN":
        return lambda c: torch.nn.GroupNorm(min(32, c // 4) or 1, c)
    raise ValueError(f"norm must be 'BN', 'GN' or 'FrozenBN', got {norm!r}")


def _check_out_indices(out_indices, n_stages: int) -> tuple[int, ...]:
    idx = tuple(int(i) for i in out_indices)
    if not idx or list(idx) != sorted(set(idx)) or idx[0] < 0 or idx[-1] >= n_stages:
        raise ValueError(
            f"out_indices must be increasing stage indices in 0..{n_stages - 1}, got {out_indices!r}"
        )
    return idx


def _backbone_module():
    import torch

    class MultiStageBackbone(torch.nn.Module):
        """Runs ``stem`` then ``stages``; returns the chosen stage outputs as ``{"0": ..., ...}``."""

        def __init__(self, stem, stages, channels, strides, out_indices, frozen_stages=-1):
            super().__init__()
            self.stem = stem
            self.stages = torch.nn.ModuleList(stages)
            self.out_indices = out_indices
            self.out_channels_list = [channels[i] for i in out_indices]
            self.strides = [strides[i] for i in out_indices]
            # freeze the stem and stages 0..frozen_stages (as MMDetection's ``frozen_stages``)
            frozen = [stem, *self.stages[: frozen_stages + 1]] if frozen_stages >= 0 else []
            for module in frozen:
                for p in module.parameters():
                    p.requires_grad_(False)

        def forward(self, x):
            out = OrderedDict()
            x = self.stem(x)
            for i, stage in enumerate(self.stages):
                x = stage(x)
                if i in self.out_indices:
                    out[str(len(out))] = x
                if i == self.out_indices[-1]:
                    break
            return out

    return MultiStageBackbone


@BACKBONES.register()
def ResNet(
    depth: int, out_indices: Sequence[int] = (0, 1, 2, 3), norm: str = "BN", frozen_stages: int = -1
):
    """A torchvision ResNet (random init) cut into its stem and four stages (strides 4..32).

    Args:
        depth: 18, 34 or 50.
        out_indices: which stages to return (0 = ``layer1``, stride 4 ... 3 = ``layer4``, 32).
        norm: ``"BN"``, ``"GN"`` (group norm) or ``"FrozenBN"`` (for pretrained weights).
        frozen_stages: freeze the stem and stages ``0..frozen_stages`` (-1: train everything).

    Example:
        >>> import torch
        >>> net = BACKBONES.build(dict(type="ResNet", depth=18, out_indices=(1, 3)))
        >>> net.out_channels_list, net.strides
        ([128, 512], [8, 32])
        >>> {k: tuple(v.shape) for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
        {'0': (1, 128, 8, 8), '1': (1, 512, 2, 2)}
    """
    import torch
    import torchvision

    builders = {
        18: torchvision.models.resnet18,
        34: torchvision.models.resnet34,
        50: torchvision.models.resnet50,
    }
    if depth not in builders:
        raise ValueError(f"depth must be one of {sorted(builders)}, got {depth!r}")
    idx = _check_out_indices(out_indices, 4)
    net = builders[depth](weights=None, norm_layer=_norm_layer(norm))
    stem = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    stages = [net.layer1, net.layer2, net.layer3, net.layer4]
    width = 1 if depth < 50 else 4
    channels = [64 * width, 128 * width, 256 * width, 512 * width]
    return _backbone_module()(stem, stages, channels, [4, 8, 16, 32], idx, frozen_stages)


@BACKBONES.register()
def MobileNetV3(
    arch: str = "large",
    out_indices: Sequence[int] = (2, 3),
    norm: str = "BN",
    frozen_stages: int = -1,
):
    """torchvision's MobileNetV3 (random init) cut at its strides 4, 8, 16 and 32 (stages 0..3).

    Args:
        arch: ``"large"`` or ``"small"``.
        out_indices: which stages to return (0 = stride 4 ... 3 = stride 32, the last 1x1 conv).
        norm: ``"BN"``, ``"GN"`` or ``"FrozenBN"``.
        frozen_stages: freeze the stem and stages ``0..frozen_stages``.

    Example:
        >>> net = BACKBONES.build(dict(type="MobileNetV3", arch="small", out_indices=(3,)))
        >>> net.out_channels_list, net.strides
        ([576], [32])
    """
    import torch
    import torchvision

    if arch not in ("large", "small"):
        raise ValueError(f"arch must be 'large' or 'small', got {arch!r}")
    idx = _check_out_indices(out_indices, 4)
    build = (
        torchvision.models.mobilenet_v3_large
        if arch == "large"
        else torchvision.models.mobilenet_v3_small
    )
    features = build(weights=None, norm_layer=_norm_layer(norm)).features
    # feature blocks where the stride reaches 4, 8, 16 and 32 (the first block is the stem)
    cuts = (1, 4, 7, 13, 17) if arch == "large" else (1, 2, 4, 9, 13)
    stages = [torch.nn.Sequential(*features[a:b]) for a, b in itertools.pairwise(cuts)]
    channels = [stage[-1].out_channels for stage in stages]
    return _backbone_module()(features[0], stages, channels, [4, 8, 16, 32], idx, frozen_stages)


@BACKBONES.register()
def TinyNet(
    widths: Sequence[int] = (32, 64, 128, 256),
    out_indices: Sequence[int] = (0, 1, 2, 3),
    norm: str = "BN",
    frozen_stages: int = -1,
):
    """A small plain CNN (two 3x3 conv-norm-ReLU per stage) with strides 4, 8, 16, 32.

    Trains from scratch on the 128-px shapes images in CPU minutes, where a ResNet-18 needs a GPU.

    Args:
        widths: channels of the four stages (the stem has ``widths[0]``).
        out_indices: which stages to return (0 = stride 4 ... 3 = stride 32).
        norm: ``"BN"``, ``"GN"`` or ``"FrozenBN"``.
        frozen_stages: freeze the stem and stages ``0..frozen_stages``.

    Example:
        >>> net = BACKBONES.build(dict(type="TinyNet", widths=(8, 16, 32, 64)))
        >>> net.out_channels_list, net.strides
        ([8, 16, 32, 64], [4, 8, 16, 32])
    """
    import torch

    widths = [int(w) for w in widths]
    if len(widths) != 4 or min(widths) < 1:
        raise ValueError(f"widths must be 4 positive ints, got {widths!r}")
    idx = _check_out_indices(out_indices, 4)
    make_norm = _norm_layer(norm)

    def conv(cin, cout, stride):
        return torch.nn.Sequential(
            torch.nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            make_norm(cout),
            torch.nn.ReLU(inplace=True),
        )

    stem = conv(3, widths[0], 2)
    cins = [widths[0], *widths[:-1]]
    stages = [torch.nn.Sequential(conv(ci, co, 2), conv(co, co, 1)) for ci, co in zip(cins, widths)]
    return _backbone_module()(stem, stages, widths, [4, 8, 16, 32], idx, frozen_stages)


# ----------------------------------------------------------------------------- necks


@NECKS.register("FPN")
def FPNNeck(in_channels: Sequence[int], out_channels: int = 256, extra_pool: bool = True):
    """The Feature Pyramid Network of :mod:`dlcv_utils.models.fpn`; ``in_channels`` come from the backbone.

    Example:
        >>> NECKS.build(dict(type="FPN", out_channels=8), in_channels=[16, 32]).out_channels
        8
    """
    from dlcv_utils.models.fpn import FPN

    return FPN(list(in_channels), out_channels, extra_pool=extra_pool)


def _with_neck_module():
    import torch

    class BackboneWithNeck(torch.nn.Module):
        """Backbone followed by an optional neck; what torchvision detectors call ``backbone``.

        Attributes:
            out_channels: channels of every output level (torchvision's heads need one number).
            featmap_names: names of the levels the RoI head pools from (all but ``"pool"``).
            num_levels: number of output levels (the RPN needs one anchor size tuple per level).
        """

        def __init__(self, body, neck=None):
            super().__init__()
            self.body = body
            self.neck = neck
            if neck is None:
                chans = set(body.out_channels_list)
                if len(chans) != 1:
                    raise ValueError(
                        "without a neck every backbone level must have the same channels (the "
                        f"heads are shared across levels), got {body.out_channels_list}; "
                        "return one level (e.g. out_indices=(3,)) or add neck=dict(type='FPN')"
                    )
                self.out_channels = body.out_channels_list[0]
                n = len(body.out_channels_list)
                extra = False
            else:
                self.out_channels = neck.out_channels
                n = len(body.out_channels_list)
                extra = bool(getattr(neck, "extra_pool", False))
            self.featmap_names = [str(i) for i in range(n)]
            self.num_levels = n + int(extra)

        def forward(self, x):
            feats = self.body(x)
            return feats if self.neck is None else self.neck(feats)

    return BackboneWithNeck


# ----------------------------------------------------------------------------- heads


@RPN_HEADS.register()
def RPNHead(
    in_channels: int,
    num_levels: int,
    anchor_sizes: Sequence[Sequence[float]],
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    conv_depth: int = 1,
    pre_nms_top_n_train: int = 2000,
    pre_nms_top_n_test: int = 1000,
    post_nms_top_n_train: int = 2000,
    post_nms_top_n_test: int = 1000,
    nms_thresh: float = 0.7,
    fg_iou_thresh: float = 0.7,
    bg_iou_thresh: float = 0.3,
    batch_size_per_image: int = 256,
    positive_fraction: float = 0.5,
):
    """torchvision's region proposal network: one head shared by all levels + its anchors.

    ``in_channels`` and ``num_levels`` are filled in by the detector from its backbone/neck.
    ``anchor_sizes`` has one tuple of sizes (pixels) per level; ``aspect_ratios`` are shared.

    Example:
        >>> rpn = RPN_HEADS.build(dict(type="RPNHead", anchor_sizes=[[32]]), in_channels=8, num_levels=1)
        >>> rpn.anchor_generator.num_anchors_per_location()
        [3]
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.models.detection.rpn import RPNHead as TVRPNHead

    sizes = tuple(tuple(float(s) for s in level) for level in anchor_sizes)
    if len(sizes) != num_levels:
        raise ValueError(
            f"anchor_sizes must have one tuple per feature level ({num_levels} levels), "
            f"got {len(sizes)}: {anchor_sizes!r}"
        )
    if len({len(s) for s in sizes}) != 1:
        raise ValueError(
            f"anchor_sizes must have the same number of sizes per level, got {anchor_sizes!r}"
        )
    ratios = (tuple(float(r) for r in aspect_ratios),) * num_levels
    anchors = AnchorGenerator(sizes, ratios)
    head = TVRPNHead(in_channels, anchors.num_anchors_per_location()[0], conv_depth=conv_depth)
    return RegionProposalNetwork(
        anchors,
        head,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        dict(training=pre_nms_top_n_train, testing=pre_nms_top_n_test),
        dict(training=post_nms_top_n_train, testing=post_nms_top_n_test),
        nms_thresh,
    )


@ROI_HEADS.register()
def StandardRoIHead(
    in_channels: int,
    featmap_names: Sequence[str],
    num_classes: int,
    roi_output_size: int = 7,
    sampling_ratio: int = 2,
    canonical_scale: int = 224,
    representation_size: int = 1024,
    fg_iou_thresh: float = 0.5,
    bg_iou_thresh: float = 0.5,
    batch_size_per_image: int = 512,
    positive_fraction: float = 0.25,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
):
    """RoIAlign over the pyramid + a two-layer MLP + class scores and per-class box deltas.

    ``num_classes`` counts object classes only (MMDetection's convention); the predictor gets
    ``num_classes + 1`` outputs, index 0 being background (torchvision's convention).
    An RoI of side ``s`` pools from pyramid level ``floor(4 + log2(s / canonical_scale))``
    (clamped to the levels there are; eq. 1 of the FPN paper).

    Example:
        >>> roi = ROI_HEADS.build(dict(type="StandardRoIHead", num_classes=5, representation_size=32),
        ...                       in_channels=8, featmap_names=["0"])
        >>> roi.box_predictor.cls_score.out_features
        6
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.roi_heads import RoIHeads
    from torchvision.ops import MultiScaleRoIAlign

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive int (object classes, no background), got {num_classes!r}"
        )
    pool = MultiScaleRoIAlign(
        list(featmap_names),
        output_size=roi_output_size,
        sampling_ratio=sampling_ratio,
        canonical_scale=canonical_scale,
    )
    head = TwoMLPHead(in_channels * roi_output_size**2, representation_size)
    predictor = FastRCNNPredictor(representation_size, num_classes + 1)
    return RoIHeads(
        pool,
        head,
        predictor,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        None,
        score_thresh,
        nms_thresh,
        detections_per_img,
    )


# ----------------------------------------------------------------------------- detectors


@DETECTORS.register("FasterRCNN")
def FasterRCNNDetector(
    backbone: Mapping,
    rpn_head: Mapping,
    roi_head: Mapping,
    neck: Mapping | None = None,
    data_preprocessor: Mapping | None = None,
):
    """Assemble a torchvision ``FasterRCNN`` from the configs of its parts (built recursively).

    ``data_preprocessor`` holds torchvision's ``GeneralizedRCNNTransform`` arguments
    (``min_size``, ``max_size``, ``image_mean``, ``image_std``).
    """
    from torchvision.models.detection import FasterRCNN

    body = BACKBONES.build(backbone)
    neck_module = None if neck is None else NECKS.build(neck, in_channels=body.out_channels_list)
    features = _with_neck_module()(body, neck_module)
    rpn = RPN_HEADS.build(
        rpn_head, in_channels=features.out_channels, num_levels=features.num_levels
    )
    roi = ROI_HEADS.build(
        roi_head, in_channels=features.out_channels, featmap_names=features.featmap_names
    )
    pre = dict(min_size=800, max_size=1333)
    pre.update(data_preprocessor or {})
    model = FasterRCNN(
        features,
        num_classes=None,
        rpn_anchor_generator=rpn.anchor_generator,
        rpn_head=rpn.head,
        box_roi_pool=roi.box_roi_pool,
        box_head=roi.box_head,
        box_predictor=roi.box_predictor,
        **pre,
    )
    model.rpn, model.roi_heads = rpn, roi  # keep every threshold the configs set
    return model


def build_detector(cfg: Mapping):
    """Build a detector from its config (``DETECTORS.build``); accepts ``dict(model=...)`` too.

    Raises:
        TypeError / ValueError: as :meth:`Registry.build`, from whichever block is wrong.

    Example:
        >>> import torch
        >>> model = build_detector(get_config("faster_rcnn_r18_fpn")).eval()
        >>> type(model).__name__
        'FasterRCNN'
        >>> with torch.no_grad():
        ...     out = model([torch.rand(3, 64, 64)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
    """
    if isinstance(cfg, Mapping) and "model" in cfg and "type" not in cfg:
        cfg = cfg["model"]
    return DETECTORS.build(cfg)


#: Ready-made configs (``get_config(name)`` returns a deep copy). Sizes suit 128-px shapes images.
CONFIGS: dict[str, dict] = {
    # ResNet-18, all four stages, FPN neck with the extra "pool" level: 5 levels, strides 4..64
    "faster_rcnn_r18_fpn": dict(
        type="FasterRCNN",
        data_preprocessor=dict(min_size=128, max_size=128),
        backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), norm="BN"),
        neck=dict(type="FPN", out_channels=64, extra_pool=True),
        rpn_head=dict(
            type="RPNHead",
            anchor_sizes=((8,), (16,), (32,), (64,), (128,)),
            aspect_ratios=(0.5, 1.0, 2.0),
            pre_nms_top_n_train=600,
            pre_nms_top_n_test=300,
            post_nms_top_n_train=300,
            post_nms_top_n_test=100,
        ),
        roi_head=dict(
            type="StandardRoIHead",
            num_classes=5,
            representation_size=256,
            batch_size_per_image=128,
        ),
    ),
    # the same detector on a small plain CNN: what trains from scratch in CPU minutes
    "faster_rcnn_tiny_fpn": dict(
        type="FasterRCNN",
        data_preprocessor=dict(min_size=128, max_size=128),
        backbone=dict(type="TinyNet", widths=(32, 64, 128, 256), out_indices=(0, 1, 2, 3)),
        neck=dict(type="FPN", out_channels=64, extra_pool=True),
        rpn_head=dict(
            type="RPNHead",
            anchor_sizes=((8,), (16,), (32,), (64,), (128,)),
            aspect_ratios=(0.5, 1.0, 2.0),
            pre_nms_top_n_train=300,
            pre_nms_top_n_test=300,
            post_nms_top_n_train=200,
            post_nms_top_n_test=100,
        ),
        roi_head=dict(
            type="StandardRoIHead",
            num_classes=5,
            representation_size=256,
            batch_size_per_image=64,
            sampling_ratio=1,  # RoIAlign's backward is the slowest op on a CPU
        ),
    ),
    # MobileNetV3-large, no neck: a single stride-16 map, as in the original (C4) Faster R-CNN
    "faster_rcnn_mnv3_c4": dict(
        type="FasterRCNN",
        data_preprocessor=dict(min_size=128, max_size=128),
        backbone=dict(type="MobileNetV3", arch="large", out_indices=(2,), norm="BN"),
        neck=None,
        rpn_head=dict(
            type="RPNHead",
            anchor_sizes=((16, 32, 64),),
            aspect_ratios=(0.5, 1.0, 2.0),
            pre_nms_top_n_train=600,
            pre_nms_top_n_test=300,
            post_nms_top_n_train=300,
            post_nms_top_n_test=100,
        ),
        roi_head=dict(
            type="StandardRoIHead",
            num_classes=5,
            representation_size=256,
            batch_size_per_image=128,
        ),
    ),
}


def get_config(name: str) -> dict:
    """Return a deep copy of the ready-made config ``name`` (see :data:`CONFIGS`).

    Raises:
        ValueError: for an unknown name; the message lists the known ones.

    Example:
        >>> get_config("faster_rcnn_r18_fpn")["neck"]["type"]
        'FPN'
    """
    if name not in CONFIGS:
        raise ValueError(
            f"unknown config {name!r}{_close(str(name), CONFIGS)}; available: {sorted(CONFIGS)}"
        )
    return copy.deepcopy(CONFIGS[name])
