"""The bottom layer: the Earth model (:mod:`.earth`), the H3 grid (:mod:`.cells`, the only user of
``h3``) and geographic regions: lon/lat polygons and the antimeridian (:mod:`.polygons`), the
Natural Earth gazetteer (:mod:`.gazetteer`), GeoJSON/shapefile readers (:mod:`.readers`),
ellipsoidal areas (:mod:`.areas`), geodesic buffers (:mod:`.buffers`) and the region-spec language
(:mod:`.regions`)."""

from skyfence.geo.earth import Ellipsoid, wgs72, wgs84

__all__ = ["Ellipsoid", "wgs84", "wgs72"]
