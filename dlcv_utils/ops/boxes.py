"""Bounding-box geometry: formats, areas, IoU and GIoU.

One convention everywhere in the course: a box is ``(x1, y1, x2, y2)`` ("xyxy") in pixels,
with ``x1 <= x2`` and ``y1 <= y2``, and its width is ``x2 - x1`` (no ``+1`` pixel; some
libraries, e.g. the PASCAL VOC devkit and Kornia, count pixels inclusively and add 1).

Every function takes either a NumPy array or a torch tensor of shape ``[N, 4]`` and returns the
same type. Integer boxes are computed in floating point (float64 for NumPy, float32 for torch,
as ``torchvision.ops`` does), so large integer coordinates never overflow. Degenerate pairs
(zero union) get IoU 0, never NaN. Empty inputs give empty results of the right shape.

Taught in lesson 01 (IoU); reused by every later lesson.
"""

from __future__ import annotations

import math

import numpy as np
import torch

Boxes = np.ndarray | torch.Tensor

BOX_FORMATS = ("xyxy", "xywh", "cxcywh", "xyxyn", "xywhn", "cxcywhn")

__all__ = [
    "BOX_FORMATS",
    "box_area",
    "box_convert",
    "box_inter_union",
    "box_iou",
    "generalized_box_iou",
]


def tensor_from_numpy(arr: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy`` that also accepts non-contiguous and negatively strided arrays.

    Example:
        >>> tensor_from_numpy(np.arange(4.0)[::-1]).tolist()
        [3.0, 2.0, 1.0, 0.0]
    """
    # torch refuses negative strides (e.g. ``a[::-1]``), which ``ascontiguousarray`` may keep
    if not arr.flags.c_contiguous or any(s < 0 for s in arr.strides):
        arr = np.array(arr, order="C", copy=True)
    return torch.from_numpy(arr)


def as_box_tensor(boxes, name: str) -> tuple[torch.Tensor, bool]:
    """Validate ``boxes`` as ``[N, 4]`` numbers and return ``(float tensor, came_from_numpy)``.

    Shared by every op that takes boxes (IoU here, NMS in :mod:`dlcv_utils.ops.nms`); ``name``
    is the argument's name in the messages.
    """
    if isinstance(boxes, np.ndarray):
        is_numpy = True
        if np.issubdtype(boxes.dtype, np.complexfloating):
            raise TypeError(f"{name} must be real, got dtype {boxes.dtype}")
        if boxes.dtype == object or not (
            np.issubdtype(boxes.dtype, np.number) or boxes.dtype == bool
        ):
            raise TypeError(f"{name} must hold numbers, got dtype {boxes.dtype}")
        arr = boxes if np.issubdtype(boxes.dtype, np.floating) else boxes.astype(np.float64)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        tensor = tensor_from_numpy(arr)
    elif isinstance(boxes, torch.Tensor):
        is_numpy = False
        tensor = boxes
        if tensor.is_complex():
            raise TypeError(f"{name} must be real, got dtype {tensor.dtype}")
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.float32)
        elif tensor.dtype in (torch.float16, torch.bfloat16):
            tensor = tensor.to(torch.float32)
    else:
        raise TypeError(
            f"{name} must be a numpy.ndarray or torch.Tensor of shape [N, 4], "
            f"got {type(boxes).__name__}"
        )
    if tensor.ndim != 2 or tensor.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [N, 4], got {tuple(tensor.shape)}")
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return tensor, is_numpy


def check_xyxy(tensor: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming the first box of ``tensor`` ``[N, 4]`` with ``x2 < x1`` or ``y2 < y1``."""
    bad = (tensor[:, 2] < tensor[:, 0]) | (tensor[:, 3] < tensor[:, 1])
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0, 0])
        raise ValueError(
            f"{name} must be xyxy with x1 <= x2 and y1 <= y2; box {i} is "
            f"{tensor[i].tolist()} (negative width or height)"
        )


def _back(tensor: torch.Tensor, is_numpy: bool):
    return tensor.detach().cpu().numpy() if is_numpy else tensor


def _check_image_size(image_size, fmt: str) -> tuple[float, float]:
    if image_size is None:
        raise ValueError(
            f"image_size=(width, height) is required for the normalised format {fmt!r}"
        )
    try:
        width, height = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height), got {image_size!r}") from None
    if not (width > 0 and height > 0 and np.isfinite(width) and np.isfinite(height)):
        raise ValueError(f"image_size must be two positive numbers, got {image_size!r}")
    return width, height


def box_convert(boxes: Boxes, in_fmt: str, out_fmt: str, image_size=None) -> Boxes:
    """Convert ``Tensor[N, 4]`` / ``ndarray[N, 4]`` boxes between formats.

    Formats: ``xyxy`` (corners), ``xywh`` (top-left corner + size, COCO), ``cxcywh`` (centre +
    size), and their normalised twins ``xyxyn``, ``xywhn``, ``cxcywhn`` (divided by the image
    width/height, YOLO uses ``cxcywhn``). Normalised formats need ``image_size=(width, height)``.

    Args:
        boxes: ``[N, 4]`` boxes in ``in_fmt``.
        in_fmt: format of ``boxes``, one of :data:`BOX_FORMATS`.
        out_fmt: wanted format, one of :data:`BOX_FORMATS`.
        image_size: ``(width, height)`` in pixels, for the normalised formats.

    Returns:
        ``[N, 4]`` boxes in ``out_fmt``, same type as ``boxes``; floating point.

    Raises:
        ValueError: unknown format, wrong shape, NaN/inf, negative width or height, missing or
            invalid ``image_size``.
        TypeError: ``boxes`` is neither an array nor a tensor.

    Example:
        >>> import numpy as np
        >>> box_convert(np.array([[10, 20, 30, 60]]), "xyxy", "cxcywh")
        array([[20., 40., 20., 40.]])
        >>> box_convert(np.array([[0.5, 0.5, 0.5, 1.0]]), "cxcywhn", "xyxy", image_size=(200, 100))
        array([[ 50.,   0., 150., 100.]])
    """
    for arg, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"{arg} must be one of {BOX_FORMATS}, got {fmt!r}")
    tensor, is_numpy = as_box_tensor(boxes, "boxes")
    if in_fmt.endswith("n") or out_fmt.endswith("n"):
        width, height = _check_image_size(image_size, in_fmt if in_fmt.endswith("n") else out_fmt)
        scale = tensor.new_tensor([width, height, width, height])
    a, b, c, d = tensor.unbind(-1)
    base_in = in_fmt.rstrip("n") if in_fmt.endswith("n") else in_fmt
    if in_fmt.endswith("n"):
        a, b, c, d = (tensor * scale).unbind(-1)
    # to xyxy
    if base_in == "xyxy":
        x1, y1, x2, y2 = a, b, c, d
    elif base_in == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    else:  # cxcywh
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if base_in != "xyxy":
        if bool((c < 0).any()) or bool((d < 0).any()):
            i = int(torch.nonzero((c < 0) | (d < 0))[0, 0])
            raise ValueError(
                f"boxes in {in_fmt!r} must have w, h >= 0; box {i} is {tensor[i].tolist()}"
            )
    else:
        check_xyxy(torch.stack([x1, y1, x2, y2], -1), "boxes")
    base_out = out_fmt[:-1] if out_fmt.endswith("n") else out_fmt
    if base_out == "xyxy":
        out = torch.stack([x1, y1, x2, y2], -1)
    elif base_out == "xywh":
        out = torch.stack([x1, y1, x2 - x1, y2 - y1], -1)
    else:
        out = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)
    if out_fmt.endswith("n"):
        out = out / scale
    return _back(out, is_numpy)


def box_area(boxes: Boxes) -> Boxes:
    """Area of ``[N, 4]`` xyxy boxes: ``(x2 - x1) * (y2 - y1)``, no ``+1``.

    Args:
        boxes: ``Tensor[N, 4]`` or ``ndarray[N, 4]``, xyxy with ``x1 <= x2``, ``y1 <= y2``.

    Returns:
        ``[N]`` areas, floating point, same type as ``boxes``.

    Raises:
        ValueError: wrong shape, NaN/inf, or negative width/height.

    Example:
        >>> import torch
        >>> box_area(torch.tensor([[0, 0, 10, 10], [5, 5, 5, 9]]))
        tensor([100.,   0.])
    """
    tensor, is_numpy = as_box_tensor(boxes, "boxes")
    check_xyxy(tensor, "boxes")
    area = (tensor[:, 2] - tensor[:, 0]) * (tensor[:, 3] - tensor[:, 1])
    return _back(area, is_numpy)


def _pairwise(boxes1, boxes2):
    t1, np1 = as_box_tensor(boxes1, "boxes1")
    t2, np2 = as_box_tensor(boxes2, "boxes2")
    if np1 != np2:
        raise TypeError(
            "boxes1 and boxes2 must both be numpy arrays or both be torch tensors, got "
            f"{type(boxes1).__name__} and {type(boxes2).__name__}"
        )
    check_xyxy(t1, "boxes1")
    check_xyxy(t2, "boxes2")
    dtype = torch.promote_types(t1.dtype, t2.dtype)
    return t1.to(dtype), t2.to(dtype), np1


def _inter_union(t1: torch.Tensor, t2: torch.Tensor):
    area1 = (t1[:, 2] - t1[:, 0]) * (t1[:, 3] - t1[:, 1])  # [N]
    area2 = (t2[:, 2] - t2[:, 0]) * (t2[:, 3] - t2[:, 1])  # [M]
    lt = torch.maximum(t1[:, None, :2], t2[None, :, :2])  # [N,M,2]
    rb = torch.minimum(t1[:, None, 2:], t2[None, :, 2:])  # [N,M,2]
    wh = (rb - lt).clamp(min=0)  # [N,M,2]
    inter = wh[..., 0] * wh[..., 1]  # [N,M]
    union = (
        area1[:, None] + area2[None, :] - inter
    )  # [N,M], same order of operations as torchvision
    return inter, union


def _unit_scaled(t1: torch.Tensor, t2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide both box sets by one power of two when their coordinates are so large (or small)
    that areas would overflow to inf (or underflow to 0): IoU and GIoU are ratios, unchanged
    by a common scale, and a power-of-two scale is exact. Ordinary boxes are left as they are,
    so the numbers stay exactly torchvision's."""
    if not (t1.numel() or t2.numel()):
        return t1, t2
    s = max(
        float(t1.abs().max()) if t1.numel() else 0.0, float(t2.abs().max()) if t2.numel() else 0.0
    )
    if s == 0.0 or 2.0**-60 <= s <= 2.0**60:
        return t1, t2
    scale = 2.0 ** -math.frexp(s)[1]  # max |coordinate| becomes [0.5, 1)
    return t1 * scale, t2 * scale


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    # 0 / 0 (two degenerate boxes) is defined as 0, never NaN
    positive = den > 0
    return torch.where(
        positive, num / torch.where(positive, den, torch.ones_like(den)), torch.zeros_like(num)
    )


def box_inter_union(boxes1: Boxes, boxes2: Boxes) -> tuple[Boxes, Boxes]:
    """Pairwise intersection and union areas of two sets of xyxy boxes.

    Args:
        boxes1: ``[N, 4]`` xyxy boxes.
        boxes2: ``[M, 4]`` xyxy boxes (same type as ``boxes1``).

    Returns:
        ``(inter, union)``, each ``[N, M]``.

    Example:
        >>> import numpy as np
        >>> inter, union = box_inter_union(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]]))
        >>> inter, union
        (array([[1.]]), array([[7.]]))
    """
    t1, t2, is_numpy = _pairwise(boxes1, boxes2)
    inter, union = _inter_union(t1, t2)
    return _back(inter, is_numpy), _back(union, is_numpy)


def box_iou(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """Pairwise intersection-over-union (Jaccard index) of two sets of xyxy boxes.

    Same numbers as ``torchvision.ops.box_iou`` wherever that is defined; where the union is 0
    (two zero-area boxes) the IoU is 0 instead of NaN.

    Args:
        boxes1: ``Tensor[N, 4]`` or ``ndarray[N, 4]``, xyxy.
        boxes2: ``Tensor[M, 4]`` or ``ndarray[M, 4]``, xyxy, same type as ``boxes1``.

    Returns:
        ``[N, M]`` IoU values in ``[0, 1]``, same type as the inputs.

    Raises:
        ValueError: wrong shape, NaN/inf, negative width/height.
        TypeError: mixed numpy/torch inputs, or neither.

    Example:
        >>> import torch
        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        >>> b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [4.0, 4.0, 5.0, 5.0]])
        >>> box_iou(a, b)  # 1 / (4 + 4 - 1)
        tensor([[0.1429, 0.0000]])
    """
    t1, t2, is_numpy = _pairwise(boxes1, boxes2)
    t1, t2 = _unit_scaled(t1, t2)
    inter, union = _inter_union(t1, t2)
    return _back(_safe_div(inter, union), is_numpy)


def generalized_box_iou(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """Pairwise generalized IoU (Rezatofighi et al., 2019): ``IoU - (C - union) / C``.

    ``C`` is the area of the smallest box enclosing both. GIoU lies in ``[-1, 1]`` and, unlike
    IoU, still tells how far apart two disjoint boxes are. Where ``C`` is 0 (two identical
    points) the penalty is taken as 0, so GIoU equals the IoU (0); never NaN.

    Args:
        boxes1: ``[N, 4]`` xyxy boxes.
        boxes2: ``[M, 4]`` xyxy boxes, same type as ``boxes1``.

    Returns:
        ``[N, M]`` GIoU values.

    Example:
        >>> import numpy as np
        >>> generalized_box_iou(np.array([[0, 0, 10, 10]]), np.array([[20, 0, 30, 10]])).round(4)
        array([[-0.3333]])
    """
    t1, t2, is_numpy = _pairwise(boxes1, boxes2)
    t1, t2 = _unit_scaled(t1, t2)
    inter, union = _inter_union(t1, t2)
    iou = _safe_div(inter, union)
    lt = torch.minimum(t1[:, None, :2], t2[None, :, :2])  # [N,M,2]
    rb = torch.maximum(t1[:, None, 2:], t2[None, :, 2:])  # [N,M,2]
    wh = (rb - lt).clamp(min=0)  # [N,M,2]
    enclosing = wh[..., 0] * wh[..., 1]  # [N,M]
    return _back(iou - _safe_div(enclosing - union, enclosing), is_numpy)
