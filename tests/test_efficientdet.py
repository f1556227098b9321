"""Tests for lesson 12: the BiFPN, EfficientDet's scaling and model, its hparams and weights."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcv_utils.models.bifpn import (
    BiFPN,
    BiFPNLayer,
    FusionNode,
    fast_normalized_fusion,
    fusion_weights,
    load_state_dict_in_order,
    resize_to,
)
from dlcv_utils.models.efficientdet import (
    EFFICIENTDET_TABLE,
    MBConv,
    TinyEfficientNet,
    anchor_sizes,
    build_efficientdet,
    compound_scaling,
    count_macs,
    count_parameters,
    round_to_multiple,
)
from dlcv_utils.models.efficientdet_config import (
    EfficientDetHparams,
    build_from_hparams,
    effdet_weights_file,
    pretrained_efficientdet,
)
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError


# ----------------------------------------------------------------------------- fusion
def test_fast_fusion_by_hand():
    a, b, c = torch.full((1, 2), 1.0), torch.full((1, 2), 2.0), torch.full((1, 2), 4.0)
    w = torch.tensor([1.0, -3.0, 3.0])  # relu -> 1, 0, 3
    out = fast_normalized_fusion([a, b, c], w)
    torch.testing.assert_close(out, torch.full((1, 2), (1 * 1 + 3 * 4) / (4 + 1e-4)))
    zero = fast_normalized_fusion([a, b], torch.zeros(2))
    assert torch.equal(zero, torch.zeros(1, 2))


def test_fast_fusion_errors():
    with pytest.raises(ValueError, match="at least one tensor"):
        fast_normalized_fusion([], torch.ones(0))
    with pytest.raises(ValueError, match=r"weights must be a Tensor\[2\]"):
        fast_normalized_fusion([torch.ones(2), torch.ones(2)], torch.ones(3))
    with pytest.raises(ValueError, match="share one shape"):
        fast_normalized_fusion([torch.ones(2), torch.ones(3)], torch.ones(2))


def test_resize_to():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(resize_to(x, (4, 4)), x)
    down = resize_to(x, (2, 2))
    # 3x3 max pool, stride 2, padding 1: windows end at rows/cols 1 and 3
    assert down.flatten().tolist() == [5.0, 7.0, 13.0, 15.0]
    up = resize_to(down, (4, 4))
    assert up[0, 0, :2, :2].unique().tolist() == [5.0]
    assert resize_to(torch.zeros(1, 1, 5, 5), (3, 3)).shape[-1] == math.ceil(5 / 2)


def test_node_weights_are_a_partition():
    node = FusionNode([4, 8], 8)
    with torch.no_grad():
        node.edge_weights.copy_(torch.tensor([-1.0, 2.0]))
    w = node.normalized_weights()
    assert (w >= 0).all() and abs(w.sum().item() - 2 / (2 + 1e-4)) < 1e-7
    with pytest.raises(ValueError, match="inputs must hold 2 tensors"):
        node([torch.zeros(1, 4, 2, 2)], (2, 2))


def _naive_layer(layer: BiFPNLayer, feats):
    """The BiFPN cell written out node by node for 3 levels."""
    p3, p4, p5 = feats
    n = layer.fnode
    td4 = n[0]([p4, p5], p4.shape[-2:])
    td3 = n[1]([p3, td4], p3.shape[-2:])
    out4 = n[2]([p4, td4, td3], p4.shape[-2:])
    out5 = n[3]([p5, out4], p5.shape[-2:])
    return [td3, out4, out5]


def test_layer_equals_naive_loop_and_shapes():
    torch.manual_seed(0)
    layer = BiFPNLayer([8, 16, 24], 8).eval()
    feats = [torch.randn(2, c, s, s) for c, s in ((8, 16), (16, 8), (24, 4))]
    with torch.no_grad():
        got, want = layer(feats), _naive_layer(layer, feats)
    assert len(layer.fnode) == 2 * (3 - 1)
    for g, w, s in zip(got, want, (16, 8, 4)):
        assert g.shape == (2, 8, s, s)
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_bifpn_levels_and_errors():
    fpn = BiFPN([8, 16, 24], 12, num_layers=3, extra_levels=2)
    assert fpn.num_levels == 5 and len(fpn.cell) == 3 and len(fpn.resample) == 2
    feats = [torch.zeros(1, c, s, s) for c, s in ((8, 32), (16, 16), (24, 8))]
    outs = fpn.eval()(feats)
    assert [tuple(o.shape[1:]) for o in outs] == [(12, s, s) for s in (32, 16, 8, 4, 2)]
    weights = fusion_weights(fpn)
    assert [len(layer) for layer in weights] == [8, 8, 8]
    assert all(len(w) in (2, 3) for layer in weights for w in layer)
    with pytest.raises(ValueError, match="features must hold 3 backbone levels"):
        fpn(feats[:2])
    with pytest.raises(ValueError, match=">= 2 levels"):
        BiFPN([8], 8, num_layers=1)
    with pytest.raises(TypeError, match="in_channels must be a non-empty sequence"):
        BiFPN(8, 8, num_layers=1)
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        BiFPN([8, 8], 8, num_layers=0)
    with pytest.raises(TypeError, match="bifpn must be a BiFPN"):
        fusion_weights(nn.Linear(1, 1))


def test_load_state_dict_in_order_checks():
    a = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="has 2 tensors but the module has 4"):
        load_state_dict_in_order(a, nn.Linear(2, 3).state_dict())
    b = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="shape mismatch: 0.weight"):
        load_state_dict_in_order(a, b.state_dict())


def test_bifpn_equals_effdet_with_the_same_weights():
    from dlcv_utils.models.efficientdet_config import import_effdet

    effdet = import_effdet()
    from effdet.efficientdet import BiFpn

    cfg = effdet.get_efficientdet_config("efficientdet_d0")
    cfg.update(
        dict(
            image_size=(64, 64),
            min_level=3,
            max_level=7,
            num_levels=5,
            fpn_channels=16,
            fpn_cell_repeats=2,
            pad_type="",
            redundant_bias=False,
            apply_resample_bn=True,
        )
    )
    info = [dict(num_chs=c, reduction=r) for c, r in ((8, 8), (12, 16), (20, 32))]
    ref = BiFpn(cfg, info).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.3)
        for name, b in ref.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                b.normal_()
    mine = BiFPN([8, 12, 20], 16, num_layers=2, extra_levels=2).eval()
    assert load_state_dict_in_order(mine, ref.state_dict()) == len(ref.state_dict())
    x = [torch.randn(2, c, s, s) for c, s in ((8, 8), (12, 4), (20, 2))]
    with torch.no_grad():
        for a, b in zip(ref(list(x)), mine(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- scaling
def test_compound_scaling_rules_by_arithmetic():
    for phi in range(8):
        s = compound_scaling(phi)
        assert s.image_size == 512 + 128 * phi
        assert s.bifpn_layers == 3 + phi and s.head_layers == 3 + phi // 3
        assert s.width % 8 == 0 and abs(s.width - 64 * 1.35**phi) <= 4
    with pytest.raises(ValueError, match="phi must be in 0..7"):
        compound_scaling(8)
    with pytest.raises(TypeError, match="phi must be an int"):
        compound_scaling(1.0)


def test_table_equals_effdet_configs_and_where_rules_differ():
    from dlcv_utils.models.efficientdet_config import import_effdet

    effdet = import_effdet()
    for phi, row in EFFICIENTDET_TABLE.items():
        c = effdet.get_efficientdet_config(f"tf_efficientdet_d{phi}")
        assert (row.image_size, row.width) == (c.image_size[0], c.fpn_channels)
        assert (row.bifpn_layers, row.head_layers) == (c.fpn_cell_repeats, c.box_class_repeats)
        assert row.backbone.replace("-", "_") == c.backbone_name.removeprefix("tf_")
    differ = {phi for phi in range(8) if EFFICIENTDET_TABLE[phi][1:5] != compound_scaling(phi)[1:5]}
    assert differ == {2, 4, 5, 6, 7}  # widths 112/224, D5 1280 px and 7 layers, D6/D7


def test_round_and_anchor_sizes():
    assert round_to_multiple(116.6) == 120 and round_to_multiple(1.0) == 8
    with pytest.raises(ValueError, match="positive finite"):
        round_to_multiple(float("nan"))
    sizes = anchor_sizes(3, 5, anchor_scale=4.0, num_scales=3)
    assert len(sizes) == 3 and sizes[0][0] == 32.0 and sizes[2][0] == 128.0
    assert sizes[1][1] == pytest.approx(64 * 2 ** (1 / 3))
    with pytest.raises(ValueError, match="anchor_scale must be > 0"):
        anchor_sizes(3, 5, anchor_scale=0)


# ----------------------------------------------------------------------------- model
def test_mbconv_and_backbone():
    block = MBConv(8, 8)
    assert block.residual and not MBConv(8, 16).residual
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        MBConv(8, 8, stride=3)
    net = TinyEfficientNet((8, 12, 16, 24), (1, 2, 1, 1))
    assert net.strides == [8, 16, 32] and net.out_channels == [12, 16, 24]
    with pytest.raises(ValueError, match="of one length"):
        TinyEfficientNet((8, 12), (1,))


def test_build_train_step_and_eval():
    torch.manual_seed(0)
    model = build_efficientdet(3, image_size=64, width=16, bifpn_layers=1, head_layers=1)
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [
        {"boxes": torch.tensor([[4.0, 4.0, 30.0, 28.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
    ]
    losses = model.train()(images, targets)
    assert set(losses) == {"classification", "bbox_regression"}
    sum(losses.values()).backward()
    assert model.backbone.bifpn.cell[0].fnode[0].edge_weights.grad is not None
    out = model.eval()(images)
    assert len(out) == 2 and out[0]["boxes"].shape[1] == 4
    # 4 levels (P3-P6 at 64 px: 8, 4, 2, 1 cells) x 9 anchors
    head = model.head(list(model.backbone(torch.zeros(1, 3, 64, 64)).values()))
    assert head["cls_logits"].shape == (1, (64 + 16 + 4 + 1) * 9, 3)
    with pytest.raises(ValueError, match="backbone strides"):
        build_efficientdet(3, backbone_widths=(8, 16, 24), backbone_depths=(1, 1, 1))


def test_count_parameters_and_macs():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    assert count_parameters(conv) == 4 * 3 * 9 + 4
    assert count_macs(conv, torch.zeros(2, 3, 5, 5)) == 2 * 4 * 25 * 27
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        count_parameters("x")


# ----------------------------------------------------------------------------- hparams
def test_hparams_override_and_build():
    h = EfficientDetHparams()
    assert h.phi == 0 and h.scaling() == EFFICIENTDET_TABLE[0]
    h2 = h.override("name=efficientdet-d3, num_classes=5, image_size=96, anchor_scale=2.5")
    assert (h2.phi, h2.num_classes, h2.anchor_scale) == (3, 5, 2.5)
    assert h2.scaling()[1:5] == (96, 160, 6, 4)
    h3 = h.override({"backbone_depths": "1:1:1:1", "fpn_num_filters": 16, "num_classes": 2})
    assert h3.backbone_depths == (1, 1, 1, 1)
    model = build_from_hparams(h3.override("image_size=64,fpn_cell_repeats=1,max_level=6"))
    assert model.head.classification_head.num_classes == 3
    with pytest.raises(ValueError, match="unknown hparam 'lr'"):
        h.override("lr=0.1")
    with pytest.raises(ValueError, match="'key=value' items"):
        h.override("num_classes")
    with pytest.raises(ValueError, match="wrong type"):
        h.override("num_classes=three")
    with pytest.raises(ValueError, match="name must be"):
        EfficientDetHparams(name="efficientdet-d9")
    with pytest.raises(TypeError, match="hparams must be EfficientDetHparams"):
        build_from_hparams({"num_classes": 3})


# ----------------------------------------------------------------------------- released weights
@pytest.mark.slow
def test_pretrained_loads_a_locally_written_checkpoint(tmp_path, monkeypatch):
    from dlcv_utils.models.efficientdet_config import import_effdet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    effdet = import_effdet()
    ref = effdet.create_model("tf_efficientdet_d0", pretrained=False, pretrained_backbone=False)
    path = effdet_weights_file("tf_efficientdet_d0")
    assert path.parent == tmp_path / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), path)
    model = pretrained_efficientdet("tf_efficientdet_d0", num_classes=4, allow_download=False)
    assert not model.training
    for (k, a), (_, b) in zip(ref.fpn.state_dict().items(), model.fpn.state_dict().items()):
        assert torch.equal(a, b), k
    assert model.class_net.predict.conv_pw.out_channels == 4 * 9  # new head: 4 classes x 9


def test_pretrained_offline_and_broken(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="allow_download=False"):
        pretrained_efficientdet("tf_efficientdet_d1", allow_download=False)
    monkeypatch.setattr("dlcv_utils.models.efficientdet_config._can_reach", lambda u, t: False)
    with pytest.raises(WeightsUnavailableError, match="offline"):
        pretrained_efficientdet("tf_efficientdet_d1")
    path = effdet_weights_file("tf_efficientdet_d1")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="could not load"):
        pretrained_efficientdet("tf_efficientdet_d1")
    with pytest.raises(ValueError, match="name must be one of"):
        pretrained_efficientdet("efficientdet_d0")
    with pytest.raises(ValueError, match="num_classes must be"):
        pretrained_efficientdet(num_classes=0)


# ----------------------------------------------------------------------------- recipe
def test_recipe_builds_from_settings_and_benchmark_entry(monkeypatch):
    from dlcv_utils.course import recipes_efficientdet as rec
    from dlcv_utils.course.recipes import BENCHMARKS, CLASS_NAMES
    from dlcv_utils.course.settings import SETTINGS, lesson_settings

    cpu, gpu = SETTINGS["12"]
    model = rec.build_efficientdet_model(cpu)
    assert model.head.classification_head.num_classes == len(CLASS_NAMES)
    assert model.backbone.bifpn.out_channels == cpu.width
    assert len(model.backbone.bifpn.cell) == cpu.bifpn_layers
    assert gpu.width > cpu.width and gpu.train.epochs > cpu.train.epochs
    with pytest.raises(TypeError, match="cfg must be a Lesson12 setting"):
        rec.build_efficientdet_model(lesson_settings("08", "cpu"))
    lesson, fn = BENCHMARKS["efficientdet"]
    monkeypatch.setattr(rec, "bench", lambda d, p: {"called": (d, p)})
    assert lesson == "12" and fn("cpu", False) == {"called": ("cpu", False)}
