"""INSEE tables: per-QPV indicators and the populations légales of communes.

Layouts read: INSEE's QPV csv (RP 2013 ``pop_qp_2013``, DEMO 2019–2022, IPRO, Filosofi
``data_filoNN_qp_revdis``) and their spreadsheet versions with title rows above the
table, the Hackaviz Occitanie ``qp.csv``, the SIG Ville ``analyse_qpv.csv`` (one row per
(commune, QPV)), and the populations légales ``donnees_communes.csv`` (``COM``, ``PMUN``)
and INSEE's ``ensemble.xlsx`` layout (``Code département`` + ``Code commune``).
"""

from __future__ import annotations

import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, DuplicateCodeError, SchemaError
from qpvgeo.readers._common import (
    TABLE_SUFFIXES,
    PathLike,
    check_unique,
    checked_numbers,
    clean_name,
    find_column,
    is_numeric_text,
    qpv_millesime,
    read_table,
    resolve_input,
    to_number,
    warn,
)

#: Columns (lower case) that hold the QPV code in INSEE and SIG Ville tables.
INDICATOR_CODE_COLUMNS: tuple[str, ...] = (
    "codgeo", "code_qpv", "code_qp", "codeqpv", "qp", "code_quartier", "cod_qp",
)
#: Columns that hold the QPV name.
INDICATOR_NAME_COLUMNS: tuple[str, ...] = ("libgeo", "nom_qp", "lib_qp", "nom_qpv", "nom_quartier")
#: Columns describing the *commune* of a (commune, QPV) row (SIG Ville): they differ
#: between the rows of a QPV over several communes and are dropped when the rows are
#: collapsed to one per QPV (:func:`qpvgeo.readers.read_qpv_communes` keeps them).
COMMUNE_ROW_COLUMNS: frozenset[str] = frozenset(
    {"cog", "lib_com", "insee_com", "code_commune", "nom_commune", "depcom",
     "siren_epci", "lib_epci", "epci"}
)
#: Columns that are identifiers or labels, never parsed as numbers even if they look so.
_TEXT_PREFIXES = ("code", "cod_", "codgeo", "lib", "nom_", "insee", "siren", "epci", "liste", "uu")
_TEXT_NAMES = frozenset({"reg", "dep", "qp", "com", "cog", "nom", "commune", "region"})


def _is_text_column(name: str) -> bool:
    return name.startswith(_TEXT_PREFIXES) or name in _TEXT_NAMES


def _read_frame(src, *, header_candidates, sheet) -> pd.DataFrame:
    if src.suffix.lower() in TABLE_SUFFIXES:
        return read_table(src, header_candidates=header_candidates, sheet=sheet)
    import geopandas as gpd

    try:
        frame = gpd.read_file(src, engine="pyogrio", ignore_geometry=True)
    except Exception as exc:
        raise DataFormatError(f"{src}: cannot read as a table or vector layer: {exc}") from exc
    return pd.DataFrame(frame).astype("string").fillna("")


def read_qpv_indicators(
    path: PathLike, *, sheet: str | int | None = None
) -> pd.DataFrame:
    """Read an INSEE (or SIG Ville) per-QPV table, indexed by ``code_qpv``.

    Parameters
    ----------
    path
        CSV (``;`` or ``,``, sniffed; UTF-8 with or without BOM, or cp1252; quoted or
        not), xlsx or xls (title rows above the table are skipped: the header is the
        first row holding ``CODGEO``, ``qp``, ``code_qp``, ``codeQPV``…).
    sheet
        Spreadsheet sheet (name or position); the first by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code_qpv`` (one row per QPV). The publisher's columns, in lower
        case and stripped (``EVOL_CA_N_E `` -> ``evol_ca_n_e``); numeric columns parsed
        (decimal commas; U+202F, U+00A0 and space thousands separators; secrecy markers
        ``s``, ``nd``, ``ns``, ``c``, empty… -> NA, never 0). Plus:

        * the canonical aliases of :data:`qpvgeo.schema.INDICATOR_ALIASES`
          (``population``, ``taux_pauvrete``, ``revenu_disponible_median``…), numeric,
          taken from the first publisher column that exists;
        * ``nom_qpv`` when the file names the QPV, ``millesime`` (2015/2024, also in
          ``attrs["millesime"]``).

        ``population_communes`` / ``population_qpv_communes`` (INSEE ``POP_COM`` /
        ``POP_COM_QP``) describe the commune(s) *around* each QPV and repeat on every
        QPV of a commune: **never sum them across QPV**.

    Notes
    -----
    Rows whose code is not a QPV code (``Ensemble`` totals, blank lines) are dropped
    with a :class:`~qpvgeo.errors.QpvgeoWarning` giving their count. A table with one
    row per (commune, QPV) (SIG Ville ``analyse_qpv.csv``) is collapsed to one row per
    QPV after checking that every QPV-level column is constant over a QPV's rows; the
    commune columns (:data:`COMMUNE_ROW_COLUMNS`) are dropped. In IPRO tables ``A``
    counts category-A job seekers, so it is not aliased to ``allocataires_caf``.

    Raises
    ------
    SchemaError
        No QPV code column in the header.
    DuplicateCodeError
        A QPV's rows disagree on a QPV-level value (codes and columns named).
    MixedMillesimeError
        2015 and 2024 codes in one table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "demo.csv"
    >>> _ = f.write_text("CODGEO;POP_MUN;TX_TOT_ET\\nEnsemble;10\\u202f000;5,0\\n"
    ...                  "QP059001;6\\u202f490;s\\n", encoding="utf-8-sig")
    >>> import warnings; warnings.simplefilter("ignore")
    >>> t = read_qpv_indicators(f)
    >>> t.loc["QP059001", ["population", "tx_tot_et"]].tolist()
    [6490.0, nan]
    """
    src = resolve_input(path)
    raw = _read_frame(src, header_candidates=INDICATOR_CODE_COLUMNS, sheet=sheet)
    names = [clean_name(c) for c in raw.columns]
    frame = raw.copy()
    frame.columns = names
    frame = frame.loc[:, ~pd.Index(names).duplicated()]
    code_col = find_column(frame.columns, INDICATOR_CODE_COLUMNS)
    if code_col is None:
        raise SchemaError(
            f"{src}: no QPV code column (looked for {list(INDICATOR_CODE_COLUMNS)}); "
            f"columns present: {list(raw.columns)}"
        )
    codes = frame[code_col].astype("string").str.strip().str.upper()
    is_qpv = codes.map(schema.millesime_of_code).notna()
    if (~is_qpv).any():
        others = frame[code_col][~is_qpv.to_numpy()].replace("", "<empty>").astype(str)
        warn(
            f"{src}: dropped {int((~is_qpv).sum())} row(s) whose {code_col!r} is not a QPV "
            f"code (totals such as 'Ensemble'): {sorted(set(others))[:5]}"
        )
    frame, codes = frame[is_qpv.to_numpy()], codes[is_qpv]
    if frame.empty:
        raise DataFormatError(f"{src}: no row has a QPV code in {code_col!r}")
    millesime = qpv_millesime(codes, what=str(src))

    out = pd.DataFrame(index=pd.Index(codes.to_numpy(), name=schema.CODE_QPV, dtype="string"))
    for col in frame.columns:
        if col == code_col:
            continue
        values = frame[col].astype("string").str.strip()
        if not _is_text_column(col) and is_numeric_text(values):
            out[col] = to_number(values).to_numpy()
        else:
            out[col] = pd.array(values.replace("", pd.NA), dtype="string")
    out = _one_row_per_qpv(out, what=str(src))
    name_col = find_column(out.columns, INDICATOR_NAME_COLUMNS)
    if name_col is not None and schema.NOM_QPV not in out:
        out[schema.NOM_QPV] = out[name_col].astype("string")
    for alias, candidates in schema.INDICATOR_ALIASES.items():
        usable = [c for c in candidates if not (c == "a" and "abcde" in out.columns)]
        col = find_column(out.columns, usable)
        if col is None:
            continue
        values = out[col]
        if not pd.api.types.is_numeric_dtype(values):
            raise SchemaError(
                f"{src}: column {col!r} (alias {alias!r}) is not numeric: "
                f"{values.dropna().head(3).tolist()}"
            )
        out[alias] = values.astype("float64")
        if alias == schema.POPULATION:
            checked_numbers(out[alias], what=str(src), column=col, minimum=0,
                            maximum=schema.MAX_QPV_POPULATION, labels=out.index)
    year = _year_in(src.name)
    if year is not None:
        out.attrs["annee_source"] = year
    out[schema.MILLESIME] = pd.array([millesime] * len(out), dtype="Int64")
    out.attrs["millesime"] = millesime
    out.attrs["source"] = str(src)
    return out


def _one_row_per_qpv(frame: pd.DataFrame, *, what: str) -> pd.DataFrame:
    """Collapse (commune, QPV) rows to one per QPV; QPV-level values must agree."""
    dup = frame.index.duplicated(keep=False)
    if not dup.any():
        return frame
    rows = frame[dup]
    level_cols = [c for c in frame.columns if c not in COMMUNE_ROW_COLUMNS]
    # nunique(dropna=False) counts a secret cell as one more value: rows must agree on NA too.
    varying = rows[level_cols].groupby(level=0).nunique(dropna=False) > 1
    if varying.any().any():
        bad_codes = varying.index[varying.any(axis=1)].astype(str).tolist()
        bad_cols = varying.columns[varying.any(axis=0)].tolist()
        raise DuplicateCodeError(
            f"{what}: {len(bad_codes)} QPV code(s) appear on several rows with different "
            f"values in {bad_cols[:8]}: {bad_codes[:10]}"
        )
    n_rows, n_qpv = int(dup.sum()), int(rows.index.nunique())
    dropped = [c for c in frame.columns if c in COMMUNE_ROW_COLUMNS]
    warn(
        f"{what}: {n_rows} rows for {n_qpv} QPV (one row per commune of the QPV) collapsed "
        f"to one row per QPV (QPV-level values checked equal); commune columns {dropped} dropped "
        "(read_qpv_communes gives the membership)"
    )
    out = frame[~frame.index.duplicated(keep="first")]
    return out.drop(columns=dropped)


# -- populations légales ------------------------------------------------------------------

_POP_CODE = ("com", "codgeo", "depcom", "code_commune", "code_insee", "insee_com")
_POP_CODCOM = ("codcom", "code commune")
_POP_DEP = ("dep", "code département", "code departement", "code_departement")
_POP_REG = ("reg", "code région", "code region", "code_region")
_POP_NAME = ("commune", "nom de la commune", "libgeo", "nom_commune", "lib_com", "nom")
_POP_VALUE = (
    "pmun", "population municipale", "population_municipale", "pop_mun", "population",
)


def read_commune_population(path: PathLike, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read INSEE populations légales: one row per commune.

    Parameters
    ----------
    path
        INSEE ``donnees_communes.csv`` layout (``REG;Région;DEP;…;COM;Commune;PMUN;
        PCAP;PTOT``) or INSEE's spreadsheet (sheet ``Communes`` of ``ensemble.xlsx``:
        title rows above the header, ``Code département`` + 3-digit ``Code commune``).
    sheet
        Spreadsheet sheet; the first by default.

    Returns
    -------
    pandas.DataFrame
        ``code_commune``, ``nom_commune``, ``population`` (population municipale,
        Int64), ``code_departement``, ``code_region``.

    Raises
    ------
    DuplicateCodeError
        A commune code appears twice.
    SchemaError
        No commune code or population column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "pop.csv"
    >>> _ = f.write_text("REG;DEP;COM;Commune;PMUN\\n32;59;59350;Lille;238246\\n")
    >>> p = read_commune_population(f)
    >>> p[["code_commune", "nom_commune", "code_departement", "code_region"]].iloc[0].tolist()
    ['59350', 'Lille', '59', '32']
    >>> int(p["population"].sum())
    238246
    """
    src = resolve_input(path)
    raw = read_table(src, header_candidates=_POP_CODE + _POP_CODCOM, sheet=sheet)
    code_col = find_column(raw.columns, _POP_CODE)
    dep_col = find_column(raw.columns, _POP_DEP)
    reg_col = find_column(raw.columns, _POP_REG)
    name_col = find_column(raw.columns, _POP_NAME)
    pop_col = find_column(raw.columns, _POP_VALUE)
    if code_col is not None:
        codes = schema.normalise_commune_code(raw[code_col])
    else:
        codcom_col = find_column(raw.columns, _POP_CODCOM)
        if codcom_col is None or dep_col is None:
            raise SchemaError(
                f"{src}: no commune code column ({list(_POP_CODE)}, or département + "
                f"{list(_POP_CODCOM)}); columns present: {list(raw.columns)}"
            )
        # INSEE's spreadsheet splits the code: "59" + "350"; overseas "971" + "101" -> 97101.
        dep = raw[dep_col].astype("string").str.strip().str.zfill(2)
        codes = (dep.str[:2] + raw[codcom_col].astype("string").str.strip().str.zfill(3))
    if pop_col is None:
        raise SchemaError(
            f"{src}: no population column (looked for {list(_POP_VALUE)}); "
            f"columns present: {list(raw.columns)}"
        )
    codes = codes.astype("string")
    bad = codes[~codes.fillna("").str.fullmatch(r"[0-9][0-9AB][0-9]{3}")]
    if len(bad):
        raise DataFormatError(
            f"{src}: {len(bad)} value(s) of {code_col or 'the code'} are not commune codes: "
            f"{bad.astype(str).head(5).tolist()}"
        )
    check_unique(codes, what=str(src), column=code_col or "code_commune")
    departements = (
        raw[dep_col].astype("string").str.strip().str.zfill(2)
        if dep_col else codes.map(schema.departement_of_commune)
    )
    regions = (
        raw[reg_col].astype("string").str.strip().str.zfill(2)
        if reg_col else departements.map(schema.REGION_OF_DEPARTEMENT)
    )
    out = pd.DataFrame(
        {
            schema.CODE_COMMUNE: codes.to_numpy(),
            schema.NOM_COMMUNE: (raw[name_col].astype("string").str.strip().to_numpy()
                                 if name_col else pd.NA),
            schema.POPULATION: _population_counts(raw[pop_col], src=src, column=pop_col,
                                                  codes=codes).to_numpy(),
            schema.CODE_DEPARTEMENT: departements.to_numpy(),
            schema.CODE_REGION: regions.to_numpy(),
        }
    )
    out = out.astype(schema.COMMUNE_POPULATION_COLUMNS)
    missing = out[schema.POPULATION].isna()
    if missing.any():
        warn(
            f"{src}: {int(missing.sum())} commune(s) without a population in {pop_col!r} "
            f"({', '.join(out.loc[missing, schema.CODE_COMMUNE].head(5).tolist())}"
            f"{' …' if missing.sum() > 5 else ''}); their territories' populations will be NA"
        )
    year = _year_in(src.name) or _year_in(pop_col)
    if year is not None:
        out.attrs["annee_source"] = year
    out.attrs["source"] = str(src)
    return out


def _year_in(text: str) -> int | None:
    """The year a file name or column states (``populations_legales_2023``, ``pmun2021``)."""
    import re

    # "cog2025" / "geo2024" name a geography, not the year of the figures.
    text = re.sub(r"(?i)(cog|geo|geographie|qp)[_-]?(19|20)[0-9]{2}", "", str(text))
    found = re.findall(r"(?<![0-9])(19[6-9][0-9]|20[0-4][0-9])(?![0-9])", text)
    return int(found[0]) if len(set(found)) == 1 else None


def _population_counts(values: pd.Series, *, src, column: str, codes: pd.Series) -> pd.Series:
    num = checked_numbers(values, what=str(src), column=column, minimum=0,
                          maximum=schema.MAX_COMMUNE_POPULATION, labels=codes.to_numpy())
    frac = num.dropna() % 1
    if (frac != 0).any():
        bad = frac.index[frac != 0]
        raise DataFormatError(
            f"{src}: column {column!r} has non-integer populations (communes "
            f"{', '.join(codes.to_numpy()[bad][:5].astype(str))})"
        )
    return num.round().astype("Int64")
