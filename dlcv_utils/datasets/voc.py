"""PASCAL VOC: one XML file per image, and the VOC folder layout.

VOC stores 1-based, inclusive *pixel indices* ``xmin..xmax``. The pixel with index ``xmin``
covers the continuous interval ``[xmin - 1, xmin]``, so the box is
``(xmin - 1, ymin - 1, xmax, ymax)`` in our continuous convention (the same rule as
Detectron2). :func:`write_voc` adds the 1 back. Whole numbers are written as integers.

Layout::

    root/JPEGImages/<file>   root/Annotations/<stem>.xml
    root/ImageSets/Main/<split>.txt   root/classes.txt  (ours: the class order)

XML is parsed with :mod:`defusedxml`: files with entity declarations (the "billion laughs"
entity expansion) or external entities are refused with a :class:`ValueError`.

Taught in lesson 02.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from xml.etree import ElementTree as ET

from dlcv_utils.datasets._common import (
    FormatLossWarning,
    _num,
    check_box,
    check_label,
    check_size,
    read_text,
)
from dlcv_utils.datasets._io import atomic_write_text
from dlcv_utils.datasets._paths import check_name, resolve_inside
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = [
    "annotation_path",
    "find_splits",
    "image_dir",
    "parse_xml",
    "read_split",
    "read_voc",
    "split_files",
    "voc_losses",
    "voc_xml_text",
    "write_voc",
]

TRUE_FLAGS = ("1", "true", "yes")
FALSE_FLAGS = ("0", "false", "no", "")


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
    import math

    text = _voc_text(elem, tag, where)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: <{tag}> is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: <{tag}> must be a finite number, got {text!r}")
    return value


def voc_flag(elem: ET.Element, tag: str, where: str) -> bool:
    """A VOC 0/1 flag: ``1``/``true``/``yes`` or ``0``/``false``/``no``/empty (any case).

    Example:
        >>> e = ET.fromstring("<object><difficult>no</difficult></object>")
        >>> voc_flag(e, "difficult", "a.xml"), voc_flag(e, "truncated", "a.xml")
        (False, False)
    """
    child = elem.find(tag)
    if child is None or child.text is None:
        return False
    text = child.text.strip().lower()
    if text in TRUE_FLAGS:
        return True
    if text in FALSE_FLAGS:
        return False
    raise ValueError(f"{where}: <{tag}> must be 0 or 1, got {child.text.strip()!r}")


def read_voc(xml_path: str | os.PathLike) -> ImageAnn:
    """Read one PASCAL VOC annotation XML into an :class:`ImageAnn`.

    VOC's 1-based inclusive pixel indices become continuous coordinates:
    ``(xmin - 1, ymin - 1, xmax, ymax)``. ``image_id`` is ``None`` (VOC has no ids).

    Args:
        xml_path: path of the ``.xml`` file.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed XML (with line/column), entity declarations, missing
            ``<filename>``/``<size>``/``<name>``/``<bndbox>`` fields, non-numeric or
            non-finite values, a size that is not a positive whole number, a flag that is not
            0/1 (every message names the file).

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
    width, height = check_size(
        _voc_float(size, "width", where), _voc_float(size, "height", where), f"{where}: <size>"
    )
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
                difficult=voc_flag(obj, "difficult", owhere),
                truncated=voc_flag(obj, "truncated", owhere),
            )
        )
    return ImageAnn(file_name=file_name, width=width, height=height, objects=objects)


def _voc_tree(record: ImageAnn, folder: str = "JPEGImages") -> ET.Element:
    where = f"record {record.file_name!r}"
    check_name(record.file_name, file="record")
    width, height = check_size(record.width, record.height, where)
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = record.file_name
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(width)
    ET.SubElement(size, "height").text = str(height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for i, obj in enumerate(record.objects):
        owhere = f"{where} object {i}"
        o = ET.SubElement(root, "object")
        ET.SubElement(o, "name").text = check_label(obj.label, owhere)
        ET.SubElement(o, "pose").text = "Unspecified"
        ET.SubElement(o, "truncated").text = str(int(bool(obj.truncated)))
        ET.SubElement(o, "difficult").text = str(int(bool(obj.difficult)))
        b = ET.SubElement(o, "bndbox")
        x1, y1, x2, y2 = check_box(obj.bbox, owhere)
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2)):
            ET.SubElement(b, tag).text = _num(v)
    ET.indent(root, space="  ")
    return root


def voc_xml_text(record: ImageAnn) -> str:
    """The XML text :func:`write_voc` writes for ``record`` (checked: names, size, boxes).

    Example:
        >>> voc_xml_text(ImageAnn("a.jpg", 0, 10))
        Traceback (most recent call last):
        ...
        ValueError: record 'a.jpg' width: must be a positive whole number, got 0
    """
    if not isinstance(record, ImageAnn):
        raise TypeError(f"record must be an ImageAnn, got {type(record).__name__}")
    return ET.tostring(_voc_tree(record), encoding="unicode") + "\n"


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
    A label with a control character, a non-finite box, a size that is not a positive whole
    number or an unsafe ``file_name`` raise ``ValueError`` and write nothing.

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
    text = voc_xml_text(record)
    if warn:
        for msg in voc_losses(record):
            warnings.warn(msg, FormatLossWarning, stacklevel=2)
    atomic_write_text(xml_path, text)


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def image_dir(root: str | os.PathLike, split: str) -> Path:
    """``root/JPEGImages`` (all splits share it)."""
    return Path(root) / "JPEGImages"


def annotation_path(root: str | os.PathLike, split: str, file_name: str = "") -> Path:
    """``root/Annotations/<stem>.xml``."""
    return Path(root) / "Annotations" / f"{Path(file_name).stem}.xml"


def find_splits(root: str | os.PathLike) -> list[str]:
    """Split names of ``root/ImageSets/Main/*.txt`` (per-class lists left out)."""
    stems = {p.stem for p in (Path(root) / "ImageSets" / "Main").glob("*.txt")}
    # real VOC also has per-class lists such as aeroplane_train.txt: not splits
    return sorted(s for s in stems if not ("_" in s and s.rsplit("_", 1)[1] in stems))


def read_classes_txt(path: Path) -> list[str]:
    """Class names of a ``classes.txt`` (one per line)."""
    return [c for c in read_text(path, "class list").splitlines() if c]


def split_stems(lst: Path) -> list[tuple[int, str]]:
    """``(line number, stem)`` of each non-empty line of an ``ImageSets`` list."""
    out = []
    for lineno, line in enumerate(read_text(lst, "split list").splitlines(), start=1):
        if line.strip():
            out.append((lineno, line.split()[0]))
    return out


def read_split(root: str | os.PathLike, split: str) -> tuple[list[ImageAnn], list[str]]:
    """Read the VOC split ``split``; every list line and ``<filename>`` must stay in ``root``."""
    root = Path(root)
    lst = root / "ImageSets" / "Main" / f"{split}.txt"
    if not lst.is_file():
        raise FileNotFoundError(f"no VOC split {split!r}: {lst} does not exist")
    records = []
    for lineno, stem in split_stems(lst):
        xml = resolve_inside(root / "Annotations", stem + ".xml", what=f"line {lineno}", file=lst)
        rec = read_voc(xml)
        resolve_inside(image_dir(root, split), rec.file_name, what="<filename>", file=xml)
        records.append(rec)
    if (root / "classes.txt").is_file():
        classes = read_classes_txt(root / "classes.txt")
    else:
        classes = sorted({o.label for r in records for o in r.objects})
    return records, classes


def split_files(
    records: list[ImageAnn], classes: list[str], split: str, root: Path
) -> tuple[dict[str, bytes], set[str], list[str]]:
    """The annotation files of one split: ``({relative path: bytes}, shared paths, losses)``.

    ``classes.txt`` is shared by all splits: it must agree with an existing one in ``root``.
    """
    files: dict[str, bytes] = {}
    losses: list[str] = []
    old = root / "classes.txt"
    if old.is_file() and read_classes_txt(old) != list(classes):
        raise ValueError(
            f"classes {list(classes)} differ from the ones already in {old}: "
            f"{read_classes_txt(old)}"
        )
    files["classes.txt"] = "".join(f"{c}\n" for c in classes).encode("utf-8")
    stems = set()
    for rec in records:
        stem = Path(rec.file_name).stem
        if stem in stems:
            raise ValueError(f"records: two images share the stem {stem!r} (VOC: one XML each)")
        stems.add(stem)
        losses += voc_losses(rec)
        files[f"Annotations/{stem}.xml"] = voc_xml_text(rec).encode("utf-8")
    lst = "".join(f"{Path(r.file_name).stem}\n" for r in records)
    files[f"ImageSets/Main/{split}.txt"] = lst.encode("utf-8")
    return files, {"classes.txt"}, losses
