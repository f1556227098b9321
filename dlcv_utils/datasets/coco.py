"""COCO: one ``instances`` JSON file per split, and the COCO folder layout.

COCO stores a float ``bbox = [x, y, w, h]`` with ``(x, y)`` the top-left corner, continuous
coordinates: ``(x, y, x + w, y + h)``.

Layout::

    root/images/<split>/<file>   root/annotations/instances_<split>.json

Every value is checked while reading: ids must be integers (not ``true``), sizes positive
whole numbers, boxes finite numbers, masks safe for pycocotools; each error names the file and
the entry.

Taught in lesson 02.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path
from typing import Any

from dlcv_utils.datasets._common import (
    box_area_xyxy,
    check_box,
    check_label,
    check_size,
    finite_number,
    read_text,
)
from dlcv_utils.datasets._io import atomic_write_text, dumps_json
from dlcv_utils.datasets._paths import check_name, resolve_inside
from dlcv_utils.datasets.masks import check_segmentation, compress_rle, segmentation_area
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "annotation_path",
    "coco_losses",
    "find_splits",
    "image_dir",
    "read_coco",
    "read_coco_dict",
    "read_json",
    "read_split",
    "split_files",
    "to_coco_dict",
    "write_coco",
]


def read_json(json_path: str | os.PathLike) -> Any:
    """Load a JSON file; malformed, truncated or non-UTF-8 JSON raises ``ValueError``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.json"
        >>> _ = p.write_text('{"images": [1, 2')
        >>> read_json(p)
        Traceback (most recent call last):
        ...
        ValueError: ...t.json: malformed or truncated JSON at line 1, column 17: ...
    """
    json_path = Path(json_path)
    if not json_path.is_file():
        raise FileNotFoundError(f"json_path: no such file: {json_path}")
    text = read_text(json_path, "JSON file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{json_path}: malformed or truncated JSON at line {err.lineno}, column {err.colno}: "
            f"{err.msg}"
        ) from err
    except RecursionError:
        raise ValueError(f"{json_path}: JSON nested too deeply") from None


def _id(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{where}: id must be an integer, got {value!r}")
    return int(value)


def _entry(item, where: str) -> dict:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: must be a JSON object, got {item!r}")
    return item


def read_coco_dict(data: dict, source: str = "<coco>") -> tuple[list[ImageAnn], list[str]]:
    """Turn an already-loaded COCO dict into ``(records, classes)`` (see :func:`read_coco`).

    Example:
        >>> d = {"images": [{"id": 7, "file_name": "a.jpg", "width": 10, "height": 8}],
        ...      "categories": [{"id": 1, "name": "cat"}],
        ...      "annotations": [{"id": 1, "image_id": 7, "category_id": 1,
        ...                       "bbox": [1, 2, 3, 4], "iscrowd": 0, "area": 12}]}
        >>> recs, classes = read_coco_dict(d)
        >>> recs[0].objects[0].bbox, classes
        ((1.0, 2.0, 4.0, 6.0), ['cat'])
        >>> d["categories"] = [{"name": "cat"}]
        >>> read_coco_dict(d, "c.json")
        Traceback (most recent call last):
        ...
        ValueError: c.json: categories[0]: missing key 'id'
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: top level must be a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"{source}: missing key {key!r}")
        if not isinstance(data[key], list):
            raise ValueError(f"{source}: {key!r} must be a list, got {type(data[key]).__name__}")
    cat_name: dict[int, str] = {}
    for i, c in enumerate(data["categories"]):
        where = f"{source}: categories[{i}]"
        c = _entry(c, where)
        for key in ("id", "name"):
            if key not in c:
                raise ValueError(f"{where}: missing key {key!r}")
        cid = _id(c["id"], where)
        if cid in cat_name:
            raise ValueError(f"{source}: duplicate category id {cid}")
        cat_name[cid] = check_label(c["name"], f"{where} (id {cid})")
    records: dict[int, ImageAnn] = {}
    for i, im in enumerate(data["images"]):
        where = f"{source}: images[{i}]"
        im = _entry(im, where)
        for key in ("id", "file_name", "width", "height"):
            if key not in im:
                raise ValueError(f"{where} missing key {key!r}")
        iid = _id(im["id"], where)
        if iid in records:
            raise ValueError(f"{where} duplicate image id {iid}")
        where = f"{where} (id {iid})"
        check_name(im["file_name"], what=f"images[{i}] file_name", file=source)
        width, height = check_size(im["width"], im["height"], where)
        records[iid] = ImageAnn(
            file_name=im["file_name"], width=width, height=height, objects=[], image_id=iid
        )
    seen_ann = set()
    for i, ann in enumerate(data["annotations"]):
        where = f"{source}: annotations[{i}]"
        ann = _entry(ann, where)
        for key in ("id", "image_id", "category_id", "bbox"):
            if key not in ann:
                raise ValueError(f"{where} missing key {key!r}")
        aid = _id(ann["id"], where)
        if aid in seen_ann:
            raise ValueError(f"{source}: duplicate annotation id {aid}")
        seen_ann.add(aid)
        where = f"{where} (id {aid})"
        image_id = _id(ann["image_id"], f"{where} image_id")
        category_id = _id(ann["category_id"], f"{where} category_id")
        if image_id not in records:
            raise ValueError(f"{where} points at image_id {image_id}, which is not in 'images'")
        if category_id not in cat_name:
            raise ValueError(f"{where} has unknown category_id {category_id}")
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise ValueError(f"{where} bbox must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = (finite_number(v, f"{where} bbox") for v in bbox)
        if not (math.isfinite(x + w) and math.isfinite(y + h)):
            raise ValueError(f"{where} bbox {bbox!r}: x + w or y + h overflows")
        rec = records[image_id]
        seg = ann.get("segmentation") or None
        if seg is not None:
            check_segmentation(seg, rec.height, rec.width, f"{where} segmentation")
        area = None
        if "area" in ann:
            area = finite_number(ann["area"], f"{where} area")
        rec.objects.append(
            ObjectAnn(
                label=cat_name[category_id],
                bbox=(x, y, x + w, y + h),
                iscrowd=bool(ann.get("iscrowd", 0)),
                segmentation=seg,
                area=area,
            )
        )
    return list(records.values()), [cat_name[c] for c in sorted(cat_name)]


def read_coco(json_path: str | os.PathLike) -> tuple[list[ImageAnn], list[str]]:
    """Read a COCO ``instances`` JSON file.

    Returns:
        ``(records, classes)``: one :class:`ImageAnn` per entry of ``images`` (in file order,
        ``image_id`` kept) and the category names sorted by category id. Labels are names, so
        category ids are renumbered ``1..K`` if the file is written back with
        :func:`write_coco`.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed/truncated/non-UTF-8 JSON (with line/column), a missing key, an
            id that is not an integer, duplicate ids, an annotation pointing at a missing image
            id or an unknown category, a size that is not a positive whole number, a box or
            area that is not a finite number, an unsafe ``file_name`` or mask.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.json"
        >>> rec = ImageAnn("a.jpg", 10, 8, [ObjectAnn("cat", (1, 2, 4, 6))], image_id=3)
        >>> write_coco([rec], p, classes=["cat", "dog"])
        >>> recs, classes = read_coco(p)
        >>> recs[0].image_id, recs[0].objects[0].bbox, recs[0].objects[0].area, classes
        (3, (1.0, 2.0, 4.0, 6.0), 12.0, ['cat', 'dog'])
    """
    return read_coco_dict(read_json(json_path), source=str(json_path))


def to_coco_dict(records: list[ImageAnn], classes: list[str]) -> dict:
    """Build the COCO dict for ``records`` (what :func:`write_coco` serialises).

    Image ids: ``record.image_id`` when set, else the 1-based position. Annotation ids run
    ``1..N``. Category ids are ``1..K`` in ``classes`` order. ``area`` is the record's area,
    else the mask area when there is a segmentation, else the box area. Masks are checked
    (:func:`~dlcv_utils.datasets.masks.check_segmentation`) before pycocotools sees them.

    Example:
        >>> d = to_coco_dict([ImageAnn("a.png", 4, 4, [ObjectAnn("b", (0, 0, 2, 1))])], ["a", "b"])
        >>> d["annotations"][0]["bbox"], d["annotations"][0]["category_id"], d["images"][0]["id"]
        ([0.0, 0.0, 2.0, 1.0], 2, 1)
    """
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be unique, got {classes}")
    for c in classes:
        check_label(c, "classes")
    cat_id = {name: i + 1 for i, name in enumerate(classes)}
    images, annotations = [], []
    seen_ids = set()
    for idx, rec in enumerate(records):
        where = f"records: {rec.file_name!r}"
        check_name(rec.file_name, file="records")
        if rec.image_id is not None:
            image_id = _id(rec.image_id, f"{where} image_id")
        else:
            image_id = idx + 1
        if image_id in seen_ids:
            raise ValueError(f"records: duplicate image_id {image_id} ({rec.file_name})")
        seen_ids.add(image_id)
        width, height = check_size(rec.width, rec.height, where)
        images.append(
            {"id": image_id, "file_name": rec.file_name, "width": width, "height": height}
        )
        for i, obj in enumerate(rec.objects):
            owhere = f"{where} object {i}"
            if obj.label not in cat_id:
                raise ValueError(
                    f"records: {rec.file_name} has label {obj.label!r} not in classes {classes}"
                )
            x1, y1, x2, y2 = check_box(obj.bbox, owhere)
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat_id[obj.label],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "iscrowd": int(bool(obj.iscrowd)),
            }
            if obj.segmentation is not None:
                seg_where = f"{owhere} segmentation"
                ann["segmentation"] = compress_rle(obj.segmentation, height, width, seg_where)
            else:
                ann["segmentation"] = []
            if obj.area is not None:
                ann["area"] = finite_number(obj.area, f"{owhere} area")
            elif obj.segmentation is not None:
                ann["area"] = segmentation_area(obj.segmentation, height, width)
            else:
                ann["area"] = box_area_xyxy((x1, y1, x2, y2))
            if not all(math.isfinite(v) for v in ann["bbox"]):  # w = x2 - x1 can overflow
                raise ValueError(f"{owhere}: non-finite bbox {ann['bbox']}")
            annotations.append(ann)
    categories = [{"id": cat_id[n], "name": n, "supercategory": "object"} for n in classes]
    return {
        "info": {"description": "written by dlcv_utils.datasets"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(records: list[ImageAnn], json_path: str | os.PathLike, classes: list[str]) -> None:
    """Write ``records`` as one COCO ``instances`` JSON file (atomically, sorted keys).

    See :func:`to_coco_dict` for the id rules. The same input gives byte-identical files.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.json"
        >>> seg = [[1, 1, 5, 1, 5, 5, 1, 5]]
        >>> write_coco([ImageAnn("a.png", 8, 8, [ObjectAnn("sq", (1, 1, 5, 5), segmentation=seg)])],
        ...            p, ["sq"])
        >>> read_coco(p)[0][0].objects[0].area
        16.0
    """
    atomic_write_text(json_path, dumps_json(to_coco_dict(records, classes)) + "\n")


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def image_dir(root: str | os.PathLike, split: str) -> Path:
    """``root/images/<split>``."""
    return Path(root) / "images" / split


def annotation_path(root: str | os.PathLike, split: str, file_name: str = "") -> Path:
    """``root/annotations/instances_<split>.json``."""
    return Path(root) / "annotations" / f"instances_{split}.json"


def find_splits(root: str | os.PathLike) -> list[str]:
    """Split names of ``root/annotations/instances_*.json``."""
    return sorted(
        p.stem[len("instances_") :] for p in (Path(root) / "annotations").glob("instances_*.json")
    )


def read_split(root: str | os.PathLike, split: str) -> tuple[list[ImageAnn], list[str]]:
    """Read the COCO split ``split``; every ``file_name`` must stay in the images folder."""
    path = annotation_path(root, split)
    if not path.is_file():
        raise FileNotFoundError(f"no COCO split {split!r}: {path} does not exist")
    records, classes = read_coco(path)
    for i, rec in enumerate(records):
        resolve_inside(image_dir(root, split), rec.file_name, what=f"images[{i}] file_name",
                       file=path)  # fmt: skip
    return records, classes


def split_files(
    records: list[ImageAnn], classes: list[str], split: str, root: Path
) -> tuple[dict[str, bytes], set[str], list[str]]:
    """The split's JSON file: ``({relative path: bytes}, shared paths, losses)``."""
    text = dumps_json(to_coco_dict(records, classes)) + "\n"
    losses = [line for rec in records for line in coco_losses(rec)]
    return {f"annotations/instances_{split}.json": text.encode("utf-8")}, set(), losses


def coco_losses(record: ImageAnn) -> list[str]:
    """What COCO cannot hold of ``record`` (difficult, truncated).

    Example:
        >>> coco_losses(ImageAnn("a.png", 9, 9, [ObjectAnn("x", (0, 0, 1, 1), truncated=True)]))
        ['a.png object 0: COCO cannot hold truncated=1 (dropped)']
    """
    out = []
    for i, o in enumerate(record.objects):
        for name, val in (("difficult", o.difficult), ("truncated", o.truncated)):
            if val:
                out.append(f"{record.file_name} object {i}: COCO cannot hold {name}=1 (dropped)")
    return out
