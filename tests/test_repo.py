"""The README tells the truth about the repository: commands, lessons, badges."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_commands():
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", section, flags=re.S)


def test_quickstart_has_exactly_two_commands():
    blocks = quickstart_commands()
    assert len(blocks) == 2, blocks
    assert all("\n" not in b.strip() for b in blocks), "each command is one line"
    assert "dlcv-course run" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert quickstart_commands()[1].strip() in ci.splitlines()


def test_lesson_table_lists_every_notebook_with_its_badge():
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| {nb.name[:2]} ")), None
        )
        assert row, f"README lesson table has no row for {nb.name}"
        assert f"blob/main/notebooks/{nb.name})" in row, (
            f"badge of lesson {nb.name[:2]} points elsewhere"
        )


def _readme_figures():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_figures", ROOT / "scripts" / "readme_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_key_figures_equal_the_committed_notebooks():
    figures = _readme_figures()
    collected = figures.collect(ROOT / "notebooks")
    missing = [lesson for lesson, items in collected.items() if not items]
    assert not missing, f"notebooks of lessons {missing} record no 'Key figure:' line"
    assert figures.readme_block(README) == figures.render(collected), (
        "README key figures differ from the notebooks: run python scripts/readme_figures.py"
    )


def test_readme_figures_parser_reads_key_figure_lines(tmp_path):
    figures = _readme_figures()
    nb = {
        "cells": [
            {
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": ["a\n", "Key figure: mAP = 0.500\n"],
                    }
                ]
            },
            {
                "outputs": [
                    {"output_type": "stream", "name": "stderr", "text": "Key figure: no = 1\n"}
                ]
            },
            {"cell_type": "markdown"},
        ]
    }
    (tmp_path / "07_x.ipynb").write_text(__import__("json").dumps(nb), encoding="utf-8")
    (tmp_path / "08_y.ipynb").write_text("{not json", encoding="utf-8")
    import pytest

    with pytest.raises(ValueError, match="08_y.ipynb"):
        figures.collect(tmp_path)
    (tmp_path / "08_y.ipynb").unlink()
    assert figures.collect(tmp_path) == {"07": [("mAP", "0.500")]}
    block = figures.render({"07": [("mAP", "0.500")]})
    assert "| 07 | mAP | 0.500 |" in block
    with pytest.raises(ValueError, match="key-figures"):
        figures.readme_block("no markers here")
