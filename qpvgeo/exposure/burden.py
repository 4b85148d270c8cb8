"""Synthesis of the exposure layers: percentiles, cumulative burden, double burden.

Each function takes an :func:`qpvgeo.exposure.exposure_profile` table (one row per QPV)
and, for the vulnerability side, the socio-economic profile
(:func:`qpvgeo.profile.socio_economic_profile`). Every layer is represented by one column,
its *headline* (:attr:`qpvgeo.exposure.Layer.headline`: the population share in the
medium flood scenario, the NO₂ mean, the heat score…), oriented so that a higher
percentile is always worse (a green-space access share is reversed).

Every composite says how many layers it rests on (``n_couches``) and is NA below
``min_layers`` (default :data:`MIN_LAYERS`): a "cumulative" burden over one layer is
that layer, and a QPV outside most layers' coverage cannot be ranked on them.

Caveats common to all: percentiles are relative to the QPV present in the table (rank
against *all QPV of the geography* only when the table holds them all); layers of unequal
coverage rank QPV on different subsets; percentiles are ordinal (a QPV at the 90th
percentile of NO₂ may still be under the EU limit).

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"no2": [10.0, 20.0, 30.0, 40.0]}, index=["a", "b", "c", "d"])
>>> percentiles(t, columns=["no2"])["pctl_no2"].tolist()
[12.5, 37.5, 62.5, 87.5]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.schema import Column

__all__ = [
    "BURDEN_COLUMNS",
    "DOUBLE_BURDEN_CLASSES",
    "MIN_LAYERS",
    "VULNERABILITY",
    "burden_table",
    "count_index",
    "cumulative_score",
    "double_burden",
    "double_burden_population",
    "layer_indicators",
    "percentiles",
]

#: Fewest layers a composite may rest on.
MIN_LAYERS = 3
#: The worst quintile: a percentile at or above it counts in :func:`count_index`.
WORST_QUINTILE = 80.0
#: Vulnerability variables of :func:`cumulative_score`, with their direction (+1: higher is
#: more vulnerable) — poverty, (lack of) employment, age. Age is the share of people aged
#: 60 or over (heat, pollution), else INSEE's youth index where only it is published.
VULNERABILITY: tuple[tuple[str, int], ...] = (
    ("taux_pauvrete", 1),
    ("taux_emploi", -1),
    ("part_60_ans_plus", 1),
)
_AGE_FALLBACK = ("indice_jeunesse", 1)
#: Classes of :func:`double_burden`, worst first.
DOUBLE_BURDEN_CLASSES: tuple[str, ...] = (
    "double charge", "exposition seule", "défaveur seule", "ni l'une ni l'autre",
)

_SRC = "qpvgeo, synthèse des couches d'exposition"
#: The columns this module writes (read through :func:`qpvgeo.exposure.column_catalogue`).
BURDEN_COLUMNS: tuple[Column, ...] = (
    Column(r"pctl_environs_(.+)", "Rang centile parmi les environs des QPV", "", kind="score",
           direction=1, decimals=0, source=_SRC, pattern=True,
           description="part (0–100) des environs des QPV dont la valeur est plus favorable"),
    Column(r"pctl_(.+)", "Rang centile parmi les QPV", "", kind="score", direction=1,
           decimals=0, source=_SRC, pattern=True,
           description="0–100, orienté : plus haut = plus exposé que les autres QPV"),
    Column("n_couches", "Nombre de couches mesurées", "couches", kind="count", decimals=0,
           source=_SRC),
    Column("n_couches_pire_quintile", "Couches où le QPV est dans le quintile le plus exposé",
           "couches", kind="count", direction=1, decimals=0, source=_SRC,
           description="indice de cumul (points noirs) ; NA sous le minimum de couches"),
    Column("score_exposition", "Score d'exposition (0–10)", "", kind="score", direction=1,
           decimals=1, source=_SRC, description="moyenne des rangs centiles / 10"),
    Column("score_vulnerabilite", "Score de vulnérabilité (0–10)", "", kind="score",
           direction=1, decimals=1, source=_SRC,
           description="moyenne des rangs centiles pauvreté, emploi, âge / 10"),
    Column("n_variables_vulnerabilite", "Variables de vulnérabilité mesurées", "variables",
           kind="count", decimals=0, source=_SRC),
    Column("score_cumule", "Score cumulé exposition × vulnérabilité (0–100)", "",
           kind="score", direction=1, decimals=0, source=_SRC,
           description="à la manière de CalEnviroScreen"),
    Column("classe_double_charge", "Double charge (défaveur × exposition)", kind="text",
           source=_SRC),
)


def _layers_of(profile: pd.DataFrame) -> dict[str, tuple[str, int]]:
    from qpvgeo.exposure._registry import LAYERS

    out = {}
    for name, layer in LAYERS.items():
        for pattern in layer.headline:
            found = [c for c in profile.columns if re.fullmatch(pattern, str(c))]
            if found:
                col = found[0]
                entry = next((c for c in layer.columns if c.matches(col)), None)
                out[name] = (col, entry.direction if entry is not None and entry.direction
                             else 1)
                break
    return out


def layer_indicators(profile: pd.DataFrame) -> dict[str, str]:
    """The headline column of each registered layer present in ``profile``.

    Examples
    --------
    >>> import pandas as pd
    >>> layer_indicators(pd.DataFrame(columns=["no2", "pm10", "score_chaleur"]))
    {'air': 'no2', 'heat': 'score_chaleur'}
    """
    return {name: col for name, (col, _) in _layers_of(profile).items()}


def _rank(values: pd.Series, direction: int) -> pd.Series:
    raw = pd.to_numeric(values, errors="coerce").astype(float)
    v = raw * (1 if direction >= 0 else -1)
    # Mid-rank percentile 100 (r - 0.5) / n (ties share their mean rank r; NA stays NA and
    # is not counted in n): the fifth most exposed of 100 QPV lie at or above 80, exactly.
    n = v.notna().sum()
    pct = (v.rank(method="average") - 0.5) / n * 100.0
    if direction >= 0:
        # CalEnviroScreen's rule: a zone measured with none of a burden ranks 0, not at the
        # mid-rank of the ties (95 unexposed QPV of 105 would otherwise sit at 45).
        pct = pct.where(raw != 0, 0.0)
    return pct


def _against(values: pd.Series, reference: pd.Series, direction: int) -> pd.Series:
    sign = 1 if direction >= 0 else -1
    x = pd.to_numeric(values, errors="coerce").astype(float).to_numpy() * sign
    ref = np.sort(pd.to_numeric(reference, errors="coerce").astype(float).dropna().to_numpy()
                  * sign)
    out = np.full(len(x), np.nan)
    if len(ref):
        ok = ~np.isnan(x)
        below = np.searchsorted(ref, x[ok], side="left")
        upto = np.searchsorted(ref, x[ok], side="right")
        out[ok] = 100.0 * (below + 0.5 * (upto - below)) / len(ref)
    return pd.Series(out, index=values.index)


def percentiles(
    profile: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    directions: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Percentile rank of each indicator among the QPV of the table, and among surroundings.

    Formula: ``pctl_<c>`` = 100 × (r − 0.5) / n, r the rank of the QPV's value (ties
    share their mean rank) among the n QPV with a value (the mid-rank, or Hazen,
    percentile: 100 (r − 0.5) / n is also the share of QPV below plus half of those
    equal); a value of exactly 0 on a "higher is worse" column (measured, none) ranks 0,
    as in CalEnviroScreen; after multiplying by the column's direction (−1 for a "higher is better"
    column such as green-space access), so that 100 is always the most exposed.
    ``pctl_environs_<c>`` = 100 × (number of surroundings values ``<c>_environs`` below the
    QPV's value + half of those equal) / (number of surroundings values): where the QPV
    stands in the distribution of the surroundings of all QPV (present when the profile
    was built with surroundings). Source: the percentile ranks of CalEnviroScreen 4.0
    (OEHHA, 2021) and of the EPA EJScreen. Caveat: a rank among the QPV present; pass the
    profile of every QPV of the geography to rank nationally.

    Parameters
    ----------
    profile
        An exposure profile (or any table indexed by QPV).
    columns
        Columns to rank; default the headline column of each layer present.
    directions
        ``{column: ±1}``; default from the registry's column entries (+1 if unknown).

    Returns
    -------
    pandas.DataFrame
        ``pctl_<c>`` (0–100) and, where ``<c>_environs`` exists, ``pctl_environs_<c>``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"part_population_acces_espace_vert": [0.9, 0.5, 0.1],
    ...                   "part_population_acces_espace_vert_environs": [0.8, 0.8, 0.2]})
    >>> r = percentiles(t, columns=["part_population_acces_espace_vert"])
    >>> r["pctl_part_population_acces_espace_vert"].round(1).tolist()  # less access = worse
    [16.7, 50.0, 83.3]
    >>> r["pctl_environs_part_population_acces_espace_vert"].round(1).tolist()
    [0.0, 66.7, 100.0]
    """
    heads = _layers_of(profile)
    if columns is None:
        columns = [c for c, _ in heads.values()]
    missing = [c for c in columns if c not in profile.columns]
    if missing:
        raise SchemaError(f"percentiles: columns {missing} not in the table")
    out = pd.DataFrame(index=profile.index.copy())
    for c in columns:
        d = (directions or {}).get(c, _direction(c))
        out[f"pctl_{c}"] = _rank(profile[c], d)
        env = f"{c}_environs"
        if env in profile.columns:
            out[f"pctl_environs_{c}"] = _against(profile[c], profile[env], d)
    return out


def _direction(column: str) -> int:
    from qpvgeo.exposure._catalogue import column_catalogue

    entry = next(iter(column_catalogue([column])), None)
    return entry.direction if entry is not None and entry.direction else 1


def _layer_percentiles(profile: pd.DataFrame) -> pd.DataFrame:
    heads = _layers_of(profile)
    if not heads:
        raise SchemaError(
            "burden: no layer indicator in the table; expected the columns of an "
            "exposure_profile (no2, score_chaleur, part_population_inondable_…)"
        )
    return pd.DataFrame(
        {name: _rank(profile[col], d) for name, (col, d) in heads.items()}, index=profile.index
    )


def count_index(
    profile: pd.DataFrame, *, threshold: float = WORST_QUINTILE, min_layers: int = MIN_LAYERS
) -> pd.DataFrame:
    """Number of layers where the QPV is among the most exposed fifth of the QPV.

    Formula: ``n_couches_pire_quintile`` = number of layers whose headline percentile
    (:func:`percentiles`) is ≥ ``threshold`` (80: the worst quintile); ``n_couches`` =
    number of layers with a value for the QPV; NA when ``n_couches < min_layers``.
    Source: the cumulated-exposure counts of France Stratégie (indicateur d'exposition
    multiple, *Inégalités environnementales et sociales*, 2022) and the "points noirs
    environnementaux" of the IAU / Institut Paris Region (multi-exposure where several
    nuisances exceed a level). Caveat: a count treats every layer alike (a flood zone and
    a noise band weigh the same) and ignores how far past the quintile a QPV is.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"no2": [1, 2, 3, 4, 5.0], "score_chaleur": [5, 4, 3, 2, 1.0],
    ...                   "part_population_inondable_moyen": [0, 0, 0, 0, 0.5]})
    >>> # percentiles 10, 30, 50, 70, 90: only the most exposed of five is in the worst fifth
    >>> count_index(t)["n_couches_pire_quintile"].tolist()
    [1, 0, 0, 0, 2]
    """
    if min_layers < 1:
        raise QpvgeoError(f"min_layers must be >= 1, got {min_layers}")
    pct = _layer_percentiles(profile)
    n = pct.notna().sum(axis=1)
    worst = (pct >= threshold).sum(axis=1).astype("Int64")
    out = pd.DataFrame(index=profile.index.copy())
    out["n_couches"] = n.astype("Int64")
    out["n_couches_pire_quintile"] = worst.where(n >= min_layers)
    return out


def _vulnerability(socio: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    wanted = list(VULNERABILITY)
    if "part_60_ans_plus" not in socio.columns or socio["part_60_ans_plus"].isna().all():
        wanted = [w for w in wanted if w[0] != "part_60_ans_plus"] + [_AGE_FALLBACK]
    used = [(c, d) for c, d in wanted if c in socio.columns and socio[c].notna().any()]
    ranks = pd.DataFrame({c: _rank(socio[c], d) for c, d in used}, index=socio.index)
    return ranks, [c for c, _ in used]


def cumulative_score(
    profile: pd.DataFrame,
    socio: pd.DataFrame,
    *,
    min_layers: int = MIN_LAYERS,
    min_variables: int = 2,
) -> pd.DataFrame:
    """A CalEnviroScreen-style score: exposure percentile × vulnerability percentile.

    Formula: ``score_exposition`` = mean over the layers of the headline percentiles / 10
    (0–10); ``score_vulnerabilite`` = mean of the percentiles of poverty rate, (minus)
    employment rate and age (:data:`VULNERABILITY`) among the same QPV / 10 (0–10);
    ``score_cumule`` = their product (0–100). NA when fewer than ``min_layers`` layers
    or ``min_variables`` vulnerability variables are known. Source: CalEnviroScreen 4.0
    (OEHHA, 2021), where Pollution Burden × Population Characteristics, each scaled to
    10, gives a 0–100 score. Caveats: the product assumes exposure and vulnerability
    compound; equal weights; INSEE rates under statistical secrecy are NA and leave the
    mean (``n_variables_vulnerabilite`` says how many were used).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"no2": [10, 30.0], "score_chaleur": [0.2, 0.8],
    ...                   "part_population_inondable_moyen": [0.0, 0.4]}, index=["a", "b"])
    >>> s = pd.DataFrame({"taux_pauvrete": [20, 50.0], "taux_emploi": [60, 40.0]},
    ...                  index=["a", "b"])
    >>> # two QPV: percentiles 25 and 75 (a's flood share 0 ranks 0); a: (25 + 25 + 0) / 30
    >>> cumulative_score(t, s)["score_cumule"].round(2).tolist()
    [4.17, 56.25]
    """
    pct = _layer_percentiles(profile)
    n = pct.notna().sum(axis=1)
    ranks, used = _vulnerability(socio.reindex(profile.index))
    nv = ranks.notna().sum(axis=1) if used else pd.Series(0, index=profile.index)
    out = pd.DataFrame(index=profile.index.copy())
    out["n_couches"] = n.astype("Int64")
    out["score_exposition"] = (pct.mean(axis=1) / 10.0).where(n >= min_layers)
    out["n_variables_vulnerabilite"] = nv.astype("Int64")
    vul = ranks.mean(axis=1) / 10.0 if used else pd.Series(np.nan, index=profile.index)
    out["score_vulnerabilite"] = vul.where(nv >= min_variables)
    out["score_cumule"] = out["score_exposition"] * out["score_vulnerabilite"]
    out.attrs["vulnerabilite"] = used
    return out


def double_burden(
    profile: pd.DataFrame,
    socio: pd.DataFrame,
    *,
    exposure_threshold: float | str = "median",
    deprivation_threshold: float | str = "median",
    min_layers: int = MIN_LAYERS,
    min_variables: int = 2,
) -> pd.DataFrame:
    """The "double burden" class of each QPV: deprivation × exposure.

    Formula: a QPV is *exposed* when ``score_exposition`` ≥ ``exposure_threshold`` and
    *deprived* when ``score_vulnerabilite`` ≥ ``deprivation_threshold``; the default
    ``"median"`` takes the median score of the QPV that have one (the more exposed and the
    more vulnerable half; a number sets a fixed level on the 0–10 scale instead — 5 is
    the middle of the scale, which a set of mostly unexposed QPV seldom reaches, measured
    zeros ranking 0); ``classe_double_charge`` is "double charge" (both), "exposition seule",
    "défaveur seule" or "ni l'une ni l'autre"; NA when either score is NA
    (:func:`cumulative_score`). Source: the "double peine" (double burden) of
    environmental-justice work — EEA report 22/2018 *Unequal exposure and unequal
    impacts*, and the median-split typologies of the Observatoire des inégalités
    environnementales. Caveat: every QPV is deprived against France; "défaveur" here is
    relative to the QPV ranked, and a median split puts half of them on each side by
    construction (so the class says where a QPV stands, not that it is safe).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"no2": [10, 30.0], "score_chaleur": [0.2, 0.8],
    ...                   "part_population_inondable_moyen": [0.0, 0.4]}, index=["a", "b"])
    >>> s = pd.DataFrame({"taux_pauvrete": [20, 50.0], "taux_emploi": [60, 40.0]},
    ...                  index=["a", "b"])
    >>> double_burden(t, s)["classe_double_charge"].tolist()
    ["ni l'une ni l'autre", 'double charge']
    """
    scores = cumulative_score(profile, socio, min_layers=min_layers,
                              min_variables=min_variables)
    def level(column: str, threshold: float | str) -> float:
        if isinstance(threshold, str):
            if threshold != "median":
                raise QpvgeoError(f"threshold must be a number or 'median', got {threshold!r}")
            return float(scores[column].median())
        return float(threshold)

    seuil_e = level("score_exposition", exposure_threshold)
    seuil_d = level("score_vulnerabilite", deprivation_threshold)
    e = scores["score_exposition"] >= seuil_e
    d = scores["score_vulnerabilite"] >= seuil_d
    known = scores["score_exposition"].notna() & scores["score_vulnerabilite"].notna()
    cls = np.select([e & d, e & ~d, ~e & d], list(DOUBLE_BURDEN_CLASSES[:3]),
                    DOUBLE_BURDEN_CLASSES[3])
    out = scores.copy()
    out["classe_double_charge"] = pd.Series(cls, index=scores.index, dtype="string").where(known)
    out.attrs["seuils"] = {"exposition": seuil_e, "defaveur": seuil_d}
    return out


def double_burden_population(table: pd.DataFrame, population: pd.Series | None = None) -> pd.Series:
    """Inhabitants in each double-burden class (sum of the QPV populations).

    ``population`` defaults to the table's ``population`` column; a class no QPV falls in
    counts 0 (measured, none); QPV with no class are counted under ``"non classé"``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"classe_double_charge": ["double charge", None],
    ...                   "population": [1200, 800]})
    >>> double_burden_population(t).to_dict()["double charge"]
    1200
    """
    pop = table[schema.POPULATION] if population is None else population
    cls = table["classe_double_charge"].astype("string").fillna("non classé")
    sums = pd.to_numeric(pop, errors="coerce").groupby(cls).sum(min_count=1)
    order = [*DOUBLE_BURDEN_CLASSES, "non classé"]
    return sums.reindex(order).fillna(0).astype("int64").rename("population")


def burden_table(
    profile: pd.DataFrame, socio: pd.DataFrame | None = None, *, min_layers: int = MIN_LAYERS
) -> pd.DataFrame:
    """Every composite in one table: percentiles, count index and, with ``socio``, score
    and double burden.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> from qpvgeo.exposure import exposure_profile
    >>> d = demo()
    >>> p = exposure_profile(d.qpv, layers=d.layers, population=d.grid)
    >>> b = burden_table(p, d.indicators)
    >>> int(b["n_couches"].min()) == len(layer_indicators(p))  # every headline layer
    True
    """
    out = percentiles(profile).join(count_index(profile, min_layers=min_layers))
    if socio is not None:
        extra = double_burden(profile, socio, min_layers=min_layers)
        out = out.join(extra.drop(columns=["n_couches"]))
    return out
