# The tiny FPN detector without its neck: RPN and RoI head on the backbone's stride-16 map alone
# (the "C4" layout of the original Faster R-CNN), with the same anchor sizes, all on that map.
# Lesson 06 trains it with the same budget as faster_rcnn_tiny_fpn.
_base_ = "./faster_rcnn_tiny_fpn.py"
model = dict(
    backbone=dict(out_indices=(2,)),
    neck=None,
    rpn_head=dict(anchor_sizes=((12, 16, 24, 32, 48, 64, 96),)),
)
