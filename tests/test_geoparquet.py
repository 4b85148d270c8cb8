"""GeoParquet (qpvgeo.geoparquet): atomic writer, reader, and every vector reader."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from conftest import importorskip_or_fail
from shapely.geometry import Point, box

from qpvgeo.errors import DataFormatError, MissingCRSError, QpvgeoError
from qpvgeo.geoparquet import read_geoparquet, to_geoparquet
from qpvgeo.readers import read_communes, read_qpv, read_qpv_communes
from qpvgeo.readers.buildings import read_buildings

pq = importorskip_or_fail("pyarrow.parquet", reason="GeoParquet needs pyarrow")


def _qpv():
    return gpd.GeoDataFrame(
        {"code_qp": ["QN05901M", "QN05902M"], "lib_qp": ["Secteur Sud", "Nord"],
         "insee_com": ["59350", "59220, 59350"]},
        geometry=[box(700000, 7050000, 700500, 7050400), box(701000, 7050000, 701400, 7050300)],
        crs=2154,
    )


def test_round_trip_metadata_and_bbox(tmp_path):
    f = tmp_path / "out" / "qpv.parquet"
    g = _qpv()
    assert to_geoparquet(g, f) == f
    meta = pq.read_schema(f).metadata
    geo = json.loads(meta[b"geo"])
    # GeoParquet 1.1 with a bbox covering column and the CRS as PROJJSON (EPSG:2154)
    assert geo["version"] == "1.1.0"
    assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert geo["columns"]["geometry"]["crs"]["id"] == {"authority": "EPSG", "code": 2154}
    assert b"qpvgeo" in meta
    back = read_geoparquet(f)
    assert back.crs.to_epsg() == 2154
    assert back.equals(g)  # geopandas leaves the bbox covering column out
    assert read_geoparquet(f, columns=["code_qp"]).columns.tolist() == ["code_qp", "geometry"]
    # a plain table (diagnose's tables) and a non-default index
    t = pd.DataFrame({"code_qpv": ["QN05901M"], "population": [1200]}, index=[7])
    to_geoparquet(t, tmp_path / "t.parquet")
    assert read_geoparquet(tmp_path / "t.parquet").equals(t)


def test_never_overwrites_foreign_files_nor_writes_without_crs(tmp_path):
    foreign = tmp_path / "theirs.parquet"
    _qpv().to_parquet(foreign)  # written by geopandas, not by qpvgeo
    before = foreign.read_bytes()
    with pytest.raises(QpvgeoError, match="not written by qpvgeo"):
        to_geoparquet(_qpv(), foreign)
    assert foreign.read_bytes() == before
    notes = tmp_path / "notes.parquet"
    notes.write_text("not parquet")
    with pytest.raises(QpvgeoError, match="refusing"):
        to_geoparquet(_qpv(), notes)
    with pytest.raises(MissingCRSError, match="no CRS"):
        to_geoparquet(gpd.GeoDataFrame(geometry=[Point(0, 0)]), tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
    # our own file is replaced
    mine = tmp_path / "mine.parquet"
    to_geoparquet(_qpv(), mine)
    to_geoparquet(_qpv().iloc[:1], mine)
    assert len(read_geoparquet(mine)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mine.parquet", "notes.parquet", "theirs.parquet"]  # no temporary file left
    with pytest.raises(DataFormatError, match="cannot be read as Parquet"):
        read_geoparquet(notes)
    with pytest.raises(DataFormatError, match="no such file"):
        read_geoparquet(tmp_path / "absent.parquet")


def test_readers_accept_geoparquet(tmp_path):
    # any GeoParquet (here geopandas' own, in WGS84) goes through the usual readers
    f = tmp_path / "qpv.parquet"
    _qpv().to_crs(4326).to_parquet(f)
    q = read_qpv(f)
    assert q.crs.to_epsg() == 2154 and q["code_qpv"].tolist() == ["QN05901M", "QN05902M"]
    assert q.area.round(0).tolist() == [200000.0, 120000.0]
    m = read_qpv_communes(f)
    assert m[["code_qpv", "code_commune"]].values.tolist() == [
        ["QN05901M", "59350"], ["QN05902M", "59220"], ["QN05902M", "59350"]]
    com = gpd.GeoDataFrame({"code": ["59350"], "nom": ["Lille"]},
                           geometry=[box(699000, 7049000, 702000, 7051000)], crs=2154)
    com.to_parquet(tmp_path / "communes.geoparquet")
    assert read_communes(tmp_path / "communes.geoparquet")["code_commune"].tolist() == ["59350"]
    b = gpd.GeoDataFrame({"cleabs": ["BATIMENT1"], "nombre_de_logements": [4]},
                         geometry=[box(700000, 7050000, 700010, 7050010)], crs=2154)
    to_geoparquet(b, tmp_path / "batiment.parquet")
    assert read_buildings(tmp_path / "batiment.parquet")["nb_logements"].tolist() == [4.0]
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataFormatError, match="without GeoParquet geometry"):
        read_qpv(tmp_path / "plain.parquet")


def test_real_layer_round_trip(shared_data, tmp_path):
    src = shared_data / "qpv2015_contours_anct" / "qpv2015_hdf_wgs84.geojson"
    with pytest.warns(Warning):
        q = read_qpv(src)
    to_geoparquet(q, tmp_path / "qpv2015_hdf.parquet")
    back = read_qpv(tmp_path / "qpv2015_hdf.parquet")  # repaired once: no warning now
    assert len(back) == 199  # the 199 HdF QPV of 2015
    assert back.area.sum() == pytest.approx(q.area.sum(), rel=1e-9)
