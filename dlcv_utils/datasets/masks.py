"""COCO masks: polygons and RLEs, checked *before* they reach pycocotools.

pycocotools is C code: a polygon with a NaN, infinite or huge (``1e12``) coordinate, or an RLE
whose run lengths do not add up to ``height * width``, crashes the interpreter (segmentation
fault), exhausts memory or hangs inside it. :func:`check_segmentation` refuses such input with
a ``ValueError`` first; every helper here calls it.

Taught in lesson 02.
"""

from __future__ import annotations

import math
import numbers
import warnings

__all__ = [
    "check_segmentation",
    "mask_to_rle",
    "rle_counts",
    "segmentation_area",
    "segmentation_bbox",
    "segmentation_to_mask",
]


def rle_counts(counts: str | bytes) -> list[int]:
    """Decode the run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``).

    Raises:
        ValueError: a character outside the alphabet, or a string that ends mid-number.

    Example:
        >>> import numpy as np
        >>> from pycocotools import mask as mask_utils
        >>> m = np.zeros((3, 5), np.uint8, order="F"); m[0:2, 0:4] = 1  # column-major runs
        >>> rle = mask_utils.encode(m); rle["counts"]
        b'021000003'
        >>> rle_counts(rle["counts"])
        [0, 2, 1, 2, 1, 2, 1, 2, 4]
    """
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("RLE counts string must be ASCII") from None
    out: list[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError("RLE counts string ends in the middle of a number")
            c = counts[p] - 48
            if not 0 <= c < 64:
                raise ValueError(f"RLE counts string has an invalid character {chr(counts[p])!r}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
            if k > 13:
                raise ValueError("RLE counts string holds a number too large for a mask")
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def _int_list(values, where: str) -> list[int]:
    if not isinstance(values, list | tuple):
        raise ValueError(f"{where}: must be a list of integers, got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError(f"{where}: must hold integers, got {v!r}")
        out.append(int(v))
    return out


def check_segmentation(segmentation, height: int, width: int, where: str = "segmentation"):
    """Refuse a polygon list or RLE that pycocotools cannot handle safely.

    Polygons: a non-empty list of lists of at least 6 (an even number of) finite numbers, each
    coordinate within one image size of the image (``-width <= x <= 2 * width``, same for
    ``y``). RLE: a dict with ``size == [height, width]`` and ``counts`` either a list of
    non-negative integers or a compressed string, whose run lengths add up to exactly
    ``height * width``.

    Args:
        segmentation: polygon list or RLE dict.
        height: image height (positive int).
        width: image width (positive int).
        where: prefix of the error messages (file, annotation).

    Raises:
        ValueError: with ``where`` and what is wrong.
        TypeError: neither a list nor a dict.

    Example:
        >>> check_segmentation([[0, 0, 4, 0, 4, 2]], 3, 5)
        >>> check_segmentation({"size": [3, 5], "counts": [10, 6]}, 3, 5)
        Traceback (most recent call last):
        ...
        ValueError: segmentation: RLE run lengths add up to 16, expected height * width = 15
        >>> check_segmentation([[0, 0, float("nan"), 0, 4, 2]], 3, 5)
        Traceback (most recent call last):
        ...
        ValueError: segmentation: polygon 0 has a non-finite coordinate nan
    """
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{where}: image {name} must be a positive integer, got {v!r}")
    if isinstance(segmentation, list):
        if not segmentation:
            raise ValueError(f"{where}: must not be an empty polygon list")
        for i, poly in enumerate(segmentation):
            if not isinstance(poly, list | tuple):
                raise ValueError(f"{where}: polygon {i} must be a list of numbers, got {poly!r}")
            if len(poly) < 6 or len(poly) % 2:
                raise ValueError(
                    f"{where}: polygon {i} needs an even number (>= 6) of coordinates, "
                    f"got {len(poly)}"
                )
            for j, v in enumerate(poly):
                if isinstance(v, bool) or not isinstance(v, numbers.Real):
                    raise ValueError(f"{where}: polygon {i} has a non-number {v!r}")
                try:
                    f = float(v)
                except OverflowError:
                    f = math.inf
                if not math.isfinite(f):
                    raise ValueError(f"{where}: polygon {i} has a non-finite coordinate {v!r}")
                side = width if j % 2 == 0 else height
                if not -side <= f <= 2 * side:
                    raise ValueError(
                        f"{where}: polygon {i} coordinate {v!r} is more than one image size "
                        f"outside the {width} x {height} image"
                    )
        return
    if isinstance(segmentation, dict):
        if "size" not in segmentation or "counts" not in segmentation:
            raise ValueError(f"{where}: an RLE needs 'size' and 'counts'")
        size = _int_list(segmentation["size"], f"{where}: RLE size")
        if size != [height, width]:
            raise ValueError(
                f"{where}: RLE size {size} differs from the image's [height, width] "
                f"[{height}, {width}]"
            )
        counts = segmentation["counts"]
        if isinstance(counts, str | bytes):
            try:
                runs = rle_counts(counts)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
        else:
            runs = _int_list(counts, f"{where}: RLE counts")
        if any(r < 0 for r in runs):
            raise ValueError(f"{where}: RLE has a negative run length")
        total = sum(runs)
        if total != height * width:
            raise ValueError(
                f"{where}: RLE run lengths add up to {total}, expected height * width = "
                f"{height * width}"
            )
        return
    raise TypeError(
        f"{where}: must be a polygon list or an RLE dict, got {type(segmentation).__name__}"
    )


def _rle_for(segmentation, height: int, width: int, where: str = "segmentation") -> dict:
    from pycocotools import mask as mask_utils

    check_segmentation(segmentation, height, width, where)
    if isinstance(segmentation, list):
        rles = mask_utils.frPyObjects([list(map(float, p)) for p in segmentation], height, width)
        return mask_utils.merge(rles)
    if isinstance(segmentation["counts"], list | tuple):  # uncompressed RLE
        rle = {
            "size": [int(v) for v in segmentation["size"]],
            "counts": list(segmentation["counts"]),
        }
        return mask_utils.frPyObjects(rle, height, width)
    rle = {"size": [int(v) for v in segmentation["size"]], "counts": segmentation["counts"]}
    if isinstance(rle["counts"], str):
        rle["counts"] = rle["counts"].encode("ascii")
    return rle


def segmentation_to_mask(segmentation, height: int, width: int):
    """Decode a COCO polygon list or RLE dict into an ``(height, width)`` uint8 0/1 mask.

    Example:
        >>> m = segmentation_to_mask([[0, 0, 4, 0, 4, 2, 0, 2]], height=3, width=5)
        >>> m.shape, int(m.sum())
        ((3, 5), 8)
    """
    from pycocotools import mask as mask_utils

    rle = _rle_for(segmentation, height, width)
    with warnings.catch_warnings():  # pycocotools 2.0 + numpy 2: harmless copy= deprecation
        warnings.filterwarnings("ignore", message=".*copy keyword.*", category=DeprecationWarning)
        return mask_utils.decode(rle)


def segmentation_area(segmentation, height: int, width: int) -> float:
    """Mask area (pixels) of a COCO segmentation, as pycocotools computes it.

    Example:
        >>> segmentation_area([[0, 0, 4, 0, 4, 2, 0, 2]], height=3, width=5)
        8.0
    """
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(_rle_for(segmentation, height, width)))


def mask_to_rle(mask) -> dict:
    """Encode a binary ``(H, W)`` mask as a COCO compressed RLE with a ``str`` ``counts``.

    Example:
        >>> import numpy as np
        >>> m = np.zeros((3, 5), np.uint8); m[0:2, 0:4] = 1
        >>> rle = mask_to_rle(m)
        >>> rle["size"], segmentation_area(rle, 3, 5), segmentation_bbox(rle, 3, 5)
        ([3, 5], 8.0, (0.0, 0.0, 4.0, 2.0))
    """
    import numpy as np
    from pycocotools import mask as mask_utils

    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D (H, W) array, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def segmentation_bbox(segmentation, height: int, width: int) -> tuple[float, float, float, float]:
    """Tight ``(x1, y1, x2, y2)`` box of a COCO polygon list or RLE (``pycocotools`` ``toBbox``).

    Example:
        >>> segmentation_bbox([[1, 1, 4, 1, 4, 3, 1, 3]], height=5, width=5)
        (1.0, 1.0, 4.0, 3.0)
    """
    from pycocotools import mask as mask_utils

    x, y, w, h = (float(v) for v in mask_utils.toBbox(_rle_for(segmentation, height, width)))
    return (x, y, x + w, y + h)


def compress_rle(segmentation, height: int, width: int, where: str = "segmentation"):
    """Polygons stay polygons; any RLE becomes a compressed RLE with a str ``counts``."""
    if isinstance(segmentation, dict):
        rle = _rle_for(segmentation, height, width, where)
        counts = rle["counts"]
        return {
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
            "size": [int(v) for v in rle["size"]],
        }
    check_segmentation(segmentation, height, width, where)
    return [[float(v) for v in poly] for poly in segmentation]
