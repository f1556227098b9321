"""The lesson-05 fine-tuning recipe: Penn-Fudan loaders, train, evaluate COCO mAP.

* :func:`pennfudan_loaders` splits Penn-Fudan
  (:class:`~dlcv_utils.datasets.pennfudan.PennFudanDataset`) into seeded train and validation
  loaders.
* :func:`finetune_pennfudan` takes a COCO-pretrained Faster R-CNN with a new box predictor
  (:func:`~dlcv_utils.models.finetune.pretrained_detector_for`), trains it with
  :func:`dlcv_utils.engine.fit` and evaluates COCO mAP with
  :func:`dlcv_utils.engine.evaluate_detector`. Meant for a GPU (Colab): on a CPU one epoch of
  170 photos at 800 px takes many minutes.

The model part (weights, predictor swap) lives in :mod:`dlcv_utils.models.finetune`; this
module is in the course layer because it drives the engine.

Taught in lesson 05 (section "Fine-tuning a pretrained detector on real photos").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcv_utils.models.finetune import pretrained_detector_for
from dlcv_utils.validation import check_int

__all__ = ["FinetuneResult", "finetune_pennfudan", "pennfudan_loaders"]


def _transforms(train: bool, hflip: bool):
    from torchvision.transforms import v2

    steps = [v2.RandomHorizontalFlip(0.5)] if train and hflip else []
    steps += [v2.ToDtype(torch.float32, scale=True), v2.ToPureTensor()]
    return v2.Compose(steps)


def pennfudan_loaders(
    root: str | os.PathLike,
    *,
    n_val: int = 50,
    batch_size: int = 2,
    seed: int = 0,
    hflip: bool = True,
    num_workers: int = 0,
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """Penn-Fudan train and validation loaders: a seeded random split of the 170 photos.

    ``n_val`` photos (the torchvision tutorial also holds out 50) go to validation, the rest to
    training. Images become float ``[3, H, W]`` in ``[0, 1]``; training images are flipped
    horizontally at random (boxes and masks follow) when ``hflip``.

    Args:
        root: the ``PennFudanPed`` folder or its parent (see
            :class:`~dlcv_utils.datasets.pennfudan.PennFudanDataset`).
        n_val: validation photos, ``1 <= n_val < len(dataset)``.
        batch_size: training batch size (validation uses the same).
        seed: seeds the split and the shuffling.
        hflip: random horizontal flips for training.
        num_workers: DataLoader workers.

    Returns:
        ``(train_loader, val_loader)``, batches as :func:`~dlcv_utils.datasets.collate_fn`
        makes them.
    """
    from torch.utils.data import DataLoader, Subset

    from dlcv_utils.datasets.pennfudan import PennFudanDataset
    from dlcv_utils.datasets.torch_dataset import collate_fn

    check_int(batch_size, "batch_size", 1)
    check_int(num_workers, "num_workers", 0)
    check_int(seed, "seed", 0)
    train_ds = PennFudanDataset(root, transforms=_transforms(True, hflip))
    val_ds = PennFudanDataset(root, transforms=_transforms(False, hflip))
    n = len(train_ds)
    check_int(n_val, "n_val", 1)
    if n_val >= n:
        raise ValueError(f"n_val must be < the {n} images in {train_ds.root}, got {n_val}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    train_idx, val_idx = sorted(order[n_val:]), sorted(order[:n_val])
    train_loader = DataLoader(
        Subset(train_ds, train_idx),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=collate_fn,
        num_workers=num_workers,
    )
    val_loader = DataLoader(
        Subset(val_ds, val_idx),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate_fn,
        num_workers=num_workers,
    )
    return train_loader, val_loader


@dataclass
class FinetuneResult:
    """What :func:`finetune_pennfudan` returns.

    Attributes:
        model: the fine-tuned detector (eval mode).
        history: the :class:`~dlcv_utils.engine.History` of :func:`~dlcv_utils.engine.fit`.
        metrics: :func:`~dlcv_utils.engine.evaluate_detector` on the validation split after
            training (``map50``, ``map``, ``per_class``, ...).
        metrics_before: the same before fine-tuning (the new predictor is random: mAP near 0),
            or ``{}`` when not measured.
        n_train, n_val: photos in each split.
        seconds: wall time of the whole recipe.
    """

    model: nn.Module
    history: Any
    metrics: dict[str, Any]
    metrics_before: dict[str, Any] = field(default_factory=dict)
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0


def finetune_pennfudan(
    root: str | os.PathLike,
    device: str | torch.device | None = None,
    *,
    epochs: int = 3,
    batch_size: int = 2,
    lr: float = 0.005,
    weight_decay: float = 5e-4,
    arch: str = "fasterrcnn_mobilenet_v3_large_fpn",
    weights: str | Any | None = "DEFAULT",
    freeze_backbone: bool = False,
    n_val: int = 50,
    min_size: int | None = None,
    max_size: int | None = None,
    warmup_iters: int = 50,
    evaluate_before: bool = False,
    max_seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    allow_download: bool = True,
    num_workers: int = 0,
) -> FinetuneResult:
    """Fine-tune a COCO-pretrained Faster R-CNN on Penn-Fudan (background + person).

    ``split (pennfudan_loaders) -> pretrained_detector_for(2) -> fit (SGD, warm-up, cosine) ->
    evaluate_detector`` on the held-out photos.

    Args:
        root: the ``PennFudanPed`` folder or its parent (e.g. ``download("pennfudan", root)``).
        device: ``"cuda"``, ``"cpu"`` or ``None`` (the best available).
        epochs: passes over the training photos.
        batch_size: photos per step.
        lr: SGD learning rate (momentum 0.9); 0.005 for 2 photos per batch, as in
            torchvision's detection fine-tuning tutorial.
        weight_decay: SGD weight decay.
        arch, weights, freeze_backbone, min_size, max_size: see :func:`pretrained_detector_for`.
        n_val: validation photos.
        warmup_iters: linear warm-up iterations.
        evaluate_before: also evaluate once before training (``metrics_before``).
        max_seconds: stop training after this long (the model is still evaluated).
        seed: seeds the split, the shuffling and the new predictor's weights.
        progress: print one line per epoch (and tqdm bars unless ``$TQDM_DISABLE=1``).
        allow_download: let torchvision download the COCO weights when not cached.
        num_workers: DataLoader workers.

    Returns:
        A :class:`FinetuneResult`.

    Raises:
        WeightsUnavailableError: the COCO weights are neither cached nor downloadable.
        FileNotFoundError / ValueError: ``root`` missing or not in the PennFudan layout.
    """
    from dlcv_utils.engine import evaluate_detector, fit
    from dlcv_utils.runtime import pick_device

    t0 = time.perf_counter()
    check_int(epochs, "epochs", 1)
    train_loader, val_loader = pennfudan_loaders(
        root, n_val=n_val, batch_size=batch_size, seed=seed, num_workers=num_workers
    )
    torch.manual_seed(seed)  # the new predictor's initial weights
    model = pretrained_detector_for(
        2,
        weights=weights,
        arch=arch,
        freeze_backbone=freeze_backbone,
        min_size=min_size,
        max_size=max_size,
        allow_download=allow_download,
    )
    device = pick_device(device)
    class_names = ["__background__", *val_loader.dataset.dataset.classes]
    before: dict[str, Any] = {}
    if evaluate_before:
        model.to(device)
        before = evaluate_detector(model, val_loader, class_names=class_names)
    history = fit(
        model,
        train_loader,
        epochs=epochs,
        optimizer="sgd",
        lr=lr,
        weight_decay=weight_decay,
        device=device,
        val_loader=val_loader,
        eval_every=epochs,
        warmup_iters=warmup_iters,
        lr_schedule="cosine",
        seed=seed,
        progress=progress,
        class_names=class_names,
        max_seconds=max_seconds,
    )
    metrics = next((row for row in reversed(history.epochs) if "map" in row), None)
    if metrics is None:  # fit always evaluates after the last epoch; keep a clear failure
        raise RuntimeError("fit did not evaluate the model on the validation split")
    metrics = {k: v for k, v in metrics.items() if k not in ("epoch", "loss", "seconds")}
    return FinetuneResult(
        model=model.eval(),
        history=history,
        metrics=metrics,
        metrics_before=before,
        n_train=len(train_loader.dataset),
        n_val=len(val_loader.dataset),
        seconds=time.perf_counter() - t0,
    )
