"""The training-time budget: a safety net on the wall time of a run (lesson 05).

A :class:`TimeBudget` measures training time only: :meth:`TimeBudget.paused` excludes what
happens inside it (evaluation). With ``time_aware=True`` a run too slow to finish inside
``max_seconds`` follows the elapsed fraction of the budget instead of its iteration count, so
its learning-rate warm-up and decay still complete when the time runs out; a run on pace to
finish is not affected (and stays repeatable).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from dlcv_utils.validation import check_int, check_number

__all__ = ["TIME_CAP_PREFIX", "TimeBudget", "time_cap_message", "yolo_budget_callback"]

#: the start of the one stdout line :func:`dlcv_utils.engine.fit` prints when the time cap cut
#: training short; ``scripts/build_notebooks.py`` refuses to store a notebook that shows it.
TIME_CAP_PREFIX = "TIME CAP:"


def time_cap_message(iterations: int, total_iters: int, max_seconds: float) -> str:
    """The line announcing that ``max_seconds`` stopped a run after ``iterations`` steps.

    Example:
        >>> time_cap_message(1325, 1800, 220.0)
        'TIME CAP: training stopped after 1325 of 1800 iterations (max_seconds=220)'
    """
    return (
        f"{TIME_CAP_PREFIX} training stopped after {iterations} of {total_iters} iterations "
        f"(max_seconds={max_seconds:g})"
    )


class TimeBudget:
    """Training time left for a run of ``total_iters`` iterations.

    Args:
        max_seconds: the budget in seconds, or ``None`` for no limit.
        total_iters: the planned number of iterations.
        time_aware: let the schedule follow the elapsed time when the run falls behind.

    Example:
        >>> budget = TimeBudget(None, total_iters=100)
        >>> budget.exhausted(), budget.schedule_iteration(10)
        (False, 10)
    """

    def __init__(self, max_seconds: float | None, total_iters: int, time_aware: bool = True):
        if max_seconds is not None:
            max_seconds = check_number(max_seconds, "max_seconds", low=0.0, low_open=True)
        self.max_seconds = max_seconds
        self.total_iters = check_int(total_iters, "total_iters", minimum=1)
        self.time_aware = bool(time_aware)
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        """Training seconds since the start, pauses excluded."""
        return time.perf_counter() - self._start

    def exhausted(self) -> bool:
        """Whether the training time is over the budget."""
        return self.max_seconds is not None and self.elapsed() > self.max_seconds

    def schedule_iteration(self, iteration: int) -> int:
        """The iteration the learning-rate schedule should use after ``iteration`` steps.

        The schedule follows the elapsed time only once the run is *projected to overrun* its
        budget, judged from the pace of at least the first 5 % of its iterations. A run on pace
        keeps its plain iteration count, so its result does not depend on the machine's timing
        (the first iterations are always slow; following them would shift the warm-up).

        Example:
            >>> budget = TimeBudget(10.0, total_iters=100)
            >>> budget._start -= 5.0  # pretend 5 of the 10 seconds are gone after 20 steps
            >>> budget.schedule_iteration(20)  # projected 25 s > 10 s: half the time, half the schedule
            50
            >>> budget.schedule_iteration(60)  # projected 8.3 s: on pace, the plain count
            60
            >>> budget.schedule_iteration(3)  # fewer than 5 % of the iterations: too early to judge
            3
        """
        if self.max_seconds is None or not self.time_aware:
            return iteration
        if iteration < max(1, self.total_iters // 20):
            return iteration
        elapsed = self.elapsed()
        if elapsed / iteration * self.total_iters <= self.max_seconds:  # on pace
            return iteration
        return max(iteration, int(self.total_iters * elapsed / self.max_seconds))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside the ``with`` block does not count against the budget."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._start += time.perf_counter() - t0


def yolo_budget_callback(max_train_seconds: float | None):
    """An ``on_train_epoch_end`` callback that stops Ultralytics' training after the budget.

    Ultralytics' own ``time=`` argument *replaces* ``epochs`` (a fast machine would train
    longer); this one only cuts a slow run short: after the first epoch that ends past
    ``max_train_seconds``, the trainer validates and stops (its learning-rate schedule is
    not refitted), and one ``TIME CAP:`` line is printed when epochs were left (the notebook
    build refuses such a run). ``None`` never stops.

    Example:
        >>> from types import SimpleNamespace
        >>> trainer = SimpleNamespace(stop=False, train_time_start=0.0, epoch=2, epochs=30)
        >>> yolo_budget_callback(1.0)(trainer); trainer.stop
        TIME CAP: training stopped after 3 of 30 epochs (max_train_seconds=1)
        True
    """

    def on_train_epoch_end(trainer) -> None:
        if max_train_seconds is not None:
            if time.time() - trainer.train_time_start > max_train_seconds:
                trainer.stop = True
                done, total = trainer.epoch + 1, trainer.epochs
                if done < total:  # the build refuses a notebook whose training was cut
                    print(
                        f"{TIME_CAP_PREFIX} training stopped after {done} of {total} epochs "
                        f"(max_train_seconds={max_train_seconds:g})"
                    )

    return on_train_epoch_end
