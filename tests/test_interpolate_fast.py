"""The fast paths of issue 15 against the direct computation they replace.

Each test builds hand-made cases for one shortcut of ``qpvgeo.interpolate`` or of the
identifier parser and compares it with the plain computation (GEOS intersections,
pyproj, the regular-expression parser), with the tolerance explained where there is one.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from qpvgeo import interpolate as interp
from qpvgeo.errors import DataFormatError, QpvgeoWarning
from qpvgeo.interpolate import areal_interpolate, grid_population
from qpvgeo.readers import grid as grid_module

X0, Y0 = 3_800_000, 2_900_000  # a lattice corner in EPSG:3035


def _grid(nx=12, ny=12, *, holes=0.0, seed=0):
    rng = np.random.default_rng(seed)
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    keep = rng.random(ix.size) >= holes  # unpopulated cells are simply absent
    return pd.DataFrame({"x_laea": X0 + 200 * ix.ravel()[keep],
                         "y_laea": Y0 + 200 * iy.ravel()[keep],
                         "ind": rng.uniform(1, 100, int(keep.sum()))})


def _edge_case_zones() -> np.ndarray:
    """Zones that exercise each branch of the cell shares."""
    c = 200.0
    zones = [
        box(X0 + 2 * c, Y0 + 2 * c, X0 + 6 * c, Y0 + 5 * c),  # edges on cell lines exactly
        box(X0 + 410, Y0 + 430, X0 + 470, Y0 + 480),  # smaller than a cell, inside one
        box(X0 + 390, Y0 + 390, X0 + 410, Y0 + 410),  # smaller than a cell, on a corner
        shapely.buffer(shapely.Point(X0 + 1200, Y0 + 1200), 700, quad_segs=16),  # cells inside
        Polygon([(X0 + 100, Y0 + 100), (X0 + 100, Y0 + 900), (X0 + 900, Y0 + 100)]),  # clockwise
        box(X0 + 600, Y0, X0 + 1000, Y0 + 400),  # touches the first zone's corner cell
        box(X0 + 1000, Y0, X0 + 1400, Y0 + 400),  # touches the previous one along an edge
        shapely.difference(box(X0, Y0 + 1400, X0 + 2000, Y0 + 2400),  # a hole
                           box(X0 + 500, Y0 + 1700, X0 + 1300, Y0 + 2100)),
        shapely.MultiPolygon([box(X0 + 50, Y0 + 2000, X0 + 350, Y0 + 2300),  # two parts
                              box(X0 + 1900, Y0 + 150, X0 + 2300, Y0 + 350)]),
        box(X0 - 1000, Y0 + 2100, X0 + 500, Y0 + 3000),  # cut by the grid's left and top
        box(X0 + 2000, Y0 - 500, X0 + 3000, Y0 + 300),  # cut by the grid's right and bottom
        box(X0 + 5000, Y0 + 5000, X0 + 6000, Y0 + 6000),  # outside the grid
        shapely.Polygon([(X0 + 333.3, Y0 + 777.7), (X0 + 1711.1, Y0 + 911.9),
                         (X0 + 1500.5, Y0 + 2222.2), (X0 + 444.4, Y0 + 1999.9)]),  # slanted
    ]
    return np.array(zones, dtype=object)


def _geos_fractions(gi, zones):
    """Every (zone, cell) share by GEOS: intersection area of the zone and the square."""
    n = len(gi.x)
    zz = np.repeat(np.arange(len(zones)), n)
    cc = np.tile(np.arange(n), len(zones))
    x, y = gi.x[cc].astype(float), gi.y[cc].astype(float)
    area = shapely.area(shapely.intersection(zones[zz], shapely.box(x, y, x + 200, y + 200)))
    return zz, cc, area / 40_000


def _as_dict(z, c, f):
    return {(int(a), int(b)): float(v) for a, b, v in zip(z, c, f, strict=True)}


@pytest.mark.parametrize("holes", [0.0, 0.4])
def test_dense_cell_shares_equal_geos_and_the_sparse_path(holes):
    grid = _grid(holes=holes, seed=3)
    zones = _edge_case_zones()
    gi = interp._index_grid(grid, shapely.bounds(zones))
    dense = _as_dict(*interp._cell_fractions(gi, zones))
    sparse = _as_dict(*interp._cell_fractions_sparse(gi, zones))
    zz, cc, ref = _geos_fractions(gi, zones)
    # GEOS finds the same overlapping pairs (a share below 1e-12 is round-off, dropped)
    expected = {(int(a), int(b)): v for a, b, v in zip(zz, cc, ref, strict=True) if v > 1e-12}
    assert dense.keys() == expected.keys() == sparse.keys()
    # same areas as GEOS to float round-off on 40,000 m² squares at 3.8e6 m (measured
    # ~1e-12); the dense tables and the sorted keys add the same terms: equal to 1e-14
    for k, v in expected.items():
        assert dense[k] == pytest.approx(v, abs=1e-10)
        assert dense[k] == pytest.approx(sparse[k], abs=1e-14)
    # a cell wholly inside gets exactly 1 (no edge crosses it: the column sum alone)
    assert all(v == 1.0 for k, v in dense.items() if expected[k] == 1.0)
    assert sum(v == 1.0 for v in dense.values()) >= 5


def test_cells_wholly_inside_are_one_and_the_grid_index_keeps_every_pair():
    grid = _grid(40, 40)
    disc = shapely.buffer(shapely.Point(X0 + 4000, Y0 + 4000), 2500, quad_segs=32)
    zones = np.array([disc], dtype=object)
    z, c, f = interp._cell_fractions(interp._index_grid(grid, shapely.bounds(zones)), zones)
    x, y = grid["x_laea"].to_numpy()[c], grid["y_laea"].to_numpy()[c]
    corners = shapely.points(np.column_stack([np.r_[x, x + 200, x, x + 200],
                                              np.r_[y, y, y + 200, y + 200]]))
    inside = shapely.contains_xy(disc, shapely.get_x(corners), shapely.get_y(corners))
    whole = inside.reshape(4, -1).all(axis=0)
    assert whole.sum() > 300 and (f[whole] == 1.0).all()
    # the index with the zones' boxes (a coarse bitmap) misses no pair of the full index
    z2, c2, f2 = interp._cell_fractions(interp._index_grid(grid), zones)
    assert _as_dict(z, c, f) == _as_dict(z2, c2, f2)


def test_sparse_fallback_for_a_zone_much_larger_than_the_grid_near_it(monkeypatch):
    # 4 cells, one zone 250 km wide: its box holds 1.4 M cells, so the sorted keys
    grid = pd.DataFrame({"x_laea": [X0, X0 + 200, X0 + 120_000, X0 + 240_000],
                         "y_laea": [Y0, Y0, Y0 + 50_000, Y0 + 240_000], "ind": 1.0})
    big = np.array([box(X0 - 10_000, Y0 - 10_000, X0 + 240_100, Y0 + 250_000)], dtype=object)
    calls = []
    sparse = interp._cell_fractions_sparse
    monkeypatch.setattr(interp, "_cell_fractions_sparse",
                        lambda *a: calls.append(1) or sparse(*a))
    z, c, f = interp._cell_fractions(interp._index_grid(grid, shapely.bounds(big)), big)
    assert calls and sorted(c.tolist()) == [0, 1, 2, 3]
    assert f.tolist() == [1.0, 1.0, 1.0, 0.5]
    out = grid_population(grid, gpd.GeoDataFrame(geometry=big, crs=3035))
    assert out["ind"].iloc[0] == 3.5


def test_lambert93_formulas_equal_pyproj_over_france():
    from pyproj import Transformer

    rng = np.random.default_rng(0)
    # mainland France and Corsica, with a margin, in Lambert-93
    xy = np.column_stack([rng.uniform(0, 1_300_000, 100_000),
                          rng.uniform(6_000_000, 7_200_000, 100_000)])
    tr = Transformer.from_crs(2154, 3035, always_xy=True)
    ref = np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    # the same formulas as PROJ's pipeline: measured 1.2e-8 m (round-off of the Newton
    # steps on 3e6 m coordinates), far below the 1e-7 m allowed
    assert np.abs(interp._l93_to_laea(xy) - ref).max() < 1e-7
    assert interp._to_laea(gpd.GeoSeries(crs=2154).crs.to_wkt()) is interp._l93_to_laea
    # another CRS goes through pyproj
    other = interp._to_laea(gpd.GeoSeries(crs=4326).crs.to_wkt())
    assert other is not interp._l93_to_laea


@pytest.mark.parametrize("crs", [2154, 3035, 4326])
def test_grid_population_in_any_crs_equals_geos_overlay(crs):
    grid = _grid(12, 12, holes=0.3, seed=8)
    zones3035 = gpd.GeoDataFrame(geometry=_edge_case_zones(), crs=3035)
    # not the zones outside the grid: their 0 is checked below
    zones = zones3035.to_crs(crs)
    out = grid_population(grid, zones)["ind"].to_numpy()
    # direct: the zones moved by pyproj (geopandas), overlaid with the exact squares
    moved = np.asarray(zones.to_crs(3035).geometry.values, dtype=object)
    x, y = grid["x_laea"].to_numpy(float), grid["y_laea"].to_numpy(float)
    sq = shapely.box(x, y, x + 200, y + 200)
    zz = np.repeat(np.arange(len(moved)), len(sq))
    cc = np.tile(np.arange(len(sq)), len(moved))
    share = shapely.area(shapely.intersection(moved[zz], sq[cc])) / 40_000
    ref = np.bincount(zz, weights=share * grid["ind"].to_numpy()[cc], minlength=len(moved))
    # 1e-9 relative: from Lambert-93 the numpy formulas and pyproj differ by ~1e-8 m,
    # which moves a share by ~1e-11; from WGS84 both use pyproj
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)
    assert out[11] == 0.0


def test_values_are_read_near_the_zones_only():
    grid = _grid(20, 20)
    grid.loc[grid.index[-1], "ind"] = np.nan  # far from the zone: no effect
    zone = gpd.GeoDataFrame(geometry=[box(X0 + 100, Y0 + 100, X0 + 500, Y0 + 300)], crs=3035)
    out = grid_population(grid, zone)["ind"].iloc[0]
    v = grid.set_index(["x_laea", "y_laea"])["ind"]
    expected = (0.25 * v[(X0, Y0)] + 0.5 * v[(X0 + 200, Y0)] + 0.25 * v[(X0 + 400, Y0)]
                + 0.25 * v[(X0, Y0 + 200)] + 0.5 * v[(X0 + 200, Y0 + 200)]
                + 0.25 * v[(X0 + 400, Y0 + 200)])
    assert out == pytest.approx(expected, rel=1e-12)
    # a NaN in a cell the zone covers makes it NaN (never a silent 0)
    grid.loc[(grid["x_laea"] == X0 + 200) & (grid["y_laea"] == Y0), "ind"] = np.nan
    assert np.isnan(grid_population(grid, zone)["ind"].iloc[0])
    # nullable columns too
    g2 = _grid(4, 4).astype({"ind": "Float64"})
    g2.loc[0, "ind"] = pd.NA
    assert np.isnan(grid_population(g2, zone)["ind"].iloc[0])


def test_invalid_zones_are_repaired_after_the_move_with_a_warning():
    grid = _grid(6, 6)
    bowtie = Polygon([(X0, Y0), (X0 + 400, Y0 + 400), (X0 + 400, Y0), (X0, Y0 + 400)])
    zones = gpd.GeoDataFrame(geometry=[bowtie] * 300 + [box(X0, Y0, X0 + 200, Y0 + 200)],
                             crs=3035)  # more than one chunk of the validity thread
    with pytest.warns(QpvgeoWarning, match="300 invalid geometries repaired"):
        out = grid_population(grid, zones)["ind"].to_numpy()
    fixed = shapely.make_valid(bowtie, method="structure", keep_collapsed=False)
    x, y = grid["x_laea"].to_numpy(float), grid["y_laea"].to_numpy(float)
    share = shapely.area(shapely.intersection(fixed, shapely.box(x, y, x + 200, y + 200)))
    assert out[0] == pytest.approx((share / 40_000 * grid["ind"]).sum(), rel=1e-12)
    assert (out[:300] == out[0]).all()
    assert out[300] == pytest.approx(grid["ind"].iloc[0], rel=1e-12)


# -- identifiers -----------------------------------------------------------------------------


def _ids(n=300, seed=2, res=200, digits=7):
    rng = np.random.default_rng(seed)
    lo, hi = 10 ** (digits - 1) // res + 1, 10**digits // res - 1
    north, east = rng.integers(lo, hi, n) * res, rng.integers(lo, hi, n) * res
    return pd.Series([f"CRS3035RES{res}mN{a}E{b}" for a, b in zip(north, east, strict=True)]), \
        east, north


@pytest.mark.parametrize("res,digits", [(200, 7), (1000, 7), (200, 6), (100, 5)])
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "object"])
def test_identifiers_read_in_place_equal_the_pattern(res, digits, dtype):
    ids, east, north = _ids(res=res, digits=digits)
    ids = ids.astype(dtype)
    mat = grid_module._id_bytes(ids)
    m0 = 10 + len(str(res))
    fast = grid_module._parse_one_layout(mat, m0, m0 + 2 + digits)
    assert fast is not None
    assert fast[0].tolist() == [res] * len(ids)
    assert fast[1].tolist() == east.tolist() and fast[2].tolist() == north.tolist()
    r, x, y = grid_module._cell_corners(ids)
    assert x.tolist() == east.tolist() and y.tolist() == north.tolist()
    slow = parse_slow(ids)
    assert slow["x_laea"].tolist() == east.tolist()


def parse_slow(ids):
    """The regular-expression path of parse_cell_ids (a leading space sends it there)."""
    return grid_module.parse_cell_ids(" " + ids.astype(str))


def test_every_wrong_byte_of_an_identifier_is_caught():
    ids, _, _ = _ids(50)
    good = ids.iloc[7]
    for pos in range(len(good)):
        for ch in ("X", "/", ":", " ", "0" if not good[pos].isdigit() else "m"):
            if ch == good[pos]:
                continue
            bad = ids.copy()
            bad.iloc[7] = good[:pos] + ch + good[pos + 1:]
            # the in-place reader refuses the whole batch (the pattern path then names
            # the identifier, or accepts it when it is still a valid square elsewhere)
            mat = grid_module._id_bytes(bad.astype("str"))
            assert grid_module._parse_one_layout(mat, 13, 22) is None, (pos, ch)


def test_off_lattice_and_bad_identifiers_raise_from_the_corners():
    ids, _, _ = _ids(20)
    off = ids.copy()
    off.iloc[3] = "CRS3035RES200mN2890450E3767200"
    with pytest.raises(DataFormatError, match="off INSEE's lattice.*2890450"):
        grid_module._cell_corners(off.astype("str"))
    wrong = ids.copy()
    wrong.iloc[5] = "CRS3035RES200mN28904x0E3767200"
    with pytest.raises(DataFormatError, match="28904x0"):
        grid_module._cell_corners(wrong.astype("str"))
    grid = gpd.GeoDataFrame({"idcar_200m": off.astype("str"), "ind": 1.0},
                            geometry=[box(0, 0, 1, 1)] * 20, crs=3035)
    zone = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=3035)
    with pytest.raises(DataFormatError, match="grid: idcar_200m"):
        grid_population(grid, zone)


def test_grid_population_from_identifiers_equals_from_corners():
    grid = _grid(15, 15, holes=0.2, seed=4)
    ids = ("CRS3035RES200mN" + grid["y_laea"].astype(str) + "E"
           + grid["x_laea"].astype(str)).astype("str")
    zones = gpd.GeoDataFrame(geometry=_edge_case_zones(), crs=3035)
    a = grid_population(grid, zones)
    b = grid_population(pd.DataFrame({"idcar_200m": ids, "ind": grid["ind"]}), zones)
    pd.testing.assert_frame_equal(a, b)


# -- areal interpolation -------------------------------------------------------------------


def _tiles_and_targets(seed=0):
    rng = np.random.default_rng(seed)
    tiles = [box(x, y, x + 1000, y + 1000) for x in range(0, 6000, 1000)
             for y in range(0, 6000, 1000)]
    targets = [shapely.buffer(shapely.Point(rng.uniform(0, 6000, 2)), rng.uniform(50, 900))
               for _ in range(60)]
    targets += [box(1200, 1200, 1800, 1800),  # inside one tile
                box(1000, 1000, 2000, 2000),  # one tile exactly (covers, shared edges)
                box(0, 0, 3000, 2000),  # holds whole tiles
                box(7000, 7000, 7500, 7500)]  # outside every source
    src = gpd.GeoDataFrame({"population": rng.uniform(0, 1000, len(tiles)),
                            "taux": rng.uniform(0, 1, len(tiles))}, geometry=tiles, crs=2154)
    return src, gpd.GeoDataFrame(geometry=targets, crs=2154)


def test_areal_interpolate_equals_a_plain_overlay_and_leaves_geometries_unprepared():
    src, tgt = _tiles_and_targets()
    out = areal_interpolate(src, tgt, extensive=["population"], intensive=["taux"])
    s, t = np.meshgrid(np.arange(len(src)), np.arange(len(tgt)))
    s, t = s.ravel(), t.ravel()
    shared = shapely.area(shapely.intersection(src.geometry.values[s], tgt.geometry.values[t]))
    w = shared / shapely.area(src.geometry.values[s])
    ext = np.bincount(t, weights=w * src["population"].to_numpy()[s], minlength=len(tgt))
    cov = np.bincount(t, weights=shared, minlength=len(tgt))
    with np.errstate(invalid="ignore"):
        inten = np.bincount(t, weights=shared * src["taux"].to_numpy()[s],
                            minlength=len(tgt)) / cov
    # same areas (GEOS both ways; the shortcuts give exactly area(target) or area(source))
    np.testing.assert_allclose(out["population"], ext, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(out["taux"], inten, rtol=1e-12)
    assert out["population"].iloc[-1] == 0 and np.isnan(out["taux"].iloc[-1])
    assert not shapely.is_prepared(src.geometry.values).any()
    assert not shapely.is_prepared(tgt.geometry.values).any()


def test_areal_interpolate_does_not_depend_on_threads_or_source_order(monkeypatch):
    src, tgt = _tiles_and_targets(seed=4)
    tgt = pd.concat([tgt] * 10, ignore_index=True)  # enough overlays for two threads
    a = areal_interpolate(src, tgt, extensive=["population"])
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # one thread
    b = areal_interpolate(src, tgt, extensive=["population"])
    # bit for bit: every pair's area on its own, each target summed in source order
    assert a["population"].to_numpy().tobytes() == b["population"].to_numpy().tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = areal_interpolate(src.iloc[::-1], tgt, extensive=["population"])
    np.testing.assert_allclose(a["population"], c["population"], rtol=1e-13)


@pytest.mark.parametrize("dtype", ["int32", "uint64", "float64", "Int64"])
def test_corner_dtypes_give_the_int64_result(dtype):
    grid = _grid(15, 15, holes=0.2, seed=6)
    zones = gpd.GeoDataFrame(geometry=_edge_case_zones(), crs=3035)
    ref = grid_population(grid, zones)
    other = grid.astype({"x_laea": dtype, "y_laea": dtype})
    pd.testing.assert_frame_equal(grid_population(other, zones), ref)
    # a grid whose first corner is 0 (the integer scan subtracts a negative offset)
    shifted = grid.assign(x_laea=grid["x_laea"] - X0, y_laea=grid["y_laea"] - Y0)
    moved = zones.translate(-X0, -Y0)
    out = grid_population(shifted.astype({"x_laea": dtype, "y_laea": dtype}),
                          gpd.GeoDataFrame(geometry=moved, crs=3035))
    # the same shares: the coordinates are 3.8e6 smaller, so 1e-9 of round-off
    np.testing.assert_allclose(out["ind"], ref["ind"], rtol=1e-9, atol=1e-9)


def test_the_validity_thread_never_touches_the_warning_filters(monkeypatch):
    # shapely.is_valid swaps the process-wide warning filters (catch_warnings): from a
    # thread it silenced the main thread's warnings at random (the test above failed ~1 in
    # 6 runs). The thread must leave them alone, whatever the timing.
    import threading

    from qpvgeo import interpolate

    entered = []
    real = warnings.catch_warnings

    class Spy(real):
        def __enter__(self):
            entered.append(threading.current_thread().name)
            return super().__enter__()

    monkeypatch.setattr(warnings, "catch_warnings", Spy)
    bowtie = Polygon([(X0, Y0), (X0 + 400, Y0 + 400), (X0 + 400, Y0), (X0, Y0 + 400)])
    geoms = np.array([bowtie] * 1000 + [box(X0, Y0, X0 + 200, Y0 + 200), None], dtype=object)
    check = interpolate._Validity(geoms, chunk=16)
    bad = check.result()
    assert entered == []
    assert bad[:1000].all() and not bad[1000:].any()  # a missing geometry is not "invalid"
