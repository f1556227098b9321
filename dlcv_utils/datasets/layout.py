"""Whole datasets on disk: the standard VOC, COCO and YOLO folder layouts, and conversion.

The layouts (``<split>`` is ``train``, ``val``, ``test``...)::

    VOC   root/JPEGImages/<file>            root/Annotations/<stem>.xml
          root/ImageSets/Main/<split>.txt   root/classes.txt  (ours: the class order)
    COCO  root/images/<split>/<file>        root/annotations/instances_<split>.json
    YOLO  root/images/<split>/<file>        root/labels/<split>/<stem>.txt   root/data.yaml
          (also read: Ultralytics/Roboflow root/<split>/images + root/<split>/labels)
    Open Images  root/<split>/<ImageID>.jpg  root/<split>-annotations-bbox.csv
          root/class-descriptions-boxable.csv  (:mod:`~dlcv_utils.datasets.openimages`)

What these functions promise:

* **paths stay inside their root**: an image ``file_name``, a VOC ``ImageSets`` line or a YOLO
  ``data.yaml`` folder that is absolute, holds ``..`` or leads out through a symbolic link is
  refused with an :class:`~dlcv_utils.datasets._paths.UnsafePathError` naming the file and the
  entry (:func:`~dlcv_utils.datasets._paths.resolve_inside`);
* **writes are atomic**: :func:`write_dataset` and :func:`convert` check and build every file
  first, in a temporary folder beside the destination, and move them into place only when
  everything succeeded; a failure leaves the destination exactly as it was;
* **nothing is overwritten** unless ``overwrite=True`` (CLI ``--overwrite``): a
  :func:`convert` destination must be empty, and :func:`write_dataset` refuses to replace an
  existing file of the split it writes.

The same input gives byte-identical files. :func:`convert` returns a :class:`ConversionReport`
listing what the target format could not hold. Each format's details live in
:mod:`~dlcv_utils.datasets.voc`, :mod:`~dlcv_utils.datasets.coco` and
:mod:`~dlcv_utils.datasets.yolo`, reached through the table
:data:`~dlcv_utils.datasets.table.FORMATS`.

Taught in lesson 02.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlcv_utils.datasets._common import FormatLossWarning, check_label
from dlcv_utils.datasets._io import _umask, encode_image
from dlcv_utils.datasets._paths import check_name, resolve_inside
from dlcv_utils.datasets.records import ImageAnn
from dlcv_utils.datasets.table import FORMAT_NAMES, FORMATS, check_fmt
from dlcv_utils.datasets.yolo import IMAGE_SUFFIXES

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "IMAGE_SUFFIXES",
    "ConversionReport",
    "annotation_path",
    "convert",
    "find_splits",
    "image_path",
    "read_dataset",
    "write_dataset",
]


def _check_fmt(fmt: str, name: str = "fmt") -> str:
    return check_fmt(fmt, name).name


def image_path(root: str | os.PathLike, fmt: str, split: str, file_name: str) -> Path:
    """Where an image lives in a layout (``file_name`` must stay inside the image folder).

    Example:
        >>> image_path("d", "voc", "train", "a.png").as_posix()
        'd/JPEGImages/a.png'
        >>> image_path("d", "yolo", "val", "a.png").as_posix()
        'd/images/val/a.png'
        >>> image_path("d", "coco", "val", "../../a.png")
        Traceback (most recent call last):
        ...
        dlcv_utils.datasets._paths.UnsafePathError: <records>: file_name '../../a.png' contains '..': refused
    """
    spec = check_fmt(fmt)
    return resolve_inside(spec.image_dir(Path(root), split), file_name)


def annotation_path(root: str | os.PathLike, fmt: str, split: str, file_name: str = "") -> Path:
    """Where annotations live: the per-image XML/txt, or the split's COCO JSON.

    Example:
        >>> annotation_path("d", "coco", "val").as_posix()
        'd/annotations/instances_val.json'
        >>> annotation_path("d", "yolo", "train", "x.png").as_posix()
        'd/labels/train/x.txt'
    """
    return check_fmt(fmt).annotation_path(Path(root), split, file_name)


def find_splits(root: str | os.PathLike, fmt: str) -> list[str]:
    """The splits present in a dataset folder, sorted.

    Example:
        >>> import tempfile
        >>> find_splits(tempfile.mkdtemp(), "coco")
        []
    """
    return check_fmt(fmt).find_splits(Path(root))


def _check_split(split) -> str:
    if not isinstance(split, str) or not split or "/" in split or "\\" in split:
        raise ValueError(f"split must be a plain name like 'train', got {split!r}")
    if split.startswith(".") or split != split.strip():
        raise ValueError(f"split must be a plain name like 'train', got {split!r}")
    check_name(split, what="split", file="split")
    return split


def _new_stage(dest: Path) -> Path:
    """A fresh private folder beside ``dest`` (same file system, so renames are atomic)."""
    parent = dest.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(
        tempfile.mkdtemp(prefix=f".{dest.absolute().name}.", suffix=".partial", dir=parent)
    )
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700 folders; use the usual mode
    return stage


def _put(stage: Path, rel: str, data: bytes | Path, shared: set[str]) -> None:
    """Write ``data`` (bytes, or a file to copy) to ``stage/rel``; two splits may not collide."""
    target = stage / rel
    if target.exists() and rel not in shared:
        raise ValueError(
            f"two images or splits write the same file {rel!r}; file names must differ"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, Path):
        shutil.copyfile(data, target)
    else:
        target.write_bytes(data)


def _is_new(root: Path) -> bool:
    return not root.exists() or (root.is_dir() and not any(root.iterdir()))


def _move_in(stage: Path, dest: Path) -> None:
    """Put the finished ``stage`` at ``dest`` (missing or empty): one rename when possible."""
    if dest.is_dir() and dest.is_symlink():  # keep the link; move the contents into it
        for child in stage.iterdir():
            os.replace(child, dest / child.name)
        return
    if dest.is_dir():
        dest.rmdir()
    os.replace(stage, dest)


def _split_contents(records, spec, classes, split, merge_root, images):
    """Check everything and return ``({relative path: bytes | source Path}, shared, losses)``."""
    files, shared, losses = spec.split_files(records, classes, split, merge_root)
    img_rel = spec.images_template.format(split=split)
    for rec, data in zip(records, images):
        rel = check_name(rec.file_name, what="file_name", file="records")
        files[f"{img_rel}/{rel}"] = data
    return files, shared, losses


def write_dataset(
    records: list[ImageAnn],
    root: str | os.PathLike,
    fmt: str,
    *,
    classes: list[str],
    split: str = "train",
    images: list[np.ndarray] | None = None,
    warn: bool = True,
    overwrite: bool = False,
) -> list[str]:
    """Write one split of a dataset in the ``voc``, ``coco`` or ``yolo`` layout, atomically.

    Every record, box, label, file name and image is checked and every file built first, in a
    temporary folder beside ``root``; files are moved into ``root`` only when all of that
    succeeded, so an error leaves ``root`` exactly as it was.

    Args:
        records: one :class:`ImageAnn` per image; ``file_name`` is the image's name inside
            the images folder (relative; absolute paths and ``..`` are refused).
        root: dataset root folder (created). Other splits already in it are kept.
        fmt: ``"voc"``, ``"coco"`` or ``"yolo"``.
        classes: class names; their order gives COCO ids ``1..K`` and YOLO ids ``0..K-1``.
            Writing a second split with different classes raises.
        split: split name.
        images: optional ``HxWx3`` uint8 RGB arrays, one per record, saved under
            ``file_name`` (PNG unless the name ends in ``.jpg``), deterministic bytes.
        warn: emit one :class:`FormatLossWarning` summarising what the format cannot hold.
        overwrite: replace files of this split that already exist in ``root`` (default:
            refuse with ``FileExistsError`` and write nothing).

    Returns:
        The list of losses (one line per dropped field and object).

    Raises:
        ValueError: bad records (unsafe ``file_name``, label not in ``classes`` or with a
            control character, non-finite box, size not a positive whole number...).
        FileExistsError: a file of this split exists and ``overwrite`` is false.

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
        >>> write_dataset(recs, root, "yolo", classes=["sq"])
        Traceback (most recent call last):
        ...
        FileExistsError: ...: 1 file(s) of split 'train' already exist (e.g. labels/train/a.txt); pass overwrite=True (CLI --overwrite) to replace them
    """
    spec = check_fmt(fmt)
    root = Path(root)
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be a non-empty list of unique names, got {classes}")
    for c in classes:
        check_label(c, "classes")
    split = _check_split(split)
    records = list(records)
    for i, r in enumerate(records):
        if not isinstance(r, ImageAnn):
            raise TypeError(f"records[{i}] must be an ImageAnn, got {type(r).__name__}")
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
        check_name(r.file_name, what="file_name", file="records")
        for o in r.objects:
            if o.label not in known:
                raise ValueError(f"records: {r.file_name} has label {o.label!r} not in classes")
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"root: {root} exists and is not a folder")
    encoded: list[bytes] = []
    if images is not None:
        for rec, img in zip(records, images):  # encode (and so check) every image first
            img = np.asarray(img)
            if img.shape[:2] != (rec.height, rec.width):
                raise ValueError(
                    f"images: {rec.file_name} has shape {img.shape}, record says "
                    f"height={rec.height}, width={rec.width}"
                )
            encoded.append(encode_image(img, Path(rec.file_name).suffix or ".png"))
    files, shared, losses = _split_contents(records, spec, classes, split, root, encoded)
    extra_dirs = [spec.images_template.format(split=split)]
    if root.is_dir():
        conflicts = []
        for rel in sorted(files):
            target = resolve_inside(root, rel, what="output file", file=root)
            if target.is_dir():
                raise IsADirectoryError(f"{root}: {rel} is a folder; cannot write a file there")
            if (target.exists() or target.is_symlink()) and rel not in shared:
                conflicts.append(rel)
        if conflicts and not overwrite:
            raise FileExistsError(
                f"{root}: {len(conflicts)} file(s) of split {split!r} already exist (e.g. "
                f"{conflicts[0]}); pass overwrite=True (CLI --overwrite) to replace them"
            )
    stage = _new_stage(root)
    try:
        for rel, data in files.items():
            _put(stage, rel, data, shared)
        for d in extra_dirs:
            (stage / d).mkdir(parents=True, exist_ok=True)
        if _is_new(root):
            _move_in(stage, root)
        else:
            for rel in sorted(files):
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / rel, target)
            for d in extra_dirs:
                (root / d).mkdir(parents=True, exist_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if losses and warn:
        warnings.warn(
            f"{spec.name.upper()} cannot hold everything: {len(losses)} field(s) dropped, "
            f"e.g. {losses[0]}",
            FormatLossWarning,
            stacklevel=2,
        )
    return losses


def read_dataset(
    root: str | os.PathLike, fmt: str, split: str = "train"
) -> tuple[list[ImageAnn], list[str]]:
    """Read one split of a dataset folder written in a standard layout.

    Returns:
        ``(records, classes)``. VOC: classes from ``classes.txt`` when present, else the sorted
        labels found. YOLO: classes from ``data.yaml``; an image without a label file has no
        objects; image sizes are read from the image files; the Ultralytics/Roboflow layout
        (``train: train/images``, labels in ``train/labels``) is understood. VOC/YOLO records
        have ``image_id=None``.

    Raises:
        FileNotFoundError: the split's list / JSON / data.yaml / image folder is missing.
        ValueError: any malformed annotation (see the per-format readers), or an image name,
            ``ImageSets`` line or ``data.yaml`` folder that leaves ``root``
            (:class:`~dlcv_utils.datasets._paths.UnsafePathError`).

    Example:
        >>> import tempfile
        >>> read_dataset(tempfile.mkdtemp(), "coco", "val")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no COCO split 'val': ...instances_val.json does not exist
    """
    return check_fmt(fmt).read_split(Path(root), split)


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
    overwrite: bool = False,
) -> ConversionReport:
    """Convert a dataset folder from one layout to another (images are copied), atomically.

    Everything is read and checked first; the new dataset is built in a temporary folder beside
    ``dst`` and moved into place in one rename when every split succeeded. On any error
    ``dst`` is left exactly as it was (and nothing is left beside it).

    Args:
        src: source dataset root.
        dst: target root: must not exist or be empty, unless ``overwrite=True``.
        src_format: ``"voc"``, ``"coco"`` or ``"yolo"``.
        dst_format: idem.
        splits: the splits to convert; default all found in ``src``.
        warn: emit a :class:`FormatLossWarning` when something is dropped.
        overwrite: replace the contents of a non-empty ``dst`` with the converted dataset
            (the old contents are removed only after the new dataset is in place). Refused
            when ``dst`` contains ``src``.

    Returns:
        A :class:`ConversionReport`; ``losses`` says what the target could not hold
        (YOLO: difficult, truncated, iscrowd, masks; VOC: iscrowd, masks; COCO: difficult,
        truncated; Open Images: difficult, masks, boxes clipped to the image) and, from an
        Open Images source, what the records could not hold (``IsOccluded``/``IsDepiction``/
        ``IsInside`` = 1, ``-1`` flags, ``Confidence`` < 1).

    Raises:
        FileNotFoundError: ``src`` or an image is missing.
        FileExistsError: ``dst`` is not empty and ``overwrite`` is false.
        ValueError: unknown format or split, malformed source files, or a path in them that
            leaves its root (:class:`~dlcv_utils.datasets._paths.UnsafePathError`).

    Example:
        >>> import tempfile, numpy as np
        >>> from dlcv_utils.datasets.records import ObjectAnn
        >>> src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
        >>> recs = [ImageAnn("a.png", 8, 6, [ObjectAnn("sq", (1, 1, 5, 4), difficult=True)])]
        >>> _ = write_dataset(recs, src, "voc", classes=["sq"], images=[np.zeros((6, 8, 3), np.uint8)])
        >>> rep = convert(src, dst, "voc", "yolo", warn=False)
        >>> rep.images, rep.losses
        (1, ['a.png object 0: YOLO cannot hold difficult=1 (dropped)'])
        >>> convert(src, dst, "voc", "coco")
        Traceback (most recent call last):
        ...
        FileExistsError: dst: ... is not empty; pass overwrite=True (CLI --overwrite) to replace its contents
    """
    src_spec = check_fmt(src_format, "src_format")
    dst_spec = check_fmt(dst_format, "dst_format")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"src: no such folder: {src}")
    if src.resolve() == dst.resolve():
        raise ValueError(f"dst must differ from src, got {dst} for both")
    if dst.exists() and not dst.is_dir():
        raise FileExistsError(f"dst: {dst} exists and is not a folder")
    nonempty = dst.is_dir() and any(dst.iterdir())
    if nonempty and not overwrite:
        raise FileExistsError(
            f"dst: {dst} is not empty; pass overwrite=True (CLI --overwrite) to replace its "
            "contents"
        )
    real_src, real_dst = src.resolve(), dst.resolve()
    if nonempty and real_dst in real_src.parents:
        raise ValueError(f"dst {dst} contains src {src}: refusing to replace it")
    if real_src in real_dst.parents:
        raise ValueError(f"dst {dst} is inside src {src}: choose a folder outside it")
    found = src_spec.find_splits(src)
    splits = found if splits is None else list(splits)
    if not splits:
        raise ValueError(f"src: no {src_spec.name.upper()} splits found in {src}")
    missing = [s for s in splits if s not in found]
    if missing:
        raise ValueError(f"splits {missing} not found in {src} (found {found})")
    for s in splits:
        _check_split(s)
    report = ConversionReport(splits=splits)
    data = {}
    for s in splits:  # read and check all first
        if src_spec.read_split_losses is None:
            data[s] = src_spec.read_split(src, s)
        else:  # fields the records cannot hold (Open Images' IsOccluded...) are losses too
            records, classes, lost = src_spec.read_split_losses(src, s)
            data[s] = (records, classes)
            report.losses += lost
    all_classes: list[str] = []
    for _, classes in data.values():
        for c in classes:
            if c not in all_classes:
                all_classes.append(c)
    sources = {}
    for split, (records, _) in data.items():
        img_dir = src_spec.image_dir(src, split)
        paths = []
        for rec in records:
            p = resolve_inside(img_dir, rec.file_name, what="image file_name",
                               file=src_spec.annotation_path(src, split, rec.file_name))  # fmt: skip
            if not p.is_file():
                raise FileNotFoundError(f"{src_spec.name} split {split!r}: image missing: {p}")
            paths.append(p)
        sources[split] = paths
    stage = _new_stage(dst)
    try:
        for split, (records, _) in data.items():
            files, shared, losses = _split_contents(
                records, dst_spec, all_classes, split, stage, sources[split]
            )
            for rel, content in files.items():
                _put(stage, rel, content, shared)
            (stage / dst_spec.images_template.format(split=split)).mkdir(
                parents=True, exist_ok=True
            )
            report.images += len(records)
            report.objects += sum(len(r.objects) for r in records)
            report.losses += losses
        if not nonempty:
            _move_in(stage, dst)
        else:
            old = _new_stage(dst)
            os.replace(dst, old / "old")
            try:
                os.replace(stage, dst)
            except BaseException:
                os.replace(old / "old", dst)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if report.losses and warn:
        warnings.warn(
            f"{dst_spec.name.upper()} cannot hold everything: {len(report.losses)} field(s) "
            f"dropped, e.g. {report.losses[0]}",
            FormatLossWarning,
            stacklevel=2,
        )
    return report
