"""Many COCO masks at once: batch decoding and checking of compressed RLEs, mask IoU per image.

Taught in lesson 13.

pycocotools' C code hangs (``rleIou`` loops forever) or crashes when the run lengths of an RLE do
not add up to ``height * width``, so every mask must be checked before it reaches it. A
results file holds many compressed RLEs (100 per image is common); checking them one string
at a time in Python is slow, so :func:`decode_rle_counts` decodes all strings at once with
vectorised numpy, in chunks, with the arithmetic of pycocotools' ``rleFrString``: 6-bit
characters from ``'0'``, 5 value bits and a continuation bit each, a sign bit in the last
character of a number, and run ``j > 2`` stored as the difference to run ``j - 2``.

:func:`mask_iou_by_image` then computes the IoU of every (detection, ground truth) pair of the
same image and category with one ``pycocotools.mask.iou`` call per image, leaving out masks that
share no image column with a mask of the other side (their IoU is exactly 0) and, optionally,
pairs whose areas alone bound the IoU below the threshold of interest. The C code skips
the pairs whose boxes (from the RLE, not from a ``bbox`` field) do not overlap, and divides the
integer intersection by the integer union (by the detection's area for a crowd region) in
double precision: the values are bit for bit those that ``COCOeval.computeIoU`` gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["MAX_RLE_NUMBER_CHARS", "DecodedRLEs", "decode_rle_counts", "mask_iou_by_image"]

#: Longest number (in characters) accepted by the fast decoder: 7 characters hold 35 bits,
#: far more than any ``height * width``; longer numbers are left to the slow, exact check.
MAX_RLE_NUMBER_CHARS = 7


class DecodedRLEs(NamedTuple):
    """What :func:`decode_rle_counts` returns (see there)."""

    ok: np.ndarray
    areas: np.ndarray
    span: np.ndarray
    runs: np.ndarray | None
    offsets: np.ndarray | None


def _bits5(chars: np.ndarray) -> np.ndarray:
    """The 5 value bits of characters (``uint8``), as ``int64``."""
    v = chars - np.uint8(48)
    np.bitwise_and(v, np.uint8(0x1F), out=v)
    return v.astype(np.int64)


_UNSIGNED = {np.int32: np.uint32, np.int64: np.uint64}


def _to_bytes(counts: Sequence) -> tuple[list[bytes], np.ndarray]:
    n = len(counts)
    ok = np.ones(n, dtype=bool)
    types = set(map(type, counts))
    if types == {str}:
        joined = "".join(counts)
        if joined.isascii():
            return [joined.encode("ascii")], ok
    elif types == {bytes}:
        return [b"".join(counts)], ok
    parts = []
    for i, c in enumerate(counts):
        if isinstance(c, str):
            if c.isascii():
                c = c.encode("ascii")
            else:
                ok[i], c = False, b""
        elif not isinstance(c, bytes):
            ok[i], c = False, b""
        parts.append(c)
    return parts, ok


def decode_rle_counts(
    counts: Sequence[str | bytes],
    totals: Sequence[int] | np.ndarray,
    return_runs: bool = False,
    chunk_chars: int = 1 << 18,
) -> DecodedRLEs:
    """Decode and check the run lengths of many compressed COCO RLE strings at once.

    Args:
        counts: ``N`` compressed ``counts`` strings (``str`` of ASCII characters, or ``bytes``).
        totals: ``[N]`` integers, the ``height * width`` that the runs of each string must add
            up to.
        return_runs: also return the run lengths themselves (memory: 8 bytes per run).
        chunk_chars: strings are decoded in groups of about this many characters (bounds the
            temporary memory).

    Returns:
        A :class:`DecodedRLEs` ``(ok, areas, span, runs, offsets)``: ``ok`` ``bool[N]``: string
        ``i`` is well formed (characters ``'0'`` to ``'o'``, no number cut off at the end, no
        number longer than :data:`MAX_RLE_NUMBER_CHARS` characters), has no negative run and
        its runs add up to ``totals[i]``; ``areas`` ``int64[N]`` the foreground pixels (the
        odd-numbered runs); ``span`` ``int64[N, 2]`` flat (column-major) pixel indices that
        bound the foreground: every foreground pixel ``p`` has ``span[i, 0] <= p <= span[i,
        1]`` (exact unless there are zero-length runs); with ``return_runs``, ``runs``
        ``int64[M]`` the run lengths of all strings one after the other (background first) and
        ``offsets`` ``int64[N + 1]`` with the runs of string ``i`` at
        ``runs[offsets[i]:offsets[i + 1]]``, else both ``None``. Everything but ``ok`` is
        meaningless for a string that is not ``ok``: check it with
        :func:`dlcv_utils.datasets.masks.check_segmentation` for the reason.

    Raises:
        ValueError: ``totals`` does not have ``N`` entries.

    Example:
        >>> import numpy as np
        >>> from pycocotools import mask as mask_utils
        >>> m = np.zeros((3, 5), np.uint8, order="F"); m[0:2, 0:4] = 1
        >>> rle = mask_utils.encode(m)
        >>> d = decode_rle_counts([rle["counts"], "0x", "021000002"], [15, 15, 15],
        ...                       return_runs=True)
        >>> d.ok.tolist(), int(d.areas[0]), d.span[0].tolist()
        ([True, False, False], 8, [0, 10])
        >>> d.runs[d.offsets[0] : d.offsets[1]].tolist()
        [0, 2, 1, 2, 1, 2, 1, 2, 4]
    """
    n = len(counts)
    totals = np.asarray(totals, dtype=np.int64).reshape(-1)
    if len(totals) != n:
        raise ValueError(f"totals must have one entry per string ({n}), got {len(totals)}")
    ok = np.zeros(n, dtype=bool)
    areas = np.zeros(n, dtype=np.int64)
    span = np.zeros((n, 2), dtype=np.int64)
    run_parts, n_runs = [], np.zeros(n, dtype=np.int64)
    parts, bytes_ok = _to_bytes(counts)  # one joined string when all are ASCII str
    if len(parts) == 1 and n != 1:
        lens = np.fromiter(map(len, counts), dtype=np.int64, count=n)
    else:
        lens = np.fromiter(map(len, parts), dtype=np.int64, count=n)
    joined = parts[0] if len(parts) == 1 else b"".join(parts)
    cum = np.cumsum(lens)
    i0 = 0
    while i0 < n:
        # at least one string per chunk
        c0 = int(cum[i0 - 1]) if i0 else 0
        i1 = min(max(i0 + 1, int(np.searchsorted(cum, c0 + chunk_chars))), n)
        buf = np.frombuffer(joined, dtype=np.uint8, count=int(cum[i1 - 1]) - c0, offset=c0)
        ok_c, area_c, span_c, runs_c, off_c = _decode_chunk(
            buf, lens[i0:i1], bytes_ok[i0:i1].copy(), totals[i0:i1], return_runs
        )
        ok[i0:i1], areas[i0:i1], span[i0:i1] = ok_c, area_c, span_c
        if return_runs:
            run_parts.append(runs_c)
            n_runs[i0:i1] = np.diff(off_c)
        i0 = i1
    if not return_runs:
        return DecodedRLEs(ok, areas, span, None, None)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_runs, out=offsets[1:])
    runs = np.concatenate(run_parts) if run_parts else np.zeros(0, dtype=np.int64)
    return DecodedRLEs(ok, areas, span, runs, offsets)


def _decode_chunk(buf, lens, ok, totals, return_runs: bool):
    """Decode the strings ``buf`` (their lengths ``lens``) of one chunk; ``ok`` is updated."""
    n = len(lens)
    cend = np.cumsum(lens)
    if len(buf) == 0:
        e = np.zeros(n, dtype=np.int64)
        span = np.stack([e, e - 1], axis=1)
        return ok & (totals == 0), e, span, np.zeros(0, dtype=np.int64), np.zeros(n + 1, np.int64)
    limit = int(totals.max())
    # int32 arithmetic (half the memory traffic of int64) whenever a valid string fits in it:
    # no number of a valid string exceeds ``limit`` in size (see below), so the first run that
    # leaves [0, limit] is computed exactly even when later ones wrap around
    dtype = np.int32 if limit < 1 << 30 else np.int64
    end = buf < 80  # no continuation bit (0x20 above '0'): the last character of a number
    nonempty = lens > 0
    last = cend[nonempty] - 1
    # a string must end with the last character of a number; cut the numbers there anyway so
    # that a bad string never runs into the next one
    ok[nonempty] &= end[last]
    end[last] = True
    if buf.min() < 48 or buf.max() > 111:  # a character outside '0'..'o'
        bad = np.flatnonzero((buf < 48) | (buf > 111))
        ok[np.searchsorted(cend, bad, side="right")] = False
    cont = np.flatnonzero(~end)  # continuation characters (about one in ten)
    n_num = np.zeros(n + 1, dtype=np.int64)  # string i holds numbers n_num[i]:n_num[i + 1]
    n_num[1:] = cend - np.searchsorted(cont, cend)  # its characters minus its continuations
    # value of a number: 5 bits per character, lowest first; the last character's 5 bits are
    # a two's-complement (sign) field, as ``x |= -1 << 5 * k`` in ``rleFrString``
    v = buf[end] - np.uint8(48)  # (a boolean mask, then cheap byte arithmetic: no gathers)
    np.bitwise_and(v, np.uint8(0x1F), out=v)
    np.bitwise_xor(v, np.uint8(0x10), out=v)
    v8 = v.view(np.int8)
    np.subtract(v8, np.int8(0x10), out=v8)
    x = v8.astype(dtype)
    if len(cont):
        # a number of several characters is a run of consecutive continuation characters and
        # the character after it: its index is that position minus the continuations before
        brk = np.flatnonzero(cont[1:] - cont[:-1] != 1) + 1
        rs = np.zeros(len(brk) + 1, dtype=np.int64)  # its first continuation, in ``cont``
        rs[1:] = brk
        re = np.empty_like(rs)
        re[:-1], re[-1] = brk, len(cont)
        n_cont = re - rs  # the number has n_cont + 1 characters
        num = cont[re - 1] + 1 - re
        too_long = n_cont >= MAX_RLE_NUMBER_CHARS
        if too_long.any():
            ok[np.searchsorted(n_num, num[too_long], side="right") - 1] = False
            n_cont = np.minimum(n_cont, MAX_RLE_NUMBER_CHARS - 1)
        first = cont[rs]
        x_m = _bits5(buf[first]) + (x[num].astype(np.int64) << (5 * n_cont))
        wide = np.flatnonzero(n_cont > 1)  # numbers of 3 characters or more (rare)
        first_w, n_cont_w = first[wide], n_cont[wide]
        for k in range(1, MAX_RLE_NUMBER_CHARS - 1):  # character k of numbers wider than k + 1
            sel = n_cont_w > k
            if not sel.any():
                break
            x_m[wide[sel]] += _bits5(buf[first_w[sel] + k]) << (5 * k)
        # no number of a valid string is larger than ``limit`` in size: run 0, 1 and 2 are
        # runs, and run j > 2 minus run j - 2 lies in [-limit, limit]
        huge = np.abs(x_m) > limit
        if huge.any():
            ok[np.searchsorted(n_num, num[huge], side="right") - 1] = False
            x_m[huge] = 0
        x[num] = x_m
    # run j > 2 is stored as run j minus run j - 2: a running sum along the chains j = 1, 3,
    # 5, ... and j = 2, 4, 6, ... of each string. In each half x[q::2] of the flat array
    # such chains follow each other; they restart at the numbers j = 0, 1, 2 of a string.
    s0, s1 = n_num[:-1], n_num[1:]
    count = s1 - s0
    has = count > 0
    lead = np.where(has, x[np.minimum(s0, len(x) - 1)], 0)  # run 0 is stored as is
    j3 = np.arange(3)
    heads = (s0[:, None] + j3)[count[:, None] > j3]  # runs 0, 1, 2, in order
    head_odd = (heads & 1).astype(bool)
    # Within a half, chain k restarts at head r_k: subtracting the previous chain's sum (its
    # last run) at r_k makes one cumulative sum over the whole half give every run.
    # A string's sum is exact in the working type when no sum of its runs can overflow it.
    sum_type = np.int64 if int(count.max()) * limit >= 1 << 31 else dtype
    runs, sums, bad_runs = [], [], False
    for q in (0, 1):
        half = x[q::2]
        r = half
        if len(half):
            rpos = heads[head_odd if q else ~head_odd] >> 1  # rpos[0] == 0: starts with a head
            chain_sum = np.add.reduceat(half, rpos, dtype=dtype)
            half[rpos[1:]] -= chain_sum[:-1]
            r = np.cumsum(half, dtype=dtype)  # the runs of this half
            # a run < 0 is a huge unsigned number: one pass checks both ends
            bad_runs = bad_runs or int(r.view(_UNSIGNED[dtype]).max()) > limit
            if return_runs:
                half[:] = r
        runs.append(r)
        # per string: the sum of its runs in this half
        lo, hi = (s0 - q + 1) // 2, (s1 - q + 1) // 2
        some = hi > lo
        total_q = np.zeros(n, dtype=np.int64)
        if some.any():
            total_q[some] = np.add.reduceat(r, lo[some], dtype=sum_type)
        sums.append(total_q)
    total = sums[0] + sums[1]
    areas = np.where(s0 % 2 == 0, sums[1], sums[0])  # local j odd: global parity of s0 + 1
    # bounds of the foreground pixels: after the first (background) run, before the last run
    # if that one is background (zero-length foreground runs only widen the bounds)
    g = np.maximum(s1 - 1, 0)
    last_run = np.zeros(n, dtype=np.int64)
    for q in (0, 1):
        sel = has & (g % 2 == q)
        last_run[sel] = runs[q][g[sel] // 2]
    trail = np.where(has & (count % 2 == 1), last_run, 0)
    span = np.stack([lead.astype(np.int64), total - trail - 1], axis=1)
    if bad_runs:  # some run < 0 or > height * width: find the strings (rare)
        for q in (0, 1):
            where = np.flatnonzero((runs[q] < 0) | (runs[q] > limit)) * 2 + q
            ok[np.searchsorted(n_num, where, side="right") - 1] = False
    ok &= total == totals
    return ok, areas, span, x.astype(np.int64) if return_runs else None, n_num


def _dense_keys(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Keys as small non-negative integers in the same order, and how many values they span."""
    if keys.dtype.kind in "iu" and len(keys):
        lo, hi = int(keys.min()), int(keys.max())
        if hi - lo <= 2 * len(keys) + 1024:  # already dense enough: no sort
            return (keys - keys.min()).astype(np.int64), hi - lo + 1  # exact in keys' dtype
    uniq, inverse = np.unique(keys, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def mask_iou_by_image(
    det_rles: Sequence[dict],
    det_image: np.ndarray,
    det_cat: np.ndarray,
    gt_rles: Sequence[dict],
    gt_image: np.ndarray,
    gt_cat: np.ndarray,
    gt_crowd: np.ndarray,
    min_iou: float = 0.0,
    det_cols: np.ndarray | None = None,
    gt_cols: np.ndarray | None = None,
    det_area: np.ndarray | None = None,
    gt_area: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of the (detection, ground truth) mask pairs of the same image and category.

    One ``pycocotools.mask.iou`` call per image (its C code skips pairs whose RLE boxes do not
    overlap), so the values are exactly pycocotools' ones. The RLEs must already be checked.

    Args:
        det_rles: ``N`` detection RLE dicts (``size``, compressed ``counts``).
        det_image: ``[N]`` image key of each detection (any integers).
        det_cat: ``[N]`` category key of each detection.
        gt_rles: ``G`` ground-truth RLE dicts.
        gt_image: ``[G]`` image keys.
        gt_cat: ``[G]`` category keys.
        gt_crowd: ``[G]`` bool, crowd regions (IoU = intersection / detection area).
        min_iou: keep only pairs with ``IoU >= min_iou`` (0 keeps every same-category pair).
        det_cols: optional ``[N, 2]`` first and last image column that can hold a foreground
            pixel of each detection (empty masks: first > last). With ``gt_cols`` and
            ``min_iou > 0``, masks that share no column with a mask of the other side (same
            image and category) are not sent to pycocotools: their IoU is exactly 0.
        gt_cols: optional ``[G, 2]``, the same for the ground truths.
        det_area: optional ``[N]`` mask areas (pixels). With ``gt_area`` and ``min_iou > 0``,
            pairs whose areas alone bound the IoU below ``min_iou`` are left out too:
            ``IoU <= min(a_d, a_g) / max(a_d, a_g)``, and ``<= a_g / a_d`` for a crowd region.
        gt_area: optional ``[G]`` mask areas of the ground truths.

    Returns:
        ``(d, g, iou)``: detection indices ``int64[P]``, ground-truth indices ``int64[P]`` and
        their IoU ``float64[P]``, sorted by image, then detection, then ground truth.

    Raises:
        ValueError: the per-detection or per-ground-truth arrays do not match the RLE lists.

    Example:
        >>> import numpy as np
        >>> from pycocotools import mask as mask_utils
        >>> a = np.zeros((4, 4), np.uint8, order="F"); a[:2] = 1
        >>> b = np.zeros((4, 4), np.uint8, order="F"); b[:, :2] = 1
        >>> rles = [mask_utils.encode(a), mask_utils.encode(b)]
        >>> d, g, iou = mask_iou_by_image(rles, np.array([1, 1]), np.array([1, 2]),
        ...                               rles, np.array([1, 1]), np.array([1, 2]),
        ...                               np.array([False, False]))
        >>> d.tolist(), g.tolist(), iou.tolist()
        ([0, 1], [0, 1], [1.0, 1.0])
    """
    from pycocotools import mask as mask_utils

    det_image, det_cat = np.asarray(det_image).reshape(-1), np.asarray(det_cat).reshape(-1)
    gt_image, gt_cat = np.asarray(gt_image).reshape(-1), np.asarray(gt_cat).reshape(-1)
    crowd_int = np.asarray(gt_crowd, dtype=bool).astype(np.uint8).reshape(-1)
    n_d, n_g = len(det_image), len(gt_image)
    for name, arr, n in (
        ("det_image", det_image, len(det_rles)),
        ("det_cat", det_cat, len(det_rles)),
        ("gt_image", gt_image, len(gt_rles)),
        ("gt_cat", gt_cat, len(gt_rles)),
        ("gt_crowd", crowd_int, len(gt_rles)),
    ):
        if len(arr) != n:
            raise ValueError(f"{name} must have one entry per RLE ({n}), got {len(arr)}")
    for name, cols, shape in (
        ("det_cols", det_cols, (n_d, 2)),
        ("gt_cols", gt_cols, (n_g, 2)),
        ("det_area", det_area, (n_d,)),
        ("gt_area", gt_area, (n_g,)),
    ):
        if cols is not None and np.shape(cols) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(cols)}")
    empty = np.zeros(0, dtype=np.int64)
    if n_d == 0 or n_g == 0:
        return empty, empty.copy(), np.zeros(0)
    # every (detection, ground truth) pair of the same (image, category)
    img, _ = _dense_keys(np.concatenate([det_image, gt_image]))
    cat, n_cat_keys = _dense_keys(np.concatenate([det_cat, gt_cat]))
    key = img * n_cat_keys + cat
    d_key, g_key = key[:n_d], key[n_d:]
    g_order = np.argsort(g_key, kind="stable")
    g_sorted = g_key[g_order]
    lo = np.searchsorted(g_sorted, d_key, side="left")
    cnt = np.searchsorted(g_sorted, d_key, side="right") - lo
    pd = np.repeat(np.arange(n_d), cnt)
    pg = g_order[np.repeat(lo, cnt) + np.arange(len(pd)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
    if det_cols is not None and gt_cols is not None and min_iou > 0:
        dc, gc = np.asarray(det_cols)[pd], np.asarray(gt_cols)[pg]
        overlap = (dc[:, 0] <= gc[:, 1]) & (gc[:, 0] <= dc[:, 1])
        pd, pg = pd[overlap], pg[overlap]
    if det_area is not None and gt_area is not None and min_iou > 0:
        a_d = np.asarray(det_area, dtype=np.float64)[pd]
        a_g = np.asarray(gt_area, dtype=np.float64)[pg]
        hi = np.where(crowd_int[pg] == 1, a_d, np.maximum(a_d, a_g))
        lo = np.minimum(a_d, a_g)
        bound = np.zeros(len(pd))
        np.divide(lo, hi, out=bound, where=hi > 0)
        # (the C code's i / u cannot exceed lo / hi, and both round the same way)
        pd, pg = pd[bound >= min_iou], pg[bound >= min_iou]
    if len(pd) == 0:
        return empty, empty.copy(), np.zeros(0)
    # one pycocotools call per image, on the detections and ground truths of its pairs
    pimg = img.reshape(-1)[pd]
    order = np.lexsort((pg, pd, pimg))
    pd, pg, pimg = pd[order], pg[order], pimg[order]
    img_start = np.flatnonzero(np.r_[True, pimg[1:] != pimg[:-1]])
    img_end = np.r_[img_start[1:], len(pd)]
    first_of_img = np.repeat(img_start, img_end - img_start)

    def local_rank(new: np.ndarray) -> np.ndarray:  # rank among the distinct ones of the image
        c = np.cumsum(new) - 1
        return c - c[first_of_img]

    new_d = np.r_[True, (pd[1:] != pd[:-1]) | (pimg[1:] != pimg[:-1])]
    d_rank = local_rank(new_d)
    o2 = np.lexsort((pg, pimg))  # the same images, ground truths in order
    new_g = np.r_[True, (pg[o2][1:] != pg[o2][:-1]) | (pimg[o2][1:] != pimg[o2][:-1])]
    g_rank = np.empty(len(pg), dtype=np.int64)
    c = np.cumsum(new_g) - 1
    g_rank[o2] = c - c[first_of_img]  # o2 keeps every image's pairs in the same slots
    uniq_d, uniq_g = pd[new_d].tolist(), pg[o2][new_g].tolist()
    n_d_img = np.add.reduceat(new_d, img_start)
    n_g_img = np.add.reduceat(new_g, img_start)
    d_sel = [det_rles[i] for i in uniq_d]  # the masks of image 0, then image 1, ...
    g_sel = [gt_rles[i] for i in uniq_g]
    crowd_list = crowd_int.tolist()
    c_sel = [crowd_list[i] for i in uniq_g]
    d_end, g_end = np.cumsum(n_d_img).tolist(), np.cumsum(n_g_img).tolist()
    blocks, di0, gi0 = [], 0, 0
    for di1, gi1 in zip(d_end, g_end):
        blocks.append(mask_utils.iou(d_sel[di0:di1], g_sel[gi0:gi1], c_sel[gi0:gi1]))
        di0, gi0 = di1, gi1
    # every image's [nd, ng] block, flattened (row-major) one after the other
    flat = np.concatenate(blocks, axis=None).astype(np.float64, copy=False)
    block_size = n_d_img * n_g_img
    block_start = np.cumsum(block_size) - block_size
    n_pairs = img_end - img_start
    iou = flat[np.repeat(block_start, n_pairs) + d_rank * np.repeat(n_g_img, n_pairs) + g_rank]
    keep = iou >= min_iou
    return pd[keep], pg[keep], iou[keep]
