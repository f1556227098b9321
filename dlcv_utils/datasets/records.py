"""The in-memory annotation record every format reader returns and every writer takes.

One convention everywhere: ``bbox`` is ``(x1, y1, x2, y2)`` in absolute pixel coordinates,
floats, with ``0 <= x1 < x2 <= width`` and ``0 <= y1 < y2 <= height`` (no ``+1`` pixel).
Labels are class *names*; a class list maps names to ids where a format needs ids.

Taught in lesson 02 (OpenCV and datasets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ObjectAnn:
    """One annotated object.

    Attributes:
        label: class name, e.g. ``"person"``.
        bbox: ``(x1, y1, x2, y2)`` absolute pixels, floats.
        difficult: VOC ``difficult`` flag (ignored by VOC evaluation).
        truncated: VOC ``truncated`` flag.
        iscrowd: COCO ``iscrowd`` flag.
        segmentation: COCO polygon list ``[[x, y, x, y, ...], ...]``, an RLE dict, or ``None``.
        area: COCO ``area`` (mask area when a mask exists); ``None`` means "box area".
    """

    label: str
    bbox: tuple[float, float, float, float]
    difficult: bool = False
    truncated: bool = False
    iscrowd: bool = False
    segmentation: list[list[float]] | dict[str, Any] | None = None
    area: float | None = None


@dataclass
class ImageAnn:
    """All annotations of one image.

    Attributes:
        file_name: image file name, relative to the images folder.
        width: image width in pixels.
        height: image height in pixels.
        objects: the annotated objects.
        image_id: integer id (COCO); ``None`` when the format has none.
    """

    file_name: str
    width: int
    height: int
    objects: list[ObjectAnn] = field(default_factory=list)
    image_id: int | None = None
