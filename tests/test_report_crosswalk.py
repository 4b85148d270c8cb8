"""The 2015 → 2024 evolution section of `qpvgeo diagnose` (qpvgeo.diagnostic.evolution):
a synthetic 2015 geography over the demo, the demo alone, and Amiens on the real files."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import box

from qpvgeo.crosswalk import crosswalk_summary, qpv_crosswalk
from qpvgeo.diagnostic import build_diagnostic, demo_data, diagnose, write_folder
from qpvgeo.diagnostic._maps import evolution_figure
from qpvgeo.maps.static import furniture_overlaps
from qpvgeo.readers import read_qpv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import _csv, _data_dir

FORMULA = '=HYPERLINK("http://x")'


def _section(page: str) -> str:
    return page.split('<section id="evolution">', 1)[1].split("</section>", 1)[0]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _type_table(section: str) -> dict[str, tuple[int, int]]:
    """Rows of the table by type on the page: label -> (QPV 2015, QPV 2024)."""
    body = section.split('id="tableau-evolution-types"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S):
        cells = [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out[cells[0]] = (int(cells[1]), int(cells[2]))
    return out


# -- a synthetic 2015 geography over the demo ---------------------------------------------


@pytest.fixture(scope="module")
def demo_with_2015():
    """The demo's 2024 QPV and a made-up 2015 geography: QN09901M unchanged, QN09902M
    enlarged from a smaller 2015 QPV, QN09903M and QN09904M new, one 2015 QPV (named like
    a spreadsheet formula) left out."""
    d = demo_data()
    q24 = d.qpv.set_index("code_qpv").geometry
    smaller = shapely.affinity.scale(q24["QN09902M"], 0.8, 0.8)
    q15 = gpd.GeoDataFrame({
        "code_qpv": ["QP099001", "QP099002", "QP099005"],
        "nom_qpv": ["Les Tours du Port", "Quartier de la Gare", FORMULA],
        "millesime": 2015, "code_commune": ["99001", "99001", "99004"],
    }, geometry=[q24["QN09901M"], smaller, box(258000, 6600500, 258500, 6601000)], crs=2154)
    return dataclasses.replace(d, other_qpv=q15)


def test_demo_with_2015_counts_sentence_csv_and_map(demo_with_2015, tmp_path):
    diag = build_diagnostic(demo_with_2015, "region:99")
    assert diag.sections["evolution"].ok, diag.sections["evolution"].status
    types = diag.evolution["qpv"].set_index("code_qpv")["type_evolution"].to_dict()
    assert types == {"QN09901M": "inchange", "QN09902M": "agrandi", "QN09903M": "nouveau",
                     "QN09904M": "nouveau", "QP099001": "inchange", "QP099002": "agrandi",
                     "QP099005": "sorti"}
    out = write_folder(diag, tmp_path / "d", dpi=40, offline_maps=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="#evolution">' in page.split('id="sommaire"', 1)[1].split("</nav>", 1)[0]
    section = _section(page)
    assert ("Sur les 4 QPV 2024 du territoire : 1 inchangé, 1 agrandi, 2 nouveaux. "
            "1 QPV 2015 est sorti de la géographie prioritaire.") in _text(section)
    # the demo carries a population grid: inhabitants kept, added and left, estimated
    figures = diag.evolution["chiffres"]
    assert figures["population_maintenue"] > 0 and figures["population_entree"] > 0
    assert "Estimation carroyée, pas la population officielle" in _text(section)
    assert _type_table(section) == {"Inchangé": (1, 1), "Agrandi": (1, 1),
                                    "Nouveau en 2024": (0, 2),
                                    "Sorti de la géographie prioritaire": (1, 0)}
    assert 'href="evolution_qpv.csv"' in section and 'src="carte_evolution.png"' in section
    # the CSV: one row per QPV of both geographies, through _write_csv (formulas escaped)
    table = _csv(out / "evolution_qpv.csv")
    assert len(table) == 7 and table["code_qpv"].is_unique
    assert table.loc[table["code_qpv"] == "QP099005", "nom_qpv"].item() == "'" + FORMULA
    assert (out / "carte_evolution.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "carte_evolution.pdf").is_file()
    # the fiche says the type in one line; the page links only the fiches that exist
    fiche = (out / "quartiers" / "QN09902M.html").read_text(encoding="utf-8")
    assert "Agrandi (QPV 2015 correspondant : QP099002)" in fiche
    assert 'href="quartiers/QP099001.html"' not in page
    fig = evolution_figure(diag)
    assert furniture_overlaps(fig) == []
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["Inchangé (1)", "Agrandi (1)", "Nouveau en 2024 (2)",
                      "Sorti (QPV 2015 seulement) (1)", "Contours des QPV 2015 (3)"]


def test_demo_alone_says_the_other_geography_is_absent(tmp_path):
    diag = build_diagnostic(demo_data(), "region:99")
    assert diag.evolution is None and not diag.sections["evolution"].ok
    out = write_folder(diag, tmp_path / "d", dpi=40, offline_maps=False)
    section = _text(_section((out / "index.html").read_text(encoding="utf-8")))
    assert "les contours des QPV 2015 ne figurent pas dans les données" in section
    assert "<table" not in section and "QPV 2024 du territoire" not in section
    assert not (out / "evolution_qpv.csv").exists() and not (out / "carte_evolution.png").exists()


# -- the real files ---------------------------------------------------------------------------


@pytest.mark.slow
def test_amiens_2024_evolution_matches_the_crosswalk(shared_data, tmp_path):
    data_dir = _data_dir(tmp_path / "data", shared_data, [
        "qpv2024_contours_simplified", "qpv2024_list_anct", "qpv2024_indicators_sigville",
        "insee_population_communes", "communes_hdf", "qpv2015_contours_anct",
    ])
    out = diagnose("commune:80021", data_dir=data_dir, out=tmp_path / "diag", progress=False,
                   dpi=40, offline_maps=False)
    table = _csv(out / "evolution_qpv.csv")
    # Independently of the diagnostic's selection: the 2015 QPV whose contour names Amiens
    # (raw ANCT shapefile attributes) and the 2024 QPV of the report's QPV table.
    raw15 = pyogrio.read_dataframe(
        shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp", read_geometry=False)
    codes15 = sorted(raw15.loc[raw15["CODE_QP"].str.startswith("QP080")
                               & raw15["COMMUNE_QP"].str.contains("Amiens"), "CODE_QP"])
    codes24 = sorted(_csv(out / "tableau_qpv.csv")["code_qpv"])
    assert len(codes15) == 6 and len(codes24) == 7
    assert sorted(table.loc[table["millesime"] == 2015, "code_qpv"]) == codes15
    assert sorted(table.loc[table["millesime"] == 2024, "code_qpv"]) == codes24
    assert len(table) == 13 and table["code_qpv"].is_unique
    # The page's counts are crosswalk_summary's on the same QPV, run here on the raw layers.
    q15 = read_qpv(shared_data / "qpv2015_contours_anct" / "QP_METROPOLE_LB93.shp")
    q24 = read_qpv(shared_data / "qpv2024_contours_simplified" / "qpv2024_simplified.geojson")
    expected = crosswalk_summary(qpv_crosswalk(q15[q15["code_qpv"].isin(codes15)],
                                               q24[q24["code_qpv"].isin(codes24)]))
    by_type = expected["par_type"]
    shown = by_type[(by_type["qpv_2015"] > 0) | (by_type["qpv_2024"] > 0)]
    section = _section((out / "index.html").read_text(encoding="utf-8"))
    assert _type_table(section) == {
        r.libelle: (r.qpv_2015, r.qpv_2024) for r in shown.itertuples()}
    # what the crosswalk finds on Amiens (simplified 2024 layer, 20 m edge band): Étouvie
    # unchanged, four enlarged, Les Parcheminiers redrawn, Elbeuf-Lescouvé new, none left
    assert dict(zip(shown["type_evolution"], shown["qpv_2024"], strict=True)) == {
        "inchange": 1, "agrandi": 4, "redessine": 1, "nouveau": 1}
    assert expected["chiffres"]["sortis"] == 0
    assert ("Sur les 7 QPV 2024 du territoire : 1 inchangé, 4 agrandis, 1 redessiné (gains "
            "et pertes), 1 nouveau. Aucun des 6 QPV 2015 n’est sorti") in _text(section)
    got = table.set_index("code_qpv")["type_evolution"]
    want = expected["tableau"].set_index("code_qpv")["type_evolution"]
    assert got.sort_index().tolist() == want.reindex(got.sort_index().index).tolist()
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["sections"]["evolution"]["ok"]
    assert prov["millesimes"]["qpv2015"].startswith("QPV 2015")
    assert (out / "carte_evolution.png").is_file()
    assert pd.notna(table["surface_ha"]).all()
