"""Coverage, surroundings and the station rules of exposure_profile, on the real files we hold.

Every rule of the exposure engine v2 (issue 10) is tried where the data are partial: a
zone outside a layer's coverage gets NA (never 0), a partly covered zone is measured on
its covered part, ratios compare covered parts, stations serve only within 2 km and give
no ratio when QPV and surroundings share a station, lower-tier Seveso counts are NA when
the source lists upper-tier sites only.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely

from qpvgeo.errors import QpvgeoError, QpvgeoWarning
from qpvgeo.exposure import exposure_profile, surroundings
from qpvgeo.exposure._coverage import FULL, NONE

pytestmark = pytest.mark.real_data


def _classes(share) -> tuple[int, int, int]:
    """(fully covered, partly covered, outside) counts of a ``part_couverte_*`` column."""
    s = share.to_numpy()
    return int((s >= FULL).sum()), int(((s > NONE) & (s < FULL)).sum()), int((s <= NONE).sum())


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def qpv2015(shared_data):
    from qpvgeo.readers import read_qpv

    return _quiet(read_qpv, shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp")


@pytest.fixture(scope="module")
def hdf2015(qpv2015):
    return qpv2015[qpv2015["code_departement"].isin(["02", "59", "60", "62", "80"])]


@pytest.fixture(scope="module")
def occitanie(shared_data):
    from qpvgeo.readers import read_qpv

    return _quiet(read_qpv, shared_data / "qpv2015_occitanie_hackaviz" / "qp.geojson")


def test_lille_heat_iris_coverage_and_partly_covered_qpv(shared_data, qpv2015, hdf2015):
    from qpvgeo.readers.environment import read_heat_iris

    heat = read_heat_iris(shared_data / "urban_heat_lcz" / "lille_iris_heat_vulnerability.geojson")
    p = exposure_profile(hdf2015, layers={"heat": heat}, all_qpv=qpv2015)
    # The 110 Lille IRIS (the layer's own polygons, rule "source") cover 3 of the 199 HdF
    # QPV fully, 2 partly (QP059074 97.4 %, QP059080 25.3 %) and 194 not at all.
    assert p.attrs["couverture"] == {"heat": "source"}
    assert _classes(p["part_couverte_heat"]) == (3, 2, 194)
    assert p.loc["QP059080", "part_couverte_heat"] == pytest.approx(0.2531, abs=1e-4)
    outside = p["part_couverte_heat"] <= NONE
    # Outside coverage: NA, never 0 — for the QPV and for the ratio.
    assert p.loc[outside, "part_surface_chaleur_forte"].isna().all()
    assert p.loc[outside, "part_surface_chaleur_forte_ratio"].isna().all()
    # Partly covered: the classes of the covered quarter are not spread over the whole QPV.
    # Independent check: area of (QPV ∩ IRIS "forte") over area of (QPV ∩ IRIS).
    z = hdf2015.set_index("code_qpv").geometry["QP059080"]
    iris = shapely.union_all(heat.geometry.values)
    forte = shapely.union_all(heat.loc[heat["score_chaleur"] == "forte"].geometry.values)
    expected = z.intersection(forte).area / z.intersection(iris).area
    assert p.loc["QP059080", "part_surface_chaleur_forte"] == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.9994, abs=1e-4)  # v1 gave 0.253 (0.9994 x 0.2531)
    # The ring is measured on its covered part too, and says how much of it that is.
    assert p.loc["QP059080", "part_couverte_heat_environs"] == pytest.approx(0.283, abs=1e-3)
    assert p.loc["QP059075", "part_surface_chaleur_forte_ratio"] == pytest.approx(1.662, abs=1e-3)


def test_lille_tri_excerpt_is_na_outside_the_communes_it_reaches(shared_data, qpv2015, hdf2015):
    from qpvgeo.readers import read_communes
    from qpvgeo.readers.environment import read_flood_extents

    flood = _quiet(read_flood_extents,
                   shared_data / "flood_hdf" / "n_tri_lill_inondable_s_059_excerpt.csv")
    communes = _quiet(read_communes, shared_data / "communes_hdf" / "communes_hdf_cog2025.gpkg")
    p = exposure_profile(hdf2015, layers={"flood": flood}, all_qpv=qpv2015, communes=communes)
    # Coverage from the source: the communes the flood surfaces reach. Four QPV lie in
    # them (QP059067 for 0.5 % of its area); none is flooded: 0 there means "measured".
    assert p.attrs["couverture"] == {"flood": "source"}
    covered = p.index[p["part_couverte_flood"] > NONE]
    assert sorted(covered) == ["QP059066", "QP059067", "QP059068", "QP059080"]
    assert (p.loc[covered, "part_surface_inondable_frequent"] == 0).all()
    # The other 195 QPV are outside what the layer says: NA, where v1 printed 0,0 %.
    rest = p.drop(index=covered)
    assert len(rest) == 195
    assert rest.filter(regex=r"^part_surface_inondable_[a-z]+$").isna().all().all()
    # Without communes, the hull of the eight surfaces is the last resort, with a warning.
    with pytest.warns(QpvgeoWarning, match="convex hull"):
        h = exposure_profile(hdf2015, layers={"flood": flood}, all_qpv=qpv2015,
                             surroundings=None)
    assert h.attrs["couverture"] == {"flood": "hull"}
    assert _classes(h["part_couverte_flood"])[2] == 196


def test_perigueux_flood_reaches_la_boucle_de_l_isle(shared_data, qpv2015):
    from qpvgeo.readers.environment import read_flood_extents

    flood = read_flood_extents(
        shared_data / "flood_perigueux" / "n_tri_peri_inondable_01_01for_s_024.shp"
    )
    dordogne = qpv2015[qpv2015["code_departement"] == "24"]
    # The TRI perimeter is not in the file: coverage given as the flood surfaces' hull
    # (what the profile derives, here passed explicitly so that no warning is raised).
    hull = shapely.convex_hull(shapely.union_all(flood.geometry.values))
    p = exposure_profile(dordogne, layers={"flood": flood}, all_qpv=qpv2015,
                         coverage={"flood": gpd.GeoDataFrame(geometry=[hull], crs=2154)})
    boucle = p.loc["QP024005"]
    assert boucle["part_couverte_flood"] == pytest.approx(0.984, abs=1e-3)
    # 21,352 m² of the QPV lie in the high-probability flood surface: 4.8 % of its
    # covered part. Independent check with shapely on the raw layer.
    z = dordogne.set_index("code_qpv").geometry["QP024005"]
    wet = z.intersection(shapely.union_all(flood.geometry.values)).area
    assert boucle["surface_inondable_frequent_m2"] == pytest.approx(wet, rel=1e-6)
    assert wet == pytest.approx(21_352, abs=1)
    assert boucle["part_surface_inondable_frequent"] == pytest.approx(
        wet / z.intersection(hull).area, rel=1e-6)
    # The other Périgueux QPV inside the hull is measured (0), the three others are NA.
    assert p.loc["QP024004", "part_surface_inondable_frequent"] == 0.0
    assert p.loc[["QP024001", "QP024002", "QP024003"],
                 "part_surface_inondable_frequent"].isna().all()
    assert boucle["part_surface_inondable_frequent_ratio"] == pytest.approx(0.299, abs=1e-3)


def test_occitanie_stations_within_2_km_and_no_same_station_ratio(shared_data, occitanie):
    from qpvgeo.readers.environment import read_air_stations

    stations = read_air_stations(
        shared_data / "air_quality_occitanie" / "atmo_occitanie_mesure_annuelle_2018_2023.csv"
    )
    p = exposure_profile(occitanie, layers={"air": stations})
    # 2023 annual means: 42 QPV have an NO2 station within 2 km, 39 a PM10, 30 a PM2.5.
    assert [int(p[c].notna().sum()) for c in ("no2", "pm10", "pm25")] == [42, 39, 30]
    # Coverage is the 2 km reach of the stations: 34 QPV wholly inside, 17 partly.
    assert _classes(p["part_couverte_air"]) == (34, 17, 54)
    # QPV and ring take the same station for 41 of the 42 (v1 showed a ratio of 1 for
    # 99 % of the Occitanie QPV): the ratio is NA there; one NO2 ratio is left.
    both = p["no2"].notna() & p["no2_environs"].notna()
    assert int(both.sum()) == 42
    assert int(p["no2_ratio"].notna().sum()) == 1
    assert int(p["pm25_ratio"].notna().sum()) == 0
    # Thresholds: every QPV served for NO2 is above the WHO 2021 guideline (10 µg/m³).
    served = p["no2"].notna()
    assert (p.loc[served, "part_surface_sup_oms_2021_no2"] == (p.loc[served, "no2"] > 10)).all()


def test_hdf_seveso_lower_tier_is_na_and_region_coverage(shared_data, qpv2015, hdf2015):
    from qpvgeo.readers.environment import read_industrial_sites

    seveso = read_industrial_sites(shared_data / "icpe_hdf" / "seveso_sh_prio_ied_hdf.gpkg")
    region = gpd.read_file(shared_data / "admin_boundaries_hdf" / "region-hauts-de-france.geojson")
    p = exposure_profile(hdf2015, layers={"sites": seveso}, all_qpv=qpv2015,
                         coverage={"sites": region}, surroundings=None)
    assert p.attrs["couverture"] == {"sites": "given"}
    assert _classes(p["part_couverte_sites"]) == (199, 0, 0)
    # Upper tier: 4 / 14 / 33 QPV within 500 m / 1 km / 2 km (as industrial_exposure).
    assert [int((p[f"n_seveso_haut_{d}m"] > 0).sum()) for d in (500, 1000, 2000)] == [4, 14, 33]
    # The file lists upper-tier sites only: lower-tier counts are unknown, not 0.
    assert all(p[f"n_seveso_bas_{d}m"].isna().all() for d in (500, 1000, 2000))
    # The hull of 49 sites is a poor coverage for a regional list: 70 QPV fall outside it.
    with pytest.warns(QpvgeoWarning, match="convex hull"):
        h = exposure_profile(hdf2015, layers={"sites": seveso}, all_qpv=qpv2015,
                             surroundings=None)
    assert _classes(h["part_couverte_sites"]) == (122, 7, 70)


def test_green_spaces_toulouse_montpellier_cover_their_city_only(shared_data, occitanie):
    from qpvgeo.readers.environment import read_green_spaces

    for code, path in (
        ("31555", "green_spaces_toulouse/espaces-verts.geojson"),
        ("34172", "green_spaces_montpellier/VilleMTP_MTP_EspacesVertsSurface.geojson"),
    ):
        parks = _quiet(read_green_spaces, shared_data / path)
        with pytest.warns(QpvgeoWarning, match="convex hull"):
            p = exposure_profile(occitanie, layers={"green_spaces": parks})
        city = occitanie.loc[occitanie["code_commune"] == code, "code_qpv"]
        # The 12 QPV of the city are covered; the ~92 QPV of the rest of Occitanie get NA
        # (v1: "0 % of the population near a green space" in Albi or Perpignan).
        assert (p.loc[city, "part_couverte_green_spaces"] >= FULL).all()
        outside = p["part_couverte_green_spaces"] <= NONE
        assert int(outside.sum()) in (92, 93)
        assert p.loc[outside, "part_surface_acces_espace_vert"].isna().all()
        assert p.loc[city, "part_surface_acces_espace_vert"].notna().all()


def test_noise_bordeaux_and_nantes_coverage(shared_data, qpv2015):
    from qpvgeo.readers.environment import read_noise_map

    gironde = _quiet(read_noise_map, shared_data / "noise_bordeaux" / "infra_033")
    both = qpv2015[qpv2015["code_departement"].isin(["33", "44"])]
    with pytest.warns(QpvgeoWarning, match="convex hull"):
        p = exposure_profile(both, layers={"noise": gironde}, surroundings=None)
    # The Gironde maps say nothing about Loire-Atlantique: its 19 QPV are NA, not 0.
    nantes = both["code_departement"] == "44"
    col = "part_surface_bruit_route_lden_68"
    assert p.loc[nantes.to_numpy(), col].isna().all()
    gironde_qpv = p.loc[~nantes.to_numpy()]
    assert gironde_qpv[col].notna().sum() >= 18  # SOURCE.md: 18 QPV in road Lden > 68
    assert int((gironde_qpv[col] > 0).sum()) == 18


def test_surroundings_remove_every_qpv_of_the_geography(qpv2015, hdf2015):
    # Ring of one Lille QPV: removing only the QPV studied leaves its neighbours inside.
    one = hdf2015[hdf2015["code_qpv"] == "QP059075"]
    alone = surroundings(one, ring=500)
    every = surroundings(one, ring=500, qpv=qpv2015)
    others = qpv2015[qpv2015["code_qpv"] != "QP059075"].union_all()
    assert alone.geometry.iloc[0].intersection(others).area > 1e4
    assert every.geometry.iloc[0].intersection(others).area == pytest.approx(0, abs=1.0)


def test_unknown_layer_and_bad_keyword_are_named(hdf2015):
    with pytest.raises(QpvgeoError, match="no registered layer"):
        exposure_profile(hdf2015, layers={"pollen": hdf2015})
    with pytest.raises(QpvgeoError, match="unknown keyword 'polen'"):
        exposure_profile(hdf2015, polen=hdf2015)
    with pytest.raises(QpvgeoError, match="at least one layer"):
        exposure_profile(hdf2015, layers={})


def test_population_outside_the_grid_extract_is_na(shared_data, qpv2015):
    from qpvgeo.readers.environment import read_noise_map
    from qpvgeo.readers.grid import read_filosofi_grid

    gironde = qpv2015[qpv2015["code_departement"] == "33"]
    grid = read_filosofi_grid(
        shared_data / "filosofi_200m_bordeaux_metropole" / "carreaux_200m_bm.gpkg")
    noise = _quiet(read_noise_map, shared_data / "noise_bordeaux" / "infra_033")
    with pytest.warns(QpvgeoWarning, match=r"no inhabitant .* in 2 zones"):
        p = _quiet_hull(exposure_profile, gironde, layers={"noise": noise}, population=grid,
                        all_qpv=qpv2015)
    # The Bordeaux Métropole grid (2015) holds no cell of two Gironde QPV: NA, not 0.
    assert sorted(p.index[p["population"].isna()]) == ["QP033003", "QP033004"]
    assert p.attrs["population_method"] == "calibrated"
    col = "part_population_bruit_route_lden_68"
    assert p.loc[["QP033003", "QP033004"], col].isna().all()
    assert p[col].notna().sum() == 21
    # The base is qpvgeo.interpolate's calibrated estimator with every QPV of France as the
    # dense-housing layer: 66,189 inhabitants in the 21 QPV the grid holds.
    from qpvgeo.interpolate import grid_population

    direct = grid_population(grid, gironde, method="calibrated", qpv=qpv2015)["ind"]
    assert p["population"].sum() == pytest.approx(direct.sum(), rel=1e-9)
    assert p["population"].sum() == pytest.approx(66_189, abs=1)


def _quiet_hull(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*convex hull", category=QpvgeoWarning)
        return func(*args, **kwargs)


def test_layer_functions_take_the_same_coverage_rule(shared_data, qpv2015, hdf2015):
    from qpvgeo.exposure import heat_exposure
    from qpvgeo.readers.environment import read_heat_iris

    heat = read_heat_iris(shared_data / "urban_heat_lcz" / "lille_iris_heat_vulnerability.geojson")
    direct = heat_exposure(hdf2015, heat, coverage=heat)
    profile = exposure_profile(hdf2015, layers={"heat": heat}, surroundings=None)
    cols = ["part_couverte_heat", "part_surface_chaleur_forte", "part_surface_chaleur_faible"]
    np.testing.assert_allclose(direct[cols].to_numpy(dtype=float),
                               profile[cols].to_numpy(dtype=float), rtol=1e-12)
    assert direct["part_surface_chaleur_forte"].isna().sum() == 194
