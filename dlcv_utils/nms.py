"""Non-maximum suppression; kept so ``dlcv_utils.nms`` imports keep working.

The code lives in :mod:`dlcv_utils.ops.nms` (lesson 01).
"""

from dlcv_utils.ops.nms import batched_nms, nms, soft_nms

__all__ = ["batched_nms", "nms", "soft_nms"]
