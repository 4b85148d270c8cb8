"""Point tables: every publisher layout read, every row kept, bad rows flagged."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from qpvgeo.errors import MissingCRSError, SchemaError
from qpvgeo.readers.points import point_positions, points_from_table, read_points, zone_of

DPE = "energy_heat_networks/dpe03existant_sample1000_france_jajanimation.csv"
DPE_HDF = "energy_heat_networks/dpe03existant_sample_hdf91.csv"
SCHOOLS = "education_academie_lille/academie_lille_colleges_lycees_rep_2021.geojson"


def test_dpe_layout_real_file(shared_data):
    table = read_points(shared_data / DPE)
    # SOURCE.md: 1,000 rows, 225 columns; the BOM inside the first quoted header is removed.
    assert table.shape == (1000, 225)
    assert table.columns[0] == "numero_dpe"
    pos = point_positions(table)
    assert pos.attrs["coordonnees"] == {"x": "coordonnee_cartographique_x_ban",
                                        "y": "coordonnee_cartographique_y_ban",
                                        "crs": "EPSG:2154"}
    counts = pos["statut_coordonnees"].value_counts().to_dict()
    # 65 records carry ADEME's 0/0 placeholder (not geocoded): absent, not "outside France".
    assert counts == {"ok": 935, "absentes": 65}
    # Every placed DPE lies in the département its BAN code says (a CRS mix-up would not).
    ok = pos["statut_coordonnees"] == "ok"
    assert set(pos.loc[ok, "zone"]) == {"metropole"}
    nord = ok & (table["code_departement_ban"] == "59")
    lon, lat = pos.loc[nord, "longitude"], pos.loc[nord, "latitude"]
    assert lon.between(2.0, 4.3).all() and lat.between(50.0, 51.1).all()


def test_dpe_text_cells_kept_as_written(shared_data):
    table = read_points(shared_data / DPE_HDF)
    assert len(table) == 91
    # Codes keep their leading zeros (Aisne is 02), because cells stay text.
    assert "02" in set(table["code_departement_ban"])


def test_schools_geojson_uses_geometry(shared_data):
    schools = read_points(shared_data / SCHOOLS)
    assert isinstance(schools, gpd.GeoDataFrame) and len(schools) == 637
    pos = point_positions(schools)
    assert (pos["statut_coordonnees"] == "ok").all()
    # The geometry and the Latitude/Longitude columns agree to 1e-5 degree (~1 m): the
    # columns are rounded to 5 decimals in the file.
    assert np.allclose(pos["longitude"], schools["Longitude"], atol=1e-5)
    assert np.allclose(pos["latitude"], schools["Latitude"], atol=1e-5)


def test_sirene_per_row_epsg_and_wgs84_preference():
    # SIRENE géolocalisé: x/y in a per-row EPSG (2154 mainland, 2975 Réunion) and WGS84.
    t = pd.DataFrame({
        "siret": ["1", "2"],
        "x": ["704000", "338000"], "y": ["7059000", "7686000"], "epsg": ["2154", "2975"],
    })
    pos = point_positions(t)
    assert pos.attrs["coordonnees"]["crs"] == "per row (epsg)"
    assert pos["zone"].tolist() == ["metropole", "reunion"]
    # With x_longitude / y_latitude present, those are used (one CRS for every row).
    t2 = t.assign(x_longitude=["3.0", "55.45"], y_latitude=["50.6", "-20.88"])
    assert point_positions(t2).attrs["coordonnees"]["x"] == "x_longitude"


def test_education_nationale_layout_with_epsg_text():
    t = pd.DataFrame({"numero_uai": ["0590001F"], "coordonnee_x": ["704000,0"],
                      "coordonnee_y": ["7059000,0"], "EPSG": ["EPSG:2154"]})
    pos = point_positions(t)
    assert pos["statut_coordonnees"].tolist() == ["ok"]
    assert pos["longitude"].iloc[0] == pytest.approx(3.06, abs=0.02)


def test_bad_rows_are_flagged_not_dropped():
    t = pd.DataFrame({"id": list("abcdef"),
                      "longitude": ["3.06", "", "abc", "-40", "3,07", "0"],
                      "latitude": ["50.63", "50.6", "50.6", "10", "50,62", "0"]})
    p = points_from_table(t)
    assert len(p) == 6 and p["id"].tolist() == list("abcdef")
    assert p["statut_coordonnees"].tolist() == ["ok", "absentes", "illisibles", "hors_france",
                                                "ok", "absentes"]
    assert p.geometry.is_empty.tolist() == [False, True, True, True, False, True]


def test_unknown_layout_needs_columns_and_crs():
    t = pd.DataFrame({"est": ["704000"], "nord": ["7059000"]})
    with pytest.raises(SchemaError, match="no coordinate columns"):
        point_positions(t)
    with pytest.raises(MissingCRSError, match="crs="):
        point_positions(t, x="est", y="nord")
    pos = point_positions(t, x="est", y="nord", crs="EPSG:2154")
    assert pos["zone"].tolist() == ["metropole"]


def test_geodataframe_non_points_and_missing():
    g = gpd.GeoDataFrame({"n": [1, 2, 3]},
                         geometry=[Point(704000, 7059000), None, box(0, 0, 1, 1)], crs=2154)
    assert point_positions(g)["statut_coordonnees"].tolist() == ["ok", "absentes", "illisibles"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MissingCRSError):
            point_positions(gpd.GeoDataFrame(geometry=[Point(0, 0)]))


def test_zone_boxes():
    lon = np.array([2.35, 9.45, -61.55, -52.33, 45.2, -149.57, 0.0])
    lat = np.array([48.86, 42.70, 16.25, 4.93, -12.78, -17.53, 0.0])
    assert zone_of(lon, lat).tolist() == ["metropole", "metropole", "antilles", "guyane",
                                          "mayotte", "polynesie", ""]


def test_schools_table_without_geometry_uses_lat_lon_columns(shared_data):
    # The Éducation nationale columns "Latitude"/"Longitude" (any case) as a plain table.
    schools = read_points(shared_data / SCHOOLS)
    table = pd.DataFrame(schools.drop(columns="geometry"))
    pos = point_positions(table)
    assert pos.attrs["coordonnees"]["x"] == "Longitude"
    assert (pos["statut_coordonnees"] == "ok").all()
    assert np.allclose(pos["longitude"], schools.geometry.x, atol=1e-5)
