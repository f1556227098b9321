"""Key figures: the one or two numbers a lesson reports to ``dlcv-course run``.

A lesson calls :func:`key_figure` once for its headline number (e.g. mAP@0.5 of the model it
trains). The figure is printed as one line, ``Key figure: NAME = TEXT``, so the committed
notebook records it; ``scripts/readme_figures.py`` collects those lines from every notebook
into the README (and a test checks that the README and the notebooks agree). The course runner
also sets ``DLCV_REPORT`` to a file path for the kernel it starts; the figure is appended there
as a JSON line and shown in the runner's summary table.
"""

from __future__ import annotations

import json
import math
import os
from numbers import Real

REPORT_ENV = "DLCV_REPORT"
#: The printed form of a key figure; ``scripts/readme_figures.py`` parses it back.
KEY_FIGURE_LINE = "Key figure: {name} = {text}"


def key_figure(name: str, value: float, fmt: str = "{:.3f}") -> float:
    """Record a lesson's headline number for the course runner and return it.

    Args:
        name: what the number is, e.g. ``"val mAP@0.5"``.
        value: the number (finite).
        fmt: how the summary table prints it.

    Returns:
        ``value`` unchanged. The figure is also printed as ``Key figure: NAME = TEXT``.

    Raises:
        TypeError: if ``name`` is not a string or ``value`` is not a real number.
        ValueError: if ``value`` is NaN or infinite.

    Example:
        >>> key_figure("IoU of the two boxes", 0.25)
        Key figure: IoU of the two boxes = 0.250
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
    if "\n" in name or " = " in name:
        raise ValueError(f"name must be one line without ' = ', got {name!r}")
    text = fmt.format(value)
    print(KEY_FIGURE_LINE.format(name=name, text=text))
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": float(value), "text": text}) + "\n")
    return value
