"""Lesson 11's exercises: the focal loss, and the share of a loss that comes from easy examples.

Taught in lesson 11. The references are ``torchvision.ops.sigmoid_focal_loss`` (the same numbers
as :func:`dlcv_utils.ops.losses.focal_loss`) and :func:`dlcv_utils.ops.losses.easy_loss_share`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    check_callable,
    check_n_random,
    close,
    close_float,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_easy_share",
    "check_focal_loss",
    "solution_easy_share",
    "solution_focal_loss",
]


# ------------------------------------------------------------------------------ solutions
def solution_focal_loss(logits, targets, alpha: float = 0.25, gamma: float = 2.0):
    """Model solution: the focal loss of every element, ``-alpha_t (1 - p_t)^gamma log(p_t)``.

    ``alpha < 0`` means no alpha weighting. ``-log(p_t)`` is computed as the binary
    cross-entropy on the logits (stable for large logits).

    Example:
        >>> import torch
        >>> round(solution_focal_loss(torch.zeros(1), torch.ones(1)).item(), 6)  # 0.25 * 0.5**2 * ln 2
        0.043322
    """
    import torch
    import torch.nn.functional as F

    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # -log(p_t)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss


def solution_easy_share(logits, targets, alpha: float = 0.25, gamma: float = 2.0) -> float:
    """Model solution: the share of the summed focal loss from examples with ``p_t > 0.5``.

    Example:
        >>> import torch
        >>> round(solution_easy_share(torch.tensor([-5.0, 0.0]), torch.zeros(2), -1, 0.0), 4)
        0.0096
    """
    import torch

    loss = solution_focal_loss(logits, targets, alpha, gamma)
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    total = loss.sum()
    if total == 0:
        return 0.0
    return float(loss[p_t > 0.5].sum() / total)


SOLUTIONS: dict[str, Callable] = {
    "focal_loss": solution_focal_loss,
    "easy_share": solution_easy_share,
}


# ------------------------------------------------------------------------------ cases
def _random_case(rng, n: int):
    import torch

    logits = torch.tensor(rng.normal(0, 4, n), dtype=torch.float32)
    targets = torch.tensor((rng.random(n) < 0.2).astype(np.float32))
    return logits, targets


def _focal_cases(n_random: int, seed: int):
    import torch
    from torchvision.ops import sigmoid_focal_loss

    t = torch.tensor
    hand = [
        (
            "p = 0.5, one positive, one negative",
            (t([0.0, 0.0]), t([1.0, 0.0]), 0.25, 2.0),
            "alpha_t is alpha for a positive (target 1) and 1 - alpha for a negative.",
        ),
        (
            "gamma 0, no alpha: cross-entropy",
            (t([2.0, -1.0, 3.0]), t([1.0, 0.0, 0.0]), -1.0, 0.0),
            "alpha < 0 means: no alpha weighting at all; gamma 0 leaves plain cross-entropy.",
        ),
        (
            "a confident negative",
            (t([-6.0, 6.0]), t([0.0, 0.0]), 0.25, 2.0),
            "p_t is the probability of the RIGHT answer: 1 - p for a negative (target 0).",
        ),
        (
            "large logits",
            (t([40.0, -40.0, 40.0]), t([1.0, 1.0, 0.0]), 0.25, 2.0),
            "compute -log(p_t) from the logits (binary_cross_entropy_with_logits), "
            "not log(sigmoid(x)), which gives inf or nan for large |x|.",
        ),
        (
            "gamma 5, alpha 0.75",
            (t([0.5, -0.5, 1.0]), t([1.0, 0.0, 0.0]), 0.75, 5.0),
            "the modulating factor is (1 - p_t) ** gamma.",
        ),
    ]
    cases = []
    for name, args, hint in hand:
        cases.append((name, args, sigmoid_focal_loss(*args).numpy(), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        logits, targets = _random_case(rng, int(rng.integers(1, 60)))
        alpha = float(rng.choice([0.25, 0.5, -1.0]))
        gamma = float(rng.choice([0.0, 1.0, 2.0, 3.5]))
        args = (logits, targets, alpha, gamma)
        name = f"random #{i} ({len(logits)} outputs, alpha {alpha:g}, gamma {gamma:g})"
        cases.append((name, args, sigmoid_focal_loss(*args).numpy(), ""))
    return cases


def _call(fn, inputs):
    logits, targets, alpha, gamma = inputs
    return fn(logits.clone(), targets.clone(), alpha, gamma)


def check_focal_loss(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(logits, targets, alpha, gamma) -> loss per element`` (no reduction).

    ``logits`` and ``targets`` are float32 ``Tensor[N]`` (targets 0 or 1); ``alpha < 0`` means
    no alpha weighting. Reference: ``torchvision.ops.sigmoid_focal_loss(..., reduction="none")``.

    Args:
        fn: the learner's function.
        n_random: how many seeded random cases to add to the hand-made ones.
        seed: seed of the random cases.

    Returns:
        ``True`` when every element agrees within ``1e-5``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_focal_loss(solution_focal_loss, n_random=3)
        ✓ solution_focal_loss passes all 8 cases (edge cases + 3 random cases).
        True
    """
    check_callable(fn, "fn(logits, targets, alpha, gamma) -> loss")
    check_n_random(n_random)
    return run_cases(
        fn,
        _focal_cases(n_random, seed),
        _call,
        lambda got, expected: close(got, expected, atol=1e-5),
        "edge cases + {n_random} random cases",
        n_random,
    )


def _share_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.ops.losses import easy_loss_share

    t = torch.tensor
    hand = [
        (
            "three easy negatives and a hard one, cross-entropy",
            (t([-5.0, -5.0, -5.0, 0.0]), t([0.0, 0.0, 0.0, 0.0]), -1.0, 0.0),
            "easy means p_t > 0.5 (the right answer is more likely than not); "
            "divide their summed loss by the total.",
        ),
        (
            "the same with gamma 2",
            (t([-5.0, -5.0, -5.0, 0.0]), t([0.0, 0.0, 0.0, 0.0]), -1.0, 2.0),
            "use the focal loss with this gamma, not the cross-entropy.",
        ),
        (
            "an easy positive",
            (t([4.0, -1.0]), t([1.0, 1.0]), 0.25, 2.0),
            "for a positive, p_t = p = sigmoid(logit).",
        ),
        (
            "p_t exactly 0.5 is not easy",
            (t([0.0, -3.0]), t([1.0, 0.0]), 0.25, 2.0),
            "easy is p_t > 0.5, strictly.",
        ),
        (
            "no hard examples",
            (t([-8.0, 8.0]), t([0.0, 1.0]), 0.25, 2.0),
            "",
        ),
    ]
    cases = [(name, args, easy_loss_share(*args), hint) for name, args, hint in hand]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        logits, targets = _random_case(rng, int(rng.integers(2, 200)))
        gamma = float(rng.choice([0.0, 0.5, 2.0, 4.0]))
        args = (logits, targets, 0.25, gamma)
        name = f"random #{i} ({len(logits)} outputs, gamma {gamma:g})"
        cases.append((name, args, easy_loss_share(*args), ""))
    return cases


def check_easy_share(fn: Callable, n_random: int = 50, seed: int = 0) -> bool:
    """Check ``fn(logits, targets, alpha, gamma) -> float``: the easy examples' share of the loss.

    An example is *easy* when ``p_t > 0.5``; the share is their summed focal loss over the
    total focal loss (reference :func:`dlcv_utils.ops.losses.easy_loss_share`).

    Args:
        fn: the learner's function.
        n_random: how many seeded random cases to add to the hand-made ones.
        seed: seed of the random cases.

    Returns:
        ``True`` when every share agrees within ``1e-4``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_easy_share(solution_easy_share, n_random=3)
        ✓ solution_easy_share passes all 8 cases (edge cases + 3 random cases).
        True
    """
    check_callable(fn, "fn(logits, targets, alpha, gamma) -> share")
    check_n_random(n_random)
    return run_cases(
        fn,
        _share_cases(n_random, seed),
        _call,
        lambda got, expected: close_float(got, expected, atol=1e-4),
        "edge cases + {n_random} random cases",
        n_random,
    )
