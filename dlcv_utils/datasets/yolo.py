"""YOLO: one ``class cx cy w h`` text file per image, ``data.yaml``, and the YOLO layouts.

Each line is normalised by the image width/height, class ids 0-based in the order of
``data.yaml``'s ``names``. A segmentation line ``class x1 y1 x2 y2 x3 y3 ...`` (YOLO-seg) is
read as its polygon and the polygon's bounding box.

Layouts: ours and Ultralytics' classic one put images in ``root/images/<split>`` and labels in
``root/labels/<split>``; Ultralytics/Roboflow exports often use ``root/<split>/images`` and
``root/<split>/labels``. Both are found from ``data.yaml``: the label folder is the image
folder with its last ``images`` component replaced by ``labels`` (Ultralytics' rule).

Taught in lesson 02.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path, PurePosixPath

from dlcv_utils.datasets._common import (
    FormatLossWarning,
    check_box,
    check_label,
    check_size,
    read_text,
)
from dlcv_utils.datasets._io import atomic_write_text
from dlcv_utils.datasets._paths import UnsafePathError, check_name, resolve_inside
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "IMAGE_SUFFIXES",
    "YOLO_ROUNDING_TOLERANCE",
    "annotation_path",
    "find_splits",
    "image_dir",
    "label_dir",
    "parse_yolo_line",
    "read_data_yaml",
    "read_split",
    "read_yolo",
    "snap_unit_box",
    "split_files",
    "write_data_yaml",
    "write_yolo",
    "yolo_lines",
    "yolo_losses",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
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


def parse_yolo_line(fields: list[str], where: str):
    """Parse the fields of one label line: ``(class id, (cx, cy, w, h), polygon or None)``.

    The class must be written as a whole number (``1``, not ``1e0`` or ``1.0``); every value
    must be a finite number; a box needs positive ``w`` and ``h``; a YOLO-seg line holds at
    least 3 points.

    Raises:
        ValueError: naming ``where`` and the problem.

    Example:
        >>> parse_yolo_line("0 0.5 0.5 0.2 0.4".split(), "a.txt line 1")
        (0, (0.5, 0.5, 0.2, 0.4), None)
        >>> parse_yolo_line("0 nan 0.5 0.2 0.4".split(), "a.txt line 1")
        Traceback (most recent call last):
        ...
        ValueError: a.txt line 1: values must be finite numbers: '0 nan 0.5 0.2 0.4'
    """
    line = " ".join(fields)
    n = len(fields)
    if n != 5 and (n < 7 or n % 2 == 0):
        raise ValueError(
            f"{where}: expected 5 fields 'class cx cy w h', got {n}: {line!r} (a YOLO-seg "
            "polygon line has an odd number >= 7)"
        )
    if not fields[0].isdigit():
        raise ValueError(f"{where}: class id must be a whole number like 0, got {fields[0]!r}")
    try:
        vals = [float(v) for v in fields[1:]]
    except ValueError:
        raise ValueError(f"{where}: not numbers: {line!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{where}: values must be finite numbers: {line!r}")
    cls = int(fields[0])
    if n == 5:
        cx, cy, w, h = vals
        if w <= 0 or h <= 0:
            raise ValueError(f"{where}: w and h must be positive, got w={w:g}, h={h:g}")
        return cls, (cx, cy, w, h), None
    xs, ys = vals[0::2], vals[1::2]
    x1, x2, y1, y2 = min(xs), max(xs), min(ys), max(ys)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"{where}: the polygon has zero width or height")
    return cls, ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), vals


def read_yolo(
    label_path: str | os.PathLike,
    image_size: tuple[int, int],
    classes: list[str] | None = None,
) -> list[ObjectAnn]:
    """Read one YOLO label file into a list of :class:`ObjectAnn` (absolute ``xyxy``).

    Args:
        label_path: the ``.txt`` file (``class cx cy w h`` per line, normalised; YOLO-seg
            polygon lines give the polygon as ``segmentation``, in pixels). A missing file
            raises; :func:`~dlcv_utils.datasets.layout.read_dataset` treats an image without a
            label file as background (YOLO's convention).
        image_size: ``(width, height)`` of the image, to undo the normalisation.
        classes: class names by id; ``None`` keeps the id as the label (``"0"``, ``"1"``...).

    Raises:
        ValueError: a line with the wrong number of fields (message names file and line), a
            non-numeric or non-finite value, ``w``/``h`` not positive, a class id that is not a
            whole number or out of range, a file that is not UTF-8.

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
        ValueError: ...a.txt line 1: expected 5 fields 'class cx cy w h', got 4: '1 0.5 0.5 0.2' ...
    """
    label_path = Path(label_path)
    if not label_path.is_file():
        raise FileNotFoundError(f"label_path: no such file: {label_path}")
    try:
        width, height = check_size(*image_size, "image_size")
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height), got {image_size!r}") from None
    objects = []
    text = read_text(label_path, "label file")
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label_path} line {lineno}"
        cls, (cx, cy, w, h), poly = parse_yolo_line(fields, where)
        if classes is not None and not 0 <= cls < len(classes):
            raise ValueError(f"{where}: class id {cls} outside 0..{len(classes) - 1}")
        label = classes[cls] if classes is not None else str(cls)
        x1, y1, x2, y2 = snap_unit_box((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        bbox = (x1 * width, y1 * height, x2 * width, y2 * height)
        seg = None
        if poly is not None:
            seg = [[round(v * (width if i % 2 == 0 else height), 6) for i, v in enumerate(poly)]]
        objects.append(
            ObjectAnn(label=label, bbox=tuple(round(v, 6) for v in bbox), segmentation=seg)
        )
    return objects


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

    Raises:
        ValueError: a label not in ``classes``, a non-finite box, a size that is not a
            positive whole number.

    Example:
        >>> print(yolo_lines(ImageAnn("a.png", 100, 50, [ObjectAnn("dog", (40, 15, 60, 35))]),
        ...                  ["cat", "dog"]), end="")
        1 0.500000 0.500000 0.200000 0.400000
    """
    idx = {name: i for i, name in enumerate(classes)}
    where = f"record {record.file_name!r}"
    w, h = check_size(record.width, record.height, where)
    lines = []
    for i, obj in enumerate(record.objects):
        if obj.label not in idx:
            raise ValueError(
                f"record: {record.file_name} has label {obj.label!r} not in classes {list(classes)}"
            )
        check_label(obj.label, f"{where} object {i}")
        x1, y1, x2, y2 = check_box(obj.bbox, f"{where} object {i}")
        vals = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"{where} object {i}: box {obj.bbox} overflows")
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
        data = yaml.safe_load(read_text(yaml_path, "data.yaml"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{yaml_path}: malformed YAML{pos}: {err}") from err
    if not isinstance(data, dict) or "names" not in data:
        raise ValueError(f"{yaml_path}: must be a mapping with a 'names' key")
    names = data["names"]
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise ValueError(f"{yaml_path}: 'names' keys must be ids 0..K-1") from None
        if keys != list(range(len(keys))) or len(keys) != len(names):
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
    atomic_write_text(yaml_path, data_yaml_text(classes, splits))


def data_yaml_text(classes: list[str], splits: dict[str, str]) -> str:
    """The text :func:`write_data_yaml` writes."""
    import yaml

    for c in classes:
        check_label(c, "classes")
    data = {"path": ".", "nc": len(classes), "names": {i: str(n) for i, n in enumerate(classes)}}
    for split, rel in splits.items():
        data[split] = rel
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def _yaml_or_none(root: Path) -> dict | None:
    path = root / "data.yaml"
    return read_data_yaml(path) if path.is_file() else None


def image_dir(root: str | os.PathLike, split: str, data: dict | None = None) -> Path:
    """The image folder of ``split``: ``data.yaml``'s entry (kept inside ``root``), else
    ``root/images/<split>``.

    A Roboflow-style ``../train/images`` is read as ``train/images`` (what Ultralytics does
    when the ``..`` folder does not exist); anything else leaving ``root`` is refused.

    Example:
        >>> image_dir("d", "val").as_posix()
        'd/images/val'
        >>> image_dir("d", "train", {"train": "train/images"}).as_posix()
        'd/train/images'
    """
    root = Path(root)
    if data is None:
        data = _yaml_or_none(root) or {}
    entry = data.get(split)
    if not entry:
        return root / "images" / split
    yaml_path = root / "data.yaml"
    if not isinstance(entry, str):
        raise ValueError(
            f"{yaml_path}: {split!r} must be one folder path, got {entry!r} (lists and "
            ".txt image lists are not supported)"
        )
    if entry.startswith("../"):
        inner = entry[3:]
        if not (root / entry).is_dir():
            entry = inner
    try:
        return resolve_inside(root, entry, what=f"split {split!r}", file=yaml_path)
    except UnsafePathError:
        raise
    except ValueError as err:  # pragma: no cover - resolve_inside only raises UnsafePathError
        raise UnsafePathError(str(err)) from None


def label_dir(root: str | os.PathLike, split: str, data: dict | None = None) -> Path:
    """The label folder: the image folder with its last ``images`` part replaced by ``labels``.

    Example:
        >>> label_dir("d", "val").as_posix()
        'd/labels/val'
        >>> label_dir("d", "train", {"train": "train/images"}).as_posix()
        'd/train/labels'
    """
    root = Path(root)
    img = image_dir(root, split, data)
    parts = list(PurePosixPath(img.relative_to(root).as_posix()).parts)
    if "images" not in parts:
        return root / "labels" / split
    i = len(parts) - 1 - parts[::-1].index("images")
    parts[i] = "labels"
    return root.joinpath(*parts)


def annotation_path(root: str | os.PathLike, split: str, file_name: str = "") -> Path:
    """``<label folder>/<stem>.txt`` (see :func:`label_dir`)."""
    return label_dir(root, split) / f"{Path(file_name).stem}.txt"


def find_splits(root: str | os.PathLike) -> list[str]:
    """Splits named in ``data.yaml`` (train/val/test) or found as ``root/images/<split>``."""
    root = Path(root)
    found = set()
    data = _yaml_or_none(root)
    if data is not None:
        found |= {k for k in ("train", "val", "test") if data.get(k)}
    if (root / "images").is_dir():
        found |= {p.name for p in (root / "images").iterdir() if p.is_dir()}
    return sorted(found)


def read_split(root: str | os.PathLike, split: str) -> tuple[list[ImageAnn], list[str]]:
    """Read the YOLO split ``split`` (image sizes from the image files)."""
    from dlcv_utils.datasets._io import image_size

    root = Path(root)
    yaml_path = root / "data.yaml"
    if not yaml_path.is_file():
        raise FileNotFoundError(f"no YOLO data.yaml: {yaml_path} does not exist")
    data = read_data_yaml(yaml_path)
    classes = data["names"]
    img_dir = image_dir(root, split, data)
    if not img_dir.is_dir():
        raise FileNotFoundError(f"no YOLO split {split!r}: {img_dir} does not exist")
    labels = label_dir(root, split, data)
    records = []
    for img in sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        check_name(img.name, what="image file name", file=img_dir)
        resolve_inside(img_dir, img.name, what="image", file=img_dir)
        try:
            w, h = image_size(img)
        except Exception as err:  # PIL raises many kinds for a broken file
            raise ValueError(f"{img}: not a readable image ({err})") from None
        label = labels / f"{img.stem}.txt"
        objects = read_yolo(label, (w, h), classes) if label.is_file() else []
        records.append(ImageAnn(img.name, w, h, objects))
    return records, classes


def split_files(
    records: list[ImageAnn], classes: list[str], split: str, root: Path
) -> tuple[dict[str, bytes], set[str], list[str]]:
    """Label files and the merged ``data.yaml``: ``({relative path: bytes}, shared, losses)``."""
    yaml_path = root / "data.yaml"
    splits = {}
    if yaml_path.is_file():
        old = read_data_yaml(yaml_path)
        if old["names"] != list(classes):
            raise ValueError(
                f"classes {list(classes)} differ from the ones already in {yaml_path}: "
                f"{old['names']}"
            )
        splits = {k: old[k] for k in ("train", "val", "test") if old.get(k)}
    splits[split] = f"images/{split}"
    files: dict[str, bytes] = {}
    losses: list[str] = []
    stems = set()
    for rec in records:
        stem = Path(rec.file_name).stem
        if stem in stems:
            raise ValueError(f"records: two images share the stem {stem!r} (YOLO: one txt each)")
        stems.add(stem)
        losses += yolo_losses(rec)
        files[f"labels/{split}/{stem}.txt"] = yolo_lines(rec, classes).encode("utf-8")
    files["data.yaml"] = data_yaml_text(classes, dict(sorted(splits.items()))).encode("utf-8")
    return files, {"data.yaml"}, losses
