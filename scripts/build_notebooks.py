"""Build the lesson notebooks from their sources in ``lessons/`` and execute them.

Each lesson is written as a jupytext "percent" script, ``lessons/NN_slug.py``. This script:

1. reads it, and puts the generated Open-in-Colab badge (pointing at ``notebooks/NN_slug.ipynb``)
   and the standard Colab setup cell in front of it;
2. executes it top to bottom in a fresh kernel with the CPU settings (``DLCV_DEVICE=cpu``,
   ``TQDM_DISABLE=1``), so the stored outputs are exactly what a fresh run produces;
3. strips Colab/timing metadata and writes ``notebooks/NN_slug.ipynb``.

usage: python scripts/build_notebooks.py [LESSON ...]      (default: all lessons)
       python scripts/build_notebooks.py --no-execute 03     (structure only, no outputs)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlcv_utils.course import execute_notebook  # noqa: E402

REPO = "dlcv-course/dlcv"
LESSON_SRC = ROOT / "lessons"
NOTEBOOKS = ROOT / "notebooks"

SETUP_CELL = """\
# Setup. On Colab: fetch the course and install its package (torch and numpy stay as Colab
# ships them: the package only sets lower bounds). Locally: nothing to do.
import sys

if "google.colab" in sys.modules:
    !git clone -q --depth 1 https://github.com/{repo}.git /content/dlcv
    %pip install -q -e /content/dlcv
    %cd /content/dlcv/notebooks"""


def badge_cell(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def assemble(src: Path):
    """Return the unexecuted notebook for lesson source ``src``."""
    nb = jupytext.read(src, fmt="py:percent")
    name = src.stem + ".ipynb"
    head = [
        nbformat.v4.new_markdown_cell(badge_cell(name)),
        nbformat.v4.new_code_cell(SETUP_CELL.format(repo=REPO)),
    ]
    nb.cells = head + list(nb.cells)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nb.nbformat, nb.nbformat_minor = 4, 5
    # nbformat 4.5 wants ids: make them stable (index-based) so rebuilds give small diffs
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{src.stem[:2]}-{i:03d}"
    return nb


def build(src: Path, execute: bool = True) -> Path:
    """Assemble (and execute) one lesson; the notebook is written only if every cell ran."""
    import tempfile

    nb = assemble(src)
    out = NOTEBOOKS / (src.stem + ".ipynb")
    NOTEBOOKS.mkdir(exist_ok=True)
    if execute:
        with tempfile.TemporaryDirectory() as tmp:
            draft = Path(tmp) / out.name
            nbformat.write(nb, draft)
            env = {"DLCV_DEVICE": "cpu", "TQDM_DISABLE": "1", "DLCV_REPORT": ""}
            nb, failed, error = execute_notebook(draft, None, env=env, cwd=NOTEBOOKS)
        if failed is not None:
            raise SystemExit(
                f"{src.name}: cell {failed} failed: {error} ({out.name} left unchanged)"
            )
        for cell in nb.cells:
            cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    nbformat.write(nb, out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    parser.add_argument("--no-execute", action="store_true")
    args = parser.parse_args(argv)
    sources = sorted(LESSON_SRC.glob("[0-9][0-9]_*.py"))
    if args.lessons:
        wanted = {a.zfill(2)[:2] for a in args.lessons}
        sources = [s for s in sources if s.name[:2] in wanted]
    for src in sources:
        out = build(src, execute=not args.no_execute)
        print(f"built {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
