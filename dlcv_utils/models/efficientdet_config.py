"""Config-driven EfficientDet, the PyTorch way of google/automl's ``hparams``; released weights.

google/automl trains EfficientDet on a custom dataset with ``main.py --model_name=efficientdet-d0
--hparams="num_classes=...,image_size=..."`` (or a YAML file): a default ``hparams`` object,
updated by the model's row of ``efficientdet_model_param_dict`` (chosen by the name, i.e. by
``phi``), then by the user's overrides. :class:`EfficientDetHparams` is that object as a frozen
dataclass with the same field names; :meth:`EfficientDetHparams.override` parses the same
``"key=value,key=value"`` strings and :func:`build_from_hparams` builds the detector.

:func:`pretrained_efficientdet` loads Ross Wightman's PyTorch port of the released checkpoints
(the ``effdet`` package: ``tf_efficientdet_d0`` ... ``d7``, COCO-trained) through torch's hub
cache; offline and uncached it raises
:class:`~dlcv_utils.models.faster_rcnn.WeightsUnavailableError` quickly.

Taught in lesson 12.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcv_utils.models.efficientdet import EFFICIENTDET_TABLE, Scaling, build_efficientdet
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError

__all__ = [
    "EFFDET_MODELS",
    "EfficientDetHparams",
    "build_from_hparams",
    "effdet_weights_file",
    "import_effdet",
    "pretrained_efficientdet",
]

#: effdet model names with released COCO weights (the TensorFlow checkpoints, ported).
EFFDET_MODELS = tuple(f"tf_efficientdet_d{phi}" for phi in range(8))


@dataclass(frozen=True)
class EfficientDetHparams:
    """google/automl's hparams that choose and train an EfficientDet (same names).

    ``image_size``, ``fpn_num_filters``, ``fpn_cell_repeats`` and ``box_class_repeats`` left
    ``None`` come from the model's row of the paper's table (:meth:`scaling`), chosen by
    ``name`` (``"efficientdet-d<phi>"``). ``backbone_widths``/``backbone_depths`` are the
    course's addition: the small MBConv backbone trained from scratch (automl loads an
    ImageNet EfficientNet-B``phi``).

    Example:
        >>> h = EfficientDetHparams().override("num_classes=6,image_size=128,fpn_num_filters=32")
        >>> h.phi, h.num_classes, h.scaling()[1:5]
        (0, 6, (128, 32, 3, 3))
    """

    name: str = "efficientdet-d0"
    num_classes: int = 90
    image_size: int | None = None
    fpn_num_filters: int | None = None
    fpn_cell_repeats: int | None = None
    box_class_repeats: int | None = None
    min_level: int = 3
    max_level: int = 7
    num_scales: int = 3
    anchor_scale: float = 4.0
    learning_rate: float = 0.08
    num_epochs: int = 300
    train_batch_size: int = 64
    backbone_widths: tuple[int, ...] = (16, 24, 40, 80)
    backbone_depths: tuple[int, ...] = (1, 1, 2, 2)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"efficientdet-d[0-7]", self.name):
            raise ValueError(
                f"name must be 'efficientdet-d0' ... 'efficientdet-d7', got {self.name!r}"
            )
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int):
            raise TypeError(f"num_classes must be an int, got {self.num_classes!r}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    @property
    def phi(self) -> int:
        """The compound coefficient, from ``name``."""
        return int(self.name[-1])

    def scaling(self) -> Scaling:
        """The model's row of the paper's table with this config's overrides applied."""
        row = EFFICIENTDET_TABLE[self.phi]
        return row._replace(
            image_size=self.image_size or row.image_size,
            width=self.fpn_num_filters or row.width,
            bifpn_layers=self.fpn_cell_repeats or row.bifpn_layers,
            head_layers=self.box_class_repeats or row.head_layers,
        )

    def override(self, overrides: str | dict[str, Any]) -> EfficientDetHparams:
        """A copy with ``overrides`` applied: ``"a=1,b=x"`` (automl's ``--hparams``) or a dict.

        Values are parsed by the field's type (``int``, ``float``, ``str``; tuples as ``1:2:3``).

        Raises:
            ValueError: an unknown key, a malformed item or a value of the wrong type.
        """
        if isinstance(overrides, str):
            items = {}
            for part in filter(None, (p.strip() for p in overrides.split(","))):
                key, sep, value = part.partition("=")
                if not sep:
                    raise ValueError(f"overrides must be 'key=value' items, got {part!r}")
                items[key.strip()] = value.strip()
        elif isinstance(overrides, dict):
            items = dict(overrides)
        else:
            raise TypeError(f"overrides must be a str or a dict, got {type(overrides).__name__}")
        fields = {f.name: f for f in dataclasses.fields(self)}
        parsed = {}
        for key, value in items.items():
            if key not in fields:
                raise ValueError(f"unknown hparam {key!r}; known: {sorted(fields)}")
            parsed[key] = _parse(key, value, getattr(self, key))
        return dataclasses.replace(self, **parsed)


def _parse(key: str, value: Any, current: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if key in ("backbone_widths", "backbone_depths"):
            return tuple(int(v) for v in value.split(":"))
        if key == "name":
            return value
        if isinstance(current, float) or key in ("anchor_scale", "learning_rate"):
            return float(value)
        return int(value)
    except ValueError:
        raise ValueError(f"hparam {key} got a value of the wrong type: {value!r}") from None


def build_from_hparams(hparams: EfficientDetHparams) -> nn.Module:
    """The detector :class:`EfficientDetHparams` describes (random init, torchvision's
    ``RetinaNet`` from :func:`~dlcv_utils.models.efficientdet.build_efficientdet`).

    ``num_classes`` counts the real classes, as in automl's hparams; torchvision's detectors
    want one more (label 0 = background), added here.

    Example:
        >>> h = EfficientDetHparams().override("num_classes=3,image_size=64,fpn_num_filters=16")
        >>> model = build_from_hparams(h.override("max_level=6"))
        >>> model.head.classification_head.num_classes, model.transform.min_size
        (4, (64,))
    """
    if not isinstance(hparams, EfficientDetHparams):
        raise TypeError(f"hparams must be EfficientDetHparams, got {type(hparams).__name__}")
    s = hparams.scaling()
    return build_efficientdet(
        hparams.num_classes + 1,
        image_size=s.image_size,
        width=s.width,
        bifpn_layers=s.bifpn_layers,
        head_layers=s.head_layers,
        backbone_widths=hparams.backbone_widths,
        backbone_depths=hparams.backbone_depths,
        min_level=hparams.min_level,
        max_level=hparams.max_level,
        anchor_scale=hparams.anchor_scale,
        num_scales=hparams.num_scales,
    )


# ----------------------------------------------------------------------------- effdet
def _can_reach(url: str, timeout: float) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except Exception:
        return False


def import_effdet():
    """Import the ``effdet`` package, silencing the ``torch.jit.script`` deprecation it triggers.

    Raises:
        ImportError: ``effdet`` is not installed (``pip install effdet``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        import effdet
        import effdet.efficientdet

    return effdet


def _check_name(name: Any) -> str:
    if name not in EFFDET_MODELS:
        raise ValueError(f"name must be one of {list(EFFDET_MODELS)}, got {name!r}")
    return name


def effdet_weights_file(name: str = "tf_efficientdet_d0") -> Path:
    """Where torch's hub cache keeps (or would keep) effdet's released weights for ``name``.

    Example:
        >>> effdet_weights_file().name
        'tf_efficientdet_d0_34-f153e0cf.pth'
    """
    url = _weights_url(_check_name(name))
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _weights_url(name: str) -> str:
    effdet = import_effdet()
    return effdet.get_efficientdet_config(name).url


def pretrained_efficientdet(
    name: str = "tf_efficientdet_d0",
    *,
    num_classes: int | None = None,
    allow_download: bool = True,
    timeout: float = 5.0,
) -> nn.Module:
    """effdet's COCO-trained EfficientDet ``name`` (e.g. ``"tf_efficientdet_d0"``), eval mode.

    The weights come from torch's hub cache (:func:`effdet_weights_file`) or, if absent and
    ``allow_download``, from effdet's release URL (15 MB for D0; works on Colab). With
    ``num_classes`` the class net is replaced by a fresh one for that many classes (automl's
    ``num_classes`` without the background), ready for fine-tuning.

    Returns:
        effdet's ``EfficientDet`` module (outputs per-level class and box maps; wrap it in
        ``effdet.DetBenchPredict`` for boxes, or ``DetBenchTrain`` for training).

    Raises:
        ValueError: unknown ``name``.
        WeightsUnavailableError: not cached and not downloadable, or a broken file.
    """
    _check_name(name)
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"num_classes must be an int >= 1 or None, got {num_classes!r}")
    effdet = import_effdet()
    path = effdet_weights_file(name)
    url = _weights_url(name)
    if not path.is_file():
        if not allow_download:
            raise WeightsUnavailableError(
                f"weights for {name} are not in the torch cache ({path}) and allow_download=False"
            )
        if not _can_reach(url, timeout):
            raise WeightsUnavailableError(
                f"cannot download the weights for {name} from {url} (offline?) and they are "
                f"not cached at {path}"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = effdet.create_model(name, pretrained=True, num_classes=num_classes)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise WeightsUnavailableError(f"could not load the weights for {name}: {exc}") from exc
    return model.eval()
