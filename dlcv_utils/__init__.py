"""dlcv_utils: the helper package of the dlcv course on object detection and segmentation.

Each module says which lesson teaches what it contains. Importing the package has no side
effects: nothing is seeded, no print options change, nothing is downloaded. Call
:func:`dlcv_utils.settings.setup` at the top of a lesson to seed and pick the device.

Modules:
    boxes: box formats, areas, IoU, GIoU (lesson 01).
    nms: greedy, class-aware and soft non-maximum suppression (lesson 01).
    metrics: matching, precision/recall, AP, VOC and COCO evaluation (lesson 01).
    datasets: VOC/COCO/YOLO formats, the shapes dataset, downloads (lesson 02).
    settings: per-lesson, per-device settings and ``setup`` (every lesson).
    report: key figures a lesson reports to the course runner.
    course: the ``dlcv-course`` command that runs the lessons headless.
"""

__version__ = "0.1.0"
