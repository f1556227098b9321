"""Lesson 11's focal-loss widget: the loss curve for a gamma and alpha, and where the loss comes from.

Taught in lesson 11. :func:`focal_loss_panel` computes, for one ``(gamma, alpha)``, the focal
loss of a set of anchor outputs (logits and 0/1 targets, e.g. a detector's on a few images)
split into positives, hard negatives and easy negatives, next to plain cross-entropy; given
axes it draws the loss against ``p_t`` (the paper's Figure 1) and the two splits as bars.
:func:`make_focal_loss_widget` only wires two sliders to it.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["focal_loss_panel", "make_focal_loss_widget"]

_PARTS = ("positives", "hard negatives", "easy negatives")


def _split(loss: torch.Tensor, targets: torch.Tensor, p_t: torch.Tensor, easy_pt: float):
    total = float(loss.sum())
    masks = (targets > 0.5, (targets <= 0.5) & (p_t <= easy_pt), (targets <= 0.5) & (p_t > easy_pt))
    return {
        name: (float(loss[m].sum()) / total if total > 0 else 0.0) for name, m in zip(_PARTS, masks)
    }


def focal_loss_panel(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    easy_pt: float = 0.5,
    axes=None,
) -> dict:
    """Where the loss of ``logits`` comes from, under cross-entropy and under focal loss.

    Args:
        logits: ``Tensor[N]`` raw outputs (any shape; flattened).
        targets: ``Tensor[N]`` 0/1 targets of the same shape.
        gamma: focal-loss ``gamma`` (>= 0).
        alpha: focal-loss ``alpha`` (negative: no weighting).
        easy_pt: a negative is *easy* when ``p_t > easy_pt``.
        axes: ``(ax_curve, ax_bars)`` to draw on; nothing is drawn when ``None``.

    Returns:
        ``dict`` with ``ce`` and ``focal`` (each ``{part: share}`` over ``positives``,
        ``hard negatives``, ``easy negatives``, summing to 1), ``ce_total`` and ``focal_total``
        (summed losses), ``n`` (counts per part, the same for both losses) and ``factor_at_09``
        (the modulating factor ``(1 - p_t)^gamma`` at ``p_t = 0.9``).

    Example:
        >>> logits = torch.tensor([2.0, -6.0, -6.0, -6.0, 0.5])
        >>> targets = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])
        >>> out = focal_loss_panel(logits, targets, gamma=2.0)
        >>> out["n"], round(out["factor_at_09"], 3)
        ({'positives': 1, 'hard negatives': 1, 'easy negatives': 3}, 0.01)
        >>> out["ce"]["easy negatives"] > out["focal"]["easy negatives"]
        True
    """
    from dlcv_utils.ops.losses import focal_loss

    logits = torch.as_tensor(logits, dtype=torch.float32).detach().flatten().cpu()
    targets = torch.as_tensor(targets, dtype=torch.float32).detach().flatten().cpu()
    ce = focal_loss(logits, targets, alpha=-1, gamma=0.0)  # checks shapes, alpha, gamma too
    fl = focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    masks = (targets > 0.5, (targets <= 0.5) & (p_t <= easy_pt), (targets <= 0.5) & (p_t > easy_pt))
    out = {
        "ce": _split(ce, targets, p_t, easy_pt),
        "focal": _split(fl, targets, p_t, easy_pt),
        "ce_total": float(ce.sum()),
        "focal_total": float(fl.sum()),
        "n": {name: int(m.sum()) for name, m in zip(_PARTS, masks)},
        "factor_at_09": 0.1**gamma,
    }
    if axes is not None:
        ax_curve, ax_bars = axes
        pt = np.linspace(0.01, 1.0, 200)
        ce_curve = -np.log(pt)
        ax_curve.plot(pt, ce_curve, color="gray", label="cross-entropy (gamma 0)")
        for g in (0.5, 1.0, 5.0):
            if g != gamma:
                ax_curve.plot(pt, (1 - pt) ** g * ce_curve, color="gray", alpha=0.3, linewidth=0.8)
        ax_curve.plot(
            pt,
            (1 - pt) ** gamma * ce_curve,
            color="tab:red",
            linewidth=2,
            label=f"focal, gamma {gamma:g}",
        )
        ax_curve.axvspan(easy_pt, 1.0, color="tab:green", alpha=0.08)
        ax_curve.text(0.75, 4.5, "easy\n(well classified)", ha="center", fontsize=8)
        ax_curve.set_xlabel("p_t, probability of the right answer")
        ax_curve.set_ylabel("loss (without alpha)")
        ax_curve.set_ylim(0, 5)
        ax_curve.set_title(f"(1 - p_t)^gamma at p_t = 0.9: {out['factor_at_09']:.3g}")
        ax_curve.legend(loc="upper right", fontsize=8)
        x = np.arange(2)
        bottom = np.zeros(2)
        colors = ("tab:blue", "tab:orange", "tab:green")
        for name, color in zip(_PARTS, colors):
            vals = np.array([out["ce"][name], out["focal"][name]])
            ax_bars.bar(x, vals, bottom=bottom, color=color, label=f"{name} ({out['n'][name]:,})")
            bottom += vals
        ax_bars.set_xticks(x, ["cross-entropy", f"focal (g {gamma:g}, a {alpha:g})"])
        ax_bars.set_ylabel("share of the summed loss")
        ax_bars.set_ylim(0, 1)
        ax_bars.set_title(
            f"easy negatives: {out['ce']['easy negatives']:.0%} -> {out['focal']['easy negatives']:.0%}"
        )
        ax_bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8)
    return out


def make_focal_loss_widget(logits, targets, gamma: float = 2.0, alpha: float = 0.25):
    """Sliders for ``gamma`` and ``alpha`` wired to :func:`focal_loss_panel` on these outputs.

    Returns:
        An ``ipywidgets.interactive``; a saved notebook shows its first figure.

    Example:
        >>> w = make_focal_loss_widget(torch.zeros(4), torch.zeros(4))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from dlcv_utils.viz.widgets._static import STYLE, finish, show, slider_layout, static_class

    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0 <= gamma <= 5:
        raise ValueError(f"gamma must be a number in [0, 5], got {gamma!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    focal_loss_panel(logits, targets, gamma, alpha)  # bad outputs fail here, not in the slider
    first: dict = {}

    def update(gamma, alpha):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        out = focal_loss_panel(logits, targets, gamma, alpha, axes=axes)
        text = (
            f"gamma {gamma:g}, alpha {alpha:g}: easy negatives carry "
            f"{out['ce']['easy negatives']:.1%} of the cross-entropy and "
            f"{out['focal']['easy negatives']:.1%} of the focal loss"
        )
        fig.tight_layout()
        show(fig, text, first)

    kw = {"continuous_update": False, "style": STYLE, "layout": slider_layout()}
    wid = static_class(widgets.interactive)(
        update,
        gamma=widgets.FloatSlider(
            value=gamma, min=0.0, max=5.0, step=0.5, description="gamma", **kw
        ),
        alpha=widgets.FloatSlider(
            value=alpha, min=0.0, max=1.0, step=0.05, description="alpha", **kw
        ),
    )
    return finish(wid, first, "Focal loss: the loss curve and the share of easy negatives")
