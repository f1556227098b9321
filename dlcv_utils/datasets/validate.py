"""Validate annotation files and dataset folders, reporting *every* problem, and repair them.

:func:`validate` checks a single VOC ``.xml``, COCO ``.json`` or YOLO ``.txt`` file, or a whole
dataset folder in one of the layouts of :mod:`dlcv_utils.datasets.layout`. It does not stop at
the first problem: each :class:`Problem` names the file, where in it (line, object index,
annotation index and id, or the parser's line/column) and the reason.

* default: return a :class:`ValidationReport`;
* ``strict=True``: raise :class:`DatasetValidationError` (a ``ValueError`` carrying
  ``.problems``) when anything is wrong;
* ``repair=True``: clip boxes to the image, drop boxes of zero/negative size, drop lines and
  annotations that cannot be read or point at unknown ids, renumber duplicate annotation ids,
  and rewrite the repaired files atomically. Non-finite values are never "repaired" into a
  box: the line or annotation is dropped. What was fixed is in ``report.repaired``; what
  cannot be fixed (e.g. malformed XML) stays in ``report.problems``.

Taught in lesson 02.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlcv_utils.datasets._report import DatasetValidationError, Problem, ValidationReport
from dlcv_utils.datasets.table import check_fmt

__all__ = ["DatasetValidationError", "Problem", "ValidationReport", "validate"]


def validate(
    path: str | os.PathLike,
    fmt: str,
    *,
    split: str | None = None,
    strict: bool = False,
    repair: bool = False,
    check_images: bool = True,
    num_classes: int | None = None,
) -> ValidationReport:
    """Check an annotation file or a dataset folder and report every problem.

    Args:
        path: a ``.xml`` (VOC), ``.json`` (COCO) or ``.txt`` (YOLO) file, or a dataset root in
            the matching layout.
        fmt: ``"voc"``, ``"coco"`` or ``"yolo"``.
        split: check only this split of a folder (default: all splits found).
        strict: raise :class:`DatasetValidationError` if any problem remains.
        repair: fix what can be fixed and rewrite the files atomically.
        check_images: also check that referenced image files exist inside the dataset
            folder and are readable images (not empty, not text) (folders only).
        num_classes: for a single YOLO file, the number of classes (ids must be below it).

    Returns:
        A :class:`ValidationReport`.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.5 0.5 0.2 0.2\\n0 0.5 0.5 0.2\\n3 0.9 0.5 0.4 0.2 7\\n")
        >>> rep = validate(p, "yolo")
        >>> [(q.where, q.reason[:17]) for q in rep.problems]
        [('line 2', 'expected 5 fields'), ('line 3', 'expected 5 fields')]
        >>> rep = validate(p, "yolo", repair=True)
        >>> rep.ok, len(rep.repaired), p.read_text()
        (True, 2, '0 0.500000 0.500000 0.200000 0.200000\\n')
    """
    spec = check_fmt(fmt)
    path = Path(path)
    report = ValidationReport()
    if path.is_dir():
        spec.validate_dir(path, split, report, repair, check_images)
    elif path.is_file():
        extra = {} if num_classes is None else {"num_classes": num_classes}
        spec.validate_file(path, report, repair, **extra)
    else:
        raise FileNotFoundError(f"path: no such file or folder: {path}")
    if strict and report.problems:
        raise DatasetValidationError(report.problems)
    return report
