# Faster R-CNN, ResNet-18 (all four stages) + FPN with the extra "pool" level: 5 levels, strides
# 4..64. Sizes suit the 128-px shapes images. An mmengine config: ``model`` is the detector.
model = dict(
    type="FasterRCNN",
    data_preprocessor=dict(min_size=128, max_size=128),
    backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), norm="BN"),
    neck=dict(type="FPN", out_channels=64, extra_pool=True),
    rpn_head=dict(
        type="RPNHead",
        anchor_sizes=((8,), (16,), (32,), (64,), (128,)),
        aspect_ratios=(0.5, 1.0, 2.0),
        pre_nms_top_n_train=600,
        pre_nms_top_n_test=300,
        post_nms_top_n_train=300,
        post_nms_top_n_test=100,
    ),
    roi_head=dict(
        type="StandardRoIHead",
        num_classes=5,
        representation_size=256,
        batch_size_per_image=128,
    ),
)
