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

import functools
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


#: Names of the fields of the map layers (not columns of the QPV tables, so not in the
#: column catalogue); every QPV column is named by :func:`qpvgeo.schema.column_info`.
LABELS: dict[str, str] = {
    "scenario": "Scénario d'inondation",
    "seveso": "Statut Seveso",
    "nom_site": "Site",
    "nom": "Nom",
    "lden_min": "Niveau (dB(A))",
    "indicateur": "Indicateur",
    "source": "Source de bruit",
    "no2": "NO₂ (moyenne annuelle, µg/m³)",
    "pm10": "PM10 (moyenne annuelle, µg/m³)",
    "pm25": "PM2,5 (moyenne annuelle, µg/m³)",
    "score_chaleur": "Score de sensibilité à la chaleur",
}


def catalogue_extra(columns=None) -> tuple:
    """The exposure side's catalogue entries (``extra=`` of :func:`schema.column_info`):
    every layer's columns, coverage, surroundings, ratios and the burden composites,
    concrete for ``columns`` when given."""
    try:
        from qpvgeo.exposure import column_catalogue
    except ImportError:
        return ()
    return tuple(column_catalogue(columns))


@functools.lru_cache(maxsize=4096)
def _info_cached(column: str):
    return schema.column_info(column, extra=catalogue_extra([column]))


def info_of(column: str):
    """The catalogue entry of ``column`` (population, profile and exposure columns).

    Examples
    --------
    >>> info_of("taux_pauvrete").unit
    '%'
    >>> info_of("no2_ratio").kind
    'ratio'
    """
    return _info_cached(str(column))


def label_of(column: str) -> str:
    """Label of a column for people (the column catalogue, then the layer fields).

    Examples
    --------
    >>> label_of("taux_emploi"), label_of("part_menages_1p")
    ("Taux d'emploi des 15-64 ans", 'Part menages 1p')
    """
    info = info_of(column)
    if info is not None:
        return typography(info.label)
    if column in LABELS:
        return LABELS[column]
    text = str(column).replace("_", " ").strip()
    return typography(text[:1].upper() + text[1:])


def legend_title(column: str) -> str:
    """Legend title of an indicator: its label and, when known, its unit.

    Examples
    --------
    >>> legend_title("taux_emploi"), legend_title("revenu_disponible_median")
    ("Taux d'emploi des 15-64 ans (en %)", 'Revenu disponible médian par UC (€ par an)')
    """
    info = info_of(column)
    label = label_of(column)
    if info is None:
        unit = unit_of(column)
        if not unit:
            return label
        return f"{label} (en %)" if unit.startswith("%") else f"{label} ({unit})"
    if info.kind in {"share", "percent"}:
        return label if "%" in label else f"{label} (en %)"
    if info.kind == "distance":
        return f"{label} (m)"
    return f"{label} ({info.unit})" if info.unit and info.kind != "ratio" else label


# -- formatting driven by the column catalogue (qpvgeo.schema.Column) --------------------


def format_distance(value: object, decimals: int = 0) -> str:
    """A distance in metres, in km beyond 1,000 m (``850 m``, ``26,7 km``).

    Examples
    --------
    >>> [format_distance(v).replace("\u00a0", " ") for v in (850.4, 26702.2, None)]
    ['850 m', '26,7 km', 'n.d.']
    """
    if _is_missing(value):
        return MISSING
    x = float(value)  # type: ignore[arg-type]
    if abs(x) >= 1000:
        return f"{format_number(x / 1000, 1)}{NBSP}km"
    return f"{format_number(x, decimals)}{NBSP}m"


def format_column(value: object, info: object | None, *, with_unit: bool = True) -> str:
    """Format ``value`` as the catalogue entry ``info`` says (kind, unit, decimals).

    ``info`` is a :class:`qpvgeo.schema.Column` (or None: a plain number). Shares
    (fractions 0–1) and INSEE percentages print as ``12,5 %``; counts with grouped
    thousands; distances in m or km; euros with ``€``; other units after the number
    when ``with_unit``.

    Examples
    --------
    >>> from qpvgeo.schema import column_info
    >>> fmt = lambda v, c: format_column(v, column_info(c)).replace("\u202f", " ")
    >>> fmt(15931.096993417836, "population"), fmt(0.3075, "part_qpv")
    ('15 931', '30,8 %')
    >>> fmt(82.09, "taux_logements_sociaux").replace("\u00a0", " ")
    '82,1 pour 100 ménages'
    """
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return MISSING
    if info is None:
        x = float(value)  # type: ignore[arg-type]
        return format_number(x, 0 if x.is_integer() else 2)
    kind, unit, decimals = info.kind, info.unit, info.decimals  # type: ignore[attr-defined]
    if kind == "share":
        return format_percent(value, decimals, fraction=True)
    if kind == "percent":
        return format_percent(value, decimals)
    if kind == "distance":
        return format_distance(value)
    if kind == "count":
        return format_number(value, 0)
    if kind == "text":
        return str(value)
    if unit.startswith("€"):
        return format_euros(value, decimals)
    text = format_number(value, decimals)
    if with_unit and unit and kind not in {"ratio", "score"}:
        return f"{text}{NBSP}{unit}"
    return text


def column_unit(info: object | None) -> str:
    """The unit printed under a table header ("" for shares in %, text and ratios)."""
    if info is None or info.kind in {"text", "ratio", "score"}:  # type: ignore[attr-defined]
        return ""
    if info.kind in {"share", "percent"}:  # type: ignore[attr-defined]
        return "%"
    if info.kind == "distance":  # type: ignore[attr-defined]
        return "m ou km"
    return info.unit  # type: ignore[attr-defined]


def round_column(values: pd.Series, info: object | None) -> pd.Series:
    """Round a numeric column for a CSV: counts to units, shares (0–1) to 6 digits (a
    QPV's share of a region's population is often under 0,1 %), distances to the metre,
    others to the catalogue's decimals plus one (nothing a page prints is lost).

    Examples
    --------
    >>> from qpvgeo.schema import column_info
    >>> round_column(pd.Series([15931.096993417836]), column_info("population")).tolist()
    [15931.0]
    """
    if info is None or info.kind == "text" or not pd.api.types.is_numeric_dtype(values):  # type: ignore[attr-defined]
        return values
    kind, decimals = info.kind, info.decimals  # type: ignore[attr-defined]
    if kind == "count":
        return values.round(0)
    if kind == "share":
        return values.round(6)
    if kind == "distance":
        return values.round(0)
    return values.round(decimals + 1)


#: Typography of labels for people: chemical formulas, comparison signs, accents the
#: sources drop.
_TYPO = (
    (r"\bno2\b", "NO₂"), (r"\bNO2\b", "NO₂"), (r"\bpm25\b", "PM2,5"), (r"\bPM2\.5\b", "PM2,5"),
    (r"\bpm10\b", "PM10"), (r">=", "≥"), (r"<=", "≤"), (r"\bfrequent\b", "fréquent"),
    (r"\bextreme\b", "extrême"), (r"\bmoyen\b", "moyen"),
)


def typography(text: str) -> str:
    """French typography of a label: ``NO₂``, ``PM2,5``, ``≥``, accents restored.

    Examples
    --------
    >>> typography("part de la population, Lden >= 73 dB(A), scénario frequent")
    'part de la population, Lden ≥ 73 dB(A), scénario fréquent'
    """
    import re

    for pattern, repl in _TYPO:
        text = re.sub(pattern, repl, text)
    return text


_SMALL_WORDS = {"De", "Des", "Du", "La", "Le", "Les", "Et", "À", "Au", "Aux", "En", "Sur",
                "Sous", "D'", "L'", "Dit", "Dite"}


def place_name(name: object) -> str:
    """A QPV or place name with French capitalisation: articles and prepositions in lower
    case inside the name ("Terre Des Fleurs" → "Terre des Fleurs").

    Examples
    --------
    >>> place_name("Grande Reyssouze Terre Des Fleurs"), place_name("Le Pont De L'Arche")
    ('Grande Reyssouze Terre des Fleurs', "Le Pont de l'Arche")
    """
    import re

    if not isinstance(name, str):
        return MISSING if _is_missing(name) else str(name)
    words = re.split(r"(\s+|-)", name.strip())
    out = []
    for i, w in enumerate(words):
        if i > 0 and w in _SMALL_WORDS:
            w = w.lower()
        elif i > 0 and re.match(r"^(D|L)'\w", w):
            w = w[0].lower() + w[1:]
        out.append(w)
    return "".join(out)


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")


def french_date(day: object) -> str:
    """``1er décembre 2026`` from a date or an ISO string.

    Examples
    --------
    >>> french_date("2026-12-01T12:58:00+00:00"), french_date("2026-03-15")
    ('1er décembre 2026', '15 mars 2026')
    """
    import datetime as dt

    d = dt.date.fromisoformat(str(day)[:10]) if not isinstance(day, dt.date) else day
    return f"{'1er' if d.day == 1 else d.day} {_MONTHS[d.month - 1]} {d.year}"


def rank_text(rank: int, *, feminine: bool = False) -> str:
    """``1er`` / ``1re`` / ``2e``…

    Examples
    --------
    >>> rank_text(1), rank_text(1, feminine=True), rank_text(3)
    ('1er', '1re', '3e')
    """
    if rank == 1:
        return "1re" if feminine else "1er"
    return f"{rank}e"


def french_table(frame: pd.DataFrame, *, index: str | None = None) -> pd.DataFrame:
    """A table for people: every value formatted as the column catalogue says (``12,5 %``,
    ``1 234``, ``n.d.``), the columns named by their French labels — what a notebook
    shows instead of raw fractions, floats and ``NaN``.

    Parameters
    ----------
    frame : DataFrame
    index : str, optional
        A column to use as the (labelled) index.

    Examples
    --------
    >>> t = french_table(pd.DataFrame({"nom_qpv": ["Les Tours Du Port"],
    ...                                "part_qpv": [0.3075], "population": [15931.09]}))
    >>> list(t.columns), t.iloc[0].str.replace("\u202f", " ").tolist()
    (['Quartier prioritaire', 'Part de la population vivant en QPV', 'Population'], \
['Les Tours du Port', '30,8 %', '15 931'])
    """
    data = pd.DataFrame(frame).copy()
    if "geometry" in data.columns:
        data = data.drop(columns="geometry")
    if index is not None:
        data = data.set_index(index)
    out = pd.DataFrame(index=data.index)
    for col in data.columns:
        info = info_of(str(col))
        if col == schema.NOM_QPV:
            out[label_of(col)] = [place_name(v) for v in data[col].tolist()]
        elif info is not None:
            out[label_of(col)] = [format_column(v, info) for v in data[col].tolist()]
        else:
            out[label_of(col)] = [format_value(v, str(col)) for v in data[col].tolist()]
    if data.index.name:
        out.index.name = label_of(data.index.name)
    return out
