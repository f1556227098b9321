"""Test-session settings shared by the unit tests and nbval.

nbval starts each notebook's kernel with this process's environment, so the variables set here
reach the lessons: no progress bars (tqdm writes to stderr, which nbval compares).
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_ignore_collect(collection_path, config):
    # scripts and benchmarks are run by hand, not collected as doctest modules
    parts = set(collection_path.parts)
    return bool(parts & {"build", "benchmarks", "scripts", "lessons"}) or None
