"""Shared machinery of the exposure indicators: zones, layers, population, overlays.

Private: the layer modules (:mod:`qpvgeo.exposure.flood`, …) build on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import DuplicateCodeError, QpvgeoError, QpvgeoWarning, SchemaError

#: Segments per quarter circle of the buffers around sites and parks: with 32 the
#: polygonal circle's area is within 0.04 % of the true disc.
_QUAD_SEGS = 32

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
    # The run's population base (exposure_profile computes it once and attaches it).
    ctx: _PopulationContext | None = None


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
    """The union of ``geoms``, as one (multi)polygon whose parts do not overlap.

    Only the polygons that meet another one (overlapping, nested or touching: touching
    polygons are merged as ``union_all`` merges them) go through the union; the others
    are already parts of the union as they are (GEOS's cascaded union over a whole layer
    costs ~0.1 ms a polygon, and most features of a layer meet no other).
    """
    if not len(geoms):
        return shapely.Polygon()
    parts = shapely.get_parts(geoms)
    parts = parts[~shapely.is_empty(parts)]
    if not len(parts) or (shapely.get_type_id(parts) != 3).any():
        return shapely.union_all(geoms)  # lines or points: GEOS's union, as it comes
    i, j = STRtree(parts).query(parts, predicate="intersects")
    meets = np.zeros(len(parts), dtype=bool)
    meets[i[i != j]] = True
    if meets.all():
        return shapely.union_all(parts)
    merged = shapely.get_parts(shapely.union_all(parts[meets])) if meets.any() else parts[:0]
    return shapely.multipolygons(np.concatenate([parts[~meets], merged]))


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
    squares: bool | None = None,
    mask: Any = None,
) -> pd.DataFrame:
    """Population (and population-weighted products) inside each polygon: one call to interpolate.

    ``extra`` adds source columns (e.g. population x concentration) estimated the same way.
    Empty polygons get 0. ``squares``: whether every grid row carries its square
    (:func:`_cells_are_squares`, computed once per run by the population context;
    measured here when ``None``). ``mask``: the calibrated mask prepared once for the
    run (:func:`qpvgeo.interpolate._prepare_mask`), used instead of ``qpv``.
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
        if mask is not None and method != "calibrated":
            mask = None
        if mask is None and qpv is not None and len(qpv):
            qpv = _near_mask_polygons(qpv, geoms[keep])
        rows = _near_rows(source, geoms[keep])
        if squares is None:
            squares = _cells_are_squares(np.asarray(source.geometry.array, dtype=object))
        if len(rows) < len(source) and squares:
            # Only the cells near the polygons can give them population: a national grid
            # is cut down to them (the estimator would otherwise scan and copy its 2.3
            # million rows for every call of a profile).
            attrs = dict(source.attrs)
            source = source.iloc[rows]
            source.attrs = attrs
            extra_values = {k: v[rows] for k, v in extra_values.items()}
        # grid_population locates cells from x_laea / y_laea or idcar_200m: keep them.
        src = source.assign(**extra_values)
        prepared = {} if mask is None else {"_mask": mask}
        est = interpolate.grid_population(
            src, target, columns=(col, *extra_values), method=method, qpv=qpv, **prepared
        ).rename(columns={col: "population"})
    else:
        # A polygon without a population is unknown, not empty: the zones it touches get
        # NaN (as with a NaN grid cell), never a count that silently leaves it out.
        values = {"population": pd.to_numeric(source[col], errors="coerce")}
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
    squares: bool | None = None  # every grid row carries its square (see _population_of)
    # How far beyond a zone's box the population polygons near it reach (_cells_reach).
    reach: float = 0.0
    # The calibrated mask prepared once on the grid (interpolate._prepare_mask).
    mask: Any = None

    def of(self, sel: Any, zone_total: np.ndarray | None = None) -> _PopulationContext:
        """The context of the zones ``sel`` (a slice or mask of this context's zones),
        with ``zone_total`` as their base when given."""
        if zone_total is None and self.zone_total is not None:
            zone_total = self.zone_total[sel]
        return replace(self, zone_total=zone_total)


def _population_context(zones: _Zones, population, method: str, *,
                        ancillary: gpd.GeoDataFrame | None = None) -> _PopulationContext:
    if population is None:
        return _PopulationContext(None, method)
    if zones.ctx is not None and zones.ctx.population is population:
        return zones.ctx  # computed once by exposure_profile for this run
    qpv = None
    if method == "calibrated":
        # The calibrated estimator needs the QPV contours; for QPV zones they are the zones.
        qpv = (_check_geodataframe(ancillary, what="ancillary") if ancillary is not None
               else gpd.GeoDataFrame(geometry=zones.geoms, crs=schema.CRS))
    source, _, is_grid = _population_source(population)
    cells = np.asarray(source.geometry.array, dtype=object)
    squares = is_grid and _cells_are_squares(cells)
    ctx = _PopulationContext(population, method, qpv=qpv, squares=squares,
                             reach=_cells_reach(cells))
    if method == "calibrated" and squares and qpv is not None:
        from qpvgeo import interpolate  # data flows readers -> interpolate -> exposure

        # One mask for every population call of the run (each layer's pieces): its cell
        # shares are measured once, not once per call.
        ctx.mask = interpolate._prepare_mask(source, qpv)
    ctx.zone_total = _population_of(zones.geoms, zones.index, population, method=method,
                                    qpv=qpv, squares=squares,
                                    mask=ctx.mask)["population"].to_numpy()
    return ctx


def _population_columns(out: dict[str, Any], zones: _Zones, ctx: _PopulationContext) -> dict:
    """Leading ``population`` (official when the zones carry it) and ``population_grille``."""
    if ctx.population is None:
        return out
    head = {}
    head["population"] = zones.official if zones.official is not None else ctx.zone_total
    head["population_grille"] = ctx.zone_total
    return {**head, **out}


def _clip_to_parts(
    zone_geoms: np.ndarray, geom: shapely.Geometry | None
) -> tuple[np.ndarray, np.ndarray]:
    """The polygons of zone ∩ ``geom`` for every zone, as (zone index, polygon) pairs.

    ``geom`` is a dissolved layer (one multipolygon over the whole territory): its parts
    do not overlap, so zone ∩ geom is the disjoint union of the zone ∩ part pieces.
    Each zone is intersected with the few parts an STRtree pairs it with, never with the
    national multipolygon (whose every vertex GEOS would otherwise walk for each zone).
    Boundary contacts leave lines and points: they carry no area or population.
    """
    empty = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object))
    if geom is None or shapely.is_empty(geom) or not len(zone_geoms):
        return empty
    parts = shapely.get_parts(geom)
    parts = parts[~shapely.is_empty(parts)]
    if not len(parts):
        return empty
    zi, pi = STRtree(parts).query(zone_geoms, predicate="intersects")
    if not len(zi):
        return empty
    inter = _overlay(shapely.intersection, zone_geoms[zi], parts[pi])
    # collections (polygons with lines or points) and multipolygons, down to polygons
    sub, owner = shapely.get_parts(inter, return_index=True)
    sub2, owner2 = shapely.get_parts(sub, return_index=True)
    owner = owner[owner2]
    keep = (shapely.get_type_id(sub2) == 3) & (shapely.area(sub2) > 0)
    return zi[owner[keep]], sub2[keep]


def _measure_inside(
    zones: _Zones,
    pieces_by_label: Mapping[str, shapely.Geometry],
    *,
    stem: str,
    ctx: _PopulationContext,
    with_area: bool = True,
) -> dict[str, np.ndarray]:
    """Area and population of zone ∩ geometry, for each (already dissolved) geometry.

    The pieces of every label go to the population estimator in one call, and areas and
    populations are summed per zone: the pieces of one zone and label do not overlap and
    both estimators (area and calibrated weights) are linear in the pieces' cell shares,
    so the sums are those of zone ∩ geometry (to float round-off).
    """
    n = len(zones.geoms)
    labels = list(pieces_by_label)
    owners, polys = [], []
    for k, label in enumerate(labels):
        zi, sub = _clip_to_parts(zones.geoms, pieces_by_label[label])
        owners.append(k * n + zi)
        polys.append(sub)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.intp)
    polys = np.concatenate(polys) if polys else np.zeros(0, dtype=object)
    size = n * len(labels)
    area_all = np.bincount(owner, weights=shapely.area(polys), minlength=size)
    pop_all = None
    if ctx.population is not None:
        pop_all = _population_sum(polys, owner, size, ctx)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, label in enumerate(labels):
            name = f"{stem}_{label}" if label else stem
            area_in = area_all[k * n:(k + 1) * n]
            if with_area:
                out[f"surface_{name}_m2"] = area_in
            out[f"part_surface_{name}"] = np.where(zones.area > 0, area_in / zones.area, np.nan)
            if pop_all is not None:
                pop_in = pop_all[k * n:(k + 1) * n]
                share = np.where(
                    ctx.zone_total > 0, np.minimum(pop_in / ctx.zone_total, 1.0), np.nan
                )
                out[f"part_population_{name}"] = share
                out[f"population_{name}"] = (
                    share * zones.official if zones.official is not None else pop_in
                )
    return out


def _population_sum(
    polys: np.ndarray, owner: np.ndarray, size: int, ctx: _PopulationContext
) -> np.ndarray:
    """Population inside disjoint polygons, summed by ``owner`` (0 where none)."""
    if not len(polys):
        return np.zeros(size)
    est = _population_of(polys, pd.RangeIndex(len(polys)), ctx.population,
                         method=ctx.method, qpv=ctx.qpv, squares=ctx.squares,
                         mask=ctx.mask)["population"].to_numpy()
    # a NaN piece (a grid cell without a value) makes its zone NaN, as a NaN cell would
    return np.bincount(owner, weights=est, minlength=size)


def _frame(out: Mapping[str, Any], zones: _Zones, *, layer: str) -> pd.DataFrame:
    frame = pd.DataFrame(dict(out), index=zones.index.copy())
    frame.attrs["couche"] = layer
    return frame


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
    lattice = _lattice(source)
    if lattice is not None:
        ti, si, a = _lattice_areas(target, lattice)
    else:
        ti, si = STRtree(source).query(target, predicate="intersects")
        a = _pair_areas(target, ti, source, si) if len(ti) else np.zeros(0)
    if not len(ti):
        return means, covered
    covered = np.bincount(ti, weights=a, minlength=len(target))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            v = values[si, j]
            ok = ~np.isnan(v) & (a > 0)
            w = np.bincount(ti[ok], weights=a[ok], minlength=len(target))
            s = np.bincount(ti[ok], weights=a[ok] * v[ok], minlength=len(target))
            mean = np.where(w > 0, s / w, np.nan)
            # The mean of equal values is that value, not one off by a rounding (a cell
            # over two squares at exactly 15 µg/m³ is not above a 15 µg/m³ threshold).
            lo = np.full(len(target), np.inf)
            hi = np.full(len(target), -np.inf)
            np.minimum.at(lo, ti[ok], v[ok])
            np.maximum.at(hi, ti[ok], v[ok])
            means[:, j] = np.where((lo == hi) & (w > 0), lo, mean)
    return means, covered


def _lattice(geoms: np.ndarray) -> pd.DataFrame | None:
    """The lower-left corners of ``geoms`` when they are squares of one regular grid
    (axis-aligned, one size, corners on its multiples: a modelled air grid), else None."""
    if len(geoms) < 2:
        return None
    if not ((shapely.get_type_id(geoms) == 3).all()
            and (shapely.get_num_coordinates(geoms) == 5).all()
            and (shapely.get_num_interior_rings(geoms) == 0).all()):
        return None
    b = shapely.bounds(geoms)
    res = float(b[0, 2] - b[0, 0])
    if not res > 0:
        return None
    side = (b[:, 2] - b[:, 0] == res) & (b[:, 3] - b[:, 1] == res)
    # a 4-corner polygon fills its box only when it is that box
    if not (side.all() and (shapely.area(geoms) == res * res).all()):
        return None
    on = (np.floor(b[:, 0] / res + 0.5) * res == b[:, 0]) & (
        np.floor(b[:, 1] / res + 0.5) * res == b[:, 1])
    if not on.all():
        return None
    frame = pd.DataFrame({"x_laea": b[:, 0], "y_laea": b[:, 1]})
    frame.attrs["cell_size"] = res
    return frame


def _lattice_areas(
    target: np.ndarray, lattice: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(target, square, area)`` of every target meeting a square of a regular grid.

    The grid estimator's exact cell shares (:mod:`qpvgeo.interpolate`, Green's theorem
    over the targets' edges) instead of one GEOS overlay per pair: the same areas to
    float round-off (shares within 1e-12 of 0 or 1 are 0 or 1), for all pairs at once.
    """
    from qpvgeo import interpolate  # data flows readers -> interpolate -> exposure

    target = np.asarray(target, dtype=object)
    keep = np.flatnonzero(~(shapely.is_missing(target) | shapely.is_empty(target)))
    if not len(keep):
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)
    geoms = target[keep]
    gi = interpolate._index_grid(lattice, shapely.bounds(geoms))
    ti, si, frac = interpolate._cell_fractions(gi, geoms)
    return keep[ti], si, frac * gi.res ** 2


def _pair_areas(target: np.ndarray, ti: np.ndarray, source: np.ndarray,
                si: np.ndarray) -> np.ndarray:
    """``area(target[ti] ∩ source[si])``, the overlay only where neither holds the other.

    A 200 m population cell inside a 500 m air cell or an IRIS shares its own area (most
    pairs): a prepared ``contains`` costs far less than GEOS's overlay.
    """
    a = np.empty(len(ti))
    if not len(ti):
        return a
    shapely.prepare(source)
    t_in_s = shapely.contains_properly(source[si], target[ti])
    s_in_t = np.zeros(len(ti), dtype=bool)
    s_in_t[~t_in_s] = shapely.within(source[si[~t_in_s]], target[ti[~t_in_s]])
    a[t_in_s] = shapely.area(target[ti[t_in_s]])
    a[s_in_t] = shapely.area(source[si[s_in_t]])
    rest = ~(t_in_s | s_in_t)
    # A grid cell (a convex quadrilateral) over a polygon's edge: the polygon clipped to
    # the cell in numpy (GEOS's overlay costs ~13 µs a pair, most of it set-up).
    quad = np.zeros(len(ti), dtype=bool)
    quad[rest] = _convex_quads(target[ti[rest]]) & np.isin(
        shapely.get_type_id(source[si[rest]]), (3, 6))
    a[quad] = _convex_clip_areas(target[ti[quad]], source[si[quad]])
    rest &= ~quad
    a[rest] = _overlay(lambda x, y: shapely.area(shapely.intersection(x, y)),
                       target[ti[rest]], source[si[rest]])
    return a


def _convex_quads(geoms: np.ndarray) -> np.ndarray:
    """Which of ``geoms`` are strictly convex quadrilaterals (4 corners, no hole)."""
    ok = ((shapely.get_type_id(geoms) == 3) & (shapely.get_num_coordinates(geoms) == 5)
          & (shapely.get_num_interior_rings(geoms) == 0))
    if not ok.any():
        return ok
    c = shapely.get_coordinates(shapely.get_exterior_ring(geoms[ok])).reshape(-1, 5, 2)[:, :4]
    e = np.roll(c, -1, axis=1) - c
    f = np.roll(e, -1, axis=1)
    turn = e[:, :, 0] * f[:, :, 1] - e[:, :, 1] * f[:, :, 0]
    convex = (turn > 0).all(axis=1) | (turn < 0).all(axis=1)
    ok[np.flatnonzero(ok)[~convex]] = False
    return ok


def _convex_clip_areas(quads: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """``area(quads[k] ∩ polys[k])`` for convex quadrilaterals and any (multi)polygons.

    Each ring of the polygon is clipped to the quadrilateral's four half-planes
    (Sutherland-Hodgman, all pairs at once): against a convex window the clipped ring's
    signed area is the original ring's inside the window, so exterior minus holes gives
    the intersection's area. Coordinates are taken relative to the quadrilateral's first
    corner (as GEOS's area does), so the areas agree with GEOS's overlay to float
    round-off (~1e-12 of a cell).
    """
    n = len(quads)
    out = np.zeros(n)
    if not n:
        return out
    c = shapely.get_coordinates(shapely.get_exterior_ring(quads)).reshape(n, 5, 2)[:, :4]
    o = c[:, 0].copy()
    c = c - o[:, None, :]
    ccw = (c[:, :, 0] * np.roll(c, -1, axis=1)[:, :, 1]
           - np.roll(c, -1, axis=1)[:, :, 0] * c[:, :, 1]).sum(axis=1) > 0
    c[~ccw] = c[~ccw, ::-1]
    parts, pair = shapely.get_parts(polys, return_index=True)
    rings, owner = shapely.get_rings(parts, return_index=True)
    hole = np.r_[False, owner[1:] == owner[:-1]]  # the exterior comes first in each polygon
    ring_pair = pair[owner]
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    # drop each ring's closing vertex
    last = np.r_[ring[1:] != ring[:-1], True]
    xy, ring = xy[~last], ring[~last]
    x = xy[:, 0] - o[ring_pair[ring], 0]
    y = xy[:, 1] - o[ring_pair[ring], 1]

    def following(ring: np.ndarray) -> np.ndarray:
        nxt = np.arange(1, len(ring) + 1)
        if len(ring):
            start = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]])
            end = np.r_[start[1:], len(ring)] - 1
            nxt[end] = start
        return nxt

    def shoelace(x, y, ring):
        nxt = following(ring)
        return np.bincount(ring, weights=x * y[nxt] - x[nxt] * y, minlength=len(rings)) / 2

    sign = np.where(hole, -1.0, 1.0) * np.sign(shoelace(x, y, ring))
    for side in range(4):
        k = ring_pair[ring]
        ax, ay = c[k, side, 0], c[k, side, 1]
        bx, by = c[k, (side + 1) % 4, 0], c[k, (side + 1) % 4, 1]
        s = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
        nxt = following(ring)
        inside = s >= 0
        in_next = inside[nxt]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = s / (s - s[nxt])
        ix = x + (x[nxt] - x) * t
        iy = y + (y[nxt] - y) * t
        both = inside & in_next
        fx = np.where(both, x[nxt], ix)
        fy = np.where(both, y[nxt], iy)
        first = inside | in_next
        second = ~inside & in_next
        keep = np.column_stack([first, second]).ravel()
        x = np.column_stack([fx, x[nxt]]).ravel()[keep]
        y = np.column_stack([fy, y[nxt]]).ravel()[keep]
        ring = np.repeat(ring, 2)[keep]
    area = sign * shoelace(x, y, ring)
    return np.maximum(np.bincount(ring_pair, weights=area, minlength=n), 0.0)


def _overlay(func: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """``func(*arrays)`` in threads (GEOS overlays release the GIL), as interpolate does."""
    from qpvgeo.interpolate import _threads  # data flows readers -> interpolate -> exposure

    return _threads(func, *arrays)


def _weighted_by_population(
    zones: _Zones,
    ctx: _PopulationContext,
    source_values: Callable[[np.ndarray], np.ndarray],
    names: Sequence[str],
    *,
    above: Sequence[tuple[str, str, float]] | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Population-weighted zone means: sum(pop x value) / sum(pop), both through interpolate.

    ``source_values(population_polygons)`` gives the value of each population polygon
    (grid cell); the products pop x value are transferred to the zones exactly like the
    population itself, so the weighting follows the same estimator. With ``above``
    (``(name, variable, threshold)`` triples) the share of the population living in
    cells whose value is strictly above the threshold is returned too, as
    ``(means, shares)``, from the same single interpolation.
    """
    source, col, _ = _population_source(ctx.population)
    pop = pd.to_numeric(source[col], errors="coerce").to_numpy(dtype=float)
    # Only the population polygons that meet a zone can weigh in a zone's mean: the
    # values of the others (all of France's cells but those near the zones) are never
    # used, so they are not measured (NaN, which leaves them out of every sum).
    near = _near_rows(source, zones.geoms)
    vals = np.full((len(source), len(names)), np.nan)
    if len(near):
        vals[near] = source_values(np.asarray(source.geometry.array, dtype=object)[near])
    extra = {}
    for j, name in enumerate(names):
        v = vals[:, j]
        # A cell without a value must not pull the mean to 0: it leaves numerator and weight.
        extra[f"_w_{name}"] = np.where(np.isnan(v), 0.0, pop)
        extra[f"_pv_{name}"] = np.where(np.isnan(v), 0.0, pop * np.nan_to_num(v))
    for k, (_, var, t) in enumerate(above or ()):
        v = vals[:, list(names).index(var)]
        extra[f"_above_{k}"] = np.where(np.isnan(v), 0.0, pop * (np.nan_to_num(v) > t))
    est = _population_of(zones.geoms, zones.index, ctx.population, method=ctx.method,
                         extra=extra, qpv=ctx.qpv, squares=ctx.squares, mask=ctx.mask)
    out = np.full((len(zones.geoms), len(names)), np.nan)
    shares = np.full((len(zones.geoms), len(above or ())), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, name in enumerate(names):
            w = est[f"_w_{name}"].to_numpy()
            out[:, j] = np.where(w > 0, est[f"_pv_{name}"].to_numpy() / w, np.nan)
        for k, (_, var, _) in enumerate(above or ()):
            w = est[f"_w_{var}"].to_numpy()
            shares[:, k] = np.where(w > 0, np.minimum(est[f"_above_{k}"].to_numpy() / w, 1.0),
                                    np.nan)
    if above is None:
        return out
    return out, shares


def _cells_are_squares(cells: np.ndarray) -> bool:
    """Whether every row of a grid carries its square (not a centre point, not nothing).

    The grid estimator reads the cells' corners, not their geometry: the geometry can
    only say which cells lie near a zone when it covers each cell.
    """
    kinds = shapely.get_type_id(cells)
    return bool(np.isin(kinds, (3, 6)).all() and not shapely.is_empty(cells).any())


#: Beyond this distance (m) from a polygon, a QPV of the calibrated estimator's mask
#: cannot touch a grid cell the polygon meets: two cells of the coarsest grid (1 km),
#: with room to spare.
_MASK_REACH = 2500.0


def _near_mask_polygons(qpv: gpd.GeoDataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    """The QPV of the calibrated mask whose box lies within :data:`_MASK_REACH` of a polygon.

    The estimator weighs a cell by the share of it inside the QPV: only the cells that
    meet the polygons count, so only the QPV that can reach them (a national mask of
    1,362 QPV would otherwise be reprojected and rasterised for every call).
    """
    mask = np.asarray(qpv.geometry.array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return qpv
    b = shapely.bounds(geoms)
    r = _MASK_REACH
    boxes = shapely.box(b[:, 0] - r, b[:, 1] - r, b[:, 2] + r, b[:, 3] + r)
    hits = np.unique(STRtree(shapely.envelope(mask)).query(boxes)[1])
    return qpv if len(hits) == len(qpv) else qpv.iloc[hits]


def _cells_reach(cells: np.ndarray) -> float:
    """How far beyond a zone's box the population polygons :func:`_near_rows` pairs with
    it can reach: its 100 m margin plus the widest polygon's box.

    A layer whose values are measured on those polygons (air, heat) must keep every
    feature within that distance of the zones' boxes: a cell straddling the edge of a
    zone's box would otherwise get the mean of the features on the zone's side only.
    """
    cells = cells[~(shapely.is_missing(cells) | shapely.is_empty(cells))]
    if not len(cells):
        return _NEAR_MARGIN
    b = shapely.bounds(cells)
    return _NEAR_MARGIN + float(np.max(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])))


#: Margin (m) around a zone's box within which :func:`_near_rows` takes population rows.
_NEAR_MARGIN = 100.0


def _near_rows(source: gpd.GeoDataFrame, geoms: np.ndarray) -> np.ndarray:
    """Rows of ``source`` whose box meets the box of one of ``geoms`` grown by 100 m, sorted.

    A superset of the rows the estimators pair with a zone: a grid's cells are shared in
    EPSG:3035 from their corners, and the squares the frame carries in EPSG:2154 lie
    within millimetres of them (100 m is far more than any such difference). Boxes only:
    a ``dwithin`` query on the polygons costs more than the cells it saves. The spatial
    index is geopandas' own, kept with the frame: one per run, not one per call.
    """
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms) or not len(source):
        return np.zeros(0, dtype=np.intp)
    b, m = shapely.bounds(geoms), _NEAR_MARGIN
    boxes = shapely.box(b[:, 0] - m, b[:, 1] - m, b[:, 2] + m, b[:, 3] + m)
    return np.unique(source.geometry.array.sindex.query(boxes)[1])


def zones_population(zones: _Zones, ctx: _PopulationContext) -> np.ndarray:
    """Population of each zone: official when the zones carry it, else the base estimate."""
    return zones.official if zones.official is not None else ctx.zone_total


def declared_extent(data: Any, **_: Any) -> Any:
    """The coverage a reader (or the caller) attached as ``data.attrs["couverture"]``."""
    attrs = getattr(data, "attrs", None) or {}
    return attrs.get("couverture")
