"""A handful of real photos with hand-drawn boxes (COCO class names), shipped in ``data/photos``.

The photos come from scikit-image's bundled sample data; each is public domain or CC0 (see
``data/photos/LICENSE.md``). The boxes were drawn by hand for this course, looking at each photo
on a 10-pixel grid; they are stored here (:data:`PHOTO_ANNOTATIONS`, the source of truth) and in
``data/photos`` in the three layouts (``voc/``, ``coco/``, ``yolo/``; split ``val``), written by
:func:`write_photos` with the format writers of :mod:`dlcv_utils.datasets`.

:func:`package_photos` finds sample photos that *installed* packages ship (ultralytics'
``bus.jpg`` and ``zidane.jpg``) without importing them; they are never copied into the repo.

Taught in lesson 02 (OpenCV and datasets); used for inference demos in later lessons.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

PHOTO_SPLIT = "val"

#: photo file -> (scikit-image source, licence, hand-drawn objects as (label, xyxy, difficult))
PHOTO_ANNOTATIONS: dict[str, dict] = {
    "astronaut.jpg": {
        "source": "skimage.data.astronaut()",
        "licence": "Public domain (NASA; no known copyright restrictions)",
        "objects": [("person", (20, 15, 364, 512), False)],
    },
    "coffee.jpg": {
        "source": "skimage.data.coffee()",
        "licence": "CC0 (photographer Rachel Michetti, courtesy of Pikolo Espresso Bar)",
        "objects": [("cup", (172, 17, 410, 305), False), ("spoon", (325, 66, 425, 326), False)],
    },
    "chelsea.jpg": {
        "source": "skimage.data.chelsea()",
        "licence": "CC0 (photographer Stefan van der Walt)",
        "objects": [("cat", (0, 0, 373, 300), False)],
    },
    "camera.jpg": {
        "source": "skimage.data.camera() (grey, stored as 3-channel RGB)",
        "licence": "CC0 (photographer Lav Varshney)",
        "objects": [("person", (0, 65, 332, 512), False)],
    },
    "clock.jpg": {
        "source": "skimage/data/clock_motion.png (grey, stored as 3-channel RGB)",
        "licence": "Public domain (released by the photographer, Stefan van der Walt)",
        # motion-blurred on purpose: marked VOC 'difficult'
        "objects": [("clock", (140, 94, 270, 214), True)],
    },
}

#: the COCO category names used (in COCO's own order), i.e. the photo set's class list
PHOTO_CLASSES: tuple[str, ...] = ("person", "cat", "spoon", "cup", "clock")


def photos_dir() -> Path:
    """The repository's ``data/photos`` folder.

    Example:
        >>> photos_dir().name
        'photos'
    """
    from dlcv_utils.runtime import DATA_DIR

    return DATA_DIR / "photos"


def _source_image(file_name: str) -> np.ndarray:
    """Load the original pixels from scikit-image, as ``H x W x 3`` uint8 RGB."""
    import skimage
    import skimage.data
    import skimage.io

    stem = Path(file_name).stem
    if stem == "clock":
        img = skimage.io.imread(Path(skimage.data.__file__).parent / "clock_motion.png")
    else:
        img = getattr(skimage.data, stem)()
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def photo_records() -> list[ImageAnn]:
    """The hand annotations as records (image ids 1..N, in :data:`PHOTO_ANNOTATIONS` order).

    Image sizes are those of the scikit-image originals.

    Example:
        >>> recs = photo_records()
        >>> recs[1].file_name, [o.label for o in recs[1].objects]
        ('coffee.jpg', ['cup', 'spoon'])
    """
    sizes = {
        "astronaut.jpg": (512, 512),
        "coffee.jpg": (600, 400),
        "chelsea.jpg": (451, 300),
        "camera.jpg": (512, 512),
        "clock.jpg": (400, 300),
    }
    records = []
    for i, (name, info) in enumerate(PHOTO_ANNOTATIONS.items(), start=1):
        w, h = sizes[name]
        objects = [
            ObjectAnn(
                label=label,
                bbox=tuple(float(v) for v in box),
                difficult=difficult,
                truncated=box[0] == 0 or box[1] == 0 or box[2] == w or box[3] == h,
            )
            for label, box, difficult in info["objects"]
        ]
        records.append(ImageAnn(name, w, h, objects, image_id=i))
    return records


def write_photos(root: str | os.PathLike | None = None) -> Path:
    """(Re)write the photo set: images and annotations in the VOC, COCO and YOLO layouts.

    The committed ``data/photos`` was made with this function; run it again only after
    changing :data:`PHOTO_ANNOTATIONS`. Same inputs give byte-identical files.

    Args:
        root: output folder (default :func:`photos_dir`).

    Returns:
        ``root``.
    """
    from dlcv_utils.datasets.layout import write_dataset

    root = photos_dir() if root is None else Path(root)
    records = photo_records()
    images = [_source_image(r.file_name) for r in records]
    for rec, img in zip(records, images):
        if img.shape[:2] != (rec.height, rec.width):  # pragma: no cover - data guard
            raise ValueError(
                f"{rec.file_name}: image is {img.shape}, record says {rec.height}x{rec.width}"
            )
    for fmt in ("voc", "coco", "yolo"):
        write_dataset(
            records, root / fmt, fmt, classes=list(PHOTO_CLASSES), split=PHOTO_SPLIT,
            images=images, warn=False,
        )  # fmt: skip
    return root


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``H x W x 3`` uint8 RGB with OpenCV (which reads BGR).

    Raises:
        FileNotFoundError: if OpenCV cannot read ``path``.

    Example:
        >>> read_image_rgb("missing.jpg")
        Traceback (most recent call last):
        ...
        FileNotFoundError: cannot read an image from 'missing.jpg'
    """
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read an image from {str(path)!r}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_photos(
    fmt: str = "coco", root: str | os.PathLike | None = None
) -> list[tuple[np.ndarray, ImageAnn]]:
    """Load the photo set: ``(image, record)`` pairs, images ``H x W x 3`` uint8 RGB.

    Args:
        fmt: which annotation copy to read: ``"coco"`` (default, keeps image ids),
            ``"voc"`` (keeps ``difficult``) or ``"yolo"``.
        root: photo set folder (default :func:`photos_dir`).

    Example:
        >>> photos = load_photos()
        >>> len(photos), photos[0][0].shape, photos[0][1].objects[0].label
        (5, (512, 512, 3), 'person')
    """
    from dlcv_utils.datasets.layout import FORMATS, image_path, read_dataset

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    root = photos_dir() if root is None else Path(root)
    records, _classes = read_dataset(root / fmt, fmt, PHOTO_SPLIT)
    return [
        (read_image_rgb(image_path(root / fmt, fmt, PHOTO_SPLIT, r.file_name)), r) for r in records
    ]


def package_photos(package: str = "ultralytics") -> list[Path]:
    """Sample photos that an installed package ships (e.g. ultralytics' ``bus.jpg``), if any.

    The package is located with ``importlib.util.find_spec`` and *not imported*; its
    ``assets`` folder is searched for ``.jpg``/``.jpeg``/``.png`` files. Nothing is copied.

    Returns:
        Sorted paths, or ``[]`` when the package (or its assets folder) is absent.

    Example:
        >>> package_photos("no_such_package_xyz")
        []
    """
    if not isinstance(package, str) or not package.isidentifier():
        raise ValueError(f"package must be a top-level package name, got {package!r}")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    found: list[Path] = []
    for location in spec.submodule_search_locations:
        assets = Path(location) / "assets"
        if assets.is_dir():
            found += [p for p in assets.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return sorted(found)
