"""Open Images validation and repair (reached through :mod:`dlcv_utils.datasets.validate`
and the format table); re-exported by :mod:`dlcv_utils.datasets.openimages`."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from dlcv_utils.datasets._common import check_label
from dlcv_utils.datasets._io import atomic_write_text
from dlcv_utils.datasets._openimages_csv import (
    CLASS_TABLE,
    FLAG_COLUMNS,
    _check_mid,
    _columns,
    _csv_rows,
    _flag,
    _frac,
    _image_files,
    _image_id,
    _is_class_header,
    _number,
    annotation_path,
    class_table_path,
    find_splits,
)
from dlcv_utils.datasets._paths import UnsafePathError, resolve_inside
from dlcv_utils.datasets._report import Problem, _Collector
from dlcv_utils.datasets._validators import _image_problem

__all__ = ["validate_class_table", "validate_openimages_dir", "validate_openimages_file"]


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
