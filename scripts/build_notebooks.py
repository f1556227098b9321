"""Build the lesson notebooks from their sources in ``lessons/`` and execute them.

Each lesson is written as a jupytext "percent" script, ``lessons/NN_slug.py``. This script:

1. reads it, and puts the generated Open-in-Colab badge (pointing at ``notebooks/NN_slug.ipynb``
   in the repository named by ``[project.urls] Repository`` in ``pyproject.toml``) and the
   standard Colab setup cell in front of it;
2. executes it top to bottom in a fresh kernel with the CPU settings (``DLCV_DEVICE=cpu``,
   ``TQDM_DISABLE=1``), so the stored outputs are exactly what a fresh run produces;
3. strips Colab/timing metadata (keeps ``language_info``) and writes ``notebooks/NN_slug.ipynb``.

usage: python scripts/build_notebooks.py [LESSON ...]      (default: all lessons)
       python scripts/build_notebooks.py --no-execute 03     (structure only, no outputs)
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LESSON_SRC = ROOT / "lessons"
NOTEBOOKS = ROOT / "notebooks"


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The course repository, ``[project.urls] Repository`` in ``pyproject.toml`` (one place).

    A fork changes that line and rebuilds the notebooks: badges and the Colab setup cell follow.

    Raises:
        ValueError: the entry is missing or is not a ``https://github.com/OWNER/NAME`` address
            (Colab opens notebooks from GitHub only).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("urls", {})
    url = str(urls.get("Repository", "")).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(
            f"{pyproject}: [project.urls] Repository must be https://github.com/OWNER/NAME "
            f"(Colab opens notebooks from GitHub), got {url!r}"
        )
    return url.removesuffix(".git")


# The first code cell of every lesson. It must work on Colab's "Run all" in one kernel: the
# package is installed non-editable (an editable install's .pth is read only at interpreter
# start) and the clone goes first on sys.path, so the next cell imports it without a restart.
# Every package Colab already has is pinned by a constraints file made from `pip freeze`, so pip
# may add what is missing but never up- or downgrades torch, numpy, OpenCV, ipywidgets, ...
# DLCV_REPO_URL / DLCV_HOME override the clone address and folder (tests, forks).
SETUP_CELL = """\
# Setup. On Colab: fetch the course and install its package without changing any package Colab
# already has (torch, numpy, OpenCV, matplotlib, ipywidgets stay as Colab ships them).
# Locally: nothing to do. Safe to run again.
import sys

if "google.colab" in sys.modules:
    import importlib
    import os
    import re
    import subprocess

    REPO_URL = os.environ.get("DLCV_REPO_URL", "{clone_url}")
    HOME = os.environ.get("DLCV_HOME", "/content/dlcv")
    if not os.path.isfile(os.path.join(HOME, "pyproject.toml")):
        cmd = ["git", "clone", "-q", "--depth", "1", REPO_URL, HOME]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"Could not clone the course from {{REPO_URL}} into {{HOME}}:\\n"
                f"{{done.stderr.strip()}}\\nCheck the address (a fork: set DLCV_REPO_URL or "
                "[project.urls] in pyproject.toml, see the README) and the internet access; "
                f"delete {{HOME}} if it is half-cloned; then run this cell again."
            )
    stamp = os.path.join(HOME, "build", "colab-installed.txt")
    if not os.path.exists(stamp):
        pip = [sys.executable, "-m", "pip"]
        frozen = subprocess.run([*pip, "freeze"], capture_output=True, text=True).stdout
        pins = [
            line
            for line in frozen.splitlines()
            if re.fullmatch(r"[A-Za-z0-9._-]+==\\S+", line) and not line.startswith("dlcv")
        ]
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        constraints = os.path.join(HOME, "build", "colab-constraints.txt")
        with open(constraints, "w") as f:
            f.write("\\n".join(pins) + "\\n")
        done = subprocess.run(
            [*pip, "install", "-q", "-c", constraints, HOME], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install the course package:\\n{{done.stderr[-4000:]}}")
        with open(stamp, "w") as f:
            f.write(frozen)
    if HOME not in sys.path:
        sys.path.insert(0, HOME)  # this kernel imports the package without a restart
    importlib.invalidate_caches()
    os.chdir(os.path.join(HOME, "notebooks"))
    print(f"dlcv course ready in {{HOME}}")"""

# What ipykernel reports; kept in the notebook so JupyterLab does not mark it modified on open.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": platform.python_version(),
}


def badge_cell(name: str, repo_url: str | None = None) -> str:
    slug = (repo_url or repository_url()).removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_cell(repo_url: str | None = None) -> str:
    return SETUP_CELL.format(clone_url=(repo_url or repository_url()) + ".git")


def assemble(src: Path):
    """Return the unexecuted notebook for lesson source ``src``."""
    nb = jupytext.read(src, fmt="py:percent")
    name = src.stem + ".ipynb"
    head = [
        nbformat.v4.new_markdown_cell(badge_cell(name)),
        nbformat.v4.new_code_cell(setup_cell()),
    ]
    nb.cells = head + list(nb.cells)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {
        # the display name ipykernel installs: JupyterLab rewrites any other one on open, and
        # the notebook would open as modified
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": dict(LANGUAGE_INFO),
    }
    nb.nbformat, nb.nbformat_minor = 4, 5
    # nbformat 4.5 wants ids: make them stable (index-based) so rebuilds give small diffs
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{src.stem[:2]}-{i:03d}"
    return nb


def time_capped_cells(nb) -> list[tuple[int, str]]:
    """``(cell index, line)`` for every output line saying a time cap cut a training run short.

    ``dlcv_utils.engine.fit`` prints one line starting with ``TIME CAP:`` when
    ``max_train_seconds`` stopped training before its last iteration; a notebook showing it is
    not a complete run, so :func:`build` refuses to store it. Checked on stream and plain-text
    outputs of code cells.
    """
    from dlcv_utils.engine.budget import TIME_CAP_PREFIX

    found = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            parts = [output.get("text", "")] if output.get("output_type") == "stream" else []
            parts.append(output.get("data", {}).get("text/plain", ""))
            text = "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)
            found += [
                (index, line.strip())
                for line in text.splitlines()
                if line.lstrip().startswith(TIME_CAP_PREFIX)
            ]
    return found


def check_complete_runs(nb, name: str) -> None:
    """Raise ``SystemExit`` naming lesson ``name`` and the cell if a time cap cut a run short."""
    capped = time_capped_cells(nb)
    if capped:
        index, line = capped[0]
        lines = "".join(nb.cells[index].get("source", "")).strip().splitlines()
        where = f"cell {index} (ending {lines[-1][:60]!r})" if lines else f"cell {index}"
        raise SystemExit(
            f"{name}: {where} printed {line!r}: training was cut short by its time cap, so "
            f"the stored outputs would not be a complete run. Rebuild on a quieter machine or "
            f"raise max_train_seconds in dlcv_utils/course/settings.py (notebook left unchanged)."
        )


def build(src: Path, execute: bool = True) -> Path:
    """Assemble (and execute) one lesson; the notebook is written only if every cell ran."""
    import tempfile

    try:
        from dlcv_utils.course.runner import execute_notebook
    except ModuleNotFoundError:  # before the package-by-layer move
        from dlcv_utils.course import execute_notebook

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
        check_complete_runs(nb, src.name)  # before writing: the old notebook stays as it was
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
