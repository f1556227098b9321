"""Checkpoints: model and optimizer state, the epoch and plain extra values (lesson 05).

Loading uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_checkpoint", "save_checkpoint"]


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
