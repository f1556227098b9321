"""Whole datasets on disk: the standard VOC, COCO and YOLO folder layouts, and conversion.

The layouts (``<split>`` is ``train``, ``val``, ``test``...)::

    VOC   root/JPEGImages/<file>            root/Annotations/<stem>.xml
          root/ImageSets/Main/<split>.txt   root/classes.txt  (ours: the class order)
    COCO  root/images/<split>/<file>        root/annotations/instances_<split>.json
    YOLO  root/images/<split>/<file>        root/labels/<split>/<stem>.txt   root/data.yaml

Every file is written atomically (temporary file, then rename), and the same input gives
byte-identical files. :func:`convert` moves a dataset from one layout to another and returns a
:class:`ConversionReport` listing what the target format could not hold.

Taught in lesson 02.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlcv_utils.datasets._io import atomic_write_bytes, atomic_write_text, encode_image, image_size
from dlcv_utils.datasets.formats import (
    FormatLossWarning,
    read_coco,
    read_data_yaml,
    read_voc,
    read_yolo,
    to_coco_dict,
    voc_losses,
    write_data_yaml,
    write_voc,
    write_yolo,
    yolo_losses,
)
from dlcv_utils.datasets.records import ImageAnn

__all__ = [
    "FORMATS",
    "ConversionReport",
    "annotation_path",
    "convert",
    "find_splits",
    "image_path",
    "read_dataset",
    "write_dataset",
]

FORMATS = ("voc", "coco", "yolo")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _check_fmt(fmt: str, name: str = "fmt") -> str:
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise ValueError(f"{name} must be one of {FORMATS}, got {fmt!r}")
    return fmt.lower()


def image_path(root: str | os.PathLike, fmt: str, split: str, file_name: str) -> Path:
    """Where an image lives in a layout.

    Example:
        >>> image_path("d", "voc", "train", "a.png").as_posix()
        'd/JPEGImages/a.png'
        >>> image_path("d", "yolo", "val", "a.png").as_posix()
        'd/images/val/a.png'
    """
    fmt = _check_fmt(fmt)
    root = Path(root)
    if fmt == "voc":
        return root / "JPEGImages" / file_name
    return root / "images" / split / file_name


def annotation_path(root: str | os.PathLike, fmt: str, split: str, file_name: str = "") -> Path:
    """Where annotations live: the per-image XML/txt, or the split's COCO JSON.

    Example:
        >>> annotation_path("d", "coco", "val").as_posix()
        'd/annotations/instances_val.json'
        >>> annotation_path("d", "yolo", "train", "x.png").as_posix()
        'd/labels/train/x.txt'
    """
    fmt = _check_fmt(fmt)
    root = Path(root)
    stem = Path(file_name).stem
    if fmt == "voc":
        return root / "Annotations" / f"{stem}.xml"
    if fmt == "coco":
        return root / "annotations" / f"instances_{split}.json"
    return root / "labels" / split / f"{stem}.txt"


def find_splits(root: str | os.PathLike, fmt: str) -> list[str]:
    """The splits present in a dataset folder, sorted.

    Example:
        >>> import tempfile
        >>> find_splits(tempfile.mkdtemp(), "coco")
        []
    """
    fmt = _check_fmt(fmt)
    root = Path(root)
    if fmt == "voc":
        stems = {p.stem for p in (root / "ImageSets" / "Main").glob("*.txt")}
        # real VOC also has per-class lists such as aeroplane_train.txt: not splits
        return sorted(s for s in stems if not ("_" in s and s.rsplit("_", 1)[1] in stems))
    if fmt == "coco":
        return sorted(
            p.stem[len("instances_") :] for p in (root / "annotations").glob("instances_*.json")
        )
    found = set()
    if (root / "data.yaml").is_file():
        data = read_data_yaml(root / "data.yaml")
        found |= {k for k in ("train", "val", "test") if data.get(k)}
    if (root / "images").is_dir():
        found |= {p.name for p in (root / "images").iterdir() if p.is_dir()}
    return sorted(found)


def _classes_txt_merge(path: Path, classes: list[str]) -> None:
    if path.is_file():
        old = [line for line in path.read_text().splitlines() if line]
        if old != list(classes):
            raise ValueError(
                f"classes {list(classes)} differ from the ones already in {path}: {old}"
            )
        return
    atomic_write_text(path, "".join(f"{c}\n" for c in classes))


def write_dataset(
    records: list[ImageAnn],
    root: str | os.PathLike,
    fmt: str,
    *,
    classes: list[str],
    split: str = "train",
    images: list[np.ndarray] | None = None,
    warn: bool = True,
) -> list[str]:
    """Write one split of a dataset in the ``voc``, ``coco`` or ``yolo`` layout.

    Args:
        records: one :class:`ImageAnn` per image; ``file_name`` is the image's name inside
            the images folder.
        root: dataset root folder (created).
        fmt: ``"voc"``, ``"coco"`` or ``"yolo"``.
        classes: class names; their order gives COCO ids ``1..K`` and YOLO ids ``0..K-1``.
            Writing a second split with different classes raises.
        split: split name.
        images: optional ``HxWx3`` uint8 RGB arrays, one per record, saved under
            ``file_name`` (PNG unless the name ends in ``.jpg``), deterministic bytes.
        warn: emit one :class:`FormatLossWarning` summarising what the format cannot hold.

    Returns:
        The list of losses (one line per dropped field and object), empty for COCO.

    Example:
        >>> import tempfile, numpy as np
        >>> from dlcv_utils.datasets.records import ObjectAnn
        >>> root = tempfile.mkdtemp()
        >>> recs = [ImageAnn("a.png", 8, 4, [ObjectAnn("sq", (1, 1, 5, 3))])]
        >>> write_dataset(recs, root, "yolo", classes=["sq"], images=[np.zeros((4, 8, 3), np.uint8)])
        []
        >>> back, classes = read_dataset(root, "yolo", "train")
        >>> back[0].objects[0].bbox, classes
        ((1.0, 1.0, 5.0, 3.0), ['sq'])
    """
    fmt = _check_fmt(fmt)
    root = Path(root)
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be a non-empty list of unique names, got {classes}")
    if not isinstance(split, str) or not split or "/" in split or split.startswith("."):
        raise ValueError(f"split must be a plain name like 'train', got {split!r}")
    records = list(records)
    if images is not None and len(images) != len(records):
        raise ValueError(
            f"images must have one array per record: got {len(images)} images for "
            f"{len(records)} records"
        )
    names = [r.file_name for r in records]
    if len(set(names)) != len(names):
        raise ValueError("records: duplicate file_name values")
    known = set(classes)
    for r in records:
        for o in r.objects:
            if o.label not in known:
                raise ValueError(f"records: {r.file_name} has label {o.label!r} not in classes")
    losses: list[str] = []
    if images is not None:
        encoded = []  # encode (and so check) every image before writing any file
        for rec, img in zip(records, images):
            img = np.asarray(img)
            if img.shape[:2] != (rec.height, rec.width):
                raise ValueError(
                    f"images: {rec.file_name} has shape {img.shape}, record says "
                    f"height={rec.height}, width={rec.width}"
                )
            encoded.append(encode_image(img, Path(rec.file_name).suffix or ".png"))
        for rec, data in zip(records, encoded):
            atomic_write_bytes(image_path(root, fmt, split, rec.file_name), data)
    if fmt == "voc":
        _classes_txt_merge(root / "classes.txt", classes)
        for rec in records:
            losses += voc_losses(rec)
            write_voc(rec, annotation_path(root, fmt, split, rec.file_name), warn=False)
        stems = "".join(f"{Path(r.file_name).stem}\n" for r in records)
        atomic_write_text(root / "ImageSets" / "Main" / f"{split}.txt", stems)
    elif fmt == "coco":
        text = _coco_text(records, classes)
        atomic_write_text(annotation_path(root, fmt, split), text)
    else:
        yaml_path = root / "data.yaml"
        splits = {}
        if yaml_path.is_file():
            old = read_data_yaml(yaml_path)
            if old["names"] != classes:
                raise ValueError(
                    f"classes {classes} differ from the ones already in {yaml_path}: {old['names']}"
                )
            splits = {k: old[k] for k in ("train", "val", "test") if old.get(k)}
        splits[split] = f"images/{split}"
        for rec in records:
            losses += yolo_losses(rec)
            write_yolo(rec, annotation_path(root, fmt, split, rec.file_name), classes, warn=False)
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        write_data_yaml(yaml_path, classes, dict(sorted(splits.items())))
    if losses and warn:
        warnings.warn(
            f"{fmt.upper()} cannot hold everything: {len(losses)} field(s) dropped, "
            f"e.g. {losses[0]}",
            FormatLossWarning,
            stacklevel=2,
        )
    return losses


def _coco_text(records: list[ImageAnn], classes: list[str]) -> str:
    from dlcv_utils.datasets._io import dumps_json

    return dumps_json(to_coco_dict(records, classes)) + "\n"


def read_dataset(
    root: str | os.PathLike, fmt: str, split: str = "train"
) -> tuple[list[ImageAnn], list[str]]:
    """Read one split of a dataset folder written in a standard layout.

    Returns:
        ``(records, classes)``. VOC: classes from ``classes.txt`` when present, else the sorted
        labels found. YOLO: classes from ``data.yaml``; an image without a label file has no
        objects; image sizes are read from the image files. VOC/YOLO records have
        ``image_id=None``.

    Raises:
        FileNotFoundError: the split's list / JSON / data.yaml / image folder is missing.
        ValueError: any malformed annotation (see the per-format readers).

    Example:
        >>> import tempfile
        >>> read_dataset(tempfile.mkdtemp(), "coco", "val")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no COCO split 'val': ...instances_val.json does not exist
    """
    fmt = _check_fmt(fmt)
    root = Path(root)
    if fmt == "coco":
        path = annotation_path(root, fmt, split)
        if not path.is_file():
            raise FileNotFoundError(f"no COCO split {split!r}: {path} does not exist")
        return read_coco(path)
    if fmt == "voc":
        lst = root / "ImageSets" / "Main" / f"{split}.txt"
        if not lst.is_file():
            raise FileNotFoundError(f"no VOC split {split!r}: {lst} does not exist")
        stems = [s.split()[0] for s in lst.read_text().splitlines() if s.strip()]
        records = [read_voc(root / "Annotations" / f"{s}.xml") for s in stems]
        if (root / "classes.txt").is_file():
            classes = [c for c in (root / "classes.txt").read_text().splitlines() if c]
        else:
            classes = sorted({o.label for r in records for o in r.objects})
        return records, classes
    yaml_path = root / "data.yaml"
    if not yaml_path.is_file():
        raise FileNotFoundError(f"no YOLO data.yaml: {yaml_path} does not exist")
    data = read_data_yaml(yaml_path)
    classes = data["names"]
    img_dir = root / str(data.get(split) or f"images/{split}")
    if not img_dir.is_dir():
        raise FileNotFoundError(f"no YOLO split {split!r}: {img_dir} does not exist")
    records = []
    for img in sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        w, h = image_size(img)
        label = annotation_path(root, fmt, split, img.name)
        objects = read_yolo(label, (w, h), classes) if label.is_file() else []
        records.append(ImageAnn(img.name, w, h, objects))
    return records, classes


@dataclass
class ConversionReport:
    """What :func:`convert` did.

    Attributes:
        splits: the splits converted.
        images: number of images copied.
        objects: number of objects written.
        losses: one line per field the target format could not hold.
    """

    splits: list[str] = field(default_factory=list)
    images: int = 0
    objects: int = 0
    losses: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts and the number of dropped fields.

        Example:
            >>> ConversionReport(["train"], 2, 3, ["x"]).summary()
            'converted 2 images, 3 objects (splits: train); 1 field(s) the target cannot hold were dropped'
        """
        s = f"converted {self.images} images, {self.objects} objects (splits: {', '.join(self.splits)})"
        if self.losses:
            s += f"; {len(self.losses)} field(s) the target cannot hold were dropped"
        return s


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    src_format: str,
    dst_format: str,
    *,
    splits: list[str] | None = None,
    warn: bool = True,
) -> ConversionReport:
    """Convert a dataset folder from one layout to another (images are copied).

    Args:
        src: source dataset root.
        dst: target root (created; must not be the same folder as ``src``).
        src_format: ``"voc"``, ``"coco"`` or ``"yolo"``.
        dst_format: idem.
        splits: the splits to convert; default all found in ``src``.
        warn: emit a :class:`FormatLossWarning` when something is dropped.

    Returns:
        A :class:`ConversionReport`; ``losses`` says what the target could not hold
        (YOLO: difficult, truncated, iscrowd, masks; VOC: iscrowd, masks; COCO: difficult,
        truncated).

    Example:
        >>> import tempfile, numpy as np
        >>> from dlcv_utils.datasets.records import ObjectAnn
        >>> src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
        >>> recs = [ImageAnn("a.png", 8, 6, [ObjectAnn("sq", (1, 1, 5, 4), difficult=True)])]
        >>> _ = write_dataset(recs, src, "voc", classes=["sq"], images=[np.zeros((6, 8, 3), np.uint8)])
        >>> rep = convert(src, dst, "voc", "yolo", warn=False)
        >>> rep.images, rep.losses
        (1, ['a.png object 0: YOLO cannot hold difficult=1 (dropped)'])
    """
    src_format = _check_fmt(src_format, "src_format")
    dst_format = _check_fmt(dst_format, "dst_format")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"src: no such folder: {src}")
    if src.resolve() == dst.resolve():
        raise ValueError(f"dst must differ from src, got {dst} for both")
    found = find_splits(src, src_format)
    splits = found if splits is None else list(splits)
    if not splits:
        raise ValueError(f"src: no {src_format.upper()} splits found in {src}")
    missing = [s for s in splits if s not in found]
    if missing:
        raise ValueError(f"splits {missing} not found in {src} (found {found})")
    report = ConversionReport(splits=splits)
    data = {s: read_dataset(src, src_format, s) for s in splits}  # read all before writing
    all_classes = []
    for _, classes in data.values():
        for c in classes:
            if c not in all_classes:
                all_classes.append(c)
    for split, (records, _) in data.items():
        for rec in records:
            p = image_path(src, src_format, split, rec.file_name)
            if not p.is_file():
                raise FileNotFoundError(f"{src_format} split {split!r}: image missing: {p}")
            atomic_write_bytes(image_path(dst, dst_format, split, rec.file_name), p.read_bytes())
            report.images += 1
            report.objects += len(rec.objects)
            if dst_format == "coco":
                for i, o in enumerate(rec.objects):
                    for name, val in (("difficult", o.difficult), ("truncated", o.truncated)):
                        if val:
                            report.losses.append(
                                f"{rec.file_name} object {i}: COCO cannot hold {name}=1 (dropped)"
                            )
        report.losses += write_dataset(
            records, dst, dst_format, classes=all_classes, split=split, warn=False
        )
    if report.losses and warn:
        warnings.warn(
            f"{dst_format.upper()} cannot hold everything: {len(report.losses)} field(s) "
            f"dropped, e.g. {report.losses[0]}",
            FormatLossWarning,
            stacklevel=2,
        )
    return report
