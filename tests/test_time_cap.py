"""A run cut short by its time cap says so in one line, and the notebook build refuses it."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from dlcv_utils.engine import fit
from dlcv_utils.engine.budget import TIME_CAP_PREFIX, time_cap_message

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


class Quadratic(nn.Module):
    """A 'detector' whose only loss is w**2."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(3.0))

    def forward(self, images, targets=None):
        return {"loss_w": self.w**2}


BATCHES = [([torch.zeros(3, 4, 4)], [{}])] * 5  # 5 iterations per epoch


def time_cap_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(TIME_CAP_PREFIX)]


@pytest.mark.parametrize("progress", [True, False])
def test_capped_fit_prints_exactly_one_time_cap_line(capsys, monkeypatch, progress):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    h = fit(Quadratic(), BATCHES, epochs=4, lr=0.1, warmup_iters=0, device="cpu",
            progress=progress, max_seconds=1e-9, seed=0)  # fmt: skip
    out = capsys.readouterr().out
    assert h.iterations == 1  # the tiny cap is spent after the first step
    assert time_cap_lines(out) == [
        "TIME CAP: training stopped after 1 of 20 iterations (max_seconds=1e-09)"
    ]
    assert h.stop_reason is not None


def test_uncapped_and_on_time_runs_print_no_time_cap_line(capsys, monkeypatch):
    fit(Quadratic(), BATCHES, epochs=2, lr=0.1, warmup_iters=0, device="cpu", progress=True)
    fit(Quadratic(), BATCHES, epochs=2, lr=0.1, warmup_iters=0, device="cpu", max_seconds=1e6)
    assert time_cap_lines(capsys.readouterr().out) == []

    # the budget runs out exactly at the last step: every iteration ran, so nothing was cut
    import dlcv_utils.engine.budget as budget

    calls = {"n": 0}

    def clock():
        calls["n"] += 1
        return float(calls["n"])  # each reading one second later

    monkeypatch.setattr(budget.time, "perf_counter", clock)
    h = fit(Quadratic(), BATCHES[:1], epochs=1, lr=0.1, warmup_iters=0, device="cpu",
            progress=False, max_seconds=0.5, time_aware_schedule=False)  # fmt: skip
    assert h.iterations == 1 and h.stop_reason is None
    assert time_cap_lines(capsys.readouterr().out) == []


def test_time_cap_message_format():
    assert time_cap_message(1325, 1800, 220.0) == (
        "TIME CAP: training stopped after 1325 of 1800 iterations (max_seconds=220)"
    )


# ----------------------------------------------------------------------------- the build script
def executed_notebook(*outputs):
    """A notebook as nbclient leaves it: a markdown cell, a quiet cell, then ``outputs``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lesson 99\nTIME CAP: in prose is not an output"),
        nbformat.v4.new_code_cell("x = 1", outputs=[]),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nrun = train_and_evaluate(...)", outputs=list(outputs)),
    ]  # fmt: skip
    return nb


CAPPED = nbformat.v4.new_output(
    "stream",
    name="stdout",
    text="epoch 1/12: loss 1.0\nTIME CAP: training stopped after 1325 of 1800 iterations "
    "(max_seconds=220)\nepoch ...\n",
)


def test_time_capped_cells_finds_the_line_in_stream_and_text_outputs():
    import build_notebooks as b

    assert b.time_capped_cells(executed_notebook(CAPPED)) == [
        (2, "TIME CAP: training stopped after 1325 of 1800 iterations (max_seconds=220)")
    ]
    result = nbformat.v4.new_output(
        "execute_result", data={"text/plain": "'TIME CAP: training stopped after 3 of 9'"}
    )
    assert b.time_capped_cells(executed_notebook(result)) == []  # a repr, not a printed line
    result.data["text/plain"] = "TIME CAP: training stopped after 3 of 9 iterations"
    assert [i for i, _ in b.time_capped_cells(executed_notebook(result))] == [2]
    clean = nbformat.v4.new_output("stream", name="stdout", text="epoch 1/12: loss 1.0\n")
    assert b.time_capped_cells(executed_notebook(clean)) == []
    # a notebook read from disk (lists of lines, as JSON stores them) works too
    nb = nbformat.reads(nbformat.writes(executed_notebook(CAPPED)), as_version=4)
    assert len(b.time_capped_cells(nb)) == 1


def test_build_refuses_a_capped_run_and_leaves_the_old_notebook(tmp_path, monkeypatch):
    import build_notebooks as b

    import dlcv_utils.course.runner as runner

    src = tmp_path / "lessons" / "99_capped.py"
    src.parent.mkdir()
    src.write_text("# %%\nx = 1\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    old = notebooks / "99_capped.ipynb"
    old.write_text("the old notebook", encoding="utf-8")
    monkeypatch.setattr(b, "NOTEBOOKS", notebooks)
    ran = executed_notebook(CAPPED)
    monkeypatch.setattr(runner, "execute_notebook", lambda *a, **k: (ran, None, None))
    monkeypatch.setattr(b, "repository_url", lambda *a: "https://github.com/me/course")

    with pytest.raises(SystemExit) as err:
        b.build(src)
    message = str(err.value)
    assert "99_capped.py" in message and "cell 2" in message and "TIME CAP:" in message
    assert old.read_text(encoding="utf-8") == "the old notebook"

    ran.cells[2].outputs = []  # the same lesson with a complete run is written
    assert b.build(src) == old
    assert nbformat.read(old, as_version=4).cells[2].source.startswith("# NBVAL_IGNORE_OUTPUT")
