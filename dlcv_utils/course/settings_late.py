"""Settings of lessons 11-14, in the same form as :mod:`dlcv_utils.course.settings`.

One frozen dataclass per lesson (built from :mod:`dlcv_utils.course.settings_base`) and its
``(CPU entry, GPU entry)`` pair in :data:`LATE_SETTINGS`, which
:data:`dlcv_utils.course.settings.SETTINGS` merges in; the GPU entry is the CPU entry plus its
differences (:func:`dataclasses.replace`). Look settings up with
:func:`dlcv_utils.course.settings.lesson_settings` as for every lesson.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dlcv_utils.course.settings_base import (  # noqa: F401
    Augmentation,
    LessonSettings,
    ShapesData,
    Training,
)

__all__ = ["LATE_SETTINGS", "Lesson11", "Lesson12", "Lesson13", "Lesson14"]


# ----------------------------------------------------------------------------- lesson 11
@dataclass(frozen=True)
class Lesson11(LessonSettings):
    """Lesson 11: RetinaNet (torchvision's ``RetinaNet``) with focal loss, from scratch.

    A tiny CNN of ``width`` (lesson 08's) + an FPN of ``fpn_channels`` giving three levels
    from stride ``first_stride`` (4: P2-P4, 8: P3-P5); light heads of ``head_convs`` convs per
    branch (group norm if ``head_norm``); anchors ``base_sizes`` (one per level) x 3 scales per
    octave x ``aspect_ratios``; focal loss
    ``alpha``, ``gamma``. The ablation trains the model twice, with
    ``gamma`` and with ``ablation_gamma``, for ``ablation_epochs`` each (an equal, shorter
    budget than ``train``); the ``gamma`` run's val mAP@0.5 must reach ``ablation_floor`` (the
    other is reported whatever it is).
    ``figure_score`` is the score from which the TP/FP/FN figures count a detection (a briefly
    trained focal-loss detector scores low, so the CPU settings count from 0.25).
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150))
    train: Training = field(default_factory=lambda: Training(6))
    width: int = 16
    fpn_channels: int = 64
    first_stride: int = 4
    head_convs: int = 2
    head_norm: bool = True
    base_sizes: tuple[int, ...] = (12, 24, 48)
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    alpha: float = 0.25
    gamma: float = 2.0
    ablation_gamma: float = 0.0
    ablation_epochs: int = 3
    ablation_floor: float = 0.0
    figure_score: float = 0.5


_CPU11 = Lesson11(
    threads=1,
    data=ShapesData(n_train=600, n_val=150, batch_size=4, val_batch_size=16, hflip=True),
    # P2-P4 with 48 FPN channels: one thread, 1,350 iterations, val mAP@0.5 0.640 (64
    # channels: 0.637, 1.3x the time; P3-P5 with 64 channels, the earlier design: 0.232)
    fpn_channels=48,
    # the lesson's model: 6 epochs (900 iterations; 7 gave 0.469 and 8 gave 0.587, but the
    # lesson then needs about 3 min); the ablation pair: 2 epochs each; the time cap is only a
    # safety net
    train=Training(
        epochs=6, lr=2e-3, warmup_iters=100, grad_clip=10.0, max_train_seconds=900, map50_floor=0.32
    ),
    ablation_epochs=2,
    # measured: 0.425 (the model), 0.154 (gamma 2, short) and 0.000 (gamma 0, short)
    ablation_floor=0.08,
    figure_score=0.25,
)


# ----------------------------------------------------------------------------- lesson 12
@dataclass(frozen=True)
class Lesson12(LessonSettings):
    """Lesson 12: a scaled-down EfficientDet-D0 (tiny MBConv backbone + BiFPN), from scratch.

    ``width``/``bifpn_layers``/``head_layers`` are ``W_bifpn``/``D_bifpn``/``D_box``;
    ``backbone_widths``/``backbone_depths`` the MBConv stages (the last 3 give
    P``min_level``..P``min_level + 2``, the BiFPN adds the levels up to P``max_level``); anchors ``anchor_scale * 2**level`` x ``num_scales`` x 3 ratios.
    ``config_images``/``config_epochs``/``config_map50_floor``: the config-driven fine-tuning
    run on the COCO-layout copy and the AP@0.5 it must reach;
    ``flops_size``: the side at which the D0-D7 multiply-adds are measured (then scaled).
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150, batch_size=4))
    train: Training = field(default_factory=lambda: Training(4))
    width: int = 32
    bifpn_layers: int = 2
    head_layers: int = 2
    backbone_widths: tuple[int, ...] = (16, 24, 40, 80)
    backbone_depths: tuple[int, ...] = (1, 1, 2, 2)
    min_level: int = 3
    max_level: int = 6
    anchor_scale: float = 2.0
    num_scales: int = 3
    config_images: int = 48
    config_epochs: int = 1
    config_map50_floor: float = 0.0
    flops_size: int = 128


_CPU12 = Lesson12(
    threads=1,
    data=ShapesData(n_train=600, n_val=150, batch_size=4, val_batch_size=16, hflip=True),
    # the pyramid one level down, as lessons 08 and 11 (the shapes are 8-64 px): three MBConv
    # stages C2-C4 (strides 4-16) and P2-P5; one thread, val mAP@0.5: 0.425 at 6 epochs, 0.314
    # at 4; the earlier P3-P6 design (stages 16-24-40-80) gave 0.214 at 4 epochs
    backbone_widths=(24, 40, 80),
    backbone_depths=(1, 2, 2),
    min_level=2,
    max_level=5,
    train=Training(
        epochs=6, lr=6e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=600, map50_floor=0.32
    ),
    config_map50_floor=0.1,
)


# ----------------------------------------------------------------------------- lesson 13
@dataclass(frozen=True)
class Lesson13(LessonSettings):
    """Lesson 13: Mask R-CNN (small CNN + FPN, narrow mask head) on the shapes instance masks.

    ``backbone``, ``widths``, ``levels``, ``fpn_channels``, ``anchor_sizes`` and
    ``canonical_scale`` (the FPN level rule's canonical RoI side) are those of
    :func:`dlcv_utils.models.mask_rcnn.build_mask_rcnn`. ``train.map50_floor`` is the box
    mAP@0.5 floor, ``mask_map50_floor`` the mask one; ``mask_threshold`` binarises the predicted
    mask probabilities; ``detections_per_img`` caps the detections (and so the masks pasted back
    into the image) per image.
    """

    data: ShapesData = field(default_factory=lambda: ShapesData(600, 150))
    train: Training = field(default_factory=lambda: Training(8))
    backbone: str = "tiny_fpn"
    widths: tuple[int, ...] = (32, 64, 128, 128)
    levels: int = 3
    fpn_channels: int = 64
    anchor_sizes: tuple[tuple[int, ...], ...] = ((12, 16, 24), (24, 32, 48), (48, 64, 96))
    canonical_scale: int = 112
    mask_layers: int = 2
    mask_channels: int = 32
    mask_roi_size: int = 14
    box_batch_size_per_image: int = 64
    detections_per_img: int = 25
    mask_threshold: float = 0.5
    mask_map50_floor: float = 0.0
    video_frames: int = 16


_CPU13 = Lesson13(
    threads=1,
    data=ShapesData(n_train=500, n_val=100, batch_size=4, val_batch_size=8, hflip=True),
    # a small CNN + FPN (P2-P4), RoIs of < 56 px pooled from P2 and of 56-112 px from P3;
    # benchmarks/bench_mask_backbones.py trains it beside lesson 05's one-map stride-4 backbone
    # and beside the level rule scaled down to 56 px, on these settings; 8 epochs = 1000
    # iterations; the time cap is only a safety net (nbval's cell limit is 600 s)
    train=Training(
        epochs=8, lr=2e-3, warmup_iters=50, grad_clip=10.0, max_train_seconds=480, map50_floor=0.55
    ),
    # measured (1000 iterations, one thread): box mAP@0.5 0.668, mask mAP@0.5 0.655
    mask_map50_floor=0.55,
)


# ----------------------------------------------------------------------------- lesson 14
@dataclass(frozen=True)
class Lesson14(LessonSettings):
    """Lesson 14: every detector of the course side by side, from the benchmark's results file.

    ``results_device`` names the results file read (``benchmarks/results/detectors_<kind>.json``,
    the committed CPU figures on every device); ``live_row`` is the benchmark row the lesson
    reruns, on ``live_device`` with that lesson's own settings (one thread: repeatable), and its
    val mAP must equal the file's within ``live_tolerance`` (3 decimals); ``realtime_ms`` is the
    per-image budget of the real-time question (30 frames per second). ``pending_rows`` are
    the families whose rows may still be missing from the file (lessons being written); the
    lesson names them, and fails on any other missing family. Empty now: every row is in.
    """

    results_device: str = "cpu"
    live_row: str = "single_shot"
    live_device: str = "cpu"
    live_tolerance: float = 5e-4
    realtime_ms: float = 1000 / 30
    pending_rows: tuple[str, ...] = ()


_CPU14 = Lesson14(threads=1)

#: lesson -> (CPU entry, GPU entry), merged into ``dlcv_utils.course.settings.SETTINGS``.
LATE_SETTINGS: dict[str, tuple[LessonSettings, LessonSettings]] = {
    # lesson 11 entry
    "11": (
        _CPU11,
        replace(
            _CPU11,
            threads=None,
            data=replace(_CPU11.data, n_train=3000, batch_size=16),
            train=replace(_CPU11.train, epochs=30, max_train_seconds=1200),
            width=32,
            fpn_channels=128,
            head_convs=4,
            figure_score=0.5,
            ablation_epochs=10,
        ),
    ),
    # lesson 12 entry
    "12": (
        _CPU12,
        replace(
            _CPU12,
            threads=None,
            data=replace(_CPU12.data, n_train=2000, batch_size=16),
            train=replace(_CPU12.train, epochs=30, max_train_seconds=900),
            width=64,
            bifpn_layers=3,
            head_layers=3,
            backbone_depths=(2, 3, 3),
            config_images=200,
            config_epochs=3,
        ),
    ),
    # lesson 13 entry
    "13": (
        _CPU13,
        replace(
            _CPU13,
            threads=None,
            data=ShapesData(n_train=2000, n_val=300, batch_size=8, val_batch_size=16, hflip=True),
            train=replace(_CPU13.train, epochs=20, max_train_seconds=900),
            fpn_channels=128,
            mask_layers=4,
            mask_channels=128,
        ),
    ),
    # lesson 14 entry
    "14": (_CPU14, replace(_CPU14, threads=None)),
}
