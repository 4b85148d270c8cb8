"""Environmental exposure of QPV (or any polygons): flood, industry, air, heat, green space, noise.

Every indicator takes *zones* (a GeoDataFrame of polygons with a key column, ``code_qpv``
by default) and one canonical layer (as returned by :mod:`qpvgeo.readers.environment`),
and returns a :class:`pandas.DataFrame` with **one row per zone**, indexed by the key.

Area and population
    Shares are fractions in ``[0, 1]``. ``part_surface_*`` is a share of the zone's area;
    when ``population=`` is given (an INSEE Filosofi 200 m grid with an ``ind`` column,
    or any polygons with a ``population`` column) the same share is measured on
    population: the population of the pieces *zone ∩ layer* over the population of the
    zone, both estimated by :mod:`qpvgeo.interpolate` (``grid_population`` for a grid,
    ``areal_interpolate`` for polygons). When the zones carry an official ``population``
    column (INSEE's QPV figures), counts are that official total times the grid share:
    the grid is only used for the distribution inside the zone, and its raw estimate
    stays in ``population_grille``.
Layers
    Layers in any CRS are reprojected to EPSG:2154; invalid polygons are repaired with
    ``make_valid`` (polygonal parts kept) and overlapping polygons are dissolved before
    any area is measured, so that a place covered twice is counted once. An empty layer
    gives zeros (or NA for distances and means) with a :class:`~qpvgeo.errors.QpvgeoWarning`;
    so does a layer that does not reach any zone.
Surroundings
    :func:`compare_to_surroundings` re-runs an indicator on the urban surroundings of each
    zone (a ring around it, or the rest of its commune, minus every QPV) and gives the ratio
    zone / surroundings; :func:`exposure_profile` assembles every indicator in one table
    whose columns are documented by :func:`describe_exposure_columns`.

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

import functools
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import DuplicateCodeError, QpvgeoError, QpvgeoWarning, SchemaError

__all__ = [
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

#: Segments per quarter circle of the buffers around sites and parks: with 32 the
#: polygonal circle's area is within 0.04 % of the true disc.
_QUAD_SEGS = 32
#: Heat classes of the LCZ-derived heat-sensitivity layers, least to most exposed.
HEAT_CLASSES: tuple[str, ...] = ("faible", "moyenne", "forte")
#: Cerema local climate zones -> heat class (the mapping of the Cerema-derived IRIS layers:
#: compact / industrial / heavy industry zones heat most, vegetation and water least).
LCZ_HEAT_CLASS: dict[str, str] = {
    **{k: "forte" for k in ("1", "2", "3", "8", "10")},
    **{k: "moyenne" for k in ("4", "5", "6", "7", "E")},
    **{k: "faible" for k in ("9", "A", "B", "C", "D", "F", "G")},
}
_HEAT_ALIASES = {
    "high": "forte",
    "haute": "forte",
    "fort": "forte",
    "forte": "forte",
    "elevee": "forte",
    "medium": "moyenne",
    "moyen": "moyenne",
    "moyenne": "moyenne",
    "low": "faible",
    "faible": "faible",
    "basse": "faible",
    "bas": "faible",
}


# -- zones and layers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Zones:
    """Zones ready for overlays: canonical CRS, valid polygons, unique keys."""

    frame: gpd.GeoDataFrame  # key column + geometry (+ official population if any)
    key: str
    index: pd.Index
    geoms: np.ndarray
    area: np.ndarray
    official: np.ndarray | None  # official population of each zone, when the zones carry one


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """``make_valid`` keeping polygonal parts (self-intersections leave lines and points)."""
    fixed = shapely.make_valid(geoms)
    mixed = shapely.get_type_id(fixed) == 7  # GeometryCollection
    if mixed.any():
        parts, owner = shapely.get_parts(fixed[mixed], return_index=True)
        sub, sub_owner = shapely.get_parts(parts, return_index=True)  # explode multipolygons
        owner = owner[sub_owner]
        keep = shapely.get_type_id(sub) == 3
        out = np.full(int(mixed.sum()), None, dtype=object)
        if keep.any():
            order = np.argsort(owner[keep], kind="stable")
            shapely.multipolygons(sub[keep][order], indices=owner[keep][order], out=out)
        out = np.where(shapely.is_missing(out), shapely.Polygon(), out)
        fixed[mixed] = out
    return fixed


def _repair(geoms: np.ndarray, *, what: str) -> np.ndarray:
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = _polygonal(geoms[invalid])
        warnings.warn(
            f"{what}: repaired {int(invalid.sum())} invalid polygon(s) with make_valid "
            "(polygonal parts kept)",
            QpvgeoWarning,
            stacklevel=4,
        )
    return geoms


def _check_geodataframe(frame: object, *, what: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SchemaError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}")
    return schema.to_canonical_crs(frame, what=what)


def _prepare_zones(zones: gpd.GeoDataFrame, key: str) -> _Zones:
    if isinstance(zones, _Zones):
        return zones
    zones = _check_geodataframe(zones, what="zones")
    if key not in zones.columns and zones.index.name == key:
        zones = zones.reset_index()
    schema.require_columns(zones, [key], what="zones")
    codes = zones[key].astype("string")
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise DuplicateCodeError(f"zones: column {key!r} has duplicated codes {dup[:10]}")
    if codes.isna().any():
        raise SchemaError(f"zones: {int(codes.isna().sum())} zone(s) have no {key!r}")
    geoms = np.asarray(zones.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise SchemaError(f"zones: no geometry for {codes[missing].tolist()[:10]}")
    kinds = set(shapely.get_type_id(geoms).tolist()) - {3, 6}
    if kinds:
        raise SchemaError(
            f"zones: polygons expected, got geometry types {sorted(kinds)} (shapely ids)"
        )
    geoms = _repair(geoms, what="zones")
    index = pd.Index(codes.to_numpy(), name=key, dtype="string")
    official = None
    if schema.POPULATION in zones.columns:
        official = pd.to_numeric(zones[schema.POPULATION], errors="coerce").to_numpy(dtype=float)
    frame = gpd.GeoDataFrame({key: index.to_numpy()}, geometry=geoms, crs=schema.CRS)
    return _Zones(frame, key, index, geoms, shapely.area(geoms), official)


def _prepare_layer(
    layer: gpd.GeoDataFrame,
    *,
    what: str,
    zones: _Zones,
    polygons: bool,
    reach: float = 0.0,
    keep: float | None = None,
) -> gpd.GeoDataFrame:
    """Canonical CRS, no empty geometry, valid polygons; warns when empty or out of reach.

    With ``keep`` (metres), polygons whose bounding box lies farther than that from every
    zone's bounding box are left out *before* repair: they cannot change any result, and
    ``make_valid`` on a whole département's noise map costs seconds per layer.
    """
    layer = _check_geodataframe(layer, what=what)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        warnings.warn(
            f"{what}: dropped {int(missing.sum())} feature(s) without geometry",
            QpvgeoWarning,
            stacklevel=3,
        )
        layer = layer[~missing]
        geoms = geoms[~missing]
    if not len(layer):
        warnings.warn(
            f"{what}: the layer is empty; indicators are 0 or NA", QpvgeoWarning, stacklevel=3
        )
        return layer
    n_all = len(layer)
    if polygons:
        kinds = set(shapely.get_type_id(geoms).tolist()) - {3, 6, 7}
        if kinds:
            raise SchemaError(
                f"{what}: polygons expected, got geometry types {sorted(kinds)} (shapely ids)"
            )
        if keep is not None:
            zb = shapely.bounds(zones.geoms)
            boxes = shapely.box(zb[:, 0] - keep, zb[:, 1] - keep, zb[:, 2] + keep, zb[:, 3] + keep)
            hits = STRtree(shapely.envelope(geoms)).query(boxes, predicate="intersects")[1]
            near = np.zeros(len(geoms), dtype=bool)
            near[hits] = True
            layer, geoms = layer[near], geoms[near]
        geoms = _repair(geoms, what=what)
        layer = layer.set_geometry(gpd.GeoSeries(geoms, index=layer.index, crs=schema.CRS))
    hits = np.zeros((2, 0), dtype=int)
    if len(geoms):
        tree = STRtree(geoms)
        if reach > 0:
            hits = tree.query(zones.geoms, predicate="dwithin", distance=reach)
        else:
            hits = tree.query(zones.geoms, predicate="intersects")
    if not hits.shape[1]:
        where = f"within {reach:g} m of" if reach > 0 else "overlapping"
        warnings.warn(
            f"{what}: no feature of the layer ({n_all}) is {where} any of the "
            f"{len(zones.index)} zones; check the layer covers the zones' territory",
            QpvgeoWarning,
            stacklevel=3,
        )
    return layer


def _near_mask(layer: gpd.GeoDataFrame, zones: _Zones, reach: float = 0.0) -> np.ndarray:
    """Features within ``reach`` of some zone (dissolving the others is wasted work)."""
    geoms = np.asarray(layer.geometry.array, dtype=object)
    mask = np.zeros(len(geoms), dtype=bool)
    if not len(geoms):
        return mask
    tree = STRtree(geoms)
    if reach > 0:
        hits = tree.query(zones.geoms, predicate="dwithin", distance=reach)
    else:
        hits = tree.query(zones.geoms, predicate="intersects")
    mask[hits[1]] = True
    return mask


def _near(layer: gpd.GeoDataFrame, zones: _Zones, reach: float = 0.0) -> np.ndarray:
    return np.asarray(layer.geometry.array, dtype=object)[_near_mask(layer, zones, reach)]


def _dissolve(geoms: np.ndarray) -> shapely.Geometry:
    if not len(geoms):
        return shapely.Polygon()
    return shapely.union_all(geoms)


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", "_")


# -- population ---------------------------------------------------------------------------


def _population_source(population: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str, bool]:
    """(frame in EPSG:2154, population column, is_grid)."""
    population = _check_geodataframe(population, what="population")
    if "ind" in population.columns:
        return population, "ind", True
    if schema.POPULATION in population.columns:
        return population, schema.POPULATION, False
    raise SchemaError(
        "population: expected a Filosofi grid (column 'ind') or polygons with a "
        f"'population' column; columns present: {list(population.columns)}"
    )


def _population_of(
    geoms: np.ndarray,
    index: pd.Index,
    population: gpd.GeoDataFrame,
    *,
    method: str,
    extra: Mapping[str, np.ndarray] | None = None,
    qpv: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Population (and population-weighted products) inside each polygon: one call to interpolate.

    ``extra`` adds source columns (e.g. population x concentration) estimated the same way.
    Empty polygons get 0.
    """
    source, col, is_grid = _population_source(population)
    names = ["population", *(extra or {})]
    out = pd.DataFrame(0.0, index=index, columns=names)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not keep.any() or not len(source):
        return out
    target = gpd.GeoDataFrame(
        {"_zone": np.arange(int(keep.sum()))}, geometry=geoms[keep], crs=schema.CRS
    )
    extra_values = {k: np.asarray(v, dtype=float) for k, v in (extra or {}).items()}
    from qpvgeo import interpolate  # data flows readers -> interpolate -> exposure

    if is_grid:
        # grid_population locates cells from x_laea / y_laea or idcar_200m: keep them.
        src = source.assign(**extra_values)
        est = interpolate.grid_population(
            src, target, columns=(col, *extra_values), method=method, qpv=qpv
        ).rename(columns={col: "population"})
    else:
        values = {"population": pd.to_numeric(source[col], errors="coerce").fillna(0.0)}
        src = gpd.GeoDataFrame(
            {k: np.asarray(v, dtype=float) for k, v in {**values, **extra_values}.items()},
            geometry=source.geometry.array,
            crs=schema.CRS,
        )
        est = interpolate.areal_interpolate(src, target, extensive=tuple(names))
    out.loc[index[keep], names] = est[names].to_numpy(dtype=float)
    return out


@dataclass
class _PopulationContext:
    population: gpd.GeoDataFrame | None
    method: str
    zone_total: np.ndarray | None = None
    qpv: gpd.GeoDataFrame | None = None


def _population_context(zones: _Zones, population, method: str, *,
                        ancillary: gpd.GeoDataFrame | None = None) -> _PopulationContext:
    if population is None:
        return _PopulationContext(None, method)
    qpv = None
    if method == "calibrated":
        # The calibrated estimator needs the QPV contours; for QPV zones they are the zones.
        qpv = (_check_geodataframe(ancillary, what="ancillary") if ancillary is not None
               else gpd.GeoDataFrame(geometry=zones.geoms, crs=schema.CRS))
    ctx = _PopulationContext(population, method, qpv=qpv)
    ctx.zone_total = _population_of(zones.geoms, zones.index, population, method=method,
                                    qpv=qpv)["population"].to_numpy()
    return ctx


def _population_columns(out: dict[str, Any], zones: _Zones, ctx: _PopulationContext) -> dict:
    """Leading ``population`` (official when the zones carry it) and ``population_grille``."""
    if ctx.population is None:
        return out
    head = {}
    head["population"] = zones.official if zones.official is not None else ctx.zone_total
    head["population_grille"] = ctx.zone_total
    return {**head, **out}


def _measure_inside(
    zones: _Zones,
    pieces_by_label: Mapping[str, shapely.Geometry],
    *,
    stem: str,
    ctx: _PopulationContext,
    with_area: bool = True,
) -> dict[str, np.ndarray]:
    """Area and population of zone ∩ geometry, for each (already dissolved) geometry."""
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for label, geom in pieces_by_label.items():
            name = f"{stem}_{label}" if label else stem
            pieces = np.full(len(zones.geoms), shapely.Polygon(), dtype=object)
            if geom is not None and not shapely.is_empty(geom):
                shapely.prepare(geom)
                hit = shapely.intersects(geom, zones.geoms)
                if hit.any():
                    pieces[hit] = shapely.intersection(zones.geoms[hit], geom)
                    # Boundary contacts leave lines/points: they carry no area or population.
                    pieces[hit] = np.where(
                        shapely.area(pieces[hit]) > 0, pieces[hit], shapely.Polygon()
                    )
            area_in = shapely.area(pieces)
            if with_area:
                out[f"surface_{name}_m2"] = area_in
            out[f"part_surface_{name}"] = np.where(zones.area > 0, area_in / zones.area, np.nan)
            if ctx.population is not None:
                pop_in = _population_of(pieces, zones.index, ctx.population,
                                        method=ctx.method, qpv=ctx.qpv)[
                    "population"
                ].to_numpy()
                share = np.where(
                    ctx.zone_total > 0, np.minimum(pop_in / ctx.zone_total, 1.0), np.nan
                )
                out[f"part_population_{name}"] = share
                out[f"population_{name}"] = (
                    share * zones.official if zones.official is not None else pop_in
                )
    return out


def _frame(out: Mapping[str, Any], zones: _Zones, *, layer: str) -> pd.DataFrame:
    frame = pd.DataFrame(dict(out), index=zones.index.copy())
    frame.attrs["couche"] = layer
    return frame


# -- flood --------------------------------------------------------------------------------


def flood_exposure(
    zones: gpd.GeoDataFrame,
    flood: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
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


# -- industrial sites ---------------------------------------------------------------------


def _seveso_levels(sites: gpd.GeoDataFrame) -> pd.Series | None:
    if schema.SEVESO not in sites.columns:
        return None
    lev = sites[schema.SEVESO].astype("string").str.strip().str.lower()
    if lev.isna().all():
        return None  # the source does not say (IREP): unknown is not "non Seveso"
    bad = sorted(set(lev.dropna().unique()) - set(schema.SEVESO_LEVELS))
    if bad:
        raise SchemaError(
            f"sites: column {schema.SEVESO!r} holds {bad}; "
            f"expected {list(schema.SEVESO_LEVELS)} or NA"
        )
    return lev


def _nearest(
    zone_geoms: np.ndarray, geoms: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (0 inside) from each zone to the nearest geometry, and its label."""
    dist = np.full(len(zone_geoms), np.nan)
    lab = np.full(len(zone_geoms), None, dtype=object)
    if len(geoms):
        (zi, gi), d = STRtree(geoms).query_nearest(
            zone_geoms, return_distance=True, all_matches=False
        )
        dist[zi] = d
        lab[zi] = labels[gi]
    return dist, lab


def _radii(radii: Iterable[float]) -> list[float]:
    out = sorted({float(r) for r in radii})
    if not out or out[0] <= 0:
        raise QpvgeoError(f"radii must be positive distances in metres, got {list(radii)}")
    return out


def industrial_exposure(
    zones: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    radii: Sequence[float] = (500, 1000, 2000),
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Distance to the nearest industrial site, sites within each radius, population within reach.

    Distances run from the zone's edge (0 when a site is inside the zone). A site
    counts within radius *r* when its distance is ``<= r``: a site 750 m away counts at
    1,000 m and not at 500 m. The area (and population) within *r* is the part of the zone
    inside the union of the *r*-buffers of all sites.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column.
    sites
        Points (:func:`qpvgeo.readers.environment.read_industrial_sites`): ``code_site``,
        ``nom_site`` and, when known, ``seveso`` in ``haut`` / ``bas`` / ``non`` (NA when
        the source does not say, as in IREP).
    radii
        Distances in metres.
    key, population, population_method
        As in :func:`flood_exposure`.

    Returns
    -------
    pandas.DataFrame
        ``distance_site_m``, ``site_plus_proche``; with a ``seveso`` column also
        ``distance_seveso_haut_m``, ``seveso_haut_plus_proche``; per radius *r*:
        ``n_sites_<r>m`` and with Seveso levels ``n_seveso_haut_<r>m``,
        ``n_seveso_bas_<r>m``; ``part_surface_sites_<r>m`` and with a population
        ``part_population_sites_<r>m``, ``population_sites_<r>m``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> s = gpd.GeoDataFrame({"code_site": ["A"], "seveso": ["haut"]},
    ...                      geometry=[Point(850, 50)], crs=2154)
    >>> r = industrial_exposure(z, s)
    >>> row = r.iloc[0]
    >>> float(row["distance_site_m"]), int(row["n_sites_500m"]), int(row["n_sites_1000m"])
    (750.0, 0, 1)
    """
    z = _prepare_zones(zones, key)
    rs = _radii(radii)
    layer = _prepare_layer(sites, what="sites", zones=z, polygons=False, reach=rs[-1])
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    levels = _seveso_levels(layer)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    label_col = next((c for c in (schema.CODE_SITE, schema.NOM_SITE) if c in layer.columns), None)
    labels = (
        layer[label_col].astype("string").to_numpy(dtype=object)
        if label_col
        else np.asarray(layer.index.astype(str), dtype=object)
    )
    out: dict[str, Any] = {}
    out["distance_site_m"], out["site_plus_proche"] = _nearest(z.geoms, geoms, labels)
    if levels is not None:
        haut = (levels == "haut").fillna(False).to_numpy()
        out["distance_seveso_haut_m"], out["seveso_haut_plus_proche"] = _nearest(
            z.geoms, geoms[haut], labels[haut]
        )
    tree = STRtree(geoms) if len(geoms) else None
    for r in rs:
        lab = _label(r)
        if tree is not None:
            zi, si = tree.query(z.geoms, predicate="dwithin", distance=r)
        else:
            zi = si = np.zeros(0, dtype=int)
        out[f"n_sites_{lab}m"] = np.bincount(zi, minlength=len(z.geoms))
        if levels is not None:
            lv = levels.fillna("").to_numpy(dtype=object)
            for level in ("haut", "bas"):
                sel = lv[si] == level if len(si) else np.zeros(0, dtype=bool)
                out[f"n_seveso_{level}_{lab}m"] = np.bincount(zi[sel], minlength=len(z.geoms))
    for r in rs:
        near = _near(layer, z, r) if len(layer) else geoms
        reach = _dissolve(shapely.buffer(near, r, quad_segs=_QUAD_SEGS)) if len(near) else None
        out.update(
            _measure_inside(z, {f"{_label(r)}m": reach}, stem="sites", ctx=ctx, with_area=False)
        )
    return _frame(_population_columns(out, z, ctx), z, layer="sites")


# -- zonal means (air, heat) ---------------------------------------------------------------


def _zonal_mean(
    target: np.ndarray, source: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted mean of ``values`` (n_source x k) over each target, and its covered area.

    NaN source values are left out of that variable's mean (not counted as 0).
    """
    k = values.shape[1]
    means = np.full((len(target), k), np.nan)
    covered = np.zeros(len(target))
    if not len(source) or not len(target):
        return means, covered
    ti, si = STRtree(source).query(target, predicate="intersects")
    if not len(ti):
        return means, covered
    a = shapely.area(shapely.intersection(target[ti], source[si]))
    covered = np.bincount(ti, weights=a, minlength=len(target))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            v = values[si, j]
            ok = ~np.isnan(v)
            w = np.bincount(ti[ok], weights=a[ok], minlength=len(target))
            s = np.bincount(ti[ok], weights=a[ok] * v[ok], minlength=len(target))
            means[:, j] = np.where(w > 0, s / w, np.nan)
    return means, covered


def _weighted_by_population(
    zones: _Zones,
    ctx: _PopulationContext,
    source_values: Callable[[np.ndarray], np.ndarray],
    names: Sequence[str],
) -> np.ndarray:
    """Population-weighted zone means: sum(pop x value) / sum(pop), both through interpolate.

    ``source_values(population_polygons)`` gives the value of each population polygon
    (grid cell); the products pop x value are transferred to the zones exactly like the
    population itself, so the weighting follows the same estimator.
    """
    source, col, _ = _population_source(ctx.population)
    pop = pd.to_numeric(source[col], errors="coerce").fillna(0.0).to_numpy()
    vals = source_values(np.asarray(source.geometry.array, dtype=object))
    extra = {}
    for j, name in enumerate(names):
        v = vals[:, j]
        # A cell without a value must not pull the mean to 0: it leaves numerator and weight.
        extra[f"_w_{name}"] = np.where(np.isnan(v), 0.0, pop)
        extra[f"_pv_{name}"] = np.where(np.isnan(v), 0.0, pop * np.nan_to_num(v))
    est = _population_of(zones.geoms, zones.index, ctx.population, method=ctx.method,
                         extra=extra, qpv=ctx.qpv)
    out = np.full((len(zones.geoms), len(names)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, name in enumerate(names):
            w = est[f"_w_{name}"].to_numpy()
            out[:, j] = np.where(w > 0, est[f"_pv_{name}"].to_numpy() / w, np.nan)
    return out


def _raster_means(raster: Any, polygons: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """Coverage-fraction-weighted mean of each band over each polygon (exactextract)."""
    import rasterio
    from exactextract import exact_extract

    out = np.full((len(polygons), len(bands)), np.nan)
    keep = ~(shapely.is_missing(polygons) | shapely.is_empty(polygons))
    if not keep.any():
        return out
    with rasterio.open(raster) as src:
        crs = src.crs
        count = src.count
    if count != len(bands):
        raise SchemaError(
            f"{raster}: {count} band(s) but pollutants {list(bands)} were named; pass "
            "raster_pollutants= with one name per band"
        )
    if crs is None:
        raise _missing_crs(raster)
    vec = gpd.GeoDataFrame({"_i": np.flatnonzero(keep)}, geometry=polygons[keep], crs=schema.CRS)
    vec = vec.to_crs(crs)
    res = exact_extract(os.fspath(raster), vec, "mean", include_cols=["_i"], output="pandas")
    cols = [c for c in res.columns if c != "_i"]
    # exactextract names the columns "mean" (one band) or "band_1_mean"… (several).
    ordered = cols if len(cols) == len(bands) else None
    if ordered is None:
        raise SchemaError(f"{raster}: exactextract returned columns {cols} for bands {list(bands)}")
    out[res["_i"].to_numpy()] = res[ordered].to_numpy(dtype=float)
    return out


def _missing_crs(path: Any) -> QpvgeoError:
    from qpvgeo.errors import MissingCRSError

    return MissingCRSError(f"{path}: the raster declares no CRS")


def air_exposure(
    zones: gpd.GeoDataFrame,
    *,
    raster: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    grid: gpd.GeoDataFrame | None = None,
    stations: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
    pollutants: Sequence[str] = schema.POLLUTANTS,
    raster_pollutants: Sequence[str] | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Mean annual concentration (NO2, PM10, PM2.5) of each zone, from a raster, a grid or stations.

    Give exactly one of ``raster``, ``grid``, ``stations``.

    - ``raster``: a GeoTIFF path whose bands are named by ``raster_pollutants`` (one
      band: the first of ``pollutants`` by default), or a mapping pollutant -> path.
      The zone mean weights each pixel by the fraction of it covered by the zone
      (exactextract), or, with a population, by the population it holds.
    - ``grid``: polygons with pollutant columns (a modelled concentration grid); means
      are weighted by overlap area, or by population.
    - ``stations``: points with pollutant columns (annual means,
      :func:`qpvgeo.readers.environment.read_air_stations`); for each pollutant the
      nearest station *that measures it* gives the value, with its code and distance.

    Population weighting: each population polygon (grid cell) takes the mean concentration
    over it; population and population x concentration are then transferred to the zones
    by the same estimator (:mod:`qpvgeo.interpolate`), and their ratio is the mean.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    raster
        GeoTIFF path (bands named by ``raster_pollutants``) or a mapping pollutant -> path
        of one-band rasters, concentrations in µg/m³; the raster must declare its CRS.
    grid
        Polygons with pollutant columns (``no2``, ``pm10``, ``pm25``, µg/m³), in any CRS.
    stations
        Points with pollutant columns and, when known, ``code_station``
        (:func:`qpvgeo.readers.environment.read_air_stations`).
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column: raster
        and grid means are then weighted by population (not used for stations).
    key
        Zone identifier column.
    pollutants
        Pollutant columns to read from ``grid`` / ``stations`` (default ``no2``,
        ``pm10``, ``pm25``); a single raster's band is named after the first of them.
    raster_pollutants
        One pollutant name per band of a single ``raster`` path (its band count must
        match); default: the first of ``pollutants``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        ``no2``, ``pm10``, ``pm25`` (µg/m³); raster/grid: ``part_surface_couverte_air``
        (share of the zone covered by the layer); stations: ``<p>_station``,
        ``<p>_distance_station_m``. ``attrs["ponderation"]`` says ``"population"``,
        ``"surface"`` or ``"station la plus proche"``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> g = gpd.GeoDataFrame({"no2": [10.0, 30.0]},
    ...                      geometry=[box(0, 0, 25, 100), box(25, 0, 200, 100)], crs=2154)
    >>> air_exposure(z, grid=g, pollutants=["no2"])["no2"].tolist()
    [25.0]
    """
    z = _prepare_zones(zones, key)
    given = [
        n for n, v in (("raster", raster), ("grid", grid), ("stations", stations)) if v is not None
    ]
    if len(given) != 1:
        raise QpvgeoError(
            f"air_exposure: give exactly one of raster=, grid=, stations= (got {given})"
        )
    pollutants = list(pollutants)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    out: dict[str, Any] = {}
    if stations is not None:
        layer = _prepare_layer(stations, what="stations", zones=z, polygons=False, reach=np.inf)
        present = [p for p in pollutants if p in layer.columns]
        if not present and len(layer):
            raise SchemaError(
                f"stations: no pollutant column among {pollutants}; columns: {list(layer.columns)}"
            )
        geoms = np.asarray(layer.geometry.array, dtype=object)
        code_col = schema.CODE_STATION if schema.CODE_STATION in layer.columns else None
        labels = (
            layer[code_col].astype("string").to_numpy(dtype=object)
            if code_col
            else np.asarray(layer.index.astype(str), dtype=object)
        )
        for p in pollutants:
            vals = (
                pd.to_numeric(layer[p], errors="coerce").to_numpy(dtype=float)
                if p in layer.columns
                else np.full(len(layer), np.nan)
            )
            ok = ~np.isnan(vals)
            dist, lab = _nearest(z.geoms, geoms[ok], np.arange(int(ok.sum())))
            value = np.full(len(z.geoms), np.nan)
            code = np.full(len(z.geoms), None, dtype=object)
            found = ~np.isnan(dist)
            idx = lab[found].astype(int)
            value[found] = vals[ok][idx]
            code[found] = labels[ok][idx]
            out[p], out[f"{p}_station"], out[f"{p}_distance_station_m"] = value, code, dist
        frame = _frame(out, z, layer="stations")
        frame.attrs["ponderation"] = "station la plus proche"
        return frame

    if raster is not None:
        if isinstance(raster, Mapping):
            sources = [(p, path, [p]) for p, path in raster.items()]
        else:
            bands = list(raster_pollutants) if raster_pollutants else pollutants[:1]
            sources = [(None, raster, bands)]
        names: list[str] = []
        blocks: list[Callable[[np.ndarray], np.ndarray]] = []
        for _, path, bands in sources:
            names.extend(bands)
            blocks.append(functools.partial(_raster_means_of, path, bands))

        def values_of(polys: np.ndarray) -> np.ndarray:
            return np.column_stack([b(polys) for b in blocks])

        covered = _raster_coverage(sources, z)
        layer_name = "raster"
    else:
        layer = _prepare_layer(grid, what="air grid", zones=z, polygons=True, keep=0.0)
        names = [p for p in pollutants if p in layer.columns]
        if not names:
            raise SchemaError(
                f"air grid: no pollutant column among {pollutants}; columns: {list(layer.columns)}"
            )
        src_geoms = np.asarray(layer.geometry.array, dtype=object)
        src_vals = (
            np.column_stack(
                [pd.to_numeric(layer[p], errors="coerce").to_numpy(dtype=float) for p in names]
            )
            if len(layer)
            else np.zeros((0, len(names)))
        )

        def values_of(polys: np.ndarray) -> np.ndarray:
            return _zonal_mean(polys, src_geoms, src_vals)[0]

        covered = _zonal_mean(z.geoms, src_geoms, src_vals)[1]
        layer_name = "air grid"
    if ctx.population is not None:
        means = _weighted_by_population(z, ctx, values_of, names)
        weighting = "population"
    else:
        means = values_of(z.geoms)
        weighting = "surface"
    for j, p in enumerate(names):
        out[p] = means[:, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_surface_couverte_air"] = np.where(
            z.area > 0, np.minimum(covered / z.area, 1.0), np.nan
        )
    frame = _frame(_population_columns(out, z, ctx), z, layer=layer_name)
    frame.attrs["ponderation"] = weighting
    return frame


def _raster_means_of(path: Any, bands: Sequence[str], polys: np.ndarray) -> np.ndarray:
    return _raster_means(path, polys, bands)


def _raster_coverage(sources: list, zones: _Zones) -> np.ndarray:
    """Area of each zone covered by the first raster's extent (pixels off the grid have no data)."""
    import rasterio

    path = sources[0][1]
    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    extent = (
        gpd.GeoSeries([shapely.box(left, bottom, right, top)], crs=crs).to_crs(schema.CRS).iloc[0]
    )
    return shapely.area(shapely.intersection(zones.geoms, extent))


# -- heat ---------------------------------------------------------------------------------


def _heat_classes(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    mapped = s.str.lower().map(
        lambda v: _HEAT_ALIASES.get(v, pd.NA) if isinstance(v, str) else pd.NA
    )
    lcz = s.str.upper().map(lambda v: LCZ_HEAT_CLASS.get(v, pd.NA) if isinstance(v, str) else pd.NA)
    out = mapped.fillna(lcz).astype("string")
    bad = sorted(set(s[out.isna() & s.notna()].unique()))
    if bad:
        raise SchemaError(
            f"heat: unknown heat classes {bad[:10]}; expected {list(HEAT_CLASSES)}, "
            "High/Medium/Low or Cerema LCZ codes"
        )
    return out


def heat_exposure(
    zones: gpd.GeoDataFrame,
    lcz_or_score: gpd.GeoDataFrame,
    *,
    column: str | None = None,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Urban-heat exposure of each zone from a heat-sensitivity layer (IRIS scores or LCZ).

    - A numeric ``score_chaleur`` (higher = more exposed) gives its area-weighted (or
      population-weighted) mean over the zone, ``score_chaleur``.
    - A categorical score (``faible`` / ``moyenne`` / ``forte``, the English
      ``Low/Medium/High`` of the Cerema-derived layers) or a raw Cerema ``lcz`` column
      (LCZ 1, 2, 3, 8, 10 -> forte; 4–7, E -> moyenne; 9, A–D, F, G -> faible) gives the
      share of the zone in each class, ``part_surface_chaleur_<classe>`` (and
      ``part_population_chaleur_<classe>``).

    ``part_surface_couverte_chaleur`` is the share of the zone covered by the layer: a
    zone outside the layer's cities has NA means and zero shares.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    lcz_or_score
        Heat-sensitivity polygons (:func:`qpvgeo.readers.environment.read_heat_iris`, or
        Cerema LCZ polygons with an ``lcz`` column), in any CRS.
    column
        Column holding the score or class; default ``score_chaleur``, else ``lcz``.
        A numeric column (other than ``lcz``) is averaged, any other is read as classes.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column: the
        numeric score is then weighted by population, and classes add
        ``part_population_chaleur_*`` and ``population_chaleur_*``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``: ``score_chaleur`` (numeric score) or
        ``part_surface_chaleur_<classe>`` (0–1, classes ``faible``, ``moyenne``,
        ``forte``), ``part_surface_couverte_chaleur`` (0–1) and, with a population,
        ``population``, ``population_grille`` and the population shares and counts.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> h = gpd.GeoDataFrame({"score_chaleur": ["forte", "faible"]},
    ...                      geometry=[box(0, 0, 30, 100), box(30, 0, 100, 100)], crs=2154)
    >>> heat_exposure(z, h)["part_surface_chaleur_forte"].round(2).tolist()
    [0.3]
    """
    z = _prepare_zones(zones, key)
    layer = _prepare_layer(lcz_or_score, what="heat", zones=z, polygons=True, keep=0.0)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    if column is None:
        column = next((c for c in (schema.SCORE_CHALEUR, "lcz") if c in layer.columns), None)
    if column is None or column not in layer.columns:
        raise SchemaError(
            f"heat: no column {schema.SCORE_CHALEUR!r} or 'lcz'; columns: {list(layer.columns)}"
        )
    geoms = np.asarray(layer.geometry.array, dtype=object)
    out: dict[str, Any] = {}
    raw = layer[column]
    numeric = pd.api.types.is_numeric_dtype(raw) and column != "lcz"
    if numeric:
        vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)[:, None]
        if ctx.population is not None:
            out[schema.SCORE_CHALEUR] = _weighted_by_population(
                z, ctx, lambda polys: _zonal_mean(polys, geoms, vals)[0], [schema.SCORE_CHALEUR]
            )[:, 0]
        else:
            out[schema.SCORE_CHALEUR] = _zonal_mean(z.geoms, geoms, vals)[0][:, 0]
    else:
        classes = _heat_classes(raw)
        out.update(
            _measure_inside(
                z,
                {
                    c: _dissolve(geoms[(classes == c).fillna(False).to_numpy()])
                    for c in HEAT_CLASSES
                },
                stem="chaleur",
                ctx=ctx,
                with_area=False,
            )
        )
    covered = _zonal_mean(z.geoms, geoms, np.zeros((len(geoms), 1)))[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_surface_couverte_chaleur"] = np.where(
            z.area > 0, np.minimum(covered / z.area, 1.0), np.nan
        )
    return _frame(_population_columns(out, z, ctx), z, layer="heat")


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
    if distance < 0 or min_area < 0:
        raise QpvgeoError(f"distance and min_area must be >= 0 (got {distance}, {min_area})")
    z = _prepare_zones(zones, key)
    # A park is merged with the polygons it touches before its area is tested: keep the
    # polygons up to a margin beyond the reach so that a park's far parts are not lost.
    margin = distance + 2000.0
    layer = _prepare_layer(
        parks, what="green spaces", zones=z, polygons=True, reach=distance, keep=margin
    )
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    near = _near(layer, z, margin)
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
    out["distance_espace_vert_m"] = _nearest(z.geoms, big, np.arange(len(big)))[0]
    if len(big):
        zi, _ = STRtree(big).query(z.geoms, predicate="dwithin", distance=distance)
    else:
        zi = np.zeros(0, dtype=int)
    out["n_espaces_verts"] = np.bincount(zi, minlength=len(z.geoms))
    frame = _frame(_population_columns(out, z, ctx), z, layer="green_spaces")
    frame.attrs.update(distance=distance, min_area=min_area)
    return frame


# -- noise --------------------------------------------------------------------------------


def _noise_classes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = frame[schema.SOURCE_BRUIT].astype("string").str.lower().to_numpy(dtype=object)
    ind = frame[schema.INDICATEUR_BRUIT].astype("string").str.lower().to_numpy(dtype=object)
    lmin = (
        pd.to_numeric(frame[schema.LDEN_MIN], errors="coerce").to_numpy(dtype=float)
        if schema.LDEN_MIN in frame.columns
        else np.full(len(frame), np.nan)
    )
    return src, ind, lmin


def noise_exposure(
    zones: gpd.GeoDataFrame,
    noise: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Share of each zone exposed above each noise level, per source and indicator.

    ``noise`` is a canonical noise layer (:func:`qpvgeo.readers.environment.read_noise_map`):
    ``source`` (``route``, ``fer``, ``aerien``, ``industrie``), ``indicateur`` (``lden``
    or ``ln``) and ``lden_min``, the lower bound in dB(A) of the zone (for type C maps,
    the limit value exceeded: road Lden 68, road Ln 62, rail Lden 73, rail Ln 65; for
    type A maps, the lower bound of each band). For every source, indicator and level *L*
    found in the layer, the zone's share above *L* is measured inside the dissolved
    union of all features with ``lden_min >= L``: invalid and overlapping zones of
    different road segments count once.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column (QPV from :func:`qpvgeo.readers.read_qpv`, rings…).
    noise
        Canonical noise layer with ``source``, ``indicateur`` and (optionally)
        ``lden_min`` columns, in any CRS; features without ``lden_min`` are measured
        together as ``bruit_<source>_<indicateur>``.
    key
        Zone identifier column.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column; adds
        ``part_population_bruit_*`` and ``population_bruit_*``.
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        ``part_surface_bruit_<source>_<indicateur>_<L>`` (0–1, share at or above *L*
        dB(A)), ``surface_bruit_…_m2`` and with a population
        ``part_population_bruit_…``, ``population_bruit_…``. A band's share is the
        difference of two consecutive levels.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP033011"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> n = gpd.GeoDataFrame({"source": ["route", "route"], "indicateur": ["lden", "lden"],
    ...                       "lden_min": [68, 68]},
    ...                      geometry=[box(0, 0, 40, 100), box(20, 0, 60, 100)], crs=2154)
    >>> noise_exposure(z, n)["part_surface_bruit_route_lden_68"].round(2).tolist()
    [0.6]
    """
    z = _prepare_zones(zones, key)
    schema.require_columns(noise, [schema.SOURCE_BRUIT, schema.INDICATEUR_BRUIT], what="noise")
    # Columns follow the whole layer's classes, not only those near these zones, so that
    # zones and their surroundings get the same columns.
    all_src, all_ind, all_min = _noise_classes(noise)
    groups = sorted(
        {
            (s, i)
            for s, i in zip(all_src, all_ind, strict=True)
            if isinstance(s, str) and isinstance(i, str)
        }
    )
    layer = _prepare_layer(noise, what="noise", zones=z, polygons=True, keep=0.0)
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    keep = _near_mask(layer, z)
    src, ind, lmin = _noise_classes(layer)
    pieces: dict[str, shapely.Geometry] = {}
    for s, i in groups:
        in_all = (all_src == s) & (all_ind == i)
        in_group = (src == s) & (ind == i)
        for level in sorted(set(all_min[in_all & ~np.isnan(all_min)].tolist())):
            sel = in_group & keep & (np.nan_to_num(lmin, nan=-np.inf) >= level)
            pieces[f"{s}_{i}_{_label(level)}"] = _dissolve(geoms[sel])
        if np.isnan(all_min[in_all]).any():
            pieces[f"{s}_{i}"] = _dissolve(geoms[in_group & keep & np.isnan(lmin)])
    out = _measure_inside(z, pieces, stem="bruit", ctx=ctx)
    return _frame(_population_columns(out, z, ctx), z, layer="noise")


# -- surroundings -------------------------------------------------------------------------


def surroundings(
    zones: gpd.GeoDataFrame,
    *,
    how: str = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    qpv: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
) -> gpd.GeoDataFrame:
    """The urban surroundings of each zone, without any QPV.

    ``how="ring"``: the ring of width ``ring`` metres around the zone; ``how="rest_of_commune"``:
    the zone's commune (``code_commune`` of the zone matched to ``communes``, else the
    commune holding most of its area). Every QPV of ``qpv`` (default: the zones
    themselves) is removed, so the surroundings hold no priority neighbourhood.

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
    all_qpv = shapely.union_all(others)
    if how == "ring":
        if ring <= 0:
            raise QpvgeoError(f"ring must be a positive distance in metres, got {ring}")
        base = shapely.buffer(z.geoms, ring, quad_segs=_QUAD_SEGS)
    elif how == "rest_of_commune":
        if communes is None:
            raise QpvgeoError("surroundings(how='rest_of_commune') needs communes=")
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
    else:
        raise QpvgeoError(f"how must be 'ring' or 'rest_of_commune', got {how!r}")
    geoms = shapely.difference(base, all_qpv)
    geoms = _polygonal(geoms) if (~shapely.is_valid(geoms)).any() else geoms
    return gpd.GeoDataFrame({key: z.index.to_numpy()}, geometry=geoms, crs=schema.CRS)


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


# -- profile and column documentation ------------------------------------------------------

_LAYER_DOC = {
    "flood": "flood (zones inondables TRI, read_flood_extents)",
    "sites": "sites (ICPE / Seveso / IREP, read_industrial_sites)",
    "air": "air (stations, grille ou raster de concentrations)",
    "heat": "heat (sensibilité à la chaleur, IRIS / LCZ Cerema)",
    "green_spaces": "green_spaces (espaces verts, read_green_spaces)",
    "noise": "noise (cartes de bruit stratégiques, read_noise_map)",
    "population": "population (grille Filosofi 200 m ou polygones)",
}

_DOCS: list[tuple[str, str, str, str]] = [
    # (regex, unité, couche, description) ; \1… are filled from the match
    (
        r"^population$",
        "habitants",
        "population",
        "population de la zone (officielle si fournie, sinon estimée sur la grille)",
    ),
    (
        r"^population_grille$",
        "habitants",
        "population",
        "population de la zone estimée sur la grille (diagnostic)",
    ),
    (r"^surface_inondable_?(.*)_m2$", "m²", "flood", "surface de la zone en zone inondable {0}"),
    (
        r"^part_surface_inondable_?(.*)$",
        "part 0-1",
        "flood",
        "part de la surface en zone inondable {0}",
    ),
    (
        r"^part_population_inondable_?(.*)$",
        "part 0-1",
        "flood",
        "part de la population en zone inondable {0}",
    ),
    (r"^population_inondable_?(.*)$", "habitants", "flood", "population en zone inondable {0}"),
    (
        r"^distance_site_m$",
        "m",
        "sites",
        "distance du bord de la zone au site industriel le plus proche (0 si dedans)",
    ),
    (r"^site_plus_proche$", "code", "sites", "site industriel le plus proche"),
    (
        r"^distance_seveso_haut_m$",
        "m",
        "sites",
        "distance au site Seveso seuil haut le plus proche",
    ),
    (r"^seveso_haut_plus_proche$", "code", "sites", "site Seveso seuil haut le plus proche"),
    (r"^n_sites_(.*)m$", "sites", "sites", "nombre de sites industriels à {0} m ou moins"),
    (
        r"^n_seveso_(haut|bas)_(.*)m$",
        "sites",
        "sites",
        "nombre de sites Seveso seuil {0} à {1} m ou moins",
    ),
    (
        r"^part_surface_sites_(.*)m$",
        "part 0-1",
        "sites",
        "part de la surface à {0} m ou moins d'un site",
    ),
    (
        r"^part_population_sites_(.*)m$",
        "part 0-1",
        "sites",
        "part de la population à {0} m ou moins d'un site",
    ),
    (r"^population_sites_(.*)m$", "habitants", "sites", "population à {0} m ou moins d'un site"),
    (
        r"^(no2|pm10|pm25)$",
        "µg/m³",
        "air",
        "concentration moyenne annuelle en {0} (pondérée par la population, sinon la "
        "surface; station la plus proche pour des stations)",
    ),
    (r"^(no2|pm10|pm25)_station$", "code", "air", "station de mesure la plus proche mesurant {0}"),
    (r"^(no2|pm10|pm25)_distance_station_m$", "m", "air", "distance de la zone à cette station"),
    (
        r"^part_surface_couverte_air$",
        "part 0-1",
        "air",
        "part de la zone couverte par la couche de qualité de l'air",
    ),
    (
        r"^score_chaleur$",
        "score",
        "heat",
        "score moyen de sensibilité à la chaleur (plus haut = plus exposé)",
    ),
    (
        r"^part_surface_chaleur_(.*)$",
        "part 0-1",
        "heat",
        "part de la surface en sensibilité à la chaleur {0}",
    ),
    (
        r"^part_population_chaleur_(.*)$",
        "part 0-1",
        "heat",
        "part de la population en sensibilité à la chaleur {0}",
    ),
    (
        r"^population_chaleur_(.*)$",
        "habitants",
        "heat",
        "population en sensibilité à la chaleur {0}",
    ),
    (
        r"^part_surface_couverte_chaleur$",
        "part 0-1",
        "heat",
        "part de la zone couverte par la couche chaleur",
    ),
    (
        r"^part_surface_acces_espace_vert$",
        "part 0-1",
        "green_spaces",
        "part de la surface à portée (300 m par défaut) d'un espace vert d'au moins "
        "0,5 ha par défaut (indicateur OMS)",
    ),
    (
        r"^part_population_acces_espace_vert$",
        "part 0-1",
        "green_spaces",
        "part de la population à portée (300 m par défaut) d'un espace vert d'au moins "
        "0,5 ha par défaut (indicateur OMS)",
    ),
    (
        r"^population_acces_espace_vert$",
        "habitants",
        "green_spaces",
        "population à portée d'un espace vert",
    ),
    (
        r"^distance_espace_vert_m$",
        "m",
        "green_spaces",
        "distance au plus proche espace vert d'au moins 0,5 ha (0 s'il touche la zone)",
    ),
    (
        r"^n_espaces_verts$",
        "espaces verts",
        "green_spaces",
        "espaces verts d'au moins 0,5 ha à portée",
    ),
    (r"^surface_bruit_(.*)_m2$", "m²", "noise", "surface exposée au bruit {0}"),
    (r"^part_surface_bruit_(.*)$", "part 0-1", "noise", "part de la surface exposée au bruit {0}"),
    (
        r"^part_population_bruit_(.*)$",
        "part 0-1",
        "noise",
        "part de la population exposée au bruit {0}",
    ),
    (r"^population_bruit_(.*)$", "habitants", "noise", "population exposée au bruit {0}"),
]


def _noise_words(label: str) -> str:
    m = re.match(r"^([a-z]+)_(lden|ln)(?:_(\d+(?:_\d+)?))?$", label)
    if not m:
        return label
    src = {
        "route": "routier",
        "fer": "ferroviaire",
        "aerien": "aérien",
        "industrie": "industriel",
    }.get(m.group(1), m.group(1))
    ind = "Lden" if m.group(2) == "lden" else "Ln"
    level = f" >= {m.group(3).replace('_', '.')} dB(A)" if m.group(3) else ""
    return f"{src}, {ind}{level}"


def _describe(column: str) -> dict[str, str] | None:
    base = column
    suffix = ""
    for s in ("_environs", "_ratio"):
        if column.endswith(s):
            base, suffix = column[: -len(s)], s
            break
    for pattern, unit, layer, desc in _DOCS:
        m = re.match(pattern, base)
        if not m:
            continue
        args = [g or "" for g in m.groups()]
        if layer == "noise" and args:
            args = [_noise_words(args[0])]
        if layer == "flood" and args:
            args = [f"(scénario {args[0]})" if args[0] else ""]
        text = desc.format(*args).replace("  ", " ").strip()
        if suffix == "_environs":
            text, unit = f"même indicateur pour les environs (hors QPV) : {text}", unit
        elif suffix == "_ratio":
            text, unit = f"rapport zone / environs de : {text}", "ratio"
        return {"unité": unit, "couche": _LAYER_DOC.get(layer, layer), "description": text}
    return None


def describe_exposure_columns(columns: pd.DataFrame | Iterable[str] | None = None) -> pd.DataFrame:
    """Document exposure columns: unit, source layer, description (in French).

    Parameters
    ----------
    columns
        A table returned by an indicator or :func:`exposure_profile`, or column names.
        ``None`` documents the patterns themselves.

    Returns
    -------
    pandas.DataFrame
        ``colonne``, ``unité``, ``couche``, ``description``; an undocumented column is an
        error (a column nobody can read is not published).

    Examples
    --------
    >>> describe_exposure_columns(["part_surface_bruit_route_lden_68"]).iloc[0]["description"]
    'part de la surface exposée au bruit routier, Lden >= 68 dB(A)'
    """
    if columns is None:
        return pd.DataFrame(
            [
                {"colonne": p, "unité": u, "couche": _LAYER_DOC.get(c, c), "description": d}
                for p, u, c, d in _DOCS
            ]
        )
    names = (
        list(columns.columns) if isinstance(columns, pd.DataFrame) else [str(c) for c in columns]
    )
    rows, unknown = [], []
    for name in names:
        doc = _describe(str(name))
        if doc is None:
            unknown.append(name)
        else:
            rows.append({"colonne": name, **doc})
    if unknown:
        raise SchemaError(f"describe_exposure_columns: undocumented columns {unknown}")
    return pd.DataFrame(rows, columns=["colonne", "unité", "couche", "description"])


def _air_kwargs(air: Any) -> dict[str, Any]:
    if isinstance(air, gpd.GeoDataFrame):
        kinds = set(shapely.get_type_id(np.asarray(air.geometry.array, dtype=object)).tolist())
        return {"stations": air} if kinds <= {0, 4} else {"grid": air}
    return {"raster": air}


def exposure_profile(
    qpv: gpd.GeoDataFrame,
    *,
    flood: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    air: Any = None,
    heat: gpd.GeoDataFrame | None = None,
    green_spaces: gpd.GeoDataFrame | None = None,
    noise: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    surroundings: str | None = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
    radii: Sequence[float] = (500, 1000, 2000),
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Every exposure indicator of each QPV in one table, with its ratio to the surroundings.

    Each layer given runs its indicator (:func:`flood_exposure`, :func:`industrial_exposure`,
    :func:`air_exposure` — ``air`` may be stations (points), a polygon grid or a raster
    path —, :func:`heat_exposure`, :func:`green_space_access`, :func:`noise_exposure`);
    with ``surroundings`` (``"ring"`` or ``"rest_of_commune"``; ``None`` to skip) each
    share and mean is also given for the QPV's surroundings, with the ratio.

    Parameters
    ----------
    qpv
        QPV polygons with a ``key`` column (:func:`qpvgeo.readers.read_qpv`).
    flood
        Flood extents for :func:`flood_exposure`.
    sites
        Industrial sites for :func:`industrial_exposure`.
    air
        Air layer for :func:`air_exposure`: station points, a polygon grid, or a raster
        path (or mapping pollutant -> path).
    heat
        Heat-sensitivity polygons for :func:`heat_exposure`.
    green_spaces
        Green-space polygons for :func:`green_space_access` (300 m, 0.5 ha).
    noise
        Canonical noise layer for :func:`noise_exposure`.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column, passed
        to every indicator.
    surroundings
        ``"ring"`` (default), ``"rest_of_commune"`` (needs ``communes``) or ``None`` to
        give the QPV values only; see :func:`surroundings`.
    ring
        Width in metres of the ring with ``surroundings="ring"`` (default 500).
    communes
        Commune polygons with ``code_commune``, for ``surroundings="rest_of_commune"``.
    key
        Zone identifier column.
    radii
        Distances in metres of :func:`industrial_exposure` (default 500, 1000, 2000).
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        One row per QPV (index ``key``). ``attrs["columns"]`` documents each column
        (unit, source layer, description), as :func:`describe_exposure_columns` does.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> p = exposure_profile(d.qpv, flood=d.flood, surroundings=None)
    >>> len(p) == len(d.qpv)
    True
    """
    runs: list[tuple[Callable[..., pd.DataFrame], dict[str, Any]]] = []
    pop = {"population": population, "population_method": population_method}
    if ancillary is not None:
        pop["ancillary"] = ancillary
    if flood is not None:
        runs.append((flood_exposure, {"flood": flood, **pop}))
    if sites is not None:
        runs.append((industrial_exposure, {"sites": sites, "radii": radii, **pop}))
    if air is not None:
        runs.append((air_exposure, {**_air_kwargs(air), **pop}))
    if heat is not None:
        runs.append((heat_exposure, {"lcz_or_score": heat, **pop}))
    if green_spaces is not None:
        runs.append((green_space_access, {"parks": green_spaces, **pop}))
    if noise is not None:
        runs.append((noise_exposure, {"noise": noise, **pop}))
    if not runs:
        raise QpvgeoError("exposure_profile: give at least one layer (flood=, sites=, air=, …)")
    z = _prepare_zones(qpv, key)
    tables = []
    for func, kw in runs:
        if surroundings is None:
            t = func(qpv, key=key, **kw)
        else:
            t = compare_to_surroundings(
                func, qpv, how=surroundings, ring=ring, communes=communes, key=key, **kw
            )
        tables.append(t)
    profile = pd.DataFrame(index=z.index.copy())
    for t in tables:
        new = [c for c in t.columns if c not in profile.columns]
        profile = profile.join(t[new])
    profile.attrs = {}
    doc = describe_exposure_columns(profile)
    profile.attrs["columns"] = {
        r["colonne"]: {"unité": r["unité"], "couche": r["couche"], "description": r["description"]}
        for r in doc.to_dict("records")
    }
    profile.attrs["environs"] = surroundings
    return profile
