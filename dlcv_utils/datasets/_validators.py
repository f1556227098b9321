"""The per-format checks behind :func:`dlcv_utils.datasets.validate`.

Each check records every :class:`Problem` it finds in a :class:`ValidationReport` (and, in
repair mode, fixes what it can and rewrites the file atomically). They are reached through the
format table (:data:`dlcv_utils.datasets.table.FORMATS`).

Taught in lesson 02.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree as ET

from dlcv_utils.datasets import coco, voc, yolo
from dlcv_utils.datasets._common import _num, check_size, read_text
from dlcv_utils.datasets._io import atomic_write_text, dumps_json, image_size
from dlcv_utils.datasets._paths import UnsafePathError, resolve_inside
from dlcv_utils.datasets._report import (
    DatasetValidationError,
    Problem,
    ValidationReport,
    _Collector,
)
from dlcv_utils.datasets.coco import read_json
from dlcv_utils.datasets.masks import check_segmentation
from dlcv_utils.datasets.voc import parse_xml
from dlcv_utils.datasets.yolo import IMAGE_SUFFIXES, read_data_yaml, snap_unit_box

__all__ = [
    "DatasetValidationError",
    "Problem",
    "ValidationReport",
    "validate_coco_dir",
    "validate_coco_file",
    "validate_voc_dir",
    "validate_voc_file",
    "validate_yolo_dir",
    "validate_yolo_file",
]


def _strip_path(msg: str, path) -> str:
    prefix = f"{path}: "
    return msg[len(prefix) :] if msg.startswith(prefix) else msg


def _box_problems(col: _Collector, where: str, box, width, height):
    """Check an xyxy box; return the repaired box, the same box, or None (= drop)."""
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        return None if col.bad(where, f"box {_fmt_box(box)} is not finite", "dropped") else box
    if x2 <= x1 or y2 <= y1:
        reason = f"box {_fmt_box(box)} has zero or negative size"
        return None if col.bad(where, reason, "dropped") else box
    if width is None or height is None:
        return box
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        c = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
        reason = f"box {_fmt_box(box)} is outside the image ({width} x {height})"
        if c[2] <= c[0] or c[3] <= c[1]:
            return None if col.bad(where, reason + " entirely", "dropped") else box
        return c if col.bad(where, reason, f"clipped to {_fmt_box(c)}") else box
    return box


def _image_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable image (missing, empty, not an image), or ``None``."""
    if not path.is_file():
        return f"image file {path} does not exist"
    if path.stat().st_size == 0:
        return f"image file {path} is empty (0 bytes)"
    try:
        w, h = image_size(path)
    except Exception as err:  # PIL raises many kinds for a broken file
        return f"image file {path} is not a readable image ({type(err).__name__})"
    if w <= 0 or h <= 0:  # pragma: no cover - PIL refuses these itself
        return f"image file {path} has size {w} x {h}"
    return None


def _check_image(col: _Collector, where: str, folder: Path, name, file) -> None:
    """Record a problem when ``name`` leaves ``folder`` or is not a readable image there."""
    try:
        path = resolve_inside(folder, name, what="file_name", file=file)
    except UnsafePathError as err:
        col.bad(where, _strip_path(str(err), file))
        return
    why = _image_problem(path)
    if why:
        col.bad(where, why)


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _fmt_box(box) -> str:
    return "(" + ", ".join(_num(v) if math.isfinite(v) else str(v) for v in box) + ")"


# --------------------------------------------------------------------------------------------
# VOC
# --------------------------------------------------------------------------------------------


def validate_voc_file(path: Path, report, repair, image_dir=None, classes=None, num_classes=None):
    """Check one VOC XML (``num_classes`` is unused: VOC names its classes)."""
    col = _Collector(report, path, repair)
    report.files_checked += 1
    try:
        root = parse_xml(path)
    except (ValueError, FileNotFoundError) as err:
        col.bad("", _strip_path(str(err), path))
        return None
    if root.tag != "annotation":
        col.bad("", f"root element must be <annotation>, got <{root.tag}>")
        return None
    fname = root.findtext("filename")
    if not fname or not fname.strip():
        col.bad("", "missing <filename>")
    elif image_dir is not None:
        _check_image(col, "<filename>", image_dir, fname.strip(), path)
    width = height = None
    size = root.find("size")
    if size is None:
        col.bad("", "missing <size>")
    else:
        try:
            w, h = float(size.findtext("width")), float(size.findtext("height"))
        except (TypeError, ValueError):
            col.bad("<size>", "missing or non-numeric <width>/<height>")
        else:
            if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
                col.bad("<size>", f"width/height must be positive finite numbers, got {w} x {h}")
            elif not (w.is_integer() and h.is_integer()):
                col.bad("<size>", f"width/height must be whole numbers, got {w} x {h}")
            else:
                width, height = int(w), int(h)
    for i, obj in enumerate(list(root.findall("object"))):
        where = f"object {i}"
        name = obj.findtext("name")
        if not name or not name.strip():
            if col.bad(where, "missing <name>", "dropped"):
                root.remove(obj)
            continue
        if classes is not None and name.strip() not in classes:
            if col.bad(where, f"unknown class {name.strip()!r} (not in classes.txt)", "dropped"):
                root.remove(obj)
            continue
        for flag in ("difficult", "truncated"):
            try:
                voc.voc_flag(obj, flag, where)
            except ValueError as err:
                if col.bad(where, str(err).split(": ", 1)[1], "set to 0"):
                    obj.find(flag).text = "0"
        bnd = obj.find("bndbox")
        try:
            vals = [float(bnd.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            if col.bad(where, "missing or non-numeric <bndbox> xmin/ymin/xmax/ymax", "dropped"):
                root.remove(obj)
            continue
        box = (vals[0] - 1, vals[1] - 1, vals[2], vals[3])  # VOC 1-based pixel indices
        new = _box_problems(col, where, box, width, height)
        if new is None:
            if repair:
                root.remove(obj)
        elif new != box and repair:
            for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (new[0] + 1, new[1] + 1, *new[2:])):
                bnd.find(tag).text = _num(v)
    if col.changed:
        ET.indent(root, space="  ")
        atomic_write_text(path, ET.tostring(root, encoding="unicode") + "\n")
    return root


def validate_voc_dir(root: Path, split, report, repair, check_images):
    splits = [split] if split else voc.find_splits(root)
    if not splits:
        report.problems.append(Problem(str(root), "", "no ImageSets/Main/<split>.txt found"))
        return
    classes = None
    if (root / "classes.txt").is_file():
        try:
            classes = set(voc.read_classes_txt(root / "classes.txt"))
        except ValueError as err:
            report.problems.append(
                Problem(str(root / "classes.txt"), "", str(err).split(": ", 1)[1])
            )
    image_dir = voc.image_dir(root, "") if check_images else None
    for s in splits:
        lst = root / "ImageSets" / "Main" / f"{s}.txt"
        if not lst.is_file():
            report.problems.append(Problem(str(lst), "", "split list does not exist"))
            continue
        col = _Collector(report, lst, repair)
        keep = []
        try:
            lines = read_text(lst, "split list").splitlines()
        except ValueError as err:
            col.bad("", _strip_path(str(err), lst))
            continue
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            stem = line.split()[0]
            try:
                xml = resolve_inside(
                    root / "Annotations", stem + ".xml", what=f"line {lineno}", file=lst
                )
            except UnsafePathError as err:
                col.bad(f"line {lineno}", _strip_path(str(err), lst), "removed")
                continue
            if not xml.is_file():
                col.bad(f"line {lineno}", f"annotation file {xml} does not exist", "removed")
                continue
            keep.append(line)
            validate_voc_file(xml, report, repair, image_dir, classes)
        if col.changed:
            atomic_write_text(lst, "".join(f"{x}\n" for x in keep))


# --------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------


def validate_coco_file(path: Path, report, repair, image_dir=None, num_classes=None):
    """Check one COCO JSON (``num_classes`` is unused: COCO lists its categories)."""
    col = _Collector(report, path, repair)
    report.files_checked += 1
    try:
        data = read_json(path)
    except (ValueError, FileNotFoundError) as err:
        col.bad("", _strip_path(str(err), path))
        return
    if not isinstance(data, dict):
        col.bad("", f"top level must be a JSON object, got {type(data).__name__}")
        return
    missing = [
        k for k in ("images", "annotations", "categories") if not isinstance(data.get(k), list)
    ]
    for k in missing:
        col.bad("", f"missing key {k!r} (or not a list)")
    if missing:
        return
    images, cats = {}, {}
    kept_images = []
    for i, im in enumerate(data["images"]):
        where = f"images[{i}]"
        if not isinstance(im, dict):
            if not col.bad(where, "not an object", "dropped"):
                kept_images.append(im)
            continue
        lacking = [k for k in ("id", "file_name", "width", "height") if k not in im]
        if lacking:
            if not col.bad(where, f"missing key(s) {lacking}", "dropped"):
                kept_images.append(im)
            continue
        if not _is_id(im["id"]):
            if not col.bad(where, f"id must be an integer, got {im['id']!r}", "dropped"):
                kept_images.append(im)
            continue
        if im["id"] in images:
            if not col.bad(f"{where} (id {im['id']})", "duplicate image id", "dropped"):
                kept_images.append(im)
            continue
        try:
            check_size(im["width"], im["height"], "size")
        except ValueError as err:
            if not col.bad(f"{where} (id {im['id']})", str(err), "dropped"):
                kept_images.append(im)
            continue
        images[im["id"]] = im
        kept_images.append(im)
        if image_dir is not None:
            _check_image(col, f"{where} (id {im['id']})", image_dir, im["file_name"], path)
    kept_cats = []
    for i, c in enumerate(data["categories"]):
        where = f"categories[{i}]"
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            if not col.bad(where, "missing key 'id' or 'name'", "dropped"):
                kept_cats.append(c)
            continue
        if not _is_id(c["id"]):
            if not col.bad(where, f"id must be an integer, got {c['id']!r}", "dropped"):
                kept_cats.append(c)
            continue
        if c["id"] in cats:
            if not col.bad(f"{where} (id {c['id']})", "duplicate category id", "dropped"):
                kept_cats.append(c)
            continue
        cats[c["id"]] = c
        kept_cats.append(c)
    ann_ids = set()
    max_id = max(
        (a["id"] for a in data["annotations"] if isinstance(a, dict) and _is_id(a.get("id"))),
        default=0,
    )
    kept = []
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            if not col.bad(where, "not an object", "dropped"):
                kept.append(ann)
            continue
        lacking = [k for k in ("id", "image_id", "category_id", "bbox") if k not in ann]
        if lacking:
            if not col.bad(where, f"missing key(s) {lacking}", "dropped"):
                kept.append(ann)
            continue
        bad_ids = [k for k in ("id", "image_id", "category_id") if not _is_id(ann[k])]
        if bad_ids:
            reason = f"{', '.join(bad_ids)} must be integers, got " + ", ".join(
                repr(ann[k]) for k in bad_ids
            )
            if not col.bad(where, reason, "dropped"):
                kept.append(ann)
            continue
        where = f"annotations[{i}] (id {ann['id']})"
        if ann["id"] in ann_ids:
            max_id += 1
            if col.bad(where, "duplicate annotation id", f"renumbered to {max_id}"):
                ann["id"] = max_id
        ann_ids.add(ann["id"])
        if ann["image_id"] not in images:
            if not col.bad(where, f"image_id {ann['image_id']} is not in 'images'", "dropped"):
                kept.append(ann)
            continue
        if ann["category_id"] not in cats:
            if not col.bad(where, f"unknown category_id {ann['category_id']}", "dropped"):
                kept.append(ann)
            continue
        bbox = ann["bbox"]
        try:
            if not isinstance(bbox, list) or any(isinstance(v, bool) for v in bbox):
                raise TypeError
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError, OverflowError):
            if not col.bad(where, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}", "dropped"):
                kept.append(ann)
            continue
        im = images[ann["image_id"]]
        try:
            iw, ih = float(im["width"]), float(im["height"])
        except (TypeError, ValueError):
            iw = ih = None
        box = (x, y, x + w, y + h)
        new = _box_problems(col, where, box, iw, ih)
        if new is None:
            if not repair:
                kept.append(ann)
            continue
        if new != box:
            ann["bbox"] = [new[0], new[1], new[2] - new[0], new[3] - new[1]]
            if not ann.get("segmentation"):
                ann["area"] = (new[2] - new[0]) * (new[3] - new[1])
        if "area" in ann and not _finite(ann["area"]):
            box_area = (new[2] - new[0]) * (new[3] - new[1])
            fix = "dropped" if ann.get("segmentation") else f"set to the box area {_num(box_area)}"
            if col.bad(where, f"area {ann['area']!r} is not a finite number", fix):
                if ann.get("segmentation"):
                    continue
                ann["area"] = box_area
        seg = ann.get("segmentation")
        if seg and iw is not None and ih is not None and float(iw).is_integer():
            try:
                check_segmentation(seg, int(ih), int(iw), "segmentation")
            except (TypeError, ValueError) as err:
                if col.bad(where, str(err), "segmentation removed"):
                    ann["segmentation"] = []
                    ann["area"] = (new[2] - new[0]) * (new[3] - new[1])
        kept.append(ann)
    if col.changed:
        data["images"], data["categories"], data["annotations"] = kept_images, kept_cats, kept
        atomic_write_text(path, dumps_json(data) + "\n")


# --------------------------------------------------------------------------------------------
# YOLO
# --------------------------------------------------------------------------------------------


def _yolo_class(col, where, field_, nc):
    """The class id of a line, ``None`` = drop the line; ``1e0``/``1.0`` are rewritten."""
    try:
        cls_f = float(field_)
    except ValueError:
        col.bad(where, f"class id {field_!r} is not a number", "line dropped")
        return None
    rng = f"0..{nc - 1}" if nc is not None else "a non-negative integer"
    if (
        not math.isfinite(cls_f)
        or not cls_f.is_integer()
        or cls_f < 0
        or (nc is not None and cls_f >= nc)
    ):
        col.bad(where, f"class id {field_} is not in {rng}", "line dropped")
        return None
    if not field_.isdigit():
        if not col.bad(where, f"class id {field_!r} is not written as a whole number",
                       f"rewritten as {int(cls_f)}"):  # fmt: skip
            return field_
    return int(cls_f)


def _yolo_polygon(col, where, cls, vals, line):
    """Check a YOLO-seg polygon line; returns the (clipped) line or ``None`` (drop)."""
    if not all(math.isfinite(v) for v in vals):
        col.bad(where, f"values must be finite numbers: {line.strip()!r}", "line dropped")
        return None
    clipped = [min(1.0, max(0.0, v)) for v in vals]
    xs, ys = clipped[0::2], clipped[1::2]
    if max(xs) <= min(xs) or max(ys) <= min(ys):
        col.bad(where, "polygon has zero width or height inside the image", "line dropped")
        return None
    if clipped != vals:
        outside = [f"{v:g}" for v in vals if not 0.0 <= v <= 1.0]
        reason = f"polygon values outside [0, 1]: {', '.join(outside)}"
        if not col.bad(where, reason, "clipped to the image"):
            return line
        return f"{cls} " + " ".join(f"{v:.6f}" for v in clipped)
    return f"{cls} " + " ".join(line.split()[1:]) if isinstance(cls, int) else line


def validate_yolo_file(path: Path, report, repair, num_classes=None):
    """Check one YOLO label file; class ids must be below ``num_classes`` when given."""
    nc = num_classes
    col = _Collector(report, path, repair)
    report.files_checked += 1
    if not path.is_file():
        col.bad("", "file does not exist")
        return
    try:
        text = read_text(path, "label file")
    except ValueError as err:
        col.bad("", _strip_path(str(err), path))
        return
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        where = f"line {lineno}"
        if not fields:
            continue
        n = len(fields)
        if n != 5 and (n < 7 or n % 2 == 0):
            reason = (
                f"expected 5 fields 'class cx cy w h', got {n}: {line.strip()!r} (a YOLO-seg "
                "polygon line has an odd number >= 7)"
            )
            if not col.bad(where, reason, "line dropped"):
                out.append(line)
            continue
        try:
            float(fields[0])
            vals = [float(v) for v in fields[1:]]
        except ValueError:
            if not col.bad(where, f"not numbers: {line.strip()!r}", "line dropped"):
                out.append(line)
            continue
        cls = _yolo_class(col, where, fields[0], nc)
        if cls is None:
            if not repair:
                out.append(line)
            continue
        if n > 5:
            new = _yolo_polygon(col, where, cls, vals, line)
            if new is not None:
                out.append(new)
            elif not repair:
                out.append(line)
            continue
        cx, cy, w, h = vals
        if not all(math.isfinite(v) for v in vals):
            if not col.bad(where, f"values must be finite numbers: {line.strip()!r}",
                           "line dropped"):  # fmt: skip
                out.append(line)
            continue
        outside = [
            f"{n}={v:g}" for n, v in zip(("cx", "cy", "w", "h"), vals) if not 0.0 <= v <= 1.0
        ]
        box = snap_unit_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        if outside:
            reason = f"values outside [0, 1]: {', '.join(outside)}"
            if w <= 0 or h <= 0:
                if not col.bad(where, reason + " (zero or negative size)", "line dropped"):
                    out.append(line)
                continue
            c = (max(0.0, box[0]), max(0.0, box[1]), min(1.0, box[2]), min(1.0, box[3]))
            if c[2] <= c[0] or c[3] <= c[1]:
                if not col.bad(where, reason + " (box entirely outside)", "line dropped"):
                    out.append(line)
                continue
            if not col.bad(where, reason, "clipped to the image"):
                out.append(line)
                continue
            box = c
        else:
            new = _box_problems(col, where, box, 1.0, 1.0)
            if new is None:
                if not repair:
                    out.append(line)
                continue
            box = new
        if repair:
            vals = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1])
            out.append(f"{cls} " + " ".join(f"{v:.6f}" for v in vals))
        else:
            out.append(line)
    if col.changed:
        atomic_write_text(path, "".join(f"{x}\n" for x in out))


def validate_yolo_dir(root: Path, split, report, repair, check_images):
    yaml_path = root / "data.yaml"
    nc = None
    data = None
    try:
        data = read_data_yaml(yaml_path)
        nc = len(data["names"])
        report.files_checked += 1
    except (ValueError, FileNotFoundError) as err:
        report.problems.append(Problem(str(yaml_path), "", _strip_path(str(err), yaml_path)))
    splits = [split] if split else yolo.find_splits(root)
    if not splits:
        report.problems.append(Problem(str(root), "", "no images/<split> folders found"))
    for s in splits:
        try:
            img_dir = yolo.image_dir(root, s, data or {})
            label_dir = yolo.label_dir(root, s, data or {})
        except ValueError as err:
            report.problems.append(Problem(str(yaml_path), "", _strip_path(str(err), yaml_path)))
            continue
        if not img_dir.is_dir():
            report.problems.append(Problem(str(img_dir), "", "image folder does not exist"))
            continue
        images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        stems = {p.stem for p in images}
        if check_images:
            for img in images:
                why = _image_problem(img)
                if why:
                    report.problems.append(Problem(str(img), "", why))
        for txt in sorted(label_dir.glob("*.txt")):
            if check_images and txt.stem not in stems:
                report.problems.append(Problem(str(txt), "", f"no image {txt.stem}.* in {img_dir}"))
            validate_yolo_file(txt, report, repair, nc)


def validate_coco_dir(root: Path, split, report, repair, check_images):
    splits = [split] if split else coco.find_splits(root)
    if not splits:
        report.problems.append(
            Problem(str(root), "", "no annotations/instances_<split>.json found")
        )
    for s in splits:
        img_dir = coco.image_dir(root, s) if check_images else None
        validate_coco_file(coco.annotation_path(root, s), report, repair, img_dir)
