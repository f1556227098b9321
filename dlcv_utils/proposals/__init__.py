"""Region proposals (영역 추정): where might an object be? (lesson 03).

Modules, bottom to top:
    sliding_window: sliding windows over an image pyramid.
    selective_search: Uijlings et al.'s hierarchical grouping, written out step by step.
    opencv: OpenCV's contrib selective search, for a side-by-side comparison.
    cascade: a classical detector, an LBP cascade scanned over the pyramid.
    recall: proposal recall against ground-truth boxes, and its plot.
    cache: selective-search proposals computed once per image and reused (lesson 04).

Every public name is re-exported here, so ``from dlcv_utils.proposals import selective_search``
works as before.
"""

from dlcv_utils.proposals.cascade import LBPCascade, cascade_scan, integral_image
from dlcv_utils.proposals.opencv import (
    opencv_selective_search,
    opencv_selective_search_available,
)
from dlcv_utils.proposals.recall import plot_proposal_recall, proposal_recall
from dlcv_utils.proposals.selective_search import FAST_MODE, selective_search
from dlcv_utils.proposals.sliding_window import (
    count_sliding_windows,
    image_pyramid,
    pyramid_windows,
    sliding_window_proposals,
    sliding_windows,
)

__all__ = [
    "FAST_MODE",
    "LBPCascade",
    "cascade_scan",
    "count_sliding_windows",
    "image_pyramid",
    "integral_image",
    "opencv_selective_search",
    "opencv_selective_search_available",
    "plot_proposal_recall",
    "proposal_recall",
    "pyramid_windows",
    "selective_search",
    "sliding_window_proposals",
    "sliding_windows",
]
