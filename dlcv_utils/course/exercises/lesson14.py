"""Lesson 14's exercises: read the benchmark table for a real-time budget and for small objects.

Taught in lesson 14. The learner's functions take the table's rows (dicts with ``name``,
``family``, ``map50``, ``ap_small``, ``infer_ms``, ..., as
:func:`dlcv_utils.course.comparison.table_rows` returns them); the reference is
:func:`dlcv_utils.course.comparison.best_model`. The checkers run the learner's function on the
lesson's own table (the committed benchmark results) with budgets taken from it, then on
hand-made and seeded random tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from dlcv_utils.course.comparison import best_model
from dlcv_utils.course.exercises._common import (
    check_callable,
    check_n_random,
    fn_name,
    report_fail,
    report_not_attempted,
    report_pass,
)

__all__ = [
    "SOLUTIONS",
    "check_best_small",
    "check_best_under_budget",
    "solution_best_small",
    "solution_best_under_budget",
]


# ------------------------------------------------------------------------------ solutions
def solution_best_under_budget(rows, budget_ms: float) -> str | None:
    """Model solution: the ``name`` of the most accurate row (``map50``) with
    ``infer_ms <= budget_ms``; ties go to the faster row; ``None`` if no row is fast enough.

    Example:
        >>> rows = [{"name": "a", "map50": 0.5, "infer_ms": 4.0},
        ...         {"name": "b", "map50": 0.8, "infer_ms": 40.0}]
        >>> solution_best_under_budget(rows, 33.3), solution_best_under_budget(rows, 1.0)
        ('a', None)
    """
    fast = [r for r in rows if r["infer_ms"] <= budget_ms]
    if not fast:
        return None
    return max(fast, key=lambda r: (r["map50"], -r["infer_ms"]))["name"]


def solution_best_small(rows) -> str | None:
    """Model solution: the ``name`` of the row with the highest ``ap_small``.

    An ``ap_small`` of -1 means "no small objects were evaluated": it is not a score, such a
    row never wins; ``None`` if no row has one.

    Example:
        >>> rows = [{"name": "a", "map50": 0.9, "ap_small": 0.1},
        ...         {"name": "b", "map50": 0.6, "ap_small": 0.3}]
        >>> solution_best_small(rows)
        'b'
    """
    scored = [r for r in rows if r["ap_small"] >= 0]
    if not scored:
        return None
    return max(scored, key=lambda r: r["ap_small"])["name"]


SOLUTIONS: dict[str, Callable] = {
    "best_under_budget": solution_best_under_budget,
    "best_small": solution_best_small,
}


# ------------------------------------------------------------------------------ cases
class _Table(list):
    """A list of rows that a failure report shows by its names, not in full."""

    def __repr__(self) -> str:
        return f"<table of {len(self)} rows: {', '.join(r['name'] for r in self)}>"


def _as_results(rows: Sequence[Mapping]) -> dict:
    return {"rows": {r["name"]: dict(r) for r in rows}}


def _row(name, map50, infer_ms, ap_small=0.1):
    return {
        "name": name,
        "family": name,
        "map50": map50,
        "infer_ms": infer_ms,
        "ap_small": ap_small,
    }


def _check_rows(rows) -> list[dict]:
    if rows is None:
        return []
    if isinstance(rows, Mapping) or not all(isinstance(r, Mapping) for r in rows):
        raise TypeError("rows must be a list of row dicts (comparison.table_rows(results))")
    for i, r in enumerate(rows):
        missing = [k for k in ("name", "map50", "ap_small", "infer_ms") if k not in r]
        if missing:
            raise ValueError(f"rows[{i}] has no {missing}")
    return [dict(r) for r in rows]


def _random_tables(n_random: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        n = int(rng.integers(2, 13))
        ms = rng.uniform(0.5, 80, n).round(2)
        rows = [
            _row(
                f"model_{k}",
                round(float(rng.uniform(0.05, 0.95)), 4),
                float(ms[k]),
                -1.0 if rng.random() < 0.2 else round(float(rng.uniform(0, 0.6)), 4),
            )
            for k in range(n)
        ]
        yield i, rows, float(rng.uniform(0, 90))


def _budget_cases(rows: list[dict], n_random: int, seed: int):
    def case(name, table, budget, hint):
        expected = best_model(_as_results(table), "map50", "infer_ms", budget)
        return (name, (_Table(table), budget), expected, hint)

    hand_table = [_row("fast", 0.40, 3.0), _row("medium", 0.55, 20.0), _row("slow", 0.80, 60.0)]
    cases = []
    if rows:
        for ms in sorted({r["infer_ms"] for r in rows}):
            cases.append(
                case(
                    f"the lesson's table, budget {ms:.2f} ms",
                    rows,
                    ms,
                    "a model that takes exactly the budget fits it (<=).",
                )
            )
        cases.append(case("the lesson's table, 30 fps (33.3 ms)", rows, 1000 / 30, ""))
    cases += [
        case(
            "the most accurate model is too slow",
            hand_table,
            33.3,
            "keep only the rows with infer_ms <= budget, then take the highest map50.",
        ),
        case("budget exactly a model's time", hand_table, 20.0, "infer_ms <= budget counts."),
        case(
            "nothing is fast enough",
            hand_table,
            1.0,
            "when no row fits the budget, return None.",
        ),
        case(
            "a tie on accuracy",
            [_row("a", 0.5, 9.0), _row("b", 0.5, 4.0), _row("c", 0.2, 1.0)],
            10.0,
            "two rows equally accurate: the faster one wins.",
        ),
        case(
            "return the name",
            [_row("only", 0.3, 2.0)],
            5.0,
            "return the row's 'name' (a string), not the row or its mAP.",
        ),
    ]
    for i, table, budget in _random_tables(n_random, seed):
        cases.append(case(f"random table #{i}, budget {budget:.1f} ms", table, budget, ""))
    return cases


def _small_cases(rows: list[dict], n_random: int, seed: int):
    def case(name, table, hint):
        return (name, (_Table(table),), best_model(_as_results(table), "ap_small"), hint)

    cases = [case("the lesson's table", rows, "")] if rows else []
    cases += [
        case(
            "the most accurate overall is not the best on small objects",
            [_row("big", 0.9, 10.0, 0.05), _row("small", 0.6, 10.0, 0.30)],
            "compare ap_small, not map50.",
        ),
        case(
            "-1 means no small objects",
            [_row("none", 0.9, 1.0, -1.0), _row("some", 0.2, 1.0, 0.0)],
            "ap_small = -1 is 'not evaluated', not a score: such a row cannot win; an AP of "
            "0.0 is a real score.",
        ),
        case(
            "no row has small objects",
            [_row("a", 0.9, 1.0, -1.0), _row("b", 0.5, 1.0, -1.0)],
            "when every ap_small is -1, return None.",
        ),
    ]
    for i, table, _ in _random_tables(n_random, seed):
        cases.append(case(f"random table #{i}", table, ""))
    return cases


def _same_name(got, expected) -> str | None:
    if got == expected and (got is None or isinstance(got, str)):
        return None
    if isinstance(got, Mapping):
        return f"{got!r} -- return the row's name, not the row"
    return repr(got)


def _run(fn, cases, what: str) -> bool:
    """:func:`run_cases` for answers that may rightly be ``None`` (no row qualifies)."""
    name = fn_name(fn)
    cases = list(cases)
    for case, inputs, expected, hint in cases:
        shown = ", ".join(repr(v) for v in inputs)
        try:
            got = fn([dict(r) for r in inputs[0]], *inputs[1:])
        except NotImplementedError:
            return report_not_attempted(name)
        except Exception as exc:
            return report_fail(
                name, case, shown, repr(expected), f"{type(exc).__name__}: {exc}", hint
            )
        problem = _same_name(got, expected)
        if problem is not None:
            if got is None:
                hint = hint or "did you forget to `return` the result?"
            return report_fail(name, case, shown, repr(expected), problem, hint)
    return report_pass(name, len(cases), what)


# ------------------------------------------------------------------------------ checkers
def check_best_under_budget(fn: Callable, rows=None, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(rows, budget_ms) -> name or None``: the most accurate model within a budget.

    Args:
        fn: the learner's function.
        rows: the lesson's table (``comparison.table_rows(results)``); every inference time in
            it is tried as a budget, and 30 frames per second.
        n_random: how many seeded random tables to add to the hand-made ones.
        seed: seed of the random tables.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: ``fn`` not callable, ``rows`` not a list of dicts.
        ValueError: a row without ``name``/``map50``/``ap_small``/``infer_ms``; a negative
            ``n_random``.

    Example:
        >>> check_best_under_budget(solution_best_under_budget, n_random=2)
        ✓ solution_best_under_budget passes all 7 cases (the lesson's table + edge cases + 2 random tables).
        True
    """
    check_callable(fn, "fn(rows, budget_ms) -> name")
    check_n_random(n_random)
    rows = _check_rows(rows)
    what = f"the lesson's table + edge cases + {n_random} random tables"
    return _run(fn, _budget_cases(rows, n_random, seed), what)


def check_best_small(fn: Callable, rows=None, n_random: int = 30, seed: int = 0) -> bool:
    """Check ``fn(rows) -> name or None``: the model with the best AP on small objects.

    Args:
        fn: the learner's function.
        rows: the lesson's table (``comparison.table_rows(results)``).
        n_random: how many seeded random tables to add to the hand-made ones.
        seed: seed of the random tables.

    Returns:
        ``True`` when every case agrees; otherwise prints the first failing case and returns
        ``False``.

    Raises:
        TypeError: ``fn`` not callable, ``rows`` not a list of dicts.
        ValueError: a row without ``name``/``map50``/``ap_small``/``infer_ms``; a negative
            ``n_random``.

    Example:
        >>> check_best_small(solution_best_small, n_random=2)
        ✓ solution_best_small passes all 5 cases (the lesson's table + edge cases + 2 random tables).
        True
    """
    check_callable(fn, "fn(rows) -> name")
    check_n_random(n_random)
    rows = _check_rows(rows)
    what = f"the lesson's table + edge cases + {n_random} random tables"
    return _run(fn, _small_cases(rows, n_random, seed), what)
