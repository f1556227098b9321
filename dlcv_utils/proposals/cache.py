"""Proposals computed once per image and remembered by image content (lesson 04).

R-CNN and Fast R-CNN see the same training images every epoch; selective search is the slow
part, so :class:`ProposalCache` runs it once per image and answers later calls from memory.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch

__all__ = ["ProposalCache"]


class ProposalCache:
    """Region proposals for an image tensor, computed once and remembered by image content.

    The detectors call it with each ``3 x H x W`` float image in ``[0, 1]``; the first call for
    an image runs ``proposal_fn`` (default: :func:`dlcv_utils.proposals.selective_search.selective_search`
    with ``selective_search_kwargs``), later calls are dictionary look-ups. The key is a hash
    of the image's uint8 pixels, so it works in train and eval mode without any bookkeeping.

    Args:
        proposal_fn: ``HxWx3 uint8 ndarray -> [N, 4] xyxy boxes``; ``None`` for selective search.
        max_proposals: keep at most this many (the first ones).
        **selective_search_kwargs: passed to ``selective_search`` when ``proposal_fn`` is None.

    Attributes:
        seconds: total time spent computing proposals.
        computed: number of images computed (not looked up).

    Example:
        >>> cache = ProposalCache(lambda im: np.array([[0, 0, 4, 4], [1, 1, 3, 3]]))
        >>> img = torch.zeros(3, 8, 8)
        >>> cache(img).tolist(), cache(img).shape, cache.computed
        ([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 3.0, 3.0]], torch.Size([2, 4]), 1)
    """

    def __init__(
        self,
        proposal_fn: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        max_proposals: int | None = None,
        **selective_search_kwargs,
    ) -> None:
        if proposal_fn is not None and not callable(proposal_fn):
            raise TypeError(
                f"proposal_fn must be callable or None, got {type(proposal_fn).__name__}"
            )
        if proposal_fn is not None and selective_search_kwargs:
            raise ValueError(
                f"selective search options {sorted(selective_search_kwargs)} given with a custom proposal_fn"
            )
        if max_proposals is not None and (
            isinstance(max_proposals, bool)
            or not isinstance(max_proposals, int)
            or max_proposals < 1
        ):
            raise ValueError(f"max_proposals must be None or a positive int, got {max_proposals!r}")
        self.proposal_fn = proposal_fn
        self.kwargs = dict(selective_search_kwargs)
        self.max_proposals = max_proposals
        self.seconds = 0.0
        self.computed = 0
        self._store: dict[bytes, torch.Tensor] = {}

    @staticmethod
    def to_uint8(image: torch.Tensor) -> np.ndarray:
        """``3 x H x W`` float image in ``[0, 1]`` → ``H x W x 3`` uint8 array."""
        if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"image must be a 3 x H x W tensor, got {shape}")
        arr = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        return np.ascontiguousarray(arr.permute(1, 2, 0).numpy())

    def _compute(self, arr: np.ndarray) -> np.ndarray:
        if self.proposal_fn is None:
            from dlcv_utils.proposals.selective_search import selective_search

            return selective_search(arr, **self.kwargs)
        return self.proposal_fn(arr)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        arr = self.to_uint8(image)
        key = self._key(arr)
        if key not in self._store:
            t0 = time.perf_counter()
            boxes = np.asarray(self._compute(arr), dtype=np.float32).reshape(-1, 4)
            self.seconds += time.perf_counter() - t0
            self.computed += 1
            if self.max_proposals is not None:
                boxes = boxes[: self.max_proposals]
            self._store[key] = torch.from_numpy(boxes.copy())
        return self._store[key].to(image.device)

    def remember(self, image: torch.Tensor, boxes: torch.Tensor) -> None:
        """Store ``boxes`` (``Tensor[N, 4]`` xyxy) as the proposals of ``image``.

        For an augmented copy of a cached image whose proposals were moved with it (a flip
        flips the proposals too), so that selective search need not run again.

        Example:
            >>> cache = ProposalCache(lambda im: np.zeros((0, 4)))
            >>> cache.remember(torch.ones(3, 4, 4), torch.tensor([[0.0, 0.0, 2.0, 2.0]]))
            >>> cache(torch.ones(3, 4, 4)).tolist(), cache.computed
            ([[0.0, 0.0, 2.0, 2.0]], 0)
        """
        boxes = torch.as_tensor(boxes).detach().as_subclass(torch.Tensor)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must be N x 4 xyxy, got {tuple(boxes.shape)}")
        if self.max_proposals is not None:
            boxes = boxes[: self.max_proposals]
        self._store[self._key(self.to_uint8(image))] = boxes.float().cpu().clone()

    @staticmethod
    def _key(arr: np.ndarray) -> bytes:
        return hashlib.sha1(arr.tobytes() + str(arr.shape).encode()).digest()

    def precompute(self, images: Iterable[torch.Tensor]) -> float:
        """Fill the cache for ``images``; returns the seconds this call spent computing."""
        before = self.seconds
        for image in images:
            self(image)
        return self.seconds - before

    def __len__(self) -> int:
        return len(self._store)
