"""Read and write one annotation file in PASCAL VOC XML, COCO JSON and YOLO txt.

All readers return, and all writers take, the records of :mod:`dlcv_utils.datasets.records`
(``bbox`` = ``(x1, y1, x2, y2)`` absolute pixels, labels are class names).

Coordinate conventions of the three formats, and what we do with them:

* **VOC** stores 1-based, inclusive *pixel indices* ``xmin..xmax``. The pixel with index
  ``xmin`` covers the continuous interval ``[xmin - 1, xmin]``, so the box is
  ``(xmin - 1, ymin - 1, xmax, ymax)`` in our continuous convention (the same rule as
  Detectron2). :func:`write_voc` adds the 1 back. Whole numbers are written as integers.
* **COCO** stores a float ``bbox = [x, y, w, h]`` with ``(x, y)`` the top-left corner, continuous
  coordinates: ``(x, y, x + w, y + h)``.
* **YOLO** stores one line ``class cx cy w h`` per object, normalised by the image width/height,
  class ids 0-based in the order of ``data.yaml``'s ``names``.

XML is parsed with :mod:`defusedxml`: files with entity declarations (the "billion laughs"
entity expansion) or external entities are refused with a :class:`ValueError`.

Taught in lesson 02.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from dlcv_utils.datasets._io import atomic_write_text, dumps_json
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "FormatLossWarning",
    "box_area_xyxy",
    "mask_to_rle",
    "parse_xml",
    "read_coco",
    "read_coco_dict",
    "read_data_yaml",
    "read_json",
    "read_voc",
    "read_yolo",
    "segmentation_area",
    "segmentation_bbox",
    "segmentation_to_mask",
    "to_coco_dict",
    "write_coco",
    "write_data_yaml",
    "write_voc",
    "write_yolo",
]


class FormatLossWarning(UserWarning):
    """Warned when a target format cannot hold some annotation (e.g. masks in YOLO)."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def box_area_xyxy(bbox) -> float:
    """Area of one ``(x1, y1, x2, y2)`` box (0 for an empty box).

    Example:
        >>> box_area_xyxy((1.0, 2.0, 4.0, 6.0))
        12.0
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def _num(value: float) -> str:
    """Short deterministic text for a coordinate: integers stay integers, else 3 decimals."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _rle_for(segmentation, height: int, width: int) -> dict:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        if not segmentation:
            raise ValueError("segmentation must not be an empty polygon list")
        rles = mask_utils.frPyObjects([list(map(float, p)) for p in segmentation], height, width)
        return mask_utils.merge(rles)
    if isinstance(segmentation, dict):
        if isinstance(segmentation.get("counts"), list):  # uncompressed RLE
            return mask_utils.frPyObjects(segmentation, height, width)
        rle = dict(segmentation)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
        return rle
    raise TypeError(
        f"segmentation must be a polygon list or an RLE dict, got {type(segmentation).__name__}"
    )


def segmentation_to_mask(segmentation, height: int, width: int):
    """Decode a COCO polygon list or RLE dict into an ``(height, width)`` uint8 0/1 mask.

    Example:
        >>> m = segmentation_to_mask([[0, 0, 4, 0, 4, 2, 0, 2]], height=3, width=5)
        >>> m.shape, int(m.sum())
        ((3, 5), 8)
    """
    from pycocotools import mask as mask_utils

    rle = _rle_for(segmentation, height, width)
    with warnings.catch_warnings():  # pycocotools 2.0 + numpy 2: harmless copy= deprecation
        warnings.filterwarnings("ignore", message=".*copy keyword.*", category=DeprecationWarning)
        return mask_utils.decode(rle)


def segmentation_area(segmentation, height: int, width: int) -> float:
    """Mask area (pixels) of a COCO segmentation, as pycocotools computes it.

    Example:
        >>> segmentation_area([[0, 0, 4, 0, 4, 2, 0, 2]], height=3, width=5)
        8.0
    """
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(_rle_for(segmentation, height, width)))


def mask_to_rle(mask) -> dict:
    """Encode a binary ``(H, W)`` mask as a COCO compressed RLE with a ``str`` ``counts``.

    Example:
        >>> import numpy as np
        >>> m = np.zeros((3, 5), np.uint8); m[0:2, 0:4] = 1
        >>> rle = mask_to_rle(m)
        >>> rle["size"], segmentation_area(rle, 3, 5), segmentation_bbox(rle, 3, 5)
        ([3, 5], 8.0, (0.0, 0.0, 4.0, 2.0))
    """
    import numpy as np
    from pycocotools import mask as mask_utils

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D (H, W) array, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def segmentation_bbox(segmentation, height: int, width: int) -> tuple[float, float, float, float]:
    """Tight ``(x1, y1, x2, y2)`` box of a COCO polygon list or RLE (``pycocotools`` ``toBbox``).

    Example:
        >>> segmentation_bbox([[1, 1, 4, 1, 4, 3, 1, 3]], height=5, width=5)
        (1.0, 1.0, 4.0, 3.0)
    """
    from pycocotools import mask as mask_utils

    x, y, w, h = (float(v) for v in mask_utils.toBbox(_rle_for(segmentation, height, width)))
    return (x, y, x + w, y + h)


def _compress_rle(segmentation, height: int, width: int):
    """Polygons stay polygons; any RLE becomes a compressed RLE with a str ``counts``."""
    if isinstance(segmentation, dict):
        rle = _rle_for(segmentation, height, width)
        counts = rle["counts"]
        return {
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
            "size": [int(v) for v in rle["size"]],
        }
    return [[float(v) for v in poly] for poly in segmentation]


# --------------------------------------------------------------------------------------------
# VOC
# --------------------------------------------------------------------------------------------


def parse_xml(xml_path: str | os.PathLike) -> ET.Element:
    """Parse an XML file safely with defusedxml and return its root element.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: malformed XML (message gives line and column), or a file declaring
            entities / external entities (refused by defusedxml).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.xml"
        >>> _ = p.write_text("<annotation><size></annotation>")
        >>> parse_xml(p)
        Traceback (most recent call last):
        ...
        ValueError: ...bad.xml: malformed XML at line 1, column ...
    """
    import defusedxml
    import defusedxml.ElementTree as DET

    xml_path = Path(xml_path)
    if not xml_path.is_file():
        raise FileNotFoundError(f"xml_path: no such file: {xml_path}")
    try:
        return DET.parse(str(xml_path)).getroot()
    except ET.ParseError as err:
        line, col = err.position
        raise ValueError(
            f"{xml_path}: malformed XML at line {line}, column {col + 1}: {err}"
        ) from err
    except defusedxml.EntitiesForbidden as err:
        raise ValueError(
            f"{xml_path}: refused: the XML declares entities ({err.name!r}); entity expansion "
            "('billion laughs') and external entities are not allowed in annotation files"
        ) from err
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden) as err:
        raise ValueError(
            f"{xml_path}: refused: the XML references an external entity or DTD ({err}); "
            "external entities are not allowed in annotation files"
        ) from err


def _voc_text(elem: ET.Element, tag: str, where: str) -> str:
    child = elem.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ValueError(f"{where}: missing <{tag}>")
    return child.text.strip()


def _voc_float(elem: ET.Element, tag: str, where: str) -> float:
    text = _voc_text(elem, tag, where)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: <{tag}> is not a number: {text!r}") from None


def _voc_flag(elem: ET.Element, tag: str) -> bool:
    child = elem.find(tag)
    if child is None or child.text is None:
        return False
    return child.text.strip() not in ("0", "", "false", "False")


def read_voc(xml_path: str | os.PathLike) -> ImageAnn:
    """Read one PASCAL VOC annotation XML into an :class:`ImageAnn`.

    VOC's 1-based inclusive pixel indices become continuous coordinates:
    ``(xmin - 1, ymin - 1, xmax, ymax)``. ``image_id`` is ``None`` (VOC has no ids).

    Args:
        xml_path: path of the ``.xml`` file.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed XML (with line/column), entity declarations, missing
            ``<filename>``/``<size>``/``<name>``/``<bndbox>`` fields or non-numeric values.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.xml"
        >>> rec = ImageAnn("a.jpg", 100, 50, [ObjectAnn("cat", (0.0, 4.0, 30.0, 40.0), difficult=True)])
        >>> write_voc(rec, p)
        >>> back = read_voc(p)
        >>> back.objects[0].bbox, back.objects[0].difficult
        ((0.0, 4.0, 30.0, 40.0), True)
    """
    xml_path = Path(xml_path)
    root = parse_xml(xml_path)
    if root.tag != "annotation":
        raise ValueError(f"{xml_path}: root element must be <annotation>, got <{root.tag}>")
    where = str(xml_path)
    file_name = _voc_text(root, "filename", where)
    size = root.find("size")
    if size is None:
        raise ValueError(f"{where}: missing <size>")
    width = int(_voc_float(size, "width", where))
    height = int(_voc_float(size, "height", where))
    objects = []
    for i, obj in enumerate(root.findall("object")):
        owhere = f"{where}: object {i}"
        name = _voc_text(obj, "name", owhere)
        bnd = obj.find("bndbox")
        if bnd is None:
            raise ValueError(f"{owhere}: missing <bndbox>")
        xmin, ymin, xmax, ymax = (
            _voc_float(bnd, t, owhere) for t in ("xmin", "ymin", "xmax", "ymax")
        )
        objects.append(
            ObjectAnn(
                label=name,
                bbox=(xmin - 1.0, ymin - 1.0, xmax, ymax),
                difficult=_voc_flag(obj, "difficult"),
                truncated=_voc_flag(obj, "truncated"),
            )
        )
    return ImageAnn(file_name=file_name, width=width, height=height, objects=objects)


def _voc_tree(record: ImageAnn, folder: str = "JPEGImages") -> ET.Element:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = record.file_name
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(int(record.width))
    ET.SubElement(size, "height").text = str(int(record.height))
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for obj in record.objects:
        o = ET.SubElement(root, "object")
        ET.SubElement(o, "name").text = obj.label
        ET.SubElement(o, "pose").text = "Unspecified"
        ET.SubElement(o, "truncated").text = str(int(bool(obj.truncated)))
        ET.SubElement(o, "difficult").text = str(int(bool(obj.difficult)))
        b = ET.SubElement(o, "bndbox")
        x1, y1, x2, y2 = (float(v) for v in obj.bbox)
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2)):
            ET.SubElement(b, tag).text = _num(v)
    ET.indent(root, space="  ")
    return root


def voc_losses(record: ImageAnn) -> list[str]:
    """What VOC cannot hold of ``record`` (masks, iscrowd), one line per object and field.

    Example:
        >>> voc_losses(ImageAnn("a.jpg", 9, 9, [ObjectAnn("x", (0, 0, 1, 1), iscrowd=True)]))
        ['a.jpg object 0: VOC cannot hold iscrowd=1 (dropped)']
    """
    out = []
    for i, obj in enumerate(record.objects):
        if obj.segmentation is not None:
            out.append(f"{record.file_name} object {i}: VOC cannot hold a mask (dropped)")
        if obj.iscrowd:
            out.append(f"{record.file_name} object {i}: VOC cannot hold iscrowd=1 (dropped)")
    return out


def write_voc(record: ImageAnn, xml_path: str | os.PathLike, *, warn: bool = True) -> None:
    """Write ``record`` as a VOC XML file (atomically).

    Masks and ``iscrowd`` cannot be stored in VOC; they are dropped with a
    :class:`FormatLossWarning` (set ``warn=False`` to silence it, e.g. when the caller reports).

    Args:
        record: the image's annotations.
        xml_path: target ``.xml`` path.
        warn: warn about dropped fields.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.xml"
        >>> write_voc(ImageAnn("a.jpg", 10, 10, [ObjectAnn("dog", (1.5, 2, 5, 6))]), p)
        >>> "<xmin>2.5</xmin>" in p.read_text()
        True
    """
    if not isinstance(record, ImageAnn):
        raise TypeError(f"record must be an ImageAnn, got {type(record).__name__}")
    if warn:
        for msg in voc_losses(record):
            warnings.warn(msg, FormatLossWarning, stacklevel=2)
    text = ET.tostring(_voc_tree(record), encoding="unicode") + "\n"
    atomic_write_text(xml_path, text)


# --------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------


def read_json(json_path: str | os.PathLike) -> Any:
    """Load a JSON file; malformed or truncated JSON raises ``ValueError`` with line/column.

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
    text = json_path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{json_path}: malformed or truncated JSON at line {err.lineno}, column {err.colno}: "
            f"{err.msg}"
        ) from err


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
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: top level must be a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"{source}: missing key {key!r}")
        if not isinstance(data[key], list):
            raise ValueError(f"{source}: {key!r} must be a list, got {type(data[key]).__name__}")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    cat_name = {}
    for i, c in enumerate(cats):
        if "id" not in c or "name" not in c:
            raise ValueError(f"{source}: categories[{i}] missing 'id' or 'name'")
        if c["id"] in cat_name:
            raise ValueError(f"{source}: duplicate category id {c['id']}")
        cat_name[c["id"]] = c["name"]
    records: dict[int, ImageAnn] = {}
    for i, im in enumerate(data["images"]):
        for key in ("id", "file_name", "width", "height"):
            if key not in im:
                raise ValueError(f"{source}: images[{i}] missing key {key!r}")
        if im["id"] in records:
            raise ValueError(f"{source}: images[{i}] duplicate image id {im['id']}")
        records[im["id"]] = ImageAnn(
            file_name=im["file_name"],
            width=int(im["width"]),
            height=int(im["height"]),
            objects=[],
            image_id=im["id"],
        )
    seen_ann = set()
    for i, ann in enumerate(data["annotations"]):
        for key in ("id", "image_id", "category_id", "bbox"):
            if key not in ann:
                raise ValueError(f"{source}: annotations[{i}] missing key {key!r}")
        if ann["id"] in seen_ann:
            raise ValueError(f"{source}: annotations[{i}] duplicate annotation id {ann['id']}")
        seen_ann.add(ann["id"])
        if ann["image_id"] not in records:
            raise ValueError(
                f"{source}: annotations[{i}] (id {ann['id']}) points at image_id "
                f"{ann['image_id']}, which is not in 'images'"
            )
        if ann["category_id"] not in cat_name:
            raise ValueError(
                f"{source}: annotations[{i}] (id {ann['id']}) has unknown category_id "
                f"{ann['category_id']}"
            )
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise ValueError(f"{source}: annotations[{i}] bbox must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = (float(v) for v in bbox)
        records[ann["image_id"]].objects.append(
            ObjectAnn(
                label=cat_name[ann["category_id"]],
                bbox=(x, y, x + w, y + h),
                iscrowd=bool(ann.get("iscrowd", 0)),
                segmentation=ann.get("segmentation") or None,
                area=float(ann["area"]) if "area" in ann else None,
            )
        )
    return list(records.values()), [cat_name[c["id"]] for c in cats]


def read_coco(json_path: str | os.PathLike) -> tuple[list[ImageAnn], list[str]]:
    """Read a COCO ``instances`` JSON file.

    Returns:
        ``(records, classes)``: one :class:`ImageAnn` per entry of ``images`` (in file order,
        ``image_id`` kept) and the category names sorted by category id. Labels are names, so
        category ids are renumbered ``1..K`` if the file is written back with
        :func:`write_coco`.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed/truncated JSON (with line/column), a missing key, duplicate ids,
            an annotation pointing at a missing image id or an unknown category.

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
    else the mask area when there is a segmentation, else the box area.

    Example:
        >>> d = to_coco_dict([ImageAnn("a.png", 4, 4, [ObjectAnn("b", (0, 0, 2, 1))])], ["a", "b"])
        >>> d["annotations"][0]["bbox"], d["annotations"][0]["category_id"], d["images"][0]["id"]
        ([0.0, 0.0, 2.0, 1.0], 2, 1)
    """
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be unique, got {classes}")
    cat_id = {name: i + 1 for i, name in enumerate(classes)}
    images, annotations = [], []
    seen_ids = set()
    for idx, rec in enumerate(records):
        image_id = int(rec.image_id) if rec.image_id is not None else idx + 1
        if image_id in seen_ids:
            raise ValueError(f"records: duplicate image_id {image_id} ({rec.file_name})")
        seen_ids.add(image_id)
        images.append(
            {
                "id": image_id,
                "file_name": rec.file_name,
                "width": int(rec.width),
                "height": int(rec.height),
            }
        )
        for obj in rec.objects:
            if obj.label not in cat_id:
                raise ValueError(
                    f"records: {rec.file_name} has label {obj.label!r} not in classes {classes}"
                )
            x1, y1, x2, y2 = (float(v) for v in obj.bbox)
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat_id[obj.label],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "iscrowd": int(bool(obj.iscrowd)),
            }
            if obj.segmentation is not None:
                ann["segmentation"] = _compress_rle(obj.segmentation, rec.height, rec.width)
            else:
                ann["segmentation"] = []
            if obj.area is not None:
                ann["area"] = float(obj.area)
            elif obj.segmentation is not None:
                ann["area"] = segmentation_area(obj.segmentation, rec.height, rec.width)
            else:
                ann["area"] = box_area_xyxy(obj.bbox)
            annotations.append(ann)
    for a in annotations:  # json cannot hold NaN/inf; say which box
        if not all(math.isfinite(v) for v in a["bbox"]):
            raise ValueError(f"records: annotation {a['id']} has a non-finite bbox {a['bbox']}")
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
# YOLO
# --------------------------------------------------------------------------------------------


def read_yolo(
    label_path: str | os.PathLike,
    image_size: tuple[int, int],
    classes: list[str] | None = None,
) -> list[ObjectAnn]:
    """Read one YOLO label file into a list of :class:`ObjectAnn` (absolute ``xyxy``).

    Args:
        label_path: the ``.txt`` file (``class cx cy w h`` per line, normalised). A missing
            file raises; :func:`~dlcv_utils.datasets.layout.read_dataset` treats an image
            without a label file as background (YOLO's convention).
        image_size: ``(width, height)`` of the image, to undo the normalisation.
        classes: class names by id; ``None`` keeps the id as the label (``"0"``, ``"1"``...).

    Raises:
        ValueError: a line without exactly 5 fields (message names file and line), a
            non-numeric value, a class id out of range.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("1 0.5 0.5 0.2 0.4\\n")
        >>> read_yolo(p, (100, 50), ["cat", "dog"])[0].bbox
        (40.0, 15.0, 60.0, 35.0)
        >>> _ = p.write_text("1 0.5 0.5 0.2\\n")
        >>> read_yolo(p, (100, 50))
        Traceback (most recent call last):
        ...
        ValueError: ...a.txt line 1: expected 5 fields 'class cx cy w h', got 4: '1 0.5 0.5 0.2'
    """
    label_path = Path(label_path)
    if not label_path.is_file():
        raise FileNotFoundError(f"label_path: no such file: {label_path}")
    try:
        width, height = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height), got {image_size!r}") from None
    objects = []
    for lineno, line in enumerate(label_path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label_path} line {lineno}"
        if len(fields) != 5:
            raise ValueError(
                f"{where}: expected 5 fields 'class cx cy w h', got {len(fields)}: {line.strip()!r}"
            )
        try:
            cls = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
        except ValueError:
            raise ValueError(f"{where}: not numbers: {line.strip()!r}") from None
        if classes is not None and not 0 <= cls < len(classes):
            raise ValueError(f"{where}: class id {cls} outside 0..{len(classes) - 1}")
        label = classes[cls] if classes is not None else str(cls)
        x1, y1, x2, y2 = snap_unit_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        bbox = (x1 * width, y1 * height, x2 * width, y2 * height)
        objects.append(ObjectAnn(label=label, bbox=tuple(round(v, 6) for v in bbox)))
    return objects


YOLO_ROUNDING_TOLERANCE = 2e-6


def snap_unit_box(box):
    """Snap normalised corners that overshoot [0, 1] by YOLO's 6-decimal rounding only.

    ``cx`` and ``w`` are rounded separately, so a box touching the image edge can read back as
    ``cx + w/2 = 1.0000005``. Overshoots up to :data:`YOLO_ROUNDING_TOLERANCE` are set to the
    edge; anything larger is left alone for validation to report.

    Example:
        >>> snap_unit_box((-1e-7, 0.2, 1.0000005, 0.5))
        (0.0, 0.2, 1.0, 0.5)
    """
    tol = YOLO_ROUNDING_TOLERANCE
    return tuple(0.0 if -tol <= v < 0.0 else 1.0 if 1.0 < v <= 1.0 + tol else v for v in box)


def yolo_losses(record: ImageAnn) -> list[str]:
    """What YOLO txt cannot hold of ``record`` (difficult, iscrowd, masks, truncated).

    Example:
        >>> yolo_losses(ImageAnn("a.png", 9, 9, [ObjectAnn("x", (0, 0, 1, 1), difficult=True)]))
        ['a.png object 0: YOLO cannot hold difficult=1 (dropped)']
    """
    out = []
    for i, obj in enumerate(record.objects):
        for name, val in (
            ("difficult", obj.difficult),
            ("iscrowd", obj.iscrowd),
            ("truncated", obj.truncated),
        ):
            if val:
                out.append(f"{record.file_name} object {i}: YOLO cannot hold {name}=1 (dropped)")
        if obj.segmentation is not None:
            out.append(f"{record.file_name} object {i}: YOLO cannot hold a mask (dropped)")
    return out


def yolo_lines(record: ImageAnn, classes: list[str]) -> str:
    """The text of ``record``'s YOLO label file (6 decimals, one object per line).

    Example:
        >>> print(yolo_lines(ImageAnn("a.png", 100, 50, [ObjectAnn("dog", (40, 15, 60, 35))]),
        ...                  ["cat", "dog"]), end="")
        1 0.500000 0.500000 0.200000 0.400000
    """
    idx = {name: i for i, name in enumerate(classes)}
    lines = []
    for obj in record.objects:
        if obj.label not in idx:
            raise ValueError(
                f"record: {record.file_name} has label {obj.label!r} not in classes {list(classes)}"
            )
        x1, y1, x2, y2 = (float(v) for v in obj.bbox)
        w, h = float(record.width), float(record.height)
        vals = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)
        lines.append(f"{idx[obj.label]} " + " ".join(f"{v:.6f}" for v in vals))
    return "".join(line + "\n" for line in lines)


def write_yolo(
    record: ImageAnn, label_path: str | os.PathLike, classes: list[str], *, warn: bool = True
) -> None:
    """Write ``record`` as a YOLO label file (atomically).

    ``difficult``, ``truncated``, ``iscrowd`` and masks cannot be stored; they are dropped with
    a :class:`FormatLossWarning` unless ``warn=False``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> rec = ImageAnn("a.png", 100, 50, [ObjectAnn("dog", (40, 15, 60, 35))])
        >>> write_yolo(rec, p, ["cat", "dog"])
        >>> read_yolo(p, (100, 50), ["cat", "dog"])[0].bbox
        (40.0, 15.0, 60.0, 35.0)
    """
    if not isinstance(record, ImageAnn):
        raise TypeError(f"record must be an ImageAnn, got {type(record).__name__}")
    text = yolo_lines(record, classes)
    if warn:
        for msg in yolo_losses(record):
            warnings.warn(msg, FormatLossWarning, stacklevel=2)
    atomic_write_text(label_path, text)


def read_data_yaml(yaml_path: str | os.PathLike) -> dict:
    """Read a YOLO ``data.yaml``; ``names`` (list or ``{id: name}`` dict) becomes a list.

    Returns:
        The YAML mapping with ``names`` normalised to a list of class names.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "data.yaml"
        >>> write_data_yaml(p, ["cat", "dog"], {"train": "images/train"})
        >>> read_data_yaml(p)["names"]
        ['cat', 'dog']
    """
    import yaml

    yaml_path = Path(yaml_path)
    if not yaml_path.is_file():
        raise FileNotFoundError(f"yaml_path: no such file: {yaml_path}")
    try:
        data = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{yaml_path}: malformed YAML{pos}: {err}") from err
    if not isinstance(data, dict) or "names" not in data:
        raise ValueError(f"{yaml_path}: must be a mapping with a 'names' key")
    names = data["names"]
    if isinstance(names, dict):
        keys = sorted(int(k) for k in names)
        if keys != list(range(len(keys))):
            raise ValueError(f"{yaml_path}: 'names' ids must be 0..K-1, got {keys}")
        names = [str(names[k]) for k in keys]
    elif isinstance(names, list):
        names = [str(n) for n in names]
    else:
        raise ValueError(f"{yaml_path}: 'names' must be a list or a dict, got {names!r}")
    data["names"] = names
    return data


def write_data_yaml(
    yaml_path: str | os.PathLike, classes: list[str], splits: dict[str, str]
) -> None:
    """Write a YOLO ``data.yaml``: ``path: .``, one key per split (e.g. ``train: images/train``),
    ``nc`` and ``names`` as an ``{id: name}`` mapping (the Ultralytics layout).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "data.yaml"
        >>> write_data_yaml(p, ["cat"], {"train": "images/train", "val": "images/val"})
        >>> print(p.read_text(), end="")
        names:
          0: cat
        nc: 1
        path: .
        train: images/train
        val: images/val
    """
    import yaml

    data = {"path": ".", "nc": len(classes), "names": {i: str(n) for i, n in enumerate(classes)}}
    for split, rel in splits.items():
        data[split] = rel
    atomic_write_text(yaml_path, yaml.safe_dump(data, sort_keys=True, default_flow_style=False))
