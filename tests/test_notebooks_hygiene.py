"""Notebook hygiene: what nbval cannot see.

Every committed lesson must be (a) built from its source in ``lessons/`` (no drift between the
two), (b) executed top to bottom in a fresh kernel (execution counts 1..n), (c) free of stored
errors and Colab metadata, and (d) open with a Colab badge pointing at its own path.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_lesson_has_a_notebook_and_back():
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SOURCES]
    assert NOTEBOOKS, "no lessons found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_top_to_bottom(path):
    counts = [c.get("execution_count") for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_errors_and_no_colab_metadata(path):
    nb = load(path)
    assert "colab" not in nb["metadata"] and "accelerator" not in nb["metadata"]
    for i, cell in enumerate(nb["cells"]):
        assert not {"colab", "outputId", "executionInfo"} & set(cell.get("metadata", {})), (
            f"cell {i}"
        )
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} cell {i} stores an error"
            text = "".join(out.get("text", ""))
            assert "Traceback" not in text, f"{path.name} cell {i} prints a traceback"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badge_points_at_own_path(path):
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    source = "".join(first["source"])
    match = re.search(r"colab\.research\.google\.com/github/[^/]+/[^/]+/blob/main/(\S+?)\)", source)
    assert match, "first cell has no Colab badge"
    assert match.group(1) == f"notebooks/{path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_setup_cell_never_reinstalls_torch(path):
    setup = "".join(load(path)["cells"][1]["source"])
    assert '"google.colab" in sys.modules' in setup
    assert not re.search(r"pip install[^\n]*\b(torch|torchvision|numpy)\b", setup)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_source(src):
    """The committed notebook is the built source (cells after the generated badge + setup)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from build_notebooks import assemble

    expected = [(c.cell_type, c.source) for c in assemble(src).cells]
    nb = load(ROOT / "notebooks" / (src.stem + ".ipynb"))
    actual = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    assert actual == expected, f"{src.name} changed since notebooks/{src.stem}.ipynb was built"
