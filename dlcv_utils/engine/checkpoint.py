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
    strings, booleans, ``None``, lists, tuples, dicts with string keys, tensors. NumPy scalars
    (``np.float64(0.5)``) become Python numbers and NumPy arrays become tensors; anything else
    raises ``TypeError`` naming the key, before a file is written. The file is written to
    ``<path>.tmp`` and renamed, so a failed save leaves neither a partial checkpoint nor the
    temporary file.

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
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)):
        raise TypeError(f"epoch must be an int or None, got {epoch!r}")
    extra = _plain(dict(extra or {}), "extra")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "epoch": epoch,
        "extra": extra,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save(state, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _plain(value: Any, where: str) -> Any:
    """``value`` with NumPy scalars/arrays converted; refuse what weights_only cannot load."""
    import numpy as np

    if isinstance(value, np.generic):  # first: np.float64 is also a float
        return value.item()
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"{where} is an object array, which a checkpoint cannot hold")
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str | int):
                raise TypeError(f"{where} has a key {k!r}: keys must be strings or ints")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(
        f"{where} is a {type(value).__name__}, which torch.load(weights_only=True) refuses; "
        "use numbers, strings, lists, dicts or tensors"
    )


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
        ValueError: if the file is not such a checkpoint (truncated, corrupt, not written by
            torch, or holding objects that could run code), or ``optimizer`` is given but the
            file holds no optimizer state.
    """
    import pickle
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{str(path)!r} is not a readable checkpoint (truncated, corrupt or unsafe): "
            f"{type(err).__name__}: {first[:200]}"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{str(path)!r} is not a checkpoint written by save_checkpoint")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{str(path)!r} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return {"epoch": state.get("epoch"), "extra": state.get("extra") or {}}
