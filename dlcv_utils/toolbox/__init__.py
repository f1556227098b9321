"""A config-driven detector toolbox in miniature: registries, configs, ``build_detector`` (lesson 06).

Modules:
    registry: the component registries (``mmengine.Registry``).
    components: backbones, necks and heads as module-level classes (so a built model pickles).
    configs: the course's detector configs, ``mmengine.Config`` files with ``_base_`` inheritance.
"""

from dlcv_utils.toolbox.components import (
    BACKBONES,
    CONFIGS,
    DETECTORS,
    NECKS,
    ROI_HEADS,
    RPN_HEADS,
    Registry,
    build_detector,
    config_to_str,
    count_parameters,
    get_config,
    load_config,
    merge_config,
)

__all__ = [
    "BACKBONES",
    "CONFIGS",
    "DETECTORS",
    "NECKS",
    "ROI_HEADS",
    "RPN_HEADS",
    "Registry",
    "build_detector",
    "config_to_str",
    "count_parameters",
    "get_config",
    "load_config",
    "merge_config",
]
