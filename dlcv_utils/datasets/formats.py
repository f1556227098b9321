"""Read and write one annotation file in PASCAL VOC XML, COCO JSON and YOLO txt.

The code lives in one module per format (:mod:`~dlcv_utils.datasets.voc`,
:mod:`~dlcv_utils.datasets.coco`, :mod:`~dlcv_utils.datasets.yolo`) and
:mod:`~dlcv_utils.datasets.masks`; this module keeps the names importable from their old home.

All readers return, and all writers take, the records of :mod:`dlcv_utils.datasets.records`
(``bbox`` = ``(x1, y1, x2, y2)`` absolute pixels, labels are class names).

Taught in lesson 02.
"""

from __future__ import annotations

from dlcv_utils.datasets._common import FormatLossWarning, _num, box_area_xyxy
from dlcv_utils.datasets.coco import read_coco, read_coco_dict, read_json, to_coco_dict, write_coco
from dlcv_utils.datasets.masks import (
    check_segmentation,
    mask_to_rle,
    segmentation_area,
    segmentation_bbox,
    segmentation_to_mask,
)
from dlcv_utils.datasets.voc import parse_xml, read_voc, voc_losses, write_voc
from dlcv_utils.datasets.yolo import (
    YOLO_ROUNDING_TOLERANCE,
    read_data_yaml,
    read_yolo,
    snap_unit_box,
    write_data_yaml,
    write_yolo,
    yolo_lines,
    yolo_losses,
)

__all__ = [
    "YOLO_ROUNDING_TOLERANCE",
    "FormatLossWarning",
    "_num",
    "box_area_xyxy",
    "check_segmentation",
    "mask_to_rle",
    "parse_xml",
    "read_coco",
    "read_coco_dict",
    "read_data_yaml",
    "read_json",
    "read_voc",
    "read_yolo",
    "segmentation_area",
    "segmentation_bbox",
    "segmentation_to_mask",
    "snap_unit_box",
    "to_coco_dict",
    "voc_losses",
    "write_coco",
    "write_data_yaml",
    "write_voc",
    "write_yolo",
    "yolo_lines",
    "yolo_losses",
]
