"""The synthetic demo territory: canonical, deterministic, self-consistent, labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.datasets import LABEL, demo


def test_demo_is_deterministic():
    a, b = demo(), demo()
    for name, frame in a.frames().items():
        pd.testing.assert_frame_equal(frame, b.frames()[name], check_like=False)


def test_demo_frames_are_canonical_and_in_lambert93():
    d = demo()
    assert "synthétiques" in d.label and d.label == LABEL
    for name, frame in d.frames().items():
        if hasattr(frame, "crs"):
            assert frame.crs.to_epsg() == 2154, name
            assert frame.geometry.is_valid.all(), name
    assert list(d.qpv.columns[:-1]) == list(schema.QPV_COLUMNS)
    assert set(d.qpv[schema.MILLESIME]) == {2024}
    assert all(schema.millesime_of_code(c) == 2024 for c in d.qpv[schema.CODE_QPV])
    assert d.indicators.index.name == schema.CODE_QPV


def test_demo_communes_tile_the_territory_and_hold_the_qpv():
    d = demo()
    union = shapely.union_all(d.communes.geometry.values)
    # The four communes tile a 12 km x 8 km rectangle exactly.
    assert abs(union.area - 96e6) < 1e-3
    assert abs(d.communes.area.sum() - 96e6) < 1e-3
    assert all(shapely.contains(union, d.qpv.geometry.values))
    # The membership table says which communes each QPV covers; geometry agrees.
    overlaps = d.qpv.drop(columns=schema.CODE_COMMUNE).overlay(d.communes, how="intersection")
    overlaps = overlaps[overlaps.area > 1.0]
    got = set(zip(overlaps[schema.CODE_QPV], overlaps[schema.CODE_COMMUNE], strict=True))
    want = set(zip(d.qpv_communes[schema.CODE_QPV], d.qpv_communes[schema.CODE_COMMUNE],
                   strict=True))
    assert got == want


def test_demo_grid_follows_the_filosofi_layout():
    d = demo()
    g = d.grid
    parsed = g[schema.IDCAR_200M].str.extract(r"^CRS3035RES200mN(\d+)E(\d+)$").astype(float)
    np.testing.assert_array_equal(parsed[0].to_numpy(), g["y_laea"].to_numpy())
    np.testing.assert_array_equal(parsed[1].to_numpy(), g["x_laea"].to_numpy())
    assert (g["x_laea"] % 200 == 0).all() and (g["y_laea"] % 200 == 0).all()
    # Squares are 200 m in EPSG:3035: 4 ha each, to a hair of reprojection error.
    np.testing.assert_allclose(g.to_crs(schema.GRID_CRS).area, 40_000.0, rtol=1e-6)
    # Every inhabitant of the grid lives in a commune, and the populations add up.
    assert g["ind"].sum() == d.commune_population[schema.POPULATION].sum()
    assert (g["men_pauv"] <= g["men"]).all()


def test_demo_layers_have_the_canonical_values():
    d = demo()
    assert list(d.flood[schema.SCENARIO]) == list(schema.FLOOD_SCENARIOS)
    # Nested flood extents: the frequent flood lies within the medium, within the extreme.
    f, m, e = d.flood.geometry
    assert m.contains(f.buffer(-1)) and e.contains(m.buffer(-1))
    assert set(d.sites[schema.SEVESO]) == set(schema.SEVESO_LEVELS)
    assert set(schema.POLLUTANTS) <= set(d.air.columns)
    # One green space below the WHO 0.5 ha threshold, to exercise min_area.
    assert (d.green_spaces.area < 5000).sum() == 1
    assert d.heat[schema.SCORE_CHALEUR].between(0, 1).all()
    assert set(d.noise[schema.INDICATEUR_BRUIT]) == {"lden", "ln"}


def test_demo_carries_one_layer_of_each_registered_kind():
    from qpvgeo.exposure import LAYERS, exposure_profile

    d = demo()
    # Built by each registered layer's own demo function: the registry drives the demo.
    assert list(d.layers) == [name for name, layer in LAYERS.items() if layer.demo is not None]
    assert set(d.layers) == set(LAYERS)
    for name in ("flood", "sites", "air", "heat", "green_spaces", "noise"):
        assert d.layers[name] is getattr(d, name)
    # Each says it covers the whole territory (12 km x 8 km): no demo QPV is uncovered.
    for name, layer in d.layers.items():
        assert abs(layer.attrs["couverture"].area - 96e6) < 1e-3, name
    p = exposure_profile(d.qpv, layers=d.layers, surroundings=None)
    assert (p[[f"part_couverte_{n}" for n in d.layers]] == 1.0).all().all()
