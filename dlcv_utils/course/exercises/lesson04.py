"""Lesson 04's exercises: the box-regression code (encode and decode) and RoI max pooling.

Taught in lesson 04. The references are :func:`dlcv_utils.ops.box_coder.encode` /
:func:`~dlcv_utils.ops.box_coder.decode` (which match torchvision's ``BoxCoder``) and
``torchvision.ops.roi_pool``.
"""

from __future__ import annotations

import math
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
    "check_decode",
    "check_encode",
    "check_roi_max_pool",
    "solution_decode",
    "solution_encode",
    "solution_roi_max_pool",
]


# ------------------------------------------------------------------------------ solutions
def solution_encode(gt_boxes, proposals):
    """Model solution: deltas ``(dx, dy, dw, dh)`` that move each proposal onto its target.

    ``dx = (gx - px) / pw``, ``dy = (gy - py) / ph``, ``dw = log(gw / pw)``,
    ``dh = log(gh / ph)``, with centres ``(x, y)`` and sizes ``(w, h)`` (R-CNN, weights 1).

    Args:
        gt_boxes: ``Tensor[N, 4]`` xyxy targets.
        proposals: ``Tensor[N, 4]`` xyxy proposals.

    Returns:
        ``Tensor[N, 4]`` deltas.

    Example:
        >>> import torch
        >>> solution_encode(torch.tensor([[5.0, 0, 15, 20]]), torch.tensor([[0.0, 0, 10, 10]]))
        tensor([[0.5000, 0.5000, 0.0000, 0.6931]])
    """
    import torch

    pw = proposals[:, 2] - proposals[:, 0]
    ph = proposals[:, 3] - proposals[:, 1]
    px = proposals[:, 0] + 0.5 * pw
    py = proposals[:, 1] + 0.5 * ph
    gw = gt_boxes[:, 2] - gt_boxes[:, 0]
    gh = gt_boxes[:, 3] - gt_boxes[:, 1]
    gx = gt_boxes[:, 0] + 0.5 * gw
    gy = gt_boxes[:, 1] + 0.5 * gh
    return torch.stack(
        [(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)], dim=1
    )


def solution_decode(deltas, proposals):
    """Model solution: apply ``(dx, dy, dw, dh)`` to the proposals (the inverse of encode).

    ``dw`` and ``dh`` are clipped at ``log(1000 / 16)`` before ``exp``, as torchvision does, so
    a wild prediction cannot overflow.

    Args:
        deltas: ``Tensor[N, 4]``.
        proposals: ``Tensor[N, 4]`` xyxy.

    Returns:
        ``Tensor[N, 4]`` xyxy boxes.

    Example:
        >>> import torch
        >>> solution_decode(torch.tensor([[0.5, 0.5, 0.0, math.log(2.0)]]),
        ...                 torch.tensor([[0.0, 0, 10, 10]]))
        tensor([[ 5.,  0., 15., 20.]])
    """
    import torch

    pw = proposals[:, 2] - proposals[:, 0]
    ph = proposals[:, 3] - proposals[:, 1]
    px = proposals[:, 0] + 0.5 * pw
    py = proposals[:, 1] + 0.5 * ph
    dx, dy = deltas[:, 0], deltas[:, 1]
    clip = math.log(1000.0 / 16)
    dw = deltas[:, 2].clamp(max=clip)
    dh = deltas[:, 3].clamp(max=clip)
    cx, cy = px + dx * pw, py + dy * ph
    w, h = pw * torch.exp(dw), ph * torch.exp(dh)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def solution_roi_max_pool(features, roi, output_size: int, spatial_scale: float):
    """Model solution: RoI max pooling of ONE RoI (Fast R-CNN, as ``torchvision.ops.roi_pool``).

    Args:
        features: ``Tensor[C, H, W]`` feature map of one image.
        roi: ``(x1, y1, x2, y2)`` in image pixels.
        output_size: ``P``: the RoI is split into ``P x P`` bins.
        spatial_scale: feature cells per image pixel (``1 / stride``).

    Returns:
        ``Tensor[C, P, P]``: the maximum of each bin (0 for an empty bin).

    Example:
        >>> import torch
        >>> x = torch.arange(16.0).reshape(1, 4, 4)
        >>> solution_roi_max_pool(x, (0, 0, 3, 3), 2, 1.0)
        tensor([[[ 5.,  7.],
                 [13., 15.]]])
    """
    import torch

    c, height, width = features.shape

    def cell(v):  # round half away from zero, as C's round()
        return int(math.copysign(math.floor(abs(v) * spatial_scale + 0.5), v))

    x1, y1, x2, y2 = (cell(float(v)) for v in roi)
    roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)  # the end cell counts (Caffe)
    out = torch.zeros(c, output_size, output_size, dtype=features.dtype)
    for i in range(output_size):
        hs = min(max(y1 + math.floor(i * roi_h / output_size), 0), height)
        he = min(max(y1 + math.ceil((i + 1) * roi_h / output_size), 0), height)
        for j in range(output_size):
            ws = min(max(x1 + math.floor(j * roi_w / output_size), 0), width)
            we = min(max(x1 + math.ceil((j + 1) * roi_w / output_size), 0), width)
            if he > hs and we > ws:
                out[:, i, j] = features[:, hs:he, ws:we].amax(dim=(1, 2))
    return out


SOLUTIONS: dict[str, Callable] = {
    "encode": solution_encode,
    "decode": solution_decode,
    "roi_max_pool": solution_roi_max_pool,
}


# ------------------------------------------------------------------------------ encode
def _random_boxes(rng, n: int, lo: float = 1.0):
    xy = rng.uniform(-20, 200, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(lo, 120, (n, 2))], axis=1)


def _box_pairs():
    return [
        (
            "identical boxes",
            [[0, 0, 10, 10]],
            [[0, 0, 10, 10]],
            "a perfect proposal needs no move: all deltas 0.",
        ),
        (
            "shift right by half a width",
            [[5, 0, 15, 10]],
            [[0, 0, 10, 10]],
            "dx is the centre shift divided by the PROPOSAL's width: 5 / 10 = 0.5.",
        ),
        (
            "twice as tall",
            [[0, -5, 10, 15]],
            [[0, 0, 10, 10]],
            "dh = log(gh / ph) = log(2); same centre, so dy = 0.",
        ),
        (
            "non-square proposal",
            [[10, 10, 50, 30]],
            [[0, 0, 80, 20]],
            "divide x quantities by widths and y quantities by heights.",
        ),
        (
            "negative coordinates",
            [[-30, -10, -10, 10]],
            [[-20, -20, 0, 0]],
            "use centres, not corners: cx = x1 + w / 2.",
        ),
        (
            "several boxes at once",
            [[0, 0, 10, 10], [20, 20, 40, 60], [5, 5, 6, 6]],
            [[1, 1, 11, 11], [18, 25, 38, 50], [4, 4, 8, 8]],
            "work on whole columns (boxes[:, 0] ...), one row per box.",
        ),
    ]


def _encode_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.ops.box_coder import encode

    cases = []
    for name, g, p, hint in _box_pairs():
        g, p = torch.tensor(g, dtype=torch.float64), torch.tensor(p, dtype=torch.float64)
        cases.append((name, (g, p), encode(g, p).numpy(), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 20))
        g = torch.tensor(_random_boxes(rng, n))
        p = torch.tensor(_random_boxes(rng, n))
        cases.append((f"random set #{i} ({n} boxes)", (g, p), encode(g, p).numpy(), ""))
    return cases


def check_encode(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(gt_boxes, proposals) -> deltas``, the R-CNN box code, against the package.

    Inputs are float64 ``Tensor[N, 4]`` xyxy boxes; the result must be a ``[N, 4]`` tensor or
    array of ``(dx, dy, dw, dh)`` equal to :func:`dlcv_utils.ops.box_coder.encode` (weights
    1, same as torchvision's ``BoxCoder((1, 1, 1, 1))``) within ``1e-6``.

    Args:
        fn: the learner's function.
        n_random: how many seeded random box sets to add to the hand-made ones.
        seed: seed of the random sets.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_encode(solution_encode, n_random=3)
        ✓ solution_encode passes all 9 cases (edge cases + 3 random box sets).
        True
    """
    check_callable(fn, "fn(gt_boxes, proposals) -> deltas")
    check_n_random(n_random)
    return run_cases(
        fn,
        _encode_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), inputs[1].clone()),
        lambda got, exp: close(got, exp, atol=1e-6),
        "edge cases + {n_random} random box sets",
        n_random,
    )


# ------------------------------------------------------------------------------ decode
def _decode_cases(n_random: int, seed: int):
    import torch

    from dlcv_utils.ops.box_coder import decode, encode

    cases = []
    for name, g, p, hint in _box_pairs():
        g, p = torch.tensor(g, dtype=torch.float64), torch.tensor(p, dtype=torch.float64)
        d = encode(g, p)
        hint = hint.replace("dx is the centre shift divided by", "the centre moves by dx times")
        cases.append((name, (d, p), decode(d, p).numpy(), hint))
    p = torch.tensor([[0.0, 0, 10, 10], [0, 0, 20, 10]], dtype=torch.float64)
    d = torch.tensor([[0.0, 0, 10.0, 10.0], [0.1, -0.2, 50.0, -1.0]], dtype=torch.float64)
    cases.append(
        (
            "huge dw, dh are clipped",
            (d, p),
            decode(d, p).numpy(),
            "clip dw and dh at log(1000 / 16) before exp, as torchvision does "
            "(exp(50) would overflow float32).",
        )
    )
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 20))
        p = torch.tensor(_random_boxes(rng, n))
        d = torch.tensor(rng.normal(0, 0.5, (n, 4)))
        cases.append((f"random set #{i} ({n} boxes)", (d, p), decode(d, p).numpy(), ""))
    return cases


def check_decode(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(deltas, proposals) -> boxes``, the inverse of the box code, against the package.

    Inputs are float64 ``Tensor[N, 4]``; the result must be ``[N, 4]`` xyxy boxes equal to
    :func:`dlcv_utils.ops.box_coder.decode` (weights 1, ``dw``/``dh`` clipped at
    ``log(1000 / 16)``) within ``1e-4`` px.

    Args:
        fn: the learner's function.
        n_random: how many seeded random sets to add to the hand-made ones.
        seed: seed of the random sets.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_decode(solution_decode, n_random=3)
        ✓ solution_decode passes all 10 cases (edge cases + 3 random box sets).
        True
    """
    check_callable(fn, "fn(deltas, proposals) -> boxes")
    check_n_random(n_random)
    return run_cases(
        fn,
        _decode_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), inputs[1].clone()),
        lambda got, exp: close(got, exp, atol=1e-4),
        "edge cases + {n_random} random box sets",
        n_random,
    )


# ------------------------------------------------------------------------------ RoI pool
def _roi_cases(n_random: int, seed: int):
    import torch
    from torchvision.ops import roi_pool

    def ref(feat, roi, size, scale):
        rois = torch.tensor([[0.0, *roi]], dtype=feat.dtype)
        return roi_pool(feat[None], rois, size, scale)[0].numpy()

    ramp = torch.arange(64.0).reshape(1, 8, 8)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(3, 16, 16, generator=gen)
    hand = [
        (
            "4 x 4 map, 2 x 2 bins",
            torch.arange(16.0).reshape(1, 4, 4),
            (0, 0, 3, 3),
            2,
            1.0,
            "the RoI (0, 0, 3, 3) covers cells 0..3 INCLUSIVE: 4 x 4 cells, 2 x 2 per bin.",
        ),
        (
            "the end cell counts",
            ramp,
            (0, 0, 3, 3),
            2,
            1.0,
            "the RoI covers cells x1..x2 INCLUSIVE: width = x2 - x1 + 1 (the Caffe convention).",
        ),
        (
            "spatial scale 1/4",
            ramp,
            (4, 8, 27, 27),
            2,
            0.25,
            "multiply the RoI by spatial_scale and ROUND to whole cells first.",
        ),
        (
            "rounding half away from zero",
            ramp,
            (2, 6, 18, 22),
            2,
            0.25,
            "2 * 0.25 = 0.5 rounds to 1 (C's round), not to 0 (Python's round(0.5) == 0).",
        ),
        (
            "bins of unequal size",
            ramp,
            (0, 0, 4, 4),
            2,
            1.0,
            "5 cells into 2 bins: bin i covers floor(i * 5 / 2) .. ceil((i + 1) * 5 / 2), so the "
            "bins overlap.",
        ),
        (
            "more bins than cells",
            ramp,
            (1, 1, 2, 2),
            4,
            1.0,
            "with more bins than cells, neighbouring bins repeat the same cell.",
        ),
        (
            "RoI partly outside the map",
            ramp,
            (-10, -10, 3, 3),
            2,
            1.0,
            "clip the bin edges to the map: 0 <= start, end <= H (or W).",
        ),
        (
            "RoI completely outside the map",
            ramp,
            (20, 20, 30, 30),
            2,
            1.0,
            "an empty bin gives 0 (not -inf).",
        ),
        (
            "several channels",
            noise,
            (3, 5, 40, 50),
            3,
            0.25,
            "pool every channel: max over (H, W) only.",
        ),
        ("7 x 7 bins", noise, (0, 0, 63, 63), 7, 0.25, ""),
    ]
    cases = []
    for name, feat, roi, size, scale, hint in hand:
        roi = tuple(float(v) for v in roi)
        cases.append((name, (feat, roi, size, scale), ref(feat, roi, size, scale), hint))
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(4, 20)), int(rng.integers(4, 20))
        feat = torch.tensor(rng.normal(0, 1, (c, h, w)), dtype=torch.float32)
        scale = float(rng.choice([1.0, 0.5, 0.25, 0.125]))
        xy = rng.uniform(-10, w / scale, 2)
        roi = tuple(float(v) for v in np.concatenate([xy, xy + rng.uniform(0, w / scale, 2)]))
        size = int(rng.integers(1, 8))
        cases.append(
            (
                f"random RoI #{i}",
                (feat, roi, size, scale),
                ref(feat, roi, size, scale),
                "",
            )
        )
    return cases


def check_roi_max_pool(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(features, roi, output_size, spatial_scale) -> Tensor[C, P, P]`` for ONE RoI.

    ``features`` is a ``Tensor[C, H, W]``, ``roi`` an ``(x1, y1, x2, y2)`` tuple in image
    pixels; the reference is ``torchvision.ops.roi_pool`` (quantise the RoI with
    ``round(v * spatial_scale)``, end cell included, bins ``floor(i * n / P) .. ceil((i + 1)
    * n / P)``, max per bin, 0 for an empty bin).

    Args:
        fn: the learner's function.
        n_random: how many seeded random RoIs to add to the hand-made ones.
        seed: seed of the random cases.

    Returns:
        ``True`` when every case agrees within ``1e-5``; otherwise prints the first failing
        case and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.
        ValueError: for a negative ``n_random``.

    Example:
        >>> check_roi_max_pool(solution_roi_max_pool, n_random=3)
        ✓ solution_roi_max_pool passes all 13 cases (edge cases + 3 random RoIs).
        True
    """
    check_callable(fn, "fn(features, roi, output_size, spatial_scale) -> Tensor[C, P, P]")
    check_n_random(n_random)
    return run_cases(
        fn,
        _roi_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), inputs[1], inputs[2], inputs[3]),
        lambda got, exp: close(got, exp, atol=1e-5),
        "edge cases + {n_random} random RoIs",
        n_random,
    )
