"""Surroundings of the zones (ring, rest of commune), without any QPV, and the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.exposure._base import (
    _QUAD_SEGS,
    _check_geodataframe,
    _overlay,
    _polygonal,
    _prepare_zones,
    _repair,
    _Zones,
)

# -- surroundings -------------------------------------------------------------------------


def surroundings(
    zones: gpd.GeoDataFrame,
    *,
    how: str | gpd.GeoDataFrame | shapely.Geometry = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    qpv: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
) -> gpd.GeoDataFrame:
    """The urban surroundings of each zone, without any QPV.

    ``how="ring"``: the ring of width ``ring`` metres around the zone;
    ``how="rest_of_commune"``: the zone's commune (``code_commune`` of the zone matched to
    ``communes``, else the commune holding most of its area); ``how="unite_urbaine"``: the
    communes of the zone's *unité urbaine* (``communes`` with a ``code_unite_urbaine``
    column); ``how=<GeoDataFrame or geometry>``: a comparison zone the user gives, as in
    Géoclip — one zone for every QPV, or one per QPV when it carries the ``key`` column.
    Every QPV of ``qpv`` is removed — pass **every QPV of the geography** (all 1,296 of
    2015, or the 1,609 of 2024), not only those studied, so that the surroundings hold no
    priority neighbourhood; default: the zones themselves.

    Returns
    -------
    geopandas.GeoDataFrame
        ``key`` and the surroundings polygon (empty when nothing is left).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> # 4 x 100² + pi x 100² = 71,416 m²; the 32-segment quarter circles are 13 m² short
    >>> round(float(surroundings(z, ring=100).area.iloc[0]))
    71403
    """
    z = _prepare_zones(zones, key)
    others = z.geoms if qpv is None else _prepare_zones(qpv, key).geoms
    if not isinstance(how, str):
        base = _given_zone(how, z, key)
    elif how == "ring":
        if ring <= 0:
            raise QpvgeoError(f"ring must be a positive distance in metres, got {ring}")
        # GEOS buffers jagged contours slowly (~3 ms a QPV): in threads, as overlays.
        base = _overlay(lambda g: shapely.buffer(g, ring, quad_segs=_QUAD_SEGS), z.geoms)
    elif how in ("rest_of_commune", "unite_urbaine"):
        if communes is None:
            raise QpvgeoError(f"surroundings(how={how!r}) needs communes=")
        com = _check_geodataframe(communes, what="communes")
        schema.require_columns(com, [schema.CODE_COMMUNE], what="communes")
        cgeoms = _repair(np.asarray(com.geometry.array, dtype=object), what="communes")
        ccodes = com[schema.CODE_COMMUNE].astype("string").to_numpy(dtype=object)
        zi, ci = STRtree(cgeoms).query(z.geoms, predicate="intersects")
        overlap = shapely.area(shapely.intersection(z.geoms[zi], cgeoms[ci]))
        order = np.lexsort((-overlap, zi))
        first = order[np.r_[True, zi[order][1:] != zi[order][:-1]]] if len(order) else order
        best = np.full(len(z.geoms), -1)
        best[zi[first]] = ci[first]
        zones_src = zones if isinstance(zones, gpd.GeoDataFrame) else None
        if zones_src is not None and schema.CODE_COMMUNE in zones_src.columns:
            wanted = zones_src[schema.CODE_COMMUNE].astype("string").to_numpy(dtype=object)
            pos = {c: i for i, c in enumerate(ccodes)}
            named = np.array([pos.get(c, -1) if isinstance(c, str) else -1 for c in wanted])
            best = np.where(named >= 0, named, best)
        missing = best < 0
        if missing.any():
            raise SchemaError(
                f"communes: no commune found for zones {z.index[missing].tolist()[:10]}"
            )
        base = cgeoms[best]
        if how == "unite_urbaine":
            schema.require_columns(com, [UNITE_URBAINE], what="communes")
            uu = com[UNITE_URBAINE].astype("string").to_numpy(dtype=object)
            wanted_uu = uu[best]
            unknown = [z.index[k] for k, u in enumerate(wanted_uu) if not isinstance(u, str)]
            if unknown:
                raise SchemaError(
                    f"communes: no {UNITE_URBAINE!r} for the communes of zones {unknown[:10]}"
                )
            merged = {u: shapely.union_all(cgeoms[uu == u]) for u in set(wanted_uu)}
            base = np.array([merged[u] for u in wanted_uu], dtype=object)
    else:
        raise QpvgeoError(
            "how must be 'ring', 'rest_of_commune', 'unite_urbaine' or a comparison zone "
            f"(GeoDataFrame or geometry), got {how!r}"
        )
    geoms = _minus_all(base, others)
    geoms = _polygonal(geoms) if (~shapely.is_valid(geoms)).any() else geoms
    return gpd.GeoDataFrame({key: z.index.to_numpy()}, geometry=geoms, crs=schema.CRS)


#: Column of ``communes`` naming the INSEE unité urbaine of each commune.
UNITE_URBAINE = "code_unite_urbaine"


def _given_zone(zone: Any, z: _Zones, key: str) -> np.ndarray:
    """The comparison zone of each zone: one for all, or matched on ``key``."""
    from qpvgeo.exposure._coverage import as_geometry

    if isinstance(zone, gpd.GeoDataFrame) and key in zone.columns:
        frame = _check_geodataframe(zone, what="comparison zone")
        by_key = {
            k: as_geometry(g, what="comparison zone")
            for k, g in frame.groupby(frame[key].astype("string"))
        }
        missing = [k for k in z.index if k not in by_key]
        if missing:
            raise SchemaError(f"comparison zone: no zone for {key} {missing[:10]}")
        return np.array([by_key[k] for k in z.index], dtype=object)
    geom = as_geometry(zone, what="comparison zone")
    return np.array([geom] * len(z.geoms), dtype=object)


def _minus_all(base: np.ndarray, qpv: np.ndarray) -> np.ndarray:
    """Each polygon of ``base`` minus every QPV it meets (not a national union: the
    difference with one multipolygon of all France's QPV would cost each ring the whole
    country's vertices)."""
    out = np.asarray(base, dtype=object).copy()
    if not len(qpv) or not len(out):
        return out
    bi, qi = STRtree(qpv).query(out, predicate="intersects")
    if not len(bi):
        return out
    order = np.argsort(bi, kind="stable")
    bi, qi = bi[order], qi[order]
    # Rank of each pair within its ring: round k removes every ring's k-th QPV at once.
    start = np.r_[0, np.flatnonzero(np.diff(bi)) + 1]
    rank = np.arange(len(bi)) - np.repeat(start, np.diff(np.r_[start, len(bi)]))
    for k in range(int(rank.max()) + 1):
        sel = rank == k
        out[bi[sel]] = shapely.difference(out[bi[sel]], qpv[qi[sel]])
    return out


#: Columns compared with the surroundings by default: shares, means, scores (not counts,
#: areas or populations, which grow with the polygon's size).
_COMPARABLE = re.compile(r"^(part_|no2$|pm10$|pm25$|score_chaleur$)")


def compare_to_surroundings(
    values_or_func: Callable[..., pd.DataFrame] | pd.DataFrame,
    zones: gpd.GeoDataFrame,
    *,
    how: str = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    qpv: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
    columns: Sequence[str] | None = None,
    surroundings_values: pd.DataFrame | None = None,
    **indicator_kwargs: Any,
) -> pd.DataFrame:
    """An indicator for each zone, the same for its surroundings, and the ratio zone / surroundings.

    Parameters
    ----------
    values_or_func
        An indicator function of this module (or any ``f(zones, **kw) -> DataFrame``
        indexed by ``key``), run on the zones and on their surroundings with
        ``indicator_kwargs`` (e.g. ``flood=``, ``population=``); or a DataFrame of values
        already computed for the zones, then with ``surroundings_values`` computed on
        :func:`surroundings`.
    zones, how, ring, communes, qpv, key
        See :func:`surroundings`.
    columns
        Columns to compare; default every share, mean concentration and heat score.

    Returns
    -------
    pandas.DataFrame
        The zone values, then for each compared column ``<c>_environs`` and ``<c>_ratio``
        (NA when the surroundings value is 0 or missing).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> from qpvgeo.exposure import flood_exposure
    >>> f = gpd.GeoDataFrame(geometry=[box(0, -1000, 50, 1000)], crs=2154)
    >>> r = compare_to_surroundings(flood_exposure, z, ring=100, flood=f)
    >>> # 0.5 of the zone is flooded, 10,000 m² of the 71,416 m² ring (0.14): ratio 3.57
    >>> round(float(r["part_surface_inondable_ratio"].iloc[0]), 2)
    3.57
    """
    if callable(values_or_func):
        values = values_or_func(zones, key=key, **indicator_kwargs)
        if surroundings_values is None:
            env = surroundings(zones, how=how, ring=ring, communes=communes, qpv=qpv, key=key)
            env = env[~(shapely.is_empty(env.geometry.array) | (env.area <= 0))]
            env_kwargs = dict(indicator_kwargs)
            if env_kwargs.get("population_method") == "calibrated":
                # On the surroundings the dense-housing layer is still the QPV, not the rings.
                env_kwargs.setdefault("ancillary", qpv if qpv is not None else zones)
            surroundings_values = values_or_func(env, key=key, **env_kwargs)
    else:
        values = values_or_func
        if surroundings_values is None:
            raise QpvgeoError(
                "compare_to_surroundings: with precomputed values, pass surroundings_values= "
                "(the same indicator run on surroundings(zones)), or pass the indicator function"
            )
    if not isinstance(values, pd.DataFrame):
        raise SchemaError("compare_to_surroundings: the indicator did not return a DataFrame")
    env_vals = surroundings_values.reindex(values.index)
    cols = (
        list(columns)
        if columns is not None
        else [c for c in values.columns if _COMPARABLE.match(str(c))]
    )
    missing = [c for c in cols if c not in values.columns]
    if missing:
        raise SchemaError(f"compare_to_surroundings: columns {missing} not in the zone values")
    env_vals = env_vals.reindex(columns=list(dict.fromkeys([*env_vals.columns, *cols])))
    out = values.copy()
    for c in cols:
        zc = pd.to_numeric(values[c], errors="coerce").astype(float)
        ec = pd.to_numeric(env_vals[c], errors="coerce").astype(float)
        out[f"{c}_environs"] = ec
        out[f"{c}_ratio"] = (zc / ec).where(ec > 0)
    out.attrs = {**values.attrs, "environs": how, "ring": ring if how == "ring" else None}
    return out
