"""Writing tables for the people who open them: Excel-friendly CSV, written atomically.

French Excel opens a CSV correctly only with ``;`` separators, a UTF-8 byte-order mark
and decimal commas; other tools read the same file with
``pandas.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from qpvgeo._atomic import atomic_path


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike,
    *,
    excel: bool = True,
    index: bool = True,
) -> Path:
    """Write ``frame`` as CSV, atomically (a temporary file, then a rename).

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
    options = (
        {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"}
        if excel
        else {"sep": ",", "decimal": ".", "encoding": "utf-8"}
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=index, lineterminator="\n", **options)
    return Path(path)
