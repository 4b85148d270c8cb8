"""QPV population by commune, population shares and QPV counts (qpvgeo.population).

Hand-made squares check the area split; the real files check the published HdF,
Occitanie and national figures (sources named beside each number).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from qpvgeo.errors import DataFormatError, DuplicateCodeError, QpvgeoWarning, SchemaError
from qpvgeo.population import count_qpv, population_shares, qpv_population_by_commune

# Float sums of parts: a QPV's parts add up to its population to 1e-9 inhabitants
# (renormalised shares; only floating-point rounding remains).
EXACT = 1e-9


# -- hand-made ------------------------------------------------------------------------
@pytest.fixture
def squares():
    """Three 100 m communes side by side; QPV 'QN05901A' spans the first two."""
    communes = gpd.GeoDataFrame(
        {"code_commune": ["59001", "59002", "59003"]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 0, 300, 100)],
        crs=2154,
    )
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05901A", "QN05902B"], "code_commune": ["59001", "59003"]},
        # A: 1/3 in 59001, 2/3 in 59002; B: inside 59003 but for a 0.5 % sliver in 59002
        geometry=[box(50, 0, 200, 100), box(199.5, 0, 299.5, 100)],
        crs=2154,
    )
    ind = pd.DataFrame({"population": [3000, 1000]},
                       index=pd.Index(["QN05901A", "QN05902B"], name="code_qpv"))
    return qpv, ind, communes


def test_area_split_of_a_square_over_two_communes(squares):
    qpv, ind, communes = squares
    before = qpv.copy()
    out = qpv_population_by_commune(qpv, ind, communes)
    a = out[out["code_qpv"] == "QN05901A"].set_index("code_commune")
    assert a["population_qpv"].to_dict() == pytest.approx({"59001": 1000.0, "59002": 2000.0})
    assert a["part_aire"].to_dict() == pytest.approx({"59001": 1 / 3, "59002": 2 / 3})
    assert set(a["methode"]) == {"aire"}
    # the 0.5 % sliver of B is below min_area_share (1 %): B lies in one commune
    b = out[out["code_qpv"] == "QN05902B"]
    assert b[["code_commune", "population_qpv", "methode"]].values.tolist() == [
        ["59003", 1000.0, "commune_unique"]]
    sums = out.groupby("code_qpv")["population_qpv"].sum()
    assert (sums - ind["population"]).abs().max() < EXACT
    # with no threshold the sliver counts, and B's parts still add up to 1,000
    out0 = qpv_population_by_commune(qpv, ind, communes, min_area_share=0)
    b0 = out0[out0["code_qpv"] == "QN05902B"].set_index("code_commune")["population_qpv"]
    assert b0.to_dict() == pytest.approx({"59002": 5.0, "59003": 995.0})
    assert abs(b0.sum() - 1000) < EXACT
    assert qpv.equals(before)  # arguments untouched


def test_membership_limits_the_split(squares):
    qpv, ind, communes = squares
    # A is also said to cover 59003, which it does not overlap: it gets 0, the two
    # others share by area; B is listed in 59003 alone: whole, whatever the sliver.
    membership = pd.DataFrame({
        "code_qpv": ["QN05901A", "QN05901A", "QN05901A", "QN05902B"],
        "code_commune": ["59001", "59002", "59003", "59003"],
    })
    out = qpv_population_by_commune(qpv, ind, communes, membership=membership,
                                    min_area_share=0)
    a = out[out["code_qpv"] == "QN05901A"].set_index("code_commune")["population_qpv"]
    assert a.to_dict() == pytest.approx({"59001": 1000.0, "59002": 2000.0, "59003": 0.0})
    b = out[out["code_qpv"] == "QN05902B"]
    assert b[["code_commune", "population_qpv", "methode"]].values.tolist() == [
        ["59003", 1000.0, "commune_unique"]]
    # listed in 59001 and 59002 only: the part in 59002 is renormalised to the whole
    only = pd.DataFrame({"code_qpv": ["QN05902B", "QN05902B"],
                         "code_commune": ["59002", "59001"]})
    out = qpv_population_by_commune(qpv.iloc[[1]], ind, communes, membership=only,
                                    min_area_share=0)
    assert out.set_index("code_commune")["population_qpv"].to_dict() == pytest.approx(
        {"59001": 0.0, "59002": 1000.0})


def test_fallbacks_are_explicit_and_warned(squares):
    qpv, ind, communes = squares
    # A listed in two communes it does not overlap (codes of another COG year?)
    membership = pd.DataFrame({"code_qpv": ["QN05901A", "QN05901A"],
                               "code_commune": ["59003", "59999"]})
    with pytest.warns(QpvgeoWarning) as rec:
        out = qpv_population_by_commune(qpv.iloc[[0]], ind, communes, membership=membership)
    messages = " | ".join(str(w.message) for w in rec)
    assert "59999" in messages and "harmonise_communes" in messages
    assert "aire_hors_liste" in messages and "QN05901A" in messages
    assert set(out["methode"]) == {"aire_hors_liste"}
    assert out["population_qpv"].sum() == pytest.approx(3000)
    # a QPV outside every commune given: its main commune, said so
    far = qpv.iloc[[1]].set_geometry([box(1000, 1000, 1100, 1100)], crs=2154)
    with pytest.warns(QpvgeoWarning, match="commune_principale"):
        out = qpv_population_by_commune(far, ind, communes)
    assert out[["code_commune", "methode"]].values.tolist() == [["59003", "commune_principale"]]


def test_without_boundaries(squares):
    qpv, ind, _ = squares
    single = pd.DataFrame({"code_qpv": ["QN05901A", "QN05902B"],
                           "code_commune": ["59002", "59003"]})
    out = qpv_population_by_commune(qpv, ind, membership=single)
    assert out[["code_commune", "population_qpv", "methode"]].values.tolist() == [
        ["59002", 3000.0, "commune_unique"], ["59003", 1000.0, "commune_unique"]]
    multi = pd.concat([single, pd.DataFrame({"code_qpv": ["QN05901A"],
                                             "code_commune": ["59001"]})])
    with pytest.raises(SchemaError, match="QN05901A"):
        qpv_population_by_commune(qpv, ind, membership=multi)
    with pytest.warns(QpvgeoWarning, match="main commune|commune_principale"):
        out = qpv_population_by_commune(qpv, ind)
    assert out["code_commune"].tolist() == ["59001", "59003"]


def test_indicator_problems(squares):
    qpv, ind, communes = squares
    # SIG Ville repeats a QPV's population on each commune row: fine when equal...
    repeated = pd.DataFrame({"code_qpv": ["QN05901A", "QN05901A", "QN05902B"],
                             "population": [3000, 3000, 1000]})
    out = qpv_population_by_commune(qpv, repeated, communes)
    assert out["population_qpv"].sum() == pytest.approx(4000)
    # ...an error naming the QPV when not
    conflict = repeated.assign(population=[3000, 2999, 1000])
    with pytest.raises(DuplicateCodeError, match="QN05901A"):
        qpv_population_by_commune(qpv, conflict, communes)
    # a secret population is NA, never 0
    secret = ind.assign(population=[None, 1000])
    with pytest.warns(QpvgeoWarning, match="1 QPV without a population"):
        out = qpv_population_by_commune(qpv, secret, communes)
    assert out.loc[out["code_qpv"] == "QN05901A", "population_qpv"].isna().all()
    with pytest.raises(SchemaError, match="code_qpv"):
        qpv_population_by_commune(qpv, ind.reset_index(drop=True), communes)
    dup = pd.concat([qpv, qpv.iloc[[0]]])
    with pytest.raises(DuplicateCodeError, match="QN05901A"):
        qpv_population_by_commune(dup, ind, communes)


@pytest.fixture
def parts():
    return pd.DataFrame({
        "code_qpv": ["QN05901A", "QN05901A", "QN06201C", "QN97401D"],
        "code_commune": ["59001", "59002", "62001", "97401"],
        "population_qpv": [1000.0, 2000.0, 500.0, 300.0],
    })


@pytest.fixture
def commune_pop():
    return pd.DataFrame({
        "code_commune": ["59001", "59002", "59003", "62001", "97401"],
        "nom_commune": ["Un", "Deux", "Trois", "Quatre", "Cinq"],
        "population": [10000, 4000, 6000, 5000, 3000],
    })


def test_population_shares_levels(parts, commune_pop):
    com = population_shares(parts, commune_pop, level="commune")
    assert com.index.name == "code_commune"
    # by part_qpv (0.5, then three at 0.1 ordered by population_qpv, then 0)
    assert com.index.tolist() == ["59002", "59001", "62001", "97401", "59003"]
    assert com.loc["59002", ["population", "population_qpv", "part_qpv"]].tolist() == [
        4000, 2000, 0.5]
    assert com.loc["59003", ["population_qpv", "part_qpv", "n_qpv"]].tolist() == [0, 0, 0]
    assert com.loc["59002", "nom_commune"] == "Deux"
    dep = population_shares(parts, commune_pop, level="departement")
    assert dep.loc["59", ["population", "population_qpv", "n_qpv"]].tolist() == [20000, 3000, 1]
    reg = population_shares(parts, commune_pop, level="region")
    assert reg.loc["32", "part_qpv"] == pytest.approx(3500 / 25000)
    assert reg.loc["32", "nom_region"] == "Hauts-de-France"
    assert reg.loc["04", "part_qpv"] == pytest.approx(0.1)
    fr = population_shares(parts, commune_pop, level="france")
    assert fr.loc["FR", ["population", "population_qpv", "n_qpv"]].tolist() == [28000, 3800, 3]
    metro = population_shares(parts, commune_pop, level="france", metropolitan_only=True)
    assert metro.index.tolist() == ["FRMETRO"]
    assert metro.loc["FRMETRO", ["population", "population_qpv", "n_qpv"]].tolist() == [
        25000, 3500, 2]
    epci = pd.DataFrame({"code_commune": ["59001", "59002", "59003", "62001", "97401"],
                         "code_epci": ["E1", "E1", "E2", "E2", "E3"],
                         "nom_epci": ["Un", "Un", "Deux", "Deux", "Trois"]})
    e = population_shares(parts, commune_pop, level="epci", epci=epci)
    assert e.loc["E1", ["population", "population_qpv", "n_qpv"]].tolist() == [14000, 3000, 1]
    assert e.loc["E2", "part_qpv"] == pytest.approx(500 / 11000)
    with pytest.raises(SchemaError, match="epci"):
        population_shares(parts, commune_pop, level="epci")
    with pytest.raises(DataFormatError, match="level"):
        population_shares(parts, commune_pop, level="canton")


def test_population_shares_missing_codes_are_named(parts, commune_pop):
    old = parts.assign(code_commune=["59001", "59999", "62001", "97401"])
    with pytest.raises(DataFormatError, match=r"59999.*harmonise_communes"):
        population_shares(old, commune_pop)
    # above the commune level too: 59999's département exists, the commune does not
    with pytest.raises(DataFormatError, match="59999"):
        population_shares(old, commune_pop, level="region")
    with pytest.warns(QpvgeoWarning, match="59999"):
        out = population_shares(old, commune_pop, level="departement", on_missing="warn")
    assert out.loc["59", "population_qpv"] == 1000
    dup = pd.concat([commune_pop, commune_pop.iloc[[0]]])
    with pytest.raises(DuplicateCodeError, match="59001"):
        population_shares(parts, dup)


def test_population_shares_na_is_not_zero(parts, commune_pop):
    out = population_shares(parts.assign(population_qpv=[1000.0, None, 500.0, 300.0]),
                            commune_pop, level="departement")
    assert pd.isna(out.loc["59", "population_qpv"]) and pd.isna(out.loc["59", "part_qpv"])
    assert out.loc["62", "part_qpv"] == pytest.approx(0.1)


def test_count_qpv(parts):
    assert count_qpv(parts, level="commune")["n_qpv"].to_dict() == {
        "59001": 1, "59002": 1, "62001": 1, "97401": 1}
    assert count_qpv(parts, level="departement")["n_qpv"].to_dict() == {
        "59": 1, "62": 1, "974": 1}
    assert count_qpv(parts, level="region")["n_qpv"].to_dict() == {"32": 2, "04": 1}
    assert count_qpv(parts, level="france", metropolitan_only=True)["n_qpv"].tolist() == [2]
    # a QPV frame without commune: the département comes from the code
    assert count_qpv(parts[["code_qpv"]], level="departement")["n_qpv"].to_dict() == {
        "59": 1, "62": 1, "974": 1}


# -- real data --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real(shared_data):
    from qpvgeo.cog import harmonise_communes
    from qpvgeo.readers import (
        read_commune_population,
        read_communes,
        read_epci,
        read_qpv,
        read_qpv_communes,
        read_qpv_indicators,
    )
    from qpvgeo.readers.cog import read_cog_movements

    d = shared_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)  # repairs, tested by the readers
        movements = read_cog_movements(d / "insee_cog" / "mouvements_communes.csv")
        pop21 = read_commune_population(
            d / "insee_population_communes" / "populations_legales_2021_communes_cog2023.csv")
        pop23 = read_commune_population(
            d / "insee_population_communes" / "populations_legales_2023_communes_cog2025.csv")
        hdf2018 = read_communes(d / "communes_hdf" / "communes-hauts-de-france.geojson")
        out = {
            "movements": movements,
            # the population files list Paris, Lyon, Marseille by arrondissement; the
            # QPV lists use the whole city: collapse (and bring COG 2023/2025 to 2026)
            "pop21": harmonise_communes(pop21, movements=movements, year=2023),
            "pop23": harmonise_communes(pop23, movements=movements, year=2025),
            "communes_hdf": harmonise_communes(hdf2018, movements=movements, year=2018),
            "qpv24": read_qpv(d / "qpv2024_contours_simplified" / "qpv2024_hdf_simplified.geojson"),
            "ind24": read_qpv_indicators(d / "qpv2024_indicators_sigville" / "analyse_qpv.csv"),
            "list24": read_qpv_communes(d / "qpv2024_list_anct" / "qpv2024_code_commune.csv"),
            "sigville24": read_qpv_communes(d / "qpv2024_indicators_sigville" / "analyse_qpv.csv"),
            "qpv15": read_qpv(d / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson"),
            "demo22": read_qpv_indicators(d / "insee_qpv_tables" / "DEMO_2022.csv"),
            "rp2013": read_qpv_indicators(d / "insee_qpv_tables" / "pop_qp_2013.csv"),
            "epci": read_epci(d / "epci_hdf" / "epci_membership_hdf_2025.csv"),
        }
        out["members15"] = read_qpv_communes(
            d / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson", communes=hdf2018)
    return out


@pytest.fixture(scope="module")
def hdf24(real):
    return qpv_population_by_commune(real["qpv24"], real["ind24"], real["communes_hdf"],
                                     membership=real["list24"])


def _per_qpv(indicators: pd.DataFrame) -> pd.DataFrame:
    """One row per QPV (population_qpv; territory from the QPV code)."""
    return (indicators[["population"]].rename(columns={"population": "population_qpv"})
            .reset_index())


def test_hdf_2024_parts_add_up_and_multi_commune_split(real, hdf24):
    assert hdf24["code_qpv"].nunique() == 204
    # SIG Ville popMuniQPV, HdF: 753,115 (qpv2024_indicators_sigville/SOURCE.md)
    assert hdf24["population_qpv"].sum() == pytest.approx(753_115, abs=1e-6)
    sums = hdf24.groupby("code_qpv")["population_qpv"].sum()
    assert (sums - real["ind24"]["population"].reindex(sums.index)).abs().max() < 1e-6
    # QN05972M "Secteur Sud": split by area among the 4 listed communes only
    sud = hdf24[hdf24["code_qpv"] == "QN05972M"].set_index("code_commune")
    assert sorted(sud.index) == ["59220", "59346", "59350", "59360"]
    assert set(sud["methode"]) == {"aire"}
    assert abs(sud["population_qpv"].sum() - real["ind24"].loc["QN05972M", "population"]) < EXACT
    assert sud["population_qpv"].idxmax() == "59350"  # mostly in Lille
    # SIG Ville rows as membership give the same (QPV, commune) pairs for HdF
    hdf_codes = set(hdf24["code_qpv"])
    sig = real["sigville24"][real["sigville24"]["code_qpv"].isin(hdf_codes)]
    lst = real["list24"][real["list24"]["code_qpv"].isin(hdf_codes)]
    assert len(sig) == len(lst) == 286  # (QPV, commune) rows, both SOURCE.md files
    assert set(map(tuple, sig[["code_qpv", "code_commune"]].values)) == set(
        map(tuple, lst[["code_qpv", "code_commune"]].values))
    assert hdf24["methode"].isin(["commune_unique", "aire"]).all()


def test_hdf_share_2024_geography(real, hdf24):
    # 753,115 QPV inhabitants (SIG Ville, RP 2020) over the populations légales:
    # 2023 (COG 2025): HdF PMUN 5,992,194 -> 12.57 %; 2021 (COG 2023): 5,995,292 -> 12.56 %
    for pop, total in ((real["pop23"], 5_992_194), (real["pop21"], 5_995_292)):
        reg = population_shares(hdf24, pop, level="region")
        assert reg.loc["32", "population"] == total
        assert reg.loc["32", "part_qpv"] == pytest.approx(753_115 / total, rel=1e-12)
        assert reg.loc["32", "n_qpv"] == 204
    assert population_shares(hdf24, real["pop23"], level="region").loc[
        "32", "part_qpv"] == pytest.approx(0.12568, abs=5e-6)
    # the same total through the communes and the EPCI (DGCL 2025, 92 EPCI)
    hdf_pop = real["pop23"][real["pop23"]["code_region"] == "32"]
    com = population_shares(hdf24, hdf_pop, level="commune")
    assert com["population_qpv"].sum() == pytest.approx(753_115)
    assert (com["n_qpv"] > 0).sum() == 161  # communes with a QPV (qpv2024_list_anct)
    epci = population_shares(hdf24, hdf_pop, level="epci", epci=real["epci"])
    assert len(epci) == 92 and epci["population"].sum() == 5_992_194
    assert epci["population_qpv"].sum() == pytest.approx(753_115)
    assert epci.loc["200093201", "nom_epci"].startswith("Métropole Européenne de Lille")


def test_region_ranking_2024_geography(real):
    # metropolitan QPV of 2024 (1,362, SIG Ville) against populations légales 2023
    for pop in (real["pop23"], real["pop21"]):
        reg = population_shares(_per_qpv(real["ind24"]), pop, level="region",
                                metropolitan_only=True)
        assert len(reg) == 13 and reg["n_qpv"].sum() == 1362
        # The seeds say HdF has the highest share of any metropolitan region. The
        # data say otherwise: Île-de-France 13.67 % (1,703,219 / 12,463,067) is first,
        # Hauts-de-France 12.57 % (753,115 / 5,992,194) second, PACA 10.33 % third
        # (with the 2021 populations: 13.83 %, 12.56 %, 10.51 %).
        assert reg.index[:3].tolist() == ["11", "32", "93"]
        assert reg.index.get_loc("32") + 1 == 2
        assert reg.loc["11", ["population_qpv", "n_qpv"]].tolist() == [1_703_219, 298]
    fr = population_shares(_per_qpv(real["ind24"]), real["pop23"], level="france",
                           metropolitan_only=True)
    # metropolitan France: 5,307,455 / 66,165,815 = 8.02 % ("8 %", issue 2)
    assert fr.loc["FRMETRO", "population_qpv"] == 5_307_455
    assert fr.loc["FRMETRO", "part_qpv"] == pytest.approx(0.0802, abs=5e-5)
    # all France: Mayotte's 42 QPV have no population légale in our files: named
    with pytest.raises(DataFormatError, match="QN976"):
        population_shares(_per_qpv(real["ind24"]), real["pop23"], level="france")


def test_hdf_share_and_ranking_2015_geography(real):
    # INSEE tables, 199 HdF QPV: 653,409 (DEMO 2022 edition) and 667,970 (RP 2013)
    for ind, qpv_pop in ((real["demo22"], 653_409), (real["rp2013"], 667_970)):
        for pop, total in ((real["pop21"], 5_995_292), (real["pop23"], 5_992_194)):
            reg = population_shares(_per_qpv(ind), pop, level="region",
                                    metropolitan_only=True)
            assert reg.loc["32", "population_qpv"] == qpv_pop
            assert reg.loc["32", "n_qpv"] == 199
            assert reg.loc["32", "part_qpv"] == pytest.approx(qpv_pop / total, rel=1e-12)
            # Again second, behind Île-de-France: DEMO 2022 gives IdF 12.75 %
            # (1,570,338 / 12,317,279, 2021 populations) against HdF 10.90 %
            # (653,409 / 5,995,292); RP 2013: 12.55 % against 11.14 %.
            assert reg.index[:2].tolist() == ["11", "32"]
    # RP 2013 carries INSEE's own region (`reg`): the region qpvgeo derives from the
    # QPV code (its département) is the same for every QPV
    from qpvgeo import schema

    rp = real["rp2013"]
    derived = rp.index.map(schema.departement_of_qpv).map(schema.REGION_OF_DEPARTEMENT)
    assert (pd.Series(derived, index=rp.index) == rp["reg"].astype(str).str.zfill(2)).all()


def test_hdf_2015_split_with_commune_names(real):
    parts = qpv_population_by_commune(real["qpv15"], real["demo22"], real["communes_hdf"],
                                      membership=real["members15"])
    assert parts["code_qpv"].nunique() == 199
    assert parts["population_qpv"].sum() == pytest.approx(653_409, abs=1e-6)
    # QP059074 "Secteur Sud": COMMUNE_QP names Lille, Faches-Thumesnil, Loos, Lezennes
    sud = parts[parts["code_qpv"] == "QP059074"].set_index("code_commune")
    assert sorted(sud.index) == ["59220", "59346", "59350", "59360"]
    assert abs(sud["population_qpv"].sum() - real["demo22"].loc["QP059074", "population"]) < EXACT
    # Téteghem (QP059065) is a name of 2015: absent from 2018 communes, the QPV falls
    # back to the communes it overlaps
    assert parts.loc[parts["code_qpv"] == "QP059065", "methode"].isin(
        ["commune_unique", "aire"]).all()
    # the département counts of the contours (02: 17, 59: 91, 60: 18, 62: 64, 80: 9)
    counts = count_qpv(real["qpv15"], level="departement")["n_qpv"].to_dict()
    assert counts == {"59": 91, "62": 64, "60": 18, "02": 17, "80": 9}


def test_count_qpv_2024_list(real):
    lst = real["list24"]
    dep = count_qpv(lst, level="departement")["n_qpv"]
    # ANCT list (qpv2024_list_anct/SOURCE.md): 02: 17, 59: 94, 60: 19, 62: 64, 80: 10
    assert dep.reindex(["02", "59", "60", "62", "80"]).tolist() == [17, 94, 19, 64, 10]
    reg = count_qpv(lst, level="region", metropolitan_only=True)["n_qpv"]
    assert reg.loc["32"] == 204 and reg.index[0] == "11"
    assert count_qpv(lst, level="france", metropolitan_only=True)["n_qpv"].tolist() == [1362]
    # a multi-commune QPV counts in each of its communes
    assert count_qpv(lst, level="commune").loc[["59220", "59346"], "n_qpv"].min() >= 1


def test_occitanie_toulouse(shared_data, real):
    from qpvgeo.readers import read_communes, read_qpv, read_qpv_communes, read_qpv_indicators

    d = shared_data / "qpv2015_occitanie_hackaviz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)  # 32 rings repaired (SOURCE.md)
        qpv = read_qpv(d / "qp.geojson")
        ind = read_qpv_indicators(d / "qp.csv")
        communes = read_communes(shared_data / "communes_occitanie")
        members = read_qpv_communes(d / "qp.geojson", communes=communes)
    assert len(qpv) == 105 and ind["population"].sum() == 358_011
    # overlay with the 2018 communes (no membership: the file's code_commune is the main
    # commune only, e.g. QP065003 "Tarbes Est" lies in Tarbes and Séméac)
    parts = qpv_population_by_commune(qpv, ind, communes)
    assert parts["population_qpv"].sum() == pytest.approx(358_011, abs=1e-6)
    by_commune = parts.groupby("code_commune")["population_qpv"].sum()
    # Toulouse's 12 QPV: 55,543 inhabitants, INSEE's own pop_com_qp for Toulouse
    assert parts.loc[parts["code_commune"] == "31555", "code_qpv"].nunique() == 12
    assert by_commune["31555"] == pytest.approx(55_543, abs=1e-6)
    # every commune gets what INSEE says lives in its QPV (pop_com_qp, same file)...
    insee = (parts[["code_qpv", "code_commune"]]
             .join(ind["pop_com_qp"], on="code_qpv")
             .groupby("code_commune")["pop_com_qp"].first())
    diff = (by_commune - insee.reindex(by_commune.index)).abs()
    assert diff.drop(["65440", "65417"]).max() < 1e-6
    # ...except around the one QPV that spans two communes, split by area: Tarbes gets
    # 7,063 where INSEE counts 7,137 (QP065001 pop_com_qp), Séméac 126 where INSEE's
    # figures imply 52 (7,189 - 7,137): area weighting is 1 % off for Tarbes
    tarbes = parts[parts["code_qpv"] == "QP065003"].set_index("code_commune")
    assert sorted(tarbes.index) == ["65417", "65440"] and set(tarbes["methode"]) == {"aire"}
    assert abs(tarbes["population_qpv"].sum() - 3316) < EXACT
    assert by_commune["65440"] == pytest.approx(7137, rel=0.011)
    # with the file's own membership (its names list: Tarbes Est in Séméac and Tarbes),
    # 104 QPV go whole to one commune and Tarbes Est is split between its two
    whole = qpv_population_by_commune(qpv, ind, communes, membership=members)
    assert len(whole) == 106 and whole["code_qpv"].nunique() == 105
    assert set(whole.loc[whole["code_qpv"] != "QP065003", "methode"]) == {"commune_unique"}
    assert set(whole.loc[whole["code_qpv"] == "QP065003", "code_commune"]) == {"65417", "65440"}
    assert whole.loc[whole["code_commune"] == "31555", "population_qpv"].sum() == 55_543
    # Toulouse's share against its 2023 population légale (COG 2025)
    share = population_shares(parts, real["pop23"], level="commune").loc["31555"]
    toulouse = real["pop23"].set_index("code_commune").loc["31555", "population"]
    assert share["part_qpv"] == pytest.approx(55_543 / toulouse, rel=1e-12)
    assert 0.10 < share["part_qpv"] < 0.12
