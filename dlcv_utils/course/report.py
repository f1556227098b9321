"""Key figures: the one or two numbers a lesson reports to ``dlcv-course run``.

A lesson calls :func:`key_figure` once for its headline number (e.g. mAP@0.5 of the model it
trains). The figure is printed as one line, ``Key figure: NAME = TEXT``, so the committed
notebook records it; ``scripts/readme_figures.py`` collects those lines from every notebook
into the README (and a test checks that the README and the notebooks agree). The course runner
also sets ``DLCV_REPORT`` to a file path for the kernel it starts; the figure is appended there
as a JSON line and shown in the runner's summary table.

:func:`print_markdown_rows` prints the comparison tables of the ``benchmarks/`` scripts.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
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


def print_markdown_rows(
    columns: Sequence[tuple[str, str]], rows: Iterable[Mapping]
) -> list[Mapping]:
    """Print a GitHub markdown table, each row as soon as it arrives; return the rows.

    ``columns`` are ``(header, format)`` pairs, ``format`` a :meth:`str.format` pattern over a
    row's keys. ``rows`` may be a generator of slow runs: the header goes out first and every
    line is flushed, so a long benchmark shows its rows one by one.

    Raises:
        ValueError: no columns.
        KeyError: a row lacks a key a format names (the message names the key).

    Example:
        >>> _ = print_markdown_rows([("model", "{name}"), ("mAP", "{map:.3f}")],
        ...                         [{"name": "a", "map": 0.5}])
        | model | mAP |
        |---|---|
        | a | 0.500 |
    """
    if not columns:
        raise ValueError("columns must name at least one (header, format) pair")
    print("| " + " | ".join(h for h, _ in columns) + " |")
    print("|" + "---|" * len(columns), flush=True)
    done = []
    for row in rows:
        print("| " + " | ".join(f.format(**row) for _, f in columns) + " |", flush=True)
        done.append(row)
    return done
