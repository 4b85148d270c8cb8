"""The command line: `qpvgeo shares` on the demo and on the real files, and its errors."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from qpvgeo.cli import main


def _read(path):
    return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype={0: str})


def test_shares_demo_writes_an_excel_friendly_csv(tmp_path):
    out = tmp_path / "parts.csv"
    result = CliRunner().invoke(main, ["shares", "--demo", "--level", "commune", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: French Excel reads UTF-8
    table = _read(out).set_index("code_commune")
    # The four demo QPV hold 54,628 people; Les Essais (99004) has none.
    assert table["population_qpv"].sum() == pytest.approx(54_628, abs=1e-6)
    assert table.loc["99004", "n_qpv"] == 0
    assert table.loc["99003", "part_qpv"] == pytest.approx(5_866 / 30_097)
    assert not list(tmp_path.glob(".parts.csv*"))  # no temporary file left behind


def test_shares_demo_by_region_prints_the_share():
    result = CliRunner().invoke(main, ["shares", "--demo", "--level", "region"])
    assert result.exit_code == 0, result.output
    assert "30.8" in result.output  # 54,628 / 177,622 = 30.75 %


def test_shares_without_inputs_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["shares", "--qpv", str(tmp_path / "x.geojson")])
    assert result.exit_code == 1
    assert "--indicators" in result.output and "--population" in result.output
    assert "Traceback" not in result.output


def test_shares_on_a_missing_file_names_it(tmp_path):
    missing = tmp_path / "absent.geojson"
    result = CliRunner().invoke(main, ["shares", "--qpv", str(missing), "--indicators",
                                       str(missing), "--population", str(missing)])
    assert result.exit_code == 1
    assert "absent.geojson" in result.output and "Traceback" not in result.output


def test_shares_hdf_2024_from_the_real_files(shared_data, tmp_path):
    out = tmp_path / "regions.csv"
    d = shared_data
    result = CliRunner().invoke(main, [
        "shares", "--level", "region", "--out", str(out),
        "--qpv", str(d / "qpv2024_contours_simplified/qpv2024_hdf_simplified.geojson"),
        "--indicators", str(d / "qpv2024_indicators_sigville/analyse_qpv.csv"),
        "--membership", str(d / "qpv2024_list_anct/qpv2024_code_commune.csv"),
        "--communes", str(d / "communes_hdf/communes_hdf_cog2025.gpkg"),
        "--population",
        str(d / "insee_population_communes/populations_legales_2023_communes_cog2025.csv"),
    ])
    assert result.exit_code == 0, result.output
    hdf = _read(out).set_index("code_region").loc["32"]
    # SIG Ville: 204 HdF QPV, 753,115 inhabitants (SOURCE.md; INSEE publishes ~753,100);
    # populations légales 2023 (COG 2025): HdF 5,992,194.
    assert hdf["n_qpv"] == 204
    assert hdf["population_qpv"] == pytest.approx(753_115, abs=1e-6)
    assert hdf["population"] == 5_992_194
    assert hdf["part_qpv"] == pytest.approx(753_115 / 5_992_194)
