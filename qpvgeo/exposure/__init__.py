"""Environmental exposure of QPV (or any polygons), one module per layer family.

Every indicator takes *zones* (polygons with a key column, ``code_qpv`` by default) and
one canonical layer, and returns one row per zone. The layers are declared once in
:data:`LAYERS` (:mod:`qpvgeo.exposure._layers`); :func:`exposure_profile`, the report,
the maps and the demo iterate over it. :mod:`qpvgeo.exposure.burden` composes them
(percentiles, cumulative burden, double burden).

Modules: :mod:`~qpvgeo.exposure.flood`, :mod:`~qpvgeo.exposure.sites`,
:mod:`~qpvgeo.exposure.air`, :mod:`~qpvgeo.exposure.heat`,
:mod:`~qpvgeo.exposure.green`, :mod:`~qpvgeo.exposure.noise` (one per layer family);
``_base`` (zones, layers, population), ``_coverage``, ``_surroundings``, ``_profile``,
``_catalogue`` (the machinery); ``_registry`` and ``_layers`` (the registry).

Adding a layer
--------------
1. Write one module ``qpvgeo/exposure/<famille>.py`` with an indicator
   ``my_exposure(zones, data, *, key="code_qpv", population=None,
   population_method="area", ancillary=None, **options) -> DataFrame`` that returns one
   row per zone indexed by ``key``. Start it with ``z = _base._prepare_zones(zones, key)``
   and ``ctx = _base._population_context(z, population, population_method,
   ancillary=ancillary)``: when :func:`exposure_profile` calls it, the zones are already
   clipped to the layer's coverage and carry the run's population base, and both calls
   return them as they are. Measure with ``_base._measure_inside`` (area and population
   inside a geometry) or ``_base._weighted_by_population`` (population-weighted means).
   Add, when the source says where it holds data, ``extent(data, **options)``
   returning a polygon, and ``demo_layer(base)`` building it for the demo territory.
2. Append one ``LAYERS.register(Layer(...))`` to ``_layers.py``: name, French label,
   family, indicator, reader, ``columns=`` (a :class:`qpvgeo.schema.Column` for every
   column the indicator returns, patterns allowed), ``comparable=``, ``headline=``,
   ``extent=``, ``thresholds=``, ``style=``, ``demo=``.

That is all: the profile (coverage, surroundings, ratios), the column catalogue, the
synthesis, the demo and the report pick it up from the registry
(``tests/test_exposure_registry.py`` registers a toy layer to prove it).

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

from qpvgeo.exposure import burden
from qpvgeo.exposure._catalogue import column_catalogue
from qpvgeo.exposure._coverage import coverage_class, layer_extent
from qpvgeo.exposure._profile import describe_exposure_columns, exposure_profile
from qpvgeo.exposure._registry import FAMILIES, LAYERS, Layer, MapStyle, Registry
from qpvgeo.exposure._surroundings import compare_to_surroundings, surroundings
from qpvgeo.exposure.air import EU_2030, STATION_MAX_DISTANCE, WHO_2021, air_exposure
from qpvgeo.exposure.flood import flood_exposure
from qpvgeo.exposure.green import green_space_access
from qpvgeo.exposure.heat import HEAT_CLASSES, LCZ_HEAT_CLASS, heat_exposure
from qpvgeo.exposure.noise import LIMIT_VALUES, noise_exposure
from qpvgeo.exposure.sites import industrial_exposure

__all__ = [
    "EU_2030",
    "FAMILIES",
    "HEAT_CLASSES",
    "LAYERS",
    "LCZ_HEAT_CLASS",
    "LIMIT_VALUES",
    "STATION_MAX_DISTANCE",
    "WHO_2021",
    "Layer",
    "MapStyle",
    "Registry",
    "air_exposure",
    "burden",
    "column_catalogue",
    "compare_to_surroundings",
    "coverage_class",
    "describe_exposure_columns",
    "exposure_profile",
    "flood_exposure",
    "green_space_access",
    "heat_exposure",
    "industrial_exposure",
    "layer_extent",
    "noise_exposure",
    "surroundings",
]

from qpvgeo.exposure import _layers  # noqa: F401  (registers the shipped layers)
