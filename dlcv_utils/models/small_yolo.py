"""A small YOLOv3-style detector (:class:`SmallYOLO`) built from :mod:`dlcv_utils.models.yolo`.

Darknet-style residual backbone, two or three prediction scales joined top-down, anchors from
k-means (:func:`split_anchors`), v2 decoding, independent logistic class scores; the
torchvision interface: losses in train mode, ``{"boxes", "scores", "labels"}`` dicts in eval
mode. Taught in lesson 09.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dlcv_utils.models.backbones import conv_norm_relu
from dlcv_utils.models.yolo import ciou, decode_v2, kmeans_anchors, wh_iou
from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.ops.nms import batched_nms
from dlcv_utils.validation import check_int, check_number

__all__ = ["Residual", "SmallYOLO", "split_anchors"]


def split_anchors(wh, k: int, scales: int, seed: int = 0) -> list[list[list[float]]]:
    """``k`` k-means anchors of the box shapes ``wh [N, 2]``, ``k / scales`` per scale by area.

    The finest scale (listed first) gets the smallest anchors.

    Raises:
        ValueError: when ``k`` is not a multiple of ``scales``.

    Example:
        >>> wh = torch.tensor([[10.0, 10.0], [11.0, 11.0], [40.0, 40.0], [42.0, 42.0]])
        >>> split_anchors(wh, 2, 2)
        [[[10.5, 10.5]], [[41.0, 41.0]]]
    """
    check_int(scales, "scales", minimum=1)
    if k % scales:
        raise ValueError(f"k ({k}) must be a multiple of the {scales} scales")
    anchors, _ = kmeans_anchors(wh, k, seed=seed)
    per = k // scales
    return [anchors[i * per : (i + 1) * per].tolist() for i in range(scales)]


class Residual(nn.Module):
    """Darknet's residual block: 1 x 1 conv to ``c / 2``, 3 x 3 conv back to ``c``, plus input."""

    def __init__(self, c: int):
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(c, c // 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True)
        )
        self.expand = conv_norm_relu(c // 2, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.reduce(x))


class SmallYOLO(nn.Module):
    """A v3-style YOLO: residual backbone, top-down joined scales, k-means anchors per scale.

    The backbone halves the resolution five times (strides 2..32; stage ``i`` is a stride-2
    :func:`~dlcv_utils.models.backbones.conv_norm_relu` then ``blocks[i]`` :class:`Residual`
    blocks). The coarsest prediction scale sees the deepest map; each finer one upsamples it
    and concatenates the backbone map of its stride (YOLOv3's "FPN"). Each scale predicts, per
    cell and anchor, ``(t_x, t_y, t_w, t_h)`` (:func:`decode_v2`), an objectness logit and
    ``K`` independent class logits (sigmoids, not a softmax: v3).

    Training targets: each ground-truth box is given to the anchors (at any scale) whose shape
    IoU with it is the best or above ``match_iou``, in the cell holding its centre. Losses,
    per positive: ``loss_box = 1 - CIoU`` of the decoded box, ``loss_cls`` binary
    cross-entropy, and ``loss_obj`` binary cross-entropy over all predictions (target: the
    positive's CIoU, clamped at 0, as YOLOv5; 0 for the rest, except those whose decoded box already overlaps a ground truth
    with IoU above ``ignore_iou``, which are left out, as in v3).

    Args:
        num_classes: classes *including* the background (as torchvision's detectors).
        anchors: per scale, its ``(w, h)`` anchors in pixels, finest scale first.
        strides: per scale, its stride (8, 16 or 32), finest first.
        widths: channels of the stem and the five stages' outputs (5 values; the stem uses
            ``widths[0]``).
        blocks: residual blocks per stage (5 values).
        score_thresh / nms_thresh / detections_per_img: inference post-processing.
        multiscale: sizes (multiples of 32) a training batch is resized to at random
            (YOLOv2's multi-scale training), or ``None``.

    Example:
        >>> model = SmallYOLO(3, [[(8, 8)], [(16, 16)]], strides=(8, 16)).eval()
        >>> [tuple(o.shape) for o in model.forward_raw(torch.zeros(1, 3, 64, 64))]
        [(1, 8, 8, 1, 7), (1, 4, 4, 1, 7)]
        >>> sorted(model([torch.rand(3, 64, 64)])[0])
        ['boxes', 'labels', 'scores']
    """

    def __init__(
        self,
        num_classes: int,
        anchors: Sequence[Sequence[Sequence[float]]],
        *,
        strides: Sequence[int] = (8, 16, 32),
        widths: Sequence[int] = (16, 32, 64, 96, 128),
        blocks: Sequence[int] = (1, 1, 2, 2, 1),
        match_iou: float = 0.3,
        ignore_iou: float = 0.5,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 100,
        multiscale: Sequence[int] | None = None,
    ):
        super().__init__()
        check_int(num_classes, "num_classes", minimum=2)
        strides = tuple(int(s) for s in strides)
        if (
            not strides
            or any(s not in (8, 16, 32) for s in strides)
            or sorted(set(strides)) != list(strides)
        ):
            raise ValueError(f"strides must be increasing values among 8, 16, 32, got {strides}")
        if len(anchors) != len(strides):
            raise ValueError(
                f"anchors must have one list per stride ({len(strides)}), got {len(anchors)}"
            )
        if len(widths) != 5 or len(blocks) != 5:
            raise ValueError(f"widths and blocks need 5 values each, got {widths}, {blocks}")
        an = [torch.as_tensor(a, dtype=torch.float32).reshape(-1, 2) for a in anchors]
        if any(len(a) == 0 or (a <= 0).any() for a in an):
            raise ValueError("anchors must be non-empty lists of positive (w, h)")
        check_number(match_iou, "match_iou", 0.0, 1.0)
        check_number(ignore_iou, "ignore_iou", 0.0, 1.0)
        check_number(score_thresh, "score_thresh", 0.0, 1.0)
        check_number(nms_thresh, "nms_thresh", 0.0, 1.0)
        self.num_classes, self.strides = num_classes, strides
        for i, a in enumerate(an):
            self.register_buffer(f"anchors_{i}", a, persistent=False)
        self.num_outputs = 5 + num_classes - 1
        stages, cin = [], 3
        deepest = int(math.log2(strides[-1]))  # stages beyond the coarsest scale are not built
        for c, n in list(zip(widths, blocks))[:deepest]:
            layers = [conv_norm_relu(cin, c, 2)] + [Residual(c) for _ in range(n)]
            stages.append(nn.Sequential(*layers))
            cin = c
        self.stages = nn.ModuleList(stages)
        self.levels = [int(math.log2(s)) - 1 for s in strides]  # stride 8 -> stage 2
        self.lateral, self.smooth, self.heads = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        top = None
        for lvl, a in zip(reversed(self.levels), reversed(an)):
            c = widths[lvl]
            cin = c if top is None else c + top
            self.smooth.insert(0, nn.Sequential(conv_norm_relu(cin, c), conv_norm_relu(c, c)))
            head = nn.Conv2d(c, len(a) * self.num_outputs, 1)
            nn.init.normal_(head.weight, std=0.01)
            bias = head.bias.detach().view(len(a), self.num_outputs)
            bias.zero_()
            bias[:, 4] = -4.6  # objectness prior 0.01
            bias[:, 5:] = -2.0
            self.heads.insert(0, head)
            top = c
        self.match_iou, self.ignore_iou = float(match_iou), float(ignore_iou)
        self.score_thresh, self.nms_thresh = float(score_thresh), float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        self.multiscale = tuple(multiscale) if multiscale else None

    def anchors(self, level: int) -> torch.Tensor:
        """``Tensor[A, 2]`` anchors of prediction scale ``level`` (0 = finest)."""
        return getattr(self, f"anchors_{level}")

    def forward_raw(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Normalised ``[N, 3, H, W]`` -> per scale ``Tensor[N, H_s, W_s, A, 5 + K]`` raw outputs."""
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        outs, top = [], None
        for i in reversed(range(len(self.levels))):
            f = feats[self.levels[i]]
            if top is not None:
                f = torch.cat([f, F.interpolate(top, size=f.shape[-2:], mode="nearest")], 1)
            top = self.smooth[i](f)
            o = self.heads[i](top)
            n, _, h, w = o.shape
            outs.insert(0, o.view(n, -1, self.num_outputs, h, w).permute(0, 3, 4, 1, 2))
        return outs

    def _boxes(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            decode_v2(o[..., :4], self.anchors(i), s)
            for i, (o, s) in enumerate(zip(outs, self.strides))
        ]

    def loss(self, outs: list[torch.Tensor], targets) -> dict[str, torch.Tensor]:
        """Losses of a batch (see the class docstring), each divided by the number of positives."""
        boxes = self._boxes(outs)
        all_anchors = torch.cat([self.anchors(i) for i in range(len(outs))])
        level_of = torch.cat([torch.full((len(self.anchors(i)),), i) for i in range(len(outs))])
        index_in = torch.cat([torch.arange(len(self.anchors(i))) for i in range(len(outs))])
        zero = sum(o.sum() for o in outs) * 0.0
        l_box, l_obj, l_cls, num_pos = zero, zero, zero, 0
        for b, tgt in enumerate(targets):
            gt = torch.as_tensor(tgt["boxes"], dtype=torch.float32).reshape(-1, 4).to(zero.device)
            lab = torch.as_tensor(tgt["labels"]).long().reshape(-1).to(zero.device) - 1
            shape_iou = wh_iou(gt[:, 2:] - gt[:, :2], all_anchors)  # [M, total anchors]
            pos_mask = shape_iou > self.match_iou
            if len(gt):
                pos_mask[torch.arange(len(gt)), shape_iou.argmax(1)] = True
            for lvl, (o, pb) in enumerate(zip(outs, boxes)):
                obj_t = torch.zeros(o.shape[1:4], device=o.device)
                valid = torch.ones_like(obj_t, dtype=torch.bool)
                if len(gt):
                    best = box_iou(pb[b].detach().reshape(-1, 4), gt).max(1).values
                    valid = best.view_as(obj_t) <= self.ignore_iou
                    g_idx, a_idx = torch.where(pos_mask & (level_of == lvl)[None])
                    if len(g_idx):
                        a_idx = index_in[a_idx]
                        s = self.strides[lvl]
                        centre = (gt[g_idx, :2] + gt[g_idx, 2:]) / 2
                        col = (centre[:, 0] / s).long().clamp(0, o.shape[2] - 1)
                        row = (centre[:, 1] / s).long().clamp(0, o.shape[1] - 1)
                        c = ciou(pb[b, row, col, a_idx], gt[g_idx])
                        l_box = l_box + (1 - c).sum()
                        cls_t = F.one_hot(lab[g_idx], self.num_classes - 1).float()
                        l_cls = l_cls + F.binary_cross_entropy_with_logits(
                            o[b, row, col, a_idx, 5:], cls_t, reduction="sum"
                        )
                        obj_t[row, col, a_idx] = c.detach().clamp(min=0)  # v5: target = IoU
                        valid[row, col, a_idx] = True
                        num_pos += len(g_idx)
                l_obj = l_obj + F.binary_cross_entropy_with_logits(
                    o[b, ..., 4][valid], obj_t[valid], reduction="sum"
                )
        denom = max(1, num_pos)
        return {"loss_box": l_box / denom, "loss_obj": l_obj / denom, "loss_cls": l_cls / denom}

    def postprocess(self, outs: list[torch.Tensor], image_size: tuple[int, int]) -> list[dict]:
        """Raw outputs -> ``[{"boxes", "scores", "labels"}]``: ``sigmoid(obj) * sigmoid(cls)``
        scores above ``score_thresh``, the best 1000, clipped, class-wise NMS."""
        boxes = torch.cat([b.flatten(1, 3) for b in self._boxes(outs)], 1)
        raw = torch.cat([o.flatten(1, 3) for o in outs], 1)
        scores = torch.sigmoid(raw[..., 4:5]) * torch.sigmoid(raw[..., 5:])  # [N, L, K]
        h, w = image_size
        k = scores.shape[-1]
        results = []
        for bx, sc in zip(boxes, scores):
            flat = sc.reshape(-1)
            keep = torch.where(flat >= self.score_thresh)[0]
            flat = flat[keep]
            if len(keep) > 1000:
                flat, order = flat.topk(1000)
                keep = keep[order]
            bb = bx[torch.div(keep, k, rounding_mode="floor")].clone()
            bb[:, 0::2] = bb[:, 0::2].clamp(0, w)
            bb[:, 1::2] = bb[:, 1::2].clamp(0, h)
            labels = keep % k + 1
            kept = batched_nms(bb, flat, labels, self.nms_thresh)[: self.detections_per_img]
            results.append({"boxes": bb[kept], "scores": flat[kept], "labels": labels[kept]})
        return results

    def forward(self, images, targets=None):
        """Training: ``{"loss_box", "loss_obj", "loss_cls"}``; eval: ``[{"boxes", "scores", "labels"}]``.

        ``images``: ``list[Tensor[3, H, W]]`` (or a batch) in ``[0, 1]``, sides multiples of 32.
        """
        x = torch.stack(list(images)) if not isinstance(images, torch.Tensor) else images
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"images must be [N, 3, H, W] or a list of [3, H, W], got {tuple(x.shape)}"
            )
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"image sides must be multiples of 32, got {tuple(x.shape[-2:])}")
        if self.training:
            if targets is None:
                raise ValueError("targets must be given in training mode")
            if self.multiscale:
                size = self.multiscale[int(torch.randint(len(self.multiscale), ()))]
                scale = size / x.shape[-1]
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                targets = [{**t, "boxes": torch.as_tensor(t["boxes"]) * scale} for t in targets]
            return self.loss(self.forward_raw((x - 0.5) * 4.0), targets)
        return self.postprocess(self.forward_raw((x - 0.5) * 4.0), tuple(x.shape[-2:]))
