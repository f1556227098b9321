"""DetectionDataset over the three layouts: targets, transforms v2, a detection model, CLI."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from dlcv_utils.datasets import (
    COCODetectionDataset,
    DetectionDataset,
    FormatLossWarning,
    ImageAnn,
    ObjectAnn,
    VOCDetectionDataset,
    YOLODetectionDataset,
    collate_fn,
    write_dataset,
)
from dlcv_utils.datasets.cli import main

CLASSES = ["circle", "square"]
H, W = 48, 64


def _records():
    poly = [[10, 8, 30, 8, 30, 24, 10, 24]]
    return [
        ImageAnn(
            "a.png",
            W,
            H,
            [
                ObjectAnn("square", (10.0, 8.0, 30.0, 24.0), segmentation=poly),
                ObjectAnn("circle", (40.0, 30.0, 60.0, 46.0), iscrowd=True),
            ],
            image_id=11,
        ),
        ImageAnn("b.png", W, H, [], image_id=12),  # a background image
    ]


def _images():
    img = np.zeros((H, W, 3), np.uint8)
    img[8:24, 10:30] = (255, 0, 0)
    return [img, np.full((H, W, 3), 7, np.uint8)]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatLossWarning)
        for fmt in ("voc", "coco", "yolo"):
            root = tmp_path_factory.mktemp(fmt)
            write_dataset(_records(), root, fmt, classes=CLASSES, split="train", images=_images())
            out[fmt] = root
    return out


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_items_and_targets(roots, fmt):
    ds = DetectionDataset(roots[fmt], fmt, "train")
    assert len(ds) == 2 and ds.classes == CLASSES
    assert ds.class_to_idx == {"circle": 1, "square": 2}
    img, t = ds[0]
    assert isinstance(img, tv_tensors.Image) and img.dtype == torch.uint8
    assert tuple(img.shape) == (3, H, W)
    assert img[:, 8, 10].tolist() == [255, 0, 0]  # RGB order kept
    assert isinstance(t["boxes"], tv_tensors.BoundingBoxes)
    assert t["boxes"].format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(t["boxes"].canvas_size) == (H, W)
    torch.testing.assert_close(
        t["boxes"].as_subclass(torch.Tensor),
        torch.tensor([[10.0, 8.0, 30.0, 24.0], [40.0, 30.0, 60.0, 46.0]]),
        atol=1e-4,
        rtol=0,
    )
    assert t["labels"].tolist() == [2, 1] and t["labels"].dtype == torch.int64
    torch.testing.assert_close(
        t["area"], torch.tensor([20.0 * 16.0, 20.0 * 16.0]), atol=1e-2, rtol=0
    )
    assert t["iscrowd"].tolist() == ([0, 1] if fmt == "coco" else [0, 0])
    assert t["image_id"] == (11 if fmt == "coco" else 0)
    _, t1 = ds[1]
    assert t1["boxes"].shape == (0, 4) and t1["labels"].shape == (0,)
    assert ds[-1][1]["image_id"] == t1["image_id"]
    with pytest.raises(IndexError, match="index 2 out of range for 2 images"):
        ds[2]


def test_subclasses_and_repr(roots):
    assert len(VOCDetectionDataset(roots["voc"])) == 2
    assert len(COCODetectionDataset(roots["coco"], "train")) == 2
    ds = YOLODetectionDataset(roots["yolo"], split="train")
    assert repr(ds).startswith("YOLODetectionDataset(") and "images=2, classes=2" in repr(ds)


def test_masks(roots):
    ds = COCODetectionDataset(roots["coco"], return_masks=True)
    _, t = ds[0]
    m = t["masks"]
    assert isinstance(m, tv_tensors.Mask) and tuple(m.shape) == (2, H, W)
    assert int(m[0].sum()) == 20 * 16  # polygon mask
    assert int(m[1].sum()) == 20 * 16  # no segmentation: the filled box
    assert ds[1][1]["masks"].shape == (0, H, W)


def test_transforms_v2_move_boxes_and_masks(roots):
    tf = v2.Compose([v2.RandomHorizontalFlip(p=1.0), v2.Resize((H // 2, W // 2))])
    ds = COCODetectionDataset(roots["coco"], transforms=tf, return_masks=True)
    img, t = ds[0]
    assert tuple(img.shape) == (3, H // 2, W // 2)
    # flip: x -> W - x, then halve everything
    expected = (
        torch.tensor([[W - 30, 8, W - 10, 24], [W - 60, 30, W - 40, 46]], dtype=torch.float32) / 2
    )
    torch.testing.assert_close(t["boxes"].as_subclass(torch.Tensor), expected)
    assert tuple(t["boxes"].canvas_size) == (H // 2, W // 2)
    assert tuple(t["masks"].shape) == (2, H // 2, W // 2)
    _, xs = torch.nonzero(t["masks"][0], as_tuple=True)
    assert (xs.min().item(), xs.max().item() + 1) == ((W - 30) // 2, (W - 10) // 2)


def test_collate_fn_has_one_definition():
    from dlcv_utils.datasets import shapes, torch_dataset

    assert collate_fn is torch_dataset.collate_fn is shapes.collate_fn
    sample = (torch.zeros(3, 4, 5), {"boxes": torch.zeros(0, 4)})
    images, targets = collate_fn([sample, sample, sample])
    assert len(images) == len(targets) == 3 and targets[2] is sample[1]


def test_collate_and_detection_model_forward(roots):
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = DetectionDataset(roots["voc"], "voc", transforms=v2.ToDtype(torch.float32, scale=True))
        loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_fn)
        images, targets = next(iter(loader))
        assert isinstance(images, tuple) and len(images) == 2 and len(targets) == 2
        assert images[0].dtype == torch.float32 and float(images[0].max()) <= 1.0
        model = fasterrcnn_mobilenet_v3_large_fpn(
            weights=None,
            weights_backbone=None,
            num_classes=len(ds.classes) + 1,
            min_size=64,
            max_size=96,
        )
        model.train()
        losses = model(list(images), list(targets))
        assert set(losses) == {
            "loss_classifier",
            "loss_box_reg",
            "loss_objectness",
            "loss_rpn_box_reg",
        }
        assert all(math.isfinite(v.item()) for v in losses.values())
    finally:
        torch.set_num_threads(threads)


def test_image_size_mismatch_and_unknown_label(roots, tmp_path):
    rec = [ImageAnn("a.png", W, H, [ObjectAnn("square", (1, 1, 5, 5))])]
    write_dataset(rec, tmp_path, "coco", classes=CLASSES, images=[np.zeros((H, W, 3), np.uint8)])
    rec[0].width = W + 1
    # the annotation now disagrees with the file
    write_dataset(rec, tmp_path, "coco", classes=CLASSES, overwrite=True)
    ds = COCODetectionDataset(tmp_path)
    with pytest.raises(
        ValueError, match=f"image is {W} x {H} but its annotation says {W + 1} x {H}"
    ):
        ds[0]
    voc = roots["voc"]
    (voc / "classes.txt").write_text("circle\n")  # 'square' is no longer a known class
    try:
        with pytest.raises(ValueError, match="label 'square' is not in classes"):
            VOCDetectionDataset(voc)
    finally:
        (voc / "classes.txt").write_text("circle\nsquare\n")


# ------------------------------------------------------------------------------------- CLI


def test_cli_convert_validate(roots, tmp_path, capsys):
    dst = tmp_path / "out"
    assert main(["convert", "--from", "coco", "--to", "yolo", str(roots["coco"]), str(dst)]) == 0
    out = capsys.readouterr().out
    assert "converted 2 images, 2 objects (splits: train)" in out
    assert "dropped: a.png object 0: YOLO cannot hold a mask (dropped)" in out
    assert (dst / "data.yaml").is_file() and (dst / "labels/train/a.txt").is_file()
    assert main(["validate", "--format", "yolo", str(dst), "--strict"]) == 0
    (dst / "labels/train/a.txt").write_text("0 0.5 0.5 0.2\n1 0.5 0.5 0.2 0.2 0.1\n")
    assert main(["validate", "--format", "yolo", str(dst), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out and "line 1: expected 5 fields" in out and "got 6" in out
    assert main(["validate", "--format", "yolo", str(dst), "--repair"]) == 0
    assert "2 repaired" in capsys.readouterr().out
    assert (dst / "labels/train/a.txt").read_text() == ""
    assert main(["validate", "--format", "yolo", str(dst), "--strict"]) == 0


def test_cli_errors_and_usage(tmp_path, capsys):
    assert (
        main(["convert", "--from", "voc", "--to", "coco", str(tmp_path / "x"), str(tmp_path / "y")])
        == 1
    )
    assert "error: src: no such folder" in capsys.readouterr().out
    assert main(["download", "nope", str(tmp_path)]) == 1
    assert "name must be one of" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["convert", "--from", "csv", "--to", "coco", "a", "b"])


def test_cli_download_from_mirror(tmp_path, capsys, monkeypatch):
    """`dlcv-data download` goes through download(); a dead mirror gives a clear error."""
    assert main(["download", "pennfudan", str(tmp_path), "--mirror", "http://127.0.0.1:9"]) == 1
    assert "error: cannot download http://127.0.0.1:9/PennFudanPed.zip" in capsys.readouterr().out


def test_cli_shapes_calls_build_shapes(tmp_path, monkeypatch, capsys):
    import dlcv_utils.datasets.shapes as shapes

    calls = []
    monkeypatch.setattr(shapes, "build_shapes", lambda root: calls.append(root) or root)
    assert main(["shapes", "--out", str(tmp_path)]) == 0
    assert calls == [str(tmp_path)]
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_official_coco_layout_with_image_dir(roots, tmp_path):
    """The COCO download keeps images in root/val2017, not root/images/val2017."""
    import shutil

    (tmp_path / "annotations").mkdir()
    shutil.copy(
        roots["coco"] / "annotations/instances_train.json",
        tmp_path / "annotations/instances_val2017.json",
    )
    shutil.copytree(roots["coco"] / "images/train", tmp_path / "val2017")
    ds = COCODetectionDataset(tmp_path, "val2017", image_dir=tmp_path / "val2017")
    assert ds.image_path(0) == tmp_path / "val2017/a.png"
    assert ds[0][1]["labels"].tolist() == [2, 1]


def test_voc_per_class_lists_are_not_splits(roots):
    from dlcv_utils.datasets import find_splits

    lists = roots["voc"] / "ImageSets/Main"
    (lists / "square_train.txt").write_text("a  1\nb -1\n")
    try:
        assert find_splits(roots["voc"], "voc") == ["train"]
    finally:
        (lists / "square_train.txt").unlink()
