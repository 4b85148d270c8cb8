"""Page step of a diagnostic: the index page (HTML) from the computed tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from qpvgeo import __version__, schema
from qpvgeo.diagnostic.analysis import Diagnostic, _page_exposure_columns
from qpvgeo.profile import PROFILE_COLUMNS


def _fmt(value: object, unit: str) -> str:
    from qpvgeo.maps._format import format_number, format_percent

    if unit == "0-1":
        return format_percent(value, 1, fraction=True)
    if unit.startswith("%"):
        return format_percent(value, 1)
    if unit in {"ratio", "score"}:
        return format_number(value, 2)
    if unit in {"m", "km²", "ha"} or unit.startswith("µg"):
        return format_number(value, 1)
    if isinstance(value, float | np.floating) and not float(value).is_integer() and not unit:
        return format_number(value, 2)
    if isinstance(value, str):
        return value
    return format_number(value, 0)



def _short_label(label: str) -> str:
    """A column header: long explanations (parentheses over 30 characters, clauses after
    ``;``) stay in the tooltip; short qualifiers such as ``(scénario moyen)`` stay."""
    label = re.sub(r" \([^()]{31,}\)", "", label)
    return label.split("; ", 1)[0]


def _html_table(
    frame: pd.DataFrame, columns: dict[str, tuple[str, str, str]], *, table_id: str,
    title: str, intro: str = "", unavailable: str = "", notes: Sequence[str] = (),
) -> dict:
    headers, rows = [], []
    for col in frame.columns:
        label, unit, src = columns.get(col, (col, "", ""))
        short = _short_label(label)
        headers.append({"label": short, "unit": "" if unit in {"", "0-1"} else unit,
                        "title": f"{label} — {col} — {src}" if src else f"{label} — {col}"})
    for _, row in frame.iterrows():
        cells = []
        for col in frame.columns:
            unit = columns.get(col, ("", "", ""))[1]
            value = row[col]
            numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                value, bool
            )
            text = _fmt(value, unit) if numeric or pd.isna(value) else str(value)
            cells.append({"text": text, "num": numeric})
        rows.append(cells)
    return {"id": table_id, "title": title, "intro": intro, "headers": headers, "rows": rows,
            "unavailable": unavailable, "notes": list(notes)}



def _sources_line(diag: Diagnostic) -> str:
    if diag.synthetic:
        return diag.synthetic
    return f"ANCT (QPV {diag.millesime}), Insee ; traitement qpvgeo {__version__}"


def _source_text(record: dict) -> str:
    name = record.get("role") or record.get("source") or ""
    where = record.get("url") or record.get("path") or record.get("publisher") or ""
    sha = record.get("sha256")
    text = f"{name} : {Path(where).name if record.get('origin') == 'local' else where}"
    if record.get("millesime"):
        text += f" – {record['millesime']}"
    if record.get("title"):
        text = f"{name} : {record['title']} ({where})"
    return text + (f" (sha256 {sha[:12]}…)" if sha else "")


def _key_cards(diag: Diagnostic) -> tuple[list[dict], list[str]]:
    k = diag.key_figures
    from qpvgeo.maps._format import format_number, format_percent

    cards = [
        {"value": format_number(k["n_qpv"]), "label": "quartiers prioritaires"},
        {"value": format_number(k["population_qpv"]), "label": "habitants en QPV"},
    ]
    notes = []
    if "part_qpv" in k:
        cards.append({"value": format_percent(k["part_qpv"], 1, fraction=True),
                      "label": "de la population du territoire vit en QPV"})
    else:
        pop = diag.sections.get("population")
        notes.append("Part de la population du territoire en QPV indisponible : population "
                     f"par commune {pop.status if pop else 'non calculée'}.")
    cards += [
        {"value": format_number(k["population_territoire"]),
         "label": "habitants dans le territoire (populations légales)"},
        {"value": f"{format_number(k['n_communes_qpv'])} / {format_number(k['n_communes'])}",
         "label": "communes ayant au moins un QPV"},
    ]
    if abs(k.get("population_qpv_territoire", k["population_qpv"]) - k["population_qpv"]) >= 0.5:
        notes.append(
            f"Des QPV débordent du territoire : {format_number(k['population_qpv_territoire'])}"
            " de leurs habitants y résident (partage au prorata de la surface par commune)."
        )
    if k["n_qpv_sans_population"]:
        notes.append(f"{format_number(k['n_qpv_sans_population'])} QPV sans population "
                     "dans les tableaux Insee (secret statistique ou absence).")
    return cards, notes


def _render_index(diag: Diagnostic, *, figures: list[dict], map_links: list[dict],
                  maps_notes: list[str], files: list[dict], created: str) -> str:
    import jinja2

    template_text = (
        resources.files("qpvgeo") / "report_templates" / "index.html.j2"
    ).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(template_text)
    qpv = pd.DataFrame(diag.qpv_table.drop(columns="geometry"))
    cols = diag.columns
    base = [schema.CODE_QPV, schema.NOM_QPV, "communes", schema.POPULATION,
            "population_dans_territoire", schema.PART_QPV]
    base = [c for c in base if c in qpv]
    profile_cols = [c for c in qpv.columns if c in PROFILE_COLUMNS and c not in base]
    exposure_cols = _page_exposure_columns(
        [c for c in qpv.columns if c not in base and c not in profile_cols]
    )
    ident = [schema.CODE_QPV, schema.NOM_QPV]
    tables = [
        _html_table(qpv[base], cols, table_id="tableau-qpv",
                    title=f"Les {len(qpv)} QPV du territoire",
                    intro="Population municipale de chaque QPV (Insee) et part de la "
                          "population du territoire qu'elle représente."),
    ]
    prof = diag.sections.get("profil")
    tables.append(_html_table(
        qpv[ident + profile_cols], cols, table_id="tableau-profil",
        title="Profil socio-économique",
        intro="Indicateurs Insee par QPV ; « environs » : anneau de 500 m autour du QPV, "
              "les QPV exclus.",
        unavailable="" if prof is None or prof.ok else prof.status,
        notes=[s.status for name, s in diag.sections.items()
               if name == "profil_environs" and not s.ok],
    ))
    expo = diag.sections.get("exposition")
    tables.append(_html_table(
        qpv[ident + exposure_cols], cols, table_id="tableau-exposition",
        title="Exposition environnementale (QPV et environs)",
        intro="Chaque indicateur est donné pour le QPV, pour ses environs (anneau de 500 m) "
              "et en rapport QPV / environs (> 1 : le QPV est plus exposé).",
        unavailable="" if expo is not None and expo.ok else (expo.status if expo else ""),
        notes=[*_ratio_summary(qpv, exposure_cols, cols), *diag.missing.values()],
    ))
    if len(diag.communes_table):
        ct = diag.communes_table
        ccols = {schema.CODE_COMMUNE: ("Code commune", "", ""),
                 schema.NOM_COMMUNE: ("Commune", "", ""),
                 schema.POPULATION: ("Population", "habitants", "populations légales"),
                 schema.POPULATION_QPV: ("Population en QPV", "habitants", "Insee"),
                 schema.PART_QPV: ("Part en QPV", "0-1", ""),
                 schema.N_QPV: ("Nombre de QPV", "", "")}
        shown = [c for c in ccols if c in ct]
        tables.append(_html_table(ct[shown], ccols, table_id="tableau-communes",
                                  title="Communes du territoire ayant un QPV"))
    else:
        pop = diag.sections.get("population")
        tables.append({"id": "tableau-communes", "title": "Communes du territoire ayant un QPV",
                       "intro": "", "headers": [], "rows": [], "notes": [],
                       "unavailable": pop.status if pop else "aucune commune"})
    cards, key_notes = _key_cards(diag)
    sel = diag.selection
    return template.render(
        version=__version__, name=sel.name, territory=str(sel.territory),
        millesime=diag.millesime, created=created, synthetic=diag.synthetic,
        key_figures=cards, key_notes=key_notes, tables=tables, figures=figures,
        map_links=map_links, maps_notes=maps_notes,
        sections=list(diag.sections.values()),
        sources=[_source_text(r) for r in diag.sources], files=files,
    )


def _ratio_summary(
    qpv: pd.DataFrame, shown: Sequence[str], columns: dict[str, tuple[str, str, str]]
) -> list[str]:
    """One line per ratio shown: how many QPV are more exposed than their surroundings."""
    lines = []
    for col in shown:
        if not col.endswith("_ratio"):
            continue
        values = pd.to_numeric(qpv[col], errors="coerce").dropna()
        if not len(values):
            continue
        label = _short_label(columns.get(col, (col, "", ""))[0])
        label = re.sub(r"^rapport zone / environs de : ", "", label)
        lines.append(f"{label} : {int((values > 1).sum())} QPV sur {len(values)} au-dessus "
                     "de leurs environs (rapport QPV / environs > 1).")
    return lines


