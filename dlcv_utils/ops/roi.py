"""Pooling a region of a feature map to a fixed size: SPP, RoI pooling, and their quantisation.

Taught in lesson 04 (R-CNN, SPPNet, Fast R-CNN).

* :class:`SpatialPyramidPooling` (SPPNet): max-pool a feature map of *any* size into a
  ``1x1 + 2x2 + 4x4`` pyramid of bins, i.e. a fixed ``21 * C`` vector, so the fully connected
  layers after it no longer force a fixed input size.
* :func:`roi_pool` (Fast R-CNN): cut the region of interest (RoI) out of the feature map, split it
  into ``output_size`` bins and take the max of each; written with plain tensor ops and equal to
  ``torchvision.ops.roi_pool`` (same rounding, same Caffe-era ``+1`` in the RoI width).
* :func:`spp_rois`: SPPNet's pooling applied to RoIs: one :func:`roi_pool` per pyramid level.
* :func:`bin_centres`: where each bin of RoIPool vs RoIAlign actually looks, in image pixels,
  to measure the quantisation error that RoIAlign removes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dlcv_utils.validation import check_pair

__all__ = ["SpatialPyramidPooling", "bin_centres", "roi_pool", "round_half_away", "spp_rois"]


def _check_levels(levels) -> tuple[int, ...]:
    if (
        not isinstance(levels, Sequence)
        or len(levels) == 0
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in levels)
    ):
        raise ValueError(f"levels must be a non-empty sequence of positive ints, got {levels!r}")
    return tuple(int(v) for v in levels)


def _rois_tensor(boxes, like: torch.Tensor) -> torch.Tensor:
    """Accept ``Tensor[K, 5]`` (batch index, x1, y1, x2, y2) or a list of ``Tensor[L, 4]``."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            if not isinstance(b, torch.Tensor) or b.ndim != 2 or b.shape[1] != 4:
                shape = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
                raise ValueError(f"boxes[{i}] must be a Tensor[L, 4], got {shape}")
            idx = torch.full((b.shape[0], 1), float(i), dtype=like.dtype, device=like.device)
            parts.append(torch.cat([idx, b.to(like)], dim=1))
        return (
            torch.cat(parts) if parts else torch.zeros(0, 5, dtype=like.dtype, device=like.device)
        )
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(
            f"boxes must be a Tensor[K, 5] or a list of Tensor[L, 4], got {type(boxes).__name__}"
        )
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(
            f"boxes must have shape [K, 5] (batch index, x1, y1, x2, y2), got {tuple(boxes.shape)}"
        )
    return boxes.to(like)


def _check_input(input) -> None:
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.ndim != 4:
        raise ValueError(f"input must have shape [N, C, H, W], got {tuple(input.shape)}")


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero, like C's ``round`` (``torch.round`` rounds half to even).

    Example:
        >>> round_half_away(torch.tensor([0.5, 1.5, 2.5, -0.5]))
        tensor([ 1.,  2.,  3., -1.])
    """
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


class SpatialPyramidPooling(nn.Module):
    """SPPNet's layer: adaptive max pooling to ``levels`` grids, flattened and concatenated.

    Args:
        levels: grid sizes of the pyramid; ``(1, 2, 4)`` gives ``1 + 4 + 16 = 21`` bins.

    Shape:
        input ``[N, C, H, W]`` (any ``H, W >= 1``) → output ``[N, C * sum(l * l)]``.

    Example:
        >>> spp = SpatialPyramidPooling((1, 2, 4))
        >>> spp(torch.rand(2, 8, 13, 29)).shape, spp(torch.rand(2, 8, 5, 6)).shape
        (torch.Size([2, 168]), torch.Size([2, 168]))
    """

    def __init__(self, levels: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        self.levels = _check_levels(levels)

    def output_features(self, channels: int) -> int:
        """Length of the output vector for ``channels`` input channels."""
        return channels * sum(level * level for level in self.levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x)
        pooled = [nn.functional.adaptive_max_pool2d(x, level).flatten(1) for level in self.levels]
        return torch.cat(pooled, dim=1)

    def extra_repr(self) -> str:
        return f"levels={self.levels}"


def roi_pool(input: torch.Tensor, boxes, output_size, spatial_scale: float = 1.0) -> torch.Tensor:
    """RoI max pooling (Fast R-CNN), same numbers as ``torchvision.ops.roi_pool``.

    Each RoI is scaled to the feature grid and *rounded* to whole cells (quantisation 1), the
    cell range ``[x1, x2]`` (inclusive, the Caffe convention) is split into ``output_size``
    bins with floor/ceil edges (quantisation 2), and each bin keeps its maximum. An empty bin
    (RoI outside the map) gives 0.

    Args:
        input: ``[N, C, H, W]`` feature maps.
        boxes: ``Tensor[K, 5]`` rows ``(batch_index, x1, y1, x2, y2)`` or a list of ``N``
            ``Tensor[L, 4]``, in image coordinates.
        output_size: ``(PH, PW)`` or an int.
        spatial_scale: feature cells per image pixel (``1 / stride``).

    Returns:
        ``[K, C, PH, PW]``.

    Raises:
        TypeError / ValueError: on bad ``input``, ``boxes``, ``output_size`` or ``spatial_scale``.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> roi_pool(x, [torch.tensor([[0.0, 0.0, 3.0, 3.0]])], 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    _check_input(input)
    ph, pw = check_pair(output_size, "output_size")
    if (
        not isinstance(spatial_scale, (int, float))
        or isinstance(spatial_scale, bool)
        or spatial_scale <= 0
    ):
        raise ValueError(f"spatial_scale must be a positive number, got {spatial_scale!r}")
    rois = _rois_tensor(boxes, input)
    _, c, height, width = input.shape
    out = input.new_zeros((rois.shape[0], c, ph, pw))
    if rois.shape[0] == 0:
        return out
    idx = rois[:, 0].long()
    if (idx < 0).any() or (idx >= input.shape[0]).any():
        raise ValueError(
            f"boxes batch indices must be in [0, {input.shape[0]}), got {idx.tolist()}"
        )
    start_end = round_half_away(rois[:, 1:].double() * spatial_scale).long()  # x1, y1, x2, y2
    neg_inf = torch.finfo(input.dtype).min
    ys = torch.arange(height, device=input.device)
    xs = torch.arange(width, device=input.device)
    for k in range(rois.shape[0]):
        x1, y1, x2, y2 = start_end[k].tolist()
        roi_w = max(x2 - x1 + 1, 1)
        roi_h = max(y2 - y1 + 1, 1)
        # bin edges along each axis: floor(i * size / P) .. ceil((i + 1) * size / P), then shifted and clipped
        i_h = torch.arange(ph, dtype=torch.float64)
        i_w = torch.arange(pw, dtype=torch.float64)
        hs = (torch.floor(i_h * roi_h / ph).long() + y1).clamp(0, height)
        he = (torch.ceil((i_h + 1) * roi_h / ph).long() + y1).clamp(0, height)
        ws = (torch.floor(i_w * roi_w / pw).long() + x1).clamp(0, width)
        we = (torch.ceil((i_w + 1) * roi_w / pw).long() + x1).clamp(0, width)
        hs, he, ws, we = (t.to(input.device) for t in (hs, he, ws, we))
        in_h = (ys[None] >= hs[:, None]) & (ys[None] < he[:, None])  # [PH, H]
        in_w = (xs[None] >= ws[:, None]) & (xs[None] < we[:, None])  # [PW, W]
        feat = input[idx[k]]  # [C, H, W]
        # a rectangle's max is separable: max over the columns of each bin, then over its rows
        cols = torch.where(in_w[None, None], feat[:, :, None, :], neg_inf).amax(-1)  # [C, H, PW]
        cells = torch.where(in_h[None, :, :, None], cols[:, None], neg_inf).amax(2)  # [C, PH, PW]
        empty = (he <= hs)[:, None] | (we <= ws)[None, :]
        out[k] = torch.where(
            empty[None], torch.zeros((), dtype=input.dtype, device=input.device), cells
        )
    return out


def spp_rois(
    input: torch.Tensor, boxes, levels: Sequence[int] = (1, 2, 4), spatial_scale: float = 1.0
):
    """SPPNet on RoIs: pool each RoI of the shared feature map into every pyramid level.

    Args:
        input: ``[N, C, H, W]`` feature maps.
        boxes: as for :func:`roi_pool`.
        levels: pyramid grid sizes.
        spatial_scale: feature cells per image pixel.

    Returns:
        ``[K, C * sum(l * l)]``: a fixed-length vector per RoI whatever its size.

    Example:
        >>> x = torch.rand(1, 4, 16, 16)
        >>> spp_rois(x, [torch.tensor([[0.0, 0.0, 3.0, 9.0], [2.0, 2.0, 15.0, 7.0]])]).shape
        torch.Size([2, 84])
    """
    levels = _check_levels(levels)
    pooled = [roi_pool(input, boxes, level, spatial_scale).flatten(1) for level in levels]
    return torch.cat(pooled, dim=1)


def bin_centres(box, output_size: int, spatial_scale: float, method: str) -> torch.Tensor:
    """x-centre (in image pixels) of the feature region each bin of one RoI really covers.

    Measured, not computed from formulas: the RoI is pooled from a feature map whose value is
    the image x coordinate of each cell centre. For ``"align"`` (``roi_align``, ``aligned=True``)
    the bin average of that ramp is the bin's centre of mass; for ``"pool"`` (``roi_pool``) the
    max of ``x`` and of ``-x`` give the right- and left-most cells the bin used, and their mean is
    its centre. The exact answer is ``x1 + (i + 0.5) * (x2 - x1) / output_size``.

    Args:
        box: ``(x1, y1, x2, y2)`` in image pixels.
        output_size: bins per side.
        spatial_scale: ``1 / stride``.
        method: ``"pool"`` or ``"align"``.

    Returns:
        ``Tensor[output_size]`` (float64).

    Example:
        >>> bin_centres((16.0, 16.0, 48.0, 48.0), 4, 1 / 8, "align")
        tensor([20., 28., 36., 44.], dtype=torch.float64)
    """
    from torchvision.ops import roi_align
    from torchvision.ops import roi_pool as tv_roi_pool

    if method not in ("pool", "align"):
        raise ValueError(f"method must be 'pool' or 'align', got {method!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    size = int(max(x2, y2) * spatial_scale) + 4
    xs = (
        torch.arange(size, dtype=torch.float64) + 0.5
    ) / spatial_scale  # image x of each cell centre
    ramp = xs[None, None, None, :].expand(1, 1, size, size).contiguous()
    rois = torch.tensor([[0.0, x1, y1, x2, y2]], dtype=torch.float64)
    if method == "align":
        out = roi_align(ramp, rois, output_size, spatial_scale, sampling_ratio=-1, aligned=True)
        return out[0, 0].mean(0)
    right = tv_roi_pool(ramp, rois, output_size, spatial_scale)[0, 0].mean(0)
    left = -tv_roi_pool(-ramp, rois, output_size, spatial_scale)[0, 0].mean(0)
    return (left + right) / 2
