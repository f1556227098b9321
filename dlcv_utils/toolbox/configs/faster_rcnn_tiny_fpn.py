# The R18-FPN detector on a small plain CNN, sized for the 128-px shapes images (objects 10-62 px)
# and CPU training from scratch. Every size is checked against the data (lesson 06, section 9):
# images stay at 128 px (no resize to 800), three levels P2-P4 (strides 4, 8, 16; P5 and P6
# would hold no object), anchor sizes around 4x the stride of their level, and the FPN level
# rule scaled to them (canonical_scale=56: a 56-px RoI pools from P4, a 28-px RoI from P3).
_base_ = "./faster_rcnn_r18_fpn.py"
model = dict(
    backbone=dict(_delete_=True, type="TinyNet", widths=(16, 32, 64, 128), out_indices=(0, 1, 2)),
    neck=dict(extra_pool=False),
    rpn_head=dict(
        anchor_sizes=((12, 16, 24), (24, 32, 48), (48, 64, 96)),
        pre_nms_top_n_train=300,
        pre_nms_top_n_test=300,
        post_nms_top_n_train=200,
        post_nms_top_n_test=100,
    ),
    # RoIAlign's backward is the slowest op on a CPU: one sample per bin
    roi_head=dict(batch_size_per_image=64, sampling_ratio=1, canonical_scale=56, score_thresh=0.01),
)
