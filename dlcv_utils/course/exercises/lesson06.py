"""Lesson 06's exercises: the FPN level of an RoI, and a detector config that builds.

Taught in lesson 06. The level rule is checked against torchvision's ``LevelMapper`` (inside
``MultiScaleRoIAlign``); the config is built with :func:`dlcv_utils.toolbox.build_detector` and
the built model is inspected.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    as_array,
    check_callable,
    check_n_random,
    fmt,
    fn_name,
    report_fail,
    report_not_attempted,
    report_pass,
    run_cases,
)

__all__ = [
    "CONFIG_REQUIREMENTS",
    "SOLUTIONS",
    "check_detector_config",
    "check_fpn_level",
    "solution_detector_config",
    "solution_fpn_level",
]


# ------------------------------------------------------------------------------ solutions
def solution_fpn_level(boxes, k_min: int = 2, k_max: int = 5, canonical_scale: float = 224):
    """Model solution: FPN level ``k = floor(4 + log2(sqrt(w * h) / canonical_scale))``, clamped.

    Args:
        boxes: ``Tensor[N, 4]`` xyxy RoIs.
        k_min, k_max: the lowest and highest pyramid level there is.
        canonical_scale: the RoI side that maps to level 4 (224 px in the FPN paper).

    Returns:
        ``int64 Tensor[N]`` of levels ``k`` in ``[k_min, k_max]``.

    Example:
        >>> import torch
        >>> solution_fpn_level(torch.tensor([[0.0, 0, 224, 224], [0, 0, 112, 112]])).tolist()
        [4, 3]
    """
    import torch

    side = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    k = torch.floor(4 + torch.log2(side / canonical_scale) + 1e-6)  # eps: 112 px is exactly P3
    return k.clamp(k_min, k_max).long()


def solution_detector_config() -> dict:
    """Model solution: the config of :data:`CONFIG_REQUIREMENTS`, built on the tiny FPN config.

    Example:
        >>> solution_detector_config()["neck"]
        {'type': 'FPN', 'out_channels': 32, 'extra_pool': False}
    """
    from dlcv_utils.toolbox import get_config, merge_config

    return merge_config(
        get_config("faster_rcnn_tiny_fpn"),
        dict(
            data_preprocessor=dict(min_size=64, max_size=64),
            backbone=dict(type="TinyNet", widths=(16, 32, 64, 128), out_indices=(0, 1, 2, 3)),
            neck=dict(type="FPN", out_channels=32, extra_pool=False),
            rpn_head=dict(anchor_sizes=((16,), (32,), (64,), (128,))),
            roi_head=dict(num_classes=3),
        ),
    )


SOLUTIONS: dict[str, Callable] = {
    "fpn_level": solution_fpn_level,
    "detector_config": solution_detector_config,
}


# ------------------------------------------------------------------------------ FPN level
def _level_cases(n_random: int, seed: int):
    import torch
    from torchvision.ops.poolers import LevelMapper

    def ref(boxes, k_min, k_max, s0):
        return (LevelMapper(k_min, k_max, s0, 4)([boxes]) + k_min).numpy()

    def squares(*sides):
        return torch.tensor([[0.0, 0.0, s, s] for s in sides])

    hand = [
        (
            "the canonical box",
            squares(224),
            2,
            5,
            224,
            "a box of side canonical_scale maps to level 4 (add a tiny eps, 1e-6, before floor: "
            "log2 of an exact ratio can come out just below the whole number).",
        ),
        (
            "half and double",
            squares(112, 448),
            2,
            5,
            224,
            "halving the side goes one level down: k = floor(4 + log2(side / 224)).",
        ),
        (
            "exact powers of two",
            squares(56, 112, 224),
            2,
            5,
            224,
            "log2(112 / 224) is -1 only up to rounding: add a tiny eps (1e-6) before floor, as "
            "torchvision does.",
        ),
        (
            "clamped below",
            squares(4, 12, 30),
            2,
            5,
            224,
            "clamp to k_min: there is no level below the finest map.",
        ),
        (
            "clamped above",
            squares(900, 2000),
            2,
            5,
            224,
            "clamp to k_max: there is no level above the coarsest map.",
        ),
        (
            "non-square box",
            torch.tensor([[0.0, 0.0, 448.0, 112.0], [10, 20, 60, 420]]),
            2,
            5,
            224,
            "the side is sqrt(w * h), the geometric mean of width and height.",
        ),
        (
            "box not at the origin",
            torch.tensor([[300.0, 200.0, 524.0, 424.0]]),
            2,
            5,
            224,
            "use widths x2 - x1 and heights y2 - y1, not the corner coordinates.",
        ),
        (
            "other level range",
            squares(10, 100, 1000),
            3,
            6,
            224,
            "clamp to the k_min and k_max you are given.",
        ),
        (
            "a scaled-down canonical size (56 px)",
            squares(14, 28, 56, 112, 224),
            2,
            6,
            56,
            "divide by canonical_scale, the argument, not by a hard-coded 224.",
        ),
    ]
    cases = [
        (name, (b, k_min, k_max, s0), ref(b, k_min, k_max, s0), hint)
        for name, b, k_min, k_max, s0, hint in hand
    ]
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(1, 30))
        xy = rng.uniform(0, 800, (n, 2))
        b = torch.tensor(
            np.concatenate([xy, xy + np.exp(rng.uniform(np.log(2), np.log(1500), (n, 2)))], 1),
            dtype=torch.float32,
        )
        s0 = float(rng.choice([56, 112, 224]))
        cases.append((f"random RoIs #{i} ({n} boxes)", (b, 2, 5, s0), ref(b, 2, 5, s0), ""))
    return cases


def _compare_levels(got, expected) -> str | None:
    arr = as_array(got)
    if arr is None or arr.shape != expected.shape:
        return f"{fmt(got)} -- return one level per box (shape {expected.shape})"
    if not np.array_equal(arr, expected):
        if np.array_equal(arr + 2, expected) or np.array_equal(arr + 3, expected):
            return f"{fmt(arr)} -- return the level k itself, not its index among the levels"
        return fmt(arr)
    return None


def check_fpn_level(fn: Callable, n_random: int = 100, seed: int = 0) -> bool:
    """Check ``fn(boxes, k_min, k_max, canonical_scale) -> levels``, the FPN paper's eq. 1.

    ``boxes`` is a float ``Tensor[N, 4]`` xyxy; the result is the level ``k`` of each box,
    ``floor(4 + log2(sqrt(w * h) / canonical_scale))`` clamped to ``[k_min, k_max]``. The
    reference is torchvision's ``LevelMapper`` (which adds ``1e-6`` before the floor).

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
        >>> check_fpn_level(solution_fpn_level, n_random=3)
        ✓ solution_fpn_level passes all 12 cases (edge cases + 3 random box sets).
        True
    """
    check_callable(fn, "fn(boxes, k_min, k_max, canonical_scale) -> levels")
    check_n_random(n_random)
    return run_cases(
        fn,
        _level_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].clone(), *inputs[1:]),
        _compare_levels,
        "edge cases + {n_random} random box sets",
        n_random,
    )


# ------------------------------------------------------------------------------ config
#: What :func:`check_detector_config` asks of the learner's config, one check per line.
CONFIG_REQUIREMENTS = (
    "a Faster R-CNN (type 'FasterRCNN') that build_detector builds",
    "images kept at 64 px (data_preprocessor min_size = max_size = 64)",
    "a TinyNet backbone with widths (16, 32, 64, 128), all four stages",
    "an FPN neck with 32 channels and no extra pooled level: 4 pyramid levels",
    "one anchor size per level, 16, 32, 64, 128 px, ratios 0.5, 1, 2",
    "3 object classes (the predictor then has 4 outputs, with background)",
    "the built model runs on a 64 x 64 image in eval mode",
)


def _config_problems(cfg, model) -> list[tuple[int, str, str, str]]:
    """(requirement index, expected, got, hint) of every unmet requirement, in order."""
    import torch

    problems = []
    tf = model.transform
    if tuple(tf.min_size) != (64,) or tf.max_size != 64:
        problems.append(
            (
                1,
                "min_size (64,), max_size 64",
                f"min_size {tuple(tf.min_size)}, max_size {tf.max_size}",
                "set data_preprocessor=dict(min_size=64, max_size=64).",
            )
        )
    bb = cfg.get("backbone") or {}
    if (
        bb.get("type") != "TinyNet"
        or tuple(bb.get("widths", ())) != (16, 32, 64, 128)
        or tuple(bb.get("out_indices", (0, 1, 2, 3))) != (0, 1, 2, 3)
    ):
        problems.append(
            (
                2,
                "TinyNet, widths (16, 32, 64, 128), out_indices (0, 1, 2, 3)",
                repr(bb),
                "backbone=dict(type='TinyNet', widths=(16, 32, 64, 128), out_indices=(0, 1, 2, 3)).",
            )
        )
    levels = getattr(model.backbone, "num_levels", None)
    if model.backbone.out_channels != 32 or levels != 4:
        problems.append(
            (
                3,
                "32 channels, 4 levels",
                f"{model.backbone.out_channels} channels, {levels} levels",
                "neck=dict(type='FPN', out_channels=32, extra_pool=False): the extra pool adds a 5th level.",
            )
        )
    gen = model.rpn.anchor_generator
    sizes = tuple(tuple(float(v) for v in s) for s in gen.sizes)
    ratios = {tuple(float(v) for v in r) for r in gen.aspect_ratios}
    if sizes != ((16.0,), (32.0,), (64.0,), (128.0,)) or ratios != {(0.5, 1.0, 2.0)}:
        problems.append(
            (
                4,
                "sizes ((16,), (32,), (64,), (128,)), ratios (0.5, 1.0, 2.0)",
                f"sizes {sizes}, ratios {sorted(ratios)}",
                "rpn_head anchor_sizes is one tuple per level: ((16,), (32,), (64,), (128,)).",
            )
        )
    outputs = model.roi_heads.box_predictor.cls_score.out_features
    if outputs != 4:
        problems.append(
            (
                5,
                "4 predictor outputs",
                f"{outputs}",
                "roi_head num_classes counts object classes only: 3 (the toolbox adds background).",
            )
        )
    if not problems:
        model.eval()
        with torch.no_grad():
            out = model([torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))])
        if sorted(out[0]) != ["boxes", "labels", "scores"]:
            problems.append((6, "['boxes', 'labels', 'scores']", repr(sorted(out[0])), ""))
    return problems


def check_detector_config(fn: Callable) -> bool:
    """Check ``fn() -> dict``: a detector config meeting every line of :data:`CONFIG_REQUIREMENTS`.

    The config is built with :func:`dlcv_utils.toolbox.build_detector`; the built model's
    transform, backbone levels and channels, anchors and predictor are inspected, and it is
    run once on a random image.

    Args:
        fn: the learner's function; it takes no argument and returns the config dict.

    Returns:
        ``True`` when every requirement is met; otherwise prints the first unmet one (with
        the build error, if the config does not build) and returns ``False``.

    Raises:
        TypeError: if ``fn`` is not callable.

    Example:
        >>> check_detector_config(solution_detector_config)
        ✓ solution_detector_config passes all 7 cases (config requirements, built and run once).
        True
    """
    import copy

    from dlcv_utils.toolbox import build_detector

    check_callable(fn, "fn() -> config dict")
    name = fn_name(fn)
    try:
        cfg = fn()
    except NotImplementedError:
        return report_not_attempted(name)
    except Exception as exc:
        return report_fail(
            name,
            CONFIG_REQUIREMENTS[0],
            "fn()",
            "a config dict",
            f"{type(exc).__name__}: {exc}",
            "",
        )
    if not isinstance(cfg, dict):
        return report_fail(
            name,
            CONFIG_REQUIREMENTS[0],
            "fn()",
            "a config dict",
            fmt(cfg),
            "return the config dict (did you forget `return`?).",
        )
    if cfg.get("type") != "FasterRCNN":
        return report_fail(
            name,
            CONFIG_REQUIREMENTS[0],
            "config['type']",
            "'FasterRCNN'",
            repr(cfg.get("type")),
            "start from get_config('faster_rcnn_tiny_fpn').",
        )
    try:
        model = build_detector(copy.deepcopy(cfg))
    except Exception as exc:
        return report_fail(
            name,
            CONFIG_REQUIREMENTS[0],
            "build_detector(config)",
            "a model",
            f"{type(exc).__name__}: {exc}",
            "read the error: it names the block.",
        )
    try:
        problems = _config_problems(cfg, model)
    except Exception as exc:
        return report_fail(
            name,
            CONFIG_REQUIREMENTS[-1],
            "the built model",
            "it runs",
            f"{type(exc).__name__}: {exc}",
            "",
        )
    if problems:
        i, expected, got, hint = problems[0]
        return report_fail(name, CONFIG_REQUIREMENTS[i], "the built model", expected, got, hint)
    return report_pass(name, len(CONFIG_REQUIREMENTS), "config requirements, built and run once")
