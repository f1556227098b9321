# %% [markdown]
# # Lesson 05 — Faster R-CNN: anchors and the region proposal network
#
# Fast R-CNN (lesson 04) shares one feature map between all regions, but it still asks an
# outside algorithm, selective search, for its region proposals (영역 추정), and on a CPU that
# step costs more than the network itself. **Faster R-CNN** (Ren et al., 2015) lets the network
# propose its own regions: a small **region proposal network** (RPN, 영역 추정 네트워크) slides
# over the same feature map and, at every position, scores a fixed set of reference boxes called
# **anchors** (앵커 박스). Detection becomes deep learning from pixels to boxes.
#
# In this lesson you
#
# 1. generate anchors yourself and check them against torchvision's `AnchorGenerator`;
# 2. write the RPN's training targets: which anchors count as object, background or "don't
#    care", and which 256 of them the loss looks at;
# 3. train torchvision's `FasterRCNN` with a small backbone on the shapes data, on a CPU, in a
#    few minutes, and evaluate it with COCO mAP;
# 4. look inside: RPN proposals next to final detections, and a confidence/NMS slider;
# 5. run a COCO-trained Faster R-CNN on real photos (when its weights can be downloaded);
# 6. fine-tune that COCO model on real street photos (Penn-Fudan) by swapping its box
#    predictor (on a GPU, e.g. Colab).

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.viz.plotting import draw_boxes, show_image

device, cfg = lesson_setup("05")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(f"device: {device.type}; image size {cfg.data.image_size} px, {cfg.data.n_train} training images")

# %% [markdown]
# ## 1. Why anchors?
#
# The RPN has to output *boxes*, and a box can be anywhere, of any size and any shape. Asking a
# convolution to regress absolute coordinates from scratch works badly. Faster R-CNN instead
# fixes, at every cell of the feature map, a handful of **reference boxes** of different sizes
# (scales) and shapes (**aspect ratios**, 종횡비). For each reference box the RPN answers two
# small questions:
#
# * **objectness** (객체성): is there an object that this anchor covers well? (a yes/no score)
# * **refinement**: how should the anchor be moved and stretched to fit the object? (the same
#   `(dx, dy, dw, dh)` deltas as the R-CNN box regressor of lesson 04)
#
# The RPN itself is small: a **3 × 3 convolution** (512 channels on VGG-16) slides over the
# feature map, and two **sibling 1 × 1 convolutions** read its output at every cell, one giving
# the objectness scores of that cell's `k` anchors (the paper used `2k` scores with a two-class
# softmax; torchvision uses `k` logits with a sigmoid), the other their `4k` box deltas.
#
# With 3 scales and 3 ratios there are `k = 9` anchors per cell. A backbone with stride 8 turns
# a 128 × 128 image into a 16 × 16 feature map, so the RPN scores 16 · 16 · 9 = 2304 anchors
# per image, all in one pass of those three convolutions over the shared feature map, on the
# GPU when there is one. Selective search, by contrast, is a separate algorithm that runs on
# the CPU *before* the network sees the image (about 2 s per image in the papers), learns
# nothing from the training data, and shares no computation with the detector.
#
# **Anchor sizes: the paper and this course.** The paper used VGG-16 (stride 16) on images
# rescaled to a shorter side of 600 px, with anchors of 128², 256² and 512² pixels in area and
# height : width ratios 1:2, 1:1 and 2:1, i.e. 3 scales × 3 ratios = 9 per cell; a typical
# feature map has about 2,400 cells (roughly 60 × 40), so about 20,000 anchors per image. Our
# images are 128 px and our shapes 10–60 px, so the course scales the anchors down to 16, 32
# and 64 px with the same three ratios.
#
# ### The anchors of one cell
# An anchor of scale `s` and aspect ratio `r = height / width` keeps the area `s²`: its width is
# `s / √r` and its height `s · √r`. Centred on `(0, 0)`:

# %%
scales = torch.tensor([16.0, 32.0, 64.0])
ratios = torch.tensor([0.5, 1.0, 2.0])  # height / width

h_ratio = torch.sqrt(ratios)  # the height grows with sqrt(r) ...
w_ratio = 1 / h_ratio  # ... and the width shrinks by the same factor, so the area stays s^2
widths = (w_ratio[:, None] * scales[None, :]).reshape(-1)  # ratio-major: 3 ratios x 3 scales
heights = (h_ratio[:, None] * scales[None, :]).reshape(-1)
cell_anchors = (torch.stack([-widths, -heights, widths, heights], dim=1) / 2).round()
for (x1, y1, x2, y2), s, r in zip(
    cell_anchors.tolist(), scales.repeat(3).tolist(), ratios.repeat_interleave(3).tolist()
):
    print(f"scale {s:4.0f}  ratio {r:3.1f}:  {x2 - x1:4.0f} x {y2 - y1:4.0f} px")

# %% [markdown]
# ### Tiling them over the feature map
# Cell `(i, j)` of a feature map with stride `S` looks at image pixel `(j·S, i·S)`; we shift the
# 9 base anchors there. (torchvision puts the anchor on the cell's top-left corner rather than
# its centre; we follow it, so we can compare numbers.) The order is: cell by cell, row-major,
# 9 anchors per cell.


# %%
def my_anchors(feature_h, feature_w, stride, base):
    shift_x = torch.arange(feature_w, dtype=torch.float32) * stride
    shift_y = torch.arange(feature_h, dtype=torch.float32) * stride
    yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)  # one shift per cell
    return (shifts + base.reshape(1, -1, 4)).reshape(-1, 4)


stride = 8
feature_h = feature_w = cfg.data.image_size // stride
anchors = my_anchors(feature_h, feature_w, stride, cell_anchors)
print(f"{feature_h} x {feature_w} cells x {len(cell_anchors)} anchors = {len(anchors)} anchors")

# %% [markdown]
# Same numbers as torchvision's `AnchorGenerator` (the module inside `FasterRCNN`)? It takes a
# batch of images and the feature maps, and derives the stride from their sizes:

# %%
generator = AnchorGenerator(sizes=((16, 32, 64),), aspect_ratios=((0.5, 1.0, 2.0),))
image_list = ImageList(
    torch.zeros(1, 3, cfg.data.image_size, cfg.data.image_size), [(cfg.data.image_size, cfg.data.image_size)]
)
feature_map = torch.zeros(1, 64, feature_h, feature_w)
tv_anchors = generator(image_list, [feature_map])[0]
torch.testing.assert_close(anchors, tv_anchors, rtol=0, atol=0)
print("identical to torchvision's AnchorGenerator:", tuple(tv_anchors.shape))

# %% [markdown]
# From now on we use the tested version, `dlcv_utils.ops.anchors.generate_anchors`:

# %%
from dlcv_utils.ops.anchors import assign_rpn_targets, generate_anchors, sample_rpn

anchors = generate_anchors((feature_h, feature_w), stride, scales=(16, 32, 64))
torch.testing.assert_close(anchors, tv_anchors, rtol=0, atol=0)

# %% [markdown]
# Drawn on a shapes image: the white dots are the anchor positions (one per feature-map cell),
# the boxes are the 9 anchors of the red cell, coloured by scale. Anchors near the border stick
# out of the image; torchvision keeps them (the box regressor and clipping deal with them).

# %%
from dlcv_utils.viz.widgets.anchors import anchors_panel, make_anchors_widget

val_set = ShapesDetection("val", n=cfg.data.n_val, image_size=cfg.data.image_size)
image, target = val_set[0]
fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
anchors_panel(image, stride=8, scales=(16, 32, 64), ax=axes[0])
anchors_panel(image, stride=16, scales=(16, 32, 64), cell=(2, 5), ax=axes[1])
plt.show()

# %% [markdown]
# Try it: change the stride, the scales and the ratios, and see how many anchors a setting
# costs. Shapes here are 10–60 px; which scales would you pick for 8 px objects?

# %%
# NBVAL_IGNORE_OUTPUT
make_anchors_widget(image.permute(1, 2, 0).numpy(), scales=(16, 32, 64))

# %% [markdown]
# ### Exercise 1 — the anchors of a feature map
#
# Write `my_anchors(feature_size, stride, scales, ratios)`: all anchors of an `(H, W)` feature
# map as a `[H * W * A, 4]` tensor, `A = len(scales) * len(ratios)`. One cell's anchors: for
# each ratio `r = h / w` (outer loop) and each scale `s` (inner loop), `w = s / sqrt(r)`,
# `h = s * sqrt(r)`, centred on `(0, 0)` and rounded to whole pixels; cell `(i, j)` shifts them
# by `(j * stride, i * stride)`, cells row by row. The check compares with `generate_anchors`
# (torchvision's order). Replace the `raise NotImplementedError` line, then run the check cell.
# Stuck? `show_solution("anchors")`.


# %%
def my_anchors(feature_size, stride, scales, ratios):
    """All anchors of an (H, W) feature map: [H * W * len(scales) * len(ratios), 4] xyxy."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_anchors, check_rpn_labels, show_solution

_ = check_anchors(my_anchors)

# %% [markdown]
# ## 2. RPN training targets
#
# To train the objectness score, every anchor needs a label. Faster R-CNN compares each anchor
# with every ground-truth box by IoU (lesson 01) and:
#
# * **positive** (object, label 1): its best IoU with any ground truth is **≥ 0.7**;
# * **negative** (background, label 0): its best IoU is **< 0.3**;
# * **ignored** (label −1): in between — too ambiguous to teach either answer;
# * and, so that no object is left without an anchor (a small or thin object may have no
#   anchor reaching 0.7), the anchor(s) with the **highest IoU for each ground truth** are made
#   positive too, whatever that IoU is.
#
# Written out for the image above:

# %%
gt_boxes = torch.as_tensor(target["boxes"])
iou = box_iou(gt_boxes, anchors)  # [num_gt, num_anchors]
best_iou, best_gt = iou.max(dim=0)  # for every anchor: its best ground truth

labels = torch.full((len(anchors),), -1)  # start as "ignored"
labels[best_iou < 0.3] = 0  # background
labels[best_iou >= 0.7] = 1  # object
print(f"IoU >= 0.7: {int((labels == 1).sum())} positive anchors for {len(gt_boxes)} objects")

best_for_each_gt = iou.max(dim=1, keepdim=True).values  # [num_gt, 1]
is_best = (iou == best_for_each_gt).any(dim=0)  # ties included
labels[is_best] = 1
print(f"after keeping each object's best anchor: {int((labels == 1).sum())} positive")
print(f"negative {int((labels == 0).sum())}, ignored {int((labels == -1).sum())}")
print("best IoU per object:", [f"{v:.2f}" for v in best_for_each_gt.squeeze(1).tolist()])

# %% [markdown]
# torchvision's RPN does this with `det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=True)`,
# which returns the matched ground-truth index, −1 for background and −2 for "between". Same
# labels?

# %%
matcher = det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=True)
matched = matcher(iou)
tv_labels = torch.where(matched >= 0, 1, torch.where(matched == -1, 0, -1))
assert torch.equal(labels, tv_labels)
ours, ours_gt = assign_rpn_targets(anchors, gt_boxes, pos_iou=0.7, neg_iou=0.3)
assert torch.equal(ours, labels)
print("labels identical to torchvision's Matcher and to dlcv_utils.ops.anchors.assign_rpn_targets")

# %% [markdown]
# ### 256 anchors per image, at most half positive
# An image has thousands of negatives and a handful of positives. If the loss looked at all
# of them, "background" would win by sheer numbers. So each image contributes a random
# mini-batch of **256** anchors, up to **128 positives** (1:1), filled up with negatives.
# (Positives first, then negatives, each by a random permutation — the same order of random
# draws as torchvision's `BalancedPositiveNegativeSampler`, so the same seed picks the same
# anchors.)


# %%
def my_sample(labels, batch_size=256, positive_fraction=0.5):
    positive = torch.where(labels >= 1)[0]
    negative = torch.where(labels == 0)[0]
    num_pos = min(len(positive), int(batch_size * positive_fraction))
    num_neg = min(len(negative), batch_size - num_pos)
    pos = positive[torch.randperm(len(positive))[:num_pos]]
    neg = negative[torch.randperm(len(negative))[:num_neg]]
    return pos, neg


torch.manual_seed(0)
pos_idx, neg_idx = my_sample(labels)
torch.manual_seed(0)
(tv_pos,), (tv_neg,) = det_utils.BalancedPositiveNegativeSampler(256, 0.5)([labels])
assert set(pos_idx.tolist()) == set(torch.where(tv_pos)[0].tolist())
assert set(neg_idx.tolist()) == set(torch.where(tv_neg)[0].tolist())
torch.manual_seed(0)
pos_mask, neg_mask = sample_rpn(labels, batch_size=256, positive_fraction=0.5)
assert torch.equal(pos_mask, tv_pos.bool()) and torch.equal(neg_mask, tv_neg.bool())
print(f"sampled {len(pos_idx)} positive + {len(neg_idx)} negative = {len(pos_idx) + len(neg_idx)}")

# %% [markdown]
# Only the sampled anchors enter the loss: binary cross-entropy on objectness for all 256, and
# smooth-L1 on the box deltas for the positives only (each positive regresses towards the ground
# truth it matched, `ours_gt`). In the paper's notation the **RPN loss** (RPN 손실 함수) of one
# image is
#
# $$L(\{p_i\}, \{t_i\}) = \frac{1}{N_{cls}} \sum_i L_{cls}(p_i, p_i^*) + \lambda \frac{1}{N_{reg}} \sum_i p_i^* L_{reg}(t_i, t_i^*),$$
#
# where `i` runs over the anchors of the **mini-batch** (미니배치), `p_i` is the predicted
# objectness and `p_i* ∈ {0, 1}` the label, `t_i` and `t_i*` the predicted and target deltas,
# `L_cls` the log loss and `L_reg` smooth L1. The factor `p_i*` switches the box term off for
# negatives. The paper normalises the classification term by the mini-batch size,
# `N_cls = 256`, the box term by the number of anchor locations, `N_reg ≈ 2,400`, and sets
# `λ = 10` so that the two terms weigh about the same. torchvision divides both terms by the
# number of sampled anchors instead (λ = 1): since 10 / 2,400 ≈ 1 / 240 is close to 1 / 256,
# that is nearly the same weighting. Below: the ground truth (dashed), the sampled positives (green)
# and a few sampled negatives (red).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
show_image(image, ax=axes[0], title=f"{len(pos_idx)} positive anchors (green)")
draw_boxes(axes[0], gt_boxes, color="white", linestyle="--")
draw_boxes(axes[0], anchors[pos_idx], color="lime", linewidth=1)
show_image(image, ax=axes[1], title="20 of the sampled negatives (red)")
draw_boxes(axes[1], gt_boxes, color="white", linestyle="--")
draw_boxes(axes[1], anchors[neg_idx[:20]], color="red", linewidth=1)
for ax in axes:
    ax.set_xlim(-40, cfg.data.image_size + 40)
    ax.set_ylim(cfg.data.image_size + 40, -40)
plt.show()

# %% [markdown]
# ### Exercise 2 — label the anchors
#
# Write `my_rpn_labels(anchors, gt_boxes)`: one label per anchor, `1` (object) when its best IoU
# with any ground truth is `>= 0.7`, `0` (background) when it is `< 0.3`, `-1` (ignored) in
# between; then every ground truth's best anchor(s), ties included, become `1` too. An image
# without objects has only background. The check compares with `assign_rpn_targets`. Model
# solution: `show_solution("rpn_labels")`.


# %%
def my_rpn_labels(anchors, gt_boxes):
    """anchors [N, 4], gt_boxes [M, 4] -> int64 labels [N] in {1, 0, -1}."""
    raise NotImplementedError  # your code here


# %%
_ = check_rpn_labels(my_rpn_labels)

# %% [markdown]
# At test time the RPN keeps the best-scoring anchors, moves them by their predicted deltas,
# clips them to the image, removes near-duplicates with NMS (IoU 0.7) and passes the top few
# hundred **proposals** to the second stage, which is exactly Fast R-CNN: RoI pooling (here
# RoIAlign) on the shared feature map, a small head, class scores and class-specific box
# refinements (lesson 04).
#
# ## 3. Faster R-CNN on the shapes data
#
# We use torchvision's `FasterRCNN` and give it parts sized for 128 px images and a CPU
# (`dlcv_utils.models.faster_rcnn.build_faster_rcnn`): a small six-layer CNN **backbone**
# (특징 추출기) trained from scratch; the anchors above (3 scales × 3 ratios); RoIAlign to
# 7 × 7; a two-layer MLP head. The backbone has stride 4 here rather than 8: its last two layers
# use **dilated convolutions** (팽창 합성곱) instead of a third down-sampling, so a 12 px shape
# still covers three
# feature cells (finer features for RoIAlign), at the price of 4× more anchors (32 · 32 · 9).
# The model's own transform normalises the images and would normally resize them to 800 px;
# we set its `min_size`/`max_size` to the image size so the
# images stay as they are.

# %%
from dlcv_utils.course.recipes import build_faster_rcnn_model, shapes_loaders

# the shapes images are generated up front, so the training time below is training only
train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed)
class_names = ShapesDetection.classes  # ("__background__", "circle", ...): label 0 is background
# build_faster_rcnn(len(class_names), backbone=cfg.backbone, image_size=..., width=...,
# stride=..., anchor_sizes=..., box_batch_size_per_image=...) from dlcv_utils.models.faster_rcnn
model = build_faster_rcnn_model(cfg)
for part in ("backbone", "rpn", "roi_heads"):
    n = sum(p.numel() for p in getattr(model, part).parameters())
    print(f"{part:10s} {n:>9,d} parameters")
print(
    f"anchors per image: {len(generate_anchors(cfg.data.image_size // cfg.stride, cfg.stride, cfg.anchor_sizes))}"
)

# %% [markdown]
# The shapes images are generated on first use; we generate them now so that the training time
# below is training only.

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
for ds in (train_loader.dataset, val_loader.dataset):
    for i in range(len(ds)):
        ds.sample(i)
print(
    f"generated {len(train_loader.dataset)} + {len(val_loader.dataset)} images in {time.perf_counter() - t0:.1f} s"
)

# %% [markdown]
# ### Training
# `dlcv_utils.engine.fit` is a plain training loop (read it!): for each batch,
# `model(images, targets)` returns the four losses of Faster R-CNN, which are summed and
# back-propagated:
#
# | loss | stage | what it teaches |
# |---|---|---|
# | `loss_objectness` | RPN | object vs background, on the 256 sampled anchors per image |
# | `loss_rpn_box_reg` | RPN | anchor → object deltas, positive anchors only |
# | `loss_classifier` | head | which class (or background) each sampled proposal is |
# | `loss_box_reg` | head | class-specific proposal → object deltas |
#
# Training both stages at once like this is the "approximate joint training" of the paper
# (the head does not back-propagate into the proposal coordinates). The loop adds a linear
# learning-rate warm-up, a cosine decay, and a time limit as a safety net. It evaluates on
# the validation split at the end with COCO mAP (lesson 01).

# %%
# One epoch of the loop, exactly as dlcv_utils.engine.fit runs it
import inspect

from dlcv_utils.engine import train_one_epoch

print(inspect.getsource(train_one_epoch))

# %%
# NBVAL_IGNORE_OUTPUT
import os

from dlcv_utils.course.recipes import train_and_evaluate

# cfg.train: epochs, optimizer, lr, warm-up and max_train_seconds, a safety net on the training
# time (on a quiet 2-core CPU the CPU settings finish well inside it). The benchmark script
# trains the same way: benchmarks/bench_detectors.py --only faster_rcnn.
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
# The figures of lesson 04 for this model: true positives (green), false positives (red) and
# missed objects (orange, dashed) on validation images, the confusion matrix with its
# *background* row and column, and the AP of each class.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

fig, faster_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], device=device
)
plt.show()
print(f"score >= 0.5: TP {faster_eval['n_tp']}, FP {faster_eval['n_fp']}, FN {faster_eval['n_fn']}")
assert faster_eval["matrix"][1:].sum() == faster_eval["n_tp"] + faster_eval["n_fn"]

# %% [markdown]
# ## 4. Inside the model: proposals vs detections
#
# A forward hook on `model.rpn` catches what the RPN hands to the second stage: a few hundred
# proposals per image, ordered by objectness. The head then classifies each one, refines its
# box per class, and runs class-wise NMS. Left: the RPN's top 30 proposals; right: the final
# detections scoring at least 0.5.

# %%
captured = {}


def grab_proposals(module, inputs, output):
    boxes, _losses = output
    captured["proposals"] = [b.detach().cpu() for b in boxes]


model.eval()
examples = [val_loader.dataset[i] for i in range(3)]
handle = model.rpn.register_forward_hook(grab_proposals)
with torch.no_grad():
    detections = model([img.to(device) for img, _ in examples])
handle.remove()

fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for k, ((img, tgt), det) in enumerate(zip(examples, detections)):
    props = captured["proposals"][k]
    show_image(img, ax=axes[0, k], title=f"RPN: top 30 of {len(props)} proposals")
    draw_boxes(axes[0, k], props[:30], color="yellow", linewidth=0.8)
    keep = det["scores"] >= 0.5
    show_image(
        img,
        boxes=det["boxes"][keep].cpu(),
        labels=det["labels"][keep].cpu(),
        scores=det["scores"][keep].cpu(),
        class_names=class_names,
        ax=axes[1, k],
        title=f"final: {int(keep.sum())} detections (score >= 0.5)",
    )
    draw_boxes(axes[1, k], tgt["boxes"], color="white", linestyle="--", linewidth=1)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Confidence and NMS, by hand
# The model's last step is: drop detections scoring below `box_score_thresh`, then class-wise
# NMS at IoU 0.5, then keep the best 100. We can switch its NMS off (IoU threshold 1.0 removes
# nothing), do the NMS ourselves with `dlcv_utils.ops.nms.batched_nms` (lesson 01), and check that
# we get the model's own output back.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.ops.nms import batched_nms

img, tgt = examples[0]
with torch.no_grad():
    default_out = model([img.to(device)])[0]
    model.roi_heads.nms_thresh, model.roi_heads.detections_per_img = 1.0, 10_000
    raw = model([img.to(device)])[0]
    model.roi_heads.nms_thresh, model.roi_heads.detections_per_img = 0.5, 100
keep = batched_nms(raw["boxes"], raw["scores"], raw["labels"], iou_threshold=0.5)[:100]
torch.testing.assert_close(raw["boxes"][keep], default_out["boxes"])
assert torch.equal(raw["labels"][keep], default_out["labels"])
print(f"without NMS: {len(raw['boxes'])} boxes; after our NMS: {len(keep)} = the model's output")

# %% [markdown]
# Move the sliders: a low confidence threshold lets through the many low-scoring guesses of the
# head; a high NMS IoU threshold keeps near-duplicate boxes of the same object.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.basics import make_nms_widget

image_np = (img.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
make_nms_widget(
    image_np,
    raw["boxes"].cpu(),
    raw["scores"].cpu(),
    labels=raw["labels"].cpu(),
    class_names=class_names,
    score_threshold=0.5,
    iou_threshold=0.5,
)

# %% [markdown]
# ## 5. A COCO-trained Faster R-CNN on real photos
#
# torchvision ships Faster R-CNN models trained on COCO's 80 classes. On Colab the weights
# download on first use (about 75 MB for the MobileNet-v3 FPN model); offline, where this
# notebook is tested, they are not available and we show the shapes model instead.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError, load_pretrained_coco

try:
    coco_model, coco_names = load_pretrained_coco("fasterrcnn_mobilenet_v3_large_fpn")
    coco_model.to(device)
    print("loaded torchvision's COCO Faster R-CNN (MobileNet-v3 + FPN)")
except WeightsUnavailableError:
    coco_model = None
    print("The COCO weights cannot be downloaded here (offline), so this section shows the")
    print("shapes model on more validation images instead. Run the notebook on Colab to see")
    print("the COCO model on real photos.")

# %%
# NBVAL_IGNORE_OUTPUT
if coco_model is not None:
    from dlcv_utils.datasets.photos import load_photos

    photos = load_photos()
    fig, axes = plt.subplots(1, len(photos), figsize=(4 * len(photos), 4))
    for ax, (photo, record) in zip(np.atleast_1d(axes), photos):
        x = torch.from_numpy(photo).permute(2, 0, 1).float().div(255).to(device)
        with torch.no_grad():
            out = coco_model([x])[0]
        show_image(
            photo,
            boxes=out["boxes"].cpu(),
            labels=out["labels"].cpu(),
            scores=out["scores"].cpu(),
            class_names=coco_names,
            ax=ax,
        )
        draw_boxes(ax, [o.bbox for o in record.objects], color="white", linestyle="--")
else:
    fig, axes = plt.subplots(2, 4, figsize=(10, 5))
    for ax, i in zip(axes.ravel(), range(3, 11)):
        img, tgt = val_loader.dataset[i]
        with torch.no_grad():
            out = model([img.to(device)])[0]
        keep = out["scores"] >= 0.5
        show_image(
            img,
            boxes=out["boxes"][keep].cpu(),
            labels=out["labels"][keep].cpu(),
            scores=out["scores"][keep].cpu(),
            class_names=class_names,
            ax=ax,
        )
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Fine-tuning a pretrained detector on real photos (PennFudan)
#
# The shapes model learned from scratch because shapes are simple and we can generate as many
# as we like. Real photos are different: boxes are expensive to label, and a few hundred of them
# are far too few to learn from scratch what edges, textures and people look like.
# **Transfer learning** (전이 학습) starts instead from a network trained on a large dataset,
# here the COCO-trained Faster R-CNN of section 5, and **fine-tuning** (미세 조정) continues
# its training on the small dataset we care about. For a detector the recipe is:
#
# 1. load the COCO model: backbone, FPN, RPN and box head keep their weights, they already
#    find "things" in photos;
# 2. replace the **box predictor** (박스 예측기), the last layer of the RoI head, which gives
#    scores for COCO's 91 labels and 4 box deltas per label, by a new
#    `FastRCNNPredictor(in_features, num_classes)` with fresh weights; for pedestrians
#    `num_classes = 2`, background + person;
# 3. train for a few epochs with a small learning rate (torchvision keeps the first backbone
#    stages and all batch-norm statistics frozen).
#
# The swap itself, on a model built without downloading anything:

# %%
import torchvision.models.detection as tv_detection

from dlcv_utils.models.finetune import replace_box_predictor

coco_shaped = tv_detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)
print("COCO predictor: ", coco_shaped.roi_heads.box_predictor)
replace_box_predictor(coco_shaped, num_classes=2)  # background + person
new_predictor = coco_shaped.roi_heads.box_predictor
print("new predictor:  ", new_predictor)
n_new = sum(p.numel() for p in new_predictor.parameters())
n_all = sum(p.numel() for p in coco_shaped.parameters())
print(f"new parameters: {n_new:,} of {n_all:,} ({100 * n_new / n_all:.2f} %)")
assert n_new == 1024 * 2 + 2 + 1024 * 2 * 4 + 2 * 4  # scores + box deltas, weights + biases

# %% [markdown]
# The data: the Penn-Fudan pedestrian database, 170 street photos with 345 pedestrians. Each
# photo comes with an instance mask whose pixel value k marks pedestrian k (0 is background);
# `PennFudanDataset` (in `dlcv_utils.datasets.pennfudan`) turns each mask into a box, from the
# first to one past the last pixel in each direction, the box convention of this course.
#
# `finetune_pennfudan` (in `dlcv_utils.course.finetune`) holds out 50 photos for validation,
# loads the COCO weights (`pretrained_detector_for(2)`, the three steps above), trains with
# the `fit` loop of section 3 and reports COCO mAP with the same `evaluate_detector`. On a CPU
# one epoch at torchvision's 800 px takes far too long, so the next cell only runs on a GPU
# with internet (Colab: about 50 MB of photos and 75 MB of weights to download).

# %%
import socket

from dlcv_utils.course.finetune import finetune_pennfudan
from dlcv_utils.datasets.download import DownloadError, download
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError

FINETUNE_EPOCHS = 3  # the cell prints how long it took


def can_reach(host="download.pytorch.org", port=443, timeout=3.0):
    """True if ``host`` accepts a connection within ``timeout`` seconds (a quick offline check)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


finetuned = None
if device.type != "cuda":
    print(
        "skipped: fine-tuning needs a GPU and internet; on Colab choose "
        "Runtime → Change runtime type → GPU and rerun this cell"
    )
elif not can_reach():
    print("skipped: no internet to download Penn-Fudan and the COCO weights; rerun when online")
else:
    try:
        pennfudan_root = download("pennfudan")
        finetuned = finetune_pennfudan(
            pennfudan_root, device, epochs=FINETUNE_EPOCHS, evaluate_before=True
        )
    except (DownloadError, WeightsUnavailableError) as exc:
        print(f"skipped: {exc}")
if finetuned is not None:
    before, after = finetuned.metrics_before, finetuned.metrics
    print(f"{finetuned.n_train} training and {finetuned.n_val} validation photos")
    print(f"person AP@0.5 before fine-tuning (random predictor): {before['map50']:.3f}")
    print(f"person AP@0.5 after {FINETUNE_EPOCHS} epochs: {after['map50']:.3f}")
    print(f"mAP@[.5:.95] after: {after['map']:.3f}, in {finetuned.seconds:.0f} s")

# %%
if finetuned is not None:
    from dlcv_utils.course.finetune import pennfudan_loaders

    _, ped_val = pennfudan_loaders(pennfudan_root, seed=0)  # the same seeded split
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    for ax, i in zip(axes, range(3)):
        photo, target = ped_val.dataset[i]
        with torch.no_grad():
            out = finetuned.model([photo.to(device)])[0]
        keep = out["scores"] >= 0.5
        show_image(
            photo,
            boxes=out["boxes"][keep].cpu(),
            scores=out["scores"][keep].cpu(),
            ax=ax,
            title="fine-tuned (solid) vs ground truth (dashed)",
        )
        draw_boxes(ax, target["boxes"], color="white", linestyle="--")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Summary
#
# * **Anchors** are fixed reference boxes, `scales × ratios` of them at every feature-map
#   cell; the RPN scores and refines each one with a 3 × 3 convolution followed by two sibling
#   1 × 1 convolutions (objectness and box deltas).
# * RPN **targets**: IoU ≥ 0.7 object, < 0.3 background, the rest ignored, plus the best
#   anchor of every ground truth; the loss sees 256 anchors per image, at most half positive.
# * **Faster R-CNN = RPN + Fast R-CNN** on one shared feature map, trained end to end with
#   four losses. No selective search: proposals cost almost nothing.
# * On a CPU, a 6-layer backbone trained from scratch for a few minutes already finds the
#   shapes well; a COCO-trained model finds people, cars and cats in photos.
# * **Fine-tuning**: to detect new classes in real photos, keep the COCO-trained model and
#   swap only its box predictor for one with `num_classes` outputs (Penn-Fudan: background +
#   person); a few epochs on a GPU are enough.
#
# ### Exercises
# 1. Build the model with `anchor_sizes=(32, 64, 128)` and look at the best IoU of each
#    object with its anchors (section 2). Which shapes get only low-quality matches?
# 2. Set `pos_iou=0.5` in `assign_rpn_targets`. How many more positives per image?
# 3. Hook `model.roi_heads` and count how many proposals end up as detections.

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | region proposals | 영역 추정 | Lesson 05 — Faster R-CNN |
# | region proposal network (RPN) | 영역 추정 네트워크 | Lesson 05 — Faster R-CNN |
# | anchors | 앵커 박스 | 1. Why anchors? |
# | aspect ratios | 종횡비 | 1. Why anchors? |
# | objectness | 객체성 | 1. Why anchors? |
# | RPN loss | RPN 손실 함수 | 2. RPN training targets |
# | mini-batch | 미니배치 | 2. RPN training targets |
# | backbone | 특징 추출기 | 3. Faster R-CNN on the shapes data |
# | dilated convolutions | 팽창 합성곱 | 3. Faster R-CNN on the shapes data |
# | transfer learning | 전이 학습 | 6. Fine-tuning a pretrained detector on real photos |
# | fine-tuning | 미세 조정 | 6. Fine-tuning a pretrained detector on real photos |
# | box predictor | 박스 예측기 | 6. Fine-tuning a pretrained detector on real photos |
