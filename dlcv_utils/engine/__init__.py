"""The training engine: a readable loop for torchvision-style detectors (lesson 05 onwards).

Modules:
    batch: moving ``(images, targets)`` batches to a device.
    history: :class:`History`, what a run records.
    schedule: optimizers and the warm-up + decay learning-rate schedule.
    budget: :class:`TimeBudget`, the training-time safety net.
    loop: :func:`train_one_epoch` (the loop a lesson shows) and the thin :func:`fit` around it.
    evaluation: :func:`evaluate_detector`, COCO mAP on a loader.
    checkpoint: :func:`save_checkpoint` / :func:`load_checkpoint`.
"""

from dlcv_utils.engine.budget import TimeBudget
from dlcv_utils.engine.checkpoint import load_checkpoint, save_checkpoint
from dlcv_utils.engine.evaluation import evaluate_detector
from dlcv_utils.engine.history import History
from dlcv_utils.engine.loop import fit, train_one_epoch
from dlcv_utils.engine.schedule import WarmupSchedule, lr_factor, make_optimizer

__all__ = [
    "History",
    "TimeBudget",
    "WarmupSchedule",
    "evaluate_detector",
    "fit",
    "load_checkpoint",
    "lr_factor",
    "make_optimizer",
    "save_checkpoint",
    "train_one_epoch",
]
