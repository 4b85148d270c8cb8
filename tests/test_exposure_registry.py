"""The layer registry: a new layer is one module plus one registry entry.

A toy layer (a "pollen" count per zone from polygons carrying ``grains``) is registered in
the test only; the profile, the coverage rule, the comparisons, the column catalogue, the
synthesis and the demo pick it up without any other edit.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from qpvgeo import schema
from qpvgeo.datasets import demo
from qpvgeo.errors import QpvgeoError
from qpvgeo.exposure import (
    LAYERS,
    Layer,
    MapStyle,
    column_catalogue,
    describe_exposure_columns,
    exposure_profile,
)
from qpvgeo.exposure import burden as B
from qpvgeo.exposure._base import _frame, _population_context, _prepare_zones, _zonal_mean
from qpvgeo.schema import Column


def pollen_exposure(zones, data, *, key="code_qpv", population=None, population_method="area",
                    ancillary=None, **_):
    """The toy indicator: area-weighted mean of ``grains`` over each zone."""
    z = _prepare_zones(zones, key)
    _population_context(z, population, population_method, ancillary=ancillary)
    geoms = np.asarray(data.geometry.array, dtype=object)
    vals = data["grains"].to_numpy(dtype=float)[:, None]
    return _frame({"grains_pollen": _zonal_mean(z.geoms, geoms, vals)[0][:, 0]}, z,
                  layer="pollen")


def pollen_demo(base):
    x0, y0, x1, y1 = base.territory.bounds
    return gpd.GeoDataFrame({"grains": [10.0, 30.0]},
                            geometry=[box(x0, y0, (x0 + x1) / 2, y1),
                                      box((x0 + x1) / 2, y0, x1, y1)],
                            crs=2154)


@pytest.fixture
def pollen():
    layer = LAYERS.register(Layer(
        name="pollen", label="Pollens (couche d'essai)", family="nature",
        indicator=pollen_exposure, comparable=("grains_pollen",), headline=("grains_pollen",),
        columns=(Column("grains_pollen", "Grains de pollen par m³", "grains/m³", kind="mean",
                        direction=1, source="test"),),
        style=MapStyle(kind="polygons", color="#ffcc00", palette="YlOrBr"), demo=pollen_demo,
    ))
    yield layer
    LAYERS.unregister("pollen")


def test_toy_layer_runs_through_profile_catalogue_burden_and_demo(pollen):
    zones = gpd.GeoDataFrame(
        {"code_qpv": ["A", "B", "C"]},
        geometry=[box(0, 0, 100, 100), box(150, 0, 250, 100), box(1000, 0, 1100, 100)], crs=2154,
    )
    data = gpd.GeoDataFrame({"grains": [10.0, 30.0]},
                            geometry=[box(-500, -500, 100, 600), box(100, -500, 600, 600)],
                            crs=2154)
    data.attrs["couverture"] = box(-500, -500, 600, 600)
    p = exposure_profile(zones, layers={"pollen": data}, ring=50)
    # A lies in the 10-grain polygon, B in the 30-grain one; C is outside coverage: NA.
    assert p["grains_pollen"].tolist()[:2] == [10.0, 30.0]
    assert np.isnan(p.loc["C", "grains_pollen"]) and p.loc["C", "part_couverte_pollen"] == 0
    # A's 50 m ring reaches east of x = 100 (30 grains): a ratio below 1. B's ring lies
    # wholly in the 30-grain polygon: 1.
    assert p.loc["A", "grains_pollen_ratio"] < 1
    assert p.loc["B", "grains_pollen_ratio"] == pytest.approx(1.0)
    assert np.isnan(p.loc["C", "grains_pollen_ratio"])
    doc = describe_exposure_columns(p).set_index("colonne")
    assert doc.loc["grains_pollen", "couche"] == "Pollens (couche d'essai)"
    assert doc.loc["grains_pollen_ratio", "libellé"] == (
        "Grains de pollen par m³ : rapport QPV / environs")
    assert schema.column_info("part_couverte_pollen", extra=column_catalogue(p.columns)).label \
        == "Part de la zone couverte par la couche « Pollens (couche d'essai) »"
    assert B.layer_indicators(p) == {"pollen": "grains_pollen"}
    d = demo()
    assert set(d.layers) == set(LAYERS) and "pollen" in d.layers
    q = exposure_profile(d.qpv, layers={"pollen": d.layers["pollen"]}, surroundings=None)
    assert q["grains_pollen"].notna().all()


def test_registry_refuses_duplicates_and_unknown_families(pollen):
    with pytest.raises(QpvgeoError, match="already registered"):
        LAYERS.register(pollen)
    with pytest.raises(QpvgeoError, match="family"):
        Layer(name="x", label="x", family="bruit", indicator=pollen_exposure)
    assert "pollen" in LAYERS and "nothing" not in LAYERS


def test_every_shipped_column_is_declared_once_by_its_layer():
    d = demo()
    qpv = d.qpv.merge(d.indicators[["population"]], left_on="code_qpv", right_index=True)
    p = exposure_profile(qpv, layers=d.layers, population=d.grid)
    # Every column is documented, with a label free of placeholders, by exactly one entry.
    doc = describe_exposure_columns(p)
    assert list(doc["colonne"]) == list(p.columns)
    assert not doc["libellé"].str.contains(r"\{").any()
    entries = column_catalogue()
    for c in p.columns:
        base = c.removesuffix("_environs").removesuffix("_ratio")
        matching = [e for e in entries if e.matches(base)] or [schema.column_info(base)]
        assert matching[0] is not None, c
    # The demo builds one layer per registered kind, each covering the whole territory.
    assert set(d.layers) == set(LAYERS)
    cover = p[[f"part_couverte_{name}" for name in LAYERS]]
    assert (cover == 1.0).all().all()
    assert isinstance(p.attrs["columns"]["no2"], dict)
    assert p.attrs["columns"]["part_population_inondable_moyen"]["unité"] == "part 0-1"
    pd.testing.assert_index_equal(p.index, pd.Index(qpv["code_qpv"], name="code_qpv"),
                                  check_exact=True, exact=False)


def test_population_base_is_computed_once_per_run(monkeypatch):
    """QPV and ring totals are estimated once, not once per layer (v1: once per layer)."""
    from qpvgeo import interpolate

    d = demo()
    calls = []
    real = interpolate.grid_population

    def counting(grid, zones, **kw):
        calls.append((np.round(zones.area.to_numpy(), 3), tuple(kw.get("columns", ("ind",)))))
        return real(grid, zones, **kw)

    monkeypatch.setattr(interpolate, "grid_population", counting)
    exposure_profile(d.qpv, layers=d.layers, population=d.grid)
    qpv_area = np.round(d.qpv.area.to_numpy(), 3)
    n = len(qpv_area)
    # The QPV first, then their rings: the six layers run on both sides at once.
    on_qpv = [cols for area, cols in calls
              if len(area) == 2 * n and np.array_equal(area[:n], qpv_area)]
    # One population estimate of the whole QPV and rings for the six layers; the two other
    # calls on them transfer population x value products (air concentrations, heat score),
    # which need the cell values, not a new population base.
    assert on_qpv.count(("ind",)) == 1
    assert len(on_qpv) == 3 and all(len(cols) > 1 for cols in on_qpv if cols != ("ind",))
