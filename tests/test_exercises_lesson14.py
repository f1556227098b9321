"""Tests for lesson 14's exercise checkers (reading the benchmark table).

Per checker: the model solution passes, typical wrong answers fail on the expected case with
their hint, a stub is reported as not attempted, bad arguments raise. The checkers also run on
a table written like the lesson's (rows from a results file in tmp_path).
"""

from __future__ import annotations

import pytest

from dlcv_utils.course import comparison as cmp
from dlcv_utils.course import exercises as ex

TABLE = [
    {"name": "rcnn", "family": "R-CNN", "map50": 0.74, "ap_small": 0.30, "infer_ms": 21.0},
    {"name": "faster_rcnn", "family": "Faster", "map50": 0.84, "ap_small": 0.25, "infer_ms": 45.0},
    {"name": "ssd", "family": "SSD", "map50": 0.39, "ap_small": 0.20, "infer_ms": 3.6},
    {"name": "yolo_v3", "family": "YOLO", "map50": 0.62, "ap_small": -1.0, "infer_ms": 2.5},
]


# ----------------------------------------------------------------------------- wrong answers
def budget_ignores_budget(rows, budget_ms):
    return max(rows, key=lambda r: r["map50"])["name"]


def budget_strict(rows, budget_ms):
    fast = [r for r in rows if r["infer_ms"] < budget_ms]
    return max(fast, key=lambda r: r["map50"])["name"] if fast else None


def budget_fastest(rows, budget_ms):
    fast = [r for r in rows if r["infer_ms"] <= budget_ms]
    return min(fast, key=lambda r: r["infer_ms"])["name"] if fast else None


def budget_crashes_when_empty(rows, budget_ms):
    return max((r for r in rows if r["infer_ms"] <= budget_ms), key=lambda r: r["map50"])["name"]


def budget_returns_row(rows, budget_ms):
    fast = [r for r in rows if r["infer_ms"] <= budget_ms]
    return max(fast, key=lambda r: r["map50"]) if fast else None


def small_uses_map50(rows):
    return max(rows, key=lambda r: r["map50"])["name"]


def small_keeps_minus_one(rows):
    return max(rows, key=lambda r: abs(r["ap_small"]))["name"]


def small_never_none(rows):
    return max(rows, key=lambda r: r["ap_small"])["name"]


def small_forgets_return(rows):
    max(rows, key=lambda r: r["ap_small"])


CHECKERS = [
    (
        ex.check_best_under_budget,
        ex.solution_best_under_budget,
        [
            (budget_ignores_budget, "the lesson's table, budget 2.50 ms", "exactly the budget"),
            (budget_strict, "the lesson's table, budget 2.50 ms", "fits it (<=)"),
            (budget_fastest, "the lesson's table, budget 21.00 ms", ""),
            (budget_crashes_when_empty, "nothing is fast enough", "return None"),
            (budget_returns_row, "the lesson's table, budget 2.50 ms", "return the row's name"),
        ],
    ),
    (
        ex.check_best_small,
        ex.solution_best_small,
        [
            (small_uses_map50, "the lesson's table", ""),
            (small_keeps_minus_one, "the lesson's table", ""),
            (small_never_none, "no row has small objects", "return None"),
            (small_forgets_return, "the lesson's table", "forget to `return`"),
        ],
    ),
]


@pytest.mark.parametrize(("check", "solution"), [(c, s) for c, s, _ in CHECKERS])
def test_the_solution_passes(check, solution, capsys):
    assert check(solution, rows=TABLE, n_random=25) is True
    assert capsys.readouterr().out.startswith(f"✓ {solution.__name__} passes all")


@pytest.mark.parametrize(
    ("check", "wrong", "case", "hint"), [(c, *w) for c, _, wrongs in CHECKERS for w in wrongs]
)
def test_wrong_answers_fail_with_a_hint(check, wrong, case, hint, capsys):
    assert check(wrong, rows=TABLE, n_random=10) is False
    out = capsys.readouterr().out
    assert f"✗ {wrong.__name__} fails on case '{case}'" in out
    assert hint in out


@pytest.mark.parametrize("check", [c for c, _, _ in CHECKERS])
def test_stub_is_not_attempted_and_bad_arguments_raise(check, capsys):
    def stub(*args):
        raise NotImplementedError

    assert check(stub, rows=TABLE) is False
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="fn must be a function"):
        check("ssd", rows=TABLE)
    with pytest.raises(ValueError, match="n_random must be a non-negative int"):
        check(stub, rows=TABLE, n_random=-1)
    with pytest.raises(TypeError, match="rows must be a list of row dicts"):
        check(stub, rows={"ssd": TABLE[2]})
    with pytest.raises(ValueError, match=r"rows\[0\] has no \['infer_ms'\]"):
        check(stub, rows=[{"name": "x", "map50": 0.1, "ap_small": 0.1}])


def test_solutions_by_hand():
    # 30 fps = 33.3 ms: Faster R-CNN (45 ms) is out, R-CNN (21 ms) is the most accurate left
    assert ex.solution_best_under_budget(TABLE, 1000 / 30) == "rcnn"
    assert ex.solution_best_under_budget(TABLE, 3.0) == "yolo_v3"
    assert ex.solution_best_under_budget(TABLE, 2.0) is None
    assert ex.solution_best_small(TABLE) == "rcnn"  # not the most accurate overall
    assert ex.solution_best_small([TABLE[3]]) is None
    assert "best_under_budget" in ex.SOLUTIONS and "best_small" in ex.SOLUTIONS


def test_on_a_table_read_from_a_results_file(tmp_path, capsys):
    full = {"model": "m", "map": 0.2, "ap_medium": 0.3, "ap_large": -1.0, "params": 10}
    full |= {"train_s": 1.0, "iterations": 1, "stop_reason": None, "on_pace": True}
    rows = {r["name"]: {**full, **r, "lesson": "00"} for r in TABLE}
    results = cmp.merge_results(
        None, rows, device_kind="cpu", device={}, settings={}, date="d", commit="c"
    )
    path = cmp.write_results(tmp_path / "detectors_cpu.json", results)
    table = cmp.table_rows(cmp.load_results(path))
    assert ex.check_best_under_budget(ex.solution_best_under_budget, rows=table, n_random=3)
    assert ex.check_best_small(ex.solution_best_small, rows=table, n_random=3)
    # the lesson's table is tried with each of its inference times as a budget, and at 30 fps
    n_cases = len(TABLE) + 1 + 5 + 3  # + 5 hand-made tables + 3 random ones
    assert f"passes all {n_cases} cases" in capsys.readouterr().out.splitlines()[0]
