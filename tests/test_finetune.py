"""Tests for PennFudanDataset and the COCO-pretrained fine-tuning recipe, fully offline.

A tiny Penn-Fudan-format folder is written into tmp_path, and a locally made checkpoint (a
randomly initialised model of the same architecture) into a private ``TORCH_HOME`` under the
exact file name torchvision expects, so torchvision's normal weight-loading path is exercised
without a network.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from dlcv_utils.course.finetune import finetune_pennfudan, pennfudan_loaders
from dlcv_utils.datasets.pennfudan import PennFudanDataset, mask_to_instances
from dlcv_utils.models import faster_rcnn as frc
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError, coco_weights_file
from dlcv_utils.models.finetune import pretrained_detector_for, replace_box_predictor

ARCH = "fasterrcnn_mobilenet_v3_large_fpn"
W, H = 64, 48
# image stem -> list of (x1, y1, x2, y2) filled rectangles in pixel-edge coordinates
RECTS = {
    "FudanPed00001": [(4, 6, 20, 40)],
    "FudanPed00002": [(2, 3, 12, 30), (30, 10, 50, 46)],
    "PennPed00003": [(40, 0, 64, 48)],  # touches the right and bottom borders
    "PennPed00004": [(10, 10, 26, 42), (34, 5, 44, 25)],
}


def write_pennfudan(base, rects=RECTS, size=(W, H)):
    """Write a Penn-Fudan-format folder: photos, palette instance masks, text annotations."""
    w, h = size
    for d in ("PNGImages", "PedMasks", "Annotation"):
        (base / d).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, boxes in rects.items():
        photo = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), np.uint8)
        lines = [f'Image filename : "PennFudanPed/PNGImages/{stem}.png"']
        for k, (x1, y1, x2, y2) in enumerate(boxes, start=1):
            photo[y1:y2, x1:x2] = (200, 150 + 20 * k, 100)
            mask[y1:y2, x1:x2] = k
            lines.append(
                f'Bounding box for object {k} "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                f"({x1}, {y1}) - ({x2 - 1}, {y2 - 1})"
            )
        Image.fromarray(photo).save(base / "PNGImages" / f"{stem}.png")
        pal = Image.fromarray(mask, mode="P")  # the real masks are palette PNGs
        pal.putpalette([0, 0, 0] + [255, 0, 0] * 255)
        pal.save(base / "PedMasks" / f"{stem}_mask.png")
        (base / "Annotation" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return base


@pytest.fixture
def pennfudan(tmp_path):
    """A parent folder holding PennFudanPed/ (as download('pennfudan', root) returns)."""
    write_pennfudan(tmp_path / "pennfudan" / "PennFudanPed")
    return tmp_path / "pennfudan"


# ----------------------------------------------------------------------------- dataset
def test_dataset_boxes_from_masks(pennfudan):
    ds = PennFudanDataset(pennfudan)
    assert ds.root == pennfudan / "PennFudanPed"
    assert ds.ids == sorted(RECTS)
    assert len(ds) == 4 and ds.classes == ["person"]
    for i, stem in enumerate(ds.ids):
        image, target = ds[i]
        assert type(image).__name__ == "Image" and image.dtype == torch.uint8
        assert tuple(image.shape) == (3, H, W)
        expected = torch.tensor(RECTS[stem], dtype=torch.float32)
        assert type(target["boxes"]).__name__ == "BoundingBoxes"
        assert target["boxes"].format.name == "XYXY"
        assert tuple(target["boxes"].canvas_size) == (H, W)
        torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor), expected)
        n = len(expected)
        assert target["labels"].dtype == torch.int64 and target["labels"].tolist() == [1] * n
        assert target["iscrowd"].tolist() == [0] * n and target["image_id"] == i
        areas = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in RECTS[stem]]
        assert target["area"].tolist() == [float(a) for a in areas]
        masks = target["masks"]
        assert type(masks).__name__ == "Mask" and tuple(masks.shape) == (n, H, W)
        assert masks.sum(dim=(1, 2)).tolist() == areas  # rectangles: pixel count = box area
    # the rectangle on the borders ends at the canvas edge (64, 48), not at 63, 47
    assert ds[ds.ids.index("PennPed00003")][1]["boxes"].tolist() == [[40.0, 0.0, 64.0, 48.0]]


def test_dataset_accepts_pennfudanped_folder_and_transforms(pennfudan):
    from torchvision.transforms import v2

    ds = PennFudanDataset(pennfudan / "PennFudanPed", transforms=v2.RandomHorizontalFlip(1.0))
    _, target = ds[0]  # FudanPed00001, box (4, 6, 20, 40) flipped in a 64-wide image
    assert target["boxes"].tolist() == [[W - 20.0, 6.0, W - 4.0, 40.0]]
    assert target["masks"][0, 6, W - 5].item() == 1 and target["masks"][0, 6, W - 4].item() == 0


def test_mask_to_instances_matches_torchvision_plus_one():
    from torchvision.ops import masks_to_boxes

    mask = np.zeros((10, 12), np.int64)
    mask[2:5, 3:9] = 2
    mask[6:10, 0:2] = 5
    mask[0, 11] = 9  # a single pixel
    ids, masks, boxes = mask_to_instances(mask)
    assert ids.tolist() == [2, 5, 9]
    # torchvision gives the last pixels' coordinates; ours are pixel edges: +1 on x2 and y2
    tv = masks_to_boxes(torch.from_numpy(masks))
    torch.testing.assert_close(torch.from_numpy(boxes), tv + torch.tensor([0.0, 0, 1, 1]))
    assert boxes.tolist() == [[3, 2, 9, 5], [0, 6, 2, 10], [11, 0, 12, 1]]


def test_empty_mask_gives_zero_boxes(tmp_path):
    base = write_pennfudan(tmp_path / "PennFudanPed", rects={"Empty01": []})
    _, target = PennFudanDataset(base)[0]
    assert tuple(target["boxes"].shape) == (0, 4)
    assert target["boxes"].dtype == torch.float32
    assert tuple(target["labels"].shape) == (0,) and target["labels"].dtype == torch.int64
    assert tuple(target["masks"].shape) == (0, H, W)
    assert tuple(target["area"].shape) == (0,) and tuple(target["iscrowd"].shape) == (0,)


def test_dataset_errors(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"root '.*nowhere' does not exist; expected"):
        PennFudanDataset(missing)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match=r"is not a folder"):
        PennFudanDataset(tmp_path / "file.txt")
    (tmp_path / "wrong" / "PNGImages").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"'.*wrong' is not in the PennFudan layout: no PedMasks"):
        PennFudanDataset(tmp_path / "wrong")
    with pytest.raises(TypeError, match="transforms must be None or a callable"):
        PennFudanDataset(tmp_path, transforms="flip")

    base = write_pennfudan(tmp_path / "a" / "PennFudanPed")
    os.remove(base / "PNGImages" / "FudanPed00002.png")
    with pytest.raises(
        ValueError, match=r"1 mask\(s\) in .*PedMasks have no image .*FudanPed00002_mask.png"
    ):
        PennFudanDataset(base)

    base = write_pennfudan(tmp_path / "b" / "PennFudanPed")
    os.remove(base / "PedMasks" / "PennPed00004_mask.png")
    with pytest.raises(ValueError, match=r"1 image\(s\) in .*PNGImages have no mask"):
        PennFudanDataset(base)

    empty = tmp_path / "c"
    for d in ("PNGImages", "PedMasks"):
        (empty / d).mkdir(parents=True)
    with pytest.raises(ValueError, match=r"no \.png images in"):
        PennFudanDataset(empty)


def test_dataset_bad_mask_files(tmp_path):
    base = write_pennfudan(tmp_path / "PennFudanPed")
    Image.new("RGB", (W, H)).save(base / "PedMasks" / "FudanPed00001_mask.png")
    Image.new("L", (W + 1, H)).save(base / "PedMasks" / "FudanPed00002_mask.png")
    ds = PennFudanDataset(base)
    with pytest.raises(ValueError, match=r"FudanPed00001_mask.png: .*single-channel.*'RGB'"):
        ds[0]
    with pytest.raises(ValueError, match=r"mask is 65 x 48 but its image FudanPed00002.png is 64"):
        ds[1]
    with pytest.raises(IndexError, match="index 4 out of range for 4 images"):
        ds[4]
    with pytest.raises(ValueError, match="mask must be a 2-D"):
        mask_to_instances(np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="negative instance ids"):
        mask_to_instances(np.full((2, 2), -1))


# ----------------------------------------------------------------------------- weights
@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """A random model of ARCH saved where torchvision looks for its COCO weights."""
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    torch.manual_seed(123)
    reference = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=91
    )
    state = reference.state_dict()
    # a recognisable value in a kept layer (RPN head) and in the predictor that gets replaced
    state["rpn.head.conv.0.0.bias"] = torch.arange(256, dtype=torch.float32) / 256
    state["roi_heads.box_predictor.cls_score.bias"] = torch.arange(91, dtype=torch.float32)
    name = torchvision.models.detection.FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1.url
    path = home / "hub" / "checkpoints" / os.path.basename(name)
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return home, state


@pytest.fixture
def torch_home(saved_checkpoint, monkeypatch):
    home, state = saved_checkpoint
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(frc, "_can_reach", lambda url, timeout: pytest.fail("no network here"))
    return home, state


def test_pretrained_detector_loads_cached_weights_and_swaps_predictor(torch_home):
    home, state = torch_home
    assert coco_weights_file(ARCH).parent == home / "hub" / "checkpoints"
    model = pretrained_detector_for(2, arch=ARCH, min_size=64, max_size=96)
    assert model.training
    loaded = model.state_dict()
    torch.testing.assert_close(loaded["rpn.head.conv.0.0.bias"], state["rpn.head.conv.0.0.bias"])
    for key in ("backbone.fpn.inner_blocks.0.0.weight", "roi_heads.box_head.fc6.weight"):
        torch.testing.assert_close(loaded[key], state[key])
    pred = model.roi_heads.box_predictor
    assert pred.cls_score.in_features == 1024 and pred.cls_score.out_features == 2
    assert pred.bbox_pred.out_features == 2 * 4
    assert model.roi_heads.score_thresh == 0.05
    assert model.transform.min_size == (64,) and model.transform.max_size == 96
    # torchvision trains only the last backbone stages of a pretrained model
    body = model.backbone.body
    assert any(p.requires_grad for p in body.parameters())
    assert not all(p.requires_grad for p in body.parameters())

    frozen = pretrained_detector_for(2, "COCO_V1", ARCH, freeze_backbone=True)
    assert not any(p.requires_grad for p in frozen.backbone.body.parameters())
    assert all(p.requires_grad for p in frozen.roi_heads.parameters())


def test_one_training_step_on_the_fixture(torch_home, pennfudan):
    train_loader, val_loader = pennfudan_loaders(pennfudan, n_val=1, batch_size=2, seed=0)
    assert len(train_loader.dataset) == 3 and len(val_loader.dataset) == 1
    torch.manual_seed(0)
    model = pretrained_detector_for(2, arch=ARCH, min_size=64, max_size=96)
    images, targets = next(iter(train_loader))
    assert images[0].dtype == torch.float32 and float(images[0].max()) <= 1.0
    before = model.roi_heads.box_predictor.cls_score.weight.detach().clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    losses = model(list(images), list(targets))
    loss = sum(losses.values())
    assert math.isfinite(float(loss.detach()))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert not torch.equal(model.roi_heads.box_predictor.cls_score.weight, before)


def test_finetune_recipe_end_to_end(torch_home, pennfudan):
    result = finetune_pennfudan(
        pennfudan,
        "cpu",
        epochs=1,
        batch_size=2,
        n_val=2,
        min_size=64,
        max_size=96,
        warmup_iters=1,
        evaluate_before=True,
        progress=False,
    )
    assert result.n_train == 2 and result.n_val == 2
    assert not result.model.training
    assert result.history.iterations == 1  # 2 photos, batch 2
    assert math.isfinite(result.history.losses["loss"][0])
    for metrics in (result.metrics, result.metrics_before):
        assert 0.0 <= metrics["map50"] <= 1.0 and 0.0 <= metrics["map"] <= metrics["map50"]
        assert metrics["num_images"] == 2 and set(metrics["per_class"]) == {"person"}
    assert result.model.roi_heads.box_predictor.cls_score.out_features == 2


def test_weights_unavailable_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(frc, "_can_reach", lambda url, timeout: False)
    with pytest.raises(WeightsUnavailableError, match=r"cannot download the COCO weights"):
        pretrained_detector_for(2, arch=ARCH)
    with pytest.raises(WeightsUnavailableError, match=r"allow_download=False"):
        pretrained_detector_for(2, arch=ARCH, allow_download=False)


def test_random_init_and_argument_errors():
    import torchvision.models.detection as det

    model = pretrained_detector_for(3, weights=None)  # no download needed
    assert model.roi_heads.box_predictor.cls_score.out_features == 3
    with pytest.raises(ValueError, match=r"num_classes must be an int >= 2, got 1"):
        pretrained_detector_for(1, weights=None)
    with pytest.raises(TypeError, match="num_classes must be an int, got float"):
        pretrained_detector_for(2.0, weights=None)
    with pytest.raises(ValueError, match="arch must be one of"):
        pretrained_detector_for(2, arch="yolov8")
    with pytest.raises(ValueError, match=r"weights must be 'DEFAULT', 'COCO_V1'.*got 'IMAGENET'"):
        pretrained_detector_for(2, weights="IMAGENET")
    with pytest.raises(ValueError, match=r"FasterRCNN_MobileNet_V3_Large_FPN_Weights member"):
        pretrained_detector_for(2, weights=det.FasterRCNN_ResNet50_FPN_Weights.COCO_V1)
    with pytest.raises(ValueError, match="min_size must be an int >= 32, got 8"):
        pretrained_detector_for(2, weights=None, min_size=8)
    with pytest.raises(ValueError, match=r"box_score_thresh must be a number in \[0, 1\]"):
        pretrained_detector_for(2, weights=None, box_score_thresh=1.5)
    with pytest.raises(TypeError, match="model must be a torchvision FasterRCNN"):
        replace_box_predictor(torch.nn.Linear(2, 2), 2)


def test_loader_errors(pennfudan):
    with pytest.raises(ValueError, match=r"n_val must be < the 4 images in .*, got 4"):
        pennfudan_loaders(pennfudan, n_val=4)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        pennfudan_loaders(pennfudan, batch_size=0)
    a = pennfudan_loaders(pennfudan, n_val=2, seed=1)[1].dataset.indices
    b = pennfudan_loaders(pennfudan, n_val=2, seed=1)[1].dataset.indices
    assert a == b and len(a) == 2  # the split is seeded


def test_bench_finetune_script(torch_home, pennfudan, capsys):
    """benchmarks/bench_finetune.py: the recipe with and without COCO weights, one row each."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_finetune.py"
    spec = importlib.util.spec_from_file_location("bench_finetune", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--root", str(pennfudan), "--device", "cpu", "--epochs", "1", "--n-val", "2"]
    argv += ["--min-size", "64", "--max-size", "96", "--from-scratch", "--quiet"]
    assert bench.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith(f"| {ARCH} |")]
    assert [row.split(" | ")[1] for row in rows] == ["COCO", "none (from scratch)"]
    assert all(" | 1 | 2/2 | " in row for row in rows)
