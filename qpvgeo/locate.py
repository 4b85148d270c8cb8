"""Points (addresses, establishments, dwellings) → the QPV they lie in, offline and in bulk.

:func:`locate_qpv` answers SIG Ville's question — "is this address in a QPV?" — for a
whole table at once, in the 2015 geography, the 2024 one, or both, and says where the
answer is uncertain: a point closer to a QPV edge than the contours' precision gets a
boundary flag rather than a false certainty.

Method (vectorised, shapely 2): an STRtree over the QPV polygons answers, for all points
at once, which polygon covers each (``intersects``: a point on an edge counts as inside
— and is flagged). The distance to the nearest QPV edge is then computed only where it
is needed: for a point inside a QPV, to that QPV's boundary (or to another QPV's edge
where polygons overlap); for a point outside, to the QPV whose bounding box, grown by
``max_distance`` (1 km by default), holds it — one ``shapely.distance`` per such pair.
Beyond ``max_distance`` the distance is not measured (NA, and ``code_qpv_proche`` NA);
``max_distance=None`` measures it everywhere (``query_nearest``), far slower on a
national file. Distances are computed in a metric CRS per zone: Lambert-93 in
metropolitan France, the official UTM projection in each overseas territory
(:data:`qpvgeo.readers.points.ZONES`); coordinates already in that CRS are used as
they are.

Measured on 1 M points (half uniform over metropolitan France, half within ~1 km of a
QPV; 2 shared cores under a load average of 7.5): ``locate_qpv`` 9.8 s from the table
to the finished columns (2024 layer), of which 4.4 s for the geometry; geopandas
``sjoin(predicate="within")``, which gives no distance and no flag, 1.6 s.

Boundary tolerance, by geography (:data:`DEFAULT_TOLERANCE`, in metres):

* **2015 — 5 m.** The official CGET/ANCT layer is full resolution, digitised on the
  cadastre (metre-class); a BAN address point adds a few metres of its own.
* **2024 — 20 m.** The only open 2024 layer we hold is a third party's simplified copy
  (vertices thinned, coordinates rounded to 5 decimals). Measured on the 10 HdF QPV
  whose 2024 code says the perimeter was kept (``…I``): the 27,391 vertices of their
  full-resolution 2015 outline lie a median 1.6 m from the simplified 2024 edge, 95 %
  within 9.7 m, 99 % within 19.0 m. 20 m covers 99 % of that displacement. With the
  full-resolution ANCT 2024 layer, pass ``tolerance={2024: 5}``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, QpvgeoWarning, SchemaError
from qpvgeo.readers._common import PathLike
from qpvgeo.readers.points import STATUT_COORDONNEES, STATUT_OK, ZONES, _positions, zone_of
from qpvgeo.readers.qpv import read_qpv

#: Boundary tolerance (metres) by QPV geography; see the module docstring for the basis.
DEFAULT_TOLERANCE: dict[int, float] = {2015: 5.0, 2024: 20.0}

#: Columns added by :func:`locate_qpv`, per geography ``{g}`` (2015 or 2024).
COLUMNS_BY_GEOGRAPHY: dict[str, str] = {
    "code_qpv_{g}": "code of the QPV holding the point (NA outside every QPV)",
    "nom_qpv_{g}": "its name",
    "en_qpv_{g}": "True inside a QPV, False outside, NA when the row has no usable point",
    "distance_bord_qpv_{g}": "distance in metres to the nearest QPV edge, inside or outside "
                             "(NA: no usable point, or farther than max_distance)",
    "code_qpv_proche_{g}": "the QPV holding the point, else the nearest one within "
                           "max_distance",
    "bord_qpv_{g}": "True when the point is within the tolerance of a QPV edge (or lies in "
                    "two overlapping QPV): the in/out answer is uncertain there",
}


@dataclass(frozen=True)
class _Located:
    inside: np.ndarray  # index of the QPV holding the point, -1 when none
    n_inside: np.ndarray  # how many QPV hold it (2+ only where polygons overlap)
    distance: np.ndarray  # metres to the nearest edge
    nearest: np.ndarray  # index of the QPV owning that edge


#: Default radius (m) within which the distance to the nearest QPV edge is measured.
DEFAULT_MAX_DISTANCE = 1000.0


def _min_by_point(p: np.ndarray, q: np.ndarray, d: np.ndarray, n: int):
    """Smallest ``d`` per point ``p`` and the ``q`` reaching it (NaN / -1 where none)."""
    best = np.full(n, np.nan)
    which = np.full(n, -1, dtype=np.int64)
    if len(p):
        order = np.lexsort((q, d, p))  # by point, then distance, then QPV order
        p, q, d = p[order], q[order], d[order]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        best[p[first]] = d[first]
        which[p[first]] = q[first]
    return best, which


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``shapely.distance(a, b)``, in two threads for long arrays when there are two CPUs.

    Shapely releases the GIL in GEOS calls; each pair's distance is the same whatever
    the split. Half a million point-to-boundary distances take ~1.5 s of CPU: the
    largest part of :func:`locate_qpv` on a national file.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    n = len(a)
    if n < 100_000 or (os.cpu_count() or 1) < 2:
        return shapely.distance(a, b)
    half = n // 2
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda s: shapely.distance(a[s], b[s]),
                              (slice(0, half), slice(half, n))))
    return np.concatenate(parts)


def _box_pairs(x: np.ndarray, y: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs (point, box) where the point lies in the box (edges included), from numbers.

    ``boxes`` is ``(m, 4)``: xmin, ymin, xmax, ymax. The boxes are registered in the
    cells of a regular grid (cells the size of a median box), each point looks up its
    cell, and the candidates are checked exactly: no point geometry is created, so the
    points far from every box (most of a national file) cost a few array operations.
    """
    n, m = len(x), len(boxes)
    empty = np.zeros(0, np.int64)
    if n == 0 or m == 0:
        return empty, empty
    bx0, by0, bx1, by1 = boxes.T
    size = float(np.median(np.maximum(bx1 - bx0, by1 - by0)))
    if not np.isfinite(size) or size <= 0:
        size = 1.0
    gx0, gy0 = float(bx0.min()), float(by0.min())
    # at most ~4 M cells (tiny boxes spread far apart: cells larger than the boxes)
    size = max(size, float(np.sqrt((bx1.max() - gx0) * (by1.max() - gy0) / 4e6)))
    nx = int((bx1.max() - gx0) // size) + 1
    ny = int((by1.max() - gy0) // size) + 1
    i0 = ((bx0 - gx0) // size).astype(np.int64)
    i1 = ((bx1 - gx0) // size).astype(np.int64)
    j0 = ((by0 - gy0) // size).astype(np.int64)
    j1 = ((by1 - gy0) // size).astype(np.int64)
    # every (cell, box) registration, as a CSR table sorted by cell
    wi, wj = i1 - i0 + 1, j1 - j0 + 1
    per = wi * wj
    owner = np.repeat(np.arange(m), per)
    k = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    cells = (j0[owner] + k // wi[owner]) * nx + (i0[owner] + k % wi[owner])
    order = np.argsort(cells, kind="stable")
    cells, owner = cells[order], owner[order]
    start = np.searchsorted(cells, np.arange(nx * ny + 1))
    # each point's cell (points off the grid have none)
    with np.errstate(invalid="ignore"):
        ci = np.floor((x - gx0) / size)
        cj = np.floor((y - gy0) / size)
    on = (ci >= 0) & (ci < nx) & (cj >= 0) & (cj < ny)
    pts = np.flatnonzero(on)
    cell = cj[on].astype(np.int64) * nx + ci[on].astype(np.int64)
    lo, count = start[cell], start[cell + 1] - start[cell]
    p = np.repeat(pts, count)
    q = owner[np.repeat(lo, count) + (np.arange(int(count.sum()))
                                      - np.repeat(np.cumsum(count) - count, count))]
    px, py = x[p], y[p]
    hit = (bx0[q] <= px) & (px <= bx1[q]) & (by0[q] <= py) & (py <= by1[q])
    return p[hit], q[hit]


def _locate(x: np.ndarray, y: np.ndarray, polygons: np.ndarray, *,
            max_distance: float | None) -> _Located:
    """Point-in-polygon, then the distance to the nearest edge, all points at once.

    Inside a QPV, the distance is to its own boundary, or to another QPV's edge running
    inside it where polygons overlap; outside, it is the distance to the nearest polygon,
    among those within ``max_distance`` (candidates from bounding boxes grown by it, then
    ``shapely.distance`` on those pairs only), or among all (``query_nearest``) when
    ``max_distance`` is None.

    ``x``, ``y`` are the points' coordinates (finite), in the polygons' CRS. Candidate
    (point, QPV) pairs come from the boxes by arithmetic (:func:`_box_pairs`); GEOS
    points are made only for the points in a grown box (near a QPV), and the
    point-in-polygon test runs on the prepared polygons from the coordinates.
    """
    n = len(x)
    inside = np.full(n, -1, dtype=np.int64)
    n_inside = np.zeros(n, dtype=np.int64)
    distance = np.full(n, np.nan)
    nearest = np.full(n, -1, dtype=np.int64)
    usable = ~shapely.is_empty(polygons)
    if n == 0 or not usable.any():
        return _Located(inside, n_inside, distance, nearest)
    poly_idx = np.flatnonzero(usable)
    polys = polygons[usable]
    bounds = shapely.bounds(polys)
    x0, y0, x1, y1 = bounds.T
    reach = 0.0 if max_distance is None else max_distance
    # the same grown boxes as shapely.box(x0 - d, …) would hold (same float operations)
    pairs_p, pairs_q = _box_pairs(x, y, np.column_stack(
        [x0 - reach, y0 - reach, x1 + reach, y1 + reach]))
    # "intersects": a point on an edge counts as inside (and is flagged as on the edge);
    # only pairs whose point lies in the polygon's own box can intersect it
    px, py = x[pairs_p], y[pairs_p]
    in_box = ((x0[pairs_q] <= px) & (px <= x1[pairs_q])
              & (y0[pairs_q] <= py) & (py <= y1[pairs_q]))
    was_prepared = shapely.is_prepared(polys)  # the caller's geometries may be shared
    shapely.prepare(polys)
    hit = np.zeros(len(pairs_p), dtype=bool)
    hit[in_box] = shapely.intersects_xy(polys[pairs_q[in_box]], px[in_box], py[in_box])
    p, q = pairs_p[hit], pairs_q[hit]
    n_inside = np.bincount(p, minlength=n)
    order = np.lexsort((q, p))  # by point, then by QPV index (= the frame's order)
    p_sorted, q_sorted = p[order], q[order]
    first = np.ones(len(p_sorted), dtype=bool)
    first[1:] = p_sorted[1:] != p_sorted[:-1]
    local_inside = np.full(n, -1, dtype=np.int64)
    local_inside[p_sorted[first]] = q_sorted[first]

    held = local_inside >= 0
    near_any = np.zeros(n, dtype=bool)
    near_any[pairs_p] = True
    if max_distance is None:
        near_any[:] = True
    # GEOS points only where a distance is measured (held, or in a grown box)
    geom_of = np.full(n, -1, dtype=np.int64)
    need = np.flatnonzero(near_any | held)
    geom_of[need] = np.arange(len(need))
    points = shapely.points(x[need], y[need])
    boundaries = shapely.boundary(polys)
    # prepared boundaries: GEOS' indexed facet distance, the same minimum over the
    # same segments (bit-identical, tests/test_locate_fast.py), ~25 % faster
    shapely.prepare(boundaries)
    held_pts = points[geom_of[held]]
    own = _distances(held_pts, boundaries[local_inside[held]])
    # Where QPV overlap (simplified layers), another QPV's edge may run inside this one,
    # nearer than its own boundary: look for edges within that distance.
    tree = shapely.STRtree(polys)
    src, qq = tree.query(held_pts, predicate="dwithin", distance=own)
    other = qq != local_inside[held][src]
    if other.any():
        src, qq = src[other], qq[other]
        dd = shapely.distance(held_pts[src], boundaries[qq])
        closer, _ = _min_by_point(src, qq, dd, len(own))
        own = np.fmin(own, closer)
    distance[held] = own
    local_near = local_inside.copy()
    out = np.flatnonzero(~held)
    if len(out):
        if max_distance is None:
            (src, qq), dd = tree.query_nearest(points[geom_of[out]], return_distance=True,
                                               all_matches=False)
        else:
            # One exact distance per candidate pair, to the boundary (no point-in-polygon
            # test: these points are outside every polygon).
            # a pair whose point is farther than max_distance from the QPV's box is
            # farther from the QPV: dropped before any GEOS distance (1 µm of margin
            # for the rounding of this bound: the test below on the exact distance decides)
            is_out = ~held[pairs_p]
            src_pt, qq = pairs_p[is_out], pairs_q[is_out]
            ox, oy = x[src_pt], y[src_pt]
            gap_x = np.maximum(np.maximum(x0[qq] - ox, ox - x1[qq]), 0.0)
            gap_y = np.maximum(np.maximum(y0[qq] - oy, oy - y1[qq]), 0.0)
            keep = np.hypot(gap_x, gap_y) <= max_distance + 1e-6
            src_pt, qq = src_pt[keep], qq[keep]
            dd = _distances(points[geom_of[src_pt]], boundaries[qq])
            close = dd <= max_distance
            pos_in_out = np.full(n, -1, dtype=np.int64)
            pos_in_out[out] = np.arange(len(out))
            src, qq, dd = pos_in_out[src_pt[close]], qq[close], dd[close]
        best, which = _min_by_point(src, qq, dd, len(out))
        distance[out] = best
        local_near[out] = which
    shapely.destroy_prepared(polys[~was_prepared])
    inside[held] = poly_idx[local_inside[held]]
    has_near = local_near >= 0
    nearest[has_near] = poly_idx[local_near[has_near]]
    return _Located(inside, n_inside, distance, nearest)


def _qpv_frames(qpv: object) -> dict[int, gpd.GeoDataFrame]:
    """{millésime: canonical QPV frame} from a frame, a path, or a mapping/list of them."""
    if isinstance(qpv, Mapping):
        items = list(qpv.values())
    elif isinstance(qpv, gpd.GeoDataFrame | str) or hasattr(qpv, "__fspath__"):
        items = [qpv]
    elif isinstance(qpv, Sequence):
        items = list(qpv)
    else:
        raise SchemaError(f"qpv: expected QPV contours (GeoDataFrame or path), got {type(qpv)}")
    out: dict[int, gpd.GeoDataFrame] = {}
    for item in items:
        frame = item if isinstance(item, gpd.GeoDataFrame) else read_qpv(item)
        schema.require_columns(frame, [schema.CODE_QPV, "geometry"], what="qpv")
        if frame.crs is None:
            raise SchemaError("qpv: the QPV contours have no CRS")
        codes = frame[schema.CODE_QPV].astype("string")
        mills = codes.map(schema.millesime_of_code).dropna().astype(int).unique()
        if len(mills) != 1:
            raise DataFormatError(
                "qpv: each QPV layer must hold one geography (QP… = 2015, QN… = 2024); "
                f"found {sorted(mills.tolist())}"
            )
        mill = int(mills[0])
        if mill in out:
            raise DataFormatError(f"qpv: two layers of the {mill} geography given")
        out[mill] = frame
    if not out:
        raise SchemaError("qpv: no QPV layer given")
    return dict(sorted(out.items()))


def _tolerances(tolerance: object, millesimes: Sequence[int]) -> dict[int, float]:
    if tolerance is None:
        return {m: DEFAULT_TOLERANCE[m] for m in millesimes}
    if isinstance(tolerance, Mapping):
        merged = {m: float(tolerance.get(m, DEFAULT_TOLERANCE[m])) for m in millesimes}
    else:
        merged = {m: float(tolerance) for m in millesimes}
    bad = {m: t for m, t in merged.items() if not np.isfinite(t) or t < 0}
    if bad:
        raise SchemaError(f"tolerance: must be a distance in metres >= 0, got {bad}")
    return merged


@functools.lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _qpv_zones(frame: gpd.GeoDataFrame) -> np.ndarray:
    rep = shapely.point_on_surface(np.asarray(frame.geometry.array, dtype=object))
    rep = gpd.GeoSeries(rep, crs=frame.crs).to_crs("EPSG:4326")
    empty = rep.is_empty.to_numpy()
    xy = shapely.get_coordinates(rep.to_numpy()[~empty])
    zones = np.full(len(frame), "", dtype=object)
    zones[~empty] = zone_of(xy[:, 0], xy[:, 1])
    return zones


def locate_qpv(
    points: pd.DataFrame | PathLike,
    qpv: object,
    *,
    tolerance: float | Mapping[int, float] | None = None,
    max_distance: float | None = DEFAULT_MAX_DISTANCE,
    x: str | None = None,
    y: str | None = None,
    crs: object | None = None,
) -> pd.DataFrame:
    """Say, for every point of a table, which QPV it lies in, how far from an edge, how sure.

    Parameters
    ----------
    points : pandas.DataFrame, geopandas.GeoDataFrame or path
        A GeoDataFrame of points (any CRS), a table with coordinate columns (BAN-geocoded
        CSV, SIRENE géolocalisé, ADEME DPE ``dpe03existant``, Éducation nationale — see
        :mod:`qpvgeo.readers.points`), or a path to such a file
        (:func:`~qpvgeo.readers.points.read_points`).
    qpv : geopandas.GeoDataFrame, path, or a mapping / list of them
        QPV contours (:func:`~qpvgeo.readers.read_qpv`); one layer per geography. Give
        ``{2015: qpv2015, 2024: qpv2024}`` (or a list) to answer in both.
    tolerance : float or mapping, optional
        Metres around a QPV edge where the in/out answer is flagged as uncertain; one
        number for every geography or ``{millésime: metres}``. Default
        :data:`DEFAULT_TOLERANCE` (2015: 5 m; 2024: 20 m, for the simplified layer).
    max_distance : float or None
        Radius (m) around the QPV within which the distance to the nearest edge of a
        point *outside* every QPV is measured (default 1000). Farther points get NA
        distance and NA nearest QPV: not measured. ``None``: measure it for every point.
    x, y, crs : optional
        Coordinate columns and their CRS, for a table whose layout is not recognised.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Every input row (same order and index) and column, unchanged, then
        ``statut_coordonnees`` (``ok``, ``absentes``, ``illisibles``, ``hors_france``)
        and, for each geography ``{g}``, the columns of :data:`COLUMNS_BY_GEOGRAPHY`:
        ``code_qpv_{g}``, ``nom_qpv_{g}``, ``en_qpv_{g}``, ``distance_bord_qpv_{g}``
        (m; NA beyond ``max_distance``), ``code_qpv_proche_{g}``, ``bord_qpv_{g}``.
        Rows without a usable point are
        kept, with NA in these columns (never False or 0: we do not know). A
        GeoDataFrame comes back as a GeoDataFrame with its geometry as given.
        ``attrs["tolerance"]`` holds the tolerances used.

    Raises
    ------
    SchemaError
        No coordinate columns, no QPV code column, or a negative tolerance.
    DataFormatError
        Two layers of one geography, or a layer mixing geographies.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> qpv = gpd.GeoDataFrame({"code_qpv": ["QN05972M"], "nom_qpv": ["Secteur Sud"]},
    ...                        geometry=[box(703000, 7057000, 705000, 7059000)], crs=2154)
    >>> pts = pd.DataFrame({"id": ["a", "b", "c"],
    ...                     "coordonnee_cartographique_x_ban": ["704000", "705010", ""],
    ...                     "coordonnee_cartographique_y_ban": ["7058000", "7058000", ""]})
    >>> out = locate_qpv(pts, qpv)
    >>> out[["id", "code_qpv_2024", "distance_bord_qpv_2024", "bord_qpv_2024"]]
      id code_qpv_2024  distance_bord_qpv_2024  bord_qpv_2024
    0  a      QN05972M                  1000.0          False
    1  b          <NA>                    10.0           True
    2  c          <NA>                     NaN           <NA>
    """
    if isinstance(points, pd.DataFrame):
        frame = points
        what = "points"
    else:
        from qpvgeo.readers.points import read_points

        frame = read_points(points)
        what = str(frame.attrs.get("source", points))
    layers = _qpv_frames(qpv)
    tol = _tolerances(tolerance, list(layers))
    if max_distance is not None and not (max_distance >= max(tol.values())):
        raise SchemaError(f"max_distance: must be a distance in metres at least the tolerance "
                          f"({max(tol.values())} m), got {max_distance!r}")
    pos, source = _positions(frame, x=x, y=y, crs=crs, what=what)
    _warn_unplaced(pos, what=what)

    out = frame.copy()
    added = [STATUT_COORDONNEES] + [c.format(g=m) for m in layers for c in COLUMNS_BY_GEOGRAPHY]
    clash = [c for c in added if c in out.columns]
    if clash:
        # A file that went through locate_qpv once: its answers are recomputed, not kept.
        warnings.warn(f"{what}: column(s) {clash} already present; replaced by this run",
                      QpvgeoWarning, stacklevel=2)
    out[STATUT_COORDONNEES] = pos[STATUT_COORDONNEES].to_numpy()
    ok = (pos[STATUT_COORDONNEES] == STATUT_OK).to_numpy(dtype=bool, na_value=False)
    # the zone of each point as a small integer (arrow compares, no Python strings)
    zone = np.full(len(pos), -1, dtype=np.int8)
    for k, zname in enumerate(ZONES):
        zone[(pos["zone"] == zname).to_numpy(dtype=bool, na_value=False)] = k
    lon, lat = pos["longitude"].to_numpy(), pos["latitude"].to_numpy()
    n = len(frame)
    for mill, layer in layers.items():
        # per QPV, as pandas strings: each answer column is one `take` (arrow), not a
        # million Python strings converted back to arrow
        codes = pd.array(layer[schema.CODE_QPV].astype("string"), dtype="string")
        names = (pd.array(layer[schema.NOM_QPV].astype("string"), dtype="string")
                 if schema.NOM_QPV in layer else pd.array([pd.NA] * len(layer), dtype="string"))
        qzones = _qpv_zones(layer)
        inside = np.full(n, -1, dtype=np.int64)
        n_inside = np.zeros(n, dtype=np.int64)
        distance = np.full(n, np.nan)
        nearest = np.full(n, -1, dtype=np.int64)
        for k, (zname, (_, zcrs)) in enumerate(ZONES.items()):  # a few territories
            rows = ok & (zone == k)
            qrows = np.flatnonzero(qzones == zname)
            if not rows.any() or not len(qrows):
                continue
            if source is not None and pyproj.CRS(zcrs).equals(pyproj.CRS(source[2])):
                # Already in the zone's CRS (a DPE file in Lambert-93): no round trip.
                zx = np.asarray(source[0][rows], dtype=float)
                zy = np.asarray(source[1][rows], dtype=float)
            else:
                zx, zy = _transformer("EPSG:4326", zcrs).transform(lon[rows], lat[rows])
                zx, zy = np.asarray(zx, dtype=float), np.asarray(zy, dtype=float)
            polys = np.asarray(layer.geometry.iloc[qrows].to_crs(zcrs).array, dtype=object)
            found = _locate(zx, zy, polys, max_distance=max_distance)
            remap = np.append(qrows, -1)  # index -1 stays -1
            inside[rows] = remap[found.inside]
            n_inside[rows] = found.n_inside
            distance[rows] = found.distance
            nearest[rows] = remap[found.nearest]
        placed = ok
        held = inside >= 0
        # index -1 (no QPV) takes NA
        code = codes.take(inside, allow_fill=True)
        name = names.take(inside, allow_fill=True)
        near = codes.take(nearest, allow_fill=True)
        en = pd.array(np.where(placed, held, False), dtype="boolean")
        en[~placed] = pd.NA
        edge = pd.array(np.where(placed, (distance <= tol[mill]) | (n_inside > 1), False),
                        dtype="boolean")
        edge[~placed] = pd.NA
        g = str(mill)
        out[f"code_qpv_{g}"] = code
        out[f"nom_qpv_{g}"] = name
        out[f"en_qpv_{g}"] = en
        # Decimetres: the contours themselves are good to a few metres at best.
        out[f"distance_bord_qpv_{g}"] = np.round(distance, 1)
        out[f"code_qpv_proche_{g}"] = near
        out[f"bord_qpv_{g}"] = edge
    out.attrs = {**frame.attrs, "tolerance": tol}
    return out


def write_located(frame: pd.DataFrame, path: PathLike, *, excel: bool = True) -> Path:
    """Write a :func:`locate_qpv` result atomically, in the format of ``path``'s suffix.

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        The table to write (every input column and row is written).
    path : str or os.PathLike
        ``.csv`` / ``.txt``: ``;`` separator, UTF-8 with BOM and decimal commas for
        French Excel (``excel=False``: ``,`` and points); a geometry column is written
        as WKT text. ``.gpkg``, ``.geojson``, ``.json``, ``.fgb``, ``.shp``: a vector
        file (needs a GeoDataFrame); ``.parquet``: GeoParquet or Parquet.
    excel : bool
        CSV dialect, see above.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DataFormatError
        A vector format asked for a table without geometry, or an unknown suffix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "points_qpv.csv"
    >>> t = pd.DataFrame({"uai": ["0590002G"], "distance_bord_qpv_2024": [12.5]})
    >>> _ = write_located(t, out)
    >>> out.read_text(encoding="utf-8-sig")
    'uai;distance_bord_qpv_2024\\n0590002G;12,5\\n'
    """
    from qpvgeo._atomic import atomic_path
    from qpvgeo.tables import write_csv

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in {".csv", ".txt"}:
        table = pd.DataFrame(frame)
        if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
            name = frame.geometry.name
            table[name] = shapely.to_wkt(np.asarray(frame.geometry.array, dtype=object))
            table = table.rename(columns={name: f"{name}_wkt"})
        return write_csv(table, target, excel=excel, index=False)
    drivers = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON",
               ".fgb": "FlatGeobuf", ".shp": "ESRI Shapefile"}
    if suffix not in drivers and suffix != ".parquet":
        raise DataFormatError(f"{target}: unknown output format {suffix!r} "
                              f"(use .csv, .parquet or one of {sorted(drivers)})")
    if suffix in drivers and not isinstance(frame, gpd.GeoDataFrame):
        raise DataFormatError(f"{target}: a {drivers[suffix]} file needs point geometries; "
                              "write the table as .csv or .parquet")
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            # The layer is named after the target, not after the temporary file.
            layer = {"layer": target.stem} if suffix in {".gpkg", ".fgb"} else {}
            frame.to_file(tmp, driver=drivers[suffix], engine="pyogrio", **layer)
    return target


def _warn_unplaced(positions: pd.DataFrame, *, what: str) -> None:
    """One warning with the count of rows without a usable point (they are kept)."""
    status = positions[STATUT_COORDONNEES]
    bad = status[status != STATUT_OK]
    if len(bad):
        counts = ", ".join(f"{k}: {v}" for k, v in bad.value_counts().sort_index().items())
        warnings.warn(
            f"{what}: {len(bad)} of {len(positions)} row(s) have no usable point ({counts}); "
            f"they are kept, with NA answers and their reason in {STATUT_COORDONNEES!r}",
            QpvgeoWarning, stacklevel=3,
        )


__all__ = [
    "COLUMNS_BY_GEOGRAPHY",
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_TOLERANCE",
    "locate_qpv",
    "write_located",
]
