"""Open Images (V6/V7): one box CSV per split, a class-description table, and the layout.

Each row of a box CSV is one box::

    ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside
    0001eeaf4aed83f9,xclick,/m/0cmf2,1,0.022673031,0.9642005,0.07103825,0.80054647,0,0,0,0,0

* the coordinates are **fractions** of the image width/height, in the order ``XMin, XMax,
  YMin, YMax`` (both x first); the CSV holds no image size, so readers take ``(width,
  height)`` from the image file's header (Pillow, without decoding the pixels);
* ``LabelName`` is a *machine id* (MID) such as ``/m/01g317``; the class-description table
  (``LabelName,DisplayName`` rows, no header in the official
  ``class-descriptions-boxable.csv``: 600 boxable classes) maps it to a name (``Person``);
* the five flags are ``1`` (present), ``0`` (not present) or ``-1`` (unknown), as the official
  description of the data format says. Columns are found by the header; extra columns (the
  train file's ``XClick1X`` ...) are ignored. A CSV without a header must have the 13 columns
  above in that order.

Layout (the official file names)::

    root/<split>/<ImageID>.jpg               (other suffixes: .jpeg .png .bmp)
    root/<split>-annotations-bbox.csv        (also read: oidv6-train-annotations-bbox.csv)
    root/class-descriptions-boxable.csv      (also read: oidv7-class-descriptions-boxable.csv)

Records (:mod:`dlcv_utils.datasets.records`): ``file_name`` is the image's name in
``root/<split>`` (``ImageID`` is its stem, a plain name without folders), labels are the
display names (a display name shared by two MIDs becomes ``"Name (/m/...)"``), an image of the
folder without rows is a background image. What the records cannot hold is reported as a
loss (a :class:`~dlcv_utils.datasets.FormatLossWarning` when reading; in
:class:`~dlcv_utils.datasets.layout.ConversionReport` when writing):

=====================  ====================================================================
Open Images            record
=====================  ====================================================================
``IsGroupOf``          ``iscrowd`` (1 ↔ True; ``-1`` unknown is read as 0, a loss)
``IsTruncated``        ``truncated`` (idem)
``IsOccluded``,        no field: a ``1`` is dropped when read (a loss); writers put ``-1``
``IsDepiction``,       (unknown)
``IsInside``
``Confidence``         no field: a value other than 1 is dropped (a loss); writers put 1
``Source``             not kept; writers put ``dlcv``
``LabelName`` (MID)    not kept: writing reuses the MIDs of a class table already in the
                       destination for the same names, else numbers them ``/dlcv/0``,
                       ``/dlcv/1``...
(none)                 ``difficult`` and masks (``segmentation``) are dropped when writing
=====================  ====================================================================

Boxes are written with 10 decimals and read back as ``fraction * size`` rounded to 6
decimals, so a round trip keeps pixel boxes to within ``1e-6`` px.

Taught in lesson 02.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import warnings
from pathlib import Path

from dlcv_utils.datasets._common import (
    FormatLossWarning,
    check_box,
    check_label,
    check_size,
)
from dlcv_utils.datasets._io import atomic_write_text, image_size
from dlcv_utils.datasets._paths import UnsafePathError, check_name, resolve_inside
from dlcv_utils.datasets._report import Problem, _Collector
from dlcv_utils.datasets._validators import _image_problem
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "BOX_COLUMNS",
    "CLASS_TABLE",
    "FLAG_COLUMNS",
    "annotation_path",
    "box_csv_text",
    "class_labels",
    "class_table_path",
    "find_splits",
    "image_dir",
    "openimages_losses",
    "read_class_table",
    "read_openimages",
    "read_split",
    "read_split_losses",
    "split_files",
    "validate_openimages_dir",
    "validate_openimages_file",
    "write_class_table",
    "write_openimages",
]

BOX_COLUMNS = (
    "ImageID",
    "Source",
    "LabelName",
    "Confidence",
    "XMin",
    "XMax",
    "YMin",
    "YMax",
    "IsOccluded",
    "IsTruncated",
    "IsGroupOf",
    "IsDepiction",
    "IsInside",
)
FLAG_COLUMNS = ("IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
REQUIRED_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
CLASS_TABLE = "class-descriptions-boxable.csv"
CLASS_TABLES = (CLASS_TABLE, "oidv7-class-descriptions-boxable.csv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")  # .jpg first: the official one
SOURCE = "dlcv"
_FLAG_VALUES = {"1": 1, "0": 0, "-1": -1}
_SPLIT_CSV = re.compile(r"^(?:oidv\d+-)?(.+)-annotations-bbox\.csv$")


# --------------------------------------------------------------------------------------------
# class-description table
# --------------------------------------------------------------------------------------------


def _csv_rows(path: Path, what: str):
    """``(line number, fields)`` of each non-blank CSV row; bad bytes/NULs raise ValueError."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            lineno = 1
            for fields in reader:
                if fields and fields[0].startswith("\ufeff"):
                    fields[0] = fields[0][1:]
                if any(v.strip() for v in fields):
                    yield lineno, fields
                lineno = reader.line_num + 1
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: {what} is not valid UTF-8 text ({err.reason})") from None
    except csv.Error as err:
        raise ValueError(f"{path}: {what} is not readable CSV near line {lineno}: {err}") from None


def _is_class_header(fields: list[str]) -> bool:
    return [f.strip().lower() for f in fields] == ["labelname", "displayname"]


def _check_mid(mid: str, where: str) -> str:
    if not mid or mid != mid.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in mid):
        raise ValueError(f"{where}: LabelName (MID) must be a non-empty plain text, got {mid!r}")
    return mid


def read_class_table(path: str | os.PathLike) -> dict[str, str]:
    """Read a class-description CSV: ``{MID: DisplayName}`` in file order.

    Rows are ``LabelName,DisplayName``; a first row ``LabelName,DisplayName`` is a header and
    skipped (the official ``class-descriptions-boxable.csv`` has none).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a row without exactly 2 fields, an empty MID or name, a name with a control
            character, a duplicate MID, bytes that are not UTF-8 (message names file and line).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "classes.csv"
        >>> _ = p.write_text("/m/01g317,Person\\n/m/0k4j,Car\\n")
        >>> read_class_table(p)
        {'/m/01g317': 'Person', '/m/0k4j': 'Car'}
        >>> _ = p.write_text("LabelName,DisplayName\\n/m/0k4j,Car\\n/m/0k4j,Auto\\n")
        >>> read_class_table(p)
        Traceback (most recent call last):
        ...
        ValueError: ...classes.csv line 3: duplicate MID '/m/0k4j' (also line 2)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class table: no such file: {path}")
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for i, (lineno, fields) in enumerate(_csv_rows(path, "class table")):
        where = f"{path} line {lineno}"
        if i == 0 and _is_class_header(fields):
            continue
        if len(fields) != 2:
            raise ValueError(f"{where}: expected 2 fields 'LabelName,DisplayName', got {fields}")
        mid = _check_mid(fields[0], where)
        name = check_label(fields[1], where)
        if mid in table:
            raise ValueError(f"{where}: duplicate MID {mid!r} (also line {first_line[mid]})")
        table[mid], first_line[mid] = name, lineno
    return table


def class_labels(table: dict[str, str]) -> dict[str, str]:
    """``{MID: record label}``: the display name, or ``"Name (MID)"`` when two MIDs share it.

    Example:
        >>> class_labels({"/m/a": "Bat", "/m/b": "Bat", "/m/c": "Cat"})
        {'/m/a': 'Bat (/m/a)', '/m/b': 'Bat (/m/b)', '/m/c': 'Cat'}
    """
    count: dict[str, int] = {}
    for name in table.values():
        count[name] = count.get(name, 0) + 1
    return {mid: name if count[name] == 1 else f"{name} ({mid})" for mid, name in table.items()}


def class_table_text(mids: dict[str, str]) -> str:
    """The class table :func:`write_class_table` writes (no header, like the official file)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for mid, name in mids.items():
        writer.writerow([_check_mid(mid, "mids"), check_label(name, f"mids[{mid!r}]")])
    return buf.getvalue()


def write_class_table(path: str | os.PathLike, mids: dict[str, str]) -> None:
    """Write ``{MID: DisplayName}`` as a class-description CSV (atomically, no header).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.csv"
        >>> write_class_table(p, {"/m/0k4j": "Car, red"})
        >>> p.read_text(), read_class_table(p)
        ('/m/0k4j,"Car, red"\\n', {'/m/0k4j': 'Car, red'})
    """
    atomic_write_text(path, class_table_text(mids))


# --------------------------------------------------------------------------------------------
# box rows
# --------------------------------------------------------------------------------------------


def _columns(fields: list[str], where: str) -> tuple[dict[str, int], bool]:
    """``({column: index}, has_header)`` from the first row of a box CSV."""
    names = [name.strip() for name in fields]
    if "ImageID" in names or "LabelName" in names:
        cols = {name: i for i, name in enumerate(names)}
        missing = [c for c in REQUIRED_COLUMNS if c not in cols]
        if missing:
            raise ValueError(f"{where}: header lacks the column(s) {missing}")
        return cols, True
    return {name: i for i, name in enumerate(BOX_COLUMNS)}, False


def _number(text: str, column: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {column} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {column} must be a finite number, got {text!r}")
    return value


def _flag(text: str, column: str, where: str) -> int:
    value = _FLAG_VALUES.get(text.strip())
    if value is None:
        raise ValueError(f"{where}: {column} must be 1, 0 or -1 (unknown), got {text!r}")
    return value


def _image_id(text: str, line: str | None, file) -> str:
    """``text`` if it is a plain file stem (no folders, no ``..``), else UnsafePathError."""
    what = f"{line} ImageID" if line else "ImageID"
    check_name(text, what=what, file=file)
    if "/" in text or "\\" in text or text != text.strip():
        raise UnsafePathError(
            f"{file}: {what} {text!r} must be a plain name (no folders, no spaces at the "
            "ends): refused"
        )
    return text


def parse_box_row(fields: list[str], cols: dict[str, int], where: str) -> dict:
    """Check one box row: ``{"ImageID", "LabelName", "Confidence", "box", flag columns...}``.

    ``box`` is ``(XMin, XMax, YMin, YMax)`` with ``0 <= XMin < XMax <= 1`` and
    ``0 <= YMin < YMax <= 1``; ``Confidence`` is in ``[0, 1]`` (1 when the column is absent);
    each flag is 1, 0 or -1 (-1 when the column is absent).

    Raises:
        ValueError: naming ``where`` and the problem.

    Example:
        >>> cols = {c: i for i, c in enumerate(BOX_COLUMNS)}
        >>> row = "a,xclick,/m/0k4j,1,0.1,0.5,0.2,0.9,0,1,0,0,-1".split(",")
        >>> r = parse_box_row(row, cols, "b.csv line 2")
        >>> r["box"], r["IsTruncated"], r["IsInside"]
        ((0.1, 0.5, 0.2, 0.9), 1, -1)
        >>> parse_box_row("a,xclick,/m/0k4j,1,0.5,0.1,0.2,0.9,0,0,0,0,0".split(","), cols, "b.csv line 2")
        Traceback (most recent call last):
        ...
        ValueError: b.csv line 2: XMin 0.5 must be below XMax 0.1
    """
    need = max(cols.values()) + 1
    if len(fields) != need:
        raise ValueError(f"{where}: expected {need} fields, got {len(fields)}")
    out: dict = {"ImageID": fields[cols["ImageID"]], "LabelName": fields[cols["LabelName"]]}
    conf = fields[cols["Confidence"]] if "Confidence" in cols else "1"
    out["Confidence"] = _number(conf, "Confidence", where)
    if not 0.0 <= out["Confidence"] <= 1.0:
        raise ValueError(f"{where}: Confidence must be in [0, 1], got {conf!r}")
    x1, x2, y1, y2 = (_number(fields[cols[c]], c, where) for c in ("XMin", "XMax", "YMin", "YMax"))
    for name, v in (("XMin", x1), ("XMax", x2), ("YMin", y1), ("YMax", y2)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{where}: {name} {v:g} is outside [0, 1] (a fraction of the size)")
    if x1 >= x2:
        raise ValueError(f"{where}: XMin {x1:g} must be below XMax {x2:g}")
    if y1 >= y2:
        raise ValueError(f"{where}: YMin {y1:g} must be below YMax {y2:g}")
    out["box"] = (x1, x2, y1, y2)
    for flag in FLAG_COLUMNS:
        out[flag] = _flag(fields[cols[flag]], flag, where) if flag in cols else -1
    return out


def _row_losses(row: dict, where: str) -> list[str]:
    out = []
    for flag in ("IsOccluded", "IsDepiction", "IsInside"):
        if row[flag] == 1:
            out.append(f"{where}: records cannot hold {flag}=1 (dropped)")
    for flag, field_ in (("IsTruncated", "truncated"), ("IsGroupOf", "iscrowd")):
        if row[flag] == -1:
            out.append(f"{where}: {flag}=-1 (unknown) read as {field_}=False")
    if row["Confidence"] != 1.0:
        out.append(f"{where}: records cannot hold Confidence={row['Confidence']:g} (dropped)")
    return out


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def _image_files(img_dir: Path) -> dict[str, Path]:
    """``{stem: path}`` of the images in ``img_dir``; two images with one stem raise."""
    found: dict[str, Path] = {}
    for p in sorted(img_dir.iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            continue
        check_name(p.name, what="image file name", file=img_dir)
        resolve_inside(img_dir, p.name, what="image", file=img_dir)
        if p.stem in found:
            raise ValueError(
                f"{img_dir}: {found[p.stem].name} and {p.name} share the ImageID {p.stem!r}"
            )
        found[p.stem] = p
    return found


def _size(path: Path) -> tuple[int, int]:
    try:
        return image_size(path)  # the header only, no pixel decoding
    except Exception as err:  # PIL raises many kinds for a broken file
        raise ValueError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None


def _read(
    csv_path: Path, img_dir: Path, table: dict[str, str], *, background: bool
) -> tuple[list[ImageAnn], list[str], list[str]]:
    """``(records, classes, losses)`` of one box CSV; images from ``img_dir``."""
    if not csv_path.is_file():
        raise FileNotFoundError(f"box CSV: no such file: {csv_path}")
    if not img_dir.is_dir():
        raise FileNotFoundError(f"image folder: no such folder: {img_dir}")
    labels = class_labels(table)
    images = _image_files(img_dir)
    records: dict[str, ImageAnn] = {}
    losses: list[str] = []
    cols: dict[str, int] | None = None
    for lineno, fields in _csv_rows(csv_path, "box CSV"):
        where = f"{csv_path} line {lineno}"
        if cols is None:
            cols, header = _columns(fields, where)
            if header:
                continue
        row = parse_box_row(fields, cols, where)
        image_id = _image_id(row["ImageID"], f"line {lineno}", csv_path)
        mid = row["LabelName"]
        if mid not in labels:
            raise ValueError(f"{where}: unknown LabelName {mid!r} (not in the class table)")
        rec = records.get(image_id)
        if rec is None:
            path = images.get(image_id)
            if path is None:
                raise FileNotFoundError(
                    f"{where}: no image {image_id}.jpg (or {'/'.join(IMAGE_SUFFIXES[1:])}) in "
                    f"{img_dir}"
                )
            w, h = _size(path)
            rec = records[image_id] = ImageAnn(path.name, w, h, [])
        x1, x2, y1, y2 = row["box"]
        bbox = (x1 * rec.width, y1 * rec.height, x2 * rec.width, y2 * rec.height)
        rec.objects.append(
            ObjectAnn(
                label=labels[mid],
                bbox=tuple(round(v, 6) for v in bbox),
                truncated=row["IsTruncated"] == 1,
                iscrowd=row["IsGroupOf"] == 1,
            )
        )
        losses += _row_losses(row, f"{csv_path.name} line {lineno}")
    if background:
        for image_id, path in images.items():
            if image_id not in records:
                w, h = _size(path)
                records[image_id] = ImageAnn(path.name, w, h, [])
    out = sorted(records.values(), key=lambda r: r.file_name)
    return out, list(labels.values()), losses


def _warn_losses(losses: list[str], stacklevel: int = 3) -> None:
    if losses:
        warnings.warn(
            f"Open Images fields the records cannot hold: {len(losses)}, e.g. {losses[0]}",
            FormatLossWarning,
            stacklevel=stacklevel,
        )


def read_openimages(
    csv_path: str | os.PathLike,
    image_dir: str | os.PathLike,
    class_table: str | os.PathLike | dict[str, str],
    *,
    warn: bool = True,
) -> tuple[list[ImageAnn], list[str]]:
    """Read one Open Images box CSV into records (absolute ``xyxy`` pixel boxes).

    Args:
        csv_path: the box CSV (header optional, see the module docstring).
        image_dir: the folder of the images ``<ImageID>.jpg``: each image's ``(width,
            height)`` is read from its header (the CSV has no sizes).
        class_table: the class-description CSV, or an already read ``{MID: DisplayName}``.
        warn: emit one :class:`FormatLossWarning` when some row holds what records cannot
            (``IsOccluded``/``IsDepiction``/``IsInside`` = 1, ``-1`` flags, ``Confidence`` < 1).

    Returns:
        ``(records, classes)``: one record per image with boxes, sorted by file name, and the
        record labels of every class of the table, in table order.

    Raises:
        FileNotFoundError: a missing file or folder, or a row whose image is missing.
        ValueError: a malformed row (wrong number of fields, a value that is not a finite
            number, a coordinate outside [0, 1], ``XMin >= XMax``, a flag not in {1, 0, -1}),
            an unknown MID, an unsafe ``ImageID``
            (:class:`~dlcv_utils.datasets._paths.UnsafePathError`), an unreadable image; the
            message names the file and the line.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from dlcv_utils.datasets._io import encode_image
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a1.jpg").write_bytes(encode_image(np.zeros((50, 100, 3), np.uint8), ".jpg"))
        >>> _ = (d / "boxes.csv").write_text(",".join(BOX_COLUMNS) + "\\n"
        ...     "a1,xclick,/m/0k4j,1,0.4,0.6,0.3,0.7,0,0,1,0,0\\n")
        >>> recs, classes = read_openimages(d / "boxes.csv", d, {"/m/0k4j": "Car"})
        >>> recs[0].file_name, recs[0].width, recs[0].objects[0].bbox, recs[0].objects[0].iscrowd
        ('a1.jpg', 100, (40.0, 15.0, 60.0, 35.0), True)
    """
    table = class_table if isinstance(class_table, dict) else read_class_table(class_table)
    records, classes, losses = _read(Path(csv_path), Path(image_dir), table, background=False)
    if warn:
        _warn_losses(losses)
    return records, classes


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _frac(value: float) -> str:
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def openimages_losses(record: ImageAnn) -> list[str]:
    """What an Open Images box CSV cannot hold of ``record`` (difficult, masks, outside boxes).

    Example:
        >>> openimages_losses(ImageAnn("a.png", 10, 10, [ObjectAnn("x", (0, 0, 12, 5), difficult=True)]))
        ['a.png object 0: Open Images cannot hold difficult=1 (dropped)', 'a.png object 0: box (0, 0, 12, 5) reaches outside the 10 x 10 image: clipped (Open Images stores fractions in [0, 1])']
    """
    out = []
    for i, obj in enumerate(record.objects):
        where = f"{record.file_name} object {i}"
        if obj.difficult:
            out.append(f"{where}: Open Images cannot hold difficult=1 (dropped)")
        if obj.segmentation is not None:
            out.append(f"{where}: Open Images' box CSV cannot hold a mask (dropped)")
        x1, y1, x2, y2 = check_box(obj.bbox, where)
        if x1 < 0 or y1 < 0 or x2 > record.width or y2 > record.height:
            box = ", ".join(f"{v:g}" for v in (x1, y1, x2, y2))
            out.append(
                f"{where}: box ({box}) reaches outside the {record.width} x {record.height} "
                "image: clipped (Open Images stores fractions in [0, 1])"
            )
    return out


def _mids(classes: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """``{MID: name}`` for ``classes``: the MIDs of ``known`` ({MID: name}) where the name
    matches, else ``/dlcv/<index>``."""
    by_name = {name: mid for mid, name in (known or {}).items()}
    out = {}
    for i, name in enumerate(classes):
        check_label(name, "classes")
        mid = by_name.get(name, f"/dlcv/{i}")
        while mid in out:
            mid += "_"
        out[mid] = name
    return out


def box_csv_text(records: list[ImageAnn], mids: dict[str, str]) -> str:
    """The box CSV (with header) for ``records``; ``mids`` maps MID -> record label.

    Raises:
        ValueError: a label without a MID, a ``file_name`` with a folder, two images with the
            same ``ImageID`` (stem), a box that is not finite or has no area inside the image,
            a size that is not a positive whole number.

    Example:
        >>> rec = ImageAnn("a1.png", 100, 50, [ObjectAnn("Car", (40, 15, 60, 35), iscrowd=True)])
        >>> print(box_csv_text([rec], {"/m/0k4j": "Car"}), end="")
        ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside
        a1,dlcv,/m/0k4j,1,0.4,0.6,0.3,0.7,-1,0,1,-1,-1
    """
    mid_of = {name: mid for mid, name in mids.items()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(BOX_COLUMNS)
    seen: dict[str, str] = {}
    for rec in records:
        if not isinstance(rec, ImageAnn):
            raise TypeError(f"records must hold ImageAnn, got {type(rec).__name__}")
        name = check_name(rec.file_name, file="records")
        if "/" in name:
            raise ValueError(
                f"records: {rec.file_name!r}: Open Images ImageIDs are plain file names "
                "(no folders)"
            )
        image_id = Path(name).stem
        if image_id in seen:
            raise ValueError(
                f"records: {seen[image_id]!r} and {rec.file_name!r} share the ImageID "
                f"{image_id!r} (Open Images: one image per ImageID)"
            )
        seen[image_id] = rec.file_name
        where = f"record {rec.file_name!r}"
        w, h = check_size(rec.width, rec.height, where)
        for i, obj in enumerate(rec.objects):
            owhere = f"{where} object {i}"
            if obj.label not in mid_of:
                raise ValueError(f"records: {rec.file_name} has label {obj.label!r} not in classes")
            x1, y1, x2, y2 = check_box(obj.bbox, owhere)
            fx1, fx2 = max(0.0, x1 / w), min(1.0, x2 / w)
            fy1, fy2 = max(0.0, y1 / h), min(1.0, y2 / h)
            if not (fx1 < fx2 and fy1 < fy2):
                raise ValueError(f"{owhere}: box {obj.bbox} has no area inside the {w} x {h} image")
            writer.writerow(
                [image_id, SOURCE, mid_of[obj.label], "1"]
                + [_frac(v) for v in (fx1, fx2, fy1, fy2)]
                + ["-1", str(int(bool(obj.truncated))), str(int(bool(obj.iscrowd))), "-1", "-1"]
            )
    return buf.getvalue()


def write_openimages(
    records: list[ImageAnn],
    csv_path: str | os.PathLike,
    classes: list[str],
    *,
    class_table_path: str | os.PathLike | None = None,
    mids: dict[str, str] | None = None,
    warn: bool = True,
) -> dict[str, str]:
    """Write ``records`` as an Open Images box CSV (atomically), and optionally its class table.

    Args:
        records: the images (``ImageID`` = ``file_name`` without its suffix).
        csv_path: target box CSV.
        classes: the class names (labels of ``records``).
        class_table_path: also write the class-description table here.
        mids: known ``{MID: name}`` pairs to reuse (e.g. the official table); other names get
            ``/dlcv/<index in classes>``.
        warn: warn (:class:`FormatLossWarning`) about what cannot be stored.

    Returns:
        The ``{MID: name}`` table used.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rec = ImageAnn("a1.jpg", 100, 50, [ObjectAnn("Car", (40, 15, 60, 35))])
        >>> write_openimages([rec], d / "b.csv", ["Car", "Cat"], mids={"/m/0k4j": "Car"})
        {'/m/0k4j': 'Car', '/dlcv/1': 'Cat'}
    """
    table = _mids(list(classes), mids)
    text = box_csv_text(list(records), table)
    if warn:
        _warn_losses([line for r in records for line in openimages_losses(r)])
    if class_table_path is not None:
        write_class_table(class_table_path, table)
    atomic_write_text(csv_path, text)
    return table


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def image_dir(root: str | os.PathLike, split: str) -> Path:
    """``root/<split>``."""
    return Path(root) / split


def annotation_path(root: str | os.PathLike, split: str, file_name: str = "") -> Path:
    """``root/<split>-annotations-bbox.csv`` (or the official ``oidv6-train-...`` name).

    Example:
        >>> annotation_path("d", "validation").as_posix()
        'd/validation-annotations-bbox.csv'
    """
    root = Path(root)
    plain = root / f"{split}-annotations-bbox.csv"
    if not plain.is_file():
        for other in sorted(root.glob(f"oidv*-{split}-annotations-bbox.csv")):
            if _SPLIT_CSV.match(other.name).group(1) == split:
                return other
    return plain


def class_table_path(root: str | os.PathLike) -> Path:
    """The class table of ``root``: the first of :data:`CLASS_TABLES` that exists."""
    root = Path(root)
    for name in CLASS_TABLES:
        if (root / name).is_file():
            return root / name
    return root / CLASS_TABLE


def find_splits(root: str | os.PathLike) -> list[str]:
    """Split names of ``root/*-annotations-bbox.csv`` (``oidv6-train-...`` -> ``train``)."""
    found = set()
    for p in Path(root).glob("*-annotations-bbox.csv"):
        m = _SPLIT_CSV.match(p.name)
        if m and p.is_file():
            found.add(m.group(1))
    return sorted(found)


def read_split(root: str | os.PathLike, split: str) -> tuple[list[ImageAnn], list[str]]:
    """Read the Open Images split ``split``: images of ``root/<split>`` without rows are
    background images; warns about dropped fields (:func:`read_openimages`)."""
    records, classes, losses = read_split_losses(root, split)
    _warn_losses(losses, stacklevel=4)
    return records, classes


def read_split_losses(
    root: str | os.PathLike, split: str
) -> tuple[list[ImageAnn], list[str], list[str]]:
    """:func:`read_split` without the warning: ``(records, classes, losses)``, one loss line
    per field the records cannot hold (what :func:`~dlcv_utils.datasets.convert` reports)."""
    root = Path(root)
    csv_path = annotation_path(root, split)
    if not csv_path.is_file():
        raise FileNotFoundError(f"no Open Images split {split!r}: {csv_path} does not exist")
    table_path = class_table_path(root)
    if not table_path.is_file():
        raise FileNotFoundError(f"no Open Images class table: {table_path} does not exist")
    img_dir = resolve_inside(root, split, what="split", file=root)
    if not img_dir.is_dir():
        raise FileNotFoundError(f"no Open Images split {split!r}: {img_dir} does not exist")
    return _read(csv_path, img_dir, read_class_table(table_path), background=True)


def split_files(
    records: list[ImageAnn], classes: list[str], split: str, root: Path
) -> tuple[dict[str, bytes], set[str], list[str]]:
    """The split's box CSV and the shared class table: ``({path: bytes}, shared, losses)``.

    A class table already in ``root`` must list the same names (its MIDs are kept).
    """
    known = None
    old = class_table_path(root)
    if old.is_file():
        known = read_class_table(old)
        if list(known.values()) != list(classes):
            raise ValueError(
                f"classes {list(classes)} differ from the ones already in {old}: "
                f"{list(known.values())}"
            )
    table = _mids(list(classes), known)
    files = {
        f"{split}-annotations-bbox.csv": box_csv_text(records, table).encode("utf-8"),
        old.name: class_table_text(table).encode("utf-8"),
    }
    losses = [line for rec in records for line in openimages_losses(rec)]
    return files, {old.name}, losses


# --------------------------------------------------------------------------------------------
# validation (reached through dlcv_utils.datasets.validate and the format table)
# --------------------------------------------------------------------------------------------


def _strip(msg: str, path) -> str:
    for prefix in (f"{path}: ", f"{path} "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return re.sub(r"^line \d+: ", "", msg)


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    atomic_write_text(path, buf.getvalue())


def validate_class_table(path: Path, report, repair) -> dict[str, str] | None:
    """Check a class table; returns ``{MID: name}`` of its good rows (``None``: unreadable)."""
    col = _Collector(report, path, repair)
    report.files_checked += 1
    try:
        rows = list(_csv_rows(path, "class table"))
    except (ValueError, OSError) as err:
        col.bad("", _strip(str(err), path))
        return None
    table: dict[str, str] = {}
    keep = []
    for i, (lineno, fields) in enumerate(rows):
        where = f"line {lineno}"
        if i == 0 and _is_class_header(fields):
            keep.append(fields)
            continue
        try:
            if len(fields) != 2:
                raise ValueError(f"x: expected 2 fields 'LabelName,DisplayName', got {fields}")
            mid = _check_mid(fields[0], "x")
            name = check_label(fields[1], "x")
            if mid in table:
                raise ValueError(f"x: duplicate MID {mid!r}")
        except ValueError as err:
            if not col.bad(where, str(err).split(": ", 1)[1], "row dropped"):
                keep.append(fields)
            continue
        table[mid] = name
        keep.append(fields)
    if col.changed:
        _write_rows(path, keep)
    return table


_BESIDE = object()


def validate_openimages_file(
    path: Path, report, repair, image_dir=None, table=_BESIDE, num_classes=None
):
    """Check every row of a box CSV against ``table`` (``{MID: name}``; ``None``: MIDs not
    checked; default: the class table beside the file), and the images in ``image_dir``.
    ``num_classes`` is unused: the class table names the classes.

    Repair: drops rows that cannot be read (wrong field count, not numbers, NaN/inf, unknown
    MID, unsafe ``ImageID``, zero-size or entirely outside box, bad ``Confidence``), clips
    coordinates to [0, 1], sets a flag that is not 1/0/-1 to -1 (unknown); then rewrites the
    file atomically. A missing image is reported, not repaired.
    """
    path = Path(path)
    if table is _BESIDE:
        table = None
        tpath = class_table_path(path.parent)
        if tpath.is_file():
            table = validate_class_table(tpath, report, repair)
        else:
            report.problems.append(
                Problem(str(path), "", f"no class table {CLASS_TABLE} beside it: MIDs unchecked")
            )
    col = _Collector(report, path, repair)
    report.files_checked += 1
    try:
        rows = list(_csv_rows(path, "box CSV"))
    except (ValueError, OSError) as err:
        col.bad("", _strip(str(err), path))
        return
    images = None
    if image_dir is not None and Path(image_dir).is_dir():
        try:
            images = _image_files(Path(image_dir))
        except ValueError as err:
            col.bad("", str(err))
            images = {}
    elif image_dir is not None:
        col.bad("", f"image folder {image_dir} does not exist")
    checked: dict[str, str | None] = {}
    out: list[list[str]] = []
    cols = None
    for lineno, fields in rows:
        where = f"line {lineno}"
        if cols is None:
            try:
                cols, header = _columns(fields, where)
            except ValueError as err:
                col.bad(where, str(err).split(": ", 1)[1])
                return
            if header:
                out.append(fields)
                continue
        new = _check_row(col, where, fields, cols, table, path)
        if new is None:
            if not repair:
                out.append(fields)
            continue
        out.append(new)
        image_id = fields[cols["ImageID"]]
        if images is not None and image_id not in checked:
            p = images.get(image_id)
            checked[image_id] = None
            if p is None:
                col.bad(where, f"no image {image_id}.jpg (or .jpeg/.png/.bmp) in {image_dir}")
            else:
                why = _image_problem(p)
                if why:
                    col.bad(where, why)
    if col.changed:
        _write_rows(path, out)


def _check_row(col, where, fields, cols, table, path) -> list[str] | None:
    """One box row: the (repaired) fields, or ``None`` when it is to be dropped."""
    need = max(cols.values()) + 1
    if len(fields) != need:
        col.bad(where, f"expected {need} fields, got {len(fields)}", "row dropped")
        return None
    try:
        _image_id(fields[cols["ImageID"]], None, path)
    except UnsafePathError as err:
        col.bad(where, _strip(str(err), path), "row dropped")
        return None
    mid = fields[cols["LabelName"]]
    if table is not None and mid not in table:
        col.bad(where, f"unknown LabelName {mid!r} (not in the class table)", "row dropped")
        return None
    try:
        if "Confidence" in cols:
            conf = _number(fields[cols["Confidence"]], "Confidence", "x")
            if not 0.0 <= conf <= 1.0:
                raise ValueError(f"x: Confidence must be in [0, 1], got {conf:g}")
        vals = [_number(fields[cols[c]], c, "x") for c in ("XMin", "XMax", "YMin", "YMax")]
    except ValueError as err:
        col.bad(where, str(err).split(": ", 1)[1], "row dropped")
        return None
    new = list(fields)
    x1, x2, y1, y2 = vals
    if x1 >= x2 or y1 >= y2:
        reason = f"XMin {x1:g} >= XMax {x2:g}" if x1 >= x2 else f"YMin {y1:g} >= YMax {y2:g}"
        col.bad(where, reason + " (zero or negative size)", "row dropped")
        return None
    outside = [
        f"{c}={v:g}" for c, v in zip(("XMin", "XMax", "YMin", "YMax"), vals) if not 0 <= v <= 1
    ]
    if outside:
        c = [min(1.0, max(0.0, v)) for v in vals]
        reason = f"values outside [0, 1]: {', '.join(outside)}"
        if c[0] >= c[1] or c[2] >= c[3]:
            col.bad(where, reason + " (box entirely outside)", "row dropped")
            return None
        if col.bad(where, reason, "clipped to [0, 1]"):
            for name, v in zip(("XMin", "XMax", "YMin", "YMax"), c):
                new[cols[name]] = _frac(v)
    for flag in FLAG_COLUMNS:
        if flag in cols:
            try:
                _flag(new[cols[flag]], flag, "x")
            except ValueError as err:
                if col.bad(where, str(err).split(": ", 1)[1], "set to -1 (unknown)"):
                    new[cols[flag]] = "-1"
    return new


def validate_openimages_dir(root: Path, split, report, repair, check_images):
    """Check the class table and every split's box CSV (and images) of an Open Images root."""
    root = Path(root)
    tpath = class_table_path(root)
    table = None
    if tpath.is_file():
        table = validate_class_table(tpath, report, repair)
    else:
        report.problems.append(Problem(str(tpath), "", "class table does not exist"))
    splits = [split] if split else find_splits(root)
    if not splits:
        report.problems.append(Problem(str(root), "", "no <split>-annotations-bbox.csv found"))
    for s in splits:
        csv_path = annotation_path(root, s)
        if not csv_path.is_file():
            report.problems.append(Problem(str(csv_path), "", "box CSV does not exist"))
            continue
        img_dir = None
        if check_images:
            try:
                img_dir = resolve_inside(root, s, what="split", file=root)
            except UnsafePathError as err:
                report.problems.append(Problem(str(root), "", str(err)))
                continue
        validate_openimages_file(csv_path, report, repair, img_dir, table)
