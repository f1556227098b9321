"""Tests for the lesson 02-06 exercise checkers in dlcv_utils.course.exercises.

Per checker: the model solution passes, a typical wrong answer fails on the expected case with
its hint, and a stub that raises NotImplementedError is reported as not attempted. The model
solutions are also compared with the package / torchvision on their own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcv_utils.course import exercises as ex

N_RANDOM = 20


# ----------------------------------------------------------------------------- wrong answers
def yolo_corner_not_centre(line, width, height):
    cls, cx, cy, w, h = line.split()
    return int(cls), [float(cx) * width, float(cy) * height, float(w) * width, float(h) * height]


def yolo_split_on_space(line, width, height):
    fields = line.strip().split(" ")
    cls, cx, cy, w, h = fields[:5]
    bw, bh = float(w) * width, float(h) * height
    return int(cls), [float(cx) * width - bw / 2, float(cy) * height - bh / 2, bw, bh]


def oi_wrong_column_order(row, width, height):
    return (
        float(row["XMin"]) * width,
        float(row["XMax"]) * height,
        float(row["YMin"]) * width,
        float(row["YMax"]) * height,
    )


def window_count_no_floor(w, h, window, stride):
    return round(((w - window) / stride + 1) * ((h - window) / stride + 1))


def window_count_negative(w, h, window, stride):
    return ((w - window) // stride + 1) * ((h - window) // stride + 1)


def recall_uses_all_proposals(proposals, gt_boxes, k, iou_threshold):
    return ex.solution_recall_at_k(proposals, gt_boxes, len(proposals) + 1, iou_threshold)


def recall_strict_threshold(proposals, gt_boxes, k, iou_threshold):
    return ex.solution_recall_at_k(proposals, gt_boxes, k, iou_threshold + 1e-9)


def encode_divides_by_gt(gt, p):
    d = ex.solution_encode(gt, p)
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    d[:, 0] = d[:, 0] * pw / gw
    d[:, 1] = d[:, 1] * ph / gh
    return d


def decode_without_clip(deltas, p):
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    cx, cy = p[:, 0] + pw / 2 + deltas[:, 0] * pw, p[:, 1] + ph / 2 + deltas[:, 1] * ph
    w, h = pw * torch.exp(deltas[:, 2]), ph * torch.exp(deltas[:, 3])
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


def roi_pool_without_end_cell(features, roi, output_size, spatial_scale):
    c, height, width = features.shape
    x1, y1, x2, y2 = (math.floor(v * spatial_scale + 0.5) for v in roi)
    roi_w, roi_h = max(x2 - x1, 1), max(y2 - y1, 1)
    out = torch.zeros(c, output_size, output_size)
    for i in range(output_size):
        hs = min(max(y1 + math.floor(i * roi_h / output_size), 0), height)
        he = min(max(y1 + math.ceil((i + 1) * roi_h / output_size), 0), height)
        for j in range(output_size):
            ws = min(max(x1 + math.floor(j * roi_w / output_size), 0), width)
            we = min(max(x1 + math.ceil((j + 1) * roi_w / output_size), 0), width)
            if he > hs and we > ws:
                out[:, i, j] = features[:, hs:he, ws:we].amax(dim=(1, 2))
    return out


def anchors_not_rounded(feature_size, stride, scales, ratios):
    s = torch.as_tensor(scales, dtype=torch.float32)
    r = torch.as_tensor(ratios, dtype=torch.float32)
    ws = (s[None, :] / torch.sqrt(r)[:, None]).reshape(-1)
    hs = (s[None, :] * torch.sqrt(r)[:, None]).reshape(-1)
    cell = torch.stack([-ws, -hs, ws, hs], dim=1) / 2  # no .round()
    h, w = feature_size
    ys, xs = torch.meshgrid(torch.arange(h) * stride, torch.arange(w) * stride, indexing="ij")
    shifts = torch.stack([xs, ys, xs, ys], -1).reshape(-1, 1, 4).float()
    return (shifts + cell[None]).reshape(-1, 4)


def anchors_scale_major(feature_size, stride, scales, ratios):
    a = ex.solution_anchors(feature_size, stride, scales, ratios)
    n_s, n_r = len(scales), len(ratios)
    return a.reshape(-1, n_r, n_s, 4).transpose(1, 2).reshape(-1, 4)


def rpn_without_best_anchor(anchors, gt_boxes):
    from torchvision.ops import box_iou

    if len(gt_boxes) == 0:
        return torch.zeros(len(anchors), dtype=torch.int64)
    best = box_iou(gt_boxes, anchors).max(0).values
    labels = torch.full((len(anchors),), -1)
    labels[best < 0.3] = 0
    labels[best >= 0.7] = 1
    return labels


def rpn_crashes_without_objects(anchors, gt_boxes):
    from torchvision.ops import box_iou

    box_iou(gt_boxes, anchors).max(0)  # max over an empty dimension raises
    return ex.solution_rpn_labels(anchors, gt_boxes)


def level_without_eps(boxes, k_min, k_max, canonical_scale):
    side = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    side = side * (1 - 1e-7)  # what float rounding does to an exact power of two
    return torch.floor(4 + torch.log2(side / canonical_scale)).clamp(k_min, k_max).long()


def level_hard_coded_224(boxes, k_min, k_max, canonical_scale):
    return ex.solution_fpn_level(boxes, k_min, k_max, 224)


def level_index_not_level(boxes, k_min, k_max, canonical_scale):
    return ex.solution_fpn_level(boxes, k_min, k_max, canonical_scale) - k_min


def config_with_extra_pool():
    cfg = ex.solution_detector_config()
    cfg["neck"]["extra_pool"] = True
    cfg["rpn_head"]["anchor_sizes"] += ((256,),)  # one size for the fifth level: it builds
    return cfg


def config_with_background_counted():
    cfg = ex.solution_detector_config()
    cfg["roi_head"]["num_classes"] = 4
    return cfg


def config_with_typo():
    cfg = ex.solution_detector_config()
    cfg["roi_head"]["num_clases"] = cfg["roi_head"].pop("num_classes")
    return cfg


# checker, solution, [(wrong fn, case it fails on, text in the hint or "got" line)]
CHECKERS = [
    (
        ex.check_yolo_to_coco,
        ex.solution_yolo_to_coco,
        [
            (yolo_corner_not_centre, "centred box, square image", "CENTRE"),
            (yolo_split_on_space, "trailing newline and double spaces", "line.split()"),
        ],
    ),
    (
        ex.check_open_images_row,
        ex.solution_open_images_row,
        [(oi_wrong_column_order, "square image", "both x first")],
    ),
    (
        ex.check_window_count,
        ex.solution_window_count,
        [
            (window_count_no_floor, "stride does not divide", "floor division"),
            (window_count_negative, "window larger than the image", "fits 0 times"),
        ],
    ),
    (
        ex.check_recall_at_k,
        ex.solution_recall_at_k,
        [
            (recall_uses_all_proposals, "first proposal hits one of two", "FIRST k"),
            (recall_strict_threshold, "IoU exactly at the threshold", ">= threshold"),
        ],
    ),
    (
        ex.check_encode,
        ex.solution_encode,
        [(encode_divides_by_gt, "non-square proposal", "divide x quantities by widths")],
    ),
    (
        ex.check_decode,
        ex.solution_decode,
        [(decode_without_clip, "huge dw, dh are clipped", "log(1000 / 16)")],
    ),
    (
        ex.check_roi_max_pool,
        ex.solution_roi_max_pool,
        [(roi_pool_without_end_cell, "4 x 4 map, 2 x 2 bins", "INCLUSIVE")],
    ),
    (
        ex.check_anchors,
        ex.solution_anchors,
        [
            (anchors_scale_major, "one cell, 3 scales x 3 ratios", "another order"),
            (anchors_not_rounded, "one cell, three ratios", "half a pixel"),
        ],
    ),
    (
        ex.check_rpn_labels,
        ex.solution_rpn_labels,
        [
            (rpn_without_best_anchor, "an object with only a poor anchor", "best anchor"),
            (rpn_crashes_without_objects, "no objects", "every anchor is background"),
        ],
    ),
    (
        ex.check_fpn_level,
        ex.solution_fpn_level,
        [
            (level_without_eps, "the canonical box", "eps"),
            (level_hard_coded_224, "a scaled-down canonical size (56 px)", "canonical_scale"),
            (level_index_not_level, "the canonical box", "not its index"),
        ],
    ),
]
CASES = [(check, sol) for check, sol, _ in CHECKERS]
WRONG = [(check, *w) for check, _, wrongs in CHECKERS for w in wrongs]


def _run(check, fn):
    if check is ex.check_detector_config:
        return check(fn)
    return check(fn, n_random=N_RANDOM)


@pytest.mark.parametrize(("check", "solution"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_solution_passes(check, solution, capsys):
    assert _run(check, solution) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {solution.__name__} passes all ") and "✗" not in out


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_fails_with_hint(check, wrong, case, hint, capsys):
    assert _run(check, wrong) is False
    out = capsys.readouterr().out
    assert f"✗ {wrong.__name__} fails on case '{case}'" in out
    assert "expected:" in out and "got:" in out
    assert hint in out


@pytest.mark.parametrize(
    "check", [c for c, _ in CASES] + [ex.check_detector_config], ids=lambda c: c.__name__
)
def test_stub_is_not_attempted(check, capsys):
    def my_stub(*args):
        raise NotImplementedError

    assert _run(check, my_stub) is False
    out = capsys.readouterr().out
    assert "my_stub: not attempted yet" in out and "✗" not in out


@pytest.mark.parametrize("check", [c for c, _ in CASES], ids=lambda c: c.__name__)
def test_bad_arguments(check):
    with pytest.raises(TypeError, match="fn must be a function"):
        check(42)
    with pytest.raises(ValueError, match="n_random must be a non-negative int, got -1"):
        check(lambda *a: None, n_random=-1)


def test_forgotten_return_and_crash_are_reported(capsys):
    assert ex.check_encode(lambda g, p: None, n_random=0) is False
    assert "forget to `return`" in capsys.readouterr().out
    assert ex.check_window_count(lambda *a: 1 / 0, n_random=0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert ex.check_window_count(lambda *a: "9", n_random=0) is False
    assert "return a whole number" in capsys.readouterr().out


# ----------------------------------------------------------------------------- config checker
def test_config_solution_passes(capsys):
    assert ex.check_detector_config(ex.solution_detector_config) is True
    n = len(ex.CONFIG_REQUIREMENTS)
    assert f"passes all {n} cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "requirement", "hint"),
    [
        (config_with_extra_pool, 3, "extra pool adds a 5th level"),
        (config_with_background_counted, 5, "object classes only"),
        (config_with_typo, 0, "num_clases"),
        (lambda: None, 0, "did you forget `return`"),
        (lambda: {"type": "RetinaNet"}, 0, "faster_rcnn_tiny_fpn"),
    ],
)
def test_config_mistakes(fn, requirement, hint, capsys):
    assert ex.check_detector_config(fn) is False
    out = capsys.readouterr().out
    assert f"fails on case '{ex.CONFIG_REQUIREMENTS[requirement]}'" in out
    assert hint in out


# ----------------------------------------------------------------------------- solutions alone
def test_yolo_solution_matches_the_package_reader():
    from dlcv_utils.datasets.yolo import parse_yolo_line

    rng = np.random.default_rng(0)
    for _ in range(50):
        w, h = (int(v) for v in rng.integers(10, 999, 2))
        line = f"{int(rng.integers(0, 9))} " + " ".join(
            f"{v:.6f}" for v in rng.uniform(0.1, 0.5, 4)
        )
        cls, (cx, cy, bw, bh), _ = parse_yolo_line(line.split(), "test")
        got_cls, box = ex.solution_yolo_to_coco(line, w, h)
        assert got_cls == cls
        np.testing.assert_allclose(
            box, [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h], rtol=1e-9, atol=1e-9
        )


def test_open_images_solution_by_hand():
    row = {"XMin": "0.1", "XMax": "0.5", "YMin": "0.25", "YMax": "1"}
    assert ex.solution_open_images_row(row, 200, 80) == pytest.approx(
        (0.1 * 200, 0.25 * 80, 0.5 * 200, 80)
    )


def test_window_count_and_recall_by_hand():
    assert ex.solution_window_count(100, 60, 30, 25) == (70 // 25 + 1) * (30 // 25 + 1)
    assert ex.solution_window_count(50, 80, 60, 4) == 0
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    props = np.array([[0, 0, 10, 5], [20, 20, 30, 30]])  # IoU 0.5, then an exact hit
    assert ex.solution_recall_at_k(props, gt, 1, 0.5) == 1 / 3
    assert ex.solution_recall_at_k(props, gt, 2, 0.5) == 2 / 3
    assert ex.solution_recall_at_k(props, gt, 2, 0.6) == 1 / 3
    assert ex.solution_recall_at_k(np.zeros((0, 4)), gt, 5, 0.5) == 0.0


def test_box_code_solutions_match_torchvision():
    from torchvision.models.detection._utils import BoxCoder

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(30, 2, generator=g) * 100
    p = torch.cat([xy, xy + torch.rand(30, 2, generator=g) * 50 + 1], 1)
    t = torch.cat([xy + 3, xy + torch.rand(30, 2, generator=g) * 50 + 5], 1)
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    torch.testing.assert_close(ex.solution_encode(t, p), coder.encode_single(t, p))
    d = coder.encode_single(t, p)
    torch.testing.assert_close(ex.solution_decode(d, p), coder.decode_single(d, p))
    torch.testing.assert_close(ex.solution_decode(ex.solution_encode(t, p), p), t)


def test_roi_pool_solution_matches_torchvision():
    from torchvision.ops import roi_pool

    g = torch.Generator().manual_seed(1)
    feat = torch.randn(4, 12, 12, generator=g)
    for roi in [(0.0, 0.0, 40.0, 40.0), (-8.0, 4.0, 30.0, 18.0), (10.0, 10.0, 11.0, 11.0)]:
        expected = roi_pool(feat[None], torch.tensor([[0.0, *roi]]), 3, 0.25)[0]
        torch.testing.assert_close(ex.solution_roi_max_pool(feat, roi, 3, 0.25), expected)


def test_anchor_solutions_match_torchvision():
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    gen = AnchorGenerator(((16, 32),), ((0.5, 1.0, 2.0),))
    images = ImageList(torch.zeros(1, 3, 64, 48), [(64, 48)])
    expected = gen(images, [torch.zeros(1, 1, 8, 6)])[0]
    torch.testing.assert_close(ex.solution_anchors((8, 6), 8, (16, 32), (0.5, 1.0, 2.0)), expected)
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30], [0, 0, 8, 10]])
    # IoUs with the object: 1, 0.6 (ignored), 0 (background), 0.8 (positive)
    labels = ex.solution_rpn_labels(anchors, torch.tensor([[0.0, 0, 10, 10]]))
    assert labels.tolist() == [1, -1, 0, 1]


def test_fpn_level_solution_by_hand():
    sides = [12, 60, 112, 224, 448, 900]
    boxes = torch.tensor([[0.0, 0, s, s] for s in sides])
    expected = [min(max(math.floor(4 + math.log2(s / 224) + 1e-6), 2), 5) for s in sides]
    assert ex.solution_fpn_level(boxes).tolist() == expected == [2, 2, 3, 4, 5, 5]


def test_every_solution_is_shown(capsys):
    new = [
        "yolo_to_coco", "open_images_row", "window_count", "recall_at_k", "encode", "decode",
        "roi_max_pool", "anchors", "rpn_labels", "fpn_level", "detector_config",
    ]  # fmt: skip
    for name in new:
        ex.show_solution(name)
        assert f"def solution_{name}(" in capsys.readouterr().out
    assert set(new) <= set(ex.SOLUTIONS)
    for name in ex.__all__:
        assert hasattr(ex, name), name


def test_each_exercise_module_is_short():
    from pathlib import Path

    for path in Path(ex.__file__).parent.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 600, path.name
