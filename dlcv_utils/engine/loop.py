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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcv_utils.engine.batch import split_batch, to_device
from dlcv_utils.engine.budget import TimeBudget, time_cap_message
from dlcv_utils.engine.checkpoint import save_checkpoint
from dlcv_utils.engine.evaluation import evaluate_detector
from dlcv_utils.engine.history import History
from dlcv_utils.engine.schedule import SCHEDULES, WarmupSchedule, make_optimizer
from dlcv_utils.runtime import pick_device, progress_disabled, seed_everything
from dlcv_utils.validation import check_choice, check_int, check_number

__all__ = ["fit", "train_one_epoch"]


def _finite_losses(loss_dict, iteration: int, epoch: int) -> dict[str, float]:
    """The loss terms as floats; raise ``FloatingPointError`` naming the first bad one."""
    if not isinstance(loss_dict, Mapping) or not loss_dict:
        raise TypeError(
            "in train mode model(images, targets) must return a non-empty dict of losses, "
            f"got {type(loss_dict).__name__}"
        )
    for k, v in loss_dict.items():
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise TypeError(
                f"loss term {k!r} must be a floating-point torch tensor that backward() can "
                f"use, got {type(v).__name__ if not isinstance(v, torch.Tensor) else v.dtype} "
                f"at iteration {iteration} (epoch {epoch})"
            )
        if v.numel() != 1:
            raise ValueError(
                f"loss term {k!r} must be a scalar, got shape {tuple(v.shape)} at iteration "
                f"{iteration} (epoch {epoch}); reduce it, e.g. with .mean() or .sum()"
            )
    values = {k: float(v.detach()) for k, v in loss_dict.items()}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(
            f"loss term {bad[0]!r} became {values[bad[0]]} at iteration {iteration} "
            f"(epoch {epoch}); all terms: "
            + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            + ". Try a lower lr, a longer warm-up or grad_clip."
        )
    return values


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    schedule: WarmupSchedule,
    budget: TimeBudget,
    history: History,
    *,
    device: torch.device,
    scaler: torch.amp.GradScaler,
    grad_clip: float | None = None,
    epoch: int = 1,
    progress: bool = True,
) -> list[float]:
    """One pass over ``loader``; returns the total loss of each step (also kept in ``history``).

    Every step: move the batch to ``device``, forward (autocast when ``scaler`` is enabled),
    check every loss term is finite, backward, clip the gradient norm, step the optimizer, set
    the next learning rate. Stops early, with ``history.stop_reason``, once ``budget`` is spent.
    """
    from tqdm.auto import tqdm

    params = [p for group in optimizer.param_groups for p in group["params"]]
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=progress_disabled(progress))
    step_losses = []
    model.train()
    for batch in bar:
        images, targets = to_device(*split_batch(batch), device)
        with torch.autocast(device.type, enabled=scaler.is_enabled()):
            loss_dict = model(images, targets)
        values = _finite_losses(loss_dict, history.iterations, epoch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(sum(loss_dict.values())).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(
            [p for p in params if p.grad is not None],
            max_norm=float("inf") if grad_clip is None else grad_clip,
        )
        scaler.step(optimizer)
        scaler.update()
        lr = optimizer.param_groups[0]["lr"]
        step_losses.append(history.record_step(values, lr=lr, grad_norm=float(norm)))
        if history.iterations < budget.total_iters:
            schedule.step_to(budget.schedule_iteration(history.iterations))
        bar.set_postfix(loss=f"{step_losses[-1]:.3f}", lr=f"{lr:.2g}")
        if budget.exhausted() and history.iterations < budget.total_iters:
            history.stop_reason = (
                f"max_seconds={budget.max_seconds} reached after {history.iterations} of "
                f"{budget.total_iters} iterations (epoch {epoch})"
            )
            break
    bar.close()
    return step_losses


def _make_optimizer(model, optimizer, lr, weight_decay) -> torch.optim.Optimizer:
    if optimizer is None or isinstance(optimizer, str):
        return make_optimizer(model, optimizer or "sgd", lr=lr, weight_decay=weight_decay)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "optimizer must be None, 'sgd', 'adamw' or a torch.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    for group in optimizer.param_groups if lr is not None else ():
        group["lr"] = lr
    return optimizer


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
        device: ``"cpu"``, ``"cuda"`` or ``None`` (see :func:`dlcv_utils.runtime.pick_device`).
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
        progress: show a ``tqdm`` bar and one line per epoch; ``False`` hides both, and
            ``$TQDM_DISABLE=1`` hides the bar whatever ``progress`` says.
        class_names: names indexed by label (entry 0 = background), e.g.
            ``ShapesDetection.classes``, for the per-class metrics.
        max_seconds: stop training once this much training time has passed (a safety net;
            the model is still evaluated, ``History.stop_reason`` says so and one line
            starting ``TIME CAP:`` is printed on stdout, even with ``progress=False``).
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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_int(epochs, "epochs", minimum=1)
    check_int(eval_every, "eval_every", minimum=1)
    check_int(warmup_iters, "warmup_iters", minimum=0)
    check_choice(lr_schedule, "lr_schedule", SCHEDULES)
    for name, value in (("lr", lr), ("grad_clip", grad_clip)):
        if value is not None:
            check_number(value, name, low=0.0, low_open=True)
    try:
        n_batches = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"train_loader must have a len() (a DataLoader or a list), got {type(train_loader).__name__}"
        ) from None
    if n_batches == 0:
        raise ValueError("train_loader is empty; check the dataset size and batch_size")
    budget = TimeBudget(max_seconds, epochs * n_batches, time_aware_schedule)

    if seed is not None:
        seed_everything(seed)
    device = pick_device(device)
    model.to(device)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    schedule = WarmupSchedule(
        opt,
        budget.total_iters,
        warmup_iters=warmup_iters,
        warmup_factor=warmup_factor,
        schedule=lr_schedule,
        milestones=milestones,
        gamma=gamma,
    )
    schedule.step_to(0)
    use_amp = (device.type == "cuda") if amp is None else bool(amp)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    history = History()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        losses = train_one_epoch(
            model, train_loader, opt, schedule, budget, history,
            device=device, scaler=scaler, grad_clip=grad_clip, epoch=epoch, progress=progress,
        )  # fmt: skip
        row: dict[str, Any] = {"epoch": epoch, "loss": sum(losses) / len(losses)}
        row["seconds"] = time.perf_counter() - t0
        history.train_seconds += row["seconds"]
        stopping = history.stop_reason is not None
        if val_loader is not None and (epoch % eval_every == 0 or epoch == epochs or stopping):
            with budget.paused():  # evaluation does not count against max_seconds
                t1 = time.perf_counter()
                row.update(
                    evaluate_detector(
                        model, val_loader, device, score_threshold,
                        class_names=class_names, amp=use_amp,
                    )
                )  # fmt: skip
                history.eval_seconds += time.perf_counter() - t1
        history.epochs.append(row)
        if progress:
            _print_epoch(row, epochs)
        if stopping:  # one greppable line, whatever progress and $TQDM_DISABLE say
            print(time_cap_message(history.iterations, budget.total_iters, budget.max_seconds))
        if checkpoint_path is not None:
            extra = {k: v for k, v in row.items() if isinstance(v, (int, float))}
            save_checkpoint(checkpoint_path, model, opt, epoch=epoch, extra=extra)
        if stopping:
            break
    model.eval()
    return history


def _print_epoch(row: dict[str, Any], epochs: int) -> None:
    msg = f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.3f}"
    if "map50" in row:
        msg += f", val mAP@0.5 {row['map50']:.3f}, mAP@[.5:.95] {row['map']:.3f}"
    print(msg)
