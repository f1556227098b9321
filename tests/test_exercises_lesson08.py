"""Tests for lesson 08's exercise checkers (SSD default-box scales, matching).

Per checker: the model solution passes, typical wrong answers fail on the expected case with
their hint, a stub is reported as not attempted, bad arguments raise. The model solutions are
compared with torchvision on their own.
"""

from __future__ import annotations

import pytest
import torch
from torchvision.models.detection._utils import SSDMatcher
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.ops import box_iou

from dlcv_utils.course import exercises as ex


def scales_without_last(m, s_min, s_max):
    if m == 1:
        return [s_min, s_max]
    return [s_min + (s_max - s_min) * (k - 1) / (m - 1) for k in range(1, m + 1)]


def scales_divide_by_m(m, s_min, s_max):
    return [s_min + (s_max - s_min) * (k - 1) / m for k in range(1, m + 1)] + [1.0]


def scales_one_level_crashes(m, s_min, s_max):
    return [s_min + (s_max - s_min) * (k - 1) / (m - 1) for k in range(1, m + 1)] + [1.0]


def match_threshold_only(gt_boxes, dboxes):
    matches = torch.full((len(dboxes),), -1, dtype=torch.int64)
    if len(gt_boxes) == 0:
        return matches
    best_iou, best_gt = box_iou(gt_boxes, dboxes).max(0)
    return torch.where(best_iou >= 0.5, best_gt, matches)


def match_strict_threshold(gt_boxes, dboxes):
    matches = ex.solution_ssd_match(gt_boxes, dboxes, iou_threshold=0.5 + 1e-6)
    return matches


def match_returns_labels(gt_boxes, dboxes):
    return (ex.solution_ssd_match(gt_boxes, dboxes) >= 0).long()


def match_no_empty_case(gt_boxes, dboxes):
    iou = box_iou(gt_boxes, dboxes)
    best_iou, best_gt = iou.max(0)
    matches = torch.where(best_iou >= 0.5, best_gt, torch.full_like(best_gt, -1))
    matches[iou.argmax(1)] = torch.arange(len(gt_boxes))
    return matches


CHECKERS = [
    (
        ex.check_default_box_scales,
        ex.solution_default_box_scales,
        [
            (scales_without_last, "SSD300: 6 levels, 0.2 to 0.9", "one scale short"),
            (scales_divide_by_m, "SSD300: 6 levels, 0.2 to 0.9", ""),
            (scales_one_level_crashes, "one level", "torchvision returns [s_min, s_max]"),
        ],
    ),
    (
        ex.check_ssd_match,
        ex.solution_ssd_match,
        [
            (match_threshold_only, "an object with only a poor default box", "best default box"),
            (match_strict_threshold, "IoU >= 0.5 is positive", "5/10 = 0.5 counts"),
            (match_returns_labels, "two objects", "return the INDEX"),
            (match_no_empty_case, "no objects", "every default box is background"),
        ],
    ),
]
CASES = [(check, sol) for check, sol, _ in CHECKERS]
WRONG = [(check, *w) for check, _, wrongs in CHECKERS for w in wrongs]


@pytest.mark.parametrize(("check", "solution"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_solution_passes(check, solution, capsys):
    assert check(solution, n_random=20) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {solution.__name__} passes all ") and "✗" not in out


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_fails_with_hint(check, wrong, case, hint, capsys):
    assert check(wrong, n_random=20) is False
    out = capsys.readouterr().out
    assert f"✗ {wrong.__name__} fails on case '{case}'" in out
    assert "expected:" in out and "got:" in out
    assert hint in out


@pytest.mark.parametrize("check", [c for c, _ in CASES], ids=lambda c: c.__name__)
def test_stub_and_bad_arguments(check, capsys):
    def my_stub(*args):
        raise NotImplementedError

    assert check(my_stub) is False
    out = capsys.readouterr().out
    assert "my_stub: not attempted yet" in out and "✗" not in out
    with pytest.raises(TypeError, match="fn must be a function"):
        check(42)
    with pytest.raises(ValueError, match="n_random must be a non-negative int, got -1"):
        check(lambda *a: None, n_random=-1)


def test_solutions_match_torchvision():
    for m in (1, 2, 6):
        expected = DefaultBoxGenerator([[2]] * m, min_ratio=0.2, max_ratio=0.9).scales
        assert ex.solution_default_box_scales(m, 0.2, 0.9) == pytest.approx(expected)
    gen = torch.Generator().manual_seed(0)
    for n in range(1, 6):
        xy = torch.rand(n + 30, 2, generator=gen) * 100
        boxes = torch.cat([xy, xy + torch.rand(n + 30, 2, generator=gen) * 40 + 5], 1)
        gt, dboxes = boxes[:n], boxes[n:]
        expected = SSDMatcher(0.5)(box_iou(gt, dboxes))
        assert torch.equal(ex.solution_ssd_match(gt, dboxes), expected)


def test_solutions_are_registered(capsys):
    ex.show_solution("ssd_match")
    assert "def solution_ssd_match" in capsys.readouterr().out
    assert ex.SOLUTIONS["default_box_scales"] is ex.solution_default_box_scales
