"""Lesson 12's widget: EfficientDet's compound scaling by ``phi``; the learned fusion weights.

:func:`scaling_panel` draws one ``phi`` of a table of measured sizes (one row per ``phi``:
``image_size``, ``width``, ``bifpn_layers``, ``head_layers``, ``params``, ``macs``);
:func:`make_scaling_widget` wires a ``phi`` slider to it. :func:`plot_fusion_weights` shows a
trained BiFPN's normalised fusion weights, node by node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["make_scaling_widget", "plot_fusion_weights", "scaling_panel"]

_KEYS = ("image_size", "width", "bifpn_layers", "head_layers", "params", "macs")


def _check_rows(rows) -> dict[int, Mapping]:
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError("rows must be a non-empty dict phi -> measured row")
    for phi, row in rows.items():
        missing = [k for k in _KEYS if k not in row]
        if missing:
            raise ValueError(f"rows[{phi}] lacks {missing}")
    return dict(rows)


def scaling_panel(phi: int, rows: Mapping[int, Mapping], axes=None) -> dict:
    """One ``phi`` of EfficientDet's scaling: its row, and (with ``axes``) two plots.

    Args:
        phi: the compound coefficient; a key of ``rows``.
        rows: ``phi -> {"image_size", "width", "bifpn_layers", "head_layers", "params",
            "macs"}`` (parameters and multiply-adds as measured), optionally ``paper_params``
            and ``paper_macs``.
        axes: two matplotlib axes (cost vs ``phi``; the sizes of this ``phi`` relative to D0),
            or ``None`` for the numbers only.

    Returns:
        The row of ``phi`` plus ``growth``: each quantity divided by D0's (``rows[min]``).

    Example:
        >>> rows = {0: dict(image_size=512, width=64, bifpn_layers=3, head_layers=3,
        ...                 params=4e6, macs=2.5e9),
        ...         1: dict(image_size=640, width=88, bifpn_layers=4, head_layers=3,
        ...                 params=6.6e6, macs=6e9)}
        >>> out = scaling_panel(1, rows)
        >>> out["growth"]["image_size"], out["growth"]["macs"]
        (1.25, 2.4)
    """
    rows = _check_rows(rows)
    if phi not in rows:
        raise ValueError(f"phi must be one of {sorted(rows)}, got {phi!r}")
    base = rows[min(rows)]
    row = dict(rows[phi])
    row["growth"] = {k: float(row[k]) / float(base[k]) for k in _KEYS}
    if axes is None:
        return row
    ax_cost, ax_size = axes
    phis = sorted(rows)
    params = [rows[p]["params"] / 1e6 for p in phis]
    macs = [rows[p]["macs"] / 1e9 for p in phis]
    ax_cost.plot(phis, params, "o-", color="tab:blue", label="parameters (M), measured")
    ax_cost.plot(phis, macs, "s-", color="tab:orange", label="multiply-adds (B), measured")
    if all("paper_params" in rows[p] for p in phis):
        ax_cost.plot(phis, [rows[p]["paper_params"] for p in phis], "x", color="tab:blue")
        ax_cost.plot(phis, [rows[p]["paper_macs"] for p in phis], "x", color="tab:orange")
    ax_cost.axvline(phi, color="tab:red", linewidth=1)
    ax_cost.set_yscale("log")
    ax_cost.set_xlabel("phi")
    ax_cost.set_title(f"D{phi}: {row['params'] / 1e6:.1f} M params, {row['macs'] / 1e9:.1f} B MACs")
    ax_cost.legend(fontsize=8, loc="upper left")
    names = ["resolution", "BiFPN width", "BiFPN depth", "head depth", "params", "MACs"]
    ax_size.barh(names[::-1], [row["growth"][k] for k in _KEYS][::-1], color="tab:green")
    ax_size.set_xscale("log")
    ax_size.set_xlabel(f"D{phi} / D{min(rows)}")
    ax_size.set_title(
        f"{row['image_size']} px, W={row['width']}, D_bifpn={row['bifpn_layers']}, "
        f"D_head={row['head_layers']}"
    )
    return row


def make_scaling_widget(rows: Mapping[int, Mapping], phi: int = 0):
    """A ``phi`` slider wired to :func:`scaling_panel` over the measured ``rows``.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    rows = _check_rows(rows)
    if phi not in rows:
        raise ValueError(f"phi must be one of {sorted(rows)}, got {phi!r}")
    first: dict = {}

    def update(phi):
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        out = scaling_panel(phi, rows, axes=axes)
        text = (
            f"D{phi}: {out['image_size']} px, BiFPN {out['width']} x {out['bifpn_layers']}, "
            f"head {out['head_layers']} layers: {out['params'] / 1e6:.2f} M parameters, "
            f"{out['macs'] / 1e9:.2f} B multiply-adds ({out['growth']['macs']:.1f} x D0)"
        )
        fig.tight_layout()
        show(fig, text, first)

    wid = static_class(widgets.interactive)(
        update,
        phi=widgets.IntSlider(
            value=phi,
            min=min(rows),
            max=max(rows),
            step=1,
            description="phi",
            continuous_update=False,
            style=STYLE,
            layout=slider_layout(),
        ),
    )
    return finish(wid, first, "EfficientDet compound scaling: size and cost of D0-D7")


def plot_fusion_weights(weights: Sequence[Sequence], level_names: Sequence[str], ax=None):
    """Bars of one BiFPN layer's normalised fusion weights, one group per node.

    Args:
        weights: per node, the normalised weights of its inputs (from
            :func:`dlcv_utils.models.bifpn.fusion_weights`, one layer).
        level_names: e.g. ``["P3", "P4", "P5", "P6"]``: node ``k`` of ``2 (L - 1)`` is the
            top-down node of level ``L-2-k`` for ``k < L - 1``, then the bottom-up nodes.
        ax: a matplotlib axis (default: a new figure).

    Returns:
        The axis. Inputs are labelled ``same`` (this level's input), ``td`` (the top-down
        node, or the level above in the top-down path) and ``below`` (the bottom-up path).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> ax = plot_fusion_weights([[0.5, 0.5], [0.2, 0.8]], ["P3", "P4"])
        >>> [t.get_text() for t in ax.get_xticklabels()]
        ['td P3', 'out P4']
    """
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(level_names)
    if len(weights) != 2 * (n - 1):
        raise ValueError(
            f"weights must hold 2 * (len(level_names) - 1) = {2 * (n - 1)} nodes, "
            f"got {len(weights)}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(weights) + 2, 3))
    labels = [f"td {level_names[i]}" for i in range(n - 2, -1, -1)]
    labels += [f"out {level_names[i]}" for i in range(1, n)]
    colours = {"same": "tab:blue", "td": "tab:orange", "below": "tab:green"}
    for k, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        kinds = ["same", "td"] if k < n - 1 else (["same", "td", "below"][-len(w) :])
        if k >= n - 1 and len(w) == 2:
            kinds = ["same", "below"]
        for j, (value, kind) in enumerate(zip(w, kinds)):
            ax.bar(k + (j - (len(w) - 1) / 2) * 0.25, value, width=0.25, color=colours[kind])
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=kind) for kind, colour in colours.items()]
    ax.set_xticks(range(len(weights)), labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("normalised weight")
    ax.legend(handles=handles, fontsize=8, ncol=3, loc="upper right")
    return ax
