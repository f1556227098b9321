# %% [markdown]
# # Lesson 11 — RetinaNet and focal loss
#
# One-stage detectors such as SSD (lesson 08) and YOLO (lessons 09–10) are fast, but in 2017
# the best of them were still clearly less accurate than two-stage detectors such as Faster
# R-CNN with an FPN. Lin et al. ("Focal Loss for Dense Object Detection", 2017) asked why, and
# found the answer in the **class imbalance** (클래스 불균형) of a **dense detector**
# (밀집 검출기): every image is covered by tens of thousands of anchors, a handful of them on an
# object, and the many **easy negatives** (쉬운 음성 샘플), anchors on plain background, still
# dominate the cross-entropy loss. Two-stage detectors avoid this with the RPN and sampling
# (lesson 05); SSD with hard negative mining (lesson 08). RetinaNet changes the loss instead: the
# **focal loss** (포컬 로스) scales each anchor's cross-entropy down the better it is already
# classified, so every anchor counts and the easy ones count very little.
#
# In this lesson you
#
# 1. count the imbalance on the shapes data: positive, negative and ignored anchors per image,
#    and how much of the cross-entropy the easy negatives carry;
# 2. write the focal loss and check it against `torchvision.ops.sigmoid_focal_loss`;
# 3. train torchvision's `RetinaNet` (a small backbone + FPN, random weights) on the shapes;
# 4. train the same detector with γ = 0 (plain cross-entropy) for the same number of steps, and
#    compare honestly.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.viz.plotting import draw_boxes, show_image

device, cfg = lesson_setup("11")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(
    f"device: {device.type}; image size {cfg.data.image_size} px, {cfg.data.n_train} training images"
)

# %% [markdown]
# ## 1. How imbalanced is a dense detector?
#
# RetinaNet predicts from several levels of an FPN (lesson 06). Each cell of each level
# carries **9 anchors**: three sizes per octave (`s`, `s·2^(1/3)`, `s·2^(2/3)`) times three
# aspect ratios (0.5, 1, 2). The paper used P3–P7 (strides 8 to 128) with base sizes 32–512 px
# on 800 px images. Our shapes are about 8–64 px on 128 px images, so the course moves the
# pyramid one level down, as lesson 08 did for SSD: P2–P4 (strides 4, 8 and 16, maps of
# 32 × 32, 16 × 16 and 8 × 8 cells) with base sizes 12, 24 and 48 px. At stride 8 a small
# shape often falls between anchors and no anchor reaches IoU 0.5 with it; it then only gets
# its single best anchor as a positive.

# %%
from dlcv_utils.course.recipes_retinanet import build_retinanet_model
from dlcv_utils.models.retinanet import retinanet_anchor_sizes

print("anchor sizes per level:", retinanet_anchor_sizes(cfg.base_sizes))
model = build_retinanet_model(cfg)  # torchvision RetinaNet, random init (seeded)
size = cfg.data.image_size
image_list = ImageList(torch.zeros(1, 3, size, size), [(size, size)])
feature_maps = [torch.zeros(1, 1, size // s, size // s) for s in model.backbone.strides]
anchors = model.anchor_generator(image_list, feature_maps)[0]
cells = [f.shape[-1] ** 2 for f in feature_maps]
print(" + ".join(f"{c} cells x 9" for c in cells), f"= {len(anchors)} anchors per image")

# %% [markdown]
# **Anchor labels.** RetinaNet compares each anchor with the ground truth by IoU:
#
# * **positive** (object): best IoU **≥ 0.5**; it learns that object's class and box;
# * **negative** (background): best IoU **< 0.4**; all its class outputs learn "no";
# * **ignored**: in between, no classification loss;
# * and, as in the RPN (lesson 05), each object's best anchor is made positive whatever its IoU.
#
# Unlike the RPN there is **no sampling**: every positive and every negative enters the loss.
# Written out and compared with the package's `anchor_states` (torchvision's `Matcher`):

# %%
from dlcv_utils.models.retinanet import anchor_states


def my_anchor_states(anchors, gt_boxes):
    iou = box_iou(gt_boxes, anchors)  # [G, A]
    best = iou.max(dim=0).values
    states = torch.full((len(anchors),), -1)
    states[best < 0.4] = 0
    states[best >= 0.5] = 1
    states[(iou == iou.max(dim=1, keepdim=True).values).any(dim=0)] = 1  # each object's best
    return states


val_set = ShapesDetection("val", n=cfg.data.n_val, image_size=cfg.data.image_size)
counts = []
for i in range(len(val_set)):
    _, target = val_set[i]
    states = my_anchor_states(anchors, target["boxes"])
    assert torch.equal(states, anchor_states(anchors, target["boxes"]))
    counts.append([int((states == k).sum()) for k in (1, 0, -1)] + [len(target["boxes"])])
counts = torch.tensor(counts, dtype=torch.float64)
pos, neg, ign, objects = counts.mean(dim=0).tolist()
print(f"per image, averaged over {len(val_set)} validation images ({objects:.1f} objects):")
print(f"  positive {pos:7.1f}   negative {neg:7.1f}   ignored {ign:6.1f}")
print(f"  negatives per positive: {neg / pos:.0f} : 1")


# %% [markdown]
# Why start at stride 4, not at the paper's stride 8 (P3)? Count the validation objects that
# have at least one anchor of IoU ≥ 0.5 (an anchor that can be a positive on its own merit) on
# each pyramid, with the same base sizes:


# %%
def share_with_good_anchor(strides):
    maps = [torch.zeros(1, 1, size // s, size // s) for s in strides]
    level_anchors = model.anchor_generator(image_list, maps)[0]
    best = [
        box_iou(val_set[i][1]["boxes"], level_anchors).max(dim=1).values
        for i in range(len(val_set))
    ]
    return float((torch.cat(best) >= 0.5).float().mean())


for strides in ((8, 16, 32), tuple(model.backbone.strides)):
    print(f"strides {strides}: {share_with_good_anchor(strides):.0%} of the objects")

# %% [markdown]
# On one image: the ground truth (white, dashed) and its positive anchors (green).

# %%
image, target = val_set[0]
states = anchor_states(anchors, target["boxes"])
fig, ax = plt.subplots(figsize=(5, 5))
show_image(image, ax=ax, title=f"{int((states == 1).sum())} positive of {len(anchors)} anchors")
draw_boxes(ax, target["boxes"], color="white", linestyle="--")
draw_boxes(ax, anchors[states == 1], color="lime", linewidth=0.8)
plt.show()

# %% [markdown]
# **What does that do to the cross-entropy?** RetinaNet's classifier has one sigmoid output per
# anchor and class (`K` = 6 outputs here, label 0 is never a target), so every negative anchor
# contributes `K` "no" terms. Suppose the detector were already good: every negative output at
# `p = 0.01` (an **easy negative**, `p_t = 0.99`) and every positive output at `p = 0.5` (still
# hard). Per image:

# %%
K = model.head.classification_head.num_classes
ce_easy = -math.log(1 - 0.01)  # one easy negative output
ce_hard = -math.log(0.5)  # one positive output at p = 0.5
total_easy = neg * K * ce_easy
total_pos = pos * ce_hard
print(f"one easy negative output: {ce_easy:.4f}, one hard positive output: {ce_hard:.4f}")
print(f"summed over the image: easy negatives {total_easy:.1f}, positives {total_pos:.1f}")
print(f"easy negatives carry {total_easy / (total_easy + total_pos):.0%} of the cross-entropy")

# %% [markdown]
# Each easy negative costs 70 times less than the hard positive, but there are thousands of
# them: together they carry most of the loss, and its gradient mostly says "keep the background
# background", which the model already does. That is the imbalance the focal loss removes.
#
# ## 2. The focal loss
#
# Write `p` for the predicted probability of the class and `y ∈ {0, 1}` for the target, and
# `p_t = p` if `y = 1`, `1 − p` if `y = 0`: the probability of the *right* answer. Binary
# cross-entropy is `CE = −log(p_t)`. The **focal loss** multiplies it by a **modulating factor**
# (조절 인자) `(1 − p_t)^γ` and a class weight `α_t`:
#
# $$FL(p_t) = -\alpha_t (1 - p_t)^{\gamma} \log(p_t).$$
#
# * **γ**, the **focusing parameter** (집중 파라미터), ≥ 0: with γ = 2 an output at `p_t = 0.9`
#   keeps `(0.1)² = 1 %` of its cross-entropy, one at `p_t = 0.99` keeps 0.01 %, while a hard
#   one at `p_t = 0.5` keeps 25 %. γ = 0 is plain cross-entropy.
# * **α** weighs the positives (`α_t = α` if `y = 1`, `1 − α` if `y = 0`). The paper's best
#   setting is α = 0.25 with γ = 2: once γ has taken the easy negatives out, the positives even
#   need to be weighted *down* a little.
#
# The paper also starts the classifier's bias at `−log((1 − π)/π)` with `π = 0.01`, so every
# output starts at `p = 0.01`: otherwise, at `p = 0.5`, the negatives' loss would swamp the
# first iterations. (Check: `torch.sigmoid(model.head.classification_head.cls_logits.bias)`.)


# %%
def my_focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


# %% [markdown]
# The same numbers as torchvision's `sigmoid_focal_loss` (what torchvision's `RetinaNet` uses)
# and the package's `focal_loss`?

# %%
from torchvision.ops import sigmoid_focal_loss

from dlcv_utils.ops.losses import focal_loss

g = torch.Generator().manual_seed(0)
logits = torch.randn(1000, generator=g) * 4
targets = (torch.rand(1000, generator=g) < 0.1).float()
for alpha, gamma in ((0.25, 2.0), (-1.0, 0.0), (0.75, 0.5)):
    ref = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    delta = max(
        (my_focal_loss(logits, targets, alpha, gamma) - ref).abs().max().item(),
        (focal_loss(logits, targets, alpha, gamma) - ref).abs().max().item(),
    )
    print(f"alpha {alpha:5.2f}, gamma {gamma:3.1f}: max |delta| vs torchvision {delta:.1e}")
    assert delta < 1e-6

# %% [markdown]
# The loss against `p_t` for several γ (the paper's Figure 1), and where the loss of a set of
# outputs comes from: here 2,000 easy negatives (`p = 0.01`), 20 hard negatives (`p = 0.6`) and
# 10 positives (`p = 0.5`), a small image's worth.

# %%
from dlcv_utils.viz.widgets.focal import focal_loss_panel

toy_logits = torch.cat(
    [
        torch.full((2000,), math.log(0.01 / 0.99)),
        torch.full((20,), math.log(0.6 / 0.4)),
        torch.zeros(10),
    ]
)
toy_targets = torch.cat([torch.zeros(2020), torch.ones(10)])
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
toy = focal_loss_panel(toy_logits, toy_targets, gamma=2.0, alpha=0.25, axes=axes)
fig.tight_layout()
plt.show()
for name in ("ce", "focal"):
    print(f"{name:5s}: " + ", ".join(f"{k} {v:.1%}" for k, v in toy[name].items()))

# %% [markdown]
# ### Exercise 1 — the focal loss
#
# Write `my_focal(logits, targets, alpha, gamma)`: the focal loss of every element (no
# reduction), `−α_t (1 − p_t)^γ log(p_t)`; `alpha < 0` means no α weighting. Compute `−log(p_t)`
# with `binary_cross_entropy_with_logits` (large logits!). The check compares with
# `torchvision.ops.sigmoid_focal_loss`. Replace the `raise NotImplementedError` line, then run
# the check cell. Stuck? `show_solution("focal_loss")`.


# %%
def my_focal(logits, targets, alpha, gamma):
    """logits, targets: Tensor[N] -> Tensor[N], the focal loss of each element."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_easy_share, check_focal_loss, show_solution

_ = check_focal_loss(my_focal)

# %% [markdown]
# ### Exercise 2 — the share of easy examples
#
# Write `my_easy_share(logits, targets, alpha, gamma)`: the share of the summed focal loss that
# comes from *easy* examples, those with `p_t > 0.5` (0 when the total is 0). The check compares
# with `dlcv_utils.ops.losses.easy_loss_share`. Model solution: `show_solution("easy_share")`.


# %%
def my_easy_share(logits, targets, alpha, gamma):
    """logits, targets: Tensor[N] -> float in [0, 1]."""
    raise NotImplementedError  # your code here


# %%
_ = check_easy_share(my_easy_share)

# %% [markdown]
# ## 3. RetinaNet on the shapes data
#
# RetinaNet is a one-stage detector: a backbone, an FPN, and two small fully convolutional
# **subnets** (서브넷) applied to every FPN level with shared weights, one for the class scores
# (`K · A` sigmoid outputs per cell) and one for the box offsets (`4 · A` per cell). The paper
# used a ResNet-50/101 + FPN (P3–P7, 256 channels) and subnets of four 3 × 3 convolutions of
# 256 channels. `dlcv_utils.models.retinanet.build_retinanet` puts into torchvision's
# `RetinaNet` what a CPU can train in minutes: lesson 08's tiny multi-scale CNN (strides 4, 8,
# 16), an FPN (P2–P4) of `cfg.fpn_channels` channels, and subnets of `cfg.head_convs`
# convolutions with group norm, as torchvision's RetinaNet v2 (`FocalClassificationHead` and
# `LightRegressionHead`, thin subclasses of torchvision's heads whose loss takes α and γ;
# torchvision's own head fixes α = 0.25, γ = 2). Trained from scratch for a few hundred
# iterations, the heads learn far faster with the norm than without.

# %%
from dlcv_utils.course.recipes import shapes_loaders

train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed)
class_names = ShapesDetection.classes  # label 0 is background: never a target
for part in ("backbone", "head"):
    n = sum(p.numel() for p in getattr(model, part).parameters())
    print(f"{part:9s} {n:>9,d} parameters")
print(
    f"focal loss: alpha {model.head.classification_head.alpha}, gamma {model.head.classification_head.gamma}"
)

# %% [markdown]
# **The classification loss, by hand.** torchvision sums the focal loss over all outputs of all
# anchors that are not ignored and divides by the number of positive anchors of the image (the
# paper's normalisation: the easy negatives add almost nothing, so dividing by all anchors would
# make the loss tiny). We run the untrained model's transform, backbone and head on two
# validation images (in eval mode, so the batch-norm statistics stay untouched) and compare:

# %%
from torchvision.models.detection._utils import Matcher

images, targets_ = zip(*(val_loader.dataset[i] for i in range(2)))
with torch.no_grad():
    batch, tv_targets = model.eval().transform(list(images), list(targets_))
    features = list(model.backbone(batch.tensors).values())
    head = model.head(features)
    batch_anchors = model.anchor_generator(batch, features)
model.train()
matcher = Matcher(0.5, 0.4, allow_low_quality_matches=True)
matched = [matcher(box_iou(t["boxes"], a)) for t, a in zip(tv_targets, batch_anchors)]

my_losses = []
for t, logits_i, m in zip(tv_targets, head["cls_logits"], matched):
    wanted = torch.zeros_like(logits_i)  # [anchors, K]
    wanted[m >= 0, t["labels"][m[m >= 0]]] = 1.0
    valid = m != -2  # not ignored
    fl = my_focal_loss(logits_i[valid], wanted[valid], alpha=0.25, gamma=2.0).sum()
    my_losses.append(fl / max(1, int((m >= 0).sum())))
mine = sum(my_losses) / len(my_losses)
tv = model.head.classification_head.compute_loss(tv_targets, head, matched)
print(f"classification loss: ours {mine.item():.4f}, the model's {tv.item():.4f}")
torch.testing.assert_close(mine, tv)

# %% [markdown]
# ### Training
# The shared recipe trains it (`dlcv_utils.engine.fit`: AdamW, warm-up, cosine decay, a time
# cap as a safety net) and evaluates it with COCO mAP on the validation split;
# `model(images, targets)` returns RetinaNet's two losses, `classification` (focal) and
# `bbox_regression` (L1 on the offsets of the positive anchors). The benchmark
# (`benchmarks/bench_detectors.py --only retinanet`) runs the same code with the same settings.

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
# `evaluate_detector` scores the detections with `dlcv_utils.metrics.coco_evaluate`
# (pycocotools' algorithm, lesson 01); `metrics["coco"]` holds all twelve COCO numbers.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

metrics = run.metrics
map50, map_coco = metrics["map50"], metrics["map"]
print(
    f"val mAP@0.5 = {map50:.3f}   mAP@[.5:.95] = {map_coco:.3f}   "
    f"({1000 * metrics['seconds_per_image']:.1f} ms per image)"
)
coco = metrics["coco"]
print(f"AP small {coco['APs']:.3f}   AP medium {coco['APm']:.3f}   AP large {coco['APl']:.3f}")
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
# each class. A RetinaNet trained this briefly gives low scores, so the figures count
# detections from `cfg.figure_score` on (0.25 on the CPU settings).

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

fig, retina_eval = show_evaluation(
    model,
    val_loader,
    class_names,
    per_class=metrics["per_class"],
    device=device,
    score_threshold=cfg.figure_score,
)
plt.show()
print(
    f"score >= {cfg.figure_score}: TP {retina_eval['n_tp']}, FP {retina_eval['n_fp']}, "
    f"FN {retina_eval['n_fn']}"
)
assert retina_eval["matrix"][1:].sum() == retina_eval["n_tp"] + retina_eval["n_fn"]

# %% [markdown]
# ### Where the loss of the trained model comes from
#
# The trained model's class outputs on 8 validation images, with their targets, split as in
# section 1. Move γ and α: with γ = 0 the thousands of easy negatives still carry a large share
# of the loss even after training; with γ = 2 almost none.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.focal import make_focal_loss_widget

model.eval()
images, targets_ = zip(*(val_loader.dataset[i] for i in range(8)))
with torch.no_grad():
    batch, tv_targets = model.transform([im.to(device) for im in images], list(targets_))
    features = list(model.backbone(batch.tensors).values())
    out_logits = model.head(features)["cls_logits"].cpu()
    batch_anchors = [a.cpu() for a in model.anchor_generator(batch, features)]
all_logits, all_targets = [], []
for t, logits_i, a in zip(tv_targets, out_logits, batch_anchors):
    m = matcher(box_iou(t["boxes"].cpu(), a))
    wanted = torch.zeros_like(logits_i)
    wanted[m >= 0, t["labels"].cpu()[m[m >= 0]]] = 1.0
    all_logits.append(logits_i[m != -2].flatten())
    all_targets.append(wanted[m != -2].flatten())
trained_logits, trained_targets = torch.cat(all_logits), torch.cat(all_targets)
make_focal_loss_widget(trained_logits, trained_targets, gamma=cfg.gamma, alpha=cfg.alpha)

# %% [markdown]
# ## 4. Ablation: γ = 0 against γ = 2 at the same budget
#
# Does the focal loss help *here*? We build the same model twice with the same initial weights
# (same seed), once with γ = 2 and once with γ = `cfg.ablation_gamma` = 0 (α stays 0.25, the
# prior π = 0.01 stays), and train both with exactly the same setting: same data order, same
# number of iterations, same learning-rate schedule. To keep the lesson within its time, both
# runs get a shorter budget than the model above: `cfg.ablation_epochs` epochs each. (The paper's Table 1, ResNet-50 on COCO: α-balanced CE, γ = 0 with
# its best α = 0.75, gave 31.1 AP; the focal loss with γ = 2, α = 0.25 gave 34.0. Here only γ
# changes.) Whatever the numbers say, we report them.

# %%
# NBVAL_IGNORE_OUTPUT
from dataclasses import replace

short = replace(cfg.train, epochs=cfg.ablation_epochs)  # the same short budget for both


def ablation_run(gamma):
    # the loader's shuffling generator has moved on with every epoch trained so far: restart it
    # from the seed, so that both runs see the same batches in the same order
    train_loader.generator.manual_seed(cfg.seed)
    return train_and_evaluate(
        build_retinanet_model(cfg, gamma=gamma),
        train_loader,
        val_loader,
        short,
        device=device,
        seed=cfg.seed,
    )


fl_run, ce_run = ablation_run(cfg.gamma), ablation_run(cfg.ablation_gamma)
assert ce_run.history.iterations == fl_run.history.iterations  # the same budget
print(f"{'':24s} {'iterations':>10s} {'mAP@0.5':>8s} {'mAP':>6s}")
rows = (
    (f"gamma {cfg.gamma:g} (above)", run),
    (f"gamma {cfg.gamma:g}, short budget", fl_run),
    (f"gamma {cfg.ablation_gamma:g}, short budget", ce_run),
)
for name, r in rows:
    print(
        f"{name:24s} {r.history.iterations:10d} {r.metrics['map50']:8.3f} {r.metrics['map']:6.3f}"
    )
print("per class AP@0.5, short budget (gamma 2 / gamma 0):")
for name in metrics["per_class"]:
    print(
        f"  {name:9s} {fl_run.metrics['per_class'][name]:.3f} / {ce_run.metrics['per_class'][name]:.3f}"
    )
assert fl_run.metrics["map50"] >= cfg.ablation_floor  # the gamma-0 run: reported, not checked
diff = fl_run.metrics["map50"] - ce_run.metrics["map50"]
verdict = "helps" if diff > 0.02 else "hurts" if diff < -0.02 else "makes no clear difference"
print(f"at this budget the focal loss {verdict}: mAP@0.5 {diff:+.3f} for gamma {cfg.gamma:g}")
key_figure("ablation val mAP@0.5, gamma 2 (short budget)", fl_run.metrics["map50"])
key_figure("ablation val mAP@0.5, gamma 0 (same short budget)", ce_run.metrics["map50"])

# %% [markdown]
# **Reading the result.** One seed, one budget and 150 validation images: a gap of a point or
# two may be noise (this lesson does not measure the seed-to-seed spread), so read only a clear
# gap as an effect. On the CPU settings the gap is not subtle: after 300 iterations the γ = 0
# model finds none of the shapes yet (mAP 0.000) while the γ = 2 model has started to. With
# about 12,000 anchors per image and roughly 170 negatives per positive (section 1), most of
# the cross-entropy's gradient says "keep the background background"; the focal loss takes
# that pull away, so the positives are learned sooner. Both runs keep the paper's prior
# π = 0.01 and α = 0.25, which already stop the easy negatives from swamping the *first*
# iterations (the paper reports that plain cross-entropy without the prior diverges quickly),
# so what differs here is the speed of learning. The paper's gain (31.1 → 34.0 AP, Table 1)
# was measured at convergence, after 90,000 iterations of a ResNet-50 on COCO with imbalances
# of about 1 : 1,000; 300 iterations show how fast γ lets the detector start, not what it
# gives at convergence (the GPU settings train the pair for ten epochs each). Note also the
# loss values of the two runs in the training logs: they are different losses (the γ = 0 loss
# is larger by construction), so only the mAPs can be compared.
#
# ## Summary
#
# * A dense detector labels every anchor: a few positives (IoU ≥ 0.5), thousands of negatives
#   (IoU < 0.4), some ignored. Without sampling, the easy negatives carry most of the
#   cross-entropy.
# * The focal loss `−α_t (1 − p_t)^γ log(p_t)` scales down well-classified outputs; γ = 2,
#   α = 0.25 in the paper, and a prior π = 0.01 in the classifier's bias for a stable start.
# * RetinaNet = backbone + FPN + two shared subnets (classes with sigmoids, boxes), the loss
#   summed over all non-ignored anchors and divided by the number of positives.
# * On the shapes data, at this small budget: see the ablation above.
#
# ### Exercises
# 1. Train with `dataclasses.replace(cfg, alpha=0.75)` and γ = 0 (the paper's best α for
#    γ = 0). Does α alone fix the imbalance?
# 2. Set `prior_probability=0.5` in `FocalClassificationHead` (the classifier's bias starts
#    at 0). What is the classification loss of the first iteration, and why?
# 3. How many anchors would the paper's P3–P7 with 9 anchors per cell give on an 800 × 800
#    image? (Strides 8 to 128.)

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | class imbalance | 클래스 불균형 | Lesson 11 — RetinaNet and focal loss |
# | dense detector | 밀집 검출기 | Lesson 11 — RetinaNet and focal loss |
# | easy negatives | 쉬운 음성 샘플 | Lesson 11 — RetinaNet and focal loss |
# | focal loss | 포컬 로스 | 2. The focal loss |
# | modulating factor | 조절 인자 | 2. The focal loss |
# | focusing parameter | 집중 파라미터 | 2. The focal loss |
# | subnets | 서브넷 | 3. RetinaNet on the shapes data |
