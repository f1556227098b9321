"""Fine-tuning (미세 조정) a COCO-pretrained Faster R-CNN on a small real dataset.

Transfer learning (전이 학습): torchvision's Faster R-CNN trained on COCO already knows what
objects look like; to detect *our* classes we keep its backbone, FPN, RPN and box head, and
replace only the last layer, the box predictor (class scores + box deltas for 91 COCO labels),
with a new ``FastRCNNPredictor`` for ``num_classes`` outputs (background + our classes). Then a
few epochs on a few hundred labelled boxes are enough.

* :func:`pretrained_detector_for` loads the COCO weights (through torch's hub cache,
  ``$TORCH_HOME/hub/checkpoints``, via :func:`~dlcv_utils.models.faster_rcnn.load_pretrained_coco`,
  which raises :class:`~dlcv_utils.models.faster_rcnn.WeightsUnavailableError` offline) and
  swaps the predictor.
* :func:`pennfudan_loaders` and :func:`finetune_pennfudan` are the recipe of lesson 05: split
  Penn-Fudan (:class:`~dlcv_utils.datasets.pennfudan.PennFudanDataset`), train with
  :func:`dlcv_utils.engine.fit`, evaluate COCO mAP with
  :func:`dlcv_utils.engine.evaluate_detector`. Meant for a GPU (Colab): on a CPU one epoch of
  170 photos at 800 px takes many minutes.

Taught in lesson 05 (section "Fine-tuning a pretrained detector on real photos").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcv_utils.models.faster_rcnn import COCO_MODELS, load_pretrained_coco

__all__ = [
    "FINETUNE_ARCHS",
    "FinetuneResult",
    "finetune_pennfudan",
    "pennfudan_loaders",
    "pretrained_detector_for",
    "replace_box_predictor",
]

#: The torchvision COCO Faster R-CNN builders :func:`pretrained_detector_for` accepts.
FINETUNE_ARCHS = tuple(sorted(COCO_MODELS))


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_arch(arch: Any) -> str:
    if arch not in COCO_MODELS:
        raise ValueError(f"arch must be one of {list(FINETUNE_ARCHS)}, got {arch!r}")
    return arch


def replace_box_predictor(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace ``model.roi_heads.box_predictor`` by a new ``FastRCNNPredictor`` (in place).

    The new predictor reads the same ``in_features`` (the box head's output width, 1024 for
    torchvision's models) and outputs ``num_classes`` scores and ``num_classes * 4`` box deltas;
    its weights are freshly initialised, everything else is kept.

    Args:
        model: a torchvision ``FasterRCNN``.
        num_classes: number of classes **including** the background (Penn-Fudan: 1 + 1 = 2).

    Returns:
        ``model``.

    Example:
        >>> from dlcv_utils.models.faster_rcnn import build_faster_rcnn
        >>> m = replace_box_predictor(build_faster_rcnn(6), 3)
        >>> m.roi_heads.box_predictor.cls_score.out_features
        3
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    _check_int(num_classes, "num_classes", 2)
    predictor = getattr(getattr(model, "roi_heads", None), "box_predictor", None)
    cls_score = getattr(predictor, "cls_score", None)
    if not isinstance(cls_score, nn.Linear):
        raise TypeError(
            "model must be a torchvision FasterRCNN (model.roi_heads.box_predictor.cls_score "
            f"a Linear layer), got {type(model).__name__}"
        )
    new = FastRCNNPredictor(cls_score.in_features, num_classes)
    new.to(device=cls_score.weight.device)
    model.roi_heads.box_predictor = new
    return model


def pretrained_detector_for(
    num_classes: int,
    weights: str | Any | None = "DEFAULT",
    arch: str = "fasterrcnn_mobilenet_v3_large_fpn",
    *,
    freeze_backbone: bool = False,
    min_size: int | None = None,
    max_size: int | None = None,
    box_score_thresh: float = 0.05,
    allow_download: bool = True,
    timeout: float = 5.0,
) -> nn.Module:
    """A COCO-pretrained torchvision Faster R-CNN with a new box predictor for ``num_classes``.

    The weights come through torchvision's normal path: torch's hub cache
    (``$TORCH_HOME/hub/checkpoints/<file of the weights URL>``, see
    :func:`~dlcv_utils.models.faster_rcnn.coco_weights_file`), downloaded there when missing.
    torchvision then freezes the first backbone stages (it trains the last 3 of them) and
    uses frozen batch norm; ``freeze_backbone=True`` freezes the whole backbone body as well, so
    only the FPN, RPN and RoI heads learn (faster, and safer with very few images).

    Args:
        num_classes: classes **including** the background (Penn-Fudan: 2).
        weights: ``"DEFAULT"`` or ``"COCO_V1"`` (the same COCO weights), torchvision's weights
            enum member for ``arch``, or ``None`` (random initialisation, no download: a
            from-scratch baseline).
        arch: one of :data:`FINETUNE_ARCHS`, e.g. ``"fasterrcnn_mobilenet_v3_large_fpn"``
            (fast, ~19 M parameters) or ``"fasterrcnn_resnet50_fpn"`` (more accurate, ~41 M).
        freeze_backbone: stop gradients in ``model.backbone.body``.
        min_size, max_size: override the model transform's resize (torchvision: 800 / 1333);
            smaller is faster.
        box_score_thresh: detections below this score are dropped at test time (keep it low
            for mAP).
        allow_download: try the network when the weights are not cached.
        timeout: seconds to wait for the weights server before giving up.

    Returns:
        The model in train mode.

    Raises:
        ValueError / TypeError: bad arguments.
        WeightsUnavailableError: the weights are not cached and cannot be downloaded (offline).

    Example:
        >>> m = pretrained_detector_for(2, weights=None)  # no download
        >>> m.roi_heads.box_predictor.cls_score.out_features, m.training
        (2, True)
    """
    import torchvision.models.detection as det

    _check_int(num_classes, "num_classes", 2)
    _check_arch(arch)
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if value is not None:
            _check_int(value, name, 32)
    if isinstance(box_score_thresh, bool) or not 0.0 <= float(box_score_thresh) <= 1.0:
        raise ValueError(f"box_score_thresh must be a number in [0, 1], got {box_score_thresh!r}")
    enum = getattr(det, COCO_MODELS[arch])
    if weights is None:
        model = getattr(det, arch)(weights=None, weights_backbone=None, num_classes=91)
    else:
        if isinstance(weights, str):
            if weights not in ("DEFAULT", "COCO_V1"):
                raise ValueError(
                    f"weights must be 'DEFAULT', 'COCO_V1', a {enum.__name__} member or None, "
                    f"got {weights!r}"
                )
        elif weights not in list(enum):
            raise ValueError(
                f"weights must be 'DEFAULT', 'COCO_V1', a {enum.__name__} member or None, "
                f"got {weights!r} (for arch={arch!r})"
            )
        model, _ = load_pretrained_coco(
            arch, allow_download=allow_download, timeout=timeout, box_score_thresh=0.5
        )
    replace_box_predictor(model, num_classes)
    model.roi_heads.score_thresh = float(box_score_thresh)
    if min_size is not None:
        model.transform.min_size = (min_size,)
    if max_size is not None:
        model.transform.max_size = max_size
    if freeze_backbone:
        for p in model.backbone.body.parameters():
            p.requires_grad_(False)
    return model.train()


# ----------------------------------------------------------------------------- the recipe
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

    _check_int(batch_size, "batch_size", 1)
    _check_int(num_workers, "num_workers", 0)
    _check_int(seed, "seed", 0)
    train_ds = PennFudanDataset(root, transforms=_transforms(True, hflip))
    val_ds = PennFudanDataset(root, transforms=_transforms(False, hflip))
    n = len(train_ds)
    _check_int(n_val, "n_val", 1)
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
    _check_int(epochs, "epochs", 1)
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
