"""The one recipe every training lesson and the detector benchmark share.

``shapes loaders -> train -> evaluate``:

1. :func:`shapes_datasets` / :func:`shapes_loaders` build the shapes train and val splits of a
   :class:`~dlcv_utils.course.settings.ShapesData` setting (training batches shuffled by a
   seeded generator, optional random horizontal flip or box-aware augmentation,
   :func:`box_augment`);
2. :func:`train_and_evaluate` trains a model with :func:`dlcv_utils.engine.fit` under a
   :class:`~dlcv_utils.course.settings.Training` setting and evaluates it on the val split
   with :func:`dlcv_utils.engine.evaluate_detector`.

The model builders (:func:`build_rcnn_model`, :func:`build_faster_rcnn_model`,
:func:`build_config_model`) turn a lesson's settings into the model the lesson trains. A lesson
runs these steps in its cells; ``benchmarks/bench_detectors.py`` runs the same steps through
:func:`run_benchmark`, so a lesson's key figure and the benchmark's row come from the same code
and the same settings. The model modules themselves know nothing about lessons or settings.

Taught in lessons 04-06.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import torch
from torch import nn

from dlcv_utils.course.comparison import recipe_row, schedule_on_pace
from dlcv_utils.course.settings import (
    Augmentation,
    Lesson04,
    Lesson05,
    Lesson06,
    Lesson07,
    Lesson08,
    Lesson10,
    ShapesData,
    Training,
    lesson_setup,
)
from dlcv_utils.datasets.augment import BoxAugment, box_augmentation
from dlcv_utils.datasets.shapes import ShapesDetection, collate_fn
from dlcv_utils.engine import History, evaluate_detector, fit
from dlcv_utils.engine.budget import yolo_budget_callback  # re-exported for lesson 10
from dlcv_utils.proposals.cache import ProposalCache
from dlcv_utils.validation import check_choice

__all__ = [
    "BENCHMARKS",
    "AugmentedDataset",
    "ProposalAugment",
    "RecipeResult",
    "box_augment",
    "build_config_model",
    "build_faster_rcnn_model",
    "build_rcnn_model",
    "build_single_shot_model",
    "build_ssd_model",
    "proposal_cache",
    "random_hflip",
    "run_benchmark",
    "shapes_datasets",
    "shapes_loaders",
    "train_and_evaluate",
    "yolo_budget_callback",
    "yolo_train_args",
]

CLASS_NAMES = ShapesDetection.classes  # label 0 is background, 1..K the shapes


# ----------------------------------------------------------------------------- data
def random_hflip(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """Flip a ``[C, H, W]`` image and its target horizontally with probability 1/2.

    Boxes ``[N, 4]`` xyxy become ``(W - x2, y1, W - x1, y2)``; ``masks`` ``[N, H, W]`` flip too.
    Uses torch's global generator (seeded by :func:`dlcv_utils.engine.fit`). The input target is
    not modified.

    Example:
        >>> image = torch.zeros(3, 4, 10)
        >>> target = {"boxes": torch.tensor([[1.0, 0.0, 2.0, 4.0]])}
        >>> flips = [random_hflip(image, target)[1]["boxes"][0, 0].item() for _ in range(50)]
        >>> sorted(set(flips))
        [1.0, 8.0]
    """
    if torch.rand(()) < 0.5:
        width = image.shape[-1]
        image = image.flip(-1)
        target = dict(target)
        boxes = torch.as_tensor(target["boxes"]).clone()
        boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
        target["boxes"] = boxes
        if "masks" in target:
            target["masks"] = target["masks"].flip(-1)
    return image, target


class ProposalAugment:
    """Augment ``(image, target)`` and move the image's cached proposals with it.

    Selective search is too slow to rerun on every augmented image (lesson 04), so, as Fast
    R-CNN's own code did for its flipped images, the proposals of the original image get the
    same transform as its boxes; the moved proposals are stored in ``proposals`` under the
    augmented image, where the detector will look them up.

    Args:
        augment: a :class:`~dlcv_utils.datasets.augment.BoxAugment`.
        proposals: the :class:`~dlcv_utils.proposals.cache.ProposalCache` the detector uses.
    """

    def __init__(self, augment: BoxAugment, proposals: ProposalCache) -> None:
        if not isinstance(augment, BoxAugment):
            raise TypeError(f"augment must be a BoxAugment, got {type(augment).__name__}")
        if not isinstance(proposals, ProposalCache):
            raise TypeError(f"proposals must be a ProposalCache, got {type(proposals).__name__}")
        self.augment, self.proposals = augment, proposals

    def __call__(self, image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
        image, target, (moved,) = self.augment.apply(image, target, [self.proposals(image)])
        self.proposals.remember(image, moved)
        return image, target


def box_augment(
    augmentation: Augmentation, proposals: ProposalCache | None = None
) -> BoxAugment | ProposalAugment:
    """The ``(image, target) -> (image, target)`` augmentation of an :class:`Augmentation` setting.

    Args:
        augmentation: the knobs.
        proposals: for lesson 04's detectors, the proposal cache whose boxes move with the image
            (see :class:`ProposalAugment`).

    Example:
        >>> aug = box_augment(Augmentation(hflip=1.0, photometric=0.0, scale=(1, 1), translate=0))
        >>> image, target = torch.zeros(3, 8, 10), {"boxes": torch.tensor([[1.0, 2.0, 4.0, 6.0]])}
        >>> aug(image, target)[1]["boxes"].tolist()
        [[6.0, 2.0, 9.0, 6.0]]
    """
    if not isinstance(augmentation, Augmentation):
        raise TypeError(
            f"augmentation must be an Augmentation setting, got {type(augmentation).__name__}"
        )
    transform = box_augmentation(
        hflip=augmentation.hflip,
        photometric=augmentation.photometric,
        scale=augmentation.scale,
        translate=augmentation.translate,
        degrees=augmentation.degrees,
    )
    augment = BoxAugment(transform, min_size=augmentation.min_size)
    return augment if proposals is None else ProposalAugment(augment, proposals)


class AugmentedDataset(torch.utils.data.Dataset):
    """``dataset`` with ``augment(image, target)`` applied to every item it returns.

    The wrapped dataset is unchanged (so the un-augmented images stay available, e.g. for
    precomputing proposals).
    """

    def __init__(self, dataset, augment: Callable) -> None:
        if not callable(augment):
            raise TypeError(f"augment must be callable, got {type(augment).__name__}")
        self.dataset, self.augment = dataset, augment

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.augment(*self.dataset[index])


def shapes_datasets(data: ShapesData) -> tuple[ShapesDetection, ShapesDetection]:
    """The shapes train and val splits of ``data``, images generated up front.

    Generating the images here keeps the training time that :func:`train_and_evaluate`
    measures free of image generation.
    """
    if not isinstance(data, ShapesData):
        raise TypeError(f"data must be a ShapesData setting, got {type(data).__name__}")
    train = ShapesDetection(
        "train",
        n=data.n_train,
        image_size=data.image_size,
        transforms=random_hflip if data.hflip else None,
    )
    val = ShapesDetection("val", n=data.n_val, image_size=data.image_size)
    for ds in (train, val):
        for i in range(len(ds)):
            ds.sample(i)
    return train, val


def shapes_loaders(
    data: ShapesData,
    seed: int = 0,
    datasets: tuple[ShapesDetection, ShapesDetection] | None = None,
    augment: Callable | None = None,
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """Train and val ``DataLoader`` s yielding ``(images, targets)`` batches.

    Args:
        data: sizes and batch sizes.
        seed: seeds the generator that shuffles the training batches.
        datasets: ``(train, val)`` from :func:`shapes_datasets` (default: built here).
        augment: ``(image, target) -> (image, target)`` applied to the training items only,
            e.g. :func:`box_augment` (the val split is never augmented).

    Example:
        >>> train, val = shapes_loaders(ShapesData(n_train=4, n_val=2, image_size=64, batch_size=2))
        >>> images, targets = next(iter(train))
        >>> len(images), tuple(images[0].shape), {"boxes", "labels"} <= set(targets[0])
        (2, (3, 64, 64), True)
    """
    train_ds, val_ds = datasets if datasets is not None else shapes_datasets(data)
    if augment is not None:
        train_ds = AugmentedDataset(train_ds, augment)
    train = torch.utils.data.DataLoader(
        train_ds,
        batch_size=data.batch_size,
        shuffle=True,
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(seed),
    )
    val = torch.utils.data.DataLoader(
        val_ds, batch_size=data.val_batch_size, shuffle=False, collate_fn=collate_fn
    )
    return train, val


# ----------------------------------------------------------------------------- train + evaluate
@dataclass
class RecipeResult:
    """What :func:`train_and_evaluate` returns.

    Attributes:
        model: the trained model (in eval mode).
        history: the :class:`~dlcv_utils.engine.History` of the run.
        metrics: :func:`~dlcv_utils.engine.evaluate_detector` on the val split (``map50``,
            ``map``, ``per_class``, ``seconds_per_image``, ...).
        train_s: training wall time in seconds (evaluation excluded).
        on_pace: ran on the plain schedule, independent of timing (``comparison.schedule_on_pace``).
    """

    model: nn.Module
    history: History
    metrics: dict[str, Any]
    train_s: float
    on_pace: bool | None = None


def train_and_evaluate(
    model: nn.Module,
    train_loader,
    val_loader,
    training: Training,
    *,
    device: str | torch.device,
    seed: int = 0,
    progress: bool = True,
    evaluate: Callable[..., dict[str, Any]] | None = None,
) -> RecipeResult:
    """Train ``model`` under ``training`` with :func:`~dlcv_utils.engine.fit`, then evaluate it.

    Args:
        model: a torchvision-style detector (losses in train mode, detections in eval mode).
        train_loader: yields ``(images, targets)``.
        val_loader: the same, for evaluation (COCO mAP on the shapes classes).
        training: epochs, optimizer, learning rate, warm-up, gradient clip, time cap.
        device: where to train.
        seed: seeds the run (the same seed gives the same run on the same device and threads).
        progress: show tqdm bars (``$TQDM_DISABLE=1`` hides them).
        evaluate: ``evaluate(model, val_loader, device) -> metrics`` (default:
            :func:`~dlcv_utils.engine.evaluate_detector` on the shapes classes; lesson 13 passes
            its box + mask evaluation).

    Returns:
        A :class:`RecipeResult`.
    """
    if not isinstance(training, Training):
        raise TypeError(f"training must be a Training setting, got {type(training).__name__}")
    t0 = time.perf_counter()
    history = fit(
        model.to(device),
        train_loader,
        epochs=training.epochs,
        optimizer=training.optimizer,
        lr=training.lr,
        device=device,
        warmup_iters=training.warmup_iters,
        grad_clip=training.grad_clip,
        max_seconds=training.max_train_seconds,
        seed=seed,
        progress=progress,
    )
    train_s = time.perf_counter() - t0
    if evaluate is None:
        metrics = evaluate_detector(model, val_loader, device, class_names=CLASS_NAMES)
    else:
        metrics = evaluate(model, val_loader, device)
    on_pace = schedule_on_pace(history.lr, training, len(train_loader))
    return RecipeResult(model.eval(), history, metrics, train_s, on_pace)


# ----------------------------------------------------------------------------- model builders
def proposal_cache(cfg: Lesson04) -> ProposalCache:
    """Lesson 04's selective-search settings in a fresh :class:`ProposalCache`."""
    return ProposalCache(
        scale=cfg.ss_scale, min_size=cfg.ss_min_size, min_box_size=cfg.ss_min_box_size
    )


def build_rcnn_model(kind: str, cfg: Lesson04, proposals: ProposalCache) -> nn.Module:
    """Lesson 04's ``"rcnn"`` or ``"fast_rcnn"`` with its settings (seeded with ``cfg.seed``).

    Raises:
        ValueError: for another ``kind``.
    """
    from dlcv_utils.models.rcnn import RCNN, FastRCNN

    check_choice(kind, "kind", ("rcnn", "fast_rcnn"))
    torch.manual_seed(cfg.seed)
    if kind == "rcnn":
        model = RCNN(
            len(CLASS_NAMES),
            proposals,
            crop_size=cfg.crop_size,
            context_padding=cfg.context_padding,
            channels=cfg.channels,
        )
    else:
        model = FastRCNN(
            len(CLASS_NAMES), proposals, roi_output_size=cfg.roi_output_size, channels=cfg.channels
        )
    model.batch_size_per_image = cfg.rois_per_image
    return model


def build_faster_rcnn_model(cfg: Lesson05) -> nn.Module:
    """Lesson 05's Faster R-CNN with its settings (seeded with ``cfg.seed``)."""
    from dlcv_utils.models.faster_rcnn import build_faster_rcnn

    torch.manual_seed(cfg.seed)
    return build_faster_rcnn(
        len(CLASS_NAMES),
        backbone=cfg.backbone,
        image_size=cfg.data.image_size,
        width=cfg.width,
        stride=cfg.stride,
        anchor_sizes=cfg.anchor_sizes,
        box_batch_size_per_image=cfg.box_batch_size_per_image,
    )


def build_config_model(
    cfg: Lesson06, config: str | None = None, overrides: dict[str, Any] | None = None
) -> nn.Module:
    """Lesson 06's config-built detector at the lesson's image size (seeded with ``cfg.seed``).

    Args:
        cfg: lesson 06's settings.
        config: a toolbox config name (default ``cfg.config``; the lesson also builds
            ``cfg.baseline_config``, the same detector without the FPN).
        overrides: dotted keys of the model config to replace, as mmengine's
            ``Config.merge_from_dict`` takes them (``{"backbone.widths": [32, 64, 128, 256]}``).
    """
    from dlcv_utils.toolbox import build_detector, get_config

    model_cfg = get_config(cfg.config if config is None else config)
    if overrides:
        from mmengine.config import Config

        merged = Config(dict(model=model_cfg))
        merged.merge_from_dict({f"model.{k}": v for k, v in overrides.items()})
        model_cfg = merged.to_dict()["model"]
    model_cfg["data_preprocessor"].update(
        min_size=cfg.data.image_size, max_size=cfg.data.image_size
    )
    torch.manual_seed(cfg.seed)
    return build_detector(model_cfg)


def build_single_shot_model(cfg: Lesson07) -> nn.Module:
    """Lesson 07's single-shot detector with its settings (seeded with ``cfg.seed``)."""
    from dlcv_utils.models.single_shot import SingleShotDetector

    torch.manual_seed(cfg.seed)
    kw = {"width": cfg.width, "stride": cfg.stride, "anchor_sizes": cfg.anchor_sizes}
    return SingleShotDetector(len(CLASS_NAMES), image_size=cfg.data.image_size, **kw)


def build_ssd_model(cfg: Lesson08) -> nn.Module:
    """Lesson 08's SSD (torchvision's ``SSD``, random init) with its settings (seeded)."""
    from dlcv_utils.models.ssd import build_ssd

    torch.manual_seed(cfg.seed)
    return build_ssd(
        len(CLASS_NAMES),
        image_size=cfg.data.image_size,
        width=cfg.width,
        levels=cfg.levels,
        s_min=cfg.s_min,
        s_max=cfg.s_max,
        aspect_ratios=[list(cfg.aspect_ratios)] * cfg.levels,
        first_stride=cfg.first_stride,
    )


# ----------------------------------------------------------------------------- lesson 10
def yolo_train_args(cfg: Lesson10) -> dict[str, Any]:
    """Lesson 10's settings as ``YOLO.train`` arguments (Ultralytics' names).

    ``train.optimizer``/``lr`` -> ``optimizer``/``lr0``; ``warmup_iters`` -> ``warmup_epochs``
    (Ultralytics warms up for at least 100 iterations anyway); ``data.image_size``/
    ``batch_size`` -> ``imgsz``/``batch``; ``mosaic``, ``seed`` and the device as they are.
    ``max_train_seconds`` is applied by :func:`yolo_budget_callback`, not here.

    Example:
        >>> from dlcv_utils.course.settings import lesson_settings
        >>> args = yolo_train_args(lesson_settings("10", "cpu"))
        >>> args["optimizer"], args["imgsz"], args["batch"], args["warmup_epochs"]
        ('AdamW', 128, 8, 2.0)
    """
    import math

    iters = math.ceil(cfg.data.n_train / cfg.data.batch_size)
    return {
        "epochs": cfg.train.epochs,
        "imgsz": cfg.data.image_size,
        "batch": cfg.data.batch_size,
        "optimizer": {"adamw": "AdamW", "sgd": "SGD"}[cfg.train.optimizer],
        "lr0": cfg.train.lr,
        "warmup_epochs": cfg.train.warmup_iters / iters,
        "mosaic": cfg.mosaic,
        "seed": cfg.seed,
        "device": 0 if cfg.device == "cuda" else "cpu",
    }


# ----------------------------------------------------------------------------- benchmarks
def _bench_lesson04(kind: str, device, progress: bool) -> dict[str, Any]:
    dev, cfg = lesson_setup("04", device)
    datasets = shapes_datasets(cfg.data)
    proposals = proposal_cache(cfg)
    seconds = sum(proposals.precompute(img for img, _ in ds) for ds in datasets)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed, datasets=datasets)
    model = build_rcnn_model(kind, cfg, proposals)
    training = cfg.rcnn if kind == "rcnn" else cfg.fast_rcnn
    result = train_and_evaluate(
        model, train, val, training, device=dev, seed=cfg.seed, progress=progress
    )
    name = "R-CNN" if kind == "rcnn" else "Fast R-CNN"
    return recipe_row(name, result, proposal_ms=1000.0 * seconds / sum(len(ds) for ds in datasets))


def _bench_lesson05(device, progress: bool) -> dict[str, Any]:
    dev, cfg = lesson_setup("05", device)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    model = build_faster_rcnn_model(cfg)
    result = train_and_evaluate(
        model, train, val, cfg.train, device=dev, seed=cfg.seed, progress=progress
    )
    return recipe_row(f"Faster R-CNN ({cfg.backbone} backbone, {cfg.data.image_size}px)", result)


def _bench_lesson06(device, progress: bool, baseline: bool = False) -> dict[str, Any]:
    dev, cfg = lesson_setup("06", device)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    name = cfg.baseline_config if baseline else cfg.config
    model = build_config_model(cfg, name)
    result = train_and_evaluate(
        model, train, val, cfg.train, device=dev, seed=cfg.seed, progress=progress
    )
    return recipe_row(f"Faster R-CNN from config ({name})", result)


def _bench_lesson07(device, progress: bool) -> dict[str, Any]:
    dev, cfg = lesson_setup("07", device)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    model = build_single_shot_model(cfg)
    result = train_and_evaluate(
        model, train, val, cfg.train, device=dev, seed=cfg.seed, progress=progress
    )
    return recipe_row(f"single-shot (tiny backbone, {cfg.data.image_size}px)", result)


def _bench_lesson08(device, progress: bool) -> dict[str, Any]:
    dev, cfg = lesson_setup("08", device)
    train, val = shapes_loaders(cfg.data, seed=cfg.seed)
    result = train_and_evaluate(
        build_ssd_model(cfg), train, val, cfg.train, device=dev, seed=cfg.seed, progress=progress
    )
    return recipe_row(
        f"SSD ({cfg.levels} levels, width {cfg.width}, stride {cfg.first_stride}+)", result
    )


#: benchmark name -> (lesson, function(device, progress) -> row)
BENCHMARKS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "rcnn": ("04", lambda device, progress: _bench_lesson04("rcnn", device, progress)),
    "fast_rcnn": ("04", lambda device, progress: _bench_lesson04("fast_rcnn", device, progress)),
    "faster_rcnn": ("05", _bench_lesson05),
    "config": ("06", _bench_lesson06),
    "config_no_fpn": ("06", lambda device, progress: _bench_lesson06(device, progress, True)),
    "yolo": ("10", lambda d, p: import_module(".recipes_ultralytics", __package__).bench(d, p)),
    "single_shot": ("07", _bench_lesson07),
    "ssd": ("08", _bench_lesson08),
    "yolo_v3": ("09", lambda d, p: import_module("dlcv_utils.course.recipes_yolo").bench(d, p)),
    "efficientdet": ("12", lambda *a: import_module(f"{__name__}_efficientdet").bench(*a)),
    "mask_rcnn": ("13", lambda d, p: import_module(".recipes_mask_rcnn", __package__).bench(d, p)),
    "retinanet": ("11", lambda d, p: import_module(".recipes_retinanet", __package__).bench(d, p)),
}


def run_benchmark(name: str, device: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Run the lesson recipe ``name`` with its lesson's settings for ``device``; one table row.

    Args:
        name: one of :data:`BENCHMARKS` (``"rcnn"``, ``"fast_rcnn"``, ``"faster_rcnn"``,
            ``"config"``, ``"config_no_fpn"``, ...).
        device: ``"cpu"``, ``"cuda"`` or ``None`` (as :func:`dlcv_utils.runtime.pick_device`).
        progress: show tqdm bars.

    Returns:
        ``model`` (a name), ``train_s``, ``map50``, ``map``, ``infer_ms`` (model forward per val
        image), ``iterations``, ``stop_reason``, ``params`` (parameter count), ``ap_small``,
        ``ap_medium``, ``ap_large`` (COCO's APs/APm/APl, -1 where there are no such objects);
        for lesson 04 also ``proposal_ms``.
    """
    check_choice(name, "name", tuple(BENCHMARKS))
    return BENCHMARKS[name][1](device, progress)
