"""Test-session settings shared by the unit tests and nbval.

nbval starts each notebook's kernel with this process's environment, so the variables set here
reach the lessons: no progress bars (tqdm writes to stderr, which nbval compares).
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")
# Two xdist workers share two cores (lessons in one, unit tests in the other): one thread each.
# torch's small detection ops slow down badly when two 2-thread processes fight for 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_ignore_collect(collection_path, config):
    # scripts and benchmarks are run by hand, not collected as doctest modules
    parts = set(collection_path.parts)
    return bool(parts & {"build", "benchmarks", "scripts", "lessons"}) or None


def pytest_xdist_make_scheduler(config, log):
    """Under ``-n 2 --dist loadscope``, keep every lesson in one scope.

    The lessons then run in one worker, in order, one after the other, while the unit tests use
    the other worker: two training lessons never share the two CPU cores.
    """
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LessonsInOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            # the browser and Colab-simulation tests run lessons too (a JupyterLab kernel, a
            # venv kernel): they queue with the lessons instead of competing for the cores
            if nodeid.startswith(
                ("notebooks/", "tests/test_browser.py", "tests/test_colab_sim.py")
            ):
                return "notebooks"
            return super()._split_scope(nodeid)

    return LessonsInOneWorker(config, log)
