# %% [markdown]
# # Lesson 01 — Detection basics: IoU, NMS and mAP
#
# Every object detector, from R-CNN to YOLO, is judged and cleaned up by the same three small
# algorithms: **IoU** (how much two boxes overlap), **NMS** (throw away duplicate boxes) and
# **mAP** (one number for "how good is this detector"). In this lesson you write all three
# yourself, check each against the library everybody uses (torchvision, pycocotools), and then
# switch to the tested versions in `dlcv_utils` that the later lessons import.
#
# Everything here runs on a laptop CPU in well under a minute. Three sliders let you play with
# the thresholds, and three exercises (with automatic checks) let you test yourself.

# %%
# %matplotlib inline
import contextlib
import io

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from skimage import data

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.viz.plotting import detector_diagram, draw_boxes, plot_pr_curve, show_image

device, cfg = lesson_setup("01")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(
    f"torch {torch.__version__.split('+')[0]}, torchvision {torchvision.__version__.split('+')[0]}"
)

# %% [markdown]
# ## 1. Four vision tasks
#
# Computer vision asks four questions of increasing detail about an image:
#
# | task | question | output |
# |---|---|---|
# | **classification** (분류) | *what* is in the image? | one label for the whole image |
# | **localization** (위치 추정) | what is it, and *where* is the one main object? | one label and one box |
# | **object detection** (객체 탐지) | where is *every* object, and what is each? | a list of (box, label, score) |
# | **segmentation** (분할) | which *pixels* belong to what? | a label (or instance id) per pixel |
#
# Detection is harder than localization because the number of objects is not known in advance:
# a network has to propose many candidate boxes, score each one, and then decide which
# candidates describe the same object. More precisely, five things make it hard:
#
# * **two tasks in one.** Every box needs a class (a classification loss) *and* four
#   coordinates (a **bounding-box regression** (바운딩 박스 회귀) loss). The two losses have
#   different scales and pull the shared features in different directions, so their weighting
#   has to be tuned, and a detector can be good at one and poor at the other.
# * **background everywhere.** Most of an image is **background** (배경): for every candidate
#   box that covers an object there are hundreds or thousands that cover nothing. Training on
#   such an imbalanced mix needs sampling tricks (lessons 04–05) or a special loss (RetinaNet's
#   focal loss).
# * **scales and shapes.** The same class appears tiny in the distance and huge up close, tall
#   (a standing person) or wide (a bus); one fixed window size cannot fit all of them.
# * **few, expensive labels.** Drawing a tight box around every object costs far more
#   annotation time than typing one label per image, so detection datasets are smaller than
#   classification datasets.
# * **speed.** Objects overlap, images are large, and for video the whole pipeline must keep up
#   with the frame rate.
#
# Below, one photo (the astronaut that ships with scikit-image) and the four kinds of answer.
# The boxes were placed by hand; the "segmentation" mask is a crude colour rule that picks the
# orange suit, just to show what a mask looks like.

# %%
astronaut = data.astronaut()  # 512 x 512 x 3, uint8, RGB
names = ["person", "helmet", "rocket"]
person_box = [20, 25, 370, 512]  # (x1, y1, x2, y2) in pixels
helmet_box = [275, 345, 512, 512]
rocket_box = [355, 0, 455, 290]

red, green, blue = (astronaut[..., c].astype(int) for c in range(3))
suit = (red > 150) & (green < 130) & (blue < 110)  # "orange" pixels
suit[:, 370:] = False  # keep the ones inside the person box

fig, axes = plt.subplots(1, 4, figsize=(15, 4))
show_image(astronaut, ax=axes[0], title="classification:\n'person'")
show_image(
    astronaut,
    boxes=[person_box],
    labels=[0],
    class_names=names,
    ax=axes[1],
    title="localization:\none object, one box",
)
show_image(
    astronaut,
    boxes=[person_box, helmet_box, rocket_box],
    labels=[0, 1, 2],
    class_names=names,
    ax=axes[2],
    title="detection:\nevery object: box + class",
)
show_image(
    astronaut,
    masks=suit[None],
    colors="cyan",
    ax=axes[3],
    title="segmentation:\na class for every pixel",
)
plt.show()

# %% [markdown]
# ## 2. How detectors are built
#
# **Two-stage detectors** (2단계 검출기: R-CNN, Fast/Faster R-CNN, Mask R-CNN) first produce
# *region proposals* (영역 추정): a few hundred to a few thousand boxes that probably contain
# *something*. A second stage then classifies each proposal and refines its box. They are
# accurate but slower.
#
# **One-stage detectors** (1단계 검출기: SSD, YOLO, RetinaNet, EfficientDet) skip the proposal
# step: a single network predicts class scores and box offsets directly at every position of a
# grid of feature maps. They are faster and, since RetinaNet's focal loss, about as accurate.
#
# Either way a modern detector has three parts:
#
# * the **backbone** (백본) is an image classification network (e.g. ResNet) with its
#   classifier removed; it turns the image into feature maps, finer ones early and coarser,
#   more semantic ones later;
# * the **neck** (넥), usually a Feature Pyramid Network (FPN), mixes the coarse and fine
#   maps so that small objects also get strong features;
# * the **head** (헤드) predicts, on every level, class scores (classification) and box
#   offsets (bounding-box regression). NMS (section 4) then cleans up the many overlapping
#   predictions.

# %%
ax = detector_diagram()
plt.show()

# %% [markdown]
# ### A short history (역사)
#
# Deep learning took over detection in two steps. First **AlexNet** (Krizhevsky, Sutskever and
# Hinton, 2012) won the ImageNet classification challenge (ILSVRC 2012) with a top-5 error of
# 15.3 % against 26.2 % for the runner-up, and showed that a large **convolutional neural
# network** (CNN, 합성곱 신경망) trained on GPUs learns far better features than hand-designed
# ones. Then **R-CNN** (Girshick et al., "Rich feature hierarchies for accurate object
# detection and semantic segmentation", CVPR 2014) reused such CNN features for the proposals of
# selective search and reached 53.3 % mAP on PASCAL VOC 2012, which the paper reports as more
# than 30 % (relative) above the previous best result. From then on the field moved fast:
#
# | year | two-stage line | one-stage line |
# |---|---|---|
# | 2014 | R-CNN; SPPNet (one CNN pass per image, spatial pyramid pooling) | |
# | 2015 | Fast R-CNN (RoI pooling, one network trained end to end); Faster R-CNN (proposals from a region proposal network) | |
# | 2016 | | YOLO (one grid, one pass); SSD (boxes from several feature maps) |
# | 2017 | FPN (feature pyramid neck); Mask R-CNN (adds instance masks) | RetinaNet (focal loss against the background imbalance) |
# | 2020 | | EfficientDet (scalable backbone, BiFPN neck); YOLOv4 |
# | later | | YOLOv5, YOLOv8 and newer versions (Ultralytics and others) |
#
# Lessons 03–06 of this course follow the two-stage line from selective search to Faster R-CNN
# with an FPN; the later lessons cover the one-stage detectors.

# %% [markdown]
# ## 3. Boxes and IoU
#
# In this course a **bounding box** (바운딩 박스) is always `(x1, y1, x2, y2)` in pixels:
# top-left and bottom-right corner, so its width is `x2 - x1` and its height `y2 - y1`.
# Datasets store boxes in other formats too (COCO: `(x, y, width, height)`; YOLO: normalised
# centre and size); `dlcv_utils.ops.boxes.box_convert` converts between them.
#
# > **No `+1`.** Some libraries (the PASCAL VOC devkit, Kornia) treat coordinates as *pixel
# > indices* and compute the width as `x2 - x1 + 1`. This course, like torchvision and
# > pycocotools, does not: a box from `x1 = 0` to `x2 = 10` is 10 pixels wide.
#
# **Intersection over Union** (IoU, 교집합 대 합집합 비율) measures how well two boxes agree:
# the area they share divided by the area they cover together,
#
# $$\mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|} = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}.$$
#
# It is 1 for identical boxes and 0 for boxes that do not overlap. The intersection of two
# axis-aligned boxes is again a box: its top-left corner is the larger of the two top-left
# corners, its bottom-right corner the smaller of the two bottom-right corners. If that "box"
# has a negative width or height, the boxes do not overlap, so we clamp at 0.
#
# Written for *all pairs* of two sets of boxes at once, with broadcasting:


# %%
def iou_matrix(boxes1, boxes2):
    """IoU of every box in boxes1 [N, 4] with every box in boxes2 [M, 4] -> [N, M]."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [N]
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # [M]
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # [N, M, 2]
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # [N, M, 2]
    wh = (bottom_right - top_left).clamp(min=0)  # [N, M, 2], 0 where they do not overlap
    inter = wh[..., 0] * wh[..., 1]  # [N, M]
    union = area1[:, None] + area2[None, :] - inter  # [N, M]
    return inter / union


a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 4.0, 2.0], [0.5, 0.5, 1.5, 1.5]])
print(iou_matrix(a, b))
print(f"by hand: {1 / (4 + 4 - 1):.4f} (1 pixel shared), 0 (edges touch), {1 / 4:.4f} (nested)")

# %% [markdown]
# Now compare with `torchvision.ops.box_iou` on many random boxes. `torch.testing.assert_close`
# raises an error if any value differs by more than float32 rounding.

# %%
g = torch.Generator().manual_seed(0)


def random_boxes(n, size=400.0):
    """n random (x1, y1, x2, y2) boxes with positive width and height."""
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 2 + 1
    return torch.cat([xy, xy + wh], dim=1)


boxes_a, boxes_b = random_boxes(50), random_boxes(40)
torch.testing.assert_close(iou_matrix(boxes_a, boxes_b), torchvision.ops.box_iou(boxes_a, boxes_b))
print("iou_matrix == torchvision.ops.box_iou on 50 x 40 random pairs")

# %% [markdown]
# From now on we use **`dlcv_utils.ops.boxes.box_iou`**, which computes the same thing, accepts
# NumPy arrays as well as tensors (and returns the same type), and returns 0 instead of NaN
# when two zero-area boxes meet (0/0):

# %%
from dlcv_utils.ops.boxes import box_iou

torch.testing.assert_close(box_iou(boxes_a, boxes_b), torchvision.ops.box_iou(boxes_a, boxes_b))
dot = torch.tensor([[5.0, 5.0, 5.0, 5.0]])  # a zero-area box
print(
    "torchvision:",
    torchvision.ops.box_iou(dot, dot).item(),
    "  dlcv_utils:",
    box_iou(dot, dot).item(),
)
print("numpy in, numpy out:", box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]])).round(4))

# %% [markdown]
# What do IoU values look like? Three hand-made "predictions" of the astronaut (solid) against
# the true box (dashed). A common rule calls a prediction correct when IoU ≥ 0.5: that is
# already a fairly loose box.

# %%
truth = np.array([person_box], dtype=float)
guesses = np.array([[35, 40, 360, 500], [60, 120, 420, 512], [150, 250, 380, 512]], dtype=float)
ious = box_iou(guesses, truth)[:, 0]

fig, ax = plt.subplots(figsize=(5, 5))
show_image(astronaut, ax=ax)
draw_boxes(ax, truth, color="white", linestyle="--")
draw_boxes(
    ax, guesses, labels=[f"IoU {v:.2f}" for v in ious], color=["tab:green", "tab:orange", "tab:red"]
)
plt.show()
print("IoU of each guess:", np.round(ious, 3).tolist())

# %% [markdown]
# ### Slider: two boxes
#
# Move and resize two boxes on another scikit-image photo and watch the intersection, the
# union and the IoU change. (The sliders need a live kernel; a saved view, e.g. on GitHub, shows
# the picture of the starting boxes.)

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.basics import iou_panel, make_iou_widget

chelsea = data.chelsea()  # 300 x 451 cat
make_iou_widget(image=chelsea, box1=(100, 80, 200, 150), box2=(200, 120, 200, 150))

# %% [markdown]
# The slider calls a plain function, `iou_panel`, so we can also call it directly with the
# starting values: box 1 spans x 100–300, y 80–230; box 2 spans x 200–400, y 120–270.

# %%
out = iou_panel(100, 80, 200, 150, 200, 120, 200, 150)
print(
    f"intersection = {out['intersection']:.0f}, union = {out['union']:.0f}, IoU = {out['iou']:.4f}"
)
assert out["intersection"] == (300 - 200) * (230 - 120)
assert out["union"] == 2 * 200 * 150 - out["intersection"]

# %% [markdown]
# ### Exercise 1 — IoU of COCO boxes
#
# COCO annotation files store a box as `[x, y, width, height]`. Write `my_iou_xywh(box_a, box_b)`
# that returns the IoU (a Python float) of two boxes in that format, in plain Python (no
# torch needed). The check below tries it on disjoint, nested, identical, touching and
# zero-area boxes and on 200 random pairs, and tells you the first case that goes wrong.
#
# Replace the `raise NotImplementedError` line with your code, then run the check cell.
# Stuck? `show_solution("iou_xywh")` prints a model solution.


# %%
def my_iou_xywh(box_a, box_b):
    """IoU of two boxes given as (x, y, width, height)."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_ap, check_iou, check_nms, show_solution

_ = check_iou(my_iou_xywh, fmt="xywh")

# %% [markdown]
# ## 4. Non-maximum suppression (NMS)
#
# A detector does not output one box per object: its head predicts a box at thousands of
# positions, and many neighbouring positions fire on the same object with slightly different
# boxes and **confidence scores** (신뢰도 점수). **Non-maximum suppression** (비최대 억제)
# keeps the best of each group:
#
# 1. **confidence filter:** drop every box whose score is not above a `score_threshold`;
# 2. sort the rest by score, highest first;
# 3. take the highest-scoring box that is left, **keep** it, and remove every remaining box
#    whose IoU with it is above `iou_threshold` (they are taken to be duplicates);
# 4. repeat step 3 until no box is left.
#
# A higher confidence threshold or a *lower* IoU threshold removes more boxes. Here is some
# fake detector output: six noisy boxes around each of the three objects, plus a few stray
# low-confidence boxes.

# %%
rng = np.random.default_rng(0)
raw_boxes, raw_scores = [], []
for box in (person_box, helmet_box, rocket_box):
    box = np.array(box, dtype=float)
    w, h = box[2] - box[0], box[3] - box[1]
    for j in range(6):
        raw_boxes.append(box + rng.normal(0.0, 0.08, 4) * [w, h, w, h])
        raw_scores.append(0.92 - 0.13 * j + rng.uniform(-0.05, 0.05))
for _ in range(4):  # stray boxes in the background
    x, y = rng.uniform(0, 400, 2)
    raw_boxes.append([x, y, x + rng.uniform(30, 100), y + rng.uniform(30, 100)])
    raw_scores.append(rng.uniform(0.05, 0.3))
raw_boxes = torch.tensor(np.clip(raw_boxes, 0, 512), dtype=torch.float32)
raw_scores = torch.tensor(np.clip(raw_scores, 0.01, 0.99), dtype=torch.float32)
print(f"{len(raw_boxes)} raw boxes, scores from {raw_scores.min():.2f} to {raw_scores.max():.2f}")

# %% [markdown]
# NMS written out, following the four steps:


# %%
def my_nms(boxes, scores, iou_threshold, score_threshold):
    """Indices of the boxes that survive NMS, highest score first."""
    candidates = torch.nonzero(scores > score_threshold).flatten()  # 1. confidence filter
    order = candidates[torch.argsort(scores[candidates], descending=True)]  # 2. best first
    ious = iou_matrix(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():  # 3./4. greedy
        if suppressed[i]:
            continue  # a duplicate of a box we already kept
        keep.append(i)
        suppressed |= ious[i] > iou_threshold  # remove everything that overlaps box i too much
    return torch.tensor(keep, dtype=torch.int64)


keep = my_nms(raw_boxes, raw_scores, iou_threshold=0.5, score_threshold=0.3)
print("kept:", keep.tolist())

# %% [markdown]
# `torchvision.ops.nms` does steps 2–4 only (no confidence filter), so we filter first and
# map its indices back to the original boxes. The kept indices must be identical, in the same
# order, for every pair of thresholds we try:

# %%
for score_threshold in (0.0, 0.3, 0.6):
    for iou_threshold in (0.3, 0.5, 0.7):
        candidates = torch.nonzero(raw_scores > score_threshold).flatten()
        ref = candidates[
            torchvision.ops.nms(raw_boxes[candidates], raw_scores[candidates], iou_threshold)
        ]
        mine = my_nms(raw_boxes, raw_scores, iou_threshold, score_threshold)
        assert torch.equal(mine, ref), (score_threshold, iou_threshold)
print("my_nms == torchvision.ops.nms for 9 threshold pairs")

# %% [markdown]
# From now on we use **`dlcv_utils.ops.nms.nms(boxes, scores, iou_threshold, score_threshold=None)`**
# (and `batched_nms` for class-aware NMS). It keeps exactly the indices torchvision keeps,
# including boxes whose IoU equals the threshold (kept) and tied scores (the lower index wins).

# %%
from dlcv_utils.ops.nms import nms

assert torch.equal(nms(raw_boxes, raw_scores, 0.5, score_threshold=0.3), keep)

print("boxes kept for each pair of thresholds:")
print("score thr | IoU 0.3  IoU 0.5  IoU 0.7")
for score_threshold in (0.1, 0.3, 0.5, 0.7):
    counts = [
        len(nms(raw_boxes, raw_scores, t, score_threshold=score_threshold)) for t in (0.3, 0.5, 0.7)
    ]
    print(f"   {score_threshold:.1f}    | " + "  ".join(f"{c:7d}" for c in counts))

# %%
from dlcv_utils.viz.widgets.basics import make_nms_widget, nms_panel

fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
show_image(
    astronaut,
    boxes=raw_boxes,
    scores=raw_scores,
    ax=axes[0],
    colors="tab:red",
    title=f"before NMS: {len(raw_boxes)} boxes",
)
nms_panel(raw_boxes, raw_scores, 0.3, 0.5, image=astronaut, ax=axes[1])
plt.show()

# %% [markdown]
# ### Slider: the two NMS thresholds
#
# Kept boxes are drawn solid with their score; boxes removed by NMS dashed grey; boxes below
# the confidence threshold are not drawn at all. Try a very low IoU threshold: the helmet box
# starts to disappear although it is a different object.

# %%
# NBVAL_IGNORE_OUTPUT
make_nms_widget(astronaut, raw_boxes, raw_scores, score_threshold=0.3, iou_threshold=0.5)

# %%
kept = nms_panel(raw_boxes, raw_scores, score_threshold=0.3, iou_threshold=0.5)
print("nms_panel at confidence 0.3, IoU 0.5 keeps:", kept.tolist())
assert kept.tolist() == keep.tolist()

# %% [markdown]
# ### Exercise 2 — class-aware NMS
#
# Plain NMS ignores classes: a "person" box can suppress a "helmet" box. Real detectors run
# NMS **per class** (torchvision calls it `batched_nms`). Write
# `my_batched_nms(boxes, scores, labels, iou_threshold)` that returns the kept indices of all
# classes together, sorted by decreasing score. You may call `my_nms` (with
# `score_threshold=-1` to skip the filter) or `dlcv_utils.ops.nms.nms`.
# The check compares with `torchvision.ops.batched_nms` on hand-made and 100 random cases.
# Model solution: `show_solution("batched_nms")`.


# %%
def my_batched_nms(boxes, scores, labels, iou_threshold):
    """Class-aware NMS: boxes only suppress boxes of their own class."""
    raise NotImplementedError  # your code here


# %%
_ = check_nms(my_batched_nms, class_aware=True)

# %% [markdown]
# ## 5. Precision, recall and the PR curve
#
# To evaluate a detector we need ground truth and a rule for when a detection is correct. The
# usual rule, per class:
#
# * go through the detections from the highest score down;
# * a detection is a **true positive** (TP, 참 양성) if its IoU with a **ground-truth** (실측값)
#   box of its class is at least the threshold (0.5 here) and that ground-truth box has not been
#   claimed yet;
# * otherwise it is a **false positive** (FP, 거짓 양성): a bad box, or a *second* box on an
#   object that is already found;
# * ground-truth boxes that no detection claims are **false negatives** (FN, 거짓 음성: missed
#   objects).
#
# In the language of statistics a false positive is a **Type I error** (제1종 오류: raising an
# alarm where there is nothing) and a false negative a **Type II error** (제2종 오류: missing
# something that is there). Which one hurts more depends on the use: a spam filter must avoid
# Type I errors, a pedestrian detector in a car must avoid Type II errors.
#
# A **confusion matrix** (혼동 행렬) for detection has one row per true class and one column per
# predicted class, *plus a "background" row and column*. A detection that matches an object of
# another class is an off-diagonal entry (right place, wrong class); a detection that matches no
# object lands in the background row (an FP); an object that no detection found lands in the
# background column (an FN). The background/background cell stays empty: the "true negatives"
# would be every box that was *not* predicted on empty background, an uncountable number. That
# is why detection is measured with precision and recall, which need no true negatives, and
# not with accuracy.
#
# Then **precision** (정밀도) = TP / (TP + FP), the fraction of detections that are right, and
# **recall** (재현율) = TP / (number of ground-truth boxes), the fraction of objects found.
# Lowering the confidence threshold adds detections: recall can only grow, precision usually
# drops. The **precision-recall curve** (정밀도-재현율 곡선) shows this trade-off for every threshold at once.
#
# Our small evaluation set: three photos, six classes, 16 hand-placed ground-truth boxes, and
# fake detections with made-up scores, some good, some sloppy, some plainly wrong.

# %%
CLASSES = ["person", "rocket", "tower", "lamp", "cup", "spoon"]
photos = {"astronaut": astronaut, "coffee": data.coffee(), "rocket": data.rocket()}


def lamp(cx, cy, r=10):
    """A small square box around a light on the launch pad."""
    return [cx - r, cy - r, cx + r, min(cy + r, 427)]


ground_truth = {  # image -> [(class, box)]
    "astronaut": [("person", [20, 25, 370, 512]), ("rocket", [355, 0, 455, 290])],
    "coffee": [("cup", [175, 18, 412, 305]), ("spoon", [325, 65, 425, 330])],
    "rocket": [
        ("rocket", [300, 128, 340, 395]),
        ("tower", [0, 0, 90, 425]),
        ("tower", [175, 120, 210, 425]),
        ("tower", [438, 120, 478, 425]),
        ("tower", [560, 0, 640, 425]),
        ("lamp", lamp(83, 349)),
        ("lamp", lamp(150, 377)),
        ("lamp", lamp(193, 395)),
        ("lamp", lamp(110, 418)),
        ("lamp", lamp(365, 395)),
        ("lamp", lamp(433, 394)),
        ("lamp", lamp(450, 418)),
    ],
}
detections = {  # image -> [(class, score, box)]
    "astronaut": [
        ("person", 0.95, [28, 30, 365, 505]),
        ("person", 0.40, [150, 200, 370, 512]),
        ("rocket", 0.88, [360, 10, 450, 300]),
        ("rocket", 0.30, [0, 0, 95, 440]),
    ],
    "coffee": [
        ("cup", 0.92, [180, 25, 405, 260]),
        ("cup", 0.35, [80, 110, 480, 395]),
        ("spoon", 0.70, [330, 150, 420, 330]),
        ("spoon", 0.20, [340, 230, 410, 320]),
    ],
    "rocket": [
        ("rocket", 0.85, [298, 135, 342, 390]),
        ("tower", 0.90, [0, 0, 85, 420]),
        ("tower", 0.75, [170, 125, 212, 420]),
        ("tower", 0.65, [445, 110, 480, 425]),
        ("tower", 0.55, [285, 110, 360, 400]),
        ("tower", 0.45, [570, 20, 640, 425]),
        ("lamp", 0.91, [74, 340, 94, 360]),
        ("lamp", 0.86, [142, 368, 160, 386]),
        ("lamp", 0.81, [186, 388, 206, 408]),
        ("lamp", 0.78, [356, 386, 376, 406]),
        ("lamp", 0.62, [250, 250, 270, 270]),
        ("lamp", 0.58, [426, 386, 444, 404]),
        ("lamp", 0.50, [102, 406, 122, 426]),
        ("lamp", 0.42, [440, 405, 462, 427]),
        ("lamp", 0.38, [88, 355, 110, 375]),
    ],
}
n_gt = sum(len(v) for v in ground_truth.values())
n_det = sum(len(v) for v in detections.values())
print(
    f"{len(photos)} images, {len(CLASSES)} classes, {n_gt} ground-truth boxes, {n_det} detections"
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
for ax, (name, image) in zip(axes, photos.items()):
    gt_b = [b for _, b in ground_truth[name]]
    show_image(image, boxes=gt_b, ax=ax, colors="white", linestyle="--", title=name)
    draw_boxes(
        ax,
        [b for _, _, b in detections[name]],
        labels=[CLASSES.index(c) for c, _, _ in detections[name]],
        scores=[s for _, s, _ in detections[name]],
        class_names=CLASSES,
        fontsize=6,
    )
plt.show()

# %% [markdown]
# Matching for one class in one image, written out (this is the PASCAL VOC rule):


# %%
def match(det_boxes, det_scores, gt_boxes, iou_threshold):
    """True-positive flag of each detection (one class, one image), VOC rule."""
    tp = np.zeros(len(det_boxes), dtype=bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    ious = box_iou(np.asarray(det_boxes, float), np.asarray(gt_boxes, float))  # [D, G]
    claimed = np.zeros(len(gt_boxes), dtype=bool)
    for d in np.argsort(-np.asarray(det_scores), kind="stable"):  # best detection first
        g = ious[d].argmax()  # the ground truth this detection overlaps most
        if ious[d, g] >= iou_threshold and not claimed[g]:
            tp[d] = claimed[g] = True
    return tp


def class_detections(cls, iou_threshold):
    """Scores and TP flags of all detections of one class, and its number of ground truths."""
    scores, flags, total = [], [], 0
    for name in photos:
        gts = [b for c, b in ground_truth[name] if c == cls]
        dets = [(s, b) for c, s, b in detections[name] if c == cls]
        flags.append(match([b for _, b in dets], [s for s, _ in dets], gts, iou_threshold))
        scores.append(np.array([s for s, _ in dets], dtype=float))
        total += len(gts)
    return np.concatenate(scores), np.concatenate(flags), total


# %% [markdown]
# `dlcv_utils.metrics.match_detections` implements the same rule (plus VOC's "difficult"
# boxes); both agree on every image and class at two thresholds:

# %%
from dlcv_utils.metrics import match_detections

for t in (0.5, 0.75):
    for name in photos:
        for cls in CLASSES:
            gts = [b for c, b in ground_truth[name] if c == cls]
            dets = [(s, b) for c, s, b in detections[name] if c == cls]
            boxes_d = np.array([b for _, b in dets], float).reshape(-1, 4)
            scores_d = np.array([s for s, _ in dets], float)
            ref_tp, _ = match_detections(
                boxes_d, scores_d, np.array(gts, float).reshape(-1, 4), iou_threshold=t
            )
            assert np.array_equal(match(boxes_d, scores_d, gts, t), ref_tp), (t, name, cls)
print("match == dlcv_utils.metrics.match_detections")

# %% [markdown]
# The precision-recall curve of the class **lamp** (seven small lights on the launch pad, nine
# detections). Sort by score, then count TPs and FPs cumulatively:

# %%
scores, is_tp, lamps = class_detections("lamp", 0.5)
order = np.argsort(-scores, kind="stable")
tp_cum = np.cumsum(is_tp[order])
fp_cum = np.cumsum(~is_tp[order])
precision = tp_cum / (tp_cum + fp_cum)
recall = tp_cum / lamps

print("rank  score  TP?  precision  recall")
for k, i in enumerate(order):
    print(
        f"{k + 1:4d}  {scores[i]:.2f}  {'yes' if is_tp[i] else ' no'}  {precision[k]:9.3f}  {recall[k]:6.3f}"
    )

# %%
ax = plot_pr_curve(
    recall, precision, marker="o", label="lamp, IoU 0.5", title="precision-recall curve"
)
plt.show()

# %% [markdown]
# ## 6. Average precision: three ways to measure the area under the curve
#
# **Average precision** (AP, 평균 정밀도) summarises the curve in one number, roughly the area under it.
# First the wiggles are removed: the **interpolated precision** at recall `r` is the best
# precision reached at *any* recall ≥ `r` (the curve's upper "envelope"; a detector could always
# lower its threshold to get there). Then three conventions differ in where they sample it:
#
# * **VOC2007, 11 points:** the mean of the envelope at recall 0, 0.1, ..., 1.0;
# * **VOC2010+, all points:** the exact area under the envelope (a sum of rectangles, one per
#   step in recall);
# * **COCO, 101 points:** the mean at recall 0, 0.01, ..., 1.0 (pycocotools looks the envelope up
#   at the first detection whose recall reaches each level).


# %%
def envelope(precision):
    """Interpolated precision: the best precision at this recall or any higher one."""
    return np.maximum.accumulate(precision[::-1])[::-1]


def ap_voc07(recall, precision):
    levels = np.arange(11) / 10  # 0, 0.1, ..., 1.0
    return float(
        np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in levels])
    )


def ap_voc(recall, precision):
    steps = np.diff(np.concatenate([[0.0], recall]))  # recall gained by each detection
    return float(np.sum(steps * envelope(precision)))


def ap_coco(recall, precision):
    levels = np.linspace(0, 1, 101)  # 0, 0.01, ..., 1.0
    first = np.searchsorted(recall, levels, side="left")  # first detection reaching each level
    env = envelope(precision)
    return float(np.mean([env[i] if i < len(env) else 0.0 for i in first]))


print("                 VOC07 11-pt   VOC all-point   COCO 101-pt")
for t in (0.5, 0.75):
    s, f, n = class_detections("lamp", t)
    o = np.argsort(-s, kind="stable")
    tpc, fpc = np.cumsum(f[o]), np.cumsum(~f[o])
    p, r = tpc / (tpc + fpc), tpc / n
    print(
        f"lamp @ IoU {t:.2f}   {ap_voc07(r, p):10.4f}   {ap_voc(r, p):13.4f}   {ap_coco(r, p):11.4f}"
    )

# %% [markdown]
# The three conventions give slightly different numbers for the same detections (here the
# 11-point value at IoU 0.75 is about 0.01 below the other two): when you compare APs from
# papers, check which convention they used. `dlcv_utils.metrics.average_precision(recall, precision, method=...)`
# implements all three (with `method="voc07"`, `"voc"` or `"coco"`); it agrees with ours:

# %%
from dlcv_utils.metrics import average_precision

for method, ours in (("voc07", ap_voc07), ("voc", ap_voc), ("coco", ap_coco)):
    assert (
        abs(ours(recall, precision) - average_precision(recall, precision, method=method)) < 1e-12
    )
print("ap_voc07 / ap_voc / ap_coco == dlcv_utils.metrics.average_precision")

fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
env = envelope(precision)
for ax, (title, levels) in zip(
    axes,
    [
        ("VOC07: 11 points", np.arange(11) / 10),
        ("VOC: all points", None),
        ("COCO: 101 points", np.linspace(0, 1, 101)),
    ],
):
    plot_pr_curve(recall, precision, ax=ax, marker="o", color="0.6", label="raw")
    if levels is None:
        plot_pr_curve(
            np.concatenate([[0.0], recall]),
            np.concatenate([[env[0]], env]),
            ax=ax,
            step=True,
            color="tab:red",
            label="envelope (area = AP)",
        )
    else:
        first = np.searchsorted(recall, levels, side="left")
        sampled = np.array([env[i] if i < len(env) else 0.0 for i in first])
        ax.plot(levels, sampled, "s", ms=3, color="tab:red", label="sampled envelope")
        ax.legend(loc="lower left")
    ax.set_title(title)
plt.show()

# %% [markdown]
# ### Slider: the IoU threshold of a true positive
#
# A stricter matching threshold turns sloppy boxes into false positives, and the curve (and
# AP) drops. Small objects suffer most: a few pixels of error is a big IoU loss on a 20-pixel
# lamp.

# %%
lamp_gt = [[b for c, b in ground_truth[n] if c == "lamp"] for n in photos]
lamp_boxes = [[b for c, _, b in detections[n] if c == "lamp"] for n in photos]
lamp_scores = [[s for c, s, _ in detections[n] if c == "lamp"] for n in photos]

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.basics import make_pr_widget, pr_panel

make_pr_widget(lamp_gt, lamp_boxes, lamp_scores, iou_threshold=0.5, method="voc")

# %%
for t in (0.5, 0.75):
    res = pr_panel(lamp_gt, lamp_boxes, lamp_scores, t, method="voc")
    print(
        f"lamp, TP at IoU >= {t:.2f}: TP/FP by rank {''.join('T' if x else 'F' for x in res['tp'])}, AP = {res['ap']:.4f}"
    )
    s, f, n = class_detections("lamp", t)
    o = np.argsort(-s, kind="stable")
    assert (
        abs(res["ap"] - ap_voc(np.cumsum(f[o]) / n, np.cumsum(f[o]) / np.arange(1, len(o) + 1)))
        < 1e-12
    )

# %% [markdown]
# ### Exercise 3 — AP from scores and TP flags
#
# Write `my_ap(scores, is_tp, num_gt)`: given the scores and TP flags of all detections of one
# class (in any order) and the number of ground-truth boxes, return the all-point (VOC2010+)
# AP. Return 0.0 when there are no detections or no ground truth. Model solution:
# `show_solution("ap")`.


# %%
def my_ap(scores, is_tp, num_gt):
    """All-point average precision of one class."""
    raise NotImplementedError  # your code here


# %%
_ = check_ap(my_ap)

# %% [markdown]
# ## 7. mAP: VOC mAP@0.5 and COCO mAP@[.5:.95]
#
# **mAP** (mean average precision, 평균 정밀도의 평균) is the mean of the per-class APs. The two benchmarks you will
# meet everywhere define it differently:
#
# * **PASCAL VOC mAP@0.5:** a detection counts at IoU ≥ 0.5; all-point AP (11-point before
#   2010); mean over classes.
# * **COCO mAP@[.5:.95]** (just "AP" in COCO papers): 101-point AP computed at ten IoU
#   thresholds 0.50, 0.55, ..., 0.95 and averaged over thresholds *and* classes. It rewards
#   precise boxes. COCO also reports AP50 (≈ VOC's number), AP75, AP for small / medium / large
#   objects (area below 32², between 32² and 96², above 96² pixels) and average recall. It keeps
#   at most 100 detections per image, and when a detection could match several ground truths
#   it takes the *best still-unclaimed* one (VOC takes the best one, claimed or not).
#
# First VOC mAP@0.5 from our pieces:

# %%
voc_ap = {}
for cls in CLASSES:
    s, f, n = class_detections(cls, 0.5)
    o = np.argsort(-s, kind="stable")
    tpc, fpc = np.cumsum(f[o]), np.cumsum(~f[o])
    voc_ap[cls] = ap_voc(tpc / n, tpc / (tpc + fpc))
for cls, v in voc_ap.items():
    print(f"{cls:>7}: AP@0.5 = {v:.4f}")
voc_map = float(np.mean(list(voc_ap.values())))
print(f"VOC mAP@0.5 = {voc_map:.4f}")

# %% [markdown]
# The package's VOC evaluator, `dlcv_utils.metrics.evaluate_voc`, takes the annotation records
# every dataset reader of lesson 02 returns (`ImageAnn` / `ObjectAnn`) and one dict of boxes,
# scores and labels per image. It gives the same mAP:

# %%
from dlcv_utils.datasets.records import ImageAnn, ObjectAnn
from dlcv_utils.metrics import evaluate_voc

gt_records = [
    ImageAnn(
        f"{n}.png", im.shape[1], im.shape[0], [ObjectAnn(c, tuple(b)) for c, b in ground_truth[n]]
    )
    for n, im in photos.items()
]
det_records = [
    {
        "boxes": [b for _, _, b in detections[n]],
        "scores": [s for _, s, _ in detections[n]],
        "labels": [c for c, _, _ in detections[n]],
    }
    for n in photos
]
voc = evaluate_voc(gt_records, det_records, iou_threshold=0.5, class_names=CLASSES)
print(f"evaluate_voc: mAP@0.5 = {voc['mAP']:.4f}")
assert abs(voc["mAP"] - voc_map) < 1e-12
assert all(abs(voc["AP"][c] - voc_ap[c]) < 1e-12 for c in CLASSES)

# %% [markdown]
# Now COCO's mAP@[.5:.95], from scratch: COCO's matching rule (best *unclaimed* ground truth),
# the 101-point AP, ten thresholds, mean over classes.


# %%
def match_coco(det_boxes, det_scores, gt_boxes, iou_threshold):
    """TP flags with COCO's rule: each detection takes the best still-unclaimed ground truth."""
    tp = np.zeros(len(det_boxes), dtype=bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    ious = box_iou(np.asarray(det_boxes, float), np.asarray(gt_boxes, float))
    claimed = np.zeros(len(gt_boxes), dtype=bool)
    for d in np.argsort(-np.asarray(det_scores), kind="stable"):
        candidates = np.where(claimed, -1.0, ious[d])  # claimed ones are out of the race
        g = candidates.argmax()
        if candidates[g] >= iou_threshold:
            tp[d] = claimed[g] = True
    return tp


def coco_map():
    iou_thresholds = np.linspace(0.5, 0.95, 10)  # 0.50, 0.55, ..., 0.95
    aps = np.zeros((len(iou_thresholds), len(CLASSES)))
    for i, t in enumerate(iou_thresholds):
        for k, cls in enumerate(CLASSES):
            scores, flags, total = [], [], 0
            for name in photos:
                gts = [b for c, b in ground_truth[name] if c == cls]
                dets = [(s, b) for c, s, b in detections[name] if c == cls]
                flags.append(match_coco([b for _, b in dets], [s for s, _ in dets], gts, t))
                scores.append([s for s, _ in dets])
                total += len(gts)
            s, f = np.concatenate(scores), np.concatenate(flags)
            o = np.argsort(-s, kind="stable")
            tpc, fpc = np.cumsum(f[o]), np.cumsum(~f[o])
            aps[i, k] = ap_coco(tpc / total, tpc / (tpc + fpc))
    return aps


aps = coco_map()
print(f"COCO mAP@[.5:.95] (from scratch) = {aps.mean():.4f}")
print(f"             AP50 (from scratch) = {aps[0].mean():.4f}   AP75 = {aps[5].mean():.4f}")

# %% [markdown]
# Now the reference: pycocotools' `COCOeval`, the official COCO evaluation code. It wants the
# data in COCO's JSON layout: boxes as `[x, y, width, height]`, ids for images and categories,
# detections as a list of result dicts.

# %%
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dlcv_utils.ops.boxes import box_convert

image_ids = {name: i + 1 for i, name in enumerate(photos)}
coco_gt_dict = {
    "images": [
        {"id": image_ids[n], "file_name": f"{n}.png", "height": im.shape[0], "width": im.shape[1]}
        for n, im in photos.items()
    ],
    "categories": [{"id": k + 1, "name": c} for k, c in enumerate(CLASSES)],
    "annotations": [],
}
coco_dets = []
for name in photos:
    for cls, box in ground_truth[name]:
        x, y, w, h = box_convert(np.array([box], float), "xyxy", "xywh")[0].tolist()
        coco_gt_dict["annotations"].append(
            {
                "id": len(coco_gt_dict["annotations"]) + 1,
                "image_id": image_ids[name],
                "category_id": CLASSES.index(cls) + 1,
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
            }
        )
    for cls, score, box in detections[name]:
        xywh = box_convert(np.array([box], float), "xyxy", "xywh")[0].tolist()
        coco_dets.append(
            {
                "image_id": image_ids[name],
                "category_id": CLASSES.index(cls) + 1,
                "bbox": xywh,
                "score": score,
            }
        )

with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and timings
    coco_gt = COCO()
    coco_gt.dataset = coco_gt_dict
    coco_gt.createIndex()
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(coco_dets), iouType="bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
reference = evaluator.stats  # the 12 numbers of the COCO summary

print(f"pycocotools AP = {reference[0]:.4f}, AP50 = {reference[1]:.4f}, AP75 = {reference[2]:.4f}")
assert abs(aps.mean() - reference[0]) < 1e-9
assert abs(aps[0].mean() - reference[1]) < 1e-9 and abs(aps[5].mean() - reference[2]) < 1e-9
print("from-scratch COCO mAP == pycocotools")

# %% [markdown]
# `dlcv_utils.metrics.coco_evaluate(coco_gt, detections)` gives the same 12 numbers (much
# faster on big datasets, and without crashing on an empty result list). APm is -1: our set has
# no medium-sized object. The small lamps pull APs far below APl.

# %%
from dlcv_utils.course.report import key_figure
from dlcv_utils.metrics import coco_evaluate

ours = coco_evaluate(coco_gt_dict, coco_dets)
keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
print("metric   dlcv_utils   pycocotools")
for key, ref in zip(keys, reference):
    print(f"{key:>6}   {ours[key]:10.4f}   {ref:11.4f}")
    assert abs(ours[key] - ref) < 1e-9, key
print(f"\nVOC mAP@0.5 = {voc_map:.4f}   vs   COCO mAP@[.5:.95] = {ours['AP']:.4f}")
_ = key_figure("COCO mAP@[.5:.95], hand-made set", ours["AP"])

# %% [markdown]
# ## Summary
#
# * A detection is a box `(x1, y1, x2, y2)` (no `+1`), a class and a score. Detectors are built
#   from backbone, neck and head, with one or two stages.
# * **IoU** = intersection / union; `dlcv_utils.ops.boxes.box_iou` (checked against torchvision).
# * **NMS**: confidence filter, then keep the best box and drop its overlaps, repeatedly;
#   `dlcv_utils.ops.nms.nms` / `batched_nms` (identical to torchvision).
# * **AP** is the area under the interpolated PR curve, in three conventions (VOC07 11-point,
#   VOC all-point, COCO 101-point); **mAP** averages it over classes, and COCO also over ten IoU
#   thresholds; `dlcv_utils.metrics.average_precision` and `coco_evaluate` (identical to
#   pycocotools).
#
# Next lesson: datasets and annotation formats (VOC XML, COCO JSON, YOLO text) and OpenCV.

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | classification | 분류 | 1. Four vision tasks |
# | localization | 위치 추정 | 1. Four vision tasks |
# | object detection | 객체 탐지 | 1. Four vision tasks |
# | segmentation | 분할 | 1. Four vision tasks |
# | bounding-box regression | 바운딩 박스 회귀 | 1. Four vision tasks |
# | background | 배경 | 1. Four vision tasks |
# | two-stage detector | 2단계 검출기 | 2. How detectors are built |
# | region proposal | 영역 추정 | 2. How detectors are built |
# | one-stage detector | 1단계 검출기 | 2. How detectors are built |
# | backbone | 백본 | 2. How detectors are built |
# | neck | 넥 | 2. How detectors are built |
# | head | 헤드 | 2. How detectors are built |
# | history | 역사 | A short history |
# | convolutional neural network (CNN) | 합성곱 신경망 | A short history |
# | bounding box | 바운딩 박스 | 3. Boxes and IoU |
# | intersection over union (IoU) | 교집합 대 합집합 비율 | 3. Boxes and IoU |
# | confidence score | 신뢰도 점수 | 4. Non-maximum suppression (NMS) |
# | non-maximum suppression (NMS) | 비최대 억제 | 4. Non-maximum suppression (NMS) |
# | true positive (TP) | 참 양성 | 5. Precision, recall and the PR curve |
# | ground truth | 실측값 | 5. Precision, recall and the PR curve |
# | false positive (FP) | 거짓 양성 | 5. Precision, recall and the PR curve |
# | false negative (FN) | 거짓 음성 | 5. Precision, recall and the PR curve |
# | Type I error | 제1종 오류 | 5. Precision, recall and the PR curve |
# | Type II error | 제2종 오류 | 5. Precision, recall and the PR curve |
# | confusion matrix | 혼동 행렬 | 5. Precision, recall and the PR curve |
# | precision | 정밀도 | 5. Precision, recall and the PR curve |
# | recall | 재현율 | 5. Precision, recall and the PR curve |
# | precision-recall curve | 정밀도-재현율 곡선 | 5. Precision, recall and the PR curve |
# | average precision (AP) | 평균 정밀도 | 6. Average precision |
# | mean average precision (mAP) | 평균 정밀도의 평균 | 7. mAP |
