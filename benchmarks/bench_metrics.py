"""Benchmark: ``dlcv_utils.metrics.coco_evaluate`` vs pycocotools vs faster-coco-eval.

Builds a seeded COCO-sized evaluation (default 5,000 images, 80 classes, about 7 ground-truth
boxes per image of which about 1 % are crowd regions, 100 detections per image: jittered copies
of the ground truth, duplicates, wrong classes and background boxes), writes it to JSON, and runs
each tool in its own subprocess so that peak memory (``ru_maxrss``) is measured per tool. Every
tool gets the same parsed JSON (dict + list) and is timed from there to its 12 numbers:

* pycocotools: ``COCO`` index + ``loadRes`` + ``evaluate`` + ``accumulate`` + ``summarize``
  (the time of ``evaluate + accumulate`` alone is shown too);
* faster-coco-eval (if importable): the same steps with ``COCOeval_faster``;
* ``coco_evaluate``: one call, input validation included.

``--iou-type segm`` times mask evaluation instead (``iou_type="segm"``, see
:func:`make_segm_dataset`: 1,000 images, about 5,000 polygon masks, 100 compressed-RLE
detections per image, each with its ``bbox``); ``--iou-type all`` (the default) runs both.

Usage::

    python benchmarks/bench_metrics.py                      # bbox (5,000 images) and segm
    python benchmarks/bench_metrics.py --iou-type segm      # masks only
    python benchmarks/bench_metrics.py --iou-type segm --repeat 3  # busy machine: best of 3
    python benchmarks/bench_metrics.py --images 500 --segm-images 200  # quick run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # import this checkout's dlcv_utils, installed or not


def make_dataset(n_images: int, n_classes: int = 80, dets_per_image: int = 100, seed: int = 0):
    """A seeded synthetic COCO evaluation (ground-truth dict, list of result dicts)."""
    rng = np.random.default_rng(seed)
    W, H = 640, 480
    images = [{"id": int(i), "width": W, "height": H} for i in range(1, n_images + 1)]
    categories = [{"id": int(c), "name": f"class{c}"} for c in range(1, n_classes + 1)]
    class_p = 1.0 / np.arange(1, n_classes + 1) ** 0.8
    class_p /= class_p.sum()
    anns, dets = [], []
    ann_id = 1
    for img in images:
        n_gt = int(rng.poisson(7))
        side = np.exp(rng.uniform(np.log(6), np.log(400), n_gt))
        aspect = np.exp(rng.normal(0, 0.4, n_gt))
        w = np.clip(side * aspect, 2, W - 1)
        h = np.clip(side / aspect, 2, H - 1)
        x = rng.uniform(0, W - w)
        y = rng.uniform(0, H - h)
        cls = rng.choice(n_classes, n_gt, p=class_p) + 1
        crowd = rng.random(n_gt) < 0.01
        frac = rng.uniform(0.4, 0.95, n_gt)  # mask area is smaller than the box
        boxes = np.stack([x, y, w, h], 1)
        for j in range(n_gt):
            anns.append(
                {
                    "id": ann_id,
                    "image_id": img["id"],
                    "category_id": int(cls[j]),
                    "bbox": [round(float(v), 2) for v in boxes[j]],
                    "area": round(float(w[j] * h[j] * frac[j]), 2),
                    "iscrowd": int(crowd[j]),
                }
            )
            ann_id += 1
        # detections: up to 4 jittered copies per gt (duplicates, sometimes wrong class),
        # the rest background boxes, mostly of the classes present in the image
        n_near = min(dets_per_image, int(rng.integers(1, 5)) * n_gt)
        src = rng.integers(0, max(n_gt, 1), n_near)
        if n_gt:
            jit = rng.normal(0, 0.12, (n_near, 4)) * np.stack([w[src], h[src], w[src], h[src]], 1)
            near = boxes[src] + jit
            near[:, 2:] = np.maximum(near[:, 2:], 1.0)
            near_cls = np.where(
                rng.random(n_near) < 0.85, cls[src], rng.integers(1, n_classes + 1, n_near)
            )
            near_score = np.clip(rng.beta(4, 2, n_near), 0, 1)
        else:
            n_near = 0
            near = np.zeros((0, 4))
            near_cls = np.zeros(0, dtype=int)
            near_score = np.zeros(0)
        n_bg = dets_per_image - n_near
        side = np.exp(rng.uniform(np.log(6), np.log(400), n_bg))
        bw = np.clip(side * np.exp(rng.normal(0, 0.4, n_bg)), 2, W - 1)
        bh = np.clip(side * np.exp(rng.normal(0, 0.4, n_bg)), 2, H - 1)
        bg = np.stack([rng.uniform(0, W - bw), rng.uniform(0, H - bh), bw, bh], 1)
        present = cls if n_gt else rng.integers(1, n_classes + 1, 1)
        bg_cls = np.where(
            rng.random(n_bg) < 0.6,
            rng.choice(present, n_bg),
            rng.integers(1, n_classes + 1, n_bg),
        )
        bg_score = np.clip(rng.beta(1.2, 5, n_bg), 0, 1)
        all_boxes = np.concatenate([near, bg])
        all_cls = np.concatenate([near_cls, bg_cls])
        # scores rounded to 3 decimals: many ties, as in real exported results
        all_score = np.round(np.concatenate([near_score, bg_score]), 3)
        for b, c, s in zip(all_boxes.tolist(), all_cls.tolist(), all_score.tolist()):
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": int(c),
                    "bbox": [round(v, 2) for v in b],
                    "score": s,
                }
            )
    return {"images": images, "annotations": anns, "categories": categories}, dets


def _star_polygons(cx, cy, rx, ry, rng, n_vertices: int = 12):
    """Star-shaped polygons (one row of ``2 * n_vertices`` xy coordinates per shape)."""
    n = len(cx)
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, n_vertices)), axis=1)
    rad = rng.uniform(0.6, 1.0, (n, n_vertices))
    xs = cx[:, None] + rx[:, None] * rad * np.cos(ang)
    ys = cy[:, None] + ry[:, None] * rad * np.sin(ang)
    return np.stack([xs, ys], axis=2).reshape(n, 2 * n_vertices)


def _uncompressed_rle(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE (column-major run lengths, background first) of a 0/1 mask."""
    flat = mask.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(edges).tolist()
    return [0, *runs] if flat[0] else runs


def make_segm_dataset(n_images: int, n_classes: int = 80, dets_per_image: int = 100, seed: int = 0):
    """A seeded synthetic COCO instance-segmentation evaluation (ground-truth dict, results).

    Like :func:`make_dataset` but with masks: about 5 star-shaped polygon masks per image
    (1 % crowd regions stored as uncompressed RLE, as in COCO), ``area`` the mask area;
    detections are compressed RLEs (``counts`` a string, as written by Detectron2 / MMDet)
    with their ``bbox``: jittered copies of the ground truth (duplicates, wrong classes) and
    background shapes.
    """
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    W, H = 640, 480
    images = [{"id": int(i), "width": W, "height": H} for i in range(1, n_images + 1)]
    categories = [{"id": int(c), "name": f"class{c}"} for c in range(1, n_classes + 1)]
    class_p = 1.0 / np.arange(1, n_classes + 1) ** 0.8
    class_p /= class_p.sum()
    anns, dets = [], []
    ann_id = 1

    def shapes(n):
        side = np.exp(rng.uniform(np.log(8), np.log(400), n))
        aspect = np.exp(rng.normal(0, 0.4, n))
        rx = np.clip(side * aspect, 4, W - 2) / 2
        ry = np.clip(side / aspect, 4, H - 2) / 2
        # some shapes reach over the image border (pycocotools clips them)
        cx = rng.uniform(rx * 0.8, W - rx * 0.8)
        cy = rng.uniform(ry * 0.8, H - ry * 0.8)
        return cx, cy, rx, ry

    def encode(polys):
        rles = mask_utils.frPyObjects([[float(v) for v in p] for p in polys], H, W)
        return rles

    for img in images:
        n_gt = int(rng.poisson(5))
        cx, cy, rx, ry = shapes(n_gt)
        polys = _star_polygons(cx, cy, rx, ry, rng)
        cls = rng.choice(n_classes, n_gt, p=class_p) + 1
        crowd = rng.random(n_gt) < 0.01
        for j, rle in enumerate(encode(polys) if n_gt else []):
            poly = [round(float(v), 2) for v in polys[j]]
            if crowd[j]:
                seg = {"size": [H, W], "counts": _uncompressed_rle(mask_utils.decode(rle))}
            else:
                seg = [poly]
                rle = mask_utils.frPyObjects([poly], H, W)[0]
            anns.append(
                {
                    "id": ann_id,
                    "image_id": img["id"],
                    "category_id": int(cls[j]),
                    "segmentation": seg,
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "area": float(mask_utils.area(rle)),
                    "iscrowd": int(crowd[j]),
                }
            )
            ann_id += 1
        # detections: up to 4 jittered copies per gt, the rest background shapes
        n_near = min(dets_per_image, int(rng.integers(1, 5)) * n_gt) if n_gt else 0
        src = rng.integers(0, max(n_gt, 1), n_near)
        n_bg = dets_per_image - n_near
        bcx, bcy, brx, bry = shapes(n_bg)
        # near: the source polygon shifted, scaled and with every vertex jittered
        pts = polys[src].reshape(n_near, polys.shape[1] // 2, 2)
        ctr = np.stack([cx[src], cy[src]], 1)[:, None, :]
        size = np.stack([rx[src], ry[src]], 1)[:, None, :]
        near = (
            ctr
            + (pts - ctr) * rng.normal(1, 0.06, (n_near, 1, 1))
            + size * rng.normal(0, 0.06, (n_near, 1, 2))
            + size * rng.normal(0, 0.03, pts.shape)
        )
        bg = _star_polygons(bcx, bcy, brx, bry, rng)
        dpolys = np.clip(np.concatenate([near.reshape(n_near, bg.shape[1]), bg]), -5, W + 5)
        near_cls = np.where(
            rng.random(n_near) < 0.85, cls[src], rng.integers(1, n_classes + 1, n_near)
        )
        present = cls if n_gt else rng.integers(1, n_classes + 1, 1)
        bg_cls = np.where(
            rng.random(n_bg) < 0.6, rng.choice(present, n_bg), rng.integers(1, n_classes + 1, n_bg)
        )
        all_cls = np.concatenate([near_cls, bg_cls])
        score = np.concatenate([rng.beta(4, 2, n_near), rng.beta(1.2, 5, n_bg)])
        all_score = np.round(np.clip(score, 0, 1), 3)
        for rle, c, s in zip(encode(dpolys), all_cls.tolist(), all_score.tolist()):
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": int(c),
                    "segmentation": {"size": [H, W], "counts": rle["counts"].decode("ascii")},
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "score": s,
                }
            )
    return {"images": images, "annotations": anns, "categories": categories}, dets


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) so that loading the JSON is not counted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_tool(tool: str, gt_path: str, dt_path: str, iou_type: str = "bbox") -> dict:
    """Run one tool in this process; returns timings, memory and the 12 numbers."""
    with open(gt_path) as f:
        gt = json.load(f)
    with open(dt_path) as f:
        dets = json.load(f)
    import numpy  # noqa: F401  (imports before the baseline)

    if tool == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    elif tool == "faster-coco-eval":
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as COCOeval
    else:
        from dlcv_utils.metrics import coco_evaluate
    base = _current_rss_mb()
    reset = _reset_peak_rss()
    t0 = time.perf_counter()
    c0 = time.process_time()
    t_eval = None
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "dlcv_utils":
            t1 = time.perf_counter()
            stats = coco_evaluate(gt, dets, iou_type)["stats"]
            t_eval = time.perf_counter() - t1
        else:
            coco_gt = COCO()
            coco_gt.dataset = gt
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(dets)
            ev = COCOeval(coco_gt, coco_dt, iou_type)
            t1 = time.perf_counter()
            ev.evaluate()
            ev.accumulate()
            t_eval = time.perf_counter() - t1
            ev.summarize()
            stats = ev.stats
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    hwm = _vm_hwm_mb() if reset else None
    return {
        "tool": tool,
        "total_s": total,
        "cpu_s": cpu,
        "eval_acc_s": t_eval,
        "peak_mb": _maxrss_mb(),
        "tool_peak_mb": hwm if hwm is not None else _maxrss_mb(),
        "base_mb": base,
        "stats": [float(s) for s in stats],
    }


def run_table(kind: str, gt: dict, dets: list, tools: list[str], repeat: int = 1) -> bool:
    """Time every tool on one evaluation (``kind`` = ``"bbox"`` or ``"segm"``); print a table.

    With ``repeat > 1`` every tool runs that many times (fresh processes, tools interleaved)
    and the table shows each tool's fastest run (total and CPU time separately).

    Returns True when ``coco_evaluate``'s 12 numbers are bit-identical to the reference's.
    """
    n_crowd = sum(a["iscrowd"] for a in gt["annotations"])
    print(
        f"[{kind}] dataset: {len(gt['images'])} images, {len(gt['categories'])} classes, "
        f"{len(gt['annotations'])} ground truths ({n_crowd} crowd), {len(dets)} detections"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        gt_path = os.path.join(tmp, "gt.json")
        dt_path = os.path.join(tmp, "dt.json")
        with open(gt_path, "w") as f:
            json.dump(gt, f)
        with open(dt_path, "w") as f:
            json.dump(dets, f)
        del gt, dets
        if "faster-coco-eval" in tools:
            try:
                import faster_coco_eval  # noqa: F401
            except ImportError:
                print("faster-coco-eval not installed, skipped")
                tools = [t for t in tools if t != "faster-coco-eval"]
        best: dict[str, dict] = {}
        for _ in range(max(repeat, 1)):
            for tool in tools:
                cmd = [sys.executable, __file__, "--run-tool", tool, "--gt", gt_path]
                cmd += ["--dt", dt_path, "--iou-type", kind]
                out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    print(f"{tool} failed:\n{out.stderr[-2000:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if tool not in best:
                    best[tool] = r
                else:
                    for key in ("total_s", "cpu_s", "eval_acc_s"):
                        best[tool][key] = min(best[tool][key], r[key])
                    if r["stats"] != best[tool]["stats"]:
                        raise RuntimeError(f"{tool} gave different numbers on a rerun")
        rows = [best[t] for t in tools if t in best]
    if not rows:
        return False
    ref = next((r for r in rows if r["tool"] == "pycocotools"), rows[0])
    header = (
        f"{'tool':<18}{'total s':>9}{'cpu s':>8}{'eval+acc s':>12}{'speed-up':>10}"
        f"{'peak MB':>9}{'+MB over data':>15}{'max |Δ stats|':>15}{'identical':>11}"
    )
    print(header)
    print("-" * len(header))
    identical_all = True
    for r in rows:
        diff = max(abs(a - b) for a, b in zip(r["stats"], ref["stats"]))
        identical = r["stats"] == ref["stats"]
        if r["tool"] == "dlcv_utils":
            identical_all &= identical
        print(
            f"{r['tool']:<18}{r['total_s']:>9.2f}{r['cpu_s']:>8.2f}{r['eval_acc_s']:>12.2f}"
            f"{ref['total_s'] / r['total_s']:>9.1f}x{r['peak_mb']:>9.0f}"
            f"{r['tool_peak_mb'] - r['base_mb']:>15.0f}{diff:>15.1e}"
            f"{'yes' if identical else 'NO':>11}"
        )
    runs = f"fastest of {repeat} runs" if repeat > 1 else "one run"
    print(f"speed-up: total time relative to {ref['tool']} ({runs} per tool)")
    print("stats (" + ref["tool"] + "): " + " ".join(f"{s:.4f}" for s in ref["stats"]))
    return identical_all


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iou-type",
        choices=("bbox", "segm", "all"),
        default="all",
        help="which evaluation(s) to time (all: bbox, then segm)",
    )
    parser.add_argument("--images", type=int, default=5000, help="bbox: number of images (5000)")
    parser.add_argument(
        "--segm-images", type=int, default=1000, help="segm: number of images (1000)"
    )
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--dets", type=int, default=100, help="detections per image (100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tools", default="pycocotools,faster-coco-eval,dlcv_utils", help="comma-separated"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per tool, the fastest is shown (1)"
    )
    parser.add_argument(
        "--require-identical",
        action="store_true",
        help="exit with status 1 unless coco_evaluate gives pycocotools' 12 numbers bit for bit",
    )
    parser.add_argument("--run-tool", help=argparse.SUPPRESS)
    parser.add_argument("--gt", help=argparse.SUPPRESS)
    parser.add_argument("--dt", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_tool:
        print(json.dumps(run_tool(args.run_tool, args.gt, args.dt, args.iou_type)))
        return 0

    tools = args.tools.split(",")
    identical = True
    if args.iou_type in ("bbox", "all"):
        gt, dets = make_dataset(args.images, args.classes, args.dets, args.seed)
        identical &= run_table("bbox", gt, dets, tools, args.repeat)
        del gt, dets
    if args.iou_type in ("segm", "all"):
        gt, dets = make_segm_dataset(args.segm_images, args.classes, args.dets, args.seed)
        identical &= run_table("segm", gt, dets, tools, args.repeat)
    print(
        "total s: from the parsed JSON to the 12 numbers (pycocotools/faster-coco-eval: index,"
        " loadRes, evaluate, accumulate, summarize); cpu s: the process's CPU time over the"
        " same span (less sensitive to other load on the machine); eval+acc s: evaluate +"
        " accumulate only (coco_evaluate: the whole call). peak MB: the process's peak RSS,"
        " JSON loading included; +MB over data: peak RSS while the tool runs minus RSS after"
        " loading the data. identical: the 12 numbers equal the reference's bit for bit."
    )
    return 1 if args.require_identical and not identical else 0


if __name__ == "__main__":
    raise SystemExit(main())
