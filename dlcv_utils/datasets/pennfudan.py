"""The Penn-Fudan pedestrian dataset as a torch ``Dataset`` with torchvision-style targets.

The Penn-Fudan Database for Pedestrian Detection and Segmentation (170 street photos, 345
pedestrians; ``download("pennfudan", root)`` fetches it) is laid out as::

    PennFudanPed/
        PNGImages/FudanPed00001.png          the photos (RGB)
        PedMasks/FudanPed00001_mask.png      instance masks: pixel value k = pedestrian k, 0 = background
        Annotation/FudanPed00001.txt         text annotations (not needed: boxes come from the masks)

Each item is ``(image, target)`` like :class:`~dlcv_utils.datasets.torch_dataset.DetectionDataset`:
``image`` a ``tv_tensors.Image`` (uint8, ``3 x H x W``) and ``target`` a dict with ``boxes``
(``tv_tensors.BoundingBoxes`` ``[N, 4]`` xyxy, float32), ``labels`` (int64, all ``1`` = person),
``masks`` (``tv_tensors.Mask`` ``[N, H, W]`` uint8), ``image_id`` (int, the index), ``area``
(float32 box areas) and ``iscrowd`` (int64 zeros).

Boxes are the pixel-edge boxes of the masks, in the course's convention (no ``+1``): a mask whose
pixels span columns ``c0..c1`` and rows ``r0..r1`` gets the box ``(c0, r0, c1 + 1, r1 + 1)``, so a
filled rectangle of ``w x h`` pixels has area ``w * h``. (torchvision's ``masks_to_boxes`` returns
``(c0, r0, c1, r1)``, the coordinates of the last pixels, one less on the right and bottom.)

Taught in lesson 05 (fine-tuning a COCO-pretrained Faster R-CNN on real photos).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["PennFudanDataset", "mask_to_instances"]

_IMAGES = "PNGImages"
_MASKS = "PedMasks"
_MASK_SUFFIX = "_mask"
_LAYOUT = (
    "the PennFudanPed folder (holding PNGImages/ and PedMasks/), or a folder containing "
    "PennFudanPed/ (what download('pennfudan', root) returns)"
)


def mask_to_instances(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split an instance-id mask into per-instance binary masks and their pixel-edge boxes.

    Args:
        mask: ``[H, W]`` integer array; ``0`` is background, every other value one instance.

    Returns:
        ``(ids, masks, boxes)``: ``ids`` ``[N]`` int64 (sorted instance ids), ``masks``
        ``[N, H, W]`` uint8 (0/1) and ``boxes`` ``[N, 4]`` float32 xyxy with exclusive right and
        bottom edges (``x2 = last column + 1``). An all-zero mask gives ``N = 0``.

    Raises:
        ValueError: ``mask`` is not 2-D, or holds negative values.

    Example:
        >>> m = np.zeros((4, 6), np.uint8)
        >>> m[1:3, 2:5] = 7  # rows 1-2, columns 2-4
        >>> ids, masks, boxes = mask_to_instances(m)
        >>> ids.tolist(), masks.shape, boxes.tolist()
        ([7], (1, 4, 6), [[2.0, 1.0, 5.0, 3.0]])
        >>> mask_to_instances(np.zeros((4, 6), np.uint8))[2].shape
        (0, 4)
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D [H, W] array of instance ids, got shape {mask.shape}")
    if not np.issubdtype(mask.dtype, np.integer) and mask.dtype != bool:
        raise ValueError(f"mask must hold integer instance ids, got dtype {mask.dtype}")
    mask = mask.astype(np.int64)
    if mask.size and mask.min() < 0:
        raise ValueError(f"mask must not hold negative instance ids, got min {mask.min()}")
    ids = np.unique(mask)
    ids = ids[ids != 0]
    masks = (mask[None] == ids[:, None, None]).astype(np.uint8)  # [N, H, W]
    boxes = np.zeros((len(ids), 4), np.float32)
    for i, m in enumerate(masks):
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        boxes[i] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return ids, masks, boxes


def _find_base(root: Path) -> Path:
    if not root.exists():
        raise FileNotFoundError(f"root {str(root)!r} does not exist; expected {_LAYOUT}")
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a folder; expected {_LAYOUT}")
    for base in (root, root / "PennFudanPed"):
        if (base / _IMAGES).is_dir() and (base / _MASKS).is_dir():
            return base
    missing = [d for d in (_IMAGES, _MASKS) if not (root / d).is_dir()]
    raise ValueError(
        f"root {str(root)!r} is not in the PennFudan layout: no {' or '.join(missing)} folder "
        f"there nor in {str(root / 'PennFudanPed')!r}; expected {_LAYOUT}"
    )


def _read_mask(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("P", "L", "I", "I;16", "1"):
            raise ValueError(
                f"{path}: a PennFudan mask must be a single-channel image of instance ids "
                f"(mode 'P' or 'L'), got mode {im.mode!r}"
            )
        return np.asarray(im).astype(np.int64)


class PennFudanDataset(Dataset):
    """Penn-Fudan pedestrians, one class (``1`` = person), boxes from the instance masks.

    Args:
        root: the ``PennFudanPed`` folder, or a folder containing it (e.g. the path returned by
            ``download("pennfudan", root)``).
        transforms: optional callable ``(image, target) -> (image, target)``, e.g. a
            ``torchvision.transforms.v2.Compose``; the tv_tensors move boxes and masks with the
            image.

    Attributes:
        root: the ``PennFudanPed`` folder found.
        ids: image stems in sorted order (``"FudanPed00001"``, ...); item ``i`` is ``ids[i]``.
        classes: ``["person"]``; label ``i`` (1-based) is ``classes[i - 1]``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: ``root`` is not in the PennFudan layout, holds no images, or a mask has no
            image (or an image no mask); raised when the dataset is built. A mask that is not
            single-channel or whose size differs from its image raises when its item is read.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> base = Path(tempfile.mkdtemp()) / "PennFudanPed"
        >>> for d in ("PNGImages", "PedMasks"):
        ...     (base / d).mkdir(parents=True)
        >>> Image.new("RGB", (8, 6)).save(base / "PNGImages" / "a.png")
        >>> m = np.zeros((6, 8), np.uint8); m[1:5, 2:4] = 1  # rows 1-4, columns 2-3
        >>> Image.fromarray(m).save(base / "PedMasks" / "a_mask.png")
        >>> image, target = PennFudanDataset(base.parent)[0]
        >>> tuple(image.shape), target["boxes"].tolist(), target["labels"].tolist()
        ((3, 6, 8), [[2.0, 1.0, 4.0, 5.0]], [1])
        >>> target["area"].tolist(), tuple(target["masks"].shape)
        ([8.0], (1, 6, 8))
    """

    def __init__(self, root: str | os.PathLike, transforms=None):
        if transforms is not None and not callable(transforms):
            raise TypeError(
                "transforms must be None or a callable (image, target) -> (image, target), "
                f"got {type(transforms).__name__}"
            )
        self.root = _find_base(Path(root))
        self.classes = ["person"]
        self.transforms = transforms
        images = {
            p.stem: p
            for p in (self.root / _IMAGES).iterdir()
            if p.is_file() and p.suffix.lower() == ".png"
        }
        masks = {}
        for p in (self.root / _MASKS).iterdir():
            if p.is_file() and p.suffix.lower() == ".png" and p.stem.endswith(_MASK_SUFFIX):
                masks[p.stem[: -len(_MASK_SUFFIX)]] = p
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise ValueError(
                f"{len(orphans)} mask(s) in {self.root / _MASKS} have no image in "
                f"{self.root / _IMAGES}, e.g. {masks[orphans[0]].name} (expected "
                f"{_IMAGES}/{orphans[0]}.png)"
            )
        unmasked = sorted(set(images) - set(masks))
        if unmasked:
            raise ValueError(
                f"{len(unmasked)} image(s) in {self.root / _IMAGES} have no mask in "
                f"{self.root / _MASKS}, e.g. {images[unmasked[0]].name} (expected "
                f"{_MASKS}/{unmasked[0]}{_MASK_SUFFIX}.png)"
            )
        if not images:
            raise ValueError(f"no .png images in {self.root / _IMAGES}")
        self.ids = sorted(images)
        self._images = images
        self._masks = masks

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> Path:
        """Path of the photo of item ``index``."""
        return self._images[self.ids[index]]

    def mask_path(self, index: int) -> Path:
        """Path of the instance mask of item ``index``."""
        return self._masks[self.ids[index]]

    def __getitem__(self, index: int):
        from PIL import Image
        from torchvision import tv_tensors

        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index = int(index) % len(self)
        with Image.open(self.image_path(index)) as im:
            arr = np.asarray(im.convert("RGB"))
        mask = _read_mask(self.mask_path(index))
        h, w = arr.shape[:2]
        if mask.shape != (h, w):
            raise ValueError(
                f"{self.mask_path(index)}: mask is {mask.shape[1]} x {mask.shape[0]} but its "
                f"image {self.image_path(index).name} is {w} x {h}"
            )
        _, masks, boxes = mask_to_instances(mask)
        boxes_t = torch.from_numpy(boxes).reshape(-1, 4)
        n = len(boxes_t)
        image = tv_tensors.Image(torch.from_numpy(arr.copy()).permute(2, 0, 1))
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes_t, format="XYXY", canvas_size=(h, w)),
            "labels": torch.ones(n, dtype=torch.int64),
            "masks": tv_tensors.Mask(torch.from_numpy(masks)),
            "image_id": index,
            "area": (boxes_t[:, 2] - boxes_t[:, 0]) * (boxes_t[:, 3] - boxes_t[:, 1]),
            "iscrowd": torch.zeros(n, dtype=torch.int64),
        }
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, images={len(self)})"
