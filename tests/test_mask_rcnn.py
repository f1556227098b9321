"""Tests for lesson 13's Mask R-CNN: the model builder, mask targets, RLEs, the box + mask
evaluation, the recipe, the COCO weights path (offline, a locally written checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcv_utils.course.recipes_mask_rcnn import build_mask_rcnn_model, mask_datasets
from dlcv_utils.course.settings import Lesson13, ShapesData, lesson_settings
from dlcv_utils.datasets.masks import rle_counts
from dlcv_utils.engine.instance_segmentation import (
    evaluate_instance_segmentation,
    instance_coco_gt,
)
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError
from dlcv_utils.models.mask_rcnn import (
    FPNBackbone,
    build_mask_rcnn,
    coco_mask_weights_file,
    load_pretrained_mask_rcnn,
    mask_targets,
    masks_to_rles,
)

CLASSES = ("__background__", "a", "b")


# ----------------------------------------------------------------------------- model
@pytest.mark.parametrize("backbone,levels,sizes", [("tiny_fpn", 3, None), ("tiny", 1, ((16, 32),))])
def test_build_train_and_eval_shapes(backbone, levels, sizes):
    torch.manual_seed(0)
    kw = {} if sizes is None else {"anchor_sizes": sizes}
    model = build_mask_rcnn(3, backbone=backbone, levels=levels, image_size=64, **kw)
    img = torch.rand(3, 64, 64)
    masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
    masks[0, 10:30, 20:40] = 1
    target = {
        "boxes": torch.tensor([[20.0, 10, 40, 30]]),
        "labels": torch.tensor([1]),
        "masks": masks,
    }
    losses = model([img], [target])
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    }
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        out = model([img])[0]
    assert out["masks"].shape[1:] == (1, 64, 64)
    assert len(out["masks"]) == len(out["boxes"]) == len(out["scores"]) <= 100


def test_narrow_mask_head():
    model = build_mask_rcnn(6, mask_layers=2, mask_channels=16, fpn_channels=32, mask_roi_size=7)
    head = model.roi_heads.mask_head
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(32, 16), (16, 16)]
    pred = model.roi_heads.mask_predictor
    assert pred.mask_fcn_logits.out_channels == 6  # one mask per class
    assert model.roi_heads.mask_roi_pool.output_size == (7, 7)
    feats = model.backbone(torch.zeros(1, 3, 128, 128))
    assert {k: v.shape[-1] for k, v in feats.items()} == {
        "0": 128 // 4,
        "1": 128 // 8,
        "2": 128 // 16,
    }


def test_build_mask_rcnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        build_mask_rcnn(1)
    with pytest.raises(TypeError, match="image_size must be an int"):
        build_mask_rcnn(3, image_size=64.0)
    with pytest.raises(ValueError, match="anchor_sizes must give one tuple of sizes per level"):
        build_mask_rcnn(3, levels=2)
    with pytest.raises(ValueError, match="anchor_sizes must be positive"):
        build_mask_rcnn(3, anchor_sizes=((0, 1), (2,), (3,)))
    with pytest.raises(ValueError, match="backbone must be one of"):
        build_mask_rcnn(3, backbone="resnet")
    with pytest.raises(ValueError, match="levels must be 1"):
        build_mask_rcnn(3, backbone="tiny")
    with pytest.raises(ValueError, match="levels must be an int in 1..4"):
        FPNBackbone(levels=5)


def test_build_mask_rcnn_level_rule_uses_canonical_scale():
    from torchvision.ops.poolers import LevelMapper

    model = build_mask_rcnn(3)
    pools = (model.roi_heads.box_roi_pool, model.roi_heads.mask_roi_pool)
    assert [p.canonical_scale for p in pools] == [112, 112]
    assert [p.canonical_level for p in pools] == [4, 4]
    # sqrt(area) just under 112 / 2 -> P2, at 112 / 2 -> P3, at 112 -> P4 (the last level)
    sides = [55.0, 56.0, 111.0, 112.0]
    boxes = torch.tensor([[0.0, 0.0, s, s] for s in sides])  # [4, 4]
    assert (LevelMapper(2, 4, canonical_scale=112)([boxes]) + 2).tolist() == [2, 3, 3, 4]
    model = build_mask_rcnn(3, canonical_scale=56)
    assert model.roi_heads.mask_roi_pool.canonical_scale == 56
    with pytest.raises(ValueError, match="canonical_scale must be an int >= 1"):
        build_mask_rcnn(3, canonical_scale=0)


# ----------------------------------------------------------------------------- mask targets
def test_mask_targets_equal_torchvision_project_masks_on_boxes():
    from torchvision.models.detection.roi_heads import project_masks_on_boxes

    g = torch.Generator().manual_seed(0)
    gt = (torch.rand(3, 40, 50, generator=g) > 0.5).to(torch.uint8)
    xy = torch.rand(20, 2, generator=g) * 40
    wh = torch.rand(20, 2, generator=g) * 30 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    idx = torch.randint(0, 3, (20,), generator=g)
    for size in (1, 7, 28):
        expected = project_masks_on_boxes(gt, boxes, idx, size)
        torch.testing.assert_close(mask_targets(gt, boxes, idx, size), expected, rtol=0, atol=0)


def test_mask_targets_by_hand():
    m = torch.zeros(1, 8, 8)
    m[0, :, :4] = 1
    # a box over the mask's left half, 4 x 4 cells of 1 x 2 px: ceil(1 / 1) x ceil(2 / 1)
    # samples per cell, at x = j + 0.5; pixel (value) centres sit at integers, so the last
    # column's x = 3.5 is halfway between pixel 3 (1) and pixel 4 (0)
    t = mask_targets(m, torch.tensor([[0.0, 0.0, 4.0, 8.0]]), torch.tensor([0]), 4)
    assert t.shape == (1, 4, 4)
    assert t[0, :, :3].eq(1).all() and torch.allclose(t[0, :, 3], torch.full((4,), 0.5))
    assert mask_targets(m, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 5).shape == (
        0,
        5,
        5,
    )


def test_mask_targets_rejects_bad_input():
    m = torch.zeros(2, 8, 8)
    box = torch.tensor([[0.0, 0, 4, 4]])
    with pytest.raises(ValueError, match="gt_masks must be"):
        mask_targets(m[0], box, torch.tensor([0]))
    with pytest.raises(ValueError, match="boxes must be"):
        mask_targets(m, box[0], torch.tensor([0]))
    with pytest.raises(ValueError, match="matched_idxs must be"):
        mask_targets(m, box, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="matched_idxs must index gt_masks"):
        mask_targets(m, box, torch.tensor([2]))
    with pytest.raises(ValueError, match="size must be an int >= 1"):
        mask_targets(m, box, torch.tensor([0]), 0)


# ----------------------------------------------------------------------------- RLEs
def test_masks_to_rles_round_trip_and_threshold():
    from pycocotools import mask as mask_utils

    g = torch.Generator().manual_seed(1)
    probs = torch.rand(4, 1, 9, 7, generator=g)
    for t in (0.0, 0.3, 0.5, 1.0):
        rles = masks_to_rles(probs, t)
        assert len(rles) == 4
        for rle, p in zip(rles, probs[:, 0]):
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            assert np.array_equal(decoded, (p >= t).numpy().astype(np.uint8))
            assert sum(rle_counts(rle["counts"])) == 9 * 7
    assert masks_to_rles(torch.zeros(0, 1, 5, 5)) == []
    with pytest.raises(ValueError, match="masks must be"):
        masks_to_rles(torch.zeros(5, 5))
    with pytest.raises(ValueError, match="threshold must be a number in"):
        masks_to_rles(probs, 1.5)


# ----------------------------------------------------------------------------- evaluation
class _Oracle(torch.nn.Module):
    """Returns the ground truth of the loader's images (looked up by image identity)."""

    def __init__(self, truth, shift=0):
        super().__init__()
        self.truth, self.shift = truth, shift
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, images, targets=None):
        outs = []
        for img in images:
            t = self.truth[int(img[0, 0, 0].item())]
            masks = torch.roll(t["masks"].float(), self.shift, dims=-1)[:, None]
            outs.append(
                {
                    "boxes": t["boxes"].float(),
                    "labels": t["labels"],
                    "scores": torch.linspace(0.9, 0.5, len(t["labels"])),
                    "masks": masks,
                }
            )
        return outs


def _toy_loader():
    truth = []
    batch_images, batch_targets = [], []
    for k in range(3):
        img = torch.zeros(3, 20, 30)
        img[0, 0, 0] = k
        masks = torch.zeros(2, 20, 30, dtype=torch.uint8)
        masks[0, 2:8, 3 + k : 13 + k] = 1
        masks[1, 10:18, 15:25] = 1
        t = {
            "boxes": torch.tensor([[3.0 + k, 2, 13 + k, 8], [15, 10, 25, 18]]),
            "labels": torch.tensor([1, 2]),
            "masks": masks,
        }
        truth.append(t)
        batch_images.append(img)
        batch_targets.append(t)
    return [(batch_images, batch_targets)], truth


def test_evaluate_instance_segmentation_perfect_and_shifted_masks():
    loader, truth = _toy_loader()
    perfect = evaluate_instance_segmentation(_Oracle(truth), loader, "cpu", class_names=CLASSES)
    assert perfect["map50"] == pytest.approx(1.0) and perfect["mask_map"] == pytest.approx(1.0)
    assert perfect["mask_per_class"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert perfect["num_images"] == 3 and perfect["num_detections"] == 6
    # masks moved 6 px right: a 10x6 mask keeps IoU 4/16 = 0.25 (< 0.5), a 10x8 one as well
    shifted = evaluate_instance_segmentation(
        _Oracle(truth, shift=6), loader, "cpu", class_names=CLASSES
    )
    assert shifted["map50"] == pytest.approx(1.0)  # boxes untouched
    assert shifted["mask_map50"] == pytest.approx(0.0)
    # agrees with pycocotools on the same inputs
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = perfect["coco_gt"]
    gt.createIndex()
    ev = COCOeval(gt, gt.loadRes(perfect["segm_results"]), "segm")
    ev.evaluate(), ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(perfect["mask_map"], abs=1e-9)


def test_instance_coco_gt_and_evaluation_errors():
    loader, truth = _toy_loader()
    gt = instance_coco_gt(truth, [(20, 30)] * 3, CLASSES)
    assert [a["area"] for a in gt["annotations"][:2]] == [6.0 * 10, 8.0 * 10]
    assert gt["categories"] == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    with pytest.raises(ValueError, match="need one size per target"):
        instance_coco_gt(truth, [(20, 30)], CLASSES)
    with pytest.raises(ValueError, match=r"has no 'masks'"):
        instance_coco_gt(
            [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}], [(4, 4)], CLASSES
        )
    with pytest.raises(ValueError, match=r"\['masks'\] must be \[N, 21, 30\]"):
        instance_coco_gt(truth[:1], [(21, 30)], CLASSES)
    with pytest.raises(ValueError, match="mask_threshold must be a number in"):
        evaluate_instance_segmentation(
            _Oracle(truth), loader, class_names=CLASSES, mask_threshold=2
        )
    with pytest.raises(ValueError, match="loader yielded no images"):
        evaluate_instance_segmentation(_Oracle(truth), [], "cpu", class_names=CLASSES)


# ----------------------------------------------------------------------------- recipe
def test_recipe_datasets_and_model():
    train, val = mask_datasets(ShapesData(n_train=3, n_val=2, image_size=64, hflip=True))
    for ds in (train, val):
        _, target = ds[0]
        assert target["masks"].shape == (len(target["boxes"]), 64, 64)
        # every box is its mask's tight box (flipped or not)
        for box, mask in zip(target["boxes"], target["masks"]):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    cfg = lesson_settings("13", "cpu")
    assert isinstance(cfg, Lesson13) and cfg.train.map50_floor > 0 and cfg.mask_map50_floor > 0
    from dlcv_utils.course.settings import SETTINGS

    gpu = SETTINGS["13"][1]
    assert gpu.data.n_train > cfg.data.n_train and gpu.train.epochs > cfg.train.epochs
    a, b = build_mask_rcnn_model(cfg), build_mask_rcnn_model(cfg)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)  # seeded
    with pytest.raises(TypeError, match="cfg must be a Lesson13 setting"):
        build_mask_rcnn_model(lesson_settings("05", "cpu"))
    with pytest.raises(TypeError, match="data must be a ShapesData setting"):
        mask_datasets(cfg)


def test_benchmark_entry():
    from dlcv_utils.course.recipes import BENCHMARKS

    lesson, fn = BENCHMARKS["mask_rcnn"]
    assert lesson == "13" and callable(fn)


# ----------------------------------------------------------------------------- COCO weights
def test_pretrained_mask_rcnn_offline_from_a_local_checkpoint(tmp_path, monkeypatch):
    import torchvision.models.detection as det

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = coco_mask_weights_file()
    assert path.parent == tmp_path / "torch" / "hub" / "checkpoints"
    with pytest.raises(WeightsUnavailableError, match="allow_download=False"):
        load_pretrained_mask_rcnn(allow_download=False)
    torch.manual_seed(0)
    reference = det.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model, names = load_pretrained_mask_rcnn(allow_download=False, box_score_thresh=0.3)
    assert not model.training and len(names) == 91 and names[1] == "person"
    assert model.roi_heads.score_thresh == 0.3
    ref = reference.state_dict()  # (the loaded model has frozen batch norm: fewer buffers)
    loaded = model.state_dict()
    assert len(loaded) > 300
    for k, v in loaded.items():
        assert torch.equal(v, ref[k]), k
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="could not load"):
        load_pretrained_mask_rcnn(allow_download=False)
    with pytest.raises(ValueError, match="model_name must be one of"):
        load_pretrained_mask_rcnn("maskrcnn_vgg")


def test_train_and_evaluate_masks_smoke():
    from dlcv_utils.course.comparison import recipe_row
    from dlcv_utils.course.recipes import shapes_loaders
    from dlcv_utils.course.recipes_mask_rcnn import train_and_evaluate_masks
    from dlcv_utils.course.settings import Training

    data = ShapesData(n_train=4, n_val=2, image_size=64, batch_size=2, val_batch_size=2)
    train, val = shapes_loaders(data, datasets=mask_datasets(data))
    torch.manual_seed(0)
    model = build_mask_rcnn(6, backbone="tiny", levels=1, anchor_sizes=((16, 32),), image_size=64)
    training = Training(epochs=1, warmup_iters=1)
    result = train_and_evaluate_masks(model, train, val, training, device="cpu", progress=False)
    assert result.history.iterations == 2 and result.on_pace is True
    m = result.metrics
    assert m["num_images"] == 2 and 0 <= m["mask_map50"] <= 1 and 0 <= m["map50"] <= 1
    assert len(m["segm_results"]) == len(m["bbox_results"]) == m["num_detections"]
    row = recipe_row("m", result, mask_map50=m["mask_map50"])
    assert {"map50", "map", "params", "on_pace", "mask_map50"} <= set(row)
    with pytest.raises(TypeError, match="training must be a Training setting"):
        train_and_evaluate_masks(model, train, val, None, device="cpu")
