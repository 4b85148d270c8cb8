"""The peer of ``exposure_profile`` (benchmarks/composition.py) computes qpvgeo's indicators.

Issue 15 times ``exposure_profile`` against "a straightforward geopandas composition of the
same indicators, same numbers". These tests prove the "same numbers" on the ``--quick``
inputs, column by column, so that the speed-up compares like with like and fails when either
side changes a definition. Where qpvgeo departs from its own documented definition (the
columns of ``KNOWN_DIFFERENCES``, empty since both defects found were fixed), a regression
test below pins the defect's reproducer.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from benchmarks import cases
from benchmarks import generate as gen
from benchmarks import run as bench
from benchmarks.composition import (
    KNOWN_DIFFERENCES,
    compare_profiles,
    exposure_composition,
)
from qpvgeo.exposure import air_exposure, exposure_profile, green_space_access

#: Both sides compute in float64 on coordinates of ~10^6 m (float64 carries ~1e-9 m there):
#: GEOS overlays against qpvgeo's exact cell fractions, one difference per QPV against the
#: difference with their union. The largest relative difference (values below a thousandth
#: of their column's largest compared against that thousandth, see compare_profiles) is
#: 9e-12 on the quick inputs, 6e-11 on the medium ones, 1.3e-10 at full size; the smallest
#: definition difference seen (the bounding-box pre-filter) is ~1e-3.
TOL = 1e-9


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = gen.generate("quick", cache_dir=tmp_path_factory.mktemp("bench-cache"))
    every = cases._qpv_plain(folder)
    layers, grid = gen.load_layers(folder), cases._grid(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = exposure_profile(every, layers=layers, population=grid, surroundings="ring",
                                population_method="area")
        peer = exposure_composition(every, layers, grid)
    return folder, every, layers, grid, ours, peer


def test_same_columns_na_patterns_and_labels(quick):
    *_, ours, peer = quick
    cmp = compare_profiles(ours, peer)
    assert cmp["only_in_qpvgeo"] == [] and cmp["only_in_peer"] == []
    assert cmp["columns_compared"] == ours.shape[1] == 145
    assert cmp["na_mismatch"] == {}  # NA (hors couverture, no inhabitant) in the same places
    assert cmp["text_mismatch"] == {}  # the same nearest sites
    # the comparison is not of zeros and NAs: the quick QPV are exposed
    assert (ours["part_surface_inondable_extreme"] > 0).sum() >= 3
    assert (ours["part_population_sites_2000m"] > 0).sum() >= 6
    assert ours["part_couverte_flood"].eq(0).any()  # one QPV beyond the flood layer's hull
    assert ours["part_population_bruit_route_lden_68_ratio"].notna().sum() >= 6


def test_every_documented_column_agrees_to_1e9(quick):
    *_, ours, peer = quick
    cmp = compare_profiles(ours, peer)
    checked = {c: d for c, d in cmp["rel_diff_by_column"].items()
               if not KNOWN_DIFFERENCES.match(c)}
    assert len(checked) >= 140  # every numeric column: no known difference left
    worst = max(checked, key=checked.get)
    assert checked[worst] <= TOL, (worst, checked[worst])


def test_compare_profiles_catches_a_changed_definition(quick):
    *_, ours, peer = quick
    moved = peer.copy()
    moved["part_population_sites_1000m"] = moved["part_population_sites_1000m"] * (1 + 1e-6)
    assert compare_profiles(ours, moved)["max_rel_diff"] > 1e-7
    gone = peer.copy()
    gone.loc[gone.index[0], "part_surface_inondable_moyen"] = np.nan
    assert "part_surface_inondable_moyen" in compare_profiles(ours, gone)["na_mismatch"]


def test_a_zone_does_not_depend_on_the_other_zones_of_the_call(quick):
    # what --peer-regions relies on: a subset measured with every QPV removed from its rings
    # gives the same numbers as the whole run
    _, every, layers, grid, _, peer = quick
    part = every.iloc[::2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = exposure_composition(part, layers, grid, all_qpv=every)
    cmp = compare_profiles(peer.loc[sub.index], sub)
    assert cmp["na_mismatch"] == {} and cmp["text_mismatch"] == {}
    assert cmp["max_rel_diff"] <= 1e-12


def test_benchmark_cases_and_checks(quick, tmp_path):
    folder = quick[0]
    results = {name: bench.run_case(name, folder, tmp_path, opts={"repeat": 1}, timeout=600,
                                    in_process=True)
               for name in ("exposure_profile.area", "exposure_profile.composition")}
    assert all(r["status"] == "ok" for r in results.values()), results
    checks = bench.assess(results)
    speed = checks["exposure_speedup_vs_composition"]
    assert speed["value"] == pytest.approx(results["exposure_profile.composition"]["seconds"]
                                           / results["exposure_profile.area"]["seconds"])
    agree = checks["exposure_vs_composition"]
    assert agree["columns_compared"] == 145
    assert agree["max_rel_diff_outside_known_differences"] <= TOL
    assert set(agree["columns_over_tolerance"]) <= {
        c for c in quick[4].columns if KNOWN_DIFFERENCES.match(c)}
    # a composition stopped by --timeout still bounds the speed-up from below
    stopped = {**results, "exposure_profile.composition": {
        "status": "timeout", "timeout_seconds": 600.0, "reason": "did not finish"}}
    bound = bench.assess(stopped)["exposure_speedup_vs_composition"]
    assert bound["lower_bound"] and bound["value"] == pytest.approx(
        600.0 / results["exposure_profile.area"]["seconds"])


# -- the qpvgeo defects this comparison found (fixed; kept as regression tests) -------------


def _one_cell():
    x, y = 3_760_000.0, 2_890_000.0
    grid = gpd.GeoDataFrame({"x_laea": [x], "y_laea": [y], "ind": [100.0]},
                            geometry=[shapely.box(x, y, x + 200, y + 200)], crs=3035)
    return grid.to_crs(2154)


def test_qpvgeo_air_cell_mean_covers_the_whole_cell():
    grid = _one_cell()
    x0, y0, x1, y1 = grid.total_bounds
    xm = (x0 + x1) / 2
    # the zone covers the west half of the cell; the air grid splits the cell at xm + 10
    zone = gpd.GeoDataFrame({"code_qpv": ["Z"]},
                            geometry=[shapely.box(x0 - 300, y0 - 50, xm, y1 + 50)], crs=2154)
    air = gpd.GeoDataFrame({"no2": [10.0, 30.0]}, geometry=[
        shapely.box(x0 - 500, y0 - 500, xm + 10, y1 + 500),
        shapely.box(xm + 10, y0 - 500, x1 + 500, y1 + 500)], crs=2154)
    cell = grid.geometry.iloc[0]
    a = [cell.intersection(g).area for g in air.geometry]
    want = (10 * a[0] + 30 * a[1]) / sum(a)  # the cell's area-weighted mean, ~19.0
    got = air_exposure(zone, grid=air, population=grid, population_method="area",
                       pollutants=["no2"])["no2"].iloc[0]
    assert got == pytest.approx(want, rel=1e-9)


def test_qpvgeo_distance_to_a_green_space_3_km_away():
    zone = gpd.GeoDataFrame({"code_qpv": ["Z"]}, geometry=[shapely.box(0, 0, 100, 100)],
                            crs=2154)
    park = gpd.GeoDataFrame(geometry=[shapely.box(3_100, 0, 3_200, 100)], crs=2154)  # 1 ha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = green_space_access(zone, park)["distance_espace_vert_m"]
    assert got.tolist() == pytest.approx([3_000.0])


def test_the_defects_are_what_the_composition_avoids():
    # the composition's own answer to the two cases above: the documented definitions
    grid = _one_cell()
    x0, y0, x1, y1 = grid.total_bounds
    xm = (x0 + x1) / 2
    zone = gpd.GeoDataFrame({"code_qpv": ["Z"]},
                            geometry=[shapely.box(x0 - 300, y0 - 50, xm, y1 + 50)], crs=2154)
    air = gpd.GeoDataFrame({"no2": [10.0, 30.0]}, geometry=[
        shapely.box(x0 - 500, y0 - 500, xm + 10, y1 + 500),
        shapely.box(xm + 10, y0 - 500, x1 + 500, y1 + 500)], crs=2154)
    # a 12 ha park 2.7 km west of the zone, and a 0.12 ha square (too small to count) east of
    # it, so that the layer's hull (its coverage) holds the zone
    park = gpd.GeoDataFrame(geometry=[shapely.box(x0 - 3_100, y0 - 500, x0 - 3_000, y1 + 500),
                                      shapely.box(x1 + 100, y0 - 500, x1 + 101, y1 + 500)],
                            crs=2154)
    peer = exposure_composition(zone, {"air": air, "green_spaces": park},
                                pd.DataFrame(grid.drop(columns="geometry")))
    cell = grid.geometry.iloc[0]
    a = [cell.intersection(g).area for g in air.geometry]
    assert peer["no2"].iloc[0] == pytest.approx((10 * a[0] + 30 * a[1]) / sum(a), rel=1e-12)
    assert peer["part_couverte_green_spaces"].iloc[0] == 1.0
    assert peer["distance_espace_vert_m"].iloc[0] == pytest.approx(2_700.0)


def test_a_cell_over_squares_at_exactly_the_threshold_is_not_above_it():
    # two air squares at exactly the WHO 2021 PM10 guideline (15 µg/m³) split the cell: the
    # mean is 15, not 15 + 2e-15, on both sides (qpvgeo's rule: a mean of equal values is
    # that value); the full-size comparison found 2 QPV where the sums disagreed
    from qpvgeo.exposure import exposure_profile

    grid = _one_cell()
    x0, y0, x1, y1 = grid.total_bounds
    xm = (x0 + x1) / 2 + 3.6  # a split where (15 a1 + 15 a2) / (a1 + a2) is 15 + 1.8e-15
    zone = gpd.GeoDataFrame({"code_qpv": ["Z"]},
                            geometry=[shapely.box(x0 + 10, y0 + 10, x1 - 10, y1 - 10)],
                            crs=2154)
    air = gpd.GeoDataFrame({"no2": [9.0, 9.0], "pm10": [15.0, 15.0]}, geometry=[
        shapely.box(x0 - 500, y0 - 500, xm, y1 + 500),
        shapely.box(xm, y0 - 500, x1 + 500, y1 + 500)], crs=2154)
    peer = exposure_composition(zone, {"air": air}, pd.DataFrame(grid.drop(columns="geometry")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = exposure_profile(zone, layers={"air": air}, population=grid,
                                population_method="area")
    for frame in (peer, ours):
        assert frame["pm10"].iloc[0] == 15.0
        assert frame["part_population_sup_oms_2021_pm10"].iloc[0] == 0.0
