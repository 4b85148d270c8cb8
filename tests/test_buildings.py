"""Building footprints (qpvgeo.readers.buildings) and building-based population
(qpvgeo.buildings), on hand-made cells and the real Périgueux / Paris 11e footprints."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from qpvgeo.buildings import building_population
from qpvgeo.errors import QpvgeoWarning, SchemaError
from qpvgeo.interpolate import grid_population
from qpvgeo.readers.buildings import BUILDING_COLUMNS, read_buildings

X0, Y0 = 3800000, 2900000


def _grid(values, *, cols=2):
    xs = [X0 + 200 * (i % cols) for i in range(len(values))]
    ys = [Y0 + 200 * (i // cols) for i in range(len(values))]
    return pd.DataFrame({"x_laea": xs, "y_laea": ys, "ind": values,
                         "men": np.asarray(values) / 2})


def _buildings(rows):
    geoms = [box(*r[0]) for r in rows]
    data = pd.DataFrame([r[1] for r in rows])
    return gpd.GeoDataFrame(data, geometry=geoms, crs=3035)


# -- the method, on hand-made cells ----------------------------------------------------
def test_weights_levels_and_totals_per_cell():
    grid = _grid([100.0, 60.0, 30.0])  # cells (0,0), (200,0), (0,200)
    b = _buildings([
        # cell 1: dwellings known for both -> 3 : 1
        ((X0 + 10, Y0 + 10, X0 + 30, Y0 + 30), {"nb_logements": 3.0, "hauteur": 3.0}),
        ((X0 + 110, Y0 + 110, X0 + 190, Y0 + 190), {"nb_logements": 1.0, "hauteur": 30.0}),
        # cell 2: no dwellings, heights -> volume (floors 1 and 4)
        ((X0 + 210, Y0 + 10, X0 + 230, Y0 + 30), {"hauteur": 3.0}),
        ((X0 + 310, Y0 + 10, X0 + 330, Y0 + 30), {"hauteur": 12.0}),
        # a garage (non-residential) in cell 2 holds nobody
        ((X0 + 250, Y0 + 150, X0 + 290, Y0 + 190), {"residentiel": False}),
    ])
    per_b = building_population(grid, b)
    assert per_b["ind"].round(6).tolist() == [75.0, 25.0, 12.0, 48.0]
    assert per_b["methode"].tolist() == ["logements", "logements", "volume", "volume"]
    assert per_b.crs.to_epsg() == 2154
    # cell 3 has no building: shared by area; every cell's total is conserved
    assert per_b["ind"].sum() == pytest.approx(160.0)
    assert per_b.attrs["methodes"] == {"logements": 100 / 190, "volume": 60 / 190,
                                       "surface": 0.0, "aire": 30 / 190}
    halves = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 100, Y0 + 400),
                                        box(X0 + 100, Y0, X0 + 400, Y0 + 400)], crs=3035)
    est = building_population(grid, b, halves, columns=["ind", "men"])
    assert est[["ind", "men"]].sum().tolist() == pytest.approx([190.0, 95.0])
    # left half: 75 (dwellings) + half of cell 3 by area (15)
    assert est["ind"].round(6).tolist() == [90.0, 100.0]
    # right: 25 + 60 through buildings, 15 of cell 3 by area
    assert est["part_batiments"].round(4).tolist() == [round(75 / 90, 4), 0.85]
    # a zone cutting a building takes its share of the building's people
    cut = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 20, Y0 + 400)], crs=3035)
    assert building_population(grid, b, cut)["ind"].iloc[0] == pytest.approx(
        75.0 / 2 + 30.0 * 20 / 200)


def test_fallbacks_min_surface_coverage_and_errors():
    grid = _grid([100.0])
    b = _buildings([
        ((X0 + 10, Y0 + 10, X0 + 30, Y0 + 30), {"nb_logements": 5.0}),  # 400 m²
        ((X0 + 110, Y0 + 10, X0 + 114, Y0 + 14), {}),  # 16 m², no dwellings: footprint
    ])
    per_b = building_population(grid, b)
    assert per_b["methode"].tolist() == ["surface", "surface"]
    assert per_b["ind"].round(4).tolist() == [round(100 * 400 / 416, 4),
                                              round(100 * 16 / 416, 4)]
    assert building_population(grid, b, min_surface=20)["ind"].tolist() == [100.0]
    # the cell is not wholly inside the layer's coverage: area weighting
    cov = gpd.GeoSeries([box(X0, Y0, X0 + 100, Y0 + 200)], crs=3035)
    zone = gpd.GeoDataFrame(geometry=[box(X0 + 100, Y0, X0 + 200, Y0 + 200)], crs=3035)
    out = building_population(grid, b, zone, coverage=cov)
    assert out["ind"].tolist() == [50.0] and out["part_batiments"].tolist() == [0.0]
    # NA grid value -> NA, never 0
    na = building_population(_grid([np.nan]), b, zone)
    assert np.isnan(na["ind"].iloc[0])
    with pytest.raises(SchemaError, match="no CRS"):
        building_population(grid, gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
    with pytest.raises(SchemaError, match="x_laea"):
        building_population(pd.DataFrame({"ind": [1.0]}), b)


def test_grid_population_dispatches_to_buildings():
    grid = _grid([100.0])
    b = _buildings([((X0 + 10, Y0 + 10, X0 + 30, Y0 + 30), {"nb_etages": 1}),
                    ((X0 + 110, Y0 + 10, X0 + 130, Y0 + 30), {"nb_etages": 3})])
    zone = gpd.GeoDataFrame(geometry=[box(X0 + 100, Y0, X0 + 200, Y0 + 200)], crs=3035)
    assert grid_population(grid, zone, method="buildings", buildings=b)["ind"].tolist() == [
        75.0]
    scaled = grid_population(grid, zone, method="buildings", buildings=b,
                             totals=pd.Series([150.0], index=zone.index))
    assert scaled["ind"].tolist() == [150.0] and scaled["ind_grille"].tolist() == [75.0]
    with pytest.raises(ValueError, match="buildings="):
        grid_population(grid, zone, method="buildings")


# -- readers ---------------------------------------------------------------------------
def test_read_buildings_layouts(tmp_path):
    geoms = [box(700000, 6600000, 700020, 6600010), box(700030, 6600000, 700033, 6600003)]
    bdnb = gpd.GeoDataFrame({"batiment_construction_id": ["B1", "B2"],
                             "usage_niveau_1_txt": ["Résidentiel collectif", "Dépendance"],
                             "nb_log": [8, 0], "nb_niveau": [3, 1], "hauteur": [9.1, 2.0],
                             "fictive_geom_cstr": [0, 1]}, geometry=geoms, crs=2154)
    bdnb.to_file(tmp_path / "bdnb.gpkg")
    with pytest.warns(QpvgeoWarning, match="1 BDNB fictive"):
        b = read_buildings(tmp_path / "bdnb.gpkg")
    assert tuple(b.columns) == BUILDING_COLUMNS
    assert b[["id_batiment", "source", "nb_logements", "nb_etages"]].values.tolist() == [
        ["B1", "bdnb", 8.0, 3.0]]
    assert bool(b.loc[0, "residentiel"]) and b.loc[0, "surface_sol"] == pytest.approx(200)
    osm = gpd.GeoDataFrame({"osm_id": ["1", "2", "3"], "fclass": ["building"] * 3,
                            "type": ["apartments", "garage", None],
                            "building:levels": ["4", None, "2;3"]},
                           geometry=[*geoms, box(700040, 6600000, 700050, 6600010)],
                           crs=2154).to_crs(4326)
    osm.to_file(tmp_path / "osm.geojson")
    o = read_buildings(tmp_path / "osm.geojson")
    assert o["source"].eq("osm").all() and o.crs.to_epsg() == 2154
    assert o["residentiel"].tolist() == [True, False, pd.NA]
    assert o["nb_etages"].tolist() == [4.0, pd.NA, 2.0]
    topo = gpd.GeoDataFrame({"ID": ["BATIMENT1"], "USAGE1": ["Indifférencié"],
                             "LEGER": ["Oui"], "ETAT": ["En service"], "NB_LOGTS": [0],
                             "NB_ETAGES": [1], "HAUTEUR": [2.5]}, geometry=geoms[:1], crs=2154)
    topo.to_file(tmp_path / "BATIMENT.shp")
    t = read_buildings(tmp_path / "BATIMENT.shp")
    assert t["residentiel"].tolist() == [False]  # a light construction
    with pytest.raises(SchemaError, match="no building identifier"):
        gpd.GeoDataFrame({"x": [1]}, geometry=geoms[:1], crs=2154).to_file(tmp_path / "x.gpkg")
        read_buildings(tmp_path / "x.gpkg")


@pytest.fixture(scope="module")
def perigueux(shared_data):
    folder = shared_data / "buildings_perigueux"
    with pytest.warns(QpvgeoWarning, match="95 BDNB fictive"):
        bdnb = read_buildings(folder / "perigueux_bdnb_batiment_construction.gpkg")
    return bdnb, read_buildings(folder / "perigueux_osm_buildings.gpkg")


def test_real_building_layers(perigueux, shared_data):
    bdnb, osm = perigueux
    # SOURCE.md: 10,381 BDNB polygons (95 fictive left out) and 14,774 OSM polygons
    assert len(bdnb) == 10381 - 95 and len(osm) == 14774
    assert bdnb["hauteur"].notna().all() and bdnb["nb_logements"].isna().all()
    # OSM types: 790 residential (apartments 423, house 274…), 204 not, the rest untyped
    assert osm["residentiel"].value_counts().to_dict() == {True: 790, False: 204}
    paris = read_buildings(shared_data / "buildings_paris11" /
                           "paris11_buildings_with_dwellings_L93.gpkg")
    # the derived file: 5,007 buildings, 98,025 dwellings (SOURCE.md)
    assert len(paris) == 5007 and paris["nb_logements"].sum() == pytest.approx(98025, abs=1)


@pytest.fixture(scope="module")
def perigueux_grid(shared_data):
    from qpvgeo.readers import read_filosofi_grid

    with pytest.warns(QpvgeoWarning, match="dpt"):  # the course author's column
        return read_filosofi_grid(shared_data / "filosofi_200m_2019_communes_sample" /
                                  "24_carEXAMEN.csv", geometry=False)


def test_coarse_grid_shared_back_by_buildings(perigueux, perigueux_grid):
    """1 km squares rebuilt from the 200 m cells, shared back to 200 m: the buildings
    place the people better than area weighting (the 200 m values are the truth)."""
    from qpvgeo.readers.grid import parse_cell_ids

    bdnb, osm = perigueux
    grid = perigueux_grid
    hull = shapely.concave_hull(shapely.union_all(np.asarray(bdnb.to_crs(3035).geometry.array)),
                                0.05)
    km = grid.groupby("idcar_1km", as_index=False)["ind"].sum()
    corners = parse_cell_ids(km["idcar_1km"])
    km["x_laea"], km["y_laea"] = corners["x_laea"].to_numpy(), corners["y_laea"].to_numpy()
    squares = shapely.box(km["x_laea"], km["y_laea"], km["x_laea"] + 1000, km["y_laea"] + 1000)
    # 1 km squares at least 90 % inside Périgueux's footprints (elsewhere the sample
    # misses the cells of the neighbouring communes)
    km = km[shapely.area(shapely.intersection(squares, hull)) / 1e6 >= 0.9].reset_index(drop=True)
    km.attrs["cell_size"] = 1000.0
    assert len(km) == 4 and km["ind"].sum() == 17249
    x = np.repeat(km["x_laea"].to_numpy(), 25) + np.tile(np.repeat(np.arange(5) * 200, 5), 4)
    y = np.repeat(km["y_laea"].to_numpy(), 25) + np.tile(np.arange(5) * 200, 20)
    zones = gpd.GeoDataFrame({"x_laea": x, "y_laea": y}, geometry=shapely.box(x, y, x + 200,
                                                                                y + 200), crs=3035)
    truth = zones.merge(grid[["x_laea", "y_laea", "ind"]], how="left")["ind"].fillna(0)
    assert truth.sum() == 17249  # Filosofi omits empty cells: the others hold nobody

    def misplaced(est):
        return float(np.abs(est.to_numpy() - truth.to_numpy()).sum() / truth.sum() / 2)

    area = grid_population(km, zones)["ind"]
    by_bdnb = building_population(km, bdnb, zones)["ind"]
    by_osm = building_population(km, osm, zones)["ind"]
    # totals conserved; share of the people put in the wrong 200 m square, ±0.1 pt
    assert by_bdnb.sum() == pytest.approx(17249) and by_osm.sum() == pytest.approx(17249)
    assert misplaced(area) == pytest.approx(0.247, abs=1e-3)
    assert misplaced(by_bdnb) == pytest.approx(0.187, abs=1e-3)
    assert misplaced(by_osm) == pytest.approx(0.180, abs=1e-3)


def test_la_boucle_de_l_isle(perigueux, perigueux_grid, shared_data):
    """QP024005 by area, calibrated grid estimator and buildings (the Notes' figures)."""
    from qpvgeo.readers import read_qpv, read_qpv_indicators

    bdnb, osm = perigueux
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid rings of the national file, repaired
        qpv = read_qpv(shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp")
    dordogne = qpv[qpv["code_departement"] == "24"]
    q = qpv[qpv["code_qpv"] == "QP024005"]
    grid = perigueux_grid
    area = grid_population(grid, q)["ind"].iloc[0]
    calibrated = grid_population(grid, q, method="calibrated", qpv=dordogne)["ind"].iloc[0]
    b = building_population(grid, bdnb, q)
    o = building_population(grid, osm, q)
    # rounded to the person
    assert [round(v) for v in (area, calibrated, b["ind"].iloc[0], o["ind"].iloc[0])] == [
        896, 1151, 1002, 970]
    # every cell of the QPV has buildings: all of it placed through buildings
    assert b["part_batiments"].iloc[0] == 1.0
    assert b.attrs["methodes"]["volume"] == pytest.approx(0.832, abs=1e-3)
    assert o.attrs["methodes"]["surface"] == pytest.approx(0.832, abs=1e-3)
    # the grid covers only the Périgueux part (2/3 of the QPV): all estimates are below
    # INSEE's population of the whole QPV
    official = read_qpv_indicators(shared_data / "insee_qpv_tables" /
                                   "DEMO_2022.csv").loc["QP024005", "population"]
    assert official == 1474 and max(area, calibrated, b["ind"].iloc[0]) < official


def test_paris11_dwellings_layout(shared_data):
    """The derived Paris 11e file (dwellings per building: a layout test, not an oracle).

    A grid whose cells hold 2 people per dwelling of their buildings is shared back by
    dwellings: every building gets 2 people per dwelling, exactly."""
    b = read_buildings(shared_data / "buildings_paris11" /
                       "paris11_buildings_with_dwellings_L93.gpkg")
    laea = b.to_crs(3035)
    pts = shapely.point_on_surface(np.asarray(laea.geometry.array))
    # cells of 200 m holding the buildings, with people = 2 x the dwellings whose
    # footprint lies in the cell (by area, as the method shares a building across cells)
    x0 = np.floor(shapely.get_x(pts) / 200).min() * 200 - 400
    y0 = np.floor(shapely.get_y(pts) / 200).min() * 200 - 400
    nx, ny = 30, 30
    xs, ys = np.meshgrid(x0 + 200 * np.arange(nx), y0 + 200 * np.arange(ny))
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 200, ys.ravel() + 200)
    bi, ci = shapely.STRtree(cells).query(np.asarray(laea.geometry.array),
                                          predicate="intersects")
    share = shapely.area(shapely.intersection(np.asarray(laea.geometry.array)[bi], cells[ci]))
    share = share / laea.area.to_numpy()[bi]
    ind = np.bincount(ci, weights=2 * b["nb_logements"].to_numpy(dtype=float)[bi] * share,
                      minlength=len(cells))
    grid = pd.DataFrame({"x_laea": xs.ravel(), "y_laea": ys.ravel(), "ind": ind})
    grid = grid[grid["ind"] > 0].reset_index(drop=True)
    per_b = building_population(grid, b)
    # every populated cell holds buildings whose dwellings are all known
    assert per_b.attrs["methodes"]["logements"] == pytest.approx(1.0)
    assert per_b["ind"].sum() == pytest.approx(2 * 98025, rel=1e-9)
    housed = per_b["nb_logements"] > 0
    np.testing.assert_allclose(per_b.loc[housed, "ind"], 2 * per_b.loc[housed, "nb_logements"],
                               rtol=1e-6)
