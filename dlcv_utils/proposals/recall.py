"""Proposal recall (재현율): how many ground-truth boxes the first ``n`` proposals cover.

Taught in lesson 03. Boxes are ``[N, 4]`` ``(x1, y1, x2, y2)`` in pixel edges (no ``+1``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_proposal_recall", "proposal_recall"]


def _as_box_array(boxes, name: str) -> np.ndarray:
    if hasattr(boxes, "detach"):
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be [N, 4] xyxy boxes, got shape {arr.shape}")
    return arr


def proposal_recall(
    proposals_per_image,
    gt_boxes_per_image,
    iou_thresholds=(0.5, 0.7),
    counts=(1, 10, 100, 1000),
) -> np.ndarray:
    """Fraction of ground-truth boxes covered by one of the first ``N`` proposals.

    A ground-truth box counts as *recalled* at ``N`` proposals and threshold ``t`` when one of
    the first ``N`` proposals of its image has IoU ``>= t`` with it (class is ignored:
    proposals are class-agnostic). Images with fewer than ``N`` proposals use all they have.

    Args:
        proposals_per_image: one ``[P_i, 4]`` xyxy array per image, best first.
        gt_boxes_per_image: one ``[G_i, 4]`` xyxy array per image (``G_i`` may be 0).
        iou_thresholds: IoU thresholds ``t``.
        counts: the numbers of proposals ``N``.

    Returns:
        ``[len(iou_thresholds), len(counts)]`` float64 recall values.

    Raises:
        ValueError: different numbers of images, malformed boxes, no ground truth at all,
            thresholds outside ``[0, 1]`` or counts < 1.

    Example:
        >>> gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
        >>> props = [np.array([[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 30]])]
        >>> proposal_recall(props, gt, iou_thresholds=(0.5, 0.9), counts=(1, 3)).tolist()
        [[0.5, 1.0], [0.0, 0.5]]
    """
    from dlcv_utils.ops.boxes import box_iou

    props = list(proposals_per_image)
    gts = list(gt_boxes_per_image)
    if len(props) != len(gts):
        raise ValueError(
            f"proposals_per_image and gt_boxes_per_image must have one entry per image, "
            f"got {len(props)} and {len(gts)}"
        )
    ts = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if ts.size == 0 or not np.all((ts >= 0) & (ts <= 1)):
        raise ValueError(
            f"iou_thresholds must be non-empty and lie in [0, 1], got {iou_thresholds!r}"
        )
    cs = []
    for c in np.atleast_1d(counts).tolist():
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"counts must be ints >= 1, got {counts!r}")
        cs.append(c)
    if not cs:
        raise ValueError("counts must not be empty")
    hits = np.zeros((ts.size, len(cs)))
    total = 0
    max_count = max(cs)
    for i, (p, g) in enumerate(zip(props, gts)):
        p = _as_box_array(p, f"proposals_per_image[{i}]")[:max_count]
        g = _as_box_array(g, f"gt_boxes_per_image[{i}]")
        total += len(g)
        if len(g) == 0 or len(p) == 0:
            continue
        best = np.maximum.accumulate(box_iou(g, p), axis=1)  # best IoU within the first n
        for ci, c in enumerate(cs):
            col = best[:, min(c, len(p)) - 1]
            hits[:, ci] += (col[None, :] >= ts[:, None]).sum(1)
    if total == 0:
        raise ValueError("gt_boxes_per_image holds no boxes at all: recall is undefined")
    return hits / total


def plot_proposal_recall(counts, curves: dict, iou_thresholds=(0.5, 0.7), axes=None, title=None):
    """Recall-vs-number-of-proposals curves, one panel per IoU threshold (log x axis).

    Args:
        counts: the numbers of proposals ``N`` (x axis).
        curves: ``{method name: [len(iou_thresholds), len(counts)] recall}`` as returned by
            :func:`proposal_recall`.
        iou_thresholds: one panel each.
        axes: as many matplotlib ``Axes`` as thresholds; a new figure when ``None``.
        title: figure title.

    Returns:
        The list of ``Axes``.

    Raises:
        ValueError: a curve of another shape than ``(len(iou_thresholds), len(counts))``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> axes = plot_proposal_recall([1, 10], {"toy": np.array([[0.5, 1.0], [0.2, 0.6]])})
        >>> [ax.get_title() for ax in axes]
        ['IoU >= 0.5', 'IoU >= 0.7']
        >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    ts = list(iou_thresholds)
    for name, r in curves.items():
        if np.shape(r) != (len(ts), len(counts)):
            raise ValueError(
                f"curves[{name!r}] must have shape {(len(ts), len(counts))} (thresholds x counts), "
                f"got {np.shape(r)}"
            )
    if axes is None:
        fig, axes = plt.subplots(1, len(ts), figsize=(4.5 * len(ts), 3.6), squeeze=False)
        axes = list(axes[0])
        if title is not None:
            fig.suptitle(title)
    for i, (ax, t) in enumerate(zip(axes, ts)):
        for name, r in curves.items():
            ax.plot(counts, np.asarray(r)[i], marker="o", markersize=3, label=name)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("number of proposals N")
        ax.set_ylabel("recall")
        ax.set_title(f"IoU >= {t}")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    return axes
