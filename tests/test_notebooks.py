"""The notebooks run end to end (papermill, kernel python3): on the demo, and 01-03 on the
real files. They are stored without outputs; the executed copies go to tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["00_demarrage", "01_population_qpv", "02_exposition_environnementale",
         "03_diagnostic_territoire", "04_acces_transition"]


def _execute(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    papermill = pytest.importorskip("papermill")
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        pytest.fail("no 'python3' Jupyter kernel: run `python -m ipykernel install --user`")
    out = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(out), kernel_name="python3",
        parameters={"output_dir": str(tmp_path / "processed"), **parameters},
        cwd=str(NOTEBOOKS), progress_bar=False, request_save_on_cell_execute=False,
    )
    return nbformat.read(out, as_version=4)


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _count(book: nbformat.NotebookNode, mime: str) -> int:
    return sum(mime in o.get("data", {}) for c in book.cells for o in c.get("outputs", []))


def _html(book: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("data", {}).get("text/html", "")) for c in book.cells
                     for o in c.get("outputs", []))


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_clean(name):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    # each opens in French with its purpose and its data sources
    intro = book.cells[0].source
    assert book.cells[0].cell_type == "markdown" and "**Objet.**" in intro
    assert "**Données" in intro
    if name != "00_demarrage":
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "data_dir" in params[0].source
    if name == "03_diagnostic_territoire":
        assert {"territory", "millesime"} <= {
            line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line
        }


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_on_the_demo(name, tmp_path):
    book = _execute(name, tmp_path, **({} if name == "00_demarrage" else {"demo": True}))
    text = _text(book)
    if name in {"00_demarrage", "01_population_qpv", "03_diagnostic_territoire"}:
        # figures shown in the notebook itself, tables formatted for people
        assert _count(book, "image/png") >= (2 if name == "00_demarrage" else 1)
        tables = _html(book)
        assert "NaN" not in tables and "<th>Quartier prioritaire</th>" in tables \
            or name == "01_population_qpv"
        assert "\u202f%" in tables  # 30,8 % — not 0.3075
    if name == "00_demarrage":
        assert (tmp_path / "processed" / "diagnostic-demo" / "index.html").is_file()
    if name == "01_population_qpv":
        # the demo region: 54,628 of its 177,622 inhabitants live in a QPV
        assert "Région 99 : 30.8% de sa population en QPV" in text
    if name == "03_diagnostic_territoire":
        prov = json.loads((tmp_path / "processed" / "diagnostic-region-99-2024"
                           / "provenance.json").read_text(encoding="utf-8"))
        assert prov["key_figures"]["population_qpv"] == 54_628


@pytest.mark.slow
def test_population_notebook_on_real_data(shared_data, tmp_path):
    text = _text(_execute("01_population_qpv", tmp_path, data_dir=str(shared_data)))
    # 753,115 of the 5,992,194 inhabitants of Hauts-de-France (populations légales 2023)
    # live in one of its 204 QPV of 2024: 12.6 %, second to Île-de-France (13.7 %:
    # 1,703,219 / 12,463,067, Paris QPV included; see tests/test_population.py).
    assert "Région 32 : 12.6% de sa population en QPV, rang 2 sur 13" in text
    assert "1703219" in text.replace(",", "").replace(" ", "")  # IdF QPV population
    assert (tmp_path / "processed" / "01_part_qpv_communes.png").is_file()


@pytest.mark.slow
def test_exposure_notebook_on_real_data(shared_data, tmp_path):
    text = _text(_execute("02_exposition_environnementale", tmp_path,
                          data_dir=str(shared_data)))
    assert "QPV étudiés ; couches : flood, sites, heat" in text
    assert (tmp_path / "processed" / "02_exposition.png").is_file()


@pytest.mark.slow
def test_diagnostic_notebook_on_real_data(shared_data, tmp_path):
    _execute("03_diagnostic_territoire", tmp_path, data_dir=str(shared_data),
             territory="epci:200093201", millesime=2024)
    folder = tmp_path / "processed" / "diagnostic-epci-200093201-2024"
    prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    assert prov["territory"]["name"] == "Métropole Européenne de Lille"
    assert (folder / "carte_interactive.html").is_file()
    assert (folder / "carte_population.png").is_file()
    # Expected, independently: the SIG Ville rows whose EPCI is the MEL, each QPV once.
    sig = pd.read_csv(shared_data / "qpv2024_indicators_sigville" / "analyse_qpv.csv",
                      dtype={"siren_epci": str})
    mel = sig[sig["siren_epci"] == "200093201"].drop_duplicates("codeQPV")
    assert len(mel) == 26 and mel["popMuniQPV"].sum() == 242_231
    assert prov["key_figures"]["n_qpv"] == 26
    assert prov["key_figures"]["population_qpv"] == 242_231
