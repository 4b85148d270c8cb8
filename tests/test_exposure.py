"""Exposure indicators (qpvgeo.exposure) and the readers of the environmental layers.

Hand-made geometries give known answers; the real layers of ``../shared/data`` are read
once per module and their indicators checked against the figures their SOURCE.md
publishes (each cited) or against an independent brute-force computation.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import importorskip_or_fail
from shapely.geometry import Point, Polygon, box

from qpvgeo.errors import (
    DataFormatError,
    DuplicateCodeError,
    MissingCRSError,
    QpvgeoError,
    QpvgeoWarning,
    SchemaError,
)
from qpvgeo.exposure import (
    air_exposure,
    compare_to_surroundings,
    describe_exposure_columns,
    exposure_profile,
    flood_exposure,
    green_space_access,
    heat_exposure,
    industrial_exposure,
    noise_exposure,
    surroundings,
)
from qpvgeo.readers.environment import (
    read_air_stations,
    read_flood_extents,
    read_green_spaces,
    read_heat_iris,
    read_industrial_sites,
    read_noise_map,
)
from qpvgeo.readers.grid import cell_squares


def zones_of(*geoms, codes=None, crs=2154, **columns) -> gpd.GeoDataFrame:
    codes = codes or [f"QP099{i:03d}" for i in range(1, len(geoms) + 1)]
    return gpd.GeoDataFrame({"code_qpv": codes, **columns}, geometry=list(geoms), crs=crs)


def uniform_grid(x0: float, y0: float, n: int, ind: float = 25.0) -> gpd.GeoDataFrame:
    """An n x n Filosofi-layout grid (LAEA corners, 200 m) with the same population per cell."""
    xs, ys = np.meshgrid(x0 + 200.0 * np.arange(n), y0 + 200.0 * np.arange(n))
    xs, ys = xs.ravel(), ys.ravel()
    return gpd.GeoDataFrame(
        {"x_laea": xs, "y_laea": ys, "ind": np.full(xs.size, ind)},
        geometry=cell_squares(xs, ys).values,
        crs=2154,
    )


X0, Y0 = 3_800_000.0, 2_900_000.0  # a place in France, in EPSG:3035


# -- known answers on hand-made geometry ----------------------------------------------------


def test_square_half_in_flood_gives_half_its_area_and_half_its_population():
    # Zone: 4 x 4 cells of a uniform 200 m grid; flood: its left half. Everything is drawn
    # in EPSG:3035 (where the cells are exact) and reprojected by the indicator.
    zone = zones_of(box(X0 + 400, Y0 + 400, X0 + 1200, Y0 + 1200), crs=3035)
    flood = gpd.GeoDataFrame(
        {"scenario": ["moyen"]},
        # The cut runs between the midpoints of the zone's edges, so that reprojection
        # moves the same vertices in both layers.
        geometry=[box(X0 - 1000, Y0 + 400, X0 + 800, Y0 + 1200)],
        crs=3035,
    )
    grid = uniform_grid(X0, Y0, 8)
    r = flood_exposure(zone, flood, population=grid)
    # Lambert-93 is conformal, not equal-area: its scale varies across the 800 m square, so
    # the two halves measured there differ by ~1e-6; populations are shared in LAEA (exact).
    assert r["part_surface_inondable_moyen"].iloc[0] == pytest.approx(0.5, abs=1e-5)
    assert r["surface_inondable_moyen_m2"].iloc[0] == pytest.approx(
        0.5 * zone.to_crs(2154).area.iloc[0], rel=1e-5
    )
    # 16 cells x 25 inhabitants, half of them in the flood.
    assert r["population_grille"].iloc[0] == pytest.approx(400.0, rel=1e-6)
    assert r["part_population_inondable_moyen"].iloc[0] == pytest.approx(0.5, abs=1e-6)
    assert r["population_inondable_moyen"].iloc[0] == pytest.approx(200.0, rel=1e-5)


def test_official_population_scales_counts_and_keeps_grid_estimate():
    zone = zones_of(box(X0 + 400, Y0 + 400, X0 + 1200, Y0 + 1200), crs=3035, population=[1000])
    flood = gpd.GeoDataFrame(geometry=[box(X0, Y0 + 400, X0 + 800, Y0 + 1200)], crs=3035)
    r = flood_exposure(zone, flood, population=uniform_grid(X0, Y0, 8))
    assert r["population"].iloc[0] == 1000
    assert r["population_grille"].iloc[0] == pytest.approx(400.0, rel=1e-6)
    assert r["population_inondable"].iloc[0] == pytest.approx(500.0, rel=1e-5)


def test_flood_overlaps_dissolved_per_scenario_in_covadis_order():
    zone = zones_of(box(0, 0, 100, 100))
    flood = gpd.GeoDataFrame(
        {"scenario": ["extreme", "frequent", "frequent"]},
        geometry=[box(0, 0, 90, 100), box(0, 0, 50, 100), box(25, 0, 50, 100)],
        crs=2154,
    )
    r = flood_exposure(zone, flood)
    # Summing the two overlapping "frequent" polygons would give 0.75.
    assert r["part_surface_inondable_frequent"].iloc[0] == pytest.approx(0.5)
    assert r["part_surface_inondable_extreme"].iloc[0] == pytest.approx(0.9)
    parts = [c for c in r.columns if c.startswith("part_surface")]
    assert parts == ["part_surface_inondable_frequent", "part_surface_inondable_extreme"]


def test_site_at_750_m_counts_at_1000_not_500_and_seveso_split():
    zone = zones_of(box(0, 0, 100, 100), box(5000, 0, 5100, 100))
    sites = gpd.GeoDataFrame(
        {
            "code_site": ["A", "B", "C", "D"],
            "seveso": ["haut", "bas", "non", "haut"],
        },
        # A 750 m east of the first zone's edge, B exactly 500 m north, C inside,
        # D 1,900 m east of the second zone.
        geometry=[Point(850, 50), Point(50, 600), Point(50, 50), Point(7000, 50)],
        crs=2154,
    )
    r = industrial_exposure(zone, sites)
    first, second = r.iloc[0], r.iloc[1]
    assert first["distance_site_m"] == 0.0 and first["site_plus_proche"] == "C"
    assert first["distance_seveso_haut_m"] == pytest.approx(750.0)
    assert first["seveso_haut_plus_proche"] == "A"
    # <= radius: B at exactly 500 m counts at 500; A at 750 m at 1,000 and not at 500.
    assert (first["n_sites_500m"], first["n_sites_1000m"], first["n_sites_2000m"]) == (2, 3, 3)
    assert (first["n_seveso_haut_500m"], first["n_seveso_haut_1000m"]) == (0, 1)
    assert (first["n_seveso_bas_500m"], first["n_seveso_bas_1000m"]) == (1, 1)
    assert second["distance_site_m"] == pytest.approx(1900.0)
    assert (second["n_sites_1000m"], second["n_sites_2000m"]) == (0, 1)
    assert first["part_surface_sites_500m"] == pytest.approx(1.0)
    assert second["part_surface_sites_1000m"] == 0.0
    # The second zone lies 1,900-2,000 m from D: only the part within 2,000 m counts
    # (a 100 m strip minus the curvature of the circle: 0.99 of the zone, computed exactly).
    expected = (
        zone.geometry.iloc[1].intersection(Point(7000, 50).buffer(2000, quad_segs=32)).area / 10_000
    )
    assert second["part_surface_sites_2000m"] == pytest.approx(expected, rel=1e-9)


def test_population_within_radius_with_uniform_grid():
    zone = zones_of(box(X0 + 400, Y0 + 400, X0 + 1200, Y0 + 1200), crs=3035)
    sites = gpd.GeoDataFrame({"code_site": ["A"]}, geometry=[Point(X0 + 2200, Y0 + 800)], crs=3035)
    r = industrial_exposure(zone, sites, radii=(1000, 5000), population=uniform_grid(X0, Y0, 8))
    assert r["part_population_sites_5000m"].iloc[0] == pytest.approx(1.0)
    # Within 1,000 m: the zone's strip x >= X0 + 1200 - ... nothing (edge is 1,000 m away
    # at one point only): the share is the area share, the grid being uniform.
    assert r["part_population_sites_1000m"].iloc[0] == pytest.approx(
        r["part_surface_sites_1000m"].iloc[0], abs=1e-6
    )


def test_sources_without_seveso_field_give_no_seveso_columns():
    zone = zones_of(box(0, 0, 100, 100))
    irep = gpd.GeoDataFrame(
        {"code_site": ["0007000955"], "seveso": pd.array([pd.NA], dtype="string")},
        geometry=[Point(300, 50)],
        crs=2154,
    )
    r = industrial_exposure(zone, irep)
    assert r["n_sites_500m"].iloc[0] == 1
    assert not [c for c in r.columns if "seveso" in c]


def test_layers_in_another_crs_are_reprojected():
    zone = zones_of(box(700000, 7000000, 701000, 7001000))
    flood_l93 = gpd.GeoDataFrame(geometry=[box(700000, 7000000, 700300, 7001000)], crs=2154)
    a = flood_exposure(zone, flood_l93)["part_surface_inondable"].iloc[0]
    b = flood_exposure(zone.to_crs(4326), flood_l93.to_crs(4326))["part_surface_inondable"].iloc[0]
    assert a == pytest.approx(0.3)
    # Round trip through degrees: vertices move by micrometres.
    assert b == pytest.approx(a, abs=1e-6)


def test_empty_layer_gives_zeros_and_a_warning():
    zone = zones_of(box(0, 0, 100, 100))
    empty = gpd.GeoDataFrame({"scenario": []}, geometry=[], crs=2154)
    with pytest.warns(QpvgeoWarning, match="empty"):
        r = flood_exposure(zone, empty)
    assert r.filter(like="part_surface").iloc[0].tolist() == [0.0, 0.0, 0.0]
    with pytest.warns(QpvgeoWarning, match="empty"):
        s = industrial_exposure(zone, gpd.GeoDataFrame({"code_site": []}, geometry=[], crs=2154))
    assert np.isnan(s["distance_site_m"].iloc[0]) and s["n_sites_2000m"].iloc[0] == 0


def test_layer_far_from_the_zones_warns():
    zone = zones_of(box(0, 0, 100, 100))
    far = gpd.GeoDataFrame(geometry=[box(10_000, 0, 10_100, 100)], crs=2154)
    with pytest.warns(QpvgeoWarning, match="no feature"):
        r = flood_exposure(zone, far)
    assert r["part_surface_inondable"].iloc[0] == 0.0


def test_invalid_bowtie_polygon_is_repaired():
    zone = zones_of(box(0, 0, 100, 100))
    bowtie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # two triangles of 2,500 m²
    assert not bowtie.is_valid
    noise = gpd.GeoDataFrame(
        {"source": ["route"], "indicateur": ["lden"], "lden_min": [68]},
        geometry=[bowtie],
        crs=2154,
    )
    with pytest.warns(QpvgeoWarning, match="repaired 1 invalid"):
        r = noise_exposure(zone, noise)
    assert r["part_surface_bruit_route_lden_68"].iloc[0] == pytest.approx(0.5)


def test_noise_type_a_bands_are_cumulative_levels():
    zone = zones_of(box(0, 0, 100, 100))
    bands = gpd.GeoDataFrame(
        {
            "source": ["fer"] * 4,
            "indicateur": ["lden"] * 4,
            "lden_min": [55, 60, 65, 70],
            "lden_max": [60, 65, 70, 75],
        },
        # The 70-75 band lies 10 km away: its column exists (0), whatever the zones.
        geometry=[
            box(20, 0, 50, 100),
            box(5, 0, 20, 100),
            box(0, 0, 5, 100),
            box(10_000, 0, 10_100, 100),
        ],
        crs=2154,
    )
    r = noise_exposure(zone, bands)
    assert r["part_surface_bruit_fer_lden_70"].iloc[0] == 0.0
    assert r["part_surface_bruit_fer_lden_55"].iloc[0] == pytest.approx(0.5)
    assert r["part_surface_bruit_fer_lden_60"].iloc[0] == pytest.approx(0.2)
    assert r["part_surface_bruit_fer_lden_65"].iloc[0] == pytest.approx(0.05)


def test_green_space_access_who_indicator():
    zone = zones_of(box(0, 0, 1000, 100))
    parks = gpd.GeoDataFrame(
        {"nom": ["parc", "square", "pelouse a", "pelouse b"]},
        geometry=[
            box(-300, 0, -200, 100),  # 1 ha, 200 m west: its 300 m reach covers x < 100
            box(500, 0, 540, 100),  # 0.4 ha, inside: below the WHO 0.5 ha
            box(-300, 300, -250, 400),  # two 0.25 ha lawns that touch: one 0.5 ha park
            box(-250, 300, -200, 400),
        ],
        crs=2154,
    )
    r = green_space_access(zone, parks)
    assert r["part_surface_acces_espace_vert"].iloc[0] == pytest.approx(0.1, rel=1e-9)
    assert r["distance_espace_vert_m"].iloc[0] == pytest.approx(200.0)
    assert r["n_espaces_verts"].iloc[0] == 2  # the park and the merged lawns
    # Every green space counts: the square adds x in [200, 840] (64 % of the zone).
    r0 = green_space_access(zone, parks, min_area=0)
    assert r0["part_surface_acces_espace_vert"].iloc[0] == pytest.approx(0.74, rel=1e-9)
    assert r0["distance_espace_vert_m"].iloc[0] == 0.0


def test_heat_numeric_mean_and_categorical_shares():
    zone = zones_of(box(0, 0, 100, 100))
    numeric = gpd.GeoDataFrame(
        {"score_chaleur": [0.2, 0.8]}, geometry=[box(0, 0, 25, 100), box(25, 0, 200, 100)], crs=2154
    )
    assert heat_exposure(zone, numeric)["score_chaleur"].iloc[0] == pytest.approx(0.65)
    classes = gpd.GeoDataFrame(
        {"lcz": ["2", "9", "6"]},  # LCZ 2 compact mid-rise, 9 sparse, 6 open low-rise
        geometry=[box(0, 0, 30, 100), box(30, 0, 40, 100), box(40, 0, 80, 100)],
        crs=2154,
    )
    r = heat_exposure(zone, classes)
    assert r.iloc[0][
        [
            "part_surface_chaleur_forte",
            "part_surface_chaleur_faible",
            "part_surface_chaleur_moyenne",
        ]
    ].tolist() == pytest.approx([0.3, 0.1, 0.4])
    assert r["part_surface_couverte_chaleur"].iloc[0] == pytest.approx(0.8)


def test_raster_zonal_means_equal_exactextract_and_rasterstats(tmp_path):
    rasterio = importorskip_or_fail("rasterio")
    from exactextract import exact_extract
    from rasterio.transform import from_origin
    from rasterstats import zonal_stats

    values = np.arange(100, dtype="float32").reshape(10, 10) * 0.5 + 10.0
    path = tmp_path / "no2.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="float32",
        crs="EPSG:2154",
        transform=from_origin(700000, 6601000, 100, 100),
    ) as dst:
        dst.write(values, 1)
    zones = zones_of(
        box(700000, 6600000, 700300, 6600200),  # six whole pixels
        box(700150, 6600450, 700720, 6600980),  # cuts pixels: partial coverage
    )
    r = air_exposure(zones, raster=path, pollutants=["no2"])
    ee = exact_extract(str(path), zones, "mean", output="pandas")["mean"].to_numpy()
    np.testing.assert_allclose(r["no2"].to_numpy(), ee, rtol=1e-9)
    # rasterstats counts pixels whose centre is inside: equal where pixels are whole.
    rs = zonal_stats(zones.iloc[[0]], str(path), stats="mean")[0]["mean"]
    assert r["no2"].iloc[0] == pytest.approx(rs, rel=1e-9)
    # The partly covered zone: the coverage-weighted mean, recomputed pixel by pixel.
    rows, cols = np.mgrid[0:10, 0:10]
    pixels = shapely.box(
        700000 + 100 * cols, 6600900 - 100 * rows, 700100 + 100 * cols, 6601000 - 100 * rows
    ).ravel()
    w = shapely.area(shapely.intersection(pixels, zones.geometry.iloc[1]))
    assert r["no2"].iloc[1] == pytest.approx((w * values.ravel()).sum() / w.sum(), rel=1e-6)
    # Population weighting: all inhabitants in one pixel give that pixel's value.
    people = gpd.GeoDataFrame(
        {"population": [100.0]}, geometry=[box(700200, 6600500, 700300, 6600600)], crs=2154
    )
    rp = air_exposure(zones, raster=path, pollutants=["no2"], population=people)
    assert rp["no2"].iloc[1] == pytest.approx(values[4, 2], rel=1e-6)
    assert rp.attrs["ponderation"] == "population"


def test_air_grid_area_and_population_weighting():
    zone = zones_of(box(0, 0, 100, 100))
    grid = gpd.GeoDataFrame(
        {"no2": [10.0, 30.0], "pm10": [20.0, np.nan]},
        geometry=[box(0, 0, 50, 100), box(50, 0, 200, 100)],
        crs=2154,
    )
    r = air_exposure(zone, grid=grid, pollutants=["no2", "pm10"])
    assert r["no2"].iloc[0] == pytest.approx(20.0)
    assert r["pm10"].iloc[0] == pytest.approx(20.0)  # the cell without a value is left out
    people = gpd.GeoDataFrame({"population": [300.0]}, geometry=[box(0, 0, 40, 100)], crs=2154)
    rp = air_exposure(zone, grid=grid, pollutants=["no2"], population=people)
    assert rp["no2"].iloc[0] == pytest.approx(10.0)


def test_air_stations_nearest_station_per_pollutant():
    zone = zones_of(box(0, 0, 100, 100))
    stations = gpd.GeoDataFrame(
        {"code_station": ["FR1", "FR2"], "no2": [25.0, 15.0], "pm10": [np.nan, 18.0]},
        geometry=[Point(400, 50), Point(0, 1100)],
        crs=2154,
    )
    r = air_exposure(zone, stations=stations).iloc[0]
    assert (r["no2"], r["no2_station"], r["no2_distance_station_m"]) == (25.0, "FR1", 300.0)
    assert (r["pm10"], r["pm10_station"], r["pm10_distance_station_m"]) == (18.0, "FR2", 1000.0)
    assert np.isnan(r["pm25"])


def test_compare_to_rest_of_commune():
    zone = zones_of(box(0, 0, 100, 100), code_commune=["99001"])
    other_qpv = zones_of(box(800, 800, 900, 900), codes=["QP099009"])
    communes = gpd.GeoDataFrame(
        {"code_commune": ["99001"]}, geometry=[box(0, 0, 1000, 1000)], crs=2154
    )
    flood = gpd.GeoDataFrame(geometry=[box(0, 0, 500, 1000)], crs=2154)
    r = compare_to_surroundings(
        flood_exposure,
        zone,
        how="rest_of_commune",
        communes=communes,
        qpv=pd.concat([zone, other_qpv]),
        flood=flood,
    )
    # The commune minus both QPV: 980,000 m², of which 490,000 m² flooded.
    assert r["part_surface_inondable_environs"].iloc[0] == pytest.approx(0.5)
    assert r["part_surface_inondable_ratio"].iloc[0] == pytest.approx(2.0)
    ring = surroundings(zone, ring=50)
    assert ring.geometry.iloc[0].intersection(zone.geometry.iloc[0]).area == pytest.approx(0)


def test_bad_inputs_are_named_errors():
    zone = zones_of(box(0, 0, 100, 100), box(0, 0, 10, 10), codes=["QP099001", "QP099001"])
    flood = gpd.GeoDataFrame(geometry=[box(0, 0, 50, 100)], crs=2154)
    with pytest.raises(DuplicateCodeError, match="QP099001"):
        flood_exposure(zone, flood)
    with pytest.raises(MissingCRSError, match="flood"):
        flood_exposure(zones_of(box(0, 0, 1, 1)), gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
    sites = gpd.GeoDataFrame({"seveso": ["SEUIL?"]}, geometry=[Point(0, 0)], crs=2154)
    with pytest.raises(SchemaError, match="seveso"):
        industrial_exposure(zones_of(box(0, 0, 1, 1)), sites)
    with pytest.raises(QpvgeoError, match="exactly one"):
        air_exposure(zones_of(box(0, 0, 1, 1)), grid=flood, stations=sites)
    with pytest.raises(SchemaError, match="undocumented"):
        describe_exposure_columns(["nimporte_quoi"])


def test_demo_profile_every_indicator_documented():
    from qpvgeo.datasets import demo

    d = demo()
    qpv = d.qpv.merge(d.indicators[["population"]], left_on="code_qpv", right_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        p = exposure_profile(
            qpv,
            flood=d.flood,
            sites=d.sites,
            air=d.air,
            heat=d.heat,
            green_spaces=d.green_spaces,
            noise=d.noise,
            population=d.grid,
        )
        # The profile's default population base for a grid is the calibrated estimator.
        flood = flood_exposure(qpv, d.flood, population=d.grid, population_method="calibrated")
    assert list(p.index) == sorted(d.qpv["code_qpv"]) or set(p.index) == set(d.qpv["code_qpv"])
    assert len(p) == 4
    doc = describe_exposure_columns(p)
    assert list(doc["colonne"]) == list(p.columns)
    assert set(p.attrs["columns"]) == set(p.columns)
    assert p.attrs["columns"]["no2"]["unité"] == "µg/m³"
    shares = p.filter(regex="^part_").loc[:, lambda f: ~f.columns.str.endswith("_ratio")]
    assert ((shares.fillna(0) >= 0) & (shares.fillna(0) <= 1)).all().all()
    pd.testing.assert_series_equal(
        p["part_population_inondable_extreme"], flood["part_population_inondable_extreme"]
    )
    # Official populations (d.indicators) are the level; the grid only the distribution.
    assert (p["population"] == qpv.set_index("code_qpv")["population"].reindex(p.index)).all()
    for c in ("part_surface_bruit_route_lden_68", "no2", "score_chaleur"):
        assert f"{c}_environs" in p and f"{c}_ratio" in p


# -- readers on small files ----------------------------------------------------------------


def test_read_noise_map_latin1_dbf_without_cpg(tmp_path):
    path = tmp_path / "N_BRUIT_ZBRD_INFRA_R_C_LN_S_033.shp"
    gpd.GeoDataFrame(
        {
            "CODINFRA": ["C_Bègles"],
            "TYPESOURCE": ["R"],
            "INDICETYPE": ["LN"],
            "CBSTYPE": ["C"],
            "LEGENDE": ["62"],
        },
        geometry=[box(0, 0, 10, 10)],
        crs=2154,
    ).to_file(path, encoding="ISO-8859-1")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert "è".encode("latin-1") in path.with_suffix(".dbf").read_bytes()
    r = read_noise_map(path)
    assert r[["source", "indicateur", "lden_min", "type_carte"]].iloc[0].tolist() == [
        "route",
        "ln",
        62.0,
        "C",
    ]


def test_read_flood_csv_scenarios_and_errors(tmp_path):
    ring = "[[3.1, 50.6], [3.2, 50.6], [3.2, 50.7], [3.1, 50.6]]"
    shape = '"{""type"": ""Polygon"", ""coordinates"": [' + ring + ']}"'
    f = tmp_path / "n_tri_lill_inondable_s_059.csv"
    f.write_text(
        "geo_shape;scenario;id_tri\n"
        f"{shape};01For;FRA_TRI_LILL\n{shape};04Fai;FRA_TRI_LILL\n;02Moy;FRA_TRI_LILL\n"
    )
    with pytest.warns(QpvgeoWarning, match="dropped 1 feature"):
        r = read_flood_extents(f)
    assert r["scenario"].tolist() == ["frequent", "extreme"] and r.crs.to_epsg() == 2154
    f.write_text(f"geo_shape;scenario\n{shape};99Zzz\n")
    with pytest.raises(DataFormatError, match="99zzz"):
        read_flood_extents(f)


def test_read_sites_irep_ids_padded_and_air_long_table(tmp_path):
    f = tmp_path / "irep.csv"
    f.write_text("identifiant,nom_etablissement,latitude,longitude\n7000955,USINE,50.63,3.06\n")
    r = read_industrial_sites(f)
    assert r["code_site"].tolist() == ["0007000955"] and r["seveso"].isna().all()
    a = tmp_path / "atmo.csv"
    a.write_text(
        "code_station,nom_station,nom_poll,valeur,date_debut,statut_valid,x_l93,y_l93,insee_com\n"
        "FR1,A,NO2,20.5,2022/01/01,t,570000,6280000,9261\n"
        "FR1,A,PM2.5,9.0,2022/01/01,t,570000,6280000,9261\n"
        "FR1,A,NO2,,2022/01/01,f,570000,6280000,9261\n"
        "FR1,A,NO2,25.0,2021/01/01,t,570000,6280000,9261\n"
    )
    s = read_air_stations(a)
    assert s.attrs["annee"] == 2022
    assert s[["no2", "pm25", "code_commune"]].iloc[0].tolist()[:2] == [20.5, 9.0]
    assert s["code_commune"].iloc[0] == "09261" and np.isnan(s["pm10"].iloc[0])
    assert read_air_stations(a, year=2021)["no2"].iloc[0] == 25.0
    a.write_text(a.read_text() + "FR1,A,NO2,21.0,2022/01/01,t,570000,6280000,9261\n")
    with pytest.raises(DataFormatError, match="FR1"):
        read_air_stations(a)


# -- real layers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qpv2015(shared_data):
    from qpvgeo.readers import read_qpv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        return read_qpv(shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp")


@pytest.fixture(scope="module")
def hdf2015(qpv2015):
    return qpv2015[qpv2015["code_departement"].isin(["02", "59", "60", "62", "80"])]


@pytest.fixture(scope="module")
def hdf2024(shared_data):
    from qpvgeo.readers import read_qpv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        return read_qpv(
            shared_data / "qpv2024_contours_simplified" / "qpv2024_hdf_simplified.geojson"
        )


@pytest.fixture(scope="module")
def occitanie(shared_data):
    from qpvgeo.readers import read_qpv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        return read_qpv(shared_data / "qpv2015_occitanie_hackaviz" / "qp.geojson")


def _brute_force_counts(zones, sites, radius):
    d = shapely.distance(
        np.asarray(zones.geometry.array)[:, None], np.asarray(sites.geometry.array)[None, :]
    )
    return int(((d <= radius).sum(axis=1) > 0).sum())


def test_hdf_qpv_against_seveso_and_irep_sites(shared_data, hdf2015, hdf2024):
    seveso = read_industrial_sites(shared_data / "icpe_hdf" / "seveso_sh_prio_ied_hdf.gpkg")
    seveso_csv = read_industrial_sites(shared_data / "icpe_hdf" / "seveso_sh_prio_ied_hdf.csv")
    assert len(seveso) == 49 and (seveso["seveso"] == "haut").all()  # SOURCE.md: 49 SH sites
    # CSV x/y are the GPKG points rounded to the centimetre.
    assert shapely.distance(seveso.geometry.values, seveso_csv.geometry.values).max() < 0.01
    irep = read_industrial_sites(
        shared_data / "industrial_emitters_irep_hdf" / "irep_sites_2021_hdf.csv"
    )
    assert len(irep) == 1047 and irep["code_site"].str.len().eq(10).all()
    for qpv, n_seveso, n_irep, inside in (
        (hdf2015, (4, 14, 33), (84, 136, 187), 15),
        (hdf2024, (5, 15, 36), (90, 150, 194), 18),
    ):
        r = industrial_exposure(qpv, seveso)
        near = tuple(int((r[f"n_seveso_haut_{d}m"] > 0).sum()) for d in (500, 1000, 2000))
        assert near == n_seveso
        # Independent check: the full QPV x site distance matrix.
        assert near == tuple(_brute_force_counts(qpv, seveso, d) for d in (500, 1000, 2000))
        ri = industrial_exposure(qpv, irep)
        assert tuple(int((ri[f"n_sites_{d}m"] > 0).sum()) for d in (500, 1000, 2000)) == n_irep
        assert int((ri["distance_site_m"] == 0).sum()) == inside
    r15 = industrial_exposure(hdf2015, seveso)
    # QP062031 holds a Seveso upper-tier site; QP059078 lies 20 m from one.
    assert r15.loc["QP062031", "distance_seveso_haut_m"] == 0.0
    assert r15.loc["QP059078", "distance_seveso_haut_m"] == pytest.approx(20.1, abs=0.1)


def test_tri_lille_flood_excerpt(shared_data, hdf2015, hdf2024):
    from qpvgeo.readers import read_communes

    with pytest.warns(QpvgeoWarning, match="dropped 1 feature"):  # SOURCE.md: row 4 is empty
        flood = read_flood_extents(
            shared_data / "flood_hdf" / "n_tri_lill_inondable_s_059_excerpt.csv"
        )
    assert flood["scenario"].value_counts().to_dict() == {"frequent": 4, "moyen": 2, "extreme": 1}
    # The excerpt lies in the Marque valley, 2.0-2.2 km from the nearest QPV: no overlap.
    for qpv, gap in ((hdf2015, 2238.8), (hdf2024, 2019.4)):
        assert qpv.distance(flood.union_all()).min() == pytest.approx(gap, abs=0.1)
        with pytest.warns(QpvgeoWarning, match="no feature"):
            r = flood_exposure(qpv, flood)
        assert (r.filter(like="part_surface") == 0).all().all()
    # Against the communes, which partition the land: flooded areas add up to the dissolved
    # extents of each scenario (13,196.9 / 3,240.6 / 1,155.4 m²).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        communes = read_communes(shared_data / "communes_hdf" / "communes_hdf_cog2025.gpkg")
        c = flood_exposure(communes, flood, key="code_commune")
    totals = c[[f"surface_inondable_{s}_m2" for s in ("frequent", "moyen", "extreme")]].sum()
    np.testing.assert_allclose(totals.to_numpy(), [13196.9, 3240.6, 1155.4], atol=0.1)
    assert c.loc["59602", "surface_inondable_frequent_m2"] == pytest.approx(5306.0, abs=0.1)


def test_lille_heat_iris(shared_data, hdf2015, hdf2024):
    heat = read_heat_iris(
        shared_data / "urban_heat_lcz" / "lille_iris_heat_vulnerability.geojson",
        population=shared_data / "urban_heat_lcz" / "lille_iris_elderly_pct.csv",
    )
    # SOURCE.md: High 62 / Medium 38 / Low 10; population about 204,241.
    assert heat["score_chaleur"].value_counts().to_dict() == {
        "forte": 62,
        "moyenne": 38,
        "faible": 10,
    }
    assert heat["population"].sum() == pytest.approx(204_241, abs=1)
    r = heat_exposure(hdf2015, heat)
    lille = r[r["part_surface_couverte_chaleur"] > 0]
    assert sorted(lille.index) == ["QP059073", "QP059074", "QP059075", "QP059076", "QP059080"]
    assert lille.loc["QP059076", "part_surface_chaleur_forte"] == pytest.approx(1.0, abs=1e-6)
    assert lille.loc["QP059075", "part_surface_chaleur_forte"] == pytest.approx(0.863, abs=1e-3)
    # QP059080 spreads over communes outside Lille: a quarter of it is covered.
    assert lille.loc["QP059080", "part_surface_couverte_chaleur"] == pytest.approx(0.253, abs=1e-3)
    r24 = heat_exposure(hdf2024, heat)
    assert r24.loc["QN05974M", "part_surface_chaleur_forte"] == pytest.approx(1.0, abs=1e-6)
    assert r24.loc["QN05971M", "part_surface_chaleur_moyenne"] == pytest.approx(0.830, abs=1e-3)
    # The IRIS populations as population source: a QPV wholly in "forte" IRIS stays at 1.
    rp = heat_exposure(hdf2015.loc[hdf2015["code_qpv"].isin(lille.index)], heat, population=heat)
    assert rp.loc["QP059076", "part_population_chaleur_forte"] == pytest.approx(1.0, abs=1e-6)


def test_occitanie_air_stations(shared_data, occitanie):
    stations = read_air_stations(
        shared_data / "air_quality_occitanie" / "atmo_occitanie_mesure_annuelle_2018_2023.csv"
    )
    assert stations.attrs["annee"] == 2023 and len(stations) == 32
    r = air_exposure(occitanie, stations=stations)
    empalot = r.loc["QP031010"]
    # 2023: the nearest station, Toulouse-Berthelot (381 m), has no valid NO2 mean, so NO2
    # comes from the ring-road traffic station; PM2.5 still from Berthelot.
    assert (empalot["no2_station"], empalot["no2"]) == ("FR50048", 47.3)
    assert empalot["no2_distance_station_m"] == pytest.approx(489.7, abs=0.1)
    assert (empalot["pm25_station"], empalot["pm25"]) == ("FR50030", 8.2)
    assert empalot["pm25_distance_station_m"] == pytest.approx(381.2, abs=0.1)
    y2022 = read_air_stations(
        shared_data / "air_quality_occitanie" / "atmo_occitanie_mesure_annuelle_2018_2023.csv",
        year=2022,
    )
    e22 = air_exposure(occitanie, stations=y2022).loc["QP031010"]
    assert (e22["no2_station"], e22["no2"], e22["pm10"]) == ("FR50030", 13.0, 18.0)
    # A station stands for a zone up to 2 km (STATION_MAX_DISTANCE): 42 of the 105 QPV get
    # an NO2 value, 30 a PM2.5 value; the distance to the nearest station is always given.
    assert (int(r["no2"].notna().sum()), int(r["pm25"].notna().sum())) == (42, 30)
    assert r["no2_distance_station_m"].notna().all()
    assert (r.loc[r["no2"].notna(), "no2_distance_station_m"] <= 2000).all()
    # SOURCE.md, over the 47 stations whatever they measure: 3 QPV hold a station, 17 have
    # one within 500 m, 31 within 1 km, 54 within 2 km; median distance about 1.9 km.
    every = gpd.read_file(
        shared_data / "air_quality_occitanie" / "atmo_occitanie_mesure_annuelle_2018_2023.geojson"
    ).drop_duplicates("code_station")
    d = air_exposure(
        occitanie,
        stations=every.assign(no2=1.0)[["code_station", "no2", "geometry"]],
        pollutants=["no2"],
    )["no2_distance_station_m"]
    assert len(every) == 47
    assert [
        int((d == 0).sum()),
        int((d <= 500).sum()),
        int((d <= 1000).sum()),
        int((d <= 2000).sum()),
    ] == [3, 17, 31, 54]
    assert d.median() == pytest.approx(1900, abs=50)
    with pytest.warns(QpvgeoWarning, match="station locations only"):
        lcsqa = read_air_stations(shared_data / "air_quality" / "stations_lcsqa_hdf.csv")
    assert len(lcsqa) == 44 and lcsqa[["no2", "pm10", "pm25"]].isna().all().all()
    # Locations without concentrations cannot give an exposure: a named error, not all-NA.
    with pytest.raises(SchemaError, match=r"columns \['no2', 'pm10', 'pm25'\] hold no value"):
        air_exposure(occitanie, stations=lcsqa)


def test_toulouse_montpellier_green_spaces_and_heat(shared_data, occitanie):
    cases = (
        ("31555", "green_spaces_toulouse/espaces-verts.geojson", "toulouse", 8),
        (
            "34172",
            "green_spaces_montpellier/VilleMTP_MTP_EspacesVertsSurface.geojson",
            "montpellier",
            11,
        ),
    )
    results = {}
    for code, layer, city, touching in cases:
        qpv = occitanie[occitanie["code_commune"] == code]
        assert len(qpv) == 12
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QpvgeoWarning)
            parks = read_green_spaces(shared_data / layer)
        # SOURCE.md: all 12 QPV have a green space within 300 m; 8 (Toulouse) and 11
        # (Montpellier) intersect one.
        any_size = green_space_access(qpv, parks, min_area=0)
        assert int((any_size["distance_espace_vert_m"] <= 300).sum()) == 12
        assert int((any_size["distance_espace_vert_m"] == 0).sum()) == touching
        results[city] = green_space_access(qpv, parks)
        heat = read_heat_iris(
            shared_data / "urban_heat_lcz_occitanie" / f"{city}_iris_heat_vulnerability.geojson"
        )
        h = heat_exposure(qpv, heat)
        # SOURCE.md: the IRIS cover 99.9-100 % of each QPV.
        assert (h["part_surface_couverte_chaleur"] >= 0.998).all()
        results[f"{city}_heat"] = h
    t, m = results["toulouse"], results["montpellier"]
    assert t.loc["QP031010", "part_surface_acces_espace_vert"] == pytest.approx(1.0)
    assert t.loc["QP031009", "part_surface_acces_espace_vert"] == 0.0
    assert t.loc["QP031009", "distance_espace_vert_m"] == pytest.approx(597.9, abs=0.1)
    assert m.loc["QP034014", "part_surface_acces_espace_vert"] == pytest.approx(0.086, abs=1e-3)
    assert results["montpellier_heat"].loc["QP034015", "part_surface_chaleur_faible"] == (
        pytest.approx(1.0, abs=1e-3)
    )
    assert results["toulouse_heat"].loc["QP031015", "part_surface_chaleur_forte"] == (
        pytest.approx(0.784, abs=1e-3)
    )


def test_occitanie_seveso_and_irep(shared_data, occitanie):
    seveso = read_industrial_sites(
        shared_data / "icpe_occitanie" / "seveso_sh_prio_ied_occitanie.csv"
    )
    r = industrial_exposure(occitanie, seveso, radii=(1000, 2000, 5000))
    # SOURCE.md: QPV within 1 km of a site: 3; within 2 km: 8; within 5 km: 22.
    assert [int((r[f"n_seveso_haut_{d}m"] > 0).sum()) for d in (1000, 2000, 5000)] == [3, 8, 22]
    empalot = r.loc["QP031010"]
    assert seveso.set_index("code_site").loc[empalot["seveso_haut_plus_proche"], "nom_site"] == (
        "ARIANEGROUP SAS"
    )
    # SOURCE.md: 189 m. The Hackaviz contours are rounded to 4 decimals of a degree (about
    # 10 m), so the distance is only known to about 10 m.
    assert empalot["distance_seveso_haut_m"] == pytest.approx(189, abs=10)
    irep = read_industrial_sites(
        shared_data / "industrial_emitters_irep_occitanie" / "irep_sites_2021_occitanie.gpkg"
    )
    ri = industrial_exposure(occitanie, irep, radii=(500, 1000))
    # SOURCE.md: 9 QPV contain a site, 29 have one within 500 m, 49 within 1 km.
    assert int((ri["distance_site_m"] == 0).sum()) == 9
    assert [int((ri[f"n_sites_{d}m"] > 0).sum()) for d in (500, 1000)] == [29, 49]


def test_noise_maps_bordeaux_and_nantes(shared_data, qpv2015):
    bordeaux = qpv2015[qpv2015["code_departement"] == "33"]
    nantes = qpv2015[qpv2015["code_departement"] == "44"]
    assert (len(bordeaux), len(nantes)) == (23, 19)
    road = "part_surface_bruit_route_lden_68"
    night = "part_surface_bruit_route_ln_62"
    # Whole-département layers: the zones near the QPV are repaired by noise_exposure.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        gironde = read_noise_map(shared_data / "noise_bordeaux" / "infra_033", repair=False)
        rb = noise_exposure(bordeaux, gironde)
    # SOURCE.md (QPV 2015): road Lden > 68: 18 QPV intersect, 15 above 1 % of their area;
    # road Ln > 62: 15 (7); rail: 4. Shares published to 0.1 %, hence abs=0.0005.
    assert [int((rb[road] > 0).sum()), int((rb[road] > 0.01).sum())] == [18, 15]
    assert [int((rb[night] > 0).sum()), int((rb[night] > 0.01).sum())] == [15, 7]
    assert int((rb["part_surface_bruit_fer_lden_73"] > 0).sum()) == 4
    published = {
        "QP033011": 0.244,
        "QP033001": 0.178,
        "QP033009": 0.153,
        "QP033022": 0.107,
        "QP033006": 0.085,
    }
    for code, share in published.items():
        assert rb.loc[code, road] == pytest.approx(share, abs=0.0005), code
    assert rb.loc["QP033011", night] == pytest.approx(0.126, abs=0.0005)
    # Population variant with INSEE's Filosofi 200 m grid of Bordeaux Métropole, checked
    # against a brute-force overlay of the squares (in Lambert-93, where the reprojected
    # squares differ from INSEE's LAEA squares by ~1e-6 of their area, hence rel=1e-5).
    from qpvgeo.readers import read_filosofi_grid

    grid = read_filosofi_grid(
        shared_data / "filosofi_200m_bordeaux_metropole" / "carreaux_200m_bm.gpkg"
    )
    lden = gironde[(gironde["source"] == "route") & (gironde["indicateur"] == "lden")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        rp = noise_exposure(bordeaux[bordeaux["code_qpv"] == "QP033011"], lden, population=grid)
    bacalan = bordeaux.set_index("code_qpv").geometry["QP033011"]
    exposed = bacalan.intersection(shapely.union_all(shapely.make_valid(lden.geometry.values)))
    cells = grid[grid.intersects(bacalan)]
    sq = np.asarray(cells.geometry.array)
    inside = (
        shapely.area(shapely.intersection(sq, bacalan)) / shapely.area(sq) * cells["ind"]
    ).sum()
    noisy = (
        shapely.area(shapely.intersection(sq, exposed)) / shapely.area(sq) * cells["ind"]
    ).sum()
    assert rp.loc["QP033011", "population_grille"] == pytest.approx(inside, rel=1e-5)
    assert rp.loc["QP033011", "population_bruit_route_lden_68"] == pytest.approx(noisy, rel=1e-5)
    assert rp.loc["QP033011", "part_population_bruit_route_lden_68"] == pytest.approx(
        noisy / inside, rel=1e-5
    )
    # Bordeaux Métropole's type A bands, EPSG:3945 (SOURCE.md, railways and airport Lden).
    agglo = shared_data / "noise_bordeaux" / "agglo_bordeaux_metropole"
    bands = read_noise_map(
        [
            agglo / "NoiseContours_railwaysInAgglomeration_Lden.shp",
            agglo / "NoiseContours_airportsInAgglomeration_Lden.shp",
        ]
    )
    ra = noise_exposure(bordeaux, bands)
    rail55, rail65 = "part_surface_bruit_fer_lden_55", "part_surface_bruit_fer_lden_65"
    assert [int((ra[rail55] > 0).sum()), int((ra[rail55] > 0.01).sum())] == [17, 13]
    for code, share in {
        "QP033005": 0.616,
        "QP033009": 0.458,
        "QP033001": 0.219,
        "QP033006": 0.207,
    }.items():
        assert ra.loc[code, rail55] == pytest.approx(share, abs=0.0005), code
    assert ra.loc["QP033009", rail65] == pytest.approx(0.202, abs=0.0005)
    assert ra.loc["QP033005", rail65] == pytest.approx(0.076, abs=0.0005)
    assert ra.loc["QP033019", "part_surface_bruit_aerien_lden_55"] == pytest.approx(0.632, abs=5e-4)
    assert ra.loc["QP033019", "part_surface_bruit_aerien_lden_65"] == pytest.approx(0.074, abs=5e-4)
    assert ra.loc["QP033013", "part_surface_bruit_aerien_lden_55"] == pytest.approx(0.560, abs=5e-4)
    # Its type C classes (SOURCE.md): road Ln > 62: 10 QPV (3 above 1 %); rail Lden > 73: 4 (2).
    exceed = read_noise_map(
        [
            agglo / "route_depassement_de_seuil_Lnight.shp",
            agglo / "fer_depassement_de_seuil_Lden.shp",
        ]
    )
    rc = noise_exposure(bordeaux, exceed)
    assert [int((rc[night] > 0).sum()), int((rc[night] > 0.01).sum())] == [10, 3]
    rail73 = "part_surface_bruit_fer_lden_73"
    assert [int((rc[rail73] > 0).sum()), int((rc[rail73] > 0.01).sum())] == [4, 2]
    # Loire-Atlantique (SOURCE.md): road Lden > 68: 15 of 19 QPV intersect (14 above 1 %);
    # Ln > 62: 14 (8); the rail zones miss every QPV.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        rn = noise_exposure(nantes, read_noise_map(shared_data / "noise_nantes", repair=False))
    assert [int((rn[road] > 0).sum()), int((rn[road] > 0.01).sum())] == [15, 14]
    assert [int((rn[night] > 0).sum()), int((rn[night] > 0.01).sum())] == [14, 8]
    assert (rn.filter(like="part_surface_bruit_fer") == 0).all().all()
    for code, share in {
        "QP044015": 0.266,
        "QP044013": 0.228,
        "QP044011": 0.141,
        "QP044010": 0.119,
        "QP044012": 0.104,
        "QP044006": 0.087,
    }.items():
        assert rn.loc[code, road] == pytest.approx(share, abs=0.0005), code
    assert rn.loc["QP044015", night] == pytest.approx(0.215, abs=0.0005)


def test_noise_reader_repairs_cnig_rail_layers(shared_data):
    # SOURCE.md: the two Gironde rail layers hold 4 invalid zones each (self-intersections).
    infra = shared_data / "noise_bordeaux" / "infra_033"
    with pytest.warns(QpvgeoWarning, match="repaired 4 invalid"):
        rail = read_noise_map(infra / "N_BRUIT_ZBRD_INFRA_F_C_LD_S_033.shp")
    assert rail.geometry.is_valid.all() and len(rail) == 4
    assert rail[["source", "indicateur", "lden_min"]].iloc[0].tolist() == ["fer", "lden", 73.0]


def test_demo_profile_against_rest_of_commune():
    from qpvgeo.datasets import demo

    d = demo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        p = exposure_profile(
            d.qpv, noise=d.noise, surroundings="rest_of_commune", communes=d.communes
        )
    # Independent check: commune 99001 minus every QPV, inside the road Lden zone.
    commune = d.communes.set_index("code_commune").geometry["99001"]
    rest = commune.difference(d.qpv.union_all())
    road = d.noise[(d.noise["source"] == "route") & (d.noise["indicateur"] == "lden")]
    expected = rest.intersection(road.union_all()).area / rest.area
    col = "part_surface_bruit_route_lden_68"
    assert p.loc["QN09901M", f"{col}_environs"] == pytest.approx(expected, rel=1e-9)
    assert p.loc["QN09901M", f"{col}_ratio"] == pytest.approx(
        p.loc["QN09901M", col] / expected, rel=1e-9
    )
    assert p.attrs["environs"] == "rest_of_commune"


def test_calibrated_population_uses_the_qpv_as_dense_housing_layer():
    """population_method="calibrated" runs on the demo, QPV and rings alike.

    The calibrated estimator gives the QPV part of each cell 4.15 times the density of
    the rest, so a QPV holds more people than by area, its ring fewer; totals over the
    whole grid are unchanged.
    """
    import warnings

    from qpvgeo.datasets import demo
    from qpvgeo.exposure import compare_to_surroundings, flood_exposure

    d = demo()
    qpv = d.qpv.drop(columns="code_commune")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_area = compare_to_surroundings(flood_exposure, qpv, flood=d.flood,
                                          population=d.grid, ring=500)
        calibrated = compare_to_surroundings(flood_exposure, qpv, flood=d.flood,
                                             population=d.grid, ring=500,
                                             population_method="calibrated")
    assert (calibrated["population"] > by_area["population"]).all()
    # The demo's own count (cell centres in the QPV) lies nearer the calibrated figure.
    official = d.indicators["population"].astype(float)
    err = lambda t: (t["population"] - official).abs().sum()  # noqa: E731
    assert err(calibrated) < err(by_area)
    from qpvgeo.exposure import surroundings

    rings = surroundings(qpv, ring=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ring_area = flood_exposure(rings, d.flood, population=d.grid)
        ring_cal = flood_exposure(rings, d.flood, population=d.grid,
                                  population_method="calibrated", ancillary=qpv)
    assert (ring_cal["population"] < ring_area["population"]).all()
    shares = calibrated[[c for c in calibrated.columns
                         if c.startswith("part_population_inondable") and not c.endswith("_ratio")]]
    assert shares.stack().between(0, 1).all()


def test_surroundings_comparison_zone_and_unite_urbaine():
    from qpvgeo.datasets import demo

    d = demo()
    # A comparison zone given by the user (Géoclip's "zone de comparaison"): the same zone
    # for every QPV, every QPV cut out of it.
    territory = d.communes.union_all()
    zone = gpd.GeoDataFrame(geometry=[territory], crs=2154)
    env = surroundings(d.qpv, how=zone)
    expected = territory.difference(d.qpv.union_all()).area
    np.testing.assert_allclose(env.area, expected, rtol=1e-9)
    # The unité urbaine: the communes sharing the QPV commune's code_unite_urbaine.
    communes = d.communes.assign(code_unite_urbaine=["UU1", "UU1", "UU2", "UU2"])
    uu = surroundings(d.qpv, how="unite_urbaine", communes=communes)
    first = communes.iloc[:2].union_all().difference(d.qpv.union_all()).area
    assert uu.area.iloc[0] == pytest.approx(first, rel=1e-9)
    with pytest.raises(SchemaError, match="code_unite_urbaine"):
        surroundings(d.qpv, how="unite_urbaine", communes=d.communes)
    p = exposure_profile(d.qpv, layers={"noise": d.noise}, surroundings=zone)
    assert p.attrs["environs"] == "zone"
    assert p["part_surface_bruit_route_lden_68_environs"].nunique() == 1


# -- the fast paths give the numbers of the direct computation (issue 15) -----------------


def _demo_run():
    from qpvgeo.datasets import demo
    from qpvgeo.exposure._base import _population_context, _prepare_zones

    d = demo()
    z = _prepare_zones(d.qpv, "code_qpv")
    ctx = _population_context(z, d.grid, "calibrated")
    return d, z, ctx


def test_measure_inside_by_parts_equals_the_whole_layer_intersection():
    """Zone ∩ parts of a dissolved layer, summed per zone, is zone ∩ the layer.

    Reference: the direct computation (each zone intersected with the whole dissolved
    multipolygon, one population estimate per label). Parts do not overlap and the
    estimators are linear, so only float round-off may differ: rtol 1e-9.
    """
    from qpvgeo.exposure._base import _measure_inside, _population_of

    d, z, ctx = _demo_run()
    # several labels, each a multipolygon of many parts, some meeting no zone, one empty
    sites = np.asarray(d.layers["sites"].geometry.array, dtype=object)
    parks = np.asarray(d.layers["green_spaces"].geometry.array, dtype=object)
    x0, y0, x1, y1 = z.frame.total_bounds  # vertical bands that cut the zones
    layers = {
        "sites": shapely.union_all(shapely.buffer(sites, 800.0)),
        "parks": shapely.union_all(shapely.buffer(parks, 300.0)),
        "bands": shapely.union_all([box(x, y0 - 500, x + 400, y1 + 500)
                                    for x in np.arange(x0, x1, 700.0)]),
        "none": shapely.Polygon(),
    }
    got = _measure_inside(z, layers, stem="t", ctx=ctx)
    for label, geom in layers.items():
        pieces = np.array([shapely.intersection(g, geom) for g in z.geoms], dtype=object)
        area = shapely.area(pieces)
        pop = _population_of(pieces, z.index, d.grid, method="calibrated",
                             qpv=ctx.qpv)["population"].to_numpy()
        np.testing.assert_allclose(got[f"surface_t_{label}_m2"], area, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(got[f"population_t_{label}"], pop, rtol=1e-9, atol=1e-9)
    assert (got["surface_t_parks_m2"] > 0).any() and (got["population_t_sites"] > 0).any()
    assert (got["surface_t_none_m2"] == 0).all()


def test_population_weighted_means_from_the_cells_near_the_zones_only():
    """Values measured only for the grid cells near the zones give the same means as
    values measured for every cell (the far cells weigh in no zone): rtol 1e-12."""
    from qpvgeo.exposure._base import _population_of, _weighted_by_population, _zonal_mean

    d, z, ctx = _demo_run()
    air = d.layers["air"]
    src = np.asarray(air.geometry.array, dtype=object)
    vals = air[["no2", "pm10"]].to_numpy(dtype=float)
    seen = []

    def values_of(polys):
        seen.append(len(polys))
        return _zonal_mean(polys, src, vals)[0]

    means, above = _weighted_by_population(z, ctx, values_of, ["no2", "pm10"],
                                           above=[("oms", "no2", 20.0)])
    assert seen[0] < len(d.grid)  # the fast path was taken
    cells = np.asarray(d.grid.geometry.array, dtype=object)
    every = _zonal_mean(cells, src, vals)[0]
    pop = d.grid["ind"].to_numpy(dtype=float)
    extra = {"w": np.where(np.isnan(every[:, 0]), 0, pop),
             "pv": np.where(np.isnan(every[:, 0]), 0, pop * np.nan_to_num(every[:, 0])),
             "up": np.where(np.isnan(every[:, 0]), 0, pop * (np.nan_to_num(every[:, 0]) > 20))}
    est = _population_of(z.geoms, z.index, d.grid, method="calibrated", qpv=ctx.qpv,
                         extra=extra)
    np.testing.assert_allclose(means[:, 0], est["pv"] / est["w"], rtol=1e-12)
    np.testing.assert_allclose(above[:, 0], np.minimum(est["up"] / est["w"], 1), rtol=1e-12)
    assert np.isfinite(means).all()


def test_air_grid_extent_from_its_cells_with_or_without_overlaps():
    """A grid of cells that do not overlap goes through the coverage union: same ground
    as the plain union; overlapping cells take the plain union (still the same ground)."""
    from qpvgeo.datasets import demo
    from qpvgeo.exposure.air import air_extent

    cells = demo().layers["air"]
    union = shapely.union_all(cells.geometry.array)
    got = air_extent(cells)
    assert shapely.symmetric_difference(got, union).area == pytest.approx(0, abs=1e-6)
    assert got.area == pytest.approx(float(cells.area.sum()), rel=1e-12)
    shifted = cells.copy()
    shifted.geometry = cells.geometry.translate(100, 0)  # overlaps the first cells
    both = gpd.GeoDataFrame(pd.concat([cells, shifted.iloc[:3]]), crs=cells.crs)
    assert air_extent(both).area == pytest.approx(union.area, rel=1e-12)


def test_grid_with_centre_points_gives_the_population_of_the_squares():
    """The estimator reads the cells' corners; a grid whose geometry is each cell's centre
    (not its square) must not lose the cells whose centre lies off the zones' boxes: with
    1 km cells, a centre lies up to 500 m from a zone the cell covers."""
    xs, ys = np.meshgrid(X0 + 1000.0 * np.arange(6), Y0 + 1000.0 * np.arange(6))
    xs, ys = xs.ravel(), ys.ravel()
    squares = gpd.GeoDataFrame({"x_laea": xs, "y_laea": ys, "ind": np.arange(36.0) + 1},
                               geometry=cell_squares(xs, ys, 1000.0).values, crs=2154)
    squares.attrs["cell_size"] = 1000.0
    centres = squares.copy()
    centres.geometry = squares.geometry.centroid
    centres.attrs["cell_size"] = 1000.0
    # a zone over the corner of four cells, away from their centres, and a flood strip
    c = squares.geometry.iloc[14].exterior.coords[0]
    zones = zones_of(box(c[0] - 150, c[1] - 150, c[0] + 150, c[1] + 150))
    flood = gpd.GeoDataFrame(geometry=[box(c[0] - 150, c[1] - 150, c[0], c[1] + 150)], crs=2154)
    a = flood_exposure(zones, flood, population=squares)
    b = flood_exposure(zones, flood, population=centres)
    assert a["population_inondable"].iloc[0] > 0
    cols = [c for c in a.columns if c.startswith(("population", "part_population"))]
    pd.testing.assert_frame_equal(a[cols], b[cols], rtol=1e-12)


def test_prepared_calibrated_mask_gives_the_per_call_estimate():
    """grid_population with the mask prepared once (``_mask=``) equals the estimate that
    measures the mask at each call, on pieces that cross QPV edges (rings, boxes over
    several QPV) and on an extract of the grid's rows: the cell shares are summed over
    the same disjoint parts in another order, so only float round-off may differ
    (rtol 1e-12, atol 1e-9 inhabitants for the pieces holding none)."""
    from qpvgeo import interpolate
    from qpvgeo.datasets import demo

    d = demo()
    q = d.qpv
    ring = q.buffer(300).difference(q.union_all())
    b = q.total_bounds
    boxes = shapely.box(np.linspace(b[0], b[2], 6)[:-1], b[1], np.linspace(b[0], b[2], 6)[1:],
                        (b[1] + b[3]) / 2)
    zones = gpd.GeoDataFrame(geometry=[*q.geometry, *ring, *boxes], crs=q.crs)
    pm = interpolate._prepare_mask(d.grid, q)
    assert len(pm.keys) and (pm.fq > 0).all()
    direct = interpolate.grid_population(d.grid, zones, method="calibrated", qpv=q)["ind"]
    fast = interpolate.grid_population(d.grid, zones, method="calibrated", _mask=pm)["ind"]
    np.testing.assert_allclose(fast, direct, rtol=1e-12, atol=1e-9)
    assert direct.sum() > 0
    rows = d.grid.iloc[::2]  # an extract of the same grid: cells found by their number
    np.testing.assert_allclose(
        interpolate.grid_population(rows, zones, method="calibrated", _mask=pm)["ind"],
        interpolate.grid_population(rows, zones, method="calibrated", qpv=q)["ind"],
        rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("official", [False, True])
def test_profile_runs_zonewise_layers_once_for_qpv_and_rings(official):
    """The QPV and their rings measured as one set of zones give the profile of the two
    sides measured apart (every column, same NA pattern), with or without the QPV's
    official population (the rings have none): each zone is measured on its own, so only
    float round-off may differ (rtol 1e-9)."""
    import dataclasses

    from qpvgeo.datasets import demo
    from qpvgeo.exposure import LAYERS

    d = demo()
    qpv = d.qpv.assign(population=[5200.0, 3100.0, 4400.0, 2500.0][:len(d.qpv)]) if official \
        else d.qpv
    names = [n for n in d.layers if LAYERS[n].zonewise]
    assert {"flood", "air", "heat", "noise", "sites"} <= set(names)
    together = exposure_profile(qpv, layers=d.layers, population=d.grid)
    saved = {n: LAYERS[n] for n in names}
    try:
        for n in names:
            LAYERS.register(dataclasses.replace(saved[n], zonewise=False), replace=True)
        apart = exposure_profile(qpv, layers=d.layers, population=d.grid)
    finally:
        for n in names:
            LAYERS.register(saved[n], replace=True)
    assert list(together.columns) == list(apart.columns)
    assert any(c.endswith("_environs") for c in together.columns)
    if official:
        assert (together["population"] == qpv["population"].to_numpy()).all()
    for c in together.columns:
        a, b = together[c], apart[c]
        assert (a.isna() == b.isna()).all(), c
        if pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9,
                                       err_msg=c)
        else:
            assert (a.dropna() == b.dropna()).all(), c


def test_population_weighted_air_keeps_the_cells_beyond_the_zone_box():
    """A population polygon straddling the edge of a zone's box takes the mean of every
    air cell it overlaps, not only of those over the zone's box: here half at 10 µg/m³
    (over the zone's box) and half at 30 (beyond it), so 20."""
    from qpvgeo.exposure import air_exposure

    z = gpd.GeoDataFrame({"code_qpv": ["QP1"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    pop = gpd.GeoDataFrame({"population": [100.0]}, geometry=[box(50, 0, 250, 100)], crs=2154)
    grid = gpd.GeoDataFrame({"no2": [10.0, 30.0]},
                            geometry=[box(-100, -100, 150, 200), box(150, -100, 400, 200)],
                            crs=2154)
    r = air_exposure(z, grid=grid, pollutants=["no2"], population=pop)
    assert r["no2"].iloc[0] == pytest.approx(20.0, rel=1e-12)
    # without a population the zone's own area weighs: the cell over it only
    assert air_exposure(z, grid=grid, pollutants=["no2"])["no2"].iloc[0] == pytest.approx(10.0)


def test_zonal_mean_over_a_regular_grid_equals_the_overlays():
    """Over the squares of one regular grid (the demo's 500 m air grid) the zonal means
    and covered areas come from the grid estimator's exact cell shares instead of GEOS
    overlays: the same to float round-off (rtol 1e-12) for grid cells and QPV, and the
    same NA pattern; a mean of equal values is that value exactly."""
    import qpvgeo.exposure._base as base
    from qpvgeo.datasets import demo

    d = demo()
    air = d.layers["air"]
    src = np.asarray(air.geometry.array, dtype=object)
    assert base._lattice(src) is not None
    assert base._lattice(np.asarray(air.geometry.rotate(1).array, dtype=object)) is None
    vals = air[["no2", "pm10"]].to_numpy(dtype=float)
    target = np.concatenate([np.asarray(d.grid.geometry.array, dtype=object),
                             np.asarray(d.qpv.geometry.array, dtype=object)])
    fast, fast_cov = base._zonal_mean(target, src, vals)
    ti, si = shapely.STRtree(src).query(target, predicate="intersects")
    a = base._pair_areas(target, ti, src, si)
    cov = np.bincount(ti, weights=a, minlength=len(target))
    for j in range(2):
        w = np.bincount(ti, weights=a, minlength=len(target))
        s = np.bincount(ti, weights=a * vals[si, j], minlength=len(target))
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = np.where(w > 0, s / w, np.nan)
        assert (np.isnan(ref) == np.isnan(fast[:, j])).all()
        np.testing.assert_allclose(fast[:, j], ref, rtol=1e-12)
    np.testing.assert_allclose(fast_cov, cov, rtol=1e-12, atol=1e-6)
    # a square straddling two grid squares of 15 µg/m³: exactly 15, not 15 + 2e-15
    x0, y0 = shapely.bounds(src[0])[:2]
    two = np.array([shapely.box(x0, y0, x0 + 500, y0 + 500),
                    shapely.box(x0 + 500, y0, x0 + 1000, y0 + 500)], dtype=object)
    cell = np.array([shapely.box(x0 + 333.3, y0 + 10, x0 + 533.7, y0 + 210.1)], dtype=object)
    assert base._zonal_mean(cell, two, np.full((2, 1), 15.0))[0][0, 0] == 15.0


def test_green_space_merged_with_its_whole_chain_of_touching_polygons():
    """A park is measured with every polygon it touches, however far the chain runs:
    here a 0.1 ha lawn 50 m from the zone, a 2.4 km path and a 1 ha wood 2.5 km away
    (beyond any margin around the zone) are one 1.34 ha green space, so the zone lies
    wholly within 300 m of a green space of at least 0.5 ha, 50 m away."""
    from qpvgeo.exposure import green_space_access

    z = gpd.GeoDataFrame({"code_qpv": ["QP1"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    parks = gpd.GeoDataFrame(geometry=[box(150, 0, 160, 100), box(160, 0, 2600, 1),
                                       box(2600, 0, 2700, 100)], crs=2154)
    r = green_space_access(z, parks).iloc[0]
    assert r["distance_espace_vert_m"] == pytest.approx(50.0)
    assert r["part_surface_acces_espace_vert"] == pytest.approx(1.0)
    assert r["n_espaces_verts"] == 1
    # without the far wood the lawn and the path (0.34 ha) are too small
    small = green_space_access(z, parks.iloc[:2]).iloc[0]
    assert small["part_surface_acces_espace_vert"] == 0.0


def test_nearest_green_space_beyond_the_margin_is_exact_whatever_the_other_zones():
    from qpvgeo.exposure import green_space_access

    # zone A has a park 100 m away; zone B's nearest qualifying park is 9 km away and made
    # of two touching 0.3 ha halves (each below 0.5 ha: only the pair qualifies); a lone
    # 0.3 ha square 5 km from B does not count. main's answer for B was NA or A's park.
    zones = gpd.GeoDataFrame({"code_qpv": ["A", "B"]},
                             geometry=[box(0, 0, 100, 100), box(50_000, 0, 50_100, 100)],
                             crs=2154)
    parks = gpd.GeoDataFrame(geometry=[
        box(200, 0, 300, 100),                      # 1 ha, 100 m east of A
        box(55_100, 0, 55_155, 55),                 # 0.3 ha alone, 5 km east of B
        box(59_100, 0, 59_130, 100), box(59_130, 0, 59_160, 100)],  # 0.6 ha in two halves
        crs=2154)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = green_space_access(zones, parks)["distance_espace_vert_m"]
        alone = green_space_access(zones.iloc[[1]], parks)["distance_espace_vert_m"]
    assert both.tolist() == pytest.approx([100.0, 9_000.0])
    assert alone.tolist() == pytest.approx([9_000.0])  # B alone: the same answer
    small = parks.iloc[[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        none = green_space_access(zones, small)["distance_espace_vert_m"]
    assert none.isna().all()  # no qualifying green space anywhere: NA, never 0


def test_dissolve_unions_only_the_polygons_that_meet_and_equals_union_all():
    """The fast dissolve (isolated polygons kept as they are, only those meeting another
    one through ``union_all``) covers the same ground as ``union_all`` of the whole set:
    same area, same parts count (touching polygons merged, as a green-space chain needs),
    no overlap between parts. Areas to 1e-12 relative (the union nodes the same edges;
    only float round-off of the noded vertices can differ)."""
    from qpvgeo.exposure._base import _dissolve

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5000, size=(300, 2))
    geoms = shapely.buffer(shapely.points(xy), rng.uniform(5, 120, size=300), quad_segs=8)
    extra = np.array([box(6000, 0, 6100, 100), box(6100, 0, 6200, 100),  # touching
                      box(7000, 0, 7100, 100), box(7020, 20, 7050, 50),  # nested
                      box(8000, 0, 8100, 100), box(8000, 0, 8100, 100)],  # duplicated
                     dtype=object)
    geoms = np.concatenate([geoms, extra])
    fast = _dissolve(geoms)
    ref = shapely.union_all(geoms)
    fast_parts, ref_parts = shapely.get_parts(fast), shapely.get_parts(ref)
    assert len(fast_parts) == len(ref_parts)
    assert shapely.is_valid(fast)
    assert shapely.area(fast) == pytest.approx(shapely.area(ref), rel=1e-12)
    assert shapely.area(shapely.symmetric_difference(fast, ref)) < 1e-9 * shapely.area(ref)
    # the touching boxes are one part, as union_all makes them
    touching = [p for p in fast_parts if p.bounds[0] == 6000]
    assert len(touching) == 1 and touching[0].area == pytest.approx(20000)
    assert _dissolve(np.zeros(0, dtype=object)).is_empty


def test_convex_clip_areas_equal_the_overlay_of_cells_and_polygons_with_holes():
    """The numpy clip of polygons to convex cells (heat and IRIS-like values of the grid
    cells) against GEOS's overlay: rotated 200 m cells (a LAEA square in Lambert-93) over
    polygons with holes, multipolygons, either orientation, far-away vertices. To 1e-9 m²
    (~1e-13 of a cell: both compute in float, GEOS in absolute coordinates)."""
    from qpvgeo.exposure._base import _convex_clip_areas, _convex_quads, _pair_areas

    rng = np.random.default_rng(3)
    n = 400
    cx, cy = rng.uniform(700_000, 701_000, n), rng.uniform(6_600_000, 6_601_000, n)
    ang = rng.uniform(0, np.pi / 2, n)
    corners = np.stack([np.cos(ang + k * np.pi / 2) for k in range(4)], 1), \
        np.stack([np.sin(ang + k * np.pi / 2) for k in range(4)], 1)
    cells = np.array([Polygon(list(zip(cx[i] + 141 * corners[0][i], cy[i] + 141 * corners[1][i],
                                       strict=True))[::(1 if i % 2 else -1)])
                      for i in range(n)], dtype=object)
    blobs = shapely.buffer(shapely.points(cx + rng.uniform(-300, 300, n),
                                          cy + rng.uniform(-300, 300, n)),
                           rng.uniform(50, 400, n), quad_segs=4)
    holes = shapely.buffer(shapely.centroid(blobs), 30, quad_segs=2)
    polys = shapely.difference(blobs, holes)  # a hole in each
    polys[::3] = shapely.union(polys[::3], shapely.box(cx[::3] - 5e4, cy[::3] - 10,
                                                       cx[::3] - 4e4, cy[::3] + 10))
    polys[1::5] = shapely.reverse(polys[1::5])
    assert _convex_quads(cells).all()
    assert not _convex_quads(np.array([box(0, 0, 1, 1).union(box(1, 0, 2, 2))]))[0]
    # The reference: GEOS's overlay near the origin (Lambert-93's 1e6 m coordinates cost
    # GEOS's noded vertices ~1e-10 m, i.e. up to ~1e-7 m² of a cell's area; the clip works
    # relative to each cell's corner, as this shifted overlay does).
    def shifted(g):
        return shapely.transform(g, lambda xy: xy - [700_000, 6_600_000])

    ref = shapely.area(shapely.intersection(shifted(cells), shifted(polys)))
    fast = _convex_clip_areas(cells, polys)
    assert (ref > 0).sum() > 100 and (ref < shapely.area(cells) - 1).sum() > 100
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)
    # through _pair_areas (only the cells over an edge go to the clip), against the
    # overlay in place: to its ~1e-7 m² round-off (2.5e-12 of a 40,000 m² cell)
    idx = np.arange(n)
    direct = shapely.area(shapely.intersection(cells, polys))
    np.testing.assert_allclose(_pair_areas(cells, idx, polys, idx), direct, rtol=0, atol=1e-6)


def test_heat_extent_of_a_coverage_and_of_overlapping_polygons_is_their_union():
    """IRIS that tile the ground take GEOS's coverage union, others the full union: the
    same ground either way (symmetric difference 0, areas exact for these boxes)."""
    from qpvgeo.exposure.heat import heat_extent

    tiles = [box(x, y, x + 100, y + 100) for x in range(0, 500, 100) for y in range(0, 300, 100)]
    cover = gpd.GeoDataFrame({"score_chaleur": [0.5] * len(tiles)}, geometry=tiles,
                             crs=2154)
    ext = heat_extent(cover)
    assert ext.area == 150_000 and ext.equals(shapely.union_all(tiles))
    overlapping = gpd.GeoDataFrame({"score_chaleur": [0.5, 0.2]},
                                   geometry=[box(0, 0, 100, 100), box(50, 0, 150, 100)], crs=2154)
    assert heat_extent(overlapping).area == 15_000
