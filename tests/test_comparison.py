"""Tests for the detector benchmark's results file (dlcv_utils.course.comparison) and for
``benchmarks/bench_detectors.py`` writing and merging it (the benchmark itself is faked: no
training here)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from dlcv_utils.course import comparison as cmp
from dlcv_utils.course.settings import Training
from dlcv_utils.engine import fit
from dlcv_utils.engine.schedule import lr_factor

ROOT = Path(__file__).resolve().parents[1]


def make_row(family="SSD", lesson="08", **kw):
    row = {
        "model": f"{family} model",
        "family": family,
        "lesson": lesson,
        "map50": 0.5,
        "map": 0.3,
        "ap_small": 0.1,
        "ap_medium": 0.4,
        "ap_large": -1.0,
        "params": 1000,
        "infer_ms": 5.0,
        "train_s": 30.0,
        "iterations": 100,
        "stop_reason": None,
        "on_pace": True,
    }
    return {**row, **kw}


def merged(rows, old=None, date="2026-12-03", settings=None):
    return cmp.merge_results(
        old,
        rows,
        device_kind="cpu",
        device={"cpu": "test"},
        settings=settings or {},
        date=date,
        commit="abc",
    )


# ----------------------------------------------------------------------------- file round trip
def test_results_path():
    assert cmp.results_path("cuda", "/r") == Path("/r/benchmarks/results/detectors_cuda.json")
    assert cmp.results_path().parent == ROOT / "benchmarks" / "results"
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        cmp.results_path("tpu")


def test_merge_replaces_named_rows_and_keeps_the_others(tmp_path):
    first = merged(
        {"ssd": make_row(map50=0.4), "rcnn": make_row("R-CNN", "04")},
        settings={"08": {"width": 16}, "04": {"x": 1}},
    )
    path = cmp.write_results(tmp_path / "sub" / "detectors_cpu.json", first)
    second = merged(
        {"ssd": make_row(map50=0.6)},
        old=cmp.load_results(path),
        date="2026-12-04",
        settings={"08": {"width": 32}},
    )
    cmp.write_results(path, second)
    back = cmp.load_results(path)
    assert list(back["rows"]) == ["rcnn", "ssd"]  # the course's order, not the run order
    assert back["rows"]["ssd"]["map50"] == 0.6
    assert back["rows"]["rcnn"] == first["rows"]["rcnn"]
    assert back["settings"] == {"04": {"x": 1}, "08": {"width": 32}}
    assert back["date"] == "2026-12-04" and back["format"] == cmp.FORMAT


def test_rows_outside_the_course_families_go_last():
    out = merged({"zzz": make_row("Z"), "yolo": make_row("Y"), "rcnn": make_row("R")})
    assert list(out["rows"]) == ["rcnn", "yolo", "zzz"]


def test_merge_refuses_another_device_and_an_incomplete_row():
    cuda = {**merged({"ssd": make_row()}), "device_kind": "cuda"}
    with pytest.raises(ValueError, match="for device 'cuda', not 'cpu'"):
        merged({"ssd": make_row()}, old=cuda)
    row = make_row()
    del row["ap_small"]
    with pytest.raises(ValueError, match=r"row 'ssd' has no \['ap_small'\].*--only ssd"):
        merged({"ssd": row})


def test_missing_file_names_the_path_and_the_command(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError) as err:
        cmp.load_results(path)
    assert str(path) in str(err.value)
    assert "python benchmarks/bench_detectors.py" in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "has no 'rows' object"),
        ('{"rows": {}}', "has format None, expected 1"),
    ],
)
def test_hostile_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        cmp.load_results(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("map", None, r"row 'ssd' has no \['map'\]"),
        ("map50", "0.5", "map50='0.5', not a finite number"),
        ("infer_ms", math.inf, "infer_ms=inf, not a finite number"),
        ("params", True, "params=True, not a finite number"),
    ],
)
def test_a_bad_row_in_the_file_is_named(tmp_path, key, value, message):
    content = merged({"ssd": make_row(), "rcnn": make_row("R-CNN", "04")})
    if value is None:
        del content["rows"]["ssd"][key]
    else:
        content["rows"]["ssd"][key] = value
    path = tmp_path / "detectors_cpu.json"
    path.write_text(json.dumps(content))  # write_results refuses inf; a hand-edited file may not
    with pytest.raises(ValueError, match=message) as err:
        cmp.load_results(path)
    assert str(path) in str(err.value)


def test_write_refuses_nan(tmp_path):
    content = merged({"ssd": make_row()})
    content["rows"]["ssd"]["train_s"] = math.nan
    with pytest.raises(ValueError):
        cmp.write_results(tmp_path / "x.json", content)


# ----------------------------------------------------------------------------- coverage, table
def test_check_coverage():
    results = merged({"ssd": make_row(), "rcnn": make_row("R-CNN", "04")})
    assert cmp.check_coverage(results, ["rcnn", "ssd"]) == ["rcnn", "ssd"]
    with pytest.raises(ValueError) as err:
        cmp.check_coverage(results, ["rcnn", "ssd", "retinanet", "mask_rcnn"])
    msg = str(err.value)
    assert "retinanet (RetinaNet), mask_rcnn (Mask R-CNN)" in msg
    assert msg.endswith("bench_detectors.py --only retinanet mask_rcnn")
    assert cmp.check_coverage(results, ["ssd", "retinanet"], allow_missing=["retinanet"]) == ["ssd"]
    # the full course: one row per family, in order
    assert cmp.REQUIRED_ROWS[:3] == ("rcnn", "fast_rcnn", "faster_rcnn")
    assert {"retinanet", "efficientdet", "mask_rcnn", "yolo", "yolo_v3"} <= set(cmp.REQUIRED_ROWS)


def test_every_benchmark_has_a_family():
    from dlcv_utils.course.recipes import BENCHMARKS

    assert set(BENCHMARKS) <= set(cmp.FAMILIES), "name the family of a new benchmark row"


def test_format_table_and_table_rows():
    results = merged(
        {
            "ssd": make_row(map50=0.4, params=2_500_000, infer_ms=3.25, train_s=61.6),
            "rcnn": make_row("R-CNN", "04", ap_small=-1.0),
        }
    )
    lines = cmp.format_table(results).splitlines()
    assert len(lines) == 3 and lines[0].split()[:2] == ["lesson", "family"]
    rcnn, ssd = lines[1].split(), lines[2].split()
    assert rcnn[:2] == ["04", "R-CNN"] and rcnn[4] == "-"  # AP_small -1: no such objects
    assert ssd[:6] == ["08", "SSD", "0.400", "0.300", "0.100", "0.400"]
    assert ssd[-3:] == [f"{2_500_000 / 1e6:.2f}M", "3.2", "62"]
    assert [r["name"] for r in cmp.table_rows(results, ["ssd"])] == ["ssd"]
    with pytest.raises(ValueError, match=r"no such rows \['yolo'\]"):
        cmp.table_rows(results, ["yolo"])


def test_best_model():
    rows = {
        "a": make_row(map50=0.5, infer_ms=10.0, ap_small=0.2),
        "b": make_row(map50=0.7, infer_ms=50.0, ap_small=-1.0),
        "c": make_row(map50=0.5, infer_ms=4.0, ap_small=0.1),
    }
    results = {"rows": rows}
    assert cmp.best_model(results) == "b"
    assert cmp.best_model(results, "map50", "infer_ms", 49.9) == "c"  # tie: the cheaper
    assert cmp.best_model(results, "map50", "infer_ms", 50.0) == "b"  # <= budget
    assert cmp.best_model(results, "map50", "infer_ms", 1.0) is None
    assert cmp.best_model(results, "ap_small") == "a"  # -1 never wins
    with pytest.raises(ValueError, match="metric must be one of"):
        cmp.best_model(results, "mAP")
    with pytest.raises(ValueError, match="cost must be one of"):
        cmp.best_model(results, "map50", "fps", 3)
    with pytest.raises(ValueError, match="give both cost and budget"):
        cmp.best_model(results, "map50", "infer_ms")


# ----------------------------------------------------------------------------- on pace
class Quadratic(nn.Module):
    """A 'detector' whose loss is ``w**2``; optionally slow, to trip the time-aware schedule."""

    def __init__(self, sleep: float = 0.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))
        self.sleep = sleep

    def forward(self, images, targets=None):
        if self.sleep:
            import time

            time.sleep(self.sleep)
        return {"loss_w": self.w**2}


def batches(n):
    return [([torch.zeros(3, 4, 4)], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}])] * n


def test_schedule_on_pace_on_real_runs():
    training = Training(epochs=2, lr=0.1, warmup_iters=3)
    history = fit(Quadratic(), batches(20), epochs=2, optimizer="sgd", lr=0.1, warmup_iters=3,
                  progress=False)  # fmt: skip
    assert len(history.lr) == 40
    assert history.lr[5] == pytest.approx(0.1 * lr_factor(5, 40, warmup_iters=3))
    assert cmp.schedule_on_pace(history.lr, training, 20)
    assert not cmp.schedule_on_pace(history.lr, Training(epochs=2, lr=0.2, warmup_iters=3), 20)
    # 40 iterations of 10 ms against a 0.2 s cap: projected to overrun, the clock takes over
    slow = fit(Quadratic(0.01), batches(20), epochs=2, optimizer="sgd", lr=0.1, warmup_iters=3,
               max_seconds=0.2, progress=False)  # fmt: skip
    assert not cmp.schedule_on_pace(slow.lr, training, 20)


def test_row_carries_params_sizes_and_pace():
    from dlcv_utils.course.recipes import RecipeResult
    from dlcv_utils.engine import History

    model = nn.Linear(3, 2)  # 3 * 2 + 2 parameters
    history = History()
    history.record_step({"loss_a": 1.0}, lr=0.1, grad_norm=1.0)
    metrics = {
        "map50": 0.5,
        "map": 0.25,
        "seconds_per_image": 0.002,
        "coco": {"APs": 0.1, "APm": 0.2, "APl": -1.0},
    }
    row = cmp.recipe_row("m", RecipeResult(model, history, metrics, 12.0, True))
    assert row["params"] == 3 * 2 + 2
    assert (row["ap_small"], row["ap_medium"], row["ap_large"]) == (0.1, 0.2, -1.0)
    assert row["infer_ms"] == pytest.approx(2.0) and row["on_pace"] is True
    assert row["iterations"] == 1 and row["stop_reason"] is None


# ----------------------------------------------------------------------------- the script
def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_detectors", ROOT / "benchmarks" / "bench_detectors.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_script_writes_and_merges(tmp_path, monkeypatch, capsys):
    from dlcv_utils.course import recipes

    bench = load_bench()
    fake = {"ssd": make_row(map50=0.4), "rcnn": make_row("R-CNN", "04", map50=0.7)}

    def run_benchmark(name, device=None, progress=False):
        row = {k: v for k, v in fake[name].items() if k not in ("family", "lesson")}
        return dict(row, model=f"fake {name}")

    monkeypatch.setattr(recipes, "run_benchmark", run_benchmark)
    path = tmp_path / "detectors_cpu.json"
    assert bench.main(["--only", "ssd", "--results", str(path)]) == 0
    assert bench.main(["--only", "rcnn", "--results", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| 08 | fake ssd |" in out and f"saved to {path}" in out
    results = cmp.load_results(path)
    assert list(results["rows"]) == ["rcnn", "ssd"]
    ssd = results["rows"]["ssd"]
    assert (ssd["family"], ssd["lesson"], ssd["map50"]) == ("SSD", "08", 0.4)
    assert set(ssd["run"]) >= {"date", "commit", "dirty", "load_before", "load_after", "threads"}
    assert ssd["run"]["dirty"] in (True, False, None)
    assert set(results["settings"]) == {"04", "08"}
    assert results["settings"]["08"]["train"]["epochs"] >= 1  # dataclasses.asdict of Lesson08
    assert {"platform", "cpu", "torch", "torch_threads"} <= set(results["device"])
    # --no-save leaves the file alone
    before = path.read_text()
    fake["ssd"]["map50"] = 0.9
    assert bench.main(["--only", "ssd", "--results", str(path), "--no-save"]) == 0
    assert path.read_text() == before


def test_bench_script_does_not_store_an_incomplete_row(tmp_path, monkeypatch, capsys):
    from dlcv_utils.course import recipes

    bench = load_bench()
    row = make_row()
    del row["ap_small"], row["family"], row["lesson"]
    monkeypatch.setattr(recipes, "run_benchmark", lambda name, device=None: dict(row))
    path = tmp_path / "detectors_cpu.json"
    bench.main(["--only", "ssd", "--results", str(path)])
    assert not path.exists()
    assert "ssd: NOT saved" in capsys.readouterr().out


def test_recipe_row_keeps_extras_and_every_key():
    from dlcv_utils.course.recipes import RecipeResult
    from dlcv_utils.engine import History

    history = History()
    history.record_step({"loss_a": 1.0}, lr=0.1, grad_norm=1.0)
    metrics = {"map50": 0.5, "map": 0.25, "seconds_per_image": 0.01}
    metrics["coco"] = {"APs": 0.1, "APm": 0.2, "APl": 0.3}
    result = RecipeResult(nn.Conv2d(3, 4, 3), history, metrics, 5.0, False)
    assert cmp.recipe_row("m", result, proposal_ms=2.0)["proposal_ms"] == 2.0
    assert cmp.recipe_row("m", result, map50=0.9)["map50"] == 0.9  # extras win
    assert cmp.recipe_row("m", result)["params"] == 3 * 4 * 3 * 3 + 4
    assert set(cmp.ROW_KEYS) - set(cmp.recipe_row("m", result)) == {"family", "lesson"}
