"""The lessons' widgets in a real browser: JupyterLab + headless Chromium (Playwright).

A JupyterLab server is started on 127.0.0.1 with a random token, on a temporary copy of
``notebooks/`` (the checkout is never touched), and driven by Debian's ``chromium``:

* a lesson opens unchanged: saved straight after opening, it equals the file (JupyterLab would
  autosave a changed one);
* before running, every widget cell of a saved lesson shows a picture, no raw widget repr;
* "Run All" from the Run menu, then every slider is moved with the keyboard (End/Home) and with
  the mouse (dragging the handle), and the output next to it must change each time;
* no widget error (an error view, "Error displaying widget", a "Loading widget..." that stays,
  raw ``interactive(...)``/``VBox(...)`` reprs) and no Python traceback anywhere.

(JupyterLab 4's widget manager renders ipywidgets 8 models only; ipywidgets 7.7, Colab's, is
covered by the widget unit tests that ``tests/test_colab_sim.py`` runs under it.)

Lessons 01 and 02 by default; ``DLCV_BROWSER_ALL=1`` runs every lesson (slow: 04-06 train),
``DLCV_BROWSER_LESSONS=03,05`` the ones named.
Screenshots of a failure go to ``build/browser/``. The server, its kernels and the browser are
stopped by PID at the end. Skipped (with the reason) without chromium, Playwright or
JupyterLab; ``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the notebooks to open (a copy is made); DLCV_BROWSER_NOTEBOOKS points at freshly built ones
SOURCE = Path(os.environ.get("DLCV_BROWSER_NOTEBOOKS") or ROOT / "notebooks")
SHOTS = ROOT / "build" / "browser"
DEFAULT_LESSONS = ("01", "02")
WIDGET_ERRORS = ("Error displaying widget", "interactive(children=", "VBox(children=")
TRACEBACK = "Traceback (most recent call last)"


def _chromium() -> str | None:
    for name in (os.environ.get("DLCV_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _missing(reason: str):
    """Skip without the browser stack; fail instead where CI promised it (.ci/run)."""
    if os.environ.get("DLCV_REQUIRE_BROWSER"):
        pytest.fail(f"DLCV_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def _requirements():
    chromium = _chromium()
    if chromium is None:
        _missing("no chromium (apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install playwright; .ci/run installs it)")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _missing("jupyterlab is not installed (pip install jupyterlab; .ci/run installs it)")
    return chromium


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies (Linux), so nothing outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` (kernels run in sessions of their own)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return []
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop(pids: list[int], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL what is left; only the given PIDs."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + timeout
        while time.time() < deadline:
            alive = [p for p in pids if _alive(p)]
            if not alive:
                return
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary copy of the notebooks: ``(base_url, token, root)``."""
    chromium = _requirements()
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    root.mkdir()
    for nb in SOURCE.glob("[0-9][0-9]_*.ipynb"):
        shutil.copyfile(nb, root / nb.name)
    settings = base / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "notebook-extension").mkdir(parents=True)
    # no news/update pop-ups over the notebook; every cell in the DOM (no windowing)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        DLCV_DEVICE="cpu",
        TQDM_DISABLE="1",
        OMP_NUM_THREADS="1",
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
    )
    log = open(base / "server.log", "w")  # closed at teardown
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n" + (base / "server.log").read_text()[-3000:]
                    )
                time.sleep(0.3)
        yield {"url": url, "token": token, "root": root, "chromium": chromium}
    finally:
        # kernels first (they run in their own sessions), then the server: all by PID
        pids = _descendants(server.pid)
        _stop([*pids, server.pid])
        log.close()
        left = [p for p in [*pids, server.pid] if _alive(p)]
        assert not left, f"processes left behind: {left}"


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=lab["chromium"],
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            b.close()


def _lessons() -> list[str]:
    found = sorted(p.name for p in SOURCE.glob("[0-9][0-9]_*.ipynb"))
    if os.environ.get("DLCV_BROWSER_ALL"):
        return found
    wanted = os.environ.get("DLCV_BROWSER_LESSONS", ",".join(DEFAULT_LESSONS)).split(",")
    return [n for n in found if n[:2] in {w.strip().zfill(2) for w in wanted}]


def _widget_cells(nb_path: Path) -> list[int]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    cells = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                cells.append(i)
                break
    return cells


# JavaScript run in the page ---------------------------------------------------------------
JS_SNAPSHOT = """
() => [...document.querySelectorAll('.widget-slider, .widget-hslider')].map((s) => {
  const box = s.closest('.widget-interact, .widget-vbox');
  const out = box ? box.querySelector('.widget-output, .jupyter-widgets-output-area') : null;
  const img = out ? out.querySelector('img') : null;
  const label = s.querySelector('.widget-label');
  const readout = s.querySelector('.widget-readout');
  return {
    label: label ? label.textContent : '',
    readout: readout ? (readout.value || readout.textContent) : '',
    image: img ? img.src.length + ':' + img.src.slice(-200) : '',
    text: out ? out.innerText : '',
    trackWidth: (s.querySelector('.noUi-target, .ui-slider') || s).getBoundingClientRect().width,
    labelRight: label ? label.getBoundingClientRect().right : 0,
  };
})
"""


def _around(text: str, needle: str, width: int = 600) -> str:
    i = text.find(needle)
    return text[max(0, i - 100) : i + width] if i >= 0 else "(no traceback on the page)"


def _body_text(page) -> str:
    """All text of the notebook, also of cells scrolled out of view."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-Cell')].map((c) => c.textContent).join('\\n')"
    )


def _open(page, lab, name):
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset", timeout=90_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # the kernel is up when the toolbar's indicator says idle
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)


def _run_all(page, timeout_s: float):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    started = time.time()
    # a notebook whose kernel is not up yet asks for one: take the preferred kernel
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(timeout=2_000)
        dialog.locator("button.jp-mod-accept").click()
    except PlaywrightTimeout:  # no dialog: the kernel was up
        pass
    # queued cells show [*] at once; then wait until every cell has its number
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .some((p) => p.textContent.includes('*'))""",
        timeout=30_000,
        polling=50,
    )
    page.wait_for_function(
        """() => ![...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                  .some((p) => p.textContent.includes('*'))""",
        timeout=timeout_s * 1000,
        polling=500,
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    prompts = page.evaluate(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map((p) => p.textContent)"
    )
    not_run = [i for i, p in enumerate(prompts) if not re.search(r"\[\d+\]", p)]
    if not_run:  # a cell failed and Run All stopped there
        raise AssertionError(
            f"Run All stopped: code cells {not_run[:5]} did not run; page text near the "
            f"error: {_around(_body_text(page), TRACEBACK)}"
        )
    return time.time() - started


def _wait_changed(page, index: int, before: dict, timeout_s: float = 30.0) -> float:
    started = time.time()
    while time.time() - started < timeout_s:
        now = page.evaluate(JS_SNAPSHOT)[index]
        if now["image"] != before["image"] or now["text"] != before["text"]:
            if now["image"]:  # redrawn, not just cleared
                return time.time() - started
        time.sleep(0.05)
    raise AssertionError(f"slider {before['label']!r}: the output did not change in {timeout_s} s")


def _check_no_widget_errors(page, where: str):
    # a view that failed to render is an icon with "Click to show javascript error."
    broken = page.locator(".jupyter-widgets-error-widget").count()
    assert broken == 0, f"{where}: {broken} widget view(s) failed to render"
    text = _body_text(page)
    for bad in WIDGET_ERRORS:
        assert bad not in text, f"{where}: {bad!r} on the page"
    assert TRACEBACK not in text, f"{where}: a Python traceback on the page"


def _shot(page, name: str, what: str) -> None:
    """Keep a screenshot of every widget cell when ``DLCV_BROWSER_SHOTS`` is set."""
    if not os.environ.get("DLCV_BROWSER_SHOTS"):
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    outputs = page.locator(".jp-CodeCell .jp-OutputArea:has(img)")
    for i in range(outputs.count()):
        if outputs.nth(i).locator(".widget-slider, .widget-hslider, .jp-RenderedImage").count():
            outputs.nth(i).scroll_into_view_if_needed()
            outputs.nth(i).screenshot(path=str(SHOTS / f"{Path(name).stem}-{what}-{i:02d}.png"))


@pytest.mark.slow
@pytest.mark.parametrize("name", _lessons())
def test_lesson_widgets_in_a_real_browser(lab, browser, name, capsys):
    saved_widget_cells = _widget_cells(lab["root"] / name)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    timings: dict = {"name": name}
    started = time.time()
    try:
        _open(page, lab, name)
        # opening must not change it (JupyterLab autosaves a changed notebook): save what
        # JupyterLab holds and compare with the file
        copy = lab["root"] / name
        before_mtime = copy.stat().st_mtime_ns
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Control+s")
        deadline = time.time() + 30
        while copy.stat().st_mtime_ns == before_mtime and time.time() < deadline:
            time.sleep(0.1)
        assert copy.stat().st_mtime_ns != before_mtime, f"{name}: Ctrl+S did not save"
        time.sleep(0.5)
        saved, source = (json.loads(p.read_text(encoding="utf-8")) for p in (copy, SOURCE / name))
        assert saved["metadata"] == source["metadata"], (
            f"{name}: JupyterLab changes the metadata on open: {saved['metadata']}"
        )
        assert saved["cells"] == source["cells"], f"{name}: JupyterLab changes cells on open"
        # 1. not run yet: every saved widget cell shows its picture, never a raw repr
        cells = page.locator(".jp-Notebook .jp-Cell")
        for i in saved_widget_cells:
            cell = cells.nth(i)
            cell.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            html = cell.locator(".jp-OutputArea").inner_html()
            text = cell.locator(".jp-OutputArea").text_content()
            assert "<img" in html, f"saved widget cell {i} shows no picture: {text[:200]!r}"
            for bad in WIDGET_ERRORS:
                assert bad not in text, f"saved widget cell {i} shows {bad!r}"
        _shot(page, name, "saved")
        # 2. Run All
        timings["run_all_s"] = _run_all(page, timeout_s=900)
        _check_no_widget_errors(page, f"{name} after Run All")
        page.wait_for_function(
            "() => !document.body.textContent.includes('Loading widget')", timeout=30_000
        )
        sliders = page.evaluate(JS_SNAPSHOT)
        assert len(sliders) >= (1 if saved_widget_cells else 0), "no sliders rendered"
        # 3. every slider, keyboard then mouse
        redraws = []
        for k, before in enumerate(sliders):
            slider = page.locator(".widget-slider, .widget-hslider").nth(k)
            slider.scroll_into_view_if_needed()
            handle = slider.locator(".noUi-handle, .ui-slider-handle").first
            handle.focus()
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.keyboard.press("Home" if at_max else "End")
            redraws.append(_wait_changed(page, k, before))
            # mouse: drag the handle a third of the track towards the other end
            before = page.evaluate(JS_SNAPSHOT)[k]
            track = slider.locator(".noUi-target, .ui-slider").first.bounding_box()
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            dx = track["width"] / 3 * (1 if at_max else -1)
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + dx / 2, y, steps=5)
            page.mouse.move(x + dx, y, steps=5)
            page.mouse.up()
            redraws.append(_wait_changed(page, k, before))
            _check_no_widget_errors(page, f"{name} after moving {before['label']!r}")
        # 4. layout: wide tracks, and the tracks of one widget start at the same x
        for s in sliders:
            assert s["trackWidth"] > 300, f"slider {s['label']!r} track is {s['trackWidth']} px"
        _shot(page, name, "moved")
        timings["sliders"] = len(sliders)
        timings["redraw_max_s"] = round(max(redraws), 2) if redraws else None
        timings["wall_s"] = round(time.time() - started, 1)
        with capsys.disabled():
            print(f"\nbrowser: {json.dumps(timings)}")
    except Exception:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{Path(name).stem}-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise
    finally:
        page.close()
