"""``dlcv-course``: run the lessons headless, in order, and summarise them.

``dlcv-course run [LESSON ...]`` executes each lesson notebook in a fresh kernel, cell by cell
with a progress bar, writes the executed notebook and an HTML copy into ``build/``, and prints a
summary table (lesson, status, wall time, device, key figure). A failing lesson names the cell
and the error, and the command exits with status 1.

``dlcv-course list`` prints the lessons it knows.

``dlcv-course lab [--dir DIR] [--refresh]`` copies the lessons into a writable workspace
(``~/dlcv-work`` by default; copies that exist are kept) and opens JupyterLab there, so
JupyterLab's autosave never rewrites the committed notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlcv_utils.runtime import REPO_ROOT, progress_disabled

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


@dataclass
class LessonResult:
    """Outcome of one lesson run."""

    lesson: str
    path: Path
    status: str = "not run"
    seconds: float = 0.0
    device: str = "cpu"
    figures: list[dict] = field(default_factory=list)
    error: str = ""


def find_lessons(notebook_dir: Path = NOTEBOOK_DIR) -> dict[str, Path]:
    """Return ``{"01": path, ...}`` for every ``NN_*.ipynb`` lesson, in order."""
    lessons = {}
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        lessons[path.name[:2]] = path
    return lessons


def select_lessons(requested: list[str], available: dict[str, Path]) -> list[str]:
    """Map user arguments (``5``, ``05``, ``05_faster_rcnn``) to lesson numbers.

    Raises:
        ValueError: naming any argument that matches no lesson.
    """
    if not requested:
        return list(available)
    import re

    chosen = []
    for item in requested:
        m = re.fullmatch(r"(\d{1,2})(?:_(\w+))?", str(item))
        if m is None or (m.group(2) is not None and len(m.group(1)) != 2):
            raise ValueError(
                f"lesson {item!r} is not a lesson number like 5 or 05, or a name like "
                f"05_faster_rcnn; available lessons: {', '.join(available)}"
            )
        key = m.group(1).zfill(2)
        name = m.group(2)
        stem = Path(str(available.get(key, ""))).stem
        if key in available and name and stem[2:3] == "_" and not stem[3:].startswith(name):
            raise ValueError(f"lesson {item!r} not found; lesson {key} is {stem}")
        if key not in available:
            raise ValueError(
                f"lesson {item!r} not found; available lessons: {', '.join(available)}"
            )
        if key not in chosen:
            chosen.append(key)
    return chosen


_POLL_SECONDS = 1.0


def _notebook_client_class():
    """nbclient's ``NotebookClient`` polling the kernel's channels in short slices.

    nbclient waits for a cell's reply with one long ``get_msg(timeout=cell_timeout)``. With
    widgets in a cell, that wait sometimes misses the reply's arrival and only returns when the
    timeout expires (jupyter/nbclient#312, open): a lesson then "hangs" for the whole cell
    timeout. Polling in one-second slices bounds the stall to a second; the cell timeout is
    still enforced.
    """
    import asyncio
    from queue import Empty
    from time import monotonic

    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError
    from nbclient.util import ensure_async

    class PollingNotebookClient(NotebookClient):
        async def _async_poll_for_reply(
            self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive
        ):
            deadline = None if timeout is None else monotonic() + timeout
            while True:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=_POLL_SECONDS))
                except Empty:
                    if deadline is not None and monotonic() > deadline:
                        task_poll_kernel_alive.cancel()
                        await self._async_check_alive()
                        raise CellTimeoutError.error_from_timeout_and_cell(
                            "Cell execution timed out", timeout, cell
                        ) from None
                    continue
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                try:
                    await asyncio.wait_for(task_poll_output_msg, self.iopub_timeout)
                except (asyncio.TimeoutError, Empty):
                    self.log.warning("Timeout waiting for IOPub output")
                task_poll_kernel_alive.cancel()
                return msg

        async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
            from nbclient.exceptions import CellExecutionComplete

            while True:
                try:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=_POLL_SECONDS))
                except Empty:
                    continue
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        return

    return PollingNotebookClient


def _error_text(outputs) -> str:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"
    return "unknown error"


def execute_notebook(
    path: Path,
    out_path: Path | None = None,
    *,
    env: dict | None = None,
    timeout: int = 1800,
    progress: bool = True,
    cwd: Path | None = None,
    record_timing: bool = False,
):
    """Execute a notebook cell by cell in a fresh kernel.

    Args:
        path: the notebook to run.
        out_path: where to write the executed notebook (``None``: don't write).
        env: extra environment variables for the kernel.
        timeout: seconds allowed per cell.
        progress: show a tqdm bar over the code cells.
        cwd: working directory of the kernel (default: the notebook's folder).
        record_timing: keep nbclient's per-cell timing metadata.

    Returns:
        ``(notebook, failed_cell_index or None, error_text)``.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # NotJSONError, a JSON/validation error, bad encoding...
        raise ValueError(
            f"{path}: not a readable notebook ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]})"
        ) from None
    kernel_env = dict(os.environ)
    kernel_env.update(env or {})
    client = _notebook_client_class()(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or Path(path).parent)}},
        record_timing=record_timing,
        allow_errors=False,
    )
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for _, cell in code_cells:
        cell.outputs = []
        cell.execution_count = None
    failed, error = None, ""
    bar = tqdm(
        total=len(code_cells),
        desc=Path(path).stem,
        unit="cell",
        disable=progress_disabled(progress),
    )
    index = code_cells[0][0] if code_cells else 0
    try:
        with client.setup_kernel(env=kernel_env, cwd=str(cwd or Path(path).parent)):
            for count, (index, cell) in enumerate(code_cells, start=1):
                try:
                    client.execute_cell(cell, index, execution_count=count)
                except CellExecutionError:
                    failed, error = index, _error_text(cell.outputs)
                    break
                except CellTimeoutError:
                    failed, error = index, f"timed out after {timeout} s"
                    break
                finally:
                    bar.update(1)
    except DeadKernelError:
        failed = index
        error = "the kernel died (killed for lack of memory, or a crash in native code)"
    bar.close()
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
    return nb, failed, error


def _write_html(nb, html_path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    html_path.write_text(body, encoding="utf-8")


def run_lessons(
    lessons: list[str],
    available: dict[str, Path],
    build_dir: Path,
    device: str | None = None,
    html: bool = True,
    progress: bool = True,
) -> list[LessonResult]:
    """Run the chosen lessons in order; see :func:`main`."""
    from dlcv_utils.runtime import pick_device

    try:
        dev = pick_device(device).type  # the argument, else $DLCV_DEVICE, else CUDA if present
    except ValueError as exc:
        raise ValueError(f"{exc} (asked for with --device or $DLCV_DEVICE)") from None
    build_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for lesson in lessons:
        path = available[lesson]
        result = LessonResult(lesson, path, device=dev)
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.jsonl"
            env = {"DLCV_DEVICE": dev, "DLCV_REPORT": str(report), "TQDM_DISABLE": "1"}
            start = time.perf_counter()
            try:
                nb, failed, error = execute_notebook(
                    path, build_dir / path.name, env=env, progress=progress, cwd=path.parent
                )
            except Exception as err:  # a broken notebook or kernel: report it, run the rest
                nb, failed, error = None, "-", f"{type(err).__name__}: {err}"
            result.seconds = time.perf_counter() - start
            if report.exists():
                result.figures = [json.loads(line) for line in report.read_text().splitlines()]
        if failed is None:
            result.status = "ok"
        else:
            result.status = "FAILED"
            result.error = error if failed == "-" else f"cell {failed}: {error}"
        if html and nb is not None:
            _write_html(nb, build_dir / (path.stem + ".html"))
        results.append(result)
    return results


def format_table(results: list[LessonResult]) -> str:
    """Render the summary table as plain text."""
    rows = [("lesson", "status", "wall", "device", "key figure")]
    for r in results:
        figure = "; ".join(f"{f['name']} = {f['text']}" for f in r.figures) or "-"
        rows.append((r.path.stem, r.status, f"{r.seconds:.1f} s", r.device, figure))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        if r.error:
            lines.append(f"{r.path.stem} failed at {r.error}")
    return "\n".join(lines)


DEFAULT_WORKSPACE = Path("~/dlcv-work")


def prepare_workspace(
    dest: Path, lessons: dict[str, Path], refresh: bool = False
) -> tuple[list[Path], list[Path]]:
    """Copy the lesson notebooks into the writable folder ``dest`` (created if missing).

    JupyterLab autosaves an open notebook every two minutes: working on copies keeps the
    committed notebooks of the checkout untouched. A copy that already exists holds the
    learner's work and is kept, unless ``refresh``.

    Args:
        dest: the workspace folder (``~`` is expanded).
        lessons: ``{"01": path, ...}`` as from :func:`find_lessons`.
        refresh: overwrite copies that exist.

    Returns:
        ``(copied, kept)``: the workspace paths written and the ones left as they were.

    Raises:
        ValueError: ``dest`` is the checkout's ``notebooks/`` folder (or inside it), or an
            existing file that is not a folder.
    """
    import shutil

    dest = Path(dest).expanduser().resolve()
    source_dirs = {Path(p).resolve().parent for p in lessons.values()}
    for src_dir in source_dirs:
        if dest == src_dir or src_dir in dest.parents:
            raise ValueError(
                f"--dir must be a folder of your own, not the checkout's {src_dir} "
                "(autosave would rewrite the committed notebooks)"
            )
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"--dir must be a folder, but {dest} is a file")
    dest.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for path in lessons.values():
        target = dest / Path(path).name
        if target.exists() and not refresh:
            kept.append(target)
            continue
        shutil.copyfile(path, target)
        copied.append(target)
    return copied, kept


def lab_command(dest: Path, extra: list[str] | None = None) -> list[str]:
    """The command line that opens JupyterLab on ``dest`` (this Python's ``jupyterlab``)."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={Path(dest).expanduser().resolve()}",
        *(extra or []),
    ]


def _lab(args, parser, available) -> int:
    import importlib.util
    import subprocess

    try:
        copied, kept = prepare_workspace(args.dir, available, refresh=args.refresh)
    except ValueError as exc:
        parser.error(str(exc))
    dest = Path(args.dir).expanduser().resolve()
    print(f"workspace {dest}: {len(copied)} lesson(s) copied, {len(kept)} kept as you left them")
    if kept and not args.refresh:
        print("  (dlcv-course lab --refresh replaces them with the checkout's versions)")
    if args.no_open:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print("JupyterLab is not installed: python3 -m pip install jupyterlab", file=sys.stderr)
        return 1
    try:
        return subprocess.call(lab_command(dest, args.jupyter_args), cwd=dest)
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dlcv-course``."""
    parser = argparse.ArgumentParser(prog="dlcv-course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute lessons headless and summarise them")
    run.add_argument("lessons", nargs="*", help="lesson numbers, e.g. 1 3 05 (default: all)")
    run.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build")
    run.add_argument("--device", choices=["cpu", "cuda"], default=None)
    run.add_argument("--no-html", action="store_true", help="skip the HTML copies")
    sub.add_parser("list", help="list the lessons")
    lab = sub.add_parser(
        "lab",
        help="copy the lessons into a writable workspace and open JupyterLab there",
        description="Copy the lesson notebooks into a workspace of your own (existing copies "
        "are kept) and open JupyterLab there, so autosave never touches the checkout.",
    )
    lab.add_argument(
        "--dir", type=Path, default=DEFAULT_WORKSPACE, help="workspace (default: ~/dlcv-work)"
    )
    lab.add_argument("--refresh", action="store_true", help="replace copies that exist")
    lab.add_argument("--no-open", action="store_true", help="only copy; do not start JupyterLab")
    lab.add_argument(
        "jupyter_args", nargs="*", help="passed to JupyterLab after --, e.g. -- --port 8899"
    )
    args = parser.parse_args(argv)

    available = find_lessons(NOTEBOOK_DIR)
    if args.command == "lab":
        return _lab(args, parser, available)
    if args.command == "list":
        for key, path in available.items():
            print(f"{key}  {path.name}")
        return 0
    try:
        chosen = select_lessons(args.lessons, available)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        results = run_lessons(chosen, available, args.build_dir, args.device, html=not args.no_html)
    except ValueError as exc:  # e.g. --device cuda without a GPU: before any lesson runs
        parser.error(str(exc))
    print(format_table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
