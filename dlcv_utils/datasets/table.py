"""The format table: one entry per annotation format, looked up instead of ``if fmt == ...``.

Each :class:`FormatSpec` bundles what the layout, conversion and validation code needs for one
format: where images and annotations live, which splits a folder holds, how to read a split,
which annotation files a split is written as, and how to validate one file or a folder.

Example:
    >>> sorted(FORMATS)
    ['coco', 'openimages', 'voc', 'yolo']
    >>> FORMATS["voc"].image_dir("d", "train").as_posix()
    'd/JPEGImages'

Taught in lesson 02.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlcv_utils.datasets import _validators, coco, openimages, voc, yolo

__all__ = ["FORMATS", "FORMAT_NAMES", "FormatSpec", "check_fmt"]


@dataclass(frozen=True)
class FormatSpec:
    """What the generic code needs to know about one format.

    Attributes:
        name: ``"voc"``, ``"coco"``, ``"yolo"`` or ``"openimages"``.
        image_dir: ``(root, split) -> Path`` of the split's image folder.
        annotation_path: ``(root, split, file_name) -> Path`` of an image's annotation file
            (COCO: the split's JSON).
        find_splits: ``(root) -> list[str]``.
        read_split: ``(root, split) -> (records, classes)``, paths checked against the root.
        split_files: ``(records, classes, split, root) -> (files, shared, losses)``: the
            annotation files of one split as ``{relative path: bytes}``, the relative paths
            shared between splits (merged, e.g. ``classes.txt``), and what was dropped.
        validate_file: ``(path, report, repair, **kw)`` checks one annotation file.
        validate_dir: ``(root, split, report, repair, check_images)`` checks a folder.
        images_template: where writers put a split's images, relative to the root
            (``{split}`` is replaced).
        read_split_losses: ``(root, split) -> (records, classes, losses)`` for a format that
            holds fields the records cannot (Open Images' ``IsOccluded``...): :func:`convert`
            reports them; ``None`` when reading loses nothing.
    """

    name: str
    image_dir: Callable
    annotation_path: Callable
    find_splits: Callable
    read_split: Callable
    split_files: Callable
    validate_file: Callable
    validate_dir: Callable
    images_template: str
    read_split_losses: Callable | None = None


FORMATS: dict[str, FormatSpec] = {
    "voc": FormatSpec(
        "voc",
        voc.image_dir,
        voc.annotation_path,
        voc.find_splits,
        voc.read_split,
        voc.split_files,
        _validators.validate_voc_file,
        _validators.validate_voc_dir,
        "JPEGImages",
    ),
    "coco": FormatSpec(
        "coco",
        coco.image_dir,
        coco.annotation_path,
        coco.find_splits,
        coco.read_split,
        coco.split_files,
        _validators.validate_coco_file,
        _validators.validate_coco_dir,
        "images/{split}",
    ),
    "yolo": FormatSpec(
        "yolo",
        yolo.image_dir,
        yolo.annotation_path,
        yolo.find_splits,
        yolo.read_split,
        yolo.split_files,
        _validators.validate_yolo_file,
        _validators.validate_yolo_dir,
        "images/{split}",
    ),
    "openimages": FormatSpec(
        "openimages",
        openimages.image_dir,
        openimages.annotation_path,
        openimages.find_splits,
        openimages.read_split,
        openimages.split_files,
        openimages.validate_openimages_file,
        openimages.validate_openimages_dir,
        "{split}",
        openimages.read_split_losses,
    ),
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def check_fmt(fmt, name: str = "fmt") -> FormatSpec:
    """The :class:`FormatSpec` of ``fmt`` (case-insensitive); anything else raises.

    Example:
        >>> check_fmt("VOC").name
        'voc'
        >>> check_fmt("kitti")
        Traceback (most recent call last):
        ...
        ValueError: fmt must be one of ('voc', 'coco', 'yolo', 'openimages'), got 'kitti'
    """
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise ValueError(f"{name} must be one of {FORMAT_NAMES}, got {fmt!r}")
    return FORMATS[fmt.lower()]
