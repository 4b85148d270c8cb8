"""Building-based (dasymetric) population: where people live inside a grid cell.

A 200 m Filosofi cell says how many people live in it, not where. Building footprints
(:func:`qpvgeo.readers.buildings.read_buildings`: BDNB, BD TOPO, OpenStreetMap) say
where they can live. :func:`building_population` shares each cell's values among the
parts of buildings inside it, then sums the parts inside each zone (tobler #96 asks the
same of its dasymetric mask).

The weight of a building part
-----------------------------
In each cell, the best measure that every residential candidate building of the cell
carries is used (``methode`` in the output):

``logements``
    the dwelling count (BD TOPO ``nombre_de_logements``, BDNB ``nb_log``), shared
    between cells by footprint area;
``volume``
    footprint area x floors: ``nb_etages``, else ``hauteur`` / 3 m (at least one
    floor); a building of the cell with neither takes the median floors of the others;
``surface``
    footprint area;
``aire``
    a cell with population but no candidate building (or, with ``coverage=``, a cell
    the building layer does not wholly cover) is shared by area, as
    :func:`qpvgeo.interpolate.grid_population` does.

Candidate buildings are those not known to be non-residential (``residentiel`` False:
annexes, garages, shops, churches, light constructions…) and at least ``min_surface``
m² (garden sheds). Within each cell the weights are normalised, so **totals are
conserved per cell**: over zones that partition the grid's extent the estimates add up
to the grid.

Compared with the calibrated grid estimator
-------------------------------------------
``grid_population(method="calibrated")`` assumes the QPV part of a cell is 4.15 times
as dense as the rest (one ratio fitted on 71 QPV); the building method needs no
fitted constant and works for any zone (flood extents, rings), but only where the
building layer is complete: it is as good as its footprints and their heights. On
"La Boucle de l'Isle" (Périgueux, QP024005), ``tests/test_buildings.py`` compares the
two on the Filosofi 2019 cells of Périgueux (see the Notes of
:func:`building_population` for the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError

__all__ = ["FLOOR_HEIGHT", "METHODS", "building_population"]

#: Metres per floor when only the height is known (BD TOPO heights run to the gutter).
FLOOR_HEIGHT = 3.0
#: Weighting levels, best first, as named in the ``methode`` column.
METHODS: tuple[str, ...] = ("logements", "volume", "surface", "aire")
_LAEA = 3035


def _cells(grid: pd.DataFrame) -> np.ndarray:
    """The grid squares, EPSG:3035, from the corners or INSEE identifiers."""
    if {"x_laea", "y_laea"} <= set(grid.columns):
        x = grid["x_laea"].to_numpy(dtype="float64")
        y = grid["y_laea"].to_numpy(dtype="float64")
        res = grid.attrs.get("cell_size")
        if res is None and schema.IDCAR_200M in grid.columns and len(grid):
            from qpvgeo.readers.grid import parse_cell_ids

            res = float(parse_cell_ids(grid[schema.IDCAR_200M].iloc[:1])["res"].iloc[0])
        res = float(res or 200.0)
    elif schema.IDCAR_200M in grid.columns:
        from qpvgeo.readers.grid import parse_cell_ids

        c = parse_cell_ids(grid[schema.IDCAR_200M], what="grid: idcar_200m")
        if c["res"].nunique() != 1:
            raise DataFormatError("grid: squares of several sizes in one grid")
        x, y = c["x_laea"].to_numpy("float64"), c["y_laea"].to_numpy("float64")
        res = float(c["res"].iloc[0])
    else:
        raise SchemaError("grid: need the cell corners (x_laea, y_laea) or INSEE identifiers "
                          f"(idcar_200m); columns present: {list(grid.columns)}")
    return shapely.box(x, y, x + res, y + res)


def _laea(frame, *, what: str) -> np.ndarray:
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise SchemaError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise SchemaError(f"{what}: no CRS")
    geoms = np.asarray(frame.to_crs(_LAEA).geometry.array
                       if isinstance(frame, gpd.GeoDataFrame)
                       else frame.to_crs(_LAEA).array, dtype=object)
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return geoms


def _float(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy(
        na_value=np.nan)


def _group_all(keys: np.ndarray, flags: np.ndarray, n: int) -> np.ndarray:
    """Per group: do all members have the flag (groups without members: False)."""
    total = np.bincount(keys, minlength=n)
    good = np.bincount(keys, weights=flags.astype(float), minlength=n)
    return (total > 0) & (good == total)


def building_population(
    grid: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame | None = None,
    *,
    columns: Sequence[str] = ("ind",),
    min_surface: float = 0.0,
    coverage: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> pd.DataFrame:
    """Share grid cells' values among their buildings, then sum them by zone.

    Parameters
    ----------
    grid : DataFrame or GeoDataFrame
        A regular grid as :func:`qpvgeo.readers.grid.read_filosofi_grid` returns it
        (corners ``x_laea`` / ``y_laea`` in EPSG:3035, or ``idcar_200m``).
    buildings : GeoDataFrame
        :func:`qpvgeo.readers.buildings.read_buildings` output (or any footprints with
        a CRS and the optional columns ``nb_logements``, ``nb_etages``, ``hauteur``,
        ``residentiel``).
    zones : GeoDataFrame, optional
        Polygons to estimate (QPV, rings, flood zones; they may overlap). Without it,
        the estimate per building is returned.
    columns : sequence of str
        Count variables of the grid (``ind``, ``men``, ``men_pauv``…).
    min_surface : float
        Footprints smaller than this (m²) hold nobody (sheds); 0 keeps all.
    coverage : GeoDataFrame or GeoSeries, optional
        Where the building layer is complete (e.g. the commune it was extracted for).
        Cells not wholly inside fall back to area weighting rather than crowd their
        people into the few buildings the layer happens to hold.

    Returns
    -------
    DataFrame
        With ``zones``: indexed like them, one column per variable, plus
        ``part_batiments`` (share of the zone's first variable placed through buildings
        rather than by area: the coverage of the estimate, 0-1, NA for an empty zone).
        Without: a GeoDataFrame of the candidate buildings (EPSG:2154) with the
        variables and ``methode`` (the weighting of the cell holding most of the
        building). ``attrs["methodes"]`` gives the share of the grid's first variable
        placed by each method of :data:`METHODS`.

    Raises
    ------
    SchemaError
        Missing grid columns, or frames without CRS.

    Notes
    -----
    Measured in Périgueux with the Filosofi 2019 cells of the sample (first commune
    Périgueux or Montpon-Ménestérol) and the BDNB / OSM footprints of Périgueux
    (``tests/test_buildings.py`` recomputes every figure):

    * **where the grid is coarse**: the 200 m cells summed to their 1 km squares (the 4
      squares at least 90 % inside the footprints' hull, 17,249 people, 100 squares of
      200 m), then shared back to the 200 m squares: area weighting misplaces 24.7 % of
      the people, BDNB footprints x heights 18.7 %, OSM footprints 18.0 %;
    * **La Boucle de l'Isle** (QP024005, 2015 contours): area weighting 896, the
      calibrated grid estimator (``grid_population(method="calibrated")``, Dordogne
      QPV as mask) 1,151, BDNB 1,002, OSM 970. The sample holds no cell of
      Coulounieix-Chamiers, the QPV's other commune (the grid covers 67 % of its area),
      so none of these can be set against INSEE's 1,474 (``POP_MUN``, DEMO 2022) for
      the whole QPV. Inside a QPV drawn around dense housing, the calibrated ratio
      carries information the footprints lack (tower blocks are not 4 times taller
      than houses in BDNB heights); outside QPV, or for zones cutting through cells
      (flood extents), the buildings say where people are.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grid = pd.DataFrame({"x_laea": [3800000], "y_laea": [2900000], "ind": [100.0]})
    >>> b = gpd.GeoDataFrame({"nb_etages": [1, 3]},
    ...                      geometry=[box(3800010, 2900010, 3800030, 2900030),
    ...                                box(3800110, 2900010, 3800130, 2900030)], crs=3035)
    >>> zone = gpd.GeoDataFrame(geometry=[box(3800100, 2900000, 3800200, 2900200)],
    ...                         crs=3035)
    >>> building_population(grid, b, zone)[["ind", "part_batiments"]].values.tolist()
    [[75.0, 1.0]]
    """
    columns = list(columns)
    if not columns:
        raise ValueError("building_population: columns= must name at least one grid variable")
    schema.require_columns(grid, columns, what="grid")
    values = np.column_stack([
        pd.to_numeric(grid[c], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
        for c in columns
    ])
    cells = _cells(grid)
    n_cells = len(cells)
    cell_area = shapely.area(cells)

    b_geoms = _laea(buildings, what="buildings")
    keep = ~shapely.is_missing(b_geoms) & ~shapely.is_empty(b_geoms)
    if "residentiel" in buildings.columns:
        keep &= ~buildings["residentiel"].astype("boolean").eq(False).fillna(False).to_numpy()
    b_area = shapely.area(b_geoms)
    if min_surface > 0:
        keep &= b_area >= min_surface
    cand = np.flatnonzero(keep)
    dwell = _float(buildings, "nb_logements")[cand]
    floors = _float(buildings, "nb_etages")[cand]
    height = _float(buildings, "hauteur")[cand]
    floors = np.where(np.isnan(floors) | (floors <= 0),
                      np.maximum(1.0, np.round(height / FLOOR_HEIGHT)), floors)

    # -- building parts per cell --------------------------------------------------------
    tree = shapely.STRtree(cells)
    bi, ci = tree.query(b_geoms[cand], predicate="intersects")
    parts = shapely.intersection(b_geoms[cand][bi], cells[ci])
    pa = shapely.area(parts)
    ok = pa > 0
    bi, ci, parts, pa = bi[ok], ci[ok], parts[ok], pa[ok]
    share_b = pa / b_area[cand][bi]

    covered = np.ones(n_cells, dtype=bool)
    if coverage is not None:
        cov = shapely.union_all(_laea(coverage, what="coverage"))
        covered = shapely.contains(cov, cells) | shapely.covers(cov, cells)
    in_cov = covered[ci]

    w_log = dwell[bi] * share_b
    f = floors[bi]
    # missing floors: the median of the cell's known ones
    known_f = ~np.isnan(f)
    med = pd.Series(f).groupby(ci).transform("median").to_numpy()
    f_fill = np.where(known_f, f, med)
    w_vol = pa * f_fill
    w_surf = pa

    all_log = _group_all(ci, ~np.isnan(w_log), n_cells)
    sum_log = np.bincount(ci, weights=np.nan_to_num(w_log), minlength=n_cells)
    all_vol = _group_all(ci, ~np.isnan(w_vol), n_cells)
    sum_vol = np.bincount(ci, weights=np.nan_to_num(w_vol), minlength=n_cells)
    sum_surf = np.bincount(ci, weights=w_surf, minlength=n_cells)
    level = np.full(n_cells, 3)  # aire
    level[(sum_surf > 0)] = 2
    level[all_vol & (sum_vol > 0)] = 1
    level[all_log & (sum_log > 0)] = 0
    level[~covered] = 3
    lv = level[ci]
    weight = np.select([lv == 0, lv == 1, lv == 2], [w_log, w_vol, w_surf], 0.0)
    weight = np.where((lv < 3) & in_cov, np.nan_to_num(weight), 0.0)
    total_w = np.bincount(ci, weights=weight, minlength=n_cells)
    frac = np.divide(weight, total_w[ci], out=np.zeros_like(weight), where=total_w[ci] > 0)
    part_values = frac[:, None] * values[ci]  # (parts, variables)

    first = np.nan_to_num(values[:, 0])
    grid_total = first.sum()
    methodes = {
        m: (float(first[level == k].sum() / grid_total) if grid_total > 0 else np.nan)
        for k, m in enumerate(METHODS)
    }

    if zones is None:
        n_b = len(cand)
        est = {c: np.bincount(bi, weights=part_values[:, j], minlength=n_b)
               for j, c in enumerate(columns)}
        # the method of the cell holding most of each building
        order = np.lexsort((-pa, bi))
        main = np.full(n_b, 3)
        first_part = order[np.r_[True, bi[order][1:] != bi[order][:-1]]] if len(bi) else order
        main[bi[first_part]] = lv[first_part]
        out = buildings.iloc[cand].copy()
        for c in columns:
            out[c] = est[c]
        out["methode"] = pd.array(np.asarray(METHODS, dtype=object)[main], dtype="string")
        out = schema.to_canonical_crs(out, what="buildings") if out.crs else out
        out.attrs["methodes"] = methodes
        return out

    z_geoms = _laea(zones, what="zones")
    n_z = len(z_geoms)
    est = np.zeros((n_z, len(columns)))
    # building parts inside each zone
    ptree = shapely.STRtree(parts)
    zi, pi = ptree.query(z_geoms, predicate="intersects")
    if len(zi):
        inside = shapely.area(shapely.intersection(z_geoms[zi], parts[pi])) / pa[pi]
        for j in range(len(columns)):
            est[:, j] += np.bincount(zi, weights=inside * part_values[pi, j], minlength=n_z)
    via_buildings = est[:, 0].copy()
    # cells shared by area
    by_area = np.flatnonzero(level == 3)
    if len(by_area):
        zi2, ci2 = shapely.STRtree(cells[by_area]).query(z_geoms, predicate="intersects")
        c2 = by_area[ci2]
        fa = shapely.area(shapely.intersection(z_geoms[zi2], cells[c2])) / cell_area[c2]
        for j in range(len(columns)):
            est[:, j] += np.bincount(zi2, weights=fa * values[c2, j], minlength=n_z)
    out = pd.DataFrame(est, index=zones.index, columns=columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        part = np.where(est[:, 0] > 0, via_buildings / est[:, 0], np.nan)
    out["part_batiments"] = part
    out.attrs["methodes"] = methodes
    return out
