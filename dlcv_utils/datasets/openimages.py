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

This module reads and writes; the format's constants, the class table, one box row and the
layout's file names live in :mod:`dlcv_utils.datasets._openimages_csv`, validation and repair
in :mod:`dlcv_utils.datasets._openimages_validate`. Every public name is re-exported here.

Taught in lesson 02.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path

from dlcv_utils.datasets._common import FormatLossWarning, check_box, check_label, check_size
from dlcv_utils.datasets._io import atomic_write_text, image_size
from dlcv_utils.datasets._openimages_csv import (
    BOX_COLUMNS,
    CLASS_TABLE,
    CLASS_TABLES,
    FLAG_COLUMNS,
    IMAGE_SUFFIXES,
    REQUIRED_COLUMNS,
    SOURCE,
    _columns,
    _csv_rows,
    _frac,
    _image_files,
    _image_id,
    _row_losses,
    annotation_path,
    class_labels,
    class_table_path,
    class_table_text,
    find_splits,
    image_dir,
    parse_box_row,
    read_class_table,
    write_class_table,
)
from dlcv_utils.datasets._openimages_validate import (
    validate_class_table,
    validate_openimages_dir,
    validate_openimages_file,
)
from dlcv_utils.datasets._paths import check_name, resolve_inside
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "BOX_COLUMNS",
    "CLASS_TABLE",
    "CLASS_TABLES",
    "FLAG_COLUMNS",
    "IMAGE_SUFFIXES",
    "REQUIRED_COLUMNS",
    "SOURCE",
    "annotation_path",
    "box_csv_text",
    "class_labels",
    "class_table_path",
    "class_table_text",
    "find_splits",
    "image_dir",
    "openimages_losses",
    "parse_box_row",
    "read_class_table",
    "read_openimages",
    "read_split",
    "read_split_losses",
    "split_files",
    "validate_class_table",
    "validate_openimages_dir",
    "validate_openimages_file",
    "write_class_table",
    "write_openimages",
]


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


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
# layout: reading and writing a split
# --------------------------------------------------------------------------------------------


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
