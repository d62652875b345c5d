"""Customer segments: rule segments and the discovered HDBSCAN + agglomerative hierarchy.

Example
-------
>>> from segml.segments import RuleSegmenter, SegmentHierarchy
>>> SegmentHierarchy().get_params()["levels"]
2
"""

from segml.segments.hierarchy import SegmentHierarchy
from segml.segments.naming import name_hierarchy, name_segments
from segml.segments.profiles import profile_hierarchy, profile_segments, segment_effects
from segml.segments.rules import RuleSegmenter
from segml.segments.stability import HierarchyMatch, match_hierarchies

__all__ = [
    "HierarchyMatch",
    "RuleSegmenter",
    "SegmentHierarchy",
    "match_hierarchies",
    "name_hierarchy",
    "name_segments",
    "profile_hierarchy",
    "profile_segments",
    "segment_effects",
]
