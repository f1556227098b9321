"""Small file helpers shared by the format modules: atomic writes and deterministic images.

Every writer in :mod:`dlcv_utils.datasets` goes through :func:`atomic_write_bytes`, so a crash
or an exception never leaves a half-written file behind: the bytes go to a hidden temporary
file in the same folder, which is then renamed over the target in one step.

Taught in lesson 02.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:
        current = os.umask(0o022)
        os.umask(current)
        _UMASK.append(current)
    return _UMASK[0]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename).

    Args:
        path: target file; its parent folders are created.
        data: the bytes to write.

    Returns:
        The target path.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write_bytes(d / "a" / "x.txt", b"hi").read_bytes()
        b'hi'
        >>> sorted(p.name for p in (d / "a").iterdir())  # no temp file left over
        ['x.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`).

    Example:
        >>> import tempfile, pathlib
        >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "t.txt", "abc")
        >>> p.read_text()
        'abc'
    """
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.decode("ascii")
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def dumps_json(obj: Any) -> str:
    """Serialise ``obj`` deterministically: sorted keys, compact separators, numpy → Python.

    Example:
        >>> dumps_json({"b": np.float32(0.5), "a": [np.int64(1), b"xy"]})
        '{"a":[1,"xy"],"b":0.5}'
    """
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode an ``HxWx3`` (or ``HxW``) uint8 RGB array; same array → same bytes.

    PNG (default) is written by Pillow with fixed options; ``.jpg``/``.jpeg`` with quality 95.

    Args:
        image: ``uint8`` array of shape ``(H, W, 3)`` (RGB) or ``(H, W)``.
        suffix: file suffix that picks the codec.

    Example:
        >>> img = np.zeros((4, 5, 3), np.uint8)
        >>> encode_image(img)[:4]
        b'\\x89PNG'
        >>> encode_image(img) == encode_image(img.copy())
        True
    """
    import io

    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"image must be a uint8 array, got dtype {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"image must have shape (H, W, 3) or (H, W), got {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    buf = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image))
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        pil.save(buf, format="JPEG", quality=95)
    elif suffix == ".png":
        pil.save(buf, format="PNG", compress_level=6, optimize=False)
    else:
        raise ValueError(f"suffix must be .png, .jpg or .jpeg, got {suffix!r}")
    return buf.getvalue()


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Return ``(width, height)`` of an image file without decoding its pixels.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.png"
        >>> _ = p.write_bytes(encode_image(np.zeros((4, 5, 3), np.uint8)))
        >>> image_size(p)
        (5, 4)
    """
    from PIL import Image

    with Image.open(path) as im:
        return im.size
