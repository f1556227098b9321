"""Per-lesson, per-device settings, and ``setup`` (seed + device) for the top of each lesson.

This is the *one place* where a CPU run and a GPU run of a lesson differ: image size, epochs,
dataset size and the like. A lesson calls::

    device = setup(seed=0)
    cfg = lesson_settings("05", device)
    cfg.epochs, cfg.image_size

``DLCV_DEVICE`` (``cpu`` or ``cuda``) overrides the automatic choice, so a teacher can run the
CPU settings on a GPU machine or the other way round.
"""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

import torch

from dlcv_utils.runtime import pick_device, seed_everything, setup

__all__ = ["LESSON_SETTINGS", "lesson_settings", "pick_device", "seed_everything", "setup"]

# lesson -> {"cpu": {...}, "cuda": {...}}. Keep keys identical between the two devices.
# Each lesson owns its own entry; values are the only thing that changes between devices.
LESSON_SETTINGS: dict[str, dict[str, dict]] = {
    "01": {"cpu": {}, "cuda": {}},
    "02": {
        "cpu": dict(image_size=128, n_stats=600, video_frames=32, video_step=4, video_fps=8),
        "cuda": dict(image_size=128, n_stats=600, video_frames=32, video_step=4, video_fps=8),
    },
    "03": {
        # shapes val images for the recall curves; cascade scan (stride 1 px, pyramid step 1.1)
        "cpu": {"n_val": 40, "cascade_stride": 1, "cascade_scale": 1.1, "photos_fast_mode": True},
        "cuda": {"n_val": 150, "cascade_stride": 1, "cascade_scale": 1.1, "photos_fast_mode": True},
    },
    "04": {
        # shapes images; selective search proposals; R-CNN crops / Fast R-CNN RoIs of the same tiny CNN
        "cpu": dict(
            image_size=128,
            n_train=160,
            n_val=40,
            batch_size=4,
            epochs_rcnn=8,
            epochs_fast_rcnn=16,
            lr=3e-3,
            warmup_iters=20,
            rois_per_image=64,
            crop_size=24,
            context_padding=2,
            roi_output_size=6,
            channels=(16, 32, 64),
            ss_scale=50,
            ss_min_size=10,
            ss_min_box_size=4,
        ),
        "cuda": dict(
            image_size=128,
            n_train=600,
            n_val=150,
            batch_size=8,
            epochs_rcnn=16,
            epochs_fast_rcnn=30,
            lr=3e-3,
            warmup_iters=50,
            rois_per_image=64,
            crop_size=28,
            context_padding=2,
            roi_output_size=7,
            channels=(32, 64, 128),
            ss_scale=50,
            ss_min_size=10,
            ss_min_box_size=4,
        ),
    },
    "05": {
        # Faster R-CNN, tiny backbone trained from scratch on the shapes data; max_seconds is
        # a safety net on the training time; map50_floor is what the lesson asserts.
        "cpu": dict(
            n_train=600,
            n_val=150,
            image_size=128,
            batch_size=4,
            hflip=True,
            epochs=12,
            optimizer="adamw",
            lr=1e-3,
            warmup_iters=100,
            max_seconds=220,
            backbone="tiny",
            width=16,
            stride=4,
            anchor_sizes=(16, 32, 64),
            box_batch_size_per_image=64,
            map50_floor=0.7,
        ),
        "cuda": dict(
            n_train=2000,
            n_val=150,
            image_size=128,
            batch_size=16,
            hflip=True,
            epochs=24,
            optimizer="adamw",
            lr=2e-3,
            warmup_iters=200,
            max_seconds=1200,
            backbone="tiny",
            width=32,
            stride=4,
            anchor_sizes=(16, 32, 64),
            box_batch_size_per_image=128,
            map50_floor=0.9,
        ),
    },
    "06": {
        # config: a name in dlcv_utils.toolbox.CONFIGS (CPU: TinyNet + FPN, GPU: ResNet-18 + FPN);
        # max_train_seconds is a safety net; map50_floor is what the lesson asserts.
        "cpu": dict(
            config="faster_rcnn_tiny_fpn",
            image_size=128,
            n_train=600,
            n_val=150,
            batch_size=4,
            epochs=8,
            optimizer="adamw",
            lr=2e-3,
            warmup_iters=50,
            max_train_seconds=600,
            map50_floor=0.35,
        ),
        "cuda": dict(
            config="faster_rcnn_r18_fpn",
            image_size=128,
            n_train=3000,
            n_val=150,
            batch_size=16,
            epochs=24,
            optimizer="adamw",
            lr=1e-3,
            warmup_iters=300,
            max_train_seconds=1800,
            map50_floor=0.35,
        ),
    },
}


def lesson_settings(lesson: str, device: str | torch.device | None = None) -> SimpleNamespace:
    """Return the settings of ``lesson`` for ``device`` as an attribute namespace.

    Args:
        lesson: two-digit lesson number, e.g. ``"05"``.
        device: as for :func:`pick_device`.

    Raises:
        ValueError: for an unknown lesson.

    Example:
        >>> cfg = lesson_settings("01", "cpu")
        >>> cfg.device
        'cpu'
    """
    if lesson not in LESSON_SETTINGS:
        raise ValueError(f"lesson must be one of {sorted(LESSON_SETTINGS)}, got {lesson!r}")
    dev = pick_device(device)
    values = dict(LESSON_SETTINGS[lesson]["cuda" if dev.type == "cuda" else "cpu"])
    values["device"] = dev.type
    return SimpleNamespace(**MappingProxyType(values))
