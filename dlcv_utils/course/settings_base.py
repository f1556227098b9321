"""The building blocks of the course settings: the data, training and augmentation settings and
the fields every lesson has.

:mod:`dlcv_utils.course.settings` (lessons 01-10) and :mod:`dlcv_utils.course.settings_late`
(lessons 11-14) build each lesson's frozen dataclass from these; import them from
:mod:`dlcv_utils.course.settings`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlcv_utils.validation import check_choice, check_int, check_number

__all__ = ["Augmentation", "LessonSettings", "ShapesData", "Training"]


# ----------------------------------------------------------------------------- building blocks
@dataclass(frozen=True)
class ShapesData:
    """Which shapes images (lesson 02's synthetic dataset) a lesson trains and validates on.

    Attributes:
        n_train: training images.
        n_val: validation images.
        image_size: side of the square images in pixels.
        batch_size: training batch size.
        val_batch_size: evaluation batch size (does not change the metrics).
        hflip: flip training images (and boxes) horizontally at random.
    """

    n_train: int
    n_val: int
    image_size: int = 128
    batch_size: int = 4
    val_batch_size: int = 16
    hflip: bool = False

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "image_size", "batch_size", "val_batch_size"):
            check_int(getattr(self, name), name, minimum=1)


@dataclass(frozen=True)
class Training:
    """One training run of :func:`dlcv_utils.course.recipes.train_and_evaluate`.

    Attributes:
        epochs: passes over the training images.
        optimizer: ``"adamw"`` or ``"sgd"`` (see :func:`dlcv_utils.engine.make_optimizer`).
        lr: peak learning rate (after the warm-up).
        warmup_iters: iterations of linear warm-up.
        grad_clip: maximum gradient norm, or ``None`` for no clipping.
        max_train_seconds: a safety net on the training wall time, or ``None``; the schedule
            decays in time when a run is too slow to finish (see :mod:`dlcv_utils.engine`).
        map50_floor: the val mAP@0.5 the lesson asserts after this run.
    """

    epochs: int
    optimizer: str = "adamw"
    lr: float = 1e-3
    warmup_iters: int = 100
    grad_clip: float | None = None
    max_train_seconds: float | None = None
    map50_floor: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", minimum=1)
        check_choice(self.optimizer, "optimizer", ("adamw", "sgd"))
        check_number(self.lr, "lr", low=0.0, low_open=True)
        check_int(self.warmup_iters, "warmup_iters", minimum=0)
        if self.grad_clip is not None:
            check_number(self.grad_clip, "grad_clip", low=0.0, low_open=True)
        if self.max_train_seconds is not None:
            check_number(self.max_train_seconds, "max_train_seconds", low=0.0, low_open=True)
        check_number(self.map50_floor, "map50_floor", low=0.0, high=1.0)


@dataclass(frozen=True)
class Augmentation:
    """Random box-aware augmentation of the training images (lesson 04).

    The knobs of :func:`dlcv_utils.datasets.augment.box_augmentation`, applied by
    :class:`dlcv_utils.datasets.augment.BoxAugment` (see :func:`dlcv_utils.course.recipes.box_augment`).

    Attributes:
        hflip: probability of a horizontal flip.
        photometric: probability of each photometric distortion (0: off).
        scale: ``(low, high)`` zoom factors of the random affine transform.
        translate: largest shift, as a fraction of the image size.
        degrees: largest rotation in degrees.
        min_size: boxes smaller than this many pixels after the transform are dropped.
    """

    hflip: float = 0.5
    photometric: float = 0.5
    scale: tuple[float, float] = (0.8, 1.2)
    translate: float = 0.1
    degrees: float = 0.0
    min_size: float = 2.0

    def __post_init__(self) -> None:
        check_number(self.hflip, "hflip", 0.0, 1.0)
        check_number(self.photometric, "photometric", 0.0, 1.0)
        check_number(self.translate, "translate", 0.0, 1.0, high_open=True)
        check_number(self.degrees, "degrees", 0.0, 180.0)
        check_number(self.min_size, "min_size", low=1.0)
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {self.scale!r}")


@dataclass(frozen=True)
class LessonSettings:
    """What every lesson has.

    Attributes:
        device: ``"cpu"`` or ``"cuda"``; filled in by :func:`lesson_settings`.
        seed: the seed :func:`lesson_setup` applies.
        threads: torch CPU threads :func:`lesson_setup` applies (``None``: torch's default).
    """

    device: str = "cpu"
    seed: int = 0
    threads: int | None = None
