"""dlcv_utils: the helper package of the dlcv course on object detection and segmentation.

The package is built in layers; a module imports only from its own layer or the layers below
it (``tests/test_layers.py`` enforces it, ``CONTRIBUTING.md`` lists the layers). Each module
says which lesson teaches it. Importing the package has no side effects: nothing is seeded, no print options change, nothing is
downloaded. A lesson starts with :func:`dlcv_utils.course.settings.lesson_setup`, which calls
:func:`dlcv_utils.runtime.setup` with the lesson's seed and CPU threads.

Layers, bottom to top:
    validation: the one set of argument checks every module uses (every lesson).
    runtime: device, seeding, CPU threads, data and cache paths (every lesson).
    ops: boxes, IoU, NMS (lesson 01); box coder, RoI pooling, losses (lesson 04);
        anchors (lesson 05).
    datasets: VOC/COCO/YOLO formats, the shapes dataset, photos, downloads (lesson 02).
    metrics: matching, precision/recall, AP, VOC and COCO evaluation (lesson 01).
    proposals: sliding windows, selective search, LBP cascade, proposal recall (lesson 03),
        the proposal cache (lesson 04).
    models: backbones shared by every family (lessons 04-06); R-CNN and Fast R-CNN
        (lesson 04), Faster R-CNN (lesson 05), FPN (lesson 06).
    toolbox: mmengine registries, components and configs for config-built detectors
        (lesson 06).
    engine: ``train_one_epoch``, ``fit``, evaluation, checkpoints, the time budget (lesson 05).
    viz: plotting (lesson 01 on), video (lesson 02), notebook widgets (lessons 01-05), compact
        notebook figures (every lesson).
    course: per-lesson settings, the shared recipes, the ``dlcv-course`` runner, key-figure
        reports and exercise checkers (every lesson).

``dlcv_utils.boxes`` and ``dlcv_utils.nms`` are kept as thin aliases of :mod:`dlcv_utils.ops`.
"""

__version__ = "0.1.0"
