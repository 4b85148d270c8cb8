"""Page step of a diagnostic: the index page and one fiche per QPV (HTML, from the tables
the analysis computed).

The index reads like a statistical publication: a headline generated from the figures
(share, rank, references, the most exposed QPV), key figures each beside its
reference, charts (inline SVG), maps near the top, top-10 tables with the full CSV
linked, and the sources with their publisher and millésime. Every label, unit and
rounding comes from the column catalogue (:attr:`Diagnostic.catalogue`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from qpvgeo import __version__, schema
from qpvgeo.diagnostic import charts
from qpvgeo.diagnostic.analysis import Diagnostic, _page_exposure_columns
from qpvgeo.maps import _format as F
from qpvgeo.territory import DEPARTEMENT_NAMES, territory_label

#: Rows of the tables on the page (the CSV holds them all).
TOP = 10
#: Folder of the QPV fiches inside the diagnose folder.
FICHES_DIR = "quartiers"

_TEMPLATES = "report_templates"


def fiche_href(code: str) -> str:
    """Relative link from the index to the fiche of QPV ``code``.

    Examples
    --------
    >>> fiche_href("QN05901M")
    'quartiers/QN05901M.html'
    """
    return f"{FICHES_DIR}/{code}.html"


@functools.cache
def _env():
    """One Jinja environment per process: it keeps the compiled templates (a fresh one per
    page recompiled both templates for each of a region's 204 fiches: 3 s)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.loader = jinja2.FunctionLoader(
        lambda name: (resources.files("qpvgeo") / _TEMPLATES / name).read_text(encoding="utf-8")
    )
    return env


def _info(diag: Diagnostic, col: str) -> schema.Column | None:
    from qpvgeo.diagnostic.evolution import PAGE_COLUMNS

    return diag.catalogue.get(col) or F.info_of(col) or PAGE_COLUMNS.get(col)


def _fmt(diag: Diagnostic, col: str, value: object) -> str:
    if col == schema.NOM_QPV:
        return F.place_name(value)
    return F.format_column(value, _info(diag, col))


def _header(diag: Diagnostic, col: str) -> dict:
    info = _info(diag, col)
    label = F.typography(info.label) if info else F.label_of(col)
    unit = F.column_unit(info)
    src = info.source if info else ""
    return {"label": _short_label(label), "unit": unit,
            "title": f"{label} — source : {src}" if src else label}


def _short_label(label: str) -> str:
    """A header: long explanations (parentheses over 30 characters, clauses after ``;``)
    stay in the tooltip."""
    label = re.sub(r" \([^()]{31,}\)", "", label)
    return label.split("; ", 1)[0]


def table(
    diag: Diagnostic, frame: pd.DataFrame, *, table_id: str, title: str, intro: str = "",
    link_qpv: bool = False, full: str = "", unavailable: str = "", notes: Sequence[str] = (),
    prefix: str = "",
) -> dict:
    """A table of the page: French-formatted cells, headers from the catalogue."""
    headers = [_header(diag, c) for c in frame.columns]
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for col in frame.columns:
            value = row[col]
            numeric = (isinstance(value, int | float | np.integer | np.floating)
                       and not isinstance(value, bool))
            cell = {"text": _fmt(diag, col, value), "num": numeric, "href": ""}
            if link_qpv and col == schema.NOM_QPV and schema.CODE_QPV in row:
                cell["href"] = prefix + fiche_href(str(row[schema.CODE_QPV]))
            cells.append(cell)
        rows.append(cells)
    return {"id": table_id, "title": title, "intro": intro, "headers": headers, "rows": rows,
            "full": full, "unavailable": unavailable, "notes": list(notes)}


# -- the figures of the headline ------------------------------------------------------------


def _pct(x: float | None, fraction: bool = True) -> str:
    return F.format_percent(x, 1, fraction=fraction)


def headline(diag: Diagnostic) -> list[str]:
    """The chapeau of the page: two to four sentences generated from the figures.

    Examples
    --------
    >>> from qpvgeo.diagnostic import build_diagnostic, demo_data
    >>> text = headline(build_diagnostic(demo_data(), "region:99"))[0]
    >>> "quartiers prioritaires" in text
    True
    """
    k, sel, ref = diag.key_figures, diag.selection, diag.references
    name = sel.name
    n = int(k["n_qpv"])
    inside = k.get("population_qpv_territoire", k["population_qpv"])
    where = {"region": f"En région {name}" if not name.lower().startswith("région")
             else f"Dans la {name[:1].lower() + name[1:]}",
             "departement": f"Dans le département {name}",
             "epci": f"Dans {name}", "commune": f"À {name}"}[sel.territory.level]
    if n == 0:
        return [f"{where}, aucun quartier prioritaire de la géographie {diag.millesime}."]
    quartier = "quartier prioritaire" if n == 1 else "quartiers prioritaires"
    first = (f"{where}, {F.format_number(inside)} habitants vivent dans "
             f"{'le' if n == 1 else 'l’un des'} {F.format_number(n) if n > 1 else ''}"
             f"{' ' if n > 1 else ''}{quartier} de la politique de la ville "
             f"(géographie {diag.millesime})")
    if "part_qpv" in k:
        first += f", soit {_pct(k['part_qpv'])} de la population"
        if ref is not None and ref.france is not None:
            first += f", contre {_pct(ref.france)} en France métropolitaine"
    first += "."
    out = [first]
    if ref is not None and ref.rank is not None and ref.n_peers:
        noun = {"region": "La région", "departement": "Le département",
                "commune": "La commune", "epci": "L’intercommunalité"}[sel.territory.level]
        place = "premier" if ref.rank == 1 else F.rank_text(ref.rank)
        out.append(f"{noun} se classe au {place} rang des {ref.n_peers} {ref.peers} "
                   "pour cette part.")
    if ref is not None and ref.parents:
        parts = " ; ".join(f"{p} : {_pct(v)}" for p, v in ref.parents)
        out.append(f"Part de la population en QPV dans les territoires englobants : {parts}.")
    qpv = diag.qpv_table
    if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any():
        pov = qpv.dropna(subset=["taux_pauvrete"])
        top = pov.loc[pov["taux_pauvrete"].idxmax()]
        out.append(
            f"Le taux de pauvreté médian des QPV du territoire est de "
            f"{F.format_percent(float(pov['taux_pauvrete'].median()), 1)} ; il atteint "
            f"{F.format_percent(float(top['taux_pauvrete']), 1)} à "
            f"{F.place_name(top[schema.NOM_QPV])}."
        )
    most = most_exposed(diag)
    if most is not None:
        out.append(most)
    return [s for s in out if s]


#: Columns of the exposure synthesis (qpvgeo.exposure.burden), most telling first.
BURDEN_SCORE_COLUMNS = ("score_exposition", "n_couches_pire_quintile", "score_cumule")


def burden_column(diag: Diagnostic) -> str | None:
    """The burden index of the synthesis in the QPV table, if the analysis computed it."""
    cols = [c for c in BURDEN_SCORE_COLUMNS if c in diag.qpv_table]
    if diag.burden is not None:
        cols = [c for c in BURDEN_SCORE_COLUMNS if c in diag.burden] + cols
    for c in cols:
        frame = diag.burden if diag.burden is not None and c in diag.burden else diag.qpv_table
        if pd.to_numeric(frame[c], errors="coerce").notna().any():
            return c
    return None


def most_exposed(diag: Diagnostic) -> str | None:
    """The sentence naming the QPV with the heaviest cumulative burden, or None."""
    col = burden_column(diag)
    if col is None:
        return None
    frame = diag.burden if diag.burden is not None and col in diag.burden else diag.qpv_table
    values = pd.to_numeric(frame[col], errors="coerce")
    if frame is diag.burden:
        values.index = frame.index.astype(str)
        names = diag.qpv_table.set_index(schema.CODE_QPV)[schema.NOM_QPV]
    else:
        values.index = diag.qpv_table[schema.CODE_QPV].astype(str)
        names = diag.qpv_table.set_index(schema.CODE_QPV)[schema.NOM_QPV]
    values = values.dropna()
    if not len(values):
        return None
    code = str(values.idxmax())
    info = _info(diag, col)
    label = (info.label if info else col).lower()
    from qpvgeo.exposure.burden import MIN_LAYERS

    if len(values) == 1:
        among = f"seul QPV que couvrent au moins {MIN_LAYERS} couches"
    elif len(values) < len(diag.qpv_table):
        among = f"parmi les {len(values)} QPV que couvrent au moins {MIN_LAYERS} couches"
    else:
        among = f"parmi les {len(values)} QPV"
    return (f"Le quartier le plus exposé au cumul des nuisances mesurées est "
            f"{F.place_name(names.get(code, code))} ({label} : "
            f"{F.format_column(values[code], info)}, {among} du territoire).")


def key_cards(diag: Diagnostic) -> tuple[list[dict], list[str]]:
    """Key figures, each with its reference, and the notes that qualify them."""
    k, ref, sel = diag.key_figures, diag.references, diag.selection
    inside = k.get("population_qpv_territoire", k["population_qpv"])
    cards = [
        {"value": F.format_number(inside), "label": "habitants en QPV dans le territoire",
         "ref": f"sur {F.format_number(k['population_territoire'])} habitants "
                "(populations légales)"},
    ]
    notes = []
    if "part_qpv" in k:
        refs = []
        if ref is not None and ref.france is not None:
            refs.append(f"France métropolitaine : {_pct(ref.france)}")
        if ref is not None:
            refs += [f"{p} : {_pct(v)}" for p, v in ref.parents]
        cards.append({"value": _pct(k["part_qpv"]), "label": "de la population vit en QPV",
                      "ref": " · ".join(refs)})
    else:
        pop = diag.sections.get("population")
        notes.append("Part de la population du territoire en QPV indisponible : population "
                     f"par commune {pop.status if pop else 'non calculée'}.")
    if ref is not None and ref.rank is not None:
        cards.append({"value": F.rank_text(ref.rank), "label": "rang pour cette part",
                      "ref": f"parmi les {ref.n_peers} {ref.peers}"})
    n_com = int(k["n_communes_qpv"])
    cards.append({"value": F.format_number(k["n_qpv"]),
                  "label": "quartier prioritaire" if k["n_qpv"] == 1 else "quartiers prioritaires",
                  "ref": (f"{F.format_number(n_com)} commune{'s' if n_com > 1 else ''} sur "
                          f"{F.format_number(k['n_communes'])} "
                          f"{'en ont' if n_com > 1 else 'en a'} au moins un")})
    qpv = diag.qpv_table
    if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any():
        cards.append({"value": F.format_percent(float(qpv["taux_pauvrete"].median()), 1),
                      "label": "taux de pauvreté médian des QPV",
                      "ref": "seuil de 60 % du niveau de vie médian (Insee, Filosofi)"})
    if abs(inside - k["population_qpv"]) >= 0.5:
        notes.append(
            f"Des QPV débordent du territoire : ils comptent "
            f"{F.format_number(k['population_qpv'])} habitants en tout, dont "
            f"{F.format_number(inside)} dans le territoire (partage au prorata de la surface "
            "de chaque commune)."
        )
    if k["n_qpv_sans_population"]:
        notes.append(f"{F.format_number(k['n_qpv_sans_population'])} QPV sans population "
                     "dans les tableaux Insee (secret statistique ou absence).")
    if ref is not None and ref.note:
        notes.append(F.typography(ref.note[:1].upper() + ref.note[1:]) + ".")
    if ref is not None and ref.france_known is not None and ref.france_known < 0.995:
        notes.append(
            f"La référence métropolitaine compte les QPV dont la population est publiée "
            f"({F.format_percent(ref.france_known, 0, fraction=True)} d’entre eux)."
        )
    del sel
    return cards, notes


# -- charts ----------------------------------------------------------------------------------


def page_charts(diag: Diagnostic) -> list[dict]:
    """The charts of the page: share by sub-territory, poverty × burden (or × employment),
    distribution of the burden index."""
    out = []
    sel, k, ref = diag.selection, diag.key_figures, diag.references
    refs = []
    if "part_qpv" in k:
        refs.append((sel.name, float(k["part_qpv"])))
    if ref is not None and ref.france is not None:
        refs.append(("France métro.", ref.france))
    qpv = diag.qpv_table
    n_deps = qpv[schema.CODE_QPV].astype(str).map(schema.departement_of_qpv).nunique()
    if sel.territory.level == "region" and schema.POPULATION in qpv and n_deps >= 3:
        deps = qpv[schema.CODE_QPV].astype(str).map(schema.departement_of_qpv)
        by_dep = pd.to_numeric(qpv[schema.POPULATION], errors="coerce").groupby(deps).sum()
        pop = sel.commune_population
        if schema.CODE_DEPARTEMENT in pop:
            den = pd.to_numeric(pop[schema.POPULATION]).groupby(
                pop[schema.CODE_DEPARTEMENT].astype(str)).sum()
            t = pd.DataFrame({"nom": [DEPARTEMENT_NAMES.get(d, d) for d in den.index],
                              "part": (by_dep.reindex(den.index).fillna(0) / den).to_numpy()})
            svg = charts.bars_share(t, label="nom", value="part", references=refs,
                                    title="Part de la population en QPV par département")
            if svg:
                out.append({"id": "graphique-parts", "svg": svg,
                            "title": "Part de la population vivant en QPV, par département"})
    elif len(diag.communes_table) and schema.PART_QPV in diag.communes_table:
        svg = charts.bars_share(diag.communes_table, label=schema.NOM_COMMUNE,
                                value=schema.PART_QPV, references=refs,
                                title="Part de la population en QPV par commune")
        if svg:
            out.append({"id": "graphique-parts", "svg": svg,
                        "title": "Part de la population vivant en QPV, par commune "
                                 "(15 premières)"})
    burden = burden_column(diag)
    table_ = diag.qpv_table
    if burden is not None and diag.burden is not None and burden in diag.burden:
        table_ = table_.merge(diag.burden[[burden]], left_on=schema.CODE_QPV,
                              right_index=True, how="left", suffixes=("_x", ""))
    names = table_.assign(_nom=table_[schema.NOM_QPV].map(F.place_name))
    if "taux_pauvrete" in table_:
        other = burden or ("taux_emploi" if "taux_emploi" in table_ else None)
        if other is not None:
            info = _info(diag, other)
            svg = charts.scatter(
                names, x="taux_pauvrete", y=other, size=schema.POPULATION, names="_nom",
                x_label="Taux de pauvreté (%)", y_label=info.label if info else other,
                title="Pauvreté et " + ("cumul des expositions" if burden else "emploi"),
            )
            if svg:
                out.append({"id": "graphique-pauvrete", "svg": svg, "title": (
                    "Taux de pauvreté et cumul des expositions environnementales par QPV"
                    if burden else "Taux de pauvreté et taux d’emploi par QPV")
                    + " (aire des points : population ; pointillés : médianes)"})
    if burden is not None:
        info = _info(diag, burden)
        svg = charts.histogram(names[burden], label=info.label if info else burden,
                               title="Distribution du cumul des expositions")
        if svg:
            out.append({"id": "graphique-cumul", "svg": svg,
                        "title": "Distribution de l’indice de cumul des expositions"})
    return out


# -- exposure, layer by layer ------------------------------------------------------------------


def layer_columns(diag: Diagnostic, name: str) -> list[str]:
    """Columns of the QPV table computed from layer ``name`` (its registry entry's columns,
    else the columns whose catalogue source names it)."""
    from qpvgeo.exposure import LAYERS

    cols = [c for c in diag.qpv_table.columns if c != "geometry"]
    layer = LAYERS[name] if name in list(LAYERS) else None
    if layer is not None and layer.columns:
        return [c for c in cols if any(e.matches(c) for e in layer.columns)
                or any(e.matches(re.sub(r"_(environs|ratio)$", "", c)) for e in layer.columns)]
    return [c for c in cols if (_info(diag, c) is not None
                                and str(_info(diag, c).source).startswith(f"{name} "))]


def _headline_of(layer, columns: Sequence[str]) -> str | None:
    """The column that stands for the layer (its registry ``headline``, best first)."""
    for pattern in getattr(layer, "headline", ()) or ():
        for c in columns:
            if re.fullmatch(pattern, c):
                return c
    return None


def _main_indicator(columns: Sequence[str]) -> str | None:
    core = [c for c in columns if not re.search(r"_(environs|ratio)$", c)
            and not c.startswith(("part_couverte", "part_surface_couverte"))]
    for pattern in (r"^part_population_", r"^(no2|pm25|pm10)$", r"^score_",
                    r"^part_surface_", r"^distance_"):
        hits = [c for c in core if re.match(pattern, c)]
        if hits:
            # the middle scenario / the first threshold: the one a reader expects
            mid = [c for c in hits if "moyen" in c]
            return (mid or hits)[0]
    return None


def exposure_summary(diag: Diagnostic) -> list[dict]:
    """One row per registered layer: what it measures, coverage, the QPV vs surroundings."""
    from qpvgeo.exposure import FAMILIES, LAYERS

    rows = []
    qpv = diag.qpv_table
    n = len(qpv)
    expo = diag.sections.get("exposition")
    failed = expo is not None and not expo.ok and diag.layers
    for name, layer in LAYERS.items():
        cols = layer_columns(diag, name)
        main = _headline_of(layer, cols) or _main_indicator(cols)
        row = {"layer": layer.label, "family": FAMILIES.get(layer.family, layer.family),
               "publisher": layer.publisher, "indicator": "", "qpv": "", "environs": "",
               "above": "", "coverage": "", "status": ""}
        if failed and name in diag.layers:
            row["status"] = "non calculée (voir l’état des sections)"
            rows.append(row)
            continue
        if name not in diag.layers or main is None:
            reason = diag.missing.get(name, "")
            # absent from the data (nothing read) is not the same as read but not
            # reaching the territory ("hors couverture")
            row["status"] = ("hors couverture" if not reason or "aucune donnée" in reason
                             else F.typography(reason[:1].upper() + reason[1:]))
            row["coverage"] = "hors couverture"
            rows.append(row)
            continue
        values = pd.to_numeric(qpv[main], errors="coerce")
        cover_col = next((c for c in (f"part_couverte_{name}",) if c in qpv), None)
        if cover_col is not None:
            covered = pd.to_numeric(qpv[cover_col], errors="coerce").fillna(0) > 0
            values = values.where(covered)
        n_cov = int(values.notna().sum())
        info = _info(diag, main)
        row["indicator"] = F.typography(info.label if info else main)
        row["coverage"] = (f"{F.format_number(n_cov)} QPV sur {F.format_number(n)}"
                           if n_cov < n else "tous les QPV")
        if n_cov == 0:
            row["status"] = "hors couverture"
            rows.append(row)
            continue
        row["qpv"] = F.format_column(float(values.median()), info)
        env = f"{main}_environs"
        if env in qpv and pd.to_numeric(qpv[env], errors="coerce").notna().any():
            row["environs"] = F.format_column(
                float(pd.to_numeric(qpv[env], errors="coerce").where(values.notna()).median()),
                info)
        ratio = f"{main}_ratio"
        if ratio in qpv:
            r = pd.to_numeric(qpv[ratio], errors="coerce").where(values.notna()).dropna()
            direction = info.direction if info is not None else 1
            if len(r) and direction:
                # "Worse than the surroundings" follows the column's direction: a higher
                # NO2 is worse, a higher share near a park or a collège is better.
                worse = (r > 1) if direction > 0 else (r < 1)
                row["above"] = f"{F.format_number(int(worse.sum()))} sur {len(r)}"
        rows.append(row)
    return rows


#: Publisher of each role of the data directory (the layers say theirs in the registry).
_PUBLISHERS = {
    "population": "Insee", "communes": "IGN, ADMIN EXPRESS", "epci": "DGCL, BANATIC",
    "qpv2024": "ANCT, SIG Ville", "qpv2015": "ANCT, SIG Ville",
    "qpv2024_communes": "ANCT", "qpv2015_communes": "Insee",
    "qpv2024_indicators": "Insee, diffusé par SIG Ville (ANCT)",
    "qpv2015_indicators": "Insee",
}


def _catalogue_millesime(names: str) -> str:
    """The millésime the sources catalogue gives for a layer's source(s), or ""."""
    try:
        from qpvgeo.sources import get_source
    except ImportError:
        return ""
    out = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        try:
            mil = getattr(get_source(name), "millesime", "")
        except Exception:  # a name the catalogue does not know: nothing to say
            continue
        if mil:
            out.append(str(mil))
    return " ; ".join(dict.fromkeys(out))


def _sources(diag: Diagnostic) -> list[dict]:
    """Each source: what it is, its publisher and millésime, the file."""
    from qpvgeo.exposure import LAYERS

    roles = {
        "population": "Population légale des communes",
        "qpv2024": "Contours des QPV 2024", "qpv2015": "Contours des QPV 2015",
        "qpv2024_communes": "Liste QPV × communes", "qpv2015_communes": "Liste QPV × communes",
        "qpv2024_indicators": "Indicateurs des QPV", "qpv2015_indicators": "Indicateurs des QPV",
        "communes": "Contours des communes", "epci": "Composition des EPCI", "demo": "Démo",
    }
    out, seen = [], set()
    for r in diag.sources:
        role = str(r.get("role") or r.get("source") or "")
        where = r.get("path") or r.get("url") or ""
        file = Path(str(where)).name if where else ""
        key = (role, file)
        if key in seen:
            continue
        seen.add(key)
        layer = LAYERS[role] if role in list(LAYERS) else None
        what = layer.label if layer is not None else roles.get(role, role)
        publisher = (layer.publisher if layer is not None else
                     str(r.get("publisher") or _PUBLISHERS.get(role, "")))
        if not r.get("millesime") and layer is not None:
            r = {**r, "millesime": _catalogue_millesime(layer.source)}
        out.append({"what": what, "publisher": F.typography(publisher),
                    "millesime": str(r.get("millesime") or "millésime non indiqué"),
                    "file": file, "sha": str(r.get("sha256") or "")[:12]})
    return out


# -- the 2015 → 2024 evolution ------------------------------------------------------------------


def evolution_section(diag: Diagnostic, *, figure: dict | None = None, csv: str = "") -> dict:
    """The evolution section: its sentence(s), the table by type, the per-QPV table (top
    rows, the CSV linked) and the map; or the one line saying why there is none."""
    from qpvgeo.diagnostic.evolution import (
        EVOLUTION_TITLE,
        evolution_sentence,
        population_sentence,
    )

    sec = diag.sections.get("evolution")
    out = {"title": EVOLUTION_TITLE, "status": "", "sentences": [], "by_type": None,
           "per_qpv": None, "figure": figure}
    if diag.evolution is None:
        out["status"] = F.typography(sec.status if sec else "indisponible")
        out["status"] = out["status"][:1].upper() + out["status"][1:] + "."
        return out
    summary = diag.evolution
    out["sentences"] = [s for s in (evolution_sentence(summary), population_sentence(summary))
                        if s]
    by_type = summary["par_type"]
    by_type = by_type[(by_type["qpv_2015"] > 0) | (by_type["qpv_2024"] > 0)]
    out["by_type"] = table(diag, by_type[["libelle", "qpv_2015", "qpv_2024"]],
                           table_id="tableau-evolution-types", title="QPV par type d’évolution",
                           intro="Nombre de QPV de chaque géographie selon leur évolution.")
    rows = pd.DataFrame(summary["tableau"].drop(columns="geometry"))
    cols = [c for c in (schema.MILLESIME, schema.CODE_QPV, schema.NOM_QPV, "libelle",
                        "codes_correspondants", "surface_ha", "part_gagnee", "part_perdue")
            if c in rows]
    shown = rows[cols].head(TOP)
    # a geography is a label, not a number; a QPV with no partner has none (known, not NA)
    shown = shown.assign(**{schema.MILLESIME: shown[schema.MILLESIME].astype(str),
                            "codes_correspondants": shown["codes_correspondants"]
                            .astype("object").where(shown["codes_correspondants"].notna(),
                                                    "aucun")})
    t = table(diag, shown, table_id="tableau-evolution-qpv",
              title=f"Les {min(TOP, len(rows))} premiers QPV ({len(rows)} au total, 2024 d’abord)",
              intro="Type d’évolution de chaque QPV et QPV correspondants de l’autre "
                    "géographie ; surfaces gagnée et perdue hors bande de 20 m, en part de la "
                    "surface 2015 (paires un pour un).", full=csv)
    # only the QPV of the diagnostic's geography have a fiche
    own = set(diag.qpv_table[schema.CODE_QPV].astype(str))
    name_at = cols.index(schema.NOM_QPV)
    for cells, (_, row) in zip(t["rows"], shown.iterrows(), strict=True):
        if int(row[schema.MILLESIME]) == diag.millesime and str(row[schema.CODE_QPV]) in own:
            cells[name_at]["href"] = fiche_href(str(row[schema.CODE_QPV]))
    out["per_qpv"] = t
    return out


def _fiche_evolution(diag: Diagnostic, code: str) -> str:
    """One line for the fiche: the QPV's type of evolution and its partners."""
    if diag.evolution is None:
        return ""
    rows = diag.evolution["tableau"]
    hit = rows[(rows[schema.MILLESIME] == diag.millesime)
               & (rows[schema.CODE_QPV].astype(str) == code)]
    if not len(hit):
        return ""
    row = hit.iloc[0]
    partners = row.get("codes_correspondants")
    other = 2015 if diag.millesime == 2024 else 2024
    text = str(row["libelle"])
    if isinstance(partners, str) and partners:
        many = "," in partners
        text += f" (QPV {other} correspondant{'s' if many else ''} : {partners})"
    return text


# -- the index ----------------------------------------------------------------------------------


def render_index(diag: Diagnostic, *, figures: list[dict], map_links: list[dict],
                 maps_notes: list[str], files: list[dict], created: str,
                 evolution_figure: dict | None = None, evolution_csv: str = "") -> str:
    """The index page of the diagnose folder."""
    qpv = pd.DataFrame(diag.qpv_table.drop(columns="geometry"))
    sel = diag.selection
    pop_col = "population_dans_territoire" if "population_dans_territoire" in qpv else \
        schema.POPULATION
    base = [c for c in (schema.CODE_QPV, schema.NOM_QPV, "communes", schema.POPULATION,
                        "population_dans_territoire", schema.PART_QPV) if c in qpv]
    by_pop = qpv.sort_values(pop_col, ascending=False, na_position="last")
    tables = {}
    tables["qpv"] = table(
        diag, by_pop[base].head(TOP), table_id="tableau-qpv", link_qpv=True,
        title=f"Les {min(TOP, len(qpv))} QPV les plus peuplés",
        intro="Population municipale de chaque QPV (Insee) et part de la population du "
              "territoire qu’elle représente. Cliquer un nom ouvre la fiche du quartier.",
        full="tableau_qpv.csv",
    )
    prof_cols = [c for c in ("taux_pauvrete", "revenu_disponible_median", "taux_emploi",
                             "indice_jeunesse", "part_etrangers", "taux_logements_sociaux",
                             "ratio_menages_pauvres") if c in qpv and qpv[c].notna().any()]
    prof = diag.sections.get("profil")
    sort_prof = "taux_pauvrete" if "taux_pauvrete" in prof_cols else (prof_cols or [pop_col])[0]
    tables["profil"] = table(
        diag, qpv.sort_values(sort_prof, ascending=False, na_position="last")[
            [schema.CODE_QPV, schema.NOM_QPV, *prof_cols]].head(TOP),
        table_id="tableau-profil", link_qpv=True,
        title=f"Profil socio-économique : les {min(TOP, len(qpv))} QPV les plus pauvres",
        intro="Indicateurs Insee par QPV (tableaux SIG Ville / Insee).",
        unavailable="" if prof is None or prof.ok else prof.status, full="tableau_qpv.csv",
    )
    if len(diag.communes_table):
        ct = diag.communes_table.sort_values(schema.POPULATION_QPV, ascending=False)
        shown = [c for c in (schema.NOM_COMMUNE, schema.POPULATION, schema.POPULATION_QPV,
                             schema.PART_QPV, schema.N_QPV) if c in ct]
        tables["communes"] = table(
            diag, ct[shown].head(TOP), table_id="tableau-communes",
            title=f"Les {min(TOP, len(ct))} communes comptant le plus d’habitants en QPV",
            full="tableau_communes.csv")
    else:
        pop = diag.sections.get("population")
        tables["communes"] = table(diag, pd.DataFrame(), table_id="tableau-communes",
                                   title="Communes du territoire ayant un QPV",
                                   unavailable=pop.status if pop else "aucune commune")
    expo = diag.sections.get("exposition")
    burden = burden_column(diag)
    if burden is not None and burden in qpv:
        from qpvgeo.exposure import LAYERS

        heads = [_headline_of(layer, list(qpv.columns)) for layer in LAYERS.values()]
        exp_cols = [c for c in ("score_exposition", "n_couches_pire_quintile",
                                "classe_double_charge") if c in qpv]
        exp_cols += [h for h in heads if h is not None and qpv[h].notna().any()][:4]
    else:
        exp_cols = [c for c in _page_exposure_columns(
            [c for c in qpv.columns if c not in base]) if not c.endswith("_ratio")][:6]
    qpv_list = [{"href": fiche_href(str(c)), "name": F.place_name(n)}
                for c, n in sorted(zip(qpv[schema.CODE_QPV], qpv[schema.NOM_QPV], strict=True),
                                   key=lambda cn: F.place_name(cn[1]))]
    cards, key_notes = key_cards(diag)
    return _env().get_template("index.html.j2").render(
        version=__version__, name=sel.name,
        territory=territory_label(sel.territory.level, sel.name),
        millesime=diag.millesime, created=F.french_date(created), synthetic=diag.synthetic,
        headline=headline(diag), key_figures=cards, key_notes=key_notes, tables=tables,
        charts=page_charts(diag), figures=figures, map_links=map_links,
        maps_notes=maps_notes, exposure=exposure_summary(diag),
        exposure_status="" if expo is None or expo.ok else expo.status,
        exposure_table=table(diag, qpv.sort_values(exp_cols[0], ascending=False)[
            [schema.CODE_QPV, schema.NOM_QPV, *exp_cols]].head(TOP), table_id="tableau-exposition",
            link_qpv=True, title="Exposition des QPV", full="tableau_qpv.csv")
        if exp_cols else None,
        sections=list(diag.sections.values()), sources=_sources(diag), files=files,
        qpv_list=qpv_list,
        evolution=evolution_section(diag, figure=evolution_figure, csv=evolution_csv),
    )


# -- one fiche per QPV --------------------------------------------------------------------------


def _svg_outline(geom, context) -> str:
    """The QPV (filled) over the outlines of its communes, as a small inline SVG."""
    import shapely

    if geom is None or geom.is_empty:
        return ""
    x0, y0, x1, y1 = geom.bounds
    pad = max(x1 - x0, y1 - y0) * 0.35 + 200
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    box = shapely.box(x0, y0, x1, y1)

    def path(g) -> str:
        parts = []
        for poly in shapely.get_parts(g):
            for ring in (poly.exterior, *poly.interiors) if poly.geom_type == "Polygon" else ():
                xy = np.asarray(ring.coords)
                pts = " ".join(f"{x - x0:.0f},{y1 - y:.0f}" for x, y in xy)
                parts.append(f"M{pts}Z")
        return " ".join(parts)

    ctx = ""
    if context is not None and len(context):
        near = context[context.intersects(box)].geometry.intersection(box)
        ctx = "".join(f'<path d="{path(g)}" fill="#f4f4f4" stroke="#9e9e9e" '
                      f'stroke-width="{(x1 - x0) / 400:.0f}"/>' for g in near if not g.is_empty)
    w, h = x1 - x0, y1 - y0
    return (f'<svg viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="Contour du QPV" '
            f'class="fiche-carte">{ctx}<path d="{path(geom)}" fill="#e07b00" '
            f'fill-opacity="0.55" stroke="#a04000" stroke-width="{w / 250:.0f}"/></svg>')


#: Columns a fiche leaves to the CSV: technical intermediates of the synthesis, areas in
#: m² (the shares say it), the population-weighted coverage.
_FICHE_SKIP = re.compile(r"^(pctl_|n_couches$|n_variables_|surface_.*_m2$|"
                         r"part_population_couverte_|population_grille$|.*_station$)")


@dataclass(frozen=True)
class _FicheContext:
    """What every fiche of one diagnostic shares, computed once (not once per fiche)."""

    plain: pd.DataFrame
    cols: list[str]
    layer_cols: Mapping[str, list[str]]
    known: Mapping[str, np.ndarray]  # each column's measured values, sorted (NA left out)
    median: Mapping[str, float]


def _fiche_context(diag: Diagnostic) -> _FicheContext:
    from qpvgeo.exposure import LAYERS

    plain = pd.DataFrame(diag.qpv_table.drop(columns="geometry"))
    cols = [c for c in plain.columns if c not in (schema.CODE_QPV, schema.NOM_QPV, "communes")
            and not c.endswith(("_environs", "_ratio"))]
    layer_cols = {name: [c for c in layer_columns(diag, name) if c in cols] for name in LAYERS}
    known, median = {}, {}
    for c in cols:
        values = pd.to_numeric(plain[c], errors="coerce").to_numpy(dtype="float64",
                                                                  na_value=np.nan)
        known[c] = np.sort(values[~np.isnan(values)])
        median[c] = float(np.median(known[c])) if len(known[c]) else float("nan")
    return _FicheContext(plain, cols, layer_cols, known, median)


def _fiche_line(diag: Diagnostic, ctx: _FicheContext, row: pd.Series, col: str) -> dict | None:
    info = _info(diag, col)
    if info is None or info.kind == "text" or _FICHE_SKIP.match(col):
        return None
    plain = ctx.plain
    value = row[col]
    known = ctx.known[col]
    n = len(known)
    env = f"{col}_environs"
    alt_env = col.replace("_qpv", "_environs") if col.endswith("_qpv") else ""
    env_col = env if env in plain else (alt_env if alt_env in plain else "")
    rank = ""
    if pd.notna(value) and n > 1 and isinstance(value, int | float):
        lo, hi = np.searchsorted(known, float(value), side="left"), \
            np.searchsorted(known, float(value), side="right")
        if hi - lo < n:  # not all tied
            rank = f"{F.rank_text(int(n - hi) + 1)} / {n}"  # 1 + how many are higher
    return {
        "label": F.typography(info.label), "value": F.format_column(value, info),
        "environs": F.format_column(row[env_col], info) if env_col else "",
        "territoire": F.format_column(ctx.median[col], info) if n else F.MISSING,
        "rank": rank, "source": info.source,
    }


def render_fiche(diag: Diagnostic, code: str, *, created: str,
                 context: _FicheContext | None = None) -> str:
    """The fiche of one QPV: outline map, then its population, profile, each exposure
    layer (or "hors couverture") and the synthesis, each value beside its surroundings
    and the median of the territory's QPV, with its rank.

    ``context`` (``_fiche_context(diag)``) is what all the fiches of ``diag`` share; the
    folder writer computes it once for the 204 fiches of a region.
    """
    from qpvgeo.exposure import LAYERS

    qpv = diag.qpv_table
    row = qpv[qpv[schema.CODE_QPV].astype(str) == code].iloc[0]
    ctx = context if context is not None else _fiche_context(diag)
    plain, cols = ctx.plain, ctx.cols
    taken: set[str] = set()
    groups = []

    def group(title: str, members: Sequence[str], *, note: str = "") -> None:
        lines = [x for x in (_fiche_line(diag, ctx, row, c) for c in members
                             if c not in taken) if x is not None]
        taken.update(members)
        if lines or note:
            groups.append({"title": title, "lines": lines, "note": note})

    group("Population", [c for c in (schema.POPULATION, "population_dans_territoire",
                                     schema.PART_QPV) if c in cols])
    burden_cols = [c for c in ("score_exposition", "n_couches_pire_quintile",
                               "score_vulnerabilite", "score_cumule") if c in cols]
    layer_cols = ctx.layer_cols
    in_layers = {c for cs in layer_cols.values() for c in cs}
    group("Profil socio-économique", [c for c in cols if c not in in_layers
                                      and c not in burden_cols and c not in taken
                                      and not c.startswith(("part_couverte_", "pctl_"))])
    for name, layer in LAYERS.items():
        members = layer_cols[name]
        cover = f"part_couverte_{name}"
        covered = pd.to_numeric(pd.Series([row.get(cover)]), errors="coerce").iloc[0]
        if name not in diag.layers:
            group(layer.label, [], note=diag.missing.get(name, "hors couverture")
                  if "absente" in diag.missing.get(name, "") else "hors couverture")
        elif cover in plain and (pd.isna(covered) or covered == 0):
            group(layer.label, [], note="hors couverture : la couche n’atteint pas ce quartier")
        else:
            group(layer.label, members)
    group("Synthèse des expositions (rangs parmi les QPV du territoire)", burden_cols)
    classe = row.get("classe_double_charge")
    name = F.place_name(row[schema.NOM_QPV])
    return _env().get_template("fiche.html.j2").render(
        version=__version__, name=name, code=code, communes=str(row.get("communes", "")),
        territory=territory_label(diag.selection.territory.level, diag.selection.name),
        millesime=diag.millesime, created=F.french_date(created), synthetic=diag.synthetic,
        svg=_svg_outline(row.geometry, diag.communes_geo), groups=groups,
        double=str(classe) if isinstance(classe, str) else "", n_qpv=len(qpv),
        evolution=_fiche_evolution(diag, code),
    )
