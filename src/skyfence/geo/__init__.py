"""The bottom layer: the Earth model (:mod:`.earth`), the H3 grid (:mod:`.cells`) and geographic
regions (:mod:`.regions`: gazetteer, file readers, the region-spec language, areas)."""

from skyfence.geo.earth import Ellipsoid, wgs72, wgs84

__all__ = ["Ellipsoid", "wgs84", "wgs72"]
