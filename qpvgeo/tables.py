"""Writing tables for the people who open them: Excel-friendly CSV, written atomically.

French Excel opens a CSV correctly only with ``;`` separators, a UTF-8 byte-order mark
and decimal commas; other tools read the same file with
``pandas.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")``.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula. A name taken from a publisher's file (``=HYPERLINK(...)``) must not
become one, so every text cell written for a spreadsheet goes through
:func:`escape_formulas` (the OWASP "CSV injection" rule: prefix such a cell with ``'``,
which spreadsheets show as text and do not display). Numbers are never changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from qpvgeo._atomic import atomic_path

__all__ = ["FORMULA_PREFIXES", "escape_formulas", "write_csv"]

#: First characters that make a spreadsheet cell a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    A text cell (column values, index labels and column names) starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``. Numeric
    columns are left as they are (a negative number is a number, not a formula).

    Examples
    --------
    >>> t = pd.DataFrame({"nom_qpv": ["=1+1", "Bois Blancs"], "solde": [-3, 4]})
    >>> escape_formulas(t)["nom_qpv"].tolist()
    ["'=1+1", 'Bois Blancs']
    >>> escape_formulas(t)["solde"].tolist()
    [-3, 4]
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_escape_cell)
    if pd.api.types.is_object_dtype(out.index) or pd.api.types.is_string_dtype(out.index):
        out.index = out.index.map(_escape_cell)
    out.columns = [_escape_cell(c) for c in out.columns]
    return out


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike,
    *,
    excel: bool = True,
    index: bool = True,
) -> Path:
    """Write ``frame`` as CSV, atomically (a temporary file, then a rename).

    With ``excel=True`` text cells are escaped by :func:`escape_formulas`.

    Parameters
    ----------
    frame
        The table; geometry columns are dropped (use GeoPackage for geometries).
    path
        Target file; its folder is created.
    excel
        ``True``: ``;`` separator, UTF-8 with BOM, decimal comma (French Excel).
        ``False``: ``,`` separator, UTF-8, decimal point.
    index
        Write the index (its name becomes the first header).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "parts.csv"
    >>> _ = write_csv(pd.DataFrame({"part_qpv": [0.125]}, index=pd.Index(["32"], name="code")), out)
    >>> out.read_text(encoding="utf-8-sig")
    'code;part_qpv\\n32;0,125\\n'
    """
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    if excel:
        table = escape_formulas(table)
    options = (
        {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"}
        if excel
        else {"sep": ",", "decimal": ".", "encoding": "utf-8"}
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=index, lineterminator="\n", **options)
    return Path(path)
