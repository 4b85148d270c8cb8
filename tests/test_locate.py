"""locate_qpv: points -> QPV, checked on the real establishments and DPE of Hauts-de-France."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, box

import qpvgeo
from qpvgeo.cli import main
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.locate import locate_qpv

SCHOOLS = "education_academie_lille/academie_lille_colleges_lycees_rep_2021.geojson"
DPE_HDF = "energy_heat_networks/dpe03existant_sample_hdf91.csv"
DPE_FR = "energy_heat_networks/dpe03existant_sample1000_france_jajanimation.csv"
QPV2015_HDF = "qpv2015_contours_anct/qpv2015_hdf_wgs84.geojson"
QPV2024_HDF = "qpv2024_contours_simplified/qpv2024_hdf_simplified.geojson"


@pytest.fixture(scope="module")
def qpv_hdf(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the repaired invalid rings are reported by read_qpv
        return {2015: qpvgeo.read_qpv(shared_data / QPV2015_HDF),
                2024: qpvgeo.read_qpv(shared_data / QPV2024_HDF)}


@pytest.fixture(scope="module")
def schools(shared_data, qpv_hdf):
    raw = qpvgeo.read_points(shared_data / SCHOOLS)
    return raw, locate_qpv(raw, qpv_hdf, max_distance=None)


def test_schools_in_qpv_counts(schools):
    raw, out = schools
    # Every row and column kept, in order; the input's geometry untouched.
    assert len(out) == 637
    assert out["Code etablissement"].tolist() == raw["Code etablissement"].tolist()
    assert out.geometry.equals(raw.geometry)
    by_rep = {g: out.groupby("Classement REP")[f"en_qpv_{g}"].sum().to_dict() for g in (2015, 2024)}
    # Measured here (no published oracle for establishments-in-QPV): 44 of the 637 collèges
    # and lycées stand inside a 2015 QPV, 121 inside a 2024 QPV (the 2024 geography covers
    # 111.7 km² in HdF against 84.6 km², SOURCE.md).
    assert int(out["en_qpv_2015"].sum()) == 44
    assert int(out["en_qpv_2024"].sum()) == 121
    assert by_rep[2015] == {"NON": 28, "REP": 5, "REP+": 11}
    assert by_rep[2024] == {"NON": 74, "REP": 20, "REP+": 27}
    # 43 are in a QPV in both geographies, 1 only in 2015, 78 only in 2024.
    assert int((out["en_qpv_2015"] & out["en_qpv_2024"]).sum()) == 43
    assert int((out["en_qpv_2015"] & ~out["en_qpv_2024"]).sum()) == 1


def test_rep_plus_within_300_m(schools):
    _, out = schools
    rep_plus = out[out["Classement REP"] == "REP+"]
    assert len(rep_plus) == 41  # SOURCE.md: REP+ 41
    near = {g: int((rep_plus[f"en_qpv_{g}"] | (rep_plus[f"distance_bord_qpv_{g}"] <= 300)).sum())
            for g in (2015, 2024)}
    # REP+ networks are drawn around the QPV: 30 of 41 stand in or within 300 m of a 2015
    # QPV, 37 of 41 of a 2024 QPV.
    assert near == {2015: 30, 2024: 37}


def test_boundary_flags(schools):
    _, out = schools
    # Tolerance 5 m (2015, full resolution) and 20 m (2024, simplified layer).
    assert out.attrs["tolerance"] == {2015: 5.0, 2024: 20.0}
    assert int(out["bord_qpv_2015"].sum()) == 8
    assert int(out["bord_qpv_2024"].sum()) == 23
    flagged = out[out["bord_qpv_2024"]]
    assert (flagged["distance_bord_qpv_2024"] <= 20).all()


def test_against_geopandas_and_an_independent_distance(schools, qpv_hdf):
    raw, out = schools
    pts = raw.to_crs(2154)
    for g, layer in qpv_hdf.items():
        joined = gpd.sjoin(pts, layer[["code_qpv", "geometry"]], predicate="within", how="left")
        assert not joined.index.duplicated().any()
        assert joined["code_qpv"].fillna("").tolist() == out[f"code_qpv_{g}"].fillna("").tolist()
        # Distance to the union of every QPV boundary, computed the slow way: the same to
        # the 0.05 m of the decimetre rounding.
        every_edge = shapely.union_all(layer.boundary.to_numpy())
        slow = shapely.distance(np.asarray(pts.geometry.array), every_edge)
        assert np.abs(slow - out[f"distance_bord_qpv_{g}"].to_numpy()).max() <= 0.05 + 1e-9


def test_max_distance_leaves_far_points_unmeasured(schools, qpv_hdf):
    raw, full = schools
    out = locate_qpv(raw, qpv_hdf)  # default max_distance=1000
    for g in (2015, 2024):
        far = full[f"distance_bord_qpv_{g}"] > 1000
        assert out[f"distance_bord_qpv_{g}"].isna().tolist() == far.tolist()
        assert out.loc[far, f"code_qpv_proche_{g}"].isna().all()
        assert out[f"en_qpv_{g}"].tolist() == full[f"en_qpv_{g}"].tolist()
        kept = ~far
        assert np.allclose(out.loc[kept, f"distance_bord_qpv_{g}"],
                           full.loc[kept, f"distance_bord_qpv_{g}"])


def test_dpe_file_bad_rows_kept(shared_data, qpv_hdf):
    with pytest.warns(qpvgeo.QpvgeoWarning, match="65 of 1000 row"):
        out = locate_qpv(shared_data / DPE_FR, qpv_hdf)
    assert len(out) == 1000 and not isinstance(out, gpd.GeoDataFrame)
    absent = out["statut_coordonnees"] == "absentes"
    assert int(absent.sum()) == 65
    # Unknown is NA, never False: a DPE with no position is not "outside every QPV".
    assert out.loc[absent, "en_qpv_2024"].isna().all()
    assert out.loc[~absent, "en_qpv_2024"].notna().all()
    hdf = locate_qpv(shared_data / DPE_HDF, qpv_hdf)
    # The HdF subset (not a random sample, SOURCE.md): 38 DPE in a 2015 QPV, 49 in 2024;
    # the 34 Roubaix records are all in a 2024 QPV.
    assert int(hdf["en_qpv_2015"].sum()) == 38 and int(hdf["en_qpv_2024"].sum()) == 49
    roubaix = hdf[hdf["nom_commune_ban"] == "Roubaix"]
    assert len(roubaix) == 34 and roubaix["en_qpv_2024"].all()


def _square_qpv(code="QN05972M"):
    return gpd.GeoDataFrame({"code_qpv": [code], "nom_qpv": ["Carré"]},
                            geometry=[box(700000, 7050000, 701000, 7051000)], crs=2154)


def test_edge_and_overlap_are_flagged():
    a = _square_qpv("QN05901M")
    b = gpd.GeoDataFrame({"code_qpv": ["QN05902M"], "nom_qpv": ["Voisin"]},
                         geometry=[box(700900, 7050000, 702000, 7051000)], crs=2154)
    qpv = pd.concat([a, b], ignore_index=True)
    pts = gpd.GeoDataFrame({"n": [1, 2, 3, 4]}, crs=2154, geometry=[
        Point(700000, 7050500),  # exactly on an edge: inside, flagged
        Point(700950, 7050500),  # in both polygons (overlap): first code, flagged
        Point(700500, 7050500),  # 400 m from the nearest edge (b's edge at x=700900)
        Point(699000, 7050500),  # outside, 1 km away
    ])
    out = locate_qpv(pts, qpv, tolerance=5)
    assert out["code_qpv_2024"].tolist()[:3] == ["QN05901M", "QN05901M", "QN05901M"]
    assert out["bord_qpv_2024"].tolist() == [True, True, False, False]
    assert out["distance_bord_qpv_2024"].tolist()[2:] == [400.0, 1000.0]
    assert out["code_qpv_proche_2024"].iloc[3] == "QN05901M"
    assert pts.columns.tolist() == ["n", "geometry"]  # the input is not modified


def test_overseas_distance_in_local_metres():
    # A QPV in La Réunion drawn in lon/lat: distances there use UTM 40S, not Lambert-93
    # (whose scale error at 21°S would be enormous).
    qpv = gpd.GeoDataFrame({"code_qpv": ["QN97401M"], "nom_qpv": ["Test"]},
                           geometry=[box(55.45, -20.89, 55.46, -20.88)], crs=4326)
    pt = gpd.GeoDataFrame(geometry=[Point(55.461, -20.885)], crs=4326)
    out = locate_qpv(pt, qpv)
    _, _, metres = pyproj.Geod(ellps="GRS80").inv(55.46, -20.885, 55.461, -20.885)
    # UTM's scale factor is within 0.04 % of 1 there.
    assert out["distance_bord_qpv_2024"].iloc[0] == pytest.approx(metres, rel=1e-3)


def test_tolerance_options_and_errors(qpv_hdf):
    pts = pd.DataFrame({"longitude": [3.06], "latitude": [50.63]})
    out = locate_qpv(pts, qpv_hdf, tolerance={2024: 50})
    assert out.attrs["tolerance"] == {2015: 5.0, 2024: 50.0}
    with pytest.raises(SchemaError, match="tolerance"):
        locate_qpv(pts, qpv_hdf, tolerance=-1)
    with pytest.raises(SchemaError, match="max_distance"):
        locate_qpv(pts, qpv_hdf, max_distance=10)
    with pytest.raises(DataFormatError, match="two layers"):
        locate_qpv(pts, [qpv_hdf[2024], qpv_hdf[2024]])


def test_cli_locate_csv_keeps_rows_and_columns(shared_data, tmp_path):
    src = shared_data / DPE_HDF
    out = tmp_path / "dpe_qpv.csv"
    result = CliRunner().invoke(main, [
        "locate", str(src), "--geography", "both", "--out", str(out),
        "--qpv2015", str(shared_data / QPV2015_HDF), "--qpv2024", str(shared_data / QPV2024_HDF),
    ])
    assert result.exit_code == 0, result.output
    assert "2015: 38 in a QPV" in result.output and "2024: 49 in a QPV" in result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for French Excel
    back = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    original = qpvgeo.read_points(src)
    assert back.shape == (91, 225 + 1 + 12)
    assert back.columns[:225].tolist() == original.columns.tolist()
    assert back.iloc[:, :225].equals(original)  # every input cell as written


def test_cli_locate_geojson_roundtrip(shared_data, tmp_path):
    out = tmp_path / "ecoles.geojson"
    result = CliRunner().invoke(main, [
        "locate", str(shared_data / SCHOOLS), "--out", str(out),
        "--qpv2024", str(shared_data / QPV2024_HDF),
    ])
    assert result.exit_code == 0, result.output
    back = gpd.read_file(out)
    assert len(back) == 637 and int(back["en_qpv_2024"].sum()) == 121
    same = CliRunner().invoke(main, ["locate", str(out), "--out", str(out)])
    assert same.exit_code != 0 and "--out must differ" in same.output


def test_empty_table_and_rerun_on_an_output():
    qpv = _square_qpv()
    empty = pd.DataFrame({"longitude": pd.Series([], dtype=str),
                          "latitude": pd.Series([], dtype=str)})
    out = locate_qpv(empty, qpv)
    assert len(out) == 0 and "en_qpv_2024" in out.columns
    pts = pd.DataFrame({"x": [700500.0], "y": [7050500.0]}, index=["row-a"])
    first = locate_qpv(pts, qpv, crs="EPSG:2154")
    assert first.index.tolist() == ["row-a"] and first["code_qpv_2024"].iloc[0] == "QN05972M"
    with pytest.warns(qpvgeo.QpvgeoWarning, match="already present"):
        again = locate_qpv(first, qpv, crs="EPSG:2154")
    assert again.columns.tolist() == first.columns.tolist()


def test_write_located_gpkg_keeps_crs(tmp_path):
    pts = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(700500, 7050500)], crs=2154)
    out = locate_qpv(pts, _square_qpv())
    target = qpvgeo.write_located(out, tmp_path / "points.gpkg")
    back = gpd.read_file(target)
    assert back.crs.to_epsg() == 2154 and bool(back["en_qpv_2024"].iloc[0])
    with pytest.raises(DataFormatError, match="needs point geometries"):
        qpvgeo.write_located(pd.DataFrame(out.drop(columns="geometry")), tmp_path / "x.gpkg")
    assert not (tmp_path / "x.gpkg").exists()
