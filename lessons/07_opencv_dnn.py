# %% [markdown]
# # Lesson 07 — OpenCV DNN: object detection with OpenCV (OpenCV로 Object Detection 구현)
#
# So far every detector ran in PyTorch, the framework it was trained in. In a product the
# detector often runs somewhere else: a C++ program, a Raspberry Pi, a phone. OpenCV's **DNN
# module** (`cv2.dnn`) is one such place: it runs networks trained elsewhere, with nothing but
# OpenCV installed. In this lesson you
#
# 1. train a small **single-shot detector** (단일 단계 검출기) on the shapes data with the
#    course recipe;
# 2. export it to ONNX (a **model export**, 모델 변환) with `torch.onnx.export` and load it with
#    `cv2.dnn.readNetFromONNX`;
# 3. write the **preprocessing** (전처리) `cv2.dnn.blobFromImage` does, and see what goes
#    wrong when `swapRB` or `crop` is wrong;
# 4. run `setInput` / `forward`, check the raw outputs against PyTorch's, decode them, run
#    `cv2.dnn.NMSBoxes` and compare it with the course's NMS;
# 5. time PyTorch, OpenCV DNN and onnxruntime side by side, and try lesson 05's Faster R-CNN;
# 6. detect objects in a video, frame by frame, with an FPS overlay;
# 7. on Colab: load a TensorFlow Object Detection API frozen graph and an OpenCV Model Zoo
#    ONNX detector.

# %%
# %matplotlib inline
import time
from pathlib import Path
from tempfile import mkdtemp

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch

from dlcv_utils.course.settings import lesson_setup
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.viz.plotting import show_image

device, cfg = lesson_setup("07")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(
    f"device: {device.type}; image size {cfg.data.image_size} px, {cfg.data.n_train} training images"
)
workdir = Path(mkdtemp(prefix="lesson07_"))

# %% [markdown]
# ## 1. What OpenCV DNN is
#
# `cv2.dnn` is an **inference** (추론) engine only: it cannot train, it loads a network
# trained by another framework and runs its forward pass. A model reaches it through an
# importer:
#
# | function | format |
# |---|---|
# | `cv2.dnn.readNetFromONNX(path)` | ONNX, exported from PyTorch, TensorFlow, ... |
# | `cv2.dnn.readNetFromTensorflow(pb, pbtxt)` | a TensorFlow *frozen graph* and its text description (4.x; not in the opencv-python 5.1 wheel) |
# | `cv2.dnn.readNetFromDarknet(cfg, weights)` | the original YOLO (v2–v4) files (4.x; removed in 5) |
# | `cv2.dnn.readNet(model, config)` | guesses the importer from the file extensions |
#
# **OpenCV 5 changed this.** OpenCV 5 has a new inference engine (`ENGINE_NEW`, with
# shape inference and most of the ONNX operator set; `readNet(model, config, framework,
# engine)` picks it or the classic 4.x engine), and it removed the Caffe, Darknet and Torch importers; the Python
# wheels of opencv-python 5.x no longer expose `readNetFromTensorflow` either. ONNX is the
# format every version reads, so this lesson exports to ONNX. The course supports OpenCV 4.8
# and newer; which readers does this installation have?

# %%
# NBVAL_IGNORE_OUTPUT
readers = sorted(name for name in dir(cv2.dnn) if name.startswith("readNet"))
print(f"OpenCV {cv2.__version__}: {', '.join(readers)}")
assert "readNetFromONNX" in readers

# %% [markdown]
# ## 2. A detector to deploy: a single-shot detector trained here
#
# Faster R-CNN (lesson 05) has two stages with NMS and RoIAlign *inside* the network. A
# **single-shot detector** has one dense head instead: at every cell of the feature map and for
# each of the cell's anchors (lesson 05) it predicts `K` class scores and 4 box deltas, in one
# pass of a few convolutions. Its raw output is just two tensors:
#
# * `class_logits [N, L, K]`: a logit per anchor and class (sigmoid → score),
# * `box_deltas [N, L, 4]`: `(dx, dy, dw, dh)` per anchor (lesson 04's box coder),
#
# with `L = h · w · A` anchors. Everything after that, decoding, the **confidence threshold**
# (신뢰도 임계값) and NMS, is **post-processing** (후처리) that we keep *outside* the exported
# network: it is short, and every runtime then sees exactly the same graph.
#
# `dlcv_utils.models.single_shot.SingleShotDetector` is that detector: lesson 05's tiny
# backbone (stride 8, so 16 × 16 cells at 128 px), a 3 × 3 conv, and two 1 × 1 convs; trained
# with a focal loss on the anchors' classes and smooth L1 on the positives' deltas. We train it
# with the course recipe (`benchmarks/bench_detectors.py --only single_shot` runs the same).

# %%
from dlcv_utils.course.recipes import build_single_shot_model, shapes_loaders

train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed)
class_names = ShapesDetection.classes
model = build_single_shot_model(cfg)
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} parameters; {model.num_anchors} anchors per image "
      f"({cfg.data.image_size // cfg.stride}² cells x {model.anchors_per_cell})")  # fmt: skip

# %%
# NBVAL_IGNORE_OUTPUT
import os

from dlcv_utils.course.recipes import train_and_evaluate

run = train_and_evaluate(model, train_loader, val_loader, cfg.train, device=device, seed=cfg.seed)
history, metrics = run.history, run.metrics
print(
    f"{history.iterations} iterations in {run.train_s:.0f} s (load average {os.getloadavg()[0]:.1f})"
)
assert run.train_s <= cfg.train.max_train_seconds + 30

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.report import key_figure

print(f"val mAP@0.5 = {metrics['map50']:.3f}   mAP@[.5:.95] = {metrics['map']:.3f}")
for name, ap in metrics["per_class"].items():
    print(f"  {name:9s} AP@0.5 {ap:.3f}")
assert metrics["map50"] >= cfg.train.map50_floor, (metrics["map50"], cfg.train.map50_floor)
_ = key_figure("single-shot val mAP@0.5 (PyTorch)", metrics["map50"])

# %% [markdown]
# Where it errs: true positives (green), false positives (red), missed objects (orange), the
# confusion matrix with its *background* row and column, and the AP per class. The scores of a
# detector trained with the focal loss run low (the loss stops pushing a positive up once it
# is fairly sure), so this lesson draws detections scoring at least `SCORE = 0.3`.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

SCORE = 0.3
model = model.to("cpu").eval()
fig, ss_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], score_threshold=SCORE
)
plt.show()
print(f"score >= {SCORE}: TP {ss_eval['n_tp']}, FP {ss_eval['n_fp']}, FN {ss_eval['n_fn']}")
assert ss_eval["matrix"][1:].sum() == ss_eval["n_tp"] + ss_eval["n_fn"]

# %% [markdown]
# ## 3. Export to ONNX
#
# `torch.onnx.export` runs the module once on an example input and records the operations
# into an ONNX graph. We export `RawHead(model)`: normalised image in, `class_logits` and
# `box_deltas` out. Naming the inputs and outputs makes the graph easy to use from OpenCV and
# onnxruntime; the batch size stays fixed at 1 (the simplest graph for every runtime).

# %%
import warnings

import onnx

from dlcv_utils.models.single_shot import RawHead

size = cfg.data.image_size
onnx_path = workdir / "single_shot.onnx"
example = torch.zeros(1, 3, size, size)
with warnings.catch_warnings():  # the exporter's deprecation notes
    warnings.simplefilter("ignore")
    torch.onnx.export(
        RawHead(model).eval(),
        (example,),
        str(onnx_path),
        input_names=["image"],
        output_names=["class_logits", "box_deltas"],
        opset_version=17,
        dynamo=False,
    )
graph = onnx.load(str(onnx_path))
onnx.checker.check_model(graph)
ops = sorted({node.op_type for node in graph.graph.node})
print(f"{onnx_path.name}: {onnx_path.stat().st_size / 1e6:.2f} MB, operators {ops}")
print(
    "outputs:",
    [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.graph.output],
)

# %%
net = cv2.dnn.readNetFromONNX(str(onnx_path))
out_names = list(net.getUnconnectedOutLayersNames())
print("OpenCV output names:", sorted(out_names))

# %% [markdown]
# ## 4. Preprocessing: `blobFromImage`
#
# A network's input is a **blob** (블롭), a 4-D float array `[N, C, H, W]`. OpenCV reads images
# as `H × W × 3` BGR `uint8`. `cv2.dnn.blobFromImage(image, scalefactor, size, mean, swapRB,
# crop)` does, in order:
#
# 1. **resize** to `size = (W, H)`: stretched (`crop=False`), or scaled by
#    `max(W / w, H / h)` keeping the aspect ratio and the centre `W × H` cut out (`crop=True`);
# 2. `swapRB=True` reverses the channels, BGR → RGB;
# 3. subtracts `mean` per channel (given in the order *after* the swap), multiplies by
#    `scalefactor`;
# 4. `H × W × C` → `1 × C × H × W`.
#
# Our model was trained on RGB images `x ∈ [0, 1]` normalised as `(255 x − 127.5) / 64`, so
# the matching call is `scalefactor=1/64, mean=(127.5,)*3, swapRB=True`
# (`model.blob_params()`). Written out with NumPy, and checked against OpenCV:

# %%
val_set = val_loader.dataset
image_t, target = val_set[0]
image_rgb = (image_t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
image_bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)  # what cv2.imread would give
params = model.blob_params()
print(params)

manual = cv2.resize(image_bgr, params["size"], interpolation=cv2.INTER_LINEAR).astype(np.float32)
manual = manual[..., ::-1]  # swapRB: BGR -> RGB
manual = (manual - np.array(params["mean"], np.float32)) * np.float32(params["scalefactor"])
manual = manual.transpose(2, 0, 1)[None]  # HWC -> NCHW
blob = cv2.dnn.blobFromImage(image_bgr, **params)
print(f"blob {blob.shape} {blob.dtype}; max |manual - OpenCV| = {np.abs(manual - blob).max():.1e}")
assert np.abs(manual - blob).max() < 1e-5
torch.testing.assert_close(torch.from_numpy(blob), model.normalize([image_t]), atol=1e-5, rtol=0)

# %% [markdown]
# ### Forward and compare with PyTorch
# `net.setInput(blob)` then `net.forward(names)` returns the outputs as NumPy arrays. The same
# ONNX file in onnxruntime, and the PyTorch model itself, must give the same numbers: we
# require agreement within 1e-4 on a batch of validation images.

# %%
import onnxruntime as ort

session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
max_diff = {"OpenCV DNN": 0.0, "onnxruntime": 0.0}
for i in range(16):
    img_t, _ = val_set[i]
    bgr = cv2.cvtColor(
        (img_t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR
    )
    b = cv2.dnn.blobFromImage(bgr, **params)
    with torch.no_grad():
        ref = [t.numpy() for t in model.forward_raw(torch.from_numpy(b))]
    net.setInput(b)
    cv_out = dict(zip(out_names, net.forward(out_names)))
    ort_out = session.run(["class_logits", "box_deltas"], {"image": b})
    for name, got in (
        ("OpenCV DNN", [cv_out["class_logits"], cv_out["box_deltas"]]),
        ("onnxruntime", ort_out),
    ):
        max_diff[name] = max(
            max_diff[name], *(float(np.abs(g - r).max()) for g, r in zip(got, ref))
        )
for name, d in max_diff.items():
    assert d < 1e-4, (name, d)
print("raw outputs of 16 images agree with PyTorch within 1e-4 (OpenCV DNN and onnxruntime)")

# %%
# NBVAL_IGNORE_OUTPUT
for name, d in max_diff.items():
    print(f"max |{name} - PyTorch| = {d:.2e}")

# %% [markdown]
# ### Decode, NMS, draw on the original image
# Decoding is lesson 04's box decoding applied to the anchors: the `(anchor, class)` pairs
# scoring above the threshold, the anchor moved by its deltas, clipped. Then
# **non-maximum suppression** (비최대 억제), NMS for short (lesson 01), class by class. OpenCV has its own, `cv2.dnn.NMSBoxes(boxes,
# scores, score_threshold, nms_threshold)`, which takes boxes as `[x, y, w, h]` and returns
# the kept indices; `NMSBoxesBatched` adds the class ids (OpenCV ≥ 4.7). Same result as the
# course's `dlcv_utils.nms.batched_nms`?

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.models.single_shot import decode_detections
from dlcv_utils.nms import batched_nms

net.setInput(blob)
raw = dict(zip(out_names, net.forward(out_names)))
logits_np, deltas_np = raw["class_logits"], raw["box_deltas"]
pre = decode_detections(
    logits_np,
    deltas_np,
    model.anchors,
    (size, size),
    score_thresh=0.3,
    nms_thresh=1.0,
    detections_per_img=10_000,
)[0]
boxes, scores, labels = pre["boxes"], pre["scores"], pre["labels"]
xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)
cv_keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), labels.tolist(), 0.3, 0.5)
cv_keep = np.asarray(cv_keep, dtype=np.int64).reshape(-1)
ours = batched_nms(boxes, scores, labels, iou_threshold=0.5)
print(
    f"{len(boxes)} boxes above 0.3 -> NMSBoxesBatched keeps {len(cv_keep)}, batched_nms keeps {len(ours)}"
)
assert sorted(cv_keep.tolist()) == sorted(ours.tolist())
cv_keep_1 = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.3, 0.5)).reshape(-1)
print(
    f"class-agnostic NMSBoxes keeps {len(cv_keep_1)} (a circle can suppress an overlapping square)"
)

# %% [markdown]
# The network saw a 128 × 128 blob; the boxes go back to the **original image** by the inverse
# of the resize. Below, the frame is shown 3× larger than the network input, so every box is
# multiplied by 3:

# %%
big = cv2.resize(image_bgr, (3 * size, 3 * size), interpolation=cv2.INTER_NEAREST)
b_big = cv2.dnn.blobFromImage(big, **params)  # resized back to 128 x 128 inside
net.setInput(b_big)
raw_big = dict(zip(out_names, net.forward(out_names)))
det = decode_detections(
    raw_big["class_logits"], raw_big["box_deltas"], model.anchors, (size, size), score_thresh=SCORE
)[0]
sx, sy = big.shape[1] / size, big.shape[0] / size
drawn = big.copy()
for (x1, y1, x2, y2), s, lab in zip(
    det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist()
):
    p1, p2 = (round(x1 * sx), round(y1 * sy)), (round(x2 * sx), round(y2 * sy))
    cv2.rectangle(drawn, p1, p2, (0, 255, 0), 2)
    cv2.putText(
        drawn,
        f"{class_names[lab]} {s:.2f}",
        (p1[0], max(p1[1] - 4, 10)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 255, 0),
        1,
    )
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB))
ax.set_title(f"OpenCV DNN on a {big.shape[1]}x{big.shape[0]} frame: {len(det['boxes'])} detections")
ax.axis("off")
plt.show()

# %% [markdown]
# ### The same mAP through OpenCV
# A small wrapper makes the OpenCV pipeline look like a PyTorch detector to
# `evaluate_detector`: tensor image → BGR `uint8` → blob → `net.forward` → decode. With the
# right preprocessing it must score the mAP of section 2. With the wrong one:
#
# * `swapRB=False`: the network receives BGR where it learned RGB. Our shapes have random
#   colours, so it barely notices; a network trained on photos (blue sky, green grass, orange
#   skin) notices a lot.
# * `crop=True` on a wide image: `blobFromImage` cuts the centre square out, so objects at
#   the sides are never seen, and a decoder that assumes a plain resize puts every box at the
#   wrong place. We test this on wide 256 × 128 images made of two validation images.


# %%
class OpenCVDetector(torch.nn.Module):
    """Runs the ONNX model in OpenCV DNN; looks like a torchvision detector to evaluate_detector."""

    def __init__(self, net, params, anchors, size, **decode_kwargs):
        super().__init__()
        self.net, self.params, self.anchors, self.size = net, params, anchors, size
        self.decode_kwargs = decode_kwargs

    def forward(self, images, targets=None):
        results = []
        for img in images:
            bgr = cv2.cvtColor(
                (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR
            )
            self.net.setInput(cv2.dnn.blobFromImage(bgr, **self.params))
            raw = dict(zip(out_names, self.net.forward(out_names)))
            det = decode_detections(
                raw["class_logits"],
                raw["box_deltas"],
                self.anchors,
                (self.size, self.size),
                **self.decode_kwargs,
            )[0]
            h, w = img.shape[-2:]  # back to the original image: undo the plain resize
            det["boxes"] = det["boxes"] * torch.tensor([w / self.size, h / self.size] * 2)
            results.append(det)
        return results


# %%
from dlcv_utils.engine import evaluate_detector

decode_kwargs = {"score_thresh": model.score_thresh, "nms_thresh": model.nms_thresh}
cv_map = {}
for name, p in (("right", params), ("swapRB=False", {**params, "swapRB": False})):
    m = evaluate_detector(
        OpenCVDetector(net, p, model.anchors, size, **decode_kwargs),
        val_loader,
        "cpu",
        class_names=class_names,
    )
    cv_map[name] = m["map50"]
assert abs(cv_map["right"] - metrics["map50"]) < 0.01, (cv_map, metrics["map50"])


# wide images: two validation images side by side, boxes of the right one shifted
def wide_batches(n_pairs=20):
    for k in range(n_pairs):
        (a, ta), (b, tb) = val_set[2 * k], val_set[2 * k + 1]
        boxes_b = torch.as_tensor(tb["boxes"]) + torch.tensor([size, 0, size, 0])
        target = {
            "boxes": torch.cat([torch.as_tensor(ta["boxes"]), boxes_b]),
            "labels": torch.cat([torch.as_tensor(ta["labels"]), torch.as_tensor(tb["labels"])]),
        }
        yield [torch.cat([a, b], dim=2)], [target]


for name, p in (("wide, crop=False", params), ("wide, crop=True", {**params, "crop": True})):
    m = evaluate_detector(
        OpenCVDetector(net, p, model.anchors, size, **decode_kwargs),
        wide_batches(),
        "cpu",
        class_names=class_names,
    )
    cv_map[name] = m["map50"]
assert cv_map["wide, crop=True"] < cv_map["wide, crop=False"]

# %%
# NBVAL_IGNORE_OUTPUT
for name, v in cv_map.items():
    print(f"OpenCV DNN, {name:17s}: val mAP@0.5 = {v:.3f}")
print(f"(PyTorch: {metrics['map50']:.3f})")
_ = key_figure("single-shot val mAP@0.5 (OpenCV DNN)", cv_map["right"])

# %% [markdown]
# On the wide image `crop=False` squeezes the shapes to half their width (the detector never
# saw such shapes, so it is worse than on square images), and `crop=True` loses the two outer
# quarters and shifts every box. The blob the network receives in each case:

# %%
from dlcv_utils.viz.widgets.dnn import blob_panel

(a, _), (b, _) = val_set[0], val_set[1]
wide_bgr = cv2.cvtColor(
    (torch.cat([a, b], dim=2).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
    cv2.COLOR_RGB2BGR,
)
fig, axes = plt.subplots(3, 2, figsize=(9, 10), gridspec_kw={"width_ratios": [2, 1]})
for row, (swap, crop) in enumerate([(True, False), (False, False), (True, True)]):
    out = blob_panel(
        wide_bgr, (size, size), params["scalefactor"], params["mean"], swap, crop, axes=axes[row]
    )
    print(
        f"swapRB={swap!s:5} crop={crop!s:5}: blob covers x {out['region'][0]:.0f}..{out['region'][2]:.0f} of {wide_bgr.shape[1]}"
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 1 — `blobFromImage` by hand
#
# Write `my_blob(image, size, scalefactor, mean, swap_rb, crop)`: `image` is `H × W × 3` BGR
# `uint8`, `size = (W, H)`; return `float32 [1, 3, H, W]` equal to `cv2.dnn.blobFromImage`.
# With `crop=True`: scale by `f = max(W / w, H / h)` (`cv2.resize(img, None, fx=f, fy=f)`),
# then cut out `W × H` starting at `(int(0.5 * (w' - W)), int(0.5 * (h' - H)))`. Replace the
# `raise NotImplementedError` line, then run the check cell. Stuck? `show_solution("blob")`.


# %%
def my_blob(image, size, scalefactor, mean, swap_rb, crop):
    """H x W x 3 uint8 BGR -> float32 [1, 3, size[1], size[0]], like cv2.dnn.blobFromImage."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_blob, check_decode_raw, show_solution

_ = check_blob(my_blob)

# %% [markdown]
# ### Exercise 2 — decode raw head outputs
#
# Write `my_decode(class_logits, box_deltas, anchors, image_size, score_thresh)` for one
# image: `class_logits [L, K]`, `box_deltas [L, 4]`, `anchors [L, 4]`. Every `(anchor, class)`
# pair with `sigmoid(logit) >= score_thresh` gives a box: the anchor's centre moves by
# `(dx · wa, dy · ha)`, its size becomes `(wa · exp(dw), ha · exp(dh))`; clip to
# `image_size = (H, W)`; the label is `class + 1`. Return `(boxes, scores, labels)`, no NMS.
# Stuck? `show_solution("decode_raw")`.


# %%
def my_decode(class_logits, box_deltas, anchors, image_size, score_thresh):
    """Raw outputs of one image -> (boxes [D, 4], scores [D], labels [D]) above the threshold."""
    raise NotImplementedError  # your code here


# %%
_ = check_decode_raw(my_decode)

# %% [markdown]
# ## 5. How fast? PyTorch, OpenCV DNN and onnxruntime on this CPU
#
# One image at a time (a video's case), the network only (the blob is made once), the same
# number of threads for all three. The numbers depend on the machine and on what else runs on
# it; run the cell again to see how much they move.

# %%
# NBVAL_IGNORE_OUTPUT
threads = torch.get_num_threads()
cv2.setNumThreads(threads)
options = ort.SessionOptions()
options.intra_op_num_threads = threads
session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
x_t = torch.from_numpy(blob)


def run_torch():
    with torch.no_grad():
        model.forward_raw(x_t)


def run_opencv():
    net.setInput(blob)
    net.forward(out_names)


def run_ort():
    session.run(None, {"image": blob})


timings = {}
for name, fn in (
    ("PyTorch eager", run_torch),
    ("OpenCV DNN", run_opencv),
    ("onnxruntime", run_ort),
):
    for _ in range(5):  # warm-up
        fn()
    t0 = time.perf_counter()
    for _ in range(cfg.timing_images):
        fn()
    timings[name] = 1000 * (time.perf_counter() - t0) / cfg.timing_images
    print(
        f"{name:14s} {timings[name]:6.2f} ms/img  ({threads} thread(s), load {os.getloadavg()[0]:.1f})"
    )
assert all(np.isfinite(v) and v > 0 for v in timings.values())
_ = key_figure("OpenCV DNN ms per 128 px image (CPU)", timings["OpenCV DNN"], fmt="{:.2f}")

# %% [markdown]
# ### And lesson 05's Faster R-CNN?
#
# A two-stage detector exports too, but its graph is much harder: the RPN's top-k and NMS,
# RoIAlign, and shapes that depend on the data (how many proposals survive). We export lesson
# 05's model (untrained: only the graph matters here) with its post-processing inside and ask
# OpenCV to load it. What we found with opencv-python 5.1 (the version this course was built
# with): OpenCV 5's new engine loads it and matches PyTorch; the exported graph contains `If`,
# `NonZero`, `TopK` and `RoiAlign`, and its sizes are fixed by the example image it was traced
# with. OpenCV 4.x's classic importer was not tried here; it has a history of refusing such
# graphs (data-dependent shapes), so a model meant for every OpenCV version keeps its decoding
# and NMS outside the network, as our single-shot detector does. The cell prints what
# happens with *your* OpenCV.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.course.recipes import build_faster_rcnn_model
from dlcv_utils.course.settings import lesson_settings

frcnn = build_faster_rcnn_model(lesson_settings("05", "cpu")).eval()


class FasterRCNNOutputs(torch.nn.Module):
    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, x):
        out = self.detector(list(x))[0]
        return out["boxes"], out["scores"], out["labels"]


frcnn_path = workdir / "faster_rcnn.onnx"
x_img = image_t[None]
with torch.no_grad():
    ref_boxes = FasterRCNNOutputs(frcnn).eval()(x_img)[0].numpy()
try:
    with warnings.catch_warnings():  # tracer warnings: the traced graph fixes the image size
        warnings.simplefilter("ignore")
        torch.onnx.export(
            FasterRCNNOutputs(frcnn).eval(),
            (x_img,),
            str(frcnn_path),
            opset_version=17,
            dynamo=False,
        )
    frcnn_net = cv2.dnn.readNetFromONNX(str(frcnn_path))
    frcnn_net.setInput(x_img.numpy())
    cv_boxes = frcnn_net.forward(frcnn_net.getUnconnectedOutLayersNames())[0]
    n = min(len(cv_boxes), len(ref_boxes))
    frcnn_result = f"loaded; {len(cv_boxes)} boxes, max |OpenCV - PyTorch| = {np.abs(cv_boxes[:n] - ref_boxes[:n]).max():.1e}"
except Exception as exc:  # cv2.error on OpenCV 4.x, or an exporter error
    frcnn_result = f"failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}"
print(f"Faster R-CNN in OpenCV {cv2.__version__}: {frcnn_result}")

# %% [markdown]
# ## 6. Video: detect every frame
#
# The generated clip of lesson 02 (a camera panning over two shapes images) is written with
# `cv2.VideoWriter`, read back frame by frame with `cv2.VideoCapture`, and every frame goes
# through blob → forward → decode → draw, with the **frame rate** (프레임 속도) of the
# detection loop written on the frame; the result is written to a second video.

# %%
from dlcv_utils.viz.video import moving_shapes_clip, read_video, write_video

frames, clip_boxes, clip_labels = moving_shapes_clip(
    cfg.video_frames, step=cfg.video_step, image_size=size
)
clip_path = write_video(frames, workdir / "clip.avi", fps=8, fourcc="MJPG")

cap = cv2.VideoCapture(str(clip_path))
out_path = workdir / "detected.avi"
writer = None
frame_times, n_dets = [], []
while True:
    ok, frame = cap.read()  # BGR
    if not ok:
        break
    t0 = time.perf_counter()
    net.setInput(cv2.dnn.blobFromImage(frame, **params))
    raw = dict(zip(out_names, net.forward(out_names)))
    det = decode_detections(
        raw["class_logits"], raw["box_deltas"], model.anchors, (size, size), score_thresh=SCORE
    )[0]
    frame_times.append(time.perf_counter() - t0)
    n_dets.append(len(det["boxes"]))
    shown = cv2.resize(
        frame, (2 * frame.shape[1], 2 * frame.shape[0]), interpolation=cv2.INTER_NEAREST
    )
    for (x1, y1, x2, y2), lab in zip(
        (det["boxes"] * 2).round().int().tolist(), det["labels"].tolist()
    ):
        cv2.rectangle(shown, (x1, y1), (x2, y2), (0, 255, 0), 2)
        cv2.putText(
            shown,
            class_names[lab],
            (x1, max(y1 - 3, 10)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 255, 0),
            1,
        )
    fps = 1.0 / np.mean(frame_times[-10:])
    cv2.putText(shown, f"{fps:.0f} FPS", (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    if writer is None:
        writer = cv2.VideoWriter(
            str(out_path), cv2.VideoWriter_fourcc(*"MJPG"), 8.0, (shown.shape[1], shown.shape[0])
        )
    writer.write(shown)
cap.release()
writer.release()
result = read_video(out_path)
print(
    f"read {len(frames)} frames, wrote {len(result.frames)} annotated frames ({result.width}x{result.height})"
)
assert len(result.frames) == len(frames) == cfg.video_frames

# %%
# NBVAL_IGNORE_OUTPUT
print(f"detection loop: {1000 * np.mean(frame_times):.1f} ms per frame = {1 / np.mean(frame_times):.0f} FPS; "
      f"{np.mean(n_dets):.1f} detections per frame")  # fmt: skip
assert np.mean(n_dets) > 0
fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
for ax, t in zip(axes, np.linspace(0, len(result.frames) - 1, 4).astype(int)):
    ax.imshow(result.frames[t])
    ax.set_title(f"frame {t}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Try it: the confidence threshold and the NMS IoU threshold on one frame of the clip, over
# OpenCV DNN's raw outputs. A low confidence lets the many weak anchors through; an NMS IoU of
# 1.0 switches NMS off and shows how many anchors fire on each shape.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.dnn import detections_panel, make_detections_widget

frame_rgb = frames[len(frames) // 2]
net.setInput(cv2.dnn.blobFromImage(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR), **params))
raw = dict(zip(out_names, net.forward(out_names)))
panel = detections_panel(
    frame_rgb, raw["class_logits"], raw["box_deltas"], model.anchors, (size, size), SCORE, 1.0
)
assert panel["n_before_nms"] == len(panel["boxes"])  # IoU 1.0 removes nothing
make_detections_widget(
    frame_rgb,
    raw["class_logits"],
    raw["box_deltas"],
    model.anchors,
    (size, size),
    class_names,
    score_thresh=SCORE,
)

# %% [markdown]
# ## 7. Pretrained detectors on Colab
#
# Two classic routes, both in `dlcv_utils.models.opencv_zoo` (download once, cache, load):
#
# * **TensorFlow Object Detection API**: SSD MobileNet v2 trained on COCO, as a frozen graph
#   (`frozen_inference_graph.pb`) plus the text graph OpenCV needs (`.pbtxt`, from
#   `opencv_extra`), loaded with `readNetFromTensorflow(pb, pbtxt)` on OpenCV 4.x. Its output
#   is `[1, 1, N, 7]`: `(image, class, score, x1, y1, x2, y2)` with coordinates in `[0, 1]`,
#   post-processing included.
# * **OpenCV Model Zoo**: ONNX detectors (NanoDet-Plus, YOLOX) made for `cv2.dnn`, with raw
#   outputs decoded outside the network, as ours.
#
# Nothing is downloaded where this notebook is tested (offline); on Colab the cell downloads
# the SSD (about 180 MB) and runs it on the course's photos.

# %%
# NBVAL_IGNORE_OUTPUT
import socket

from dlcv_utils.models.opencv_zoo import MODELS, ModelUnavailableError, load_net


def can_reach(host, port=443, timeout=3.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


zoo_net = None
if not can_reach("download.tensorflow.org", 80):
    print("skipped: no internet to download the TensorFlow SSD; on Colab this cell loads it")
else:
    try:
        zoo_net = load_net("ssd_mobilenet_v2_coco_tf")
    except ModelUnavailableError as exc:
        print(f"skipped: {exc}")
if zoo_net is not None:
    from dlcv_utils.datasets.photos import load_photos

    photos = load_photos()
    fig, axes = plt.subplots(1, len(photos), figsize=(4 * len(photos), 4))
    for ax, (photo, _record) in zip(np.atleast_1d(axes), photos):
        h, w = photo.shape[:2]
        zoo_net.setInput(
            cv2.dnn.blobFromImage(
                cv2.cvtColor(photo, cv2.COLOR_RGB2BGR),
                1.0,
                MODELS["ssd_mobilenet_v2_coco_tf"].input_size,
                (0, 0, 0),
                swapRB=True,
                crop=False,
            )
        )
        rows = zoo_net.forward().reshape(-1, 7)
        rows = rows[rows[:, 2] >= 0.5]
        show_image(
            photo,
            boxes=rows[:, 3:7] * [w, h, w, h],
            scores=rows[:, 2],
            ax=ax,
            title=f"{len(rows)} detections (COCO SSD)",
        )
    plt.show()

# %% [markdown]
# ## Summary
#
# * OpenCV DNN runs networks trained elsewhere (**inference only**); ONNX is the format every
#   OpenCV version reads (OpenCV 5 dropped the Caffe/Darknet importers and has a new engine).
# * Deploying = **export** (`torch.onnx.export`) + the same **preprocessing**
#   (`blobFromImage`: size, scale factor, mean, `swapRB`, `crop`) + the same
#   **post-processing** (decode, confidence threshold, NMS). Check the raw outputs against the
#   training framework before anything else: here they agree within 1e-4.
# * A wrong `swapRB` or `crop` raises no error: it silently costs accuracy. Measure mAP
#   through the deployed pipeline.
# * A video is frames: `VideoCapture.read()` → detect → draw → `VideoWriter.write()`.
#
# ### More to try
# 1. Export with `dynamic_axes={"image": {0: "batch"}}` and time batches of 8 in onnxruntime.
# 2. Call `net.setPreferableBackend` / `setPreferableTarget` on a machine with a GPU build of
#    OpenCV and time it again.
# 3. Write the decoding of the TF SSD's `[1, 1, N, 7]` output for a wide photo with
#    `crop=True`: where do the boxes go back to?

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | object detection with OpenCV | OpenCV로 Object Detection 구현 | Lesson 07 — OpenCV DNN |
# | single-shot detector | 단일 단계 검출기 | 2. A detector to deploy: a single-shot detector trained here |
# | inference | 추론 | 1. What OpenCV DNN is |
# | model export | 모델 변환 | 3. Export to ONNX |
# | preprocessing | 전처리 | 4. Preprocessing: `blobFromImage` |
# | blob | 블롭 | 4. Preprocessing: `blobFromImage` |
# | post-processing | 후처리 | 2. A detector to deploy: a single-shot detector trained here |
# | confidence threshold | 신뢰도 임계값 | 2. A detector to deploy: a single-shot detector trained here |
# | non-maximum suppression | 비최대 억제 | Decode, NMS, draw on the original image |
# | frame rate | 프레임 속도 | 6. Video: detect every frame |
