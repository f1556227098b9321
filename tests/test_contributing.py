"""The checklist of CONTRIBUTING.md, enforced: every lesson has its settings entry, README row
and tests, starts from the settings, and leaves environment variables and threads alone."""

import ast
import re
from pathlib import Path

import pytest

from dlcv_utils.course.settings import SETTINGS, LessonSettings

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
TESTS = sorted((ROOT / "tests").glob("test_*.py"))


def dlcv_imports(path: Path) -> set[str]:
    """``dlcv_utils`` modules imported by ``path`` (``from a.b import c`` counts ``a.b`` and ``a.b.c``)."""
    source = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in path.read_text(encoding="utf-8").splitlines()
    )
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dlcv_utils."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlcv_utils"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


TESTED = set().union(*(dlcv_imports(p) for p in TESTS))


def test_there_are_lessons_and_a_template():
    assert LESSONS, "no lessons/NN_*.py found"
    assert (ROOT / "lessons" / "_template.py").is_file()
    assert "lessons/_template.py" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_a_settings_entry(lesson):
    number = lesson.name[:2]
    assert number in SETTINGS, (
        f"{lesson.name}: no SETTINGS[{number!r}] in dlcv_utils/course/settings.py "
        "(CONTRIBUTING.md, step 2)"
    )
    cpu, gpu = SETTINGS[number]
    assert isinstance(cpu, LessonSettings) and type(cpu) is type(gpu)
    assert type(cpu).__name__ == f"Lesson{number}"
    assert f'lesson_setup("{number}")' in lesson.read_text(encoding="utf-8"), (
        f"{lesson.name} must start with device, cfg = lesson_setup({number!r})"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_a_readme_row(lesson):
    row = re.search(rf"^\| {lesson.name[:2]} \|.*$", README, flags=re.M)
    assert row, f"README.md lesson table has no row for {lesson.name} (CONTRIBUTING.md, step 6)"
    assert f"notebooks/{lesson.stem}.ipynb" in row.group(0)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_package_module_a_lesson_uses_is_tested(lesson):
    used = {m for m in dlcv_imports(lesson) if not m.startswith("dlcv_utils.course.")}
    untested = sorted(
        m
        for m in used
        if not any(t == m or t.startswith(m + ".") or m.startswith(t + ".") for t in TESTED)
    )
    assert not untested, (
        f"{lesson.name} uses {untested}, which no tests/test_*.py imports (CONTRIBUTING.md, step 4)"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lessons_leave_the_environment_and_threads_to_the_settings(lesson):
    text = lesson.read_text(encoding="utf-8")
    for forbidden in ("os.environ", "os.getenv", "set_num_threads", "DLCV_"):
        assert forbidden not in text, (
            f"{lesson.name} uses {forbidden!r}: device, threads and budgets belong in its "
            "settings entry (dlcv_utils/course/settings.py)"
        )


def test_the_checks_see_real_imports():
    lesson04 = next(p for p in LESSONS if p.name.startswith("04"))
    assert "dlcv_utils.course.recipes" in dlcv_imports(lesson04)
    assert "dlcv_utils.ops.boxes" in TESTED


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_NOTEBOOK_BYTES = 1_000_000


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_lean(notebook):
    # figures are stored as PNG or JPEG, whichever is smaller (dlcv_utils.viz.notebook), and no
    # progress bar is saved (fit() leaves $TQDM_DISABLE in charge); CONTRIBUTING.md, step 7
    size = notebook.stat().st_size
    assert size <= MAX_NOTEBOOK_BYTES, (
        f"{notebook.name} is {size / 1e6:.2f} MB (limit {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB): "
        f"rebuild it with `OMP_NUM_THREADS=1 python scripts/build_notebooks.py {notebook.name[:2]}`"
    )
    text = notebook.read_text(encoding="utf-8")
    assert "FloatProgressModel" not in text, (
        f"{notebook.name} stores a tqdm progress-bar widget; rebuild it with TQDM_DISABLE=1"
    )
