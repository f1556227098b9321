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
from dlcv_utils.engine.checkpoint import save_checkpoint
from dlcv_utils.engine.evaluation import evaluate_detector
from dlcv_utils.engine.history import History
from dlcv_utils.engine.schedule import SCHEDULES, lr_factor, make_optimizer

__all__ = ["fit"]


def _check_positive_int(name: str, value, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


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
        device: ``"cpu"``, ``"cuda"`` or ``None`` (see :func:`dlcv_utils.course.settings.pick_device`).
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

    from dlcv_utils.course.settings import pick_device, seed_everything

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_positive_int("epochs", epochs)
    _check_positive_int("eval_every", eval_every)
    _check_positive_int("warmup_iters", warmup_iters, allow_zero=True)
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {lr_schedule!r}")
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
            images, targets = split_batch(batch)
            images, targets = to_device(images, targets, device)
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
