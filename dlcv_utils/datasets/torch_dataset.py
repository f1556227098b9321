"""torch ``Dataset`` classes over the VOC, COCO and YOLO layouts, torchvision-style targets.

Each item is ``(image, target)``: ``image`` a ``tv_tensors.Image`` (uint8, ``3 x H x W``) and
``target`` a dict with

* ``boxes``: ``tv_tensors.BoundingBoxes`` in ``XYXY`` with ``canvas_size=(H, W)``, float32;
* ``labels``: int64 class indices ``1..K`` (``0`` is the background, as torchvision's detection
  models expect); ``dataset.classes[label - 1]`` is the name;
* ``image_id`` (int), ``area`` (float32), ``iscrowd`` (int64);
* ``masks``: ``tv_tensors.Mask`` ``N x H x W`` uint8, only with ``return_masks=True``.

Because the boxes and masks are tv_tensors, ``torchvision.transforms.v2`` moves them together
with the image (flip, resize, crop...). Batch with :func:`collate_fn`.

Taught in lesson 02 (used from lesson 05 on).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dlcv_utils.datasets._common import box_area_xyxy
from dlcv_utils.datasets._paths import resolve_inside
from dlcv_utils.datasets.layout import read_dataset
from dlcv_utils.datasets.masks import segmentation_to_mask
from dlcv_utils.datasets.shapes import collate_fn  # one definition, re-exported here
from dlcv_utils.datasets.table import FORMATS, check_fmt

__all__ = [
    "COCODetectionDataset",
    "DetectionDataset",
    "VOCDetectionDataset",
    "YOLODetectionDataset",
    "collate_fn",
]


class DetectionDataset(Dataset):
    """A detection dataset read from a VOC, COCO or YOLO folder (see the module docstring).

    Args:
        root: dataset root in the layout of :mod:`dlcv_utils.datasets.layout`.
        fmt: ``"voc"``, ``"coco"`` or ``"yolo"``.
        split: which split to load.
        transforms: optional callable ``(image, target) -> (image, target)``, e.g. a
            ``torchvision.transforms.v2.Compose``.
        return_masks: add ``target["masks"]``, decoded from the COCO segmentations; an object
            without a segmentation (or a VOC/YOLO dataset) gets its filled box as mask.
        image_dir: folder holding the images, when it is not the layout's (e.g. the official
            COCO download: ``COCODetectionDataset(root, "val2017", image_dir=root / "val2017")``).

    Attributes:
        records: the :class:`~dlcv_utils.datasets.records.ImageAnn` of each image.
        classes: class names; label ``i`` (1-based) is ``classes[i - 1]``.
        class_to_idx: ``{name: label}``.

    Example:
        >>> import tempfile, numpy as np
        >>> from dlcv_utils.datasets import ImageAnn, ObjectAnn, write_dataset
        >>> root = tempfile.mkdtemp()
        >>> recs = [ImageAnn("a.png", 8, 6, [ObjectAnn("dog", (1, 1, 5, 4))])]
        >>> _ = write_dataset(recs, root, "coco", classes=["cat", "dog"],
        ...                   images=[np.zeros((6, 8, 3), np.uint8)])
        >>> ds = DetectionDataset(root, "coco", "train")
        >>> img, target = ds[0]
        >>> tuple(img.shape), target["boxes"].tolist(), target["labels"].tolist(), ds.class_to_idx
        ((3, 6, 8), [[1.0, 1.0, 5.0, 4.0]], [2], {'cat': 1, 'dog': 2})
    """

    def __init__(
        self,
        root: str | os.PathLike,
        fmt: str,
        split: str = "train",
        transforms=None,
        return_masks: bool = False,
        image_dir: str | os.PathLike | None = None,
    ):
        self.root = Path(root)
        self.image_dir = Path(image_dir) if image_dir is not None else None
        self.fmt = check_fmt(fmt).name
        self.split = split
        self.transforms = transforms
        self.return_masks = bool(return_masks)
        self.records, classes = read_dataset(self.root, self.fmt, split)
        self._layout_image_dir = FORMATS[self.fmt].image_dir(self.root, split)
        self.classes = list(classes)
        self.class_to_idx = {name: i + 1 for i, name in enumerate(self.classes)}
        for rec in self.records:
            for obj in rec.objects:
                if obj.label not in self.class_to_idx:
                    raise ValueError(
                        f"{rec.file_name}: label {obj.label!r} is not in classes {self.classes}"
                    )

    def __len__(self) -> int:
        return len(self.records)

    def image_path(self, index: int) -> Path:
        """Path of the image of item ``index``."""
        folder = self.image_dir if self.image_dir is not None else self._layout_image_dir
        return resolve_inside(folder, self.records[index].file_name, what="file_name")

    def __getitem__(self, index: int):
        from PIL import Image
        from torchvision import tv_tensors

        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index = index % len(self)
        rec = self.records[index]
        path = self.image_path(index)
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
        h, w = arr.shape[:2]
        if (w, h) != (rec.width, rec.height):
            raise ValueError(
                f"{path}: image is {w} x {h} but its annotation says {rec.width} x {rec.height}"
            )
        image = tv_tensors.Image(torch.from_numpy(arr.copy()).permute(2, 0, 1))
        objs = rec.objects
        boxes = torch.tensor([list(o.bbox) for o in objs], dtype=torch.float32).reshape(-1, 4)
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)),
            "labels": torch.tensor([self.class_to_idx[o.label] for o in objs], dtype=torch.int64),
            "image_id": int(rec.image_id) if rec.image_id is not None else index,
            "area": torch.tensor(
                [o.area if o.area is not None else box_area_xyxy(o.bbox) for o in objs],
                dtype=torch.float32,
            ),
            "iscrowd": torch.tensor([int(o.iscrowd) for o in objs], dtype=torch.int64),
        }
        if self.return_masks:
            masks = np.zeros((len(objs), h, w), np.uint8)
            for i, o in enumerate(objs):
                if o.segmentation is not None:
                    masks[i] = segmentation_to_mask(o.segmentation, h, w)
                else:
                    x1, y1, x2, y2 = o.bbox
                    masks[i, int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = 1
            target["masks"] = tv_tensors.Mask(torch.from_numpy(masks))
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, fmt={self.fmt!r}, "
            f"split={self.split!r}, images={len(self)}, classes={len(self.classes)})"
        )


class VOCDetectionDataset(DetectionDataset):
    """:class:`DetectionDataset` over a VOC layout (``JPEGImages``, ``Annotations``...)."""

    def __init__(self, root, split="train", transforms=None, return_masks=False, image_dir=None):
        super().__init__(root, "voc", split, transforms, return_masks, image_dir)


class COCODetectionDataset(DetectionDataset):
    """:class:`DetectionDataset` over a COCO layout (``annotations/instances_<split>.json``)."""

    def __init__(self, root, split="train", transforms=None, return_masks=False, image_dir=None):
        super().__init__(root, "coco", split, transforms, return_masks, image_dir)


class YOLODetectionDataset(DetectionDataset):
    """:class:`DetectionDataset` over a YOLO layout (``labels/<split>``, ``data.yaml``)."""

    def __init__(self, root, split="train", transforms=None, return_masks=False, image_dir=None):
        super().__init__(root, "yolo", split, transforms, return_masks, image_dir)
