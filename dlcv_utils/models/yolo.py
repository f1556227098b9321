"""YOLO (You Only Look Once, 한 번만 보는 검출기) from v1 to today, as small testable pieces.

* v1: :func:`responsible_cells` (the grid cell (격자 셀) that holds a box's centre) and
  :func:`yolo_v1_loss`, the sum-squared loss on an ``S x S x (B * 5 + C)`` output with
  ``lambda_coord = 5``, ``lambda_noobj = 0.5`` and square roots of ``w``, ``h``;
* v2: :func:`kmeans_anchors` (k-means on box shapes with the distance ``1 - IoU``) and
  :func:`decode_v2` (direct location prediction: ``b_x = (sigmoid(t_x) + c_x) * stride``,
  ``b_w = p_w * exp(t_w)``);
* later versions: :func:`ciou` (complete IoU: IoU, centre distance and aspect ratio) and
  :func:`dfl_decode` (an anchor-free head's distribution focal loss bins -> ``ltrb`` distances
  -> xyxy boxes, as YOLOv8 and later decode them) with :func:`anchor_points`;
* :class:`dlcv_utils.models.small_yolo.SmallYOLO` (next module) puts them into a v3-style
  detector.

Boxes are ``Tensor[N, 4]`` xyxy in pixels unless said otherwise. Taught in lesson 09.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.validation import check_int, check_number

__all__ = [
    "anchor_points",
    "ciou",
    "decode_v2",
    "dfl_decode",
    "kmeans_anchors",
    "responsible_cells",
    "wh_iou",
    "yolo_v1_loss",
]


def _tensor(value, name: str, last: int | None = None) -> torch.Tensor:
    try:
        t = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be a tensor or an array, got {type(value).__name__}") from exc
    if last is not None and (t.ndim == 0 or t.shape[-1] != last):
        raise ValueError(f"{name} must have shape [..., {last}], got {tuple(t.shape)}")
    return t


# ----------------------------------------------------------------------------- v1
def responsible_cells(boxes, image_size: int, grid: int) -> torch.Tensor:
    """The ``(row, col)`` of the grid cell that contains each box's centre (YOLOv1).

    Args:
        boxes: ``Tensor[N, 4]`` xyxy in pixels.
        image_size: side of the square image.
        grid: ``S``, cells per side.

    Returns:
        ``LongTensor[N, 2]`` ``(row, col)``; a centre on the right/bottom edge goes to the last cell.

    Example:
        >>> responsible_cells([[10.0, 50.0, 30.0, 70.0]], 100, 7).tolist()  # centre (20, 60)
        [[4, 1]]
    """
    b = _tensor(boxes, "boxes", 4).reshape(-1, 4)
    check_int(image_size, "image_size", minimum=1)
    check_int(grid, "grid", minimum=1)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    col = (cx * grid / image_size).floor().long().clamp(0, grid - 1)
    row = (cy * grid / image_size).floor().long().clamp(0, grid - 1)
    return torch.stack([row, col], 1)


def _cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], -1)


def yolo_v1_loss(
    pred,
    boxes,
    labels,
    image_size: int,
    *,
    num_boxes: int = 2,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
) -> dict[str, torch.Tensor]:
    """YOLOv1's sum-squared loss of one image (Redmon et al., 2016, eq. 3).

    Each cell predicts ``B`` boxes ``(x, y, w, h, C)`` then ``C`` class probabilities:
    ``x, y`` the centre's offset in the cell (0..1), ``w, h`` fractions of the image,
    ``C`` the confidence. The cell holding a box's centre is responsible for it and, of its
    ``B`` predictors, the one whose box has the highest IoU with it. Terms:
    ``lambda_coord * [(x - x^)^2 + (y - y^)^2 + (sqrt w - sqrt w^)^2 + (sqrt h - sqrt h^)^2]``
    for responsible predictors, ``(C - IoU)^2`` for them, ``lambda_noobj * C^2`` for every
    other predictor, and ``sum_c (p(c) - p^(c))^2`` for cells holding an object.

    Args:
        pred: ``Tensor[S, S, B * 5 + C]`` raw outputs (widths clamped at 0 for the square root).
        boxes: ``Tensor[M, 4]`` xyxy in pixels (at most one per cell is used: the last).
        labels: ``LongTensor[M]`` in ``0..C-1``.
        image_size: side of the square image.
        num_boxes: ``B``.
        lambda_coord, lambda_noobj: the paper's weights.

    Returns:
        ``{"coord", "obj", "noobj", "cls", "total"}`` (scalars; ``total`` is their sum).

    Example:
        >>> pred = torch.zeros(2, 2, 2 * 5 + 1)
        >>> out = yolo_v1_loss(pred, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 64)
        >>> float(out["total"])
        0.0
    """
    p = _tensor(pred, "pred")
    check_int(num_boxes, "num_boxes", minimum=1)
    if p.ndim != 3 or p.shape[0] != p.shape[1] or p.shape[2] <= 5 * num_boxes:
        raise ValueError(
            f"pred must have shape [S, S, B * 5 + C] with B = {num_boxes}, C >= 1, "
            f"got {tuple(p.shape)}"
        )
    s, nc = p.shape[0], p.shape[2] - 5 * num_boxes
    gt = _tensor(boxes, "boxes", 4).reshape(-1, 4)
    lab = torch.as_tensor(labels).long().reshape(-1)
    if len(lab) != len(gt):
        raise ValueError(f"labels must have one entry per box ({len(gt)}), got {len(lab)}")
    if len(lab) and (lab.min() < 0 or lab.max() >= nc):
        raise ValueError(f"labels must be in 0..{nc - 1}, got {lab.tolist()}")
    check_number(lambda_coord, "lambda_coord", low=0.0)
    check_number(lambda_noobj, "lambda_noobj", low=0.0)
    cells = responsible_cells(gt, image_size, s)
    box_p = p[..., : 5 * num_boxes].reshape(s, s, num_boxes, 5)
    responsible = torch.zeros(s, s, num_boxes, dtype=torch.bool)
    zero = p.sum() * 0.0
    coord, obj, cls = zero, zero, zero
    targets = {}
    for (r, c), b, lb in zip(cells.tolist(), gt, lab):
        targets[(r, c)] = (b, lb)  # one object per cell: the last one wins
    for (r, c), (b, lb) in targets.items():
        cell = s / image_size
        tx, ty = ((b[0] + b[2]) / 2 * cell - c), ((b[1] + b[3]) / 2 * cell - r)
        tw, th = (b[2] - b[0]) / image_size, (b[3] - b[1]) / image_size
        pb = box_p[r, c]
        # predicted boxes in image fractions, to pick the predictor with the best IoU
        centres = torch.stack([(pb[:, 0] + c) / s, (pb[:, 1] + r) / s], 1)
        pxyxy = _cxcywh_to_xyxy(torch.cat([centres, pb[:, 2:4].clamp(min=0)], 1))
        txyxy = _cxcywh_to_xyxy(torch.stack([(tx + c) / s, (ty + r) / s, tw, th])[None])
        ious = box_iou(pxyxy.detach(), txyxy)[:, 0]
        j = int(ious.argmax())
        responsible[r, c, j] = True
        coord = coord + (pb[j, 0] - tx) ** 2 + (pb[j, 1] - ty) ** 2
        coord = coord + (pb[j, 2].clamp(min=0).sqrt() - tw.sqrt()) ** 2
        coord = coord + (pb[j, 3].clamp(min=0).sqrt() - th.sqrt()) ** 2
        obj = obj + (pb[j, 4] - ious[j]) ** 2
        cls = cls + ((p[r, c, 5 * num_boxes :] - F.one_hot(lb, nc).float()) ** 2).sum()
    noobj = (box_p[..., 4][~responsible] ** 2).sum()
    out = {
        "coord": lambda_coord * coord,
        "obj": obj,
        "noobj": lambda_noobj * noobj,
        "cls": cls,
    }
    out["total"] = sum(out.values())
    return out


# ----------------------------------------------------------------------------- v2
def wh_iou(wh1, wh2) -> torch.Tensor:
    """IoU of box *shapes* ``[N, 2]`` x ``[M, 2]`` (boxes aligned at one corner) -> ``[N, M]``.

    Example:
        >>> wh_iou([[2.0, 2.0]], [[1.0, 4.0], [2.0, 2.0]]).tolist()  # inter 2 / union 6; 1
        [[0.3333333432674408, 1.0]]
    """
    a, b = _tensor(wh1, "wh1", 2).reshape(-1, 2), _tensor(wh2, "wh2", 2).reshape(-1, 2)
    inter = torch.minimum(a[:, None], b[None]).clamp(min=0).prod(-1)
    return inter / (a.prod(-1)[:, None] + b.prod(-1)[None] - inter).clamp(min=1e-12)


def kmeans_anchors(
    wh, k: int, *, iters: int = 100, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """YOLOv2's anchor shapes: k-means on ``(w, h)`` with the distance ``1 - IoU``.

    Euclidean k-means would let large boxes dominate; ``1 - IoU`` treats a 10 % error the same
    at every size. Centroids start as k-means++ picks them (seeded: each next one a shape drawn
    with probability proportional to its squared distance to the nearest centroid); each step assigns
    every box to the centroid of highest IoU and moves each centroid to the median shape of its
    boxes (as YOLOv2's scripts did; an empty cluster keeps its centroid).

    Args:
        wh: ``Tensor[N, 2]`` box widths and heights (``N >= k``).
        k: number of anchors.
        iters: at most this many steps (stops earlier when assignments no longer change).
        seed: seeds the initial choice.

    Returns:
        ``(anchors Tensor[k, 2]`` sorted by area, ``mean_iou)``: the average over the boxes of
        the IoU with their best anchor.

    Example:
        >>> wh = torch.tensor([[10.0, 10.0], [11.0, 11.0], [40.0, 20.0], [42.0, 20.0]])
        >>> anchors, mean_iou = kmeans_anchors(wh, 2)
        >>> anchors.tolist()
        [[10.5, 10.5], [41.0, 20.0]]
    """
    x = _tensor(wh, "wh", 2).reshape(-1, 2)
    check_int(k, "k", minimum=1)
    check_int(iters, "iters", minimum=1)
    if len(x) < k:
        raise ValueError(f"wh must have at least k = {k} boxes, got {len(x)}")
    if (x <= 0).any():
        raise ValueError("wh must hold positive widths and heights")
    g = torch.Generator().manual_seed(int(seed))
    unique = torch.unique(x, dim=0)
    if len(unique) < k:
        raise ValueError(f"wh has {len(unique)} distinct shapes, fewer than k = {k}")
    # k-means++ seeding: each next centroid drawn with probability ~ (1 - best IoU)^2
    centroids = unique[torch.randint(len(unique), (1,), generator=g)]
    for _ in range(k - 1):
        d = (1 - wh_iou(unique, centroids).max(1).values) ** 2
        pick = torch.multinomial(d / d.sum(), 1, generator=g)
        centroids = torch.cat([centroids, unique[pick]])
    assign = None
    for _ in range(iters):
        new = wh_iou(x, centroids).argmax(1)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = x[assign == j]
            if len(members):
                centroids[j] = members.median(0).values if len(members) > 2 else members.mean(0)
    centroids = centroids[centroids.prod(1).argsort()]
    mean_iou = wh_iou(x, centroids).max(1).values.mean()
    return centroids, mean_iou


def decode_v2(t, anchors, stride: float) -> torch.Tensor:
    """YOLOv2/v3 direct location prediction: raw ``t`` per cell and anchor -> xyxy pixels.

    ``b_x = (sigmoid(t_x) + c_x) * stride``, ``b_y = (sigmoid(t_y) + c_y) * stride``,
    ``b_w = p_w * exp(t_w)``, ``b_h = p_h * exp(t_h)``: the sigmoid keeps the centre inside its
    cell, so early training cannot throw boxes across the image.

    Args:
        t: ``Tensor[H, W, A, 4]`` ``(t_x, t_y, t_w, t_h)`` (more leading dims are allowed).
        anchors: ``Tensor[A, 2]`` ``(p_w, p_h)`` in pixels.
        stride: cell size in pixels.

    Returns:
        ``Tensor[..., H, W, A, 4]`` xyxy in pixels.

    Example:
        >>> t = torch.zeros(2, 2, 1, 4)  # sigmoid(0) = 0.5: centres in the middle of each cell
        >>> decode_v2(t, [[8.0, 4.0]], 16)[1, 0, 0].tolist()  # row 1, col 0: centre (8, 24)
        [4.0, 22.0, 12.0, 26.0]
    """
    tt = _tensor(t, "t", 4)
    an = _tensor(anchors, "anchors", 2).reshape(-1, 2)
    check_number(stride, "stride", low=0.0, low_open=True)
    if tt.ndim < 4 or tt.shape[-2] != len(an):
        raise ValueError(
            f"t must have shape [..., H, W, A, 4] with A = {len(an)} anchors, got {tuple(tt.shape)}"
        )
    h, w = tt.shape[-4], tt.shape[-3]
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grid = torch.stack([xs, ys], -1).float()[:, :, None]  # [H, W, 1, 2] (c_x, c_y)
    centre = (torch.sigmoid(tt[..., :2]) + grid) * stride
    size = an * torch.exp(tt[..., 2:].clamp(max=10.0))
    return torch.cat([centre - size / 2, centre + size / 2], -1)


# ----------------------------------------------------------------------------- later versions
def ciou(boxes1, boxes2, eps: float = 1e-7) -> torch.Tensor:
    """Complete IoU of matching xyxy boxes ``[N, 4]``, ``[N, 4]`` -> ``[N]`` (Zheng et al., 2020).

    ``CIoU = IoU - rho^2 / c^2 - alpha * v`` with ``rho`` the distance between the centres,
    ``c`` the diagonal of the smallest enclosing box,
    ``v = 4 / pi^2 * (atan(w_gt / h_gt) - atan(w / h))^2`` and ``alpha = v / (1 - IoU + v)``.
    The CIoU loss is ``1 - CIoU``.

    Example:
        >>> round(float(ciou([[0.0, 0, 2, 2]], [[0.0, 0, 2, 2]])[0]), 6)
        1.0
        >>> round(float(ciou([[0.0, 0, 2, 2]], [[2.0, 0, 4, 2]])[0]), 6)  # IoU 0 - 4 / 20
        -0.2
    """
    a, b = _tensor(boxes1, "boxes1", 4), _tensor(boxes2, "boxes2", 4)
    if a.shape != b.shape:
        raise ValueError(f"boxes1 and boxes2 must match, got {tuple(a.shape)} and {tuple(b.shape)}")
    w1, h1 = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    w2, h2 = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    c2 = cw**2 + ch**2 + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) ** 2) / 4
    rho2 = rho2 + ((a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) ** 2) / 4
    v = (4 / math.pi**2) * (torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return iou - rho2 / c2 - alpha * v


def anchor_points(
    feature_sizes: Sequence[tuple[int, int]], strides: Sequence[float], offset: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor points (cell centres, in grid units) of an anchor-free head, level by level.

    Returns:
        ``(points Tensor[A, 2]`` ``(x, y)`` in cells of their level, ``strides Tensor[A, 1])``,
        rows in level order then row-major, as Ultralytics' ``make_anchors``.

    Example:
        >>> pts, st = anchor_points([(1, 2), (1, 1)], [8, 16])
        >>> pts.tolist(), st.flatten().tolist()
        ([[0.5, 0.5], [1.5, 0.5], [0.5, 0.5]], [8.0, 8.0, 16.0])
    """
    if len(feature_sizes) != len(strides):
        raise ValueError(
            f"feature_sizes and strides must have one entry per level, got "
            f"{len(feature_sizes)} and {len(strides)}"
        )
    points, st = [], []
    for (h, w), s in zip(feature_sizes, strides):
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32) + offset,
            torch.arange(w, dtype=torch.float32) + offset,
            indexing="ij",
        )
        points.append(torch.stack([xs, ys], -1).reshape(-1, 2))
        st.append(torch.full((h * w, 1), float(s)))
    return torch.cat(points), torch.cat(st)


def dfl_decode(box_logits, points, strides, reg_max: int = 16) -> torch.Tensor:
    """Decode a DFL head (YOLOv8 and later): bins -> expected ``ltrb`` -> xyxy pixels.

    Each side's distance (in cells) is a distribution over ``0..reg_max-1``; its value is the
    expectation ``sum_i i * softmax(logits)_i``. The box is
    ``(x - l, y - t, x + r, y + b) * stride`` around the anchor point ``(x, y)``.

    Args:
        box_logits: ``Tensor[N, 4 * reg_max, A]`` (Ultralytics' layout: side-major).
        points: ``Tensor[A, 2]`` anchor points in cells (:func:`anchor_points`).
        strides: ``Tensor[A, 1]``.
        reg_max: bins per side.

    Returns:
        ``Tensor[N, A, 4]`` xyxy in pixels.

    Example:
        >>> logits = torch.zeros(1, 4 * 3, 1)  # uniform over 0, 1, 2: every side 1 cell
        >>> dfl_decode(logits, torch.tensor([[2.5, 2.5]]), torch.tensor([[8.0]]), 3).tolist()
        [[[12.0, 12.0, 28.0, 28.0]]]
    """
    x = _tensor(box_logits, "box_logits")
    check_int(reg_max, "reg_max", minimum=1)
    if x.ndim != 3 or x.shape[1] != 4 * reg_max:
        raise ValueError(f"box_logits must have shape [N, {4 * reg_max}, A], got {tuple(x.shape)}")
    n, _, a = x.shape
    prob = x.view(n, 4, reg_max, a).softmax(2)
    dist = (prob * torch.arange(reg_max, dtype=torch.float32).view(1, 1, -1, 1)).sum(2)  # [N,4,A]
    dist = dist.transpose(1, 2)  # [N, A, 4] ltrb
    pts = _tensor(points, "points", 2)
    xyxy = torch.cat([pts - dist[..., :2], pts + dist[..., 2:]], -1)
    return xyxy * _tensor(strides, "strides")
