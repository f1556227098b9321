"""Lesson 12's exercises: EfficientDet's compound-scaling rules, and fast normalised fusion.

Taught in lesson 12. The references are :func:`dlcv_utils.models.efficientdet.compound_scaling`
(the paper's rules) and :func:`dlcv_utils.models.bifpn.fast_normalized_fusion` (checked in the
lesson against ``effdet``'s BiFPN).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    check_callable,
    check_n_random,
    close,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_compound_scaling",
    "check_fast_fusion",
    "solution_compound_scaling",
    "solution_fast_fusion",
]


# ------------------------------------------------------------------------------ solutions
def solution_compound_scaling(phi: int) -> tuple[int, int, int, int]:
    """Model solution: ``(resolution, BiFPN width, BiFPN depth, head depth)`` by the rules.

    ``R = 512 + 128 phi``; ``W = 64 * 1.35**phi`` rounded to the nearest multiple of 8;
    ``D_bifpn = 3 + phi``; ``D_head = 3 + floor(phi / 3)``.

    Example:
        >>> solution_compound_scaling(0), solution_compound_scaling(4)
        ((512, 64, 3, 3), (1024, 216, 7, 4))
    """
    width = 8 * round(64 * 1.35**phi / 8)
    return 512 + 128 * phi, width, 3 + phi, 3 + phi // 3


def solution_fast_fusion(inputs, weights, eps: float = 1e-4):
    """Model solution: ``sum_i relu(w_i) / (eps + sum_j relu(w_j)) * inputs[i]``.

    Example:
        >>> import torch
        >>> out = solution_fast_fusion([torch.ones(2), torch.zeros(2)], torch.tensor([3.0, 1.0]))
        >>> [round(v, 4) for v in out.tolist()]
        [0.75, 0.75]
    """
    import torch

    w = torch.relu(weights)
    w = w / (w.sum() + eps)
    return sum(w[i] * x for i, x in enumerate(inputs))


SOLUTIONS: dict[str, Callable] = {
    "compound_scaling": solution_compound_scaling,
    "fast_fusion": solution_fast_fusion,
}


# ------------------------------------------------------------------------------ scaling
def _scaling_cases():
    from dlcv_utils.models.efficientdet import compound_scaling

    hints = {
        0: "D0: 512 px, W = 64, 3 BiFPN layers, 3 head layers.",
        1: "W = 64 * 1.35 = 86.4, rounded to the nearest multiple of 8: 88.",
        2: "R = 512 + 128 phi; D_bifpn = 3 + phi.",
        3: "D_head = 3 + floor(phi / 3): 4 from phi = 3 on.",
        4: "W = 64 * 1.35**4 = 212.6 -> 216 by the rule (the paper's table says 224).",
        6: "D_head = 3 + phi // 3 = 5 at phi = 6.",
    }
    cases = []
    for phi in range(8):
        s = compound_scaling(phi)
        expected = np.array([s.image_size, s.width, s.bifpn_layers, s.head_layers])
        cases.append((f"phi = {phi}", (phi,), expected, hints.get(phi, "")))
    return cases


def check_compound_scaling(fn: Callable) -> bool:
    """Check ``fn(phi) -> (resolution, width, bifpn_layers, head_layers)`` for ``phi = 0..7``.

    Returns:
        ``True`` when all 8 agree with the paper's rules; otherwise prints the first failing
        ``phi`` and returns ``False``.

    Example:
        >>> check_compound_scaling(solution_compound_scaling)
        ✓ solution_compound_scaling passes all 8 cases (phi = 0..7).
        True
    """
    check_callable(fn, "fn(phi) -> (resolution, width, bifpn_layers, head_layers)")
    return run_cases(
        fn,
        _scaling_cases(),
        lambda f, inputs: f(*inputs),
        lambda got, exp: close(got, exp, atol=0),
        "phi = 0..7",
        0,
    )


# ------------------------------------------------------------------------------ fusion
def _fusion_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.models.bifpn import fast_normalized_fusion

    def case(name, inputs, weights, hint):
        inputs = [torch.tensor(np.asarray(x, np.float32)) for x in inputs]
        w = torch.tensor(weights, dtype=torch.float32)
        return (name, (inputs, w), fast_normalized_fusion(inputs, w).numpy(), hint)

    hand = [
        case(
            "two equal weights",
            [[1.0, 2.0], [3.0, 4.0]],
            [1.0, 1.0],
            "divide by (sum of the ReLU'd weights + eps): (a + b) / 2.0001, not the plain mean.",
        ),
        case(
            "unequal weights",
            [[1.0, 0.0], [0.0, 1.0]],
            [3.0, 1.0],
            "divide each weight by the SUM of the weights (+ eps), not by their number.",
        ),
        case(
            "a negative weight",
            [[1.0, 1.0], [5.0, 5.0]],
            [-2.0, 1.0],
            "ReLU first: a negative weight counts as 0 (in the sum too).",
        ),
        case(
            "all weights zero",
            [[1.0], [2.0]],
            [0.0, 0.0],
            "eps = 1e-4 in the denominator keeps 0 / 0 away: the output is 0.",
        ),
        case("three inputs", [[1.0], [2.0], [4.0]], [0.5, 1.0, 2.0], ""),
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 4))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), 3, 3)
        inputs = [rng.normal(size=shape) for _ in range(n)]
        hand.append(case(f"random #{i}", inputs, rng.normal(size=n).tolist(), ""))
    return hand


def check_fast_fusion(fn: Callable, n_random: int = 20, seed: int = 0) -> bool:
    """Check ``fn(inputs, weights) -> fused tensor`` (fast normalised fusion, ``eps = 1e-4``).

    Example:
        >>> check_fast_fusion(solution_fast_fusion, n_random=2)
        ✓ solution_fast_fusion passes all 7 cases (edge cases + 2 random fusions).
        True
    """
    check_callable(fn, "fn(inputs, weights) -> tensor")
    check_n_random(n_random)
    return run_cases(
        fn,
        _fusion_cases(n_random, seed),
        lambda f, inputs: f([x.clone() for x in inputs[0]], inputs[1].clone()),
        lambda got, exp: close(got, exp, atol=1e-5),
        "edge cases + {n_random} random fusions",
        n_random,
    )
