"""Where the course's files live: the repository's ``data/`` folder and a user cache."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
CACHE_ENV = "DLCV_CACHE"


def cache_dir() -> Path:
    """Return the cache folder for generated datasets and downloads (created if missing).

    ``$DLCV_CACHE`` wins; otherwise ``~/.cache/dlcv``.
    """
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dlcv")
    root.mkdir(parents=True, exist_ok=True)
    return root
