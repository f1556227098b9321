"""Reporting helpers shared by the lesson checkers (one line per result, a hint on failure).

Every ``check_*`` function runs the learner's function on hand-made edge cases and seeded random
cases, prints ``✓ ... passes all N cases`` or the first failing case (inputs, expected, got, a
hint), and returns ``True`` or ``False``. A function that still raises ``NotImplementedError``
(the stub in the notebook) is reported as "not attempted yet".
"""

from __future__ import annotations

import math

import numpy as np

NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError` in {name} above with your code,"
    " then run this cell again."
)


def fn_name(fn) -> str:
    """The name shown in reports: ``fn.__name__`` or its ``repr``."""
    return getattr(fn, "__name__", repr(fn))


def check_callable(fn, what: str) -> None:
    """Raise ``TypeError`` naming the expected signature when ``fn`` is not callable."""
    if not callable(fn):
        raise TypeError(f"fn must be a function ({what}), got {type(fn).__name__}")


def check_n_random(n_random) -> int:
    """Validate ``n_random`` (a non-negative int) and return it."""
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 0:
        raise ValueError(f"n_random must be a non-negative int, got {n_random!r}")
    return n_random


def fmt(x) -> str:
    """Short text of a value for a report: floats with 4 decimals, arrays rounded."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, float | np.floating):
        return f"{float(x):.4f}"
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=3, separator=", ", threshold=40)
    return repr(x)


def report_fail(name: str, case: str, inputs: str, expected: str, got: str, hint: str) -> bool:
    """Print the first failing case and return ``False``."""
    print(f"✗ {name} fails on case '{case}'.")
    print(f"    input:    {inputs}")
    print(f"    expected: {expected}")
    print(f"    got:      {got}")
    if hint:
        print(f"    hint:     {hint}")
    return False


def report_pass(name: str, n: int, what: str) -> bool:
    """Print the success line and return ``True``."""
    print(f"✓ {name} passes all {n} cases ({what}).")
    return True


def report_not_attempted(name: str) -> bool:
    """Print the "not attempted yet" line and return ``False``."""
    print(f"{name}: " + NOT_ATTEMPTED.format(name=name))
    return False


def as_array(got, shape: tuple[int, ...] | None = None) -> np.ndarray | None:
    """``got`` (tensor, array, list or tuple) as a float64 array, or ``None`` if impossible.

    With ``shape``, an array of another shape is also ``None``.
    """
    if got is None:
        return None
    if hasattr(got, "detach"):
        got = got.detach().cpu().numpy()
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if shape is not None and arr.shape != tuple(shape):
        return None
    return arr


def run_cases(fn, cases, call, compare, what: str, n_random: int) -> bool:
    """Run ``fn`` on every case and report, the loop all array-valued checkers share.

    Args:
        fn: the learner's function.
        cases: iterable of ``(case name, inputs, expected, hint)``; ``inputs`` is a tuple.
        call: ``call(fn, inputs)`` runs ``fn`` on copies of the inputs.
        compare: ``compare(got, expected) -> str | None``: ``None`` when ``got`` is right,
            otherwise the text shown as "got" (a reason may be appended after ``" -- "``).
        what: description of the cases for the success line.
        n_random: number of random cases (only shown in the success line).

    Returns:
        ``True`` when every case passes.
    """
    name = fn_name(fn)
    n = 0
    for case, inputs, expected, hint in cases:
        n += 1
        shown = ", ".join(fmt(v) for v in inputs)
        try:
            got = call(fn, inputs)
        except NotImplementedError:
            return report_not_attempted(name)
        except Exception as exc:
            return report_fail(
                name, case, shown, fmt(expected), f"{type(exc).__name__}: {exc}", hint
            )
        if got is None:
            return report_fail(
                name, case, shown, fmt(expected), "None", "did you forget to `return` the result?"
            )
        problem = compare(got, expected)
        if problem is not None:
            return report_fail(name, case, shown, fmt(expected), problem, hint)
    return report_pass(name, n, what.format(n_random=n_random))


def close(got, expected, atol: float = 1e-4) -> str | None:
    """``compare`` for arrays: ``None`` when ``got`` has ``expected``'s shape and values."""
    exp = np.asarray(expected, dtype=np.float64)
    arr = as_array(got)
    if arr is None:
        return f"{got!r} -- not a number array"
    if arr.shape != exp.shape:
        return f"array of shape {arr.shape} -- expected shape {exp.shape}"
    if not np.all(np.isfinite(arr) == np.isfinite(exp)) or not np.allclose(
        arr, exp, atol=atol, rtol=1e-5, equal_nan=True
    ):
        return fmt(arr)
    return None


def close_float(got, expected, atol: float = 1e-6) -> str | None:
    """``compare`` for one number."""
    try:
        g = float(got)
    except (TypeError, ValueError):
        return f"{got!r} -- return one number (a float)"
    if not (math.isfinite(g) and abs(g - float(expected)) <= atol):
        return fmt(g)
    return None
