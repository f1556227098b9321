"""Non-maximum suppression (NMS): greedy, class-aware (batched) and soft.

``nms`` and ``batched_nms`` keep exactly the indices, in the same order, that
``torchvision.ops.nms`` and torchvision's per-class ("vanilla") ``batched_nms`` keep:

* boxes are visited in descending score order; **ties keep input order** (a stable sort: of two
  boxes with the same score, the one with the lower index is visited first and wins). This is
  what torchvision's CPU kernel does in practice; its docstring does not promise it, and on CUDA
  ties may resolve differently.
* a box is suppressed when its IoU with an already kept box is **strictly greater** than
  ``iou_threshold``; a box whose IoU *equals* the threshold survives.
* areas have no ``+1`` pixel.

``torchvision.ops.batched_nms`` on up to 1,000 CPU boxes uses a "coordinate trick" (shifting
each class by ``label * (max_coordinate + 1)``) that gives wrong answers when coordinates are
negative, and can differ in float32 for very large offsets. ``batched_nms`` here always runs the
per-class algorithm, which is what the trick is meant to compute.

Taught in lesson 01 (NMS); reused by every detector lesson.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dlcv_utils.ops.boxes import as_box_tensor, check_xyxy, tensor_from_numpy
from dlcv_utils.validation import check_iou_threshold, check_number

__all__ = ["batched_nms", "nms", "soft_nms"]


def _as_scores(scores, n: int, name: str, like: torch.Tensor) -> torch.Tensor:
    if isinstance(scores, np.ndarray):
        if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(
            scores.dtype, np.complexfloating
        ):
            raise TypeError(f"{name} must hold real numbers, got dtype {scores.dtype}")
        tensor = tensor_from_numpy(scores)
    elif isinstance(scores, torch.Tensor):
        tensor = scores
        if tensor.dtype == torch.bool or tensor.is_complex():  # same rule as for numpy
            raise TypeError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    else:
        raise TypeError(
            f"{name} must be a numpy.ndarray or torch.Tensor, got {type(scores).__name__}"
        )
    if tensor.ndim != 1 or tensor.shape[0] != n:
        raise ValueError(f"{name} must have shape [{n}] to match boxes, got {tuple(tensor.shape)}")
    if tensor.is_floating_point() and tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return tensor.to(like.device)


def _prepare(boxes, scores):
    is_numpy = isinstance(boxes, np.ndarray)
    if is_numpy != isinstance(scores, np.ndarray):
        raise TypeError(
            "boxes and scores must both be numpy arrays or both torch tensors, got "
            f"{type(boxes).__name__} and {type(scores).__name__}"
        )
    tensor, _ = as_box_tensor(boxes, "boxes")
    check_xyxy(tensor, "boxes")
    score_t = _as_scores(scores, tensor.shape[0], "scores", tensor)
    return tensor, score_t, is_numpy


def _greedy(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS on validated tensors; returns kept indices in descending-score order."""
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    boxes = boxes.detach()
    order = torch.sort(scores.detach(), descending=True, stable=True).indices
    b = boxes[order]
    x1, y1, x2, y2 = b.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(b.shape[0], dtype=torch.bool, device=b.device)
    keep = []
    for i in range(b.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = slice(i + 1, None)
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (
            areas[i] + areas[rest] - inter
        )  # torchvision's order of operations; NaN never suppresses
        # compare in float64 like torchvision's C++ kernel (a Python float threshold is a double;
        # torch would otherwise round it to float32 and flip IoU == threshold cases)
        suppressed[rest] |= iou.double() > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=b.device)]


def nms(boxes, scores, iou_threshold: float, score_threshold: float | None = None):
    """Greedy non-maximum suppression (NMS, 비최대 억제).

    Optionally drops boxes with ``score <= score_threshold`` first (the confidence filter, same
    strict rule as torchvision's detection post-processing), then repeatedly keeps the highest
    scoring remaining box and removes every box whose IoU with it is ``> iou_threshold``.

    Args:
        boxes: ``Tensor[N, 4]`` or ``ndarray[N, 4]``, xyxy.
        scores: ``[N]`` scores, same type as ``boxes``.
        iou_threshold: suppress boxes with IoU strictly above this; a number in ``[0, 1]``.
        score_threshold: if given, keep only boxes with a score strictly above it.

    Returns:
        int64 ``[K]`` indices into ``boxes`` of the kept boxes, by decreasing score (same type
        as ``boxes``).

    Raises:
        ValueError: wrong shapes, mismatched lengths, NaN/inf, negative widths.
        TypeError: wrong types, or thresholds that are not numbers.

    Example:
        >>> import torch
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
        >>> nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
        tensor([0, 2])
    """
    check_iou_threshold(iou_threshold)
    if score_threshold is not None:
        check_number(score_threshold, "score_threshold")
    tensor, score_t, is_numpy = _prepare(boxes, scores)
    if score_threshold is not None:
        candidates = torch.nonzero(score_t > score_threshold).flatten()
        keep = candidates[_greedy(tensor[candidates], score_t[candidates], float(iou_threshold))]
    else:
        keep = _greedy(tensor, score_t, float(iou_threshold))
    return keep.cpu().numpy() if is_numpy else keep


def batched_nms(boxes, scores, labels, iou_threshold: float, score_threshold: float | None = None):
    """Class-aware NMS: boxes of different ``labels`` never suppress each other.

    Runs :func:`nms` per label and returns the union of kept indices sorted by decreasing score
    (ties by index). This is exactly what ``torchvision.ops.batched_nms`` returns whenever its
    fast path is valid (coordinates >= 0); see the module docstring for where it is not.

    Args:
        boxes: ``Tensor[N, 4]`` or ``ndarray[N, 4]``, xyxy.
        scores: ``[N]`` scores.
        labels: ``[N]`` integer class labels.
        iou_threshold: suppress same-class boxes with IoU strictly above this; in ``[0, 1]``.
        score_threshold: if given, keep only boxes with a score strictly above it.

    Returns:
        int64 ``[K]`` kept indices by decreasing score.

    Example:
        >>> import numpy as np
        >>> boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]])
        >>> batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.5)
        array([0, 2])
    """
    check_iou_threshold(iou_threshold)
    if score_threshold is not None:
        check_number(score_threshold, "score_threshold")
    tensor, score_t, is_numpy = _prepare(boxes, scores)
    if isinstance(labels, np.ndarray) != is_numpy or not isinstance(
        labels, (np.ndarray, torch.Tensor)
    ):
        raise TypeError(f"labels must be the same array type as boxes, got {type(labels).__name__}")
    if is_numpy and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    label_t = tensor_from_numpy(labels) if is_numpy else labels
    if label_t.ndim != 1 or label_t.shape[0] != tensor.shape[0]:
        raise ValueError(
            f"labels must have shape [{tensor.shape[0]}] to match boxes, got {tuple(label_t.shape)}"
        )
    if label_t.is_floating_point() or label_t.is_complex() or label_t.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got dtype {label_t.dtype}")
    label_t = label_t.to(tensor.device)
    keep_mask = torch.zeros(tensor.shape[0], dtype=torch.bool, device=tensor.device)
    if score_threshold is not None:
        alive = score_t > score_threshold
    else:
        alive = torch.ones_like(keep_mask)
    for label in torch.unique(label_t[alive]):
        idx = torch.nonzero((label_t == label) & alive).flatten()
        keep_mask[idx[_greedy(tensor[idx], score_t[idx], float(iou_threshold))]] = True
    kept = torch.nonzero(keep_mask).flatten()
    kept = kept[torch.sort(score_t[kept], descending=True, stable=True).indices]
    return kept.cpu().numpy() if is_numpy else kept


def soft_nms(
    boxes,
    scores,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    method: str = "linear",
    score_threshold: float = 0.001,
):
    """Soft-NMS (Bodla et al., 2017): decay the scores of overlapping boxes instead of removing them.

    At each step the box with the highest *current* score is kept (ties: lowest index) and the
    scores of the remaining boxes are multiplied by a weight of their IoU with it:

    * ``"linear"``: ``1 - iou`` if ``iou > iou_threshold`` else 1;
    * ``"gaussian"``: ``exp(-iou**2 / sigma)`` for every box (``iou_threshold`` unused).

    A box whose score falls below ``score_threshold`` is dropped. Unlike the original Cython
    code, indices refer to the input order and areas have no ``+1`` pixel.

    Args:
        boxes: ``[N, 4]`` xyxy boxes.
        scores: ``[N]`` scores.
        iou_threshold: overlap above which the linear decay applies; in ``[0, 1]``.
        sigma: width of the gaussian decay (> 0).
        method: ``"linear"`` or ``"gaussian"``.
        score_threshold: boxes with a decayed score below this are dropped.

    Returns:
        ``(keep, new_scores)``: int64 ``[K]`` indices in selection order and their decayed
        scores ``[K]``, same type as ``boxes``.

    Example:
        >>> import torch
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]])
        >>> keep, new_scores = soft_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), method="linear")
        >>> keep, new_scores  # box 1 has IoU 0.5 with box 0: 0.8 * (1 - 0.5)
        (tensor([0, 2, 1]), tensor([0.9000, 0.7000, 0.4000]))
    """
    if method not in ("linear", "gaussian"):
        raise ValueError(f"method must be 'linear' or 'gaussian', got {method!r}")
    check_iou_threshold(iou_threshold)
    check_number(sigma, "sigma", low=0.0, low_open=True)
    check_number(score_threshold, "score_threshold")
    tensor, score_t, is_numpy = _prepare(boxes, scores)
    tensor = tensor.detach()
    current = score_t.detach().to(tensor.dtype).clone()
    x1, y1, x2, y2 = tensor.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    alive = current >= score_threshold
    keep, kept_scores = [], []
    while bool(alive.any()):
        masked = torch.where(alive, current, torch.full_like(current, -math.inf))
        i = int(torch.argmax(masked))  # first index among equal maxima
        keep.append(i)
        kept_scores.append(current[i].clone())  # a view would keep all of `current` alive
        alive[i] = False
        w = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
        h = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
        inter = w * h
        union = areas[i] + areas - inter
        iou = torch.where(
            union > 0,
            inter / torch.where(union > 0, union, torch.ones_like(union)),
            torch.zeros_like(union),
        )
        if method == "linear":
            weight = torch.where(iou.double() > iou_threshold, 1 - iou, torch.ones_like(iou))
        else:
            weight = torch.exp(-(iou**2) / sigma)
        current = torch.where(alive, current * weight, current)
        alive &= current >= score_threshold
    keep_t = torch.tensor(keep, dtype=torch.int64, device=tensor.device)
    score_out = torch.stack(kept_scores) if kept_scores else current.new_empty(0)
    if is_numpy:
        return keep_t.cpu().numpy(), score_out.cpu().numpy()
    return keep_t, score_out
