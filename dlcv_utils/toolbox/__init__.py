"""A config-driven detector toolbox in miniature, on OpenMMLab's ``mmengine`` (lesson 06).

Modules:
    registry: the component registries (``mmengine.Registry`` with a stricter ``build``).
    components: backbones, necks, heads and the detector, as module-level classes and
        registered builders (so a built model pickles).
    config: ``mmengine.Config`` files with ``_base_`` inheritance; the ready-made configs in
        ``configs/``.
"""

from dlcv_utils.toolbox.components import build_detector, count_parameters
from dlcv_utils.toolbox.config import (
    CONFIGS,
    config_to_str,
    get_config,
    load_config,
    merge_config,
)
from dlcv_utils.toolbox.registry import (
    BACKBONES,
    DETECTORS,
    NECKS,
    REGISTRIES,
    ROI_HEADS,
    RPN_HEADS,
    build_component,
)

__all__ = [
    "BACKBONES",
    "CONFIGS",
    "DETECTORS",
    "NECKS",
    "REGISTRIES",
    "ROI_HEADS",
    "RPN_HEADS",
    "build_component",
    "build_detector",
    "config_to_str",
    "count_parameters",
    "get_config",
    "load_config",
    "merge_config",
]
