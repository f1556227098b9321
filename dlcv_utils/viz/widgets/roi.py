"""Lesson 04's RoI-pooling widget: the bin grid of one RoI, its pooled features, and the cost.

Taught in lesson 04 (Fast R-CNN). :func:`roi_pool_panel` pools one RoI of a real feature map
with :func:`dlcv_utils.ops.roi.roi_pool` at a chosen ``output_size``, returns the quantised RoI,
the bin edges (in feature cells) and the pooled ``[C, P, P]`` features, times
``torchvision.ops.roi_pool`` on 1000 RoIs at that size, and, given axes, draws the feature map
with the RoI and its bins next to the pooled grid. :func:`make_roi_pool_widget` only wires an
``output_size`` slider (and a channel slider) to it.
"""

from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["make_roi_pool_widget", "roi_bins", "roi_pool_panel"]


def _round_half_away(v: float) -> int:
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def roi_bins(roi, output_size: int, spatial_scale: float, feature_hw: tuple[int, int]):
    """Quantised RoI and bin edges of RoI max pooling (Fast R-CNN / torchvision's rule).

    Args:
        roi: ``(x1, y1, x2, y2)`` in image pixels.
        output_size: ``P`` bins per side.
        spatial_scale: feature cells per image pixel.
        feature_hw: ``(H, W)`` of the feature map (edges are clipped to it).

    Returns:
        ``(cells, y_edges, x_edges)``: the RoI in whole cells ``(x1, y1, x2, y2)`` (end cell
        included), and per axis a ``[P, 2]`` int array of ``[start, end)`` cell ranges.

    Example:
        >>> cells, ys, xs = roi_bins((0, 0, 16, 16), 2, 0.25, (8, 8))
        >>> cells, xs.tolist()
        ((0, 0, 4, 4), [[0, 3], [2, 5]])
    """
    if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
        raise ValueError(f"output_size must be an int >= 1, got {output_size!r}")
    if not spatial_scale > 0:
        raise ValueError(f"spatial_scale must be > 0, got {spatial_scale!r}")
    x1, y1, x2, y2 = (_round_half_away(float(v) * spatial_scale) for v in roi)
    height, width = feature_hw
    edges = []
    for start, end, size in ((y1, y2, height), (x1, x2, width)):
        n = max(end - start + 1, 1)
        e = [
            (
                min(max(start + math.floor(i * n / output_size), 0), size),
                min(max(start + math.ceil((i + 1) * n / output_size), 0), size),
            )
            for i in range(output_size)
        ]
        edges.append(np.array(e, dtype=np.int64))
    return (x1, y1, x2, y2), edges[0], edges[1]


def roi_pool_panel(
    features,
    roi,
    output_size: int,
    spatial_scale: float,
    channel: int | None = None,
    n_timed: int = 1000,
    axes=None,
) -> dict:
    """RoI max pooling of one RoI of a real feature map, drawn and timed.

    Args:
        features: ``Tensor[C, H, W]`` (or ``[1, C, H, W]``) feature map of one image.
        roi: ``(x1, y1, x2, y2)`` in image pixels.
        output_size: ``P``: the RoI is pooled to ``P x P`` bins.
        spatial_scale: feature cells per image pixel (``1 / stride``).
        channel: the channel drawn; ``None`` draws the mean over channels of the map and of
            the pooled grid.
        n_timed: how many RoIs (jittered copies of ``roi``) ``torchvision.ops.roi_pool`` is
            timed on; 0 skips the timing.
        axes: ``(ax_map, ax_pooled)`` to draw on; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``pooled`` (``Tensor[C, P, P]``), ``cells`` (the quantised RoI),
        ``y_edges``/``x_edges`` (bin cell ranges), ``empty_bins`` (bins with no cell, pooled
        to 0), ``ms_per_1000`` (measured time per 1000 RoIs, ``nan`` if not timed) and
        ``values`` (``float[C * P * P]``, what the classifier head receives per RoI).

    Raises:
        ValueError / TypeError: bad ``features``, ``output_size``, ``spatial_scale`` or
            ``channel``.

    Example:
        >>> import torch
        >>> x = torch.arange(16.0).reshape(1, 4, 4)
        >>> out = roi_pool_panel(x, (0, 0, 3, 3), 2, 1.0, n_timed=0)
        >>> out["pooled"].tolist(), out["cells"], len(out["values"])
        ([[[5.0, 7.0], [13.0, 15.0]]], (0, 0, 3, 3), 4)
    """
    import torch
    import torchvision

    from dlcv_utils.ops.roi import roi_pool

    if not isinstance(features, torch.Tensor):
        raise TypeError(f"features must be a torch.Tensor, got {type(features).__name__}")
    fmap = features.detach().float().cpu()
    if fmap.ndim == 4 and fmap.shape[0] == 1:
        fmap = fmap[0]
    if fmap.ndim != 3:
        raise ValueError(f"features must have shape [C, H, W], got {tuple(features.shape)}")
    c, height, width = fmap.shape
    if channel is not None and not (isinstance(channel, int) and 0 <= channel < c):
        raise ValueError(f"channel must be None or an int in [0, {c}), got {channel!r}")
    cells, y_edges, x_edges = roi_bins(roi, output_size, spatial_scale, (height, width))
    rois = torch.tensor([[0.0, *[float(v) for v in roi]]])
    pooled = roi_pool(fmap[None], rois, output_size, spatial_scale)[0]
    empty = int(
        (
            (y_edges[:, 1] <= y_edges[:, 0])[:, None] | (x_edges[:, 1] <= x_edges[:, 0])[None, :]
        ).sum()
    )
    ms = float("nan")
    if n_timed:
        gen = torch.Generator().manual_seed(0)
        many = rois.repeat(n_timed, 1)
        many[:, 1:] += torch.randn(n_timed, 4, generator=gen) * 2.0
        many[:, 3:] = torch.maximum(many[:, 3:], many[:, 1:3] + 1)
        x = fmap[None]
        torchvision.ops.roi_pool(x, many[:10], output_size, spatial_scale)  # warm-up
        t0 = time.perf_counter()
        torchvision.ops.roi_pool(x, many, output_size, spatial_scale)
        ms = (time.perf_counter() - t0) * 1000 * 1000 / n_timed
    out = {
        "pooled": pooled,
        "cells": cells,
        "y_edges": y_edges,
        "x_edges": x_edges,
        "empty_bins": empty,
        "ms_per_1000": ms,
        "values": pooled.reshape(-1).numpy(),
    }
    if axes is not None:
        from matplotlib.patches import Rectangle

        ax_map, ax_pool = axes
        shown = fmap.mean(0) if channel is None else fmap[channel]
        ax_map.imshow(shown.numpy(), cmap="magma")
        for ys, ye in y_edges:
            for xs, xe in x_edges:
                if ye > ys and xe > xs:
                    ax_map.add_patch(
                        Rectangle(
                            (xs - 0.5, ys - 0.5), xe - xs, ye - ys,
                            fill=False, edgecolor="cyan", linewidth=0.8,
                        )
                    )  # fmt: skip
        x1, y1, x2, y2 = (float(v) * spatial_scale - 0.5 for v in roi)
        ax_map.add_patch(
            Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="yellow", linewidth=1.5)
        )
        ax_map.set_xlim(-0.5, width - 0.5)
        ax_map.set_ylim(height - 0.5, -0.5)
        what = "mean of channels" if channel is None else f"channel {channel}"
        ax_map.set_title(f"feature map {height}x{width} ({what}): RoI (yellow), bins (cyan)")
        grid = pooled.mean(0) if channel is None else pooled[channel]
        ax_pool.imshow(grid.numpy(), cmap="magma")
        timing = "" if math.isnan(ms) else f", {ms:.1f} ms per 1000 RoIs"
        ax_pool.set_title(f"pooled {output_size}x{output_size} x {c} channels{timing}")
        ax_pool.set_xticks([])
        ax_pool.set_yticks([])
    return out


def make_roi_pool_widget(features, roi, spatial_scale: float, output_size: int = 7):
    """An ``output_size`` slider (1..8) and a channel slider wired to :func:`roi_pool_panel`.

    Args:
        features: ``Tensor[C, H, W]`` feature map of one image (e.g. a trained backbone's).
        roi: ``(x1, y1, x2, y2)`` in image pixels.
        spatial_scale: feature cells per image pixel.
        output_size: the slider's starting value.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_roi_pool_widget(torch.rand(8, 32, 32), (10, 10, 90, 70), 0.25)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    if (
        isinstance(output_size, bool)
        or not isinstance(output_size, int)
        or not 1 <= output_size <= 8
    ):
        raise ValueError(f"output_size must be an int in [1, 8], got {output_size!r}")
    n_channels = int(features.shape[-3])
    first: dict = {}

    def update(output_size, channel):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        out = roi_pool_panel(
            features, roi, output_size, spatial_scale, None if channel < 0 else channel, axes=axes
        )
        fig.tight_layout()
        text = (
            f"RoI cells {out['cells']} -> {output_size}x{output_size} bins "
            f"({out['empty_bins']} empty): {len(out['values'])} numbers per RoI for the head"
        )
        show(fig, text, first)

    common = {"continuous_update": False, "style": STYLE, "layout": slider_layout()}
    wid = static_class(widgets.interactive)(
        update,
        output_size=widgets.IntSlider(
            value=output_size, min=1, max=8, description="output_size", **common
        ),
        channel=widgets.IntSlider(
            value=-1, min=-1, max=n_channels - 1, description="channel (-1 = mean)", **common
        ),
    )
    return finish(wid, first, "RoI max pooling of one RoI: bins, pooled features and time")
