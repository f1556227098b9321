# %% [markdown]
# # Lesson 08 — SSD: the Single Shot MultiBox Detector
#
# Faster R-CNN (lesson 05) detects in two stages: the RPN proposes regions, then a second head
# classifies each one. **SSD** (Liu et al., 2016) is a **single-shot detector** (단일 단계 검출기):
# one pass of convolutions over several feature maps gives, for every one of a fixed set of
# **default boxes** (기본 박스), the class scores *and* the box offsets. No proposals, no RoI
# pooling, no second stage.
#
# In this lesson you
#
# 1. see the **multi-scale feature maps** (다중 스케일 특징 맵) SSD predicts from, and how that
#    differs from an FPN (lesson 06);
# 2. write the default boxes (the scale rule and the aspect ratios) and check them against
#    torchvision's `DefaultBoxGenerator`;
# 3. write the **matching** (매칭) of ground truth to default boxes and check it against
#    torchvision's `SSDMatcher`;
# 4. write SSD's loss, with offsets coded with **variances** (분산) and **hard negative
#    mining** (어려운 음성 샘플 마이닝) at 3 : 1, and check it against torchvision's
#    `SSD.compute_loss`;
# 5. train torchvision's `SSD` with a tiny backbone on the shapes data on a CPU and evaluate it.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch
from torchvision.models.detection._utils import SSDMatcher
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.viz.plotting import draw_boxes, show_image

device, cfg = lesson_setup("08")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(f"device: {device.type}; image size {cfg.data.image_size} px, {cfg.levels} levels")

# %% [markdown]
# ## 1. Multi-scale feature maps
#
# A convolutional backbone halves the resolution again and again. Early maps are fine (small
# cells, small receptive fields), late maps are coarse (each cell sees much of the image).
# SSD's idea: let **every** level predict, each for the object sizes that suit it. Small
# objects are found on the fine maps, large ones on the coarse maps. The original SSD300 used
# VGG-16's `conv4_3` (38 × 38) and `fc7` (19 × 19), plus four **extra feature layers** of
# stride 2 (10 × 10, 5 × 5, 3 × 3, 1 × 1): 6 levels.
#
# An FPN (lesson 06) also predicts from several levels, but first runs a **top-down pathway**
# that adds the coarse, semantically strong maps back into the fine ones. SSD has no top-down
# fusion: each level predicts from what the bottom-up pass alone computed there, so its fine
# levels see little context. That is SSD's known weakness on small objects, which FPN (and
# RetinaNet, lesson 09) fix.
#
# Our backbone (`dlcv_utils.models.ssd.SSDBackbone`) is lesson 05's six-layer CNN of stride 8
# plus one extra stride-2 block per further level. Our images are small (128 px) and so are
# many shapes (about 10 % of them under 14 px), so the course taps the first level **before**
# the trunk's last stride-2 block, at stride 4 (`first_stride=4`; SSD300's first level has
# stride 8 on 300 px images). Section 3 measures why. At 128 px:

# %%
from dlcv_utils.models.ssd import SSDBackbone

backbone = SSDBackbone(width=cfg.width, levels=cfg.levels, first_stride=cfg.first_stride)
with torch.no_grad():
    feats = backbone(torch.zeros(1, 3, cfg.data.image_size, cfg.data.image_size))
grid_sizes = [tuple(f.shape[-2:]) for f in feats.values()]
for name, f in feats.items():
    stride = cfg.data.image_size // f.shape[-1]
    print(f"level {name}: {tuple(f.shape[1:])}  stride {stride:3d}")

# %% [markdown]
# ## 2. Default boxes
#
# Every cell of every level carries a few **default boxes** (SSD's name for anchors). Level
# `k` of `m` has the **scale** (스케일), as a fraction of the image side,
#
# $$s_k = s_{min} + \frac{s_{max} - s_{min}}{m - 1}(k - 1), \qquad k = 1, \dots, m,$$
#
# with `s_min = 0.2`, `s_max = 0.9` in the paper. Our shapes are about 6–64 px of 128, so the
# course uses `s_min = 0.08`, `s_max = 0.5` (10 to 64 px). torchvision appends `s_{m+1} = 1`,
# used below.

# %%
m = cfg.levels
scales = [cfg.s_min + (cfg.s_max - cfg.s_min) * (k - 1) / (m - 1) for k in range(1, m + 1)]
scales.append(1.0)
print("scales:", [round(s, 3) for s in scales])
print("in pixels:", [round(s * cfg.data.image_size) for s in scales[:-1]])

# %% [markdown]
# Each cell gets boxes of **aspect ratios** (종횡비) `a ∈ {1, 2, 3, 1/2, 1/3}`, of width
# `s_k √a` and height `s_k / √a` (the area stays `s_k²`), plus one extra square box of scale
# `s'_k = √(s_k s_{k+1})`, between this level and the next: 6 boxes per cell. torchvision
# writes the ratios as `[2, 3]` and adds each with its inverse. Its order within a cell:
# `(s_k, s_k)`, `(s'_k, s'_k)`, then `(w, h)` and `(h, w)` for each ratio.

# %%
ratios = [list(cfg.aspect_ratios)] * m  # [[2.0, 3.0], ...]: ratios 2, 1/2, 3, 1/3


def my_box_sizes(scales, ratios):
    sizes = []
    for k, level_ratios in enumerate(ratios):
        s, s_next = scales[k], scales[k + 1]
        pairs = [[s, s], [math.sqrt(s * s_next)] * 2]
        for a in level_ratios:
            w, h = s * math.sqrt(a), s / math.sqrt(a)
            pairs += [[w, h], [h, w]]
        sizes.append(torch.tensor(pairs))
    return sizes


sizes = my_box_sizes(scales, ratios)
print("level 0, (w, h) as fractions of the image:")
print(sizes[0].numpy().round(3))

# %% [markdown]
# The centre of cell `(i, j)` of an `f × f` map is `((j + 0.5) / f, (i + 0.5) / f)`. The
# boxes are written as `(cx, cy, w, h)` fractions, their `w, h` **clipped** to `[0, 1]` (a box
# larger than the image is clamped in size, not in its corners), and finally converted to
# `xyxy` pixels of the resized image. Order: level by level, cell by cell (row-major), box by
# box.


# %%
def my_default_boxes(grid_sizes, image_size, sizes):
    height, width = image_size
    out = []
    for (gh, gw), wh in zip(grid_sizes, sizes):
        cy, cx = torch.meshgrid(
            (torch.arange(gh) + 0.5) / gh, (torch.arange(gw) + 0.5) / gw, indexing="ij"
        )
        centres = torch.stack([cx.reshape(-1), cy.reshape(-1)], 1)  # [cells, 2]
        centres = centres.repeat_interleave(len(wh), 0)  # each cell's centre, once per box
        wh = wh.clamp(0, 1).repeat(gh * gw, 1)
        xy_size = torch.tensor([width, height])
        out.append(torch.cat([(centres - wh / 2) * xy_size, (centres + wh / 2) * xy_size], 1))
    return torch.cat(out)


image_size = (cfg.data.image_size, cfg.data.image_size)
dboxes = my_default_boxes(grid_sizes, image_size, sizes)
print(f"{len(dboxes)} default boxes:", " + ".join(f"{h}*{w}*6" for h, w in grid_sizes))

# %% [markdown]
# The same numbers as torchvision's `DefaultBoxGenerator` (the module inside `SSD`)? It takes
# the batch of resized images and the feature maps:

# %%
generator = DefaultBoxGenerator(ratios, min_ratio=cfg.s_min, max_ratio=cfg.s_max)
image_list = ImageList(torch.zeros(1, 3, *image_size), [image_size])
tv_dboxes = generator(image_list, list(feats.values()))[0]
print("torchvision scales:", [round(s, 3) for s in generator.scales])
print(f"max |Δ| default boxes vs torchvision: {(dboxes - tv_dboxes).abs().max().item():.2e} px")
torch.testing.assert_close(dboxes, tv_dboxes, rtol=0, atol=1e-4)

# %% [markdown]
# From now on we use the tested version, `dlcv_utils.models.ssd.default_boxes` (it also takes
# torchvision's `steps` and `clip` options):

# %%
from dlcv_utils.models.ssd import default_box_scales, default_boxes

dboxes = default_boxes(grid_sizes, image_size, ratios, default_box_scales(m, cfg.s_min, cfg.s_max))
torch.testing.assert_close(dboxes, tv_dboxes, rtol=0, atol=1e-4)

# %% [markdown]
# On a validation image: the 6 default boxes of the centre cell of each level (red) and the
# ground truth (white, dashed). The fine level's boxes fit the small shapes, the coarse level's
# the large ones.

# %%
val_set = ShapesDetection("val", n=cfg.data.n_val, image_size=cfg.data.image_size)
image, target = val_set[0]
gt_boxes = torch.as_tensor(target["boxes"])
per_level = [h * w * 6 for h, w in grid_sizes]
starts = [sum(per_level[:k]) for k in range(m)]
fig, axes = plt.subplots(1, m, figsize=(3.2 * m, 3.4))
for k, ax in enumerate(axes):
    gh, gw = grid_sizes[k]
    centre = starts[k] + ((gh // 2) * gw + gw // 2) * 6
    show_image(image, ax=ax, title=f"level {k}: {gh}x{gw}, s={scales[k]:.2f}")
    draw_boxes(ax, gt_boxes, color="white", linestyle="--")
    draw_boxes(ax, dboxes[centre : centre + 6], color="red", linewidth=1)
plt.tight_layout()
plt.show()

# %% [markdown]
# Try it: move the level, the scales and the extra ratio, and watch which default boxes the
# ground truth matches (coloured like their object; the red boxes are the centre cell's).

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.ssd import make_default_boxes_widget

make_default_boxes_widget(
    image, gt_boxes, levels=m, first_stride=cfg.first_stride, s_min=cfg.s_min, s_max=cfg.s_max
)

# %% [markdown]
# ### Exercise 1 — the default-box scales
#
# Write `my_scales(m, s_min, s_max)`: the `m + 1` scales of torchvision's `DefaultBoxGenerator`,
# `s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)` for `k = 1..m`, then `1.0`. With one level
# (`m = 1`) the formula divides by zero: torchvision returns `[s_min, s_max]`. Replace the
# `raise NotImplementedError` line, then run the check cell. Stuck?
# `show_solution("default_box_scales")`.


# %%
def my_scales(m, s_min, s_max):
    """The m + 1 default-box scales (fractions of the image side)."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_default_box_scales, check_ssd_match, show_solution

_ = check_default_box_scales(my_scales)

# %% [markdown]
# ## 3. Matching ground truth to default boxes
#
# Training needs a target for every default box. SSD's matching, in two steps:
#
# 1. each ground truth takes its **best** default box (highest IoU), so that no object is left
#    without a positive;
# 2. every other default box whose IoU with some ground truth is **≥ 0.5** is positive too,
#    for its best ground truth. All the rest are background.
#
# Unlike the RPN (lesson 05) there is no "ignored" band: a default box is positive or negative.

# %%
iou = box_iou(gt_boxes, dboxes)  # [G, L]
best_iou, best_gt = iou.max(dim=0)  # each default box's best ground truth
matches = torch.where(best_iou >= 0.5, best_gt, torch.full_like(best_gt, -1))
matches[iou.argmax(dim=1)] = torch.arange(len(gt_boxes))  # step 1 wins over step 2
print(f"{int((matches >= 0).sum())} positive default boxes for {len(gt_boxes)} objects")
print(
    "positives per object:", torch.bincount(matches[matches >= 0], minlength=len(gt_boxes)).tolist()
)
print("best IoU per object:", [f"{v:.2f}" for v in iou.max(dim=1).values.tolist()])

# %% [markdown]
# torchvision's `SSDMatcher(0.5)` returns the same ground-truth index per default box (−1 for
# background); so does the package's `match_default_boxes`:

# %%
from dlcv_utils.models.ssd import match_default_boxes

tv_matches = SSDMatcher(0.5)(iou)
assert torch.equal(matches, tv_matches)
assert torch.equal(match_default_boxes(gt_boxes, dboxes), tv_matches)
print("identical to torchvision's SSDMatcher (max |Δ| = 0)")

# %% [markdown]
# Step 1 gives every object a positive, however poor its best default box. An object whose
# best IoU is far below 0.5 gets one badly fitting positive to learn from, and at test time
# its detection must come from a box regressed a long way. How many validation objects have a
# default box with IoU ≥ 0.5 (the **matching recall**, 매칭 재현율)? Compare our default boxes
# with those of a first level of stride 8 (`s_min = 0.1`, `s_max = 0.6`, levels of 16, 8, 4
# and 2 cells): a 12 px square between the centres of 8 px cells overlaps a 13 px default box
# by IoU ≈ 0.3 only.

# %%
val_gt = torch.cat([torch.as_tensor(t["boxes"]).reshape(-1, 4) for _, t in val_set])
small = (val_gt[:, 2:] - val_gt[:, :2]).prod(1).sqrt() < 16  # side under 16 px
stride8 = default_boxes(
    [(16, 16), (8, 8), (4, 4), (2, 2)], image_size, [[2, 3]] * 4, default_box_scales(4, 0.1, 0.6)
)
for name, boxes in (("first level stride 8", stride8), ("ours", dboxes)):
    best = box_iou(val_gt, boxes).max(dim=1).values
    print(
        f"{name:21s} {len(boxes):5d} default boxes: IoU >= 0.5 for {(best >= 0.5).float().mean():.1%}"
        f" of {len(val_gt)} objects, {(best[small] >= 0.5).float().mean():.1%} of the"
        f" {int(small.sum())} under 16 px"
    )

# %% [markdown]
# With stride-8 cells a third of the small shapes have no good default box; the stride-4 level
# covers nearly all of them, for about four times as many default boxes (cheap: a 3 × 3
# convolution per level). Trained with the same settings, the stride-4 version reaches a
# clearly higher mAP on these data (see the key figure below).

# %% [markdown]
# ### Exercise 2 — match ground truth to default boxes
#
# Write `my_match(gt_boxes, dboxes)`: for each default box the index of its ground truth, or
# `-1`; IoU ≥ 0.5 is positive, then each ground truth takes its best default box. An image
# without objects is all background. The check compares with `match_default_boxes`
# (torchvision's `SSDMatcher`). Model solution: `show_solution("ssd_match")`.


# %%
def my_match(gt_boxes, dboxes):
    """gt_boxes [G, 4], dboxes [L, 4] -> int64 [L]: ground-truth index or -1."""
    raise NotImplementedError  # your code here


# %%
_ = check_ssd_match(my_match)

# %% [markdown]
# ## 4. The loss: offsets with variances, hard negatives
#
# **Localisation.** A positive default box `d` regresses towards its ground truth `g` with the
# offsets of lesson 04, divided by the **variances** `(0.1, 0.1, 0.2, 0.2)` of the original
# code, i.e. multiplied by the box-coder weights `(10, 10, 5, 5)` of torchvision's SSD:
#
# $$t_x = 10\,\frac{g_{cx} - d_{cx}}{d_w},\quad t_y = 10\,\frac{g_{cy} - d_{cy}}{d_h},\quad
# t_w = 5 \log\frac{g_w}{d_w},\quad t_h = 5 \log\frac{g_h}{d_h}.$$
#
# The variances only rescale the targets to about unit size, so one smooth-L1 loss suits all
# four. **Confidence.** Softmax cross-entropy over `K + 1` classes (0 = background) for every
# default box. With a few positives among ~8,000 boxes the negatives would swamp the loss, so
# SSD keeps only the **hardest** negatives, those with the largest confidence loss, 3 per
# positive (hard negative mining). Both terms are divided by the number of positives `N`:
#
# $$L = \frac{1}{N}\Big(\sum_{i \in Pos} \text{smoothL1}(t_i - \hat t_i) + \sum_{i \in Pos \cup Hard} \text{CE}_i\Big).$$
#
# We need head outputs to compute it on. Build the model we will train, and run its backbone
# and head on two validation images (leaving the training batches and the batch-norm
# statistics untouched, so the training below is the benchmark's run):

# %%
import torch.nn.functional as F

from dlcv_utils.course.recipes import build_ssd_model, shapes_loaders
from dlcv_utils.ops.box_coder import encode

train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed)
class_names = ShapesDetection.classes  # label 0 is background
model = build_ssd_model(cfg)  # torchvision SSD(SSDBackbone, DefaultBoxGenerator, ...), random init
images, targets = zip(*(val_loader.dataset[i] for i in range(2)))
with torch.no_grad():  # eval mode: the batch-norm statistics stay untouched for training
    batch, tv_targets = model.eval().transform(list(images), list(targets))  # normalise, 128 px
    head = model.head(list(model.backbone(batch.tensors).values()))
model.train()
cls_logits, bbox_regression = head["cls_logits"], head["bbox_regression"]
print("cls_logits", tuple(cls_logits.shape), " bbox_regression", tuple(bbox_regression.shape))


# %%
def my_ssd_loss(cls_logits, bbox_regression, dboxes, targets, neg_pos_ratio=3):
    box_loss, labels, num_pos = 0.0, [], 0
    for reg, target in zip(bbox_regression, targets):
        matched = match_default_boxes(target["boxes"], dboxes)
        pos = torch.where(matched >= 0)[0]
        num_pos += len(pos)
        wanted = encode(target["boxes"][matched[pos]], dboxes[pos], weights=(10, 10, 5, 5))
        box_loss = box_loss + F.smooth_l1_loss(reg[pos], wanted, reduction="sum")
        lab = torch.zeros(len(dboxes), dtype=torch.int64)
        lab[pos] = target["labels"][matched[pos]]
        labels.append(lab)
    labels = torch.stack(labels)  # [N, L], 0 = background
    ce = F.cross_entropy(cls_logits.flatten(0, 1), labels.flatten(), reduction="none")
    ce = ce.view_as(labels)
    # hard negatives: rank the negatives' losses per image, keep the top 3 x #positives
    neg_loss = ce.masked_fill(labels > 0, -math.inf)
    rank = neg_loss.argsort(1, descending=True).argsort(1)
    hard = rank < neg_pos_ratio * (labels > 0).sum(1, keepdim=True)
    n = max(1, num_pos)
    return {
        "bbox_regression": box_loss / n,
        "classification": (ce[labels > 0].sum() + ce[hard].sum()) / n,
    }


mine = my_ssd_loss(cls_logits, bbox_regression, dboxes, tv_targets)
print({k: round(v.item(), 4) for k, v in mine.items()})

# %% [markdown]
# torchvision's `SSD.compute_loss` takes the same head outputs, the default boxes and the
# matches, and so does the package's `ssd_loss`:

# %%
from dlcv_utils.models.ssd import ssd_loss

matched = [SSDMatcher(0.5)(box_iou(t["boxes"], dboxes)) for t in tv_targets]
tv_loss = model.compute_loss(tv_targets, head, [dboxes, dboxes], matched)
pkg_loss = ssd_loss(cls_logits, bbox_regression, [dboxes, dboxes], tv_targets, matched)
for key in ("bbox_regression", "classification"):
    delta = max(abs(mine[key] - tv_loss[key]).item(), abs(pkg_loss[key] - tv_loss[key]).item())
    print(f"{key:16s} torchvision {tv_loss[key].item():8.4f}   max |Δ| {delta:.1e}")
    assert delta < 1e-4

# %% [markdown]
# How many boxes does the classification loss see? All positives and three times as many
# negatives; the other negatives, most of the default boxes, do not count at all:

# %%
n_pos = sum(int((m_ >= 0).sum()) for m_ in matched)
print(f"{n_pos} positives + {3 * n_pos} hard negatives of {2 * len(dboxes)} default boxes")

# %% [markdown]
# ## 5. SSD on the shapes data
#
# `dlcv_utils.models.ssd.build_ssd` puts the pieces into torchvision's `SSD` (random weights,
# nothing downloaded): `SSDBackbone`, a `DefaultBoxGenerator` with the scales above, and
# `SSDHead`, a 3 × 3 convolution per level for the class scores and one for the offsets.
# torchvision's SSD transform resizes every image to a fixed `size`; we give it 128, so the
# shapes images stay as they are. At test time it keeps, per class, the top 400 boxes scoring
# above 0.01, decodes them, runs class-wise NMS at IoU 0.45 and keeps the best 200.

# %%
for part in ("backbone", "head"):
    n = sum(p.numel() for p in getattr(model, part).parameters())
    print(f"{part:9s} {n:>9,d} parameters")
print(f"default boxes per image: {len(dboxes)}")

# %% [markdown]
# ### Training
# The shared recipe trains it (`dlcv_utils.engine.fit`: AdamW, warm-up, cosine decay, a time
# cap) and evaluates it with COCO mAP on the validation split; `model(images, targets)` returns
# SSD's two losses, `bbox_regression` and `classification`. The benchmark
# (`benchmarks/bench_detectors.py --only ssd`) runs the same code with the same settings.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import time

from dlcv_utils.course.recipes import train_and_evaluate

cpu0 = time.process_time()
run = train_and_evaluate(model, train_loader, val_loader, cfg.train, device=device, seed=cfg.seed)
history = run.history
print(
    f"{history.iterations} iterations in {history.train_seconds:.0f} s of training "
    f"({torch.get_num_threads()} thread(s), {time.process_time() - cpu0:.0f} s of CPU time "
    f"incl. evaluation; load average {os.getloadavg()[0]:.1f})"
)
assert history.train_seconds <= cfg.train.max_train_seconds + 30

# %%
fig = history.plot(smooth=20)
plt.show()

# %% [markdown]
# ### Validation mAP

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

metrics = run.metrics
map50, map_coco = metrics["map50"], metrics["map"]
print(
    f"val mAP@0.5 = {map50:.3f}   mAP@[.5:.95] = {map_coco:.3f}   "
    f"({1000 * metrics['seconds_per_image']:.1f} ms per image)"
)
for name, ap in metrics["per_class"].items():
    print(f"  {name:9s} AP@0.5 {ap:.3f}")
assert map50 >= cfg.train.map50_floor, (
    f"mAP@0.5 {map50:.3f} below the floor {cfg.train.map50_floor} after {history.iterations} "
    f"iterations ({history.stop_reason or 'all epochs'})"
)
key_figure("val mAP@0.5", map50)
key_figure("val mAP@[.5:.95]", map_coco)

# %% [markdown]
# ### Where the errors are
#
# True positives (green), false positives (red) and missed objects (orange, dashed) on
# validation images, the confusion matrix with its *background* row and column, and the AP of
# each class. Small shapes, predicted only from the first level with no top-down context, are
# where SSD misses most.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

fig, ssd_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], device=device
)
plt.show()
print(f"score >= 0.5: TP {ssd_eval['n_tp']}, FP {ssd_eval['n_fp']}, FN {ssd_eval['n_fn']}")
assert ssd_eval["matrix"][1:].sum() == ssd_eval["n_tp"] + ssd_eval["n_fn"]

# %% [markdown]
# ## Summary
#
# * SSD is a single-shot detector: every level of a plain bottom-up backbone predicts class
#   scores and offsets for its own default boxes; no proposals, no second stage, no top-down
#   fusion (that is what an FPN adds).
# * Default boxes: scale `s_k` from `s_min` to `s_max` over the `m` levels, ratios
#   `{1, 2, 3, 1/2, 1/3}` and one extra square box of scale `√(s_k s_{k+1})`, 6 per cell.
#   The finest level must be fine enough for the smallest objects: check the matching recall
#   (here, a stride-4 first level for shapes down to ~10 px).
# * Matching: each ground truth's best default box, then every box with IoU ≥ 0.5; the rest
#   are background. No ignored band.
# * Loss: smooth L1 on offsets scaled by the variances (weights 10, 10, 5, 5), plus
#   cross-entropy on the positives and the 3 × as many hardest negatives, over the positives.
#
# ### Exercises
# 1. Train with `s_min = 0.2` (the paper's value) by `dataclasses.replace(cfg, s_min=0.2)`,
#    then with a first level of stride 8 (`first_stride=8`, `s_min=0.1`, `s_max=0.6`).
#    Which shapes lose AP, and why?
# 2. Change `neg_pos_ratio` in `my_ssd_loss` to 10: how does the classification loss of the
#    random model change?
# 3. How many default boxes would SSD300's six levels (38, 19, 10, 5, 3, 1 cells; 4 or 6
#    boxes per cell) give? (The paper says 8,732.)

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | single-shot detector | 단일 단계 검출기 | Lesson 08 — SSD: the Single Shot MultiBox Detector |
# | default boxes | 기본 박스 | 2. Default boxes |
# | multi-scale feature maps | 다중 스케일 특징 맵 | 1. Multi-scale feature maps |
# | scale | 스케일 | 2. Default boxes |
# | aspect ratios | 종횡비 | 2. Default boxes |
# | matching | 매칭 | 3. Matching ground truth to default boxes |
# | matching recall | 매칭 재현율 | 3. Matching ground truth to default boxes |
# | variances | 분산 | 4. The loss: offsets with variances, hard negatives |
# | hard negative mining | 어려운 음성 샘플 마이닝 | 4. The loss: offsets with variances, hard negatives |
