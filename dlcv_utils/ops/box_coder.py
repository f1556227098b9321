"""Box regression targets: the R-CNN ``(dx, dy, dw, dh)`` parameterisation.

Taught in lesson 04 (R-CNN, SPPNet, Fast R-CNN); reused by every two-stage detector after it.

A detector does not regress box corners directly. Relative to a reference box ``P`` (a proposal,
later an anchor) with centre ``(px, py)`` and size ``(pw, ph)``, the target box ``G`` is coded as::

    dx = wx * (gx - px) / pw        dw = ww * log(gw / pw)
    dy = wy * (gy - py) / ph        dh = wh * log(gh / ph)

so the numbers are scale invariant (a shift of half a box width is ``0.5`` for any box size) and
the size change is symmetric in log space. ``weights = (wx, wy, ww, wh)`` only rescale the targets
so that the regression loss has a useful magnitude (torchvision's Fast/Faster R-CNN box head uses
``(10, 10, 5, 5)``, its RPN ``(1, 1, 1, 1)``). Decoding inverts the formulas; ``dw``/``dh`` are
clipped at ``bbox_xform_clip = log(1000 / 16)`` first, so a wild prediction cannot overflow
``exp``. The numbers are identical to ``torchvision.models.detection._utils.BoxCoder``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

BBOX_XFORM_CLIP = math.log(1000.0 / 16)

__all__ = ["BBOX_XFORM_CLIP", "BoxCoder", "decode", "encode"]


def _as_tensor(x, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)`` for a float box array, checking its type."""
    if isinstance(x, np.ndarray):
        dtype = np.float64 if x.dtype == np.float64 else np.float32
        return torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)), True
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            x = x.float()
        return x, False
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _check_weights(weights) -> tuple[float, float, float, float]:
    if not isinstance(weights, Sequence) or len(weights) != 4:
        raise ValueError(
            f"weights must be a sequence of 4 numbers (wx, wy, ww, wh), got {weights!r}"
        )
    w = tuple(float(v) for v in weights)
    if any(not math.isfinite(v) or v <= 0 for v in w):
        raise ValueError(f"weights must be positive and finite, got {weights!r}")
    return w  # type: ignore[return-value]


def _check_boxes(boxes: torch.Tensor, name: str) -> None:
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [N, 4], got {tuple(boxes.shape)}")


def encode(reference_boxes, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    """Code ``reference_boxes`` (the targets, e.g. ground truth) relative to ``proposals``.

    Args:
        reference_boxes: ``[N, 4]`` xyxy target boxes (what the regressor should reach).
        proposals: ``[N, 4]`` xyxy boxes the deltas are relative to (positive width and height).
        weights: ``(wx, wy, ww, wh)`` multiplying ``(dx, dy, dw, dh)``.

    Returns:
        ``[N, 4]`` deltas ``(dx, dy, dw, dh)``; numpy in gives numpy out.

    Raises:
        TypeError: if the boxes are not tensors / arrays.
        ValueError: on shape mismatch or bad ``weights``.

    Example:
        >>> p = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> g = torch.tensor([[5.0, 0.0, 15.0, 20.0]])  # shifted half a width, twice as tall
        >>> encode(g, p)
        tensor([[0.5000, 0.5000, 0.0000, 0.6931]])
    """
    ref, was_np = _as_tensor(reference_boxes, "reference_boxes")
    prop, _ = _as_tensor(proposals, "proposals")
    _check_boxes(ref, "reference_boxes")
    _check_boxes(prop, "proposals")
    if ref.shape[0] != prop.shape[0]:
        raise ValueError(
            f"reference_boxes and proposals must have the same length, got {ref.shape[0]} and {prop.shape[0]}"
        )
    wx, wy, ww, wh = _check_weights(weights)
    prop = prop.to(ref.dtype)

    pw = prop[:, 2] - prop[:, 0]
    ph = prop[:, 3] - prop[:, 1]
    px = prop[:, 0] + 0.5 * pw
    py = prop[:, 1] + 0.5 * ph
    gw = ref[:, 2] - ref[:, 0]
    gh = ref[:, 3] - ref[:, 1]
    gx = ref[:, 0] + 0.5 * gw
    gy = ref[:, 1] + 0.5 * gh

    deltas = torch.stack(
        (
            wx * (gx - px) / pw,
            wy * (gy - py) / ph,
            ww * torch.log(gw / pw),
            wh * torch.log(gh / ph),
        ),
        dim=1,
    )
    return deltas.numpy() if was_np else deltas


def decode(
    deltas, proposals, weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip: float = BBOX_XFORM_CLIP
):
    """Apply ``deltas`` to ``proposals``: the inverse of :func:`encode`.

    Args:
        deltas: ``[N, 4]`` deltas, or ``[N, 4 * K]`` class-specific deltas (K boxes per proposal).
        proposals: ``[N, 4]`` xyxy boxes.
        weights: the ``(wx, wy, ww, wh)`` used when encoding.
        bbox_xform_clip: upper clip on ``dw``/``dh`` (after dividing by the weights) before ``exp``.

    Returns:
        ``[N, 4]`` (or ``[N, 4 * K]``) xyxy boxes, in the dtype of ``deltas``.

    Raises:
        TypeError: if the inputs are not tensors / arrays.
        ValueError: on shape mismatch or bad ``weights``.

    Example:
        >>> p = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> decode(torch.tensor([[0.5, 0.5, 0.0, math.log(2.0)]]), p)
        tensor([[ 5.,  0., 15., 20.]])
    """
    d, was_np = _as_tensor(deltas, "deltas")
    prop, _ = _as_tensor(proposals, "proposals")
    _check_boxes(prop, "proposals")
    if d.ndim != 2 or d.shape[1] % 4 != 0 or d.shape[1] == 0:
        raise ValueError(f"deltas must have shape [N, 4 * K], got {tuple(d.shape)}")
    if d.shape[0] != prop.shape[0]:
        raise ValueError(
            f"deltas and proposals must have the same length, got {d.shape[0]} and {prop.shape[0]}"
        )
    wx, wy, ww, wh = _check_weights(weights)
    prop = prop.to(d.dtype)

    pw = prop[:, 2] - prop[:, 0]
    ph = prop[:, 3] - prop[:, 1]
    px = prop[:, 0] + 0.5 * pw
    py = prop[:, 1] + 0.5 * ph

    dx = d[:, 0::4] / wx
    dy = d[:, 1::4] / wy
    dw = torch.clamp(d[:, 2::4] / ww, max=bbox_xform_clip)
    dh = torch.clamp(d[:, 3::4] / wh, max=bbox_xform_clip)

    cx = dx * pw[:, None] + px[:, None]
    cy = dy * ph[:, None] + py[:, None]
    half_w = 0.5 * torch.exp(dw) * pw[:, None]
    half_h = 0.5 * torch.exp(dh) * ph[:, None]
    boxes = torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=2).flatten(1)
    return boxes.numpy() if was_np else boxes


class BoxCoder:
    """:func:`encode` / :func:`decode` with fixed ``weights`` (torchvision-style object).

    Args:
        weights: ``(wx, wy, ww, wh)``.
        bbox_xform_clip: clip on ``dw``/``dh`` when decoding.

    Example:
        >>> coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
        >>> p = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> g = torch.tensor([[1.0, 1.0, 11.0, 11.0]])
        >>> coder.encode(g, p)
        tensor([[1., 1., 0., 0.]])
        >>> coder.decode(coder.encode(g, p), p)
        tensor([[ 1.,  1., 11., 11.]])
    """

    def __init__(self, weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip: float = BBOX_XFORM_CLIP):
        self.weights = _check_weights(weights)
        self.bbox_xform_clip = float(bbox_xform_clip)

    def encode(self, reference_boxes, proposals):
        """See :func:`encode`."""
        return encode(reference_boxes, proposals, self.weights)

    def decode(self, deltas, proposals):
        """See :func:`decode`."""
        return decode(deltas, proposals, self.weights, self.bbox_xform_clip)

    def __repr__(self) -> str:
        return f"BoxCoder(weights={self.weights}, bbox_xform_clip={self.bbox_xform_clip:.4f})"
