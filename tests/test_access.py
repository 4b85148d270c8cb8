"""Access to services: distances from where people live to collèges, lycées, stations…"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import STRtree
from shapely.geometry import Point, box

from qpvgeo.errors import QpvgeoError, QpvgeoWarning
from qpvgeo.exposure import LAYERS, education_access, service_access, station_access
from qpvgeo.readers import (
    read_education_establishments,
    read_filosofi_grid,
    read_iris_contours,
    read_qpv,
    read_stations,
)
from qpvgeo.schema import column_info


def _zones(*boxes, codes=None):
    codes = codes or [f"QP059{i:03d}" for i in range(1, len(boxes) + 1)]
    return gpd.GeoDataFrame({"code_qpv": codes}, geometry=list(boxes), crs=2154)


def _facilities(points, groups, **extra):
    return gpd.GeoDataFrame({"groupe": groups, **extra}, geometry=[Point(p) for p in points],
                            crs=2154)


# -- the method, on geometry we can do by hand ------------------------------------------------


def test_area_shares_and_mean_distance_by_hand():
    z = _zones(box(0, 0, 1000, 100))
    f = _facilities([(-100, 50)], ["collège"])
    r = service_access(z, f, coverage=["59"], step=10)
    # a 10 m lattice: x = 5..995; within 500 m of (-100, 50) when x + 100 <= ~500
    assert r["part_surface_college_500m"].item() == pytest.approx(0.40, abs=0.011)
    assert r["part_surface_college_1000m"].item() == pytest.approx(0.90, abs=0.011)
    # mean of x + 100 over x in [0, 1000] is 600 (y spread adds < 1 m)
    assert r["distance_college_m"].item() == pytest.approx(600.0, abs=1.5)
    assert r["n_college_500m"].item() == 1.0  # 100 m from the zone's edge
    assert r.attrs["methode_distance"] == "vol d'oiseau" and r.attrs["base"] == "surface"


def test_population_weighting_moves_the_answer_to_where_people_live():
    z = _zones(box(0, 0, 1000, 100))
    f = _facilities([(-100, 50)], ["gare"])
    # everybody lives in the far half: 600 + 250 = 850 m on average, nobody within 500 m
    base = gpd.GeoDataFrame({"population": [0.0, 300.0]},
                            geometry=[box(0, 0, 500, 100), box(500, 0, 1000, 100)], crs=2154)
    r = service_access(z, f, coverage=["59"], population=base, step=10)
    assert r["distance_gare_m"].item() == pytest.approx(850.0, abs=1.5)
    assert r["part_population_gare_500m"].item() == 0.0
    assert r["part_population_gare_1000m"].item() == pytest.approx(0.8, abs=0.011)
    # a zone where the base knows nobody: NA, not 0
    empty = gpd.GeoDataFrame({"population": [0.0]}, geometry=[box(0, 0, 1000, 100)], crs=2154)
    assert service_access(z, f, coverage=["59"], population=empty).isna()["distance_gare_m"].item()


def test_coverage_gives_na_outside_and_zero_is_measured():
    z = _zones(box(0, 0, 100, 100), box(5000, 0, 5100, 100), codes=["QP059001", "QP062001"])
    f = _facilities([(20000, 0)], ["collège"])
    r = service_access(z, f, coverage=["59"])
    assert r["part_couverte_acces_services"].tolist() == [1.0, 0.0]
    assert r.loc["QP059001", "part_surface_college_500m"] == 0.0  # measured: none near
    assert r.loc["QP062001"].drop("part_couverte_acces_services").isna().all()
    with pytest.raises(QpvgeoError, match="coverage="):
        service_access(z, f)  # facilities without commune codes say nothing of coverage
    poly = service_access(z, f, coverage=box(-10, -10, 50, 200))
    assert poly["part_couverte_acces_services"].round(2).tolist() == [0.5, 0.0]


def test_router_hook_replaces_the_straight_line():
    z = _zones(box(0, 0, 100, 100))
    f = _facilities([(600, 50), (-900, 50)], ["gare", "gare"])

    def detour(origins, destinations):  # a network twice as long to the east
        d = np.array([o.distance(t) for o, t in zip(origins, destinations, strict=True)])
        east = np.array([t.x > 0 for t in destinations])
        return np.where(east, 2 * d, d)

    straight = station_access(z, f, coverage=["59"])["distance_gare_m"].item()
    routed = service_access(z, f, coverage=["59"], router=detour)
    assert straight == pytest.approx(550.0, abs=1.5)
    # to the east 1,100 m by the network, to the west 950 m: the west station wins
    assert routed["distance_gare_m"].item() == pytest.approx(950.0, abs=1.5)
    assert routed.attrs["methode_distance"] == "réseau (router)"


def test_rep_plus_of_the_nearest_college_and_bad_arguments():
    z = _zones(box(0, 0, 1000, 100))
    f = _facilities([(0, 50), (1000, 50)], ["collège", "collège"],
                    education_prioritaire=["REP+", "hors EP"])
    r = education_access(z, f, coverage=["59"], step=10)
    assert r["part_surface_college_rep_plus"].item() == pytest.approx(0.5, abs=0.011)
    assert r["n_colleges_rep_plus_500m"].item() == 1.0
    with pytest.raises(QpvgeoError, match="step"):
        service_access(z, f, coverage=["59"], step=0)
    with pytest.raises(QpvgeoError, match="distances"):
        service_access(z, f, coverage=["59"], distances=(0,))
    with pytest.raises(QpvgeoError, match="none of the facility groups"):
        service_access(z, f, coverage=["59"], groups=["gare"])
    with pytest.raises(QpvgeoError, match="unknown access groups"):
        service_access(z, f, coverage=["59"], groups=["piscine"])
    tiny = _zones(box(0, 0, 10, 10))  # smaller than a lattice cell: one point on surface
    assert education_access(tiny, f, coverage=["59"])["distance_college_m"].notna().item()


def test_layers_are_registered_with_their_columns():
    for name in ("acces_education", "acces_emploi", "acces_gares"):
        assert LAYERS[name].family == "acces"
    extra = LAYERS.columns()
    c = column_info("part_population_college_1000m", extra=extra)
    assert c.label == "Part des habitants à moins de 1000 m d'un collège" and c.direction == -1
    assert column_info("distance_lycee_professionnel_m", extra=extra).kind == "distance"
    assert column_info("n_colleges_rep_plus_500m", extra=extra) is not None


# -- real files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hdf(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        qpv = read_qpv(shared_data / "qpv2024_contours_simplified"
                       / "qpv2024_hdf_simplified.geojson")
        schools = read_education_establishments(
            shared_data / "education_academie_lille"
            / "academie_lille_colleges_lycees_rep_2021.geojson")
    return qpv, schools


def _fine_mean_distance(poly, facilities, step=10.0):
    """Independent check: a 10 m lattice, geopandas' within and sjoin_nearest."""
    x0, y0, x1, y1 = poly.bounds
    xs, ys = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()), crs=2154)
    pts = pts[pts.within(poly)]
    near = gpd.sjoin_nearest(pts, facilities[["geometry"]], distance_col="d")
    d = near.groupby(level=0)["d"].min()
    return float(d.mean()), float((d <= 500).mean())


def test_colleges_of_nord_and_pas_de_calais_qpv(hdf):
    qpv, schools = hdf
    r = education_access(qpv, schools)
    # the Académie de Lille file covers Nord and Pas-de-Calais: 94 + 64 of the 204 QPV of
    # 2024; the 46 of Aisne, Oise and Somme are NA ("hors couverture"), never 0
    assert len(r) == 204 and int(r["part_couverte_acces_education"].sum()) == 158
    nd = r[r.index.str[2:5].isin(["002", "060", "080"])]
    assert nd["distance_college_m"].isna().all() and nd["part_surface_college_500m"].isna().all()
    covered = r.dropna(subset=["distance_college_m"])
    assert len(covered) == 158
    # Measured with the 50 m lattice (area-weighted; no population grid covers these QPV):
    # median QPV 776 m from the nearest collège, 134 m to 4,185 m.
    assert covered["distance_college_m"].median() == pytest.approx(775.6, abs=1.0)
    assert covered["distance_college_m"].min() == pytest.approx(133.9, abs=1.0)
    assert covered["distance_college_m"].max() == pytest.approx(4185.3, abs=2.0)
    area = qpv.set_index("code_qpv").area.reindex(covered.index)
    within = float((covered["part_surface_college_1000m"] * area).sum() / area.sum())
    assert within == pytest.approx(0.688, abs=0.002)  # 69 % of QPV area within 1 km
    # Independent check on the three QPV of Lille: a 10 m lattice with geopandas agrees
    # within 1 % on the mean distance and 2 points on the 500 m share (lattice step).
    colleges = schools[schools["groupe"] == "collège"]
    for code in ("QN05971M", "QN05973M", "QN05974M"):
        poly = qpv.set_index("code_qpv").geometry[code]
        mean, share = _fine_mean_distance(poly, colleges)
        assert covered.loc[code, "distance_college_m"] == pytest.approx(mean, rel=0.01)
        assert covered.loc[code, "part_surface_college_500m"] == pytest.approx(share, abs=0.02)


def test_rep_plus_colleges_inside_and_near_the_qpv(hdf):
    qpv, schools = hdf
    rep_plus = schools[(schools["groupe"] == "collège")
                       & (schools["education_prioritaire"] == "REP+")]
    assert len(rep_plus) == 41
    polys = np.asarray(qpv[qpv["code_departement"].isin(["59", "62"])].geometry.array)
    tree = STRtree(polys)
    pts = np.asarray(rep_plus.geometry.array)
    inside = len(set(tree.query(pts, predicate="intersects")[0]))
    near = len(set(tree.query(pts, predicate="dwithin", distance=500)[0]))
    # 27 of the 41 REP+ collèges of the académie stand inside a 2024 QPV, 39 within 500 m
    assert (inside, near) == (27, 39)
    r = education_access(qpv, schools)
    # 32 QPV have a REP+ collège within 500 m of their edge (inside included)
    assert int((r["n_colleges_rep_plus_500m"] > 0).sum()) == 32


def test_population_weighted_distance_with_the_lille_iris_population(hdf, shared_data):
    qpv, schools = hdf
    iris = read_iris_contours(shared_data / "urban_heat_lcz"
                              / "lille_iris_heat_vulnerability.geojson")
    pop = pd.read_csv(shared_data / "urban_heat_lcz" / "lille_iris_elderly_pct.csv",
                      dtype={"IRIS": str})
    base = iris.merge(pop.rename(columns={"IRIS": "code_iris",
                                          "total_population": "population"})
                      [["code_iris", "population"]], on="code_iris")
    assert base["population"].sum() == pytest.approx(204_241, abs=1)  # SOURCE.md
    lille = qpv[qpv["code_commune"] == "59350"]
    r = education_access(lille, schools, population=base)
    assert r.attrs["base"] == "population"
    # Lille Nord-Est: 69 % of its inhabitants within 500 m of a collège, and for 76 % of
    # them the nearest collège is REP+ (72 % of its area: the population sits nearer it)
    assert r.loc["QN05973M", "part_population_college_500m"] == pytest.approx(0.689, abs=0.005)
    assert r.loc["QN05973M", "part_population_college_rep_plus"] == pytest.approx(0.758,
                                                                                  abs=0.005)
    assert r.loc["QN05971M", "distance_college_m"] == pytest.approx(1068.9, abs=2.0)


def test_stations_of_amiens_weighted_by_the_filosofi_grid(hdf, shared_data):
    qpv, _ = hdf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        stations = read_stations(shared_data / "stations_sncf" / "gares-de-voyageurs.csv")
        grid = read_filosofi_grid(shared_data / "filosofi_200m_2019_communes_sample"
                                  / "80_carEXAMEN.csv")
    amiens = qpv[qpv["code_commune"] == "80021"]
    assert len(amiens) == 7
    area = station_access(amiens, stations)
    people = station_access(amiens, stations, population=grid)
    # Amiens Nord lives 2.3 km from a station on average; only 11 % within 2 km
    assert people.loc["QN08003M", "distance_gare_m"] == pytest.approx(2326.8, abs=3.0)
    assert people.loc["QN08003M", "part_population_gare_2000m"] == pytest.approx(0.109,
                                                                                 abs=0.005)
    # Elbeuf-Lescouvé: weighting by people moves the mean from 946 m (area) to 1,030 m
    assert area.loc["QN08010N", "distance_gare_m"] == pytest.approx(945.5, abs=2.0)
    assert people.loc["QN08010N", "distance_gare_m"] == pytest.approx(1029.9, abs=3.0)


@pytest.mark.slow
def test_access_notebook_on_real_data(shared_data, tmp_path):
    from test_notebooks import _execute, _text  # the runner of tests/test_notebooks.py

    text = _text(_execute("04_acces_transition", tmp_path, data_dir=str(shared_data)))
    assert "QPV couverts (collèges) : 158 sur 204" in text
    assert "Distance médiane au collège le plus proche : 776 m (environs : 846 m)" in text
    assert "QPV ayant un collège REP+ à moins de 500 m : 32" in text
    assert "IRIS desservis par un réseau : 46 sur 110" in text
    assert (tmp_path / "processed" / "04_acces_college.png").is_file()

