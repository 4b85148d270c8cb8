"""Spreadsheet outputs: formula-leading cells are escaped (OWASP CSV injection rule)."""

from __future__ import annotations

import pandas as pd
import pytest

from qpvgeo.tables import escape_formulas, write_csv

HOSTILE = ['=HYPERLINK("http://example.org/x","Clic")', "+33 1 23", "-2+3", "@SUM(A1)",
           "\tTab"]


def _read(path):
    return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype=str,
                       keep_default_na=False)


@pytest.mark.parametrize("cell", HOSTILE)
def test_write_csv_escapes_every_formula_prefix(tmp_path, cell):
    frame = pd.DataFrame({"nom_qpv": [cell, "Bois Blancs"], "population": [-1.5, 2_000.0]},
                         index=pd.Index(["QN05901M", "QN05902M"], name="code_qpv"))
    out = write_csv(frame, tmp_path / "t.csv")
    table = _read(out)
    assert table.loc[0, "nom_qpv"] == "'" + cell
    assert table.loc[1, "nom_qpv"] == "Bois Blancs"
    # Numbers stay numbers: a negative value is not a formula.
    assert table["population"].tolist() == ["-1,5", "2000,0"]
    assert frame.loc["QN05901M", "nom_qpv"] == cell  # the caller's frame is unchanged


def test_plain_csv_for_programs_is_not_escaped(tmp_path):
    frame = pd.DataFrame({"nom": ["=1+1"]})
    out = write_csv(frame, tmp_path / "t.csv", excel=False, index=False)
    assert out.read_text() == "nom\n=1+1\n"


def test_a_carriage_return_prefix_is_escaped():
    assert escape_formulas(pd.DataFrame({"a": ["\rCR"]}))["a"].tolist() == ["'\rCR"]


def test_index_and_column_names_are_escaped_too():
    frame = pd.DataFrame({"=x": ["a"]}, index=pd.Index(["@y"]))
    out = escape_formulas(frame)
    assert list(out.columns) == ["'=x"] and list(out.index) == ["'@y"]


def test_the_diagnose_tables_escape_formulas(tmp_path):
    from qpvgeo.diagnostic._write import _write_csv

    _write_csv(pd.DataFrame({"nom_qpv": ["=cmd|' /C calc'!A0"], "n": [3]}), tmp_path / "q.csv")
    assert _read(tmp_path / "q.csv").loc[0, "nom_qpv"] == "'=cmd|' /C calc'!A0"
