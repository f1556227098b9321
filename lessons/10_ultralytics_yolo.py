# %% [markdown]
# # Lesson 10 — Ultralytics YOLO: train, validate, predict, export
#
# Lessons 04–08 built detectors from parts. In practice most people train a **one-stage
# detector** (1단계 검출기) from a library, and the most used one is **Ultralytics YOLO**
# (YOLOv8, YOLO11). In this lesson you
#
# 1. write the shapes data in the **YOLO format** (YOLO 형식): one `class cx cy w h` text line
#    per object and a `data.yaml`;
# 2. build `YOLOv8n` from its model yaml and **train from scratch** (처음부터 학습) on a CPU;
# 3. compare Ultralytics' **mAP** with the COCO evaluation of lesson 01 on the *same*
#    predictions, and see exactly why the two numbers differ;
# 4. read Ultralytics' results tensor, redo its post-processing (confidence + NMS) by hand;
# 5. **export** (내보내기) the model to ONNX and run it with OpenCV DNN (lesson 07).
#
# **Licence.** Ultralytics is AGPL-3.0 licensed: code that uses it, *and is distributed or
# offered as a service*, must be released under the AGPL too (or under Ultralytics' commercial
# licence). This course imports it and ships none of its code; the course itself is MIT.
#
# Everything runs offline: Ultralytics' settings, runs and weights go to a temporary folder
# (never your home folder or this repository), its online checks, analytics and
# auto-installs are off, and the one font its dataset check wants is placed there beforehand
# (`dlcv_utils.models.ultralytics_yolo.offline_ultralytics`).

# %%
# %matplotlib inline
import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.models.ultralytics_yolo import offline_ultralytics

device, cfg = lesson_setup("10")  # seed, device, CPU threads: see dlcv_utils.course.settings
IN_COLAB = "google.colab" in sys.modules
WORK = Path(tempfile.mkdtemp(prefix="dlcv-lesson10-"))  # everything Ultralytics writes
# before the first `import ultralytics`: settings folder, offline mode, no auto-install
offline_ultralytics(WORK / "ultralytics", offline=not IN_COLAB)
import ultralytics
from ultralytics import YOLO

print(f"device: {device.type}; {cfg.model}, {cfg.data.n_train} training images")
print(f"Ultralytics {ultralytics.__version__.split('.')[0]}.x, AGPL-3.0")

# %% [markdown]
# ## 1. The YOLO format
#
# A YOLO dataset is a folder of images and, beside it, a folder of
# **label files** (라벨 파일): for `images/train/x.png` the labels are in `labels/train/x.txt`, one line per object,
#
# `class cx cy w h`
#
# with the class index counted from 0 and the box centre, width and height **normalised**
# (정규화) by the image width and height, so they lie in `[0, 1]`. A `data.yaml` names the
# classes and the image folders. `write_shapes_yolo` writes the shapes dataset of lesson 02
# that way (through `dlcv_utils.datasets.write_dataset`), and makes the yaml's `path`
# absolute: Ultralytics resolves a relative `path` against its own datasets folder, not
# against the yaml file.

# %%
from dlcv_utils.models.ultralytics_yolo import write_shapes_yolo

data_yaml = write_shapes_yolo(
    WORK / "shapes",
    n_train=cfg.data.n_train,
    n_val=cfg.data.n_val,
    image_size=cfg.data.image_size,
    seed=cfg.seed,
)
print(data_yaml.read_text().replace(str(WORK), "<tmp>"))
root = data_yaml.parent / "yolo"
first_label = sorted((root / "labels" / "val").glob("*.txt"))[0]
print(first_label.name, "->")
print(first_label.read_text())

# %% [markdown]
# From a label line back to a pixel box `(x1, y1, x2, y2)`: multiply by the image size, then
# go from centre and size to corners. The same boxes as the shapes dataset's own (up to the
# 6 decimals the text keeps)?

# %%
from dlcv_utils.datasets.shapes import ShapesDetection

size = cfg.data.image_size
lines = np.loadtxt(first_label, ndmin=2)
cls, cx, cy, w, h = lines.T
boxes = np.stack(
    [(cx - w / 2) * size, (cy - h / 2) * size, (cx + w / 2) * size, (cy + h / 2) * size], 1
)
val_set = ShapesDetection("val", n=cfg.data.n_val, image_size=size, seed=cfg.seed)
_, target = val_set[0]
np.testing.assert_allclose(boxes, target["boxes"].numpy(), atol=1e-3)
assert (cls + 1 == target["labels"].numpy()).all()  # YOLO counts from 0, the course from 1
print(f"{len(boxes)} objects: label lines == dataset boxes (within 1e-3 px)")

# %% [markdown]
# ## 2. A YOLOv8n from its yaml
#
# `YOLO("yolov8n.yaml")` builds the network described by the yaml bundled with Ultralytics,
# with random weights; `YOLO("yolov8n.pt")` would load a COCO-trained checkpoint instead
# (section 7). YOLOv8 is **anchor-free** (앵커 없는): at every cell of three feature maps
# (strides 8, 16, 32) it predicts class probabilities and the distances from the cell centre
# to the four box sides, each as a small distribution (DFL). Training assigns targets with
# the *task-aligned assigner*, which ranks cells by a mix of class score and IoU.

# %%
model = YOLO(cfg.model)
n_params = sum(p.numel() for p in model.model.parameters())
print(
    f"{cfg.model}: {n_params / 1e6:.1f} M parameters, strides {model.model.stride.int().tolist()}"
)

# %% [markdown]
# ## 3. Training from scratch, offline
#
# `train_yolo` calls `model.train(...)` with the arguments that keep it offline and quiet:
# `plots=False` (no figures, no font lookups), `amp=False` (on a GPU the AMP check would
# download `yolo11n.pt`), `workers=0`, `verbose=False`, and `project=` inside the temporary
# folder. The lesson's settings become Ultralytics' arguments through
# `recipes.yolo_train_args`; mosaic augmentation is off because our objects are already
# small. `recipes.yolo_budget_callback` stops a run that is far slower than planned (a busy
# machine) at the end of an epoch. Ultralytics scales the class loss by the number of classes
# it finds in `data.yaml` (5 here) and replaces the 80-class COCO head accordingly.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.recipes import yolo_budget_callback, yolo_train_args
from dlcv_utils.models.ultralytics_yolo import train_yolo

train_args = yolo_train_args(cfg)
print(train_args)
model.add_callback("on_train_epoch_end", yolo_budget_callback(cfg.train.max_train_seconds))
cpu0 = time.process_time()
train_metrics, train_s = train_yolo(model, data_yaml, project=WORK / "runs", **train_args)
print(
    f"trained in {train_s:.0f} s ({torch.get_num_threads()} thread(s), "
    f"{time.process_time() - cpu0:.0f} s CPU; load average {os.getloadavg()[0]:.1f})"
)
assert train_s <= cfg.train.max_train_seconds + 90

# %% [markdown]
# ## 4. Ultralytics' mAP and COCO's mAP on the same predictions
#
# `model.val()` predicts every validation image at confidence ≥ 0.001 (nearly everything the
# model proposes, so the PR curve reaches as far as it can), keeps at most 300 boxes per image
# after class-wise NMS at IoU 0.7, and reports mAP@0.5 and mAP@[.5:.95]. With
# `save_json=True` (`val_yolo`) it also writes those predictions as **COCO results**, so we
# can score the very same boxes with `coco_evaluate` (pycocotools' algorithm, lesson 01).

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.metrics import coco_evaluate
from dlcv_utils.models.ultralytics_yolo import (
    coco_gt_from_yolo,
    renumber_results,
    ultralytics_map,
    val_yolo,
)

metrics, predictions = val_yolo(model, data_yaml, project=WORK / "runs", imgsz=size, batch=16)
coco_gt, stem_to_id = coco_gt_from_yolo(data_yaml)  # the same label files Ultralytics read
results = renumber_results(predictions, stem_to_id)
coco = coco_evaluate(coco_gt, results)
ours = ultralytics_map(coco_gt, results)  # Ultralytics' matching + ap_per_class on the JSON
print(f"{len(results)} predictions on {len(coco_gt['images'])} images")
print("                       mAP@0.5   mAP@[.5:.95]")
print(f"Ultralytics val        {metrics.box.map50:.4f}    {metrics.box.map:.4f}")
print(f"Ultralytics, from JSON {ours['map50']:.4f}    {ours['map']:.4f}")
print(f"coco_evaluate          {coco['AP50']:.4f}    {coco['AP']:.4f}")
# the same up to the JSON's rounding (boxes to 3 decimals, scores to 5)
assert abs(ours["map50"] - metrics.box.map50) < 5e-3 and abs(ours["map"] - metrics.box.map) < 5e-3
d50, d = metrics.box.map50 - coco["AP50"], metrics.box.map - coco["AP"]
print(f"difference (Ultralytics - COCO): {d50:+.4f} / {d:+.4f}, tolerance ±{cfg.map_tolerance}")
assert abs(d50) <= cfg.map_tolerance and abs(d) <= cfg.map_tolerance
assert coco["AP50"] >= cfg.train.map50_floor, (
    f"mAP@0.5 {coco['AP50']:.3f} < {cfg.train.map50_floor}"
)

# %% [markdown]
# ### Where the two differ
#
# The matching is the same idea in both (by decreasing confidence, each prediction takes the
# best still-free ground truth of its class at IoU ≥ t), so both build the same
# **precision–recall curve** (정밀도-재현율 곡선) per class. What differs is how the area under
# it is taken, and a few rules:
#
# | | COCO (`coco_evaluate`, pycocotools) | Ultralytics (`compute_ap`) |
# |---|---|---|
# | envelope | running max of precision from the right | the same |
# | sample points | recall 0, 0.01, …, 1 (101) | the same 101 |
# | value at a point | precision of the first PR point with recall ≥ r (a step) | linear interpolation between PR points |
# | at recall 0 | whatever the curve gives | always 1 (a sentinel point (0, 1)) |
# | beyond the last recall | 0 | 0 (sentinels (r_last, 0), (1, 0)) |
# | area | mean of the 101 values | trapezoid rule (end points weigh 0.005) |
# | detections kept | ≤ 100 per image **and class** | ≤ `max_det` = 300 per image |
# | crowd / area ranges | yes | no (crowd boxes dropped) |
# | JSON | — | boxes rounded to 3 decimals, scores to 5 |
#
# A perfect detector scores 1.0 with COCO and 0.995 with Ultralytics (the trapezoid weighs
# the last point by half); between PR points Ultralytics' linear interpolation lies above
# COCO's step. On a curve with a handful of steps the two differ by a few thousandths;
# the course accepts ±0.02 (`cfg.map_tolerance`, `MAP_TOLERANCE` in the package, tested in
# `tests/test_ultralytics_yolo.py`). Written out, on one class's PR curve:


# %%
def coco_ap(recall, precision):
    """COCO: envelope, then a step lookup at 101 recalls, then the mean."""
    env = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    return np.where(idx < len(recall), env[np.minimum(idx, len(env) - 1)], 0.0).mean()


def yolo_ap(recall, precision):
    """Ultralytics: sentinels, envelope, linear interpolation at 101 recalls, trapezoid."""
    mrec = np.concatenate(([0.0], recall, [recall[-1]], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    x = np.linspace(0, 1, 101)
    return np.trapezoid(np.interp(x, mrec, mpre), x)


from ultralytics.utils.metrics import compute_ap

hits = np.array([1, 1, 0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)  # 10 detections, 8 objects
recall = np.cumsum(hits) / 8
precision = np.cumsum(hits) / np.arange(1, 11)
assert np.isclose(yolo_ap(recall, precision), compute_ap(recall, precision)[0])
one = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "x"}], "annotations": []}
for k in range(8):
    box = [20.0 * k, 0.0, 10.0, 10.0]
    one["annotations"].append(
        {"id": k + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": 100.0, "iscrowd": 0}
    )
dets, k = [], 0
for i, hit in enumerate(hits):  # hits take the objects in order, misses go to an empty corner
    box = [20.0 * k, 0.0, 10.0, 10.0] if hit else [0.0, 100.0, 10.0, 10.0]
    k += int(hit)
    dets.append({"image_id": 1, "category_id": 1, "bbox": box, "score": 1.0 - i / 20})
assert np.isclose(coco_ap(recall, precision), coco_evaluate(one, dets)["AP50"])
print(f"COCO AP {coco_ap(recall, precision):.4f}, Ultralytics AP {yolo_ap(recall, precision):.4f}")
print(
    f"perfect: COCO {coco_ap(np.array([1.0]), np.array([1.0])):.3f}, "
    f"Ultralytics {yolo_ap(np.array([1.0]), np.array([1.0])):.3f}"
)

# %% [markdown]
# ### Exercise 1 — Ultralytics' AP
#
# Write `my_ultralytics_ap(recall, precision)`: the AP of one PR curve the way Ultralytics'
# `compute_ap` does it (sentinels, envelope, `np.interp` at 101 recalls, trapezoid rule). The
# check compares with `ultralytics.utils.metrics.compute_ap`. Stuck?
# `show_solution("ultralytics_ap")`.


# %%
def my_ultralytics_ap(recall, precision):
    """recall, precision: 1-D arrays by decreasing confidence -> AP (a float)."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_ultralytics_ap, check_yolo_results, show_solution

_ = check_ultralytics_ap(my_ultralytics_ap)

# %% [markdown]
# ### Where the errors are
#
# The evaluation figures of lessons 04–06 for this model, from the same predictions: TP (green),
# FP (red) and missed objects (orange, dashed) at score ≥ 0.5, the confusion matrix with its
# *background* row and column, and the COCO AP@0.5 of each class.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import (
    detection_confusion_matrix,
    draw_tp_fp_fn,
    plot_confusion_matrix,
    plot_per_class_ap,
)

class_names = ShapesDetection.classes  # ("__background__", "circle", ...)


def as_xyxy(records):
    b = np.array([r["bbox"] for r in records], dtype=float).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


preds, targets = [], []
for image in coco_gt["images"]:
    p = [r for r in results if r["image_id"] == image["id"]]
    g = [a for a in coco_gt["annotations"] if a["image_id"] == image["id"]]
    preds.append(
        {
            "boxes": as_xyxy(p),
            "scores": np.array([r["score"] for r in p]),
            "labels": np.array([r["category_id"] for r in p], dtype=int),
        }
    )
    targets.append(
        {"boxes": as_xyxy(g), "labels": np.array([a["category_id"] for a in g], dtype=int)}
    )
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, i in zip(axes, range(4)):
    draw_tp_fp_fn(ax, val_set[i][0], preds[i], targets[i], class_names=class_names)
plt.tight_layout()
plt.show()
matrix = detection_confusion_matrix(preds, targets, num_classes=len(class_names))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
plot_confusion_matrix(matrix, class_names, ax=axes[0])
plot_per_class_ap(coco["per_class_AP50"], ax=axes[1], class_names=class_names)
plt.tight_layout()
plt.show()
n_gt = sum(len(t["labels"]) for t in targets)
assert matrix[1:].sum() == n_gt

# %% [markdown]
# ### Key figures

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

key_figure("val mAP@0.5 (COCO)", coco["AP50"])
key_figure("val mAP@[.5:.95] (COCO)", coco["AP"])
key_figure("val mAP@0.5 (Ultralytics)", float(metrics.box.map50))
_ = key_figure("training seconds", train_s)

# %% [markdown]
# ## 5. Predicting, and the results tensor
#
# `model.predict(...)` returns one `Results` per image. Its `boxes.data` is a `[N, 6]` tensor,
# one row per detection: `x1, y1, x2, y2` in pixels, the **confidence score** (신뢰도 점수)
# and the class index. `predict` keeps boxes above `conf` (default 0.25) after class-wise NMS
# at `iou=0.7`. Our small model, trained for two minutes, is rarely that sure of itself, so we
# look at everything above `CONF = 0.05`.

# %%
# NBVAL_IGNORE_OUTPUT
CONF = 0.05
paths = [str(root / "images" / "val" / im["file_name"]) for im in coco_gt["images"][:8]]
found = model.predict(paths, imgsz=size, conf=CONF, iou=0.7, verbose=False)
best = max(range(len(found)), key=lambda i: len(found[i].boxes))  # the busiest of 8 images
image_path, result = Path(paths[best]), found[best]
data = result.boxes.data
print(image_path.name, type(result).__name__, tuple(data.shape), "columns: x1 y1 x2 y2 conf cls")
assert data.shape[1] == 6 and torch.equal(data[:, 5], result.boxes.cls)

# %% [markdown]
# Where do these rows come from? The network's raw output for one image is `[4 + K, A]`: for
# each of the `A` = 16·16 + 8·8 + 4·4 = 336 cells of the three feature maps, a decoded box
# `(cx, cy, w, h)` and `K` class probabilities. Ultralytics then keeps each cell's best class,
# drops cells at or below `conf`, runs NMS per class and clips the boxes to the image.
# `yolo_postprocess` (in `dlcv_utils.viz.widgets.yolo`) does the same with the course's NMS
# (we clip by hand); same rows?

# %%
# NBVAL_IGNORE_OUTPUT
import cv2

from dlcv_utils.viz.widgets.yolo import make_yolo_threshold_widget, yolo_postprocess

net = model.model.eval()
# read as Ultralytics does: OpenCV (BGR) -> RGB, floats in [0, 1]
pixels = cv2.imread(str(image_path))[..., ::-1].astype(np.float32) / 255
x = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None]
with torch.no_grad():
    raw = net(x)[0][0]  # [4 + K, A]
print("raw head output:", tuple(raw.shape))
mine = yolo_postprocess(raw, conf=CONF, iou=0.7)
mine[:, :4] = mine[:, :4].clip(0, size)  # predict also clips the boxes to the image
assert len(mine) == len(data), (len(mine), len(data))
# predict runs a fused copy of the network (conv + batch norm merged): tiny float differences
np.testing.assert_allclose(mine[:, :4], data[:, :4].numpy(), atol=0.05)
np.testing.assert_allclose(mine[:, 4:], data[:, 4:].numpy(), atol=1e-3)
print(f"{len(mine)} detections, the same as model.predict's")

# %% [markdown]
# Move the sliders: at a low confidence the many weak class guesses of the cells appear; at a
# high NMS IoU the near-duplicates of one object survive.

# %%
# NBVAL_IGNORE_OUTPUT
names = list(class_names[1:])  # YOLO class 0 is "circle"
make_yolo_threshold_widget(pixels, raw, class_names=names, conf=CONF, iou=0.7)

# %% [markdown]
# ### Exercise 2 — results tensor to COCO results
#
# Write `my_yolo_results(data, image_id)`: turn the `[N, 6]` rows `(x1, y1, x2, y2, conf,
# cls)` into COCO result dicts `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`,
# in the same order (COCO categories count from 1). The check compares with
# `yolo_boxes_to_coco`. Solution: `show_solution("yolo_results")`.


# %%
def my_yolo_results(data, image_id):
    """data: [N, 6] array (x1, y1, x2, y2, conf, cls) -> list of COCO result dicts."""
    raise NotImplementedError  # your code here


# %%
_ = check_yolo_results(my_yolo_results)

# %% [markdown]
# ## 6. Export to ONNX, run with OpenCV DNN
#
# `model.export(format="onnx")` traces the network (with its box decoding, without NMS) into
# an **ONNX** file (ONNX 모델), the format lesson 07 ran with OpenCV's DNN module.
# `simplify=False` avoids the `onnxslim` package, which is not installed (auto-install is off).
# OpenCV reads the file and gives the same `[1, 4 + K, A]` output as PyTorch; the NMS above
# then runs on it unchanged.

# %%
# NBVAL_IGNORE_OUTPUT
onnx_path = model.export(format="onnx", imgsz=size, simplify=False, dynamic=False)
print(Path(onnx_path).name, f"{Path(onnx_path).stat().st_size / 1e6:.1f} MB")

# %%
cv_net = cv2.dnn.readNetFromONNX(str(onnx_path))
blob = cv2.dnn.blobFromImage((pixels * 255).astype(np.uint8), 1 / 255.0, (size, size), swapRB=False)
cv_net.setInput(blob)
cv_out = cv_net.forward()
with torch.no_grad():
    torch_out = model.model.eval()(torch.from_numpy(blob))[0].numpy()
print("OpenCV DNN:", cv_out.shape, " PyTorch:", torch_out.shape)
err_box = np.abs(cv_out[0, :4] - torch_out[0, :4]).max()
err_cls = np.abs(cv_out[0, 4:] - torch_out[0, 4:]).max()
assert err_box < 0.05 and err_cls < 1e-3, (err_box, err_cls)
cv_dets = yolo_postprocess(cv_out[0], conf=CONF, iou=0.7)
torch_dets = yolo_postprocess(torch_out[0], conf=CONF, iou=0.7)
# only a cell whose best probability lies within 1e-3 of CONF may be kept by one and not the other
near = int((np.abs(torch_out[0, 4:].max(0) - CONF) < 1e-3).sum())
assert abs(len(cv_dets) - len(torch_dets)) <= near
print("OpenCV DNN = PyTorch (boxes within 0.05 px, probabilities within 1e-3), same detections")

# %% [markdown]
# onnxruntime, the reference ONNX runtime, gives the same numbers:

# %%
import onnxruntime as ort

session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
ort_out = session.run(None, {session.get_inputs()[0].name: blob})[0]
assert np.abs(ort_out[0, :4] - torch_out[0, :4]).max() < 0.05
assert np.abs(ort_out[0, 4:] - torch_out[0, 4:]).max() < 1e-3
print("onnxruntime = PyTorch within the same tolerance")

# %% [markdown]
# ## 7. A COCO-trained YOLO11n
#
# Ultralytics' pretrained checkpoints (e.g. `yolo11n.pt`, 5.4 MB, 80 COCO classes) download
# on first use. `load_yolo_weights("yolo11n.pt", folder, allow_download=True)` looks in
# `folder` first and downloads only when the file is missing and the machine is online
# (Colab); offline it raises `WeightsUnavailableError` at once. Here, offline, we show that
# the loading path works with a checkpoint written locally: our trained model saved under
# that name.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.models.ultralytics_yolo import WeightsUnavailableError, load_yolo_weights

weights_dir = WORK / "weights"
try:
    coco_yolo = load_yolo_weights("yolo11n.pt", weights_dir, allow_download=IN_COLAB)
    print("loaded the COCO-trained yolo11n.pt:", len(coco_yolo.names), "classes")
except WeightsUnavailableError as exc:
    print(f"not available here: {exc}")
    weights_dir.mkdir(exist_ok=True)
    model.save(weights_dir / "yolo11n.pt")  # a local stand-in, written by us
    coco_yolo = load_yolo_weights("yolo11n.pt", weights_dir)
    print("loaded the local stand-in through the same code path:", coco_yolo.names)

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.datasets.photos import load_photos

fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
photos = load_photos()[:3] if len(coco_yolo.names) == 80 else []
for ax, (photo, _record) in zip(axes, photos):
    ax.imshow(coco_yolo.predict(photo[..., ::-1].copy(), verbose=False)[0].plot()[..., ::-1])
    ax.axis("off")
for ax, i in zip(axes[len(photos) :], range(1, 4)):
    ax.imshow(
        coco_yolo.predict(
            str(root / "images" / "val" / coco_gt["images"][i]["file_name"]),
            imgsz=size,
            verbose=False,
        )[0].plot()[..., ::-1]
    )
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * The YOLO format: one `class cx cy w h` line per object, normalised, classes from 0; a
#   `data.yaml` with an absolute `path`.
# * `YOLO("yolov8n.yaml").train(...)` trains from scratch; offline it needs `plots=False`,
#   no AMP check, a settings folder of your own and the font placed beforehand.
# * Ultralytics' mAP and COCO's mAP on the same predictions differ by the integration rule
#   (linear interpolation + trapezoid with precision 1 at recall 0, vs COCO's 101-point step)
#   and the per-image detection limits, not by the matching: within ±0.02 here.
# * `Results.boxes.data` rows are `x1 y1 x2 y2 conf cls`; the head's raw `[4 + K, A]` output
#   plus confidence filter and class-wise NMS gives them back.
# * ONNX export runs in OpenCV DNN and onnxruntime with the PyTorch numbers.
#
# ### Exercises
# 1. Train with `mosaic=1.0` (Ultralytics' default). Does the mAP go up or down, and why
#    with 10–60 px objects in 128 px images?
# 2. Validate with `max_det=10` and compare with `coco_evaluate`: which number moves?
# 3. Build `yolo11n.yaml` instead and compare parameters, time and mAP.

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | one-stage detector | 1단계 검출기 | Lesson 10 |
# | YOLO format | YOLO 형식 | 1. The YOLO format |
# | label file | 라벨 파일 | 1. The YOLO format |
# | normalised | 정규화 | 1. The YOLO format |
# | train from scratch | 처음부터 학습 | 3. Training from scratch, offline |
# | anchor-free | 앵커 없는 | 2. A YOLOv8n from its yaml |
# | precision–recall curve | 정밀도-재현율 곡선 | 4. Ultralytics' mAP and COCO's mAP on the same predictions |
# | confidence score | 신뢰도 점수 | 5. Predicting, and the results tensor |
# | export | 내보내기 | 6. Export to ONNX, run with OpenCV DNN |
# | ONNX | ONNX 모델 | 6. Export to ONNX, run with OpenCV DNN |
