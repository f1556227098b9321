"""The shapes dataset: synthetic detection + instance-segmentation images, generated on demand.

Every lesson can train on it offline, on a CPU, in minutes. Each image shows 1–6 filled shapes
(``circle``, ``square``, ``triangle``, ``star``, ``cross``) of random size, rotation and colour
on a noisy, textured background with distractor lines and soft blobs. Shapes drawn later
occlude earlier ones; boxes, masks and areas describe the *visible* part. A placement that
would hide more than 70 % of an earlier shape is retried, so no labelled shape is a sliver.

Determinism: image ``index`` of ``split`` is drawn from
``np.random.default_rng([seed, split_code, index])``, so sample ``i`` is the same whatever
``n`` is, and the same ``seed`` always gives the same pixels and the same files.

Boxes follow the course convention: ``(x1, y1, x2, y2)`` in pixel *edges*; a mask whose
columns ``3..7`` are set has ``x1 = 3, x2 = 8`` (the same box as ``pycocotools.mask.toBbox``).
Labels in torch targets are ``1..K`` (``0`` is background, the torchvision convention).

Default splits (at 128 × 128 px): train 600, val 150, test 150 images.

Taught in lesson 02 (OpenCV and datasets); used for training from lesson 03 on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES: dict[str, int] = {"train": 600, "val": 150, "test": 150}
DEFAULT_IMAGE_SIZE = 128
VERSION = "shapes-v1"

# geometry, in pixels at 128 px (scaled linearly with image_size)
_MIN_RADIUS = 6.0  # circumscribed radius: smallest shape spans ~9-12 px
_MAX_RADIUS = 30.0
_MAX_OBJECTS = 6
_MAX_OCCLUSION = 0.7  # a shape may lose at most this fraction of its area to later shapes
_MIN_VISIBLE_PX = 20  # ... and must keep at least this many pixels (at 128 px)
_MIN_CONTRAST = 90.0  # RGB distance between a shape's colour and the background under it


@dataclass
class ShapeSample:
    """One generated image with its annotations.

    Attributes:
        image: ``H x W x 3`` uint8 RGB.
        ann: the :class:`~dlcv_utils.datasets.records.ImageAnn` (class names, xyxy boxes,
            COCO RLE segmentation with ``counts`` as ``str``, mask areas).
        masks: ``K x H x W`` uint8 visible masks, one per object, in ``ann.objects`` order.
        labels: ``K`` int64 class ids ``1..len(SHAPE_CLASSES)``.
    """

    image: np.ndarray
    ann: ImageAnn
    masks: np.ndarray
    labels: np.ndarray


def _check_split(split: str) -> int:
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    return SPLIT_CODES[split]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _polygon(shape: str, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """Vertices (float, ``[P, 2]``) of ``shape`` with circumscribed radius ``r``."""
    if shape == "circle":
        t = np.linspace(0.0, 2 * math.pi, 40, endpoint=False)
        radii = np.full_like(t, r)
    elif shape == "square":
        t = theta + math.pi / 4 + np.arange(4) * math.pi / 2
        radii = np.full_like(t, r)
    elif shape == "triangle":
        t = theta + np.arange(3) * 2 * math.pi / 3
        radii = np.full_like(t, r)
    elif shape == "star":
        t = theta + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    elif shape == "cross":
        # plus sign: arm half-width a, arm length r (corner points at radius hypot(a, r))
        a = 0.32 * r
        pts = np.array(
            [(a, r), (a, a), (r, a), (r, -a), (a, -a), (a, -r),
             (-a, -r), (-a, -a), (-r, -a), (-r, a), (-a, a), (-a, r)]
        )  # fmt: skip
        c, s = math.cos(theta), math.sin(theta)
        rot = pts @ np.array([[c, s], [-s, c]])
        return rot + np.array([cx, cy])
    else:  # pragma: no cover - internal
        raise ValueError(shape)
    return np.stack([cx + radii * np.cos(t), cy + radii * np.sin(t)], axis=1)


def _fill_mask(vertices: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    mask = np.zeros((height, width), np.uint8)
    shift = 4  # sub-pixel vertex precision (1/16 px); LINE_8 keeps the mask binary
    pts = np.round(vertices * (1 << shift) - (1 << (shift - 1))).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Float32 ``H x W x 3`` background: gradient + blurred blobs + lines (0..255)."""
    import cv2

    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    ramp = (math.cos(angle) * xx + math.sin(angle) * yy)[..., None]
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    bg = (c0 * (1 - ramp) + c1 * ramp).astype(np.float32)
    # low-frequency texture: coarse noise upsampled
    coarse = rng.normal(0, 18, size=(6, 6, 3)).astype(np.float32)
    bg += cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    # soft blobs (blurred ellipses): distractors that are not shapes
    for _ in range(int(rng.integers(0, 4))):
        centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        axes = (int(rng.integers(size // 16, size // 5)), int(rng.integers(size // 16, size // 5)))
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.ellipse(bg, centre, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
    k = 2 * (size // 16) + 1
    bg = cv2.GaussianBlur(bg, (k, k), 0)
    # thin straight lines
    for _ in range(int(rng.integers(0, 5))):
        p1 = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        p2 = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.line(bg, p1, p2, color, int(rng.integers(1, 3)), lineType=cv2.LINE_AA)
    return bg


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _tight_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return (float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1))


def file_name_for(split: str, index: int) -> str:
    """Return the image file name of sample ``index`` of ``split``.

    Example:
        >>> file_name_for("val", 7)
        'val_000007.jpg'
    """
    _check_split(split)
    return f"{split}_{_check_int('index', index, 0):06d}.jpg"


def generate_sample(
    index: int, *, split: str = "train", image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0
) -> ShapeSample:
    """Generate image ``index`` of ``split``; the same arguments always give the same sample.

    Args:
        index: non-negative sample index.
        split: ``"train"``, ``"val"`` or ``"test"``.
        image_size: side of the square image in pixels (>= 32). Shape sizes scale with it.
        seed: non-negative dataset seed.

    Returns:
        A :class:`ShapeSample`; ``ann.image_id`` is ``index + 1``.

    Raises:
        ValueError: unknown split, negative index/seed, or image_size < 32.
        TypeError: non-integer index, image_size or seed.

    Example:
        >>> s = generate_sample(0, split="train")
        >>> s.image.shape, s.image.dtype.name
        ((128, 128, 3), 'uint8')
        >>> len(s.ann.objects) == len(s.masks) == len(s.labels) >= 1
        True
    """
    code = _check_split(split)
    index = _check_int("index", index, 0)
    size = _check_int("image_size", image_size, 32)
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng([seed, code, index])
    scale = size / DEFAULT_IMAGE_SIZE
    r_min, r_max = _MIN_RADIUS * scale, _MAX_RADIUS * scale
    min_px = max(4, round(_MIN_VISIBLE_PX * scale * scale))

    bg = _background(rng, size)
    n_wanted = int(rng.integers(1, _MAX_OBJECTS + 1))
    full_masks: list[np.ndarray] = []
    visible: list[np.ndarray] = []
    labels: list[int] = []
    colors: list[np.ndarray] = []
    for _ in range(n_wanted):
        for _attempt in range(12):
            cls = int(rng.integers(len(SHAPE_CLASSES)))
            r = float(math.exp(rng.uniform(math.log(r_min), math.log(r_max))))
            theta = float(rng.uniform(0, 2 * math.pi))
            cx = float(rng.uniform(r * 0.8, size - r * 0.8))
            cy = float(rng.uniform(r * 0.8, size - r * 0.8))
            m = _fill_mask(_polygon(SHAPE_CLASSES[cls], cx, cy, r, theta), size, size)
            area = int(m.sum())
            if area < min_px:
                continue
            ok = all(
                (left := int((v & ~m).sum())) >= min_px and left >= (1 - _MAX_OCCLUSION) * f.sum()
                for v, f in zip(visible, full_masks)
            )
            if ok:
                break
        else:
            continue  # could not place this shape: the image gets one object fewer
        under = bg[m].mean(axis=0)
        for _c in range(20):
            color = rng.uniform(0, 255, 3).astype(np.float32)
            if float(np.linalg.norm(color - under)) >= _MIN_CONTRAST:
                break
        visible = [v & ~m for v in visible]
        visible.append(m.copy())
        full_masks.append(m)
        labels.append(cls + 1)
        colors.append(color)

    # paint: later shapes over earlier ones, each with a gentle shading gradient
    img = bg
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for m, color in zip(full_masks, colors):
        gx, gy = rng.uniform(-0.25, 0.25, 2)
        shade = (1.0 + gx * (xx - 0.5) * 2 + gy * (yy - 0.5) * 2)[m]
        img[m] = np.clip(color[None, :] * shade[:, None], 0, 255)
    img += rng.normal(0, rng.uniform(3, 12), size=img.shape).astype(np.float32)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    objects = [
        ObjectAnn(
            label=SHAPE_CLASSES[lab - 1],
            bbox=_tight_box(v),
            segmentation=_rle(v),
            area=float(v.sum()),
        )
        for v, lab in zip(visible, labels)
    ]
    ann = ImageAnn(file_name_for(split, index), size, size, objects, image_id=index + 1)
    masks = np.stack(visible).astype(np.uint8) if visible else np.zeros((0, size, size), np.uint8)
    return ShapeSample(image=image, ann=ann, masks=masks, labels=np.asarray(labels, np.int64))


def make_split(
    split: str, *, n: int | None = None, image_size: int | None = None, seed: int = 0
) -> list[ShapeSample]:
    """Generate the first ``n`` samples of ``split`` (default size: :data:`DEFAULT_SIZES`).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of images (default: 600 / 150 / 150).
        image_size: image side in pixels (default 128).
        seed: dataset seed.

    Example:
        >>> samples = make_split("val", n=3)
        >>> [s.ann.file_name for s in samples]
        ['val_000000.jpg', 'val_000001.jpg', 'val_000002.jpg']
    """
    _check_split(split)
    n = DEFAULT_SIZES[split] if n is None else _check_int("n", n, 0)
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    return [generate_sample(i, split=split, image_size=size, seed=seed) for i in range(n)]


def sample_to_target(sample: ShapeSample, *, return_masks: bool = False) -> tuple[Any, dict]:
    """Convert a :class:`ShapeSample` to a torchvision ``(image, target)`` pair.

    The image is a ``tv_tensors.Image`` float32 ``3 x H x W`` in ``[0, 1]``; the target holds
    ``boxes`` (``tv_tensors.BoundingBoxes``, XYXY), ``labels`` (int64, 1..K), ``image_id``,
    ``area`` (float32 mask areas), ``iscrowd`` (int64 zeros) and, if asked, ``masks``
    (``tv_tensors.Mask`` uint8 ``K x H x W``).

    Example:
        >>> img, tgt = sample_to_target(generate_sample(0), return_masks=True)
        >>> tuple(img.shape), img.dtype, tgt["boxes"].format.name, tgt["masks"].dtype
        ((3, 128, 128), torch.float32, 'XYXY', torch.uint8)
    """
    import torch
    from torchvision import tv_tensors

    h, w = sample.image.shape[:2]
    image = tv_tensors.Image(torch.from_numpy(sample.image).permute(2, 0, 1).float() / 255.0)
    boxes = torch.tensor([o.bbox for o in sample.ann.objects], dtype=torch.float32).reshape(-1, 4)
    target: dict[str, Any] = {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)),
        "labels": torch.from_numpy(sample.labels.astype(np.int64)),
        "image_id": int(sample.ann.image_id),
        "area": torch.tensor([o.area for o in sample.ann.objects], dtype=torch.float32),
        "iscrowd": torch.zeros(len(sample.ann.objects), dtype=torch.int64),
    }
    if return_masks:
        target["masks"] = tv_tensors.Mask(torch.from_numpy(sample.masks.astype(np.uint8)))
    return image, target


def collate_fn(batch):
    """Collate detection samples into a tuple of images and a tuple of targets.

    Detection images differ in size and in number of boxes, so they cannot be stacked. The one
    definition of the package (torch-free, so importing this module stays light); also
    importable from :mod:`dlcv_utils.datasets.torch_dataset` and :mod:`dlcv_utils.datasets`.

    Example:
        >>> collate_fn([("a", {"x": 1}), ("b", {"x": 2})])
        (('a', 'b'), ({'x': 1}, {'x': 2}))
    """
    return tuple(zip(*batch))


def _dataset_base():
    import torch.utils.data

    return torch.utils.data.Dataset


class ShapesDetection(_dataset_base()):
    """The shapes dataset as a torch ``Dataset`` of torchvision detection samples.

    Samples are generated on first access and cached in memory. ``dataset[i]`` returns
    ``(image, target)`` as described in :func:`sample_to_target`, after ``transforms(image,
    target)`` when given (a ``torchvision.transforms.v2`` transform works as is).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of images (default :data:`DEFAULT_SIZES`).
        image_size: image side in pixels.
        seed: dataset seed.
        transforms: callable ``(image, target) -> (image, target)``.
        return_masks: add ``target["masks"]``.

    Attributes:
        classes: ``("__background__",) + SHAPE_CLASSES``; ``classes[label]`` names a label.

    Example:
        >>> ds = ShapesDetection("val", n=4)
        >>> len(ds), ds.classes[1]
        (4, 'circle')
        >>> img, tgt = ds[0]
        >>> tgt["boxes"].shape[1], tgt["labels"].dtype
        (4, torch.int64)
    """

    classes: tuple[str, ...] = ("__background__", *SHAPE_CLASSES)

    def __init__(
        self,
        split: str = "train",
        *,
        n: int | None = None,
        image_size: int = DEFAULT_IMAGE_SIZE,
        seed: int = 0,
        transforms: Callable | None = None,
        return_masks: bool = False,
    ) -> None:
        _check_split(split)
        self.split = split
        self.n = DEFAULT_SIZES[split] if n is None else _check_int("n", n, 0)
        self.image_size = _check_int("image_size", image_size, 32)
        self.seed = _check_int("seed", seed, 0)
        if transforms is not None and not callable(transforms):
            raise TypeError(f"transforms must be callable or None, got {type(transforms).__name__}")
        self.transforms = transforms
        self.return_masks = bool(return_masks)
        self._cache: dict[int, ShapeSample] = {}

    def __len__(self) -> int:
        return self.n

    def sample(self, index: int) -> ShapeSample:
        """Return the raw :class:`ShapeSample` ``index`` (cached)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"index must be in [0, {self.n}), got {index}")
        index = int(index)
        if index not in self._cache:
            self._cache[index] = generate_sample(
                index, split=self.split, image_size=self.image_size, seed=self.seed
            )
        return self._cache[index]

    def __getitem__(self, index: int):
        image, target = sample_to_target(self.sample(index), return_masks=self.return_masks)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def dataset_stats(samples: list[ShapeSample]) -> dict[str, Any]:
    """Summarise a split: images, objects per image, class counts, box-size buckets (COCO).

    Size buckets use the COCO rule on the *box* area ``w * h``: small ``< 32²``, medium
    ``< 96²``, large otherwise.

    Example:
        >>> st = dataset_stats(make_split("val", n=5))
        >>> st["images"], sum(st["class_counts"].values()) == st["objects"]
        (5, True)
    """
    boxes = np.array([o.bbox for s in samples for o in s.ann.objects], dtype=np.float64)
    boxes = boxes.reshape(-1, 4)
    wh = boxes[:, 2:] - boxes[:, :2]
    areas = wh[:, 0] * wh[:, 1]
    per_image = np.array([len(s.ann.objects) for s in samples])
    counts = {c: 0 for c in SHAPE_CLASSES}
    for s in samples:
        for o in s.ann.objects:
            counts[o.label] += 1
    n_obj = len(boxes)
    return {
        "images": len(samples),
        "objects": n_obj,
        "objects_per_image": float(per_image.mean()) if len(samples) else 0.0,
        "class_counts": counts,
        "small": float((areas < 32**2).mean()) if n_obj else 0.0,
        "medium": float(((areas >= 32**2) & (areas < 96**2)).mean()) if n_obj else 0.0,
        "large": float((areas >= 96**2).mean()) if n_obj else 0.0,
        "min_side": float(wh.min()) if n_obj else 0.0,
        "median_side": float(np.median(np.sqrt(areas))) if n_obj else 0.0,
    }


def _default_root(seed: int, image_size: int) -> Path:
    from dlcv_utils.runtime import cache_dir

    suffix = "" if image_size == DEFAULT_IMAGE_SIZE else f"-{image_size}px"
    return cache_dir() / f"{VERSION}-seed{seed}{suffix}"


def _sizes(sizes: dict[str, int] | None) -> dict[str, int]:
    if sizes is None:
        return dict(DEFAULT_SIZES)
    if not isinstance(sizes, dict) or not sizes:
        raise TypeError(f"sizes must be a dict like {{'train': 600}}, got {sizes!r}")
    for split, n in sizes.items():
        _check_split(split)
        _check_int(f"sizes[{split!r}]", n, 0)
    return {s: int(sizes[s]) for s in SPLITS if s in sizes}


def build_shapes(
    root: str | Path | None = None,
    *,
    formats: tuple[str, ...] = ("voc", "coco", "yolo"),
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
) -> Path:
    """Write the shapes dataset to disk in the VOC, COCO and/or YOLO layouts (cached).

    The folder gets one sub-folder per format (``root/voc``, ``root/coco``, ``root/yolo``, each
    in the layout of :func:`dlcv_utils.datasets.write_dataset`) holding every split, and a
    marker file ``root/.complete-<fmt>`` written last. A format whose marker exists is not
    rebuilt; an interrupted build (no marker) is rebuilt from scratch. The same arguments give
    byte-identical files.

    Args:
        root: output folder; default ``cache_dir() / "shapes-v1-seed<seed>"``.
        formats: any of ``"voc"``, ``"coco"``, ``"yolo"``.
        seed: dataset seed.
        sizes: images per split, e.g. ``{"train": 600, "val": 150}`` (default
            :data:`DEFAULT_SIZES`).
        image_size: image side in pixels.

    Returns:
        ``root``.

    Example:
        >>> import tempfile, pathlib
        >>> root = build_shapes(tempfile.mkdtemp(), formats=("coco",), sizes={"val": 2})
        >>> sorted(p.name for p in (root / "coco" / "images" / "val").iterdir())
        ['val_000000.jpg', 'val_000001.jpg']
        >>> (root / "coco" / "annotations" / "instances_val.json").is_file()
        True
    """
    import json
    import shutil
    import warnings

    from dlcv_utils.datasets.layout import FORMAT_NAMES as FORMATS
    from dlcv_utils.datasets.layout import write_dataset

    if isinstance(formats, str):
        formats = (formats,)
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"formats must be a subset of {FORMATS}, got {formats!r}")
    seed = _check_int("seed", seed, 0)
    image_size = _check_int("image_size", image_size, 32)
    sizes = _sizes(sizes)
    root = _default_root(seed, image_size) if root is None else Path(root)
    meta = {
        "version": VERSION,
        "seed": seed,
        "image_size": image_size,
        "sizes": sizes,
        "classes": list(SHAPE_CLASSES),
    }
    stamp = json.dumps(meta, sort_keys=True) + "\n"
    todo = []
    for fmt in formats:
        marker = root / f".complete-{fmt}"
        if marker.is_file() and marker.read_text() == stamp:
            continue
        todo.append(fmt)
    if not todo:
        return root
    splits = {split: make_split(split, n=n, image_size=image_size, seed=seed)
              for split, n in sizes.items()}  # fmt: skip
    for fmt in todo:
        marker = root / f".complete-{fmt}"
        marker.unlink(missing_ok=True)
        target = root / fmt
        if target.exists():
            shutil.rmtree(target)  # a half-written or different build: start again
        for split, samples in splits.items():
            with warnings.catch_warnings():
                # VOC/YOLO cannot hold the RLE masks: expected, documented above
                warnings.simplefilter("ignore")
                write_dataset(
                    [s.ann for s in samples],
                    target,
                    fmt,
                    classes=list(SHAPE_CLASSES),
                    split=split,
                    images=[s.image for s in samples],
                    warn=False,
                )
        marker.write_text(stamp)
    return root
