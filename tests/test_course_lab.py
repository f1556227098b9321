"""``dlcv-course lab``: the lessons are opened from a writable copy, never from the checkout."""

import subprocess
import sys
from pathlib import Path

import pytest

from dlcv_utils.course import runner
from dlcv_utils.course.runner import find_lessons, lab_command, main, prepare_workspace


def _lessons(tmp_path):
    src = tmp_path / "checkout" / "notebooks"
    src.mkdir(parents=True)
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (src / name).write_text(f'{{"name": "{name}"}}')
    return src, find_lessons(src)


def test_copies_every_lesson_and_keeps_the_learners_work(tmp_path):
    src, lessons = _lessons(tmp_path)
    work = tmp_path / "work"
    copied, kept = prepare_workspace(work, lessons)
    assert sorted(p.name for p in copied) == ["01_a.ipynb", "02_b.ipynb"] and kept == []
    assert (work / "01_a.ipynb").read_text() == (src / "01_a.ipynb").read_text()
    (work / "01_a.ipynb").write_text("my notes")
    copied, kept = prepare_workspace(work, lessons)
    assert copied == [] and len(kept) == 2
    assert (work / "01_a.ipynb").read_text() == "my notes"
    copied, _ = prepare_workspace(work, lessons, refresh=True)
    assert len(copied) == 2 and (work / "01_a.ipynb").read_text() != "my notes"


def test_refuses_the_checkouts_notebooks_folder_and_files(tmp_path):
    src, lessons = _lessons(tmp_path)
    with pytest.raises(ValueError, match="--dir must be a folder of your own"):
        prepare_workspace(src, lessons)
    with pytest.raises(ValueError, match="--dir must be a folder of your own"):
        prepare_workspace(src / "sub", lessons)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        prepare_workspace(a_file, lessons)


def test_lab_command_opens_jupyterlab_on_the_workspace(tmp_path):
    cmd = lab_command(tmp_path, ["--port", "8899"])
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd and cmd[-2:] == ["--port", "8899"]


def test_cli_no_open_copies_and_reports(tmp_path, monkeypatch, capsys):
    src, _ = _lessons(tmp_path)
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", src)
    assert main(["lab", "--dir", str(tmp_path / "w"), "--no-open"]) == 0
    assert "2 lesson(s) copied, 0 kept" in capsys.readouterr().out
    assert main(["lab", "--dir", str(tmp_path / "w"), "--no-open"]) == 0
    assert "--refresh" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["lab", "--dir", str(src), "--no-open"])
    assert "--dir must be a folder of your own" in capsys.readouterr().err


def test_cli_starts_jupyterlab_in_the_workspace(tmp_path, monkeypatch):
    src, _ = _lessons(tmp_path)
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", src)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd: calls.append((cmd, cwd)) or 0)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    assert main(["lab", "--dir", str(tmp_path / "w"), "--", "--port", "8899"]) == 0
    ((cmd, cwd),) = calls
    assert Path(cwd) == (tmp_path / "w").resolve()
    assert cmd == lab_command(tmp_path / "w", ["--port", "8899"])
