"""The bottom layer: where files live, which device runs, seeds and CPU threads.

Every lesson starts with :func:`setup`, which seeds, sets the number of CPU threads and picks
the device. ``$DLCV_DEVICE`` (``cpu`` or ``cuda``) is read here and nowhere else, so a teacher
can run the CPU settings on a GPU machine or the other way round; ``$DLCV_CACHE`` moves the
cache folder. Importing this module changes nothing.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "CACHE_ENV",
    "DATA_DIR",
    "DEVICE_ENV",
    "REPO_ROOT",
    "cache_dir",
    "pick_device",
    "progress_disabled",
    "seed_everything",
    "set_threads",
    "setup",
    "silence_opencv_logging",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
CACHE_ENV = "DLCV_CACHE"
DEVICE_ENV = "DLCV_DEVICE"


def cache_dir() -> Path:
    """Return the cache folder for generated datasets and downloads (created if missing).

    ``$DLCV_CACHE`` wins; otherwise ``~/.cache/dlcv``.
    """
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dlcv")
    root.mkdir(parents=True, exist_ok=True)
    return root


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to run on: the argument, else ``$DLCV_DEVICE``, else CUDA if present.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device`` or ``None``.

    Raises:
        ValueError: if the requested device is unknown, or CUDA is requested but absent.

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    choice = device if device is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu' or 'cuda', got {choice!r}; unset ${DEVICE_ENV} to choose "
            "automatically"
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {choice!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {choice!r} was requested but CUDA is not available (torch sees no CUDA "
            "GPU); use device='cpu'"
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Raises:
        ValueError: if ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator learners call)
    torch.manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """Set torch's number of CPU threads (``None`` leaves torch's default).

    One thread makes a CPU training run, hence its mAP, repeatable from run to run.

    Raises:
        ValueError: if ``threads`` is not ``None`` or an int >= 1.
    """
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    torch.set_num_threads(threads)


def setup(
    seed: int = 0, device: str | torch.device | None = None, threads: int | None = None
) -> torch.device:
    """Seed everything, set the CPU threads and pick the device; call once at the top of a lesson.

    Args:
        seed: non-negative seed for ``random``, NumPy and torch.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (``$DLCV_DEVICE``, else CUDA when available).
        threads: torch CPU threads, or ``None`` for torch's default. Lessons pass their
            settings' ``threads`` (see :mod:`dlcv_utils.course.settings`).

    Returns:
        The chosen ``torch.device``.

    Example:
        >>> setup(seed=0, device="cpu")
        device(type='cpu')
    """
    seed_everything(seed)
    dev = pick_device(device)
    set_threads(threads)
    return dev


def silence_opencv_logging() -> None:
    """Silence OpenCV's C++ logger (e.g. the warning ``cv2.imread`` logs for a missing file).

    OpenCV 5.x exposes the logger as ``cv2.utils.logging``; OpenCV 4.x wheels (Colab ships
    4.12) have only ``cv2.setLogLevel``. This works with both and does nothing when neither
    exists. Used by lesson 02.

    Example:
        >>> silence_opencv_logging()
    """
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)  # 0 = LOG_LEVEL_SILENT in OpenCV 4.x


def progress_disabled(progress: bool = True) -> bool:
    """Whether a progress bar should be hidden: ``progress`` is false, or ``$TQDM_DISABLE`` is set.

    tqdm reads ``TQDM_DISABLE`` only for arguments the caller leaves out, and its notebook bar
    (``tqdm.auto`` inside Jupyter) always passes ``disable`` itself, so it ignores the variable
    and every training epoch would store a dead progress-bar widget in the notebook. Every
    progress bar of the package therefore passes ``disable=progress_disabled(progress)``.

    Example:
        >>> import os
        >>> os.environ["TQDM_DISABLE"] = "1"
        >>> progress_disabled(True)
        True
        >>> os.environ["TQDM_DISABLE"] = "0"
        >>> progress_disabled(True), progress_disabled(False)
        (False, True)
        >>> del os.environ["TQDM_DISABLE"]
    """
    if not progress:
        return True
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
