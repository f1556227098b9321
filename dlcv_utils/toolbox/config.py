"""Configs: OpenMMLab's ``mmengine.Config`` files with ``_base_`` inheritance, as plain dicts.

A config file (``.py``, ``.yaml``/``.yml`` or ``.json``) names its base files in ``_base_``
(a path or a list of paths, relative to the file); the bases are loaded first and this file's
keys are merged on top, key by key (:func:`merge_config`): nested dicts merge, anything else
replaces, and a dict with ``_delete_=True`` replaces the base dict instead of merging into it.
:func:`load_config` is ``mmengine.Config.fromfile`` returning a plain ``dict``.

The course's ready-made detectors live in ``dlcv_utils/toolbox/configs/`` (:data:`CONFIGS`),
written the way MMDetection writes its own: ``model = dict(type=..., backbone=..., ...)``;
:func:`get_config` returns a model dict.

Taught in lesson 06.
"""

from __future__ import annotations

import copy
import difflib
import pprint
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CONFIGS", "CONFIG_DIR", "config_to_str", "get_config", "load_config", "merge_config"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: name -> config file of the ready-made detectors (sizes suit the 128-px shapes images).
CONFIGS: dict[str, Path] = {p.stem: p for p in sorted(CONFIG_DIR.glob("*.py"))}
SUFFIXES = (".py", ".yaml", ".yml", ".json")


def merge_config(base: Mapping, override: Mapping) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (the ``_base_`` rule).

    Dicts merge key by key; any other value (lists included) replaces the base value. A dict in
    ``override`` with ``_delete_=True`` replaces the base dict instead of merging into it. This
    is what ``mmengine.Config`` does with ``_base_`` files.

    Raises:
        TypeError: if either argument is not a mapping.

    Example:
        >>> base = dict(model=dict(type="A", depth=18, neck=dict(type="FPN", out_channels=64)))
        >>> merge_config(base, dict(model=dict(depth=34, neck=dict(_delete_=True, type="X"))))
        {'model': {'type': 'A', 'depth': 34, 'neck': {'type': 'X'}}}
    """
    for arg, value in (("base", base), ("override", override)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg} must be a dict, got {type(value).__name__}")
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping):
            value = dict(value)
            if value.pop("_delete_", False) or not isinstance(out.get(key), Mapping):
                out[key] = merge_config({}, value)
            else:
                out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path) -> dict:
    """Load a config file with ``mmengine.Config.fromfile``, resolving ``_base_``; a plain dict.

    Top-level names starting with ``_`` (helpers in a ``.py`` config) are left out.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: for another suffix, a file that does not hold a dict, a ``_base_`` cycle,
            or anything else mmengine cannot read (the message says why, e.g. a missing base).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "base.yaml").write_text("model: {type: A, depth: 18}\\n")
        >>> _ = (d / "child.py").write_text("_base_ = 'base.yaml'\\nmodel = dict(depth=34)\\n")
        >>> load_config(d / "child.py")
        {'model': {'type': 'A', 'depth': 34}}
    """
    from mmengine.config import Config

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"path must end in .py, .yaml, .yml or .json, got {path.name!r}; rename the file"
        )
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        cfg = Config.fromfile(str(path), import_custom_modules=False)
    except RecursionError:
        raise ValueError(
            f"could not load config {path}: its _base_ files include each other (a cycle)"
        ) from None
    except AttributeError as exc:  # mmengine reads a YAML/JSON list as if it were a dict
        raise ValueError(
            f"config {path.name} (or one of its _base_ files) must hold a dict at the top "
            f"level ({exc})"
        ) from exc
    except (OSError, AssertionError, KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise ValueError(f"could not load config {path}: {type(exc).__name__}: {exc}") from exc
    # names starting with "_" are helpers of a .py config, not settings
    return {k: _plain(v) for k, v in cfg.to_dict().items() if not k.startswith("_")}


def _plain(value):
    """mmengine's ConfigDict -> nested plain dicts (lists and tuples kept)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def config_to_str(cfg: Mapping) -> str:
    """Pretty-print a config (keys in their written order), as a toolbox prints it before training.

    Example:
        >>> print(config_to_str(dict(type="ResNet", depth=18)))
        {'type': 'ResNet', 'depth': 18}
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be a dict, got {type(cfg).__name__}")
    return pprint.pformat(dict(cfg), sort_dicts=False, width=100)


def get_config(name: str) -> dict:
    """The model dict of the ready-made config ``name`` (a fresh copy; see :data:`CONFIGS`).

    Raises:
        ValueError: for an unknown name; the message lists the known ones.

    Example:
        >>> get_config("faster_rcnn_tiny_fpn")["backbone"]["type"]
        'TinyNet'
    """
    if name not in CONFIGS:
        match = difflib.get_close_matches(str(name), list(CONFIGS), n=1)
        hint = f" (did you mean {match[0]!r}?)" if match else ""
        raise ValueError(f"unknown config {name!r}{hint}; available: {sorted(CONFIGS)}")
    return load_config(CONFIGS[name])["model"]
