"""Argument checks, one rule per kind of argument, shared by every module (the bottom layer).

Each check returns the value converted to a plain Python type, or raises ``TypeError`` (wrong
kind of value) / ``ValueError`` (right kind, wrong value) with a message that names the
argument, shows what was received and, where one helps, suggests a fix. The rules:

* an **int** is a Python or NumPy integer, never a ``bool``;
* a **number** is an int or float (NumPy included), finite, never a ``bool``;
* an **IoU threshold** (``iou_threshold``, ``pos_iou``, ...) is a number in ``[0, 1]``: IoU
  itself lies in ``[0, 1]``, so a threshold outside it is a mistake (torchvision's ``nms``
  silently accepts ``1.5`` and keeps every box);
* a **probability** (a score threshold on detector scores, an mAP floor) is a number in
  ``[0, 1]``;
* a **pair** (``window``, ``stride``, ``output_size``) is one int or two ints ``>= 1``.

Used from lesson 01 on; nothing here imports from the rest of the package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

__all__ = [
    "check_choice",
    "check_int",
    "check_iou_threshold",
    "check_number",
    "check_pair",
    "check_positive_numbers",
    "check_probability",
]


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """An integer (not a ``bool``), optionally ``>= minimum``.

    Example:
        >>> check_int(3, "epochs", minimum=1)
        3
        >>> check_int(0, "epochs", minimum=1)
        Traceback (most recent call last):
        ...
        ValueError: epochs must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (not a ``bool``) within optional bounds.

    Args:
        value: the argument.
        name: its name, for the message.
        low, high: bounds, inclusive unless ``low_open`` / ``high_open``.

    Example:
        >>> check_number(0.5, "lr", low=0.0, low_open=True)
        0.5
        >>> check_number(float("nan"), "lr")
        Traceback (most recent call last):
        ...
        ValueError: lr must be a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (out <= low if low_open else out < low)
    too_high = high is not None and (out >= high if high_open else out > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {_bounds(low, high, low_open, high_open)}, got {value!r}")
    return out


def _bounds(low, high, low_open, high_open) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_iou_threshold(value: Any, name: str = "iou_threshold") -> float:
    """An IoU threshold: a finite number in ``[0, 1]``.

    Example:
        >>> check_iou_threshold(0.5)
        0.5
        >>> check_iou_threshold(1.5)
        Traceback (most recent call last):
        ...
        ValueError: iou_threshold must be in [0, 1] (IoU lies in [0, 1]), got 1.5
    """
    out = check_number(value, name)
    if not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must be in [0, 1] (IoU lies in [0, 1]), got {value!r}")
    return out


def check_probability(value: Any, name: str) -> float:
    """A probability-like number in ``[0, 1]`` (a detector score threshold, an mAP floor).

    Example:
        >>> check_probability(0.05, "score_threshold")
        0.05
    """
    return check_number(value, name, 0.0, 1.0)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """One of ``choices``; the message lists them (and the closest one for a typo).

    Example:
        >>> check_choice("sgd", "optimizer", ("adamw", "sgd"))
        'sgd'
        >>> check_choice("adam", "optimizer", ("adamw", "sgd"))
        Traceback (most recent call last):
        ...
        ValueError: optimizer must be one of ('adamw', 'sgd'), got 'adam' (did you mean 'adamw'?)
    """
    if value in choices:
        return value
    import difflib

    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{name} must be one of {tuple(choices)!r}, got {value!r}{hint}")


def check_pair(value: Any, name: str, minimum: int = 1, order: str = "") -> tuple[int, int]:
    """One int or a pair of ints, each ``>= minimum``, as ``(a, b)``.

    ``order`` names the two values in the message, e.g. ``"(width, height)"``.

    Example:
        >>> check_pair(7, "output_size")
        (7, 7)
        >>> check_pair((24, 12), "window")
        (24, 12)
    """
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
        what = f" {order}" if order else ""
        raise TypeError(f"{name} must be an int or a pair of ints{what}, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise TypeError(f"{name} must hold ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must hold ints >= {minimum}, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


def check_positive_numbers(values: Any, name: str) -> tuple[float, ...]:
    """One positive number or a non-empty sequence of them, as a tuple of floats.

    Example:
        >>> check_positive_numbers((16, 32), "anchor_sizes")
        (16.0, 32.0)
    """
    if isinstance(values, Real) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive numbers, got {values!r}")
    out = tuple(check_number(v, f"{name}[{i}]") for i, v in enumerate(values))
    if not out or any(v <= 0 for v in out):
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers, got {values!r}")
    return out
