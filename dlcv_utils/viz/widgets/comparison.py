"""Lesson 14's speed-accuracy widget: every detector's accuracy against one of its costs.

:func:`speed_accuracy_panel` takes the benchmark rows (plain dicts, as
:func:`dlcv_utils.course.comparison.table_rows` returns them), a metric (y) and a cost (x), and
returns the points, the Pareto front (the rows no other row beats on both) and, given an axes,
draws them; :func:`make_speed_accuracy_widget` only wires two dropdowns to it.

Taught in lesson 14.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "COSTS",
    "METRICS",
    "check_metric",
    "make_speed_accuracy_widget",
    "pareto_front",
    "speed_accuracy_panel",
]

#: accuracy columns of a benchmark row -> axis label
METRICS: dict[str, str] = {
    "map50": "val mAP@0.5",
    "map": "val mAP@[.5:.95]",
    "ap_small": "AP small (< 32² px)",
    "ap_medium": "AP medium (32²-96² px)",
    "ap_large": "AP large (> 96² px)",
}
#: cost columns of a benchmark row -> axis label
COSTS: dict[str, str] = {
    "infer_ms": "CPU inference (ms / image)",
    "params": "parameters",
    "train_s": "training time (s)",
}


def check_metric(name: str, choices: Mapping[str, str], arg: str = "metric") -> str:
    """``name`` if it is a key of ``choices``, else a ValueError listing them.

    Example:
        >>> check_metric("map50", METRICS)
        'map50'
        >>> check_metric("mAP", METRICS)
        Traceback (most recent call last):
        ...
        ValueError: metric must be one of ['map50', 'map', 'ap_small', 'ap_medium', 'ap_large'], got 'mAP'
    """
    if not isinstance(name, str) or name not in choices:
        raise ValueError(f"{arg} must be one of {list(choices)}, got {name!r}")
    return name


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower-or-equal x and higher-or-equal y, one
    of them strictly. Sorted by x.

    Example:
        >>> pareto_front([(1, 0.2), (2, 0.5), (3, 0.4), (4, 0.9)])
        [0, 1, 3]
    """
    front = []
    for i, (x, y) in enumerate(points):
        beaten = any(
            (x2 <= x and y2 >= y) and (x2 < x or y2 > y)
            for j, (x2, y2) in enumerate(points)
            if j != i
        )
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def speed_accuracy_panel(
    rows: Sequence[Mapping], metric: str = "map50", cost: str = "infer_ms", ax=None
) -> dict:
    """Points ``(cost, metric)`` of every row, its Pareto front, and the plot if ``ax`` is given.

    Rows whose ``metric`` is -1 (no objects of that size) are left out and listed.

    Args:
        rows: dicts with ``name``, ``family`` and the ``metric`` and ``cost`` keys.
        metric: a key of :data:`METRICS` (y axis).
        cost: a key of :data:`COSTS` (x axis, log scale: costs span orders of magnitude).
        ax: a matplotlib axes to draw on, or ``None``.

    Returns:
        ``names``, ``x``, ``y`` (the plotted rows), ``front`` (names on the Pareto front, by
        cost), ``best`` (the name with the highest metric) and ``skipped`` (rows without a
        value).

    Raises:
        ValueError: unknown ``metric`` or ``cost``, no rows, or a row missing a key.

    Example:
        >>> rows = [{"name": "a", "family": "A", "map50": 0.5, "infer_ms": 2.0},
        ...         {"name": "b", "family": "B", "map50": 0.4, "infer_ms": 9.0},
        ...         {"name": "c", "family": "C", "map50": 0.8, "infer_ms": 30.0}]
        >>> out = speed_accuracy_panel(rows)
        >>> out["front"], out["best"]
        (['a', 'c'], 'c')
    """
    check_metric(metric, METRICS, "metric")
    check_metric(cost, COSTS, "cost")
    if not rows:
        raise ValueError("rows must not be empty")
    names, xs, ys, families, skipped = [], [], [], [], []
    for i, r in enumerate(rows):
        missing = [k for k in ("name", "family", metric, cost) if k not in r]
        if missing:
            raise ValueError(f"rows[{i}] has no {missing}")
        if r[metric] < 0 or not math.isfinite(r[metric]):
            skipped.append(r["name"])
            continue
        names.append(r["name"])
        xs.append(float(r[cost]))
        ys.append(float(r[metric]))
        families.append(r["family"])
    front = [names[i] for i in pareto_front(list(zip(xs, ys)))]
    best = names[max(range(len(ys)), key=ys.__getitem__)] if ys else None
    if ax is not None:
        import matplotlib.pyplot as plt

        colors = plt.get_cmap("tab20").colors
        for i, (x, y, fam) in enumerate(zip(xs, ys, families)):
            on_front = names[i] in front
            ax.scatter(
                x,
                y,
                s=70 if on_front else 40,
                color=colors[i % len(colors)],
                edgecolor="black" if on_front else "none",
                zorder=3,
            )
            ax.annotate(fam, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=8)
        fx = [xs[names.index(n)] for n in front]
        fy = [ys[names.index(n)] for n in front]
        ax.plot(fx, fy, "--", color="gray", linewidth=1, zorder=2, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(COSTS[cost] + " (log scale)")
        ax.set_ylabel(METRICS[metric])
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"{METRICS[metric]} against {COSTS[cost]}")
    return {
        "names": names,
        "x": xs,
        "y": ys,
        "front": front,
        "best": best,
        "skipped": skipped,
    }


def make_speed_accuracy_widget(
    rows: Sequence[Mapping], metric: str = "map50", cost: str = "infer_ms"
):
    """Two dropdowns, the metric (y) and the cost (x), wired to :func:`speed_accuracy_panel`.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Raises:
        ValueError: unknown ``metric`` or ``cost`` (checked before any widget is built).

    Example:
        >>> w = make_speed_accuracy_widget(rows)  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    check_metric(metric, METRICS, "metric")
    check_metric(cost, COSTS, "cost")
    rows = list(rows)
    speed_accuracy_panel(rows, metric, cost)  # bad rows fail here, not inside the widget
    first: dict = {}

    def update(metric, cost):
        fig, ax = plt.subplots(figsize=(8, 5))
        out = speed_accuracy_panel(rows, metric, cost, ax=ax)
        fig.tight_layout()
        text = f"best {METRICS[metric]}: {out['best']}; Pareto front: {', '.join(out['front'])}"
        if out["skipped"]:
            text += f" (no such objects: {', '.join(out['skipped'])})"
        show(fig, text, first)

    def dropdown(choices, value, description):
        return widgets.Dropdown(
            options=[(label, key) for key, label in choices.items()],
            value=value,
            description=description,
            style=STYLE,
            layout=slider_layout(),
        )

    wid = static_class(widgets.interactive)(
        update,
        metric=dropdown(METRICS, metric, "accuracy (y)"),
        cost=dropdown(COSTS, cost, "cost (x)"),
    )
    return finish(wid, first, "Speed-accuracy plot of every detector of the course")
