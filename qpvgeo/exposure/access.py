"""Access to services: how far the inhabitants of each zone live from schools, jobs, stations.

For each kind of facility (:data:`qpvgeo.readers.services.ACCESS_GROUPS`: collège,
lycée général, lycée professionnel, CFA, France Travail, gare…), every zone gets the
mean distance from where its inhabitants live to the nearest facility of that kind, and
the share of them within each stated distance (500 m and 1 km by default).

Where people live
    Each zone is sampled by a regular lattice of points (``step`` metres, 50 by default,
    aligned on multiples of ``step`` so that results do not depend on the order of the
    zones). Without a population base every point weighs the same: the indicators are
    then *area* shares (``part_surface_…``), the distance a mean over the zone's area.
    With a base (a Filosofi 200 m grid, column ``ind``, or polygons with a
    ``population`` column), each point weighs the population density of the cell that
    holds it: the distance is population-weighted and the shares are shares of
    inhabitants (``part_population_…``). Points in no populated cell weigh 0; a zone
    with no populated point gets NA (its population is unknown, not 0).
Distances
    **Straight line** (« à vol d'oiseau ») from each point to the nearest facility,
    which understates the walk. ``router=`` is the hook for network distances: a
    function ``router(origins, destinations) -> metres`` over two equal-length arrays of
    shapely points, called on each lattice point and the facilities within
    1.5 x its straight-line nearest distance + 500 m (a network distance is never shorter
    than the straight line; a facility farther than that is taken as never the nearest).
Coverage
    A facility file covers the départements it lists (``attrs["couverture_departements"]``
    from the readers) or the area given as ``coverage=``. A zone outside gets NA
    everywhere but ``part_couverte_<layer>`` (0). Facilities beyond the file's
    départements are unknown: for a QPV on the border, the nearest facility may lie in
    the next département, and its distance is then overstated.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point, box
>>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 1000, 100)], crs=2154)
>>> f = gpd.GeoDataFrame({"groupe": ["collège"]}, geometry=[Point(0, 50)], crs=2154)
>>> r = service_access(z, f, coverage=box(-5000, -5000, 5000, 5000))
>>> float(r["part_surface_college_500m"].iloc[0])
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.readers.services import ACCESS_GROUPS

__all__ = ["access_columns", "education_access", "employment_access", "facility_extent",
           "service_access", "station_access"]

#: Candidates handed to a ``router``: facilities within this factor of the straight-line
#: nearest distance, plus :data:`_ROUTER_SLACK` metres.
_ROUTER_REACH = 1.5
_ROUTER_SLACK = 500.0
#: Largest lattice handed to one query (points); beyond it the zones are taken in chunks
#: so that memory stays bounded on a whole region's rings.
_CHUNK = 2_000_000


def _zones(zones: Any, key: str) -> tuple[pd.Index, np.ndarray, Any, np.ndarray | None]:
    """(index, polygons, the zones as given, official population or None)."""
    from qpvgeo.exposure._base import _prepare_zones  # the shared zone checks

    z = _prepare_zones(zones, key)
    return z.index, z.geoms, zones, z.official


def _departement_extent(data: Any, communes: Any) -> Any:
    """Union of ``communes`` of the départements ``data`` covers, or per-département hulls."""
    if not isinstance(data, gpd.GeoDataFrame) or not len(data):
        return None
    deps = list(getattr(data, "attrs", {}).get("couverture_departements", []))
    if not deps and schema.CODE_COMMUNE in data.columns:
        # attrs are lost when a frame is clipped or concatenated: the codes still say
        codes = data[schema.CODE_COMMUNE].astype("string").dropna()
        deps = sorted({d for d in map(schema.departement_of_commune, codes) if d})
    if not deps:
        return None
    if communes is not None and schema.CODE_COMMUNE in communes.columns:
        com = schema.to_canonical_crs(communes, what="communes")
        codes = com[schema.CODE_COMMUNE].astype("string")
        inside = codes.map(lambda c: schema.departement_of_commune(c) in deps
                           if isinstance(c, str) else False).to_numpy(dtype=bool)
        if inside.any():
            return shapely.union_all(np.asarray(com.geometry.array, dtype=object)[inside])
    if schema.CODE_COMMUNE not in data.columns:
        return None
    frame = schema.to_canonical_crs(data, what="facilities")
    dep = frame[schema.CODE_COMMUNE].astype("string").map(
        lambda c: schema.departement_of_commune(c) if isinstance(c, str) else None)
    geoms = np.asarray(frame.geometry.array, dtype=object)
    # fillna: with pyarrow-backed strings the comparison gives NA where dep is NA
    member = [(dep == d).fillna(False).to_numpy(dtype=bool) for d in deps]
    hulls = [shapely.convex_hull(shapely.multipoints(geoms[m]))
             for m in member]  # a handful of départements, not a loop over geometries
    hulls = [h for h in hulls if shapely.get_type_id(h) == 3]
    return shapely.union_all(hulls) if hulls else None


def facility_extent(data: Any, *, communes: Any = None, **_: Any) -> Any:
    """Where a facility (or DPE) file is complete: the départements it lists.

    With ``communes`` (polygons with ``code_commune``), the union of the communes of those
    départements; without, the convex hull of the file's points in each département (an
    approximation of the département that falls short at its edges, where a QPV is then
    partly covered). ``None`` when the file lists no département.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> f = gpd.GeoDataFrame({"code_commune": ["59350"] * 3},
    ...                      geometry=[Point(0, 0), Point(10, 0), Point(0, 10)], crs=2154)
    >>> f.attrs["couverture_departements"] = ["59"]
    >>> facility_extent(f).area
    50.0
    """
    return _departement_extent(data, communes)


def _lattice(geoms: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of the global ``step`` lattice inside each polygon: (owner, x, y).

    A polygon holding no lattice point (smaller than a cell) gets its point on surface.
    """
    b = shapely.bounds(geoms)
    gx0 = np.floor(b[:, 0] / step) * step + step / 2
    gy0 = np.floor(b[:, 1] / step) * step + step / 2
    nx = np.maximum(np.ceil((b[:, 2] - gx0) / step).astype(np.int64), 1)
    ny = np.maximum(np.ceil((b[:, 3] - gy0) / step).astype(np.int64), 1)
    owners, xs, ys = [], [], []
    shapely.prepare(geoms)
    counts = nx * ny
    start = 0
    while start < len(geoms):
        # chunks of zones whose lattices add up to at most _CHUNK points
        csum = np.cumsum(counts[start:])
        stop = start + max(int(np.searchsorted(csum, _CHUNK, side="right")), 1)
        idx = np.arange(start, stop)
        owner = np.repeat(idx, counts[idx])
        offs = np.repeat(np.cumsum(counts[idx]) - counts[idx], counts[idx])
        k = np.arange(len(owner)) - offs
        x = gx0[owner] + (k % nx[owner]) * step
        y = gy0[owner] + (k // nx[owner]) * step
        inside = shapely.contains_xy(geoms[owner], x, y)
        owners.append(owner[inside])
        xs.append(x[inside])
        ys.append(y[inside])
        start = stop
    owner, x, y = np.concatenate(owners), np.concatenate(xs), np.concatenate(ys)
    empty = np.bincount(owner, minlength=len(geoms)) == 0
    if empty.any():
        pos = shapely.point_on_surface(geoms[empty])
        owner = np.concatenate([owner, np.flatnonzero(empty)])
        x = np.concatenate([x, shapely.get_x(pos)])
        y = np.concatenate([y, shapely.get_y(pos)])
    return owner, x, y


def _densities(points: np.ndarray, base: gpd.GeoDataFrame) -> np.ndarray:
    """Population density (inhabitants per m²) of the base polygon holding each point."""
    if not isinstance(base, gpd.GeoDataFrame):
        raise SchemaError(f"base: expected a GeoDataFrame, got {type(base).__name__}")
    base = schema.to_canonical_crs(base, what="population base")
    col = "ind" if "ind" in base.columns else schema.POPULATION
    if col not in base.columns:
        raise SchemaError(
            "base: expected a Filosofi grid (column 'ind') or polygons with a 'population' "
            f"column; columns present: {list(base.columns)}"
        )
    geoms = np.asarray(base.geometry.array, dtype=object)
    pop = pd.to_numeric(base[col], errors="coerce").to_numpy(dtype=float)
    area = shapely.area(geoms)
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = np.where(area > 0, pop / area, 0.0)
    dens = np.nan_to_num(dens)
    out = np.zeros(len(points))
    if len(geoms) and len(points):
        pi, bi = STRtree(geoms).query(points, predicate="intersects")
        # a point on the edge of two cells takes the first: no double count
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
        out[pi[first]] = dens[bi[first]]
    return out


def _departement_of_zones(zones: gpd.GeoDataFrame, index: pd.Index, key: str) -> np.ndarray:
    deps = np.full(len(index), None, dtype=object)
    if schema.CODE_COMMUNE in getattr(zones, "columns", ()):
        com = zones[schema.CODE_COMMUNE].astype("string").str.split(",").str[0].str.strip()
        deps = np.array([schema.departement_of_commune(c) if isinstance(c, str) else None
                         for c in com], dtype=object)
    from_key = np.array([schema.departement_of_qpv(str(c)) for c in index], dtype=object)
    return np.where(pd.isna(deps), from_key, deps)


def _coverage(
    zones: gpd.GeoDataFrame, index: pd.Index, geoms: np.ndarray, facilities: gpd.GeoDataFrame,
    coverage: Any, key: str, *, what: str,
) -> np.ndarray:
    """Share of each zone the facility file covers (0–1); all 1 with ``coverage=False``."""
    if coverage is False:
        return np.ones(len(index))
    if coverage is None:
        coverage = list(facilities.attrs.get("couverture_departements", []))
        if not coverage:
            raise QpvgeoError(
                f"{what}: the facilities do not say which départements they cover (no "
                "commune codes); pass coverage= (départements or a polygon of the area "
                "the file is complete for)"
            )
    if isinstance(coverage, (gpd.GeoDataFrame, gpd.GeoSeries)):
        cov = schema.to_canonical_crs(coverage, what="coverage")
        coverage = shapely.union_all(np.asarray(cov.geometry.array, dtype=object))
    if isinstance(coverage, shapely.Geometry):
        inter = shapely.area(shapely.intersection(geoms, coverage))
        return np.clip(inter / shapely.area(geoms), 0.0, 1.0)
    wanted = {str(d) for d in coverage}
    deps = _departement_of_zones(zones, index, key)
    if pd.isna(deps).any():
        bad = index[pd.isna(deps)].tolist()[:5]
        raise QpvgeoError(
            f"{what}: cannot tell the département of zones {bad} (no code_commune, key not a "
            "QPV code); pass coverage= as a polygon"
        )
    return np.array([1.0 if d in wanted else 0.0 for d in deps])


def _groups(facilities: gpd.GeoDataFrame, groups: Any) -> dict[str, tuple[str, ...]]:
    if groups is None:
        groups = list(ACCESS_GROUPS)
    if isinstance(groups, Mapping):
        wanted = {str(k): tuple(v) for k, v in groups.items()}
    else:
        unknown = [g for g in groups if g not in ACCESS_GROUPS]
        if unknown:
            raise QpvgeoError(
                f"unknown access groups {unknown}; known: {list(ACCESS_GROUPS)} (or pass a "
                "mapping slug -> facility groups)"
            )
        wanted = {g: ACCESS_GROUPS[g] for g in groups}
    present = set(facilities["groupe"].dropna().astype(str))
    return {slug: gs for slug, gs in wanted.items() if present & set(gs)}


def _nearest(points: np.ndarray, fac: np.ndarray, router: Callable | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest facility, and that facility's position."""
    (pi, fi), d = STRtree(fac).query_nearest(points, return_distance=True, all_matches=False)
    dist = np.full(len(points), np.nan)
    near = np.full(len(points), -1)
    dist[pi], near[pi] = d, fi
    if router is None:
        return dist, near
    reach = dist * _ROUTER_REACH + _ROUTER_SLACK
    ci, cf = STRtree(fac).query(points, predicate="dwithin", distance=reach)
    nd = np.asarray(router(points[ci], fac[cf]), dtype=float)
    if nd.shape != ci.shape:
        raise QpvgeoError(f"router returned {nd.shape} distances for {ci.shape} pairs")
    if (nd < 0).any() or np.isnan(nd).all():
        raise QpvgeoError("router returned negative distances or only NaN")
    order = np.lexsort((nd, ci))
    first = order[np.r_[True, ci[order][1:] != ci[order][:-1]]]
    dist[:] = np.nan
    near[:] = -1
    dist[ci[first]], near[ci[first]] = nd[first], cf[first]
    return dist, near


def _slug_d(d: float) -> str:
    return f"{int(d)}m" if float(d).is_integer() else f"{d:g}m".replace(".", "_")


def service_access(
    zones: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    groups: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    distances: Sequence[float] = (500, 1000),
    step: float = 50.0,
    coverage: Any = None,
    router: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    layer: str = "acces_services",
) -> pd.DataFrame:
    """Distance from the inhabitants of each zone to the nearest facility of each kind.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons with a ``key`` column (QPV, their surroundings…).
    facilities : geopandas.GeoDataFrame
        Points with a ``groupe`` column (:mod:`qpvgeo.readers.services`), any CRS.
    key : str
        Zone identifier column.
    population : geopandas.GeoDataFrame, optional
        Where people live: Filosofi grid (``ind``) or polygons with ``population`` (the
        population base of :func:`qpvgeo.exposure.exposure_profile`). Without it the
        measures are area-weighted (``part_surface_…``).
    population_method, ancillary
        Accepted for the registry's indicator contract; each lattice point takes the
        density of its cell (the areal estimator) whatever the method, since a distance
        needs where people are inside the zone, not a zone total.
    groups : sequence or mapping, optional
        Slugs of :data:`~qpvgeo.readers.services.ACCESS_GROUPS` to measure (default all
        those present in ``facilities``), or a mapping slug -> facility groups.
    distances : sequence of float
        Thresholds in metres of the shares (default 500 m and 1 km).
    step : float
        Spacing of the sampling lattice in metres (default 50: a 200 m cell is 16 points).
    coverage : list of str, polygon, GeoDataFrame or False, optional
        Départements, or area, for which ``facilities`` is complete (default
        ``facilities.attrs["couverture_departements"]``); ``False`` when the zones are
        already clipped to the coverage (:func:`qpvgeo.exposure.exposure_profile` does
        it and adds ``part_couverte_<layer>`` itself): no coverage column then.
    router : callable, optional
        Network-distance hook (see the module docstring); default straight line.
    layer : str
        Name of the layer, for ``part_couverte_<layer>``.

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``part_couverte_<layer>``; for each group slug ``g``
        ``distance_<g>_m`` (mean distance to the nearest facility, weighted by population
        or area), ``part_<w>_<g>_<d>m`` (share within ``d``; ``w`` is ``population`` or
        ``surface``) and ``n_<g>_<d>m`` (facilities within ``d`` of the zone's edge,
        inside included); with collèges carrying ``education_prioritaire``,
        ``part_<w>_college_rep_plus`` and ``part_<w>_college_rep`` (share whose nearest
        collège is REP+, REP) and ``n_colleges_rep_plus_<d>m``. NA outside coverage.
        ``attrs``: ``methode_distance``, ``base``, ``pas_m``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 400, 400)],
    ...                      crs=2154)
    >>> f = gpd.GeoDataFrame({"groupe": ["gare"]}, geometry=[Point(1200, 200)], crs=2154)
    >>> r = service_access(z, f, coverage=["59"])
    >>> # 1,000 m on average along x, + about var(y) / 2d = 400² / 12 / 2,000 = 7 m across
    >>> round(float(r["distance_gare_m"].iloc[0]))
    1007
    """
    if step <= 0:
        raise QpvgeoError(f"step must be a positive distance in metres, got {step}")
    dists = sorted({float(d) for d in distances})
    if not dists or dists[0] <= 0:
        raise QpvgeoError(f"distances must be positive metres, got {list(distances)}")
    if not isinstance(facilities, gpd.GeoDataFrame):
        raise SchemaError(f"{layer}: facilities must be a GeoDataFrame")
    schema.require_columns(facilities, ["groupe"], what=f"{layer} facilities")
    fac_all = schema.to_canonical_crs(facilities, what=f"{layer} facilities")
    index, geoms, src, _ = _zones(zones, key)
    covered = _coverage(src, index, geoms, facilities, coverage, key, what=layer)
    base = population
    wname = "surface" if base is None else "population"
    out: dict[str, np.ndarray] = {} if coverage is False else {f"part_couverte_{layer}": covered}
    wanted = _groups(fac_all, groups)
    if not wanted:
        raise QpvgeoError(
            f"{layer}: none of the facility groups asked for is in the file "
            f"(groups present: {sorted(fac_all['groupe'].dropna().unique().tolist())})"
        )
    owner, x, y = _lattice(geoms, step)
    points = shapely.points(x, y)
    weight = np.ones(len(points)) if base is None else _densities(points, base)
    n = len(index)
    wsum = np.bincount(owner, weights=weight, minlength=n)
    ok = (covered > 0) & (wsum > 0)
    fgeoms = np.asarray(fac_all.geometry.array, dtype=object)
    fgroup = fac_all["groupe"].astype("string").to_numpy(dtype=object)
    ep = (fac_all["education_prioritaire"].astype("string").to_numpy(dtype=object)
          if "education_prioritaire" in fac_all.columns else None)
    with np.errstate(invalid="ignore", divide="ignore"):
        for slug, gs in wanted.items():
            sel = np.isin(fgroup, list(gs))
            fac = fgeoms[sel]
            d, near = _nearest(points, fac, router)
            known = ~np.isnan(d)
            wk = np.bincount(owner[known], weights=weight[known], minlength=n)
            mean = np.bincount(owner[known], weights=(weight * d)[known], minlength=n) / wk
            out[f"distance_{slug}_m"] = np.where(ok & (wk > 0), mean, np.nan)
            for dd in dists:
                inn = np.bincount(owner, weights=weight * (known & (d <= dd)), minlength=n)
                out[f"part_{wname}_{slug}_{_slug_d(dd)}"] = np.where(ok, inn / wsum, np.nan)
            tree = STRtree(fac)
            for dd in dists:
                zi = tree.query(geoms, predicate="dwithin", distance=dd)[0]
                out[f"n_{slug}_{_slug_d(dd)}"] = np.where(
                    covered > 0, np.bincount(zi, minlength=n).astype(float), np.nan)
            if slug == "college" and ep is not None and pd.notna(ep[sel]).any():
                fep = ep[sel]
                for label, wanted_ep in (("rep_plus", "REP+"), ("rep", "REP")):
                    hit = known & (near >= 0) & (fep[np.maximum(near, 0)] == wanted_ep)
                    share = np.bincount(owner, weights=weight * hit, minlength=n) / wsum
                    out[f"part_{wname}_college_{label}"] = np.where(ok, share, np.nan)
                plus = fac[fep == "REP+"]
                ptree = STRtree(plus)
                for dd in dists:
                    zi = ptree.query(geoms, predicate="dwithin", distance=dd)[0]
                    out[f"n_colleges_rep_plus_{_slug_d(dd)}"] = np.where(
                        covered > 0, np.bincount(zi, minlength=n).astype(float), np.nan)
    frame = pd.DataFrame(out, index=index.copy())
    frame.attrs.update(
        couche=layer, base=wname, pas_m=step,
        methode_distance="vol d'oiseau" if router is None else "réseau (router)",
    )
    return frame


def education_access(
    zones: gpd.GeoDataFrame, establishments: gpd.GeoDataFrame, *,
    key: str = schema.CODE_QPV, population: gpd.GeoDataFrame | None = None, **options: Any,
) -> pd.DataFrame:
    """:func:`service_access` to collèges and lycées (``acces_education`` layer).

    Adds the éducation prioritaire of the nearest collège when the establishments carry it.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons with a ``key`` column.
    establishments : geopandas.GeoDataFrame
        From :func:`qpvgeo.readers.services.read_education_establishments` (or the BPE).
    key : str
        Zone identifier column.
    population : geopandas.GeoDataFrame, optional
        Population base (see :func:`service_access`).
    **options
        Any option of :func:`service_access` (``distances``, ``coverage``, ``router``…).

    Returns
    -------
    pandas.DataFrame
        As :func:`service_access`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 400, 400)],
    ...                      crs=2154)
    >>> f = gpd.GeoDataFrame({"groupe": ["collège", "collège"],
    ...                       "education_prioritaire": ["REP+", "hors EP"]},
    ...                      geometry=[Point(100, 200), Point(900, 200)], crs=2154)
    >>> r = education_access(z, f, coverage=["59"])
    >>> float(r["part_surface_college_rep_plus"].iloc[0])  # every point is nearer the REP+
    1.0
    """
    options.setdefault("groups", ("college", "lycee_general", "lycee_professionnel"))
    options.setdefault("layer", "acces_education")
    return service_access(zones, establishments, key=key, population=population, **options)


def station_access(
    zones: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, *,
    key: str = schema.CODE_QPV, population: gpd.GeoDataFrame | None = None, **options: Any,
) -> pd.DataFrame:
    """:func:`service_access` to railway stations (``acces_gares`` layer), 500 m to 2 km.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons with a ``key`` column.
    stations : geopandas.GeoDataFrame
        From :func:`qpvgeo.readers.services.read_stations` or the BPE (E107–E109).
    key : str
        Zone identifier column.
    population : geopandas.GeoDataFrame, optional
        Population base (see :func:`service_access`).
    **options
        Any option of :func:`service_access` (``distances``, ``coverage``, ``router``…).

    Returns
    -------
    pandas.DataFrame
        As :func:`service_access`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)],
    ...                      crs=2154)
    >>> g = gpd.GeoDataFrame({"groupe": ["gare"]}, geometry=[Point(50, 50)], crs=2154)
    >>> float(station_access(z, g, coverage=["59"])["part_surface_gare_500m"].iloc[0])
    1.0
    """
    options.setdefault("groups", ("gare",))
    options.setdefault("layer", "acces_gares")
    options.setdefault("distances", (500, 1000, 2000))
    return service_access(zones, stations, key=key, population=population, **options)


def employment_access(
    zones: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *,
    key: str = schema.CODE_QPV, population: gpd.GeoDataFrame | None = None, **options: Any,
) -> pd.DataFrame:
    """:func:`service_access` to France Travail agencies and CFA (``acces_emploi`` layer).


    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons with a ``key`` column.
    facilities : geopandas.GeoDataFrame
        From :func:`qpvgeo.readers.services.read_bpe` (TYPEQU A122, C601, C605).
    key : str
        Zone identifier column.
    population : geopandas.GeoDataFrame, optional
        Population base (see :func:`service_access`).
    **options
        Any option of :func:`service_access` (``distances``, ``coverage``, ``router``…).

    Returns
    -------
    pandas.DataFrame
        As :func:`service_access`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)],
    ...                      crs=2154)
    >>> f = gpd.GeoDataFrame({"groupe": ["France Travail"]}, geometry=[Point(50, 2050)],
    ...                      crs=2154)
    >>> r = employment_access(z, f, coverage=["59"])
    >>> float(r["part_surface_france_travail_1000m"].iloc[0])
    0.0
    """
    options.setdefault("groups", ("france_travail", "cfa"))
    options.setdefault("layer", "acces_emploi")
    return service_access(zones, facilities, key=key, population=population, **options)


# -- column catalogue -----------------------------------------------------------------------

#: French name of each access group, with its article: (au/à la…, un/une…, plural).
_NAMES: dict[str, tuple[str, str, str]] = {
    "college": ("au collège le plus proche", "d'un collège", "collèges"),
    "lycee_general": ("au lycée général et technologique le plus proche",
                      "d'un lycée général et technologique", "lycées GT (et polyvalents)"),
    "lycee_professionnel": ("au lycée professionnel le plus proche",
                            "d'un lycée professionnel", "lycées professionnels (et polyvalents)"),
    "cfa": ("au CFA le plus proche", "d'un CFA", "CFA"),
    "france_travail": ("à l'agence France Travail la plus proche", "d'une agence France Travail",
                       "agences France Travail"),
    "gare": ("à la gare la plus proche", "d'une gare", "gares"),
    "arret_transport": ("à l'arrêt de transport en commun le plus proche",
                        "d'un arrêt de transport en commun", "arrêts de transport en commun"),
}


def access_columns(layer: str, slugs: Sequence[str], *, source: str,
                   distances: Sequence[float] = (500, 1000, 2000)) -> tuple:
    """Column catalogue entries (:class:`qpvgeo.schema.Column`) of an access layer.

    Examples
    --------
    >>> cols = access_columns("acces_gares", ["gare"], source="SNCF")
    >>> next(c.label for c in cols if c.name == "part_population_gare_1000m")
    "Part des habitants à moins de 1000 m d'une gare"
    """
    from qpvgeo.schema import Column

    cols = [Column(f"part_couverte_{layer}", "Part de la zone couverte par la couche", "%",
                   kind="share", source=source,
                   description="1 quand le fichier d'équipements couvre la zone, 0 sinon")]
    for slug in slugs:
        to, of, plural = _NAMES[slug]
        cols.append(Column(f"distance_{slug}_m", f"Distance moyenne {to}", "m", kind="distance",
                           direction=1, decimals=0, source=source,
                           description=f"distance à vol d'oiseau {to}, moyenne pondérée par "
                           "la population (sinon la surface) de la zone"))
        for d in distances:
            s = _slug_d(d)
            cols.append(Column(f"part_population_{slug}_{s}",
                               f"Part des habitants à moins de {d:g} m {of}", "%",
                               kind="share", direction=-1, source=source))
            cols.append(Column(f"part_surface_{slug}_{s}",
                               f"Part de la surface à moins de {d:g} m {of}", "%",
                               kind="share", direction=-1, source=source))
            cols.append(Column(f"n_{slug}_{s}", f"Nombre de {plural} à moins de {d:g} m",
                               "", kind="count", direction=-1, decimals=0, source=source))
        cols.append(Column(rf"part_(population|surface)_{slug}_\d+(_\d+)?m",
                           f"Part à distance donnée {of}", "%", kind="share", direction=-1,
                           source=source, pattern=True))
        cols.append(Column(rf"n_{slug}_\d+(_\d+)?m", f"Nombre de {plural} à distance donnée",
                           "", kind="count", direction=-1, decimals=0, source=source,
                           pattern=True))
        if slug == "college":
            for w, who in (("population", "habitants"), ("surface", "la surface")):
                cols.append(Column(f"part_{w}_college_rep_plus",
                                   f"Part des {who} dont le collège le plus proche est REP+"
                                   if w == "population" else
                                   "Part de la surface dont le collège le plus proche est REP+",
                                   "%", kind="share", source=source))
                cols.append(Column(f"part_{w}_college_rep",
                                   f"Part des {who} dont le collège le plus proche est REP"
                                   if w == "population" else
                                   "Part de la surface dont le collège le plus proche est REP",
                                   "%", kind="share", source=source))
            cols.append(Column(r"n_colleges_rep_plus_\d+(_\d+)?m",
                               "Collèges REP+ à distance donnée de la zone", "", kind="count",
                               decimals=0, source=source, pattern=True))
    return tuple(cols)


# -- demo territory -------------------------------------------------------------------------


def _demo_points(base: Any, spec: Sequence[tuple[int, float, float]]) -> list:
    """Points at (metres east, north) of the representative point of QPV number ``i``."""
    rep = shapely.point_on_surface(np.asarray(base.qpv.geometry.array, dtype=object))
    return [shapely.Point(shapely.get_x(rep[i]) + dx, shapely.get_y(rep[i]) + dy)
            for i, dx, dy in spec]


def _demo_frame(base: Any, groups: Sequence[str], pts: list, **extra: Any) -> gpd.GeoDataFrame:
    n = len(pts)
    frame = gpd.GeoDataFrame({
        "identifiant": [f"DEMO{i + 1:02d}" for i in range(n)],
        "nom": [f"Équipement synthétique {i + 1}" for i in range(n)],
        "groupe": list(groups), schema.CODE_COMMUNE: pd.NA, **extra,
    }, geometry=pts, crs=schema.CRS)
    frame.attrs["couverture_departements"] = ["99"]
    return frame


def demo_schools(base: Any) -> gpd.GeoDataFrame:
    """Synthetic collèges (one REP+ in the first QPV) and lycées of the demo territory.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> demo().layers["acces_education"]["groupe"].tolist()[:2]
    ['collège', 'collège']
    """
    pts = _demo_points(base, [(0, 0, 0), (1, 1500, 0), (2, 300, 0), (3, -600, 400),
                              (0, 2500, -800), (2, -1800, 900)])
    return _demo_frame(base, ["collège", "collège", "collège", "collège", "lycée polyvalent",
                              "lycée professionnel"], pts,
                       education_prioritaire=["REP+", "hors EP", "REP", "hors EP", pd.NA,
                                              pd.NA])


def demo_employment(base: Any) -> gpd.GeoDataFrame:
    """A synthetic France Travail agency and CFA of the demo territory.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> sorted(demo().layers["acces_emploi"]["groupe"])
    ['CFA', 'France Travail']
    """
    return _demo_frame(base, ["France Travail", "CFA"],
                       _demo_points(base, [(1, 700, 300), (3, 2200, -500)]))


def demo_stations(base: Any) -> gpd.GeoDataFrame:
    """Two synthetic railway stations of the demo territory.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> len(demo().layers["acces_gares"])
    2
    """
    return _demo_frame(base, ["gare", "gare"],
                       _demo_points(base, [(0, 900, 600), (3, 0, 1800)]))
