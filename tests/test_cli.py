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
    (tmp_path / "x.geojson").write_text("{}")
    result = CliRunner().invoke(main, ["shares", "--qpv", str(tmp_path / "x.geojson")])
    assert result.exit_code == 1
    assert "--indicators" in result.output and "--population" in result.output
    assert "Traceback" not in result.output


def test_shares_on_a_missing_file_names_it(tmp_path):
    missing = tmp_path / "absent.geojson"
    result = CliRunner().invoke(main, ["shares", "--qpv", str(missing), "--indicators",
                                       str(missing), "--population", str(missing)])
    assert result.exit_code == 2  # a usage error, found by click before any reading
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


# -- every failure is one line ------------------------------------------------------------


def _one_error_line(output: str) -> str:
    lines = [x for x in output.splitlines() if x.strip()]
    assert "Traceback" not in output
    errors = [x for x in lines if x.startswith("qpvgeo: error: ")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.mark.parametrize("args, expected", [
    (["diagnose", "--demo", "--dpi", "-5"], "Invalid value for '--dpi': -5 is not in the range"),
    (["diagnose", "--demo", "--millesime", "2030"], "Invalid value for '--millesime'"),
    (["shares", "--cog-year", "1800"], "Invalid value for '--cog-year'"),
    (["shares", "--qpv", "/nonexistent/qpv.gpkg"], "/nonexistent/qpv.gpkg: no such file"),
    (["no-such-command"], "No such command 'no-such-command'"),
])
def test_usage_errors_are_one_line_with_exit_code_2(args, expected):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert expected in _one_error_line(result.output)
    assert "--help" in result.output  # says where to look


def test_an_unexpected_exception_is_one_line_and_exit_1(monkeypatch):
    import qpvgeo.pipeline

    def broken(**kwargs):
        raise KeyError("code_region")

    monkeypatch.setattr(qpvgeo.pipeline, "shares_from_files", broken)
    monkeypatch.delenv("QPVGEO_DEBUG", raising=False)
    result = CliRunner().invoke(main, ["shares", "--demo"])
    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert "unexpected KeyError: 'code_region'" in line and "QPVGEO_DEBUG=1" in line
    monkeypatch.setenv("QPVGEO_DEBUG", "1")
    assert isinstance(CliRunner().invoke(main, ["shares", "--demo"]).exception, KeyError)


def test_an_os_error_writing_the_output_is_one_line(tmp_path):
    import subprocess

    locked = tmp_path / "lecture_seule"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        pytest.skip("chattr +i not available")
    try:
        result = CliRunner().invoke(main, ["shares", "--demo", "--out",
                                           str(locked / "parts.csv")])
        assert result.exit_code == 1
        assert "lecture_seule" in _one_error_line(result.output)
        result = CliRunner().invoke(main, ["diagnose", "--demo", "--out",
                                           str(locked / "rapport")])
        assert result.exit_code == 1
        assert "cannot create files in" in _one_error_line(result.output)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


def test_warnings_are_shown_once_and_attributed_to_qpvgeo(monkeypatch):
    import warnings

    import qpvgeo.pipeline
    from qpvgeo.errors import QpvgeoWarning

    real = qpvgeo.pipeline.shares_from_files

    def noisy(**kwargs):
        for _ in range(3):
            warnings.warn("12 QPV placed by commune_principale", QpvgeoWarning, stacklevel=2)
        return real(**kwargs)

    monkeypatch.setattr(qpvgeo.pipeline, "shares_from_files", noisy)
    result = CliRunner().invoke(main, ["shares", "--demo", "--level", "region"])
    assert result.exit_code == 0
    shown = [x for x in result.output.splitlines() if "placed by" in x]
    assert shown == ["qpvgeo: warning: 12 QPV placed by commune_principale"]
    assert "click" not in result.output and "core.py" not in result.output
