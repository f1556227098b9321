"""Evaluation figures for a trained detector: TP / FP / FN boxes, confusion matrix, AP per class.

Taught in lesson 04 and reused after every trained model (lessons 04, 05, 06). mAP is one
number; these figures show *what* goes wrong:

* :func:`match_image` / :func:`draw_tp_fp_fn`: the predictions of one image coloured as true
  positives (green), false positives (red) and the missed ground truths, false negatives
  (orange, dashed). Matching is class-aware and greedy by score, with the VOC rule of
  :func:`dlcv_utils.metrics.match_detections` (a detection takes its best-overlapping ground
  truth of its class; a second detection of the same object is a false positive).
* :func:`detection_confusion_matrix` / :func:`plot_confusion_matrix`: which class a detected
  object was given, with a *background* row (false positives: a prediction with no object
  under it) and a *background* column (false negatives: an object nobody found). Here matching
  ignores the class, so a circle called a square shows up off the diagonal.
* :func:`plot_per_class_ap`: AP per class as bars, from ``evaluate_detector(...)["per_class"]``
  or ``coco_evaluate(...)["per_class_AP50"]``.

:func:`collect_predictions` runs a model over a few batches of a loader, and
:func:`show_evaluation` draws all three figures in one call (what the lessons use).

Labels follow torchvision: ``0`` is background, objects are ``1..K``; ``class_names[0]`` is the
background's name (as ``ShapesDetection.classes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "FN_COLOR",
    "FP_COLOR",
    "TP_COLOR",
    "collect_predictions",
    "detection_confusion_matrix",
    "draw_tp_fp_fn",
    "match_image",
    "plot_confusion_matrix",
    "plot_per_class_ap",
    "show_evaluation",
]

TP_COLOR = "limegreen"
FP_COLOR = "red"
FN_COLOR = "orange"


def _np(x, name: str, dtype) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(x).__name__}: {exc}") from None


def _boxes(x, name: str) -> np.ndarray:
    arr = _np(x, name, np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (xyxy), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _vector(x, name: str, n: int, dtype) -> np.ndarray:
    arr = _np(x, name, dtype).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{name} has length {len(arr)} but its boxes have {n} rows")
    return arr


def _check_threshold(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def match_image(
    pred_boxes,
    pred_scores,
    pred_labels,
    gt_boxes,
    gt_labels,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
) -> dict[str, Any]:
    """Label the predictions of one image TP or FP and its ground truths found or missed (FN).

    Class-aware: a prediction can only match a ground truth of its own class. Within a class
    the predictions are visited by decreasing score and each takes its best-overlapping ground
    truth if the IoU is ``>= iou_threshold`` and nobody took it before (VOC rule, via
    :func:`dlcv_utils.metrics.match_detections`). Predictions scoring below
    ``score_threshold`` are left out (``keep`` is False for them).

    Args:
        pred_boxes: ``[N, 4]`` xyxy predictions.
        pred_scores: ``[N]`` confidences.
        pred_labels: ``[N]`` class labels.
        gt_boxes: ``[M, 4]`` xyxy ground truth.
        gt_labels: ``[M]`` class labels.
        iou_threshold: the IoU a match needs.
        score_threshold: predictions below it are not shown and not counted.

    Returns:
        ``dict`` with ``keep`` (``bool[N]``: above the score threshold), ``tp`` (``bool[N]``,
        False where not kept), ``fp`` (``bool[N]``), ``gt_found`` (``bool[M]``) and the counts
        ``n_tp``, ``n_fp``, ``n_fn``.

    Raises:
        ValueError / TypeError: malformed boxes, lengths that do not match, thresholds outside
            ``[0, 1]``.

    Example:
        >>> gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
        >>> pred = [[0, 0, 10, 11], [1, 0, 10, 10], [20, 20, 30, 30]]
        >>> m = match_image(pred, [0.9, 0.8, 0.7], [1, 1, 2], gt, [1, 1])
        >>> m["tp"].tolist(), m["fp"].tolist(), m["gt_found"].tolist()
        ([True, False, False], [False, True, True], [True, False])
        >>> m["n_tp"], m["n_fp"], m["n_fn"]
        (1, 2, 1)
    """
    from dlcv_utils.metrics import match_detections
    from dlcv_utils.metrics.matching import box_iou_numpy

    pb = _boxes(pred_boxes, "pred_boxes")
    ps = _vector(pred_scores, "pred_scores", len(pb), np.float64)
    pl = _vector(pred_labels, "pred_labels", len(pb), np.int64)
    gb = _boxes(gt_boxes, "gt_boxes")
    gl = _vector(gt_labels, "gt_labels", len(gb), np.int64)
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold")
    score_threshold = _check_threshold(score_threshold, "score_threshold")
    keep = ps >= score_threshold
    tp = np.zeros(len(pb), dtype=bool)
    gt_found = np.zeros(len(gb), dtype=bool)
    for c in np.union1d(pl[keep], gl):
        di = np.flatnonzero(keep & (pl == c))
        gi = np.flatnonzero(gl == c)
        if len(di) == 0 or len(gi) == 0:
            continue
        c_tp, _ = match_detections(pb[di], ps[di], gb[gi], iou_threshold)
        tp[di] = c_tp
        # a TP took its best-overlapping ground truth (VOC rule), a different one per TP
        took = np.argmax(box_iou_numpy(pb[di][c_tp], gb[gi]), axis=1)
        gt_found[gi[took]] = True
    fp = keep & ~tp
    return {
        "keep": keep,
        "tp": tp,
        "fp": fp,
        "gt_found": gt_found,
        "n_tp": int(tp.sum()),
        "n_fp": int(fp.sum()),
        "n_fn": int((~gt_found).sum()),
    }


def draw_tp_fp_fn(
    ax,
    image,
    prediction: Mapping,
    target: Mapping,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Draw one image with its predictions coloured TP / FP and its missed objects (FN).

    True positives are green, false positives red (both with ``label score`` tags), missed
    ground truths orange and dashed; found ground truths are not drawn again (the TP box is on
    them).

    Args:
        ax: matplotlib ``Axes``.
        image: ``C x H x W`` float tensor in ``[0, 1]`` or ``H x W x 3`` uint8 array.
        prediction: ``{"boxes", "scores", "labels"}`` as a torchvision detector returns.
        target: ``{"boxes", "labels"}``.
        iou_threshold, score_threshold: as in :func:`match_image`.
        class_names: names indexed by label.
        title: default ``"TP n · FP n · FN n"``.

    Returns:
        The :func:`match_image` result.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> pred = {"boxes": [[2, 2, 8, 8], [20, 20, 28, 28]], "scores": [0.9, 0.8], "labels": [1, 1]}
        >>> m = draw_tp_fp_fn(ax, np.zeros((32, 32, 3), np.uint8), pred,
        ...                   {"boxes": [[2, 2, 8, 8], [10, 2, 16, 8]], "labels": [1, 2]})
        >>> ax.get_title(), len(ax.patches)
        ('TP 1 · FP 1 · FN 1', 3)
        >>> plt.close(fig)
    """
    from dlcv_utils.viz.plotting import draw_boxes, show_image

    m = match_image(
        prediction["boxes"],
        prediction["scores"],
        prediction["labels"],
        target["boxes"],
        target["labels"],
        iou_threshold,
        score_threshold,
    )
    pb = _boxes(prediction["boxes"], "prediction['boxes']")
    ps = _np(prediction["scores"], "prediction['scores']", np.float64).reshape(-1)
    pl = _np(prediction["labels"], "prediction['labels']", np.int64).reshape(-1)
    gb = _boxes(target["boxes"], "target['boxes']")
    gl = _np(target["labels"], "target['labels']", np.int64).reshape(-1)
    show_image(image, ax=ax)
    for mask, color in ((m["tp"], TP_COLOR), (m["fp"], FP_COLOR)):
        if mask.any():
            draw_boxes(ax, pb[mask], pl[mask], ps[mask], class_names, color=color)
    missed = ~m["gt_found"]
    if missed.any():
        draw_boxes(ax, gb[missed], gl[missed], None, class_names, color=FN_COLOR, linestyle="--")
    ax.set_title(title or f"TP {m['n_tp']} · FP {m['n_fp']} · FN {m['n_fn']}")
    return m


def detection_confusion_matrix(
    predictions: Sequence[Mapping],
    targets: Sequence[Mapping],
    num_classes: int,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
) -> np.ndarray:
    """Detection confusion matrix with a background row and column.

    Rows are the true class, columns the predicted class; index 0 is *background*. For each
    image, predictions scoring ``>= score_threshold`` are visited by decreasing score and each
    takes the still-free ground truth it overlaps most, **whatever its class**, if the IoU is
    ``>= iou_threshold``: that adds 1 at ``[true class, predicted class]`` (the diagonal when
    the class is right). A prediction that takes nothing adds 1 at ``[0, predicted class]``
    (a false positive on background); a ground truth nobody took adds 1 at ``[true class, 0]``
    (a false negative). ``[0, 0]`` stays 0.

    Args:
        predictions: one dict per image with ``boxes`` ``[N, 4]``, ``scores`` ``[N]``,
            ``labels`` ``[N]`` in ``1..num_classes - 1``.
        targets: one dict per image with ``boxes`` ``[M, 4]`` and ``labels`` ``[M]``.
        num_classes: number of classes **including** background (``len(class_names)``).
        iou_threshold: IoU needed to pair a prediction with an object.
        score_threshold: lower predictions are ignored.

    Returns:
        ``int64`` array ``[num_classes, num_classes]``.

    Raises:
        ValueError / TypeError: different numbers of images, malformed boxes, labels outside
            ``1..num_classes - 1``, bad thresholds or ``num_classes < 2``.

    Example:
        >>> gt = {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], "labels": [1, 2, 2]}
        >>> pred = {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30], [60, 60, 70, 70]],
        ...         "scores": [0.9, 0.8, 0.7], "labels": [1, 1, 2]}
        >>> detection_confusion_matrix([pred], [gt], num_classes=3).tolist()
        [[0, 0, 1], [0, 1, 0], [1, 1, 0]]
    """
    from dlcv_utils.metrics.matching import box_iou_numpy

    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise TypeError(f"num_classes must be an int (classes + background), got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (background + 1 class), got {num_classes}")
    predictions, targets = list(predictions), list(targets)
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions and targets must have one entry per image, got {len(predictions)} "
            f"and {len(targets)}"
        )
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold")
    score_threshold = _check_threshold(score_threshold, "score_threshold")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for i, (pred, tgt) in enumerate(zip(predictions, targets)):
        pb = _boxes(pred["boxes"], f"predictions[{i}]['boxes']")
        ps = _vector(pred["scores"], f"predictions[{i}]['scores']", len(pb), np.float64)
        pl = _vector(pred["labels"], f"predictions[{i}]['labels']", len(pb), np.int64)
        gb = _boxes(tgt["boxes"], f"targets[{i}]['boxes']")
        gl = _vector(tgt["labels"], f"targets[{i}]['labels']", len(gb), np.int64)
        for name, lab in ((f"predictions[{i}]['labels']", pl), (f"targets[{i}]['labels']", gl)):
            if lab.size and (lab.min() < 1 or lab.max() >= num_classes):
                raise ValueError(
                    f"{name} must lie in 1..{num_classes - 1} (0 is background), got "
                    f"{sorted(set(lab.tolist()))}"
                )
        keep = np.flatnonzero(ps >= score_threshold)
        keep = keep[np.argsort(-ps[keep], kind="mergesort")]
        taken = np.zeros(len(gb), dtype=bool)
        ious = box_iou_numpy(pb[keep], gb) if len(gb) else np.zeros((len(keep), 0))
        for r, d in enumerate(keep):
            row = np.where(taken, -1.0, ious[r]) if len(gb) else ious[r]
            g = int(np.argmax(row)) if len(gb) else -1
            if g >= 0 and row[g] >= iou_threshold and row[g] > 0:
                taken[g] = True
                matrix[gl[g], pl[d]] += 1
            else:
                matrix[0, pl[d]] += 1  # false positive: background predicted as pl[d]
        for g in np.flatnonzero(~taken):
            matrix[gl[g], 0] += 1  # false negative: the object was never found
    return matrix


def plot_confusion_matrix(matrix, class_names: Sequence[str], ax=None, title: str | None = None):
    """Draw a :func:`detection_confusion_matrix` with its counts written in the cells.

    Args:
        matrix: ``[K, K]`` integer counts, index 0 background.
        class_names: ``K`` names; entry 0 is shown as ``"background"``.
        ax: the ``Axes``; a new figure when ``None``.
        title: default: the share of objects whose class was right.

    Returns:
        The ``Axes``.

    Raises:
        ValueError: ``matrix`` not square or not matching ``class_names``.
    """
    import matplotlib.pyplot as plt

    m = _np(matrix, "matrix", np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square [K, K], got shape {m.shape}")
    if len(class_names) != m.shape[0]:
        raise ValueError(
            f"class_names has {len(class_names)} entries but matrix is {m.shape[0]} x {m.shape[1]}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.7 * len(m), 0.8 + 0.6 * len(m)))
    names = ["background", *[str(n) for n in list(class_names)[1:]]]
    ax.imshow(m, cmap="Blues")
    hi = m.max() if m.size else 0
    for r in range(len(m)):
        for c in range(len(m)):
            if r == 0 and c == 0:
                continue
            color = "white" if hi and m[r, c] > hi / 2 else "black"
            ax.text(c, r, str(m[r, c]), ha="center", va="center", color=color, fontsize=9)
    ax.set_xticks(range(len(m)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(m)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    objects = m[1:].sum()
    right = np.trace(m[1:, 1:])
    ax.set_title(title or f"confusion matrix\n{right} of {objects} objects found, right class")
    return ax


def plot_per_class_ap(per_class: Mapping, ax=None, title: str | None = None, class_names=None):
    """Bar chart of the AP of each class; classes without ground truth (AP -1) are marked.

    Args:
        per_class: ``{class name: AP}`` (``evaluate_detector(...)["per_class"]``) or
            ``{category id: AP}`` (``coco_evaluate(...)["per_class_AP50"]``, then pass
            ``class_names`` to name the ids).
        ax: the ``Axes``; a new figure when ``None``.
        title: default ``"AP per class (mean m)"``.
        class_names: names indexed by category id, used when the keys are ids.

    Returns:
        The ``Axes``.

    Raises:
        ValueError: empty ``per_class`` or an AP outside ``[0, 1]`` other than -1.
    """
    import matplotlib.pyplot as plt

    if not per_class:
        raise ValueError("per_class is empty: nothing to plot")
    names, values = [], []
    for k, v in per_class.items():
        v = float(v)
        if not (v == -1.0 or 0.0 <= v <= 1.0):
            raise ValueError(f"per_class[{k!r}] must be an AP in [0, 1] or -1, got {v}")
        is_id = class_names is not None and isinstance(k, int | np.integer)
        names.append(str(class_names[int(k)]) if is_id else str(k))
        values.append(v)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 0.8 * len(names), 3))
    vals = np.array(values)
    valid = vals >= 0
    bars = ax.bar(names, np.where(valid, vals, 0.0), color="tab:blue")
    for bar, v, ok in zip(bars, vals, valid):
        text = f"{v:.2f}" if ok else "no GT"
        ax.text(bar.get_x() + bar.get_width() / 2, max(v, 0) + 0.02, text, ha="center", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("AP")
    mean = float(vals[valid].mean()) if valid.any() else float("nan")
    ax.set_title(title or f"AP per class (mean {mean:.3f})")
    ax.tick_params(axis="x", rotation=30)
    return ax


def collect_predictions(model, loader, device=None, max_images: int = 16):
    """Run ``model`` (eval mode, no gradients) on the first ``max_images`` images of ``loader``.

    Args:
        model: a torchvision-style detector (a list of images in, a list of dicts out).
        loader: yields ``(images, targets)`` batches.
        device: where to run (default: the model's device).
        max_images: how many images to collect.

    Returns:
        ``(images, targets, predictions)``: three lists, everything on the CPU.

    Raises:
        ValueError: ``max_images < 1`` or an empty loader.
    """
    import torch

    from dlcv_utils.engine.evaluation import model_device

    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
        raise ValueError(f"max_images must be an int >= 1, got {max_images!r}")
    device = model_device(model, device)
    was_training = model.training
    model.eval()
    images, targets, predictions = [], [], []
    try:
        with torch.no_grad():
            for batch_images, batch_targets in loader:
                outputs = model([img.to(device) for img in batch_images])
                for img, tgt, out in zip(batch_images, batch_targets, outputs):
                    images.append(img.cpu())
                    targets.append({k: torch.as_tensor(tgt[k]).cpu() for k in ("boxes", "labels")})
                    predictions.append(
                        {k: out[k].detach().cpu() for k in ("boxes", "scores", "labels")}
                    )
                    if len(images) >= max_images:
                        return images, targets, predictions
    finally:
        model.train(was_training)
    if not images:
        raise ValueError("loader yielded no images")
    return images, targets, predictions


def show_evaluation(
    model,
    loader,
    class_names: Sequence[str],
    per_class: Mapping | None = None,
    device=None,
    max_images: int = 64,
    n_shown: int = 3,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
):
    """The evaluation figures of a trained detector in one call, as the lessons use them.

    Top row: ``n_shown`` validation images with TP / FP / FN boxes. Bottom row: the detection
    confusion matrix over the first ``max_images`` images, and the AP per class (when
    ``per_class`` is given).

    Args:
        model: the trained detector.
        loader: validation loader yielding ``(images, targets)``.
        class_names: names indexed by label, entry 0 the background.
        per_class: ``{name: AP}`` from :func:`dlcv_utils.engine.evaluate_detector`.
        device: where to run the model.
        max_images: images used for the confusion matrix and the counts.
        n_shown: images drawn with their boxes.
        iou_threshold, score_threshold: for the matching.

    Returns:
        ``(fig, result)``; ``result`` holds ``matrix`` (the confusion matrix) and the totals
        ``n_tp``, ``n_fp``, ``n_fn`` over the ``max_images`` images.
    """
    import matplotlib.pyplot as plt

    images, targets, predictions = collect_predictions(model, loader, device, max_images)
    n_shown = max(1, min(int(n_shown), len(images)))
    fig = plt.figure(figsize=(3.3 * max(n_shown, 2), 6.8))  # small: notebooks stay lean
    grid = fig.add_gridspec(2, max(n_shown, 2))
    totals = {"n_tp": 0, "n_fp": 0, "n_fn": 0}
    for i, (img, tgt, pred) in enumerate(zip(images, targets, predictions)):
        if i < n_shown:
            ax = fig.add_subplot(grid[0, i])
            m = draw_tp_fp_fn(ax, img, pred, tgt, iou_threshold, score_threshold, class_names)
        else:
            m = match_image(
                pred["boxes"], pred["scores"], pred["labels"], tgt["boxes"], tgt["labels"],
                iou_threshold, score_threshold,
            )  # fmt: skip
        for k in totals:
            totals[k] += m[k]
    matrix = detection_confusion_matrix(
        predictions, targets, len(class_names), iou_threshold, score_threshold
    )
    half = max(n_shown, 2) // 2
    plot_confusion_matrix(matrix, class_names, ax=fig.add_subplot(grid[1, :half]))
    if per_class:
        plot_per_class_ap(per_class, ax=fig.add_subplot(grid[1, half:]))
    fig.suptitle(
        f"{len(images)} val images at IoU {iou_threshold:g}, score >= {score_threshold:g}: "
        f"TP {totals['n_tp']} (green), FP {totals['n_fp']} (red), FN {totals['n_fn']} (orange, dashed)"
    )
    fig.tight_layout()
    return fig, {"matrix": matrix, **totals}
