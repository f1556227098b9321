"""Tests for lesson 10: dlcv_utils.models.ultralytics_yolo, its widget, exercises and recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcv_utils.models.ultralytics_yolo import (
    MAP_TOLERANCE,
    WeightsUnavailableError,
    coco_gt_from_yolo,
    ensure_offline,
    load_yolo_weights,
    renumber_results,
    train_yolo,
    ultralytics_map,
    val_yolo,
    write_shapes_yolo,
    yolo_boxes_to_coco,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _offline():
    ensure_offline()


@pytest.fixture(scope="module")
def shapes_yaml(tmp_path_factory):
    return write_shapes_yolo(tmp_path_factory.mktemp("shapes"), n_train=8, n_val=12, image_size=64)


# ----------------------------------------------------------------------------- conversions
def test_yolo_boxes_to_coco_numbers():
    out = yolo_boxes_to_coco(
        torch.tensor([[1.0, 2.0, 11.0, 22.0, 0.5, 0.0]]), "a", category_offset=1
    )
    assert out == [
        {"image_id": "a", "category_id": 1, "bbox": [1.0, 2.0, 10.0, 20.0], "score": 0.5}
    ]
    assert yolo_boxes_to_coco(np.zeros((0, 6)), 1) == []


@pytest.mark.parametrize("bad", [np.zeros((3, 5)), np.zeros(6), [[1, 2, 3]]])
def test_yolo_boxes_to_coco_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"data must be \[N, 6\]"):
        yolo_boxes_to_coco(bad, 1)


def test_renumber_results():
    res = [{"image_id": "b", "score": 0.1}, {"image_id": 7, "score": 0.2}]
    assert [r["image_id"] for r in renumber_results(res, {"b": 2, "7": 3})] == [2, 3]
    with pytest.raises(ValueError, match="'c' is not in stem_to_id"):
        renumber_results([{"image_id": "c"}], {"b": 2})


def test_write_shapes_yolo_and_coco_gt(shapes_yaml):
    import yaml

    data = yaml.safe_load(shapes_yaml.read_text())
    assert Path(data["path"]).is_absolute() and data["nc"] == 5
    labels = sorted((Path(data["path"]) / "labels" / "val").glob("*.txt"))
    assert len(labels) == 12
    gt, ids = coco_gt_from_yolo(shapes_yaml)
    n_lines = sum(len(p.read_text().split("\n")) - 1 for p in labels)
    assert len(gt["annotations"]) == n_lines
    assert sorted(ids.values()) == list(range(1, 13))
    first = np.loadtxt(labels[0], ndmin=2)[0]  # class cx cy w h, normalised by 64 px
    ann = gt["annotations"][0]
    assert ann["category_id"] == int(first[0]) + 1
    np.testing.assert_allclose(ann["bbox"][2:], first[3:] * 64, atol=1e-3)
    assert ann["area"] == pytest.approx(ann["bbox"][2] * ann["bbox"][3])
    with pytest.raises(ValueError, match="n_val"):
        write_shapes_yolo(shapes_yaml.parent, n_train=1, n_val=0)


# ----------------------------------------------------------------------------- metrics
def _gt(n_images=6, per_image=4):
    gt = {
        "images": [],
        "annotations": [],
        "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)],
    }
    for i in range(1, n_images + 1):
        gt["images"].append({"id": i})
        for k in range(per_image):
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": i,
                    "category_id": 1 + (i + k) % 3,
                    "bbox": [30.0 * k, 10.0, 20.0, 20.0],
                    "area": 400.0,
                    "iscrowd": 0,
                }
            )
    return gt


def test_ultralytics_map_perfect_detector_is_0995():
    gt = _gt()
    dets = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 0.9,
        }
        for a in gt["annotations"]
    ]
    from dlcv_utils.metrics import coco_evaluate

    r = ultralytics_map(gt, dets)
    # trapezoid rule over 101 points of a constant 1: 1 - 0.5 * 0.01 at the end point
    assert r["map50"] == pytest.approx(1 - 0.5 * 0.01)
    assert r["map"] == pytest.approx(1 - 0.5 * 0.01)
    assert coco_evaluate(gt, dets)["AP50"] == pytest.approx(1.0)
    assert set(r["per_class_ap50"]) == {1, 2, 3}


def test_ultralytics_map_no_detections_and_bad_ids():
    assert ultralytics_map(_gt(), []) == {"map50": 0.0, "map": 0.0, "per_class_ap50": {}}
    with pytest.raises(ValueError, match="image_id 99"):
        ultralytics_map(
            _gt(), [{"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]
        )


@pytest.mark.parametrize("seed", range(5))
def test_ultralytics_and_coco_map_agree_within_tolerance(seed):
    """The documented tolerance: same predictions, two integration rules, |difference| <= 0.02."""
    from dlcv_utils.metrics import coco_evaluate

    rng = np.random.default_rng(seed)
    gt = _gt(n_images=20, per_image=5)
    dets = []
    for a in gt["annotations"]:
        if rng.random() < 0.85:  # found, with a jittered box; sometimes the wrong class
            x, y, w, h = a["bbox"]
            j = rng.normal(0, 1.5, 4)
            cat = a["category_id"] if rng.random() < 0.9 else 1 + a["category_id"] % 3
            dets.append(
                {
                    "image_id": a["image_id"],
                    "category_id": cat,
                    "bbox": [x + j[0], y + j[1], w + j[2], h + j[3]],
                    "score": float(rng.uniform(0.3, 1.0)),
                }
            )
    for _ in range(40):  # false positives, mostly with low scores
        dets.append(
            {
                "image_id": int(rng.integers(1, 21)),
                "category_id": int(rng.integers(1, 4)),
                "bbox": [float(v) for v in rng.uniform(0, 100, 2)] + [15.0, 15.0],
                "score": float(rng.uniform(0.0, 0.6)),
            }
        )
    ours, coco = ultralytics_map(gt, dets), coco_evaluate(gt, dets)
    assert 0.3 < coco["AP50"] < 0.99  # a realistic curve, not a trivial one
    assert abs(ours["map50"] - coco["AP50"]) <= MAP_TOLERANCE
    assert abs(ours["map"] - coco["AP"]) <= MAP_TOLERANCE


# ----------------------------------------------------------------------------- offline
def test_offline_ultralytics_writes_nothing_to_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import sys, pathlib\n"
        "from dlcv_utils.models.ultralytics_yolo import offline_ultralytics\n"
        f"cfg = offline_ultralytics({str(tmp_path / 'cfg')!r})\n"
        "import ultralytics.utils as u\n"
        "assert u.USER_CONFIG_DIR == cfg, u.USER_CONFIG_DIR\n"
        "assert not u.ONLINE and not u.AUTOINSTALL and not u.SETTINGS['sync']\n"
        "assert pathlib.Path(u.SETTINGS['runs_dir']).is_relative_to(cfg.parent)\n"
        "from ultralytics.utils.checks import check_font\n"
        "assert pathlib.Path(check_font('Arial.ttf')) == cfg / 'Arial.ttf'\n"
        "try:\n"
        "    offline_ultralytics(cfg.parent.parent / 'other')\n"
        "except RuntimeError as exc:\n"
        "    assert 'restart' in str(exc)\n"
        "else:\n"
        "    sys.exit('no RuntimeError')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), MPLCONFIGDIR=str(tmp_path / "mpl"))
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert list(home.rglob("*")) == []  # nothing in the home folder


def test_load_yolo_weights_offline_and_local_checkpoint(tmp_path):
    from ultralytics import YOLO

    with pytest.raises(ValueError, match="name must be a checkpoint"):
        load_yolo_weights("../yolo11n.pt", tmp_path)
    with pytest.raises(WeightsUnavailableError, match="downloads are off"):
        load_yolo_weights("yolo11n.pt", tmp_path)
    with pytest.raises(WeightsUnavailableError, match="offline"):
        load_yolo_weights("yolo11n.pt", tmp_path, allow_download=True)  # YOLO_OFFLINE is set
    YOLO("yolov8n.yaml").save(tmp_path / "yolo11n.pt")  # a locally written checkpoint
    model = load_yolo_weights("yolo11n.pt", tmp_path)
    assert len(model.names) == 80 and model.task == "detect"


def test_one_tiny_epoch_train_val_predictions(shapes_yaml, tmp_path):
    """1 epoch on 8 images at 64 px: the offline train/val wrappers and predictions.json."""
    from ultralytics import YOLO

    from dlcv_utils.metrics import coco_evaluate

    torch.set_num_threads(1)
    model = YOLO("yolov8n.yaml")
    _, seconds = train_yolo(
        model, shapes_yaml, project=tmp_path, epochs=1, imgsz=64, batch=8, val=False
    )
    assert seconds > 0 and (tmp_path / "train" / "weights" / "last.pt").is_file()
    metrics, preds = val_yolo(model, shapes_yaml, project=tmp_path, imgsz=64, batch=8)
    gt, ids = coco_gt_from_yolo(shapes_yaml)
    results = renumber_results(preds, ids)
    assert all(1 <= r["category_id"] <= 5 for r in results)
    if results:
        ours = ultralytics_map(gt, results)
        assert abs(ours["map50"] - metrics.box.map50) < 5e-3  # JSON rounding
        coco_evaluate(gt, results)
    with pytest.raises(FileNotFoundError, match="data_yaml"):
        train_yolo(model, tmp_path / "missing.yaml", project=tmp_path)


# ----------------------------------------------------------------------------- widget
def _raw(seed=0, k=5, a=60):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(10, 118, (2, a))
    sizes = rng.uniform(8, 40, (2, a))
    return np.concatenate([centres, sizes, rng.uniform(0, 1, (k, a)) ** 3]).astype(np.float32)


@pytest.mark.parametrize("seed", range(3))
def test_yolo_postprocess_matches_ultralytics_nms(seed):
    from ultralytics.utils.nms import non_max_suppression

    from dlcv_utils.viz.widgets.yolo import yolo_postprocess

    raw = _raw(seed)
    ref = non_max_suppression(torch.from_numpy(raw)[None], 0.25, 0.5, max_det=300)[0]
    ours = yolo_postprocess(raw, conf=0.25, iou=0.5)
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-4)


def test_yolo_postprocess_edges_and_errors():
    from dlcv_utils.viz.widgets.yolo import yolo_postprocess

    raw = _raw()
    assert yolo_postprocess(raw, conf=1.0).shape == (0, 6)
    assert len(yolo_postprocess(raw, conf=0.0, iou=1.0, max_det=7)) == 7
    with pytest.raises(ValueError, match="raw must be"):
        yolo_postprocess(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="max_det"):
        yolo_postprocess(raw, max_det=0)
    with pytest.raises((TypeError, ValueError), match="conf"):
        yolo_postprocess(raw, conf=1.5)


def test_yolo_panel_and_widget():
    from dlcv_utils.viz.widgets.yolo import make_yolo_threshold_widget, yolo_postprocess_panel

    image = np.zeros((128, 128, 3))
    fig, ax = plt.subplots()
    dets = yolo_postprocess_panel(image, _raw(), 0.3, 0.6, class_names=list("abcde"), ax=ax)
    assert f"{len(dets)} of 60 anchor points kept" in ax.get_title()
    plt.close(fig)
    w = make_yolo_threshold_widget(image, _raw(), class_names=list("abcde"))
    assert len(w.children) >= 2
    plt.close("all")


# ----------------------------------------------------------------------------- exercises
def test_exercise_yolo_results(capsys):
    from dlcv_utils.course import exercises as ex

    assert ex.check_yolo_results(ex.solution_yolo_results) is True

    def wrong_no_offset(data, image_id):
        return [
            {**r, "category_id": r["category_id"] - 1}
            for r in ex.solution_yolo_results(data, image_id)
        ]

    def stub(data, image_id):
        raise NotImplementedError

    capsys.readouterr()
    assert ex.check_yolo_results(wrong_no_offset) is False
    assert "fails on case 'one box'" in capsys.readouterr().out
    assert ex.check_yolo_results(stub) is False
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError):
        ex.check_yolo_results("not a function")


def test_exercise_ultralytics_ap(capsys):
    from ultralytics.utils.metrics import compute_ap

    from dlcv_utils.course import exercises as ex

    r, p = np.array([0.2, 0.4, 0.4, 0.8]), np.array([1.0, 1.0, 0.67, 0.8])
    assert ex.solution_ultralytics_ap(r, p) == pytest.approx(compute_ap(r, p)[0])
    assert ex.check_ultralytics_ap(ex.solution_ultralytics_ap) is True

    def coco_style(recall, precision):  # the step lookup + mean: not Ultralytics' rule
        env = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
        return float(np.where(idx < len(recall), env[np.minimum(idx, len(env) - 1)], 0).mean())

    def stub(recall, precision):
        raise NotImplementedError

    capsys.readouterr()
    assert ex.check_ultralytics_ap(coco_style) is False
    assert "perfect detector" in capsys.readouterr().out
    assert ex.check_ultralytics_ap(stub) is False
    assert "not attempted yet" in capsys.readouterr().out
    assert "solution_ultralytics_ap" in ex.SOLUTIONS.get("ultralytics_ap").__name__


# ----------------------------------------------------------------------------- recipe
def test_yolo_train_args_and_budget_callback():
    from types import SimpleNamespace

    from dlcv_utils.course.recipes import BENCHMARKS, yolo_budget_callback, yolo_train_args
    from dlcv_utils.course.settings import lesson_settings

    cfg = lesson_settings("10", "cpu")
    args = yolo_train_args(cfg)
    iters = -(-cfg.data.n_train // cfg.data.batch_size)
    assert args["warmup_epochs"] == cfg.train.warmup_iters / iters
    assert args["lr0"] == cfg.train.lr and args["epochs"] == cfg.train.epochs
    trainer = SimpleNamespace(stop=False, train_time_start=__import__("time").time())
    yolo_budget_callback(3600)(trainer)
    assert trainer.stop is False
    yolo_budget_callback(None)(SimpleNamespace(stop=False, train_time_start=0.0))
    assert BENCHMARKS["yolo"][0] == "10"
    json.dumps(args)  # plain values only


def test_yolo_budget_callback_prints_the_time_cap_line_only_when_epochs_were_left(capsys):
    from types import SimpleNamespace

    from dlcv_utils.course.recipes import yolo_budget_callback
    from dlcv_utils.engine.budget import TIME_CAP_PREFIX

    cut = SimpleNamespace(stop=False, train_time_start=0.0, epoch=4, epochs=30)
    yolo_budget_callback(10.0)(cut)
    assert cut.stop is True
    out = capsys.readouterr().out
    assert out.startswith(TIME_CAP_PREFIX) and "after 5 of 30 epochs" in out
    last = SimpleNamespace(stop=False, train_time_start=0.0, epoch=29, epochs=30)
    yolo_budget_callback(10.0)(last)  # the cap ran out on the last epoch: nothing was cut
    assert last.stop is True and capsys.readouterr().out == ""


def test_importing_ultralytics_through_the_package_keeps_print_options(tmp_path):
    # ``import ultralytics`` changes NumPy's and torch's print options; through the package the
    # learner's options must survive (regression: doctests printed ``20.`` as ``        20``)
    import subprocess
    import sys

    code = (
        "import copy, numpy as np, torch\n"
        "from torch._tensor_str import PRINT_OPTS\n"
        "before = (np.get_printoptions(), copy.copy(vars(PRINT_OPTS)))\n"
        "from dlcv_utils.models.ultralytics_yolo import offline_ultralytics\n"
        f"offline_ultralytics({str(tmp_path)!r})\n"
        "import ultralytics\n"
        "assert 'ultralytics' in __import__('sys').modules\n"
        "after = (np.get_printoptions(), copy.copy(vars(PRINT_OPTS)))\n"
        "assert before == after, (before, after)\n"
        "print(np.array([20.0]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[20.]"
