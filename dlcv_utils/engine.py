"""A small, readable training loop for torchvision-style detectors.

Taught in lesson 05 (and used by every later training lesson).

The contract is torchvision's detection API:

* in **train** mode ``model(images, targets)`` returns a dict of scalar losses, e.g.
  ``{"loss_classifier": ..., "loss_box_reg": ..., "loss_objectness": ..., "loss_rpn_box_reg": ...}``;
* in **eval** mode ``model(images)`` returns one dict per image with ``boxes`` (``[N, 4]``
  ``x1, y1, x2, y2`` pixels), ``scores`` ``[N]`` and ``labels`` ``[N]`` (``1..K``; 0 is
  background);
* a loader yields ``(images, targets)``: a list/tuple of ``C x H x W`` float tensors and a
  list of dicts with ``boxes`` and ``labels``.

What :func:`fit` does, in order, every iteration: move the batch to the device, forward under
``torch.autocast`` (CUDA only, unless told otherwise), check every loss term is finite (raise
:class:`FloatingPointError` naming the iteration and the term if not), backward through a
``GradScaler``, clip the gradient norm, step the optimizer, set the next learning rate
(linear warm-up, then cosine or step decay). Every ``eval_every`` epochs it evaluates on the
validation loader with :func:`evaluate_detector` (COCO mAP via :mod:`dlcv_utils.metrics`).
Everything is recorded in a :class:`History`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "History",
    "evaluate_detector",
    "fit",
    "load_checkpoint",
    "lr_factor",
    "make_optimizer",
    "save_checkpoint",
]

_SCHEDULES = ("cosine", "step", "constant")


# ----------------------------------------------------------------------------- history
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


# ----------------------------------------------------------------------------- schedule
def lr_factor(
    iteration: int,
    total_iters: int,
    *,
    warmup_iters: int = 0,
    warmup_factor: float = 0.001,
    schedule: str = "cosine",
    milestones: Sequence[float] = (0.7, 0.9),
    gamma: float = 0.1,
) -> float:
    """Multiplier of the base learning rate at ``iteration`` (0-based).

    * warm-up (``iteration < warmup_iters``): a straight line from ``warmup_factor`` at
      iteration 0 towards 1 at ``warmup_iters``;
    * ``"cosine"``: afterwards ``0.5 * (1 + cos(pi * t))`` with ``t`` going from 0 (end of
      warm-up) to 1 (``total_iters``);
    * ``"step"``: multiplied by ``gamma`` at each milestone (a fraction of ``total_iters``);
    * ``"constant"``: 1.

    Raises:
        ValueError: for an unknown schedule or out-of-range numbers.

    Example:
        >>> lr_factor(0, 100, warmup_iters=10, warmup_factor=0.1)
        0.1
        >>> round(lr_factor(5, 100, warmup_iters=10, warmup_factor=0.1), 6)
        0.55
        >>> lr_factor(10, 100, warmup_iters=10)
        1.0
        >>> lr_factor(80, 100, schedule="step", milestones=(0.7, 0.9))
        0.1
    """
    if schedule not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")
    if total_iters < 1:
        raise ValueError(f"total_iters must be >= 1, got {total_iters!r}")
    if warmup_iters < 0:
        raise ValueError(f"warmup_iters must be >= 0, got {warmup_iters!r}")
    if not 0.0 < warmup_factor <= 1.0:
        raise ValueError(f"warmup_factor must be in (0, 1], got {warmup_factor!r}")
    if iteration < warmup_iters:
        return warmup_factor + (1.0 - warmup_factor) * iteration / warmup_iters
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        span = max(total_iters - warmup_iters, 1)
        t = min(max(iteration - warmup_iters, 0) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * t))
    passed = sum(iteration >= m * total_iters for m in milestones)
    return gamma**passed


# ----------------------------------------------------------------------------- helpers
def make_optimizer(
    model: nn.Module,
    name: str = "sgd",
    lr: float | None = None,
    weight_decay: float | None = None,
) -> torch.optim.Optimizer:
    """The default optimizers of :func:`fit`, over the parameters that require gradients.

    * ``"sgd"``: SGD, momentum 0.9, weight decay 1e-4, default lr 0.01 (the Faster R-CNN recipe);
    * ``"adamw"``: AdamW, weight decay 1e-4, default lr 1e-3.

    Example:
        >>> opt = make_optimizer(nn.Linear(2, 1), "adamw")
        >>> type(opt).__name__, opt.param_groups[0]["lr"]
        ('AdamW', 0.001)
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require gradients")
    wd = 1e-4 if weight_decay is None else weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01 if lr is None else lr, momentum=0.9, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3 if lr is None else lr, weight_decay=wd)
    raise ValueError(f"optimizer must be 'sgd', 'adamw' or a torch.optim.Optimizer, got {name!r}")


def _to_device(images, targets, device):
    images = [img.to(device, non_blocking=True) for img in images]
    if targets is not None:
        targets = [
            {
                k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v)
                for k, v in t.items()
            }
            for t in targets
        ]
    return images, targets


def _split_batch(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            "the loader must yield (images, targets) pairs (use the dataset's collate_fn), "
            f"got {type(batch).__name__}"
        )
    return batch


def _check_positive_int(name: str, value, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate_detector(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device | None = None,
    score_threshold: float = 0.0,
    *,
    class_names: Sequence[str] | None = None,
    amp: bool = False,
) -> dict[str, Any]:
    """COCO-style evaluation of a torchvision-style detector on a loader.

    Builds the COCO ground-truth dict from the loader's targets (image ids are assigned in
    loader order), runs the model in eval mode, and calls
    :func:`dlcv_utils.metrics.coco_evaluate`.

    Args:
        model: detector; returned to the train/eval mode it was in.
        loader: yields ``(images, targets)`` with ``boxes`` and ``labels`` (1..K) per target.
        device: where to run (default: the model's device).
        score_threshold: detections scoring below it are dropped before evaluation.
        class_names: names indexed by label, entry 0 being the background (as
            ``ShapesDetection.classes``); labels ``1..len(class_names) - 1`` are evaluated and
            named in ``per_class``. Default: the labels seen, named by their number.
        amp: run the forward under ``torch.autocast`` (CUDA).

    Returns:
        ``map50`` (AP at IoU 0.5), ``map`` (AP averaged over IoU 0.5:0.95), ``per_class``
        (``{name: AP@0.5}``, -1 for a class without ground truth), ``seconds_per_image`` (model forward time only),
        ``num_images`` and ``num_detections``.

    Example:
        >>> class Perfect(nn.Module):  # predicts the ground truth
        ...     def forward(self, images, targets=None):
        ...         return [{"boxes": torch.tensor([[2.0, 2.0, 8.0, 8.0]]),
        ...                  "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}
        ...                 for _ in images]
        >>> batch = ([torch.zeros(3, 10, 10)],
        ...          [{"boxes": torch.tensor([[2.0, 2.0, 8.0, 8.0]]), "labels": torch.tensor([1])}])
        >>> m = evaluate_detector(Perfect(), [batch], "cpu")
        >>> round(m["map50"], 3), round(m["map"], 3)
        (1.0, 1.0)
    """
    from dlcv_utils.metrics import coco_evaluate

    if not 0.0 <= float(score_threshold) <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold!r}")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    images_gt: list[dict] = []
    anns: list[dict] = []
    dets: list[dict] = []
    labels_seen: set[int] = set()
    forward_s = 0.0
    try:
        for batch in loader:
            images, targets = _split_batch(batch)
            images, _ = _to_device(images, None, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            with torch.autocast(device.type, enabled=bool(amp)):
                outputs = model(images)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            forward_s += time.perf_counter() - t0
            for img, tgt, out in zip(images, targets, outputs):
                image_id = len(images_gt) + 1
                h, w = int(img.shape[-2]), int(img.shape[-1])
                images_gt.append({"id": image_id, "width": w, "height": h})
                boxes = torch.as_tensor(tgt["boxes"], dtype=torch.float64).reshape(-1, 4).cpu()
                labels = torch.as_tensor(tgt["labels"]).reshape(-1).cpu()
                crowd = tgt.get("iscrowd")
                crowd = torch.zeros_like(labels) if crowd is None else torch.as_tensor(crowd).cpu()
                for b, lab, c in zip(boxes.tolist(), labels.tolist(), crowd.tolist()):
                    bw, bh = b[2] - b[0], b[3] - b[1]
                    labels_seen.add(int(lab))
                    anns.append(
                        {
                            "id": len(anns) + 1,
                            "image_id": image_id,
                            "category_id": int(lab),
                            "bbox": [b[0], b[1], bw, bh],
                            "area": bw * bh,
                            "iscrowd": int(c),
                        }
                    )
                ob = out["boxes"].detach().float().cpu()
                os_ = out["scores"].detach().float().cpu()
                ol = out["labels"].detach().cpu()
                keep = os_ >= score_threshold
                for b, s, lab in zip(ob[keep].tolist(), os_[keep].tolist(), ol[keep].tolist()):
                    dets.append(
                        {
                            "image_id": image_id,
                            "category_id": int(lab),
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                            "score": float(s),
                        }
                    )
    finally:
        model.train(was_training)
    if not images_gt:
        raise ValueError("loader yielded no images")
    if class_names is not None:
        cat_ids = list(range(1, len(class_names)))
        names = {i: str(class_names[i]) for i in cat_ids}
    else:
        cat_ids = sorted(labels_seen | {d["category_id"] for d in dets})
        names = {i: str(i) for i in cat_ids}
    coco_gt = {
        "images": images_gt,
        "annotations": anns,
        "categories": [{"id": i, "name": names[i]} for i in cat_ids],
    }
    dets = [d for d in dets if d["category_id"] in names]
    result = coco_evaluate(coco_gt, dets)
    per_class = {
        names[int(k)]: float(v) for k, v in result["per_class_AP50"].items() if int(k) in names
    }
    return {
        "map50": float(result["AP50"]),
        "map": float(result["AP"]),
        "per_class": per_class,
        "seconds_per_image": forward_s / len(images_gt),
        "num_images": len(images_gt),
        "num_detections": len(dets),
    }


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save model (and optimizer) state, the epoch and plain extra values to ``path``.

    ``extra`` must hold only what ``torch.load(weights_only=True)`` accepts back: numbers,
    strings, lists, dicts, tensors.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.pt")
        >>> _ = save_checkpoint(p, nn.Linear(2, 1), epoch=3, extra={"map50": 0.5})
        >>> load_checkpoint(p, nn.Linear(2, 1))["epoch"]
        3
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a mapping or None, got {type(extra).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "epoch": epoch,
        "extra": dict(extra or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Uses ``torch.load(weights_only=True)``: a checkpoint cannot run code when loaded.

    Returns:
        ``{"epoch": ..., "extra": {...}}``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not such a checkpoint, or ``optimizer`` is given but the
            file holds no optimizer state.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{str(path)!r} is not a checkpoint written by save_checkpoint")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{str(path)!r} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return {"epoch": state.get("epoch"), "extra": state.get("extra") or {}}


# ----------------------------------------------------------------------------- training
def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | str | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    device: str | torch.device | None = None,
    val_loader: Iterable | None = None,
    eval_every: int = 1,
    warmup_iters: int = 100,
    warmup_factor: float = 0.001,
    lr_schedule: str = "cosine",
    milestones: Sequence[float] = (0.7, 0.9),
    gamma: float = 0.1,
    grad_clip: float | None = None,
    amp: bool | None = None,
    checkpoint_path: str | Path | None = None,
    seed: int | None = None,
    progress: bool = True,
    class_names: Sequence[str] | None = None,
    max_seconds: float | None = None,
    time_aware_schedule: bool = True,
    score_threshold: float = 0.0,
) -> History:
    """Train a torchvision-style detector; evaluate it every ``eval_every`` epochs.

    Args:
        model: ``model(images, targets)`` returns a dict of losses in train mode.
        train_loader: yields ``(images, targets)`` batches (``len()`` is needed for the
            schedule).
        epochs: number of passes over ``train_loader``.
        optimizer: ``None`` or ``"sgd"`` (SGD, momentum 0.9, weight decay 1e-4, lr 0.01),
            ``"adamw"`` (AdamW, weight decay 1e-4, lr 1e-3), or a ready optimizer (its
            learning rates are the base rates, unless ``lr`` overrides them).
        lr: base (peak) learning rate.
        weight_decay: for the built-in optimizers (default 1e-4).
        device: ``"cpu"``, ``"cuda"`` or ``None`` (see :func:`dlcv_utils.settings.pick_device`).
        val_loader: evaluated with :func:`evaluate_detector` every ``eval_every`` epochs and
            after the last one.
        eval_every: evaluation period in epochs.
        warmup_iters: iterations of linear warm-up from ``warmup_factor * lr`` to ``lr``
            (capped at the total number of iterations).
        warmup_factor: starting fraction of the learning rate.
        lr_schedule: after warm-up, ``"cosine"`` (to 0 at the end), ``"step"`` (times
            ``gamma`` at each fraction in ``milestones`` of the total iterations) or
            ``"constant"``. See :func:`lr_factor`.
        milestones: for ``"step"``.
        gamma: for ``"step"``.
        grad_clip: clip the total gradient norm to this value (``None``: no clipping).
        amp: mixed precision (``torch.autocast`` + ``GradScaler``); ``None`` = on for CUDA
            only.
        checkpoint_path: if given, a checkpoint is saved there after every epoch.
        seed: seed everything first (same seed, same data order, same losses on CPU).
        progress: show a ``tqdm`` bar (``TQDM_DISABLE=1`` silences it).
        class_names: names indexed by label (entry 0 = background), e.g.
            ``ShapesDetection.classes``, for the per-class metrics.
        max_seconds: stop training once this much training time has passed (a safety net;
            the model is still evaluated and ``History.stop_reason`` says so).
        time_aware_schedule: with ``max_seconds``, if training runs too slowly to finish in
            time (a busy machine), the schedule follows the elapsed fraction of
            ``max_seconds`` instead of the iteration count, so warm-up and decay still
            complete when the time runs out. A run on pace to finish in time is unaffected
            (and stays repeatable).
        score_threshold: passed to :func:`evaluate_detector`.

    Returns:
        The :class:`History`.

    Raises:
        FloatingPointError: as soon as a loss term is NaN or infinite (naming the iteration and
            the term).
        ValueError / TypeError: for bad arguments.

    Example:
        >>> class Toy(nn.Module):  # a "detector" whose only loss is a quadratic
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = nn.Parameter(torch.tensor(3.0))
        ...     def forward(self, images, targets=None):
        ...         return {"loss_w": self.w ** 2}
        >>> batches = [([torch.zeros(3, 4, 4)], [{}])] * 5
        >>> h = fit(Toy(), batches, epochs=2, lr=0.1, warmup_iters=0, device="cpu",
        ...         progress=False, seed=0)
        >>> h.iterations, h.losses["loss"][-1] < h.losses["loss"][0]
        (10, True)
    """
    from tqdm.auto import tqdm

    from dlcv_utils.settings import pick_device, seed_everything

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_positive_int("epochs", epochs)
    _check_positive_int("eval_every", eval_every)
    _check_positive_int("warmup_iters", warmup_iters, allow_zero=True)
    if lr_schedule not in _SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {_SCHEDULES}, got {lr_schedule!r}")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if grad_clip is not None and (
        isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or grad_clip <= 0
    ):
        raise ValueError(f"grad_clip must be None or a positive number, got {grad_clip!r}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or max_seconds <= 0
    ):
        raise ValueError(f"max_seconds must be None or a positive number, got {max_seconds!r}")
    try:
        n_batches = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"train_loader must have a len() (a DataLoader or a list), got {type(train_loader).__name__}"
        ) from None
    if n_batches == 0:
        raise ValueError("train_loader is empty")

    if seed is not None:
        seed_everything(seed)
    device = pick_device(device)
    use_amp = (device.type == "cuda") if amp is None else bool(amp)
    model.to(device)

    if optimizer is None or isinstance(optimizer, str):
        opt = make_optimizer(model, optimizer or "sgd", lr=lr, weight_decay=weight_decay)
    elif isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr
    else:
        raise TypeError(
            f"optimizer must be None, 'sgd', 'adamw' or a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    base_lrs = [group["lr"] for group in opt.param_groups]
    params = [p for group in opt.param_groups for p in group["params"]]

    total_iters = epochs * n_batches
    warmup = min(warmup_iters, total_iters)

    def set_lr(it: int) -> None:
        f = lr_factor(
            it,
            total_iters,
            warmup_iters=warmup,
            warmup_factor=warmup_factor,
            schedule=lr_schedule,
            milestones=milestones,
            gamma=gamma,
        )
        for group, base in zip(opt.param_groups, base_lrs):
            group["lr"] = base * f

    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    history = History()
    it = 0
    set_lr(0)
    train_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        epoch_losses: list[float] = []
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False)
        for batch in bar:
            images, targets = _split_batch(batch)
            images, targets = _to_device(images, targets, device)
            with torch.autocast(device.type, enabled=use_amp):
                loss_dict = model(images, targets)
            if not isinstance(loss_dict, Mapping) or not loss_dict:
                raise TypeError(
                    "in train mode model(images, targets) must return a non-empty dict of losses, "
                    f"got {type(loss_dict).__name__}"
                )
            values = {k: float(v.detach()) for k, v in loss_dict.items()}
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(
                    f"loss term {bad[0]!r} became {values[bad[0]]} at iteration {it} "
                    f"(epoch {epoch}); all terms: "
                    + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                    + ". Try a lower lr, a longer warm-up or grad_clip."
                )
            loss = sum(loss_dict.values())
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            norm = torch.nn.utils.clip_grad_norm_(
                [p for p in params if p.grad is not None],
                max_norm=float("inf") if grad_clip is None else float(grad_clip),
            )
            scaler.step(opt)
            scaler.update()

            total = sum(values.values())
            for k, v in values.items():
                history.losses.setdefault(k, []).append(v)
            history.losses.setdefault("loss", []).append(total)
            history.lr.append(opt.param_groups[0]["lr"])
            history.grad_norm.append(float(norm))
            epoch_losses.append(total)
            it += 1
            if it < total_iters:
                sched_it = it
                if max_seconds is not None and time_aware_schedule:
                    elapsed = time.perf_counter() - train_start
                    sched_it = max(it, int(total_iters * elapsed / max_seconds))
                set_lr(sched_it)
            bar.set_postfix(loss=f"{total:.3f}", lr=f"{history.lr[-1]:.2g}")
            if max_seconds is not None and time.perf_counter() - train_start > max_seconds:
                history.stop_reason = (
                    f"max_seconds={max_seconds} reached after {it} of {total_iters} iterations "
                    f"(epoch {epoch})"
                )
                break
        bar.close()
        history.train_seconds += time.perf_counter() - epoch_start
        row: dict[str, Any] = {
            "epoch": epoch,
            "loss": sum(epoch_losses) / len(epoch_losses),
            "seconds": time.perf_counter() - epoch_start,
        }
        stopping = history.stop_reason is not None
        if val_loader is not None and (epoch % eval_every == 0 or epoch == epochs or stopping):
            t0 = time.perf_counter()
            row.update(
                evaluate_detector(
                    model,
                    val_loader,
                    device,
                    score_threshold,
                    class_names=class_names,
                    amp=use_amp,
                )
            )
            history.eval_seconds += time.perf_counter() - t0
            train_start += time.perf_counter() - t0  # evaluation does not count against max_seconds
        history.epochs.append(row)
        if progress:
            msg = f"epoch {epoch}/{epochs}: loss {row['loss']:.3f}"
            if "map50" in row:
                msg += f", val mAP@0.5 {row['map50']:.3f}, mAP@[.5:.95] {row['map']:.3f}"
            print(msg)
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                model,
                opt,
                epoch=epoch,
                extra={k: v for k, v in row.items() if isinstance(v, (int, float))},
            )
        if stopping:
            if progress:
                print(f"stopped early: {history.stop_reason}")
            break
    model.eval()
    return history
