# %% [markdown]
# # Lesson 13 — Mask R-CNN: instance segmentation
#
# A detector answers "what, and where (as a box)". Many applications need the exact pixels:
# cutting a person out of a photo, measuring the area of a defect, picking an object with a
# robot arm. **Instance segmentation** (인스턴스 분할) gives every detected object its own
# pixel mask. **Mask R-CNN** (He et al., 2017) does it with one small addition to Faster
# R-CNN (lesson 05): next to the box head, a **mask head** (마스크 헤드) predicts a 28 × 28
# mask inside every detected box.
#
# In this lesson you
#
# 1. see the difference between semantic and instance segmentation on the shapes data, and how
#    COCO stores masks (run-length encoding);
# 2. measure why RoIAlign, not RoIPool, is needed for masks;
# 3. write the mask head's training targets and its per-class binary loss, and check them
#    against torchvision;
# 4. train torchvision's `MaskRCNN` (small backbone, from scratch) on the shapes masks on a
#    CPU and evaluate box AP **and** mask AP with COCO's metric, checked against pycocotools;
# 5. play with the mask threshold and make a "colour splash" of an image and a short clip;
# 6. run the COCO-trained Mask R-CNN on real photos (on Colab).

# %%
# %matplotlib inline
import contextlib
import io
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align, roi_pool

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.viz.plotting import draw_boxes, show_image

device, cfg = lesson_setup("13")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(
    f"device: {device.type}; image size {cfg.data.image_size} px, {cfg.data.n_train} training images"
)

# %% [markdown]
# ## 1. Semantic vs instance segmentation
#
# **Semantic segmentation** (의미 분할) gives every pixel a class: "this pixel is a circle".
# Two touching circles become one blob of circle pixels. **Instance segmentation** gives every
# *object* its own mask: circle #1, circle #2. It is detection with pixel-exact shapes, and it
# is what Mask R-CNN does.
#
# The shapes data of lesson 02 already comes with one **instance mask** (인스턴스 마스크) per
# object (the visible part, after occlusion), so we can train on it. Below: the image, the
# semantic map (colour = class) and the instance map (colour = object).

# %%
val_set = ShapesDetection(
    "val", n=cfg.data.n_val, image_size=cfg.data.image_size, return_masks=True
)
image, target = val_set[2]
masks = target["masks"].bool()  # [N, H, W], one per object
labels = target["labels"]
semantic = torch.zeros(masks.shape[1:], dtype=torch.long)
instance = torch.zeros(masks.shape[1:], dtype=torch.long)
for k, (m, lab) in enumerate(zip(masks, labels)):
    semantic[m] = lab
    instance[m] = k + 1
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
show_image(image, ax=axes[0], title=f"{len(labels)} objects")
axes[1].imshow(semantic, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
axes[1].set_title(f"semantic: {len(labels.unique())} classes")
axes[2].imshow(instance, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
axes[2].set_title(f"instance: {len(labels)} objects")
for ax in axes[1:]:
    ax.set_axis_off()
plt.tight_layout()
plt.show()
print("classes:", [ShapesDetection.classes[i] for i in labels.tolist()])

# %% [markdown]
# ### How COCO stores a mask: run-length encoding
# A 128 × 128 mask is 16,384 pixels, mostly 0. COCO stores it as a **run-length encoding**
# (RLE, 런 길이 부호화): read the pixels column by column and write down the lengths of the
# alternating runs of 0s and 1s, always starting with the 0s. pycocotools compresses the list
# of run lengths into a short string. The mask IoU of COCO's **mask AP** (마스크 AP) is
# computed directly on these RLEs.

# %%
from pycocotools import mask as mask_utils

from dlcv_utils.datasets.masks import mask_to_rle, rle_counts

m0 = masks[0].numpy().astype(np.uint8)
flat = m0.ravel(order="F")  # column by column
changes = np.flatnonzero(np.diff(flat)) + 1
runs = np.diff(np.concatenate([[0], changes, [len(flat)]])).tolist()
if flat[0] == 1:
    runs = [0, *runs]  # the counts always start with the 0s
rle = mask_to_rle(m0)
assert runs == rle_counts(rle["counts"])
print(f"{m0.sum()} mask pixels of {m0.size}: {len(runs)} runs, e.g. {runs[:6]} ...")
print(f"compressed counts: {rle['counts'][:40]!r} ({len(rle['counts'])} characters)")
assert mask_utils.area(mask_utils.encode(np.asfortranarray(m0))) == m0.sum()

# %% [markdown]
# ### Exercise 1 — mask IoU
#
# Mask AP matches a predicted mask with a ground-truth mask by their **mask IoU**: pixels in
# both divided by pixels in either. Write `my_mask_iou(mask_a, mask_b)` for two `(H, W)`
# binary masks (bool or 0/1); two empty masks have IoU 0. The check compares with
# pycocotools' `mask.iou`. Stuck? `show_solution("mask_iou")`.


# %%
def my_mask_iou(mask_a, mask_b):
    """IoU of two binary (H, W) masks: a float in [0, 1]."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_mask_iou, check_rle_counts, show_solution

_ = check_mask_iou(my_mask_iou)

# %% [markdown]
# ### Exercise 2 — the RLE counts of a mask
#
# Write `my_rle_counts(mask)`: COCO's run lengths of a binary `(H, W)` mask, as a list of
# ints, as in the cell above: pixels column by column, alternating runs of 0s and 1s, the first
# run always of 0s (length 0 when the first pixel is 1). The check compares with pycocotools'
# `mask.encode`. Model solution: `show_solution("rle_counts")`.


# %%
def my_rle_counts(mask):
    """Run lengths of a binary (H, W) mask, column-major, starting with the 0s."""
    raise NotImplementedError  # your code here


# %%
_ = check_rle_counts(my_rle_counts)

# %% [markdown]
# ## 2. Why masks need RoIAlign
#
# Faster R-CNN reads each region of interest from the feature map with a fixed-size pooling.
# Fast R-CNN's **RoIPool** rounds the box to the feature grid, twice: the box's corners to
# whole cells, then the bins to whole cells. On a stride-8 feature map one cell is 8 pixels,
# so an edge can move by up to 4 pixels, and bins of unequal sizes shift the rest. For a box
# that hardly matters (lesson 04); for a mask it shifts every pixel. **RoIAlign** (lesson 04)
# keeps the exact coordinates and samples the feature map bilinearly.
#
# The experiment: take each object's ground-truth mask, shrink it 8 times (as a stride-8
# feature map would see it), read a 14 × 14 patch over the object's box with RoIPool and with
# RoIAlign, paste the patch back into the image (as Mask R-CNN does with its predicted masks)
# and compare with the original mask by IoU. The only difference between the two is how the
# box is read.

# %%
from torchvision.models.detection.roi_heads import paste_masks_in_image

stride, m_size = 8, 14
box_list, pool_iou, align_iou, shifts = [], [], [], []
for i in range(40):
    _, t = val_set[i]
    gt = t["masks"].float()  # [N, H, W]
    feat = F.avg_pool2d(gt[:, None], stride)  # [N, 1, H / 8, W / 8]: the "feature map"
    boxes = t["boxes"].float()
    rois = torch.cat([torch.arange(len(boxes))[:, None].float(), boxes], dim=1)
    pooled = roi_pool(feat, rois, m_size, 1 / stride)
    aligned = roi_align(feat, rois, m_size, 1 / stride, sampling_ratio=2, aligned=True)
    for patch, out in ((pooled, pool_iou), (aligned, align_iou)):
        pasted = paste_masks_in_image(patch, boxes, gt.shape[-2:], padding=1)[:, 0] >= 0.5
        inter = (pasted & gt.bool()).flatten(1).sum(1)
        union = (pasted | gt.bool()).flatten(1).sum(1)
        out.extend((inter / union.clamp(min=1)).tolist())
    # how far RoIPool moves the box's corners: rounding to whole cells of 8 px
    shifts.extend((torch.round(boxes / stride) * stride - boxes).abs().flatten().tolist())
print(
    f"{len(pool_iou)} objects; RoIPool moves a box edge by {np.mean(shifts):.2f} px on average "
    f"(at most {np.max(shifts):.1f} px)"
)
print(
    f"mask IoU after the round trip: RoIPool {np.mean(pool_iou):.3f}, RoIAlign {np.mean(align_iou):.3f}"
)
assert np.mean(align_iou) > np.mean(pool_iou) + 0.05

# %% [markdown]
# The same mask, read over the same box: the lost pixels are all RoIPool's quantisation.
# The paper measured the effect on real data: switching RoIPool to RoIAlign raised COCO mask
# AP by about 3 points, and AP at IoU 0.75 (where the mask must fit tightly) by 5.

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
bins = np.linspace(0, 1, 21)
axes[0].hist([pool_iou, align_iou], bins=bins, label=["RoIPool", "RoIAlign"])
axes[0].set_xlabel("mask IoU after the round trip")
axes[0].legend()
_, t = val_set[0]
gt = t["masks"].float()
feat = F.avg_pool2d(gt[:, None], stride)
boxes = t["boxes"].float()
rois = torch.cat([torch.arange(len(boxes))[:, None].float(), boxes], dim=1)
p = (
    paste_masks_in_image(roi_pool(feat, rois, m_size, 1 / stride), boxes, gt.shape[-2:])[:, 0]
    >= 0.5
)
a = (
    paste_masks_in_image(
        roi_align(feat, rois, m_size, 1 / stride, sampling_ratio=2, aligned=True),
        boxes,
        gt.shape[-2:],
    )[:, 0]
    >= 0.5
)
overlay = np.zeros((*gt.shape[-2:], 3))
overlay[..., 0] = p.any(0)  # red: RoIPool
overlay[..., 1] = a.any(0)  # green: RoIAlign
overlay[..., 2] = gt.bool().any(0)  # blue: ground truth
axes[1].imshow(overlay)
axes[1].set_title("red RoIPool, green RoIAlign, blue truth")
axes[1].set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# (White = all three agree; cyan = RoIAlign and the truth but not RoIPool; magenta = RoIPool and
# the truth; a lone colour is a pixel only that one has.)
#
# ## 3. The mask head and its targets
#
# Mask R-CNN adds a branch to the RoI head of Faster R-CNN:
#
# 1. RoIAlign reads a 14 × 14 patch of the feature map for each RoI (the box head reads 7 × 7);
# 2. a small fully convolutional network: 4 convolutions 3 × 3 × 256, a 2× transposed
#    convolution (14 → 28), then a 1 × 1 convolution giving **one 28 × 28 mask per class**;
# 3. the **mask loss** (마스크 손실): binary cross-entropy, per pixel, between the mask of the
#    RoI's ground-truth class and its **mask target** (마스크 타깃). The other classes' masks
#    get no gradient. Classes do not compete for a pixel (no softmax over classes): the
#    classification is the box head's job. The paper showed this decoupling matters (a
#    per-pixel softmax over classes lost 5.5 mask AP).
#
# ### The mask target of one RoI
# The target is the RoI's matched ground-truth mask, cropped to the RoI and resampled to
# 28 × 28, with the same RoIAlign sampling: the RoI is cut into 28 × 28 bins, each bin averages
# `ceil(bin height) × ceil(bin width)` bilinear samples taken at regular positions inside it
# (torchvision's `sampling_ratio=-1`, with `aligned=False`: pixel `(i, j)` is a value at
# integer coordinates). Written out:


# %%
def bilinear(img, y, x):
    """torchvision's roi_align interpolation of a 2-D array at (y, x), 0 outside."""
    h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * img[y0, x0]
        + (1 - ly) * lx * img[y0, x1]
        + ly * (1 - lx) * img[y1, x0]
        + ly * lx * img[y1, x1]
    )


def my_mask_target(gt_mask, box, size=28):
    """gt_mask [H, W], box (x1, y1, x2, y2) -> the [size, size] target in [0, 1]."""
    x1, y1, x2, y2 = [float(v) for v in box]
    roi_w, roi_h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)  # as torchvision: at least 1 px
    bin_w, bin_h = roi_w / size, roi_h / size
    gx, gy = int(np.ceil(bin_w)), int(np.ceil(bin_h))  # samples per bin side
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            total = 0.0
            for iy in range(gy):
                for ix in range(gx):
                    y = y1 + i * bin_h + (iy + 0.5) * bin_h / gy
                    x = x1 + j * bin_w + (ix + 0.5) * bin_w / gx
                    total += bilinear(gt_mask, y, x)
            out[i, j] = total / (gx * gy)
    return out


# %% [markdown]
# Same values as torchvision's `project_masks_on_boxes` (what `maskrcnn_loss` calls)? We try
# RoIs that do not fit their object exactly, as the RPN's proposals do not.

# %%
from torchvision.models.detection.roi_heads import project_masks_on_boxes

_, t = val_set[0]
gt_masks = t["masks"]
g = torch.Generator().manual_seed(0)
jitter = (torch.rand(len(gt_masks), 4, generator=g) - 0.5) * 8  # +-4 px
rois = t["boxes"].float() + jitter
matched = torch.arange(len(gt_masks))
tv_targets = project_masks_on_boxes(gt_masks, rois, matched, 28)
ours = np.stack([my_mask_target(gt_masks[k].numpy().astype(float), rois[k]) for k in matched])
np.testing.assert_allclose(ours, tv_targets.numpy(), atol=1e-5)
print(f"{len(rois)} mask targets of 28 x 28, identical to torchvision's within 1e-5")
print(
    f"soft border pixels (strictly between 0 and 1): {int(((tv_targets > 0) & (tv_targets < 1)).sum())}"
)

# %% [markdown]
# From now on we use the tested version, `dlcv_utils.models.mask_rcnn.mask_targets`:

# %%
from dlcv_utils.models.mask_rcnn import mask_targets

torch.testing.assert_close(mask_targets(gt_masks, rois, matched, 28), tv_targets, rtol=0, atol=0)
fig, axes = plt.subplots(2, len(rois), figsize=(2.2 * len(rois), 4.4), squeeze=False)
for k in range(len(rois)):
    show_image(image=val_set[0][0], ax=axes[0, k], title=f"RoI {k}")
    draw_boxes(axes[0, k], rois[k : k + 1], color="yellow")
    axes[1, k].imshow(tv_targets[k], cmap="gray", vmin=0, vmax=1)
    axes[1, k].set_title("28 x 28 target")
    axes[1, k].set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The per-class binary mask loss
# For `N` RoIs the mask head gives logits `[N, K, 28, 28]` (K classes, background included).
# The loss picks, for RoI `i`, the map of its ground-truth class `c_i` and takes the mean
# binary cross-entropy with its target:
#
# $$L_{mask} = \frac{1}{N \cdot 28^2} \sum_i \sum_{p} \mathrm{BCE}\big(\sigma(z_{i, c_i, p}),\ t_{i, p}\big)$$

# %%
from torchvision.models.detection.roi_heads import maskrcnn_loss

num_classes = len(ShapesDetection.classes)
logits = torch.randn(len(rois), num_classes, 28, 28, generator=g)
gt_labels = t["labels"]
my_loss = F.binary_cross_entropy_with_logits(
    logits[torch.arange(len(rois)), gt_labels[matched]], mask_targets(gt_masks, rois, matched)
)
tv_loss = maskrcnn_loss(logits, [rois], [gt_masks], [gt_labels], [matched])
torch.testing.assert_close(my_loss, tv_loss)
print(f"mask loss {my_loss.item():.4f} = torchvision's maskrcnn_loss")
# the other classes' maps get no gradient
logits.requires_grad_(True)
maskrcnn_loss(logits, [rois], [gt_masks], [gt_labels], [matched]).backward()
touched = logits.grad.abs().sum(dim=(2, 3)) > 0  # [N, K]
assert torch.equal(touched, F.one_hot(gt_labels[matched], num_classes).bool())
print("gradient only in each RoI's own class map:", touched.sum(1).tolist())

# %% [markdown]
# ## 4. Mask R-CNN on the shapes data
#
# We build torchvision's `MaskRCNN` from parts sized for 128 px images and a CPU
# (`dlcv_utils.models.mask_rcnn.build_mask_rcnn`), the shape of the paper's models: a small
# plain CNN whose stride-4, 8 and 16 stages feed an FPN (lesson 06; levels P2-P4 of
# `cfg.fpn_channels` channels), an RPN with anchors on every level, RoIAlign heads for boxes
# and masks. The mask branch is narrow, `cfg.mask_layers` convolutions of `cfg.mask_channels`
# channels instead of 4 × 256 (on the shapes, a few thin layers are enough). The data loader
# now also delivers `target["masks"]` (the horizontal flip moves masks with boxes).
#
# Which pyramid level does an RoI pool from? The FPN paper's rule: an RoI of side
# $s = \sqrt{wh}$ goes to level $k = \lfloor k_0 + \log_2(s / s_0) \rfloor$, clipped to the
# levels there are, with $k_0 = 4$ and a canonical side $s_0 = 224$ (an ImageNet-sized
# object pools from P4). Our objects are 8-64 px, so `cfg.canonical_scale` sets $s_0 = 112$:
# RoIs under 56 px pool from P2, where a 20 px shape still covers 5 × 5 cells, and 56-112 px
# ones from P3. Scaling the rule down further is a trap: with $s_0 = 56$ a 28 px shape pools
# from P3, only 3.5 cells wide, and the same training reached about 0.2 less box mAP@0.5
# (`benchmarks/bench_mask_backbones.py` trains both, and lesson 05's one-map backbone).

# %%
from dlcv_utils.course.recipes import shapes_loaders
from dlcv_utils.course.recipes_mask_rcnn import build_mask_rcnn_model, mask_datasets

class_names = ShapesDetection.classes
t0 = time.perf_counter()
datasets = mask_datasets(cfg.data)  # images and masks generated up front
train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed, datasets=datasets)
model = build_mask_rcnn_model(cfg)
for part in ("backbone", "rpn", "roi_heads"):
    n = sum(p.numel() for p in getattr(model, part).parameters())
    print(f"{part:10s} {n:>9,d} parameters")
n_mask = sum(
    p.numel()
    for name in ("mask_head", "mask_predictor")
    for p in getattr(model.roi_heads, name).parameters()
)
print(f"  of which the mask branch: {n_mask:,d}")
print(model.roi_heads.mask_head)

# %% [markdown]
# The level rule, written out and checked against torchvision's (`LevelMapper`, what
# `MultiScaleRoIAlign` uses), on the validation objects' boxes:

# %%
import math

from torchvision.ops.poolers import LevelMapper


def fpn_level(w, h, canonical, k0=4, k_min=2, k_max=1 + cfg.levels):
    """The FPN paper's level rule for an RoI of w x h pixels (2 means P2)."""
    k = math.floor(k0 + math.log2(math.sqrt(w * h) / canonical) + 1e-6)  # eps as torchvision
    return min(max(k, k_min), k_max)


val_boxes = torch.cat([datasets[1][i][1]["boxes"] for i in range(len(datasets[1]))])  # [N, 4]
for s0 in (cfg.canonical_scale, 56):
    ours = [fpn_level(float(x1 - x0), float(y1 - y0), s0) for x0, y0, x1, y1 in val_boxes]
    mapper = LevelMapper(2, 1 + cfg.levels, canonical_scale=s0, canonical_level=4)
    assert ours == (mapper([val_boxes]) + 2).tolist()  # LevelMapper counts from k_min
    counts = {f"P{k}": ours.count(k) for k in range(2, 2 + cfg.levels)}
    print(f"canonical side {s0:>3} px: {len(ours)} val objects per level {counts}")

# %% [markdown]
# ### Training
# The loop is lesson 05's `fit`; the model now returns five losses, `loss_mask` added to the
# four of Faster R-CNN. After training, `train_and_evaluate_masks` runs the model once over
# the validation images and scores the same detections twice with COCO's metric: box AP
# (`iou_type="bbox"`) and mask AP (`iou_type="segm"`, each predicted mask binarised at
# `cfg.mask_threshold` and encoded as an RLE).

# %%
# NBVAL_IGNORE_OUTPUT
import os

from dlcv_utils.course.recipes_mask_rcnn import train_and_evaluate_masks

# cfg.train.max_train_seconds is only a safety net; benchmarks/bench_detectors.py --only
# mask_rcnn trains the same way
run = train_and_evaluate_masks(
    model, train_loader, val_loader, cfg.train, device=device, seed=cfg.seed,
    mask_threshold=cfg.mask_threshold,
)  # fmt: skip
history = run.history
print(
    f"{history.iterations} iterations in {history.train_seconds:.0f} s of training "
    f"({torch.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.1f}); "
    f"stopped early: {history.stop_reason or 'no'}"
)
assert history.train_seconds <= cfg.train.max_train_seconds + 30

# %%
fig = history.plot(smooth=20)
plt.show()

# %% [markdown]
# ### Box AP and mask AP

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

metrics = run.metrics
print(f"{'':10s} {'box':>8s} {'mask':>8s}")
print(f"{'mAP@0.5':10s} {metrics['map50']:8.3f} {metrics['mask_map50']:8.3f}")
print(f"{'mAP':10s} {metrics['map']:8.3f} {metrics['mask_map']:8.3f}")
for name in class_names[1:]:
    print(
        f"  {name:9s} AP@0.5 box {metrics['per_class'][name]:.3f}  mask {metrics['mask_per_class'][name]:.3f}"
    )
print(f"{1000 * metrics['seconds_per_image']:.0f} ms per image (forward, masks pasted)")
assert metrics["map50"] >= cfg.train.map50_floor, f"box mAP@0.5 {metrics['map50']:.3f}"
assert metrics["mask_map50"] >= cfg.mask_map50_floor, f"mask mAP@0.5 {metrics['mask_map50']:.3f}"
key_figure("val box mAP@0.5", metrics["map50"])
key_figure("val mask mAP@0.5", metrics["mask_map50"])

# %% [markdown]
# ### The same numbers from pycocotools
# `coco_evaluate` is the course's own COCO evaluation (lesson 01). On the same ground truth and
# results, pycocotools' `COCOeval` must agree, for boxes and for masks:

# %%
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycocotools_ap(coco_gt, results, iou_type):
    gt = COCO()
    gt.dataset = coco_gt
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[1], ev.stats[0]  # AP@0.5, AP@[.5:.95]


for iou_type, prefix in (("bbox", ""), ("segm", "mask_")):
    results = metrics["bbox_results" if iou_type == "bbox" else "segm_results"]
    ap50, ap = pycocotools_ap(metrics["coco_gt"], results, iou_type)
    assert abs(ap50 - metrics[prefix + "map50"]) < 1e-9 and abs(ap - metrics[prefix + "map"]) < 1e-9
    print(f"{iou_type}: pycocotools agrees with coco_evaluate (AP@0.5 and AP to 1e-9)")

# %% [markdown]
# Mask AP is usually a little below box AP at IoU 0.5 and further below at the strict
# thresholds: a 28 × 28 mask stretched over a 60 px shape has soft, blocky edges, and a mask's
# IoU punishes every wrong pixel along the border, where a box's IoU only sees four edges.
#
# ### Where the errors are
# The evaluation figures of lesson 04, for the boxes of this model: TP (green), FP (red) and
# missed objects (orange, dashed), the confusion matrix and the box AP per class; then the mask
# AP per class.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import plot_per_class_ap, show_evaluation

fig, mask_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], device=device
)
plt.show()
print(f"score >= 0.5: TP {mask_eval['n_tp']}, FP {mask_eval['n_fp']}, FN {mask_eval['n_fn']}")
assert mask_eval["matrix"][1:].sum() == mask_eval["n_tp"] + mask_eval["n_fn"]
ax = plot_per_class_ap(metrics["mask_per_class"], title="mask AP@0.5 per class")
plt.show()

# %% [markdown]
# ## 5. Masks, thresholds and the colour splash
#
# The model returns, for every detection, a mask of probabilities already pasted into the
# image (`[N, 1, H, W]`). Each pixel is "in" when its probability reaches the **mask
# threshold** (마스크 임계값), 0.5 by default. Lower it and masks grow into the soft border;
# raise it and they shrink to the confident core. Move both sliders:

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.masks import color_splash, make_mask_widget, mask_panel

img, tgt = val_loader.dataset[1]
model.eval()
with torch.no_grad():
    out = {k: v.cpu() for k, v in model([img.to(device)])[0].items()}
make_mask_widget(
    img, out["masks"], out["scores"], out["labels"], class_names=class_names,
    mask_threshold=cfg.mask_threshold, score_threshold=0.5,
)  # fmt: skip

# %% [markdown]
# The widget's numbers come from `mask_panel`; the masks shrink as the threshold rises:

# %%
# NBVAL_IGNORE_OUTPUT
for t in (0.2, 0.5, 0.8):
    areas = mask_panel(img, out["masks"], out["scores"], mask_threshold=t, score_threshold=0.5)[
        "areas"
    ]
    print(f"mask threshold {t}: areas {areas} px")
low = mask_panel(img, out["masks"], out["scores"], mask_threshold=0.2)["areas"]
high = mask_panel(img, out["masks"], out["scores"], mask_threshold=0.8)["areas"]
assert all(a >= b for a, b in zip(low, high))

# %% [markdown]
# ### The colour splash
# A classic Mask R-CNN application (from the Matterport implementation's demo): keep the
# colour inside the detected instance masks and turn everything else grey. Here on validation
# images, with the model just trained; `color_splash` (in `dlcv_utils.viz.widgets.masks`) does
# the pixel work.

# %%
fig, axes = plt.subplots(2, 4, figsize=(10, 5))
for k in range(4):
    img_k, _ = val_loader.dataset[4 + k]
    with torch.no_grad():
        o = model([img_k.to(device)])[0]
    keep = o["scores"] >= 0.5
    show_image(img_k, ax=axes[0, k], title=f"{int(keep.sum())} detections")
    axes[1, k].imshow(color_splash(img_k, o["masks"][keep].cpu(), cfg.mask_threshold))
    axes[1, k].set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# And on a short clip: the camera pan over two shapes images of lesson 02
# (`dlcv_utils.viz.video.moving_shapes_clip`), frame by frame through the model. The clip is
# written to a video file; every few frames are shown here.

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile
from pathlib import Path

from dlcv_utils.viz.video import moving_shapes_clip, read_video, write_video

frames, _, _ = moving_shapes_clip(cfg.video_frames, step=4, image_size=cfg.data.image_size)
splashed = []
t0 = time.perf_counter()
for frame in frames:
    x = torch.from_numpy(frame).permute(2, 0, 1).float().div(255).to(device)
    with torch.no_grad():
        o = model([x])[0]
    keep = o["scores"] >= 0.5
    splashed.append(color_splash(frame, o["masks"][keep].cpu(), cfg.mask_threshold))
print(f"{len(frames)} frames in {time.perf_counter() - t0:.1f} s")
with tempfile.TemporaryDirectory() as tmp:
    path = write_video(splashed, Path(tmp) / "splash.mp4", fps=8)
    print(f"wrote {path.name}: {len(read_video(path).frames)} frames")
step = max(1, len(frames) // 4)
fig, axes = plt.subplots(2, 4, figsize=(10, 5))
for k, i in enumerate(range(0, step * 4, step)):
    axes[0, k].imshow(frames[i])
    axes[0, k].set_title(f"frame {i}")
    axes[1, k].imshow(splashed[i])
    for ax in axes[:, k]:
        ax.set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The COCO-trained Mask R-CNN on real photos
#
# A model trained on shapes knows nothing about photos. torchvision ships a Mask R-CNN trained
# on COCO's 80 classes (`maskrcnn_resnet50_fpn`, ResNet-50 + FPN, about 170 MB of weights):
# on Colab they download on first use; offline, where this notebook is tested, the next cells
# say so and show nothing. (The repository's photos in `data/photos` have boxes but no masks,
# so on Colab you see the model's masks next to the labelled boxes, dashed.)

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError
from dlcv_utils.models.mask_rcnn import load_pretrained_mask_rcnn

try:
    coco_model, coco_names = load_pretrained_mask_rcnn("maskrcnn_resnet50_fpn")
    coco_model.to(device)
    print("loaded torchvision's COCO Mask R-CNN (ResNet-50 + FPN)")
except WeightsUnavailableError as exc:
    coco_model = None
    print("skipped: the COCO weights cannot be downloaded here (offline). Run the notebook on")
    print("Colab to see masks and colour splashes of real photos.")
    print(f"({exc})"[:200])

# %%
if coco_model is not None:
    from dlcv_utils.datasets.photos import load_photos

    photos = load_photos()
    fig, axes = plt.subplots(2, len(photos), figsize=(4 * len(photos), 8), squeeze=False)
    for k, (photo, record) in enumerate(photos):
        x = torch.from_numpy(photo).permute(2, 0, 1).float().div(255).to(device)
        with torch.no_grad():
            o = coco_model([x])[0]
        keep = o["scores"] >= 0.5
        show_image(
            photo, boxes=o["boxes"][keep].cpu(), labels=o["labels"][keep].cpu(),
            masks=o["masks"][keep, 0].cpu(), class_names=coco_names, ax=axes[0, k],
        )  # fmt: skip
        draw_boxes(axes[0, k], [ob.bbox for ob in record.objects], color="white", linestyle="--")
        axes[1, k].imshow(color_splash(photo, o["masks"][keep].cpu(), 0.5))
        axes[1, k].set_axis_off()
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Summary
#
# * **Instance segmentation** = detection + one mask per object; semantic segmentation only
#   labels pixels by class.
# * COCO stores masks as **RLEs**, run lengths read column by column; mask AP is COCO's AP with
#   the mask IoU instead of the box IoU.
# * **RoIAlign** matters for masks: RoIPool's rounding to the feature grid moves mask edges by
#   pixels (measured above); RoIAlign samples at the exact coordinates.
# * The **mask head** predicts a 28 × 28 mask per class for each RoI; its **target** is the
#   ground-truth mask cropped to the RoI with RoIAlign; the **loss** is a per-pixel binary
#   cross-entropy on the ground-truth class's map only.
# * With an **FPN**, each RoI pools from one pyramid level chosen by its size
#   ($\lfloor 4 + \log_2(\sqrt{wh} / s_0) \rfloor$); small images and objects need a smaller
#   canonical side $s_0$, but not so small that the RoIs land on maps where they are only a few
#   cells wide.
# * The mask threshold trades mask size for precision; the colour splash is a one-line
#   application of the masks.
#
# ### Exercises
# 1. Build the model with `mask_roi_size=7` (14 × 14 masks). How much does mask AP at
#    IoU 0.75 (`metrics["mask_coco"]["AP75"]`) drop, and box AP?
# 2. Evaluate with `mask_threshold=0.3` and `0.7`: which gives the best mask AP, and why does
#    box AP not change?
# 3. Replace RoIAlign by RoIPool in section 2 with `stride = 4`. Does the gap shrink?
# 4. Train with `dataclasses.replace(cfg, canonical_scale=56)`. How many validation objects
#    pool from P3 now, and which of AP small and AP medium suffers more?

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | instance segmentation | 인스턴스 분할 | Lesson 13 — Mask R-CNN |
# | mask head | 마스크 헤드 | Lesson 13 — Mask R-CNN |
# | semantic segmentation | 의미 분할 | 1. Semantic vs instance segmentation |
# | instance mask | 인스턴스 마스크 | 1. Semantic vs instance segmentation |
# | run-length encoding (RLE) | 런 길이 부호화 | 1. Semantic vs instance segmentation |
# | mask AP | 마스크 AP | 1. Semantic vs instance segmentation |
# | mask loss | 마스크 손실 | 3. The mask head and its targets |
# | mask target | 마스크 타깃 | 3. The mask head and its targets |
# | mask threshold | 마스크 임계값 | 5. Masks, thresholds and the colour splash |
