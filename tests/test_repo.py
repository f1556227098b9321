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
