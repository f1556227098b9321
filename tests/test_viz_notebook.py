"""Lean notebooks: figures are stored as PNG or JPEG, whichever is smaller, through IPython."""

import matplotlib
import numpy as np
import pytest

IPython = pytest.importorskip("IPython")
matplotlib_inline = pytest.importorskip("matplotlib_inline")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402
from matplotlib_inline.backend_inline import configure_inline_support  # noqa: E402

from dlcv_utils.viz.notebook import JPEG_MARGIN, encode_figure, use_compact_figures  # noqa: E402

CELL = """
import numpy as np
import matplotlib.pyplot as plt
from skimage.data import astronaut
fig, ax = plt.subplots()
ax.imshow(astronaut())          # a 512 x 512 photo
plt.show()                      # the inline backend's path
fig2, ax2 = plt.subplots()
ax2.plot([0, 1, 2], [0, 1, 0])
display(fig2)                   # the explicit path
plt.close(fig2)
"""


@pytest.fixture
def shell():
    previous = matplotlib.get_backend()
    matplotlib.use("module://matplotlib_inline.backend_inline")
    sh = InteractiveShell.instance()
    configure_inline_support(sh, "inline")
    yield sh
    InteractiveShell.clear_instance()
    matplotlib.use(previous)


def test_outside_ipython_nothing_happens():
    assert use_compact_figures() is False


def test_show_and_display_keep_only_the_smaller_encoding(shell):
    assert use_compact_figures(shell) is True
    with capture_output() as captured:
        shell.run_cell(CELL)
    images = [
        {k: len(v) for k, v in out.data.items() if k.startswith("image/")}
        for out in captured.outputs
    ]
    assert len(images) == 2, images
    photo, line = images
    assert list(photo) == ["image/jpeg"]  # a photo: JPEG is several times smaller
    assert list(line) == ["image/png"]  # a line plot: PNG is small and sharp


def test_the_choice_follows_the_sizes():
    import matplotlib.pyplot as plt

    # a noise texture drawn smaller than its pixels (anti-aliased): JPEG wins by far
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.random.default_rng(1).integers(0, 256, (600, 600, 3), dtype=np.uint8))
    png, jpeg = encode_figure(fig, "png"), encode_figure(fig, "jpeg")
    plt.close(fig)
    assert png[:4] == b"\x89PNG" and jpeg[:2] == b"\xff\xd8"
    assert len(jpeg) < JPEG_MARGIN * len(png)
    with pytest.raises(ValueError, match="fmt must be 'png' or 'jpeg', got 'gif'"):
        encode_figure(fig, "gif")


def test_a_real_kernel_stores_a_photo_as_jpeg_and_no_progress_widget(tmp_path):
    """In a fresh Jupyter kernel the inline backend loads lazily, at the first figure, and
    IPython then drops every Figure formatter registered before it: the compact formatters must
    survive that (regression: every lesson figure was stored as PNG). Progress bars of the
    package must also respect ``TQDM_DISABLE`` inside the kernel (tqdm's notebook bar ignores it).
    """
    import os

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from dlcv_utils.viz.notebook import use_compact_figures\n_ = use_compact_figures()"
        ),
        nbformat.v4.new_code_cell(
            "import numpy as np\nimport matplotlib.pyplot as plt\n"
            "plt.imshow(np.random.default_rng(0).random((200, 200, 3)))\nplt.show()"
        ),
        nbformat.v4.new_code_cell(
            "from tqdm.auto import tqdm\nfrom dlcv_utils.runtime import progress_disabled\n"
            "_ = list(tqdm(range(3), disable=progress_disabled(True)))"
        ),
    ]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    NotebookClient(nb, timeout=120, kernel_name="python3", env=env).execute(cwd=str(tmp_path))
    photo = [set(o.get("data", {})) for o in nb.cells[1].outputs]
    assert photo == [{"image/jpeg", "text/plain"}], photo
    assert nb.cells[2].outputs == [], nb.cells[2].outputs
