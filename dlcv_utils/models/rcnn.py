"""R-CNN and Fast R-CNN, small enough to train on a CPU in a minute.

Taught in lesson 04 (R-CNN, SPPNet, Fast R-CNN).

Both detectors here share everything except *where the per-region features come from*:

* :class:`RCNN` (Girshick et al., 2014) crops every proposal out of the **image**, warps it to a
  fixed ``crop_size`` square (with some context padding) and runs the whole CNN on each crop:
  hundreds of CNN passes per image.
* :class:`FastRCNN` (Girshick, 2015) runs the CNN **once per image** and cuts each proposal out
  of the feature map with RoI pooling (``torchvision.ops.roi_pool``, the same numbers as
  :func:`dlcv_utils.ops.roi.roi_pool`).

The rest is common (:class:`TwoStageDetector`): class-agnostic proposals from selective search
(:class:`ProposalCache` computes them once per image), proposal labelling by IoU
(:func:`assign_proposals`: IoU >= 0.5 is the matched object's class, below is background),
sampling of a fixed number of RoIs per image with at most 25 % foreground
(:func:`sample_rois`), a softmax classifier over ``K + 1`` classes and class-specific box
deltas coded by :mod:`dlcv_utils.ops.box_coder`, the multi-task loss (cross-entropy + smooth L1 on
the positives, :func:`fast_rcnn_loss`) and, at test time, per-class NMS. Both follow the
torchvision detection interface: ``model(images, targets)`` returns a dict of losses in train
mode, ``model(images)`` a list of ``{"boxes", "scores", "labels"}`` in eval mode, so
:func:`dlcv_utils.engine.fit` and :func:`dlcv_utils.engine.evaluate_detector` train and
evaluate them.

Simplifications w.r.t. the papers (said in the lesson): R-CNN here is trained end to end with a
softmax and a box head on the same CNN (the original fine-tuned the CNN with a softmax, then
trained one linear SVM per class and separate ridge-regression box regressors on frozen
features); both use the same tiny backbone trained from scratch instead of an ImageNet VGG.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dlcv_utils.models.backbones import small_backbone
from dlcv_utils.ops.box_coder import decode, encode
from dlcv_utils.ops.losses import fast_rcnn_loss
from dlcv_utils.proposals.cache import ProposalCache
from dlcv_utils.validation import check_iou_threshold

__all__ = [
    "RCNN",
    "FastRCNN",
    "ProposalCache",
    "TwoStageDetector",
    "assign_proposals",
    "context_pad",
    "fast_rcnn_loss",
    "sample_rois",
    "small_backbone",
    "warp_regions",
]

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


# ----------------------------------------------------------------------------- labelling
def assign_proposals(
    proposals: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    fg_iou_thresh: float = 0.5,
    bg_iou_thresh: tuple[float, float] = (0.0, 0.5),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Label each proposal by its best IoU with the ground truth.

    Args:
        proposals: ``[N, 4]`` xyxy.
        gt_boxes: ``[M, 4]`` xyxy.
        gt_labels: ``[M]`` int labels ``1..K``.
        fg_iou_thresh: IoU at or above which a proposal takes its best object's label.
        bg_iou_thresh: ``[low, high)`` IoU range labelled background (0); anything else is
            ignored (label ``-1``). R-CNN fine-tuning used ``[0, 0.5)``, Fast R-CNN ``[0.1, 0.5)``.

    Returns:
        ``labels [N]`` (int64: class, 0 background, -1 ignore), ``matched_boxes [N, 4]`` (the
        best-overlapping gt box; meaningful for foreground only) and ``max_iou [N]``.

    Example:
        >>> p = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]])
        >>> g = torch.tensor([[0.0, 0, 10, 10]])
        >>> labels, matched, iou = assign_proposals(p, g, torch.tensor([3]))
        >>> labels.tolist(), iou.tolist()
        ([3, 3, 0], [1.0, 0.5, 0.0])
        >>> assign_proposals(p, g, torch.tensor([3]), 0.6)[0].tolist()  # 0.5 is neither
        [3, -1, 0]
    """
    from dlcv_utils.ops.boxes import box_iou

    low, high = bg_iou_thresh
    check_iou_threshold(fg_iou_thresh, "fg_iou_thresh")
    check_iou_threshold(low, "bg_iou_thresh[0]")
    check_iou_threshold(high, "bg_iou_thresh[1]")
    if not 0.0 <= low <= high <= fg_iou_thresh <= 1.0:
        raise ValueError(
            "need 0 <= bg_iou_thresh[0] <= bg_iou_thresh[1] <= fg_iou_thresh <= 1, "
            f"got bg_iou_thresh={bg_iou_thresh!r}, fg_iou_thresh={fg_iou_thresh!r}"
        )
    if gt_boxes.shape[0] != gt_labels.shape[0]:
        raise ValueError(
            f"gt_boxes and gt_labels differ in length: {gt_boxes.shape[0]} vs {gt_labels.shape[0]}"
        )
    n = proposals.shape[0]
    if gt_boxes.shape[0] == 0:  # no objects: every proposal has IoU 0
        max_iou = proposals.new_zeros(n)
        best = torch.zeros(n, dtype=torch.int64, device=proposals.device)
        gt_boxes = proposals.new_zeros(1, 4)
    else:
        max_iou, best = box_iou(proposals, gt_boxes.to(proposals)).max(
            dim=1
        )  # [N, M] -> best object
    labels = torch.full((n,), -1, dtype=torch.int64, device=proposals.device)
    labels[(max_iou >= low) & (max_iou < high)] = 0
    fg = max_iou >= fg_iou_thresh
    labels[fg] = gt_labels.to(proposals.device, torch.int64)[best[fg]]
    return labels, gt_boxes.to(proposals)[best], max_iou


def sample_rois(
    labels: torch.Tensor,
    batch_size_per_image: int = 64,
    positive_fraction: float = 0.25,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick up to ``batch_size_per_image`` RoIs, at most ``positive_fraction`` of them foreground.

    Backgrounds fill the rest (so an image with few positives still gives a full batch);
    labels ``-1`` are never picked.

    Returns:
        int64 indices into ``labels``.

    Example:
        >>> labels = torch.tensor([1, 0, 0, 2, -1, 0, 0, 0])
        >>> idx = sample_rois(labels, 4, 0.25, torch.Generator().manual_seed(0))
        >>> len(idx), int((labels[idx] > 0).sum()), int((labels[idx] < 0).sum())
        (4, 1, 0)
    """
    if (
        isinstance(batch_size_per_image, bool)
        or not isinstance(batch_size_per_image, int)
        or batch_size_per_image < 1
    ):
        raise ValueError(
            f"batch_size_per_image must be a positive int, got {batch_size_per_image!r}"
        )
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction!r}")
    pos = torch.nonzero(labels > 0).flatten()
    neg = torch.nonzero(labels == 0).flatten()
    n_pos = min(int(batch_size_per_image * positive_fraction), pos.numel())
    n_neg = min(batch_size_per_image - n_pos, neg.numel())
    pos = pos[torch.randperm(pos.numel(), generator=generator)[:n_pos].to(pos.device)]
    neg = neg[torch.randperm(neg.numel(), generator=generator)[:n_neg].to(neg.device)]
    return torch.cat([pos, neg])


# ----------------------------------------------------------------------------- warping
def context_pad(boxes: torch.Tensor, output_size: int, padding: int) -> torch.Tensor:
    """Enlarge ``boxes`` so that, once warped to ``output_size``, ``padding`` pixels of context surround them.

    R-CNN warped each proposal to 227 x 227 after growing it so that 16 of those pixels on each
    side show the surroundings: a scale of ``output_size / (output_size - 2 * padding)`` about
    the centre.

    Example:
        >>> context_pad(torch.tensor([[10.0, 10.0, 30.0, 20.0]]), 28, 4)
        tensor([[ 6., 8., 34., 22.]])
    """
    if padding < 0 or 2 * padding >= output_size:
        raise ValueError(
            f"padding must be in [0, output_size / 2), got {padding!r} for output_size={output_size}"
        )
    s = output_size / (output_size - 2 * padding)
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * s
    return torch.cat([c - half, c + half], dim=1)


def warp_regions(
    images: torch.Tensor | Sequence[torch.Tensor],
    boxes: Sequence[torch.Tensor],
    output_size: int,
    padding: int = 0,
) -> torch.Tensor:
    """Crop every box (with context ``padding``) and warp it to ``output_size x output_size``.

    Anisotropic scaling, as in R-CNN: the aspect ratio is not kept. Implemented with
    ``torchvision.ops.roi_align`` on the image itself (``aligned=True``, one bilinear sample at
    the centre of each output pixel): the same numbers as crop + ``cv2.resize(...,
    INTER_LINEAR)`` away from the crop border, for boxes with sub-pixel corners too.

    Args:
        images: ``[N, C, H, W]`` tensor or a list of ``C x H x W`` tensors of one size.
        boxes: one ``[L_i, 4]`` xyxy tensor per image.
        output_size: side of the warped crops.
        padding: context pixels (in the warped crop) on each side.

    Returns:
        ``[sum L_i, C, output_size, output_size]``.

    Example:
        >>> img = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> warp_regions(img, [torch.tensor([[0.0, 0.0, 2.0, 2.0]])], 2)[0, 0]
        tensor([[0., 1.],
                [4., 5.]])
    """
    from torchvision.ops import roi_align

    batch = images if isinstance(images, torch.Tensor) else torch.stack(list(images))
    padded = [context_pad(b.to(batch), output_size, padding) for b in boxes]
    return roi_align(batch, padded, output_size, spatial_scale=1.0, sampling_ratio=1, aligned=True)


# ----------------------------------------------------------------------------- networks
class TwoStageDetector(nn.Module):
    """Proposals → per-RoI features → softmax classifier + class-specific box regression.

    Subclasses implement :meth:`roi_features` (``images, rois -> [R, feature_dim]``). The
    images are ``[0, 1]`` float tensors; they are normalised inside (``(x - 0.5) / 0.25``).

    Args:
        num_classes: number of classes **including** background (torchvision convention).
        proposals: callable ``image -> [N, 4]`` boxes, e.g. a :class:`ProposalCache`.
        feature_dim: length of the per-RoI feature vector.
        hidden: width of the two fully connected layers after the RoI features.
        batch_size_per_image: RoIs sampled per training image.
        positive_fraction: at most this fraction of them foreground.
        fg_iou_thresh / bg_iou_thresh: see :func:`assign_proposals`.
        box_weights: ``(wx, wy, ww, wh)`` of the box coder.
        score_thresh: detections below this score are dropped.
        nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: keep at most this many detections per image.
    """

    def __init__(
        self,
        num_classes: int,
        proposals: Callable[[torch.Tensor], torch.Tensor],
        feature_dim: int,
        hidden: int = 256,
        *,
        batch_size_per_image: int = 64,
        positive_fraction: float = 0.25,
        fg_iou_thresh: float = 0.5,
        bg_iou_thresh: tuple[float, float] = (0.0, 0.5),
        box_weights: tuple[float, float, float, float] = BOX_WEIGHTS,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 100,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an int >= 2 (background included), got {num_classes!r}"
            )
        if not callable(proposals):
            raise TypeError(
                f"proposals must be callable (image -> boxes), got {type(proposals).__name__}"
            )
        self.num_classes = num_classes
        self.proposals = proposals
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction
        self.fg_iou_thresh = fg_iou_thresh
        self.bg_iou_thresh = bg_iou_thresh
        self.box_weights = box_weights
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(feature_dim, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.cls_score = nn.Linear(hidden, num_classes)
        self.bbox_pred = nn.Linear(hidden, 4 * num_classes)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def roi_features(self, images: torch.Tensor, rois: list[torch.Tensor]) -> torch.Tensor:
        """``[N, 3, H, W]`` normalised images, one ``[L_i, 4]`` box tensor each → ``[sum L_i, D...]``."""
        raise NotImplementedError

    @staticmethod
    def normalize(images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Stack ``[0, 1]`` images (all of one size) and normalise them to about zero mean."""
        sizes = {tuple(img.shape) for img in images}
        if len(sizes) != 1:
            raise ValueError(f"images must all have the same shape, got {sorted(sizes)}")
        return (torch.stack(list(images)) - 0.5) / 0.25

    def forward(self, images: Sequence[torch.Tensor], targets: Sequence[dict] | None = None):
        if self.training and targets is None:
            raise ValueError("targets must be given in training mode")
        batch = self.normalize(images)
        proposals = [self.proposals(img).to(batch) for img in images]
        if self.training:
            rois, labels, reg_targets = [], [], []
            for props, tgt in zip(proposals, targets):
                gt = torch.as_tensor(tgt["boxes"]).to(batch).reshape(-1, 4)
                cand = torch.cat([props, gt])  # the ground truth boxes are proposals too
                lab, matched, _ = assign_proposals(
                    cand, gt, torch.as_tensor(tgt["labels"]), self.fg_iou_thresh, self.bg_iou_thresh
                )
                idx = sample_rois(lab, self.batch_size_per_image, self.positive_fraction)
                rois.append(cand[idx])
                labels.append(lab[idx])
                reg_targets.append(encode(matched[idx], cand[idx], self.box_weights))
            feats = self.head(self.roi_features(batch, rois))
            loss_cls, loss_box = fast_rcnn_loss(
                self.cls_score(feats),
                self.bbox_pred(feats),
                torch.cat(labels),
                torch.cat(reg_targets),
            )
            return {"loss_classifier": loss_cls, "loss_box_reg": loss_box}
        feats = self.head(self.roi_features(batch, proposals))
        return self.postprocess(
            self.cls_score(feats), self.bbox_pred(feats), proposals, batch.shape[-2:]
        )

    def postprocess(self, class_logits, box_regression, proposals, image_shape):
        """Softmax, decode class-specific boxes, clip, drop background and low scores, per-class NMS."""
        # torchvision's C++ per-class NMS: the same kept boxes as dlcv_utils.ops.nms.batched_nms
        # (lesson 01) for these non-negative coordinates, and much faster
        from torchvision.ops import batched_nms, clip_boxes_to_image, remove_small_boxes

        h, w = int(image_shape[0]), int(image_shape[1])
        scores_all = F.softmax(class_logits, -1).split([len(p) for p in proposals])
        deltas_all = box_regression.split([len(p) for p in proposals])
        results = []
        for scores, deltas, props in zip(scores_all, deltas_all, proposals):
            boxes = decode(deltas, props, self.box_weights).reshape(-1, self.num_classes, 4)
            boxes = clip_boxes_to_image(boxes, (h, w))[:, 1:].reshape(-1, 4)
            labels = torch.arange(1, self.num_classes, device=boxes.device).repeat(len(props))
            scores = scores[:, 1:].reshape(-1)
            keep = torch.nonzero(scores > self.score_thresh).flatten()
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = remove_small_boxes(boxes, 1.0)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = batched_nms(boxes, scores, labels, self.nms_thresh)[: self.detections_per_img]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results


class RCNN(TwoStageDetector):
    """R-CNN: warp each proposal to ``crop_size`` (with context) and run the CNN on every crop.

    Args:
        num_classes: classes including background.
        proposals: callable ``image -> boxes``.
        crop_size: side of the warped crops (R-CNN: 227).
        context_padding: context pixels per side in the warped crop (R-CNN: 16 of 227).
        channels: widths of :func:`small_backbone`.
        **kwargs: see :class:`TwoStageDetector`.

    Example:
        >>> import numpy as np
        >>> m = RCNN(3, ProposalCache(lambda im: np.array([[0, 0, 16, 16], [4, 4, 20, 28]])),
        ...          crop_size=12, channels=(4, 4, 4), hidden=8).eval()
        >>> out = m([torch.rand(3, 32, 32)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'scores']
    """

    def __init__(
        self,
        num_classes: int,
        proposals: Callable[[torch.Tensor], torch.Tensor],
        crop_size: int = 28,
        context_padding: int = 2,
        channels: Sequence[int] = (32, 64, 128),
        hidden: int = 256,
        **kwargs,
    ) -> None:
        if crop_size % 4 != 0:
            raise ValueError(
                f"crop_size must be a multiple of 4 (the backbone stride), got {crop_size!r}"
            )
        super().__init__(
            num_classes, proposals, channels[-1] * (crop_size // 4) ** 2, hidden, **kwargs
        )
        self.crop_size = crop_size
        self.context_padding = context_padding
        self.backbone = small_backbone(channels)

    def roi_features(self, images, rois):
        crops = warp_regions(images, rois, self.crop_size, self.context_padding)
        return self.backbone(crops)


class FastRCNN(TwoStageDetector):
    """Fast R-CNN: one CNN pass per image, then RoI pooling of every proposal on the feature map.

    Args:
        num_classes: classes including background.
        proposals: callable ``image -> boxes``.
        roi_output_size: RoI pooling grid (Fast R-CNN: 7 x 7).
        roi_op: ``"pool"`` (RoIPool, as in the paper) or ``"align"`` (RoIAlign, Mask R-CNN).
        channels: widths of :func:`small_backbone` (stride 4, so ``spatial_scale = 1/4``).
        **kwargs: see :class:`TwoStageDetector`.

    Example:
        >>> import numpy as np
        >>> m = FastRCNN(3, ProposalCache(lambda im: np.array([[0, 0, 16, 16]])),
        ...              channels=(4, 4, 4), hidden=8)
        >>> images = [torch.rand(3, 32, 32)]
        >>> targets = [{"boxes": torch.tensor([[2.0, 2.0, 14.0, 15.0]]), "labels": torch.tensor([1])}]
        >>> sorted(m(images, targets))
        ['loss_box_reg', 'loss_classifier']
    """

    def __init__(
        self,
        num_classes: int,
        proposals: Callable[[torch.Tensor], torch.Tensor],
        roi_output_size: int = 7,
        roi_op: str = "pool",
        channels: Sequence[int] = (32, 64, 128),
        hidden: int = 256,
        **kwargs,
    ) -> None:
        if roi_op not in ("pool", "align"):
            raise ValueError(f"roi_op must be 'pool' or 'align', got {roi_op!r}")
        super().__init__(
            num_classes, proposals, channels[-1] * roi_output_size**2, hidden, **kwargs
        )
        self.roi_output_size = roi_output_size
        self.roi_op = roi_op
        self.spatial_scale = 1 / 4
        self.backbone = small_backbone(channels)

    def roi_features(self, images, rois):
        from torchvision.ops import roi_align, roi_pool

        fmap = self.backbone(images)  # one pass per image
        if self.roi_op == "pool":
            return roi_pool(fmap, rois, self.roi_output_size, self.spatial_scale)
        return roi_align(
            fmap, rois, self.roi_output_size, self.spatial_scale, sampling_ratio=2, aligned=True
        )
