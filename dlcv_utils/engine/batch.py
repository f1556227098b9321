"""Batches as the detection loaders yield them: ``(images, targets)`` (lesson 05).

``images`` is a list of ``[C, H, W]`` float tensors, ``targets`` a list of dicts with ``boxes``
``[N, 4]`` (xyxy pixels) and ``labels`` ``[N]`` (``1..K``).
"""

from __future__ import annotations

import torch

__all__ = ["split_batch", "to_device"]


def to_device(images, targets, device):
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


def split_batch(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            "the loader must yield (images, targets) pairs (use the dataset's collate_fn), "
            f"got {type(batch).__name__}"
        )
    return batch
