# MobileNetV3-large, no neck: a single stride-16 map, as in the original (C4) Faster R-CNN.
_base_ = "./faster_rcnn_r18_fpn.py"
model = dict(
    backbone=dict(_delete_=True, type="MobileNetV3", arch="large", out_indices=(2,), norm="BN"),
    neck=None,
    rpn_head=dict(anchor_sizes=((16, 32, 64),)),
)
