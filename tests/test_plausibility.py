"""Impossible values are refused by the readers, on corrupted copies of the real files.

Each test copies a real file of ``../shared/data`` into ``tmp_path`` (the originals are
never modified), breaks it as a wrong export or a slip would, and checks that the
reader raises an error naming the file, the column and the first offending rows.
"""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

from qpvgeo import readers, schema
from qpvgeo.cli import main
from qpvgeo.errors import DataFormatError, QpvgeoWarning

POP = "insee_population_communes/populations_legales_2023_communes_cog2025.csv"
QPV_HDF = "qpv2024_contours_simplified/qpv2024_hdf_simplified.geojson"


def _copy(shared_data, rel, tmp_path):
    dest = tmp_path / rel.split("/")[-1]
    shutil.copyfile(shared_data / rel, dest)
    return dest


def _replace_line(path, code, old, new, *, encoding="utf-8"):
    lines = path.read_text(encoding=encoding).splitlines(keepends=True)
    for i, line in enumerate(lines):
        if f";{code};" in line:
            assert old in line
            lines[i] = line.replace(old, new, 1)
            break
    else:
        raise AssertionError(code)
    path.write_text("".join(lines), encoding=encoding)


def _hdf_qpv(shared_data, *, to_l93=True):
    qpv = gpd.read_file(shared_data / QPV_HDF).drop(columns="fid", errors="ignore")
    return qpv.to_crs(2154) if to_l93 else qpv


def _lille_line(path):
    return next(x for x in path.read_text().splitlines() if ";59350;" in x)


@pytest.mark.parametrize("value, match", [
    ("-236710", r"1 negative value\(s\) \(rows 59350: -236710"),
    ("236710000", r"above 3,000,000, the plausible maximum .*59350: 236710000"),
    ("2367I0", r"not numbers \(rows 59350: '2367I0'\)"),
])
def test_impossible_commune_populations_are_refused(shared_data, tmp_path, value, match):
    path = _copy(shared_data, POP, tmp_path)
    pmun = _lille_line(path).split(";")[8]  # REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN
    _replace_line(path, "59350", f";{pmun};", f";{value};")
    with pytest.raises(DataFormatError, match=match) as info:
        readers.read_commune_population(path)
    assert str(path) in str(info.value) and "'PMUN'" in str(info.value)


def test_an_empty_commune_population_is_na_with_a_warning(shared_data, tmp_path):
    path = _copy(shared_data, POP, tmp_path)
    pmun = _lille_line(path).split(";")[8]
    _replace_line(path, "59350", f";{pmun};", ";;")
    with pytest.warns(QpvgeoWarning, match=r"1 commune\(s\) without a population .*59350"):
        pop = readers.read_commune_population(path)
    assert pop.set_index("code_commune")["population"].isna().sum() == 1


def test_negative_or_absurd_qpv_populations_are_refused(shared_data, tmp_path):
    path = _copy(shared_data, "qpv2015_occitanie_hackaviz/qp.csv", tmp_path)
    text = path.read_text(encoding="utf-8-sig")
    bad = text.replace("QP009001,Coeur De Ville,Saint-Girons,1177,",
                       "QP009001,Coeur De Ville,Saint-Girons,-1177,", 1)
    path.write_text(bad, encoding="utf-8-sig")
    with pytest.raises(DataFormatError, match=r"'pop_mun' has 1 negative .*QP009001: -1177"):
        readers.read_qpv_indicators(path)
    path.write_text(text.replace("QP009001,Coeur De Ville,Saint-Girons,1177,",
                                 "QP009001,Coeur De Ville,Saint-Girons,1177000,", 1),
                    encoding="utf-8-sig")
    with pytest.raises(DataFormatError, match=r"above 300,000.*QP009001: 1177000"):
        readers.read_qpv_indicators(path)


def test_the_real_files_pass_the_bounds(shared_data):
    # The bounds are far beyond the real maxima (schema.py says where they come from).
    ind = readers.read_qpv_indicators(shared_data / "qpv2024_indicators_sigville/analyse_qpv.csv")
    assert 100_000 < ind["population"].max() < schema.MAX_QPV_POPULATION
    qpv = readers.read_qpv(shared_data / "qpv2024_contours_simplified/qpv2024_simplified.geojson")
    assert 40 < qpv.area.max() / 1e6 < schema.MAX_QPV_AREA_KM2


def test_points_given_as_qpv_contours_are_refused(shared_data, tmp_path):
    qpv = gpd.read_file(shared_data / QPV_HDF)
    points = qpv.assign(geometry=qpv.geometry.representative_point())
    points.to_file(tmp_path / "points.geojson")
    with pytest.raises(DataFormatError, match=r"204 geometry\(ies\) are Point, not polygons "
                                              r"\(rows QN0"):
        readers.read_qpv(tmp_path / "points.geojson")


def test_lon_lat_coordinates_in_a_file_declared_lambert93_are_refused(shared_data, tmp_path):
    qpv = _hdf_qpv(shared_data, to_l93=False)  # EPSG:4326
    qpv.set_crs(2154, allow_override=True).to_file(tmp_path / "faux_l93.gpkg")
    with pytest.raises(DataFormatError, match="outside the area of use of EPSG:2154.*"
                                              "look like longitude/latitude"):
        readers.read_qpv(tmp_path / "faux_l93.gpkg")


def test_a_qpv_the_size_of_france_is_refused(shared_data, tmp_path):
    qpv = _hdf_qpv(shared_data)
    qpv.loc[0, "geometry"] = box(100_000, 6_100_000, 1_200_000, 7_100_000)
    qpv.to_file(tmp_path / "grand.gpkg")
    code = qpv.iloc[0, 0] if str(qpv.iloc[0, 0]).startswith("QN") else None
    with pytest.raises(DataFormatError, match=r"1 QPV cover more than 100 km².*1,100,000 km²"
                       ) as info:
        readers.read_qpv(tmp_path / "grand.gpkg")
    if code:
        assert code in str(info.value)


def test_nan_coordinates_in_a_geopackage_are_a_one_line_cli_error(shared_data, tmp_path):
    qpv = _hdf_qpv(shared_data)
    ring = np.asarray(shapely.get_coordinates(qpv.geometry.iloc[3]))
    ring[1] = [np.nan, np.nan]
    qpv.loc[3, "geometry"] = shapely.polygons(ring)
    qpv.to_file(tmp_path / "nan.gpkg")
    with pytest.raises(DataFormatError, match=r"non-finite \(NaN or infinite\) coordinates in 1"):
        readers.read_qpv(tmp_path / "nan.gpkg")
    d = shared_data
    result = CliRunner().invoke(main, [
        "shares", "--qpv", str(tmp_path / "nan.gpkg"),
        "--indicators", str(d / "qpv2024_indicators_sigville/analyse_qpv.csv"),
        "--population", str(d / POP)])
    assert result.exit_code == 1
    errors = [x for x in result.output.splitlines() if x.startswith("qpvgeo: error:")]
    assert len(errors) == 1 and "non-finite" in errors[0] and "Traceback" not in result.output


def test_a_commune_layer_of_lines_is_refused(shared_data, tmp_path):
    com = gpd.read_file(shared_data / "communes_hdf/communes_hdf_cog2025.gpkg")
    com = com.assign(geometry=com.geometry.boundary)
    com.to_file(tmp_path / "lignes.gpkg")
    with pytest.raises(DataFormatError, match="not polygons"):
        readers.read_communes(tmp_path / "lignes.gpkg")
