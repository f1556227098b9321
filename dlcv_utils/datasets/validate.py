"""Validate annotation files and dataset folders, reporting *every* problem, and repair them.

:func:`validate` checks a single VOC ``.xml``, COCO ``.json`` or YOLO ``.txt`` file, or a whole
dataset folder in one of the layouts of :mod:`dlcv_utils.datasets.layout`. It does not stop at
the first problem: each :class:`Problem` names the file, where in it (line, object index,
annotation index and id, or the parser's line/column) and the reason.

* default: return a :class:`ValidationReport`;
* ``strict=True``: raise :class:`DatasetValidationError` (a ``ValueError`` carrying
  ``.problems``) when anything is wrong;
* ``repair=True``: clip boxes to the image, drop boxes of zero/negative size, drop lines and
  annotations that cannot be read or point at unknown ids, renumber duplicate annotation ids,
  and rewrite the repaired files atomically. What was fixed is in ``report.repaired``; what
  cannot be fixed (e.g. malformed XML) stays in ``report.problems``.

Taught in lesson 02.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from dlcv_utils.datasets._io import atomic_write_text, dumps_json
from dlcv_utils.datasets.formats import _num, parse_xml, read_data_yaml, read_json, snap_unit_box
from dlcv_utils.datasets.layout import FORMATS, IMAGE_SUFFIXES, find_splits

__all__ = ["DatasetValidationError", "Problem", "ValidationReport", "validate"]


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate`.

    Attributes:
        file: the file concerned.
        where: position inside it: ``"line 3"``, ``"object 1"``, ``"annotations[4] (id 9)"``,
            ``"line 1, column 17"``..., or ``""`` for the whole file.
        reason: what is wrong.
        fix: what repair mode did about it (``None`` when not repaired).
    """

    file: str
    where: str
    reason: str
    fix: str | None = None

    def __str__(self) -> str:
        s = f"{self.file}: {self.where + ': ' if self.where else ''}{self.reason}"
        return s + (f" -> {self.fix}" if self.fix else "")


class DatasetValidationError(ValueError):
    """Raised by strict validation; ``.problems`` holds every :class:`Problem` found.

    Example:
        >>> err = DatasetValidationError([Problem("a.txt", "line 2", "expected 5 fields, got 4")])
        >>> print(err)
        1 problem(s) found:
          a.txt: line 2: expected 5 fields, got 4
        >>> isinstance(err, ValueError)
        True
    """

    def __init__(self, problems: list[Problem], limit: int = 50):
        self.problems = list(problems)
        lines = [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        super().__init__(f"{len(self.problems)} problem(s) found:\n" + "\n".join(lines))


@dataclass
class ValidationReport:
    """Result of :func:`validate`.

    Attributes:
        problems: problems still present (after repair, the ones it could not fix).
        repaired: problems repair mode fixed (each with its ``fix``).
        files_checked: number of annotation files read.
    """

    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        """``True`` when no problem remains."""
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.files_checked} file(s) checked: {len(self.problems)} problem(s)" + (
            f", {len(self.repaired)} repaired" if self.repaired else ""
        )
        return "\n".join([head] + [f"  {p}" for p in self.problems + self.repaired])


class _Collector:
    def __init__(self, report: ValidationReport, file, repair: bool):
        self.report, self.file, self.repair = report, str(file), repair
        self.changed = False

    def bad(self, where: str, reason: str, fix: str | None = None) -> bool:
        """Record a problem; returns True when repair mode will apply ``fix``."""
        if self.repair and fix is not None:
            self.report.repaired.append(Problem(self.file, where, reason, fix))
            self.changed = True
            return True
        self.report.problems.append(Problem(self.file, where, reason))
        return False


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


def _fmt_box(box) -> str:
    return "(" + ", ".join(_num(v) if math.isfinite(v) else str(v) for v in box) + ")"


# --------------------------------------------------------------------------------------------
# VOC
# --------------------------------------------------------------------------------------------


def _validate_voc_file(path: Path, report, repair, image_dir=None, classes=None):
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
    elif image_dir is not None and not (image_dir / fname.strip()).is_file():
        col.bad("", f"image file {image_dir / fname.strip()} does not exist")
    width = height = None
    size = root.find("size")
    if size is None:
        col.bad("", "missing <size>")
    else:
        try:
            width, height = int(float(size.findtext("width"))), int(float(size.findtext("height")))
            if width <= 0 or height <= 0:
                col.bad("<size>", f"width/height must be positive, got {width} x {height}")
                width = height = None
        except (TypeError, ValueError):
            col.bad("<size>", "missing or non-numeric <width>/<height>")
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


def _validate_voc_dir(root: Path, split, report, repair, check_images):
    splits = [split] if split else find_splits(root, "voc")
    if not splits:
        report.problems.append(Problem(str(root), "", "no ImageSets/Main/<split>.txt found"))
        return
    classes = None
    if (root / "classes.txt").is_file():
        classes = {c for c in (root / "classes.txt").read_text().splitlines() if c}
    image_dir = root / "JPEGImages" if check_images else None
    for s in splits:
        lst = root / "ImageSets" / "Main" / f"{s}.txt"
        if not lst.is_file():
            report.problems.append(Problem(str(lst), "", "split list does not exist"))
            continue
        col = _Collector(report, lst, repair)
        keep = []
        lines = lst.read_text().splitlines()
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            stem = line.split()[0]
            xml = root / "Annotations" / f"{stem}.xml"
            if not xml.is_file():
                col.bad(f"line {lineno}", f"annotation file {xml} does not exist", "removed")
                continue
            keep.append(line)
            _validate_voc_file(xml, report, repair, image_dir, classes)
        if col.changed:
            atomic_write_text(lst, "".join(f"{x}\n" for x in keep))


# --------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------


def _validate_coco_file(path: Path, report, repair, image_dir=None):
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
        if im["id"] in images:
            if not col.bad(f"{where} (id {im['id']})", "duplicate image id", "dropped"):
                kept_images.append(im)
            continue
        images[im["id"]] = im
        kept_images.append(im)
        if image_dir is not None and not (image_dir / str(im["file_name"])).is_file():
            col.bad(
                f"{where} (id {im['id']})",
                f"image file {image_dir / im['file_name']} does not exist",
            )
    kept_cats = []
    for i, c in enumerate(data["categories"]):
        where = f"categories[{i}]"
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            if not col.bad(where, "missing key 'id' or 'name'", "dropped"):
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
        (
            a["id"]
            for a in data["annotations"]
            if isinstance(a, dict) and isinstance(a.get("id"), int)
        ),
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
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
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
        kept.append(ann)
    if col.changed:
        data["images"], data["categories"], data["annotations"] = kept_images, kept_cats, kept
        atomic_write_text(path, dumps_json(data) + "\n")


# --------------------------------------------------------------------------------------------
# YOLO
# --------------------------------------------------------------------------------------------


def _validate_yolo_file(path: Path, report, repair, nc=None):
    col = _Collector(report, path, repair)
    report.files_checked += 1
    if not path.is_file():
        col.bad("", "file does not exist")
        return
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        where = f"line {lineno}"
        if not fields:
            continue
        if len(fields) != 5:
            reason = f"expected 5 fields 'class cx cy w h', got {len(fields)}: {line.strip()!r}"
            if not col.bad(where, reason, "line dropped"):
                out.append(line)
            continue
        try:
            cls_f = float(fields[0])
            vals = [float(v) for v in fields[1:]]
        except ValueError:
            if not col.bad(where, f"not numbers: {line.strip()!r}", "line dropped"):
                out.append(line)
            continue
        if not cls_f.is_integer() or cls_f < 0 or (nc is not None and cls_f >= nc):
            rng = f"0..{nc - 1}" if nc is not None else "a non-negative integer"
            if not col.bad(where, f"class id {fields[0]} is not in {rng}", "line dropped"):
                out.append(line)
            continue
        cls = int(cls_f)
        outside = [
            f"{n}={v:g}" for n, v in zip(("cx", "cy", "w", "h"), vals) if not 0.0 <= v <= 1.0
        ]
        cx, cy, w, h = vals
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


def _validate_yolo_dir(root: Path, split, report, repair, check_images):
    yaml_path = root / "data.yaml"
    nc = None
    try:
        nc = len(read_data_yaml(yaml_path)["names"])
        report.files_checked += 1
    except (ValueError, FileNotFoundError) as err:
        report.problems.append(Problem(str(yaml_path), "", _strip_path(str(err), yaml_path)))
    splits = [split] if split else find_splits(root, "yolo")
    if not splits:
        report.problems.append(Problem(str(root), "", "no images/<split> folders found"))
    for s in splits:
        label_dir = root / "labels" / s
        img_dir = root / "images" / s
        if not img_dir.is_dir():
            report.problems.append(Problem(str(img_dir), "", "image folder does not exist"))
            continue
        stems = {p.stem for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        for txt in sorted(label_dir.glob("*.txt")):
            if check_images and txt.stem not in stems:
                report.problems.append(Problem(str(txt), "", f"no image {txt.stem}.* in {img_dir}"))
            _validate_yolo_file(txt, report, repair, nc)


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def validate(
    path: str | os.PathLike,
    fmt: str,
    *,
    split: str | None = None,
    strict: bool = False,
    repair: bool = False,
    check_images: bool = True,
    num_classes: int | None = None,
) -> ValidationReport:
    """Check an annotation file or a dataset folder and report every problem.

    Args:
        path: a ``.xml`` (VOC), ``.json`` (COCO) or ``.txt`` (YOLO) file, or a dataset root in
            the matching layout.
        fmt: ``"voc"``, ``"coco"`` or ``"yolo"``.
        split: check only this split of a folder (default: all splits found).
        strict: raise :class:`DatasetValidationError` if any problem remains.
        repair: fix what can be fixed and rewrite the files atomically.
        check_images: also check that referenced image files exist (folders only).
        num_classes: for a single YOLO file, the number of classes (ids must be below it).

    Returns:
        A :class:`ValidationReport`.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.5 0.5 0.2 0.2\\n0 0.5 0.5 0.2\\n3 0.9 0.5 0.4 0.2 7\\n")
        >>> rep = validate(p, "yolo")
        >>> [(q.where, q.reason[:17]) for q in rep.problems]
        [('line 2', 'expected 5 fields'), ('line 3', 'expected 5 fields')]
        >>> rep = validate(p, "yolo", repair=True)
        >>> rep.ok, len(rep.repaired), p.read_text()
        (True, 2, '0 0.500000 0.500000 0.200000 0.200000\\n')
    """
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    fmt = fmt.lower()
    path = Path(path)
    report = ValidationReport()
    if path.is_dir():
        if fmt == "voc":
            _validate_voc_dir(path, split, report, repair, check_images)
        elif fmt == "coco":
            splits = [split] if split else find_splits(path, "coco")
            if not splits:
                report.problems.append(
                    Problem(str(path), "", "no annotations/instances_<split>.json found")
                )
            for s in splits:
                img_dir = path / "images" / s if check_images else None
                _validate_coco_file(
                    path / "annotations" / f"instances_{s}.json", report, repair, img_dir
                )
        else:
            _validate_yolo_dir(path, split, report, repair, check_images)
    elif path.is_file():
        if fmt == "voc":
            _validate_voc_file(path, report, repair)
        elif fmt == "coco":
            _validate_coco_file(path, report, repair)
        else:
            _validate_yolo_file(path, report, repair, num_classes)
    else:
        raise FileNotFoundError(f"path: no such file or folder: {path}")
    if strict and report.problems:
        raise DatasetValidationError(report.problems)
    return report
