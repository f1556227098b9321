"""Lesson 06's FPN-level widget: which pyramid level an RoI of a given size is pooled from.

Taught in lesson 06. The FPN paper's rule (eq. 1) sends an RoI of side ``s = sqrt(w h)`` to
level ``k = floor(k0 + log2(s / 224))``, clamped to the levels there are (``k0 = 4``: a 224-px
RoI pools from P4). This course's anchors are 4 times smaller than the paper's (8 px at stride 4
instead of 32), so the same rule *scaled* to them uses a canonical size of ``224 / 4 = 56`` px.
:func:`fpn_level_panel` computes both levels and, given axes, draws the RoI over an image with
the cell grid of the chosen level, and the two rules as step curves. :func:`make_fpn_level_widget`
only wires a slider to it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fpn_level", "fpn_level_panel", "make_fpn_level_widget"]


def fpn_level(
    side: float,
    k_min: int = 2,
    k_max: int = 5,
    canonical_scale: float = 224,
    canonical_level: int = 4,
) -> int:
    """Pyramid level of an RoI of side ``side`` px: ``floor(k0 + log2(side / s0) + 1e-6)``, clamped.

    The ``1e-6`` is torchvision's (``LevelMapper``): it keeps exact powers of two on their level.
    A side of 0 maps to ``k_min``.

    Raises:
        ValueError: negative or non-finite ``side``, non-positive ``canonical_scale``, or
            ``k_min > k_max``.

    Example:
        >>> [fpn_level(s) for s in (12, 112, 224, 448, 2000)]
        [2, 3, 4, 5, 5]
        >>> fpn_level(56, canonical_scale=56)
        4
    """
    if isinstance(side, bool) or not isinstance(side, int | float | np.integer | np.floating):
        raise TypeError(f"side must be a number of pixels, got {side!r}")
    if not (math.isfinite(side) and side >= 0):
        raise ValueError(f"side must be a finite number >= 0, got {side!r}")
    if not canonical_scale > 0:
        raise ValueError(f"canonical_scale must be > 0, got {canonical_scale!r}")
    if k_min > k_max:
        raise ValueError(f"need k_min <= k_max, got k_min={k_min}, k_max={k_max}")
    if side == 0:
        return int(k_min)
    k = math.floor(canonical_level + math.log2(side / canonical_scale) + 1e-6)
    return int(min(max(k, k_min), k_max))


def fpn_level_panel(
    image,
    side: float,
    k_min: int = 2,
    k_max: int = 5,
    canonical_scale: float = 224,
    course_scale: float = 56,
    axes=None,
) -> dict:
    """Levels of a square RoI of ``side`` px under the paper's rule and the course's scaled rule.

    Level ``k`` has stride ``2 ** k`` (P2: 4 px ... P5: 32 px), so on an ``H x W`` image its map
    has ``ceil(H / 2**k) x ceil(W / 2**k)`` cells.

    Args:
        image: ``H x W x 3`` uint8 image or ``C x H x W`` float tensor; the RoI is centred on it.
        side: RoI side in pixels (a square RoI; any ``w x h`` with ``sqrt(w h) = side`` maps
            the same).
        k_min, k_max: the pyramid's levels (P2-P5 in torchvision's ``MultiScaleRoIAlign``).
        canonical_scale: the paper's canonical RoI side, 224 px.
        course_scale: the canonical side scaled to this course's anchors, 56 px.
        axes: ``(ax_image, ax_rule)`` to draw on; nothing is drawn when ``None``. Left: the
            image, the RoI and the cell grid of the course-rule level; right: level against
            RoI side for both rules, with the current side marked.

    Returns:
        ``dict`` with ``level_paper``, ``level_course`` (levels ``k``), ``stride`` (of the
        course-rule level), ``grid`` (its ``(rows, cols)`` on this image), ``cells_per_roi``
        (RoI side in cells of that level) and ``roi`` (the drawn ``[x1, y1, x2, y2]``).

    Example:
        >>> out = fpn_level_panel(np.zeros((128, 128, 3), np.uint8), 40)
        >>> out["level_paper"], out["level_course"], out["stride"], out["grid"]
        (2, 3, 8, (16, 16))
    """
    from dlcv_utils.viz.plotting import draw_boxes, show_image, to_numpy_image

    img = to_numpy_image(image)
    h, w = img.shape[:2]
    k_paper = fpn_level(side, k_min, k_max, canonical_scale)
    k_course = fpn_level(side, k_min, k_max, course_scale)
    stride = 2**k_course
    grid = (-(-h // stride), -(-w // stride))
    cx, cy = w / 2, h / 2
    roi = [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]
    out = {
        "level_paper": k_paper,
        "level_course": k_course,
        "stride": stride,
        "grid": grid,
        "cells_per_roi": side / stride,
        "roi": roi,
    }
    if axes is not None:
        ax_img, ax_rule = axes
        show_image(img, ax=ax_img)
        for x in range(0, w + 1, stride):
            ax_img.axvline(x - 0.5, color="white", linewidth=0.5, alpha=0.6)
        for y in range(0, h + 1, stride):
            ax_img.axhline(y - 0.5, color="white", linewidth=0.5, alpha=0.6)
        draw_boxes(ax_img, np.array([roi]), color="yellow", linewidth=2)
        ax_img.set_xlim(-0.5, w - 0.5)
        ax_img.set_ylim(h - 0.5, -0.5)
        ax_img.set_title(
            f"RoI {side:.0f} px -> P{k_course} (stride {stride}): {side / stride:.1f} cells wide"
        )
        sides = np.geomspace(4, 1024, 400)
        for scale, style, label in (
            (canonical_scale, "-", f"paper: {canonical_scale:g} px -> P4"),
            (course_scale, "--", f"course: {course_scale:g} px -> P4"),
        ):
            ks = [fpn_level(float(s), k_min, k_max, scale) for s in sides]
            ax_rule.step(sides, ks, style, where="post", label=label)
        ax_rule.axvline(side, color="tab:red", linewidth=1)
        ax_rule.set_xscale("log", base=2)
        ax_rule.set_yticks(range(k_min, k_max + 1), [f"P{k}" for k in range(k_min, k_max + 1)])
        ax_rule.set_xlabel("RoI side sqrt(w h), px")
        ax_rule.set_title(f"paper rule: P{k_paper}   course rule: P{k_course}")
        ax_rule.legend(loc="upper left", fontsize=8)
    return out


def make_fpn_level_widget(image, side: int = 40, max_side: int = 512):
    """A slider for the RoI side (px) wired to :func:`fpn_level_panel` on ``image``.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_fpn_level_widget(np.zeros((128, 128, 3), np.uint8))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= max_side:
        raise ValueError(f"side must be an int in [1, max_side={max_side}], got {side!r}")
    first: dict = {}

    def update(side):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        out = fpn_level_panel(image, side, axes=axes)
        text = (
            f"RoI side {side} px: paper rule P{out['level_paper']}, course rule "
            f"P{out['level_course']} ({out['grid'][0]} x {out['grid'][1]} cells, stride "
            f"{out['stride']})"
        )
        fig.tight_layout()
        show(fig, text, first)

    wid = static_class(widgets.interactive)(
        update,
        side=widgets.IntSlider(
            value=side,
            min=4,
            max=max_side,
            step=4,
            description="RoI side (px)",
            continuous_update=False,
            style=STYLE,
            layout=slider_layout(),
        ),
    )
    return finish(wid, first, "FPN level of an RoI: the paper's rule and the course's scaled rule")
