"""Readers on the real official files (numbers from each folder's SOURCE.md) and on
tiny hand-made bad inputs.

Expected figures come from the publishers: INSEE counts 199 QPV in Hauts-de-France in the
2015 geography and 204 in the 2024 one (753,100 inhabitants); the other totals are the
SOURCE.md checks of ../shared/data, recomputed there with pandas. Counts and integer
population sums are exact (tolerance 0); medians of published values are exact too.
"""

from __future__ import annotations

import re
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from qpvgeo.errors import (
    DataFormatError,
    DuplicateCodeError,
    MissingCRSError,
    MixedMillesimeError,
    QpvgeoWarning,
    SchemaError,
)
from qpvgeo.readers import (
    read_commune_population,
    read_communes,
    read_departements,
    read_epci,
    read_epci_boundaries,
    read_qpv,
    read_qpv_communes,
    read_qpv_indicators,
    read_regions,
)
from qpvgeo.readers._common import normalise_name, resolve_input, to_number

HDF = ("02", "59", "60", "62", "80")
HDF_2015 = {"02": 17, "59": 91, "60": 18, "62": 64, "80": 9}
HDF_2024 = {"02": 17, "59": 94, "60": 19, "62": 64, "80": 10}


def _read(reader, *args, **kwargs):
    """Call a reader and return (result, list of QpvgeoWarning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = reader(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, QpvgeoWarning)]


def _repaired(messages) -> int:
    return sum(int(m.group(1)) for msg in messages
               for m in [re.search(r"repaired (\d+) invalid", msg)] if m)


def _by_dep(frame) -> dict[str, int]:
    sub = frame[frame["code_departement"].isin(HDF)]
    return sub.drop_duplicates("code_qpv")["code_departement"].value_counts().sort_index().to_dict()


# -- module-scoped real files (read once: the shapefiles take a few seconds) ----------------


@pytest.fixture(scope="module")
def qpv2015_lb93(shared_data):
    return _read(read_qpv, shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp")


@pytest.fixture(scope="module")
def communes_hdf_2018(shared_data):
    return read_communes(shared_data / "communes_hdf" / "communes-hauts-de-france.geojson")


@pytest.fixture(scope="module")
def population_2023(shared_data):
    return read_commune_population(
        shared_data / "insee_population_communes" / "populations_legales_2023_communes_cog2025.csv"
    )


@pytest.fixture(scope="module")
def qpv2024_national(shared_data):
    folder = shared_data / "qpv2024_contours_simplified"
    return _read(read_qpv, folder / "qpv2024_simplified.geojson")


# -- QPV contours, 2015 ------------------------------------------------------------------------


def test_qpv2015_lb93_shapefile(qpv2015_lb93):
    qpv, messages = qpv2015_lb93
    assert len(qpv) == 1296
    assert qpv.crs.to_epsg() == 2154
    assert _repaired(messages) == 25  # SOURCE.md: 25 invalid rings in the whole LB93 layer
    assert qpv.is_valid.all() and not qpv.is_empty.any()
    assert set(qpv["millesime"]) == {2015}
    hdf = qpv[qpv["code_departement"].isin(HDF)]
    assert len(hdf) == 199 and _by_dep(hdf) == HDF_2015
    # cp1252 DBF without .cpg: accents decode.
    assert qpv.loc[qpv["code_qpv"] == "QP080001", "nom_qpv"].item() == "Étouvie"
    assert list(qpv.columns[:5]) == [
        "code_qpv", "nom_qpv", "millesime", "code_departement", "code_commune"
    ]
    assert qpv["code_commune"].isna().all()  # the CGET layout gives names, no code
    assert qpv.loc[qpv["code_qpv"] == "QP059074", "noms_communes"].item() == (
        "Lille, Faches-Thumesnil, Loos, Lezennes"
    )


def test_qpv2015_hdf_geojson_matches_shapefile(shared_data, qpv2015_lb93):
    folder = shared_data / "qpv2015_contours_anct"
    hdf, messages = _read(read_qpv, folder / "qpv2015_hdf_wgs84.geojson")
    assert len(hdf) == 199 and _by_dep(hdf) == HDF_2015
    assert _repaired(messages) == 10  # SOURCE.md: 10 invalid HdF geometries
    assert hdf.is_valid.all() and hdf.crs.to_epsg() == 2154
    assert "Étouvie" in set(hdf["nom_qpv"])
    lb93 = qpv2015_lb93[0].set_index("code_qpv")
    area = hdf.set_index("code_qpv").area
    # Same coordinates in two projections: areas agree to 1e-6 (SOURCE.md: ratio 1.0000000000).
    np.testing.assert_allclose(area.sum() / lb93.loc[area.index].area.sum(), 1.0, rtol=1e-6)
    assert area.sum() / 1e6 == pytest.approx(84.56, abs=0.01)  # km², SOURCE.md


def test_qpv2015_main_commune_from_communes(shared_data, communes_hdf_2018):
    qpv, _ = _read(read_qpv, shared_data / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson",
                   communes=communes_hdf_2018)
    assert qpv["code_commune"].notna().all()
    main = qpv.set_index("code_qpv")["code_commune"]
    assert main["QP059074"] == "59350"  # Secteur Sud: mostly in Lille
    assert main["QP080001"] == "80021"  # Étouvie: Amiens
    assert (main.str[:2] == qpv.set_index("code_qpv")["code_departement"]).all()
    # The commune holding most of the area is one the CGET file names, for all but
    # QP059065: its "Téteghem" merged into Téteghem-Coudekerque-Village (59588) in 2016.
    names = main.map(communes_hdf_2018.set_index("code_commune")["nom_commune"])
    listed = qpv.set_index("code_qpv")["noms_communes"].str.split(",")
    named = pd.Series(
        [normalise_name(pd.Series([n])).item() in set(normalise_name(pd.Series(lst).str.strip()))
         for n, lst in zip(names, listed, strict=True)],
        index=main.index,
    )
    assert named[~named].index.tolist() == ["QP059065"] and main["QP059065"] == "59588"


# -- QPV contours, 2024 -----------------------------------------------------------------------


def test_qpv2024_contours(qpv2024_national, shared_data):
    qpv, messages = qpv2024_national
    assert len(qpv) == 1609 and set(qpv["millesime"]) == {2024}
    assert _repaired(messages) == 85  # SOURCE.md
    # Three Essonne/Val-d'Oise rings were collapsed by the third-party simplification.
    assert any("QN09105I" in m and "empty geometry" in m for m in messages)
    assert qpv.is_valid.all()
    metro = qpv[~qpv["code_qpv"].str.startswith("QN97") & ~qpv["code_qpv"].str.startswith("QN98")]
    assert len(metro) == 1362  # decree 2023-1314
    assert _by_dep(qpv) == HDF_2024
    hdf, hdf_messages = _read(
        read_qpv, shared_data / "qpv2024_contours_simplified" / "qpv2024_hdf_simplified.geojson"
    )
    assert len(hdf) == 204 and _by_dep(hdf) == HDF_2024
    assert _repaired(hdf_messages) == 11
    assert hdf.area.sum() / 1e6 == pytest.approx(111.72, abs=0.01)  # km², SOURCE.md
    sud = hdf.set_index("code_qpv").loc["QN05972M"]
    assert sud["codes_communes"] == "59220, 59346, 59350, 59360"
    assert sud["code_commune"] == "59220"  # no communes given: the first listed


def test_qpv2024_main_commune_by_area(shared_data, communes_hdf_2018):
    folder = shared_data / "qpv2024_contours_simplified"
    with pytest.warns(QpvgeoWarning, match="repaired 11"):
        qpv = read_qpv(folder / "qpv2024_hdf_simplified.geojson", communes=communes_hdf_2018)
    main = qpv.set_index("code_qpv")
    assert main.loc["QN05972M", "code_commune"] == "59350"  # most of Secteur Sud is in Lille
    listed = main["codes_communes"].str.split(", ")
    assert all(c in lst for c, lst in zip(main["code_commune"], listed, strict=True))


def test_occitanie_hackaviz(shared_data):
    qpv, messages = _read(read_qpv, shared_data / "qpv2015_occitanie_hackaviz" / "qp.geojson")
    assert len(qpv) == 105 and qpv.crs.to_epsg() == 2154 and qpv.is_valid.all()
    assert _repaired(messages) == 32  # SOURCE.md: 32 invalid after 4-decimal rounding
    assert (qpv["code_commune"] == "31555").sum() == 12  # Toulouse's QPV
    ind = read_qpv_indicators(shared_data / "qpv2015_occitanie_hackaviz" / "qp.csv")
    assert len(ind) == 105 and set(ind.index) == set(qpv["code_qpv"])
    assert ind["population"].sum() == 358_011
    assert ind["taux_pauvrete"].mean() == pytest.approx(47.0, abs=0.05)  # SOURCE.md "mean 47.0 %"


# -- membership ----------------------------------------------------------------------------


def test_qpv2024_list_csv_and_centroids(shared_data):
    folder = shared_data / "qpv2024_list_anct"
    csv = read_qpv_communes(folder / "qpv2024_code_commune.csv")
    pts = read_qpv_communes(folder / "centroide-4326_qpv.geojson")
    for m in (csv, pts):
        assert len(m) == 1684 and m["code_qpv"].nunique() == 1493
        assert (~m["code_qpv"].drop_duplicates().str.startswith("QN97")).sum() == 1362
        hdf = m[m["code_departement"].isin(HDF)]
        assert len(hdf) == 286 and hdf["code_qpv"].nunique() == 204 and _by_dep(hdf) == HDF_2024
        assert set(m.loc[m["code_qpv"] == "QN05972M", "code_commune"]) == {
            "59220", "59346", "59350", "59360"
        }
    pairs = ["code_qpv", "code_commune"]
    pd.testing.assert_frame_equal(csv[pairs], pts[pairs])
    # "Faches-Thumesnil; Lezennes; Lille; Loos" is not the name of 59220: not kept as such.
    assert not csv["nom_commune"].str.contains(";", na=False).any()


def test_sigville_rows_membership(shared_data):
    m = read_qpv_communes(shared_data / "qpv2024_indicators_sigville" / "analyse_qpv.csv")
    assert len(m) == 1713 and m["code_qpv"].nunique() == 1518
    assert "01053" in set(m["code_commune"])  # COG "1053" restored
    assert m["code_commune"].str.len().eq(5).all()
    assert len(m[m["code_departement"].isin(HDF)]) == 286


def test_2015_membership_from_commune_names(shared_data, population_2023, communes_hdf_2018):
    shp = shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp"
    m, messages = _read(read_qpv_communes, shp, communes=population_2023)
    hdf = m[m["code_departement"].isin(HDF)]
    # Téteghem merged into Téteghem-Coudekerque-Village in 2016: reported, not guessed.
    assert hdf["code_qpv"].nunique() == 198
    assert ("QP059065", "Téteghem") in m.attrs["unmatched"]
    assert any("commune name(s) match no commune" in msg for msg in messages)
    assert set(m.loc[m["code_qpv"] == "QP059074", "code_commune"]) == {
        "59220", "59346", "59350", "59360"
    }
    # QP062040 (Pas-de-Calais) reaches Ostricourt, a Nord commune: found in the region.
    assert "59452" in set(m.loc[m["code_qpv"] == "QP062040", "code_commune"])
    # Marseille arrondissements are expanded.
    assert {"13070", "13211"} == set(m.loc[m["code_qpv"] == "QP013041", "code_commune"])
    # INSEE's pop_qp_2013 list and the 2018 commune names (articles dropped) agree in HdF.
    m13, msg13 = _read(read_qpv_communes, shared_data / "insee_qpv_tables" / "pop_qp_2013.csv",
                       communes=communes_hdf_2018)
    assert any("départements with no commune" in x for x in msg13)
    pairs = ["code_qpv", "code_commune"]
    pd.testing.assert_frame_equal(
        m13[pairs].reset_index(drop=True),
        hdf[pairs].reset_index(drop=True),
    )


# -- INSEE indicator tables --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pop_qp_2013.csv", 667_970),
        ("pop_qp_2013.xls", 667_970),  # title rows above the header
        ("data_DEMO_2019_V1_QP.csv", 667_970),  # has an 'Ensemble' row
        ("data_DEMO_2020_V1_QP.csv", 667_970),
        ("data_DEMO_2021_V1_QP.csv", 653_409),  # every field quoted
        ("DEMO_2022.csv", 653_409),  # BOM, U+202F thousands, trailing ;;;
    ],
)
def test_insee_population_tables(shared_data, name, expected):
    table, messages = _read(read_qpv_indicators, shared_data / "insee_qpv_tables" / name)
    hdf = table[table.index.str[2:5].isin([f"0{d}" for d in HDF])]
    assert len(hdf) == 199
    assert hdf["population"].sum() == expected
    assert table["millesime"].eq(2015).all() and table.attrs["millesime"] == 2015
    if name == "data_DEMO_2019_V1_QP.csv":
        assert any("dropped 1 row" in m and "Ensemble" in m for m in messages)
        assert table["population"].sum() == 5_019_573  # = its 'Ensemble' row
    if "DEMO" in name:
        # POP_COM is commune-level (repeats on every QPV of a commune): kept, never summed.
        pop_com = table.loc["QP059074", "population_communes"]
        assert pop_com == table.loc["QP059074", "pop_com"]
        if "2021" in name or "2022" in name:
            assert pop_com == 276_754  # SOURCE.md: Lille + Faches-Thumesnil + Loos + Lezennes


@pytest.mark.parametrize(
    ("name", "median", "tp60"),
    [  # HdF min / median / max, SOURCE.md table "Verified income and poverty"
        ("data_filo16_qp_revdis.csv", (10_530, 13_190, 15_330), (30.3, 44.0, 67.2)),
        ("data_filo17_qp_revdis.csv", (11_220, 13_440, 15_550), (29.1, 43.4, 64.0)),
        ("data_filo18_qp_revdis.csv", (11_250, 13_700, 16_150), (29.1, 44.5, 66.3)),
        ("data_filo19_qp_revdis.csv", (11_750, 14_010, 16_240), (26.5, 42.6, 63.2)),
    ],
)
def test_filosofi_tables(shared_data, name, median, tp60):
    table, _ = _read(read_qpv_indicators, shared_data / "insee_qpv_tables" / name)
    assert len(table) == 1352
    hdf = table[table.index.str[2:5].isin([f"0{d}" for d in HDF])]
    assert len(hdf) == 199 and hdf["revenu_disponible_median"].notna().all()
    stats = hdf[["revenu_disponible_median", "taux_pauvrete"]].agg(["min", "median", "max"])
    assert tuple(stats["revenu_disponible_median"]) == median
    assert tuple(stats["taux_pauvrete"]) == pytest.approx(tp60, abs=1e-9)


def test_ipro_table(shared_data):
    table = read_qpv_indicators(shared_data / "insee_qpv_tables" / "IPRO_2022.csv")
    assert len(table) == 1345
    assert "evol_ca_n_e" in table.columns  # header "EVOL_CA_N_E " had a trailing space
    assert table["taux_emploi"].notna().sum() > 1000
    # IPRO's "A" is category-A job seekers, not CAF beneficiaries.
    assert "allocataires_caf" not in table.columns
    assert table["demandeurs_emploi"].dtype == "float64"


def test_sigville_indicators_dedup(shared_data):
    table, messages = _read(
        read_qpv_indicators, shared_data / "qpv2024_indicators_sigville" / "analyse_qpv.csv"
    )
    assert len(table) == 1518 and table.index.is_unique
    assert any("347 rows for 152 QPV" in m and "collapsed" in m for m in messages)
    hdf = table[table.index.str[2:5].isin([f"0{d}" for d in HDF])]
    assert len(hdf) == 204 and hdf["population"].sum() == 753_115
    metro = table[~table.index.str.startswith("QN97")]
    assert len(metro) == 1362 and metro["population"].sum() == 5_307_455
    assert hdf["taux_pauvrete"].notna().sum() == 197  # blanks are secret: NA, never 0
    assert "cog" not in table.columns


# -- communes, populations, EPCI, boundaries ------------------------------------------------


def test_communes(shared_data, communes_hdf_2018):
    assert len(communes_hdf_2018) == 3808 and communes_hdf_2018.crs.to_epsg() == 2154
    assert communes_hdf_2018["code_commune"].is_unique
    cog25 = read_communes(shared_data / "communes_hdf" / "communes_hdf_cog2025.gpkg")
    assert len(cog25) == 3782 and cog25.is_valid.all()
    assert cog25.area.sum() / 1e6 == pytest.approx(32_002, abs=1)  # km², SOURCE.md
    folder = shared_data / "communes_occitanie"
    occ = read_communes(folder)
    assert len(occ) == 4485 and occ["code_commune"].is_unique
    names = ["30-gard", "31-haute-garonne", "32-gers", "34-herault"]
    listed = read_communes([folder / f"communes-{n}.geojson" for n in names])
    globbed = read_communes(str(folder / "communes-3*.geojson"))
    pd.testing.assert_frame_equal(pd.DataFrame(globbed), pd.DataFrame(listed))
    with pytest.raises(DuplicateCodeError, match="30"):
        read_communes([folder / "communes-30-gard.geojson"] * 2)


def test_commune_population(shared_data, population_2023):
    pop = population_2023
    assert len(pop) == 34_900 and pop["population"].dtype == "Int64"
    hdf = pop[pop["code_region"] == "32"]
    assert len(hdf) == 3782 and hdf["population"].sum() == 5_992_194
    assert pop.set_index("code_commune").loc["59350", "population"] == 238_246
    p21 = read_commune_population(
        shared_data / "insee_population_communes" / "populations_legales_2021_communes_cog2023.csv"
    )
    h21 = p21[p21["code_region"] == "32"]
    assert len(h21) == 3787 and h21["population"].sum() == 5_995_292


def test_epci(shared_data):
    sub = read_epci(shared_data / "epci_hdf" / "epci_membership_hdf_2025.csv")
    assert len(sub) == 3782 and sub["code_epci"].nunique() == 92
    lille = sub.set_index("code_commune").loc["59350"]
    assert lille["code_epci"] == "200093201" and lille["nature_juridique"] == "METRO"
    shapes = read_epci_boundaries(shared_data / "epci_hdf" / "epci_hdf_2025_derived.gpkg")
    assert len(shapes) == 92 and set(shapes["code_epci"]) == set(sub["code_epci"])
    assert shapes.crs.to_epsg() == 2154


@pytest.mark.slow  # the national DGCL spreadsheet (35,000 rows) takes ~8 s of CPU to parse
def test_epci_national_xlsx(shared_data):
    sub = read_epci(shared_data / "epci_hdf" / "epci_membership_hdf_2025.csv")
    national = read_epci(shared_data / "epci_hdf" / "epcicom2025.xlsx")
    assert len(national) == 34_871 and national["code_epci"].nunique() == 1255
    pd.testing.assert_frame_equal(
        national[national["code_commune"].isin(sub["code_commune"])]
        .sort_values("code_commune").reset_index(drop=True),
        sub.sort_values("code_commune").reset_index(drop=True),
    )


def test_departements_and_regions(shared_data):
    folder = shared_data / "admin_boundaries_hdf"
    deps = read_departements(folder / "departements-hauts-de-france.geojson")
    assert sorted(deps["code_departement"]) == list(HDF)
    reg = read_regions(folder / "region-hauts-de-france.geojson")
    assert reg["code_region"].tolist() == ["32"]
    assert reg.area.sum() / 1e6 == pytest.approx(32_002, abs=1)
    regions = read_regions(folder / "regions_2024_cartelette.gpkg")
    assert len(regions) == 18 and "32" in set(regions["code_region"])


# -- bad inputs, made in tmp_path ---------------------------------------------------------------


def _square(x=700_000, y=7_000_000, size=100):
    return box(x, y, x + size, y + size)


def test_missing_file_names_path(tmp_path):
    with pytest.raises(DataFormatError, match="nope.geojson"):
        read_qpv(tmp_path / "nope.geojson")
    with pytest.raises(DataFormatError, match="nope"):
        resolve_input(tmp_path / "nope")


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_no_crs(tmp_path):
    path = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"CODE_QP": ["QP059001"], "NOM_QP": ["A"]}, geometry=[_square()]).to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(MissingCRSError, match="nocrs.shp"):
        read_qpv(path)
    qpv = read_qpv(path, crs="EPSG:2154")
    assert qpv.crs.to_epsg() == 2154 and qpv.area.iloc[0] == pytest.approx(10_000)


def test_duplicate_codes(tmp_path):
    path = tmp_path / "dup.geojson"
    gpd.GeoDataFrame(
        {"code_qp": ["QN05901M", "QN05901M", "QN05902M"]},
        geometry=[_square(), _square(800_000), _square(900_000)], crs=2154,
    ).to_file(path)
    with pytest.raises(DuplicateCodeError, match="QN05901M"):
        read_qpv(path)
    csv = tmp_path / "pop.csv"
    csv.write_text("COM;Commune;PMUN\n59350;Lille;1\n59350;Lille;2\n")
    with pytest.raises(DuplicateCodeError, match="59350"):
        read_commune_population(csv)


def test_no_code_column(tmp_path):
    path = tmp_path / "nocode.geojson"
    gpd.GeoDataFrame({"nom": ["A"], "surface": [1.0]}, geometry=[_square()], crs=2154).to_file(path)
    with pytest.raises(SchemaError, match=r"nocode\.geojson.*'nom', 'surface'"):
        read_qpv(path)
    csv = tmp_path / "nocode.csv"
    csv.write_text("nom;pop\nA;1\n")
    with pytest.raises(SchemaError, match="nocode.csv"):
        read_qpv_indicators(csv)


def test_mixed_millesimes(tmp_path):
    path = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame(
        {"code_qp": ["QP059001", "QN05901M"]}, geometry=[_square(), _square(800_000)], crs=2154
    ).to_file(path)
    with pytest.raises(MixedMillesimeError, match=r"QP059001.*QN05901M"):
        read_qpv(path)
    csv = tmp_path / "mixed.csv"
    csv.write_text("CODGEO;POP_MUN\nQP059001;1\nQN05901M;2\n")
    with pytest.raises(MixedMillesimeError):
        read_qpv_indicators(csv)


def test_secrecy_markers_are_na_not_zero(tmp_path):
    csv = tmp_path / "secret.csv"
    csv.write_text(
        "CODGEO;POP_MUN;TX_TOT_ET\n"
        "QP059001;100;s\nQP059002;200;nd\nQP059003;300;ns\nQP059004;400;c\n"
        "QP059005;500;\nQP059006;600;0\n"
    )
    table = read_qpv_indicators(csv)
    assert table["tx_tot_et"].isna().sum() == 5
    assert table.loc["QP059006", "tx_tot_et"] == 0.0
    assert table["part_etrangers"].isna().sum() == 5
    assert table["population"].sum() == 2100


@pytest.mark.parametrize(
    ("encoding", "sep", "quote"),
    [("utf-8-sig", ";", False), ("utf-8", ",", False), ("utf-8-sig", ";", True),
     ("cp1252", ";", False), ("utf-8", "\t", False)],
)
def test_bom_separator_and_quote_variants(tmp_path, encoding, sep, quote):
    rows = [["CODGEO", "LIBGEO", "POP_MUN", "TX_F"],
            ["QP080001", "Étouvie", "5 137", "52.5"], ["QP059074", "Secteur Sud", "12000", "s"]]
    dec = "," if sep != "," else "."
    rows[1][3] = rows[1][3].replace(".", dec)
    fmt = (lambda v: f'"{v}"') if quote else str
    text = "\r\n".join(sep.join(fmt(v) for v in r) for r in rows) + "\r\n"
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    table = read_qpv_indicators(path)
    assert table.loc["QP080001", "nom_qpv"] == "Étouvie"
    assert table.loc["QP080001", "population"] == 5137
    assert table.loc["QP080001", "tx_f"] == 52.5
    assert pd.isna(table.loc["QP059074", "tx_f"])


def test_numbers_decimal_commas_and_thousands_separators():
    values = pd.Series(["47\u202f011", "1\u00a0234,5", "12 000", "-9,6", "0,245", "nc", "ns"])
    assert to_number(values).tolist()[:5] == [47011.0, 1234.5, 12000.0, -9.6, 0.245]
    assert to_number(values).isna().tolist()[5:] == [True, True]


def test_xlsx_with_header_rows_above(tmp_path):
    path = tmp_path / "insee.xlsx"
    head = pd.DataFrame([["Population des quartiers", None, None],
                         ["Source : Insee, RP", None, None],
                         [None, None, None],
                         ["Code du quartier", "Nom", "Population"],
                         ["qp", "nom_qp", "population_municipale_2013"]])
    body = pd.DataFrame([["QP059001", "A", 1500], ["QP059002", "B", "s"]])
    pd.concat([head, body]).to_excel(path, header=False, index=False)
    table = read_qpv_indicators(path)
    assert table["population"].tolist()[0] == 1500 and pd.isna(table["population"].iloc[1])
    # INSEE's populations légales workbook: regions first, communes on a later sheet.
    pop = tmp_path / "ensemble.xlsx"
    regions = pd.DataFrame([["Populations légales", None], [None, None],
                            ["Code région", "Population municipale"], ["32", 5_990_000]])
    title = pd.DataFrame([["Recensement de la population", None, None, None, None],
                          [None] * 5,
                          ["Code région", "Code département", "Code commune",
                           "Nom de la commune", "Population municipale"]])
    data = pd.DataFrame([["32", "59", "350", "Lille", 238246],
                         ["01", "971", "101", "Les Abymes", 51000]])
    with pd.ExcelWriter(pop) as book:
        regions.to_excel(book, sheet_name="Régions", header=False, index=False)
        pd.concat([title, data]).to_excel(book, sheet_name="Communes", header=False, index=False)
    communes = read_commune_population(pop)
    assert communes["code_commune"].tolist() == ["59350", "97101"]
    assert communes["code_departement"].tolist() == ["59", "971"]
    assert communes["population"].sum() == 289_246


def test_sigville_rows_that_disagree(tmp_path):
    csv = tmp_path / "rows.csv"
    csv.write_text(
        "COG,lib_com,codeQPV,lib_qp,popMuniQPV\n"
        "59350,Lille,QN05972M,Secteur Sud,100\n"
        "59360,Loos,QN05972M,Secteur Sud,120\n"
        "59350,Lille,QN05901M,X,50\n"
    )
    with pytest.raises(DuplicateCodeError, match="QN05972M"):
        read_qpv_indicators(csv)


def test_invalid_geometry_repaired_and_counted(tmp_path):
    path = tmp_path / "bowtie.gpkg"
    # A self-intersecting ring near Lille, in Lambert-93 (within EPSG:2154's area of use).
    x, y = 700_000, 7_000_000
    bowtie = Polygon([(x, y), (x + 200, y + 200), (x + 200, y), (x, y + 200)])
    gpd.GeoDataFrame(
        {"code_quartier": ["QP059001", "QP059002"], "nom_quartier": ["Bow", "Tie"],
         "commune_qp": ["Lille", "Loos"]},
        geometry=[bowtie, _square()], crs=2154,
    ).to_file(path)
    qpv, messages = _read(read_qpv, path)  # opendatasoft-style names, GeoPackage
    assert _repaired(messages) == 1
    with pytest.warns(QpvgeoWarning, match="repaired 1") as record:
        read_qpv(path)
    assert record[0].filename == __file__  # points at the analyst's line, not at qpvgeo
    assert qpv.is_valid.all() and qpv.area.iloc[0] == pytest.approx(20_000)
    assert qpv["nom_qpv"].tolist() == ["Bow", "Tie"]


def test_zipped_shapefile(tmp_path):
    shp = tmp_path / "qp.shp"
    gpd.GeoDataFrame({"CODE_QP": ["QP080001"], "NOM_QP": ["Étouvie"], "COMMUNE_QP": ["Amiens"]},
                     geometry=[_square()], crs=2154).to_file(shp, encoding="cp1252")
    archive = tmp_path / "qp.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in tmp_path.glob("qp.*"):
            if f != archive:
                z.write(f, f.name)
    qpv = read_qpv(archive)
    assert qpv["code_qpv"].tolist() == ["QP080001"] and qpv["nom_qpv"].tolist() == ["Étouvie"]


def test_name_matching_ignores_accents_case_hyphens(tmp_path):
    csv = tmp_path / "pop_qp.csv"
    csv.write_text("qp;nom_qp;liste_des_communes\n"
                   "QP059001;Quartier;SAINT POL SUR MER, Gde-Synthe\n"
                   "QP059002;Autre;st-pol-sur-mer\n")
    communes = pd.DataFrame({"code_commune": ["59540", "59271"],
                             "nom_commune": ["Saint-Pol-sur-Mer", "Grande-Synthe"]})
    m, messages = _read(read_qpv_communes, csv, communes=communes)
    assert m["code_commune"].tolist() == ["59540", "59540"]
    assert m["nom_commune"].tolist() == ["Saint-Pol-sur-Mer", "Saint-Pol-sur-Mer"]
    assert any("QP059001: Gde-Synthe" in msg for msg in messages)
    assert normalise_name(pd.Series(["Évin-Malmaison"])).item() == "evin malmaison"
    with pytest.raises(SchemaError, match="communes="):
        read_qpv_communes(csv)


def test_opendatasoft_csv_export(tmp_path):
    shape = '"{""type"": ""Polygon"", ""coordinates"": [[[3.06, 50.62], [3.07, 50.62], ' \
            '[3.07, 50.63], [3.06, 50.62]]]}"'
    csv = tmp_path / "quartiers-prioritaires.csv"
    csv.write_text("Geo Point;Geo Shape;code_quartier;nom_quartier;commune_qp\n"
                   f'"50.62,3.06";{shape};QP059074;Secteur Sud;Lille\n', encoding="utf-8")
    qpv = read_qpv(csv)
    assert qpv.crs.to_epsg() == 2154 and qpv["code_qpv"].tolist() == ["QP059074"]
    assert qpv.area.iloc[0] > 0 and qpv["noms_communes"].tolist() == ["Lille"]
    wkt = tmp_path / "wkt.csv"
    wkt.write_text("code_qp;wkt\nQN05972M;POLYGON ((700000 7000000, 700010 7000000, "
                   "700010 7000010, 700000 7000000))\n")
    with pytest.raises(MissingCRSError, match="wkt.csv"):
        read_qpv(wkt)
    assert read_qpv(wkt, crs="EPSG:2154").area.iloc[0] == pytest.approx(50)
