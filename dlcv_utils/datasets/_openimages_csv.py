"""Open Images low-level pieces shared by the reader/writer and the validator.

The constants of the format, the class-description table, one box row, the image folder and
the layout's file names. Public names are re-exported by :mod:`dlcv_utils.datasets.openimages`
(import them from there); the ``_`` helpers are shared with
:mod:`dlcv_utils.datasets._openimages_validate`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path

from dlcv_utils.datasets._common import check_label
from dlcv_utils.datasets._io import atomic_write_text
from dlcv_utils.datasets._paths import UnsafePathError, check_name, resolve_inside

__all__ = [
    "BOX_COLUMNS",
    "CLASS_TABLE",
    "CLASS_TABLES",
    "FLAG_COLUMNS",
    "IMAGE_SUFFIXES",
    "REQUIRED_COLUMNS",
    "SOURCE",
    "annotation_path",
    "class_labels",
    "class_table_path",
    "class_table_text",
    "find_splits",
    "image_dir",
    "parse_box_row",
    "read_class_table",
    "write_class_table",
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
# the image folder and the layout's file names
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


def _frac(value: float) -> str:
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


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
