"""Course plumbing, the top layer: settings, recipes, the runner, reports and exercises.

Modules:
    settings: the typed per-lesson settings table, one CPU entry and its GPU differences.
    recipes: the "shapes loaders -> train -> evaluate" recipes lessons and benchmarks share.
    finetune: the lesson-05 recipe that fine-tunes a COCO-pretrained detector on Penn-Fudan.
    runner: the ``dlcv-course`` command that runs the lessons headless.
    report: key figures a lesson reports to the runner.
    exercises: checkers and model solutions for the lessons' exercises.

``main`` is re-exported so the ``dlcv-course = "dlcv_utils.course:main"`` entry point works.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the ``dlcv-course`` command (see :func:`dlcv_utils.course.runner.main`)."""
    from dlcv_utils.course.runner import main as runner_main

    return runner_main(argv)
