"""Key figures: the one or two numbers a lesson reports to ``dlcv-course run``.

A lesson calls :func:`key_figure` once for its headline number (e.g. mAP@0.5 of the model it
trains). The course runner sets ``DLCV_REPORT`` to a file path for the kernel it starts; the
figure is appended there as a JSON line and shown in the runner's summary table. Outside the
runner the call just returns the value, so a learner's notebook is unaffected.
"""

from __future__ import annotations

import json
import math
import os
from numbers import Real

REPORT_ENV = "DLCV_REPORT"


def key_figure(name: str, value: float, fmt: str = "{:.3f}") -> float:
    """Record a lesson's headline number for the course runner and return it.

    Args:
        name: what the number is, e.g. ``"val mAP@0.5"``.
        value: the number (finite).
        fmt: how the summary table prints it.

    Returns:
        ``value`` unchanged.

    Raises:
        TypeError: if ``name`` is not a string or ``value`` is not a real number.
        ValueError: if ``value`` is NaN or infinite.

    Example:
        >>> key_figure("IoU of the two boxes", 0.25)
        0.25
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if isinstance(value, bool) or not isinstance(value, Real):
        try:
            value = float(value)  # numpy / torch scalars
        except (TypeError, ValueError):
            raise TypeError(f"value must be a real number, got {type(value).__name__}") from None
    if not math.isfinite(float(value)):
        raise ValueError(f"value must be finite, got {value!r}")
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(
                json.dumps({"name": name, "value": float(value), "text": fmt.format(value)}) + "\n"
            )
    return value
