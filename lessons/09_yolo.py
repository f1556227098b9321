# %% [markdown]
# # Lesson 09 — YOLO, v1 to today
#
# SSD (lesson 08) predicts from default boxes on several maps. **YOLO** ("You Only Look Once",
# Redmon et al., 2016) went further in simplicity: one network, one pass, the image cut into a
# **grid** (격자), each **grid cell** (격자 셀) predicting the boxes whose centre falls in it.
# Every later version kept that idea and changed the parts around it.
#
# In this lesson you
#
# 1. write YOLOv1's grid, its **responsible cell** (담당 셀) rule, its `S × S × (B·5 + C)` output
#    and its sum-squared loss;
# 2. compute YOLOv2's **anchors by k-means** (k-평균 앵커) with the `1 − IoU` distance, and write
#    its **direct location prediction** (직접 위치 예측);
# 3. build a small YOLOv3-style detector (three-scale idea, residual backbone, logistic class
#    scores) from the package and train it on the shapes data on a CPU;
# 4. meet the later ideas: **mosaic** (모자이크) augmentation, the **CIoU** loss (checked against
#    torchvision) and the **anchor-free** (앵커 없는) decoupled head with **DFL** (분포 초점 손실),
#    whose decoding you check against Ultralytics' own.
#
# (Lesson 10 trains Ultralytics' YOLO itself; here we build the pieces.)

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch

from dlcv_utils.course.recipes import shapes_datasets, shapes_loaders
from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.viz.plotting import draw_boxes, show_image

device, cfg = lesson_setup("09")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(f"device: {device.type}; image size {cfg.data.image_size} px, strides {cfg.strides}")
train_ds, val_ds = shapes_datasets(cfg.data)
class_names = train_ds.classes
image, target = val_ds[0]
gt_boxes = target["boxes"]
print(f"{len(train_ds)} training images, {len(val_ds)} validation images")

# %% [markdown]
# ## 1. YOLOv1: a grid of cells
#
# YOLOv1 resizes the image to 448 × 448 and cuts it into `S × S` cells (`S = 7`). The cell
# that holds an object's **centre** is responsible for it. Each cell predicts `B = 2` boxes,
# each `(x, y, w, h, C)`: `x, y` the centre's offset inside the cell (0..1), `w, h` fractions of
# the image, `C` a **confidence** (신뢰도) meant to equal `Pr(object) × IoU`; and, once per cell,
# `C` class probabilities. The output is one tensor of `S × S × (B·5 + C)`: 7 × 7 × 30 for the
# 20 VOC classes. At test time a box's class score is `C × Pr(class | object)`.


# %%
def my_responsible_cells(boxes, image_size, grid):
    """(row, col) of the cell holding each box centre."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    col = (cx * grid / image_size).floor().long().clamp(max=grid - 1)
    row = (cy * grid / image_size).floor().long().clamp(max=grid - 1)
    return torch.stack([row, col], 1)


S, B, C = cfg.grid, 2, len(class_names) - 1
size = cfg.data.image_size
cells = my_responsible_cells(gt_boxes, size, S)
print(f"output tensor: {S} x {S} x ({B}*5 + {C}) = {S * S * (B * 5 + C)} numbers")
print("responsible cells (row, col):", cells.tolist())

fig, ax = plt.subplots(figsize=(4.5, 4.5))
show_image(image, ax=ax)
for i in range(1, S):
    ax.axhline(i * size / S - 0.5, color="white", linewidth=0.5)
    ax.axvline(i * size / S - 0.5, color="white", linewidth=0.5)
for r, c in cells.tolist():
    ax.add_patch(
        plt.Rectangle(
            (c * size / S - 0.5, r * size / S - 0.5), size / S, size / S, color="lime", alpha=0.35
        )
    )
draw_boxes(ax, gt_boxes, color="yellow")
ax.set_title(f"S = {S}: the cells responsible for the objects")
plt.show()

# %% [markdown]
# ### Exercise 1 — the responsible cell
#
# Write `my_cell(box, image_size, grid)`: `(row, col)` of the `grid × grid` cell that holds the
# centre of `box = [x1, y1, x2, y2]`. A centre exactly on the right or bottom edge goes to the
# last cell. Replace the `raise NotImplementedError` line, then run the check cell. Stuck?
# `show_solution("responsible_cell")`.


# %%
def my_cell(box, image_size, grid):
    """(row, col) of the grid cell holding the centre of box."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_responsible_cell, check_v2_decode, show_solution

_ = check_responsible_cell(my_cell)

# %% [markdown]
# ### The v1 loss
#
# Everything is a squared error, weighted so that the many empty cells do not swamp the few
# with objects (`λ_noobj = 0.5`) and the boxes count more (`λ_coord = 5`). Of a cell's `B`
# predictors, the one whose box has the highest IoU with the object is responsible; it gets
# the coordinate terms and the confidence target `IoU`; every other predictor is pushed to
# `C = 0`. Widths and heights enter as **square roots**: a 5 px error matters more on a small
# box than on a large one.
#
# `L = λ_coord Σ [(x − x̂)² + (y − ŷ)² + (√w − √ŵ)² + (√h − √ĥ)²] + Σ_obj (C − IoU)²
#  + λ_noobj Σ_noobj C² + Σ_cells with obj Σ_c (p(c) − p̂(c))²`


# %%
def box_iou_cxcywh(a, b):
    """IoU of [N, 4] and [1, 4] boxes given as (cx, cy, w, h)."""
    a = torch.cat([a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2], 1)
    b = torch.cat([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
    lt, rb = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    return inter / ((a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1) - inter)


def my_v1_loss(pred, boxes, labels, image_size, B=2, l_coord=5.0, l_noobj=0.5):
    """YOLOv1 loss of one image: pred [S, S, B*5 + C], boxes [M, 4] xyxy, labels [M] in 0..C-1."""
    S = pred.shape[0]
    responsible = torch.zeros(S, S, B, dtype=torch.bool)
    loss = pred.sum() * 0
    for (r, c), box, lab in zip(my_responsible_cells(boxes, image_size, S).tolist(), boxes, labels):
        tx = (box[0] + box[2]) / 2 * S / image_size - c
        ty = (box[1] + box[3]) / 2 * S / image_size - r
        tw, th = (box[2] - box[0]) / image_size, (box[3] - box[1]) / image_size
        p = pred[r, c, : 5 * B].view(B, 5)
        pred_boxes = torch.stack(
            [(p[:, 0] + c) / S, (p[:, 1] + r) / S, p[:, 2].clamp(min=0), p[:, 3].clamp(min=0)], 1
        )
        target = torch.stack([(tx + c) / S, (ty + r) / S, tw, th])[None]
        ious = box_iou_cxcywh(pred_boxes.detach(), target)
        j = int(ious.argmax())
        responsible[r, c, j] = True
        loss = loss + l_coord * ((p[j, 0] - tx) ** 2 + (p[j, 1] - ty) ** 2)
        loss = loss + l_coord * (
            (p[j, 2].clamp(min=0).sqrt() - tw.sqrt()) ** 2
            + (p[j, 3].clamp(min=0).sqrt() - th.sqrt()) ** 2
        )
        loss = loss + (p[j, 4] - ious[j]) ** 2
        loss = (
            loss
            + (
                (pred[r, c, 5 * B :] - torch.nn.functional.one_hot(lab, pred.shape[2] - 5 * B)) ** 2
            ).sum()
        )
    conf = pred[..., : 5 * B].reshape(S, S, B, 5)[..., 4]
    return loss + l_noobj * (conf[~responsible] ** 2).sum()


# %% [markdown]
# The package's `yolo_v1_loss` is the same loss, term by term (its unit test checks each term
# against arithmetic by hand). On a random prediction for our image:

# %%
from dlcv_utils.models.yolo import yolo_v1_loss

torch.manual_seed(0)
pred = torch.rand(S, S, B * 5 + C)
labels0 = target["labels"] - 1  # v1 has no background class
mine = my_v1_loss(pred, gt_boxes, labels0, size, B)
ref = yolo_v1_loss(pred, gt_boxes, labels0, size, num_boxes=B)
print({k: round(float(v), 4) for k, v in ref.items()})
print(
    f"my loss {float(mine):.4f}   package {float(ref['total']):.4f}   "
    f"|Δ| {abs(float(mine - ref['total'])):.1e}"
)
assert abs(float(mine - ref["total"])) < 1e-4

# %% [markdown]
# v1's limits: one class per cell and at most `B` objects per cell (crowds of small objects
# are lost), coarse 7 × 7 localisation, and boxes regressed from scratch with no prior shape.
#
# ## 2. YOLOv2: anchors by k-means, direct location prediction
#
# YOLOv2 (Redmon & Farhadi, 2017, "YOLO9000") borrowed Faster R-CNN's **anchors** (앵커) but
# chose their shapes from the data: **k-means** on the training boxes' `(w, h)`, with the
# distance `d = 1 − IoU(box, centroid)` (boxes aligned at one corner) instead of the Euclidean
# distance, which would let big boxes dominate.


# %%
def my_wh_iou(wh, centroids):
    """IoU of shapes [N, 2] x [k, 2], boxes sharing a corner."""
    inter = torch.minimum(wh[:, None], centroids[None]).prod(-1)
    return inter / (wh.prod(-1)[:, None] + centroids.prod(-1)[None] - inter)


def my_kmeans(wh, k, iters=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    centroids = wh[torch.randperm(len(wh), generator=g)[:k]].clone()
    for _ in range(iters):
        assign = (1 - my_wh_iou(wh, centroids)).argmin(1)  # nearest = smallest 1 - IoU
        new = torch.stack(
            [
                wh[assign == j].median(0).values if (assign == j).any() else centroids[j]
                for j in range(k)
            ]
        )
        if torch.equal(new, centroids):
            break
        centroids = new
    centroids = centroids[centroids.prod(1).argsort()]
    return centroids, my_wh_iou(wh, centroids).max(1).values.mean()


train_wh = torch.cat(
    [(lambda b: b[:, 2:] - b[:, :2])(train_ds[i][1]["boxes"]) for i in range(len(train_ds))]
)
print(f"{len(train_wh)} training boxes")
for k in (1, 3, 6, 9):
    centroids, mean_iou = my_kmeans(train_wh, k)
    print(
        f"k = {k}: mean IoU with the best anchor {float(mean_iou):.3f}; anchors "
        + ", ".join(f"{w:.0f}x{h:.0f}" for w, h in centroids.tolist())
    )

# %% [markdown]
# The package's `kmeans_anchors` seeds the centroids the k-means++ way (spread out), which
# avoids two centroids starting in one cluster. k-means only finds a local optimum, so two
# seedings can differ a little:

# %%
from dlcv_utils.models.yolo import kmeans_anchors

anchors_k, miou_k = kmeans_anchors(train_wh, cfg.k_anchors, seed=cfg.seed)
_, miou_mine = my_kmeans(train_wh, cfg.k_anchors)
print(f"k = {cfg.k_anchors}: package mean IoU {float(miou_k):.3f}, mine {float(miou_mine):.3f}")
print("anchors:", [[round(v) for v in a] for a in anchors_k.tolist()])
assert float(miou_k) >= float(miou_mine) - 0.02

# %% [markdown]
# The shapes are all roughly square, so every anchor is square. The course's photo set
# (`dlcv_utils.datasets.photos`: five annotated photographs) has boxes of every shape; its
# anchors, relative to each image's size:

# %%
from dlcv_utils.datasets.photos import photo_records

photo_wh = torch.tensor(
    [
        [(o.bbox[2] - o.bbox[0]) / r.width, (o.bbox[3] - o.bbox[1]) / r.height]
        for r in photo_records()
        for o in r.objects
    ]
)
photo_anchors, photo_iou = kmeans_anchors(photo_wh, 3)
print(
    f"{len(photo_wh)} photo boxes; 3 anchors (fractions of the image): "
    + ", ".join(f"{w:.2f}x{h:.2f}" for w, h in photo_anchors.tolist())
    + f"; mean IoU {float(photo_iou):.3f}"
)

# %% [markdown]
# ### Direct location prediction
#
# Faster R-CNN's offsets (`x = x_a + t_x w_a`) are unbounded: early in training a box can jump
# anywhere. YOLOv2 predicts the centre *inside its cell* through a sigmoid:
#
# `b_x = σ(t_x) + c_x`, `b_y = σ(t_y) + c_y`, `b_w = p_w e^{t_w}`, `b_h = p_h e^{t_h}`
#
# with `(c_x, c_y)` the cell's column and row and `(p_w, p_h)` the anchor; times the stride for
# pixels. The grid became 13 × 13 (416 px input, stride 32), with 5 anchors per cell, and the
# class is predicted per anchor, not per cell.


# %%
def my_decode_v2(t, anchors, stride):
    """t [H, W, A, 4] -> xyxy pixels [H, W, A, 4]."""
    H, W = t.shape[:2]
    cy, cx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    bx = (torch.sigmoid(t[..., 0]) + cx[..., None]) * stride
    by = (torch.sigmoid(t[..., 1]) + cy[..., None]) * stride
    bw, bh = anchors[:, 0] * torch.exp(t[..., 2]), anchors[:, 1] * torch.exp(t[..., 3])
    return torch.stack([bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2], -1)


from dlcv_utils.models.yolo import decode_v2

t = torch.randn(16, 16, 3, 4)
delta = (my_decode_v2(t, anchors_k[:3], 8) - decode_v2(t, anchors_k[:3], 8)).abs().max()
print(f"decoded boxes vs the package's decode_v2: max |Δ| {delta:.1e} px")
assert delta < 1e-4

# %% [markdown]
# ### Exercise 2 — decoding one v2 prediction
#
# Write `my_v2_box(t, cell, anchor, stride)`: the xyxy box in pixels of one raw prediction
# `t = [t_x, t_y, t_w, t_h]` of cell `(row, col)` with anchor `(p_w, p_h)` (pixels). Stuck?
# `show_solution("v2_decode")`.


# %%
def my_v2_box(t, cell, anchor, stride):
    """[x1, y1, x2, y2] in pixels."""
    raise NotImplementedError  # your code here


# %%
_ = check_v2_decode(my_v2_box)

# %% [markdown]
# ### Multi-scale training
#
# A fully convolutional detector runs at any size that is a multiple of its largest stride.
# YOLOv2 changed the input size every 10 batches (320 to 608 px), so one network works at many
# sizes: small for speed, large for accuracy. The package's model does the same when given
# `multiscale=(...)` sizes; its outputs simply have more or fewer cells:

# %%
from dlcv_utils.course.recipes_yolo import build_yolo_model

model = build_yolo_model(cfg, train_ds)  # k-means anchors on train_ds's boxes, split by area
anchors = [model.anchors(i).tolist() for i in range(len(cfg.strides))]
with torch.no_grad():
    for side in (96, 128, 160):
        outs = model.eval().forward_raw(torch.zeros(1, 3, side, side))
        print(f"{side} px -> " + ", ".join(f"{tuple(o.shape[1:])}" for o in outs))

# %% [markdown]
# ### Widget: grid size and anchors
#
# Slide `S` to see which cells become responsible (two objects in one cell: v1 loses one) and
# `k` to see the k-means anchors centred in those cells, the best-fitting one thicker.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.yolo_grid import make_yolo_grid_widget

make_yolo_grid_widget(image, gt_boxes, train_wh)

# %% [markdown]
# ## 3. YOLOv3: three scales, a residual backbone, logistic classes
#
# YOLOv3 (Redmon & Farhadi, 2018) kept v2's decoding and added:
#
# * **three prediction scales** (세 개의 예측 스케일), strides 32, 16 and 8, with 3 of the 9
#   k-means anchors each, the coarse map upsampled and concatenated into the finer ones (an
#   FPN-like top-down path, lesson 06);
# * **Darknet-53**, a backbone of **residual blocks** (잔차 블록): 1 × 1 conv to half the
#   channels, 3 × 3 conv back, plus the input;
# * an **objectness** (객체성) score per anchor, trained with binary cross-entropy, and
#   **independent logistic class scores** instead of a softmax (an object can be "woman" and
#   "person").
#
# `dlcv_utils.models.small_yolo.SmallYOLO` is that design, shrunk: `Residual` blocks on
# `conv_norm_relu` (the course's `backbones` block), the scales of `cfg.strides` (the shapes
# are 10–63 px, so strides 8 and 16 suffice at 128 px), `cfg.k_anchors` k-means anchors split
# by area. Its training targets: each object goes to the anchors whose shape IoU is the best or
# above `match_iou`, in the cell of its centre; the box loss is `1 − CIoU` (section 4), the
# objectness target is the predicted box's IoU (as YOLOv5), predictions already overlapping an
# object by IoU > 0.5 are not pushed to background (v3's ignore rule).

# %%
n_params = sum(p.numel() for p in model.parameters())
print(f"SmallYOLO: {n_params:,d} parameters; anchors per scale:")
for s, a in zip(cfg.strides, anchors):
    print(f"  stride {s:2d}: " + ", ".join(f"{w:.0f}x{h:.0f}" for w, h in a))

# %% [markdown]
# ## 4. Later versions: mosaic, CIoU, anchor-free heads and DFL
#
# **YOLOv4/v5** (2020) added training tricks: **mosaic** augmentation (four images in one,
# cropped around a random centre: more objects and contexts per batch), the CIoU box loss,
# objectness targets equal to the IoU, neighbour cells as extra positives. **YOLOX** (2021) and
# **YOLOv8** (2023) dropped anchors (**anchor-free**: one prediction per cell centre) and
# **decoupled** the head (분리된 헤드): separate branches for classes and boxes. v8 and its
# successors predict each box side as a distribution (DFL). A minimal mosaic:


# %%
def mosaic(images, targets, size):
    """Four [3, size, size] images -> one, each at half size in a quadrant."""
    out = torch.zeros(3, size, size)
    boxes, labels = [], []
    half = size // 2
    for q, (img, tgt) in enumerate(zip(images, targets)):
        oy, ox = (q // 2) * half, (q % 2) * half
        out[:, oy : oy + half, ox : ox + half] = torch.nn.functional.interpolate(
            img[None], size=(half, half), mode="bilinear", align_corners=False
        )[0]
        boxes.append(tgt["boxes"] / 2 + torch.tensor([ox, oy, ox, oy]))
        labels.append(tgt["labels"])
    return out, {"boxes": torch.cat(boxes), "labels": torch.cat(labels)}


mos, mos_t = mosaic(*zip(*[train_ds[i] for i in range(4)]), size)
fig, ax = plt.subplots(figsize=(4, 4))
show_image(mos, ax=ax)
draw_boxes(ax, mos_t["boxes"], color="yellow")
ax.set_title(f"mosaic of 4 images: {len(mos_t['boxes'])} objects")
plt.show()

# %% [markdown]
# ### CIoU
#
# `1 − IoU` gives no gradient when the boxes do not overlap. **CIoU** (complete IoU, Zheng et
# al., 2020) adds the squared centre distance over the squared diagonal of the enclosing box,
# and an aspect-ratio term:
#
# `CIoU = IoU − ρ²/c² − αv`, `v = 4/π² (atan(w_gt/h_gt) − atan(w/h))²`, `α = v / (1 − IoU + v)`.


# %%
def my_ciou(a, b, eps=1e-7):
    w1, h1, w2, h2 = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    inter = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0) * (
        torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])
    ).clamp(min=0)
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    c2 = (
        (torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) ** 2
        + (torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])) ** 2
        + eps
    )
    rho2 = (((a[:, :2] + a[:, 2:]) - (b[:, :2] + b[:, 2:])) ** 2).sum(1) / 4
    v = 4 / math.pi**2 * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    alpha = v / (1 - iou + v + eps)
    return iou - rho2 / c2 - alpha * v


from torchvision.ops import complete_box_iou_loss

from dlcv_utils.models.yolo import ciou

g = torch.Generator().manual_seed(0)
xy1, xy2 = torch.rand(1000, 2, generator=g) * 100, torch.rand(1000, 2, generator=g) * 100
a = torch.cat([xy1, xy1 + 1 + 60 * torch.rand(1000, 2, generator=g)], 1)
b = torch.cat([xy2, xy2 + 1 + 60 * torch.rand(1000, 2, generator=g)], 1)
tv = complete_box_iou_loss(a, b, reduction="none")
d_mine, d_pkg = (1 - my_ciou(a, b) - tv).abs().max(), (1 - ciou(a, b) - tv).abs().max()
print(
    f"1 - CIoU vs torchvision.ops.complete_box_iou_loss on 1000 pairs: "
    f"max |Δ| mine {d_mine:.1e}, package {d_pkg:.1e}"
)
assert max(d_mine, d_pkg) < 1e-5

# %% [markdown]
# ### Anchor-free heads and DFL: decoding a YOLOv8 head by hand
#
# YOLOv8's `Detect` head predicts, at every **anchor point** (the centre of each cell of the
# stride 8, 16 and 32 maps), `4 × reg_max` box logits and `C` class logits. Each side's
# distance `l, t, r, b` (in cells) is a distribution over the bins `0..reg_max − 1` (16);
# its value is the expectation `Σ i · softmax(logits)_i` (the **distribution focal loss**
# trains these bins). The box is `(x − l, y − t, x + r, y + b) × stride`.
#
# We build `yolov8n.yaml` with Ultralytics, offline (random weights, nothing downloaded), feed
# its head random feature maps and compare our decoding of the raw outputs with the head's own
# inference output (`cx, cy, w, h` in pixels, then the class sigmoids).

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile

from dlcv_utils.models.ultralytics_yolo import offline_ultralytics

offline_ultralytics(tempfile.mkdtemp(prefix="dlcv-ultralytics-"))  # before importing it
from ultralytics import YOLO
from ultralytics.utils.tal import make_anchors

torch.manual_seed(cfg.seed)
v8 = YOLO("yolov8n.yaml").model.eval()
head = v8.model[-1]
print(
    type(head).__name__,
    "reg_max",
    head.reg_max,
    "classes",
    head.nc,
    "strides",
    head.stride.tolist(),
)

# %%
channels = [m[0].conv.in_channels for m in head.cv2]
feats = [torch.randn(1, c, size // int(s), size // int(s)) for c, s in zip(channels, head.stride)]
with torch.no_grad():
    ultra = head([f.clone() for f in feats])[0][0]  # [4 + C, A]: cx, cy, w, h, class probs
    raw = [torch.cat([head.cv2[i](feats[i]), head.cv3[i](feats[i])], 1) for i in range(head.nl)]

R = head.reg_max
box_logits = torch.cat([r[:, : 4 * R].flatten(2) for r in raw], 2)[0]  # [4R, A]
cls_logits = torch.cat([r[:, 4 * R :].flatten(2) for r in raw], 2)[0]  # [C, A]
points, strides = make_anchors(raw, head.stride, 0.5)  # [A, 2] in cells, [A, 1]
prob = box_logits.view(4, R, -1).softmax(1)
ltrb = (prob * torch.arange(R, dtype=torch.float32)[None, :, None]).sum(1).T  # [A, 4]
xyxy = torch.cat([points - ltrb[:, :2], points + ltrb[:, 2:]], 1) * strides
mine = torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], 1).T

from dlcv_utils.models.yolo import anchor_points, dfl_decode

pts_pkg, st_pkg = anchor_points([f.shape[-2:] for f in raw], head.stride.tolist())
pkg = dfl_decode(box_logits[None], pts_pkg, st_pkg, R)[0]
d_box = (mine - ultra[:4]).abs().max().item()
d_cls = (cls_logits.sigmoid() - ultra[4:]).abs().max().item()
d_pkg = (pkg - xyxy).abs().max().item()
print(
    f"{ultra.shape[1]} anchor points; hand decoding vs Ultralytics: boxes max |Δ| "
    f"{'< 1e-3' if d_box < 1e-3 else d_box} px, classes max |Δ| {'< 1e-6' if d_cls < 1e-6 else d_cls}"
)
print(f"package dfl_decode vs hand: max |Δ| {'< 1e-4' if d_pkg < 1e-4 else d_pkg} px")
assert d_box < 1e-3 and d_cls < 1e-6 and d_pkg < 1e-4

# %% [markdown]
# ## 5. Training the small YOLO on the shapes
#
# The shared recipe trains it (`dlcv_utils.engine.fit`: AdamW, warm-up, cosine decay, a time
# cap) and evaluates COCO mAP on the validation split; `model(images, targets)` returns
# `loss_box`, `loss_obj` and `loss_cls` in training mode, detections in eval mode. The
# benchmark (`benchmarks/bench_detectors.py --only yolo_v3`) runs the same code and settings.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import time

from dlcv_utils.course.recipes import train_and_evaluate

train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed, datasets=(train_ds, val_ds))
cpu0 = time.process_time()
run = train_and_evaluate(model, train_loader, val_loader, cfg.train, device=device, seed=cfg.seed)
history = run.history
print(
    f"{history.iterations} iterations in {history.train_seconds:.0f} s of training "
    f"({torch.get_num_threads()} thread(s), {time.process_time() - cpu0:.0f} s of CPU time "
    f"incl. evaluation; load average {os.getloadavg()[0]:.1f})"
)
assert history.train_seconds <= (cfg.train.max_train_seconds or math.inf) + 30

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
_ = key_figure("val mAP@0.5", map50)
_ = key_figure("val mAP@[.5:.95]", map_coco)

# %% [markdown]
# ### Where the errors are
#
# True positives (green), false positives (red) and missed objects (orange, dashed), the
# confusion matrix with its *background* row and column, and the AP of each class.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

fig, yolo_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], device=device
)
plt.show()
print(f"score >= 0.5: TP {yolo_eval['n_tp']}, FP {yolo_eval['n_fp']}, FN {yolo_eval['n_fn']}")
assert yolo_eval["matrix"][1:].sum() == yolo_eval["n_tp"] + yolo_eval["n_fn"]

# %% [markdown]
# ### Widget: confidence and NMS thresholds
#
# The score of a box is `σ(objectness) × σ(class)`. Lower the confidence threshold to see the
# many weak boxes the network also outputs; raise the NMS IoU threshold towards 1 to see the
# duplicates NMS removes.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.yolo_grid import make_yolo_thresholds_widget

model.eval()
with torch.no_grad():
    raw_val = model.forward_raw((image[None].to(device) - 0.5) * 4.0)
make_yolo_thresholds_widget(image, [o.cpu() for o in raw_val], model.cpu())

# %% [markdown]
# ## Summary
#
# * v1: an `S × S` grid; the cell holding an object's centre is responsible; `S × S × (B·5 + C)`
#   outputs; a sum-squared loss with `λ_coord = 5`, `λ_noobj = 0.5` and `√w`, `√h`.
# * v2: anchors from k-means with `1 − IoU`; `b_x = σ(t_x) + c_x`, `b_w = p_w e^{t_w}`;
#   multi-scale training.
# * v3: three scales joined top-down, a residual backbone, objectness and logistic classes.
# * Later: mosaic, CIoU, anchor-free decoupled heads whose box sides are DFL distributions.
#
# ### Exercises
# 1. Train with `dataclasses.replace(cfg, k_anchors=2)` (one anchor per scale): what happens
#    to the mAP, and to the mean IoU of the anchors?
# 2. In `my_v1_loss`, set `l_noobj = 1`: on the random prediction, which term dominates?
# 3. With `S = 4` on the shapes, how often do two objects share a cell (run
#    `my_responsible_cells` over the training set)?

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | grid | 격자 | Lesson 09 — YOLO, v1 to today |
# | grid cell | 격자 셀 | 1. YOLOv1: a grid of cells |
# | responsible cell | 담당 셀 | 1. YOLOv1: a grid of cells |
# | confidence | 신뢰도 | 1. YOLOv1: a grid of cells |
# | anchors | 앵커 | 2. YOLOv2: anchors by k-means, direct location prediction |
# | anchors by k-means | k-평균 앵커 | 2. YOLOv2: anchors by k-means, direct location prediction |
# | direct location prediction | 직접 위치 예측 | 2. YOLOv2: anchors by k-means, direct location prediction |
# | three prediction scales | 세 개의 예측 스케일 | 3. YOLOv3: three scales, a residual backbone, logistic classes |
# | residual blocks | 잔차 블록 | 3. YOLOv3: three scales, a residual backbone, logistic classes |
# | objectness | 객체성 | 3. YOLOv3: three scales, a residual backbone, logistic classes |
# | mosaic | 모자이크 | 4. Later versions: mosaic, CIoU, anchor-free heads and DFL |
# | anchor-free | 앵커 없는 | 4. Later versions: mosaic, CIoU, anchor-free heads and DFL |
# | decoupled head | 분리된 헤드 | 4. Later versions: mosaic, CIoU, anchor-free heads and DFL |
# | DFL | 분포 초점 손실 | 4. Later versions: mosaic, CIoU, anchor-free heads and DFL |
