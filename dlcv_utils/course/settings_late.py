"""Settings of lessons 11-14, in the same form as :mod:`dlcv_utils.course.settings`.

One frozen dataclass per lesson (built from :mod:`dlcv_utils.course.settings_base`) and its
``(CPU entry, GPU entry)`` pair in :data:`LATE_SETTINGS`, which
:data:`dlcv_utils.course.settings.SETTINGS` merges in; the GPU entry is the CPU entry plus its
differences (:func:`dataclasses.replace`). Look settings up with
:func:`dlcv_utils.course.settings.lesson_settings` as for every lesson.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace  # noqa: F401  (used by the lesson blocks)

from dlcv_utils.course.settings_base import (  # noqa: F401
    Augmentation,
    LessonSettings,
    ShapesData,
    Training,
)

__all__ = ["LATE_SETTINGS", "Lesson14"]


# ----------------------------------------------------------------------------- lesson 11
# ----------------------------------------------------------------------------- lesson 12
# ----------------------------------------------------------------------------- lesson 13
# ----------------------------------------------------------------------------- lesson 14
@dataclass(frozen=True)
class Lesson14(LessonSettings):
    """Lesson 14: every detector of the course side by side, from the benchmark's results file.

    ``results_device`` names the results file read (``benchmarks/results/detectors_<kind>.json``,
    the committed CPU figures on every device); ``live_row`` is the benchmark row the lesson
    reruns, on ``live_device`` with that lesson's own settings (one thread: repeatable), and its
    val mAP must equal the file's within ``live_tolerance`` (3 decimals); ``realtime_ms`` is the
    per-image budget of the real-time question (30 frames per second).
    """

    results_device: str = "cpu"
    live_row: str = "ssd"
    live_device: str = "cpu"
    live_tolerance: float = 5e-4
    realtime_ms: float = 1000 / 30


_CPU14 = Lesson14(threads=1)

#: lesson -> (CPU entry, GPU entry), merged into ``dlcv_utils.course.settings.SETTINGS``.
LATE_SETTINGS: dict[str, tuple[LessonSettings, LessonSettings]] = {
    # lesson 11 entry
    # lesson 12 entry
    # lesson 13 entry
    # lesson 14 entry
    "14": (_CPU14, replace(_CPU14, threads=None)),
}
