# %% [markdown]
# # Lesson 14 — Every detector side by side
#
# Thirteen lessons built and trained a detector of every family on the same shapes data:
# R-CNN and Fast R-CNN (04), Faster R-CNN (05), the FPN (06), a single-shot detector (07), SSD
# (08), the course's YOLO (09), Ultralytics YOLO (10), RetinaNet (11), EfficientDet (12) and
# Mask R-CNN (13). Each lesson's training run is also a row of the detector **benchmark**
# (벤치마크), `benchmarks/bench_detectors.py`, which runs the lesson's own recipe with the
# lesson's own settings and evaluates it with the same metric code (`coco_evaluate`).
#
# In this lesson you
#
# 1. read the benchmark's **results file** (결과 파일) and check that it covers every family;
# 2. see what **AP by object size** (객체 크기별 AP) measures on the shapes validation images;
# 3. draw the **speed–accuracy trade-off** (속도-정확도 트레이드오프) and find its
#    **Pareto front** (파레토 프런티어), in a cell and then with a widget;
# 4. rerun one small model live and check that the file's numbers hold;
# 5. read the table for a real-time budget and for small objects (two checked exercises);
# 6. see which real **pretrained model** (사전 학습 모델) to reach for in practice, and where
#    to go next.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from dlcv_utils.course.settings import lesson_setup

device, cfg = lesson_setup("14")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(f"device: {device.type}; results file: detectors_{cfg.results_device}.json")

# %% [markdown]
# ## 1. The results file
#
# `python benchmarks/bench_detectors.py` writes one JSON file per device kind,
# `benchmarks/results/detectors_cpu.json` here. Every row holds the model, its family and
# lesson, val mAP@0.5, mAP@[.5:.95], COCO's AP of small, medium and large objects, the number
# of parameters, CPU milliseconds per image (model forward only), the training time, the
# iterations, why training stopped (if early), and when, at which commit and under which
# load it ran. The file also records the machine and every lesson's settings.
# `--only NAME` reruns one row and merges it in, so the file can be refreshed row by row.
#
# All rows were measured with **one CPU thread** (the lessons' CPU settings): slow, but
# repeatable. A timing measured while other programs share the CPU is inflated; the accuracy
# is not, unless a run was so slow that its time budget changed its learning-rate schedule
# (the row's `on_pace` says whether it ran on its plain schedule).

# %%
from dlcv_utils.course import comparison

results = comparison.load_results(comparison.results_path(cfg.results_device))
dev = results["device"]
print(f"device: {dev['cpu']} ({dev['cpu_count']} cores), torch {dev['torch']}")
print(
    f"written {results['date'][:10]} at commit {results['commit'][:8]}; {len(results['rows'])} rows"
)

# %% [markdown]
# One row per family, or the lesson stops here. The families whose lessons are still being
# written are listed in the settings (`cfg.pending_rows`): they are named below, never skipped
# in silence; any other missing row is an error that says which command adds it.

# %%
names = comparison.check_coverage(results, comparison.REQUIRED_ROWS, allow_missing=cfg.pending_rows)
pending = [n for n in comparison.REQUIRED_ROWS if n not in results["rows"]]
if pending:
    print("NOT IN THE FILE YET:", ", ".join(f"{n} ({comparison.FAMILIES[n]})" for n in pending))
print(comparison.format_table(results, names))

# %% [markdown]
# `AP_S`, `AP_M`, `AP_L` are COCO's AP of small, medium and large objects, `-` where the
# validation images have no object of that size; `params` is in millions. Each lesson
# validates on the first `n_val` images of the *same* validation split (an image depends only
# on its index), 128 px, so every row is scored on the same kind of images:

# %%
for name in names:
    row = results["rows"][name]
    data = results["settings"][row["lesson"]]["data"]
    print(
        f"{name:14s} lesson {row['lesson']}: n_val {data['n_val']:3d}, {data['image_size']} px, "
        f"{row['iterations']:5d} iterations, on pace: {row['on_pace']}"
    )

# %% [markdown]
# ## 2. AP by object size
#
# COCO splits the ground truth by **area** (면적) in pixels: small below 32², medium from 32²
# to 96², large above. AP_S is the AP with the small objects as the only ground truth: the
# objects of other sizes are set aside ("ignored"), and so are the detections that match
# them and the unmatched detections of other sizes, so a detector is neither rewarded nor
# punished there. Counted by hand on the 150 validation images most lessons use (the shapes'
# area is their box's area):

# %%
import numpy as np

from dlcv_utils.datasets.shapes import ShapesDetection

val = ShapesDetection("val", n=150, image_size=128)
boxes = [np.asarray(val[i][1]["boxes"], dtype=float) for i in range(len(val))]
areas = np.concatenate([(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) for b in boxes])
small, large = 32**2, 96**2
counts = {
    "small": int((areas < small).sum()),
    "medium": int(((areas >= small) & (areas < large)).sum()),
    "large": int((areas >= large).sum()),
}
print(f"{len(areas)} objects:", counts)

# %% [markdown]
# The thresholds are pycocotools' own (`Params().areaRng`; the course's `coco_evaluate` uses
# the same). No shape is larger than 96 × 96 px, hence the `-` in the AP_L column: with no
# ground truth of that size there is nothing to measure (pycocotools writes -1).

# %%
from pycocotools.cocoeval import Params

area_rng = dict(zip(Params(iouType="bbox").areaRngLbl, Params(iouType="bbox").areaRng))
print("pycocotools:", {k: v for k, v in area_rng.items() if k != "all"})
assert area_rng["small"] == [0, small] and area_rng["medium"] == [small, large]
assert counts["large"] == 0

# %% [markdown]
# ## 3. Speed against accuracy
#
# A detector is never just "the most accurate": a phone, a video stream or a robot has a
# budget of milliseconds per image, memory for parameters, hours for training. A model is on
# the **Pareto front** if no other model is at least as cheap *and* at least as accurate (and
# strictly better in one). Only those are worth choosing; everything else is beaten. Written
# out:


# %%
def my_pareto_front(points):
    """points: [(cost, accuracy), ...] -> indices on the front, cheapest first."""
    front = []
    for i, (x, y) in enumerate(points):
        beaten = any(
            x2 <= x and y2 >= y and (x2 < x or y2 > y)
            for j, (x2, y2) in enumerate(points)
            if j != i
        )
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


rows = comparison.table_rows(results, names)
points = [(r["infer_ms"], r["map50"]) for r in rows]
front = my_pareto_front(points)
print("Pareto front (ms/image -> mAP@0.5):", [rows[i]["family"] for i in front])

# %% [markdown]
# The package's `pareto_front` (used by the plot and the widget) gives the same indices, on
# these rows and on every cost:

# %%
from dlcv_utils.viz.widgets.comparison import COSTS, METRICS, pareto_front

for cost in COSTS:
    for metric in METRICS:
        pts = [(r[cost], r[metric]) for r in rows if r[metric] >= 0]
        assert pareto_front(pts) == my_pareto_front(pts), (cost, metric)
print(f"identical on {len(COSTS)} costs x {len(METRICS)} metrics")

# %% [markdown]
# The plot: cost on a log axis (the models span two orders of magnitude), the front dashed,
# the models on it outlined.

# %%
from dlcv_utils.viz.widgets.comparison import speed_accuracy_panel

fig, ax = plt.subplots(figsize=(8, 5))
panel = speed_accuracy_panel(rows, "map50", "infer_ms", ax=ax)
fig.tight_layout()
plt.show()
print("best mAP@0.5:", panel["best"], "| front:", ", ".join(panel["front"]))

# %% [markdown]
# Try it: pick the accuracy (y) and the cost (x). Which families are on the front for small
# objects? For parameters? For training time?

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.comparison import make_speed_accuracy_widget

make_speed_accuracy_widget(rows, metric="map50", cost="infer_ms")

# %% [markdown]
# ## 4. Do the numbers hold? One row, rerun live
#
# The benchmark's rows come from the same code as the lessons' cells
# (`dlcv_utils.course.recipes.run_benchmark`), with one CPU thread, so a run is
# **reproducible** (재현 가능): the same settings give the same weights and the same mAP.
# Rerun the row of lesson 07's single-shot detector (`cfg.live_row`; about 40 s on a quiet
# CPU) and compare it with the file:

# %%
# NBVAL_IGNORE_OUTPUT
import time

from dlcv_utils.course.recipes import run_benchmark
from dlcv_utils.course.report import key_figure

t0 = time.perf_counter()
live = run_benchmark(cfg.live_row, device=cfg.live_device)
stored = results["rows"][cfg.live_row]
print(f"{stored['model']}: {time.perf_counter() - t0:.0f} s here")
for key in ("map50", "map", "ap_small", "ap_medium"):
    print(f"  {key:9s} file {stored[key]:.3f}   live {live[key]:.3f}")
print(
    f"  ms/image  file {stored['infer_ms']:.1f}   live {live['infer_ms']:.1f} (timing: machine, load)"
)
if live["on_pace"] and stored["on_pace"]:
    for key in ("map50", "map"):
        assert abs(live[key] - stored[key]) <= cfg.live_tolerance, (key, live[key], stored[key])
    print("equal to 3 decimals: both runs ran on their plain schedule")
else:  # one run was too slow for its time budget: its schedule followed the clock
    print("NOT comparable to 3 decimals: a run was too slow for its budget (on_pace False)")
    assert abs(live["map50"] - stored["map50"]) <= 0.1
live_map50 = key_figure(f"live {cfg.live_row} val mAP@0.5", live["map50"])

# %% [markdown]
# ## 5. Reading the table
#
# ### Exercise 1 — a real-time budget
#
# Video at 30 frames per second leaves `1000 / 30 ≈ 33.3` ms per image. Write
# `my_best_under_budget(rows, budget_ms)`: the `name` of the most accurate row (by `map50`)
# whose `infer_ms` is at most `budget_ms`; on a tie the faster one; `None` if no row is fast
# enough. The check runs it on this lesson's table with every inference time in it as a
# budget, then on made-up tables. Stuck? `show_solution("best_under_budget")`.


# %%
def my_best_under_budget(rows, budget_ms):
    """rows: list of row dicts; -> the name of the most accurate row within the budget."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_best_small, check_best_under_budget, show_solution

_ = check_best_under_budget(my_best_under_budget, rows=rows)

# %% [markdown]
# ### Exercise 2 — small objects
#
# Write `my_best_small(rows)`: the `name` of the row with the highest `ap_small`. Careful:
# `-1` means "no small objects were evaluated", it is not a score; return `None` if no row has
# one. Model solution: `show_solution("best_small")`.


# %%
def my_best_small(rows):
    """rows: list of row dicts -> the name of the row with the best AP on small objects."""
    raise NotImplementedError  # your code here


# %%
_ = check_best_small(my_best_small, rows=rows)

# %% [markdown]
# What do the answers say? Read them with the package's `best_model` (the checkers'
# reference):

# %%
fast = comparison.best_model(results, "map50", "infer_ms", cfg.realtime_ms)
print(f"most accurate within {cfg.realtime_ms:.1f} ms/image: {fast}")
print(f"best AP on small objects: {comparison.best_model(results, 'ap_small')}")
print(f"most accurate overall:    {comparison.best_model(results, 'map50')}")

# %% [markdown]
# ## 6. In practice: which pretrained model?
#
# Our models are tiny and trained from scratch for a minute on synthetic shapes; that is what
# made every line of them visible. On real images you start from a model **pretrained**
# (사전 학습) on COCO and **fine-tune** (미세 조정) it on your data. torchvision records, for
# each of its detection weights, the COCO val2017 box AP and the number of parameters. The
# architectures are built here with random weights (nothing is downloaded), and their counted
# parameters equal torchvision's records:

# %%
import torchvision.models.detection as tvd

real = {
    "fasterrcnn_resnet50_fpn_v2": tvd.FasterRCNN_ResNet50_FPN_V2_Weights,
    "retinanet_resnet50_fpn_v2": tvd.RetinaNet_ResNet50_FPN_V2_Weights,
    "maskrcnn_resnet50_fpn_v2": tvd.MaskRCNN_ResNet50_FPN_V2_Weights,
    "ssdlite320_mobilenet_v3_large": tvd.SSDLite320_MobileNet_V3_Large_Weights,
}
for builder, weights in real.items():
    meta = weights.DEFAULT.meta
    model = getattr(tvd, builder)(weights=None, weights_backbone=None)
    n = sum(p.numel() for p in model.parameters())
    assert n == meta["num_params"], (builder, n, meta["num_params"])
    coco = meta["_metrics"]["COCO-val2017"]
    extra = f", mask AP {coco['mask_map']}" if "mask_map" in coco else ""
    print(f"{builder:30s} {n / 1e6:5.1f} M params   COCO box AP {coco['box_map']}{extra}")
    del model

# %% [markdown]
# Which one to reach for:
#
# | need | reach for | why |
# |---|---|---|
# | best accuracy, a GPU, no hurry | torchvision `fasterrcnn_resnet50_fpn_v2` (46.7 box AP) | the lesson 05–06 detector at full size; easy to fine-tune (`num_classes`), well documented |
# | masks too | torchvision `maskrcnn_resnet50_fpn_v2` (47.4 box / 41.8 mask AP) | lesson 13's model at full size |
# | one stage, dense objects | torchvision `retinanet_resnet50_fpn_v2` (41.5 box AP) | lesson 11's focal loss; no proposals |
# | real time, CPU or edge device | Ultralytics YOLO11 (`yolo11n.pt` ≈ 39.5 mAP, 2.6 M params; `yolo11s.pt` ≈ 47.0) | lesson 10's API: train, validate, export to ONNX / OpenVINO / TensorRT in a line; AGPL-3.0 |
# | a phone, tiny memory | torchvision `ssdlite320_mobilenet_v3_large` (21.3 box AP, 3.4 M params) | lesson 08's SSD on a mobile backbone |
# | transformer, no NMS | RT-DETR (Ultralytics `rtdetr-l.pt` ≈ 53 mAP; Hugging Face `transformers`) or DETR (`facebook/detr-resnet-50`, 42.0 AP) | set prediction: one query per object, no anchors, no NMS |
# | scaling knobs | EfficientDet via `effdet` (`tf_efficientdet_d0` … `d7`) | lesson 12's BiFPN and compound scaling |
#
# The AP figures are the model cards' (torchvision's records above, Ultralytics' and the
# papers' for the others), on COCO val2017; they are not comparable with our shapes numbers,
# only with each other. The rule of this lesson still holds: pick on *your* budget (ms per
# image on *your* device, memory) and *your* objects (small ones?), then measure on *your*
# validation set with the same metric code for every candidate.
#
# ## 7. Where to go next
#
# * **DETR** and its successors (Deformable DETR, DINO, RT-DETR): detection as set
#   prediction with a transformer, trained with Hungarian matching; the current state of the
#   art.
# * **Segmentation** (분할): semantic and panoptic segmentation (Mask2Former), promptable
#   segmentation (SAM), after lesson 13's instance masks.
# * **Tracking** (추적): detections linked across video frames (SORT, ByteTrack, BoT-SORT;
#   `model.track` in Ultralytics), after lesson 07's video detection.
# * **Open-vocabulary detection**: find classes named in text (OWL-ViT, Grounding DINO,
#   YOLO-World), no retraining.
# * **Deployment**: quantisation, ONNX Runtime, OpenVINO, TensorRT (lesson 07 did ONNX and
#   OpenCV DNN), measured with the benchmark's one rule: same data, same metric, say the
#   device and the load.
#
# ## Summary
#
# * One benchmark, one results file: every family, the same validation images, the same
#   metric code, the machine and the settings recorded; rerun a row with
#   `bench_detectors.py --only NAME`.
# * Accuracy is several numbers (mAP@0.5, mAP@[.5:.95], AP by object size), cost is several
#   numbers (ms per image, parameters, training time); choose on the Pareto front of *your*
#   budget.
# * Runs with one thread are reproducible; a row's timing depends on the machine and its load,
#   its accuracy does not (unless the time budget changed its schedule).

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | benchmark | 벤치마크 | Lesson 14 — Every detector side by side |
# | results file | 결과 파일 | 1. The results file |
# | AP by object size | 객체 크기별 AP | 2. AP by object size |
# | area | 면적 | 2. AP by object size |
# | speed–accuracy trade-off | 속도-정확도 트레이드오프 | 3. Speed against accuracy |
# | Pareto front | 파레토 프런티어 | 3. Speed against accuracy |
# | reproducible | 재현 가능 | 4. Do the numbers hold? One row, rerun live |
# | pretrained model | 사전 학습 모델 | 6. In practice: which pretrained model? |
# | pretrained | 사전 학습 | 6. In practice: which pretrained model? |
# | fine-tune | 미세 조정 | 6. In practice: which pretrained model? |
# | segmentation | 분할 | 7. Where to go next |
# | tracking | 추적 | 7. Where to go next |
