"""Kept so ``dlcv_utils.paths`` imports keep working; the paths live in :mod:`dlcv_utils.runtime`."""

from dlcv_utils.runtime import CACHE_ENV, DATA_DIR, REPO_ROOT, cache_dir

__all__ = ["CACHE_ENV", "DATA_DIR", "REPO_ROOT", "cache_dir"]
