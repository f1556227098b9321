# %% [markdown]
# # Lesson 03 — Region proposals (영역 추정): sliding windows and selective search
#
# A detector has to decide *where* to look before it can decide *what* it sees. This lesson
# builds the two classical answers to "where": scanning every window of an image pyramid with a
# real face detector, and **selective search** (선택적 탐색), the grouping algorithm that fed
# R-CNN its ~2000 candidate boxes per image. We measure both the way the literature does: how many of the
# ground-truth objects are covered by the first *N* proposals (proposal recall).
#
# Plan:
# 1. Sliding window (슬라이딩 윈도우) over an image pyramid, driven by an LBP face cascade:
#    count the windows, time them, and see why this does not scale.
# 2. Selective search (Uijlings et al., 2013), step by step: over-segmentation, region
#    descriptors, the four similarities, hierarchical grouping, diversification, ranking.
# 3. Proposal recall vs number of proposals on the shapes val split and on real photos.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

from dlcv_utils.course.settings import lesson_setup

device, cfg = lesson_setup("03")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(cfg)

# %% [markdown]
# ## 1. Sliding window over an image pyramid
#
# The oldest way to find objects: train a classifier that answers "is this a face?" for a
# *fixed-size* patch (here 24 × 24 pixels), then slide that patch over the whole image, left to
# right and top to bottom, with some stride. One window size only finds objects of one size, so
# we also shrink the image again and again (an **image pyramid**, 이미지 피라미드) and scan every
# level: a face three times larger than the window fits it on the level shrunk three times.
#
# The number of positions on one level has a closed form: with an image of `W × H`, a window of
# `w × h` and stride `s`, there are `(⌊(W − w)/s⌋ + 1) · (⌊(H − h)/s⌋ + 1)` windows.

# %%
from dlcv_utils.proposals import count_sliding_windows, image_pyramid, sliding_windows

image = data.astronaut()
H, W = image.shape[:2]
win, stride = 24, 8
boxes = sliding_windows(image.shape, win, stride)
by_hand = ((W - win) // stride + 1) * ((H - win) // stride + 1)
assert len(boxes) == by_hand == count_sliding_windows(image.shape, win, stride)
print(f"{W} x {H} image, {win} px window, stride {stride}: {len(boxes)} windows on one level")
print("first three windows (x1, y1, x2, y2):", boxes[:3].astype(int).tolist())

# %%
levels = image_pyramid(image, scale=1.5, min_size=(win, win))
fig, axes = plt.subplots(1, len(levels), figsize=(2.2 * len(levels), 2.6))
for ax, (level, factor) in zip(axes, levels):
    ax.imshow(level)
    ax.set_title(f"/{factor:.2f}: {level.shape[1]}x{level.shape[0]}", fontsize=8)
    ax.set_axis_off()
fig.suptitle(
    "image pyramid (scale step 1.5); a 24 px window on the last level covers most of the image"
)
plt.show()

# %% [markdown]
# ### A real classical detector: the LBP face cascade
#
# To have a real classifier to slide, we borrow OpenCV's trained frontal-face cascade that
# scikit-image ships (a Viola–Jones style detector). Its details do not matter for the rest of
# the course; what matters is its shape: a chain of 20 *stages* of cheap tests on a 24 × 24
# window (each test compares sums of pixel blocks, computed in a few look-ups of an **integral
# image** (적분 영상)), and a window counts as a face only if it passes every stage. The next
# two cells load it, check one of its features against scikit-image and count how many stages
# random windows survive.

# %%
from skimage.color import rgb2gray
from skimage.feature import multiblock_lbp
from skimage.transform import integral_image as sk_integral_image

from dlcv_utils.proposals import LBPCascade, integral_image

cascade = LBPCascade.from_xml(data.lbp_frontal_face_cascade_filename())
n_stumps = [len(s[0]) for s in cascade.stages]
print(
    f"window {cascade.window}, {len(cascade.stages)} stages, {sum(n_stumps)} stumps, "
    f"{len(cascade.features)} features"
)
print("stumps per stage:", n_stumps)


gray = np.round(rgb2gray(image) * 255).astype(np.uint8)  # integer grey: exact block sums
ii = integral_image(gray)

# one feature in one window, by hand
x0, y0, f = 200, 100, 0
fx, fy, fw, fh = cascade.features[f].tolist()
blocks = np.array(
    [
        [
            gray[
                y0 + fy + r * fh : y0 + fy + (r + 1) * fh, x0 + fx + c * fw : x0 + fx + (c + 1) * fw
            ].sum()
            for c in range(3)
        ]
        for r in range(3)
    ]
)
clockwise = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
code = sum(1 << (7 - k) for k, (r, c) in enumerate(clockwise) if blocks[r, c] >= blocks[1, 1])
print(f"feature {f}: blocks of {fw}x{fh} px\n{blocks}\ncode = {code} = {code:08b}b")
assert code == cascade.lbp_codes(ii, [x0], [y0], f)[0]
# the reference: scikit-image's own MB-LBP (inclusive integral image, row/col order)
assert code == multiblock_lbp(sk_integral_image(gray.astype(float)), y0 + fy, x0 + fx, fw, fh)

# %% [markdown]
# One window through all stages, written out (`LBPCascade.classify` does the same for many
# windows at once, and stops at the first stage a window fails):


# %%
def classify_window(ii, x, y):
    """Run all stages on the window at (x, y); return (is_face, stages evaluated)."""
    for s, (threshold, (fidx, luts, leaves)) in enumerate(
        zip(cascade.stage_thresholds, cascade.stages)
    ):
        score = 0.0
        for f, lut, leaf in zip(fidx, luts, leaves):
            c = int(cascade.lbp_codes(ii, [x], [y], int(f))[0])
            bit = (int(lut[c >> 5]) >> (c & 31)) & 1  # 256-bit table, 8 words of 32 bits
            score += leaf[0] if bit else leaf[1]
        if score < threshold:
            return False, s + 1
    return True, len(cascade.stages)


rng = np.random.default_rng(0)
xs, ys = rng.integers(0, W - 24, 300), rng.integers(0, H - 24, 300)
one_by_one = [classify_window(ii, x, y) for x, y in zip(xs, ys)]
passed, stages_run, _ = cascade.classify(ii, xs, ys)
assert [p for p, _ in one_by_one] == passed.tolist()
assert [s for _, s in one_by_one] == stages_run.tolist()
print(
    f"300 random windows: {passed.sum()} faces, mean stages evaluated "
    f"{stages_run.mean():.2f} of {len(cascade.stages)}"
)

# %% [markdown]
# ### Scan the whole pyramid
#
# `cascade_scan` builds the pyramid (`scale` between levels), slides the 24 px window with the
# given stride over every level and runs the cascade. A stride of 1 pixel and a step of 1.1
# between levels (OpenCV's default `scaleFactor`) is a typical exhaustive setting.

# %%
from dlcv_utils.proposals import cascade_scan

scan = cascade_scan(image, cascade, scale=cfg.cascade_scale, stride=cfg.cascade_stride)
print(f"{len(scan['windows_per_level'])} pyramid levels, {scan['n_windows']} windows in all")
print("windows per level:", scan["windows_per_level"])
print(
    f"mean stages evaluated per window: {scan['stage_evaluations'] / scan['n_windows']:.2f}"
    f" of {len(cascade.stages)}"
)
print(f"raw face windows: {len(scan['boxes'])}")

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
_ = cascade_scan(image, cascade, scale=cfg.cascade_scale, stride=cfg.cascade_stride)
scan_s = time.perf_counter() - t0
us_per_window = 1e6 * scan_s / scan["n_windows"]
print(
    f"scan took: {scan_s:.2f} s for {scan['n_windows']} windows ({us_per_window:.2f} µs per window)"
)
assert scan_s > 0 and us_per_window < 1000

# %% [markdown]
# ### From raw hits to detections: votes + NMS
#
# A real face fires at many neighbouring positions and scales, a false alarm only at a few. So
# each hit gets a *vote* per other hit that overlaps it (IoU > 0.3), we keep hits with enough
# votes, and **non-maximum suppression** (비최대 억제, lesson 01) keeps one box per face.
# scikit-image's `detect_multi_scale` is the reference.

# %%
from skimage.feature import Cascade

from dlcv_utils.ops.boxes import box_iou
from dlcv_utils.ops.nms import nms

raw = scan["boxes"].astype(np.float64)
votes = (box_iou(raw, raw) > 0.3).sum(1) - 1
min_votes = 8
cand = np.nonzero(votes >= min_votes)[0]
keep = cand[nms(raw[cand], votes[cand] + 0.01 * scan["scores"][cand], iou_threshold=0.3)]
faces = raw[keep]
print(f"{len(raw)} raw hits -> {len(cand)} with >= {min_votes} votes -> {len(faces)} after NMS")
for b, v in zip(faces, votes[keep]):
    print(f"  face at ({b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}), {v} votes")

ref = Cascade(data.lbp_frontal_face_cascade_filename()).detect_multi_scale(
    img=image, scale_factor=1.2, step_ratio=1, min_size=(24, 24), max_size=(256, 256)
)
ref_boxes = np.array(
    [[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in ref], dtype=np.float64
)
print("skimage detect_multi_scale:", ref_boxes.astype(int).tolist())
best = box_iou(ref_boxes, faces).max()
print(f"best IoU between skimage's face and ours: {best:.2f}")
assert best >= 0.5

# %%
from dlcv_utils.viz.plotting import draw_boxes, show_image

fig, axes = plt.subplots(1, 2, figsize=(10, 5))
show_image(image, ax=axes[0], title=f"{len(raw)} raw cascade hits")
draw_boxes(axes[0], raw, color="yellow", linewidth=1)
show_image(
    image, boxes=faces, ax=axes[1], title="votes + NMS (solid) vs skimage (dashed)", colors="lime"
)
draw_boxes(axes[1], ref_boxes, color="red", linestyle="--")
plt.show()

# %% [markdown]
# The vote threshold (8) was tuned on this one photo: a demonstration, not a benchmark.
#
# ### Why sliding windows are slow
#
# The cost is (windows per level) × (levels) × (cost of the classifier per window). The
# cascade is cheap *because* almost every window is rejected after one or two stages (see the
# mean above). Replace it with a CNN classifier and every window costs a full forward pass.
# Windows grow with the square of 1/stride and with the number of levels:

# %%
print("windows over the pyramid of a 512 x 512 image, 24 px window")
print("stride | step 1.5 | step 1.25 | step 1.1")
for s in (8, 4, 2, 1):
    row = []
    for step in (1.5, 1.25, 1.1):
        total = sum(
            count_sliding_windows(lvl.shape, 24, s)
            for lvl, _ in image_pyramid(gray, scale=step, min_size=(24, 24))
        )
        row.append(total)
    print(f"{s:6d} | {row[0]:8d} | {row[1]:9d} | {row[2]:8d}")
print("and one window shape only: other aspect ratios multiply all of this again.")

# %% [markdown]
# Compare: selective search below gives a few hundred to a few thousand boxes, of any size and
# aspect ratio, and most of them sit on objects. That is the idea of **region proposals**
# (영역 추정): spend a little computation to find *where objects probably are*, then run the
# expensive classifier only there. R-CNN (lesson 04) does exactly that.

# %% [markdown]
# ### Exercise 1 — how many windows?
#
# Write `my_window_count(image_width, image_height, window, stride)`: the number of positions a
# square `window` visits when it slides over the image with `stride` pixels per step, starting
# at `(0, 0)` and staying inside the image. No loop needed: count the positions along x and
# along y. The check compares with `count_sliding_windows` on edge cases (a window as large as,
# or larger than, the image) and 100 random scans. Replace the `raise NotImplementedError`
# line, then run the check cell. Stuck? `show_solution("window_count")`.


# %%
def my_window_count(image_width, image_height, window, stride):
    """Number of window x window positions of a scan with this stride."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_recall_at_k, check_window_count, show_solution

_ = check_window_count(my_window_count)

# %% [markdown]
# ## 2. Selective search, step by step
#
# Uijlings et al. (2013) start from many small regions that do not cross object borders, then
# merge them greedily, always the two most similar neighbours first, until one region covers
# the image. Every region formed on the way (small parts, whole objects, groups of objects)
# contributes its bounding box. No learning is involved.
#
# ### Step 1: graph-based over-segmentation (과분할) of Felzenszwalb & Huttenlocher
#
# Pixels are graph nodes, neighbouring pixels are joined by edges weighted by their colour
# difference. Components are merged when the edge between them is weaker than their internal
# variation plus `k / size`, so `k` (called `scale` in scikit-image) sets how big segments get.

# %%
from skimage.segmentation import mark_boundaries

from dlcv_utils.proposals.selective_search import convert_color, oversegment

rgb01 = convert_color(image, "rgb")
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
for ax, k in zip(axes, (50, 100, 300)):
    labels_k = oversegment(rgb01, scale=k, sigma=0.8, min_size=50)
    ax.imshow(mark_boundaries(image, labels_k, color=(1, 1, 0)))
    ax.set_title(f"k = {k}: {labels_k.max() + 1} segments")
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ### Step 2: region descriptors
#
# * **colour**: a 25-bin histogram per channel (75 numbers for RGB), normalised to sum to 1;
# * **texture**: for each channel, Gaussian derivatives (σ = 1) in 8 directions, each response
#   histogrammed in 10 bins (240 numbers for RGB), normalised to sum to 1;
# * size (pixels) and bounding box.
#
# We compute the colour histogram of one region by hand and compare with the package.

# %%
from dlcv_utils.proposals.selective_search import color_histograms, texture_histograms

labels = oversegment(rgb01, scale=100, sigma=0.8, min_size=50)
n_regions = labels.max() + 1
hist_c = color_histograms(rgb01, labels)
hist_t = texture_histograms(rgb01, labels)
r = int(labels[250, 250])
pixels = rgb01[labels == r]
by_hand = np.concatenate([np.histogram(pixels[:, c], bins=25, range=(0, 1))[0] for c in range(3)])
by_hand = by_hand / by_hand.sum()
np.testing.assert_allclose(by_hand, hist_c[r])
print(f"{n_regions} regions; colour histograms {hist_c.shape}, texture histograms {hist_t.shape}")
print(f"region {r}: {len(pixels)} px, its colour histogram matches the hand-made one")

# %% [markdown]
# ### Step 3: the four similarities
#
# A **similarity** (유사도) says how much two neighbouring regions look like parts of one
# object.
#
# For two neighbouring regions *i*, *j* (sizes in pixels, `im` = image size):
#
# * colour: histogram intersection `Σ_k min(c_i[k], c_j[k])` (1 = identical, 0 = disjoint);
# * texture: the same on the texture histograms;
# * size: `1 − (size_i + size_j) / size_im`: small regions merge first, so big regions do
#   not swallow everything around them;
# * fill: `1 − (size(BB_ij) − size_i − size_j) / size_im` with `BB_ij` the box around both:
#   high when one region fills a gap of the other.
#
# The total similarity is the sum of the chosen ones. Written out, and checked against the
# package:

# %%
from dlcv_utils.proposals.selective_search import (
    fill_similarity,
    histogram_intersection,
    region_adjacency,
    size_similarity,
)


def region_box(mask):
    yy, xx = np.nonzero(mask)
    return np.array([xx.min(), yy.min(), xx.max() + 1, yy.max() + 1])


pairs = region_adjacency(labels)
i, j = (int(v) for v in pairs[0])
mi, mj = labels == i, labels == j
bi, bj = region_box(mi), region_box(mj)
bb = np.r_[np.minimum(bi[:2], bj[:2]), np.maximum(bi[2:], bj[2:])]
s_color = np.minimum(hist_c[i], hist_c[j]).sum()
s_texture = np.minimum(hist_t[i], hist_t[j]).sum()
s_size = 1 - (mi.sum() + mj.sum()) / labels.size
s_fill = 1 - ((bb[2] - bb[0]) * (bb[3] - bb[1]) - mi.sum() - mj.sum()) / labels.size
assert np.isclose(s_color, histogram_intersection(hist_c[i], hist_c[j]))
assert np.isclose(s_texture, histogram_intersection(hist_t[i], hist_t[j]))
assert np.isclose(s_size, size_similarity(mi.sum(), mj.sum(), labels.size))
assert np.isclose(s_fill, fill_similarity(bi, bj, mi.sum(), mj.sum(), labels.size))
print(
    f"{len(pairs)} neighbouring pairs; regions {i} and {j}: colour {s_color:.3f}, "
    f"texture {s_texture:.3f}, size {s_size:.3f}, fill {s_fill:.3f}"
)

# %% [markdown]
# ### Step 4: hierarchical grouping (계층적 그룹화)
#
# Repeat until one region is left: take the most similar neighbouring pair, merge it into a
# new region (size = sum; box = union; histograms = size-weighted average of the two, which is
# exactly the histogram of the union; neighbours = union of both neighbour sets), drop every
# similarity involving the two old regions and compute the new region's similarities to its
# neighbours. Below is the loop written plainly, recomputing everything from the pixels at each
# step (slow, but obviously right), on a small image; the package's `hierarchical_grouping`
# keeps the similarities in a heap and must pick the same pairs.

# %%
from dlcv_utils.datasets.shapes import make_split
from dlcv_utils.proposals.selective_search import hierarchical_grouping

small = make_split("val", n=1)[0].image[::2, ::2]  # 64 x 64 shapes image
small01 = convert_color(small, "rgb")
small_labels = oversegment(small01, scale=50, sigma=0.8, min_size=10)


def plain_grouping(img01, labels, im_size):
    current = labels.copy()
    alive = list(range(labels.max() + 1))
    next_id, merges = len(alive), []
    while len(alive) > 1:
        dense = np.searchsorted(alive, current)  # ids 0..len(alive)-1 for the helpers
        ch = color_histograms(img01, dense)
        th = texture_histograms(img01, dense)  # texture of the *pixels* (see note below)
        best, pair = -1.0, None
        for a, b in region_adjacency(dense).tolist():
            ma, mb = dense == a, dense == b
            ba, bb_ = region_box(ma), region_box(mb)
            s = (
                histogram_intersection(ch[a], ch[b])
                + histogram_intersection(th[a], th[b])
                + size_similarity(ma.sum(), mb.sum(), im_size)
                + fill_similarity(ba, bb_, ma.sum(), mb.sum(), im_size)
            )
            if s > best + 1e-12:
                best, pair = s, (alive[a], alive[b])
        current[(current == pair[0]) | (current == pair[1])] = next_id
        merges.append(set(pair))
        alive = sorted((set(alive) - set(pair)) | {next_id})
        next_id += 1
    return merges


hier = hierarchical_grouping(small01, small_labels)
plain = plain_grouping(small01, small_labels, small_labels.size)
assert [set(m) for m in hier.merges.tolist()] == plain
print(
    f"{hier.n_initial} segments -> {len(hier.merges)} merges -> {len(hier.boxes)} regions; "
    "the heap-based grouping picks the same pairs as the plain loop"
)

# %% [markdown]
# (The texture responses are computed once on the whole image and only *binned* per region,
# so the histogram of a merged region is the size-weighted average of its parts: that is why
# the plain loop and the incremental update agree exactly.)
#
# Watching the hierarchy: a few snapshots of the label map as merges proceed.

# %%
steps = [0, len(hier.merges) // 2, len(hier.merges) - 6, len(hier.merges) - 2]
fig, axes = plt.subplots(1, len(steps), figsize=(3 * len(steps), 3.2))
for ax, st in zip(axes, steps):
    lab = hier.labels_at(small_labels, st)
    ax.imshow(mark_boundaries(small, lab, color=(1, 1, 0)))
    ax.set_title(f"after {st} merges: {len(np.unique(lab))} regions", fontsize=9)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ### Step 5: all together, with diversification (다양화) and ranking
#
# `selective_search` runs the steps above and returns the boxes of every region, duplicates
# removed. One run is one *strategy*. The paper pools several strategies to catch objects one
# strategy misses: other colour spaces (HSV, Lab, ...), other `k`, other similarity sets. Its
# "fast" mode (`FAST_MODE`) is 2 colour spaces × 2 values of `k` × 2 similarity sets.
#
# **Ranking.** In each hierarchy a region gets its position counted from the top (the final
# whole-image region is 1, the one formed before it 2, ..., the first segments last), times a
# random number in [0, 1) (seeded). Sorting by that value puts large, late regions first while
# mixing strategies; `max_proposals` keeps the first *N*. (`ranking="hierarchy"` drops the
# random factor.)

# %%
from dlcv_utils.proposals.selective_search import FAST_MODE, selective_search

ss_single = selective_search(image, scale=100, min_size=50)
ss_fast = selective_search(image, min_size=50, **FAST_MODE)
print(f"single strategy: {len(ss_single)} unique boxes; fast mode (8 strategies): {len(ss_fast)}")
show_image(image, boxes=ss_single[:60], colors="cyan", title="selective search: top 60 boxes")
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
_ = selective_search(image, scale=100, min_size=50)
t_single = time.perf_counter() - t0
t0 = time.perf_counter()
_ = selective_search(image, min_size=50, **FAST_MODE)
t_fast = time.perf_counter() - t0
print(f"512 x 512 photo: single strategy took: {t_single:.2f} s, fast mode took: {t_fast:.2f} s")
assert t_single < 30 and t_fast < 120

# %% [markdown]
# ### Try it: scale, minimum segment size and the similarity set
#
# The yellow lines are the initial segments, the cyan boxes the best-ranked proposals. Untick
# *size* and watch one big region grow by swallowing its neighbours; raise `k` and the
# segments (and proposals) get fewer and coarser.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.proposals import make_proposals_widget

make_proposals_widget(data.coffee(), max_boxes=30)

# %% [markdown]
# ## 3. Proposal recall vs number of proposals
#
# Proposals are judged by **recall** (재현율): the fraction of ground-truth objects for which at least
# one of the first *N* proposals has IoU ≥ *t* with it. Precision does not matter here: the
# detector that follows will reject the wrong boxes. We plot recall against *N* at IoU 0.5 and
# 0.7. Written out for one threshold and one *N*, checked against the package:

# %%
from dlcv_utils.proposals import proposal_recall

val = make_split("val", n=cfg.n_val)
gts = [np.array([o.bbox for o in s.ann.objects], dtype=np.float64).reshape(-1, 4) for s in val]
print(f"shapes val: {len(val)} images, {sum(len(g) for g in gts)} objects")

props_single = [selective_search(s.image, scale=50, min_size=20) for s in val]


def recall_by_hand(props, gts, t, n):
    found = total = 0
    for p, g in zip(props, gts):
        if len(g):
            total += len(g)
            if len(p):
                found += int((box_iou(g, p[:n].astype(np.float64)).max(1) >= t).sum())
    return found / total


counts = (1, 3, 10, 30, 100, 300, 1000, 2000)
rec_single = proposal_recall(props_single, gts, iou_thresholds=(0.5, 0.7), counts=counts)
assert np.isclose(rec_single[0, 4], recall_by_hand(props_single, gts, 0.5, 100))
assert np.isclose(rec_single[1, 2], recall_by_hand(props_single, gts, 0.7, 10))
print(f"mean proposals per image (single strategy): {np.mean([len(p) for p in props_single]):.1f}")

# %% [markdown]
# The baselines: the *fast* mode, and the square sliding windows of a pyramid (16 px window,
# stride 4, step 1.25 on these 128 px images — the same kind of scan as the face detector)
# taken in random order, because a window scan by itself has no idea which windows are
# likelier.

# %%
from dlcv_utils.proposals import plot_proposal_recall, sliding_window_proposals

props_fast = [selective_search(s.image, min_size=20, **FAST_MODE) for s in val]
props_sw = [sliding_window_proposals(s.image.shape, window=16, stride=4, scale=1.25) for s in val]
rec_fast = proposal_recall(props_fast, gts, counts=counts)
rec_sw = proposal_recall(props_sw, gts, counts=counts)
curves = {
    "SS single (k=50)": rec_single,
    "SS fast (8 strategies)": rec_fast,
    "sliding windows": rec_sw,
}
print("recall on shapes val          N =" + "".join(f"{n:>7d}" for n in counts))
for name, rec in curves.items():
    for ti, t in enumerate((0.5, 0.7)):
        print(f"{name:24s} IoU {t}" + "".join(f"{v:7.3f}" for v in rec[ti]))
print(f"mean windows per image (sliding): {np.mean([len(p) for p in props_sw]):.0f}")

# %%
_ = plot_proposal_recall(counts, curves, title=f"shapes val ({len(val)} images)")
plt.show()

# %% [markdown]
# On the shapes images (flat coloured shapes on a textured background) one selective-search
# strategy already covers nearly every object within 100 boxes. The sliding windows need
# thousands: most windows cover background, and a fixed square window rarely fits a shape
# tightly enough for IoU 0.7.
#
# ### Real photos
#
# The photo set (`data/photos`) has hand-drawn boxes for a few photos. Real objects are made of
# many differently coloured parts (a person: face, suit, helmet), so grouping needs more
# merges and the diversified "fast" mode matters more.

# %%
from dlcv_utils.datasets.photos import load_photos

photos = load_photos()
photo_gts = [np.array([o.bbox for o in ann.objects], dtype=np.float64) for _, ann in photos]
p_single = [selective_search(img, scale=100, min_size=50) for img, _ in photos]
p_curves = {"SS single (k=100)": proposal_recall(p_single, photo_gts, counts=counts)}
if cfg.photos_fast_mode:
    p_fast = [selective_search(img, min_size=50, **FAST_MODE) for img, _ in photos]
    p_curves["SS fast (8 strategies)"] = proposal_recall(p_fast, photo_gts, counts=counts)
p_sw = [sliding_window_proposals(img.shape, window=24, stride=8, scale=1.25) for img, _ in photos]
p_curves["sliding windows"] = proposal_recall(p_sw, photo_gts, counts=counts)
print(f"{len(photos)} photos, {sum(len(g) for g in photo_gts)} objects")
print("recall on photos              N =" + "".join(f"{n:>7d}" for n in counts))
for name, rec in p_curves.items():
    for ti, t in enumerate((0.5, 0.7)):
        print(f"{name:24s} IoU {t}" + "".join(f"{v:7.3f}" for v in rec[ti]))
_ = plot_proposal_recall(counts, p_curves, title=f"real photos ({len(photos)} images)")
plt.show()

# %% [markdown]
# Five photos with six objects are a tiny sample (each object is 1/6 of the recall), but the
# pattern is the usual one: one strategy misses objects that the diversified mode finds, and a
# tight fit (IoU 0.7) takes more proposals than a loose one. The square windows (24 px, stride
# 8, step 1.25) hardly ever fit these large, tall or wide objects: a window detector needs one
# scan per aspect ratio.
#
# ### OpenCV's selective search
#
# `opencv-contrib-python` ships an implementation (`cv2.ximgproc.segmentation`), the one most
# tutorials use. When it is installed (it is not part of the plain `opencv-python` wheels),
# we compare recall and time on the same images.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.proposals import opencv_selective_search, opencv_selective_search_available

if opencv_selective_search_available():
    t0 = time.perf_counter()
    cv_props = [opencv_selective_search(s.image, mode="fast") for s in val]
    t_cv = (time.perf_counter() - t0) / len(val)
    t0 = time.perf_counter()
    _ = [selective_search(s.image, min_size=20, **FAST_MODE) for s in val]
    t_ours = (time.perf_counter() - t0) / len(val)
    rec_cv = proposal_recall(cv_props, gts, counts=counts)
    print("shapes val, fast modes       N =" + "".join(f"{n:>7d}" for n in counts))
    for name, rec, sec in (("OpenCV ximgproc", rec_cv, t_cv), ("dlcv_utils", rec_fast, t_ours)):
        print(f"{name:16s} {sec * 1000:7.1f} ms/img IoU 0.5" + "".join(f"{v:7.3f}" for v in rec[0]))
    assert rec_cv[0, -1] > 0.5
else:
    print(
        "cv2.ximgproc is not available here (it needs opencv-contrib-python); "
        "skipping the OpenCV comparison."
    )

# %% [markdown]
# ### Exercise 2 — proposal recall at k
#
# Write `my_recall_at_k(proposals, gt_boxes, k, iou_threshold)` for ONE image: `proposals` is a
# `[P, 4]` array of xyxy boxes, best first, `gt_boxes` a `[G, 4]` array (`G >= 1`); return the
# fraction of ground-truth boxes that one of the first `k` proposals overlaps with IoU
# `>= iou_threshold`. With fewer than `k` proposals use them all; with none, the recall is 0.
# The check compares with `proposal_recall` on edge cases and 100 random images. Model
# solution: `show_solution("recall_at_k")`.


# %%
def my_recall_at_k(proposals, gt_boxes, k, iou_threshold):
    """Fraction of gt_boxes hit (IoU >= threshold) by one of the first k proposals."""
    raise NotImplementedError  # your code here


# %%
_ = check_recall_at_k(my_recall_at_k)

# %% [markdown]
# ## Key figure and summary

# %%
from dlcv_utils.course.report import key_figure

n_key = 100
r_key = rec_single[0, counts.index(n_key)]
print(f"selective search recall@0.5 with {n_key} proposals on shapes val: {r_key:.3f}")
assert r_key >= 0.9
_ = key_figure(f"SS recall@0.5 ({n_key} proposals)", r_key)

# %% [markdown]
# * A sliding-window detector scans a fixed window over every level of an image pyramid: here
#   over a million windows for one 512 × 512 photo, affordable only because the cascade
#   rejects almost all of them in one or two stages.
# * Selective search over-segments the image and greedily merges the most similar neighbours
#   (colour, texture, size, fill); every region on the way is a proposal. A few hundred
#   proposals cover nearly all objects, at any size and aspect ratio.
# * Proposal quality is measured by recall vs number of proposals at an IoU threshold;
#   diversifying strategies buys recall at the price of more boxes and time.
# * Next, lesson 04: R-CNN classifies each proposal with a CNN, and SPPNet / Fast R-CNN share
#   the CNN computation between proposals.

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | region proposals | 영역 추정 | Lesson 03 — Region proposals |
# | sliding window | 슬라이딩 윈도우 | 1. Sliding window over an image pyramid |
# | image pyramid | 이미지 피라미드 | 1. Sliding window over an image pyramid |
# | integral image | 적분 영상 | A real classical detector: the LBP face cascade |
# | non-maximum suppression | 비최대 억제 | From raw hits to detections: votes + NMS |
# | selective search | 선택적 탐색 | 2. Selective search, step by step |
# | over-segmentation | 과분할 | Step 1 |
# | similarity | 유사도 | Step 3: the four similarities |
# | hierarchical grouping | 계층적 그룹화 | Step 4: hierarchical grouping |
# | diversification | 다양화 | Step 5 |
# | recall | 재현율 | 3. Proposal recall vs number of proposals |
