"""Tests of the shared recipe: shapes loaders -> train -> evaluate, and the benchmark rows."""

import dataclasses

import pytest
import torch

from dlcv_utils.course import recipes, settings
from dlcv_utils.course.settings import Lesson04, Lesson05, Lesson06, ShapesData, Training

TINY_DATA = ShapesData(n_train=4, n_val=2, image_size=64, batch_size=2, val_batch_size=2)
TINY_TRAINING = Training(epochs=1, lr=1e-3, warmup_iters=1)


def test_random_hflip_flips_image_and_boxes_half_the_time():
    image = torch.zeros(3, 4, 10)
    image[:, :, 1] = 1.0  # a bright column at x = 1
    target = {"boxes": torch.tensor([[1.0, 0, 2, 4]]), "labels": torch.tensor([1])}
    torch.manual_seed(0)
    flips = 0
    for _ in range(40):
        out_img, out_t = recipes.random_hflip(image, target)
        if out_img[0, 0, 10 - 1 - 1] == 1.0:  # flipped: column 1 -> column W - 1 - 1
            flips += 1
            assert out_t["boxes"].tolist() == [[10 - 2, 0, 10 - 1, 4]]
        else:
            assert out_t["boxes"].tolist() == [[1, 0, 2, 4]]
    assert 0 < flips < 40
    assert target["boxes"].tolist() == [[1, 0, 2, 4]]  # input not modified


def test_shapes_loaders_sizes_and_seeded_shuffle():
    train, val = recipes.shapes_loaders(TINY_DATA, seed=3)
    assert len(train.dataset) == 4 and len(val.dataset) == 2
    images, targets = next(iter(train))
    assert len(images) == 2 and images[0].shape == (3, 64, 64) and "boxes" in targets[0]

    def first_epoch(seed):
        loader, _ = recipes.shapes_loaders(
            TINY_DATA, seed=seed, datasets=(train.dataset, val.dataset)
        )
        return [float(t["boxes"].sum()) for _, ts in loader for t in ts]

    assert first_epoch(3) == first_epoch(3)
    assert sorted(first_epoch(3)) == sorted(first_epoch(4))  # same images, any order


def test_shapes_loaders_reject_a_plain_dict():
    with pytest.raises(TypeError, match="data must be a ShapesData setting"):
        recipes.shapes_datasets({"n_train": 4})


def test_train_and_evaluate_rejects_untyped_training():
    with pytest.raises(TypeError, match="training must be a Training setting"):
        recipes.train_and_evaluate(torch.nn.Linear(1, 1), [], [], {"epochs": 1}, device="cpu")


def test_build_rcnn_model_guard():
    cfg = settings.lesson_settings("04", "cpu")
    with pytest.raises(ValueError, match="kind must be one of"):
        recipes.build_rcnn_model("yolo", cfg, recipes.proposal_cache(cfg))


def test_run_benchmark_guard():
    with pytest.raises(ValueError, match="name must be one of"):
        recipes.run_benchmark("no_such_detector")


TINY_04 = Lesson04(
    data=TINY_DATA,
    rcnn=TINY_TRAINING,
    fast_rcnn=TINY_TRAINING,
    rois_per_image=16,
    crop_size=12,
    context_padding=1,
    roi_output_size=3,
    channels=(4, 4, 4),
)
TINY_05 = Lesson05(data=TINY_DATA, train=TINY_TRAINING, width=4)
TINY_06 = Lesson06(data=TINY_DATA, train=dataclasses.replace(TINY_TRAINING, grad_clip=10.0))


@pytest.mark.parametrize(
    "name, lesson, tiny, model",
    [
        ("rcnn", "04", TINY_04, "R-CNN"),
        ("fast_rcnn", "04", TINY_04, "Fast R-CNN"),
        ("faster_rcnn", "05", TINY_05, "Faster R-CNN (tiny backbone, 64px)"),
        ("config", "06", TINY_06, "Faster R-CNN from config (faster_rcnn_tiny_fpn)"),
        ("config_no_fpn", "06", TINY_06, "Faster R-CNN from config (faster_rcnn_tiny_c4)"),
    ],
)
def test_benchmarks_run_the_lesson_recipe_with_the_lesson_settings(
    monkeypatch, name, lesson, tiny, model
):
    monkeypatch.setitem(settings.SETTINGS, lesson, (tiny, tiny))
    row = recipes.run_benchmark(name, device="cpu")
    assert row["model"] == model
    assert 0.0 <= row["map"] <= row["map50"] <= 1.0
    assert row["train_s"] > 0 and row["infer_ms"] > 0
    assert row["iterations"] == TINY_DATA.n_train // TINY_DATA.batch_size  # one epoch
    assert ("proposal_ms" in row) == (lesson == "04")
    if lesson == "06":  # COCO's AP by object size, -1 for a size with no object
        sizes = [row["ap_small"], row["ap_medium"], row["ap_large"]]
        assert all(v == -1.0 or 0.0 <= v <= 1.0 for v in sizes)
        assert row["ap_small"] >= 0.0  # TINY_DATA's small images hold small objects
        assert row["ap_large"] == -1.0  # no object fills 96 x 96 px of a 64-px image


def test_build_config_model_builds_either_config_of_lesson_06():
    cfg = settings.lesson_settings("06", "cpu")
    fpn, c4 = recipes.build_config_model(cfg), recipes.build_config_model(cfg, cfg.baseline_config)
    assert fpn.backbone.neck is not None and fpn.backbone.num_levels == 3
    assert c4.backbone.neck is None and c4.backbone.num_levels == 1
    # seeded with cfg.seed: the same settings build the same weights
    again = recipes.build_config_model(cfg)
    assert all(torch.equal(a, b) for a, b in zip(fpn.parameters(), again.parameters()))
    with pytest.raises(ValueError, match="unknown config 'no_such_config'"):
        recipes.build_config_model(cfg, "no_such_config")


def test_build_config_model_overrides_dotted_keys():
    cfg = settings.lesson_settings("06", "cpu")
    wide = recipes.build_config_model(cfg, overrides={"backbone.widths": [32, 64, 128, 256]})
    plain = recipes.build_config_model(cfg)
    # TinyNet returns stages 0-2: their widths, then the FPN's 64 channels on every level
    assert wide.backbone.body.out_channels_list == [32, 64, 128]
    assert plain.backbone.body.out_channels_list == [16, 32, 64]
    assert wide.backbone.out_channels == plain.backbone.out_channels == 64
