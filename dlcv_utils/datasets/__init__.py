"""Datasets: annotation records, VOC/COCO/YOLO formats, the shapes dataset, downloads (lesson 02).

Everything public is importable from here::

    from dlcv_utils.datasets import read_voc, write_coco, read_dataset, DetectionDataset

Taught in lesson 02.
"""

from dlcv_utils.datasets._common import FormatLossWarning
from dlcv_utils.datasets._paths import UnsafePathError
from dlcv_utils.datasets.coco import read_coco, write_coco
from dlcv_utils.datasets.download import (
    REGISTRY,
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    download,
    safe_extract,
)
from dlcv_utils.datasets.layout import (
    ConversionReport,
    convert,
    find_splits,
    read_dataset,
    write_dataset,
)
from dlcv_utils.datasets.masks import (
    check_segmentation,
    mask_to_rle,
    segmentation_area,
    segmentation_bbox,
    segmentation_to_mask,
)
from dlcv_utils.datasets.openimages import read_openimages, write_openimages
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn
from dlcv_utils.datasets.validate import (
    DatasetValidationError,
    Problem,
    ValidationReport,
    validate,
)
from dlcv_utils.datasets.voc import read_voc, write_voc
from dlcv_utils.datasets.yolo import read_data_yaml, read_yolo, write_data_yaml, write_yolo

_LAZY = {  # torch is slow to import: these load on first use
    "COCODetectionDataset": "dlcv_utils.datasets.torch_dataset",
    "DetectionDataset": "dlcv_utils.datasets.torch_dataset",
    "PennFudanDataset": "dlcv_utils.datasets.pennfudan",
    "VOCDetectionDataset": "dlcv_utils.datasets.torch_dataset",
    "YOLODetectionDataset": "dlcv_utils.datasets.torch_dataset",
    "collate_fn": "dlcv_utils.datasets.torch_dataset",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REGISTRY",
    "COCODetectionDataset",
    "ChecksumError",
    "ConversionReport",
    "DatasetValidationError",
    "DetectionDataset",
    "DownloadError",
    "FormatLossWarning",
    "ImageAnn",
    "ObjectAnn",
    "PennFudanDataset",
    "Problem",
    "UnsafeArchiveError",
    "UnsafePathError",
    "VOCDetectionDataset",
    "ValidationReport",
    "YOLODetectionDataset",
    "check_segmentation",
    "collate_fn",
    "convert",
    "download",
    "find_splits",
    "mask_to_rle",
    "read_coco",
    "read_data_yaml",
    "read_dataset",
    "read_openimages",
    "read_voc",
    "read_yolo",
    "safe_extract",
    "segmentation_area",
    "segmentation_bbox",
    "segmentation_to_mask",
    "validate",
    "write_coco",
    "write_data_yaml",
    "write_dataset",
    "write_openimages",
    "write_voc",
    "write_yolo",
]
