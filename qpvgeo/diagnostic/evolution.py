"""Analysis step of a diagnostic: how the territory's QPV changed from 2015 to 2024.

When the data hold the contours of both geographies, :func:`evolution_summary` runs
:func:`qpvgeo.crosswalk.qpv_crosswalk` on the QPV around the territory (so that a
partner just across its border is still counted: a QPV split between the territory and
a neighbour is *scindé*, not *réduit*) and keeps the rows of the territory's QPV: those
of the diagnostic's geography, and those of the other geography listed in (or lying in)
its communes. :func:`crosswalk_summary` then gives the counts by type, the key figures
and the per-QPV table of the report section.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.crosswalk import TYPE_LABELS, crosswalk_summary, qpv_crosswalk

#: Title of the report section.
EVOLUTION_TITLE = "Évolution de la géographie prioritaire 2015 → 2024"

#: Margin (m) around the territory's QPV within which the crosswalk looks for partners.
_MARGIN = 2000.0

#: Columns of the per-QPV table (``evolution_qpv.csv``), with their catalogue entries.
EVOLUTION_COLUMNS: dict[str, schema.Column] = {
    schema.MILLESIME: schema.Column(schema.MILLESIME, "Géographie prioritaire", "",
                                    kind="text", source="ANCT"),
    schema.CODE_QPV: schema.Column(schema.CODE_QPV, "Code du QPV", "", kind="text",
                                   source="ANCT"),
    schema.NOM_QPV: schema.Column(schema.NOM_QPV, "Quartier prioritaire", "", kind="text",
                                  source="ANCT"),
    "type_evolution": schema.Column(
        "type_evolution", "Type d’évolution (code)", "", kind="text", source="qpvgeo",
        description="Clé de la typologie de qpvgeo.crosswalk (inchange, agrandi…)."),
    "libelle": schema.Column(
        "libelle", "Évolution 2015 → 2024", "", kind="text", source="ANCT, calcul qpvgeo",
        description="Type d’évolution entre les géographies 2015 et 2024."),
    "codes_correspondants": schema.Column(
        "codes_correspondants", "QPV correspondants (autre géographie)", "", kind="text",
        source="ANCT, calcul qpvgeo",
        description="QPV de l’autre géographie dont l’intersection compte (≥ 5 %)."),
    "surface_ha": schema.Column("surface_ha", "Surface", "ha", kind="area", decimals=1,
                                source="ANCT"),
    "part_gagnee": schema.Column(
        "part_gagnee", "Surface gagnée (part de la surface 2015)", "%", kind="share",
        decimals=1, source="ANCT, calcul qpvgeo",
        description="Part de la surface 2015 gagnée, hors bande de 20 m (paires 1-1)."),
    "part_perdue": schema.Column(
        "part_perdue", "Surface perdue (part de la surface 2015)", "%", kind="share",
        decimals=1, source="ANCT, calcul qpvgeo",
        description="Part de la surface 2015 perdue, hors bande de 20 m (paires 1-1)."),
    "population_estimee": schema.Column(
        "population_estimee", "Habitants estimés (carroyage)", "habitants", kind="count",
        source="Insee, Filosofi 200 m", description="Estimation carroyée, pas la "
        "population officielle du QPV."),
    "population_maintenue": schema.Column(
        "population_maintenue", "Habitants déjà en QPV en 2015 (estimation)", "habitants",
        kind="count", source="Insee, Filosofi 200 m"),
    "population_entree": schema.Column(
        "population_entree", "Habitants entrés dans la géographie (estimation)",
        "habitants", kind="count", source="Insee, Filosofi 200 m"),
    "population_sortie": schema.Column(
        "population_sortie", "Habitants sortis de la géographie (estimation)", "habitants",
        kind="count", source="Insee, Filosofi 200 m"),
}

#: Columns of the table by type on the page (with :data:`EVOLUTION_COLUMNS`).
PAGE_COLUMNS: dict[str, schema.Column] = {
    **EVOLUTION_COLUMNS,
    "libelle": schema.Column("libelle", "Type d’évolution", "", kind="text",
                             source="ANCT, calcul qpvgeo"),
    "qpv_2015": schema.Column("qpv_2015", "QPV 2015", "", kind="count", source="ANCT"),
    "qpv_2024": schema.Column("qpv_2024", "QPV 2024", "", kind="count", source="ANCT"),
}

#: Words of the generated sentence: (singular, plural) per type of a 2024 QPV.
_WORDS_2024 = {
    "inchange": ("inchangé", "inchangés"),
    "agrandi": ("agrandi", "agrandis"),
    "reduit": ("réduit", "réduits"),
    "redessine": ("redessiné (gains et pertes)", "redessinés (gains et pertes)"),
    "fusionne": ("issu d’une fusion", "issus de fusions"),
    "scinde": ("issu d’une scission", "issus de scissions"),
    "nouveau": ("nouveau", "nouveaux"),
}


def _territory_codes(qpv: gpd.GeoDataFrame, communes: set[str],
                     outlines: gpd.GeoDataFrame | None) -> set[str]:
    """Codes of the QPV of a geography that belong to the territory: listed in one of its
    communes by the contours (every listed commune, else the main one), or lying in its
    communes' outlines (a contour whose commune code predates a merger)."""
    codes: set[str] = set()
    for col in ("codes_communes", schema.CODE_COMMUNE):
        if col not in qpv:
            continue
        listed = qpv[[schema.CODE_QPV, col]].dropna()
        listed = listed.assign(_c=listed[col].astype(str).str.split(r"\s*,\s*")).explode("_c")
        codes |= set(listed.loc[listed["_c"].isin(communes), schema.CODE_QPV].astype(str))
    if outlines is not None and len(outlines):
        ok = _drawn(qpv)
        points = qpv.loc[ok].geometry.representative_point()
        # a spatial index, not a union of the outlines (a region has thousands)
        hit, _ = outlines.sindex.query(points.to_numpy(), predicate="within")
        codes |= set(qpv.loc[ok, schema.CODE_QPV].iloc[np.unique(hit)].astype(str))
    return codes


def _drawn(layer: gpd.GeoDataFrame) -> np.ndarray:
    """QPV with an outline (a degenerate contour is repaired to empty by the reader)."""
    g = layer.geometry.to_numpy()
    return ~shapely.is_missing(g) & ~shapely.is_empty(g)


def _near(layer: gpd.GeoDataFrame, bounds: np.ndarray) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = bounds
    return layer[_drawn(layer)].cx[x0 - _MARGIN:x1 + _MARGIN, y0 - _MARGIN:y1 + _MARGIN]


def _restricted(crosswalk: dict, keep: dict[int, set[str]]) -> dict:
    """The crosswalk's rows of the territory's QPV (pairs touching one of them), with
    the inhabitant totals recomputed on those rows only."""
    qpv = crosswalk["qpv"]
    mask = np.zeros(len(qpv), dtype=bool)
    for mill, codes in keep.items():
        mask |= ((qpv[schema.MILLESIME] == mill) & qpv[schema.CODE_QPV].isin(codes)).to_numpy()
    out = {"qpv": qpv[mask].reset_index(drop=True)}
    pairs = crosswalk["paires"]
    out["paires"] = pairs[pairs["code_qpv_2015"].isin(keep[2015])
                          | pairs["code_qpv_2024"].isin(keep[2024])].reset_index(drop=True)
    if "totaux" in crosswalk:
        rows = out["qpv"]
        by = rows.groupby(schema.MILLESIME)["population_estimee"]
        totals = pd.DataFrame([{
            "population_2015": by.get_group(2015).sum(min_count=1)
            if 2015 in by.groups else np.nan,
            "population_2024": by.get_group(2024).sum(min_count=1)
            if 2024 in by.groups else np.nan,
            **{c: rows[c].sum(min_count=1) for c in
               ("population_maintenue", "population_entree", "population_sortie")},
        }])
        totals.attrs = dict(crosswalk["totaux"].attrs)
        out["totaux"] = totals
    return out


def evolution_summary(
    qpv: gpd.GeoDataFrame,
    other: gpd.GeoDataFrame,
    *,
    millesime: int,
    territory_qpv: gpd.GeoDataFrame,
    communes: set[str] | frozenset[str] | list[str] | tuple[str, ...],
    commune_outlines: gpd.GeoDataFrame | None = None,
    population: pd.DataFrame | None = None,
) -> dict[str, object]:
    """The 2015 → 2024 evolution of a territory's QPV (:func:`crosswalk_summary` keys,
    plus ``"qpv"``: the crosswalk's rows of the territory, a GeoDataFrame for the map).

    Parameters
    ----------
    qpv : GeoDataFrame
        Every QPV of the diagnostic's geography (``millesime``).
    other : GeoDataFrame
        Every QPV of the other geography.
    millesime : {2024, 2015}
        The diagnostic's geography.
    territory_qpv : GeoDataFrame
        The territory's QPV of the diagnostic's geography (its selection).
    communes : collection of str
        The territory's commune codes.
    commune_outlines : GeoDataFrame, optional
        The territory's commune outlines (a QPV of the other geography lying in them
        belongs to the territory even when its commune code is an old one).
    population : DataFrame, optional
        Filosofi grid, for the inhabitants kept, added and left (estimates).

    Returns
    -------
    dict
        ``par_type``, ``chiffres``, ``tableau`` (see :func:`crosswalk_summary`) and
        ``qpv``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> q15 = gpd.GeoDataFrame({"code_qpv": ["QP059001", "QP059002"], "nom_qpv": ["A", "B"],
    ...                         "code_commune": ["59001", "59001"]}, crs=2154,
    ...                        geometry=[box(0, 0, 500, 500), box(3000, 0, 3500, 500)])
    >>> q24 = gpd.GeoDataFrame({"code_qpv": ["QN05901M"], "nom_qpv": ["A"],
    ...                         "code_commune": ["59001"]}, crs=2154,
    ...                        geometry=[box(0, 0, 500, 800)])
    >>> s = evolution_summary(q24, q15, millesime=2024, territory_qpv=q24,
    ...                       communes={"59001"})
    >>> s["chiffres"]["qpv_2024"], s["chiffres"]["sortis"]
    (1, 1)
    >>> evolution_sentence(s)
    'Sur le QPV 2024 du territoire : 1 agrandi. 1 QPV 2015 est sorti de la géographie prioritaire.'
    """
    other_mill = 2015 if millesime == 2024 else 2024
    communes = {str(c) for c in communes}
    own = {str(c) for c in territory_qpv[schema.CODE_QPV]}
    theirs = _territory_codes(other, communes, commune_outlines)
    # ... and every QPV of the other geography that shares ground with one of the
    # territory's (its partners, even when listed in a neighbouring commune, are counted
    # below; they are listed only when they belong to the territory).
    chosen_other = other[other[schema.CODE_QPV].astype(str).isin(theirs)]
    parts = [g.geometry for g in (territory_qpv, chosen_other) if len(g)]
    bounds = pd.concat(parts).total_bounds if parts else np.array([0.0, 0.0, 0.0, 0.0])
    near_own, near_other = _near(qpv, bounds), _near(other, bounds)
    layers = {millesime: near_own, other_mill: near_other}
    cross = qpv_crosswalk(layers[2015], layers[2024], population=population)
    kept = _restricted(cross, {millesime: own, other_mill: theirs})
    summary = crosswalk_summary(kept)
    summary["qpv"] = kept["qpv"]
    return summary


def _count(n: int, words: tuple[str, str]) -> str:
    return f"{n} {words[0] if n == 1 else words[1]}"


def evolution_sentence(summary: dict[str, object]) -> str:
    """The sentence of the section, generated from the counts (see :func:`evolution_summary`).
    """
    figures = summary["chiffres"]
    by_type = summary["par_type"].set_index("type_evolution")  # type: ignore[union-attr]
    n24, n15 = int(figures["qpv_2024"]), int(figures["qpv_2015"])  # type: ignore[index]
    parts = [_count(int(by_type.loc[t, "qpv_2024"]), w) for t, w in _WORDS_2024.items()
             if int(by_type.loc[t, "qpv_2024"])]
    if n24 == 0:
        first = "Aucun QPV 2024 sur le territoire."
    else:
        head = "Sur le QPV 2024" if n24 == 1 else f"Sur les {n24} QPV 2024"
        first = f"{head} du territoire : {', '.join(parts)}."
    out = int(figures["sortis"])  # type: ignore[index]
    if out == 0:
        second = (f"Aucun des {n15} QPV 2015 n’est sorti de la géographie prioritaire."
                  if n15 > 1 else "Aucun QPV 2015 n’est sorti de la géographie prioritaire.")
    else:
        second = (f"{out} QPV 2015 {'est sorti' if out == 1 else 'sont sortis'} de la "
                  "géographie prioritaire.")
    return f"{first} {second}"


def population_sentence(summary: dict[str, object]) -> str:
    """The inhabitants kept, added and left (grid estimates), or "" without a grid."""
    from qpvgeo.maps._format import format_number

    f = summary["chiffres"]
    if "population_maintenue" not in f:  # type: ignore[operator]
        return ""
    kept, added, left = (f[c] for c in ("population_maintenue", "population_entree",  # type: ignore[index]
                                         "population_sortie"))
    if any(pd.isna(v) for v in (kept, added, left)):
        return ""
    def people(x: float) -> str:
        n = round(float(x), -1)  # an estimate: to the ten
        return "aucun habitant" if n == 0 else f"environ {format_number(n)} habitants"

    method = str(f.get("methode", "")).replace("estimation carroyée de ", "")  # type: ignore[union-attr]
    return (f"Estimation carroyée, pas la population officielle : {people(kept)} des QPV 2024 "
            f"vivaient déjà dans un QPV 2015, {people(added)} y sont entrés ; "
            f"{people(left)} des QPV 2015 en sont sortis. Méthode : {method}.")


__all__ = ["EVOLUTION_COLUMNS", "EVOLUTION_TITLE", "PAGE_COLUMNS", "TYPE_LABELS",
           "evolution_sentence", "evolution_summary", "population_sentence"]
