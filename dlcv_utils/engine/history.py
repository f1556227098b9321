"""What a training run records: :class:`History` (losses, learning rates, validation metrics).

Taught in lesson 05.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["History"]


@dataclass
class History:
    """What happened during :func:`fit`.

    Attributes:
        losses: per-iteration loss values, one list per loss term, plus ``"loss"`` (their sum).
        lr: learning rate used at each iteration (of the first parameter group).
        grad_norm: total gradient norm at each iteration, before clipping.
        epochs: one dict per finished epoch: ``epoch`` (1-based), ``loss`` (mean total loss),
            ``seconds`` (training time of the epoch) and, when evaluated, the metrics of
            :func:`evaluate_detector` (``map50``, ``map``, ...).
        train_seconds: wall time spent training (evaluation excluded).
        eval_seconds: wall time spent evaluating.
        stop_reason: ``None`` if all epochs ran, else why training stopped early.

    Example:
        >>> h = History()
        >>> h.losses["loss"] = [2.0, 1.0]
        >>> h.iterations
        2
    """

    losses: dict[str, list[float]] = field(default_factory=dict)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    stop_reason: str | None = None

    def record_step(self, losses: dict[str, float], lr: float, grad_norm: float) -> float:
        """Append one optimizer step: each loss term, their sum, the lr and the gradient norm.

        Returns:
            The total loss of the step.

        Example:
            >>> h = History()
            >>> h.record_step({"loss_a": 1.0, "loss_b": 0.5}, lr=0.1, grad_norm=2.0)
            1.5
            >>> h.losses["loss"], h.iterations
            ([1.5], 1)
        """
        total = sum(losses.values())
        for name, value in losses.items():
            self.losses.setdefault(name, []).append(value)
        self.losses.setdefault("loss", []).append(total)
        self.lr.append(lr)
        self.grad_norm.append(grad_norm)
        return total

    @property
    def iterations(self) -> int:
        """Number of optimizer steps taken."""
        return len(self.losses.get("loss", []))

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics of the last evaluated epoch (empty dict if never evaluated)."""
        for row in reversed(self.epochs):
            if "map50" in row:
                return {k: v for k, v in row.items() if k not in ("epoch", "loss", "seconds")}
        return {}

    def plot(self, smooth: int = 10):
        """Plot the loss terms per iteration (moving average over ``smooth``) and the metrics.

        Returns:
            The matplotlib ``Figure`` (not shown; call ``plt.show()``).

        Example:
            >>> h = History(losses={"loss": [2.0, 1.5, 1.0]}, lr=[0.1, 0.1, 0.1])
            >>> fig = h.plot()
            >>> len(fig.axes)
            2
        """
        import matplotlib.pyplot as plt
        import numpy as np

        if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
            raise ValueError(f"smooth must be a positive int, got {smooth!r}")
        evaluated = [row for row in self.epochs if "map50" in row]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        ax = axes[0]
        for name, values in self.losses.items():
            v = np.asarray(values, dtype=float)
            if v.size == 0:
                continue
            k = min(smooth, v.size)
            avg = np.convolve(v, np.ones(k) / k, mode="valid")
            ax.plot(np.arange(k, v.size + 1), avg, label=name, lw=2.0 if name == "loss" else 1.0)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_title(f"training losses (moving average of {smooth})")
        if self.losses:
            ax.legend(fontsize=8)
        ax = axes[1]
        if evaluated:
            ep = [row["epoch"] for row in evaluated]
            ax.plot(ep, [row["map50"] for row in evaluated], "o-", label="mAP@0.5")
            ax.plot(ep, [row["map"] for row in evaluated], "s-", label="mAP@[.5:.95]")
            ax.set_xlabel("epoch")
            ax.set_ylim(0, 1)
            ax.set_title("validation")
            ax.legend(fontsize=8)
        else:
            ax.plot(np.arange(1, len(self.lr) + 1), self.lr)
            ax.set_xlabel("iteration")
            ax.set_title("learning rate")
        fig.tight_layout()
        return fig
