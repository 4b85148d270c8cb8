"""Coverage: the extent where a layer is known to hold data, and each zone's share of it.

A layer that does not cover a zone says nothing about it: its indicators are NA there,
never 0. The extent comes, best first, from the caller (``coverage=``), from the source
(:attr:`qpvgeo.exposure.Layer.extent`: the IRIS of a heat layer, the reach of air
stations…) or, as a last resort, from the layer's convex hull, with a warning.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> zones = gpd.GeoDataFrame({"code_qpv": ["A", "B"]},
...                          geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)], crs=2154)
>>> z = _prepare_zones(zones, "code_qpv")
>>> covered_share(z.geoms, box(5, 0, 100, 10)).tolist()
[0.5, 1.0]
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import QpvgeoWarning, SchemaError
from qpvgeo.exposure._base import _check_geodataframe, _polygonal, _prepare_zones  # noqa: F401

#: A zone covered to within this share of its area counts as fully covered (the rest is
#: the noise of intersecting two independently drawn contours).
FULL = 0.999
#: A zone covered by less than this share of its area counts as outside the coverage.
NONE = 1e-6


def as_geometry(value: Any, *, what: str) -> shapely.Geometry:
    """One polygonal geometry in EPSG:2154 from a GeoDataFrame, a GeoSeries or a geometry."""
    if isinstance(value, shapely.Geometry):
        geoms = np.asarray([value], dtype=object)
    elif isinstance(value, gpd.GeoSeries):
        geoms = np.asarray(schema.to_canonical_crs(gpd.GeoDataFrame(geometry=value), what=what)
                           .geometry.array, dtype=object)
    elif isinstance(value, gpd.GeoDataFrame):
        geoms = np.asarray(_check_geodataframe(value, what=what).geometry.array, dtype=object)
    else:
        raise SchemaError(
            f"{what}: coverage must be a GeoDataFrame, a GeoSeries or a shapely geometry, "
            f"got {type(value).__name__}"
        )
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return shapely.Polygon()
    kinds = set(shapely.get_type_id(geoms).tolist()) - {3, 6, 7}
    if kinds:
        raise SchemaError(f"{what}: coverage must be polygons, got shapely types {sorted(kinds)}")
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = _polygonal(geoms[bad])
    return shapely.union_all(geoms)


def layer_extent(
    layer: Any, data: Any, given: Any = None, *, communes: Any = None, **options: Any
) -> tuple[shapely.Geometry, str]:
    """The coverage of ``data`` for the registered ``layer``, and how it was known.

    Best first: ``given`` (the caller's ``coverage=``); the layer's ``extent(data,
    communes=communes, **options)`` or, for any layer, ``data.attrs["couverture"]``
    (what a reader or the caller attached); the convex hull of the layer's features, with a warning.
    Returns ``(geometry, rule)``, ``rule`` one of ``"given"``, ``"source"``, ``"hull"``.
    """
    from qpvgeo.exposure._base import declared_extent

    if given is not None:
        return as_geometry(given, what=f"coverage of {layer.name!r}"), "given"
    geom = layer.extent(data, communes=communes, **options) if layer.extent is not None else None
    if geom is None:
        geom = declared_extent(data)
    if geom is not None:
        return as_geometry(geom, what=f"extent of {layer.name!r}"), "source"
    if isinstance(data, gpd.GeoDataFrame):
        frame = _check_geodataframe(data, what=layer.name)
        geoms = np.asarray(frame.geometry.array, dtype=object)
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        # The hull of a collection needs no union (a département's noise map has 10⁵
        # vertices: dissolving it first would cost seconds for the same hull).
        hull = (shapely.convex_hull(shapely.geometrycollections(geoms)) if len(geoms)
                else shapely.Polygon())
    else:
        hull = None
    if hull is None or shapely.get_type_id(hull) not in (3, 6):
        raise SchemaError(
            f"{layer.name}: the layer's coverage cannot be derived from the data; pass "
            f"coverage={{{layer.name!r}: polygons}} (the communes or territory it covers)"
        )
    warnings.warn(
        f"{layer.name}: no coverage given and none in the source; the layer's convex hull "
        f"is taken as its coverage (pass coverage={{{layer.name!r}: …}} to say where it "
        "holds data)",
        QpvgeoWarning,
        stacklevel=3,
    )
    return hull, "hull"


def covered_share(geoms: np.ndarray, extent: shapely.Geometry) -> np.ndarray:
    """Share of each polygon's area inside ``extent`` (0–1; NaN for a polygon of no area)."""
    area = shapely.area(geoms)
    out = np.zeros(len(geoms))
    if shapely.is_empty(extent) or not len(geoms):
        return np.where(area > 0, out, np.nan)
    shapely.prepare(extent)
    inside = shapely.contains(extent, geoms)
    touch = shapely.intersects(extent, geoms) & ~inside
    out[inside] = 1.0
    if touch.any():
        part = shapely.area(shapely.intersection(geoms[touch], extent))
        out[touch] = np.minimum(part / area[touch], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, out, np.nan)


def clip_to(geoms: np.ndarray, extent: shapely.Geometry, share: np.ndarray) -> np.ndarray:
    """Each polygon clipped to ``extent``: unchanged when fully covered, empty when outside."""
    out = geoms.copy()
    part = (share > NONE) & (share < FULL)
    out[~(share > NONE)] = shapely.Polygon()
    if part.any():
        cut = shapely.intersection(geoms[part], extent)
        cut = _polygonal(cut) if (shapely.get_type_id(cut) == 7).any() else cut
        out[part] = cut
    return out


def coverage_class(share: pd.Series) -> pd.Series:
    """``"couverte"``, ``"partielle"`` or ``"hors couverture"`` from a covered share."""
    s = pd.to_numeric(share, errors="coerce")
    return pd.Series(
        np.select([s >= FULL, s > NONE], ["couverte", "partielle"], "hors couverture"),
        index=share.index, dtype="string",
    )
