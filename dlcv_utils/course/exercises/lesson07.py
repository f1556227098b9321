"""Lesson 07's exercises: ``blobFromImage`` by hand, and decoding raw single-shot head outputs.

Taught in lesson 07 (OpenCV DNN). The references are ``cv2.dnn.blobFromImage`` itself and the
model solution :func:`solution_decode_raw` (the decoding step of
:func:`dlcv_utils.models.single_shot.decode_detections`, before NMS).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcv_utils.course.exercises._common import (
    as_array,
    check_callable,
    check_n_random,
    close,
    run_cases,
)

__all__ = [
    "SOLUTIONS",
    "check_blob",
    "check_decode_raw",
    "solution_blob",
    "solution_decode_raw",
]


# ------------------------------------------------------------------------------ solutions
def solution_blob(image, size, scalefactor=1.0, mean=(0.0, 0.0, 0.0), swap_rb=False, crop=False):
    """Model solution: ``cv2.dnn.blobFromImage`` written out, ``float32 [1, 3, H, W]``.

    1. resize: ``crop=False`` stretches the image to ``size = (W, H)``; ``crop=True`` scales it
       by ``max(W / w, H / h)`` (keeping its aspect ratio) and cuts the centre ``W x H`` out;
    2. ``swap_rb`` reverses the channel order (BGR -> RGB); ``mean`` is in the *output*
       order, subtracted per channel, then everything is multiplied by ``scalefactor``;
    3. ``H x W x C`` -> ``1 x C x H x W``.

    Example:
        >>> img = np.zeros((2, 4, 3), np.uint8); img[..., 0] = 10  # blue channel
        >>> solution_blob(img, (4, 2), 0.5, (1, 2, 3), swap_rb=True)[0, :, 0, 0].tolist()
        [-0.5, -1.0, 3.5]
    """
    import cv2

    img = np.asarray(image)
    w, h = int(size[0]), int(size[1])
    if crop:
        factor = max(w / img.shape[1], h / img.shape[0])
        img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        x0 = int(0.5 * (img.shape[1] - w))
        y0 = int(0.5 * (img.shape[0] - h))
        img = img[y0 : y0 + h, x0 : x0 + w]
    else:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    img = img.astype(np.float32)
    if swap_rb:
        img = img[..., ::-1]
    img = (img - np.asarray(mean, np.float32)[:3]) * np.float32(scalefactor)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def solution_decode_raw(class_logits, box_deltas, anchors, image_size, score_thresh=0.05):
    """Model solution: raw head outputs of one image -> all boxes above the threshold, no NMS.

    ``class_logits [L, K]``, ``box_deltas [L, 4]``, ``anchors [L, 4]``; every (anchor, class)
    pair whose sigmoid score is ``>= score_thresh`` gives one box: the anchor moved by its
    deltas (``x = xa + dx * wa``, ``w = wa * exp(dw)``, the same for y and h), clipped to
    ``image_size = (H, W)``; labels are ``class + 1``. Sorted by decreasing score.

    Returns:
        ``(boxes [D, 4], scores [D], labels [D])`` tensors.

    Example:
        >>> import torch
        >>> b, s, l = solution_decode_raw(torch.tensor([[3.0, -3.0]]), torch.zeros(1, 4),
        ...                               torch.tensor([[0.0, 0.0, 8.0, 8.0]]), (16, 16))
        >>> b.tolist(), l.tolist()
        ([[0.0, 0.0, 8.0, 8.0]], [1])
    """
    import torch

    logits = torch.as_tensor(class_logits, dtype=torch.float32)
    deltas = torch.as_tensor(box_deltas, dtype=torch.float32)
    anchors = torch.as_tensor(anchors, dtype=torch.float32)
    scores = torch.sigmoid(logits)  # [L, K]
    anchor_idx, cls = torch.where(scores >= score_thresh)
    s = scores[anchor_idx, cls]
    a, d = anchors[anchor_idx], deltas[anchor_idx]
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    xa, ya = a[:, 0] + 0.5 * wa, a[:, 1] + 0.5 * ha
    x, y = xa + d[:, 0] * wa, ya + d[:, 1] * ha
    w, h = wa * torch.exp(d[:, 2]), ha * torch.exp(d[:, 3])
    boxes = torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)
    height, width = image_size
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    order = s.argsort(descending=True)
    return boxes[order], s[order], cls[order] + 1


SOLUTIONS: dict[str, Callable] = {"blob": solution_blob, "decode_raw": solution_decode_raw}


# ------------------------------------------------------------------------------ blob
def _blob_cases(n_random: int, seed: int):
    import cv2

    rng = np.random.default_rng(seed)

    def img(h, w):
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    hand = [
        ("same size, no options", img(8, 8), (8, 8), 1.0, (0, 0, 0), False, False, ""),
        (
            "scale factor",
            img(8, 8), (8, 8), 1 / 255, (0, 0, 0), False, False,
            "multiply every value by scalefactor (after subtracting the mean).",
        ),
        (
            "mean per channel",
            img(8, 8), (8, 8), 0.5, (10, 20, 30), False, False,
            "subtract mean[c] from channel c, before the scale factor.",
        ),
        (
            "swapRB with a mean",
            img(8, 8), (8, 8), 0.5, (10, 20, 30), True, False,
            "swap B and R first; the mean is given in the order AFTER the swap.",
        ),
        (
            "stretch to another size",
            img(12, 20), (10, 10), 1.0, (0, 0, 0), False, False,
            "crop=False: cv2.resize(image, (W, H)) with INTER_LINEAR, aspect ratio not kept.",
        ),
        (
            "crop a wide image",
            img(12, 24), (10, 10), 1.0, (0, 0, 0), False, True,
            "crop=True: scale by max(W / w, H / h), then cut the centre W x H out.",
        ),
    ]  # fmt: skip
    cases = []
    for name, image, size, sf, mean, swap, crop, hint in hand:
        expected = cv2.dnn.blobFromImage(image, sf, size, mean, swap, crop)
        cases.append((name, (image, size, sf, mean, swap, crop), expected, hint))
    for i in range(n_random):
        h, w = int(rng.integers(4, 30)), int(rng.integers(4, 30))
        size = (int(rng.integers(4, 20)), int(rng.integers(4, 20)))
        sf = float(rng.choice([1.0, 1 / 255, 1 / 64, 0.5]))
        mean = tuple(float(v) for v in rng.integers(0, 128, 3))
        swap, crop = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
        image = img(h, w)
        expected = cv2.dnn.blobFromImage(image, sf, size, mean, swap, crop)
        cases.append((f"random image #{i}", (image, size, sf, mean, swap, crop), expected, ""))
    return cases


def _compare_blob(got, expected) -> str | None:
    problem = close(got, expected, atol=1e-3)
    if problem is None:
        return None
    arr = as_array(got)
    if arr is not None and arr.shape == expected.shape[2:] + expected.shape[1:2]:
        return problem + " -- channels last: transpose to [1, C, H, W]"
    if (
        arr is not None
        and arr.shape == expected.shape
        and np.allclose(arr[:, ::-1], expected, atol=1e-3)
    ):
        return problem + " -- the channels are in the reverse order (swapRB)"
    return problem


def check_blob(fn: Callable, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(image, size, scalefactor, mean, swap_rb, crop)`` against ``blobFromImage``.

    Args:
        fn: the learner's function; ``image`` is ``H x W x 3`` uint8 (BGR), ``size`` is
            ``(W, H)``; it returns ``float32 [1, 3, H, W]``.
        n_random: how many seeded random images/settings to add to the hand-made ones.
        seed: seed of the random cases.

    Returns:
        ``True`` when every case agrees with ``cv2.dnn.blobFromImage`` within ``1e-3``.

    Example:
        >>> check_blob(solution_blob, n_random=3)
        ✓ solution_blob passes all 9 cases (edge cases + 3 random images).
        True
    """
    check_callable(fn, "fn(image, size, scalefactor, mean, swap_rb, crop) -> blob")
    check_n_random(n_random)
    return run_cases(
        fn,
        _blob_cases(n_random, seed),
        lambda f, inputs: f(inputs[0].copy(), *inputs[1:]),
        _compare_blob,
        "edge cases + {n_random} random images",
        n_random,
    )


# ------------------------------------------------------------------------------ decode
def _decode_cases(n_random: int, seed: int):
    import torch

    t = torch.tensor
    hand = [
        (
            "one anchor, zero deltas",
            t([[4.0, -4.0]]), torch.zeros(1, 4), t([[0.0, 0.0, 8.0, 8.0]]), (16, 16), 0.5,
            "score = sigmoid(logit); zero deltas give the anchor back; label = class + 1.",
        ),
        (
            "a shift and a stretch",
            t([[-4.0, 2.0]]), t([[0.5, -0.25, 0.0, 0.6931]]), t([[4.0, 4.0, 12.0, 12.0]]),
            (32, 32), 0.5,
            "centre += (dx * w, dy * h); size *= (exp(dw), exp(dh)).",
        ),
        (
            "threshold drops pairs",
            t([[0.0, -1.0], [1.0, 3.0]]), torch.zeros(2, 4),
            t([[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]]), (16, 16), 0.6,
            "keep every (anchor, class) pair with sigmoid >= score_thresh; one anchor can "
            "give several boxes.",
        ),
        (
            "clipped to the image",
            t([[5.0]]), t([[0.0, 0.0, 1.0, 1.0]]), t([[-4.0, -4.0, 4.0, 4.0]]), (10, 12), 0.5,
            "clip x to [0, W] and y to [0, H]; image_size is (H, W).",
        ),
        (
            "nothing above the threshold",
            t([[-5.0, -5.0]]), torch.zeros(1, 4), t([[0.0, 0.0, 8.0, 8.0]]), (16, 16), 0.5,
            "return empty tensors (0 boxes) when no score reaches the threshold.",
        ),
    ]  # fmt: skip
    cases = []
    for name, logits, deltas, anchors, size, thr, hint in hand:
        expected = solution_decode_raw(logits, deltas, anchors, size, thr)
        cases.append((name, (logits, deltas, anchors, size, thr), expected, hint))
    gen = torch.Generator().manual_seed(seed)
    for i in range(n_random):
        n, k = (
            int(torch.randint(1, 30, (1,), generator=gen)),
            int(torch.randint(1, 5, (1,), generator=gen)),
        )
        xy = torch.rand(n, 2, generator=gen) * 60
        wh = torch.rand(n, 2, generator=gen) * 30 + 4
        anchors = torch.cat([xy, xy + wh], dim=1)
        logits = torch.randn(n, k, generator=gen) * 2
        deltas = torch.randn(n, 4, generator=gen) * 0.3
        thr = float(torch.rand((), generator=gen) * 0.6 + 0.2)
        expected = solution_decode_raw(logits, deltas, anchors, (64, 80), thr)
        cases.append((f"random head #{i}", (logits, deltas, anchors, (64, 80), thr), expected, ""))
    return cases


def _compare_decode(got, expected) -> str | None:
    if not isinstance(got, tuple | list) or len(got) != 3:
        return f"{type(got).__name__} -- return a tuple (boxes, scores, labels)"
    boxes, scores, labels = (as_array(v) for v in got)
    e_boxes, e_scores, e_labels = (v.numpy().astype(np.float64) for v in expected)
    if scores is None or boxes is None or labels is None:
        return "not number arrays -- return tensors or arrays"
    if scores.shape != e_scores.shape:
        return f"{len(scores)} boxes -- expected {len(e_scores)}"
    order = np.argsort(-scores, kind="stable")
    for what, g, e in (
        ("scores", scores[order], e_scores),
        ("labels", labels[order], e_labels),
        ("boxes", boxes.reshape(-1, 4)[order], e_boxes.reshape(-1, 4)),
    ):
        problem = close(g, e, atol=1e-3)
        if problem is not None:
            return f"{what}: {problem}"
    return None


def check_decode_raw(fn: Callable, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(class_logits, box_deltas, anchors, image_size, score_thresh)`` (no NMS).

    Args:
        fn: the learner's function, returning ``(boxes [D, 4], scores [D], labels [D])``
            (any order; the check sorts by score).
        n_random: how many seeded random heads to add to the hand-made ones.
        seed: seed of the random cases.

    Returns:
        ``True`` when every case agrees with :func:`solution_decode_raw` within ``1e-3``.

    Example:
        >>> check_decode_raw(solution_decode_raw, n_random=3)
        ✓ solution_decode_raw passes all 8 cases (edge cases + 3 random heads).
        True
    """
    check_callable(fn, "fn(class_logits, box_deltas, anchors, image_size, score_thresh)")
    check_n_random(n_random)
    return run_cases(
        fn,
        _decode_cases(n_random, seed),
        lambda f, inputs: f(*(v.clone() if hasattr(v, "clone") else v for v in inputs)),
        _compare_decode,
        "edge cases + {n_random} random heads",
        n_random,
    )
