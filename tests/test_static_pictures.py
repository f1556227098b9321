"""A saved notebook shows a picture for every widget cell, without a kernel.

GitHub, nbviewer, ``jupyter nbconvert --to html`` and a JupyterLab that has not run the cell
cannot draw a live widget: they fall back to the other entries of the display bundle. Every
widget output of a committed lesson must carry ``image/png`` or ``image/jpeg`` (the first setting's figure) and a
friendly ``text/plain``, never the raw ``interactive(children=(...`` repr. (The browser test
checks the JupyterLab side.)
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
RAW_REPR = re.compile(r"^(Static)?(interactive|VBox|HBox|Box)\(children=")
# tqdm.auto progress bars are widgets too (training cells); they are not the lessons' sliders
TQDM_TEXT = re.compile(r"\d+%\|.*\| *\d+/\d+ \[")


def _widget_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET in data and not TQDM_TEXT.search("".join(data.get("text/plain", ""))):
                yield i, cell, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_widget_output_carries_a_picture_and_a_friendly_text(path):
    for i, _cell, out in _widget_outputs(path):
        data = out["data"]
        assert {"image/png", "image/jpeg"} & set(data), (
            f"{path.name} cell {i}: widget output without a picture"
        )
        text = "".join(data.get("text/plain", ""))
        assert not RAW_REPR.match(text), f"{path.name} cell {i}: raw widget repr {text[:80]!r}"
        assert "Run the notebook" in text, f"{path.name} cell {i}: {text[:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbconvert_html_shows_a_picture_in_every_widget_cell(path):
    import nbformat
    from nbconvert import HTMLExporter

    widget_cells = [i for i, _c, _o in _widget_outputs(path)]
    if not widget_cells:
        pytest.skip(f"{path.name} has no widget cell")
    nb = nbformat.read(path, as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    for i in widget_cells:
        cell_id = nb.cells[i].get("id")
        start = html.find(f'id="cell-id={cell_id}"')
        assert start >= 0, f"{path.name}: cell {i} ({cell_id}) not in the HTML"
        end = html.find('<div class="jp-Cell ', start + 10)
        section = html[start : end if end > 0 else None]
        has_data_url = "data:image/png;base64," in section or "data:image/jpeg;base64," in section
        assert "<img" in section and has_data_url, (
            f"{path.name} cell {i}: no picture in nbconvert's HTML"
        )
        assert "interactive(children=" not in section and "VBox(children=" not in section
