"""A small anchor-based single-shot detector (단일 단계 검출기) whose raw head exports to ONNX.

Lesson 07 runs a detector the course trained in OpenCV's DNN module. OpenCV runs *networks*;
the post-processing of a detector (anchor decoding, score threshold, NMS) is easier to keep
outside the exported graph, where OpenCV 4.x and 5.x, onnxruntime and PyTorch all see the same
numbers. :class:`SingleShotDetector` is built that way:

* :meth:`SingleShotDetector.forward_raw` maps a *normalised* batch ``[N, 3, H, W]`` to the raw
  head outputs, ``class_logits [N, L, K]`` and ``box_deltas [N, L, 4]`` with ``L = h * w * A``
  anchors in :func:`dlcv_utils.ops.anchors.generate_anchors` order (cell by cell, then anchor);
  :class:`RawHead` wraps it for ``torch.onnx.export``;
* :func:`decode_detections` turns raw outputs into boxes: sigmoid scores, the top
  ``pre_nms_top_n`` (anchor, class) pairs above ``score_thresh``, the box deltas applied to
  their anchors (:func:`dlcv_utils.ops.box_coder.decode`), clipping, class-wise NMS;
* :meth:`SingleShotDetector.forward` is the torchvision-style interface the course's training
  loop and evaluation use: images ``list[Tensor[3, H, W]]`` in ``[0, 1]`` RGB; in train mode it
  returns ``{"loss_cls", "loss_box"}`` (sigmoid focal loss over all non-ignored anchors,
  smooth-L1 on the positives' deltas, both divided by the number of positives); in eval mode a
  list of ``{"boxes", "scores", "labels"}``.

The network sees ``(255 * rgb - pixel_mean) * pixel_scale``, which is exactly what
``cv2.dnn.blobFromImage(bgr, scalefactor=pixel_scale, size=(W, H), mean=pixel_mean,
swapRB=True)`` computes from a BGR ``uint8`` image (see :meth:`SingleShotDetector.blob_params`).

Taught in lesson 07 (OpenCV DNN).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dlcv_utils.models.backbones import TinyBackbone, conv_norm_relu
from dlcv_utils.ops.anchors import assign_rpn_targets, generate_anchors
from dlcv_utils.ops.box_coder import decode, encode
from dlcv_utils.ops.nms import batched_nms
from dlcv_utils.validation import check_int, check_number

__all__ = ["RawHead", "SingleShotDetector", "decode_detections"]

#: box-coder weights (torchvision's RetinaNet uses (1, 1, 1, 1) too)
BOX_WEIGHTS = (1.0, 1.0, 1.0, 1.0)


def _check_raw(class_logits, box_deltas, anchors) -> tuple[torch.Tensor, ...]:
    out = []
    for name, t in (
        ("class_logits", class_logits),
        ("box_deltas", box_deltas),
        ("anchors", anchors),
    ):
        try:
            out.append(torch.as_tensor(t).float())
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a tensor or an array, got {type(t).__name__}") from exc
    cl, bd, an = out
    if cl.ndim == 2:
        cl, bd = cl[None], bd[None]
    if cl.ndim != 3:
        raise ValueError(f"class_logits must have shape [N, L, K] or [L, K], got {tuple(cl.shape)}")
    if bd.shape != (*cl.shape[:2], 4):
        raise ValueError(
            f"box_deltas must have shape {(*cl.shape[:2], 4)} to match class_logits, "
            f"got {tuple(bd.shape)}"
        )
    if an.shape != (cl.shape[1], 4):
        raise ValueError(
            f"anchors must have shape {(cl.shape[1], 4)} (one per raw output row), "
            f"got {tuple(an.shape)}"
        )
    return cl, bd, an


def decode_detections(
    class_logits,
    box_deltas,
    anchors,
    image_size: tuple[int, int],
    *,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    pre_nms_top_n: int = 1000,
    detections_per_img: int = 100,
) -> list[dict[str, torch.Tensor]]:
    """Raw single-shot head outputs -> detections, one dict per image.

    Args:
        class_logits: ``[N, L, K]`` (or ``[L, K]``) logits, one per anchor and foreground class.
        box_deltas: ``[N, L, 4]`` (or ``[L, 4]``) ``(dx, dy, dw, dh)`` per anchor.
        anchors: ``[L, 4]`` xyxy anchors in the same order.
        image_size: ``(height, width)`` of the network input; boxes are clipped to it.
        score_thresh: pairs scoring below it are dropped (scores are sigmoids of the logits).
        nms_thresh: IoU threshold of the class-wise NMS.
        pre_nms_top_n: at most this many (anchor, class) pairs per image enter the NMS.
        detections_per_img: at most this many detections per image are kept.

    Returns:
        ``[{"boxes": Tensor[D, 4], "scores": Tensor[D], "labels": Tensor[D]}]``; labels are
        ``1..K`` (0 is the background), sorted by decreasing score.

    Raises:
        ValueError: shapes that do not match, or thresholds outside ``[0, 1]``.

    Example:
        >>> anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0]])
        >>> logits = torch.tensor([[[4.0, -4.0], [-4.0, -4.0]]])  # anchor 0 is class 1
        >>> out = decode_detections(logits, torch.zeros(1, 2, 4), anchors, (64, 64))[0]
        >>> out["boxes"].tolist(), out["labels"].tolist(), round(out["scores"].item(), 3)
        ([[0.0, 0.0, 10.0, 10.0]], [1], 0.982)
    """
    cl, bd, an = _check_raw(class_logits, box_deltas, anchors)
    check_number(score_thresh, "score_thresh", low=0.0, high=1.0)
    check_number(nms_thresh, "nms_thresh", low=0.0, high=1.0)
    check_int(pre_nms_top_n, "pre_nms_top_n", minimum=1)
    check_int(detections_per_img, "detections_per_img", minimum=1)
    height, width = (int(v) for v in image_size)
    num_classes = cl.shape[2]
    results = []
    for logits, deltas in zip(cl, bd):
        scores = torch.sigmoid(logits).reshape(-1)  # anchor-major: index = anchor * K + class
        keep = torch.where(scores >= score_thresh)[0]
        scores = scores[keep]
        if len(keep) > pre_nms_top_n:
            scores, order = scores.topk(pre_nms_top_n)
            keep = keep[order]
        anchor_idx = torch.div(keep, num_classes, rounding_mode="floor")
        labels = keep % num_classes + 1
        boxes = decode(deltas[anchor_idx], an[anchor_idx], BOX_WEIGHTS)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        wide = (boxes[:, 2] - boxes[:, 0] > 1e-2) & (boxes[:, 3] - boxes[:, 1] > 1e-2)
        boxes, scores, labels = boxes[wide], scores[wide], labels[wide]
        kept = batched_nms(boxes, scores, labels, nms_thresh)[:detections_per_img]
        results.append({"boxes": boxes[kept], "scores": scores[kept], "labels": labels[kept]})
    return results


class SingleShotDetector(nn.Module):
    """Backbone + one dense head: class logits and box deltas for every anchor of every cell.

    Args:
        num_classes: classes *including* the background (as torchvision's detectors); the head
            predicts ``K = num_classes - 1`` sigmoid scores per anchor.
        width: :class:`~dlcv_utils.models.backbones.TinyBackbone` width (channels ``4 * width``).
        stride: backbone stride, 8 or 4.
        image_size: side of the square input the anchors are laid out for.
        anchor_sizes: anchor scales in pixels.
        aspect_ratios: anchor ratios ``height / width``.
        pixel_mean: RGB means subtracted from ``255 * image``.
        pixel_scale: factor applied after the mean (one number, as ``blobFromImage``'s
            ``scalefactor``).
        pos_iou / neg_iou: anchor labels for training (best IoU ``>= pos_iou`` object,
            ``< neg_iou`` background, the best anchor of each object is positive too).
        score_thresh / nms_thresh / detections_per_img: inference post-processing
            (:func:`decode_detections`).

    Example:
        >>> model = SingleShotDetector(5, width=8, image_size=64).eval()
        >>> logits, deltas = model.forward_raw(torch.zeros(1, 3, 64, 64))
        >>> tuple(logits.shape), tuple(deltas.shape), model.num_anchors
        ((1, 576, 4), (1, 576, 4), 576)
        >>> sorted(model([torch.rand(3, 64, 64)])[0])
        ['boxes', 'labels', 'scores']
    """

    def __init__(
        self,
        num_classes: int,
        *,
        width: int = 16,
        stride: int = 8,
        image_size: int = 128,
        anchor_sizes: Sequence[float] = (16, 32, 64),
        aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        pixel_mean: Sequence[float] = (127.5, 127.5, 127.5),
        pixel_scale: float = 1 / 64,
        pos_iou: float = 0.5,
        neg_iou: float = 0.4,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 100,
    ):
        super().__init__()
        check_int(num_classes, "num_classes", minimum=2)
        check_int(image_size, "image_size", minimum=8)
        check_number(pixel_scale, "pixel_scale", low=0.0, low_open=True)
        if len(tuple(pixel_mean)) != 3:
            raise ValueError(f"pixel_mean must have 3 values (R, G, B), got {pixel_mean!r}")
        if not 0.0 <= neg_iou <= pos_iou <= 1.0:
            raise ValueError(f"need 0 <= neg_iou <= pos_iou <= 1, got {neg_iou!r}, {pos_iou!r}")
        self.num_classes = num_classes
        self.image_size = image_size
        self.stride = stride
        self.backbone = TinyBackbone(width, stride)
        channels = self.backbone.out_channels
        a = len(tuple(anchor_sizes)) * len(tuple(aspect_ratios))
        self.anchors_per_cell = a
        self.head = conv_norm_relu(channels, channels)
        self.cls_logits = nn.Conv2d(channels, a * (num_classes - 1), 1)
        self.bbox_pred = nn.Conv2d(channels, a * 4, 1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias, -4.6)  # prior 0.01: background at the start
        nn.init.normal_(self.bbox_pred.weight, std=0.01)
        nn.init.zeros_(self.bbox_pred.bias)
        cells = image_size // stride
        self.register_buffer(
            "anchors",
            generate_anchors(cells, stride, anchor_sizes, aspect_ratios),
            persistent=False,
        )
        self.register_buffer(
            "pixel_mean",
            torch.tensor([float(v) for v in pixel_mean]).view(1, 3, 1, 1),
            persistent=False,
        )
        self.pixel_scale = float(pixel_scale)
        self.pos_iou, self.neg_iou = float(pos_iou), float(neg_iou)
        self.score_thresh, self.nms_thresh = float(score_thresh), float(nms_thresh)
        self.detections_per_img = int(detections_per_img)

    @property
    def num_anchors(self) -> int:
        """``L``: rows of the raw outputs (anchors over the whole feature map)."""
        return int(self.anchors.shape[0])

    def blob_params(self) -> dict:
        """Keyword arguments of ``cv2.dnn.blobFromImage`` that reproduce :meth:`normalize`.

        ``mean`` is given in RGB order because ``swapRB=True`` swaps the image first.

        Example:
            >>> SingleShotDetector(5, image_size=64).blob_params()["size"]
            (64, 64)
        """
        return {
            "scalefactor": self.pixel_scale,
            "size": (self.image_size, self.image_size),
            "mean": tuple(float(v) for v in self.pixel_mean.flatten()),
            "swapRB": True,
            "crop": False,
        }

    def normalize(self, images) -> torch.Tensor:
        """``list[Tensor[3, H, W]]`` (or a batch) in ``[0, 1]`` RGB -> the network input."""
        x = torch.stack(list(images)) if not isinstance(images, torch.Tensor) else images
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"images must be [N, 3, H, W] or a list of [3, H, W], got {tuple(x.shape)}"
            )
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size} x {self.image_size} (the anchors' size), "
                f"got {tuple(x.shape[-2:])}"
            )
        return (x * 255.0 - self.pixel_mean) * self.pixel_scale

    def forward_raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``[N, 3, H, W]`` -> ``class_logits [N, L, K]``, ``box_deltas [N, L, 4]``."""
        f = self.head(self.backbone(x))
        n, _, h, w = f.shape
        a = self.anchors_per_cell
        cls = self.cls_logits(f).view(n, a, -1, h, w).permute(0, 3, 4, 1, 2)
        box = self.bbox_pred(f).view(n, a, 4, h, w).permute(0, 3, 4, 1, 2)
        return cls.reshape(n, h * w * a, -1), box.reshape(n, h * w * a, 4)

    def loss(self, class_logits, box_deltas, targets) -> dict[str, torch.Tensor]:
        """Focal loss on all non-ignored anchors + smooth L1 on the positives, per positive."""
        from torchvision.ops import sigmoid_focal_loss

        cls_losses, box_losses, num_pos = [], [], 0
        for logits, deltas, tgt in zip(class_logits, box_deltas, targets):
            gt = torch.as_tensor(tgt["boxes"], dtype=torch.float32, device=logits.device).reshape(
                -1, 4
            )
            gt_labels = torch.as_tensor(tgt["labels"], device=logits.device).reshape(-1)
            labels, matched = assign_rpn_targets(self.anchors, gt, self.pos_iou, self.neg_iou)
            pos = labels == 1
            valid = labels >= 0
            onehot = torch.zeros_like(logits)
            if pos.any():
                onehot[pos, gt_labels[matched[pos]] - 1] = 1.0
                target_deltas = encode(gt[matched[pos]], self.anchors[pos], BOX_WEIGHTS)
                box_losses.append(
                    nn.functional.smooth_l1_loss(
                        deltas[pos], target_deltas, beta=1 / 9, reduction="sum"
                    )
                )
            cls_losses.append(sigmoid_focal_loss(logits[valid], onehot[valid], reduction="sum"))
            num_pos += int(pos.sum())
        denom = max(1, num_pos)
        zero = class_logits.sum() * 0.0
        return {
            "loss_cls": sum(cls_losses, zero) / denom,
            "loss_box": sum(box_losses, zero) / denom,
        }

    def forward(self, images, targets=None):
        """Training: ``{"loss_cls", "loss_box"}``; eval: ``[{"boxes", "scores", "labels"}]``."""
        x = self.normalize(images)
        class_logits, box_deltas = self.forward_raw(x)
        if self.training:
            if targets is None:
                raise ValueError("targets must be given in training mode")
            return self.loss(class_logits, box_deltas, targets)
        return decode_detections(
            class_logits,
            box_deltas,
            self.anchors,
            (self.image_size, self.image_size),
            score_thresh=self.score_thresh,
            nms_thresh=self.nms_thresh,
            detections_per_img=self.detections_per_img,
        )


class RawHead(nn.Module):
    """What gets exported: normalised blob ``[N, 3, H, W]`` -> ``(class_logits, box_deltas)``.

    Example:
        >>> raw = RawHead(SingleShotDetector(3, width=8, image_size=32)).eval()
        >>> [tuple(t.shape) for t in raw(torch.zeros(2, 3, 32, 32))]
        [(2, 144, 2), (2, 144, 4)]
    """

    def __init__(self, detector: SingleShotDetector):
        super().__init__()
        if not isinstance(detector, SingleShotDetector):
            raise TypeError(f"detector must be a SingleShotDetector, got {type(detector).__name__}")
        self.detector = detector

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.detector.forward_raw(x)
