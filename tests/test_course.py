"""Tests of the course runner, settings and key-figure plumbing (no lesson is executed here)."""

import dataclasses
import json

import nbformat
import pytest
import torch

from dlcv_utils import runtime
from dlcv_utils.course import report, settings
from dlcv_utils.course import runner as course


def make_notebook(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_select_lessons():
    available = {"01": "a", "02": "b", "05": "c"}
    assert course.select_lessons([], available) == ["01", "02", "05"]
    assert course.select_lessons(["5", "01", "05_faster"], available) == ["05", "01"]
    with pytest.raises(ValueError, match="lesson '7' not found; available lessons: 01, 02, 05"):
        course.select_lessons(["7"], available)


def test_run_reports_figures_and_failures(tmp_path):
    good = make_notebook(
        tmp_path / "01_good.ipynb",
        ["from dlcv_utils.course.report import key_figure", "key_figure('answer', 42.0, '{:.1f}')"],
    )
    bad = make_notebook(tmp_path / "02_bad.ipynb", ["x = 1", "raise RuntimeError('boom')"])
    available = {"01": good, "02": bad}
    results = course.run_lessons(
        ["01", "02"], available, tmp_path / "build", device="cpu", html=True, progress=False
    )
    assert [r.status for r in results] == ["ok", "FAILED"]
    assert results[0].figures == [{"name": "answer", "value": 42.0, "text": "42.0"}]
    assert results[1].error == "cell 1: RuntimeError: boom"
    assert (tmp_path / "build" / "01_good.ipynb").exists() and (
        tmp_path / "build" / "02_bad.html"
    ).exists()
    table = course.format_table(results)
    assert "answer = 42.0" in table and "02_bad failed at cell 1: RuntimeError: boom" in table


def test_main_exit_codes(tmp_path, monkeypatch, capsys):
    make_notebook(tmp_path / "01_x.ipynb", ["print('hi')"])
    make_notebook(tmp_path / "02_y.ipynb", ["1/0"])
    monkeypatch.setattr(course, "NOTEBOOK_DIR", tmp_path)
    assert (
        course.main(
            ["run", "1", "--no-html", "--build-dir", str(tmp_path / "b"), "--device", "cpu"]
        )
        == 0
    )
    assert (
        course.main(
            ["run", "2", "--no-html", "--build-dir", str(tmp_path / "b"), "--device", "cpu"]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out
    with pytest.raises(SystemExit):
        course.main(["run", "9"])


def test_key_figure(tmp_path, monkeypatch):
    monkeypatch.delenv(report.REPORT_ENV, raising=False)
    assert report.key_figure("x", 0.5) == 0.5
    target = tmp_path / "r.jsonl"
    monkeypatch.setenv(report.REPORT_ENV, str(target))
    report.key_figure("mAP", torch.tensor(0.25))
    assert json.loads(target.read_text()) == {"name": "mAP", "value": 0.25, "text": "0.250"}
    with pytest.raises(ValueError, match="value must be finite"):
        report.key_figure("x", float("nan"))
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        report.key_figure("", 1.0)
    with pytest.raises(TypeError, match="value must be a real number, got str"):
        report.key_figure("x", "high")


def test_settings(monkeypatch):
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    assert runtime.pick_device("cpu").type == "cpu"
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    assert runtime.pick_device().type == "cpu"
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        runtime.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            runtime.pick_device("cuda")
    with pytest.raises(ValueError, match="lesson must be one of"):
        settings.lesson_settings("99")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        runtime.setup(seed=-1)
    a = (runtime.setup(seed=3), torch.rand(3))
    b = (runtime.setup(seed=3), torch.rand(3))
    assert torch.equal(a[1], b[1])


@pytest.mark.parametrize("lesson", sorted(settings.SETTINGS))
def test_cpu_and_gpu_entries_are_the_same_lesson_class(lesson):
    cpu, gpu = settings.SETTINGS[lesson]
    assert type(cpu) is type(gpu), f"lesson {lesson}: CPU and GPU entries are different classes"
    assert type(cpu).__name__ == f"Lesson{lesson}"
    for entry in (cpu, gpu):
        with pytest.raises(dataclasses.FrozenInstanceError):
            entry.seed = 1


def test_lesson_settings_pick_the_device_entry_and_fill_in_the_device():
    cfg = settings.lesson_settings("05", "cpu")
    assert cfg == dataclasses.replace(settings.SETTINGS["05"][0], device="cpu")
    assert cfg.train.map50_floor == 0.7 and cfg.threads == 1
    gpu = settings.SETTINGS["05"][1]
    assert gpu.threads is None and gpu.data.n_train > cfg.data.n_train  # a GPU trains on more
    assert gpu.data.image_size == cfg.data.image_size  # ...but unchanged knobs are inherited


def test_lesson_setup_applies_threads(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime.torch, "set_num_threads", calls.append)
    device, cfg = settings.lesson_setup("06", "cpu")
    assert device.type == "cpu" and cfg.device == "cpu" and calls == [cfg.threads] == [1]


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (
            lambda: settings.ShapesData(n_train=0, n_val=1),
            ValueError,
            "n_train must be an int >= 1",
        ),
        (lambda: settings.ShapesData(n_train=2.5, n_val=1), TypeError, "n_train must be an int"),
        (lambda: settings.Training(epochs=1, optimizer="adam"), ValueError, "did you mean 'adamw'"),
        (lambda: settings.Training(epochs=1, lr=0), ValueError, "lr must be > 0"),
        (lambda: settings.Training(epochs=1, map50_floor=1.5), ValueError, "map50_floor must be"),
        (
            lambda: settings.Training(epochs=1, max_train_seconds=-1),
            ValueError,
            "max_train_seconds",
        ),
    ],
)
def test_settings_blocks_validate(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
