"""Tests for lesson 11: focal loss (dlcv_utils.ops.losses), RetinaNet (dlcv_utils.models.retinanet)
and its recipe (dlcv_utils.course.recipes_retinanet)."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection._utils import Matcher
from torchvision.models.detection.retinanet import RetinaNetClassificationHead
from torchvision.ops import box_iou, sigmoid_focal_loss

from dlcv_utils.models.retinanet import (
    FocalClassificationHead,
    LightRegressionHead,
    RetinaNetBackbone,
    anchor_states,
    build_retinanet,
    group_norm,
    retinanet_anchor_sizes,
)
from dlcv_utils.ops.losses import easy_loss_share, focal_loss


# ----------------------------------------------------------------------------- focal loss
@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, -1.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_focal_loss_equals_torchvision(alpha, gamma, reduction):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=g) * 4
    targets = (torch.rand(7, 5, generator=g) < 0.3).float()
    ours = focal_loss(logits, targets, alpha, gamma, reduction)
    ref = sigmoid_focal_loss(logits, targets, alpha, gamma, reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)


def test_focal_loss_by_hand():
    # logit 0: p = 0.5, p_t = 0.5 for both targets: alpha_t * 0.5**gamma * ln 2
    fl = focal_loss(torch.zeros(2), torch.tensor([1.0, 0.0]), alpha=0.25, gamma=2.0)
    torch.testing.assert_close(fl, torch.tensor([0.25, 0.75]) * 0.25 * math.log(2))
    # p = sigmoid(2) for a positive: -(1 - p)^1 * log(p), no alpha
    p = 1 / (1 + math.exp(-2))
    got = focal_loss(torch.tensor([2.0]), torch.tensor([1.0]), alpha=-1, gamma=1.0).item()
    assert got == pytest.approx(-(1 - p) * math.log(p), rel=1e-6)
    # gamma 0, no alpha: binary cross-entropy
    x, t = torch.tensor([-3.0, 1.5]), torch.tensor([0.0, 1.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="sum")
    torch.testing.assert_close(focal_loss(x, t, alpha=-1, gamma=0.0, reduction="sum"), bce)


def test_focal_loss_gradient_flows():
    x = torch.tensor([0.3, -1.0], requires_grad=True)
    focal_loss(x, torch.tensor([1.0, 0.0]), reduction="sum").backward()
    assert x.grad is not None and x.grad[0] < 0 < x.grad[1]


def test_focal_loss_errors():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="same shape"):
        focal_loss(x, torch.zeros(4))
    with pytest.raises(TypeError, match="must be tensors"):
        focal_loss([0.0], torch.zeros(1))
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        focal_loss(x, x, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha must be in"):
        focal_loss(x, x, alpha=1.5)
    with pytest.raises(TypeError, match="gamma must be a number"):
        focal_loss(x, x, gamma="2")
    with pytest.raises(ValueError, match="reduction must be"):
        focal_loss(x, x, reduction="max")


def test_easy_loss_share():
    logits = torch.tensor([-5.0, -5.0, -5.0, 0.0])  # three easy negatives, one hard (p_t 0.5)
    targets = torch.zeros(4)
    easy = 3 * math.log(1 + math.exp(-5))
    assert easy_loss_share(logits, targets, alpha=-1, gamma=0.0) == pytest.approx(
        easy / (easy + math.log(2)), rel=1e-5
    )
    # gamma 2 multiplies the easy ones by (1 - p_t)^2 = sigmoid(-5)^2, the hard one by 1/4
    s = 1 / (1 + math.exp(5))
    easy2 = easy * s**2
    got = easy_loss_share(logits, targets, alpha=-1, gamma=2.0)
    assert got == pytest.approx(easy2 / (easy2 + 0.25 * math.log(2)), rel=1e-4)
    # alpha weights negatives by 1 - alpha: a share among negatives does not change
    assert easy_loss_share(logits, targets, alpha=0.25, gamma=2.0) == pytest.approx(got, rel=1e-4)
    assert easy_loss_share(logits, targets, easy_pt=0.0) == 1.0  # every example is "easy"
    with pytest.raises(ValueError, match="easy_pt must be a number in"):
        easy_loss_share(logits, targets, easy_pt=1.0)


def test_easy_loss_share_zero_loss():
    # a target of 0.5 at logit 0 has p_t = 0.5 and gamma 0 loss ln 2 > 0; an empty tensor has 0
    assert easy_loss_share(torch.zeros(0), torch.zeros(0)) == 0.0


# ----------------------------------------------------------------------------- anchors
def test_anchor_sizes():
    assert retinanet_anchor_sizes((32,)) == (
        (32, round(32 * 2 ** (1 / 3)), round(32 * 2 ** (2 / 3))),
    )
    assert retinanet_anchor_sizes((10, 20), scales_per_octave=1) == ((10,), (20,))
    assert len(retinanet_anchor_sizes((12, 24, 48))) == 3
    with pytest.raises(ValueError, match="base_sizes must be a non-empty"):
        retinanet_anchor_sizes(())
    with pytest.raises(ValueError, match="base_sizes must be a non-empty"):
        retinanet_anchor_sizes((8, 0))
    with pytest.raises(ValueError, match="scales_per_octave must be an int >= 1"):
        retinanet_anchor_sizes((8,), 0)


def test_anchor_states_matches_torchvision():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        xy = torch.rand(300, 2, generator=g) * 100
        anchors = torch.cat([xy, xy + 4 + torch.rand(300, 2, generator=g) * 50], 1)
        gxy = torch.rand(4, 2, generator=g) * 100
        gt = torch.cat([gxy, gxy + 6 + torch.rand(4, 2, generator=g) * 40], 1)
        matched = Matcher(0.5, 0.4, allow_low_quality_matches=True)(box_iou(gt, anchors))
        states = anchor_states(anchors, gt)
        assert torch.equal(states == 1, matched >= 0)
        assert torch.equal(states == 0, matched == -1)
        assert torch.equal(states == -1, matched == -2)
        assert (states == 1).sum() >= 1  # every object keeps its best anchor


def test_anchor_states_by_hand_and_errors():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 4.5], [0, 0, 10, 2], [50, 50, 60, 60]])
    gt = torch.tensor([[0.0, 0, 10, 10]])
    # IoU 1 -> positive; 0.45 in [0.4, 0.5) -> ignored; 0.2 -> negative; 0 -> negative
    assert anchor_states(anchors, gt).tolist() == [1, -1, 0, 0]
    # a lone object with only a poor anchor still gets it (IoU 0.2 < 0.4)
    assert anchor_states(anchors[2:3], gt).tolist() == [1]
    assert anchor_states(anchors, torch.zeros(0, 4)).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="need 0 <= bg_iou <= fg_iou <= 1"):
        anchor_states(anchors, gt, fg_iou=0.3, bg_iou=0.4)
    with pytest.raises(ValueError, match=r"gt_boxes must be a Tensor\[N, 4\]"):
        anchor_states(anchors, torch.zeros(3))


# ----------------------------------------------------------------------------- model
def test_backbone_shapes():
    net = RetinaNetBackbone(width=4, out_channels=12)
    out = net(torch.zeros(2, 3, 96, 64))
    assert list(out) == ["p3", "p4", "p5"]
    assert [tuple(v.shape) for v in out.values()] == [
        (2, 12, 96 // 8, 64 // 8),
        (2, 12, 96 // 16, 64 // 16),
        (2, 12, 96 // 32, 64 // 32),
    ]
    assert net.fpn.in_channels_list == [4 * 4, 8 * 4, 8 * 4]
    assert net.strides == [8, 16, 32]
    with pytest.raises(ValueError, match="out_channels must be an int >= 1"):
        RetinaNetBackbone(out_channels=0)
    with pytest.raises(ValueError, match="first_stride must be 4 or 8"):
        RetinaNetBackbone(first_stride=2)


def test_backbone_first_stride_4_gives_p2_to_p4():
    net = RetinaNetBackbone(width=4, out_channels=12, first_stride=4)
    out = net(torch.zeros(2, 3, 96, 64))
    assert list(out) == ["p2", "p3", "p4"]
    assert net.strides == [4, 8, 16]
    assert [tuple(v.shape) for v in out.values()] == [
        (2, 12, 96 // 4, 64 // 4),
        (2, 12, 96 // 8, 64 // 8),
        (2, 12, 96 // 16, 64 // 16),
    ]
    assert net.fpn.in_channels_list == [2 * 4, 4 * 4, 8 * 4]


def _head_outputs(num_classes=4, anchors=30, images=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(images, anchors, num_classes, generator=g) * 3
    targets, matched = [], []
    for _ in range(images):
        targets.append({"labels": torch.tensor([1, 3]), "boxes": torch.zeros(2, 4)})
        matched.append(torch.randint(-2, 2, (anchors,), generator=g))
    return targets, {"cls_logits": logits}, matched


def test_head_norm_switch():
    torch.manual_seed(0)
    plain = build_retinanet(4, width=4, fpn_channels=8, head_norm=False)
    normed = build_retinanet(4, width=4, fpn_channels=8, head_norm=True)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in plain.head.modules())
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in normed.head.modules()) == 2 * 2


def test_classification_loss_equals_torchvision():
    torch.manual_seed(0)
    ours = FocalClassificationHead(8, 9, 4, num_convs=4)
    ref = RetinaNetClassificationHead(8, 9, 4)
    ref.load_state_dict(ours.state_dict())
    targets, head, matched = _head_outputs()
    torch.testing.assert_close(
        ours.compute_loss(targets, head, matched), ref.compute_loss(targets, head, matched)
    )
    feats = [torch.randn(1, 8, 4, 4)]
    torch.testing.assert_close(ours(feats), ref(feats))


def test_classification_loss_gamma_zero_by_hand():
    head = FocalClassificationHead(4, 1, 2, num_convs=0, alpha=-1, gamma=0.0)
    logits = torch.zeros(1, 3, 2)  # every output p = 0.5
    targets = [{"labels": torch.tensor([1]), "boxes": torch.zeros(1, 4)}]
    matched = [torch.tensor([0, -1, -2])]  # one positive, one negative, one ignored
    loss = head.compute_loss(targets, {"cls_logits": logits}, matched)
    # 2 anchors x 2 classes of BCE at p = 0.5, divided by 1 positive
    assert loss.item() == pytest.approx(4 * math.log(2), rel=1e-6)
    head.gamma = 2.0
    assert head.compute_loss(targets, {"cls_logits": logits}, matched).item() == pytest.approx(
        4 * 0.25 * math.log(2), rel=1e-6
    )


def test_heads_validation_and_convs():
    assert len(FocalClassificationHead(4, 9, 3, num_convs=1).conv) == 1
    assert len(LightRegressionHead(4, 9, num_convs=3).conv) == 3
    normed = LightRegressionHead(8, 9, num_convs=2, norm_layer=group_norm)
    assert [type(layer[1]).__name__ for layer in normed.conv] == ["GroupNorm", "GroupNorm"]
    assert normed.conv[0][1].num_groups == 8 // 4
    assert group_norm(256).num_groups == 32 and group_norm(2).num_groups == 1
    with pytest.raises(ValueError, match="num_convs must be at most 4"):
        LightRegressionHead(4, 9, num_convs=5)
    with pytest.raises(ValueError, match="num_convs must be an int >= 0"):
        FocalClassificationHead(4, 9, 3, num_convs=-1)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        FocalClassificationHead(4, 9, 3, gamma=-2.0)
    head = FocalClassificationHead(4, 9, 3)
    # the prior: every output starts at p = 0.01
    torch.testing.assert_close(torch.sigmoid(head.cls_logits.bias), torch.full((27,), 0.01))


def test_build_retinanet_trains_and_predicts():
    torch.manual_seed(0)
    model = build_retinanet(4, image_size=64, width=4, fpn_channels=8, head_convs=1)
    assert model.transform.min_size == (64,) and model.transform.max_size == 64
    assert model.anchor_generator.sizes == retinanet_anchor_sizes((12, 24, 48))
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [
        {"boxes": torch.tensor([[5.0, 5, 30, 30]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[10.0, 20, 40, 60]]), "labels": torch.tensor([3])},
    ]
    losses = model.train()(images, targets)
    assert set(losses) == {"classification", "bbox_regression"}
    sum(losses.values()).backward()
    assert next(model.backbone.body.parameters()).grad is not None
    out = model.eval()([images[0]])
    assert out[0]["boxes"].shape[1] == 4 and len(out[0]["scores"]) == len(out[0]["labels"])


def test_build_retinanet_errors():
    with pytest.raises(ValueError, match="base_sizes must give one size per level"):
        build_retinanet(4, base_sizes=(16, 32))
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        build_retinanet(1)
    with pytest.raises(ValueError, match="aspect_ratios must be positive"):
        build_retinanet(4, aspect_ratios=(0.0, 1.0))


# ----------------------------------------------------------------------------- recipe
def test_recipe_builds_lesson_model():
    from dlcv_utils.course.recipes import BENCHMARKS
    from dlcv_utils.course.recipes_retinanet import build_retinanet_model
    from dlcv_utils.course.settings import lesson_settings

    cfg = lesson_settings("11", "cpu")
    a, b = build_retinanet_model(cfg), build_retinanet_model(cfg, gamma=cfg.ablation_gamma)
    assert a.head.classification_head.gamma == cfg.gamma
    assert b.head.classification_head.gamma == cfg.ablation_gamma
    assert a.backbone.strides == [cfg.first_stride * 2**i for i in range(3)]
    assert a.backbone.out_channels == cfg.fpn_channels
    # the same seed: the ablation starts from the same weights
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert BENCHMARKS["retinanet"][0] == "11"
    with pytest.raises(TypeError, match="cfg must be a Lesson11 setting"):
        build_retinanet_model(lesson_settings("08", "cpu"))


def test_bench_row_has_every_comparison_key(monkeypatch):
    from types import SimpleNamespace

    from dlcv_utils.course import recipes_retinanet
    from dlcv_utils.course.comparison import ROW_KEYS
    from dlcv_utils.engine import History

    seen = {}

    def fake_train(model, train, val, training, **kw):
        seen["gamma"] = model.head.classification_head.gamma
        seen["epochs"] = training.epochs
        metrics = {"map50": 0.5, "map": 0.25, "seconds_per_image": 0.002}
        metrics["coco"] = {"APs": 0.1, "APm": 0.3, "APl": -1.0}
        return SimpleNamespace(
            model=model, history=History(), metrics=metrics, train_s=3.0, on_pace=True
        )

    monkeypatch.setattr(recipes_retinanet, "shapes_loaders", lambda data, seed: (None, None))
    monkeypatch.setattr(recipes_retinanet, "train_and_evaluate", fake_train)
    row = recipes_retinanet.bench("cpu")
    cfg = recipes_retinanet.lesson_setup("11", "cpu")[1]
    assert seen == {"gamma": cfg.gamma, "epochs": cfg.train.epochs}
    assert set(ROW_KEYS) - {"family", "lesson"} <= set(row)
    assert row["model"].startswith("RetinaNet") and row["map50"] == 0.5
    assert row["infer_ms"] == 1000 * 0.002 and row["ap_medium"] == 0.3
    assert row["params"] == sum(
        p.numel() for p in recipes_retinanet.build_retinanet_model(cfg).parameters()
    )


# ----------------------------------------------------------------------------- benchmark scripts
def _load_bench(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_variants_are_valid_settings():
    """Every variant of the two comparison scripts builds its model from real settings fields."""
    from dataclasses import replace

    from dlcv_utils.course.recipes_efficientdet import build_efficientdet_model
    from dlcv_utils.course.recipes_mask_rcnn import build_mask_rcnn_model
    from dlcv_utils.course.recipes_retinanet import build_retinanet_model
    from dlcv_utils.course.settings import lesson_settings

    pyramid = _load_bench("bench_pyramid_start")
    builders = {"11": build_retinanet_model, "12": build_efficientdet_model}
    strides = {}
    for name, (lesson, fields) in pyramid.VARIANTS.items():
        model = builders[lesson](replace(lesson_settings(lesson, "cpu"), **fields))
        feats = model.backbone(torch.zeros(1, 3, 128, 128))
        strides[name] = [128 // f.shape[-1] for f in feats.values()]
    assert strides["retinanet"] == [4, 8, 16] and strides["retinanet_p3"] == [8, 16, 32]
    assert strides["efficientdet"] == [4, 8, 16, 32]
    assert strides["efficientdet_p3"] == [8, 16, 32, 64]

    masks = _load_bench("bench_mask_backbones")
    cfg13 = lesson_settings("13", "cpu")
    for name, fields in masks.VARIANTS.items():
        model = build_mask_rcnn_model(replace(cfg13, **fields))
        assert model.roi_heads.mask_roi_pool.canonical_scale == fields.get(
            "canonical_scale", cfg13.canonical_scale
        ), name


def test_gpu_entries_of_lessons_11_to_13_build_and_train_a_step():
    """The GPU settings (unmeasured where no GPU is lent) at least build and take a step."""
    from dlcv_utils.course.recipes_efficientdet import build_efficientdet_model
    from dlcv_utils.course.recipes_mask_rcnn import build_mask_rcnn_model
    from dlcv_utils.course.recipes_retinanet import build_retinanet_model
    from dlcv_utils.course.settings import SETTINGS

    builders = {
        "11": build_retinanet_model,
        "12": build_efficientdet_model,
        "13": build_mask_rcnn_model,
    }
    for lesson, build in builders.items():
        cpu, gpu = SETTINGS[lesson]
        assert gpu.threads is None and gpu.train.epochs > cpu.train.epochs, lesson
        model = build(gpu).train()
        size = gpu.data.image_size
        masks = torch.zeros(1, size, size, dtype=torch.uint8)
        masks[0, 20:60, 30:70] = 1
        target = {"boxes": torch.tensor([[30.0, 20.0, 70.0, 60.0]]), "labels": torch.tensor([2])}
        if lesson == "13":
            target["masks"] = masks
        losses = model([torch.rand(3, size, size)], [target])
        total = sum(losses.values())
        assert torch.isfinite(total), (lesson, losses)
        total.backward()


@pytest.mark.parametrize(
    "script, argv",
    [
        ("bench_mask_backbones", ["--only", "tiny"]),
        ("bench_pyramid_start", ["--only", "retinanet_p3"]),
        ("bench_fpn_budget", ["--epochs", "1", "--only", "c4"]),
        ("bench_ultralytics_settings", ["--only", "batch4"]),
    ],
)
def test_bench_scripts_print_one_markdown_line_per_run(script, argv, monkeypatch, capsys):
    """main() prints a header, then one line per run with the run's figures (runs faked)."""
    module = _load_bench(script)
    row = {
        "variant": "v", "model": "m", "lesson": "11", "iterations": 7, "train_s": 1.0,
        "params_m": 0.5, "map50": 0.25, "map": 0.125, "aps": 0.1, "ap_small": 0.1,
        "ap_medium": 0.2, "mask_map50": 0.3, "mask_map": 0.2,
    }  # fmt: skip
    monkeypatch.setattr(module, "run", lambda *a, **k: row)
    assert module.main(argv) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    assert len(lines) == 3 and lines[1].startswith("|---|")
    assert lines[0].count("|") == lines[2].count("|")
    assert "| 0.250 |" in lines[2] and "| 7 |" in lines[2]
