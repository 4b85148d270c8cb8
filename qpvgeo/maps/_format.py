"""French number formatting for maps, legends, tooltips and popups.

Conventions (those of the Imprimerie nationale and of CLDR's ``fr`` locale, which INSEE
follows in its publications):

- the decimal separator is a comma: ``12,5``;
- thousands are grouped by a **narrow no-break space** (U+202F): ``1 234 567``. It is
  no-break so that a number never wraps across lines in a tooltip or a legend, and narrow
  because that is the typographic thin space CLDR uses for ``fr`` since version 34;
- a percent sign is preceded by the same narrow no-break space: ``12,5 %``;
- a currency or unit symbol is preceded by a no-break space (U+00A0): ``21 340 €``;
- a missing value (NA, NaN, statistical secrecy) is written ``n.d.`` ("non disponible"),
  never ``0`` nor ``nan``.

Rates are stored in percent when INSEE publishes them in percent (``taux_pauvrete`` 43.5
means 43.5 %, see :data:`qpvgeo.schema.INDICATOR_UNITS`); shares computed by qpvgeo are
fractions in ``[0, 1]`` and are formatted with ``fraction=True``.

Examples
--------
>>> format_number(1234567) == "1\u202f234\u202f567"
True
>>> format_percent(12.5) == "12,5\u202f%"
True
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd

from qpvgeo import schema

#: Narrow no-break space: groups thousands and precedes ``%``.
NNBSP = "\u202f"
#: No-break space: precedes a currency or unit symbol.
NBSP = "\u00a0"
#: How a missing or secret value is written.
MISSING = "n.d."
#: Separator of the two bounds of a class, an en dash between spaces.
RANGE_SEP = " \u2013 "


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: object, decimals: int = 0) -> str:
    """Format a number the French way: ``1 234,5`` (narrow no-break space, comma).

    Parameters
    ----------
    value : number
        The value; NA/NaN/None gives ``"n.d."``.
    decimals : int, default 0
        Digits after the comma (rounded half away from zero as Python's format does).

    Returns
    -------
    str

    Examples
    --------
    >>> format_number(753115).replace("\u202f", " ")
    '753 115'
    >>> format_number(-0.04, 1), format_number(None)
    ('0,0', 'n.d.')
    """
    if _is_missing(value):
        return MISSING
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        return MISSING
    text = f"{x:,.{decimals}f}"
    if text.startswith("-") and float(text[1:].replace(",", "")) == 0:
        text = text[1:]  # "-0,0" reads as an error to a reader; the rounded value is 0
    return text.replace(",", NNBSP).replace(".", ",")


def format_percent(value: object, decimals: int = 1, *, fraction: bool = False) -> str:
    """Format a rate as ``12,5 %`` (narrow no-break space before the sign).

    Parameters
    ----------
    value : number
        The rate, in percent (INSEE's convention) unless ``fraction=True``.
    decimals : int, default 1
    fraction : bool, default False
        True when ``value`` is a share in ``[0, 1]`` (qpvgeo's convention for shares).

    Examples
    --------
    >>> format_percent(43.0).replace("\u202f", " ")
    '43,0 %'
    >>> format_percent(0.125, fraction=True).replace("\u202f", " ")
    '12,5 %'
    """
    if _is_missing(value):
        return MISSING
    x = float(value) * (100.0 if fraction else 1.0)  # type: ignore[arg-type]
    return f"{format_number(x, decimals)}{NNBSP}%"


def format_euros(value: object, decimals: int = 0) -> str:
    """Format an amount in euros: ``21 340 €``.

    Examples
    --------
    >>> format_euros(21340).replace("\u202f", " ").replace("\u00a0", " ")
    '21 340 €'
    """
    if _is_missing(value):
        return MISSING
    return f"{format_number(value, decimals)}{NBSP}€"


def auto_decimals(values: object) -> int:
    """Digits after the comma that tell apart class bounds spanning ``values``.

    Large magnitudes (population, income) get none, rates and ratios one or two.

    Examples
    --------
    >>> auto_decimals([967, 77264]), auto_decimals([25.4, 57.3]), auto_decimals([0.8, 1.9])
    (0, 1, 2)
    """
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return 0
    span = float(np.max(np.abs(arr)))
    if span >= 1000:
        return 0
    if span >= 10:
        return 1
    return 2


def unit_of(column: str | None) -> str | None:
    """Unit of a canonical indicator (``schema.INDICATOR_UNITS``), or None.

    Examples
    --------
    >>> unit_of("taux_pauvrete")
    '% (seuil 60 %)'
    """
    if column is None:
        return None
    return schema.INDICATOR_UNITS.get(column)


def format_value(value: object, column: str | None = None, *, decimals: int | None = None) -> str:
    """Format one indicator value according to its unit in :data:`schema.INDICATOR_UNITS`.

    Rates (unit starting with ``%``) as percent, euros with ``€``, counts as integers;
    anything else (a ratio, an unknown column) with ``decimals`` (default: 1 for
    non-integers, 0 for integers). Text is returned unchanged.

    Examples
    --------
    >>> [format_value(v, c).replace("\u202f", " ").replace("\u00a0", " ") for v, c in
    ...  [(43.0, "taux_pauvrete"), (14520, "revenu_disponible_median"), (6399, "population"),
    ...   (1.2, "indice_jeunesse"), (float("nan"), "taux_emploi")]]
    ['43,0 %', '14 520 €', '6 399', '1,2', 'n.d.']
    """
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return MISSING
    unit = unit_of(column) or ""
    if unit.startswith("%"):
        return format_percent(value, 1 if decimals is None else decimals)
    if unit.startswith("€"):
        return format_euros(value, 0 if decimals is None else decimals)
    if unit in {"habitants", "personnes", "allocataires", "logements"}:
        return format_number(value, 0 if decimals is None else decimals)
    if decimals is None:
        x = float(value)  # type: ignore[arg-type]
        decimals = 0 if isinstance(value, Real) and x.is_integer() else 1
    return format_number(value, decimals)


def format_bounds(lower: float, upper: float, decimals: int) -> str:
    """A class as ``lower – upper`` in French notation.

    Examples
    --------
    >>> format_bounds(29, 38.5, 1).replace("\u202f", " ")
    '29,0 – 38,5'
    """
    return f"{format_number(lower, decimals)}{RANGE_SEP}{format_number(upper, decimals)}"


def class_labels(lower: float, bins: object, decimals: int | None = None) -> list[str]:
    """Labels of mapclassify classes: ``[min – b0, b0 – b1, …]``.

    ``lower`` is the minimum of the data (mapclassify's ``bins`` only hold upper bounds).

    Examples
    --------
    >>> [s.replace("\u202f", " ") for s in class_labels(1, [10, 20.5])]
    ['1,0 – 10,0', '10,0 – 20,5']
    """
    edges = [float(lower), *np.asarray(bins, dtype="float64").tolist()]
    d = auto_decimals(edges) if decimals is None else decimals
    return [format_bounds(a, b, d) for a, b in zip(edges[:-1], edges[1:], strict=True)]


#: How a column is named for people (tooltips, legends); others get their name with
#: underscores as spaces and a capital letter.
LABELS: dict[str, str] = {
    "code_qpv": "Code du quartier",
    "nom_qpv": "Quartier prioritaire",
    "code_commune": "Code commune",
    "nom_commune": "Commune",
    "noms_communes": "Commune(s)",
    "nom_epci": "EPCI",
    "code_epci": "Code EPCI",
    "population": "Population",
    "taux_pauvrete": "Taux de pauvreté au seuil de 60 %",
    "revenu_disponible_median": "Revenu disponible médian",
    "revenu_declare_median": "Revenu déclaré médian",
    "taux_emploi": "Taux d'emploi",
    "taux_emploi_femmes": "Taux d'emploi des femmes",
    "demandeurs_emploi": "Demandeurs d'emploi",
    "indice_jeunesse": "Indice de jeunesse",
    "part_moins_25_ans": "Part des moins de 25 ans",
    "part_60_ans_plus": "Part des 60 ans et plus",
    "part_etrangers": "Part des étrangers",
    "part_immigres": "Part des immigrés",
    "allocataires_caf": "Allocataires CAF",
    "logements_sociaux": "Logements sociaux",
    "taux_logements_sociaux": "Taux de logements sociaux",
    "no2": "NO₂ (moyenne annuelle, µg/m³)",
    "pm10": "PM10 (moyenne annuelle, µg/m³)",
    "pm25": "PM2,5 (moyenne annuelle, µg/m³)",
    "score_chaleur": "Score de vulnérabilité à la chaleur",
    "scenario": "Scénario d'inondation",
    "seveso": "Statut Seveso",
    "nom_site": "Site",
    "nom": "Nom",
    "lden_min": "Niveau (dB(A))",
    "indicateur": "Indicateur",
    "source": "Source de bruit",
}


def label_of(column: str) -> str:
    """Label of a column for people.

    Examples
    --------
    >>> label_of("taux_emploi"), label_of("part_menages_1p")
    ("Taux d'emploi", 'Part menages 1p')
    """
    if column in LABELS:
        return LABELS[column]
    text = str(column).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def legend_title(column: str) -> str:
    """Legend title of an indicator: its label and, when known, its unit.

    Examples
    --------
    >>> legend_title("taux_emploi"), legend_title("revenu_disponible_median")
    ("Taux d'emploi (en %)", 'Revenu disponible médian (€ par UC et par an)')
    """
    unit = unit_of(column)
    label = label_of(column)
    if not unit:
        return label
    if unit.startswith("%"):
        return f"{label} (en %)"
    return f"{label} ({unit})"
