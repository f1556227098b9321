# The R18-FPN detector on a small plain CNN: what trains from scratch in CPU minutes.
_base_ = "./faster_rcnn_r18_fpn.py"
model = dict(
    backbone=dict(
        _delete_=True, type="TinyNet", widths=(32, 64, 128, 256), out_indices=(0, 1, 2, 3)
    ),
    rpn_head=dict(
        pre_nms_top_n_train=300,
        pre_nms_top_n_test=300,
        post_nms_top_n_train=200,
        post_nms_top_n_test=100,
    ),
    # RoIAlign's backward is the slowest op on a CPU: one sample per bin
    roi_head=dict(batch_size_per_image=64, sampling_ratio=1),
)
