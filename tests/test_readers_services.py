"""Readers of facilities: Éducation nationale, SNCF, GTFS (real files), INSEE BPE (its layout)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from qpvgeo.errors import DataFormatError, QpvgeoWarning, SchemaError
from qpvgeo.readers import (
    read_bpe,
    read_education_establishments,
    read_gtfs_stops,
    read_stations,
)
from qpvgeo.readers.services import FACILITY_COLUMNS

EDU = "education_academie_lille/academie_lille_colleges_lycees_rep_2021.geojson"


@pytest.fixture(scope="module")
def schools(shared_data):
    return read_education_establishments(shared_data / EDU)


def test_education_establishments_of_the_academie_de_lille(schools):
    # SOURCE.md: 637 establishments, REP+ 41, REP 78, NON 518; Nature COLLEGE 327.
    assert len(schools) == 637
    assert list(schools.columns) == [*FACILITY_COLUMNS, "geometry"]
    assert schools.crs.to_epsg() == 2154
    assert schools["education_prioritaire"].value_counts().to_dict() == {
        "hors EP": 518, "REP": 78, "REP+": 41}
    groups = schools["groupe"].value_counts().to_dict()
    assert groups["collège"] == 327 and groups["SEGPA"] == 131
    assert groups["lycée professionnel"] == 76 and groups["lycée polyvalent"] == 30
    # every REP / REP+ establishment of this file is a collège
    ep = schools[schools["education_prioritaire"] != "hors EP"]
    assert set(ep["groupe"]) == {"collège"}
    assert schools.attrs["couverture_departements"] == ["59", "62"]
    assert schools[schools["code_commune"].str[:2] == "59"].shape[0] == 392


def test_an_establishment_lands_where_its_latitude_longitude_say(schools):
    # Théodore Monod, Aniche (0590002G): CP holds the INSEE code 59008 as a float.
    row = schools.set_index("identifiant").loc["0590002G"]
    assert row["code_commune"] == "59008" and row["education_prioritaire"] == "REP"
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(3.24635, 50.33143)
    # the file's Latitude/Longitude are rounded to 5 decimals (< 1 m) of its geometry
    assert abs(row.geometry.x - x) < 1.0 and abs(row.geometry.y - y) < 1.0


def test_education_csv_layout_and_bad_status(tmp_path):
    f = tmp_path / "annuaire.csv"
    f.write_text("Identifiant_de_l_etablissement;Type_etablissement;Nom_etablissement;"
                 "Code_commune;latitude;longitude;Appartenance_Education_Prioritaire\n"
                 "0593456X;Lycée professionnel;LP Test;59350;50.63;3.06;\n", encoding="utf-8")
    r = read_education_establishments(f).iloc[0]
    assert (r["groupe"], r["education_prioritaire"]) == ("lycée professionnel", "hors EP")
    bad = tmp_path / "bad.csv"
    bad.write_text("Code etablissement;Nature;Latitude;Longitude;Classement REP\n"
                   "0590002G;COLLEGE;50.3;3.2;ECLAIR\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="ECLAIR"):
        read_education_establishments(bad)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("Code etablissement;Nature;Latitude;Longitude\n"
                       "0590002G;COLLEGE;7059000;704000\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="Lambert"):
        read_education_establishments(swapped)


def test_sncf_stations_three_layouts_agree(shared_data):
    folder = shared_data / "stations_sncf"
    with pytest.warns(QpvgeoWarning, match="7 point"):
        csv = read_stations(folder / "gares-de-voyageurs.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        geo = read_stations(folder / "gares-de-voyageurs.geojson")
        full = read_stations(folder / "liste-des-gares.geojson")
    # 2,881 stations of which 7 without a position; 347 in the five HdF départements
    assert len(csv) == len(geo) == 2874
    assert csv["code_commune"].str[:2].isin(["02", "59", "60", "62", "80"]).sum() == 347
    # the CSV ("lat, lon" text) and the GeoJSON give the same points (centimetres)
    a = csv.set_index("identifiant").geometry
    b = geo.set_index("identifiant").geometry
    common = a.index.intersection(b.index).unique()
    common = common[~common.duplicated()]
    d = a[~a.index.duplicated()].loc[common].distance(b[~b.index.duplicated()].loc[common])
    assert len(common) > 2800 and float(d.max()) < 0.5
    # liste-des-gares: 3,352 passenger points; its own Lambert-93 columns are an oracle
    assert len(full) == 3352
    raw = json.loads((folder / "liste-des-gares.geojson").read_text(encoding="utf-8"))
    props = pd.DataFrame([f["properties"] for f in raw["features"]])
    props = props[props["voyageurs"] == "O"].reset_index(drop=True)
    dx = np.abs(full.geometry.x.to_numpy() - props["x_l93"].to_numpy(dtype=float))
    dy = np.abs(full.geometry.y.to_numpy() - props["y_l93"].to_numpy(dtype=float))
    assert float(np.nanmax(np.hypot(dx, dy))) < 1.0  # metre: SNCF's own projection


def test_gtfs_stops_lille_metro(shared_data):
    stops = read_gtfs_stops(shared_data / "transport_stops" / "ilevia_lille_metro",
                            communes=("59350",))
    # 186 rows: 62 stations (location_type 1) and 124 platforms
    assert len(stops) == 62 and set(stops["type_equipement"]) == {"station"}
    assert stops.attrs["couverture_departements"] == ["59"]
    platforms = read_gtfs_stops(shared_data / "transport_stops" / "ilevia_lille_metro",
                                stations=False)
    assert len(platforms) == 124


def _bpe(tmp_path, rows: list[str]) -> object:
    f = tmp_path / "bpe.csv"
    f.write_text("AN;DEPCOM;DCIRIS;TYPEQU;LAMBERT_X;LAMBERT_Y;QUALITE_XY;EPSG\n"
                 + "\n".join(rows) + "\n", encoding="utf-8")
    return f


def test_bpe_layout_types_and_quality(tmp_path):
    # A hand-written extract in the BPE layout (no BPE file is held in shared/data).
    f = _bpe(tmp_path, [
        "2023;59350;593500101;C201;704000;7059000;Bonne;2154",
        "2023;59350;593500101;A122;704100;7059100;Acceptable;2154",
        "2023;59350;593500101;C601;704200;7059200;Mauvaise;2154",
        "2023;59350;593500101;D201;704300;7059300;Bonne;2154",   # médecin: out of scope
        "2023;59350;593500101;E107;;;Non géolocalisé;2154",
    ])
    with pytest.warns(QpvgeoWarning, match="dropped 2 facilit"):
        bpe = read_bpe(f)
    assert bpe["groupe"].tolist() == ["collège", "France Travail"]
    assert bpe["qualite_xy"].tolist() == ["bonne", "acceptable"]
    assert bpe.attrs["couverture_departements"] == ["59"]
    assert (bpe.geometry.x.tolist(), bpe.crs.to_epsg()) == ([704000.0, 704100.0], 2154)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        assert len(read_bpe(f, qualities=("bonne", "acceptable", "mauvaise"))) == 3


def test_bpe_refuses_mixed_crs_and_missing_columns(tmp_path):
    f = _bpe(tmp_path, ["2023;59350;;C201;704000;7059000;Bonne;2154",
                        "2023;97411;;C201;340000;7660000;Bonne;2975"])
    with pytest.raises(DataFormatError, match="mixes CRS"):
        read_bpe(f)
    g = tmp_path / "nocoords.csv"
    g.write_text("AN;DEPCOM;TYPEQU\n2023;59350;C201\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="LAMBERT_X"):
        read_bpe(g)
