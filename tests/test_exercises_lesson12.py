"""Tests for lesson 12's exercise checkers (compound scaling, fast normalised fusion).

Per checker: the model solution passes, typical wrong answers fail with their hint, a stub is
reported as not attempted, bad arguments raise.
"""

from __future__ import annotations

import math

import pytest
import torch

from dlcv_utils.course import exercises as ex


def scaling_width_not_rounded(phi):
    return 512 + 128 * phi, 64 * 1.35**phi, 3 + phi, 3 + phi // 3


def scaling_head_grows_every_phi(phi):
    r, w, d, _ = ex.solution_compound_scaling(phi)
    return r, w, d, 3 + phi


def scaling_width_floor(phi):
    r, _, d, h = ex.solution_compound_scaling(phi)
    return r, 8 * math.floor(64 * 1.35**phi / 8), d, h


def fusion_no_relu(inputs, weights, eps=1e-4):
    return sum(w / (weights.sum() + eps) * x for w, x in zip(weights, inputs))


def fusion_mean(inputs, weights, eps=1e-4):
    w = torch.relu(weights)
    return sum(wi / len(inputs) * x for wi, x in zip(w, inputs))


def fusion_no_eps(inputs, weights, eps=1e-4):
    w = torch.relu(weights)
    return sum(wi / w.sum() * x for wi, x in zip(w, inputs))


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("checker", "right", "wrongs"),
    [
        (
            ex.check_compound_scaling,
            ex.solution_compound_scaling,
            [
                (scaling_width_not_rounded, "phi = 1", "nearest multiple of 8"),
                (scaling_head_grows_every_phi, "phi = 1", ""),
                (scaling_width_floor, "phi = 1", "nearest multiple of 8"),
            ],
        ),
        (
            ex.check_fast_fusion,
            ex.solution_fast_fusion,
            [
                (fusion_no_relu, "a negative weight", "ReLU first"),
                (fusion_mean, "two equal weights", "2.0001"),
                (fusion_no_eps, "two equal weights", "2.0001"),
            ],
        ),
    ],
)
def test_checkers(checker, right, wrongs, capsys):
    assert checker(right) is True
    assert "✓" in capsys.readouterr().out
    for wrong, case, hint in wrongs:
        assert checker(wrong) is False, wrong.__name__
        out = capsys.readouterr().out
        assert case in out, (wrong.__name__, out)
        assert hint in out, (wrong.__name__, out)
    assert checker(stub) is False
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError):
        checker("not a function")


def test_solution_scaling_by_arithmetic():
    assert ex.solution_compound_scaling(1) == (640, 88, 4, 3)
    assert ex.solution_compound_scaling(7) == (512 + 128 * 7, 8 * round(64 * 1.35**7 / 8), 10, 5)
    with pytest.raises(ValueError):
        ex.check_fast_fusion(ex.solution_fast_fusion, n_random=-1)
