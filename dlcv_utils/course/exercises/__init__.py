"""Checks for the learner's exercises, and the model solutions (kept out of the way).

Taught in lesson 01 and used in every lesson after it. Each ``check_*`` function runs the
learner's function on many cases (hand-made edge cases first, then seeded random ones),
compares it with a reference (torchvision, the package, or a written-out solution), prints one
helpful line, and returns ``True`` or ``False``. A function that still raises
``NotImplementedError`` (the stub in the notebook) is reported as "not attempted yet", so the
committed notebooks run with the exercises left open.

One module per lesson holds its checkers and model solutions (``lesson01`` ... ``lesson14``);
this package re-exports them all. Print a model solution with :func:`show_solution` once you
have tried (``show_solution("iou")``); :data:`SOLUTIONS` lists the names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from dlcv_utils.course.exercises import (
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson11,
    lesson12,
    lesson13,
    lesson14,
)
from dlcv_utils.course.exercises.lesson01 import (
    check_ap,
    check_iou,
    check_nms,
    solution_ap,
    solution_batched_nms,
    solution_iou,
    solution_iou_xywh,
    solution_nms,
)
from dlcv_utils.course.exercises.lesson02 import (
    check_open_images_row,
    check_yolo_to_coco,
    solution_open_images_row,
    solution_yolo_to_coco,
)
from dlcv_utils.course.exercises.lesson03 import (
    check_recall_at_k,
    check_window_count,
    solution_recall_at_k,
    solution_window_count,
)
from dlcv_utils.course.exercises.lesson04 import (
    check_decode,
    check_encode,
    check_roi_max_pool,
    solution_decode,
    solution_encode,
    solution_roi_max_pool,
)
from dlcv_utils.course.exercises.lesson05 import (
    check_anchors,
    check_rpn_labels,
    solution_anchors,
    solution_rpn_labels,
)
from dlcv_utils.course.exercises.lesson06 import (
    CONFIG_REQUIREMENTS,
    check_detector_config,
    check_fpn_level,
    solution_detector_config,
    solution_fpn_level,
)
from dlcv_utils.course.exercises.lesson07 import (
    check_blob,
    check_decode_raw,
    solution_blob,
    solution_decode_raw,
)
from dlcv_utils.course.exercises.lesson08 import (
    check_default_box_scales,
    check_ssd_match,
    solution_default_box_scales,
    solution_ssd_match,
)
from dlcv_utils.course.exercises.lesson09 import (
    check_responsible_cell,
    check_v2_decode,
    solution_responsible_cell,
    solution_v2_decode,
)
from dlcv_utils.course.exercises.lesson10 import (
    check_ultralytics_ap,
    check_yolo_results,
    solution_ultralytics_ap,
    solution_yolo_results,
)
from dlcv_utils.course.exercises.lesson11 import (
    check_easy_share,
    check_focal_loss,
    solution_easy_share,
    solution_focal_loss,
)
from dlcv_utils.course.exercises.lesson12 import (
    check_compound_scaling,
    check_fast_fusion,
    solution_compound_scaling,
    solution_fast_fusion,
)
from dlcv_utils.course.exercises.lesson13 import (
    check_mask_iou,
    check_rle_counts,
    solution_mask_iou,
    solution_rle_counts,
)
from dlcv_utils.course.exercises.lesson14 import (
    check_best_small,
    check_best_under_budget,
    solution_best_small,
    solution_best_under_budget,
)

__all__ = [
    "CONFIG_REQUIREMENTS",
    "SOLUTIONS",
    "check_anchors",
    "check_ap",
    "check_best_small",
    "check_best_under_budget",
    "check_blob",
    "check_compound_scaling",
    "check_decode",
    "check_decode_raw",
    "check_default_box_scales",
    "check_detector_config",
    "check_easy_share",
    "check_encode",
    "check_fast_fusion",
    "check_focal_loss",
    "check_fpn_level",
    "check_iou",
    "check_mask_iou",
    "check_nms",
    "check_open_images_row",
    "check_recall_at_k",
    "check_responsible_cell",
    "check_rle_counts",
    "check_roi_max_pool",
    "check_rpn_labels",
    "check_ssd_match",
    "check_ultralytics_ap",
    "check_v2_decode",
    "check_window_count",
    "check_yolo_results",
    "check_yolo_to_coco",
    "show_solution",
    "solution_anchors",
    "solution_ap",
    "solution_batched_nms",
    "solution_best_small",
    "solution_best_under_budget",
    "solution_blob",
    "solution_compound_scaling",
    "solution_decode",
    "solution_decode_raw",
    "solution_default_box_scales",
    "solution_detector_config",
    "solution_easy_share",
    "solution_encode",
    "solution_fast_fusion",
    "solution_focal_loss",
    "solution_fpn_level",
    "solution_iou",
    "solution_iou_xywh",
    "solution_mask_iou",
    "solution_nms",
    "solution_open_images_row",
    "solution_recall_at_k",
    "solution_responsible_cell",
    "solution_rle_counts",
    "solution_roi_max_pool",
    "solution_rpn_labels",
    "solution_ssd_match",
    "solution_ultralytics_ap",
    "solution_v2_decode",
    "solution_window_count",
    "solution_yolo_results",
    "solution_yolo_to_coco",
]

#: Every model solution by name, all lessons together (``show_solution(name)`` prints one).
SOLUTIONS: dict[str, Callable] = {}
for _module in (
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson11,
    lesson12,
    lesson13,
    lesson14,
):
    _clash = set(SOLUTIONS) & set(_module.SOLUTIONS)
    if _clash:  # pragma: no cover - a programming error caught by the tests at import
        raise RuntimeError(f"solution names defined twice: {sorted(_clash)}")
    SOLUTIONS.update(_module.SOLUTIONS)
del _module, _clash


def show_solution(name: str) -> None:
    """Print the source of a model solution: one of ``SOLUTIONS`` (``"iou"``, ``"nms"``, ...).

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> show_solution("iou")  # doctest: +ELLIPSIS
        def solution_iou(box_a, box_b) -> float:
        ...
    """
    if name not in SOLUTIONS:
        raise ValueError(f"name must be one of {sorted(SOLUTIONS)}, got {name!r}")
    print(inspect.getsource(SOLUTIONS[name]))
