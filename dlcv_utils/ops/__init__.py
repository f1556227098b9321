"""Tensor operations every detector shares: the layer above :mod:`dlcv_utils.runtime`.

Modules:
    boxes: box formats, areas, IoU, GIoU (lesson 01).
    nms: greedy, class-aware and soft non-maximum suppression (lesson 01).
    box_coder: the R-CNN box parametrisation, ``encode`` / ``decode`` (lesson 04).
    roi: RoI pooling and spatial pyramid pooling (lesson 04).
    anchors: anchor generation and RPN target assignment (lesson 05).
    losses: detection losses (lesson 04 onwards).

Nothing is re-exported here: import from the module, e.g.
``from dlcv_utils.ops.boxes import box_iou``.
"""
