"""Lean notebooks: store each matplotlib figure as PNG or JPEG, whichever is smaller.

A committed notebook keeps every figure it showed. Line plots and diagrams are small as PNG,
but photos and noise-textured images (the shapes dataset) are several times smaller as JPEG.
:func:`use_compact_figures` registers IPython display formatters for matplotlib ``Figure``
objects that render both encodings and return only the smaller one (``None`` for the other,
so IPython leaves that format out). The inline backend's ``plt.show()`` and ``display(fig)``
both go through these formatters. JPEG is kept only when it is clearly smaller
(:data:`JPEG_MARGIN`), so line plots and diagrams stay sharp PNGs. :func:`dlcv_utils.course.settings.lesson_setup` calls it, so
every lesson gets it; outside IPython it does nothing.

Used from lesson 01 on.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["encode_figure", "smaller_image", "use_compact_figures"]

JPEG_QUALITY = 85
#: JPEG is kept only below this fraction of the PNG size: lossy lines and text are not worth
#: a few bytes, photos and textures save far more than that.
JPEG_MARGIN = 0.5
#: A PNG above this many bytes is a photo-like figure (many images, textures): there JPEG is
#: kept whenever it is smaller at all, since a lossless picture that large is not worth it.
LARGE_PNG = 100_000


def encode_figure(fig, fmt: str, dpi: float | None = None, quality: int = JPEG_QUALITY) -> bytes:
    """Encode ``fig`` as ``"png"`` or ``"jpeg"`` bytes, cropped as the inline backend crops.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(1, 1))
        >>> encode_figure(fig, "png")[:4], encode_figure(fig, "jpeg")[:2]
        (b'\\x89PNG', b'\\xff\\xd8')
        >>> plt.close(fig)
    """
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    if not fig.axes and not fig.lines:  # an empty figure: IPython shows nothing for it either
        return b""
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"format": fmt, "bbox_inches": "tight", "facecolor": "white"}
    if dpi is not None:
        kwargs["dpi"] = dpi
    if fmt == "jpeg":
        kwargs["pil_kwargs"] = {"quality": int(quality), "optimize": True}
    fig.canvas.print_figure(buf, **kwargs)
    return buf.getvalue()


def smaller_image(fig, dpi: float | None = None, quality: int = JPEG_QUALITY) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of ``fig`` as PNG or JPEG, whichever is smaller (by the margin).

    For code that builds its own display bundle (e.g. a widget's static picture).

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(2, 2))
        >>> _ = ax.plot([0, 1], [0, 1])
        >>> smaller_image(fig)[0]  # a line plot stays a sharp PNG
        'image/png'
        >>> plt.close(fig)
    """
    png = encode_figure(fig, "png", dpi=dpi)
    jpeg = encode_figure(fig, "jpeg", dpi=dpi, quality=quality)
    if png and _jpeg_wins(len(png), len(jpeg)):
        return "image/jpeg", jpeg
    return "image/png", png


def _jpeg_wins(png_bytes: int, jpeg_bytes: int) -> bool:
    """JPEG is kept when clearly smaller, or smaller at all once the PNG is large.

    Example:
        >>> _jpeg_wins(10_000, 6_000), _jpeg_wins(10_000, 4_000), _jpeg_wins(300_000, 250_000)
        (False, True, True)
    """
    return jpeg_bytes < JPEG_MARGIN * png_bytes or (
        png_bytes > LARGE_PNG and jpeg_bytes < png_bytes
    )


class _SmallerOf:
    """Both encodings of the last figure asked for, so PNG and JPEG render it only once."""

    def __init__(self, quality: int):
        self.quality = quality
        self._key: tuple | None = None
        self._data: dict[str, bytes] = {}

    def get(self, fig, fmt: str) -> bytes | None:
        key = (id(fig), fig.stale, fig.get_size_inches().tobytes(), len(fig.axes))
        if key != self._key:
            png = encode_figure(fig, "png")
            jpeg = encode_figure(fig, "jpeg", quality=self.quality) if png else b""
            self._key, self._data = key, {"png": png, "jpeg": jpeg}
        png, jpeg = self._data["png"], self._data["jpeg"]
        if not png:
            return None
        smaller = "jpeg" if _jpeg_wins(len(png), len(jpeg)) else "png"
        return self._data[fmt] if fmt == smaller else None


def use_compact_figures(shell=None, quality: int = JPEG_QUALITY) -> bool:
    """Make IPython store each matplotlib figure as PNG or JPEG, whichever is smaller.

    Args:
        shell: an IPython ``InteractiveShell`` (default: the running one, if any).
        quality: JPEG quality (1-95).

    Returns:
        ``True`` if the formatters were registered, ``False`` outside IPython.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # Load the backend *now*: matplotlib loads it lazily at the first figure, and loading the
    # inline backend runs IPython's ``select_figure_formats``, which drops every Figure
    # formatter registered before it (ours included), so figures would be stored as PNG.
    plt.switch_backend(matplotlib.get_backend())

    smaller = _SmallerOf(quality)
    formatters = shell.display_formatter.formatters
    for fmt, mime in (("png", "image/png"), ("jpeg", "image/jpeg")):
        formatters[mime].enabled = True
        formatters[mime].for_type(Figure, lambda fig, fmt=fmt: smaller.get(fig, fmt))
    return True
