# %% [markdown]
# # Lesson 12 — EfficientDet: compound scaling and the BiFPN
#
# RetinaNet (lesson 11) showed that a **one-stage detector** (원스테이지 검출기) with anchors on an
# FPN and the focal loss can be as accurate as a two-stage one. **EfficientDet** (Tan, Pang and
# Le, CVPR 2020) keeps that recipe and asks how to make it *efficient*: how much accuracy per
# parameter and per FLOP. Two ideas:
#
# 1. **compound scaling** (복합 스케일링): one coefficient `φ` grows the input resolution, the
#    neck's width and depth and the heads' depth *together* (D0 … D7), instead of making only
#    the backbone deeper or only the images larger;
# 2. the **BiFPN** (양방향 특징 피라미드 네트워크): an FPN whose top-down path is followed by a
#    bottom-up path, repeated, where every node fuses its inputs with learned weights by
#    **fast normalised fusion** (빠른 정규화 융합).
#
# In this lesson you
#
# 1. compute the D0–D7 sizes from the paper's rules and check them against the paper's table
#    (the same numbers as google/automl's `hparams_config.py` and the `effdet` package), and
#    measure their parameters and multiply-adds;
# 2. write fast normalised fusion and a BiFPN cell, and check them against `effdet`'s BiFPN with
#    the same weights loaded into both;
# 3. train a scaled-down EfficientDet-D0 (a tiny EfficientNet-style backbone, the BiFPN, the
#    class and box nets, anchors and the focal loss of torchvision's RetinaNet) on the shapes;
# 4. do google/automl's "train on your own dataset" practical the PyTorch way: a config chooses
#    the model by `φ` and the number of classes, the data come from a COCO-layout folder, and
#    training starts from a checkpoint.

# %%
# %matplotlib inline
import math
import warnings

import matplotlib.pyplot as plt
import torch

from dlcv_utils.course.settings import lesson_setup

device, cfg = lesson_setup("12")  # seed, device, CPU threads: see dlcv_utils.course.settings
print(
    f"device: {device.type}; image size {cfg.data.image_size} px; BiFPN W={cfg.width}, "
    f"{cfg.bifpn_layers} layers, levels P{cfg.min_level}-P{cfg.max_level}"
)

# %% [markdown]
# ## 1. Compound scaling
#
# A detector can be made bigger along several axes: a bigger backbone, larger input images,
# a wider or deeper neck, deeper heads. EfficientNet (the backbone family, B0–B7) found that
# growing depth, width and resolution *together*, by one coefficient, beats growing any one of
# them. EfficientDet applies the same idea to the whole detector. For `φ = 0, 1, …`:
#
# $$R_{input} = 512 + 128\,\phi, \qquad W_{bifpn} = 64 \cdot 1.35^{\phi}, \qquad
# D_{bifpn} = 3 + \phi, \qquad D_{box} = D_{class} = 3 + \lfloor \phi / 3 \rfloor,$$
#
# with backbone EfficientNet-B`φ`. The resolution must be divisible by `2^7 = 128` (the
# coarsest level is P7), hence steps of 128; the width is rounded to a hardware-friendly
# multiple of 8. The paper's Table 1 then lists D0–D7, and it departs from the rules in a few
# places. Write the rules and compare:


# %%
def my_scaling(phi):
    width = 64 * 1.35**phi
    return 512 + 128 * phi, 8 * round(width / 8), 3 + phi, 3 + phi // 3, width


from dlcv_utils.models.efficientdet import EFFICIENTDET_TABLE

print(" phi | rule: R    W (64*1.35^phi)  D_bifpn D_head | paper: R    W  D_bifpn D_head")
for phi, row in EFFICIENTDET_TABLE.items():
    r, w, d, h, raw = my_scaling(phi)
    pairs = [("R", r, row.image_size), ("W", w, row.width)]
    pairs += [("D_bifpn", d, row.bifpn_layers), ("D_head", h, row.head_layers)]
    differs = [name for name, a, b in pairs if a != b]
    print(
        f"  D{phi} | {r:5d} {w:4d} ({raw:6.1f})       {d:2d}      {h:2d}   | "
        f"{row.image_size:5d} {row.width:4d}    {row.bifpn_layers:2d}      {row.head_layers:2d}"
        f"   {'differs: ' + ', '.join(differs) if differs else ''}"
    )

# %% [markdown]
# The rules give D0, D1 and D3 exactly. The table rounds `W` differently at D2 (116.6 → 112) and
# D4 (212.6 → 224), stops the BiFPN at 7–8 layers from D5 on (memory), keeps D5 at 1280 px and
# makes **D7** a special case: 1536 px input with D6's network (same widths, same depth, same
# B6 backbone). The package keeps the rules (`compound_scaling`) and the table
# (`EFFICIENTDET_TABLE`) apart. The table is google/automl's `efficientdet_model_param_dict`,
# which the `effdet` package (Ross Wightman's PyTorch port) copies; check ours against effdet's
# configs:

# %%
from dlcv_utils.models.efficientdet import compound_scaling
from dlcv_utils.models.efficientdet_config import import_effdet

effdet = import_effdet()  # pip package `effdet` (imports timm; silences a torch.jit warning)
for phi, row in EFFICIENTDET_TABLE.items():
    c = effdet.get_efficientdet_config(f"tf_efficientdet_d{phi}")
    theirs = (c.image_size[0], c.fpn_channels, c.fpn_cell_repeats, c.box_class_repeats)
    assert theirs == (row.image_size, row.width, row.bifpn_layers, row.head_layers), phi
    assert compound_scaling(phi)[1:5] == my_scaling(phi)[:4]
print("paper table == effdet's tf_efficientdet_d0..d7 configs; rules == compound_scaling")

# %% [markdown]
# ### Exercise 1 — the compound-scaling rules
#
# Write `my_compound_scaling(phi)` returning `(resolution, BiFPN width, BiFPN depth, head
# depth)` by the rules above (the width rounded to the nearest multiple of 8). Replace the
# `raise NotImplementedError` line, then run the check cell. Stuck?
# `show_solution("compound_scaling")`.


# %%
def my_compound_scaling(phi):
    """phi -> (resolution, width, bifpn_layers, head_layers) by EfficientDet's rules."""
    raise NotImplementedError  # your code here


# %%
from dlcv_utils.course.exercises import check_compound_scaling, check_fast_fusion, show_solution

_ = check_compound_scaling(my_compound_scaling)

# %% [markdown]
# ### What a `φ` costs, measured
#
# Parameters and FLOPs are not guessed here: we build effdet's `tf_efficientdet_d0` … `d7`
# (random weights, nothing downloaded), count the parameters, and count the multiply-adds of
# one forward pass with `torch.utils.flop_counter` (`count_macs`; a paper "FLOP" is one
# multiply-add). Every convolution's cost is proportional to its output area, so we run the
# forward at a small `cfg.flops_size` and multiply by `(R / flops_size)²`: exact, because
# every level's side scales by the same factor (`R` is a multiple of 128).

# %%
# NBVAL_IGNORE_OUTPUT
import time

from dlcv_utils.models.efficientdet import PAPER_COST, count_macs, count_parameters

t0 = time.perf_counter()
cost_rows = {}
side = cfg.flops_size  # the resampling layers are sized for it
for phi, row in EFFICIENTDET_TABLE.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = effdet.create_model(
            f"tf_efficientdet_d{phi}", pretrained_backbone=False, image_size=(side, side)
        ).eval()
    macs = count_macs(net, torch.zeros(1, 3, side, side))
    cost_rows[phi] = dict(
        row._asdict(),
        params=count_parameters(net),
        macs=macs * (row.image_size / side) ** 2,
        paper_params=PAPER_COST[phi][0],
        paper_macs=PAPER_COST[phi][1],
    )
    del net
print(f"built and measured D0-D7 in {time.perf_counter() - t0:.0f} s")

# %%
print(" phi | params (M)  paper | multiply-adds (B)  paper")
for phi, r in cost_rows.items():
    print(
        f"  D{phi} | {r['params'] / 1e6:7.1f} {r['paper_params']:7.1f} | "
        f"{r['macs'] / 1e9:10.1f} {r['paper_macs']:10.1f}"
    )
    assert abs(r["params"] / 1e6 - r["paper_params"]) / r["paper_params"] < 0.1
    assert abs(r["macs"] / 1e9 - r["paper_macs"]) / r["paper_macs"] < 0.15

# %% [markdown]
# The measured sizes agree with the paper's Table 2 within a few per cent (the paper rounds;
# the port's "same" padding and batch-norm layers differ slightly). From D0 to D7 the cost
# grows about 130 times while the input side grows 3 times. Try it: move `φ` and watch which
# axis grows fastest.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.efficientdet import make_scaling_widget

make_scaling_widget(cost_rows, phi=3)

# %% [markdown]
# ## 2. The BiFPN
#
# An FPN (lesson 06) has one top-down path: `P5 → P4 → P3`. PANet added a second, bottom-up
# path, so the fine levels' localisation flows back up. The BiFPN simplifies PANet: it drops
# the nodes with a single input, adds an extra edge from each original level to its output
# node (the same level), and repeats the whole bidirectional cell `D_bifpn` times. For levels
# `P3 … P7` one cell computes
#
# $$P_6^{td} = \text{Conv}\big(\text{fuse}(P_6^{in}, \text{up}(P_7^{in}))\big), \quad \dots, \quad
# P_3^{out} = \text{Conv}\big(\text{fuse}(P_3^{in}, \text{up}(P_4^{td}))\big),$$
# $$P_4^{out} = \text{Conv}\big(\text{fuse}(P_4^{in}, P_4^{td}, \text{down}(P_3^{out}))\big), \quad
# \dots, \quad P_7^{out} = \text{Conv}\big(\text{fuse}(P_7^{in}, \text{down}(P_6^{out}))\big).$$
#
# *up* is nearest-neighbour upsampling, *down* a 3 × 3 max pooling of stride 2, and *Conv* a
# SiLU followed by a **depthwise separable convolution** (깊이별 분리 합성곱: a 3 × 3
# convolution per channel, then a 1 × 1 convolution across channels) with batch norm.
#
# **Fast normalised fusion.** Inputs at different resolutions contribute unequally, so each
# node learns one weight per input:
#
# $$O = \sum_i \frac{w_i}{\epsilon + \sum_j w_j}\, I_i, \qquad w_i = \text{ReLU}(\hat w_i) \ge 0,
# \quad \epsilon = 10^{-4}.$$
#
# A softmax over the weights would also give a partition of 1, but the exponentials are slow
# on accelerators; the ReLU-and-divide version behaves the same and runs about 30 % faster
# (paper, Figure 5).


# %%
def my_fast_fusion(inputs, raw_weights, eps=1e-4):
    w = torch.relu(raw_weights)
    w = w / (eps + w.sum())
    return sum(w[i] * x for i, x in enumerate(inputs))


raw = torch.tensor([2.0, -1.0, 0.5])
feats3 = [torch.full((1, 1, 2, 2), v) for v in (1.0, 10.0, 100.0)]
w = torch.relu(raw) / (1e-4 + torch.relu(raw).sum())
print("normalised weights:", [round(v, 4) for v in w.tolist()], " sum", round(w.sum().item(), 4))
print("fused value:", round(my_fast_fusion(feats3, raw)[0, 0, 0, 0].item(), 4))
print("softmax weights:   ", [round(v, 4) for v in torch.softmax(raw, 0).tolist()])

# %% [markdown]
# The negative raw weight is switched off (its input does not count at all), and the kept
# weights sum to 1 (less the tiny `ε`). Now a whole BiFPN cell, written node by node for four
# levels `P3 … P6`. The nodes' learnable parts (their fusion weights, the 1 × 1 projections of
# backbone maps whose width differs from `W`, and the separable convolutions) come from the
# package's `BiFPNLayer`; the wiring, the resampling and the fusion are ours:

# %%
import torch.nn.functional as F

from dlcv_utils.models.bifpn import BiFPN, BiFPNLayer


def my_resize(x, size):
    if x.shape[-1] > size[-1]:
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    if x.shape[-1] < size[-1]:
        return F.interpolate(x, size=size, mode="nearest")
    return x


def my_node(node, inputs, size):
    resized = [my_resize(proj(x), size) for proj, x in zip(node.project, inputs)]
    return node.conv(F.silu(my_fast_fusion(resized, node.edge_weights)))


def my_bifpn_cell(layer, p3, p4, p5, p6):
    n = layer.fnode  # 3 top-down nodes, then 3 bottom-up nodes
    s3, s4, s5, s6 = (p.shape[-2:] for p in (p3, p4, p5, p6))
    td5 = my_node(n[0], [p5, p6], s5)
    td4 = my_node(n[1], [p4, td5], s4)
    out3 = my_node(n[2], [p3, td4], s3)
    out4 = my_node(n[3], [p4, td4, out3], s4)
    out5 = my_node(n[4], [p5, td5, out4], s5)
    out6 = my_node(n[5], [p6, out5], s6)
    return [out3, out4, out5, out6]


torch.manual_seed(0)
widths_in = [24, 40, 80, 32]  # backbone C3, C4, C5 and an extra P6 already W wide
layer = BiFPNLayer(widths_in, 32).eval()
pyramid = [torch.randn(2, c, s, s) for c, s in zip(widths_in, (16, 8, 4, 2))]
with torch.no_grad():
    mine = my_bifpn_cell(layer, *pyramid)
    package = layer(pyramid)
for k, (a, b) in enumerate(zip(mine, package)):
    print(f"P{k + 3}: {tuple(a.shape[1:])}   max |mine - package| = {(a - b).abs().max():.1e}")
    assert a.shape == (2, 32, 16 >> k, 16 >> k)
    torch.testing.assert_close(a, b, rtol=0, atol=0)

# %% [markdown]
# ### Check against the reference: `effdet`'s BiFPN
#
# The `effdet` package's `BiFpn` is the reference PyTorch port of google/automl's BiFPN. Ours
# (`dlcv_utils.models.bifpn.BiFPN`) has the same modules in the same order, so the two
# `state_dict`s hold the same tensors in the same order under different names:
# `load_state_dict_in_order` copies effdet's into ours. With random weights (batch-norm
# statistics included, so nothing is trivially an identity) both must give the same maps:

# %%
from effdet.efficientdet import BiFpn

from dlcv_utils.models.bifpn import load_state_dict_in_order

ed_cfg = effdet.get_efficientdet_config("efficientdet_d0")
ed_cfg.update(
    dict(
        image_size=(128, 128),
        min_level=3,
        max_level=7,
        num_levels=5,
        fpn_channels=32,
        fpn_cell_repeats=2,
        pad_type="",
        redundant_bias=False,
        apply_resample_bn=True,
    )
)
backbone_info = [dict(num_chs=c, reduction=2**k) for c, k in ((24, 3), (40, 4), (80, 5))]
reference = BiFpn(ed_cfg, backbone_info).eval()
torch.manual_seed(1)
with torch.no_grad():
    for p in reference.parameters():
        p.normal_(0, 0.3)
    for name, b in reference.named_buffers():
        if name.endswith("running_var"):
            b.uniform_(0.5, 2.0)
        elif name.endswith("running_mean"):
            b.normal_()
ours = BiFPN([24, 40, 80], 32, num_layers=2, extra_levels=2).eval()
n_tensors = load_state_dict_in_order(ours, reference.state_dict())
c3_c5 = [torch.randn(2, c, s, s) for c, s in ((24, 16), (40, 8), (80, 4))]
with torch.no_grad():
    theirs_out, ours_out = reference(list(c3_c5)), ours(c3_c5)
print(f"{n_tensors} tensors loaded into both")
for k, (a, b) in enumerate(zip(theirs_out, ours_out)):
    delta = (a - b).abs().max().item()
    print(f"P{k + 3}: {tuple(b.shape[1:])}   max |effdet - ours| < 1e-5: {delta < 1e-5}")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)

# %% [markdown]
# The invariants, on the package module: there are `2 (L − 1)` nodes per cell, and every
# node's normalised weights are non-negative and sum to `S / (S + ε)` with `S = Σ ReLU(ŵ)`:
# 1 for any sizeable weights, less when they are all tiny, and 0 when all its raw weights are
# ≤ 0 (possible with these random weights: that node then sees only zeros).

# %%
from dlcv_utils.models.bifpn import fusion_weights

sums = []
for cell, layer_weights in zip(ours.cell, fusion_weights(ours)):
    assert len(layer_weights) == 2 * (5 - 1)
    for node, w in zip(cell.fnode, layer_weights):
        total = torch.relu(node.edge_weights.detach()).sum()
        assert (w >= 0).all() and torch.isclose(w.sum(), total / (total + 1e-4))
        sums.append(w.sum().item())
n_one = sum(abs(s - 1) < 1e-3 for s in sums)
print(f"{len(sums)} nodes, all weights >= 0: {n_one} sum to 1 (within 1e-3), the rest less")

# %% [markdown]
# ### Exercise 2 — fast normalised fusion
#
# Write `my_fusion(inputs, weights)`: ReLU the raw weights, divide them by their sum plus
# `ε = 1e-4`, and return the weighted sum of the inputs. The check compares with
# `dlcv_utils.models.bifpn.fast_normalized_fusion` (identical to effdet's `fastattn`). Model
# solution: `show_solution("fast_fusion")`.


# %%
def my_fusion(inputs, weights):
    """inputs: list of n tensors of one shape; weights: Tensor[n] (raw) -> fused tensor."""
    raise NotImplementedError  # your code here


# %%
_ = check_fast_fusion(my_fusion)

# %% [markdown]
# ## 3. A scaled-down EfficientDet-D0
#
# D0 at 512 px is too slow to train from scratch on a CPU in minutes, so we shrink every axis
# and keep every part (`dlcv_utils.models.efficientdet.build_efficientdet`):
#
# * **backbone**: a tiny EfficientNet: a stride-2 stem and stages of **MBConv** blocks
#   (역잔차 블록, inverted residual: 1 × 1 expansion, depthwise 3 × 3, **squeeze-and-excitation**
#   (스퀴즈-익사이테이션) channel gating, 1 × 1 projection, SiLU), widths `cfg.backbone_widths`;
#   its last three stages feed the BiFPN. The paper starts at C3 (stride 8) for objects of 32 px
#   and more on 512+ px images; our shapes are 8–64 px on 128 px images, so the CPU settings
#   move the pyramid one level down, as lessons 08 and 11 did: stages C2–C4 (strides 4–16);
# * **neck**: the BiFPN above, `W = cfg.width`, `cfg.bifpn_layers` cells, levels
#   P`cfg.min_level`–P`cfg.max_level`, the coarsest added by pooling;
# * **heads**: a class net and a box net of `cfg.head_layers` separable convolutions each,
#   shared by all levels (with a batch norm of their own per level, as in the paper);
# * **anchors** (앵커): `anchor_scale · 2^level` × 3 scales (`2^0, 2^{1/3}, 2^{2/3}`) × 3 aspect
#   ratios per cell; a box matches an anchor at IoU ≥ 0.5, background below 0.4;
# * **loss**: the **focal loss** (초점 손실) for the classes and an L1 loss on the box offsets
#   (torchvision's defaults, `γ = 2` and L1; automl's hparams use `γ = 1.5` and a Huber loss).
#
# EfficientDet is a RetinaNet-style detector, so the last two items are torchvision's
# `RetinaNet` unchanged, with our backbone + BiFPN and heads plugged in.

# %%
from dlcv_utils.course.recipes import shapes_loaders
from dlcv_utils.course.recipes_efficientdet import build_efficientdet_model
from dlcv_utils.datasets.shapes import ShapesDetection
from dlcv_utils.models.efficientdet import anchor_sizes

train_loader, val_loader = shapes_loaders(cfg.data, seed=cfg.seed)
class_names = ShapesDetection.classes  # label 0 is background
model = build_efficientdet_model(cfg)  # torchvision RetinaNet(our backbone + BiFPN, our heads)
for part, module in (
    ("backbone", model.backbone.body),
    ("BiFPN", model.backbone.bifpn),
    ("heads", model.head),
):
    print(f"{part:8s} {count_parameters(module):>8,d} parameters")
sizes = anchor_sizes(cfg.min_level, cfg.max_level, cfg.anchor_scale, cfg.num_scales)
print("anchor sides per level:", [[round(s) for s in level] for level in sizes])
with torch.no_grad():
    feats = model.backbone.eval()(torch.zeros(1, 3, cfg.data.image_size, cfg.data.image_size))
model.train()
print({k: tuple(v.shape[1:]) for k, v in feats.items()})

# %% [markdown]
# ### Training
# The shared recipe trains it (`dlcv_utils.engine.fit`: AdamW, warm-up, cosine decay, a time
# cap as a safety net) and evaluates it with COCO mAP on the validation split; in train mode
# `model(images, targets)` returns RetinaNet's two losses, `classification` (focal) and
# `bbox_regression`. The benchmark (`benchmarks/bench_detectors.py --only efficientdet`) runs
# the same code with the same settings.

# %%
# NBVAL_IGNORE_OUTPUT
import os

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
# each class.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.evaluation import show_evaluation

fig, det_eval = show_evaluation(
    model, val_loader, class_names, per_class=metrics["per_class"], device=device
)
plt.show()
print(f"score >= 0.5: TP {det_eval['n_tp']}, FP {det_eval['n_fp']}, FN {det_eval['n_fn']}")
assert det_eval["matrix"][1:].sum() == det_eval["n_tp"] + det_eval["n_fn"]

# %% [markdown]
# ### What the fusion weights learned
#
# Every node started with equal weights. After training, the last BiFPN cell's normalised
# weights show which inputs each node relies on: *same* is the level's own input, *td* the
# top-down input (the level above, or the top-down node of this level), *below* the bottom-up
# input from the finer level.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.viz.widgets.efficientdet import plot_fusion_weights

learned = fusion_weights(model.backbone.bifpn)
levels = [f"P{k}" for k in range(cfg.min_level, cfg.max_level + 1)]
plot_fusion_weights(learned[-1], levels)
plt.title(f"learned fusion weights, BiFPN cell {len(learned)} of {len(learned)}")
plt.tight_layout()
plt.show()
for layer_weights in learned:
    for w in layer_weights:
        assert (w >= 0).all() and abs(w.sum().item() - 1) < 1e-3

# %% [markdown]
# ## 4. AutoML EfficientDet on your own dataset, the PyTorch way
#
# google/automl's practical trains EfficientDet on a custom dataset in three steps: convert
# the data (to TFRecords, from VOC or COCO), pick the model by name and override a few
# **hyperparameters** (하이퍼파라미터) on the command line, start from the released COCO
# checkpoint, and then run inference:
#
# ```
# python main.py --mode=train --train_file_pattern=tfrecord/train* \
#     --model_name=efficientdet-d0 --ckpt=efficientdet-d0 \
#     --hparams="num_classes=5,image_size=128" --num_epochs=1
# python model_inspect.py --runmode=infer --model_name=efficientdet-d0 --ckpt_path=...
# ```
#
# The same steps here: our shapes written as a COCO-layout folder and read back, a config
# (`EfficientDetHparams`, automl's names) that picks the model by `φ` and sets the number of
# classes, a checkpoint to start from, a short **fine-tuning** (미세 조정) run, inference. The
# config side by side with automl's `hparams_config.py`:
#
# | automl hparam | here | meaning |
# |---|---|---|
# | `--model_name=efficientdet-d0` | `name="efficientdet-d0"` | `φ`: the row of Table 1 |
# | `num_classes` | `num_classes` | real classes (the background is added by torchvision) |
# | `image_size`, `fpn_num_filters`, `fpn_cell_repeats`, `box_class_repeats` | same | override the row |
# | `min_level`, `max_level`, `num_scales`, `anchor_scale` | same | pyramid and anchors |
# | `learning_rate`, `num_epochs`, `train_batch_size` | same | training |
# | `backbone_name=efficientnet-b0` (ImageNet) | `backbone_widths`, `backbone_depths` | our tiny backbone |
# | `--ckpt` | `torch.load` + `load_state_dict` | the checkpoint to start from |

# %%
import tempfile
from pathlib import Path

from dlcv_utils.datasets.shapes import build_shapes
from dlcv_utils.datasets.torch_dataset import COCODetectionDataset

work = Path(tempfile.mkdtemp(prefix="dlcv-effdet-"))
n_val_custom = max(8, cfg.config_images // 4)
sizes_custom = {"train": cfg.config_images, "val": n_val_custom}
root = build_shapes(work / "shapes", formats=("coco",), sizes=sizes_custom, seed=cfg.seed + 12)
print(sorted(str(p.relative_to(root)) for p in (root / "coco").glob("annotations/*.json")))


def to_float(image, target):  # the folder holds JPEGs: uint8 -> float in [0, 1]
    return image.float() / 255, target


custom_train = COCODetectionDataset(root / "coco", "train", transforms=to_float)
custom_val = COCODetectionDataset(root / "coco", "val", transforms=to_float)
print(
    f"read back: {len(custom_train)} train + {len(custom_val)} val images, "
    f"classes {custom_train.classes}"
)

# %%
from dlcv_utils.models.efficientdet_config import EfficientDetHparams, build_from_hparams

overrides = (
    f"num_classes={len(custom_train.classes)},image_size={cfg.data.image_size},"
    f"fpn_num_filters={cfg.width},fpn_cell_repeats={cfg.bifpn_layers},"
    f"box_class_repeats={cfg.head_layers},min_level={cfg.min_level},max_level={cfg.max_level},"
    f"backbone_widths={':'.join(map(str, cfg.backbone_widths))},"
    f"backbone_depths={':'.join(map(str, cfg.backbone_depths))},"
    f"anchor_scale={cfg.anchor_scale},learning_rate=0.001,num_epochs={cfg.config_epochs},"
    f"train_batch_size={cfg.data.batch_size}"
)
hparams = EfficientDetHparams(name="efficientdet-d0").override(overrides)
print("phi =", hparams.phi, " scaling:", hparams.scaling())
torch.manual_seed(cfg.seed)
custom_model = build_from_hparams(hparams)

# %% [markdown]
# **The checkpoint.** automl starts from `efficientdet-d0`'s COCO checkpoint. The real
# equivalent in PyTorch is effdet's port of it (`pretrained_efficientdet("tf_efficientdet_d0",
# num_classes=5)`: downloads 15 MB on Colab, then replaces the class net for our classes). It
# is a full-size D0 (512 px, EfficientNet-B0), so this lesson starts instead from the
# checkpoint of the model trained above, written to disk and read back, the same
# architecture as the config's:

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.models.efficientdet_config import pretrained_efficientdet
from dlcv_utils.models.faster_rcnn import WeightsUnavailableError

try:
    coco_d0 = pretrained_efficientdet("tf_efficientdet_d0", num_classes=5, timeout=2.0)
    print(f"effdet D0 (COCO weights) loaded: {count_parameters(coco_d0) / 1e6:.1f} M parameters")
except WeightsUnavailableError as exc:
    print(f"offline, so no COCO D0 here: {exc}")

# %%
ckpt = work / "efficientdet-shapes.pt"
torch.save(run.model.state_dict(), ckpt)
missing = custom_model.load_state_dict(torch.load(ckpt, map_location="cpu"))
print(f"checkpoint {ckpt.name}: {len(torch.load(ckpt))} tensors, {missing}")

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.datasets.shapes import collate_fn
from dlcv_utils.engine import fit

custom_loader = torch.utils.data.DataLoader(
    custom_train,
    batch_size=hparams.train_batch_size,
    shuffle=True,
    collate_fn=collate_fn,
    generator=torch.Generator().manual_seed(cfg.seed),
)
custom_history = fit(
    custom_model.to(device),
    custom_loader,
    epochs=hparams.num_epochs,
    lr=hparams.learning_rate,
    device=device,
    warmup_iters=0,
    grad_clip=10.0,
    seed=cfg.seed,
)
print(f"fine-tuned {custom_history.iterations} iterations in {custom_history.train_seconds:.1f} s")

# %% [markdown]
# **Inference and evaluation** on the read-back validation split: the detections become COCO
# results (`[x, y, w, h]`, the file's image ids and category ids) and `coco_evaluate` scores
# them against the COCO annotation file itself, as pycocotools would.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcv_utils.metrics import coco_evaluate
from dlcv_utils.viz.plotting import draw_boxes, show_image

custom_model.eval()
results = []
with torch.no_grad():
    for i in range(len(custom_val)):
        image, target = custom_val[i]
        det = custom_model([image.to(device)])[0]
        image_id = custom_val.records[i].image_id
        for box, label, score in zip(det["boxes"].cpu(), det["labels"], det["scores"]):
            x1, y1, x2, y2 = box.tolist()
            box_xywh = [x1, y1, x2 - x1, y2 - y1]
            results.append(
                dict(image_id=image_id, category_id=int(label), bbox=box_xywh, score=float(score))
            )
coco = coco_evaluate(root / "coco" / "annotations" / "instances_val.json", results)
print(f"custom val: AP50 {coco['AP50']:.3f}   AP {coco['AP']:.3f}   ({len(results)} detections)")
assert coco["AP50"] >= cfg.config_map50_floor, coco["AP50"]
image, target = custom_val[0]
with torch.no_grad():
    det = custom_model([image.to(device)])[0]
keep = det["scores"] >= 0.5
fig, ax = plt.subplots(figsize=(4, 4))
show_image(image, ax=ax, title=f"{keep.sum().item()} detections (score >= 0.5)")
draw_boxes(ax, target["boxes"], color="white", linestyle="--")
draw_boxes(ax, det["boxes"][keep].cpu(), color="red")
plt.show()

# %% [markdown]
# ## Summary
#
# * Compound scaling grows resolution (`512 + 128φ`), BiFPN width (`64 · 1.35^φ`) and depth
#   (`3 + φ`) and head depth (`3 + ⌊φ/3⌋`) together; the paper's table rounds and caps them
#   (D7 = D6's network at 1536 px). Cost grows ~130× from D0 to D7.
# * The BiFPN: top-down then bottom-up paths, an extra same-level edge, repeated; every node
#   fuses its inputs with ReLU'd weights divided by their sum plus ε, then SiLU and a separable
#   convolution. Ours equals effdet's with the same weights.
# * EfficientDet is a RetinaNet-style detector: anchors on P3–P7, focal loss, shared class and
#   box nets; torchvision's `RetinaNet` runs it with our backbone, BiFPN and heads.
# * automl's custom-dataset recipe maps to: a COCO/VOC folder, a config chosen by `φ` with
#   `num_classes` overridden, a checkpoint, a short fine-tuning run, inference + COCO mAP.
#
# ### Exercises
# 1. Set `cfg = dataclasses.replace(cfg, bifpn_layers=1)` and retrain: how much mAP does one
#    BiFPN cell lose against two?
# 2. Replace `my_fast_fusion` by a softmax over the raw weights in `my_bifpn_cell`: by how
#    much do the outputs change with the random weights above?
# 3. From the measured table: by what factor does D7's input area exceed D0's, and its
#    multiply-adds? Why are they not equal?

# %% [markdown]
# ## Glossary (용어집)
#
# | Term | 한국어 | Where it is taught |
# |---|---|---|
# | one-stage detector | 원스테이지 검출기 | Lesson 12 — EfficientDet: compound scaling and the BiFPN |
# | compound scaling | 복합 스케일링 | 1. Compound scaling |
# | BiFPN | 양방향 특징 피라미드 네트워크 | 2. The BiFPN |
# | fast normalised fusion | 빠른 정규화 융합 | 2. The BiFPN |
# | depthwise separable convolution | 깊이별 분리 합성곱 | 2. The BiFPN |
# | MBConv (inverted residual) | 역잔차 블록 | 3. A scaled-down EfficientDet-D0 |
# | squeeze-and-excitation | 스퀴즈-익사이테이션 | 3. A scaled-down EfficientDet-D0 |
# | anchors | 앵커 | 3. A scaled-down EfficientDet-D0 |
# | focal loss | 초점 손실 | 3. A scaled-down EfficientDet-D0 |
# | hyperparameters | 하이퍼파라미터 | 4. AutoML EfficientDet on your own dataset, the PyTorch way |
# | fine-tuning | 미세 조정 | 4. AutoML EfficientDet on your own dataset, the PyTorch way |
