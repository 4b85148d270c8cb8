"""Commune-code harmonisation: bring commune codes of any year to one COG geography.

The Python answer to R's COGiter. INSEE's table of commune movements
(``v_mvt_commune_YYYY``, read by :func:`qpvgeo.readers.cog.read_cog_movements`) lists
every change since 1943 as (before, after) pairs. :func:`commune_code_table` follows
those pairs, in date order, from the geography of 1 January of ``year`` to the
geography of the movements file (or of ``target_date``); :func:`harmonise_communes`
applies the table to a frame: rows of merged communes are summed (additive columns)
and their geometries unioned. :func:`detect_cog_year` (R's ``COG_akinator``) finds the
COG year a set of codes belongs to, with the codes that prove it; ``harmonise_communes``
calls it when ``year`` is not given.

How the moves are followed
--------------------------
* Only rows whose type before is ``COM`` (a commune, not a delegated or associated
  commune) and whose date is after 1 January of ``year`` (COG 2018 = geography at
  2018-01-01, so moves dated 2018-01-01 are already in it) and not after
  ``target_date`` are used.
* A commune whose rows point to one commune moves there (mergers MOD 31–34, code
  changes MOD 41 and 50, name changes MOD 10). Chains (A -> B -> C, also within one
  date: a change of département then a merger) are followed.
* A commune whose rows point to several communes is split (MOD 21 re-establishment,
  old MOD 20/30 cases). Each input commune goes to the successor that carries its own
  code (a re-established commune gets its territory back), otherwise to the one
  successor that is not re-established from a delegated or associated commune. When
  a successor gets none of the input communes, its territory was carved out of an
  input commune: that commune is reported as a ``scission`` (its values all go to
  the successor that carries its code, which is then too large).

The report
----------
One row per input code: ``code_ancien``, ``code_nouveau``, ``nom_nouveau`` (name
after the last move, NA if it never moved), ``statut`` and ``detail``. ``statut`` is

``identique``
    unchanged (the commune may have absorbed communes absent from the input);
``fusion``
    merged with at least one other input code into ``code_nouveau``;
``recode``
    alone under a new code (change of département, chef-lieu, or merged with
    communes absent from the input);
``scission``
    split after ``year``: values cannot be divided without more data, they go
    whole to ``code_nouveau`` and ``detail`` names every successor;
``arrondissement``
    a municipal arrondissement of Paris, Lyon or Marseille, brought to its commune;
``hors_annee``
    not a commune code on 1 January of ``year``; followed from its own history;
``supprime``
    the commune was removed without successor (e.g. Saint-Barthélemy, 2007): kept
    under its code;
``inconnu``
    not a commune code (malformed, or absent from ``communes`` when given): kept
    under its code.

``scission``, ``hors_annee``, ``supprime`` and ``inconnu`` are also announced in a
:class:`~qpvgeo.errors.QpvgeoWarning` with counts and example codes. Nothing is ever
dropped. The report is returned with ``return_report=True`` rather than stored in
``frame.attrs``: pandas copies and compares ``attrs`` on every operation, which breaks
with a DataFrame inside.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.errors import QpvgeoWarning as QpvgeoWarning

__all__ = [
    "ARRONDISSEMENTS", "REPORT_COLUMNS", "CogYear", "commune_code_table", "detect_cog_year",
    "harmonise_communes",
]

#: Columns of the harmonisation report.
REPORT_COLUMNS: tuple[str, ...] = (
    "code_ancien", "code_nouveau", "nom_nouveau", "statut", "date_effet", "detail",
)
#: Statuses announced in a warning (the others are expected consequences of the COG).
PROBLEM_STATUSES: tuple[str, ...] = ("scission", "hors_annee", "supprime", "inconnu")

#: Municipal arrondissements -> their commune (stable since 1964; INSEE ``ARM`` rows).
ARRONDISSEMENTS: dict[str, str] = {
    **{f"751{i:02d}": "75056" for i in range(1, 21)},
    **{f"6938{i}": "69123" for i in range(1, 10)},
    **{f"132{i:02d}": "13055" for i in range(1, 17)},
}

_CODE_PATTERN = r"^(?:\d{5}|2[AB]\d{3})$"
_MOVEMENT_COLUMNS = ("mod", "date_eff", "typecom_av", "com_av", "typecom_ap", "com_ap",
                     "libelle_ap")


# -- the trace ----------------------------------------------------------------------
def _as_timestamp(value, *, what: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{what}: cannot read {value!r} as a date") from exc


def _start_of(year: int | None) -> pd.Timestamp | None:
    if year is None:
        return None
    if not isinstance(year, int | np.integer) or not 1943 <= int(year) <= 2100:
        raise DataFormatError(f"year must be a COG year such as 2018, got {year!r}")
    return pd.Timestamp(year=int(year), month=1, day=1)


def _check_movements(movements: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(movements, pd.DataFrame):
        raise SchemaError(
            "movements: expected the frame of qpvgeo.readers.read_cog_movements, "
            f"got {type(movements).__name__}"
        )
    schema.require_columns(movements, _MOVEMENT_COLUMNS, what="movements (v_mvt_commune)")
    if not pd.api.types.is_datetime64_any_dtype(movements["date_eff"]):
        raise SchemaError(
            "movements: column date_eff is not a date; read the file with read_cog_movements"
        )
    return movements


def _window(movements: pd.DataFrame, start, end) -> pd.DataFrame:
    keep = pd.Series(True, index=movements.index)
    if start is not None:
        keep &= movements["date_eff"] > start
    if end is not None:
        keep &= movements["date_eff"] <= end
    return movements.loc[keep]


def _plain(values: pd.Series) -> list:
    """Python objects with None for missing values (pd.NA has no truth value)."""
    obj = values.astype(object)
    return obj.where(values.notna(), None).tolist()


def _events(window: pd.DataFrame):
    """Group the COM rows by (date, pass, source): pass 0 holds changes of département
    (MOD 41), applied before the other rows of the same date, which name the new code."""
    events: dict[tuple, dict[str, list[tuple[str | None, str | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    com = window[window["typecom_av"].eq("COM").fillna(False)]
    cols = [_plain(com[c]) for c in ("date_eff", "mod", "com_av", "typecom_ap", "com_ap",
                                      "libelle_ap")]
    for date, mod, av, tap, ap, lib in zip(*cols, strict=True):
        if av is None:
            continue
        key = (date, 0 if mod == 41 else 1)
        if tap is not None and tap != "COM":
            # towards a delegated/associated commune or an arrondissement: the old
            # commune's name or parts live on inside a commune, said by other rows.
            continue
        # a COM row with nothing after it is a removal without successor
        target = ap if tap == "COM" else None
        events[key][av].append((target, None if lib is None else str(lib)))
    reest: dict[pd.Timestamp, set[str]] = defaultdict(set)
    sub = window[window["typecom_av"].isin(["COMD", "COMA"]).fillna(False)
                 & window["typecom_ap"].eq("COM").fillna(False)]
    for date, ap in zip(_plain(sub["date_eff"]), _plain(sub["com_ap"]), strict=True):
        if ap is not None:
            reest[date].add(ap)
    return events, reest


def _trace(codes: Iterable[str], movements: pd.DataFrame, *, start, end) -> pd.DataFrame:
    """Follow each code through the moves dated in (start, end]; one row per code."""
    codes = list(dict.fromkeys(codes))
    events, reest = _events(_window(movements, start, end))
    carried: dict[str, list[str]] = {c: [c] for c in codes}
    # codes a commune bore as itself (its own, then new codes by change of département):
    # a re-establishment under one of them gives the commune its own territory back.
    own_codes: dict[str, list[str]] = {c: [c] for c in codes}
    name: dict[str, str | None] = dict.fromkeys(codes)
    when: dict[str, pd.Timestamp | None] = dict.fromkeys(codes)
    status: dict[str, tuple[str, str]] = {}
    holders: dict[str, set[str]] = defaultdict(set)
    for c in codes:
        holders[c].add(c)

    for key in sorted(events):
        date, pass_ = key
        rows = events[key]
        moves: list[tuple[str, set[str], str | None, pd.Timestamp, str]] = []
        for source in [s for s in rows if s in holders]:
            pieces = holders.pop(source)
            targets: dict[str, str | None] = {}
            for t, lib in rows[source]:
                if t is not None and (t not in targets or targets[t] is None):
                    targets[t] = lib
            day = date.date().isoformat()
            if not targets:
                for p in pieces:
                    status[p] = ("supprime", f"commune {source} supprimée le {day} sans successeur")
                    when[p] = date
                continue
            if len(targets) == 1:
                (t, lib), = targets.items()
                moves.append((t, pieces, lib, date, source))
                continue
            # A split: give each input commune back its own territory where the COG says so.
            re_established = reest.get(date, set()) & set(targets)
            remainder = [t for t in targets if t not in re_established]
            assigned: dict[str, str] = {}
            ambiguous: set[str] = set()
            for p in pieces:
                own = [c for c in reversed(own_codes[p]) if c in targets]
                if own:
                    assigned[p] = own[0]
                elif len(remainder) == 1:
                    assigned[p] = remainder[0]
                else:
                    assigned[p] = source if source in targets else sorted(targets)[0]
                    ambiguous.add(p)
            missing = set(targets) - set(assigned.values())
            if missing:
                parents = {p for p in pieces if source in carried[p]} or set(pieces)
                ambiguous |= parents
            for p in ambiguous:
                status[p] = (
                    "scission",
                    f"{source} scindée le {day} en {', '.join(sorted(targets))}; "
                    f"valeurs affectées en entier à {assigned[p]}",
                )
            for p, t in assigned.items():
                moves.append((t, {p}, targets[t], date, source))
        for t, pieces, lib, date_, source in moves:
            holders[t] |= pieces
            for p in pieces:
                if carried[p][-1] != t:
                    carried[p].append(t)
                    if pass_ == 0 and own_codes[p][-1] == source:
                        own_codes[p].append(t)
                name[p] = lib
                when[p] = date_

    final = {p: h for h, ps in holders.items() for p in ps}
    out = pd.DataFrame({"code_ancien": pd.array(codes, dtype="string")})
    out["code_nouveau"] = pd.array([final.get(c, carried[c][-1]) for c in codes], dtype="string")
    out["nom_nouveau"] = pd.array([name[c] for c in codes], dtype="string")
    out["date_effet"] = pd.to_datetime(pd.Series([when[c] for c in codes], dtype="object"))
    out["statut"] = pd.array([status.get(c, ("", ""))[0] for c in codes], dtype="string")
    out["detail"] = pd.array([status.get(c, ("", ""))[1] for c in codes], dtype="string")
    return out


def _classify(table: pd.DataFrame) -> pd.DataFrame:
    """Fill the statuses that depend on the whole set of codes (fusion, recode)."""
    out = table.copy()
    open_ = out["statut"].eq("") | out["statut"].isna()
    size = out.groupby("code_nouveau")["code_ancien"].transform("size")
    same = out["code_nouveau"] == out["code_ancien"]
    out.loc[open_ & (size > 1), "statut"] = "fusion"
    out.loc[open_ & (size == 1) & same, "statut"] = "identique"
    out.loc[open_ & (size == 1) & ~same, "statut"] = "recode"
    merged = out["statut"].eq("fusion")
    if merged.any():
        sub = out.loc[merged, ["code_nouveau", "code_ancien"]].sort_values("code_ancien")
        lists = sub.groupby("code_nouveau")["code_ancien"].agg(", ".join)
        out.loc[merged, "detail"] = "fusion de " + out.loc[merged, "code_nouveau"].map(lists)
    return out


def _valid_codes(communes: pd.DataFrame | None) -> set[str] | None:
    if communes is None:
        return None
    schema.require_columns(communes, ["typecom", schema.CODE_COMMUNE], what="communes (v_commune)")
    return set(communes.loc[communes["typecom"] == "COM", schema.CODE_COMMUNE].dropna())


def _code_table(codes: Sequence[str], movements, *, year, target_date, communes,
                collapse_arrondissements: bool = True) -> pd.DataFrame:
    start = _start_of(year)
    end = _as_timestamp(target_date, what="target_date")
    valid = _valid_codes(communes)
    codes = pd.Series(pd.array(list(dict.fromkeys(codes)), dtype="string"))
    wellformed = codes.str.match(_CODE_PATTERN).fillna(False).astype(bool)
    arm = codes.isin(list(ARRONDISSEMENTS)) if collapse_arrondissements else wellformed & False
    start_codes = codes.where(~arm, codes.map(ARRONDISSEMENTS))
    traced = _trace(start_codes[wellformed].tolist(), movements, start=start, end=end)
    traced = traced.set_index("code_ancien")

    base = pd.DataFrame({"code_ancien": codes, "_start": start_codes})
    base = base.join(traced, on="_start")
    base.loc[~wellformed, "code_nouveau"] = base.loc[~wellformed, "code_ancien"]
    base.loc[~wellformed, "statut"] = "inconnu"
    base.loc[~wellformed, "detail"] = "pas un code commune INSEE (5 caractères)"

    if start is not None and wellformed.any():
        # A code that moved before `year` was not a commune on 1 January of `year`:
        # the input is older than stated; follow the code from its own history.
        before = _trace(start_codes[wellformed].tolist(), movements, start=None, end=start)
        stale = before.loc[(before["code_nouveau"] != before["code_ancien"])
                           | before["statut"].eq("supprime"), "code_ancien"]
        stale_rows = base["_start"].isin(set(stale)) & wellformed
        if stale_rows.any():
            again = _trace(base.loc[stale_rows, "_start"].tolist(), movements, start=None,
                           end=end).set_index("code_ancien")
            for col in ("code_nouveau", "nom_nouveau", "date_effet"):
                base.loc[stale_rows, col] = base.loc[stale_rows, "_start"].map(again[col])
            base.loc[stale_rows, "statut"] = "hors_annee"
            base.loc[stale_rows, "detail"] = (
                f"pas une commune au 1er janvier {year}; suivi depuis son propre historique"
            )

    base.loc[arm & base["statut"].eq(""), "statut"] = "arrondissement"
    base.loc[arm, "detail"] = "arrondissement municipal rattaché à " + base.loc[arm, "_start"]
    base = base.drop(columns="_start")
    out = base[base["statut"].isin(["arrondissement"])]
    base = pd.concat([_classify(base[~base.index.isin(out.index)]), out]).loc[base.index]

    if valid is not None:
        unknown = ~base["code_nouveau"].isin(valid) & ~base["statut"].isin(["supprime", "inconnu"])
        base.loc[unknown, "detail"] = (
            "code " + base.loc[unknown, "code_nouveau"] + " absent de la liste des communes"
        )
        base.loc[unknown, "code_nouveau"] = base.loc[unknown, "code_ancien"]
        base.loc[unknown, "nom_nouveau"] = pd.NA
        base.loc[unknown, "statut"] = "inconnu"
    for col in ("code_nouveau", "nom_nouveau", "statut", "detail"):
        base[col] = base[col].astype("string")
    return base[list(REPORT_COLUMNS)].reset_index(drop=True)


def _warn(report: pd.DataFrame, *, what: str) -> None:
    problems = report[report["statut"].isin(PROBLEM_STATUSES)]
    if problems.empty:
        return
    parts = []
    for st in PROBLEM_STATUSES:
        sub = problems[problems["statut"] == st]
        if len(sub):
            ex = ", ".join(sub["code_ancien"].head(5))
            parts.append(f"{len(sub)} {st} (e.g. {ex})")
    warnings.warn(
        f"{what}: commune codes that could not be placed cleanly: {'; '.join(parts)}. "
        "They are kept (see return_report=True, column 'statut'); "
        "'scission': values of a split commune went whole to one successor; "
        "'inconnu'/'supprime': kept under their old code.",
        QpvgeoWarning,
        stacklevel=3,
    )


# -- COG-year detection ------------------------------------------------------------
@dataclass(frozen=True)
class CogYear:
    """What :func:`detect_cog_year` found: the COG year(s) a set of codes matches best.

    Attributes
    ----------
    year : int
        The year to use (the last of ``first``–``last``): the geography of 1 January.
    first, last : int
        The range of COG years in which the most codes are communes (the codes cannot
        tell these years apart).
    n_codes : int
        Distinct well-formed commune codes examined (arrondissements of Paris, Lyon and
        Marseille left out: they are valid in every year).
    n_valid : int
        How many of them are communes on 1 January of ``year``.
    n_missing : int
        Communes of ``year`` in the same départements that the codes lack (0 for a
        complete file of whole départements).
    scores : pandas.DataFrame
        Per COG year (index ``annee``): ``n_valides`` (codes that are communes) and
        ``n_absentes`` (communes of the départements the codes lack).
    evidence : pandas.DataFrame
        ``code_commune``, ``preuve`` and ``date_effet``: ``creee`` codes that became
        communes on ``first`` (the file is not older), ``disparue`` codes that stopped
        being communes just after ``last`` (it is not newer), ``absente`` communes of
        ``first - 1`` gone on ``first`` that the codes lack (it is not older either),
        ``invalide`` codes that are not communes in ``year`` (stale or unknown codes).
    """

    year: int
    first: int
    last: int
    n_codes: int
    n_valid: int
    n_missing: int
    scores: pd.DataFrame = field(repr=False)
    evidence: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        span = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        ev = self.evidence["preuve"].value_counts()
        parts = [f"{int(ev.get(k, 0))} {k}" for k in ("creee", "absente", "disparue", "invalide")
                 if ev.get(k, 0)]
        return (f"COG {span}: {self.n_valid} of {self.n_codes} codes are communes on "
                f"1 January {self.year}" + (f" (evidence: {', '.join(parts)})" if parts else ""))


def _first_cog_year(dates: pd.Series) -> np.ndarray:
    """COG year from which a move dated ``d`` is in the geography: COG Y is 1 January Y,
    so a move dated 1 January Y is in COG Y, a move of 2 January Y first in COG Y+1."""
    jan1 = (dates.dt.month == 1) & (dates.dt.day == 1)
    return (dates.dt.year + (~jan1).astype(int)).to_numpy()


def _validity(codes: Sequence[str], movements: pd.DataFrame, years: np.ndarray,
              valid_now: set[str] | None) -> pd.DataFrame:
    """Boolean frame code x COG year: is the code a commune on 1 January of the year."""
    m = movements
    wanted = set(codes)
    # A commune stops being one when a row takes it to another commune or to nothing;
    # rows towards a delegated / associated commune or an arrondissement (MOD 72, the
    # creation of Marseille's arrondissements) leave it a commune.
    to_com = m["typecom_ap"].eq("COM").fillna(False) & m["com_ap"].notna()
    gone = to_com | m["com_ap"].isna()
    com_av = (m["typecom_av"].eq("COM").fillna(False) & gone
              & m["com_av"].isin(wanted).fillna(False))
    com_ap = to_com & m["com_ap"].isin(wanted).fillna(False)
    # within a date, changes of département (MOD 41) come first; within a step the
    # sources stop being communes before the targets become (or stay) ones.
    ev = pd.concat([
        pd.DataFrame({"code": m.loc[com_av, "com_av"].to_numpy(dtype=object),
                      "date": m.loc[com_av, "date_eff"].to_numpy(),
                      "pass": np.where(m.loc[com_av, "mod"].eq(41).fillna(False), 0, 1),
                      "sub": 0, "state": 0.0}),
        pd.DataFrame({"code": m.loc[com_ap, "com_ap"].to_numpy(dtype=object),
                      "date": m.loc[com_ap, "date_eff"].to_numpy(),
                      "pass": np.where(m.loc[com_ap, "mod"].eq(41).fillna(False), 0, 1),
                      "sub": 1, "state": 1.0}),
    ], ignore_index=True)
    ev = ev.sort_values(["code", "date", "pass", "sub"], kind="stable")
    ev["year"] = np.clip(_first_cog_year(ev["date"]), years[0], years[-1])
    index = pd.Index(list(codes), name="code")
    # state before the first move: a code whose first move takes it away existed.
    initial = 1.0 - ev.groupby("code", sort=False)["state"].first()
    last = ev.groupby(["code", "year"], sort=False)["state"].last()
    mat = np.full((len(index), len(years)), np.nan)
    rows = index.get_indexer(last.index.get_level_values("code"))
    cols = last.index.get_level_values("year").to_numpy() - years[0]
    mat[rows, cols] = last.to_numpy()
    mat = pd.DataFrame(mat).ffill(axis=1).to_numpy()
    init = initial.reindex(index).to_numpy(dtype=float).copy()
    untouched = np.isnan(init)
    if valid_now is None:
        init[untouched] = 1.0  # never moved: a commune throughout
    else:
        init[untouched] = index[untouched].isin(valid_now).astype(float)
    mat = np.where(np.isnan(mat), init[:, None], mat)
    return pd.DataFrame(mat.astype(bool), index=index, columns=years)


def detect_cog_year(
    codes,
    movements: pd.DataFrame,
    *,
    communes: pd.DataFrame | None = None,
    code_column: str = schema.CODE_COMMUNE,
) -> CogYear:
    """Find the COG year a set of commune codes belongs to (R's ``COG_akinator``).

    INSEE's movements file says, for every code, when it became and stopped being a
    commune. The year whose geography (1 January) holds the most of the codes is the
    answer. Communes nouvelles usually keep the code of one merged commune, so several
    years often hold all of them: among those, the year whose communes of the same
    départements the codes lack least wins (a regional file of COG 2018 lacks none of
    2018, but lacks the communes merged in 2016 and 2017 for the years before). Years
    equal on both counts cannot be told apart and form the range.

    Parameters
    ----------
    codes : iterable of str, Series or DataFrame
        Commune codes (a leading zero lost by a spreadsheet is restored), or a frame
        with ``code_column``.
    movements : DataFrame
        :func:`qpvgeo.readers.cog.read_cog_movements` output; its last date bounds the
        years examined (COG 1943 to the movements' COG).
    communes : DataFrame, optional
        :func:`~qpvgeo.readers.cog.read_cog_communes` output of the same COG: codes the
        movements never mention are then communes only if listed there (otherwise they
        are taken as communes throughout, which is true of well-formed codes and does
        not change the ranking).
    code_column : str
        Column of ``codes`` when it is a frame.

    Returns
    -------
    CogYear
        ``year`` (last year of the best range), ``first``, ``last``, ``n_codes``,
        ``n_valid``, ``scores`` and the ``evidence`` (codes created on ``first``, gone
        after ``last``, invalid in ``year``).

    Raises
    ------
    DataFormatError
        No well-formed commune code.

    Examples
    --------
    >>> import pandas as pd
    >>> mvt = pd.DataFrame({
    ...     "mod": [32, 32], "date_eff": pd.to_datetime(["2019-01-01"] * 2),
    ...     "typecom_av": ["COM", "COM"], "com_av": ["60455", "60054"],
    ...     "typecom_ap": ["COM", "COM"], "com_ap": ["60054", "60054"],
    ...     "libelle_ap": ["Les Hauts-Talican"] * 2})
    >>> found = detect_cog_year(["60455", "60054", "59350"], mvt)
    >>> found.first, found.last, found.n_valid
    (1943, 2018, 3)
    >>> found.evidence.values.tolist()
    [['60455', 'disparue', Timestamp('2019-01-01 00:00:00')]]
    """
    _check_movements(movements)
    if isinstance(codes, pd.DataFrame):
        schema.require_columns(codes, [code_column], what="frame of commune codes")
        codes = codes[code_column]
    series = schema.normalise_commune_code(pd.Series(list(codes), dtype="object"))
    series = series.dropna().astype("string")
    series = series[series.str.match(_CODE_PATTERN).fillna(False).astype(bool)]
    series = series[~series.isin(list(ARRONDISSEMENTS))]
    uniq = sorted(set(series))
    if not uniq:
        raise DataFormatError("detect_cog_year: no well-formed commune code to examine")
    last_year = int(_first_cog_year(movements["date_eff"].iloc[[-1]]).max())
    last_year = max(last_year, int(movements["date_eff"].max().year))
    years = np.arange(1943, last_year + 1)
    valid = _valid_codes(communes)
    # The codes the input could have held: every commune code of its départements.
    deps = {schema.departement_of_commune(c) for c in uniq}
    known = set(movements["com_av"].dropna()) | set(movements["com_ap"].dropna())
    known |= valid or set()
    universe = sorted({c for c in known if schema.departement_of_commune(c) in deps}
                      - set(ARRONDISSEMENTS) | set(uniq))
    full = _validity(universe, movements, years, valid)
    present = full.index.isin(uniq)
    table = full[present]
    scores = pd.DataFrame({
        "n_valides": table.sum(axis=0).astype(int),
        # communes of the year in the input's départements that the input lacks: they
        # separate years the valid codes cannot (communes nouvelles keep an old code)
        "n_absentes": full[~present].sum(axis=0).astype(int),
    })
    scores.index.name = "annee"
    rank = scores.sort_values(["n_valides", "n_absentes"], ascending=[False, True])
    best = rank.iloc[0]
    top = scores.index[scores["n_valides"].eq(best["n_valides"])
                       & scores["n_absentes"].eq(best["n_absentes"])]
    # the best years form one run in practice; take the latest run if they do not
    run_end = int(top.max())
    run_start = run_end
    while run_start - 1 in set(top):
        run_start -= 1
    first, last = run_start, run_end

    when = movements["date_eff"]
    fy = pd.Series(_first_cog_year(when), index=movements.index)

    def dated(mask: pd.Series, year: int, pick: str) -> pd.Timestamp:
        d = when[mask & fy.eq(year)]
        return getattr(d, pick)() if len(d) else pd.NaT

    rows = []
    if first > years[0]:
        for c in table.index[table[first] & ~table[first - 1]]:
            rows.append((c, "creee", dated(movements["com_ap"].eq(c), first, "max")))
        for c in full.index[~present & full[first - 1] & ~full[first]]:
            rows.append((c, "absente", dated(movements["com_av"].eq(c), first, "min")))
    if last < years[-1]:
        for c in table.index[table[last] & ~table[last + 1]]:
            rows.append((c, "disparue", dated(movements["com_av"].eq(c), last + 1, "min")))
    for c in table.index[~table[last]]:
        rows.append((c, "invalide", pd.NaT))
    evidence = pd.DataFrame(rows, columns=[schema.CODE_COMMUNE, "preuve", "date_effet"])
    evidence[schema.CODE_COMMUNE] = evidence[schema.CODE_COMMUNE].astype("string")
    evidence["preuve"] = evidence["preuve"].astype("string")
    evidence["date_effet"] = pd.to_datetime(evidence["date_effet"])
    return CogYear(year=last, first=first, last=last, n_codes=len(uniq),
                   n_valid=int(scores.loc[last, "n_valides"]),
                   n_missing=int(scores.loc[last, "n_absentes"]), scores=scores,
                   evidence=evidence)


# -- public API ---------------------------------------------------------------------
def commune_code_table(
    movements: pd.DataFrame,
    *,
    year: int,
    target_date=None,
    communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Table of every commune code of COG ``year`` that changes up to the movements' date.

    Parameters
    ----------
    movements
        Output of :func:`qpvgeo.readers.cog.read_cog_movements`.
    year
        COG year of the old codes: the geography of 1 January of that year.
    target_date
        Stop at this date (inclusive, e.g. ``"2025-01-01"`` for COG 2025); default:
        the geography of the movements file.
    communes
        Optional :func:`~qpvgeo.readers.cog.read_cog_communes` output of the same COG
        as ``movements``, to check that every new code is a commune.

    Returns
    -------
    pandas.DataFrame
        One row per code that was a commune on 1 January of ``year`` and is touched by
        a later move (codes absent from the table are unchanged): the report columns
        ``code_ancien``, ``code_nouveau``, ``nom_nouveau``, ``statut``, ``date_effet``,
        ``detail`` (see :mod:`qpvgeo.cog`). Sorted by ``code_ancien``.

    Examples
    --------
    >>> import pandas as pd
    >>> mvt = pd.DataFrame({
    ...     "mod": [32, 32], "date_eff": pd.to_datetime(["2019-01-01"] * 2),
    ...     "typecom_av": ["COM", "COM"], "com_av": ["60455", "60054"],
    ...     "typecom_ap": ["COM", "COM"], "com_ap": ["60054", "60054"],
    ...     "libelle_ap": ["Les Hauts-Talican"] * 2})
    >>> t = commune_code_table(mvt, year=2018)
    >>> t[["code_ancien", "code_nouveau", "statut"]].values.tolist()
    [['60054', '60054', 'fusion'], ['60455', '60054', 'fusion']]
    """
    _check_movements(movements)
    start = _start_of(year)
    end = _as_timestamp(target_date, what="target_date")
    win = _window(movements, start, end)
    com = win[(win["typecom_av"] == "COM") & win["com_av"].notna()]
    # codes that come into being in the window (as a target not also a source that
    # day) were not communes on 1 January of `year`.
    first_src = com.groupby("com_av")["date_eff"].min()
    targets = win[(win["typecom_ap"] == "COM") & (win["com_ap"] != win["com_av"])]
    first_tgt = targets.groupby("com_ap")["date_eff"].min()
    born = first_tgt[first_tgt.index.isin(first_src.index)]
    born_later = set(born.index[born < first_src.loc[born.index]]) | set(
        first_tgt.index.difference(first_src.index)
    )
    codes = sorted(set(first_src.index) - born_later)
    table = _code_table(codes, movements, year=year, target_date=target_date,
                        communes=communes)
    return table.sort_values("code_ancien").reset_index(drop=True)


def harmonise_communes(
    frame: pd.DataFrame,
    *,
    movements: pd.DataFrame,
    year: int | None = None,
    code_column: str = schema.CODE_COMMUNE,
    additive: Sequence[str] | None = None,
    geometry: str = "union",
    target_date=None,
    communes: pd.DataFrame | None = None,
    by: Sequence[str] | None = None,
    collapse_arrondissements: bool = True,
    return_report: bool = False,
):
    """Bring a frame's commune codes to the geography of INSEE's movements file.

    Rows whose codes end up the same (merged communes) become one row: additive
    columns are summed, geometries unioned, other columns kept when all merged rows
    agree and NA otherwise. ``nom_commune`` takes the commune's new name, and
    ``code_departement`` / ``code_region`` follow the new code.

    Parameters
    ----------
    frame
        (Geo)DataFrame with a commune-code column.
    movements
        :func:`qpvgeo.readers.cog.read_cog_movements` output (e.g. COG 2026).
    year
        COG year of ``frame``'s codes (geography of 1 January). ``None``: detected with
        :func:`detect_cog_year` (the last year of the range it finds), announced in a
        :class:`~qpvgeo.errors.QpvgeoWarning` and recorded in ``attrs["cog_year"]``
        (``attrs["cog_year_detected"]`` is then True). Give it when you know it.
    code_column
        Column holding the codes (a leading zero lost by a spreadsheet is restored).
    additive
        Columns to sum. Default: every numeric column. A sum over merged rows is NA if
        one of them is NA (never a partial sum).
    geometry
        ``"union"`` (dissolve the geometries of merged rows) or ``"drop"`` (return a
        plain DataFrame).
    target_date
        Stop at this date (inclusive), e.g. ``"2025-01-01"`` for COG 2025.
    communes
        Optional :func:`~qpvgeo.readers.cog.read_cog_communes` output of the same COG
        as ``movements``: new codes absent from it are reported ``inconnu``.
    by
        Other columns that identify a row (e.g. ``["code_qpv"]`` for a QPV x commune
        table), kept in the grouping.
    collapse_arrondissements
        Bring the arrondissements of Paris, Lyon and Marseille to their commune
        (75056, 69123, 13055), as the populations légales do.
    return_report
        Also return the report (one row per input code; see :mod:`qpvgeo.cog`).

    Returns
    -------
    GeoDataFrame or DataFrame, or (frame, report) with ``return_report=True``.

    Raises
    ------
    SchemaError
        Missing code column, or an ``additive`` column absent or not numeric.

    Warns
    -----
    QpvgeoWarning
        Counts and example codes of splits, codes not valid in ``year``, removed and
        unknown codes (kept under their old code, never dropped); the detected year
        when ``year`` is not given.

    Examples
    --------
    >>> import pandas as pd
    >>> mvt = pd.DataFrame({
    ...     "mod": [32, 32], "date_eff": pd.to_datetime(["2019-01-01"] * 2),
    ...     "typecom_av": ["COM", "COM"], "com_av": ["60455", "60054"],
    ...     "typecom_ap": ["COM", "COM"], "com_ap": ["60054", "60054"],
    ...     "libelle_ap": ["Les Hauts-Talican"] * 2})
    >>> pop = pd.DataFrame({"code_commune": ["60455", "60054", "59350"],
    ...                     "population": [160, 450, 236234]})
    >>> harmonise_communes(pop, movements=mvt, year=2018)
      code_commune  population
    0        60054         610
    1        59350      236234
    """
    _check_movements(movements)
    if geometry not in ("union", "drop"):
        raise DataFormatError(f"geometry must be 'union' or 'drop', got {geometry!r}")
    schema.require_columns(frame, [code_column], what="frame to harmonise")
    by = list(by or [])
    schema.require_columns(frame, by, what="frame to harmonise (by=)")
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    geom_col = frame.geometry.name if is_geo else None

    data_cols = [c for c in frame.columns if c not in {code_column, geom_col, *by}]
    if additive is None:
        additive = [
            c for c in data_cols
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
    else:
        additive = list(additive)
        schema.require_columns(frame, additive, what="frame to harmonise (additive=)")
        bad = [c for c in additive if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise SchemaError(f"additive column(s) {bad} are not numeric")
    others = [c for c in data_cols if c not in additive]

    codes = schema.normalise_commune_code(frame[code_column])
    detected = year is None
    if detected:
        found = detect_cog_year(codes.dropna(), movements, communes=communes)
        year = found.year
        span = str(found.first) if found.first == found.last else f"{found.first}-{found.last}"
        warnings.warn(
            f"harmonise_communes: year= not given; the codes match COG {span} best "
            f"({found.n_valid} of {found.n_codes} codes are communes on 1 January "
            f"{found.year}): using year={found.year}. Pass year= to set it yourself",
            QpvgeoWarning, stacklevel=2,
        )
    report = _code_table(codes.dropna().tolist(), movements, year=year,
                         target_date=target_date, communes=communes,
                         collapse_arrondissements=collapse_arrondissements)
    report.attrs = {}
    _warn(report, what=f"harmonise_communes(year={year})")
    if codes.isna().any():
        warnings.warn(
            f"harmonise_communes: {int(codes.isna().sum())} row(s) without a commune code in "
            f"'{code_column}': kept, with an empty code", QpvgeoWarning, stacklevel=2,
        )
    new = codes.map(report.set_index("code_ancien")["code_nouveau"])
    new = new.where(codes.notna(), codes)


    work = pd.DataFrame(frame.drop(columns=[geom_col] if geom_col else []))
    work[code_column] = new.astype("string")
    keys = [code_column, *by]
    grouped = work.groupby(keys, sort=False, dropna=False)
    size = grouped.size()
    parts = []
    if additive:
        sums = grouped[additive].sum(min_count=1)
        complete = grouped[additive].count().eq(size, axis=0)
        parts.append(sums.where(complete))
    if others:
        first = grouped[others].first()
        agree = grouped[others].nunique(dropna=False).le(1)
        parts.append(first.where(agree))
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=size.index)
    out = out.reset_index()[[*keys, *additive, *others]]
    out = out[[c for c in frame.columns if c in out.columns]]
    for c in additive:
        # sums of integer columns stay integers (pandas gives float when NA appear)
        if pd.api.types.is_integer_dtype(frame[c]) and out[c].isna().any():
            out[c] = out[c].astype("Int64")

    renamed = report.dropna(subset=["nom_nouveau"]).set_index("code_ancien")
    if schema.NOM_COMMUNE in out.columns and not renamed.empty:
        fresh = renamed.drop_duplicates("code_nouveau").set_index("code_nouveau")["nom_nouveau"]
        name = out[code_column].map(fresh)
        out[schema.NOM_COMMUNE] = name.where(name.notna(), out[schema.NOM_COMMUNE])
    if schema.CODE_DEPARTEMENT in out.columns:
        dep = out[code_column].map(schema.departement_of_commune, na_action="ignore")
        out[schema.CODE_DEPARTEMENT] = dep.where(
            dep.notna(), out[schema.CODE_DEPARTEMENT]
        ).astype("string")
    if schema.CODE_REGION in out.columns:
        reg = out[code_column].map(schema.departement_of_commune, na_action="ignore").map(
            schema.REGION_OF_DEPARTEMENT, na_action="ignore"
        )
        out[schema.CODE_REGION] = reg.where(reg.notna(), out[schema.CODE_REGION]).astype("string")

    if is_geo and geometry == "union":
        geo = gpd.GeoDataFrame(work[keys], geometry=frame.geometry.values, crs=frame.crs)
        multi = geo.groupby(keys, sort=False, dropna=False)[keys[0]].transform("size") > 1
        single = geo[~multi]
        dissolved = geo[multi].dissolve(by=keys, sort=False, dropna=False).reset_index()
        shapes = pd.concat([single, dissolved[[*keys, geo.geometry.name]]], ignore_index=True)
        shapes = shapes.rename_geometry(geom_col) if geom_col != geo.geometry.name else shapes
        out = out.merge(shapes, on=keys, how="left", validate="one_to_one")
        out = gpd.GeoDataFrame(out, geometry=geom_col, crs=frame.crs)
    out = out.reset_index(drop=True)
    out.attrs["cog_year"] = int(year)
    out.attrs["cog_year_detected"] = detected
    if return_report:
        return out, report
    return out
