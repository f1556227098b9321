"""Datasets: annotation records, VOC/COCO/YOLO formats, the shapes dataset, downloads (lesson 02)."""

from dlcv_utils.datasets.records import ImageAnn, ObjectAnn

__all__ = ["ImageAnn", "ObjectAnn"]
