# %% [markdown]
# # Lesson 02 — OpenCV and datasets
#
# Before training a detector we need to get pixels and boxes in and out of files without
# silently corrupting either. This lesson loads photos with three libraries (and falls into the
# colour-order trap on purpose), draws boxes, labels and masks with OpenCV, reads one image's
# annotation in the three common formats (PASCAL VOC, COCO, YOLO) and in Open Images' CSV,
# tours the COCO API, measures the course's *shapes* dataset, and writes and reads a video.

# %%
# %matplotlib inline
import contextlib
import io
import json
import tempfile
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import skimage.io
from PIL import Image

from dlcv_utils.course.settings import lesson_setup

device, cfg = lesson_setup("02")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(f"device: {cfg.device}, shapes image size: {cfg.image_size}px")

# %% [markdown]
# ## 1. Three ways to load an image (이미지 읽기)
#
# Pillow, scikit-image and OpenCV all read a JPEG into a NumPy array of shape
# `(height, width, 3)` and dtype `uint8` — but **OpenCV orders the colour channels** (색상 채널)
# **blue, green, red** (BGR), a legacy of early camera drivers. Pillow and scikit-image return
# red, green, blue (RGB), which is also what matplotlib and torchvision expect.
#
# We use Chelsea the cat from the course's photo set (`data/photos`, public-domain and CC0
# photos with hand-drawn boxes; see `data/photos/LICENSE.md`).

# %%
from dlcv_utils.datasets.photos import load_photos, photos_dir, read_image_rgb

cat_path = photos_dir() / "coco" / "images" / "val" / "chelsea.jpg"

rgb_pil = np.asarray(Image.open(cat_path).convert("RGB"))
rgb_skimage = skimage.io.imread(cat_path)
bgr_cv2 = cv2.imread(str(cat_path))  # BGR!

for name, arr in [("Pillow", rgb_pil), ("scikit-image", rgb_skimage), ("OpenCV", bgr_cv2)]:
    print(f"{name:12s} shape={arr.shape} dtype={arr.dtype} pixel[100, 200]={arr[100, 200]}")

# %% [markdown]
# Same shape, same dtype, and the middle pixel shows the same three numbers — reversed for
# OpenCV. Reversing the last axis (or `cv2.cvtColor(..., cv2.COLOR_BGR2RGB)`) fixes it. The
# decoders can also differ by a grey level or two: JPEG decoding is not bit-exact between
# libraries, so compare decoded images with a tolerance.

# %%
rgb_cv2 = cv2.cvtColor(bgr_cv2, cv2.COLOR_BGR2RGB)
assert np.array_equal(rgb_cv2, bgr_cv2[:, :, ::-1])
assert np.array_equal(rgb_pil, rgb_skimage)  # scikit-image decodes through Pillow here
diff = np.abs(rgb_cv2.astype(int) - rgb_pil.astype(int))
print(f"OpenCV vs Pillow after the fix: max |diff| = {diff.max()}, mean = {diff.mean():.3f}")
assert diff.mean() < 1.0

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, img, title in [
    (axes[0], rgb_pil, "Pillow (RGB)"),
    (axes[1], bgr_cv2, "OpenCV array shown as-is: BGR mistake"),
    (axes[2], rgb_cv2, "OpenCV after cvtColor(BGR2RGB)"),
]:
    ax.imshow(img)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# A few more OpenCV habits worth knowing:
#
# * `cv2.imread` does **not** raise on a missing file; it returns `None`, and the error shows up
#   later as a confusing `'NoneType' object is not subscriptable`. Our
#   `dlcv_utils.datasets.photos.read_image_rgb` checks for that and returns RGB.
# * `img[:, :, ::-1]` is a *view* with a negative stride; OpenCV's drawing functions refuse it.
#   Use `cv2.cvtColor` or `np.ascontiguousarray` before drawing.
# * `cv2.imwrite(path, img)` is the mirror image of `imread`: it expects **BGR** and picks the
#   file format from the extension. An array that came from `imread` can be written back as it
#   is; an RGB array (from Pillow, or one you converted for matplotlib) must be converted back
#   with `cv2.COLOR_RGB2BGR` first, or red and blue are swapped *in the file*. Like `imread`,
#   it does not raise when the target folder does not exist: it returns `False`, so check it.
# * `cv2.imshow(window_name, img)` opens a **desktop window** (OpenCV's HighGUI);
#   `cv2.waitKey(0)` then blocks until a key is pressed (it also lets the window paint itself)
#   and `cv2.destroyAllWindows()` closes it. In a notebook that runs on a server there is no
#   desktop: the `opencv-python-headless` wheel raises "The function is not implemented", the
#   GUI wheel `opencv-python` (the one this course installs) can take the whole kernel down when
#   it finds no display, and Colab blocks `cv2.imshow` and offers
#   `google.colab.patches.cv2_imshow(img)` (which takes a BGR array) instead. In notebooks we
#   therefore show images with matplotlib's `plt.imshow`, after converting BGR to RGB.

# %%
# OpenCV also logs a warning for the missing file on the C-level stderr; silence its logger
# (cv2.utils.logging in OpenCV 5, cv2.setLogLevel in 4.x: the package helper handles both)
from dlcv_utils.runtime import silence_opencv_logging

silence_opencv_logging()
print("cv2.imread of a missing file returns:", cv2.imread("no/such/photo.jpg"))
try:
    cv2.rectangle(bgr_cv2[:, :, ::-1], (10, 10), (50, 50), (255, 0, 0), 2)
except cv2.error as exc:
    reason = next(line for line in str(exc).splitlines() if "Layout" in line)
    print("drawing on a reversed view fails:", reason.strip(" >-"))
assert np.array_equal(read_image_rgb(cat_path), rgb_cv2)

# %% [markdown]
# ## 2. Drawing boxes, labels and masks with OpenCV (바운딩 박스 시각화)
#
# OpenCV draws *into* the array (in place) with integer pixel coordinates. Our boxes are
# continuous `(x1, y1, x2, y2)` with `x2` the right *edge*; the last pixel inside the box is
# `x2 - 1`, and that is the corner `cv2.rectangle` wants (it includes both corner pixels). The
# label gets a filled background sized with `cv2.getTextSize` so it stays readable.

# %%
PALETTE_RGB = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def draw_boxes_cv2(image, boxes, names, thickness=2, scale=0.6):
    """Return a copy of an RGB image with boxes and name tags drawn by OpenCV."""
    out = np.ascontiguousarray(image).copy()
    for k, ((x1, y1, x2, y2), name) in enumerate(zip(boxes, names)):
        color = PALETTE_RGB[k % len(PALETTE_RGB)]
        p1 = (round(x1), round(y1))
        p2 = (round(x2) - 1, round(y2) - 1)  # last pixel inside the box
        cv2.rectangle(out, p1, p2, color, thickness)
        (tw, th), baseline = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(p1[1] - th - baseline, 0)
        cv2.rectangle(out, (p1[0], top), (p1[0] + tw, top + th + baseline), color, -1)
        cv2.putText(out, name, (p1[0], top + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return out


photos = load_photos()
coffee, coffee_ann = next((img, ann) for img, ann in photos if ann.file_name == "coffee.jpg")
coffee_before = coffee.copy()
boxes = [o.bbox for o in coffee_ann.objects]
drawn = draw_boxes_cv2(coffee, boxes, [o.label for o in coffee_ann.objects])
print("coffee.jpg boxes:", boxes)

# the rectangle's outer line lies exactly on the first and last pixel of the cup's box
x1, y1, x2, y2 = (int(v) for v in boxes[0])
assert (
    tuple(drawn[y1 + 20, x1]) == PALETTE_RGB[0] and tuple(drawn[y1 + 20, x2 - 1]) == PALETTE_RGB[0]
)
assert np.array_equal(coffee, coffee_before)  # the original is untouched: we drew on a copy

# %% [markdown]
# Coordinates must be Python or NumPy **integers**: OpenCV rejects float points with an error
# (OpenCV 4.x, which this course also supports from 4.8 on, gives the same error as 5.x).
# Round or `floor`/`ceil` them yourself (section 4 says which).

# %%
try:
    cv2.rectangle(drawn.copy(), (172.0, 17.0), (409.0, 304.0), (255, 0, 0), 2)
except cv2.error as exc:
    reason = next(line for line in str(exc).splitlines() if "pt1" in line)
    print("float corners:", reason.strip(" >-"))

# %% [markdown]
# Instance masks (인스턴스 마스크) are drawn by blending a colour into the masked pixels
# (`alpha` of colour, `1 - alpha` of photo) and tracing their outline with
# `cv2.findContours` + `cv2.drawContours`. Here on an image of the shapes dataset, whose shapes
# occlude each other: each mask holds only the *visible* part of its shape.

# %%
from dlcv_utils.datasets.shapes import SHAPE_CLASSES, generate_sample

sample = generate_sample(7, split="train", image_size=cfg.image_size)


def draw_masks_cv2(image, masks, alpha=0.5):
    """Blend one colour per mask into a copy of ``image`` and outline each mask."""
    out = np.ascontiguousarray(image).astype(np.float32)
    for k, m in enumerate(masks.astype(bool)):
        color = np.array(PALETTE_RGB[k % len(PALETTE_RGB)], np.float32)
        out[m] = (1 - alpha) * out[m] + alpha * color
    out = np.round(out).astype(np.uint8)
    for k, m in enumerate(masks):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, PALETTE_RGB[k % len(PALETTE_RGB)], 1)
    return out


shape_names = [o.label for o in sample.ann.objects]
masked = draw_boxes_cv2(draw_masks_cv2(sample.image, sample.masks), [o.bbox for o in sample.ann.objects],
                        shape_names, thickness=1, scale=0.3)  # fmt: skip
print("objects:", shape_names)
print("mask pixels:", sample.masks.reshape(len(sample.masks), -1).sum(1).tolist())

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].imshow(drawn)
axes[0].set_title("OpenCV: boxes and tags")
axes[1].imshow(cv2.resize(masked, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST))
axes[1].set_title("OpenCV: masks, contours, boxes (3x)")
for ax in axes[:2]:
    ax.axis("off")
# the same with the course's matplotlib helper (used from here on)
from dlcv_utils.viz.plotting import show_image

show_image(sample.image, boxes=np.array([o.bbox for o in sample.ann.objects]),
           labels=sample.labels, masks=sample.masks,
           class_names=("__background__", *SHAPE_CLASSES), ax=axes[2])  # fmt: skip
axes[2].set_title("dlcv_utils.viz.plotting.show_image")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. One image, three annotation formats (VOC · COCO · YOLO)
#
# An **annotation** (어노테이션) is the label file that goes with an image: for detection, one
# box and one **object category** (객체 카테고리) per object. The formats below are named after
# the public benchmarks that introduced them, which differ mostly in size and number of classes:
#
# | dataset | annotation files | object categories |
# |---|---|---|
# | PASCAL VOC (2007, 2012) | one XML file per image | 20 |
# | MS COCO (2014, 2017) | one JSON file per split, with masks | 80 for detection, ids between 1 and 90 |
# | Open Images (V6, V7) | CSV files, one row per box (section 6) | 600 "boxable" classes |
#
# COCO's ids have gaps because they were assigned from the COCO paper's longer list of 91
# categories, of which 11 were not annotated; models that index their outputs by COCO id
# (torchvision's, for example) therefore have 91 outputs: background plus ids 1–90. YOLO is not
# a dataset but the plain-text layout of the YOLO tools (one text file per image).
#
# The course's synthetic **shapes dataset** is generated by a fixed recipe from a seed, and
# written to disk in all three layouts by `build_shapes` (the first call takes some seconds;
# later calls find the finished copy in the cache and return at once):
#
# ```
# voc/   JPEGImages/<img>.jpg   Annotations/<img>.xml          ImageSets/Main/<split>.txt
# coco/  images/<split>/<img>   annotations/instances_<split>.json
# yolo/  images/<split>/<img>   labels/<split>/<img>.txt       data.yaml
# ```

# %%
# NBVAL_IGNORE_OUTPUT
import time

from dlcv_utils.datasets.shapes import build_shapes

t0 = time.perf_counter()
shapes_root = build_shapes(image_size=cfg.image_size)
print(f"shapes dataset ready in {time.perf_counter() - t0:.1f} s at {shapes_root}")
assert (shapes_root / ".complete-coco").is_file()

# %% [markdown]
# Here is the first training image's annotation, the same boxes in three dialects
# (first two objects of each file):

# %%
stem = "train_000000"
voc_text = (shapes_root / "voc" / "Annotations" / f"{stem}.xml").read_text()
coco_json = json.loads((shapes_root / "coco" / "annotations" / "instances_train.json").read_text())
yolo_text = (shapes_root / "yolo" / "labels" / "train" / f"{stem}.txt").read_text()

coco_image = next(im for im in coco_json["images"] if im["file_name"] == f"{stem}.jpg")
coco_anns = [a for a in coco_json["annotations"] if a["image_id"] == coco_image["id"]]

print("=== PASCAL VOC (XML, one file per image) ===")
voc_lines = voc_text.splitlines()
end_of_second = [i for i, line in enumerate(voc_lines) if "</object>" in line][1]
print("\n".join(voc_lines[: end_of_second + 1]))
print("  ...")
print("\n=== COCO (one JSON per split) ===")
print(json.dumps(coco_image))
for a in coco_anns[:2]:
    short = dict(a, segmentation={"size": a["segmentation"]["size"],
                                  "counts": a["segmentation"]["counts"][:24] + "..."})  # fmt: skip
    print(json.dumps(short))
print("categories:", [(c["id"], c["name"]) for c in coco_json["categories"]])
print("\n=== YOLO (one .txt per image: class cx cy w h, normalised) ===")
print("\n".join(yolo_text.splitlines()[:2]))
print("data.yaml:", (shapes_root / "yolo" / "data.yaml").read_text().replace("\n", " | "))

# %% [markdown]
# Decoding the first object by hand from each dialect must give the same box
# `(x1, y1, x2, y2)`:
#
# * **VOC** writes 1-based, inclusive pixel *indices*: `x1 = xmin - 1`, `x2 = xmax`.
# * **COCO** writes `[x, y, width, height]` in continuous coordinates: `x2 = x + width`.
# * **YOLO** writes the centre and size divided by the image size, and a 0-based class id
#   (COCO's category ids start at 1; torchvision's labels also start at 1, with 0 = background).

# %%
import re

W = H = cfg.image_size
xmin, ymin, xmax, ymax = (float(re.search(f"<{t}>([0-9.]+)</{t}>", voc_text).group(1))
                          for t in ("xmin", "ymin", "xmax", "ymax"))  # fmt: skip
from_voc = (xmin - 1, ymin - 1, xmax, ymax)

x, y, w, h = coco_anns[0]["bbox"]
from_coco = (x, y, x + w, y + h)

cls, cx, cy, bw, bh = yolo_text.splitlines()[0].split()
cx, cy, bw, bh = float(cx) * W, float(cy) * H, float(bw) * W, float(bh) * H
from_yolo = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)

truth = generate_sample(0, split="train", image_size=cfg.image_size).ann.objects[0]
print(f"in memory : {truth.label:8s} {truth.bbox}")
print(f"from VOC  : {voc_text.split('<name>')[1].split('<')[0]:8s} {from_voc}")
print(f"from COCO : {SHAPE_CLASSES[coco_anns[0]['category_id'] - 1]:8s} {from_coco}")
print(f"from YOLO : {SHAPE_CLASSES[int(cls)]:8s} {tuple(round(v, 4) for v in from_yolo)}")
assert from_voc == truth.bbox and from_coco == truth.bbox
np.testing.assert_allclose(from_yolo, truth.bbox, atol=1e-3)  # 6 decimals of a fraction

# %% [markdown]
# `dlcv_utils.datasets` has readers and writers for all three (`read_voc`, `read_coco`,
# `read_yolo`, `write_*`, `read_dataset`, `convert`), and `validate` lists *every* problem of a
# folder. They agree with our hand decoding:

# %%
from dlcv_utils.datasets import read_dataset

lines = []
for fmt in ("voc", "coco", "yolo"):
    records, classes = read_dataset(shapes_root / fmt, fmt, "train")
    first = next(r for r in records if r.file_name == f"{stem}.jpg")
    lines.append(
        f"{fmt:4s}: {len(records)} images, classes={classes}, first box={first.objects[0].bbox}"
    )
print("\n".join(lines))

# %% [markdown]
# **The same image in Open Images' CSV.** Open Images (V6, V7) annotates 600 *boxable* classes
# and ships one box CSV per split with one row per box (section 6 explains every column):
# `ImageID, Source, LabelName, Confidence, XMin, XMax, YMin, YMax` and five flags. Three things
# differ from the formats above:
#
# * the coordinates are fractions of the image width and height, in the order
#   `XMin, XMax, YMin, YMax`, and the CSV has **no image size**: a reader opens each image
#   file's header (`PIL.Image.open(path).size` reads the size without decoding the pixels);
# * `LabelName` is a machine id (MID) such as `/m/01g317`; a separate **class-description
#   table** (클래스 설명 표), `class-descriptions-boxable.csv`, maps each MID to a display name
#   (`/m/01g317,Person`); the official table lists the 600 boxable classes, without a header;
# * each box has five flags, `1` (yes), `0` (no) or `-1` (unknown): `IsOccluded`,
#   `IsTruncated`, `IsGroupOf` (one box around several objects of the class, like COCO's
#   `iscrowd`), `IsDepiction` (a drawing or cartoon of the object, not a real one) and
#   `IsInside` (the picture was taken from inside the object, e.g. inside a car).
#
# `dlcv_utils.datasets` knows this layout as the format `"openimages"`:
# `root/<split>/<ImageID>.jpg`, `root/<split>-annotations-bbox.csv` and
# `root/class-descriptions-boxable.csv`, as in the official downloads. Our records keep
# `IsTruncated` (as `truncated`) and `IsGroupOf` (as `iscrowd`); the writer puts `-1` (unknown)
# in the three flags the records do not have, and gives our shape names, which are not Open
# Images classes, made-up MIDs `/dlcv/0`, `/dlcv/1`, .... `convert` copies the images and lists
# in its report what the target cannot hold:

# %%
from dlcv_utils.datasets import convert

oi_root = Path(tempfile.mkdtemp()) / "openimages"
report = convert(shapes_root / "voc", oi_root, "voc", "openimages", splits=["train"])
print(report.summary(), "| dropped:", report.losses)
print("files:", sorted(p.name for p in oi_root.iterdir()))
print("\n=== Open Images (one CSV per split: a row per box, fractions of the image size) ===")
oi_lines = (oi_root / "train-annotations-bbox.csv").read_text().splitlines()
print(oi_lines[0])
print("\n".join([line for line in oi_lines if line.startswith(f"{stem},")][:2]))
print("class-descriptions-boxable.csv:",
      (oi_root / "class-descriptions-boxable.csv").read_text().replace("\n", " | "))  # fmt: skip

image_id, _, mid, _, *fractions = oi_lines[1].split(",")[:8]
x_min, x_max, y_min, y_max = (float(v) for v in fractions)
from_oi = (x_min * W, y_min * H, x_max * W, y_max * H)  # note the order X, X, Y, Y
print(f"\nfrom Open Images: {image_id} {mid} {tuple(round(v, 4) for v in from_oi)}")
print(f"in memory       : {truth.bbox}")
np.testing.assert_allclose(from_oi, truth.bbox, atol=1e-6)  # 10 decimals of a fraction

# %% [markdown]
# Finally the four readers side by side: each panel is the same training image, loaded from
# that format's folder, with the boxes and class names its reader returned, drawn by
# `dlcv_utils.viz.plotting.show_image`. The boxes must agree to within the rounding of the
# text (YOLO writes 6 decimals of a fraction, Open Images 10).

# %%
from dlcv_utils.datasets.layout import image_path
from dlcv_utils.viz.plotting import show_image

four_roots = {
    "voc": shapes_root / "voc",
    "coco": shapes_root / "coco",
    "yolo": shapes_root / "yolo",
    "openimages": oi_root,
}
decoded = {}
fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
for ax, (fmt, root) in zip(axes, four_roots.items()):
    records, classes = read_dataset(root, fmt, "train")
    rec = next(r for r in records if r.file_name == f"{stem}.jpg")
    boxes = np.array([o.bbox for o in rec.objects])
    show_image(read_image_rgb(image_path(root, fmt, "train", rec.file_name)), boxes=boxes,
               labels=[classes.index(o.label) for o in rec.objects], class_names=classes,
               ax=ax, title=f"{fmt}: {len(boxes)} boxes")  # fmt: skip
    decoded[fmt] = (boxes, [o.label for o in rec.objects])
plt.tight_layout()
plt.show()
ref_boxes, ref_labels = decoded["voc"]
for fmt, (boxes, labels) in decoded.items():
    print(f"{fmt:10s} labels equal: {labels == ref_labels}   "
          f"max |box - VOC box| = {np.abs(boxes - ref_boxes).max():.1e} px")  # fmt: skip
    assert labels == ref_labels
    np.testing.assert_allclose(boxes, ref_boxes, atol=1e-3)

# %% [markdown]
# ### Exercise 1 — a YOLO label line as a COCO box
#
# Write `my_yolo_to_coco(line, width, height)`: `line` is one line of a YOLO label file,
# `"class cx cy w h"` with the box centre and size divided by the image width and height; return
# `(class_id, [x, y, w, h])`, the class id as an int and the COCO box in pixels (top-left
# corner, width, height). The check tries square, wide and tall images, boxes on the image
# border, messy whitespace and 100 random lines, and tells you the first case that goes wrong.
# Replace the `raise NotImplementedError` line with your code, then run the check cell.
# Stuck? `show_solution("yolo_to_coco")` prints a model solution.


# %%
def my_yolo_to_coco(line, width, height):
    """One YOLO line "class cx cy w h" (normalised) -> (class_id, [x, y, w, h]) in pixels."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_open_images_row, check_yolo_to_coco, show_solution

_ = check_yolo_to_coco(my_yolo_to_coco)

# %% [markdown]
# ## 4. Pixel pitfalls: float boxes, integer pixels, `area`
#
# A box is a rectangle in a *continuous* plane whose pixel `(i, j)` is the unit square
# `[j, j + 1) × [i, i + 1)`. Three mistakes follow from forgetting that:
#
# 1. **Off-by-one widths.** VOC's `xmin = 4, xmax = 8` covers pixels 4..8 of a 1-based grid:
#    five pixels. `xmax - xmin = 4` is wrong; `xmax - (xmin - 1) = 5` is right.
# 2. **Truncating float boxes when cropping.** `int()` rounds towards zero, which cuts off the
#    partly covered pixels on the right/bottom. Use `floor` for the start and `ceil` for the end.
# 3. **COCO's `area` is the mask area**, not `width × height`. Evaluation uses it to sort objects
#    into small / medium / large — for a triangle the two differ by about a factor of two.

# %%
mask = np.zeros((6, 12), np.uint8)
mask[1:4, 3:8] = 1  # columns 3..7 (0-based) -> five pixels wide
ys, xs = np.nonzero(mask)
box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # pixel edges
voc_xmin, voc_xmax = xs.min() + 1, xs.max() + 1  # 1-based inclusive indices
print(f"mask box (edges) = {tuple(int(v) for v in box)}, width = {box[2] - box[0]}")
print(f"VOC xmin={voc_xmin} xmax={voc_xmax}: naive width {voc_xmax - voc_xmin}, "
      f"correct width {voc_xmax - (voc_xmin - 1)}")  # fmt: skip
assert box[2] - box[0] == voc_xmax - (voc_xmin - 1) == 5

fbox = (10.6, 5.2, 20.4, 15.9)
truncated = tuple(int(v) for v in fbox)
covering = (
    int(np.floor(fbox[0])),
    int(np.floor(fbox[1])),
    int(np.ceil(fbox[2])),
    int(np.ceil(fbox[3])),
)
print(f"float box {fbox}: int() -> {truncated}, floor/ceil -> {covering}")
assert covering[2] > fbox[2] > truncated[2]

# %%
from pycocotools import mask as mask_utils

tri = next((o, m) for o, m in zip(sample.ann.objects, sample.masks) if o.label == "triangle")
obj, m = tri
bw, bh = obj.bbox[2] - obj.bbox[0], obj.bbox[3] - obj.bbox[1]
print(
    f"triangle: box {bw:.0f} x {bh:.0f} = {bw * bh:.0f} px², COCO area (mask) = {obj.area:.0f} px²"
)
rle = mask_utils.encode(np.asfortranarray(m))
print("pycocotools: area", int(mask_utils.area(rle)), " toBbox", mask_utils.toBbox(rle).tolist())
assert mask_utils.area(rle) == obj.area
x, y, w, h = mask_utils.toBbox(rle)
assert (x, y, x + w, y + h) == obj.bbox  # pycocotools also uses pixel edges

# %% [markdown]
# ## 5. A tour of pycocotools' COCO API
#
# `pycocotools.coco.COCO` indexes a COCO JSON file: categories, images and annotations by id,
# and the reverse maps (which images contain a star? which annotations belong to image 5?).
# Its constructor prints load times, so we silence it.

# %%
from pycocotools.coco import COCO

with contextlib.redirect_stdout(io.StringIO()):
    coco = COCO(str(shapes_root / "coco" / "annotations" / "instances_train.json"))

cat_ids = coco.getCatIds()
print("categories:", [(c["id"], c["name"]) for c in coco.loadCats(cat_ids)])
star_id = coco.getCatIds(catNms=["star"])[0]
star_images = coco.getImgIds(catIds=[star_id])
print(f"images: {len(coco.getImgIds())}, of which with a star: {len(star_images)}")
print(f"annotations: {len(coco.getAnnIds())}, stars: {len(coco.getAnnIds(catIds=[star_id]))}")

img_info = coco.loadImgs(8)[0]
anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_info["id"]], iscrowd=None))
print("image 8:", img_info)
for a in anns:
    print(f"  ann {a['id']}: {coco.loadCats(a['category_id'])[0]['name']:8s} "
          f"bbox={[round(v, 1) for v in a['bbox']]} area={a['area']:.0f}")  # fmt: skip

# annToMask decodes the RLE back to a mask; it must equal the generator's mask
# image id 8 is training index 7: the `sample` drawn in section 2
for a, m in zip(anns, sample.masks):
    assert np.array_equal(coco.annToMask(a), m)
print("annToMask == generator masks for all", len(anns), "objects")

# %%
image8 = read_image_rgb(shapes_root / "coco" / "images" / "train" / img_info["file_name"])
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
axes[0].imshow(image8)
axes[0].set_title(img_info["file_name"])
axes[1].imshow(image8)
plt.sca(axes[1])
coco.showAnns(anns, draw_bbox=True)  # pycocotools draws masks and boxes on the current axes
axes[1].set_title("COCO.showAnns")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 6. Open Images' CSV layout
#
# Google's Open Images dataset ships its boxes as one big CSV per split. Each row is one box:
#
# | column | meaning |
# |---|---|
# | `ImageID` | the image's id (file name without `.jpg`) |
# | `Source` | who drew the box: `xclick` (a person, by clicking the extreme points), `activemil` (a model, verified by a person) |
# | `LabelName` | a *machine id* (MID) such as `/m/01g317`; a separate `class-descriptions` CSV maps MIDs to names (`Person`) |
# | `Confidence` | 1 for verified boxes |
# | `XMin, XMax, YMin, YMax` | box edges **divided by the image width/height** — and note the order: both x first, then both y |
# | `IsOccluded, IsTruncated, IsGroupOf, IsDepiction, IsInside` | flags; `IsGroupOf` marks a box around a group (like COCO's `iscrowd`) |
#
# The CSV holds no image size: to get pixels you must read it from the image file. Here is a
# tiny CSV in that layout for two of our photos, decoded into our records:

# %%
import csv

from dlcv_utils.datasets import ImageAnn, ObjectAnn

oi_csv = """\
ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside
coffee,xclick,/m/02p5f1q,1,0.286667,0.683333,0.042500,0.762500,0,0,0,0,0
coffee,xclick,/m/0cmx8,1,0.541667,0.708333,0.165000,0.815000,1,0,0,0,0
chelsea,xclick,/m/01yrx,1,0.000000,0.827051,0.000000,1.000000,0,1,0,0,0
"""
mid_to_name = {"/m/02p5f1q": "cup", "/m/0cmx8": "spoon", "/m/01yrx": "cat"}  # via the MID list


def open_images_row_to_object(row, width, height, names):
    """One Open Images CSV row -> ObjectAnn with absolute (x1, y1, x2, y2)."""
    x1, x2 = float(row["XMin"]) * width, float(row["XMax"]) * width
    y1, y2 = float(row["YMin"]) * height, float(row["YMax"]) * height
    return ObjectAnn(
        label=names[row["LabelName"]],
        bbox=(x1, y1, x2, y2),
        truncated=row["IsTruncated"] == "1",
        iscrowd=row["IsGroupOf"] == "1",
    )


sizes = {ann.file_name[:-4]: (ann.width, ann.height) for _, ann in photos}
records_oi: dict[str, ImageAnn] = {}
for row in csv.DictReader(io.StringIO(oi_csv)):
    width, height = sizes[row["ImageID"]]  # from the image file, not the CSV
    rec = records_oi.setdefault(row["ImageID"], ImageAnn(row["ImageID"] + ".jpg", width, height))
    rec.objects.append(open_images_row_to_object(row, width, height, mid_to_name))

for rec in records_oi.values():
    hand = next(ann for _, ann in photos if ann.file_name == rec.file_name)
    for got, want in zip(rec.objects, hand.objects):
        print(f"{rec.file_name:12s} {got.label:6s} CSV -> {tuple(round(v, 1) for v in got.bbox)}"
              f"   hand-drawn {want.bbox}")  # fmt: skip
        np.testing.assert_allclose(got.bbox, want.bbox, atol=0.01)

# %% [markdown]
# The library's reader `read_openimages` decodes the same CSV, reading each image's size from
# its file header and checking every row (numbers, `0 <= XMin < XMax <= 1`, flags in
# `{1, 0, -1}`, known MIDs, safe `ImageID`s). It agrees with the decoder above. (`warn=False`:
# the records have no field for the spoon's `IsOccluded=1`, which the reader would otherwise
# report as dropped.)

# %%
from dlcv_utils.datasets import read_openimages

oi_dir = Path(tempfile.mkdtemp())
(oi_dir / "boxes.csv").write_text(oi_csv)
library_records, _ = read_openimages(oi_dir / "boxes.csv", photos_dir() / "coco" / "images" / "val",
                                     mid_to_name, warn=False)  # fmt: skip
for rec in library_records:
    hand = records_oi[rec.file_name[:-4]]
    np.testing.assert_allclose([o.bbox for o in rec.objects], [o.bbox for o in hand.objects],
                               atol=1e-6)  # fmt: skip
    print(f"{rec.file_name:12s} {rec.width}x{rec.height} {[o.label for o in rec.objects]}: "
          "same boxes as the hand decoder")  # fmt: skip

# %% [markdown]
# ### Exercise 2 — one Open Images row in pixels
#
# Write `my_open_images_row(row, width, height)` without looking at `open_images_row_to_object`
# above: `row` is a dict of strings as `csv.DictReader` returns it; return the box
# `(x1, y1, x2, y2)` in pixels. Mind the column order, `XMin, XMax, YMin, YMax`. Model solution:
# `show_solution("open_images_row")`.


# %%
def my_open_images_row(row, width, height):
    """Open Images CSV row (normalised XMin, XMax, YMin, YMax) -> (x1, y1, x2, y2) in pixels."""
    raise NotImplementedError  # your code here


# %%
_ = check_open_images_row(my_open_images_row)

# %% [markdown]
# ## 7. Dataset statistics (데이터셋 통계)
#
# Before training, look at what the model will see: how many objects of each class, how big,
# what shape. These numbers decide the anchor sizes and **aspect ratios** (종횡비: width /
# height) of later lessons, and how much of the score comes from small objects (COCO calls a
# box *small* below 32² pixels, *large* above 96²).

# %%
from dlcv_utils.datasets.shapes import dataset_stats, make_split

train = make_split("train", n=cfg.n_stats, image_size=cfg.image_size)
stats = dataset_stats(train)
print(f"images {stats['images']}, objects {stats['objects']}, "
      f"objects/image {stats['objects_per_image']:.2f}")  # fmt: skip
print("class counts:", stats["class_counts"])
print(f"small {stats['small']:.1%}  medium {stats['medium']:.1%}  large {stats['large']:.1%}  "
      f"smallest side {stats['min_side']:.0f}px  median sqrt(area) {stats['median_side']:.1f}px")  # fmt: skip

all_boxes = np.array([o.bbox for s in train for o in s.ann.objects])
wh = all_boxes[:, 2:] - all_boxes[:, :2]
photo_boxes = np.array([o.bbox for _, ann in photos for o in ann.objects])
photo_wh = photo_boxes[:, 2:] - photo_boxes[:, :2]

fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
axes[0].bar(list(stats["class_counts"]), list(stats["class_counts"].values()), color="tab:blue")
axes[0].set_title("boxes per class")
per_image = np.bincount([len(s.ann.objects) for s in train])
axes[1].bar(range(len(per_image)), per_image, color="tab:orange")
axes[1].set_title("objects per image")
side = np.sqrt(wh[:, 0] * wh[:, 1])
axes[2].hist(side, bins=30, color="tab:green")
axes[2].axvline(32, color="k", ls="--", label="COCO small / medium")
axes[2].set_title("box size sqrt(w·h) [px]")
axes[2].legend(fontsize=8)
axes[3].hist(np.log2(wh[:, 0] / wh[:, 1]), bins=30, range=(-2, 2), color="tab:purple",
             label="shapes")  # fmt: skip
axes[3].scatter(np.log2(photo_wh[:, 0] / photo_wh[:, 1]), np.full(len(photo_wh), 5), color="k",
                marker="v", label="photo set")  # fmt: skip
axes[3].set_title("aspect ratio log2(w / h)")
axes[3].legend(fontsize=8)
plt.tight_layout()
plt.show()
assert stats["objects"] == len(all_boxes) and stats["small"] > 0.3

# %% [markdown]
# The shapes are mostly small, spread evenly over five classes, and nearly square (their
# aspect ratio sits near 1, i.e. log2 ≈ 0) — unlike real photos, where people stand tall and
# cars lie wide. A detector tuned on this dataset alone would learn little about elongated
# boxes; keep that in mind when we choose anchor aspect ratios in lesson 05.

# %%
from dlcv_utils.course.report import key_figure

_ = key_figure("shapes train boxes", stats["objects"], fmt="{:.0f}")

# %% [markdown]
# ## 8. Video in and out with OpenCV (동영상 읽기/쓰기)
#
# A video file is a *container* (`.mp4`, `.avi`) holding a stream of **frames** (프레임)
# compressed by a **codec** (코덱), named by a four-character code (FourCC).
# `cv2.VideoWriter(path, fourcc, fps, (width, height))` writes BGR frames; `cv2.VideoCapture(path)` reads them back one `read()` at a time
# and reports properties such as `CAP_PROP_FPS` and `CAP_PROP_FRAME_COUNT`. Which codecs work
# depends on how OpenCV was built; the pip wheels have no H.264 encoder, and a writer that
# cannot open its codec fails *silently* (`isOpened()` is `False` and nothing is written).
#
# Our clip: a camera panning across two shapes images, with the boxes moving along.

# %%
from dlcv_utils.viz.video import codec_works, moving_shapes_clip, read_video, write_video

frames, clip_boxes, clip_labels = moving_shapes_clip(
    cfg.video_frames, step=cfg.video_step, image_size=cfg.image_size
)
print(f"{len(frames)} frames of {frames[0].shape}, boxes in frame 0: {len(clip_boxes[0])}")

for fourcc, suffix in [("mp4v", ".mp4"), ("MJPG", ".avi"), ("XVID", ".avi"), ("avc1", ".mp4")]:
    print(f"  {fourcc} in {suffix}: {'works' if codec_works(fourcc, suffix) else 'NOT available'}")

# %%
workdir = Path(tempfile.mkdtemp())
path = workdir / "shapes_pan.mp4"
writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), cfg.video_fps,
                         (frames[0].shape[1], frames[0].shape[0]))  # fmt: skip
assert writer.isOpened()
for f in frames:
    writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))  # OpenCV wants BGR
writer.release()

cap = cv2.VideoCapture(str(path))
read_back = []
while True:
    ok, frame = cap.read()
    if not ok:
        break
    read_back.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
fps = cap.get(cv2.CAP_PROP_FPS)
count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
fourcc_int = int(cap.get(cv2.CAP_PROP_FOURCC))
cap.release()
fourcc_read = fourcc_int.to_bytes(4, "little").decode("latin-1")
print(f"wrote {len(frames)} frames at {cfg.video_fps} fps; read {len(read_back)} frames, "
      f"container says {count} frames at {fps:.1f} fps, FourCC {fourcc_read!r}")  # fmt: skip
assert len(read_back) == count == len(frames) and fps == cfg.video_fps
err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, read_back)])
print(f"mean |error| per pixel after lossy MPEG-4 compression: {err:.1f} grey levels")
assert err < 15

# %% [markdown]
# We asked for `mp4v` and the file reports `FMP4`: FFmpeg's own tag for the same MPEG-4 Part 2
# codec. The pixels come back close, not equal — the codec is lossy, so never store
# ground-truth images as video. `dlcv_utils.viz.video` wraps the two loops above
# (`write_video`, `read_video`, which also convert BGR↔RGB) and checks the codec opened:

# %%
video = read_video(write_video(frames, workdir / "again.avi", fps=cfg.video_fps, fourcc="MJPG"))
print(f"MJPG/avi: {len(video.frames)} frames, {video.frame_count} in header, {video.fps:.1f} fps, "
      f"FourCC {video.fourcc!r}, {video.width}x{video.height}")  # fmt: skip
assert len(video.frames) == video.frame_count == len(frames)
try:
    write_video(frames, workdir / "h264.mp4", fps=cfg.video_fps, fourcc="avc1")
except ValueError as exc:
    print("avc1:", exc)
_ = key_figure("video frames round-tripped", len(video.frames), fmt="{:.0f}")

# %% [markdown]
# Scrub through the decoded clip with the slider (the boxes come from the generator, shifted
# with the camera):

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.video import make_frame_slider, render_frame

panel = make_frame_slider(video.frames, clip_boxes, clip_labels, ("bg", *SHAPE_CLASSES))
assert panel.children[0].max == len(video.frames) - 1
panel

# %% [markdown]
# Without a live kernel (e.g. on GitHub) the slider is inert; the same callback draws a few
# frames here:

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, t in zip(axes, np.linspace(0, len(video.frames) - 1, 4).astype(int)):
    ax.imshow(render_frame(video.frames, int(t), clip_boxes, clip_labels, ("bg", *SHAPE_CLASSES)))
    ax.set_title(f"frame {t}")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Summary
#
# * OpenCV reads **BGR**; Pillow, scikit-image, matplotlib and torchvision use **RGB**. Convert
#   once, at the file boundary.
# * VOC: 1-based inclusive pixel indices in XML. COCO: float `[x, y, w, h]` plus masks and a
#   mask `area`, one JSON per split. YOLO: normalised `cx cy w h` and 0-based class ids, one
#   text file per image. Open Images: normalised `XMin, XMax, YMin, YMax` rows in a CSV, MIDs
#   for class names.
# * Boxes live in continuous coordinates; when you go to pixels, `floor` the start and `ceil`
#   the end, and draw with `x2 - 1` as the last pixel.
# * Check a dataset's statistics before training on it, and check a codec before trusting a
#   video file.
#
# **Exercises.** (1) Write a YOLO → COCO converter for one label file by hand and compare it with
# `dlcv_utils.datasets.convert`. (2) Extend the Open Images decoder to skip rows with
# `Confidence` 0. (3) Plot the box-size histogram of the `val` split at `image_size=256`; which
# COCO size bucket appears?

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | load an image | 이미지 읽기 | 1. Three ways to load an image |
# | colour channels | 색상 채널 | 1. Three ways to load an image |
# | drawing boxes | 바운딩 박스 시각화 | 2. Drawing boxes, labels and masks with OpenCV |
# | instance masks | 인스턴스 마스크 | 2. Drawing boxes, labels and masks with OpenCV |
# | annotation | 어노테이션 | 3. One image, three annotation formats |
# | object category | 객체 카테고리 | 3. One image, three annotation formats |
# | class-description table | 클래스 설명 표 | 3. One image, three annotation formats |
# | dataset statistics | 데이터셋 통계 | 7. Dataset statistics |
# | aspect ratio | 종횡비 | 7. Dataset statistics |
# | video in and out | 동영상 읽기/쓰기 | 8. Video in and out with OpenCV |
# | frame | 프레임 | 8. Video in and out with OpenCV |
# | codec | 코덱 | 8. Video in and out with OpenCV |
