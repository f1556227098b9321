"""The toolbox's registries: OpenMMLab's ``mmengine.Registry`` with a stricter ``build``.

A registry maps a ``type`` name to a class or function; ``REGISTRY.build(cfg)`` looks up
``cfg["type"]`` and calls it with the other keys. Lesson 06 writes a registry in a few lines,
then checks it against ``mmengine.Registry``; this module is what the course uses afterwards.

:func:`build_component` is the registries' ``build_func``. Compared with mmengine's default
``build_from_cfg`` it fails earlier and says more: an unknown ``type`` lists the registered
names and suggests the closest; a misspelt or missing key is named, with the accepted keys; and
``default_args`` (what a parent passes down, e.g. a neck's ``in_channels``) are used only by
builders that accept them. The config is never modified.

Taught in lesson 06.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from mmengine.registry import Registry

__all__ = [
    "BACKBONES",
    "DETECTORS",
    "NECKS",
    "REGISTRIES",
    "ROI_HEADS",
    "RPN_HEADS",
    "build_component",
]


def _close(name: str, choices) -> str:
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def build_component(
    cfg: Mapping[str, Any], registry: Registry, default_args: Mapping[str, Any] | None = None
):
    """Build ``registry``'s ``cfg["type"]`` with the other keys of ``cfg``.

    Args:
        cfg: a mapping with a ``"type"`` key (a registered name); not modified.
        registry: the ``mmengine.Registry`` to look the type up in.
        default_args: values for keys ``cfg`` does not set, used only if the builder accepts
            them.

    Raises:
        TypeError: if ``cfg`` is not a mapping or its type is not a string.
        ValueError: if ``"type"`` is missing or unknown, a required key is missing, or a key is
            not an argument of the builder (typos such as ``num_clases``).

    Example:
        >>> LAYERS = Registry("layer", build_func=build_component, scope="demo")
        >>> @LAYERS.register_module()
        ... def Scale(factor, offset=0.0):
        ...     return lambda x: factor * x + offset
        >>> LAYERS.build(dict(type="Scale", factor=2.0))(3.0)
        6.0
        >>> LAYERS.build(dict(type="Scale", factr=2.0))
        Traceback (most recent call last):
        ...
        ValueError: layer type 'Scale' got unexpected key(s) ['factr'] (did you mean 'factor'?); accepted keys: ['factor', 'offset']
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(
            f"cfg for {registry.name} must be a dict with a 'type' key, got {type(cfg).__name__}"
        )
    if "type" not in cfg:
        raise ValueError(f"cfg for {registry.name} has no 'type' key; got keys {sorted(cfg)}")
    kind = cfg["type"]
    if not isinstance(kind, str):
        raise TypeError(
            f"{registry.name} type must be a string, got {type(kind).__name__} {kind!r}"
        )
    builder = registry.get(kind)
    if builder is None:
        raise ValueError(
            f"unknown {registry.name} type {kind!r}{_close(kind, registry.module_dict)}; "
            f"available: {sorted(registry.module_dict)}"
        )
    kwargs = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "type"}
    name = f"{registry.name} type {kind!r}"
    params = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {
        k: p
        for k, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    for key, value in (default_args or {}).items():
        if key not in kwargs and (takes_any or key in named):
            kwargs[key] = value
    if not takes_any:
        unknown = sorted(set(kwargs) - set(named))
        if unknown:
            raise ValueError(
                f"{name} got unexpected key(s) {unknown}{_close(unknown[0], named)}; "
                f"accepted keys: {sorted(named)}"
            )
    missing = [k for k, p in named.items() if p.default is p.empty and k not in kwargs]
    if missing:
        raise ValueError(f"{name} is missing required key(s) {missing}")
    return builder(**kwargs)


SCOPE = "dlcv_utils"  # mmengine scope: the registries stay apart from OpenMMLab's own
BACKBONES = Registry("backbone", build_func=build_component, scope=SCOPE)
NECKS = Registry("neck", build_func=build_component, scope=SCOPE)
RPN_HEADS = Registry("rpn_head", build_func=build_component, scope=SCOPE)
ROI_HEADS = Registry("roi_head", build_func=build_component, scope=SCOPE)
DETECTORS = Registry("detector", build_func=build_component, scope=SCOPE)
REGISTRIES = (BACKBONES, NECKS, RPN_HEADS, ROI_HEADS, DETECTORS)
