"""Nature in the city: access to green spaces (WHO Europe indicator).
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, QpvgeoWarning
from qpvgeo.exposure._base import (
    _QUAD_SEGS,
    _dissolve,
    _frame,
    _measure_inside,
    _near_mask,
    _nearest,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
)

# -- green spaces -------------------------------------------------------------------------


def green_space_access(
    zones: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    *,
    distance: float = 300,
    min_area: float = 5000,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Share of each zone (population, or area) near a green space of at least ``min_area``.

    The WHO Europe indicator: residents within 300 m (straight line) of a public green
    space of at least 0.5 ha. Touching or overlapping polygons are merged before their
    area is measured (a park drawn as several lawns is one park); green spaces smaller
    than ``min_area`` m² are left out.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    parks
        Green-space polygons (:func:`qpvgeo.readers.environment.read_green_spaces`), in
        any CRS.
    distance
        Reach in metres, straight line from the green space's edge (default 300, WHO);
        must be >= 0.
    min_area
        Smallest green space counted, in m², measured after merging touching polygons
        (default 5000 m² = 0.5 ha, WHO); must be >= 0.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column; adds
        ``part_population_acces_espace_vert`` and ``population_acces_espace_vert``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_green_spaces`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        ``part_surface_acces_espace_vert`` (0–1), ``distance_espace_vert_m`` (edge to
        edge, 0 when a qualifying green space touches the zone),
        ``n_espaces_verts`` (qualifying green spaces within ``distance``), and with a
        population ``part_population_acces_espace_vert``,
        ``population_acces_espace_vert``. ``attrs`` keep ``distance`` and ``min_area``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 1000, 100)], crs=2154)
    >>> p = gpd.GeoDataFrame({"nom": ["parc", "square"]},
    ...                      geometry=[box(-200, 0, -100, 100), box(900, 200, 910, 210)], crs=2154)
    >>> green_space_access(z, p)["part_surface_acces_espace_vert"].round(3).tolist()
    [0.2]
    """
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        return covered_indicator(
            "green_spaces", green_space_access, zones, parks, coverage, key=key,
            population=population, population_method=population_method,
            ancillary=ancillary, distance=distance, min_area=min_area,
        )
    if distance < 0 or min_area < 0:
        raise QpvgeoError(f"distance and min_area must be >= 0 (got {distance}, {min_area})")
    z = _prepare_zones(zones, key)
    # The green spaces within a margin of the zones (for the nearest one's distance),
    # each merged with every polygon it touches, however far the chain runs, before its
    # area is tested: a park's far parts are never lost, and a zone's result does not
    # depend on which other zones are measured with it.
    margin = distance + 2000.0
    layer = _prepare_layer(parks, what="green spaces", zones=z, polygons=True, reach=distance)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    near = geoms[_touching(geoms, _near_mask(layer, z, margin))] if len(geoms) else geoms
    merged = shapely.get_parts(_dissolve(near)) if len(near) else np.zeros(0, dtype=object)
    big = merged[shapely.area(merged) >= min_area] if len(merged) else merged
    if len(layer) and not len(big):
        warnings.warn(
            f"green spaces: no green space of at least {min_area:g} m² near the zones; "
            "access shares are 0",
            QpvgeoWarning,
            stacklevel=2,
        )
    reach = _dissolve(shapely.buffer(big, distance, quad_segs=_QUAD_SEGS)) if len(big) else None
    out: dict[str, Any] = _measure_inside(
        z, {"": reach}, stem="acces_espace_vert", ctx=ctx, with_area=False
    )
    out["distance_espace_vert_m"] = _farther_nearest(
        z.geoms, geoms, _nearest(z.geoms, big, np.arange(len(big)))[0], margin, min_area)
    if len(big):
        zi, _ = STRtree(big).query(z.geoms, predicate="dwithin", distance=distance)
    else:
        zi = np.zeros(0, dtype=int)
    out["n_espaces_verts"] = np.bincount(zi, minlength=len(z.geoms))
    frame = _frame(_population_columns(out, z, ctx), z, layer="green_spaces")
    frame.attrs.update(distance=distance, min_area=min_area)
    return frame


def _farther_nearest(zone_geoms: np.ndarray, geoms: np.ndarray, dist: np.ndarray,
                     margin: float, min_area: float) -> np.ndarray:
    """Distances to the nearest qualifying green space, also beyond ``margin``.

    A distance found within ``margin`` is exact: every polygon that near the zone was
    merged with its whole chain. For the others (none near, or the nearest farther), the
    search widens fourfold at a time around those zones only, until each has an exact
    answer or the whole layer was looked at (then NA means no qualifying green space).
    """
    dist = dist.copy()
    todo = ~(dist <= margin)
    reach = margin
    while todo.any() and len(geoms):
        reach *= 4
        sub = zone_geoms[todo]
        seed = np.zeros(len(geoms), dtype=bool)
        seed[STRtree(geoms).query(sub, predicate="dwithin", distance=reach)[1]] = True
        whole = seed.all()
        parts = shapely.get_parts(_dissolve(geoms[_touching(geoms, seed)])) if seed.any() \
            else np.zeros(0, dtype=object)
        big = parts[shapely.area(parts) >= min_area] if len(parts) else parts
        d = _nearest(sub, big, np.arange(len(big)))[0]
        exact = (d <= reach) | whole
        idx = np.flatnonzero(todo)
        dist[idx[exact]] = d[exact]
        todo[idx[exact]] = False
        if whole:
            break
    return dist


def _touching(geoms: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """``seed`` grown with every polygon that meets a polygon already in it, until none
    is added: whole groups of touching polygons, as their union merges them."""
    out = seed.copy()
    if not out.any():
        return out
    tree = STRtree(geoms)
    frontier = np.flatnonzero(out)
    while len(frontier):
        hits = np.unique(tree.query(geoms[frontier], predicate="intersects")[1])
        frontier = hits[~out[hits]]
        out[frontier] = True
    return out


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """Four green spaces of the demo territory, one below the WHO 0.5 ha threshold."""
    x0, y0 = base.territory.bounds[:2]

    def poly(coords):
        return shapely.Polygon(np.asarray(coords, dtype=float) * 1000.0 + (x0, y0))

    geoms = [
        poly([(7.9, 5.9), (8.6, 6.1), (8.5, 6.7), (7.8, 6.6)]),       # Parc des Berges
        poly([(5.0, 6.0), (5.07, 6.0), (5.07, 6.05), (5.0, 6.05)]),    # square, 0.35 ha
        poly([(1.0, 2.8), (1.6, 2.8), (1.6, 3.3), (1.0, 3.3)]),        # Bois du Bourg
        poly([(6.0, 6.6), (6.4, 6.6), (6.4, 6.9), (6.0, 6.9)]),        # Jardin public
    ]
    return gpd.GeoDataFrame(
        {schema.NOM_ESPACE_VERT: ["Parc des Berges", "Square du Port", "Bois du Bourg",
                                  "Jardin public"]},
        geometry=geoms, crs=schema.CRS,
    )
