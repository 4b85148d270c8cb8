"""Readers of INSEE's Code officiel géographique (COG) files.

Two files of each yearly COG release matter to qpvgeo:

``v_mvt_commune_YYYY`` (``mouvements_communes.csv``)
    every change of a commune since 1943, one row per (before, after) pair;
    read by :func:`read_cog_movements`.
``v_commune_YYYY`` (``communes.csv``)
    every commune code valid on 1 January of the year, with delegated / associated
    communes and municipal arrondissements; read by :func:`read_cog_communes`.

Both are INSEE's own CSV (comma-separated, UTF-8, header row; column names upper case
since COG 2020, lower case in COG 2019). The readers keep INSEE's columns in lower case,
parse the dates and add the canonical names of :mod:`qpvgeo.schema` where one exists.
Only these layouts (COG 2019 onwards) are read: the older ``historiq`` layout has no
``(before, after)`` pairs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError

__all__ = ["read_cog_communes", "read_cog_movements"]

#: Columns of ``v_mvt_commune_YYYY`` qpvgeo needs (lower case).
MOVEMENT_COLUMNS: tuple[str, ...] = (
    "mod", "date_eff", "typecom_av", "com_av", "libelle_av", "typecom_ap", "com_ap",
    "libelle_ap",
)
#: Columns of ``v_commune_YYYY`` qpvgeo needs (lower case).
COMMUNE_COLUMNS: tuple[str, ...] = ("typecom", "com", "reg", "dep", "libelle", "comparent")


def _read_insee_csv(path: str | os.PathLike, *, what: str) -> tuple[Path, pd.DataFrame]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file ({what})")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    # INSEE ships commas; a spreadsheet round-trip gives semicolons.
    sep = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pd.read_csv(
            path, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=False,
            na_values=[""],
        )
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"{path}: cannot be read as an INSEE CSV ({what}): {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return path, frame


def _codes(values: pd.Series) -> pd.Series:
    return schema.normalise_commune_code(values).astype("string")


def read_cog_movements(path: str | os.PathLike) -> pd.DataFrame:
    """Read INSEE's table of commune movements (``v_mvt_commune_YYYY``).

    Parameters
    ----------
    path
        ``mouvements_communes.csv`` / ``v_mvt_commune_2026.csv`` (COG 2019 onwards).

    Returns
    -------
    pandas.DataFrame
        INSEE's columns in lower case: ``mod`` (Int64 event type: 10 name change,
        21 re-establishment, 31/32/33/34 mergers, 41 and 50 code changes…), ``date_eff``
        (datetime64), ``typecom_av``, ``com_av``, ``libelle_av``, ``typecom_ap``,
        ``com_ap``, ``libelle_ap`` and the other ``*_av`` / ``*_ap`` columns; codes as
        5-character strings. Rows are sorted by date.

    Raises
    ------
    DataFormatError
        Missing file, unreadable CSV, or an unparseable ``DATE_EFF`` / ``MOD``.
    SchemaError
        A required column is missing (the message names it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "mvt.csv"
    >>> _ = f.write_text(
    ...     "MOD,DATE_EFF,TYPECOM_AV,COM_AV,LIBELLE_AV,TYPECOM_AP,COM_AP,LIBELLE_AP\\n"
    ...     "32,2019-01-01,COM,60455,La Neuville-Garnier,COM,60054,Les Hauts-Talican\\n")
    >>> m = read_cog_movements(f)
    >>> int(m.loc[0, "mod"]), m.loc[0, "com_ap"], m.loc[0, "date_eff"].year
    (32, '60054', 2019)
    """
    path, frame = _read_insee_csv(path, what="INSEE v_mvt_commune")
    schema.require_columns(frame, MOVEMENT_COLUMNS, what=f"{path} (INSEE v_mvt_commune)")
    out = frame.copy()
    mod = pd.to_numeric(out["mod"], errors="coerce")
    if mod.isna().any():
        bad = out.loc[mod.isna(), "mod"].unique()[:5].tolist()
        raise DataFormatError(f"{path}: column MOD holds non-numeric values {bad}")
    out["mod"] = mod.astype("Int64")
    dates = pd.to_datetime(out["date_eff"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        bad = out.loc[dates.isna(), "date_eff"].unique()[:5].tolist()
        raise DataFormatError(f"{path}: column DATE_EFF holds unreadable dates {bad}")
    out["date_eff"] = dates
    for col in ("com_av", "com_ap"):
        out[col] = _codes(out[col])
    for col in ("typecom_av", "typecom_ap"):
        out[col] = out[col].astype("string").str.strip().str.upper()
    out = out.sort_values("date_eff", kind="stable").reset_index(drop=True)
    out.attrs["source"] = str(path)
    return out


def read_cog_communes(path: str | os.PathLike) -> pd.DataFrame:
    """Read INSEE's list of communes (``v_commune_YYYY``).

    Parameters
    ----------
    path
        ``communes_cog.csv`` / ``v_commune_2026.csv`` (COG 2019 onwards).

    Returns
    -------
    pandas.DataFrame
        INSEE's columns in lower case (``typecom``: ``COM``, ``COMD``, ``COMA``,
        ``ARM``; ``comparent``: parent commune of a COMD/COMA/ARM…) plus the canonical
        ``code_commune`` (= ``com``), ``nom_commune`` (= ``libelle``),
        ``code_departement`` and ``code_region`` (empty for COMD/COMA/ARM rows, as in
        INSEE's file). One row per (typecom, code): a code can be both a commune and a
        delegated commune.

    Raises
    ------
    DataFormatError, SchemaError
        Missing file or columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "communes.csv"
    >>> _ = f.write_text(
    ...     "TYPECOM,COM,REG,DEP,LIBELLE,COMPARENT\\n"
    ...     "COM,59350,32,59,Lille,\\nCOMD,59298,,,Hellemmes-Lille,59350\\n")
    >>> c = read_cog_communes(f)
    >>> c[["typecom", "code_commune", "code_region", "comparent"]].values.tolist()
    [['COM', '59350', '32', <NA>], ['COMD', '59298', <NA>, '59350']]
    """
    path, frame = _read_insee_csv(path, what="INSEE v_commune")
    schema.require_columns(frame, COMMUNE_COLUMNS, what=f"{path} (INSEE v_commune)")
    out = frame.copy()
    out["typecom"] = out["typecom"].astype("string").str.strip().str.upper()
    out["com"] = _codes(out["com"])
    out["comparent"] = _codes(out["comparent"])
    dup = out.duplicated(["typecom", "com"], keep=False)
    if dup.any():
        raise SchemaError(
            f"{path}: (TYPECOM, COM) pairs repeated: "
            f"{out.loc[dup, ['typecom', 'com']].drop_duplicates().head(5).values.tolist()}"
        )
    out[schema.CODE_COMMUNE] = out["com"]
    out[schema.NOM_COMMUNE] = out["libelle"].astype("string")
    out[schema.CODE_DEPARTEMENT] = out["dep"].astype("string")
    out[schema.CODE_REGION] = out["reg"].astype("string")
    out.attrs["source"] = str(path)
    return out
