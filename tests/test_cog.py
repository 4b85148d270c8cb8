"""Commune-code harmonisation (qpvgeo.cog) and the COG readers.

Hand-made movements files exercise each kind of move; the real INSEE COG 2026 files
check the code sets against the populations légales and the derived HdF mapping.
"""

from __future__ import annotations

import glob
import warnings

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from qpvgeo.cog import commune_code_table, detect_cog_year, harmonise_communes
from qpvgeo.errors import DataFormatError, QpvgeoWarning, SchemaError
from qpvgeo.readers.cog import read_cog_communes, read_cog_movements

HEADER = "MOD,DATE_EFF,TYPECOM_AV,COM_AV,LIBELLE_AV,TYPECOM_AP,COM_AP,LIBELLE_AP\n"


def movements(tmp_path, rows: str, name: str = "mvt.csv") -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return read_cog_movements(path)


def communes_list(tmp_path, codes) -> pd.DataFrame:
    path = tmp_path / "communes.csv"
    lines = "".join(f"COM,{c},32,{c[:2]},Commune {c},\n" for c in codes)
    path.write_text("TYPECOM,COM,REG,DEP,LIBELLE,COMPARENT\n" + lines, encoding="utf-8")
    return read_cog_communes(path)


# -- readers --------------------------------------------------------------------------
def test_read_cog_movements_semicolons_bom_and_lost_zeros(tmp_path):
    path = tmp_path / "mvt.csv"
    path.write_text(
        "\ufeff" + HEADER.replace(",", ";") + "41;2018-01-01;COM;1234;X;COM;2345;Y\n",
        encoding="utf-8",
    )
    m = read_cog_movements(path)
    assert m.loc[0, "com_av"] == "01234" and m.loc[0, "com_ap"] == "02345"
    assert m.loc[0, "mod"] == 41 and m.loc[0, "date_eff"] == pd.Timestamp("2018-01-01")


def test_read_cog_movements_errors(tmp_path):
    path = tmp_path / "mvt.csv"
    path.write_text("DATE_EFF,COM_AV\n2019-01-01,59350\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="mod"):
        read_cog_movements(path)
    with pytest.raises(DataFormatError, match="DATE_EFF"):
        movements(tmp_path, "32,01/01/2019,COM,59001,A,COM,59002,B\n")
    with pytest.raises(DataFormatError, match="no such file"):
        read_cog_movements(tmp_path / "absent.csv")


# -- hand-made moves -------------------------------------------------------------------
def test_chain_of_moves_is_followed_and_summed(tmp_path):
    # A (59001) merges into B (59002) in 2019; B changes département (-> 62900) in 2021
    m = movements(tmp_path, (
        "32,2019-01-01,COM,59001,A,COM,59002,B-Nouvelle\n"
        "32,2019-01-01,COM,59002,B,COM,59002,B-Nouvelle\n"
        "41,2021-01-01,COM,59002,B-Nouvelle,COM,62900,B-Nouvelle\n"
    ))
    frame = pd.DataFrame({
        "code_commune": ["59001", "59002", "59003"],
        "nom_commune": ["A", "B", "C"],
        "code_departement": ["59", "59", "59"],
        "population": [10, 20, 5],
        "taux": [1.0, 2.0, 3.0],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean chain raises no warning
        out, report = harmonise_communes(frame, movements=m, year=2018,
                                         additive=["population"], return_report=True)
    assert out["code_commune"].tolist() == ["62900", "59003"]
    assert out["population"].tolist() == [30, 5]
    assert out["nom_commune"].tolist() == ["B-Nouvelle", "C"]
    assert out["code_departement"].tolist() == ["62", "59"]
    # a rate is not additive: merged rows that disagree give NA, never a wrong number
    assert pd.isna(out.loc[0, "taux"]) and out.loc[1, "taux"] == 3.0
    st = report.set_index("code_ancien")["statut"]
    assert st.to_dict() == {"59001": "fusion", "59002": "fusion", "59003": "identique"}
    # the input frame is not modified
    assert frame["code_commune"].tolist() == ["59001", "59002", "59003"]


def test_only_moves_after_year_apply_and_older_codes_are_reported(tmp_path):
    m = movements(tmp_path, (
        "32,2019-01-01,COM,59001,A,COM,59002,B\n"
        "32,2019-01-01,COM,59002,B,COM,59002,B\n"
        "41,2021-01-01,COM,59002,B,COM,62900,B\n"
    ))
    frame = pd.DataFrame({"code_commune": ["59002"], "population": [7]})
    assert harmonise_communes(frame, movements=m, year=2020)["code_commune"].tolist() == ["62900"]
    # COG 2021 = geography at 2021-01-01: the move dated 2021-01-01 is already in it
    new = pd.DataFrame({"code_commune": ["62900"], "population": [7]})
    assert harmonise_communes(new, movements=m, year=2021)["code_commune"].tolist() == ["62900"]
    with pytest.warns(QpvgeoWarning, match="hors_annee"):
        out = harmonise_communes(frame, movements=m, year=2021)
    assert out["code_commune"].tolist() == ["62900"]
    # target_date stops before the 2021 change
    out = harmonise_communes(frame, movements=m, year=2018, target_date="2020-06-30")
    assert out["code_commune"].tolist() == ["59002"]
    # 59001 no longer existed on 1 January 2020: followed anyway, and reported
    old = pd.DataFrame({"code_commune": ["59001"], "population": [3]})
    with pytest.warns(QpvgeoWarning, match=r"1 hors_annee \(e.g. 59001\)"):
        out, rep = harmonise_communes(old, movements=m, year=2020, return_report=True)
    assert out["code_commune"].tolist() == ["62900"] and rep["statut"].tolist() == ["hors_annee"]


def test_same_day_change_of_departement_then_merger(tmp_path):
    # INSEE's 2018-01-01 case: 14513 -> 50649 (MOD 41) and 50649 -> 50592 (MOD 32) on one day
    m = movements(tmp_path, (
        "41,2018-01-01,COM,14513,Pont-Farcy,COM,50649,Pont-Farcy\n"
        "32,2018-01-01,COM,50649,Pont-Farcy,COM,50592,Tessy-Bocage\n"
        "32,2018-01-01,COM,50649,Pont-Farcy,COMD,50649,Pont-Farcy\n"
        "32,2018-01-01,COM,50592,Tessy-sur-Vire,COM,50592,Tessy-Bocage\n"
    ))
    frame = pd.DataFrame({"code_commune": ["14513", "50592"], "population": [500, 1500]})
    out = harmonise_communes(frame, movements=m, year=2017)
    assert out["code_commune"].tolist() == ["50592"] and out["population"].tolist() == [2000]


def test_split_is_reported_not_dropped(tmp_path):
    # 2017: 14666 merges into 14712 (commune nouvelle Saline); 2019-12-31: re-established
    rows = (
        "32,2017-01-01,COM,14666,Sannerville,COM,14712,Saline\n"
        "32,2017-01-01,COM,14666,Sannerville,COMD,14666,Sannerville\n"
        "32,2017-01-01,COM,14712,Troarn,COM,14712,Saline\n"
        "21,2019-12-31,COMD,14666,Sannerville,COM,14666,Sannerville\n"
        "21,2019-12-31,COM,14712,Saline,COM,14666,Sannerville\n"
        "21,2019-12-31,COM,14712,Saline,COM,14712,Troarn\n"
        "21,2019-12-31,COMD,14712,Troarn,COM,14712,Troarn\n"
    )
    m = movements(tmp_path, rows)
    # Geography 2018: Saline is one commune; its 2019 split cannot be reproduced
    frame = pd.DataFrame({"code_commune": ["14712"], "population": [7000]})
    with pytest.warns(QpvgeoWarning, match=r"1 scission \(e.g. 14712\)"):
        out, rep = harmonise_communes(frame, movements=m, year=2018, return_report=True)
    assert out["population"].tolist() == [7000]  # kept whole, not dropped
    assert rep.loc[0, "statut"] == "scission" and rep.loc[0, "code_nouveau"] == "14712"
    assert "14666, 14712" in rep.loc[0, "detail"]
    # Geography 2016: both communes existed; merged then split back, each keeps its own
    before = pd.DataFrame({"code_commune": ["14666", "14712"], "population": [2000, 5000]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = harmonise_communes(before, movements=m, year=2016)
    assert out["code_commune"].tolist() == ["14666", "14712"]
    assert out["population"].tolist() == [2000, 5000]


def test_re_establishment_keeps_the_rest_together(tmp_path):
    # INSEE's Hauts-Talican case: 2019 merger of 60054, 60455, 60694 under 60054;
    # 2024: 60054 re-established, the rest continues as 60694
    m = movements(tmp_path, (
        "32,2019-01-01,COM,60054,Beaumont,COM,60054,Les Hauts-Talican\n"
        "32,2019-01-01,COM,60054,Beaumont,COMD,60054,Beaumont\n"
        "32,2019-01-01,COM,60455,Neuville,COM,60054,Les Hauts-Talican\n"
        "32,2019-01-01,COM,60694,Villotran,COM,60054,Les Hauts-Talican\n"
        "21,2024-01-01,COM,60054,Les Hauts-Talican,COM,60054,Beaumont\n"
        "21,2024-01-01,COMD,60054,Beaumont,COM,60054,Beaumont\n"
        "21,2024-01-01,COM,60054,Les Hauts-Talican,COM,60694,Les Hauts-Talican\n"
    ))
    table = commune_code_table(m, year=2018)
    assert dict(zip(table["code_ancien"], table["code_nouveau"], strict=True)) == {
        "60054": "60054", "60455": "60694", "60694": "60694",
    }
    assert set(table["statut"]) == {"identique", "fusion"}
    # COG 2019-2023 geography: Les Hauts-Talican (60054) is split in 2024
    table = commune_code_table(m, year=2020)
    assert table.set_index("code_ancien").loc["60054", "statut"] == "scission"


def test_unknown_removed_and_arrondissement_codes_are_kept_and_reported(tmp_path):
    m = movements(tmp_path, (
        "30,2007-02-23,COM,97123,Saint-Barthélemy,,,\n"
        "32,2019-01-01,COM,59001,A,COM,59002,B\n"
    ))
    cog = communes_list(tmp_path, ["59002", "75056"])
    frame = pd.DataFrame({
        "code_commune": ["59001", "99999", "ABC", "97123", "75101", "75102"],
        "population": [1, 2, 3, 4, 5, 6],
    })
    with pytest.warns(QpvgeoWarning) as rec:
        out, rep = harmonise_communes(frame, movements=m, year=2000, communes=cog,
                                      return_report=True)
    msg = str(rec[0].message)
    assert "2 inconnu (e.g. 99999, ABC)" in msg and "1 supprime (e.g. 97123)" in msg
    st = rep.set_index("code_ancien")["statut"].to_dict()
    assert st == {"59001": "recode", "99999": "inconnu", "ABC": "inconnu", "97123": "supprime",
                  "75101": "arrondissement", "75102": "arrondissement"}
    pop = dict(zip(out["code_commune"], out["population"], strict=True))
    assert pop == {"59002": 1, "99999": 2, "ABC": 3, "97123": 4, "75056": 11}
    assert out["population"].sum() == frame["population"].sum()  # nothing dropped


def test_additive_sum_is_na_when_a_part_is_missing(tmp_path):
    m = movements(tmp_path, "32,2019-01-01,COM,59001,A,COM,59002,B\n"
                            "32,2019-01-01,COM,59002,B,COM,59002,B\n")
    frame = pd.DataFrame({"code_commune": ["59001", "59002"],
                          "population": pd.array([10, None], dtype="Int64")})
    out = harmonise_communes(frame, movements=m, year=2018)
    assert out["population"].isna().tolist() == [True]


def test_geometries_are_unioned_and_by_keeps_rows_apart(tmp_path):
    m = movements(tmp_path, "32,2019-01-01,COM,59001,A,COM,59002,B\n"
                            "32,2019-01-01,COM,59002,B,COM,59002,B\n")
    g = gpd.GeoDataFrame(
        {"code_commune": ["59001", "59002", "59003"], "population": [1, 2, 4]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)], crs=2154,
    )
    out = harmonise_communes(g, movements=m, year=2018)
    assert isinstance(out, gpd.GeoDataFrame) and out.crs.to_epsg() == 2154
    assert out["code_commune"].tolist() == ["59002", "59003"]
    assert out.area.tolist() == pytest.approx([2.0, 1.0])
    assert out.geometry.is_valid.all()
    assert out.geometry.iloc[0].equals(box(0, 0, 2, 1))
    plain = harmonise_communes(g, movements=m, year=2018, geometry="drop")
    assert not isinstance(plain, gpd.GeoDataFrame) and "geometry" not in plain.columns
    # a QPV x commune table: merging communes must not merge QPV
    qc = pd.DataFrame({"code_qpv": ["Q1", "Q2"], "code_commune": ["59001", "59002"],
                       "population_qpv": [100.0, 200.0]})
    out = harmonise_communes(qc, movements=m, year=2018, by=["code_qpv"])
    assert out[["code_qpv", "code_commune"]].values.tolist() == [["Q1", "59002"], ["Q2", "59002"]]


def test_bad_arguments(tmp_path):
    m = movements(tmp_path, "32,2019-01-01,COM,59001,A,COM,59002,B\n")
    frame = pd.DataFrame({"code_commune": ["59001"], "nom": ["A"]})
    with pytest.raises(SchemaError, match="code_insee"):
        harmonise_communes(frame, movements=m, code_column="code_insee")
    with pytest.raises(SchemaError, match="not numeric"):
        harmonise_communes(frame, movements=m, additive=["nom"])  # before any detection
    with pytest.raises(SchemaError, match="com_av"):
        harmonise_communes(frame, movements=m.drop(columns="com_av"))
    with pytest.raises(DataFormatError, match="year"):
        harmonise_communes(frame, movements=m, year="2018")


# -- real INSEE files ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cog(shared_data):
    return (read_cog_movements(shared_data / "insee_cog" / "mouvements_communes.csv"),
            read_cog_communes(shared_data / "insee_cog" / "communes_cog.csv"))


@pytest.fixture(scope="module")
def populations(shared_data):
    from qpvgeo.readers import read_commune_population

    folder = shared_data / "insee_population_communes"
    return (read_commune_population(folder / "populations_legales_2021_communes_cog2023.csv"),
            read_commune_population(folder / "populations_legales_2023_communes_cog2025.csv"))


def _communes_2018(path_or_paths):
    paths = [path_or_paths] if isinstance(path_or_paths, str) else path_or_paths
    frame = pd.concat([gpd.read_file(p) for p in paths], ignore_index=True)
    frame = frame.rename(columns={"code": "code_commune", "nom": "nom_commune"})
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326).to_crs(2154)


def test_real_cog_readers(cog):
    mvt, communes = cog
    # counts from insee_cog/SOURCE.md
    assert len(mvt) == 13734 and len(communes) == 37496
    assert communes["typecom"].value_counts().to_dict() == {
        "COM": 34875, "COMD": 2105, "COMA": 471, "ARM": 45}
    assert mvt["date_eff"].min() == pd.Timestamp("1943-02-19")


def test_hdf_2018_communes_to_cog2026(cog, populations, shared_data):
    mvt, communes = cog
    _, pop25 = populations
    folder = shared_data / "communes_hdf"
    hdf = _communes_2018(str(folder / "communes-hauts-de-france.geojson"))
    assert len(hdf) == 3808
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every 2018 HdF code is placed cleanly
        out, rep = harmonise_communes(hdf, movements=mvt, year=2018, communes=communes,
                                      return_report=True)
    # exactly the 3,782 HdF codes of the populations légales 2023 (COG 2025)
    expected = set(pop25.loc[pop25["code_region"] == "32", "code_commune"])
    assert len(out) == 3782 and set(out["code_commune"]) == expected
    # the 26 codes that changed are exactly those of the derived mapping
    # communes_hdf/codes_2018_to_cog2025.csv (including 60455 -> 60694, Les Hauts-Talican)
    ref = pd.read_csv(folder / "codes_2018_to_cog2025.csv", dtype=str)
    moved = rep[rep["code_ancien"] != rep["code_nouveau"]]
    assert dict(zip(moved["code_ancien"], moved["code_nouveau"], strict=True)) == dict(
        zip(ref["code_2018"], ref["code_cog2025"], strict=True))
    # union keeps the surface: 32,002 km² (SOURCE.md), 0.01 % for float rounding
    assert out.area.sum() / 1e6 == pytest.approx(hdf.area.sum() / 1e6, rel=1e-4)
    assert out.area.sum() / 1e6 == pytest.approx(32002, abs=1)
    assert out.geometry.is_valid.all()
    assert out.set_index("code_commune").loc["62447", "nom_commune"] == "Hesdin-la-Forêt"
    # and the same codes as the derived COG 2025 boundaries
    gpkg = gpd.read_file(folder / "communes_hdf_cog2025.gpkg", columns=["code"])
    assert set(gpkg["code"]) == set(out["code_commune"])


def test_occitanie_2018_communes_to_cog2026(cog, populations, shared_data):
    mvt, communes = cog
    _, pop25 = populations
    occ = _communes_2018(sorted(glob.glob(str(shared_data / "communes_occitanie" / "*.geojson"))))
    assert len(occ) == 4485
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, rep = harmonise_communes(occ, movements=mvt, year=2018, communes=communes,
                                      return_report=True)
    expected = set(pop25.loc[pop25["code_region"] == "76", "code_commune"])
    assert len(out) == 4446 and set(out["code_commune"]) == expected
    # SOURCE.md's "1 COG 2025 code absent here" is a change of code (chef-lieu, 2024)
    assert rep.set_index("code_ancien").loc["12076", ["code_nouveau", "statut"]].tolist() == [
        "12218", "recode"]


def test_populations_cog2023_to_cog2026_keep_regional_totals(cog, populations, shared_data):
    mvt, communes = cog
    pop21, pop25 = populations
    totals = pd.read_csv(shared_data / "insee_population_communes" /
                         "population_totals_by_region.csv", dtype={"REG": str})
    totals = totals[totals["annee_pop"] == 2021].set_index("REG")["PMUN"]
    with pytest.warns(QpvgeoWarning, match="3 scission"):
        out, rep = harmonise_communes(pop21, movements=mvt, year=2023, communes=communes,
                                      return_report=True)
    # nothing lost: France (excl. Mayotte) 67,408,052 (SOURCE.md), and every region
    assert out["population"].sum() == 67_408_052
    by_region = out.groupby("code_region")["population"].sum()
    assert by_region.to_dict() == totals.to_dict()
    assert by_region["32"] == 5_995_292
    # Occitanie: exactly the COG 2025 codes
    assert set(out.loc[out["code_region"] == "76", "code_commune"]) == set(
        pop25.loc[pop25["code_region"] == "76", "code_commune"])
    # HdF: COG 2023's Les Hauts-Talican (60054) was split on 2024-01-01; the 2021
    # population of the whole cannot be divided, so 60694 is missing and it is said
    hdf = set(out.loc[out["code_region"] == "32", "code_commune"])
    assert set(pop25.loc[pop25["code_region"] == "32", "code_commune"]) - hdf == {"60694"}
    split = rep.set_index("code_ancien").loc["60054"]
    assert split["statut"] == "scission" and "60054, 60694" in split["detail"]
    assert set(rep.loc[rep["statut"] == "scission", "code_ancien"]) == {"15141", "60054", "85084"}
    # the population files list Paris, Lyon, Marseille by arrondissement: collapsed
    assert rep["statut"].eq("arrondissement").sum() == 45
    assert out.set_index("code_commune").loc["13055", "population"] == pop21.loc[
        pop21["code_commune"].str.startswith("132"), "population"].sum()


def test_real_commune_code_table(cog):
    mvt, communes = cog
    table = commune_code_table(mvt, year=2018, communes=communes)
    assert table["code_ancien"].is_unique
    assert not table["statut"].isin(["inconnu", "supprime"]).any()
    assert set(table.loc[table["statut"] == "scission", "code_ancien"]) == {
        "14712", "15141", "85084"}
    t = table.set_index("code_ancien")
    assert t.loc["60455", "code_nouveau"] == "60694"
    # MOD 41 then merger on the same day (2018-01-01), seen from COG 2017
    t17 = commune_code_table(mvt, year=2017).set_index("code_ancien")
    assert t17.loc["14513", "code_nouveau"] == "50592"
    assert "14513" not in t.index  # already 50592's in COG 2018
    # every new code is a COG 2026 commune
    assert table["code_nouveau"].isin(
        set(communes.loc[communes["typecom"] == "COM", "code_commune"])).all()


# -- COG-year detection ----------------------------------------------------------------
def test_detect_cog_year_hand_made(tmp_path):
    # 2019: A (59001) merges into B (59002); 2021: C (59003) is renamed; 2022: D (59004)
    # is re-established out of B, E (59005) created out of nothing known.
    m = movements(tmp_path, (
        "32,2019-01-01,COM,59001,A,COM,59002,B-Nouvelle\n"
        "32,2019-01-01,COM,59002,B,COM,59002,B-Nouvelle\n"
        "10,2021-03-01,COM,59003,C,COM,59003,C-sur-Mer\n"
        "21,2022-01-01,COM,59002,B-Nouvelle,COM,59004,D\n"
        "21,2022-01-01,COM,59002,B-Nouvelle,COM,59002,B-Nouvelle\n"
    ))
    old = detect_cog_year(["59001", "59002", "59003"], m)
    # the merger of 2019 bounds the file above; nothing bounds it below
    assert (old.first, old.last, old.year, old.n_valid) == (1943, 2018, 2018, 3)
    assert old.evidence.values.tolist() == [["59001", "disparue", pd.Timestamp("2019-01-01")]]
    new = detect_cog_year(pd.DataFrame({"code_commune": ["59002", "59003", "59004"]}), m)
    assert (new.first, new.last) == (2022, 2022)
    assert new.evidence.loc[new.evidence["preuve"] == "creee", "code_commune"].tolist() == [
        "59004"]
    # between the two: 2019-2021 (the rename of 2021 changes no code); a lost leading
    # zero is restored, arrondissements are left out, a stale code is evidence
    mid = detect_cog_year(["59002", "59003", 75101, "59001"], m)
    assert (mid.first, mid.last, mid.n_codes, mid.n_valid) == (1943, 2018, 3, 3)
    mid = detect_cog_year(["59002", "59003"], m)
    assert (mid.first, mid.last) == (2019, 2021)  # 59001 absent: not before 2019
    assert "absente" in set(mid.evidence["preuve"])
    assert "COG 2019-2021" in str(mid)
    with pytest.raises(DataFormatError, match="no well-formed"):
        detect_cog_year(["abc", None], m)


def test_harmonise_without_year_detects_it(tmp_path):
    m = movements(tmp_path, (
        "32,2019-01-01,COM,60455,La Neuville-Garnier,COM,60054,Les Hauts-Talican\n"
        "32,2019-01-01,COM,60054,Beaumont-les-Nonains,COM,60054,Les Hauts-Talican\n"
    ))
    pop = pd.DataFrame({"code_commune": ["60455", "60054"], "population": [160, 450]})
    with pytest.warns(QpvgeoWarning, match="year= not given.*COG 1943-2018.*year=2018"):
        out = harmonise_communes(pop, movements=m)
    assert out["population"].tolist() == [610]
    assert out.attrs["cog_year"] == 2018 and out.attrs["cog_year_detected"] is True
    given = harmonise_communes(pop, movements=m, year=2018)
    assert given.attrs["cog_year_detected"] is False


@pytest.mark.parametrize(("what", "first", "last", "evidence"), [
    # COG 2018 boundaries: the 19 HdF and 31 Occitanie codes merged on 2019-01-01 bound
    # them above, the commune nouvelle 60690 of 2018-01-01 they lack bounds them below
    ("hdf2018", 2018, 2018, {"disparue": 19, "absente": 1}),
    ("occ2018", 2018, 2018, {"disparue": 31, "absente": 3}),
    # the derived COG 2025 boundaries: no HdF code changed on 2026-01-01
    ("hdf2025", 2025, 2026, {"absente": 6}),
    # populations légales 2021 in COG 2023, and 2023 in COG 2025 (their file names)
    ("pop2023", 2023, 2023, {"disparue": 13, "absente": 11}),
    ("pop2025", 2025, 2026, {"creee": 8, "absente": 68}),
])
def test_detect_cog_year_of_real_files(cog, populations, shared_data, what, first, last,
                                       evidence):
    mvt, communes = cog
    pop21, pop25 = populations
    hdf = shared_data / "communes_hdf"
    codes = {
        "hdf2018": lambda: gpd.read_file(hdf / "communes-hauts-de-france.geojson",
                                         columns=["code"], ignore_geometry=True)["code"],
        "hdf2025": lambda: gpd.read_file(hdf / "communes_hdf_cog2025.gpkg", columns=["code"],
                                         ignore_geometry=True)["code"],
        "occ2018": lambda: pd.concat([
            gpd.read_file(f, columns=["code"], ignore_geometry=True)["code"]
            for f in sorted(glob.glob(str(shared_data / "communes_occitanie" / "*.geojson")))]),
        "pop2023": lambda: pop21["code_commune"],
        "pop2025": lambda: pop25["code_commune"],
    }[what]()
    found = detect_cog_year(codes, mvt, communes=communes)
    assert (found.first, found.last) == (first, last)
    assert found.n_valid == found.n_codes  # every code is a commune of the detected year
    assert found.evidence["preuve"].value_counts().to_dict() == evidence


def test_detect_cog_year_real_evidence_and_harmonise(cog, shared_data):
    mvt, communes = cog
    hdf = _communes_2018(str(shared_data / "communes_hdf" / "communes-hauts-de-france.geojson"))
    found = detect_cog_year(hdf, mvt, communes=communes)
    ev = found.evidence.set_index("code_commune")
    # 60455 La Neuville-Garnier merged into Les Hauts-Talican on 2019-01-01
    assert ev.loc["60455", "preuve"] == "disparue"
    assert ev.loc["60455", "date_effet"] == pd.Timestamp("2019-01-01")
    with pytest.warns(QpvgeoWarning, match="COG 2018 best"):
        out = harmonise_communes(hdf, movements=mvt, communes=communes, geometry="drop")
    assert len(out) == 3782 and out.attrs["cog_year"] == 2018


def test_cog_year_command(shared_data):
    from click.testing import CliRunner

    from qpvgeo.cli import main

    d = shared_data
    res = CliRunner().invoke(main, [
        "cog-year", str(d / "insee_population_communes" /
                        "populations_legales_2021_communes_cog2023.csv"),
        "--movements", str(d / "insee_cog" / "mouvements_communes.csv"),
        "--communes", str(d / "insee_cog" / "communes_cog.csv"), "--evidence"])
    assert res.exit_code == 0, res.output
    assert "(COM): COG 2023: 34925 of 34925 codes" in res.output
    assert "disparue" in res.output
    bad = CliRunner().invoke(main, ["cog-year", str(d / "insee_cog" / "SOURCE.md"),
                                    "--movements", str(d / "insee_cog" /
                                                       "mouvements_communes.csv")])
    assert bad.exit_code == 1 and "qpvgeo: error" in bad.output


# -- former commune names (read_qpv_communes) ------------------------------------------
def test_rp2013_former_names_resolved_through_history(cog, populations, shared_data):
    from qpvgeo.readers import read_qpv_communes

    mvt, _ = cog
    _, pop25 = populations
    path = shared_data / "insee_qpv_tables" / "pop_qp_2013.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = read_qpv_communes(path, communes=pop25)
    # without the history, 27 names of the RP 2013 table match no COG 2025 commune
    assert len(before.attrs["unmatched"]) == 27
    with pytest.warns(QpvgeoWarning, match="27 commune name.*former names"):
        after = read_qpv_communes(path, communes=pop25, movements=mvt)
    # with it, all 27 are found (23 new (QPV, commune) pairs: 4 were the commune the
    # QPV already listed under its new name, e.g. Évry and Courcouronnes in QP091017)
    assert after.attrs["unmatched"] == []
    assert len(after.attrs["resolved"]) == 27
    assert len(after) - len(before) == 23
    got = {(q, old): (c, n) for q, old, c, n in after.attrs["resolved"]}
    assert got[("QP050005", "Cherbourg-Octeville")] == ("50129", "Cherbourg-en-Cotentin")
    assert got[("QP069013", "Oullins")] == ("69149", "Oullins-Pierre-Bénite")  # 2024
    assert got[("QP091016", "Courcouronnes")] == ("91228", "Évry-Courcouronnes")  # 2019
    assert got[("QP093044", "Saint-Ouen")] == ("93070", "Saint-Ouen-sur-Seine")  # renamed
    assert got[("QP093036", "Pierrefitte-sur-Seine")] == ("93066", "Saint-Denis")  # 2025
    pair = after.set_index(["code_qpv", "code_commune"])
    assert pair.loc[("QP050005", "50129"), "nom_commune"] == "Cherbourg-en-Cotentin"
