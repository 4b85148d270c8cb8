"""Flood: area and population of each zone inside flood extents (TRI scenarios).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.exposure._base import (
    _dissolve,
    _frame,
    _measure_inside,
    _near,
    _near_mask,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
    declared_extent,
)

# -- flood --------------------------------------------------------------------------------


def flood_exposure(
    zones: gpd.GeoDataFrame,
    flood: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Area and population share of each zone inside flood extents, per scenario.

    The flood polygons of each scenario are dissolved first (TRI layers hold one polygon
    per flooded surface and they overlap), so a place is counted once.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    flood
        Flood extents (:func:`qpvgeo.readers.environment.read_flood_extents`). With a
        ``scenario`` column the shares are given per scenario (``frequent``, ``moyen``,
        ``extreme`` first, then any other); without it, for the union of all polygons.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column; adds
        ``part_population_inondable_*`` and ``population_inondable_*``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_flood`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``: ``surface_inondable_<scenario>_m2`` (m²),
        ``part_surface_inondable_<scenario>`` (0–1) and, with a population,
        ``population``, ``population_grille``, ``part_population_inondable_<scenario>``,
        ``population_inondable_<scenario>``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> f = gpd.GeoDataFrame({"scenario": ["frequent", "frequent"]},
    ...                      geometry=[box(0, 0, 50, 100), box(25, 0, 50, 100)], crs=2154)
    >>> flood_exposure(z, f)["part_surface_inondable_frequent"].tolist()
    [0.5]
    """
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        return covered_indicator(
            "flood", flood_exposure, zones, flood, coverage, key=key,
            population=population, population_method=population_method,
            ancillary=ancillary,
        )
    z = _prepare_zones(zones, key)
    has_scenario = isinstance(flood, pd.DataFrame) and schema.SCENARIO in flood.columns
    if has_scenario:
        # Columns follow the whole layer's scenarios (not only those near these zones).
        every = flood[schema.SCENARIO].astype("string")
        present = [s for s in schema.FLOOD_SCENARIOS if (every == s).any()]
        present += sorted(set(every.dropna().unique()) - set(schema.FLOOD_SCENARIOS))
        if not present:
            present = list(schema.FLOOD_SCENARIOS)
    layer = _prepare_layer(flood, what="flood", zones=z, polygons=True, keep=0.0)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    if has_scenario:
        scen = layer[schema.SCENARIO].astype("string")
        geoms = np.asarray(layer.geometry.array, dtype=object)
        keep = _near_mask(layer, z)
        pieces = {s: _dissolve(geoms[keep & (scen == s).fillna(False).to_numpy()]) for s in present}
    else:
        pieces = {"": _dissolve(_near(layer, z))}
    out = _measure_inside(z, pieces, stem="inondable", ctx=ctx)
    return _frame(_population_columns(out, z, ctx), z, layer="flood")


def flood_extent(data: Any, *, communes: gpd.GeoDataFrame | None = None, **_: Any) -> Any:
    """Where a flood layer is known to hold data.

    ``data.attrs["couverture"]`` when a reader or the caller attached it (the TRI
    perimeter); else, with ``communes``, the communes the flood surfaces reach (a TRI
    maps every flood surface of the communes it studies, so inside them "no surface"
    means "not flooded"); else ``None`` (the profile falls back to the hull, warning).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = gpd.GeoDataFrame(geometry=[box(1, 1, 2, 2)], crs=2154)
    >>> c = gpd.GeoDataFrame({"code_commune": ["A", "B"]},
    ...                      geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=2154)
    >>> flood_extent(f, communes=c).area
    100.0
    """
    declared = declared_extent(data)
    if declared is not None or communes is None:
        return declared
    frame = schema.to_canonical_crs(data, what="flood")
    geoms = np.asarray(frame.geometry.array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    com = schema.to_canonical_crs(communes, what="communes")
    cgeoms = np.asarray(com.geometry.array, dtype=object)
    if not len(geoms) or not len(cgeoms):
        return None
    hit = np.unique(STRtree(cgeoms).query(geoms, predicate="intersects")[1])
    return shapely.union_all(shapely.make_valid(cgeoms[hit])) if len(hit) else None

_SCENARIO_WORDS = {"frequent": "fréquent", "moyen": "moyen", "extreme": "extrême"}


def scenario_words(group: str | None) -> str:
    """`` (scénario moyen)`` for a scenario group of a column name, ``""`` for none.

    Examples
    --------
    >>> scenario_words("extreme"), scenario_words(None)
    (' (scénario extrême)', '')
    """
    if not group:
        return ""
    return f" (scénario {_SCENARIO_WORDS.get(group, group)})"


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """Nested flood extents along the demo territory's river (the rarer, the wider)."""
    x0, y0 = base.territory.bounds[:2]
    t = np.linspace(0, 12, 60)
    river = shapely.LineString(
        np.column_stack([t * 1000 + x0, (4.3 + 0.7 * np.sin(t / 1.6)) * 1000 + y0])
    )
    widths = {"frequent": 90.0, "moyen": 250.0, "extreme": 520.0}
    return gpd.GeoDataFrame(
        {schema.SCENARIO: list(widths)},
        geometry=[shapely.buffer(river, w) for w in widths.values()], crs=schema.CRS,
    )
