"""The Colab setup cell, on "Run all", in a simulated Colab runtime.

A fresh virtual environment (``--system-site-packages``, to reuse the big torch install) gets
Colab's own versions of the packages the course must not touch (ipywidgets 7.7.1, opencv-python
4.12, numpy 2.0.2) and a fake ``google.colab`` module imported at interpreter start, while the
developer's editable ``dlcv_utils`` is hidden. Each lesson's setup cell then clones *this*
repository (``DLCV_REPO_URL=file://...``) into a temporary "/content" and installs it, and the
lesson's next cell must import the package in the same kernel, without a restart. ``pip freeze``
before and after must agree on every package that was there before.

A second job runs the widget tests under ipywidgets 7.7 in the same environment.

The clone is of the committed ``HEAD``: what a learner on Colab gets. Set ``DLCV_SKIP_COLAB_SIM=1``
to skip the slow part (CI does not).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

# Colab's versions (2025-2026 runtimes) of what the course must leave alone.
COLAB_PINS = ["ipywidgets==7.7.1", "opencv-python==4.12.0.88", "numpy==2.0.2"]
PROTECTED = {
    "torch",
    "torchvision",
    "numpy",
    "opencv-python",
    "opencv-python-headless",
    "matplotlib",
    "ipywidgets",
    "pillow",
    "widgetsnbextension",
}

FAKE_COLAB = '''"""A stand-in for Colab's ``google.colab`` (tests only)."""
'''

# Imported at every interpreter start of the venv: be Colab, and forget the developer's
# editable install of dlcv_utils (it would make the import pass without the setup cell).
SITECUSTOMIZE = """
import sys

import google.colab  # noqa: F401  (Colab imports it at start: the setup cell checks sys.modules)

def _ours(hook):
    return str(getattr(hook, "__module__", "")).startswith("__editable___dlcv_utils")


sys.meta_path[:] = [f for f in sys.meta_path if not _ours(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not _ours(h)]
sys.path_importer_cache.clear()
sys.path[:] = [p for p in sys.path if p.rstrip("/") != {root!r}]
"""


def _freeze(python: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    pins = {}
    for line in out.splitlines():
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


# --------------------------------------------------------------------------- fast unit tests
def test_repository_url_is_read_from_pyproject_and_used_by_badge_and_setup_cell(tmp_path):
    import build_notebooks as b

    url = b.repository_url()
    assert url.startswith("https://github.com/")
    assert f'"{url}.git"' in b.setup_cell()
    assert url.removeprefix("https://github.com/") + "/blob/main/notebooks/x.ipynb" in (
        b.badge_cell("x.ipynb")
    )
    fork = tmp_path / "pyproject.toml"
    fork.write_text(
        '[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/me/f"\n'
    )
    assert b.repository_url(fork) == "https://github.com/me/f"
    assert "https://github.com/me/f.git" in b.setup_cell(b.repository_url(fork))
    fork.write_text('[project]\nname = "x"\n[project.urls]\nRepository = "gitlab.com/me/f"\n')
    with pytest.raises(ValueError, match=r"\[project.urls\] Repository"):
        b.repository_url(fork)


def test_committed_notebooks_and_readme_use_the_pyproject_url():
    import build_notebooks as b

    slug = b.repository_url().removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for badge in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob", readme):
        assert badge == slug, f"README badge points at {badge}, pyproject says {slug}"
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        assert f"github/{slug}/blob" in "".join(cells[0]["source"]), nb.name
        assert "".join(cells[1]["source"]) == b.setup_cell(), f"{nb.name}: stale setup cell"


def test_setup_cell_never_uses_an_editable_install_nor_touches_colab_packages():
    import build_notebooks as b

    cell = b.setup_cell()
    assert " -e " not in cell and "--editable" not in cell
    assert "sys.path.insert" in cell and "importlib.invalidate_caches()" in cell
    assert '"-c", constraints' in cell  # every preinstalled package pinned
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "opencv-python-headless" not in deps and '"opencv-python>=' in deps
    assert re.search(r'"ipywidgets>=7\.7"', deps)


# -------------------------------------------------------------------------- the simulation
@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A Colab-like venv, its kernelspec, and an empty "/content"."""
    if os.environ.get("DLCV_SKIP_COLAB_SIM"):
        pytest.skip("DLCV_SKIP_COLAB_SIM is set")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *COLAB_PINS],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        pytest.fail(f"could not build the Colab-like venv:\n{install.stderr[-3000:]}")
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=str(ROOT)))
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u, sys; "
            "print('google.colab' in sys.modules, u.find_spec('dlcv_utils') is None)",
        ],
        capture_output=True,
        text=True,
        cwd=base,
        env=_clean_env(),
    )
    assert probe.stdout.split() == ["True", "True"], probe.stdout + probe.stderr
    kernels = base / "share" / "jupyter" / "kernels" / "colab-sim"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab simulation",
                "language": "python",
            }
        )
    )
    content = base / "content"
    content.mkdir()
    before = _freeze(python)
    for pin in COLAB_PINS:
        name, version = pin.split("==")
        assert before.get(name) == version, f"venv has {name} {before.get(name)}, wanted {version}"
    print(f"Colab-like venv ready in {time.perf_counter() - started:.1f} s")
    return {"base": base, "python": python, "content": content, "before": before}


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update({"DLCV_DEVICE": "cpu", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}, **extra)
    return env


def _run_cells(colab, sources: list[str], cwd: Path, env: dict):
    """Run ``sources`` in one fresh kernel of the venv; return the executed cells."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    client = NotebookClient(
        nb,
        kernel_name="colab-sim",
        timeout=600,
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(colab["base"] / "share" / "jupyter")
    try:
        with client.setup_kernel(env=env, cwd=str(cwd)):
            for i, cell in enumerate(nb.cells):
                client.execute_cell(cell, i)
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    return nb.cells


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def _errors(cells) -> list[str]:
    return [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, c in enumerate(cells)
        for o in c.outputs
        if o.output_type == "error"
    ]


def _git_show(spec: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "show", spec], capture_output=True, text=True, check=True
    ).stdout


PROBE = (
    "import cv2, dlcv_utils, ipywidgets, numpy\n"
    "print('PROBE', dlcv_utils.__file__, cv2.__version__, ipywidgets.__version__, "
    "numpy.__version__)"
)


@pytest.mark.slow
def test_run_all_on_colab_imports_the_package_and_changes_no_colab_package(colab):
    import jupytext
    import nbformat

    started = time.perf_counter()
    home = colab["content"] / "dlcv"
    env = _clean_env(DLCV_REPO_URL=ROOT.as_uri(), DLCV_HOME=str(home))
    # the clone the setup cell makes is of HEAD: run HEAD's setup cell (the committed notebook's
    # cell 1) and HEAD's lesson source's first code cell (the notebooks' staleness is
    # test_notebooks_hygiene's job)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", "HEAD", "notebooks/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    lessons = sorted(p for p in head if re.fullmatch(r"notebooks/\d\d_\w+\.ipynb", p))
    assert lessons, "no committed lesson notebooks"
    timings = {}
    for k, rel in enumerate(lessons):
        nb = nbformat.reads(_git_show(f"HEAD:{rel}"), as_version=4)
        setup = nb.cells[1].source
        lesson = jupytext.reads(_git_show(f"HEAD:lessons/{Path(rel).stem}.py"), fmt="py:percent")
        first = next(c.source for c in lesson.cells if c.cell_type == "code")
        # lesson 1: the install; then "Run all" again in the same kernel (idempotent)
        sources = [setup, first, PROBE] + ([setup, PROBE] if k == 0 else [])
        t0 = time.perf_counter()
        cells = _run_cells(colab, sources, colab["content"], env)
        timings[Path(rel).stem] = time.perf_counter() - t0
        assert not _errors(cells), f"{rel}: " + "; ".join(_errors(cells))
        probe = _text(cells[2]).split()
        assert probe[0] == "PROBE", _text(cells[2])
        assert probe[1].startswith(str(home)), f"dlcv_utils imported from {probe[1]}, not the clone"
        assert probe[2:] == ["4.12.0", "7.7.1", "2.0.2"], probe
        assert "dlcv course ready" in _text(cells[0])
        if k == 0:
            assert (home / "build" / "colab-installed.txt").exists()
            assert _text(cells[4]).split()[:2] == probe[:2]
    after = _freeze(colab["python"])
    before = colab["before"]
    changed = {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}
    assert not changed, f"pip changed preinstalled packages (before, after): {changed}"
    added = sorted(set(after) - set(before) - {"dlcv-utils"})
    assert not (set(added) & PROTECTED), f"pip added {added}"
    frozen = subprocess.run(
        [str(colab["python"]), "-m", "pip", "freeze", "--local"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(rf"^dlcv.utils @ {re.escape(home.as_uri())}", frozen, re.M | re.I), (
        f"the package was not installed (non-editable, from the clone) into the venv:\n{frozen}"
    )
    print(
        f"Colab simulation: {len(lessons)} lessons in {time.perf_counter() - started:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}); added: {added}"
    )


@pytest.mark.slow
def test_clone_failure_says_what_to_do(colab, tmp_path):
    import build_notebooks as b

    env = _clean_env(DLCV_REPO_URL=(tmp_path / "missing").as_uri(), DLCV_HOME=str(tmp_path / "d"))
    cells = _run_cells(colab, [b.setup_cell()], tmp_path, env)
    err = "; ".join(_errors(cells))
    assert "RuntimeError: Could not clone the course from" in err
    assert "DLCV_REPO_URL" in err and "run this cell again" in err


@pytest.mark.slow
def test_widget_tests_pass_under_ipywidgets_7(colab):
    """The second job: the widget unit tests (and widget doctests) under ipywidgets 7.7."""
    clone = colab["content"] / "widget-tests"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", ROOT.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    tests = sorted(str(p.relative_to(clone)) for p in clone.glob("tests/test_widgets_*.py"))
    assert tests, "no widget tests in the clone"
    widgets = next(
        p for p in (clone / "dlcv_utils/viz/widgets", clone / "dlcv_utils/widgets") if p.is_dir()
    )
    run = subprocess.run(
        [
            str(colab["python"]),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--doctest-modules",
            *tests,
            str(widgets.relative_to(clone)),
        ],
        capture_output=True,
        text=True,
        cwd=clone,
        env=_clean_env(MPLBACKEND="Agg"),
        timeout=600,
    )
    tail = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    version = subprocess.run(
        [str(colab["python"]), "-c", "import ipywidgets; print(ipywidgets.__version__)"],
        capture_output=True,
        text=True,
        cwd=clone,
        env=_clean_env(),
    ).stdout.strip()
    assert version == "7.7.1"
    assert re.search(r"\d+ passed", run.stdout), tail
