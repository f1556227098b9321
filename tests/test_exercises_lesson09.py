"""Tests for lesson 09's exercise checkers (YOLOv1 responsible cell, YOLOv2 decoding).

Per checker: the model solution passes, typical wrong answers fail on the expected case with
their hint, a stub is reported as not attempted, bad arguments raise.
"""

from __future__ import annotations

import math

import pytest

from dlcv_utils.course import exercises as ex


def cell_col_row(box, image_size, grid):
    row, col = ex.solution_responsible_cell(box, image_size, grid)
    return col, row


def cell_from_corner(box, image_size, grid):
    return int(box[1] * grid // image_size), int(box[0] * grid // image_size)


def cell_no_edge_clamp(box, image_size, grid):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return int(cy * grid // image_size), int(cx * grid // image_size)


def decode_no_sigmoid(t, cell, anchor, stride):
    row, col = cell
    cx, cy = (t[0] + col) * stride, (t[1] + row) * stride
    w, h = anchor[0] * math.exp(t[2]), anchor[1] * math.exp(t[3])
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def decode_linear_size(t, cell, anchor, stride):
    row, col = cell
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    cx, cy = (sig(t[0]) + col) * stride, (sig(t[1]) + row) * stride
    w, h = anchor[0] * (1 + t[2]), anchor[1] * (1 + t[3])
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def decode_swapped_cell(t, cell, anchor, stride):
    return ex.solution_v2_decode(t, (cell[1], cell[0]), anchor, stride)


CHECKERS = [
    (
        ex.check_responsible_cell,
        ex.solution_responsible_cell,
        [
            (cell_col_row, "centre in the middle of a cell", "that is (col, row)"),
            (cell_from_corner, "centre in the middle of a cell", "CENTRE"),
            (cell_no_edge_clamp, "a centre on the image edge", "last cell"),
        ],
    ),
    (
        ex.check_v2_decode,
        ex.solution_v2_decode,
        [
            (decode_no_sigmoid, "all zeros", "sigmoid(0) = 0.5"),
            (decode_linear_size, "exp on the sizes", "exp(t_w)"),
            (decode_swapped_cell, "all zeros", "cell (row 1, col 2)"),
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


def test_solutions_by_hand():
    # centre (20, 60) on a 100 px image, S = 7: col floor(1.4) = 1, row floor(4.2) = 4
    assert ex.solution_responsible_cell([10.0, 50.0, 30.0, 70.0], 100, 7) == (4, 1)
    # t = (ln 3, 0, ln 2, 0): sigmoid(ln 3) = 0.75; cell (row 1, col 2), stride 10, anchor 4 x 6
    box = ex.solution_v2_decode([math.log(3.0), 0.0, math.log(2.0), 0.0], (1, 2), (4.0, 6.0), 10)
    cx, cy, w, h = 27.5, 15.0, 8.0, 6.0
    assert box == pytest.approx([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_solutions_are_registered(capsys):
    ex.show_solution("v2_decode")
    assert "def solution_v2_decode" in capsys.readouterr().out
    assert ex.SOLUTIONS["responsible_cell"] is ex.solution_responsible_cell
