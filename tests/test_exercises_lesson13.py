"""Lesson 13's exercise checkers: a right, a wrong and a stub answer for each."""

from __future__ import annotations

import numpy as np
import pytest

from dlcv_utils.course import exercises as ex

CASES = [(ex.check_mask_iou, ex.solution_mask_iou), (ex.check_rle_counts, ex.solution_rle_counts)]


def _iou_empty_crashes(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float((a & b).sum() / (a | b).sum())  # 0 / 0 -> nan for two empty masks


def _iou_raw_values(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float((a * b).sum() / (a + b - a * b).sum()) if (a + b).sum() else 0.0


def _iou_over_first(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float((a & b).sum() / a.sum()) if a.sum() else 0.0


def _rle_row_major(mask):
    return ex.solution_rle_counts(np.asarray(mask).T)  # C order = the transpose's F order


def _rle_no_leading_zero(mask):
    counts = ex.solution_rle_counts(mask)
    return counts[1:] if counts[0] == 0 else counts


WRONG = [
    (ex.check_mask_iou, _iou_empty_crashes, "two empty masks", "return 0"),
    (ex.check_mask_iou, _iou_over_first, "half-overlapping", "union = pixels in either"),
    (ex.check_rle_counts, _rle_row_major, "a vertical bar", "runs go down the columns"),
    (ex.check_rle_counts, _rle_no_leading_zero, "all foreground", "start with the 0s"),
]


@pytest.mark.parametrize(("check", "solution"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_solution_passes(check, solution, capsys):
    assert check(solution, n_random=20) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {solution.__name__} passes all 26 cases") and "✗" not in out


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint"), WRONG, ids=[w[1].__name__ for w in WRONG]
)
def test_wrong_answer_fails_with_hint(check, wrong, case, hint, capsys):
    assert check(wrong, n_random=10) is False
    out = capsys.readouterr().out
    assert f"✗ {wrong.__name__} fails on case '{case}'" in out
    assert hint in out


def test_raw_value_iou_passes_on_binary_inputs(capsys):
    # 0/1 masks: products and sums of 0/1 values are AND and OR, so this answer is right
    assert ex.check_mask_iou(_iou_raw_values, n_random=10) is True


@pytest.mark.parametrize("check", [c for c, _ in CASES], ids=lambda c: c.__name__)
def test_stub_and_bad_arguments(check, capsys):
    def my_stub(*args):
        raise NotImplementedError

    assert check(my_stub, n_random=2) is False
    assert "my_stub: not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="fn must be a function"):
        check(42)
    with pytest.raises(ValueError, match="n_random must be a non-negative int"):
        check(my_stub, n_random=-1)


def test_solutions_by_hand_and_listed():
    a = np.zeros((4, 5), bool)
    a[:2, :3] = True  # 6 px
    b = np.zeros((4, 5), bool)
    b[1:3, 1:4] = True  # 6 px, 2 in common with a
    assert ex.solution_mask_iou(a, b) == 2 / (6 + 6 - 2)
    # column-major: column 0 = 1 1 0 0, column 1 = 1 1 0 0 -> runs 0, 2, 2, 2, ...
    assert ex.solution_rle_counts(a)[:4] == [0, 2, 2, 2]
    assert sum(ex.solution_rle_counts(a)) == 20
    assert ex.SOLUTIONS["mask_iou"] is ex.solution_mask_iou
    assert ex.SOLUTIONS["rle_counts"] is ex.solution_rle_counts
