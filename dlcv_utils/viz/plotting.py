"""Matplotlib helpers shared by every lesson: images with boxes and masks, PR curves, grids.

Taught in lesson 01 (and used by every later lesson). These are plumbing: the lessons keep the
algorithms in their cells and call these helpers only to draw.

Conventions:
    * images are ``H x W x 3`` ``uint8`` RGB arrays (``H x W`` grey and floats in ``[0, 1]`` are
      accepted too), or ``C x H x W`` float tensors in ``[0, 1]`` as torchvision returns them;
    * boxes are ``[N, 4]`` in ``(x1, y1, x2, y2)`` absolute pixels (no ``+1``), numpy or torch;
    * masks are ``[N, H, W]`` booleans (or probabilities, drawn where ``>= 0.5``).

Every function returns the matplotlib ``Axes`` (or ``Figure``) it drew on and never calls
``plt.show()``: the lesson decides when to show.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

__all__ = [
    "PALETTE",
    "color_for",
    "detector_diagram",
    "draw_boxes",
    "image_grid",
    "plot_pr_curve",
    "show_image",
    "to_numpy_image",
]

#: Colours for classes / boxes, in order (matplotlib's ``tab10``).
PALETTE: tuple[str, ...] = tuple(mcolors.TABLEAU_COLORS.values())


def color_for(index: int) -> str:
    """Return the palette colour for a class (or box) index; indices wrap around.

    Example:
        >>> color_for(0), color_for(len(PALETTE)) == color_for(0)
        ('#1f77b4', True)
    """
    return PALETTE[int(index) % len(PALETTE)]


def _to_numpy(x, name: str) -> np.ndarray:
    """Torch tensors and sequences to a numpy array (no copy for numpy input)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc


def to_numpy_image(image) -> np.ndarray:
    """Return ``image`` as an ``H x W x 3`` (or ``H x W``) array that ``imshow`` draws as-is.

    Accepts ``H x W x 3``/``H x W x 4``/``H x W`` numpy arrays (``uint8``, or floats in
    ``[0, 1]``) and ``C x H x W`` torch tensors (``C`` = 1 or 3, floats in ``[0, 1]`` or
    ``uint8``).

    Raises:
        TypeError: if ``image`` is not an array or tensor of numbers.
        ValueError: for a wrong shape, or float values outside ``[0, 1]`` or not finite.

    Example:
        >>> to_numpy_image(np.zeros((4, 6, 3), dtype=np.uint8)).shape
        (4, 6, 3)
    """
    is_tensor = hasattr(image, "detach") and hasattr(image, "permute")
    arr = _to_numpy(image, "image")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"image must hold numbers, got dtype {arr.dtype}")
    if is_tensor:
        if arr.ndim != 3 or arr.shape[0] not in (1, 3):
            raise ValueError(
                f"image tensor must be C x H x W with C in (1, 3), got shape {tuple(arr.shape)}"
            )
        arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(
            f"image must be H x W x 3 (RGB), H x W x 4 or H x W, got shape {tuple(arr.shape)}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {tuple(arr.shape)}")
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("image contains NaN or inf values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float image values must lie in [0, 1], got range [{lo:.3g}, {hi:.3g}]"
                " (divide uint8 images by 255, or pass them as uint8)"
            )
        return arr
    if arr.dtype != np.uint8:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"integer image values must lie in [0, 255], got [{lo}, {hi}]")
        arr = arr.astype(np.uint8)
    return arr


def _check_boxes(boxes) -> np.ndarray:
    arr = _to_numpy(boxes, "boxes")
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 4:  # a single box
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4] (x1, y1, x2, y2), got {tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"boxes must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("boxes contain NaN or inf values")
    bad = np.nonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"boxes must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1; box {i} is "
            f"{arr[i].tolist()} (is it in xywh format? use dlcv_utils.ops.boxes.box_convert)"
        )
    return arr


def _check_per_box(values, n: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = _to_numpy(values, name).reshape(-1) if not isinstance(values, str) else None
    if arr is None:
        raise TypeError(f"{name} must be a sequence with one entry per box, got a string")
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have one entry per box: got {arr.shape[0]} for {n} boxes")
    return arr


def _label_text(label, score, class_names) -> str | None:
    parts = []
    if label is not None:
        if class_names is not None:
            idx = int(label)
            if not 0 <= idx < len(class_names):
                raise ValueError(
                    f"labels must index class_names (0..{len(class_names) - 1}), got {label!r}"
                )
            parts.append(str(class_names[idx]))
        else:
            parts.append(str(label.item() if hasattr(label, "item") else label))
    if score is not None:
        parts.append(f"{float(score):.2f}")
    return " ".join(parts) if parts else None


def _box_colors(color, n: int, labels) -> list:
    if color is None:
        if labels is not None:
            return [color_for(int(lab)) if _is_int_like(lab) else PALETTE[0] for lab in labels]
        return [PALETTE[0]] * n
    if mcolors.is_color_like(color):
        return [color] * n
    if isinstance(color, str) or not isinstance(color, Sequence | np.ndarray):
        raise ValueError(f"color must be a matplotlib colour or one colour per box, got {color!r}")
    if len(color) != n:
        raise ValueError(f"color must have one entry per box: got {len(color)} for {n} boxes")
    for c in color:
        if not mcolors.is_color_like(c):
            raise ValueError(f"color contains {c!r}, which is not a matplotlib colour")
    return list(color)


def _is_int_like(x) -> bool:
    try:
        return float(x) == int(x)
    except (TypeError, ValueError):
        return False


def draw_boxes(
    ax,
    boxes,
    labels=None,
    scores=None,
    class_names=None,
    color=None,
    linestyle: str = "-",
    linewidth: float = 2.0,
    fontsize: float = 8.0,
):
    """Draw ``(x1, y1, x2, y2)`` boxes on ``ax``, each with an optional ``label score`` tag.

    Args:
        ax: a matplotlib ``Axes`` (usually one that shows the image).
        boxes: ``[N, 4]`` boxes in ``xyxy`` pixels (numpy, torch or nested lists).
        labels: ``N`` class indices (or names); also picks the colour of each box.
        scores: ``N`` confidences, printed with two decimals.
        class_names: names indexed by ``labels``.
        color: one matplotlib colour for all boxes, or one per box. Default: by label.
        linestyle: e.g. ``"-"`` for predictions and ``"--"`` for ground truth.
        linewidth: line width in points.
        fontsize: tag font size in points.

    Returns:
        ``ax``.

    Raises:
        ValueError: boxes not ``[N, 4]`` xyxy, or ``labels``/``scores``/``color`` of another
            length than ``boxes``, or a label outside ``class_names``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> ax = draw_boxes(ax, [[10, 10, 50, 40]], labels=[0], scores=[0.9], class_names=["cat"])
        >>> len(ax.patches), ax.texts[0].get_text()
        (1, 'cat 0.90')
        >>> plt.close(fig)
    """
    b = _check_boxes(boxes)
    n = b.shape[0]
    labs = _check_per_box(labels, n, "labels")
    scs = _check_per_box(scores, n, "scores")
    colors = _box_colors(color, n, labs)
    y_lo, y_hi = sorted(ax.get_ylim())  # image axes are inverted: the top is the smaller y
    top, height = y_lo, max(y_hi - y_lo, 1e-9)
    for i in range(n):
        x1, y1, x2, y2 = b[i]
        ax.add_patch(
            Rectangle(
                (x1, y1),
                x2 - x1,
                y2 - y1,
                fill=False,
                edgecolor=colors[i],
                linewidth=linewidth,
                linestyle=linestyle,
            )
        )
        text = _label_text(
            None if labs is None else labs[i], None if scs is None else scs[i], class_names
        )
        if text:
            # tag above the box, or just inside it when the box touches the top of the view
            inside = y1 - top < 0.06 * height
            ax.text(
                x1,
                y1,
                text,
                fontsize=fontsize,
                color="white",
                va="top" if inside else "bottom",
                ha="left",
                bbox={"facecolor": colors[i], "alpha": 0.8, "pad": 1.5, "edgecolor": "none"},
                clip_on=True,
            )
    return ax


def _check_masks(masks, shape_hw) -> np.ndarray:
    arr = _to_numpy(masks, "masks")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"masks must have shape [N, H, W], got {tuple(arr.shape)}")
    if arr.shape[1:] != tuple(shape_hw):
        raise ValueError(
            f"masks must match the image size {tuple(shape_hw)} (H, W), got {tuple(arr.shape[1:])}"
        )
    return arr.astype(np.float64) >= 0.5 if arr.dtype != np.bool_ else arr


def _interpolation(ax, img: np.ndarray) -> str:
    """``"nearest"`` when ``img`` is drawn larger than its pixels, else ``"antialiased"``.

    Upscaled small images stay crisp (each pixel a flat square, as the network sees it) and
    compress far better in a saved notebook than smoothly interpolated ones; images drawn
    smaller than their size keep matplotlib's anti-aliasing.
    """
    box = ax.get_window_extent()
    h, w = img.shape[:2]
    return "nearest" if box.width >= w and box.height >= h else "antialiased"


def show_image(
    image,
    boxes=None,
    labels=None,
    scores=None,
    masks=None,
    class_names=None,
    ax=None,
    title: str | None = None,
    colors=None,
    mask_alpha: float = 0.45,
    linestyle: str = "-",
):
    """Show an image with optional boxes, ``label score`` tags and semi-transparent masks.

    Args:
        image: ``H x W x 3`` uint8 RGB array, or a ``C x H x W`` float tensor in ``[0, 1]``.
        boxes: ``[N, 4]`` boxes, ``xyxy`` pixels.
        labels: ``N`` class indices (colours boxes and masks by class).
        scores: ``N`` confidences.
        masks: ``[N, H, W]`` instance masks (bool, or probabilities drawn where ``>= 0.5``).
        class_names: names indexed by ``labels``.
        ax: the ``Axes`` to draw on; a new figure when ``None``.
        title: the axes title.
        colors: one colour, or one per box/mask. Default: by label, else by instance.
        mask_alpha: opacity of the masks, in ``[0, 1]``.
        linestyle: line style of the boxes.

    Returns:
        The ``Axes``.

    Raises:
        ValueError: on a malformed image, boxes, masks, or per-box values of the wrong length.

    Example:
        >>> img = np.zeros((40, 60, 3), dtype=np.uint8)
        >>> ax = show_image(img, boxes=[[5, 5, 30, 20]], scores=[0.75], title="demo")
        >>> ax.get_title(), len(ax.patches)
        ('demo', 1)
        >>> plt.close(ax.figure)
    """
    img = to_numpy_image(image)
    if not 0.0 <= float(mask_alpha) <= 1.0:
        raise ValueError(f"mask_alpha must lie in [0, 1], got {mask_alpha!r}")
    if ax is None:
        h, w = img.shape[:2]
        scale = 6.0 / max(h, w)
        _, ax = plt.subplots(figsize=(max(w * scale, 2.0), max(h * scale, 2.0)))
    interpolation = _interpolation(ax, img)
    if img.ndim == 2:
        vmax = 255 if img.dtype == np.uint8 else 1
        ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, interpolation=interpolation)
    else:
        ax.imshow(img, interpolation=interpolation)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)

    n_boxes = None if boxes is None else _check_boxes(boxes).shape[0]
    if masks is not None:
        m = _check_masks(masks, img.shape[:2])
        if n_boxes is not None and m.shape[0] != n_boxes:
            raise ValueError(
                f"masks must have one entry per box: got {m.shape[0]} for {n_boxes} boxes"
            )
        labs = _check_per_box(labels, m.shape[0], "labels")
        mask_colors = (
            _box_colors(colors, m.shape[0], labs)
            if (colors is not None or labs is not None)
            else [color_for(i) for i in range(m.shape[0])]
        )
        overlay = np.zeros((*img.shape[:2], 4), dtype=np.float64)
        for i in range(m.shape[0]):
            overlay[m[i]] = (*mcolors.to_rgb(mask_colors[i]), mask_alpha)
        ax.imshow(overlay, interpolation=interpolation)
    if boxes is not None:
        if colors is None and labels is None and masks is not None:
            colors = [color_for(i) for i in range(n_boxes)]
        draw_boxes(
            ax,
            boxes,
            labels=labels,
            scores=scores,
            class_names=class_names,
            color=colors,
            linestyle=linestyle,
        )
    elif (labels is not None and masks is None) or scores is not None:
        raise ValueError("labels/scores were given without boxes (or masks) to attach them to")
    return ax


def plot_pr_curve(
    recall,
    precision,
    ax=None,
    label: str | None = None,
    step: bool = False,
    title: str | None = None,
    **kwargs,
):
    """Plot a precision-recall curve (recall on x, precision on y, both in ``[0, 1]``).

    Args:
        recall: ``K`` recall values.
        precision: ``K`` precision values (same length).
        ax: the ``Axes`` to draw on; a new figure when ``None``.
        label: legend entry (a legend is added when given).
        step: draw as a step function (``where="post"``), e.g. for interpolated curves.
        title: the axes title.
        **kwargs: passed to ``ax.plot`` / ``ax.step`` (``color``, ``marker``, ``linestyle``...).

    Returns:
        The ``Axes``.

    Raises:
        ValueError: for lengths that differ, values outside ``[0, 1]`` or NaN, or non-1D input.

    Example:
        >>> ax = plot_pr_curve([0.0, 0.5, 1.0], [1.0, 1.0, 0.5], label="toy")
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('recall', 'precision')
        >>> plt.close(ax.figure)
    """
    r = _to_numpy(recall, "recall").astype(np.float64)
    p = _to_numpy(precision, "precision").astype(np.float64)
    if r.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"recall and precision must be 1-D, got shapes {tuple(r.shape)} and {tuple(p.shape)}"
        )
    if r.shape != p.shape:
        raise ValueError(
            f"recall and precision must have the same length, got {r.shape[0]} and {p.shape[0]}"
        )
    for name, v in (("recall", r), ("precision", p)):
        if v.size and (not np.isfinite(v).all() or v.min() < 0 or v.max() > 1):
            raise ValueError(f"{name} values must be finite and lie in [0, 1]")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    if step:
        ax.step(r, p, where="post", label=label, **kwargs)
    else:
        ax.plot(r, p, label=label, **kwargs)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend(loc="lower left")
    if title is not None:
        ax.set_title(title)
    return ax


def image_grid(
    images,
    titles=None,
    ncols: int = 4,
    size: float = 3.0,
    boxes=None,
    labels=None,
    class_names=None,
):
    """Show several images side by side in a grid, optionally each with its boxes.

    Args:
        images: a sequence of images (as for :func:`show_image`).
        titles: one title per image, or ``None``.
        ncols: images per row (positive).
        size: inches per grid cell.
        boxes: one ``[N_i, 4]`` box array per image, or ``None``.
        labels: one label array per image, or ``None``.
        class_names: names indexed by the labels.

    Returns:
        The ``Figure``; unused cells are hidden.

    Raises:
        ValueError: no images, ``ncols < 1``, or ``titles``/``boxes``/``labels`` of another
            length than ``images``.

    Example:
        >>> imgs = [np.zeros((8, 8, 3), dtype=np.uint8)] * 3
        >>> fig = image_grid(imgs, titles=["a", "b", "c"], ncols=2)
        >>> len(fig.axes), fig.axes[3].get_visible()
        (4, False)
        >>> plt.close(fig)
    """
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    images = list(images)
    if not images:
        raise ValueError("images must contain at least one image, got an empty sequence")
    if isinstance(ncols, bool) or not isinstance(ncols, int | np.integer) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    n = len(images)
    for name, seq in (("titles", titles), ("boxes", boxes), ("labels", labels)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} must have one entry per image: got {len(seq)} for {n} images")
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    flat = axes.ravel()
    for i, img in enumerate(images):
        show_image(
            img,
            boxes=None if boxes is None else boxes[i],
            labels=None if labels is None else labels[i],
            class_names=class_names,
            ax=flat[i],
            title=None if titles is None else str(titles[i]),
        )
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def detector_diagram(ax=None):
    """Draw the backbone -> neck -> head picture of a modern detector (lesson 01).

    Returns:
        The ``Axes``.

    Example:
        >>> ax = detector_diagram()
        >>> [t.get_text().split()[0] for t in ax.texts if "\\n" in t.get_text()][-3:]
        ['neck', 'head', 'boxes']
        >>> plt.close(ax.figure)
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.4)
    ax.set_axis_off()

    def block(x, y, w, h, color, text, fontsize=9):
        ax.add_patch(
            FancyBboxPatch(
                (x, y), w, h, boxstyle="round,pad=0.04", facecolor=color, edgecolor="0.3", alpha=0.9
            )
        )
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)

    def arrow(x1, y1, x2, y2):
        ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), arrowstyle="-|>", mutation_scale=12))

    levels = [0.25, 0.95, 1.65, 2.35]  # y of C2..C5 / P2..P5 (bottom to top)
    block(0.1, 0.15, 1.2, 0.7, "0.9", "image\n3 x H x W")
    arrow(1.35, 0.5, 1.85, 0.5)
    # backbone: a pyramid of feature maps, finer at the bottom, coarser (more channels) on top
    for i, (y, w) in enumerate(zip(levels, [1.35, 1.2, 1.05, 0.9])):
        block(2.6 - w / 2, y, w, 0.45, "#aec7e8", f"C{i + 2} (stride {4 * 2**i})", fontsize=6.5)
        if i:
            arrow(2.6, y - 0.25, 2.6, y)
        arrow(2.6 + w / 2 + 0.05, y + 0.22, 4.3, y + 0.22)
    ax.text(2.6, 2.95, "backbone\ne.g. ResNet", ha="center", fontsize=9)
    # neck: FPN sends coarse, semantic features back down to the fine levels
    for i, y in enumerate(levels):
        block(4.3, y, 0.8, 0.45, "#ffbb78", f"P{i + 2}", fontsize=8)
        if i:
            arrow(5.25, y + 0.1, 5.25, levels[i - 1] + 0.35)
    ax.text(4.85, 2.95, "neck\ne.g. FPN", ha="center", fontsize=9)
    # head: the same small network on every level predicts classes and box offsets
    block(6.3, 1.75, 1.5, 0.6, "#98df8a", "class scores", fontsize=8)
    block(6.3, 0.75, 1.5, 0.6, "#98df8a", "box offsets", fontsize=8)
    ax.text(7.05, 2.95, "head\n(classification + regression)", ha="center", fontsize=9)
    for y in levels:
        arrow(5.4, y + 0.22, 6.3, 1.55)
    block(8.5, 1.15, 1.4, 0.8, "#ff9896", "boxes + classes\n(after NMS)", fontsize=8)
    arrow(7.85, 2.05, 8.5, 1.7)
    arrow(7.85, 1.05, 8.5, 1.4)
    return ax
