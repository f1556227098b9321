"""Box-aware data augmentation with ``torchvision.transforms.v2`` (lesson 04).

A geometric transform that moves the pixels must move the boxes with them: flip an image and a
box at ``x1..x2`` now lies at ``W - x2 .. W - x1``. ``torchvision.transforms.v2`` does this for
every ``tv_tensors.BoundingBoxes`` in a sample, with the *same* random parameters as the image.
Afterwards some boxes may be degenerate (squeezed to nothing or pushed off the canvas):
``SanitizeBoundingBoxes`` removes them together with their labels (and every other per-box
entry of the target), so labels stay aligned with boxes.

* :func:`box_augmentation` builds the random transform (flip, photometric distortion, a mild
  affine zoom/shift, optionally a rotation);
* :class:`BoxAugment` applies it to an ``(image, target)`` pair, optionally together with more
  boxes (e.g. precomputed region proposals, which move like the objects), then sanitizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from dlcv_utils.validation import check_number, check_probability

__all__ = ["BoxAugment", "box_augmentation"]


def box_augmentation(
    *,
    hflip: float = 0.5,
    photometric: float = 0.5,
    scale: tuple[float, float] = (0.8, 1.2),
    translate: float = 0.1,
    degrees: float = 0.0,
):
    """A random ``torchvision.transforms.v2`` pipeline for detection samples.

    Steps (each skipped when switched off): ``RandomHorizontalFlip(hflip)``,
    ``RandomPhotometricDistort(p=photometric)`` (brightness, contrast, saturation, hue, channel
    order: boxes unchanged), ``RandomAffine`` (zoom by a factor in ``scale``, shift by up to
    ``translate`` of the image size, rotate by up to ``degrees``; the canvas size is kept),
    then ``ClampBoundingBoxes``. Degenerate boxes are removed by :class:`BoxAugment`.

    Args:
        hflip: probability of a horizontal flip.
        photometric: probability of each photometric distortion (0: off).
        scale: ``(low, high)`` zoom factors, ``0 < low <= high`` (``(1, 1)``: no zoom).
        translate: largest shift as a fraction of the image width/height, in ``[0, 1)``.
        degrees: largest rotation in degrees, ``>= 0`` (the box of a rotated box is looser).

    Returns:
        A ``torchvision.transforms.v2.Compose``.

    Raises:
        ValueError / TypeError: an argument out of its range, naming it.

    Example:
        >>> t = box_augmentation(photometric=0.0, scale=(1.0, 1.0), translate=0.0)
        >>> [type(s).__name__ for s in t.transforms]
        ['RandomHorizontalFlip', 'ClampBoundingBoxes']
    """
    from torchvision.transforms import v2

    hflip = check_probability(hflip, "hflip")
    photometric = check_probability(photometric, "photometric")
    if isinstance(scale, (str, bytes)) or not isinstance(scale, Sequence) or len(scale) != 2:
        raise TypeError(f"scale must be a (low, high) pair, got {scale!r}")
    low = check_number(scale[0], "scale[0]", low=0.0, low_open=True)
    high = check_number(scale[1], "scale[1]", low=low)
    translate = check_number(translate, "translate", 0.0, 1.0, high_open=True)
    degrees = check_number(degrees, "degrees", low=0.0, high=180.0)
    steps: list[Any] = []
    if hflip > 0:
        steps.append(v2.RandomHorizontalFlip(hflip))
    if photometric > 0:
        steps.append(v2.RandomPhotometricDistort(p=photometric))
    if (low, high) != (1.0, 1.0) or translate > 0 or degrees > 0:
        steps.append(
            v2.RandomAffine(degrees=degrees, translate=(translate, translate), scale=(low, high))
        )
    steps.append(v2.ClampBoundingBoxes())
    return v2.Compose(steps)


def _per_box_keys(target: dict, n: int) -> list[str]:
    """Keys of ``target`` holding one entry per box (labels, area, iscrowd, ...), masks aside."""
    from torchvision import tv_tensors

    return [
        k
        for k, v in target.items()
        if k != "boxes"
        and isinstance(v, torch.Tensor)
        and not isinstance(v, (tv_tensors.BoundingBoxes, tv_tensors.Mask))
        and v.ndim >= 1
        and v.shape[0] == n
    ]


class BoxAugment:
    """Apply a v2 transform to ``(image, target)`` and keep the target consistent.

    ``target["boxes"]`` (``Tensor[N, 4]`` xyxy, or a ``tv_tensors.BoundingBoxes``) is wrapped as
    ``BoundingBoxes`` on the image's canvas, transformed with the image, and sanitized: boxes
    narrower or lower than ``min_size`` pixels (or with an area under ``min_size**2``) are
    dropped with their ``labels`` and every other per-box entry (``area``, ``iscrowd``,
    ``masks``). ``area`` is rescaled by each box's change of area. The input is not modified.

    Args:
        transform: a ``torchvision.transforms.v2`` transform, e.g. :func:`box_augmentation`.
        min_size: smallest box side kept, in pixels (``>= 1``).

    Example:
        >>> from torchvision.transforms import v2
        >>> flip = BoxAugment(v2.RandomHorizontalFlip(p=1.0))
        >>> image = torch.zeros(3, 8, 10)
        >>> target = {"boxes": torch.tensor([[1.0, 2.0, 4.0, 6.0]]), "labels": torch.tensor([3])}
        >>> img, tgt = flip(image, target)
        >>> tgt["boxes"].tolist(), tgt["labels"].tolist()  # x: 10 - 4, 10 - 1
        ([[6.0, 2.0, 9.0, 6.0]], [3])
    """

    def __init__(self, transform, min_size: float = 2.0) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.transform = transform
        self.min_size = check_number(min_size, "min_size", low=1.0)

    def __repr__(self) -> str:
        return f"BoxAugment({self.transform!r}, min_size={self.min_size:g})"

    def __call__(self, image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
        """The augmented ``(image, target)``."""
        image, target, _ = self.apply(image, target)
        return image, target

    def apply(
        self, image: torch.Tensor, target: dict, extra_boxes: Sequence[torch.Tensor] = ()
    ) -> tuple[torch.Tensor, dict, list[torch.Tensor]]:
        """Augment ``image`` and ``target`` and move ``extra_boxes`` the same way.

        Args:
            image: ``Tensor[C, H, W]``.
            target: a dict with ``boxes`` ``Tensor[N, 4]`` xyxy and per-box entries
                (``labels`` ``Tensor[N]``, ...).
            extra_boxes: more ``Tensor[M, 4]`` xyxy box sets on the same image (e.g. region
                proposals); they get the same random transform and lose their degenerate boxes.

        Returns:
            ``(image, target, extra)``: ``extra`` the transformed box sets (plain tensors).

        Raises:
            TypeError / ValueError: a malformed image, target or box set.
        """
        from torchvision import tv_tensors
        from torchvision.transforms import v2

        if not isinstance(image, torch.Tensor) or image.ndim != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"image must be a C x H x W tensor, got {shape}")
        if not isinstance(target, dict) or "boxes" not in target:
            raise TypeError("target must be a dict with a 'boxes' entry")
        canvas = tuple(image.shape[-2:])
        boxes = torch.as_tensor(target["boxes"]).as_subclass(torch.Tensor)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"target['boxes'] must be N x 4 xyxy, got {tuple(boxes.shape)}")
        n = boxes.shape[0]
        keys = _per_box_keys(target, n)
        if "labels" in target and "labels" not in keys:
            raise ValueError(
                f"target['labels'] must hold one label per box ({n}), got "
                f"{tuple(torch.as_tensor(target['labels']).shape)}"
            )
        extra = []
        for i, b in enumerate(extra_boxes):
            b = torch.as_tensor(b).as_subclass(torch.Tensor)
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"extra_boxes[{i}] must be M x 4 xyxy, got {tuple(b.shape)}")
            extra.append(tv_tensors.BoundingBoxes(b.float(), format="XYXY", canvas_size=canvas))

        sample = dict(target)
        sample["boxes"] = tv_tensors.BoundingBoxes(boxes.float(), format="XYXY", canvas_size=canvas)
        before = boxes[:, 2:].sub(boxes[:, :2]).prod(1)
        if not isinstance(image, tv_tensors.Image):
            image = tv_tensors.Image(image)
        image, sample, extra = self.transform(image, sample, extra)

        size = self.min_size
        sanitize = v2.SanitizeBoundingBoxes(
            min_size=size,
            min_area=size * size,
            labels_getter=lambda inputs: tuple(inputs[k] for k in [*keys, "_before"]),
        )
        sample["_before"] = before
        sample = sanitize(sample)
        before = sample.pop("_before")
        if "area" in keys:
            after = sample["boxes"][:, 2:].sub(sample["boxes"][:, :2]).prod(1)
            ratio = after.as_subclass(torch.Tensor) / before.clamp(min=1e-12)
            sample["area"] = sample["area"] * ratio.to(sample["area"].dtype)
        drop = v2.SanitizeBoundingBoxes(min_size=size, min_area=size * size, labels_getter=None)
        extra = [drop(b).as_subclass(torch.Tensor) for b in extra]
        return image, sample, extra
