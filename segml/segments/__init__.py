"""Customer segments: rule segments and the discovered HDBSCAN + agglomerative hierarchy.

Example
-------
>>> from segml.segments import RuleSegmenter, SegmentHierarchy
>>> SegmentHierarchy().get_params()["levels"]
2
"""

from segml.segments.hierarchy import SegmentHierarchy
from segml.segments.leaves import (
    LeafMethod,
    LeafSample,
    LeafSearch,
    leaf_method_names,
    register_leaf_method,
)
from segml.segments.naming import name_hierarchy, name_segments
from segml.segments.profiles import (
    profile_hierarchy,
    profile_hierarchy_from,
    profile_segments,
    segment_effects,
)
from segml.segments.rules import RuleSegmenter
from segml.segments.stability import HierarchyMatch, match_hierarchies
from segml.segments.statistics import SegmentStatistics

__all__ = [
    "HierarchyMatch",
    "LeafMethod",
    "LeafSample",
    "LeafSearch",
    "RuleSegmenter",
    "SegmentHierarchy",
    "SegmentStatistics",
    "leaf_method_names",
    "match_hierarchies",
    "name_hierarchy",
    "name_segments",
    "profile_hierarchy",
    "profile_hierarchy_from",
    "profile_segments",
    "register_leaf_method",
    "segment_effects",
]
