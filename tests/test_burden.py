"""qpvgeo.exposure.burden: percentiles, count index, cumulative score, double burden.

Known answers on hand-made geometry: five square QPV along a road, a flood band and a
park, where every percentile can be counted by hand.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from qpvgeo.errors import SchemaError
from qpvgeo.exposure import burden as B
from qpvgeo.exposure import exposure_profile


@pytest.fixture(scope="module")
def five():
    """Five 100 m squares 1 km apart; the layers grow worse from A to E (except heat)."""
    codes = list("ABCDE")
    qpv = gpd.GeoDataFrame(
        {"code_qpv": codes, "population": [1000, 2000, 3000, 4000, 5000]},
        geometry=[box(i * 1000, 0, i * 1000 + 100, 100) for i in range(5)], crs=2154,
    )
    # Flooded share 0, 0.1, 0.2, 0.3, 0.4 of each square (a band from the west edge).
    flood = gpd.GeoDataFrame(
        {"scenario": ["moyen"] * 4},
        geometry=[box(i * 1000, 0, i * 1000 + 10 * i, 100) for i in range(1, 5)], crs=2154,
    )
    flood.attrs["couverture"] = box(-500, -500, 5500, 600)
    # NO2 grid: one 1 km cell per QPV, 12 to 28 µg/m³.
    air = gpd.GeoDataFrame({"no2": [12.0, 16.0, 20.0, 24.0, 28.0]},
                           geometry=[box(i * 1000 - 450, -450, i * 1000 + 550, 550)
                                     for i in range(5)], crs=2154)
    # Heat score decreasing from A to E.
    heat = gpd.GeoDataFrame({"score_chaleur": [0.9, 0.7, 0.5, 0.3, 0.1]},
                            geometry=[box(i * 1000 - 450, -450, i * 1000 + 550, 550)
                                      for i in range(5)], crs=2154)
    p = exposure_profile(qpv, layers={"flood": flood, "air": air, "heat": heat},
                         surroundings=None)
    socio = pd.DataFrame(
        {"taux_pauvrete": [20.0, 30.0, 40.0, 50.0, 60.0],
         "taux_emploi": [70.0, 60.0, 50.0, 40.0, np.nan],
         "part_60_ans_plus": [10.0, 12.0, 14.0, 16.0, 18.0]},
        index=pd.Index(codes, name="code_qpv"),
    )
    return p, socio


def test_headline_columns_and_percentiles(five):
    p, _ = five
    assert B.layer_indicators(p) == {
        "flood": "part_surface_inondable_moyen", "air": "no2", "heat": "score_chaleur",
    }
    np.testing.assert_allclose(p["part_surface_inondable_moyen"], [0, 0.1, 0.2, 0.3, 0.4],
                               atol=1e-12)
    np.testing.assert_allclose(p["no2"], [12, 16, 20, 24, 28])
    pct = B.percentiles(p)
    # Mid-rank percentiles of five distinct values: 10, 30, 50, 70, 90.
    assert pct["pctl_no2"].tolist() == [10.0, 30.0, 50.0, 70.0, 90.0]
    # A measured zero ranks 0 (CalEnviroScreen), the others keep their mid-rank.
    assert pct["pctl_part_surface_inondable_moyen"].tolist() == [0.0, 30.0, 50.0, 70.0, 90.0]
    assert pct["pctl_score_chaleur"].tolist() == [90.0, 70.0, 50.0, 30.0, 10.0]


def test_count_index_worst_quintile(five):
    p, _ = five
    c = B.count_index(p)
    # Only E is in the worst fifth for flood and NO2; only A for heat.
    assert c["n_couches"].tolist() == [3] * 5
    assert c["n_couches_pire_quintile"].tolist() == [1, 0, 0, 0, 2]
    # Below the minimum number of layers the index is NA, with the count still given.
    two = B.count_index(p.drop(columns=[c for c in p if "chaleur" in c]))
    assert two["n_couches"].tolist() == [2] * 5 and two["n_couches_pire_quintile"].isna().all()
    assert B.count_index(p, min_layers=2)["n_couches_pire_quintile"].notna().all()


def test_cumulative_score_and_double_burden(five):
    p, socio = five
    s = B.cumulative_score(p, socio)
    # Exposure: mean of (flood, no2, heat) percentiles / 10.
    # A: (0 + 10 + 90) / 30 = 3.33 (its flood share 0 ranks 0); E: (90 + 90 + 10) / 30.
    np.testing.assert_allclose(s["score_exposition"], [10 / 3, 13 / 3, 5, 17 / 3, 19 / 3])
    # Vulnerability: poverty and age rank 10..90; employment (reversed) ranks A..D over four
    # known values 12.5..87.5 and is NA for E (statistical secrecy), which leaves the mean.
    np.testing.assert_allclose(
        s["score_vulnerabilite"],
        [(10 + 12.5 + 10) / 30, (30 + 37.5 + 30) / 30, (50 + 62.5 + 50) / 30,
         (70 + 87.5 + 70) / 30, (90 + 90) / 20],
    )
    assert s["n_variables_vulnerabilite"].tolist() == [3, 3, 3, 3, 2]
    np.testing.assert_allclose(s["score_cumule"], s["score_exposition"] * s["score_vulnerabilite"])
    d = B.double_burden(p, socio)
    assert d["classe_double_charge"].tolist() == [
        "ni l'une ni l'autre", "ni l'une ni l'autre", "double charge", "double charge",
        "double charge",
    ]
    # Default thresholds: the median scores (exposure 5.0 = C's; vulnerability C's 5.42).
    assert d.attrs["seuils"] == pytest.approx({"exposition": 5.0,
                                               "defaveur": (50 + 62.5 + 50) / 30})
    fixed = B.double_burden(p, socio, exposure_threshold=6.0, deprivation_threshold=2.0)
    assert fixed["classe_double_charge"].tolist() == [
        "ni l'une ni l'autre", "défaveur seule", "défaveur seule", "défaveur seule",
        "double charge",
    ]
    pop = B.double_burden_population(d.assign(population=[1000, 2000, 3000, 4000, 5000]))
    assert pop["double charge"] == 12000 and pop["exposition seule"] == 0
    # Too few vulnerability variables: NA, not a guess.
    only = B.cumulative_score(p, socio[["taux_pauvrete"]])
    assert only["score_vulnerabilite"].isna().all() and only["score_cumule"].isna().all()
    assert B.double_burden(p, socio[["taux_pauvrete"]])["classe_double_charge"].isna().all()


def test_percentile_against_surroundings():
    t = pd.DataFrame({"no2": [10.0, 20.0, 30.0], "no2_environs": [15.0, 15.0, 25.0]})
    got = B.percentiles(t, columns=["no2"])["pctl_environs_no2"].round(2).tolist()
    # 10 is below all three ring values; 20 above two; 30 above all three.
    assert got == [0.0, 66.67, 100.0]


def test_burden_needs_layer_columns():
    with pytest.raises(SchemaError, match="no layer indicator"):
        B.count_index(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(SchemaError, match="not in the table"):
        B.percentiles(pd.DataFrame({"x": [1.0]}), columns=["no2"])


def test_burden_table_on_the_demo():
    from qpvgeo.datasets import demo

    d = demo()
    p = exposure_profile(d.qpv, layers=d.layers, population=d.grid)
    b = B.burden_table(p, d.indicators)
    # Every layer with a headline column counts (a layer without one stays out of the
    # composites).
    assert b["n_couches"].tolist() == [len(B.layer_indicators(p))] * 4
    assert len(B.layer_indicators(p)) >= 6
    assert set(b["classe_double_charge"].dropna()) <= set(B.DOUBLE_BURDEN_CLASSES)
    assert b.filter(like="pctl_").notna().all().all()
    # QN09904M has the highest poverty (52.3 %) and lowest employment (39.5 %) of the four.
    assert b["score_vulnerabilite"].idxmax() == "QN09904M"
