"""qpv_crosswalk: the 2015 -> 2024 change, checked on the Hauts-de-France contours."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import qpvgeo
from qpvgeo.crosswalk import TYPE_LABELS, crosswalk_summary, qpv_crosswalk
from qpvgeo.errors import DataFormatError, SchemaError

QPV2015_HDF = "qpv2015_contours_anct/qpv2015_hdf_wgs84.geojson"
QPV2024_HDF = "qpv2024_contours_simplified/qpv2024_hdf_simplified.geojson"
GRID_SOMME = "filosofi_200m_2019_communes_sample/80_carEXAMEN.csv"


@pytest.fixture(scope="module")
def hdf(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repaired invalid rings, reported by read_qpv
        q15 = qpvgeo.read_qpv(shared_data / QPV2015_HDF)
        q24 = qpvgeo.read_qpv(shared_data / QPV2024_HDF)
    return q15, q24, qpv_crosswalk(q15, q24)


def test_hdf_typology_counts(hdf):
    _, _, cw = hdf
    summary = crosswalk_summary(cw)
    assert summary["chiffres"] == {"qpv_2015": 199, "qpv_2024": 204, "nouveaux": 9, "sortis": 1}
    counts = summary["par_type"].set_index("type_evolution")[["qpv_2015", "qpv_2024"]]
    # Measured on the official 2015 contours and the simplified 2024 layer (thresholds:
    # 5 % shares, 20 m edge band; module docstring).
    assert counts["qpv_2024"].to_dict() == {
        "inchange": 45, "agrandi": 110, "reduit": 2, "redessine": 31, "fusionne": 4,
        "scinde": 3, "nouveau": 9, "sorti": 0}
    assert counts["qpv_2015"].to_dict() == {
        "inchange": 45, "agrandi": 110, "reduit": 2, "redessine": 31, "fusionne": 8,
        "scinde": 2, "nouveau": 0, "sorti": 1}
    assert summary["par_type"]["libelle"].tolist() == list(TYPE_LABELS.values())


def test_hdf_agrees_with_anct_code_letters(hdf):
    # ANCT's last letter of a 2024 code marks its relation to 2015 (SOURCE.md: HdF 186 M,
    # 10 I, 8 N; meaning not documented there). The geometry alone finds every N new, and
    # 9 of the 10 I unchanged — the 10th (QN06008I) gained 7 % beyond the 20 m band
    # (IoU 0.888 with its 2015 outline, the lowest of the I; SOURCE.md).
    _, _, cw = hdf
    q = cw["qpv"][cw["qpv"]["millesime"] == 2024].set_index("code_qpv")
    letter = q.index.str[-1]
    assert (q.loc[letter == "N", "type_evolution"] == "nouveau").all()
    assert int((letter == "N").sum()) == 8
    i_types = q.loc[letter == "I", "type_evolution"]
    assert len(i_types) == 10 and int((i_types == "inchange").sum()) == 9
    assert i_types["QN06008I"] == "agrandi"
    assert q.loc["QN06008I", "part_gagnee"] == pytest.approx(0.0706, abs=1e-3)


def test_hdf_pairs_and_groups(hdf):
    q15, q24, cw = hdf
    pairs = cw["paires"]
    # 202 pairs intersect at all; 2 are slivers (< 1 % of either side) left out.
    assert len(pairs) == 200
    assert ((pairs["part_qpv_2015"] >= 0.05) | (pairs["part_qpv_2024"] >= 0.05)).all()
    assert pairs["part_qpv_2015"].between(0, 1).all() and pairs["part_qpv_2024"].between(0, 1).all()
    q = cw["qpv"].set_index(["millesime", "code_qpv"])
    # Boulogne: three 2015 QPV merged into "Des résidences Sud du Boulonnais".
    assert q.loc[(2024, "QN06252M"), "codes_correspondants"] == "QP062052, QP062053, QP062054"
    # Arras Ouest split in two.
    assert q.loc[(2015, "QP062061"), "codes_correspondants"] == "QN06259M, QN06260M"
    assert q.loc[(2015, "QP060015"), "type_evolution"] == "sorti"
    # Areas: the layers' totals (SOURCE.md: 84.56 km² in 2015, 111.72 km² in 2024).
    areas = cw["qpv"].groupby("millesime")["surface_ha"].sum() / 100
    assert areas[2015] == pytest.approx(84.56, abs=0.01)
    assert areas[2024] == pytest.approx(111.72, abs=0.01)


def test_inhabitants_kept_added_left_amiens(hdf, shared_data):
    q15, q24, _ = hdf
    grid = qpvgeo.read_filosofi_grid(shared_data / GRID_SOMME)
    # The Somme grid sample covers Amiens (80021): its 6 QPV of 2015 and 7 of 2024.
    a15 = q15[q15["noms_communes"].fillna("").str.contains("Amiens")]
    a24 = q24[q24["noms_communes"].fillna("").str.contains("Amiens")]
    assert (len(a15), len(a24)) == (6, 7)
    cw = qpv_crosswalk(a15, a24, population=grid)
    t = cw["totaux"].iloc[0]
    # Identities: 2015 = kept + left; 2024 = kept + added (to rounding).
    assert t["population_2015"] == pytest.approx(t["population_maintenue"] + t["population_sortie"])
    assert t["population_2024"] == pytest.approx(t["population_maintenue"] + t["population_entree"])
    # Calibrated grid estimates (Filosofi 2019): 23,301 inhabitants in 2015, 27,734 in
    # 2024; 22,724 stay, 5,010 come in, 577 leave.
    assert round(t["population_2015"]) == 23301 and round(t["population_2024"]) == 27734
    assert round(t["population_entree"]) == 5010 and round(t["population_sortie"]) == 577
    # Oracles: SIG Ville's 2024 population of the 7 QPV (analyse_qpv.csv, popMuniQPV)
    # totals 31,535 and INSEE's DEMO 2021 POP_MUN of the 6 QPV 2015 30,279. The grid
    # (2019, and squares cut at the commune edge) estimates 0.88 and 0.77 of them;
    # area weighting gives 0.71 and 0.64 (its known low bias, qpvgeo.interpolate).
    assert t["population_2024"] / 31535 == pytest.approx(0.88, abs=0.01)
    assert t["population_2015"] / 30279 == pytest.approx(0.77, abs=0.01)
    area = qpv_crosswalk(a15, a24, population=grid, method="area")["totaux"].iloc[0]
    assert area["population_2024"] / 31535 == pytest.approx(0.71, abs=0.01)
    q = cw["qpv"].set_index("code_qpv")
    # The new QPV Elbeuf-Lescouvé: all its inhabitants come in; none "kept".
    assert q.loc["QN08010N", "population_maintenue"] == 0
    assert q.loc["QN08010N", "population_entree"] == pytest.approx(
        q.loc["QN08010N", "population_estimee"])
    assert np.isnan(q.loc["QP080001", "population_entree"])  # not a 2015 quantity: NA
    summary = crosswalk_summary(cw)
    assert summary["chiffres"]["population_entree"] == pytest.approx(t["population_entree"])
    assert "calibrated" in summary["chiffres"]["methode"]


def _frames():
    q15 = gpd.GeoDataFrame({"code_qpv": ["QP059001", "QP059002"], "nom_qpv": ["A", "B"]},
                           crs=2154, geometry=[box(0, 0, 500, 500), box(500, 0, 1000, 500)])
    q24 = gpd.GeoDataFrame({"code_qpv": ["QN05901M"], "nom_qpv": ["AB"]}, crs=2154,
                           geometry=[box(0, 0, 1000, 500)])
    return q15, q24


def test_merge_and_split_synthetic():
    q15, q24 = _frames()
    q = qpv_crosswalk(q15, q24)["qpv"].set_index("code_qpv")["type_evolution"]
    assert q.to_dict() == {"QP059001": "fusionne", "QP059002": "fusionne", "QN05901M": "fusionne"}
    back = qpv_crosswalk(
        q24.assign(code_qpv=["QP059001"]),
        q15.assign(code_qpv=["QN05901M", "QN05902M"]))["qpv"]
    assert set(back["type_evolution"]) == {"scinde"}


def test_edge_noise_is_not_a_change():
    # A 2024 outline moved by 15 m everywhere (simplification noise) is unchanged; moved
    # by 60 m outward on one side it is enlarged.
    q15 = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, crs=2154, geometry=[box(0, 0, 500, 500)])
    noisy = gpd.GeoDataFrame({"code_qpv": ["QN05901M"]}, crs=2154,
                             geometry=[box(15, -15, 515, 485)])
    assert qpv_crosswalk(q15, noisy)["qpv"]["type_evolution"].tolist() == ["inchange"] * 2
    bigger = noisy.set_geometry([box(0, 0, 560, 500)])
    assert qpv_crosswalk(q15, bigger)["qpv"]["type_evolution"].tolist() == ["agrandi"] * 2


def test_errors():
    q15, q24 = _frames()
    with pytest.raises(DataFormatError, match="expected 2015"):
        qpv_crosswalk(q24, q24)
    with pytest.raises(SchemaError, match="min_share"):
        qpv_crosswalk(q15, q24, min_share=0)
    assert isinstance(qpv_crosswalk(q15, q24)["paires"], pd.DataFrame)


def test_cli_crosswalk(shared_data, tmp_path):
    from click.testing import CliRunner

    from qpvgeo.cli import main

    out, pairs = tmp_path / "evolution.csv", tmp_path / "paires.csv"
    result = CliRunner().invoke(main, [
        "crosswalk", "--qpv2015", str(shared_data / QPV2015_HDF),
        "--qpv2024", str(shared_data / QPV2024_HDF), "--out", str(out), "--pairs", str(pairs),
    ])
    assert result.exit_code == 0, result.output
    assert "199 QPV 2015 -> 204 QPV 2024" in result.output
    assert "Nouveau en 2024: 9 (2024)" in result.output
    table = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig")
    assert len(table) == 403 and table["libelle"].notna().all()
    assert len(pd.read_csv(pairs, sep=";", decimal=",", encoding="utf-8-sig")) == 200
