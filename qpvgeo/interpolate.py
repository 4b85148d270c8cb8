"""Population (and any count) inside any polygon: areal and grid interpolation.

Two tools:

* :func:`areal_interpolate` moves variables from source polygons (communes, IRIS…) to
  target polygons (QPV, flood zones…) in proportion to the area they share.
* :func:`grid_population` estimates INSEE Filosofi 200 m grid variables inside zones.
  The grid is regular, so the cells a zone may touch follow from its bounds by index
  arithmetic in EPSG:3035 (a coarse bitmap, then binary searches in the sorted cell
  numbers), with no spatial index over millions of cells; the share of each cell inside
  each zone is then exact and computed for all pairs at once from the zone's edges
  (Green's theorem), without clipping one polygon per cell. On 2.3 million cells and
  1,362 QPV-like zones it takes about 0.1 s where tobler's ``area_interpolate`` takes
  2-4 s on the same squares (2 cores, shared machine; ``benchmarks/README.md``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, DuplicateCodeError, QpvgeoWarning, SchemaError

__all__ = [
    "DENSITY_RATIO",
    "areal_interpolate",
    "calibrate_density_ratio",
    "grid_population",
]


# -- helpers --------------------------------------------------------------------------


def _valid_polygons(geoms: np.ndarray, *, what: str, bad: np.ndarray | None = None
                    ) -> np.ndarray:
    """Repair invalid polygons (warning with the count) and keep their areal part.

    ``bad``: the invalid ones when already known (:class:`_Validity`).
    """
    geoms = np.asarray(geoms, dtype=object)
    if bad is None:
        bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if bad.any():
        warnings.warn(
            f"{what}: {int(bad.sum())} invalid geometr{'y' if bad.sum() == 1 else 'ies'} "
            "repaired with make_valid",
            QpvgeoWarning,
            stacklevel=3,
        )
        geoms = geoms.copy()
        # "structure" keeps polygons only: a collapsed ring becomes nothing, not a line
        # that would make prepared predicates fail on a GeometryCollection.
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return geoms


def _invalid(geoms: np.ndarray) -> np.ndarray:
    """Invalid, non-missing geometries, safe to compute in a thread.

    ``shapely.is_valid`` wraps GEOS in ``warnings.catch_warnings()``, which swaps the
    process-wide warning filters: called from a thread, it silences (or un-records) every
    warning the main thread emits meanwhile, e.g. the "invalid geometries repaired" one.
    ``is_valid_reason`` asks GEOS the same question without touching the filters.
    """
    reason = shapely.is_valid_reason(geoms)
    return (reason != "Valid Geometry") & ~shapely.is_missing(geoms)


class _Validity:
    """``is_valid`` of many polygons, checked in a thread while the caller works on.

    GEOS releases the GIL, so on two cores the check (~30 ms for 1,362 QPV of 120
    vertices) runs beside the grid's indexing; :meth:`result` then checks the chunks
    no thread has taken yet and waits for the others. The answer does not depend on
    the threads (each polygon's validity is its own).
    """

    def __init__(self, geoms: np.ndarray, *, chunk: int = 128):
        import os
        import threading

        self.geoms = geoms
        self.bad = np.zeros(len(geoms), bool)
        self._next = iter(range(0, len(geoms), chunk))
        self._chunk = chunk
        self._lock = threading.Lock()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        self._thread = None
        if cores > 1 and len(geoms) > chunk:
            self._thread = threading.Thread(target=self._work, daemon=True)
            self._thread.start()

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    start = next(self._next, None)
                if start is None:
                    return
                g = self.geoms[start:start + self._chunk]
                self.bad[start:start + self._chunk] = _invalid(g)
        except BaseException as exc:  # raised again by result(): never a chunk left unchecked
            self._error = exc

    _error: BaseException | None = None

    def result(self) -> np.ndarray:
        self._work()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.bad


def _require_numeric(frame: pd.DataFrame, columns: Sequence[str], *, what: str) -> None:
    schema.require_columns(frame, columns, what=what)
    for col in columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise SchemaError(f"{what}: column {col!r} is not numeric ({frame[col].dtype})")


def _rows_values(frame: pd.DataFrame, columns: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """float64 values of ``columns`` at the given rows only (a national grid has 2.3 M)."""
    out = np.empty((len(rows), len(columns)), dtype="float64")
    for j, col in enumerate(columns):
        values = frame[col]
        if isinstance(values.dtype, np.dtype):  # a numpy column: viewed, then gathered
            out[:, j] = values.to_numpy()[rows]
        else:  # nullable / arrow: NA becomes NaN
            out[:, j] = values.iloc[rows].to_numpy(dtype="float64", na_value=np.nan)
    return out


def _numeric_columns(frame: pd.DataFrame, columns: Sequence[str], *, what: str) -> np.ndarray:
    schema.require_columns(frame, columns, what=what)
    out = np.empty((len(frame), len(columns)), dtype="float64")
    for j, col in enumerate(columns):
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            raise SchemaError(f"{what}: column {col!r} is not numeric ({values.dtype})")
        out[:, j] = values.to_numpy(dtype="float64", na_value=np.nan)
    return out


def _threads(func, *arrays: np.ndarray, min_chunk: int = 256) -> np.ndarray:
    """``func(*arrays)`` on chunks in threads: shapely releases the GIL in GEOS calls."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    n = len(arrays[0])
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else (os.cpu_count() or 1), max(n // min_chunk, 1))
    if workers <= 1:
        return func(*arrays)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(lambda k: func(*(a[bounds[k]:bounds[k + 1]] for a in arrays)),
                         range(workers))
        return np.concatenate(list(parts))


def _shared_areas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``area(a[i] ∩ b[i])`` for every pair, the overlay only where it is needed.

    A QPV inside its commune shares its own area (a quarter of the pairs at national
    scale), a commune inside its QPV its own; pairs that do not meet share 0. The
    containment tests use prepared geometries (built here, dropped after); the other
    pairs go through GEOS's overlay, in threads. Each area is computed on its own pair,
    so the threads cannot change a result.
    """
    out = np.zeros(len(a))
    if not len(a):
        return out
    with _prepared(a), _prepared(b):
        meet = shapely.intersects(b, a)
        b_in_a = meet & shapely.covers(a, b)
        a_in_b = meet & ~b_in_a & shapely.covers(b, a)
    out[b_in_a] = shapely.area(b[b_in_a])
    out[a_in_b] = shapely.area(a[a_in_b])
    rest = meet & ~(b_in_a | a_in_b)
    out[rest] = _threads(lambda x, y: shapely.area(shapely.intersection(x, y)), a[rest], b[rest])
    return out


class _prepared:
    """Prepare geometries for a block of predicates, then drop what was not there before.

    Preparing attaches GEOS's index to the geometry objects, which may be the caller's:
    they are left as they came.
    """

    def __init__(self, geoms: np.ndarray):
        self.geoms = geoms[~shapely.is_missing(geoms)]  # repeats are prepared once

    def __enter__(self):
        self.new = self.geoms[~shapely.is_prepared(self.geoms)]
        shapely.prepare(self.new)
        return self

    def __exit__(self, *exc):
        shapely.destroy_prepared(self.new)


# -- areal interpolation ----------------------------------------------------------------


def areal_interpolate(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    extensive: Sequence[str] = (),
    intensive: Sequence[str] = (),
) -> pd.DataFrame:
    """Move source variables onto target polygons in proportion to shared area.

    Extensive variables (counts: population, households) are split by the share of the
    *source* area that falls in each target: ``v_s * area(s ∩ t) / area(s)``, summed over
    the sources. This is tobler's ``area_interpolate(..., allocate_total=False)``. It is
    the right reading of "population inside the QPV": a commune of 100,000 inhabitants
    whose tenth lies in a QPV gives it 10,000. tobler's default, ``allocate_total=True``,
    divides by the part of the source covered by *targets* instead, so a commune touched
    by a single QPV would hand that QPV its whole population. With the qpvgeo semantics,
    totals are conserved exactly when the targets cover the sources (a partition), and
    the part of a source outside every target is simply not counted.

    Intensive variables (rates, means) get the area-weighted mean of the sources over
    the part of the target they cover: ``sum_s v_s * area(s ∩ t) / sum_s area(s ∩ t)``
    (tobler's intensive estimate).

    Both layers are brought to EPSG:2154 and areas measured there; invalid polygons
    are repaired (warning). A NaN source value makes the targets it touches NaN.

    Parameters
    ----------
    source, target : GeoDataFrame
        Polygons with a CRS.
    extensive, intensive : sequence of str
        Numeric columns of ``source``.

    Returns
    -------
    DataFrame
        Indexed like ``target``, one column per variable (extensive first). Targets that
        touch no source get 0 for extensive variables and NaN for intensive ones.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> communes = gpd.GeoDataFrame({"population": [1000.0, 500.0]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=2154)
    >>> qpv = gpd.GeoDataFrame(geometry=[box(50, 0, 150, 100)], crs=2154)
    >>> areal_interpolate(communes, qpv, extensive=["population"])["population"].tolist()
    [750.0]
    """
    extensive, intensive = list(extensive), list(intensive)
    if not extensive and not intensive:
        raise ValueError("areal_interpolate: name at least one extensive or intensive column")
    source = schema.to_canonical_crs(source, what="source")
    target = schema.to_canonical_crs(target, what="target")
    values = _numeric_columns(source, extensive + intensive, what="source")
    tgt = np.asarray(target.geometry.values, dtype=object)
    validity = _Validity(tgt)  # in a thread, beside the sources' tree
    src = np.asarray(source.geometry.values, dtype=object)
    # Only the sources whose box meets a target are checked and repaired (a national
    # commune layer has 35,000 polygons, a few thousand near the QPV): a repaired
    # polygon stays within its box, so the pairs of boxes found with the original ones
    # hold every pair that can share an area.
    tree = shapely.STRtree(src)
    t_idx, s_idx = tree.query(tgt)
    near = np.unique(s_idx)
    if len(near):
        src = src.copy()
        src[near] = _valid_polygons(src[near], what="source")
    tgt = _valid_polygons(tgt, what="target", bad=validity.result())
    # each target's sum in a fixed order (by source), whatever the tree's layout
    order = np.lexsort((s_idx, t_idx))
    t_idx, s_idx = t_idx[order], s_idx[order]
    shared = _shared_areas(src[s_idx], tgt[t_idx])
    n = len(target)
    out = {}
    if extensive:
        src_area = np.zeros(len(src))
        src_area[s_idx] = shapely.area(src[s_idx])
        # A source of zero area cannot share anything (tobler: denominator forced to 1).
        w = shared / np.where(src_area[s_idx] > 0, src_area[s_idx], 1.0)
        for j, col in enumerate(extensive):
            out[col] = np.bincount(t_idx, weights=w * values[s_idx, j], minlength=n)
    if intensive:
        covered = np.bincount(t_idx, weights=shared, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            for j, col in enumerate(intensive, start=len(extensive)):
                num = np.bincount(t_idx, weights=shared * values[s_idx, j], minlength=n)
                out[col] = np.where(covered > 0, num / covered, np.nan)
    return pd.DataFrame(out, index=target.index)


# -- grid population ----------------------------------------------------------------------

#: Density of the QPV part of a grid cell relative to the rest of the cell, used by
#: ``grid_population(..., method="calibrated")``. Fitted with
#: :func:`calibrate_density_ratio` on the 71 QPV (2015 official contours,
#: ``QP_METROPOLE_LB93.shp``) fully covered by the Filosofi 2019 200 m sample
#: (``filosofi_200m_2019_communes_sample``; coverage rule of its SOURCE.md) against
#: INSEE's ``POP_MUN`` of ``DEMO_2022.csv``: the ratio at which the 71 estimates add up
#: to the official total (fit: 4.153). Never fitted on Bordeaux, the validation set.
#: ``tests/test_interpolate.py::test_density_ratio_is_rederived`` re-derives it.
DENSITY_RATIO = 4.15


@dataclass(frozen=True)
class _GridIndex:
    """The populated cells of a regular grid, sorted by row-major cell number."""

    res: float
    ix0: int
    iy0: int
    width: int
    height: int
    keys: np.ndarray  # sorted cell numbers
    order: np.ndarray  # grid row of each sorted key
    x: np.ndarray  # lower-left corner, EPSG:3035, per grid row
    y: np.ndarray


def _grid_id_column(grid: pd.DataFrame) -> str | None:
    """The identifier column of a grid: ``idcar_200m``, else ``idcar_1km`` (1 km grids)."""
    return next((c for c in (schema.IDCAR_200M, "idcar_1km") if c in grid.columns), None)


def _grid_corners(grid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    """Lower-left corners of every cell (views of the frame's columns when numeric)."""
    idcol = _grid_id_column(grid)
    if {"x_laea", "y_laea"} <= set(grid.columns):
        res = grid.attrs.get("cell_size")
        if res is None and idcol is not None and len(grid):
            from qpvgeo.readers.grid import parse_cell_ids

            res = float(parse_cell_ids(grid[idcol].iloc[:1])["res"].iloc[0])
        x, y = (grid[c].to_numpy() if isinstance(grid[c].dtype, np.dtype)
                and grid[c].dtype.kind in "iuf" else grid[c].to_numpy(dtype="float64")
                for c in ("x_laea", "y_laea"))
        return x, y, float(res or 200.0)
    if idcol is not None:
        # a grid read with geopandas: the corners come from the identifiers (read in
        # place, 8 bytes at a time, when they are arrow strings: ~40 ms for 2.3 million)
        from qpvgeo.readers.grid import _cell_corners

        res, x, y = _cell_corners(grid[idcol], what=f"grid: {idcol}")
        if len(res) and not (res == res[0]).all():
            raise DataFormatError(
                f"grid: squares of several sizes {sorted(np.unique(res))} in one grid")
        return x, y, float(res[0]) if len(res) else 200.0
    raise SchemaError(
        "grid: need the cell corners (x_laea, y_laea) or INSEE identifiers (idcar_200m, "
        f"idcar_1km); columns present: {list(grid.columns)}. Read the grid with "
        "read_filosofi_grid, or use areal_interpolate for irregular polygons"
    )


def _lattice(v: np.ndarray, res: float) -> np.ndarray:
    """Cell column (row) of corners that sit on multiples of ``res``."""
    return np.floor(v / res + 0.5).astype(np.int64)


def _index_grid(grid: pd.DataFrame, bounds: np.ndarray | None = None) -> _GridIndex:
    """Sort the populated cells by row-major cell number, for binary searches.

    With ``bounds`` (the zones' bounding boxes in EPSG:3035), only the cells in blocks
    of 16 x 16 cells touched by a box are sorted: a national grid of 2.3 million cells
    is cut down to the ~5 % near the QPV by one pass over a coarse bitmap, in slices
    that stay in the CPU cache.
    """
    x, y, res = _grid_corners(grid)
    if len(x) == 0:
        return _GridIndex(res, 0, 0, 0, 0, np.empty(0, np.int64), np.empty(0, np.int64), x, y)
    ix0, iy0 = int(_lattice(x.min(), res)), int(_lattice(y.min(), res))
    width = int(_lattice(x.max(), res)) - ix0 + 1
    height = int(_lattice(y.max(), res)) - iy0 + 1
    selected = None
    if bounds is not None and len(bounds):
        shift = 4  # blocks of 16 x 16 cells
        nbx, nby = (width >> shift) + 1, (height >> shift) + 1
        b = bounds[np.isfinite(bounds).all(axis=1)]
        # only the boxes that overlap the grid (clipping a far box would mark an edge)
        b = b[(b[:, 2] >= ix0 * res) & (b[:, 0] <= (ix0 + width) * res)
              & (b[:, 3] >= iy0 * res) & (b[:, 1] <= (iy0 + height) * res)]
        bx0 = np.clip(np.floor(b[:, 0] / res).astype(np.int64) - ix0, 0, width - 1) >> shift
        bx1 = np.clip(np.floor(b[:, 2] / res).astype(np.int64) - ix0, 0, width - 1) >> shift
        by0 = np.clip(np.floor(b[:, 1] / res).astype(np.int64) - iy0, 0, height - 1) >> shift
        by1 = np.clip(np.floor(b[:, 3] / res).astype(np.int64) - iy0, 0, height - 1) >> shift
        # 2-D difference array: +1 / -1 at the corners of each box, then cumulative sums
        diff = np.zeros((nby + 1, nbx + 1), np.int64)
        np.add.at(diff, (by0, bx0), 1)
        np.add.at(diff, (by0, bx1 + 1), -1)
        np.add.at(diff, (by1 + 1, bx0), -1)
        np.add.at(diff, (by1 + 1, bx1 + 1), 1)
        touched = (diff.cumsum(axis=0).cumsum(axis=1)[:nby, :nbx] > 0).ravel()
        parts, pix, piy = [], [], []
        step = 1 << 16
        r = int(res)
        exact = x.dtype.kind == "i" and y.dtype.kind == "i" and r == res and r % 2 == 0
        for a in range(0, len(x), step):
            if exact:  # integer corners: floor(x / r + 1/2) - ix0 = (x - ix0 r + r/2) // r
                ix = x[a:a + step] - (ix0 * r - r // 2)
                ix //= r
                iy = y[a:a + step] - (iy0 * r - r // 2)
                iy //= r
            else:
                ix = _lattice(x[a:a + step], res)
                ix -= ix0
                iy = _lattice(y[a:a + step], res)
                iy -= iy0
            blk = iy >> shift
            blk *= nbx
            blk += ix >> shift
            sel = np.flatnonzero(touched[blk])
            parts.append(sel + a)
            pix.append(ix[sel])
            piy.append(iy[sel])
        selected = np.concatenate(parts)
        ix = np.concatenate(pix).astype(np.int64, copy=False)
        iy = np.concatenate(piy).astype(np.int64, copy=False)
    else:
        ix, iy = _lattice(x, res) - ix0, _lattice(y, res) - iy0
    keys = iy * width + ix
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if selected is not None:
        order = selected[order]
    dup = keys[1:] == keys[:-1]
    if dup.any():
        rows = order[1:][dup][:3]
        idcol = _grid_id_column(grid)
        ids = grid[idcol].iloc[rows].tolist() if idcol else rows
        raise DuplicateCodeError(f"grid: {int(dup.sum())} cell(s) appear twice, e.g. {ids}")
    return _GridIndex(res, ix0, iy0, width, height, keys, order, x, y)


def _candidate_pairs(gi: _GridIndex, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(zone, grid row) of every populated cell inside each zone's bounding box.

    Per zone and per grid row of its bounding box, the populated cells form one
    contiguous run of the sorted cell numbers: two binary searches find it.
    """
    n = len(bounds)
    if gi.width == 0 or n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ok = np.isfinite(bounds).all(axis=1)
    b = np.where(ok[:, None], bounds, 0.0)
    cx0 = np.clip(np.floor(b[:, 0] / gi.res).astype(np.int64) - gi.ix0, 0, None)
    cx1 = np.clip(np.floor(b[:, 2] / gi.res).astype(np.int64) - gi.ix0, None, gi.width - 1)
    cy0 = np.clip(np.floor(b[:, 1] / gi.res).astype(np.int64) - gi.iy0, 0, None)
    cy1 = np.clip(np.floor(b[:, 3] / gi.res).astype(np.int64) - gi.iy0, None, gi.height - 1)
    nrows = np.where(ok & (cx0 <= cx1) & (cy0 <= cy1), cy1 - cy0 + 1, 0)
    zone = np.repeat(np.arange(n), nrows)
    start = np.cumsum(nrows) - nrows
    row = cy0[zone] + (np.arange(len(zone)) - np.repeat(start, nrows))
    lo = np.searchsorted(gi.keys, row * gi.width + cx0[zone], side="left")
    hi = np.searchsorted(gi.keys, row * gi.width + cx1[zone], side="right")
    counts = hi - lo
    pair_zone = np.repeat(zone, counts)
    start = np.cumsum(counts) - counts
    pos = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(start, counts))
    return pair_zone, gi.order[pos]


def _ring_edges(zones_laea: np.ndarray) -> tuple[np.ndarray, ...]:
    """Edges of every ring, exteriors counter-clockwise and holes clockwise."""
    simple = ((shapely.get_type_id(zones_laea) == 3).all()
              and not shapely.get_num_interior_rings(zones_laea).any())
    if simple:
        # polygons without holes (most zones): one ring each, read at once; a clockwise
        # ring has its edges turned round, as orient_polygons would reverse it
        coords, zone = shapely.get_coordinates(zones_laea, return_index=True)
        a = np.flatnonzero(zone[1:] == zone[:-1])  # an edge from each vertex but the last
        zone = zone[a]
        x, y = coords[:, 0].copy(), coords[:, 1].copy()
        xa, ya, xb, yb = x[a], y[a], x[a + 1], y[a + 1]
        cross = np.bincount(zone, weights=xa * yb - xb * ya, minlength=len(zones_laea))
        cw = (cross < 0)[zone]
        return zone, np.where(cw, xb, xa), np.where(cw, yb, ya), np.where(cw, xa, xb), \
            np.where(cw, ya, yb)
    geoms = shapely.orient_polygons(zones_laea, exterior_cw=False)
    parts, part_zone = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    a = np.flatnonzero(ring[1:] == ring[:-1])
    zone = part_zone[ring_part[ring[a]]]
    x, y = coords[:, 0].copy(), coords[:, 1].copy()
    return zone, x[a], y[a], x[a + 1], y[a + 1]


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of the given lengths: the run of each element and its rank in the run."""
    run = np.repeat(np.arange(len(counts)), counts)
    start = np.cumsum(counts) - counts
    return run, np.arange(len(run)) - start[run]


def _zone_boxes(gi: _GridIndex, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
    """Columns and rows of the grid (clipped to it) covered by each zone's box."""
    ok = np.isfinite(bounds).all(axis=1)
    b = np.where(ok[:, None], bounds, 0.0)
    cx0 = np.clip(np.floor(b[:, 0] / gi.res).astype(np.int64) - gi.ix0, 0, None)
    cx1 = np.clip(np.floor(b[:, 2] / gi.res).astype(np.int64) - gi.ix0, None, gi.width - 1)
    cy0 = np.clip(np.floor(b[:, 1] / gi.res).astype(np.int64) - gi.iy0, 0, None)
    cy1 = np.clip(np.floor(b[:, 3] / gi.res).astype(np.int64) - gi.iy0, None, gi.height - 1)
    ok &= (cx0 <= cx1) & (cy0 <= cy1)
    return ok, cx0, cx1, cy0, cy1


def _piece_rows(p: np.ndarray, q: np.ndarray, r0: np.ndarray, n_rows: np.ndarray,
                psign: np.ndarray, dx: np.ndarray, *, iy0: int, res: float):
    """Each (piece, grid row) a piece of edge passes through, with its exact integral.

    A piece spans ``y`` from ``p`` to ``q`` over ``n_rows`` rows from ``r0``; ``g`` is the
    height above the row's floor, clipped to the row. Returns the piece index, the row and
    ``-sign * dx * mean(g)`` (the dense and sparse cell tables share it).
    """
    piece, rank = _expand(n_rows)
    prow = r0[piece] + rank
    y0 = (iy0 + prow) * res
    u_p, u_q = p[piece] - y0, q[piece] - y0
    g_p, g_q = np.clip(u_p, 0, res), np.clip(u_q, 0, res)
    span = u_q - u_p
    with np.errstate(invalid="ignore", divide="ignore"):
        # mean of g over [u_p, u_q] (u uniform along the piece): the part inside the
        # row has mean (g_p + g_q) / 2, the part above it has g = r
        w_mid = (g_q - g_p) / span
        w_above = (np.maximum(u_q, res) - np.maximum(u_p, res)) / span
        mean = np.where(span > 0, w_mid * (g_p + g_q) / 2 + w_above * res, g_p)
    return piece, prow, -psign[piece] * dx[piece] * mean


def _cell_fractions(
    gi: _GridIndex, zones_laea: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share of each cell's area inside each zone, for every (zone, cell) that overlaps.

    Returns ``(zone, cell, fraction)`` with ``fraction`` in ``(0, 1]``.

    The areas are exact (to float round-off) and computed for all pairs at once, with
    no polygon clipping: by Green's theorem the area of a zone inside the square
    ``[x0, x0 + r] x [y0, y0 + r]`` is ``-∮ g(y) dx`` along the zone's boundary, with
    ``x`` restricted to ``[x0, x0 + r]`` and ``g(y) = clamp(y - y0, 0, r)``. Each edge
    is cut at the grid's column lines; a piece contributes exactly (``g`` is piecewise
    linear along it) to the cells of its column it passes through, and ``-r dx`` to
    every cell of the column below it, summed by a cumulative sum per column.

    The sums are kept in one dense table per zone box (columns x rows of the cells the
    box covers, plus a row above for a zone cut by the grid's top), so that pieces and
    cells meet by index arithmetic, with no sort or binary search; a cell wholly inside
    a zone is crossed by no edge and gets its share (1) from the cumulative sum alone.
    Zones whose boxes hold many more cells than the grid has near them go through
    :func:`_cell_fractions_sparse` (sorted keys), which gives the same sums.
    """
    bounds = shapely.bounds(zones_laea)
    zone, cell = _candidate_pairs(gi, bounds)
    if len(zone) == 0:
        return zone, cell, np.empty(0)
    ok, cx0, cx1, cy0, cy1 = _zone_boxes(gi, bounds)
    ncol = np.where(ok, cx1 - cx0 + 1, 0)
    nrow = np.where(ok, cy1 - cy0 + 1, 0)
    size = ncol * (nrow + 1)
    if size.sum() > 8 * len(zone) + (1 << 20):  # a table mostly empty: sorted keys
        return _cell_fractions_sparse(gi, zones_laea)
    start = np.cumsum(size) - size  # each zone's table, column-major, rows 0..nrow
    res = gi.res

    ez, xa, ya, xb, yb = _ring_edges(zones_laea)
    keep = (xa != xb) & ok[ez]  # vertical edges have dx = 0
    ez, xa, ya, xb, yb = ez[keep], xa[keep], ya[keep], xb[keep], yb[keep]
    sign = np.sign(xb - xa)
    x_lo, x_hi = np.minimum(xa, xb), np.maximum(xa, xb)
    c0 = np.maximum(np.floor(x_lo / res).astype(np.int64) - gi.ix0, cx0[ez])
    c1 = np.minimum(np.floor(x_hi / res).astype(np.int64) - gi.ix0, cx1[ez])
    # pieces: each edge cut at the column lines
    edge, rank = _expand(np.maximum(c1 - c0 + 1, 0))
    pc = c0[edge] + rank
    col_x0 = (gi.ix0 + pc) * res
    lo = np.maximum(x_lo[edge], col_x0)
    hi = np.minimum(x_hi[edge], col_x0 + res)
    ok_piece = hi > lo
    edge, pc, col_x0, lo, hi = edge[ok_piece], pc[ok_piece], col_x0[ok_piece], lo[ok_piece], \
        hi[ok_piece]
    slope = (yb - ya)[edge] / (xb - xa)[edge]
    y_lo = ya[edge] + slope * (lo - xa[edge])
    y_hi = ya[edge] + slope * (hi - xa[edge])
    p, q = np.minimum(y_lo, y_hi), np.maximum(y_lo, y_hi)
    dx = hi - lo
    psign = sign[edge]
    z = ez[edge]
    z_rows = nrow[z]
    col_start = start[z] + (pc - cx0[z]) * (z_rows + 1)  # the piece's column in its table

    # below a piece: every cell of the column gets -sign * r * dx; summed from the top
    # of each column down (each column's pieces add up to 0, a closed ring crossing the
    # column both ways, so the running sum stays small and keeps full precision)
    r0 = np.floor(p / res).astype(np.int64) - gi.iy0
    below = np.bincount(col_start + np.clip(r0 - cy0[z], 0, z_rows), weights=-psign * res * dx,
                        minlength=int(size.sum()))
    suffix = np.cumsum(below[::-1])[::-1]  # suffix[s]: the sum over the slots from s up

    # the cells a piece passes through: exact integral of g along the piece
    r1 = np.floor(q / res).astype(np.int64) - gi.iy0
    r0c, r1c = np.maximum(r0, cy0[z]), np.minimum(r1, cy1[z])
    piece, prow, value = _piece_rows(p, q, r0c, np.maximum(r1c - r0c + 1, 0), psign, dx,
                                     iy0=gi.iy0, res=res)
    exact = np.bincount(col_start[piece] + (prow - cy0[z][piece]), weights=value,
                        minlength=int(size.sum()))

    col = np.floor(gi.x[cell] / res + 0.5).astype(np.int64) - gi.ix0
    row = np.floor(gi.y[cell] / res + 0.5).astype(np.int64) - gi.iy0
    rows = nrow[zone] + 1
    slot = start[zone] + (col - cx0[zone]) * rows + (row - cy0[zone])
    top = start[zone] + (col - cx0[zone]) * rows + rows  # one past the column's last slot
    # the pieces strictly above the cell's row: suffix from the next slot to the top
    area = suffix[slot + 1] - np.where(top < len(suffix), suffix[np.minimum(top, len(suffix) - 1)],
                                       0.0)
    area += exact[slot]
    frac = area / res**2
    # round-off: a cell wholly inside comes out 1 +- 1e-15, one outside 0 +- 1e-15
    frac = np.where(np.abs(frac - 1.0) < 1e-12, 1.0, np.minimum(frac, 1.0))
    inside = frac > 1e-12
    return zone[inside], cell[inside], frac[inside]


def _cell_fractions_sparse(
    gi: _GridIndex, zones_laea: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_cell_fractions` with sorted keys instead of a dense table per zone box.

    For zones whose boxes hold far more cells than the grid has near them (a zone the
    size of a region over a sparse grid); the same sums.

    Returns ``(zone, cell, fraction)`` with ``fraction`` in ``(0, 1]``.

    The areas are exact (to float round-off) and computed for all pairs at once, with
    no polygon clipping: by Green's theorem the area of a zone inside the square
    ``[x0, x0 + r] x [y0, y0 + r]`` is ``-∮ g(y) dx`` along the zone's boundary, with
    ``x`` restricted to ``[x0, x0 + r]`` and ``g(y) = clamp(y - y0, 0, r)``. Each edge
    is cut at the grid's column lines; a piece contributes exactly (``g`` is piecewise
    linear along it) to the cells of its column it passes through, and ``-r dx`` to
    every cell of the column below it, summed by a cumulative sum per column.
    """
    zone, cell = _candidate_pairs(gi, shapely.bounds(zones_laea))
    if len(zone) == 0:
        return zone, cell, np.empty(0)
    res, width, height = gi.res, gi.width, gi.height
    col = np.floor(gi.x[cell] / res + 0.5).astype(np.int64) - gi.ix0
    row = np.floor(gi.y[cell] / res + 0.5).astype(np.int64) - gi.iy0
    # key of (zone, column, row); rows run to `height` to hold pieces above the grid
    pair_key = (zone * width + col) * (height + 1) + row
    order = np.argsort(pair_key, kind="stable")
    sorted_keys = pair_key[order]

    ez, xa, ya, xb, yb = _ring_edges(zones_laea)
    ez_set = np.zeros(len(zones_laea), bool)
    ez_set[zone] = True
    keep = (xa != xb) & ez_set[ez]  # vertical edges have dx = 0
    ez, xa, ya, xb, yb = ez[keep], xa[keep], ya[keep], xb[keep], yb[keep]
    sign = np.sign(xb - xa)
    x_lo, x_hi = np.minimum(xa, xb), np.maximum(xa, xb)
    c0 = np.clip(np.floor(x_lo / res).astype(np.int64) - gi.ix0, 0, None)
    c1 = np.clip(np.floor(x_hi / res).astype(np.int64) - gi.ix0, None, width - 1)
    # pieces: each edge cut at the column lines
    edge, rank = _expand(np.maximum(c1 - c0 + 1, 0))
    pc = c0[edge] + rank
    col_x0 = (gi.ix0 + pc) * res
    lo = np.maximum(x_lo[edge], col_x0)
    hi = np.minimum(x_hi[edge], col_x0 + res)
    ok = hi > lo
    edge, pc, col_x0, lo, hi = edge[ok], pc[ok], col_x0[ok], lo[ok], hi[ok]
    slope = (yb - ya)[edge] / (xb - xa)[edge]
    y_lo = ya[edge] + slope * (lo - xa[edge])
    y_hi = ya[edge] + slope * (hi - xa[edge])
    p, q = np.minimum(y_lo, y_hi), np.maximum(y_lo, y_hi)
    dx = hi - lo
    psign = sign[edge]
    base = ez[edge] * width + pc

    # below a piece: every cell of the column gets -sign * r * dx
    r0 = np.floor(p / res).astype(np.int64) - gi.iy0
    full_key = base * (height + 1) + np.clip(r0, 0, height)
    full_order = np.argsort(full_key, kind="stable")
    full_key = full_key[full_order]
    full_cum = np.concatenate([[0.0], np.cumsum((-psign * res * dx)[full_order])])
    # (each column's pieces add up to 0, a closed ring crossing the column both ways, so
    # the running sum stays small and differences keep full precision)
    zc = sorted_keys // (height + 1)
    i = np.searchsorted(full_key, sorted_keys, side="right")
    j = np.searchsorted(full_key, zc * (height + 1) + height, side="right")
    area_sorted = full_cum[j] - full_cum[i]

    # the cells a piece passes through: exact integral of g along the piece
    r1 = np.floor(q / res).astype(np.int64) - gi.iy0
    r0c, r1c = np.clip(r0, 0, height - 1), np.clip(r1, 0, height - 1)
    n_rows = np.where((r1 >= 0) & (r0 <= height - 1), r1c - r0c + 1, 0)
    piece, prow, value = _piece_rows(p, q, r0c, n_rows, psign, dx, iy0=gi.iy0, res=res)
    exact_key = base[piece] * (height + 1) + prow
    pos = np.searchsorted(sorted_keys, exact_key)
    hit = pos < len(sorted_keys)
    hit[hit] = sorted_keys[pos[hit]] == exact_key[hit]
    area_sorted += np.bincount(pos[hit], weights=value[hit], minlength=len(sorted_keys))

    frac = np.empty(len(zone))
    frac[order] = area_sorted / res**2
    # round-off: a cell wholly inside comes out 1 +- 1e-15, one outside 0 +- 1e-15
    frac = np.where(np.abs(frac - 1.0) < 1e-12, 1.0, np.minimum(frac, 1.0))
    inside = frac > 1e-12
    return zone[inside], cell[inside], frac[inside]


def _zones_laea(zones: gpd.GeoDataFrame, *, what: str = "zones") -> np.ndarray:
    """The zones in EPSG:3035, invalid polygons repaired (warning)."""
    laea, validity = _zones_laea_pending(zones, what=what)
    return _valid_polygons(laea, what=what, bad=validity.result())


def _zones_laea_pending(zones: gpd.GeoDataFrame, *, what: str = "zones"):
    """The zones moved to EPSG:3035, and their validity being checked in a thread.

    Areas are shared in EPSG:3035, where the squares are exact and areas true (LAEA is
    equal-area): a cell's share inside a zone does not depend on the projection. The
    validity is checked in the zones' own CRS (as before the move), from the start, so
    that the thread also runs beside the move; the invalid ones are repaired after it.
    """
    if not isinstance(zones, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(f"{what} must be a GeoDataFrame, not {type(zones).__name__}")
    if zones.crs is None:
        from qpvgeo.errors import MissingCRSError

        raise MissingCRSError(f"{what}: the layer has no CRS; set it with .set_crs()")
    geoms = np.asarray(zones.geometry.values, dtype=object)
    validity = _Validity(geoms)
    move = _to_laea(zones.crs.to_wkt())
    if move is not None:
        geoms = shapely.transform(geoms, move)
    return geoms, validity


@functools.lru_cache(maxsize=16)
def _to_laea(crs_wkt: str):
    """A function moving ``(n, 2)`` coordinates to EPSG:3035; None when already there.

    One per CRS for the whole run (building a transformer from the PROJ database costs
    more than moving 160,000 vertices; exposure profiles call this dozens of times).
    From Lambert-93, the formulas of PROJ's own pipeline in numpy (:func:`_l93_to_laea`,
    5x faster, within 1e-7 m of PROJ), used only when PROJ's pipeline is exactly the
    one they implement.
    """
    from pyproj import CRS, Transformer

    crs = CRS.from_wkt(crs_wkt)
    if crs.equals(CRS.from_user_input(schema.GRID_CRS)):
        return None
    tr = Transformer.from_crs(crs, schema.GRID_CRS, always_xy=True)
    if tr.definition == _L93_TO_LAEA_PIPELINE:
        return _l93_to_laea
    return lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))


#: PROJ's pipeline from Lambert-93 (EPSG:2154) to ETRS89-LAEA (EPSG:3035): inverse
#: Lambert conformal conic, then Lambert azimuthal equal-area, both on GRS80 (RGF93 v1
#: to ETRS89 is the null transformation), which :func:`_l93_to_laea` implements.
_L93_TO_LAEA_PIPELINE = (
    "proj=pipeline step inv proj=lcc lat_0=46.5 lon_0=3 lat_1=49 lat_2=44 x_0=700000 "
    "y_0=6600000 ellps=GRS80 step proj=laea lat_0=52 lon_0=10 x_0=4321000 y_0=3210000 "
    "ellps=GRS80"
)


def _l93_constants() -> dict:
    """Constants of PROJ's ``lcc`` and ``laea`` set-ups (lcc.cpp, laea.cpp) for GRS80."""
    a, f = 6378137.0, 1 / 298.257222101
    es = f * (2 - f)
    e = np.sqrt(es)

    def tsfn(phi):  # Snyder (7-10), as PROJ's pj_tsfn
        return np.exp(e * np.arctanh(e * np.sin(phi))) * np.cos(phi) / (1 + np.sin(phi))

    def msfn(phi):
        return np.cos(phi) / np.sqrt(1 - es * np.sin(phi) ** 2)

    def qsfn(sinphi):  # authalic q, as PROJ's pj_qsfn
        return (1 - es) * (sinphi / (1 - es * sinphi**2) + np.arctanh(e * sinphi) / e)

    phi1, phi2, phi0 = np.radians([49.0, 44.0, 46.5])
    n = np.log(msfn(phi1) / msfn(phi2)) / np.log(tsfn(phi1) / tsfn(phi2))
    c = msfn(phi1) * tsfn(phi1) ** -n / n
    qp = qsfn(1.0)
    sin0 = np.sin(np.radians(52.0))
    rq = np.sqrt(0.5 * qp)
    sinb1 = qsfn(sin0) / qp
    cosb1 = np.sqrt(1 - sinb1**2)
    dd = np.cos(np.radians(52.0)) / (np.sqrt(1 - es * sin0**2) * rq * cosb1)
    return {"a": a, "es": es, "e": e, "n": n, "c": c, "rho0": c * tsfn(phi0) ** n,
            "dlam": np.radians(3.0 - 10.0), "qp": qp, "sinb1": sinb1, "cosb1": cosb1,
            "xmf": a * rq * dd, "ymf": a * rq / dd}


_L93 = _l93_constants()


def _l93_to_laea(xy: np.ndarray) -> np.ndarray:
    """Lambert-93 to ETRS89-LAEA coordinates, the formulas of PROJ's pipeline.

    Inverse LCC: the conformal latitude from ``ts`` and the ellipsoidal latitude by
    Newton's method on ``tan(phi)`` (PROJ's ``pj_sinhpsi2tanphi``; from its first
    guess one step already reaches round-off over France, two are taken); forward LAEA
    (oblique) through the authalic latitude.
    ``tests/test_interpolate.py`` checks it against pyproj to 1e-7 m over France.
    """
    k = _L93
    e, es = k["e"], k["es"]
    x = (xy[:, 0] - 700000.0) / k["a"]
    y = k["rho0"] - (xy[:, 1] - 6600000.0) / k["a"]
    dl = np.arctan2(x, y) / k["n"] + k["dlam"]  # longitude from 10°E
    ts = (np.hypot(x, y) / k["c"]) ** (1 / k["n"])
    taup = (1 / ts - ts) / 2  # sinh of the conformal latitude's isometric latitude
    e2m = 1 - es
    tau = taup / e2m
    for _ in range(2):
        tau1 = np.sqrt(1 + tau * tau)
        sig = np.sinh(e * np.arctanh(e * tau / tau1))
        taupa = np.sqrt(1 + sig * sig) * tau - sig * tau1
        tau += ((taup - taupa) * (1 + e2m * tau * tau)
                / (e2m * tau1 * np.sqrt(1 + taupa * taupa)))
    sinphi = tau / np.sqrt(1 + tau * tau)
    sinb = (1 - es) * (sinphi / (1 - es * sinphi * sinphi) + np.arctanh(e * sinphi) / e)
    sinb /= k["qp"]
    cosb = np.sqrt(1 - sinb * sinb)
    cl = np.cos(dl)
    b = np.sqrt(2 / (1 + k["sinb1"] * sinb + k["cosb1"] * cosb * cl))
    out = np.empty_like(xy, dtype="float64")
    out[:, 0] = k["xmf"] * b * cosb * np.sin(dl) + 4321000.0
    out[:, 1] = k["ymf"] * b * (k["cosb1"] * sinb - k["sinb1"] * cosb * cl) + 3210000.0
    return out


def _disjoint_parts(geoms: np.ndarray) -> np.ndarray:
    """Polygons covering the same ground as ``geoms``, without overlaps.

    QPV contours do not overlap as a rule, so the union (slow at national scale) is
    only computed for the groups that share ground: overlapping, but also nested (a
    polygon within another) or duplicated ones, which the ``overlaps`` predicate misses.
    Polygons that only touch along an edge share no area and are left alone.
    """
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    # share an area, not just an edge or a corner (touches: interiors do not meet)
    clashing = ~shapely.touches(geoms[i], geoms[j])
    i, j = i[clashing], j[clashing]
    if not len(i):
        return geoms
    clash = np.unique(np.concatenate([i, j]))
    rest = np.setdiff1d(np.arange(len(geoms)), clash)
    merged = shapely.get_parts(shapely.union_all(geoms[clash]))
    return np.concatenate([geoms[rest], merged])


def _mask_terms(
    gi: _GridIndex, zones_laea: np.ndarray, zone: np.ndarray, cell: np.ndarray,
    frac: np.ndarray, mask_laea: np.ndarray, *, zones_are_mask: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Share of each cell inside the QPV mask, and of each (zone, cell) inside zone ∩ mask.

    Returns ``(fq, a)``: ``fq[i]`` the share of pair ``i``'s cell covered by the union of
    the QPV, ``a[i]`` the share covered by both the zone and that union.
    """
    mask_laea = mask_laea[~shapely.is_empty(mask_laea) & ~shapely.is_missing(mask_laea)]
    fq = np.zeros(len(zone))
    a = np.zeros(len(zone))
    if len(zone) == 0 or len(mask_laea) == 0:
        return fq, a
    # Only the QPV near the zones matter; made disjoint, their shares of a cell add up.
    zb = shapely.bounds(zones_laea[np.unique(zone)])
    lo, hi = np.nanmin(zb[:, :2], axis=0) - gi.res, np.nanmax(zb[:, 2:], axis=0) + gi.res
    mb = shapely.bounds(mask_laea)
    near = (mb[:, 0] <= hi[0]) & (mb[:, 2] >= lo[0]) & (mb[:, 1] <= hi[1]) & (mb[:, 3] >= lo[1])
    if not near.any():
        return fq, a
    parts = _disjoint_parts(shapely.get_parts(mask_laea[near]))
    _, m_cell, m_frac = _cell_fractions(gi, parts)
    cell_fq = np.zeros(len(gi.x))
    np.add.at(cell_fq, m_cell, m_frac)
    fq = np.minimum(cell_fq[cell], 1.0)
    if zones_are_mask:
        return fq, np.minimum(frac, fq)  # a zone lies inside the union of the zones
    # zone ∩ QPV: one intersection per (zone, QPV) that meet, then the exact cell shares
    i_zone, i_part = shapely.STRtree(parts).query(zones_laea, predicate="intersects")
    pieces = shapely.intersection(zones_laea[i_zone], parts[i_part])
    p_piece, p_cell, p_frac = _cell_fractions(gi, pieces)
    n_cells = len(gi.x)
    piece_key = i_zone[p_piece] * n_cells + p_cell
    pair_key = zone * n_cells + cell
    order = np.argsort(pair_key)
    pos = np.searchsorted(pair_key[order], piece_key)
    pos = np.minimum(pos, len(order) - 1)
    hit = pair_key[order][pos] == piece_key
    a = np.bincount(order[pos[hit]], weights=p_frac[hit], minlength=len(zone))
    return fq, np.minimum(a, np.minimum(frac, fq))


@dataclass(frozen=True)
class _PreparedMask:
    """The QPV mask of the calibrated estimator, measured once on one grid.

    For the many ``grid_population`` calls of one exposure profile (every piece of every
    layer, on rows of the same grid): the mask is reprojected and made disjoint once,
    and the share of every cell it covers computed once, instead of at each call.
    """

    res: float
    keys: np.ndarray  # sorted cell numbers (_cell_numbers) of the cells the mask meets
    fq: np.ndarray  # share of each of those cells inside the mask
    parts: np.ndarray  # the mask's disjoint polygons, EPSG:3035
    tree: shapely.STRtree


def _cell_numbers(x: np.ndarray, y: np.ndarray, res: float) -> np.ndarray:
    """A number for each cell from its lower-left corner, the same in any extract."""
    ix = np.floor(x / res + 0.5).astype(np.int64)
    iy = np.floor(y / res + 0.5).astype(np.int64)
    return (iy << 32) + ix


def _prepare_mask(grid: pd.DataFrame, qpv: gpd.GeoDataFrame | gpd.GeoSeries) -> _PreparedMask:
    """The calibrated mask ``qpv`` measured on ``grid``, for ``grid_population(_mask=)``.

    Each cell's share inside the mask is the sum of its shares inside the mask's
    disjoint parts, as :func:`_mask_terms` computes it at each call (the same numbers to
    float round-off), here for every cell of ``grid`` at once.
    """
    mask = _zones_laea(qpv, what="qpv")
    mask = mask[~shapely.is_empty(mask) & ~shapely.is_missing(mask)]
    x, y, res = _grid_corners(grid)
    if not len(mask) or not len(x):
        return _PreparedMask(res, np.empty(0, np.int64), np.empty(0), mask,
                             shapely.STRtree(mask))
    parts = _disjoint_parts(shapely.get_parts(mask))
    gi = _index_grid(grid, shapely.bounds(parts))
    _, m_cell, m_frac = _cell_fractions(gi, parts)
    cells = np.unique(m_cell)
    cell_fq = np.bincount(m_cell, weights=m_frac, minlength=len(gi.x))[cells]
    keys = _cell_numbers(gi.x[cells], gi.y[cells], gi.res)
    keys, first = np.unique(keys, return_index=True)  # a cell listed twice counts once
    return _PreparedMask(gi.res, keys, cell_fq[first], parts, shapely.STRtree(parts))


def _prepared_mask_terms(
    pm: _PreparedMask, gi: _GridIndex, zones_laea: np.ndarray, zone: np.ndarray,
    cell: np.ndarray, frac: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_mask_terms` from a prepared mask: the cells' shares looked up by cell
    number, zone ∩ mask overlaid with the prepared parts."""
    if gi.res != pm.res:
        raise ValueError(f"grid_population: the mask was prepared on {pm.res:g} m cells, "
                         f"the grid has {gi.res:g} m cells")
    fq = np.zeros(len(zone))
    a = np.zeros(len(zone))
    if len(zone) == 0 or len(pm.keys) == 0:
        return fq, a
    keys = _cell_numbers(gi.x[cell], gi.y[cell], gi.res)
    pos = np.minimum(np.searchsorted(pm.keys, keys), len(pm.keys) - 1)
    hit = pm.keys[pos] == keys
    fq[hit] = np.minimum(pm.fq[pos[hit]], 1.0)
    # zone ∩ QPV: one intersection per (zone, QPV part) that meet, then the exact shares;
    # a zone that is a QPV (the same coordinates) is its own intersection, without the
    # overlay of two identical polygons (GEOS nodes every shared edge: ~0.3 ms a QPV).
    i_zone, i_part = pm.tree.query(zones_laea, predicate="intersects")
    same = shapely.equals_exact(zones_laea[i_zone], pm.parts[i_part], tolerance=0.0)
    pieces = zones_laea[i_zone]
    other = ~same
    if same.any():
        # Zones that are the QPV come with their rings (each QPV removed from them) and
        # neighbours: those meet the mask's parts along shared edges, their interiors
        # apart (all but 6 of 1,368 pairs at national scale). The exact DE-9IM predicate
        # (half the overlay's cost) proves the empty intersections; only the others are
        # overlaid.
        meet = _threads(lambda x, y: shapely.relate_pattern(x, y, "2********"),
                        pieces[other], pm.parts[i_part[other]])
        idx = np.flatnonzero(other)
        pieces[idx[~meet]] = np.full((~meet).sum(), shapely.Polygon(), dtype=object)
        other[idx[~meet]] = False
    pieces[other] = _threads(shapely.intersection, pieces[other], pm.parts[i_part[other]])
    p_piece, p_cell, p_frac = _cell_fractions(gi, pieces)
    n_cells = len(gi.x)
    piece_key = i_zone[p_piece] * n_cells + p_cell
    pair_key = zone * n_cells + cell
    order = np.argsort(pair_key)
    at = np.minimum(np.searchsorted(pair_key[order], piece_key), len(order) - 1)
    found = pair_key[order][at] == piece_key
    a = np.bincount(order[at[found]], weights=p_frac[found], minlength=len(zone))
    return fq, np.minimum(a, np.minimum(frac, fq))


def _calibrated_weights(frac, fq, a, k: float) -> np.ndarray:
    """Cell share given to a zone when the QPV part of a cell is ``k`` times as dense."""
    return (frac + (k - 1.0) * a) / (1.0 + (k - 1.0) * fq)


def grid_population(
    grid: pd.DataFrame,
    zones: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = ("ind",),
    method: str = "area",
    qpv: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    density_ratio: float = DENSITY_RATIO,
    totals: pd.Series | None = None,
    total_column: str | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    _mask: _PreparedMask | None = None,
) -> pd.DataFrame:
    """Estimate grid variables (population, households…) inside each zone.

    Parameters
    ----------
    grid : DataFrame or GeoDataFrame
        A regular grid as :func:`qpvgeo.readers.grid.read_filosofi_grid` returns it: the
        lower-left corners ``x_laea`` / ``y_laea`` in EPSG:3035 (or INSEE identifiers
        ``idcar_200m``) and the variables. Its geometry is not used. The cell size
        comes from the identifiers (or ``grid.attrs["cell_size"]``), 200 m otherwise.
    zones : GeoDataFrame
        Any polygons with a CRS (QPV, rings, buffers, flood zones); they may overlap.
    columns : sequence of str
        Count variables of the grid (``ind``, ``men``, ``men_pauv``, ``ind_snv``…).
    method : {"area", "calibrated", "buildings"}
        ``"buildings"``: each cell shared among its buildings (``buildings=``) by
        dwellings, volume or footprint (:func:`qpvgeo.buildings.building_population`).
        ``"area"``: each cell gives each zone the share of its area inside the zone.
        ``"calibrated"``: inside each cell, the part covered by QPV contours (``qpv=``)
        is taken ``density_ratio`` times as dense as the rest (see Notes). Both conserve
        totals: over zones that partition the grid's extent, the sums equal the grid's.
    qpv : GeoDataFrame or GeoSeries
        For ``method="calibrated"`` (required): the QPV contours, which say where the
        dense housing of a cell lies. To estimate the QPV themselves pass
        ``qpv=zones``; for rings, flood zones or any polygon pass the QPV layer, so
        that QPV and surroundings are estimated from one density surface and add up.
    density_ratio : float
        The calibrated ratio (:data:`DENSITY_RATIO`); 1 gives the area method.
    totals : Series, optional
        Official totals per zone (e.g. INSEE's QPV populations), indexed like ``zones``.
    total_column : str, optional
        The column ``totals`` measures; default the first of ``columns``.
    buildings : GeoDataFrame, optional
        For ``method="buildings"``: :func:`qpvgeo.readers.buildings.read_buildings`.
    _mask : _PreparedMask, optional
        Private (the exposure engine): ``qpv`` prepared once on this grid
        (:func:`_prepare_mask`); ``grid`` may then be any extract of that grid's rows,
        and ``qpv`` is not read.

    Returns
    -------
    DataFrame
        Indexed like ``zones``, one column per variable. With ``totals``, every column
        is scaled by ``total / grid estimate`` of ``total_column`` (the grid gives the
        distribution inside the zone, the official figure its level) and the raw grid
        estimates are kept as ``<column>_grille``. Use it wherever INSEE publishes the
        zones' population (QPV: ``DEMO`` tables, ``read_qpv_indicators(...)
        ["population"]``): INSEE's level is kept and the grid gives only what INSEE
        does not publish (poor households, age bands…) or how a zone splits (the
        population of a QPV inside a flood zone is its official population times
        ``grid_population(grid, qpv ∩ flood)`` over ``grid_population(grid, qpv)``).
        A NaN grid value makes the zones whose cells carry it NaN.

    Notes
    -----
    **The bias of area weighting and the calibrated estimator.** QPV contours are drawn
    around the dense housing, so the part of a 200 m cell inside a QPV holds more than
    its area share. On the 71 QPV fully covered by the Filosofi 2019 sample, area
    weighting puts every QPV below INSEE's population (``POP_MUN``, ``DEMO_2022.csv``):
    median -29.7 %, total 0.765 of the official one; on the 21 Bordeaux QPV (Filosofi
    2015 grid) median -26.9 %, total 0.709.

    ``method="calibrated"`` is a dasymetric estimator with the QPV contours as the
    ancillary layer: in a cell with a share ``fq`` covered by QPV, the QPV part has the
    density ``density_ratio`` (``k``) times that of the rest, so a zone covering a share
    ``f`` of the cell, ``a`` of it within QPV, receives
    ``(f + (k - 1) a) / (1 + (k - 1) fq)`` of the cell. The shares over any partition
    add up to 1 (totals conserved), the QPV and their surroundings come from the same
    density surface, and cells with no QPV are shared by area. ``k`` =
    :data:`DENSITY_RATIO` was fitted on the 2019 sample only (the 71 QPV add up to
    their official total); Bordeaux is the validation set.

    Median absolute percentage error against INSEE's ``POP_MUN`` of the DEMO 2022
    edition (``tests/test_interpolate.py`` measures it). That edition carries the newer
    QPV population (most likely the RP 2018 base; ``insee_qpv_tables/SOURCE.md``), the
    closest to both grids: Filosofi 2019 for the sample, and Filosofi 2015 for Bordeaux,
    whose households are located on 1 January 2016, two years from 2018 against three
    from the RP 2013 carried by the 2019 and 2020 editions:

    ==============================  ==========  ==============
    QPV set                         ``area``    ``calibrated``
    ==============================  ==========  ==============
    calibration: 71 QPV, 2019 grid  29.7 %      9.6 %
    validation: 21 Bordeaux QPV     26.9 %      8.8 %
    ==============================  ==========  ==============

    Signed medians with the calibrated method: -1.3 % and -2.1 %; totals 1.000 and 0.954
    of the official ones. Against the DEMO 2019 edition (RP 2013) Bordeaux gives 8.5 %
    (calibrated) and 23.5 % (area).
    The remaining gap mixes the estimator's error and concept differences (Filosofi
    counts fiscal households, the census counts every resident). Where INSEE publishes
    a zone's population, prefer ``totals=``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grid = pd.DataFrame({"x_laea": [3800000, 3800200], "y_laea": [2900000, 2900000],
    ...                      "ind": [100.0, 40.0]})
    >>> zone = gpd.GeoDataFrame(geometry=[box(3800100, 2900000, 3800400, 2900200)],
    ...                         crs=3035)
    >>> grid_population(grid, zone)["ind"].round(6).tolist()
    [90.0]
    >>> # the zone as its own QPV: its half of the first cell is 4.15 times as dense
    >>> grid_population(grid, zone, method="calibrated", qpv=zone)["ind"].round(1).tolist()
    [120.6]
    """
    columns = list(columns)
    if not columns:
        raise ValueError("grid_population: columns= must name at least one grid variable")
    _require_numeric(grid, columns, what="grid")
    if method == "buildings":  # building-based dasymetric estimate: qpvgeo.buildings
        from qpvgeo.buildings import building_population

        if buildings is None:
            raise ValueError("grid_population(method='buildings') needs buildings=")
        out = building_population(grid, buildings, zones, columns=columns)[columns]
        return out if totals is None else _scale_to_totals(out, totals,
                                                           total_column or columns[0])
    if method not in ("area", "calibrated"):
        raise ValueError(
            f"grid_population: method must be 'area' or 'calibrated', not {method!r}"
        )
    if method == "calibrated" and qpv is None and _mask is None:
        raise ValueError(
            "grid_population(method='calibrated') needs qpv=: the QPV contours, which "
            "say where the dense housing of each cell lies (qpv=zones when the zones are "
            "the QPV themselves)"
        )
    if not density_ratio > 0:
        raise ValueError(f"grid_population: density_ratio must be > 0, not {density_ratio}")
    laea, validity = _zones_laea_pending(zones)
    gi = _index_grid(grid, shapely.bounds(laea))  # while the zones' validity is checked
    geoms = _valid_polygons(laea, what="zones", bad=validity.result())
    zone, cell, frac = _cell_fractions(gi, geoms)
    if method == "area":
        weight = frac
    elif _mask is not None:
        fq, a = _prepared_mask_terms(_mask, gi, geoms, zone, cell, frac)
        weight = _calibrated_weights(frac, fq, a, density_ratio)
    else:
        same = qpv is zones
        mask = geoms if same else _zones_laea(qpv, what="qpv")
        fq, a = _mask_terms(gi, geoms, zone, cell, frac, mask, zones_are_mask=same)
        weight = _calibrated_weights(frac, fq, a, density_ratio)
    n = len(zones)
    values = _rows_values(grid, columns, cell)  # the cells near the zones only
    est = {
        col: np.bincount(zone, weights=weight * values[:, j], minlength=n).astype("float64")
        for j, col in enumerate(columns)
    }
    out = pd.DataFrame(est, index=zones.index)
    if totals is not None:
        out = _scale_to_totals(out, totals, total_column or columns[0])
    return out


def calibrate_density_ratio(
    grid: pd.DataFrame,
    qpv: gpd.GeoDataFrame,
    official: pd.Series,
    *,
    column: str = "ind",
    mask: gpd.GeoDataFrame | None = None,
    bounds: tuple[float, float] = (1.0, 100.0),
) -> float:
    """Fit the density ratio of ``grid_population(method="calibrated")`` on known QPV.

    Finds the ratio ``k`` at which the calibrated grid estimates of the QPV add up to
    their official total (the sum is increasing in ``k``, so the root is unique; found
    by bisection to 1e-6). This is how :data:`DENSITY_RATIO` was fitted; an analyst can
    refit it on a newer grid and the matching INSEE populations.

    Parameters
    ----------
    grid : DataFrame
        Grid as for :func:`grid_population`.
    qpv : GeoDataFrame
        QPV wholly covered by the grid (a QPV cut by the grid's edge would bias ``k``).
    official : Series
        Official population of each QPV, indexed like ``qpv``; QPV without one are left
        out.
    column : str
        Grid variable matching ``official``.
    mask : GeoDataFrame, optional
        All QPV contours near the grid (default ``qpv``), so that cells shared with a
        neighbouring QPV outside the set are handled as in later use.
    bounds : (float, float)
        Search interval for ``k``.

    Returns
    -------
    float

    Raises
    ------
    QpvgeoError
        When no ``k`` within ``bounds`` reaches the official total.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grid = pd.DataFrame({"x_laea": [0], "y_laea": [0], "ind": [100.0]})
    >>> q = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 200)], index=["QP1"], crs=3035)
    >>> # half the cell holds 80 of its 100 inhabitants: k = 80 / 20 = 4
    >>> round(calibrate_density_ratio(grid, q, pd.Series({"QP1": 80.0})), 4)
    4.0
    """
    from qpvgeo.errors import QpvgeoError

    official = pd.to_numeric(official.reindex(qpv.index), errors="coerce")
    keep = official.notna().to_numpy()
    if not keep.any():
        raise QpvgeoError("calibrate_density_ratio: no QPV has an official total")
    values = _numeric_columns(grid, [column], what="grid")[:, 0]
    geoms = _zones_laea(qpv[keep], what="qpv")
    gi = _index_grid(grid, shapely.bounds(geoms))
    zone, cell, frac = _cell_fractions(gi, geoms)
    mask_geoms = geoms if mask is None else _zones_laea(mask, what="mask")
    fq, a = _mask_terms(gi, geoms, zone, cell, frac, mask_geoms)
    target = float(official[keep].sum())

    def gap(k: float) -> float:
        return float((_calibrated_weights(frac, fq, a, k) * values[cell]).sum()) - target

    lo, hi = bounds
    if gap(lo) > 0 or gap(hi) < 0:
        raise QpvgeoError(
            f"calibrate_density_ratio: no ratio in {bounds} makes the grid estimates of the "
            f"{int(keep.sum())} QPV reach their official total {target:,.0f} (grid estimate "
            f"{gap(lo) + target:,.0f} at k={lo}, {gap(hi) + target:,.0f} at k={hi})"
        )
    while hi - lo > 1e-6:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


def _scale_to_totals(est: pd.DataFrame, totals: pd.Series, column: str) -> pd.DataFrame:
    if column not in est.columns:
        raise SchemaError(f"totals: total_column {column!r} is not among the columns {list(est)}")
    if not isinstance(totals, pd.Series):
        raise TypeError("totals must be a Series indexed like zones")
    missing = est.index.difference(totals.index)
    if len(missing) == len(est) and len(est):
        raise SchemaError(
            f"totals: its index shares no label with the zones' index (e.g. {list(est.index[:3])})"
        )
    official = pd.to_numeric(totals.reindex(est.index), errors="coerce")
    raw = est[column]
    factor = official / raw
    no_total = official.isna()
    no_grid = (official > 0) & (raw <= 0)
    if no_total.any():
        warnings.warn(
            f"totals: {int(no_total.sum())} zone(s) without an official total keep the grid "
            f"estimate, e.g. {list(est.index[no_total][:5])}",
            QpvgeoWarning,
            stacklevel=3,
        )
    if no_grid.any():
        warnings.warn(
            f"totals: {int(no_grid.sum())} zone(s) hold no grid population, so the official "
            f"total cannot be distributed: NaN, e.g. {list(est.index[no_grid][:5])}",
            QpvgeoWarning,
            stacklevel=3,
        )
    factor = factor.where(~no_total, 1.0).where(official != 0, 0.0).where(~no_grid, np.nan)
    out = est.mul(factor, axis=0)
    out[column] = official.where(~no_total, raw).where(~no_grid, np.nan)
    for col in est.columns:
        out[f"{col}_grille"] = est[col]
    return out
