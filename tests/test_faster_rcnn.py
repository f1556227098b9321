"""Tests for dlcv_utils.models.faster_rcnn: the small Faster R-CNN and offline COCO weight loading."""

from __future__ import annotations

import pytest
import torch

from dlcv_utils.models import faster_rcnn as frc
from dlcv_utils.models.faster_rcnn import (
    WeightsUnavailableError,
    build_faster_rcnn,
    coco_weights_file,
    load_pretrained_coco,
)


def batch(n=2, size=128):
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, size, size, generator=g) for _ in range(n)]
    targets = [
        {
            "boxes": torch.tensor([[10.0, 20, 50, 60], [70, 70, 90, 100]]),
            "labels": torch.tensor([1, 3]),
        }
        for _ in range(n)
    ]
    return images, targets


@pytest.mark.parametrize("backbone", ["tiny", "mobilenet_v3", "resnet18"])
def test_train_and_eval_forward(backbone):
    torch.manual_seed(0)
    model = build_faster_rcnn(6, backbone=backbone, image_size=128)
    images, targets = batch()
    model.train()
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    assert out[0]["boxes"].shape[1] == 4
    assert out[0]["labels"].numel() == 0 or int(out[0]["labels"].max()) <= 5


def test_anchors_and_no_resize():
    model = build_faster_rcnn(6, image_size=128, anchor_sizes=(16, 32, 64))
    assert model.rpn.anchor_generator.num_anchors_per_location() == [9]
    model.eval()
    image_list, _ = model.transform([torch.rand(3, 128, 128)])
    assert tuple(image_list.tensors.shape[-2:]) == (128, 128)
    feats = model.backbone(image_list.tensors)
    assert tuple(feats.shape[-2:]) == (128 // 8, 128 // 8)  # stride 8


def test_stride_4_backbone():
    model = build_faster_rcnn(6, image_size=64, stride=4).eval()
    image_list, _ = model.transform([torch.rand(3, 64, 64)])
    assert tuple(model.backbone(image_list.tensors).shape[-2:]) == (16, 16)
    anchors = model.rpn.anchor_generator(image_list, [model.backbone(image_list.tensors)])[0]
    assert anchors.shape == (16 * 16 * 9, 4)
    assert anchors[9].tolist() == (anchors[0] + torch.tensor([4.0, 0, 4, 0])).tolist()


def test_tiny_backbone_width():
    model = build_faster_rcnn(6, width=8)
    assert model.backbone.out_channels == 32
    assert model.roi_heads.box_predictor.cls_score.out_features == 6
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 6 * 4


def test_build_validation():
    with pytest.raises(ValueError, match="backbone must be one of"):
        build_faster_rcnn(6, backbone="vgg16")
    with pytest.raises(
        ValueError, match=r"num_classes must be an int >= 2 \(classes \+ background\), got 1"
    ):
        build_faster_rcnn(1)
    with pytest.raises(ValueError, match="image_size must be an int >= 32, got 16"):
        build_faster_rcnn(6, image_size=16)
    with pytest.raises(ValueError, match="anchor_sizes must be positive numbers"):
        build_faster_rcnn(6, anchor_sizes=(16, -2))
    with pytest.raises(ValueError, match="aspect_ratios must be positive numbers"):
        build_faster_rcnn(6, aspect_ratios=())
    with pytest.raises(ValueError, match=r"stride must be one of \(4, 8\), got 16"):
        build_faster_rcnn(6, stride=16)
    with pytest.raises(ValueError, match="backbone='resnet18' has stride 8; got stride=4"):
        build_faster_rcnn(6, backbone="resnet18", stride=4)
    with pytest.raises(ValueError, match="backbone='tiny' has no pretrained weights"):
        build_faster_rcnn(6, pretrained_backbone=True)


# ----------------------------------------------------------------------------- COCO weights
@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A private, empty torch hub cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path


def test_weights_file_location(torch_home):
    path = coco_weights_file("fasterrcnn_mobilenet_v3_large_320_fpn")
    assert (
        path
        == torch_home / "hub" / "checkpoints" / "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth"
    )
    with pytest.raises(ValueError, match="model_name must be one of"):
        coco_weights_file("yolo")


def test_load_pretrained_coco_from_cache_offline(torch_home, monkeypatch):
    import torchvision

    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    monkeypatch.setattr(frc, "_can_reach", lambda url, timeout: pytest.fail("no network here"))
    reference = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=91
    )
    state = reference.state_dict()
    state["roi_heads.box_predictor.cls_score.bias"] = torch.arange(91, dtype=torch.float32)
    path = coco_weights_file(name)
    path.parent.mkdir(parents=True)
    torch.save(state, path)

    model, names = load_pretrained_coco(name, allow_download=False)
    assert not model.training
    assert len(names) == 91 and names[0] == "__background__" and names[1] == "person"
    torch.testing.assert_close(
        model.roi_heads.box_predictor.cls_score.bias, torch.arange(91, dtype=torch.float32)
    )
    with torch.no_grad():
        out = model([torch.rand(3, 96, 96)])
    assert set(out[0]) == {"boxes", "scores", "labels"}


def test_load_pretrained_coco_unavailable(torch_home, monkeypatch):
    with pytest.raises(
        WeightsUnavailableError, match="not in the torch cache .* allow_download=False"
    ):
        load_pretrained_coco(allow_download=False)
    monkeypatch.setattr(frc, "_can_reach", lambda url, timeout: False)
    with pytest.raises(
        WeightsUnavailableError, match=r"cannot download the COCO weights .*offline\?"
    ):
        load_pretrained_coco()
    with pytest.raises(ValueError, match="model_name must be one of"):
        load_pretrained_coco("maskrcnn")


def test_load_pretrained_coco_bad_file(torch_home):
    path = coco_weights_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="could not load the COCO weights"):
        load_pretrained_coco(allow_download=False)
