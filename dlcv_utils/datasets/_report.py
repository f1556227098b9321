"""What :func:`dlcv_utils.datasets.validate` reports: problems, the report, the strict error.

Taught in lesson 02.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DatasetValidationError", "Problem", "ValidationReport"]


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate`.

    Attributes:
        file: the file concerned.
        where: position inside it: ``"line 3"``, ``"object 1"``, ``"annotations[4] (id 9)"``,
            ``"line 1, column 17"``..., or ``""`` for the whole file.
        reason: what is wrong.
        fix: what repair mode did about it (``None`` when not repaired).
    """

    file: str
    where: str
    reason: str
    fix: str | None = None

    def __str__(self) -> str:
        s = f"{self.file}: {self.where + ': ' if self.where else ''}{self.reason}"
        return s + (f" -> {self.fix}" if self.fix else "")


class DatasetValidationError(ValueError):
    """Raised by strict validation; ``.problems`` holds every :class:`Problem` found.

    Example:
        >>> err = DatasetValidationError([Problem("a.txt", "line 2", "expected 5 fields, got 4")])
        >>> print(err)
        1 problem(s) found:
          a.txt: line 2: expected 5 fields, got 4
        >>> isinstance(err, ValueError)
        True
    """

    def __init__(self, problems: list[Problem], limit: int = 50):
        self.problems = list(problems)
        lines = [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        super().__init__(f"{len(self.problems)} problem(s) found:\n" + "\n".join(lines))


@dataclass
class ValidationReport:
    """Result of :func:`validate`.

    Attributes:
        problems: problems still present (after repair, the ones it could not fix).
        repaired: problems repair mode fixed (each with its ``fix``).
        files_checked: number of annotation files read.
    """

    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        """``True`` when no problem remains."""
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.files_checked} file(s) checked: {len(self.problems)} problem(s)" + (
            f", {len(self.repaired)} repaired" if self.repaired else ""
        )
        return "\n".join([head] + [f"  {p}" for p in self.problems + self.repaired])


class _Collector:
    def __init__(self, report: ValidationReport, file, repair: bool):
        self.report, self.file, self.repair = report, str(file), repair
        self.changed = False

    def bad(self, where: str, reason: str, fix: str | None = None) -> bool:
        """Record a problem; returns True when repair mode will apply ``fix``."""
        if self.repair and fix is not None:
            self.report.repaired.append(Problem(self.file, where, reason, fix))
            self.changed = True
            return True
        self.report.problems.append(Problem(self.file, where, reason))
        return False
