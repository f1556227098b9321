"""dlcv_utils.toolbox: registry behaviour and errors, config files and _base_ merging, detector builds."""

import json

import pytest
import torch
from mmengine.registry import Registry
from torchvision.models.detection import FasterRCNN

from dlcv_utils.toolbox import (
    BACKBONES,
    CONFIGS,
    DETECTORS,
    NECKS,
    ROI_HEADS,
    RPN_HEADS,
    build_component,
    build_detector,
    config_to_str,
    count_parameters,
    get_config,
    load_config,
    merge_config,
)


# ----------------------------------------------------------------------------- registry
@pytest.fixture
def reg():
    r = Registry("THINGS", build_func=build_component, scope="test_toolbox")

    @r.register_module()
    def Affine(scale, shift=0.0):
        return ("affine", scale, shift)

    @r.register_module(name="Named")
    class Holder:
        def __init__(self, child, *, flag=False):
            self.child, self.flag = child, flag

    @r.register_module()
    def Anything(**kwargs):
        return kwargs

    return r


def test_register_names_and_lookup(reg):
    assert sorted(reg.module_dict) == ["Affine", "Anything", "Named"]
    assert "Affine" in reg and "Holder" not in reg and len(reg) == 3
    assert reg.get("Named").__name__ == "Holder"


def test_build_calls_builder_with_other_keys(reg):
    assert reg.build({"type": "Affine", "scale": 2}) == ("affine", 2, 0.0)
    assert reg.build({"type": "Affine", "scale": 2, "shift": 1}) == ("affine", 2, 1)
    assert reg.build({"type": "Anything", "a": 1}) == {"a": 1}


def test_build_does_not_mutate_or_alias_the_config(reg):
    cfg = {"type": "Named", "child": {"type": "Affine", "scale": [1, 2]}}
    obj = reg.build(cfg)
    obj.child["scale"].append(3)
    assert cfg == {"type": "Named", "child": {"type": "Affine", "scale": [1, 2]}}


def test_nested_config_built_by_parent(reg):
    @reg.register_module()
    def Pair(left, right):
        return (reg.build(left), reg.build(right))

    cfg = dict(type="Pair", left=dict(type="Affine", scale=1), right=dict(type="Affine", scale=3))
    assert reg.build(cfg) == (("affine", 1, 0.0), ("affine", 3, 0.0))


def test_default_args_fill_only_missing_accepted_keys(reg):
    assert reg.build({"type": "Affine", "scale": 2}, default_args={"shift": 5}) == ("affine", 2, 5)
    assert reg.build({"type": "Affine", "scale": 2, "shift": 1}, default_args={"shift": 5}) == (
        "affine",
        2,
        1,
    )
    # a default the builder does not take is ignored, not an error
    assert reg.build({"type": "Affine"}, default_args={"scale": 4, "unused": 1}) == (
        "affine",
        4,
        0.0,
    )
    # a builder with **kwargs receives every default
    assert reg.build({"type": "Anything"}, default_args={"extra": 1}) == {"extra": 1}


def test_unknown_type_lists_available_and_suggests(reg):
    with pytest.raises(
        ValueError,
        match=r"unknown THINGS type 'Afine' \(did you mean 'Affine'\?\); available: \['Affine', 'Anything', 'Named'\]",
    ):
        reg.build({"type": "Afine", "scale": 1})
    with pytest.raises(ValueError, match="unknown THINGS type 'Zzz'; available"):
        reg.build({"type": "Zzz"})


def test_missing_type_key(reg):
    with pytest.raises(ValueError, match=r"cfg for THINGS has no 'type' key; got keys \['scale'\]"):
        reg.build({"scale": 1})


@pytest.mark.parametrize("cfg", [None, ["type", "Affine"], "Affine"])
def test_cfg_must_be_a_mapping(reg, cfg):
    with pytest.raises(TypeError, match="cfg for THINGS must be a dict"):
        reg.build(cfg)


def test_type_must_be_a_string(reg):
    with pytest.raises(TypeError, match="THINGS type must be a string, got int 3"):
        reg.build({"type": 3})


def test_missing_required_key(reg):
    with pytest.raises(
        ValueError, match=r"THINGS type 'Affine' is missing required key\(s\) \['scale'\]"
    ):
        reg.build({"type": "Affine"})


def test_unexpected_key_is_named_with_suggestion(reg):
    with pytest.raises(
        ValueError,
        match=r"got unexpected key\(s\) \['shfit'\] \(did you mean 'shift'\?\); accepted keys: \['scale', 'shift'\]",
    ):
        reg.build({"type": "Affine", "scale": 1, "shfit": 2})


def test_duplicate_registration_needs_force(reg):
    with pytest.raises(KeyError, match="Affine is already registered"):
        reg.register_module(name="Affine", module=lambda: None)
    reg.register_module(name="Affine", force=True, module=lambda scale: "new")
    assert reg.build({"type": "Affine", "scale": 0}) == "new"


# ----------------------------------------------------------------------------- configs
def test_merge_config_recurses_replaces_and_deletes():
    base = dict(a=1, m=dict(x=1, y=dict(p=1, q=2)), lst=[1, 2])
    over = dict(m=dict(y=dict(q=3)), lst=[9], new=dict(k=1))
    assert merge_config(base, over) == dict(
        a=1, m=dict(x=1, y=dict(p=1, q=3)), lst=[9], new=dict(k=1)
    )
    assert merge_config(base, dict(m=dict(_delete_=True, z=0))) == dict(
        a=1, m=dict(z=0), lst=[1, 2]
    )
    assert base == dict(a=1, m=dict(x=1, y=dict(p=1, q=2)), lst=[1, 2])  # untouched


def test_merge_config_agrees_with_mmengine(tmp_path):
    base = dict(model=dict(type="A", depth=18, neck=dict(type="FPN", c=64)), lr=0.1)
    over = dict(model=dict(depth=34, neck=dict(_delete_=True, type="X")), lr=0.2)
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "child.json").write_text(json.dumps({"_base_": "base.json", **over}))
    assert load_config(tmp_path / "child.json") == merge_config(base, over)


def test_merge_config_needs_dicts():
    with pytest.raises(TypeError, match="override must be a dict, got list"):
        merge_config({}, [])
    with pytest.raises(TypeError, match="base must be a dict, got NoneType"):
        merge_config(None, {})


def test_load_config_py_yaml_json_and_base_chain(tmp_path):
    (tmp_path / "base.json").write_text(json.dumps({"model": {"type": "A", "depth": 18, "w": 1}}))
    (tmp_path / "mid.yaml").write_text(
        "_base_: base.json\nmodel: {depth: 34}\ntrain: {epochs: 2}\n"
    )
    (tmp_path / "top.py").write_text(
        "import math\n_base_ = ['mid.yaml']\n_helper = 3\nmodel = dict(w=_helper)\nlr = math.pi\n"
    )
    cfg = load_config(tmp_path / "top.py")
    assert cfg == {
        "model": {"type": "A", "depth": 34, "w": 3},
        "train": {"epochs": 2},
        "lr": pytest.approx(3.14159265),
    }


def test_load_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(
        ValueError, match=r"path must end in .py, .yaml, .yml or .json, got 'c.txt'"
    ):
        load_config(tmp_path / "c.txt")
    (tmp_path / "l.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="config l.yaml .*must hold a dict"):
        load_config(tmp_path / "l.yaml")
    (tmp_path / "a.yaml").write_text("_base_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\n")
    with pytest.raises(ValueError, match="_base_ files include each other"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "m.yaml").write_text("_base_: missing.yaml\nx: 1\n")
    with pytest.raises(ValueError, match="missing.yaml"):
        load_config(tmp_path / "m.yaml")


def test_config_to_str_keeps_order_and_checks_type():
    assert config_to_str(dict(type="X", b=1, a=2)) == "{'type': 'X', 'b': 1, 'a': 2}"
    with pytest.raises(TypeError, match="cfg must be a dict, got list"):
        config_to_str([1])


def test_get_config_copies_and_errors():
    cfg = get_config("faster_rcnn_r18_fpn")
    cfg["roi_head"]["num_classes"] = 99
    assert get_config("faster_rcnn_r18_fpn")["roi_head"]["num_classes"] == 5
    assert sorted(CONFIGS) == [
        "faster_rcnn_mnv3_c4",
        "faster_rcnn_r18_fpn",
        "faster_rcnn_tiny_c4",
        "faster_rcnn_tiny_fpn",
    ]
    with pytest.raises(ValueError, match=r"unknown config 'faster_rcnn_r18'.*available: \["):
        get_config("faster_rcnn_r18")


def test_derived_configs_inherit_from_the_r18_base():
    base, tiny = get_config("faster_rcnn_r18_fpn"), get_config("faster_rcnn_tiny_fpn")
    assert tiny["backbone"] == {
        "type": "TinyNet",
        "widths": (16, 32, 64, 128),
        "out_indices": (0, 1, 2),
    }
    # the neck is the base's, without the extra level; the rest of the base is kept
    assert tiny["neck"] == {**base["neck"], "extra_pool": False}
    assert tiny["roi_head"]["num_classes"] == base["roi_head"]["num_classes"]
    assert tiny["data_preprocessor"] == base["data_preprocessor"]
    c4 = get_config("faster_rcnn_mnv3_c4")
    assert c4["neck"] is None and c4["rpn_head"]["anchor_sizes"] == ((16, 32, 64),)
    # the no-neck baseline of lesson 06: the tiny FPN config, its stride-16 map, the same sizes
    tiny_c4 = get_config("faster_rcnn_tiny_c4")
    assert tiny_c4["neck"] is None and tiny_c4["backbone"]["out_indices"] == (2,)
    pyramid_sizes = sorted({s for level in tiny["rpn_head"]["anchor_sizes"] for s in level})
    assert list(tiny_c4["rpn_head"]["anchor_sizes"][0]) == pyramid_sizes
    assert tiny_c4["roi_head"] == tiny["roi_head"]


def test_tiny_configs_fit_the_shapes_images():
    # 128-px images are not resized (torchvision's default would scale them to 800 px) and the
    # anchors of each level are 3 to 6 times its stride (4, 8, 16), covering the 10-62 px shapes
    tiny = get_config("faster_rcnn_tiny_fpn")
    model = build_detector(tiny).eval()
    assert (model.transform.min_size, model.transform.max_size) == ((128,), 128)
    with torch.no_grad():
        levels = model.backbone(torch.zeros(1, 3, 128, 128))
    strides = [128 // f.shape[-1] for f in levels.values()]
    assert strides == [4, 8, 16]
    for stride, sizes in zip(strides, tiny["rpn_head"]["anchor_sizes"]):
        assert 3 * stride <= min(sizes) and max(sizes) <= 6 * stride
    # RoIs of 28 and 56 px pool from P3 and P4 (canonical scale 56 = level 4)
    from torchvision.ops.poolers import _setup_scales

    pool = model.roi_heads.box_roi_pool
    _, mapper = _setup_scales(list(levels.values()), [(128, 128)], pool.canonical_scale, 4)
    rois = torch.tensor([[0.0, 0.0, 12.0, 12.0], [0.0, 0.0, 28.0, 28.0], [0.0, 0.0, 56.0, 56.0]])
    assert mapper([rois]).tolist() == [0, 1, 2]


def test_a_built_detector_pickles(tmp_path):
    # every component class lives at module level, so torch.save(model) works
    model = build_detector(get_config("faster_rcnn_tiny_fpn")).eval()
    torch.save(model, tmp_path / "model.pt")
    again = torch.load(tmp_path / "model.pt", weights_only=False).eval()
    x = [torch.rand(3, 64, 64)]
    with torch.no_grad():
        a, b = model(x)[0], again(x)[0]
    assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["scores"], b["scores"])


def test_count_parameters():
    lin = torch.nn.Linear(3, 2)  # 3 * 2 weights + 2 biases
    assert count_parameters(lin) == 3 * 2 + 2
    lin.bias.requires_grad_(False)
    assert count_parameters(lin, trainable_only=True) == 3 * 2
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got int"):
        count_parameters(3)


# ----------------------------------------------------------------------------- parts and detectors
def test_registries_hold_the_parts():
    assert sorted(BACKBONES.module_dict) == ["MobileNetV3", "ResNet", "TinyNet"]
    assert sorted(NECKS.module_dict) == ["FPN"] and sorted(RPN_HEADS.module_dict) == ["RPNHead"]
    assert sorted(ROI_HEADS.module_dict) == ["StandardRoIHead"]
    assert sorted(DETECTORS.module_dict) == ["FasterRCNN"]


@pytest.mark.parametrize(
    ("depth", "channels"), [(18, [64, 128, 256, 512]), (50, [256, 512, 1024, 2048])]
)
def test_resnet_backbone_strides_and_channels(depth, channels):
    net = BACKBONES.build(dict(type="ResNet", depth=depth))
    out = net(torch.zeros(1, 3, 64, 64))
    assert net.strides == [4, 8, 16, 32] and net.out_channels_list == channels
    assert [tuple(v.shape) for v in out.values()] == [
        (1, c, 64 // s, 64 // s) for c, s in zip(channels, net.strides)
    ]


def test_tinynet_backbone_strides_and_widths():
    net = BACKBONES.build(dict(type="TinyNet", widths=(4, 8, 12, 16), out_indices=(1, 3)))
    out = net(torch.zeros(2, 3, 64, 64))
    assert [tuple(v.shape) for v in out.values()] == [
        (2, 8, 64 // 8, 64 // 8),
        (2, 16, 64 // 32, 64 // 32),
    ]


@pytest.mark.parametrize("arch", ["large", "small"])
def test_mobilenet_backbone_strides(arch):
    net = BACKBONES.build(dict(type="MobileNetV3", arch=arch, out_indices=(0, 1, 2, 3)))
    out = net(torch.zeros(1, 3, 64, 64))
    assert [v.shape[-1] for v in out.values()] == [64 // 4, 64 // 8, 64 // 16, 64 // 32]
    assert [v.shape[1] for v in out.values()] == net.out_channels_list


def test_frozen_stages_freeze_stem_and_early_stages():
    net = BACKBONES.build(dict(type="ResNet", depth=18, frozen_stages=1))
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert not any(p.requires_grad for s in net.stages[:2] for p in s.parameters())
    assert all(p.requires_grad for s in net.stages[2:] for p in s.parameters())


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (dict(type="ResNet", depth=20), "depth must be one of"),
        (dict(type="ResNet", depth=18, out_indices=(2, 1)), "out_indices must be increasing"),
        (dict(type="ResNet", depth=18, out_indices=(4,)), "out_indices must be increasing"),
        (
            dict(type="ResNet", depth=18, norm="LN"),
            "norm must be one of \\('BN', 'GN', 'FrozenBN'\\), got 'LN'",
        ),
        (dict(type="MobileNetV3", arch="medium"), "arch must be one of \\('large', 'small'\\)"),
        (
            dict(type="TinyNet", widths=(8, 16, 32)),
            r"widths must be 4 positive ints, got \[8, 16, 32\]",
        ),
    ],
)
def test_backbone_argument_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        BACKBONES.build(cfg)


def _forward_both_modes(model):
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [
        {"boxes": torch.tensor([[8.0, 8.0, 30.0, 30.0]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[20.0, 10.0, 60.0, 40.0], [2.0, 2.0, 12.0, 12.0]]),
            "labels": torch.tensor([5, 2]),
        },
    ]
    model.train()
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2 and all(o["boxes"].shape[1] == 4 for o in out)
    assert all(((o["labels"] >= 1) & (o["labels"] <= 5)).all() for o in out)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_ready_made_configs_build_and_run(name):
    torch.manual_seed(0)
    model = build_detector(get_config(name))
    assert isinstance(model, FasterRCNN)
    assert model.roi_heads.box_predictor.cls_score.out_features == 5 + 1  # + background
    _forward_both_modes(model)


def test_fpn_variant_has_five_levels_and_neckless_one():
    fpn = build_detector(get_config("faster_rcnn_r18_fpn"))
    c4 = build_detector(get_config("faster_rcnn_mnv3_c4"))
    assert fpn.backbone.num_levels == 5 and fpn.backbone.featmap_names == ["0", "1", "2", "3"]
    assert c4.backbone.num_levels == 1 and c4.backbone.neck is None
    assert fpn.backbone.out_channels == 64 and c4.backbone.out_channels == 112
    # the configs' thresholds reach torchvision's modules
    assert fpn.rpn._post_nms_top_n == {"training": 300, "testing": 100}
    assert fpn.roi_heads.fg_bg_sampler.batch_size_per_image == 128


def test_changing_num_classes_changes_only_the_predictor():
    cfg = get_config("faster_rcnn_r18_fpn")
    cfg["roi_head"]["num_classes"] = 20
    model = build_detector(cfg)
    assert model.roi_heads.box_predictor.cls_score.out_features == 21
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 21 * 4


def test_build_detector_accepts_a_full_config_with_model_key():
    model = build_detector({"model": get_config("faster_rcnn_mnv3_c4"), "train": {"epochs": 1}})
    assert isinstance(model, FasterRCNN)


def test_yaml_config_with_base_builds(tmp_path):
    import yaml

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(get_config("faster_rcnn_r18_fpn")))
    (tmp_path / "r34.yaml").write_text(
        "_base_: base.yaml\nbackbone: {depth: 34}\nroi_head: {num_classes: 3}\n"
    )
    model = build_detector(load_config(tmp_path / "r34.yaml"))  # YAML lists instead of tuples
    assert len(model.backbone.body.stages[0]) == 3  # ResNet-34 has 3 blocks in layer1
    assert model.roi_heads.box_predictor.cls_score.out_features == 4


@pytest.mark.parametrize(
    ("edit", "exc", "match"),
    [
        (
            lambda c: c["backbone"].update(type="ResNeXt"),
            ValueError,
            r"unknown backbone type 'ResNeXt'.*available",
        ),
        (
            lambda c: c["roi_head"].update(num_clases=3),
            ValueError,
            r"roi_head type 'StandardRoIHead' got unexpected key\(s\) \['num_clases'\] \(did you mean 'num_classes'\?\)",
        ),
        (
            lambda c: c["roi_head"].pop("num_classes"),
            ValueError,
            r"missing required key\(s\) \['num_classes'\]",
        ),
        (
            lambda c: c["roi_head"].update(num_classes=0),
            ValueError,
            "num_classes must be a positive int",
        ),
        (
            lambda c: c["rpn_head"].update(anchor_sizes=((16,), (32,))),
            ValueError,
            r"one tuple per feature level \(5 levels\), got 2",
        ),
        (
            lambda c: c["rpn_head"].update(anchor_sizes=((16,), (32, 64), (64,), (128,), (256,))),
            ValueError,
            "same number of sizes per level",
        ),
        (
            lambda c: c.pop("neck"),
            ValueError,
            "without a neck every backbone level must have the same channels",
        ),
        (lambda c: c.update(neck="FPN"), TypeError, "cfg for neck must be a dict"),
        (lambda c: c["neck"].pop("type"), ValueError, "cfg for neck has no 'type' key"),
    ],
)
def test_detector_config_errors_name_the_block(edit, exc, match):
    cfg = get_config("faster_rcnn_r18_fpn")
    edit(cfg)
    with pytest.raises(exc, match=match):
        build_detector(cfg)
