"""The one path rule of the data tools: a path taken from a dataset file stays inside its root.

Image ``file_name`` entries (COCO ``images[i].file_name``, VOC ``<filename>``, the records
given to a writer), VOC ``ImageSets`` lines and YOLO ``data.yaml`` split folders are all joined
to a root folder with :func:`resolve_inside`. It refuses absolute paths, ``..`` components,
names that are not plain text (control characters, undecodable bytes) and anything that
resolves outside the root through a symbolic link, with an :class:`UnsafePathError` naming the
file the entry came from and the entry itself.

Taught in lesson 02.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

__all__ = ["UnsafePathError", "check_name", "resolve_inside"]


class UnsafePathError(ValueError):
    """A path from a dataset file would leave its root folder (or is not a usable name)."""


def check_name(entry, *, what: str = "file_name", file: str | os.PathLike = "<records>") -> str:
    """Check that ``entry`` is a relative, in-root file name; return it with ``/`` separators.

    Refused: non-strings, empty names, control characters, names that cannot be encoded as
    UTF-8 (undecodable bytes from the file system), absolute paths (``/x``, ``C:x``, ``\\\\x``)
    and any ``..`` component. ``\\`` counts as a separator.

    Example:
        >>> check_name("sub\\\\a.png")
        'sub/a.png'
        >>> check_name("../x.png", file="ann.json")
        Traceback (most recent call last):
        ...
        dlcv_utils.datasets._paths.UnsafePathError: ann.json: file_name '../x.png' contains '..': refused
    """
    where = f"{file}: {what}"
    if not isinstance(entry, str):
        raise UnsafePathError(f"{where} must be a string, got {type(entry).__name__} {entry!r}")
    if not entry or not entry.strip():
        raise UnsafePathError(f"{where} is empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in entry):
        raise UnsafePathError(f"{where} {entry!r} contains a control character: refused")
    try:
        entry.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(
            f"{where} {entry!r} is not valid UTF-8 (undecodable bytes in the name): refused"
        ) from None
    norm = entry.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafePathError(f"{where} {entry!r} is an absolute path: refused")
    parts = PurePosixPath(norm).parts
    if ".." in parts:
        raise UnsafePathError(f"{where} {entry!r} contains '..': refused")
    if not parts or parts == (".",):
        raise UnsafePathError(f"{where} {entry!r} names no file")
    return "/".join(p for p in parts if p != ".")


def resolve_inside(
    root: str | os.PathLike,
    entry,
    *,
    what: str = "file_name",
    file: str | os.PathLike = "<records>",
) -> Path:
    """Join ``entry`` (a path read from ``file``) to ``root``, refusing anything that escapes.

    Args:
        root: the folder the entry must stay in (it need not exist yet).
        entry: the relative path read from the dataset file.
        what: what the entry is, for the message (``"file_name"``, ``"ImageSets line 3"``).
        file: the file the entry was read from, for the message.

    Returns:
        ``root / entry`` (not resolved, so messages show the path the user knows).

    Raises:
        UnsafePathError: (a ``ValueError``) see :func:`check_name`, or the path resolves
            outside ``root`` (a symbolic link pointing out of it).

    Example:
        >>> resolve_inside("data/JPEGImages", "a.jpg").as_posix()
        'data/JPEGImages/a.jpg'
        >>> resolve_inside("data", "/home/me/photo.png", file="x.xml")
        Traceback (most recent call last):
        ...
        dlcv_utils.datasets._paths.UnsafePathError: x.xml: file_name '/home/me/photo.png' is an absolute path: refused
    """
    rel = check_name(entry, what=what, file=file)
    root = Path(root)
    path = root / rel
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise UnsafePathError(
            f"{file}: {what} {entry!r} resolves outside {root} (a symbolic link?): refused"
        )
    return path
