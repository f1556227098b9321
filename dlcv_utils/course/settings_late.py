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

__all__ = ["LATE_SETTINGS"]

# ----------------------------------------------------------------------------- lesson 11
# ----------------------------------------------------------------------------- lesson 12
# ----------------------------------------------------------------------------- lesson 13
# ----------------------------------------------------------------------------- lesson 14

#: lesson -> (CPU entry, GPU entry), merged into ``dlcv_utils.course.settings.SETTINGS``.
LATE_SETTINGS: dict[str, tuple[LessonSettings, LessonSettings]] = {
    # lesson 11 entry
    # lesson 12 entry
    # lesson 13 entry
    # lesson 14 entry
}
