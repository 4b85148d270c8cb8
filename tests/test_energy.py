"""Decarbonisation layers: heat networks per IRIS brought to QPV, DPE labels per QPV."""

from __future__ import annotations

import shutil
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from qpvgeo.errors import DataFormatError, QpvgeoWarning
from qpvgeo.exposure import LAYERS, dpe_exposure, heat_network_exposure, heat_network_iris
from qpvgeo.readers import (
    read_dpe,
    read_heat_network_co2,
    read_heat_network_deliveries,
    read_iris_contours,
    read_qpv,
)

HEAT = "energy_heat_networks"


@pytest.fixture(scope="module")
def lille(shared_data):
    folder = shared_data / HEAT
    deliveries = read_heat_network_deliveries(
        folder / "fcu_heat_network_conso_by_iris_2019_hdf.csv")
    networks = read_heat_network_co2(folder / "arrete_dpe_2026_reseaux_chaleur_hdf.csv")
    iris = read_iris_contours(shared_data / "urban_heat_lcz"
                              / "lille_iris_heat_vulnerability.geojson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        qpv = read_qpv(shared_data / "qpv2024_contours_simplified"
                       / "qpv2024_hdf_simplified.geojson")
    return deliveries, networks, iris, qpv


# -- readers ---------------------------------------------------------------------------------


def test_heat_deliveries_per_iris_hdf(lille):
    d = lille[0]
    # SOURCE.md: 486 rows, 308 IRIS, 43 communes, 40 networks, 37 secret rows, ≈ 1.44 TWh
    assert len(d) == 486 and d["code_iris"].nunique() == 308
    assert d["code_commune"].nunique() == 43 and d["identifiant_reseau"].nunique() == 40
    assert int(d["secret"].sum()) == 37 and d.loc[d["secret"], "energie_mwh"].isna().all()
    assert d["energie_mwh"].sum() == pytest.approx(1_442_883, abs=1)
    assert set(d["secteur"]) == {"résidentiel", "tertiaire", "non affecté"}
    assert d["code_iris"].str.len().eq(9).all()


def test_the_tidy_csv_and_fcu_json_agree(shared_data):
    folder = shared_data / HEAT
    a = read_heat_network_deliveries(folder / "fcu_heat_network_conso_by_iris_2019_france.csv")
    b = read_heat_network_deliveries(folder / "fcu_network_by_iris_2019.json")
    assert len(a) == len(b) == 6507 and int(a["secret"].sum()) == int(b["secret"].sum()) == 420
    key = ["identifiant_reseau", "code_iris", "secteur"]
    m = a.merge(b, on=key, suffixes=("_csv", "_json"))
    assert len(m) == 6507
    both = m["energie_mwh_csv"].notna()
    # the JSON writes "5799,37": the decimal comma is read, values match to the kWh
    assert np.allclose(m.loc[both, "energie_mwh_csv"], m.loc[both, "energie_mwh_json"],
                       atol=1e-3)


def test_bad_heat_files_are_refused(shared_data, tmp_path):
    src = shared_data / HEAT / "fcu_heat_network_conso_by_iris_2019_hdf.csv"
    text = src.read_text(encoding="utf-8").splitlines()
    header, first = text[0], text[1]
    for bad, match in ((first.replace(",c,t,", ",c,z,"), "sector"),
                       (first.replace(",3815.0,3815,", ",3815.0,n/a,"), "neither numbers"),
                       (first.replace(",c,t,", ",q,t,"), "chaleur")):
        f = tmp_path / "bad.csv"
        f.write_text(header + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(DataFormatError, match=match):
            read_heat_network_deliveries(f)


def test_arrete_dpe_co2_contents(lille, shared_data, tmp_path):
    n = lille[1]
    # SOURCE.md: 59 networks; contenu_co2 0–0.342; taux_enrr for 58 (not the cooling one)
    assert len(n) == 59 and n["identifiant_reseau"].is_unique
    assert n["contenu_co2_kg_kwh"].between(0, 0.342).all()
    assert n["taux_enrr"].notna().sum() == 58 and n["taux_enrr"].max() <= 1.0
    row = n.set_index("identifiant_reseau").loc["5910C"]  # Réseau de Lille
    assert (row["contenu_co2_kg_kwh"], row["taux_enrr"]) == (0.086, pytest.approx(0.658))
    f = tmp_path / "arrete.csv"
    shutil.copy(shared_data / HEAT / "arrete_dpe_2026_reseaux_chaleur_hdf.csv", f)
    f.write_text(f.read_text(encoding="utf-8").replace(",0.086,", ",1.086,", 1),
                 encoding="utf-8")
    with pytest.raises(DataFormatError, match="CO2"):
        read_heat_network_co2(f)


def test_dpe_sample_layout(shared_data, tmp_path):
    # THE SAMPLE IS NOT RANDOM (selected by a keyword by a third party): these counts test
    # the layout and the reader only. Never publish statistics computed from it.
    with pytest.warns(QpvgeoWarning, match="dropped 2 DPE"):
        dpe = read_dpe(shared_data / HEAT / "dpe03existant_sample_hdf91.csv")
    assert len(dpe) == 89 and dpe.crs.to_epsg() == 2154  # 91 rows, 2 placed at (0, 0)
    assert dpe["etiquette_dpe"].value_counts().to_dict() == {
        "D": 34, "E": 34, "C": 12, "G": 5, "F": 3, "B": 1}
    assert dpe["code_commune"].value_counts().head(1).to_dict() == {"59512": 34}  # Roubaix
    assert dpe.attrs["couverture_departements"] == ["02", "59", "60", "62", "80"]
    assert dpe["annee_construction"].dtype == "Int64"
    bad = tmp_path / "dpe.csv"
    src = (shared_data / HEAT / "dpe03existant_sample_hdf91.csv").read_text(encoding="utf-8")
    lines = src.splitlines()
    bad.write_text("\n".join([lines[0], lines[1].replace(",E,E,maison", ",H,E,maison")]) + "\n",
                   encoding="utf-8")
    with pytest.raises(DataFormatError, match="outside A–G"):
        read_dpe(bad)


# -- heat networks -> QPV ----------------------------------------------------------------------


def test_heat_network_iris_of_lille(lille):
    deliveries, networks, iris, _ = lille
    ih = heat_network_iris(deliveries, iris, networks=networks)
    assert len(ih) == 110  # every Lille IRIS; the 257 other HdF IRIS are outside the contours
    assert ih.attrs["iris_hors_contours"] == 257
    served = ih["chaleur_reseau_mwh"] > 0
    assert int(served.sum()) == 46 and int(ih["chaleur_reseau_mwh"].isna().sum()) == 5
    # an IRIS without delivery is 0 (measured), its CO2 content NA (no heat to weigh)
    none = ih[ih["chaleur_reseau_mwh"] == 0]
    assert len(none) == 59 and none["contenu_co2_kg_kwh"].isna().all()
    # Lille is served by 5910C (0.086 kg/kWh) and, in Lomme, 5917C (0.107)
    assert ih["contenu_co2_kg_kwh"].dropna().between(0.086 - 1e-9, 0.107 + 1e-9).all()


def test_heat_network_exposure_of_the_lille_qpv(lille):
    deliveries, networks, iris, qpv = lille
    ih = heat_network_iris(deliveries, iris, networks=networks)
    zones = qpv[qpv["codes_communes"].str.contains("59350")]
    r = heat_network_exposure(zones, ih)
    cov = r["part_couverte_reseaux_chaleur"].round(3).to_dict()
    assert cov == {"QN05971M": 1.0, "QN05972M": 0.944, "QN05973M": 0.999, "QN05974M": 1.0,
                   "QN05978M": 0.241}
    # Secteur Sud and Mons reach beyond the commune of Lille (the only IRIS we hold): NA
    assert r.loc[["QN05972M", "QN05978M"], "chaleur_reseau_mwh"].isna().all()
    # Secteur Ouest: no network IRIS at all, measured 0
    assert r.loc["QN05971M", "chaleur_reseau_mwh"] == 0.0
    # Nord-Est: 84 % of its area in served IRIS, but one delivery is secret: total unknown
    assert r.loc["QN05973M", "part_surface_desservie_reseau_chaleur"] == pytest.approx(0.842,
                                                                                        abs=0.001)
    assert np.isnan(r.loc["QN05973M", "chaleur_reseau_mwh"])
    assert r.loc["QN05973M", "contenu_co2_kg_kwh"] == pytest.approx(0.086)
    # Secteur Nord: 617 MWh, tertiary — checked independently with a
    # geopandas overlay: sum over IRIS of MWh x area(QPV ∩ IRIS) / area(IRIS)
    nord = zones[zones["code_qpv"] == "QN05974M"]
    ov = gpd.overlay(ih[["code_iris", "chaleur_reseau_mwh", "geometry"]].assign(
        a_iris=ih.area), nord[["code_qpv", "geometry"]], how="intersection")
    expected = float((ov["chaleur_reseau_mwh"] * ov.area / ov["a_iris"]).sum())
    assert r.loc["QN05974M", "chaleur_reseau_mwh"] == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(617.3, abs=0.1)
    # residential: a sliver (simplified contours) of a served IRIS, 0.00005 MWh: 0 at the
    # published rounding
    assert r.loc["QN05974M", "chaleur_reseau_residentiel_mwh"] == pytest.approx(0.0, abs=1e-3)
    # the QPV of the rest of the region: no IRIS contours, NA everywhere
    rest = heat_network_exposure(qpv, ih)
    assert int(rest["chaleur_reseau_mwh"].notna().sum()) == 2


def test_residential_share_needs_the_total_consumption():
    iris = gpd.GeoDataFrame({"code_iris": ["593500101"]}, geometry=[box(0, 0, 100, 100)],
                            crs=2154)
    d = pd.DataFrame({"identifiant_reseau": ["5910C"], "code_iris": ["593500101"],
                      "filiere": ["chaleur"], "secteur": ["résidentiel"],
                      "energie_mwh": [300.0], "points_livraison": [3], "secret": [False]})
    cons = pd.DataFrame({"code_iris": ["593500101"], "conso_residentielle_mwh": [1200.0]})
    z = gpd.GeoDataFrame({"code_qpv": ["QN05901M"], "population": [50]},
                         geometry=[box(0, 0, 100, 100)], crs=2154)
    r = heat_network_exposure(z, heat_network_iris(d, iris, consumption=cons))
    assert r["part_chaleur_reseau_residentiel"].item() == 0.25
    assert r["chaleur_reseau_residentiel_kwh_par_habitant"].item() == 6000.0
    # split by population: all inhabitants in the west half -> all the energy there
    base = gpd.GeoDataFrame({"population": [100.0]}, geometry=[box(0, 0, 50, 100)], crs=2154)
    halves = gpd.GeoDataFrame({"code_qpv": ["QN05901M", "QN05902M"]},
                              geometry=[box(0, 0, 50, 100), box(50, 0, 100, 100)], crs=2154)
    by_pop = heat_network_exposure(halves, heat_network_iris(d, iris), population=base, step=5)
    assert by_pop["chaleur_reseau_mwh"].tolist() == pytest.approx([300.0, 0.0])


# -- DPE -> QPV ---------------------------------------------------------------------------------


def test_dpe_labels_per_qpv_on_the_sample(lille, shared_data):
    # NOT A RANDOM SAMPLE: the counts below check the placement, never publish them.
    qpv = lille[3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        dpe = read_dpe(shared_data / HEAT / "dpe03existant_sample_hdf91.csv")
    r = dpe_exposure(qpv, dpe)
    assert int(r["part_couverte_dpe"].sum()) == 204
    assert int(r["n_dpe"].sum()) == 49 and int((r["n_dpe"] > 0).sum()) == 8
    assert r.loc["QN05980M", ["n_dpe", "n_dpe_fg"]].tolist() == [24.0, 3.0]
    assert r.loc["QN05980M", "part_dpe_fg"] == 0.125
    # a QPV without any DPE: 0 certificates, share unknown (not 0 %)
    empty = r[r["n_dpe"] == 0]
    assert empty["part_dpe_fg"].isna().all()
    # the 10 of Laon's QPV lie on its simplified edge: flagged as uncertain
    assert r.loc["QN00211M", "n_dpe_bord"] == 10.0


def test_dpe_outside_coverage_is_na():
    z = gpd.GeoDataFrame({"code_qpv": ["QN05901M", "QN08001M"]},
                         geometry=[box(700000, 7050000, 701000, 7051000),
                                   box(640000, 6970000, 641000, 6971000)], crs=2154)
    d = gpd.GeoDataFrame({"etiquette_dpe": ["G"]}, geometry=[Point(700500, 7050500)],
                         crs=2154)
    r = dpe_exposure(z, d, coverage=["59"])
    assert r.loc["QN05901M", "part_dpe_fg"] == 1.0
    assert r.loc["QN08001M"].drop("part_couverte_dpe").isna().all()


def test_transition_layers_are_registered():
    assert LAYERS["reseaux_chaleur"].family == LAYERS["dpe"].family == "transition"
    names = {c.name for c in LAYERS["dpe"].columns}
    assert {"part_dpe_fg", "n_dpe", "part_couverte_dpe"} <= names


# -- through the registry -----------------------------------------------------------------------


def test_the_layers_run_through_exposure_profile(lille, shared_data):
    from qpvgeo.exposure import exposure_profile
    from qpvgeo.readers import read_communes, read_education_establishments

    deliveries, networks, iris, qpv = lille
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        schools = read_education_establishments(
            shared_data / "education_academie_lille"
            / "academie_lille_colleges_lycees_rep_2021.geojson")
        dpe = read_dpe(shared_data / HEAT / "dpe03existant_sample_hdf91.csv")
        communes = read_communes(shared_data / "communes_hdf" / "communes_hdf_cog2025.gpkg")
        p = exposure_profile(qpv, layers={
            "acces_education": schools,
            "reseaux_chaleur": heat_network_iris(deliveries, iris, networks=networks),
            "dpe": dpe}, communes=communes)
    assert p.attrs["couverture"] == {"acces_education": "source", "reseaux_chaleur": "source",
                                     "dpe": "source"}
    # collèges: the communes of Nord and Pas-de-Calais cover their 158 QPV exactly
    cov = p["part_couverte_acces_education"]
    assert int((cov > 0.999).sum()) == 158 and int((cov == 0).sum()) == 46
    assert p.loc[cov == 0, "distance_college_m"].isna().all()
    assert p["distance_college_m"].median() == pytest.approx(775.6, abs=1.0)
    # compared with the surroundings: QPV are nearer a collège than their 500 m ring
    assert p["distance_college_m_environs"].median() == pytest.approx(846, abs=2)
    # heat networks: only the QPV reaching the Lille IRIS, on their covered part
    heat = p["part_couverte_reseaux_chaleur"]
    assert heat[heat > 0].round(3).to_dict() == {
        "QN05971M": 1.0, "QN05972M": 0.944, "QN05973M": 0.999, "QN05974M": 1.0,
        "QN05978M": 0.241}
    assert p.loc[heat == 0, "chaleur_reseau_mwh"].isna().all()
    assert p.loc["QN05974M", "chaleur_reseau_mwh"] == pytest.approx(617.3, abs=0.1)
    # labels come from the registry's column catalogue
    assert p.attrs["columns"]["part_dpe_fg"]["libellé"].startswith("Part des DPE classés F")
    assert int(p["n_dpe"].sum()) == 49  # NOT a random sample: layout check only


def test_the_demo_territory_carries_the_new_layers():
    from qpvgeo.datasets import demo
    from qpvgeo.exposure import exposure_profile

    d = demo()
    names = ("acces_education", "acces_emploi", "acces_gares", "reseaux_chaleur", "dpe")
    assert set(names) <= set(d.layers)
    p = exposure_profile(d.qpv, layers={n: d.layers[n] for n in names}, population=d.grid,
                         surroundings=None)
    assert (p[[f"part_couverte_{n}" for n in names]] == 1.0).all().all()
    assert p["distance_college_m"].notna().all() and p["part_dpe_fg"].notna().all()
