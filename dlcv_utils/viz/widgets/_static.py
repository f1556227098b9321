"""What a saved notebook shows for a slider cell, and the sliders' shared look.

A widget lives in the kernel: a notebook opened without running it (GitHub, nbviewer,
``jupyter nbconvert --to html``, a JupyterLab that has not run the cell) cannot draw it and falls
back to another part of the cell's display bundle. ipywidgets puts only its ``repr`` there
(``interactive(children=(IntSlider(value=100, ...``). The widgets of this package therefore add
``image/png``, the figure of their first setting, and a ``text/plain`` sentence that says what the
cell is, next to the live widget view; a front end with a kernel still shows the live widget.

The same classes work on ipywidgets 7.7 (Colab's) and 8.x: 7.x displays a widget through
``_ipython_display_`` and draws an ``interactive`` only once it is displayed, 8.x through
``_repr_mimebundle_`` and draws at construction. :func:`finish` draws the first setting at
construction on both.
"""

from __future__ import annotations

import base64
from functools import cache

__all__ = [
    "STYLE",
    "figure_picture",
    "finish",
    "ipywidgets_major",
    "picture_mime",
    "show",
    "slider_layout",
    "static_class",
]

# One label width for every control of a widget, so all tracks start at the same x.
STYLE = {"description_width": "130px"}


def slider_layout():
    """Full-width tracks (capped so a wide screen does not give a 2000 px slider)."""
    import ipywidgets as widgets

    return widgets.Layout(width="100%", max_width="820px")


def ipywidgets_major() -> int:
    """The installed ipywidgets' major version (7 on Colab, 8 elsewhere)."""
    import ipywidgets

    return int(ipywidgets.__version__.split(".")[0])


def figure_picture(fig, dpi: int = 72) -> bytes:
    """The figure as PNG or JPEG bytes, whichever is smaller (photos: JPEG; diagrams: PNG).

    The bytes say which they are (PNG and JPEG signatures); :func:`picture_mime` reads it.
    """
    from dlcv_utils.viz.notebook import smaller_image

    return smaller_image(fig, dpi=dpi)[1]


def picture_mime(data: bytes) -> str:
    """``"image/jpeg"`` for JPEG bytes, else ``"image/png"``."""
    return "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"


@cache
def static_class(base: type) -> type:
    """A subclass of the widget class ``base`` whose display bundle carries a picture.

    Instances show ``self.static_png`` (PNG bytes, if set) and ``self.static_text`` where a
    front end cannot draw the live widget.
    """
    major = ipywidgets_major()

    def _bundle(self) -> dict:
        data = {
            "text/plain": getattr(self, "static_text", "") or f"<{base.__name__} widget>",
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.model_id,
            },
        }
        png = getattr(self, "static_png", None)  # PNG or JPEG bytes (figure_picture)
        if png:
            data[picture_mime(png)] = base64.b64encode(png).decode("ascii")
        return data

    def _repr_mimebundle_(self, **kwargs):
        return _bundle(self)

    namespace = {"_static_bundle": _bundle, "_repr_mimebundle_": _repr_mimebundle_}
    if major < 8:

        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            display(_bundle(self), raw=True)
            self._handle_displayed(**kwargs)

        namespace["_ipython_display_"] = _ipython_display_
    return type(f"Static{base.__name__}", (base,), namespace)


def finish(widget, first: dict, title: str):
    """Make ``widget`` (an ``interactive`` of :func:`static_class`) show its first setting.

    Args:
        widget: the ``interactive``; its function must fill ``first`` on its first call with
            ``png`` (the figure) and ``text`` (what it printed).
        first: the dict the function fills.
        title: one sentence naming the widget, for ``text/plain``.

    Returns:
        ``widget``, drawn once, with ``static_png`` and ``static_text`` set.
    """
    if ipywidgets_major() < 8:  # 7.x draws on display only: draw now, and not again then
        widget.update()
        widget.on_displayed(widget.update, remove=True)
    names = ", ".join(c.description for c in widget.kwargs_widgets)
    widget.static_png = first.get("png")
    widget.static_text = (
        f"{title} ({names}). Run the notebook to move the controls; the picture shows the "
        f"first setting.\n{first.get('text', '')}".rstrip()
    )
    return widget


def show(fig, text: str, first: dict) -> None:
    """Show ``fig`` and print ``text`` (in an ``interactive``'s output); keep the first ones."""
    import matplotlib.pyplot as plt

    if not first:
        first["png"] = figure_picture(fig)
        first["text"] = text
    plt.show()
    plt.close(fig)
    if text:
        print(text)
