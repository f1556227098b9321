"""Helpers shared by the format modules: the loss warning, number checks and formatting.

Taught in lesson 02.
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "FormatLossWarning",
    "box_area_xyxy",
    "check_box",
    "check_label",
    "check_size",
    "finite_number",
    "read_text",
]


class FormatLossWarning(UserWarning):
    """Warned when a target format cannot hold some annotation (e.g. masks in YOLO)."""


def box_area_xyxy(bbox) -> float:
    """Area of one ``(x1, y1, x2, y2)`` box (0 for an empty box).

    Example:
        >>> box_area_xyxy((1.0, 2.0, 4.0, 6.0))
        12.0
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def _num(value: float) -> str:
    """Short deterministic text for a coordinate: integers stay integers, else 3 decimals."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def finite_number(value, where: str) -> float:
    """``value`` as a finite float; bools, strings, ``None``, NaN and inf raise ``ValueError``.

    Example:
        >>> finite_number(3, "x")
        3.0
        >>> finite_number(float("nan"), "a.json: annotations[0] bbox")
        Traceback (most recent call last):
        ...
        ValueError: a.json: annotations[0] bbox: must be a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    try:
        out = float(value)
    except OverflowError:
        raise ValueError(f"{where}: must be a finite number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    return out


def check_size(width, height, where: str) -> tuple[int, int]:
    """Image ``(width, height)`` as positive ints (whole numbers only).

    Example:
        >>> check_size(10, 8.0, "x")
        (10, 8)
        >>> check_size("ten", 8, "c.json: images[0]")
        Traceback (most recent call last):
        ...
        ValueError: c.json: images[0] width: must be a positive whole number, got 'ten'
    """
    out = []
    for name, v in (("width", width), ("height", height)):
        try:
            f = finite_number(v, f"{where} {name}")
        except ValueError:
            raise ValueError(
                f"{where} {name}: must be a positive whole number, got {v!r}"
            ) from None
        if not f.is_integer() or f <= 0 or f > 1e6:
            raise ValueError(f"{where} {name}: must be a positive whole number, got {v!r}")
        out.append(int(f))
    return out[0], out[1]


def check_label(label, where: str) -> str:
    """A class name that every format can store: a non-empty string without control characters.

    Example:
        >>> check_label("cat", "x")
        'cat'
        >>> check_label("ca\\x01t", "rec.png object 0")
        Traceback (most recent call last):
        ...
        ValueError: rec.png object 0: label 'ca\\x01t' contains a control character
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"{where}: label must be a non-empty string, got {label!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        raise ValueError(f"{where}: label {label!r} contains a control character")
    if label != label.strip():
        raise ValueError(f"{where}: label {label!r} has leading or trailing spaces")
    return label


def check_box(bbox, where: str) -> tuple[float, float, float, float]:
    """An ``(x1, y1, x2, y2)`` box of 4 finite numbers.

    Example:
        >>> check_box((0, 1, 2, 3), "x")
        (0.0, 1.0, 2.0, 3.0)
    """
    try:
        vals = list(bbox)
    except TypeError:
        raise ValueError(f"{where}: bbox must be 4 numbers, got {bbox!r}") from None
    if len(vals) != 4:
        raise ValueError(f"{where}: bbox must be 4 numbers, got {bbox!r}")
    import numpy as np

    out = []
    for v in vals:
        if isinstance(v, np.generic):
            v = v.item()
        out.append(finite_number(v, f"{where} bbox"))
    return tuple(out)


def read_text(path, what: str = "file") -> str:
    """Read a UTF-8 text file; undecodable bytes raise a ``ValueError`` naming the file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_bytes(b"0 0.5\\xff")
        >>> read_text(p, "label file")
        Traceback (most recent call last):
        ...
        ValueError: ...a.txt: label file is not valid UTF-8 text (byte 5)
    """
    from pathlib import Path

    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: {what} is not valid UTF-8 text (byte {err.start})") from None
