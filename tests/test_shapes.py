"""Tests for the synthetic shapes dataset (dlcv_utils.datasets.shapes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from dlcv_utils.datasets import shapes
from dlcv_utils.datasets.shapes import (
    SHAPE_CLASSES,
    ShapesDetection,
    collate_fn,
    dataset_stats,
    generate_sample,
    make_split,
)


@pytest.fixture(scope="module")
def val_samples():
    return make_split("val", n=40)


def naive_tight_box(mask):
    """Reference: loop over every pixel, box in pixel edges (max index + 1)."""
    x1 = y1 = 10**9
    x2 = y2 = -1
    for y in range(mask.shape[0]):
        for x in range(mask.shape[1]):
            if mask[y, x]:
                x1, y1, x2, y2 = min(x1, x), min(y1, y), max(x2, x + 1), max(y2, y + 1)
    return (float(x1), float(y1), float(x2), float(y2))


def test_deterministic_same_arguments():
    a = generate_sample(3, split="train", seed=5)
    b = generate_sample(3, split="train", seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.ann == b.ann


def test_seed_and_split_change_the_image():
    a = generate_sample(3, split="train", seed=0)
    assert not np.array_equal(a.image, generate_sample(3, split="train", seed=1).image)
    assert not np.array_equal(a.image, generate_sample(3, split="val", seed=0).image)
    assert not np.array_equal(a.image, generate_sample(4, split="train", seed=0).image)


def test_sample_independent_of_n():
    short, long = make_split("test", n=3), make_split("test", n=7)
    for a, b in zip(short, long[:3]):
        np.testing.assert_array_equal(a.image, b.image)
        assert a.ann == b.ann


def test_default_sizes():
    assert shapes.DEFAULT_SIZES == {"train": 600, "val": 150, "test": 150}
    assert len(ShapesDetection("val")) == 150


def test_image_and_record_layout(val_samples):
    for i, s in enumerate(val_samples):
        assert s.image.shape == (128, 128, 3) and s.image.dtype == np.uint8
        assert s.ann.width == s.ann.height == 128
        assert s.ann.image_id == i + 1
        assert s.ann.file_name == f"val_{i:06d}.jpg"
        assert 1 <= len(s.ann.objects) <= 6
        assert s.masks.shape == (len(s.ann.objects), 128, 128) and s.masks.dtype == np.uint8
        assert s.labels.dtype == np.int64
        assert set(np.unique(s.masks)) <= {0, 1}


def test_boxes_are_tight_around_visible_masks(val_samples):
    for s in val_samples[:10]:
        for obj, mask, lab in zip(s.ann.objects, s.masks, s.labels):
            assert obj.bbox == naive_tight_box(mask)
            assert obj.area == float(mask.sum())
            assert SHAPE_CLASSES[lab - 1] == obj.label


def test_segmentation_rle_matches_mask_and_coco_bbox(val_samples):
    for s in val_samples:
        for obj, mask in zip(s.ann.objects, s.masks):
            rle = obj.segmentation
            assert isinstance(rle["counts"], str)
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            np.testing.assert_array_equal(decoded, mask)
            x, y, w, h = mask_utils.toBbox({"size": rle["size"], "counts": rle["counts"].encode()})
            assert obj.bbox == (x, y, x + w, y + h)


def test_boxes_inside_image_and_positive(val_samples):
    for s in val_samples:
        for obj in s.ann.objects:
            x1, y1, x2, y2 = obj.bbox
            assert 0 <= x1 < x2 <= s.ann.width
            assert 0 <= y1 < y2 <= s.ann.height


def test_visible_masks_do_not_overlap_and_are_not_slivers(val_samples):
    for s in val_samples:
        assert s.masks.sum(axis=0).max() <= 1
        assert (s.masks.reshape(len(s.masks), -1).sum(1) >= shapes._MIN_VISIBLE_PX).all()


def test_later_shape_is_painted_on_top():
    # where a visible mask is set, the pixel belongs to that shape: masks partition shapes
    s = next(s for s in make_split("train", n=50) if len(s.masks) >= 4)
    union = s.masks.any(axis=0)
    assert union.sum() == s.masks.sum()


def test_class_coverage_and_difficulty():
    st = dataset_stats(make_split("train", n=200))
    assert set(st["class_counts"]) == set(SHAPE_CLASSES)
    assert min(st["class_counts"].values()) > 0.1 * st["objects"]
    assert 2.5 < st["objects_per_image"] < 5
    assert st["small"] > 0.3  # plenty of small objects (COCO small: box area < 32**2)
    assert st["min_side"] < 12


def test_colour_not_tied_to_class():
    # mean colour of each class's pixels spreads widely: colour alone cannot tell the class
    per_class = {c: [] for c in SHAPE_CLASSES}
    for s in make_split("train", n=60):
        for obj, m in zip(s.ann.objects, s.masks):
            per_class[obj.label].append(s.image[m.astype(bool)].mean(axis=0))
    for colours in per_class.values():
        assert np.std(np.array(colours), axis=0).min() > 30


def test_image_size_scales():
    s = generate_sample(0, image_size=256)
    assert s.image.shape == (256, 256, 3)
    for obj in s.ann.objects:
        assert obj.bbox[2] <= 256


def test_dataset_targets_torchvision_style():
    from torchvision import tv_tensors

    ds = ShapesDetection("val", n=5, return_masks=True)
    assert ds.classes == ("__background__", *SHAPE_CLASSES)
    img, tgt = ds[2]
    assert isinstance(img, tv_tensors.Image) and img.dtype == torch.float32
    assert img.shape == (3, 128, 128) and 0 <= img.min() and img.max() <= 1
    assert isinstance(tgt["boxes"], tv_tensors.BoundingBoxes)
    assert tgt["boxes"].format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(tgt["boxes"].canvas_size) == (128, 128)
    assert tgt["boxes"].dtype == torch.float32
    k = len(tgt["boxes"])
    assert tgt["labels"].dtype == torch.int64 and tgt["labels"].min() >= 1
    assert isinstance(tgt["masks"], tv_tensors.Mask) and tgt["masks"].shape == (k, 128, 128)
    assert tgt["masks"].dtype == torch.uint8
    assert tgt["image_id"] == 3
    assert tgt["area"].dtype == torch.float32 and tgt["iscrowd"].dtype == torch.int64
    assert tgt["iscrowd"].sum() == 0
    np.testing.assert_array_equal(img.numpy().transpose(1, 2, 0) * 255, ds.sample(2).image)
    assert "masks" not in ShapesDetection("val", n=5)[2][1]


def test_dataset_negative_index_and_bounds():
    ds = ShapesDetection("val", n=3)
    torch.testing.assert_close(ds[-1][0], ds[2][0])
    with pytest.raises(IndexError, match="index must be in"):
        ds[3]
    with pytest.raises(TypeError, match="index must be an int"):
        ds["0"]


def test_transforms_v2_flip_moves_boxes_and_masks():
    from torchvision.transforms import v2

    plain = ShapesDetection("val", n=2, return_masks=True)
    flipped = ShapesDetection(
        "val", n=2, return_masks=True, transforms=v2.RandomHorizontalFlip(p=1.0)
    )
    (img, tgt), (fimg, ftgt) = plain[0], flipped[0]
    torch.testing.assert_close(fimg, img.flip(-1))
    b = tgt["boxes"]
    expected = torch.stack([128 - b[:, 2], b[:, 1], 128 - b[:, 0], b[:, 3]], dim=1)
    torch.testing.assert_close(ftgt["boxes"].as_subclass(torch.Tensor), expected)
    torch.testing.assert_close(ftgt["masks"], tgt["masks"].flip(-1))


def test_transforms_v2_resize_and_sanitize():
    from torchvision.transforms import v2

    tf = v2.Compose([v2.Resize((64, 64)), v2.SanitizeBoundingBoxes()])
    img, tgt = ShapesDetection("val", n=2, transforms=tf)[1]
    assert img.shape == (3, 64, 64)
    assert tuple(tgt["boxes"].canvas_size) == (64, 64)
    assert len(tgt["labels"]) == len(tgt["boxes"])


def test_collate_and_faster_rcnn_forward():
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.manual_seed(0)
    ds = ShapesDetection("train", n=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_fn)
    images, targets = next(iter(loader))
    assert len(images) == len(targets) == 2
    model = fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=len(ds.classes), min_size=128, max_size=128
    )
    model.train()
    losses = model(list(images), list(targets))
    assert set(losses) >= {"loss_classifier", "loss_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"index": 0, "split": "training"}, ValueError, "split must be one of"),
        ({"index": -1}, ValueError, "index must be >= 0"),
        ({"index": 1.5}, TypeError, "index must be an int"),
        ({"index": 0, "image_size": 16}, ValueError, "image_size must be >= 32"),
        ({"index": 0, "seed": -2}, ValueError, "seed must be >= 0"),
        ({"index": True}, TypeError, "index must be an int"),
    ],
)
def test_generate_sample_bad_input(kwargs, exc, match):
    index = kwargs.pop("index")
    with pytest.raises(exc, match=match):
        generate_sample(index, **kwargs)


def test_make_split_and_dataset_bad_input():
    with pytest.raises(ValueError, match="n must be >= 0"):
        make_split("val", n=-1)
    with pytest.raises(ValueError, match="split must be one of"):
        ShapesDetection("dev")
    with pytest.raises(TypeError, match="transforms must be callable"):
        ShapesDetection("val", transforms="flip")


SMALL = {"train": 4, "val": 2, "test": 2}


def _tree_bytes(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return shapes.build_shapes(tmp_path_factory.mktemp("a"), sizes=SMALL)


def test_build_is_byte_identical(built, tmp_path):
    again = shapes.build_shapes(tmp_path / "b", sizes=SMALL)
    a, b = _tree_bytes(built), _tree_bytes(again)
    assert sorted(a) == sorted(b)
    assert a == b
    assert {"voc/JPEGImages/train_000000.jpg", "coco/annotations/instances_val.json",
            "yolo/data.yaml", "yolo/labels/test/test_000001.txt",
            "voc/ImageSets/Main/val.txt", ".complete-voc"} <= set(a)  # fmt: skip
    other_seed = _tree_bytes(shapes.build_shapes(tmp_path / "c", sizes=SMALL, seed=1))
    assert (
        other_seed["coco/annotations/instances_val.json"]
        != a["coco/annotations/instances_val.json"]
    )


def test_build_round_trips_through_the_readers(built):
    from dlcv_utils.datasets.layout import read_dataset

    samples = make_split("val", n=2)
    for fmt in ("voc", "coco", "yolo"):
        records, classes = read_dataset(built / fmt, fmt, "val")
        assert list(classes) == list(SHAPE_CLASSES)
        assert [r.file_name for r in records] == [s.ann.file_name for s in samples]
        for rec, s in zip(records, samples):
            assert [o.label for o in rec.objects] == [o.label for o in s.ann.objects]
            got = np.array([o.bbox for o in rec.objects])
            want = np.array([o.bbox for o in s.ann.objects])
            np.testing.assert_allclose(got, want, atol=0.01)  # YOLO keeps 6 decimals
    coco_records, _ = read_dataset(built / "coco", "coco", "val")
    seg = coco_records[0].objects[0].segmentation
    assert seg is not None


def test_build_is_cached_and_rebuilds_incomplete(tmp_path):
    root = shapes.build_shapes(tmp_path, formats=("coco",), sizes={"val": 2})
    ann = root / "coco" / "annotations" / "instances_val.json"
    stamp = ann.stat().st_mtime_ns
    shapes.build_shapes(tmp_path, formats=("coco",), sizes={"val": 2})
    assert ann.stat().st_mtime_ns == stamp  # complete: not rewritten
    good = ann.read_bytes()
    ann.write_text("{half")  # simulate an interrupted build: marker missing
    (root / ".complete-coco").unlink()
    shapes.build_shapes(tmp_path, formats=("coco",), sizes={"val": 2})
    assert ann.read_bytes() == good
    # different sizes -> different stamp -> rebuilt, stale images removed
    shapes.build_shapes(tmp_path, formats=("coco",), sizes={"val": 1})
    assert len(list((root / "coco" / "images" / "val").iterdir())) == 1


def test_build_default_root_uses_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCV_CACHE", str(tmp_path))
    root = shapes.build_shapes(formats=("yolo",), sizes={"test": 1})
    assert root == tmp_path / "shapes-v1-seed0"
    assert (root / "yolo" / "labels" / "test" / "test_000000.txt").is_file()


def test_build_bad_input(tmp_path):
    with pytest.raises(ValueError, match="formats must be a subset"):
        shapes.build_shapes(tmp_path, formats=("kitti",))
    with pytest.raises(ValueError, match="split must be one of"):
        shapes.build_shapes(tmp_path, sizes={"dev": 3})
    with pytest.raises(ValueError, match=r"sizes\['val'\] must be >= 0"):
        shapes.build_shapes(tmp_path, sizes={"val": -3})
    with pytest.raises(TypeError, match="sizes must be a dict"):
        shapes.build_shapes(tmp_path, sizes=[3])
    assert not any(tmp_path.iterdir())  # nothing written on bad input


@settings(max_examples=15, deadline=None)
@given(
    index=st.integers(0, 10_000),
    seed=st.integers(0, 2**31),
    split=st.sampled_from(["train", "val", "test"]),
    image_size=st.sampled_from([64, 96, 128]),
)
def test_invariants_hold_for_any_sample(index, seed, split, image_size):
    s = generate_sample(index, split=split, image_size=image_size, seed=seed)
    assert s.image.shape == (image_size, image_size, 3)
    assert 1 <= len(s.ann.objects) <= 6
    assert s.masks.sum(axis=0).max() <= 1  # visible masks are disjoint
    for obj, mask in zip(s.ann.objects, s.masks):
        ys, xs = np.nonzero(mask)
        assert obj.bbox == (xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0)
        assert obj.area == mask.sum() > 0
        assert 0 <= obj.bbox[0] < obj.bbox[2] <= image_size
        assert 0 <= obj.bbox[1] < obj.bbox[3] <= image_size
