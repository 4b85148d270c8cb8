"""Environmental exposure of QPV (or any polygons), one module per layer family.

Every indicator takes *zones* (polygons with a key column, ``code_qpv`` by default) and
one canonical layer, and returns one row per zone. The layers are declared once in
:data:`LAYERS` (:mod:`qpvgeo.exposure._registry`); :func:`exposure_profile`, the report,
the maps and the demo iterate over it.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> zones = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
>>> flood = gpd.GeoDataFrame({"scenario": ["moyen"]}, geometry=[box(50, 0, 200, 100)], crs=2154)
>>> flood_exposure(zones, flood)["part_surface_inondable_moyen"].round(3).tolist()
[0.5]
"""

from __future__ import annotations

from qpvgeo.exposure._profile import describe_exposure_columns, exposure_profile
from qpvgeo.exposure._registry import FAMILIES, LAYERS, Layer, MapStyle, Registry
from qpvgeo.exposure._surroundings import compare_to_surroundings, surroundings
from qpvgeo.exposure.air import air_exposure
from qpvgeo.exposure.flood import flood_exposure
from qpvgeo.exposure.green import green_space_access
from qpvgeo.exposure.heat import HEAT_CLASSES, LCZ_HEAT_CLASS, heat_exposure
from qpvgeo.exposure.noise import noise_exposure
from qpvgeo.exposure.sites import industrial_exposure

__all__ = [
    "FAMILIES",
    "HEAT_CLASSES",
    "LAYERS",
    "LCZ_HEAT_CLASS",
    "Layer",
    "MapStyle",
    "Registry",
    "air_exposure",
    "compare_to_surroundings",
    "describe_exposure_columns",
    "exposure_profile",
    "flood_exposure",
    "green_space_access",
    "heat_exposure",
    "industrial_exposure",
    "noise_exposure",
    "surroundings",
]

from qpvgeo.exposure import _layers  # noqa: F401  (registers the shipped layers)
