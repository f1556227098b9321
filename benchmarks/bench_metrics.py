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

Usage::

    python benchmarks/bench_metrics.py              # full size
    python benchmarks/bench_metrics.py --images 500 # quick run
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

import numpy as np


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


def run_tool(tool: str, gt_path: str, dt_path: str) -> dict:
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
    t_eval = None
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "dlcv_utils":
            t1 = time.perf_counter()
            stats = coco_evaluate(gt, dets)["stats"]
            t_eval = time.perf_counter() - t1
        else:
            coco_gt = COCO()
            coco_gt.dataset = gt
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(dets)
            ev = COCOeval(coco_gt, coco_dt, "bbox")
            t1 = time.perf_counter()
            ev.evaluate()
            ev.accumulate()
            t_eval = time.perf_counter() - t1
            ev.summarize()
            stats = ev.stats
    total = time.perf_counter() - t0
    hwm = _vm_hwm_mb() if reset else None
    return {
        "tool": tool,
        "total_s": total,
        "eval_acc_s": t_eval,
        "peak_mb": _maxrss_mb(),
        "tool_peak_mb": hwm if hwm is not None else _maxrss_mb(),
        "base_mb": base,
        "stats": [float(s) for s in stats],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000, help="number of images (5000)")
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--dets", type=int, default=100, help="detections per image (100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tools", default="pycocotools,faster-coco-eval,dlcv_utils", help="comma-separated"
    )
    parser.add_argument("--run-tool", help=argparse.SUPPRESS)
    parser.add_argument("--gt", help=argparse.SUPPRESS)
    parser.add_argument("--dt", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_tool:
        print(json.dumps(run_tool(args.run_tool, args.gt, args.dt)))
        return 0

    gt, dets = make_dataset(args.images, args.classes, args.dets, args.seed)
    n_crowd = sum(a["iscrowd"] for a in gt["annotations"])
    print(
        f"dataset: {len(gt['images'])} images, {len(gt['categories'])} classes, "
        f"{len(gt['annotations'])} ground truths ({n_crowd} crowd), {len(dets)} detections"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gt_path = os.path.join(tmp, "gt.json")
        dt_path = os.path.join(tmp, "dt.json")
        with open(gt_path, "w") as f:
            json.dump(gt, f)
        with open(dt_path, "w") as f:
            json.dump(dets, f)
        del gt, dets
        for tool in args.tools.split(","):
            if tool == "faster-coco-eval":
                try:
                    import faster_coco_eval  # noqa: F401
                except ImportError:
                    print("faster-coco-eval not installed, skipped")
                    continue
            cmd = [sys.executable, __file__, "--run-tool", tool, "--gt", gt_path, "--dt", dt_path]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"{tool} failed:\n{out.stderr[-2000:]}")
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if not rows:
        return 1
    ref = next((r for r in rows if r["tool"] == "pycocotools"), rows[0])
    header = (
        f"{'tool':<18}{'total s':>9}{'eval+acc s':>12}{'speed-up':>11}"
        f"{'peak MB':>9}{'+MB over data':>15}{'max |Δ stats|':>15}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        diff = max(abs(a - b) for a, b in zip(r["stats"], ref["stats"]))
        print(
            f"{r['tool']:<18}{r['total_s']:>9.2f}{r['eval_acc_s']:>12.2f}"
            f"{ref['total_s'] / r['total_s']:>10.1f}x{r['peak_mb']:>9.0f}"
            f"{r['tool_peak_mb'] - r['base_mb']:>15.0f}{diff:>15.1e}"
        )
    print(f"speed-up: total time relative to {ref['tool']}")
    print("stats (" + ref["tool"] + "): " + " ".join(f"{s:.4f}" for s in ref["stats"]))
    print(
        "total s: from the parsed JSON to the 12 numbers (pycocotools/faster-coco-eval: index,"
        " loadRes, evaluate, accumulate, summarize); eval+acc s: evaluate + accumulate only"
        " (coco_evaluate: the whole call). peak MB: the process's peak RSS, JSON loading"
        " included; +MB over data: peak RSS while the tool runs minus RSS after loading the"
        " data."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
