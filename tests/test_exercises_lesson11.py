"""Tests for lesson 11's exercise checkers (focal loss, share of easy examples)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from dlcv_utils.course import exercises as ex
from dlcv_utils.ops.losses import easy_loss_share


def focal_no_alpha(logits, targets, alpha, gamma):
    return sigmoid_focal_loss(logits, targets, -1, gamma)


def focal_p_not_pt(logits, targets, alpha, gamma):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    loss = ce * (1 - p) ** gamma  # uses p, not p_t
    return (alpha * targets + (1 - alpha) * (1 - targets)) * loss if alpha >= 0 else loss


def focal_unstable(logits, targets, alpha, gamma):
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = -torch.log(p_t) * (1 - p_t) ** gamma
    return (alpha * targets + (1 - alpha) * (1 - targets)) * loss if alpha >= 0 else loss


def focal_alpha_swapped(logits, targets, alpha, gamma):
    return sigmoid_focal_loss(logits, targets, 1 - alpha if alpha >= 0 else alpha, gamma)


def share_ce(logits, targets, alpha, gamma):
    return easy_loss_share(logits, targets, -1, 0.0)


def share_ge(logits, targets, alpha, gamma):
    loss = sigmoid_focal_loss(logits, targets, alpha, gamma)
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    return float(loss[p_t >= 0.5].sum() / loss.sum())


def share_of_count(logits, targets, alpha, gamma):
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    return float((p_t > 0.5).float().mean())


CHECKERS = [
    (
        ex.check_focal_loss,
        ex.solution_focal_loss,
        [
            (focal_no_alpha, "p = 0.5, one positive, one negative", "alpha_t is alpha"),
            (focal_p_not_pt, "a confident negative", "p_t is the probability"),
            (focal_unstable, "large logits", "binary_cross_entropy_with_logits"),
            (focal_alpha_swapped, "p = 0.5, one positive, one negative", "alpha_t is alpha"),
        ],
    ),
    (
        ex.check_easy_share,
        ex.solution_easy_share,
        [
            (share_ce, "the same with gamma 2", "use the focal loss"),
            (share_ge, "three easy negatives and a hard one, cross-entropy", "p_t > 0.5"),
            (share_of_count, "three easy negatives and a hard one, cross-entropy", "summed loss"),
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


def test_solutions_match_references():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, generator=g) * 3
    t = (torch.rand(200, generator=g) < 0.1).float()
    for alpha, gamma in ((0.25, 2.0), (-1.0, 0.0), (0.5, 1.0)):
        torch.testing.assert_close(
            ex.solution_focal_loss(x, t, alpha, gamma), sigmoid_focal_loss(x, t, alpha, gamma)
        )
        assert ex.solution_easy_share(x, t, alpha, gamma) == pytest.approx(
            easy_loss_share(x, t, alpha, gamma), rel=1e-5
        )


def test_solutions_are_registered(capsys):
    ex.show_solution("focal_loss")
    assert "def solution_focal_loss" in capsys.readouterr().out
    assert ex.SOLUTIONS["easy_share"] is ex.solution_easy_share
