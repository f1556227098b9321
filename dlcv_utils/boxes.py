"""Box formats, areas and IoU; kept so ``dlcv_utils.boxes`` imports keep working.

The code lives in :mod:`dlcv_utils.ops.boxes` (lesson 01).
"""

from dlcv_utils.ops.boxes import (
    BOX_FORMATS,
    box_area,
    box_convert,
    box_inter_union,
    box_iou,
    generalized_box_iou,
)

__all__ = [
    "BOX_FORMATS",
    "box_area",
    "box_convert",
    "box_inter_union",
    "box_iou",
    "generalized_box_iou",
]
