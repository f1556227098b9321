"""The one typed settings table: what each lesson does on a CPU and what it does differently on a GPU.

Every knob that depends on the device or the time budget lives here and nowhere else: CPU
threads, dataset sizes, image size, epochs, learning rates, training-time caps and the mAP
floors a lesson asserts. One frozen dataclass per lesson; the GPU entry is written as the
*differences* from the CPU entry with :func:`dataclasses.replace`, so a reader sees at a glance
what a GPU buys. The same names mean the same thing in every lesson:

* :class:`ShapesData` (``n_train``, ``n_val``, ``image_size``, ``batch_size``,
  ``val_batch_size``, ``hflip``): which shapes images a lesson trains and validates on;
* :class:`Training` (``epochs``, ``optimizer``, ``lr``, ``warmup_iters``, ``grad_clip``,
  ``max_train_seconds``, ``map50_floor``): one training run and the floor its val mAP@0.5 must
  reach;
* ``threads``: torch CPU threads (1 makes a CPU training run, hence its mAP, repeatable).

A lesson starts with::

    device, cfg = lesson_setup("05")      # seeds, picks the device, applies cfg.threads
    cfg.data.image_size, cfg.train.epochs

The device comes from :func:`dlcv_utils.runtime.pick_device` (``$DLCV_DEVICE`` is read there
only). Lessons never read environment variables or set threads themselves.

Adding a lesson: add its dataclass and a ``SETTINGS`` entry (see ``CONTRIBUTING.md``);
``tests/test_contributing.py`` fails until you do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from dlcv_utils.course.settings_base import Augmentation, LessonSettings, ShapesData, Training
from dlcv_utils.course.settings_late import LATE_SETTINGS, Lesson11, Lesson12, Lesson13, Lesson14
from dlcv_utils.runtime import pick_device, setup
from dlcv_utils.viz.notebook import use_compact_figures

__all__ = [
    "SETTINGS",
    "Augmentation",
    "Lesson01",
    "Lesson02",
    "Lesson03",
    "Lesson04",
    "Lesson05",
    "Lesson06",
    "Lesson07",
    "Lesson08",
    "Lesson09",
    "Lesson10",
    "Lesson11",
    "Lesson12",
    "Lesson13",
    "Lesson14",
    "LessonSettings",
    "ShapesData",
    "Training",
    "lesson_settings",
    "lesson_setup",
]


# ----------------------------------------------------------------------------- the lessons
@dataclass(frozen=True)
class Lesson01(LessonSettings):
    """Lesson 01 (boxes, IoU, NMS, mAP) runs the same everywhere."""


@dataclass(frozen=True)
class Lesson02(LessonSettings):
    """Lesson 02: the shapes dataset's statistics and the video section."""

    image_size: int = 128
    n_stats: int = 600
    video_frames: int = 32
    video_step: int = 4
    video_fps: int = 8


@dataclass(frozen=True)
class Lesson03(LessonSettings):
    """Lesson 03: proposal recall on ``n_val`` shapes images; the LBP cascade's scan."""

    n_val: int = 40
    cascade_stride: int = 1
    cascade_scale: float = 1.1
    photos_fast_mode: bool = True


@dataclass(frozen=True)
class Lesson04(LessonSettings):
    """Lesson 04: R-CNN and Fast R-CNN with the same tiny CNN on selective-search proposals."""

    data: ShapesData = field(default_factory=lambda: ShapesData(160, 40, batch_size=4))
    rcnn: Training = field(default_factory=lambda: Training(8))
    fast_rcnn: Training = field(default_factory=lambda: Training(16))
    rois_per_image: int = 64
    crop_size: int = 24
    context_padding: int = 2
    roi_output_size: int = 6
    channels: tuple[int, ...] = (16, 32, 64)
    ss_scale: float = 50
    ss_min_size: int = 10
    ss_min_box_size: int = 4
    augment: Augmentation = field(default_factory=Augmentation)


@dataclass(frozen=True)
class Lesson05(LessonSettings):
    """Lesson 05: Faster R-CNN on a tiny backbone trained from scratch."""

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150))
    train: Training = field(default_factory=lambda: Training(12))
    backbone: str = "tiny"
    width: int = 16
    stride: int = 4
    anchor_sizes: tuple[int, ...] = (16, 32, 64)
    box_batch_size_per_image: int = 64


@dataclass(frozen=True)
class Lesson06(LessonSettings):
    """Lesson 06: a config-built Faster R-CNN + FPN (``config`` names a toolbox config).

    ``baseline_config`` is the same detector without the FPN, trained with the same ``train``
    setting (the lesson compares the two).
    """

    config: str = "faster_rcnn_tiny_fpn"
    baseline_config: str = "faster_rcnn_tiny_c4"
    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150))
    train: Training = field(default_factory=lambda: Training(8))


@dataclass(frozen=True)
class Lesson07(LessonSettings):
    """Lesson 07: a single-shot detector trained here, exported to ONNX, run by OpenCV DNN.

    ``timing_images`` images are timed per runtime (PyTorch, OpenCV DNN, onnxruntime);
    ``video_frames`` frames of the generated clip are detected.
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 100))
    train: Training = field(default_factory=lambda: Training(8))
    width: int = 16
    stride: int = 8
    anchor_sizes: tuple[int, ...] = (16, 32, 64)
    timing_images: int = 50
    video_frames: int = 24
    video_step: int = 4


@dataclass(frozen=True)
class Lesson08(LessonSettings):
    """Lesson 08: SSD (torchvision's ``SSD``) on a tiny multi-scale backbone, from scratch.

    ``levels`` feature maps (strides ``first_stride``, x2, x4, ...) with default-box scales
    from ``s_min`` to ``s_max`` (fractions of the image side) and extra ratios
    ``aspect_ratios`` on every level.
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150, batch_size=8))
    train: Training = field(default_factory=lambda: Training(15))
    width: int = 16
    levels: int = 4
    first_stride: int = 4
    s_min: float = 0.08
    s_max: float = 0.5
    aspect_ratios: tuple[float, ...] = (2.0, 3.0)


@dataclass(frozen=True)
class Lesson09(LessonSettings):
    """Lesson 09: YOLO v1 to today; a small v3-style YOLO trained from scratch on the shapes.

    ``k_anchors`` anchors from k-means (``1 - IoU``) on the training boxes, split by area over
    the prediction ``strides`` (finest scale gets the smallest); ``widths``/``blocks`` of the
    residual backbone (:class:`dlcv_utils.models.yolo.SmallYOLO`); ``grid`` is the ``S`` of
    the v1 illustrations.
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150, batch_size=8))
    train: Training = field(default_factory=lambda: Training(20))
    k_anchors: int = 6
    strides: tuple[int, ...] = (8, 16)
    widths: tuple[int, ...] = (16, 24, 48, 96, 128)
    blocks: tuple[int, ...] = (0, 1, 1, 1, 1)
    match_iou: float = 0.3
    grid: int = 7


@dataclass(frozen=True)
class Lesson10(LessonSettings):
    """Lesson 10: Ultralytics YOLO built from its yaml and trained from scratch on the shapes.

    ``model`` is the Ultralytics model yaml. :func:`dlcv_utils.course.recipes.yolo_train_args`
    turns the shared names into ``YOLO.train`` arguments: ``train.optimizer``/``lr`` become
    ``optimizer``/``lr0``, ``warmup_iters`` becomes ``warmup_epochs``; ``max_train_seconds``
    is applied by :func:`dlcv_utils.course.recipes.yolo_budget_callback` (a slow run stops at
    the end of the first epoch past it); ``mosaic`` is Ultralytics' mosaic probability (0: off,
    the shapes are small).
    ``map_tolerance`` is the largest |Ultralytics mAP - COCO mAP| on the same predictions.
    """

    model: str = "yolov8n.yaml"
    data: ShapesData = field(default_factory=lambda: ShapesData(256, 64, batch_size=8))
    train: Training = field(default_factory=lambda: Training(30))
    mosaic: float = 0.0
    map_tolerance: float = 0.02


# ----------------------------------------------------------------------------- the table
_CPU04 = Lesson04(
    threads=1,
    data=ShapesData(n_train=160, n_val=40, batch_size=4, val_batch_size=4),
    rcnn=Training(epochs=8, lr=3e-3, warmup_iters=20, map50_floor=0.45),
    fast_rcnn=Training(epochs=16, lr=3e-3, warmup_iters=20, map50_floor=0.5),
)
_CPU05 = Lesson05(
    threads=1,
    data=ShapesData(n_train=600, n_val=150, batch_size=4, val_batch_size=4, hflip=True),
    train=Training(epochs=12, lr=1e-3, warmup_iters=100, max_train_seconds=220, map50_floor=0.7),
)
_CPU06 = Lesson06(
    threads=1,
    config="faster_rcnn_tiny_fpn",
    baseline_config="faster_rcnn_tiny_c4",
    data=ShapesData(n_train=600, n_val=150, batch_size=4, hflip=True),
    # the FPN and the no-neck detector get the same budget: 2 epochs (300 iterations); the time
    # cap is only a safety net for a very busy machine
    train=Training(
        epochs=2, lr=1e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=150, map50_floor=0.02
    ),
)
_CPU07 = Lesson07(
    threads=1,
    data=ShapesData(n_train=600, n_val=100, batch_size=8, val_batch_size=16, hflip=True),
    train=Training(
        epochs=8, lr=3e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=180, map50_floor=0.3
    ),
)
_CPU08 = Lesson08(
    threads=1,
    data=ShapesData(n_train=600, n_val=150, batch_size=4, val_batch_size=16, hflip=True),
    train=Training(
        epochs=15, lr=2e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=240, map50_floor=0.7
    ),
)

_CPU09 = Lesson09(
    threads=1,
    data=ShapesData(n_train=600, n_val=150, batch_size=8, val_batch_size=16, hflip=True),
    train=Training(
        epochs=12, lr=6e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=240, map50_floor=0.45
    ),
    match_iou=0.2,
)

_CPU10 = Lesson10(
    threads=1,
    data=ShapesData(n_train=256, n_val=64, batch_size=8, val_batch_size=16),
    train=Training(epochs=30, lr=2e-3, warmup_iters=64, max_train_seconds=180, map50_floor=0.05),
)

#: lesson -> (CPU entry, GPU entry). The GPU entry is the CPU entry plus its differences.
SETTINGS: dict[str, tuple[LessonSettings, LessonSettings]] = {
    "01": (Lesson01(), Lesson01()),
    "02": (Lesson02(), Lesson02()),
    "03": (Lesson03(), replace(Lesson03(), n_val=150)),
    "04": (
        _CPU04,
        replace(
            _CPU04,
            threads=None,
            data=replace(_CPU04.data, n_train=600, n_val=150, batch_size=8, val_batch_size=8),
            rcnn=replace(_CPU04.rcnn, epochs=16, warmup_iters=50),
            fast_rcnn=replace(_CPU04.fast_rcnn, epochs=30, warmup_iters=50),
            crop_size=28,
            roi_output_size=7,
            channels=(32, 64, 128),
        ),
    ),
    "05": (
        _CPU05,
        replace(
            _CPU05,
            threads=None,
            data=replace(_CPU05.data, n_train=2000, batch_size=16, val_batch_size=16),
            train=replace(
                _CPU05.train,
                epochs=24,
                lr=2e-3,
                warmup_iters=200,
                max_train_seconds=1200,
                map50_floor=0.9,
            ),
            width=32,
            box_batch_size_per_image=128,
        ),
    ),
    "06": (
        _CPU06,
        replace(
            _CPU06,
            threads=None,
            data=replace(_CPU06.data, n_train=3000, batch_size=16),
            train=replace(
                _CPU06.train, epochs=24, lr=1e-3, warmup_iters=300, max_train_seconds=1800
            ),
        ),
    ),
    "07": (
        _CPU07,
        replace(
            _CPU07,
            threads=None,
            data=replace(_CPU07.data, n_train=3000, n_val=150, batch_size=16),
            train=replace(_CPU07.train, epochs=24, max_train_seconds=600),
            width=32,
        ),
    ),
    "08": (
        _CPU08,
        replace(
            _CPU08,
            threads=None,
            data=replace(_CPU08.data, n_train=3000, batch_size=16),
            train=replace(_CPU08.train, epochs=40, max_train_seconds=600),
            width=32,
        ),
    ),
    "09": (
        _CPU09,
        replace(
            _CPU09,
            threads=None,
            data=replace(_CPU09.data, n_train=3000, batch_size=16),
            train=replace(_CPU09.train, epochs=40, max_train_seconds=600, map50_floor=0.6),
            widths=(32, 48, 96, 192, 256),
            blocks=(1, 1, 2, 2, 1),
        ),
    ),
    "10": (
        _CPU10,
        replace(
            _CPU10,
            threads=None,
            model="yolo11n.yaml",
            data=replace(_CPU10.data, n_train=2000, n_val=150, batch_size=32),
            train=replace(_CPU10.train, epochs=60, max_train_seconds=900, map50_floor=0.3),
        ),
    ),
    **LATE_SETTINGS,  # lessons 11-14 (dlcv_utils/course/settings_late.py)
}


def lesson_settings(lesson: str, device: str | torch.device | None = None) -> LessonSettings:
    """Return the settings of ``lesson`` for ``device``.

    Args:
        lesson: two-digit lesson number, e.g. ``"05"``.
        device: as for :func:`dlcv_utils.runtime.pick_device`.

    Returns:
        The lesson's frozen dataclass, with ``device`` set to ``"cpu"`` or ``"cuda"``.

    Raises:
        ValueError: for an unknown lesson.

    Example:
        >>> cfg = lesson_settings("05", "cpu")
        >>> cfg.device, cfg.data.image_size, cfg.train.epochs
        ('cpu', 128, 12)
    """
    if lesson not in SETTINGS:
        raise ValueError(
            f"lesson must be one of {sorted(SETTINGS)}, got {lesson!r}; a new lesson needs an "
            "entry in dlcv_utils/course/settings.py (see CONTRIBUTING.md)"
        )
    dev = pick_device(device)
    cpu, gpu = SETTINGS[lesson]
    return replace(gpu if dev.type == "cuda" else cpu, device=dev.type)


def lesson_setup(
    lesson: str, device: str | torch.device | None = None
) -> tuple[torch.device, LessonSettings]:
    """Set a lesson up: pick the device, look its settings up, seed and apply the CPU threads.

    Inside IPython it also makes figures store as PNG or JPEG, whichever is smaller
    (:func:`dlcv_utils.viz.notebook.use_compact_figures`), so the saved notebook stays lean.

    Args:
        lesson: two-digit lesson number.
        device: as for :func:`dlcv_utils.runtime.pick_device`.

    Returns:
        ``(device, settings)``.

    Example:
        >>> device, cfg = lesson_setup("01", "cpu")
        >>> device.type, cfg.seed
        ('cpu', 0)
    """
    cfg = lesson_settings(lesson, device)
    dev = setup(seed=cfg.seed, device=device, threads=cfg.threads)
    use_compact_figures()
    return dev, cfg
