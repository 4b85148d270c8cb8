"""Shares you can trust: never above 1 without an error, never a smaller denominator,
estimates labelled, millésimes recorded; on the real Occitanie and Hauts-de-France files.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from qpvgeo import readers
from qpvgeo.cli import main
from qpvgeo.errors import DataFormatError, QpvgeoWarning, SchemaError
from qpvgeo.pipeline import shares_from_files
from qpvgeo.population import population_shares, qpv_population_by_commune


def _parts(rows):
    return pd.DataFrame(rows, columns=["code_qpv", "code_commune", "population_qpv"])


def _pop(rows):
    return pd.DataFrame(rows, columns=["code_commune", "population"])


def test_a_share_above_one_is_an_error_naming_the_territory_and_the_qpv():
    parts = _parts([("QN05901M", "59350", 30_000.0), ("QN05902M", "59009", 100.0)])
    with pytest.raises(DataFormatError) as info:
        population_shares(parts, _pop([("59350", 20_000), ("59009", 5_000)]))
    msg = str(info.value)
    assert "59350: 150%" in msg and "QN05901M" in msg
    assert "59009" not in msg  # only the territory at fault


def test_a_missing_commune_population_gives_na_not_a_smaller_denominator():
    parts = _parts([("QN05901M", "59350", 2_000.0)])
    pop = _pop([("59350", 20_000), ("59009", pd.NA), ("62041", 10_000)])
    with pytest.warns(QpvgeoWarning, match=r"1 commune\(s\) without a population \(59009\)"):
        dep = population_shares(parts, pop, level="departement")
    # Département 59 would be 2,000 / 20,000 = 10 % without 59009: it is NA instead.
    assert pd.isna(dep.loc["59", "population"]) and pd.isna(dep.loc["59", "part_qpv"])
    assert dep.loc["62", "population"] == 10_000 and dep.loc["62", "part_qpv"] == 0


def test_numerator_and_denominator_years_are_recorded_and_a_mismatch_warned():
    parts = _parts([("QP059001", "59350", 2_000.0)])
    parts.attrs.update(annee_source=2020, source="data_DEMO_2020_V1_QP.csv")
    pop = _pop([("59350", 20_000)])
    pop.attrs.update(annee_source=2023, source="populations_legales_2023.csv")
    with pytest.warns(QpvgeoWarning, match="different years"):
        out = population_shares(parts, pop)
    assert out.attrs["millesimes"] == {
        "population_qpv": {"annee": 2020, "source": "data_DEMO_2020_V1_QP.csv"},
        "population": {"annee": 2023, "source": "populations_legales_2023.csv"},
    }
    pop.attrs["annee_source"] = 2020
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        population_shares(parts, pop)


def test_readers_record_the_year_of_their_figures(shared_data):
    d = shared_data
    pop = readers.read_commune_population(
        d / "insee_population_communes/populations_legales_2023_communes_cog2025.csv")
    assert pop.attrs["annee_source"] == 2023  # not 2025, the COG year
    ind = readers.read_qpv_indicators(d / "insee_qpv_tables/data_DEMO_2020_V1_QP.csv")
    assert ind.attrs["annee_source"] == 2020


def test_area_split_is_labelled_an_estimate_and_measured_on_tarbes_est(shared_data):
    """QP065003 "Tarbes Est" lies in Tarbes and Séméac (Occitanie hackaviz file).

    INSEE's figures imply its Séméac part: the file gives each QPV's commune total
    (``pop_com_qp``): Tarbes' QPV hold 7,137 people (row of Tarbes Ouest, in Tarbes
    only), Séméac + Tarbes' 7,189 (row of Tarbes Est), so Séméac's part is 52. The area
    split gives about 2.4 times that: an estimate, and labelled one.
    """
    d = shared_data
    com = readers.read_communes(d / "communes_occitanie/communes-65-hautes-pyrenees.geojson")
    qpv = readers.read_qpv(d / "qpv2015_occitanie_hackaviz/qp.geojson", communes=com)
    ind = readers.read_qpv_indicators(d / "qpv2015_occitanie_hackaviz/qp.csv")
    q65 = qpv[qpv["code_qpv"].str.startswith("QP065")]
    parts = qpv_population_by_commune(q65, ind, com).set_index(["code_qpv", "code_commune"])
    semeac = parts.loc[("QP065003", "65417")]
    implied = 7_189 - 7_137
    assert semeac["methode"] == "aire" and bool(semeac["estimation"])
    # 125.8 by area against 52: the ratio is 2.42 (area shares of the simplified contours).
    assert semeac["population_qpv"] / implied == pytest.approx(2.42, abs=0.05)
    assert parts.loc["QP065003", "population_qpv"].sum() == pytest.approx(3_316)
    assert not parts.loc[("QP065001", "65440"), "estimation"]  # whole in Tarbes: not one


def test_a_multi_commune_qpv_without_boundaries_is_refused(shared_data):
    d = shared_data
    qpv = readers.read_qpv(d / "qpv2015_occitanie_hackaviz/qp.geojson")
    ind = readers.read_qpv_indicators(d / "qpv2015_occitanie_hackaviz/qp.csv")
    with pytest.raises(SchemaError, match=r"QP065003 \(Séméac, Tarbes\).*pass communes="):
        qpv_population_by_commune(qpv[qpv["code_qpv"].str.startswith("QP065")], ind)


def _hdf(d):
    return {
        "qpv": d / "qpv2024_contours_simplified/qpv2024_hdf_simplified.geojson",
        "indicators": d / "qpv2024_indicators_sigville/analyse_qpv.csv",
        "population":
            d / "insee_population_communes/populations_legales_2023_communes_cog2025.csv",
    }


@pytest.mark.slow
def test_hdf_commune_shares_stay_below_one_and_say_which_are_estimates(shared_data):
    d = shared_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)  # geometry repairs, row collapses
        t = shares_from_files(**_hdf(d), level="commune",
                              membership=d / "qpv2024_list_anct/qpv2024_code_commune.csv",
                              communes=d / "communes_hdf/communes_hdf_cog2025.gpkg")
    t = t[t["n_qpv"] > 0]
    # 161 HdF communes hold a QPV; the highest share is Denain's, 77 %.
    assert len(t) == 161
    assert t["part_qpv"].max() <= 1
    assert t["part_qpv"].idxmax() == "59172" and t["part_qpv"].max() == pytest.approx(0.771,
                                                                                       abs=1e-3)
    assert t["estimation"].sum() == 97  # communes holding part of a QPV split by area
    assert t.attrs["millesimes"]["population"]["annee"] == 2023


def test_hdf_shares_without_commune_boundaries_are_refused(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        with pytest.raises(SchemaError, match="55 QPV span several communes"):
            shares_from_files(**_hdf(shared_data), level="region")


def test_cli_shares_movements_without_communes_keeps_each_qpv_commune(shared_data, tmp_path):
    # The `qpvgeo shares --movements` path used to set every QPV's commune to NA.
    qpv = gpd.GeoDataFrame(
        {"code_quartier": ["QN05901M"], "nom_quartier": ["Un"], "code_commune": ["59350"]},
        geometry=[box(703_000, 7_059_000, 704_000, 7_060_000)], crs=2154)
    qpv.to_file(tmp_path / "qpv.gpkg")
    (tmp_path / "ind.csv").write_text("code_qpv;pop_mun\nQN05901M;2000\n")
    (tmp_path / "pop.csv").write_text("COM;PMUN\n59350;236710\n59009;5000\n")
    result = CliRunner().invoke(main, [
        "shares", "--qpv", str(tmp_path / "qpv.gpkg"), "--indicators", str(tmp_path / "ind.csv"),
        "--population", str(tmp_path / "pop.csv"), "--cog-year", "2025",
        "--movements", str(shared_data / "insee_cog/mouvements_communes.csv"),
        "--out", str(tmp_path / "parts.csv")])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "parts.csv", sep=";", decimal=",", encoding="utf-8-sig",
                      dtype={"code_commune": str}).set_index("code_commune")
    assert out.loc["59350", "population_qpv"] == 2000
    assert out.loc["59350", "part_qpv"] == pytest.approx(2000 / 236_710)
