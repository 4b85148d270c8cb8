"""QPV contours and QPV x commune membership, from the publishers' layouts.

Layouts read (column names are matched case-insensitively):

* ANCT 2024 contours: ``code_qp``, ``lib_qp``, ``insee_dep``, ``insee_com`` / ``lib_com``
  (``", "``-separated lists for a QPV over several communes);
* CGET/ANCT 2015 shapefile: ``CODE_QP``, ``NOM_QP``, ``COMMUNE_QP`` (commune *names*,
  cp1252 DBF without ``.cpg``, decoded by GDAL from the DBF language byte);
* Toulouse DataViz Hackaviz ``qp.geojson``: ``code_qp``, ``nom_qp``, ``code_commune``;
* opendatasoft exports: ``code_quartier``, ``nom_quartier``, ``commune_qp``…;
* ANCT list ``qpv2024_code_commune.csv`` and ``centroide-4326_qpv.geojson`` (lists of
  QPV per commune), SIG Ville ``analyse_qpv.csv`` (``COG``, ``codeQPV``) and INSEE
  ``pop_qp_2013`` (``qp``, ``liste_des_communes``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import (
    TABLE_SUFFIXES,
    PathLike,
    canonical_polygons,
    check_unique,
    find_column,
    normalise_name,
    qpv_millesime,
    read_geo_table,
    read_table,
    read_vector,
    resolve_input,
    split_list,
    warn,
)

#: Publisher columns holding the QPV code, most specific first.
QPV_CODE_COLUMNS: tuple[str, ...] = (
    "code_qpv", "code_qp", "codeqpv", "code_quartier", "cod_qp", "codgeo", "qp", "code",
)
#: Publisher columns holding the QPV name.
QPV_NAME_COLUMNS: tuple[str, ...] = (
    "nom_qpv", "nom_qp", "lib_qp", "libgeo", "nom_quartier", "lib_quartier", "nom",
)
#: Publisher columns holding INSEE commune code(s) of the QPV.
COMMUNE_CODE_COLUMNS: tuple[str, ...] = (
    "code_commune", "insee_com", "code_insee", "codes_communes", "cog", "depcom", "insee",
)
#: Publisher columns holding commune name(s) of the QPV.
COMMUNE_NAME_COLUMNS: tuple[str, ...] = (
    "nom_commune", "lib_com", "noms_communes", "commune_qp", "liste_des_communes",
    "communes", "nom_com", "commune",
)

#: Extra, non-canonical columns of :func:`read_qpv`.
CODES_COMMUNES = "codes_communes"  # every commune code the publisher lists, ", "-separated
NOMS_COMMUNES = "noms_communes"  # every commune name the publisher lists, ", "-separated

_PLM_CITY = re.compile(r"^\s*(paris|lyon|marseille)\b(.*)$", re.IGNORECASE)
_ORDINALS = re.compile(
    r"^\s*\d+\s*(?:er|e|ème|eme)?(?:\s*(?:et|,)\s*\d+\s*(?:er|e|ème|eme)?)*"
    r"(?:\s+arrondissements?)?\s*$",
    re.IGNORECASE,
)
_PLM_KEY = re.compile(r"^(paris|lyon|marseille) (\d+)(?:er|e|eme)?(?: arrondissements?)?$")


def _split_commune_names(cell: object) -> list[str]:
    """Split a list of commune names; expand Paris/Lyon/Marseille arrondissements.

    ``"Marseille 3ème, 1er et 15ème arrondissements"`` -> ``["Marseille 3",
    "Marseille 1", "Marseille 15"]``; ``"Lille, Loos,  Lezennes,"`` -> 3 names.

    Examples
    --------
    >>> _split_commune_names("Marseille 3ème, 1er et 15ème arrondissements, Hem")
    ['Marseille 3', 'Marseille 1', 'Marseille 15', 'Hem']
    """
    if not isinstance(cell, str):
        return []
    out: list[str] = []
    city = None
    for seg in (x.strip() for x in cell.split(",")):
        if not seg:
            continue
        m = _PLM_CITY.match(seg)
        if m:
            city, rest = m.group(1).title(), m.group(2)
        elif city is not None and _ORDINALS.match(seg):
            rest = seg
        else:
            city = None
            out.append(seg)
            continue
        nums = re.findall(r"\d+", rest)
        out.extend([f"{city} {int(n)}" for n in nums] if nums else [city])
    return out


def _commune_key(names: pd.Series) -> pd.Series:
    """normalise_name, with "Marseille 1er Arrondissement" and "Marseille 1" alike."""
    key = normalise_name(names)
    found = key.str.extract(_PLM_KEY)
    plm = found[0].notna()
    return key.mask(plm, found[0] + " " + found[1].astype("float").astype("Int64").astype("string"))


def _codes(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.upper()


def _require_code_column(columns, path) -> str:
    col = find_column(columns, QPV_CODE_COLUMNS)
    if col is None:
        shown = [c for c in columns if c != "geometry"]
        raise SchemaError(
            f"{path}: no QPV code column (looked for {list(QPV_CODE_COLUMNS)}); "
            f"columns present: {shown}"
        )
    return col


def _normalise_code_lists(lists: pd.Series) -> pd.Series:
    """normalise_commune_code on every item of a Series of lists, in one vectorised pass."""
    flat = lists.explode()
    codes = schema.normalise_commune_code(flat.dropna().astype("string"))
    grouped = codes.groupby(level=0, sort=False).agg(list).reindex(lists.index)
    # dtype=object: pandas 3 would store lists as a pyarrow list column, whose items come
    # back as numpy arrays (and `if xs` on an empty array raises).
    return pd.Series([list(v) if isinstance(v, list | np.ndarray) else [] for v in grouped],
                     index=lists.index, dtype=object)


def _join(items: list[str]) -> object:
    return ", ".join(items) if len(items) else pd.NA


def read_qpv(
    path: PathLike,
    *,
    crs: object | None = None,
    communes: gpd.GeoDataFrame | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read QPV contours into the canonical QPV frame (EPSG:2154).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, shapefile or zipped shapefile in one of the layouts of the
        module docstring, or an opendatasoft CSV export (geometry as GeoJSON text in
        ``Geo Shape``, or WKT).
    crs
        CRS of the coordinates when the file declares none (otherwise ignored).
    communes
        Commune boundaries (:func:`qpvgeo.readers.read_communes`). When given, the main
        commune of a QPV is the one holding most of its area, among the communes the
        file lists for it if it lists codes, among all communes otherwise (CGET 2015
        layout, which names communes but gives no code).
    layer
        Layer of a multi-layer file (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_qpv``, ``nom_qpv``, ``millesime`` (2015 or 2024, from the codes),
        ``code_departement`` (from the code), ``code_commune`` (main commune; NA when
        unknown), ``codes_communes`` / ``noms_communes`` (every commune the file lists,
        ``", "``-separated, NA when it lists none) and ``geometry``. Invalid geometries
        are repaired (polygonal parts kept) with a :class:`~qpvgeo.errors.QpvgeoWarning`.

    Raises
    ------
    SchemaError
        No QPV code column (the message lists the columns present).
    MissingCRSError
        No CRS in the file and no ``crs=``.
    DuplicateCodeError
        A QPV code appears twice (named).
    MixedMillesimeError
        2015 and 2024 codes in one file.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "qpv.geojson"
    >>> gpd.GeoDataFrame({"code_qp": ["QN05972M"], "lib_qp": ["Secteur Sud"],
    ...                   "insee_com": ["59220, 59350"]},
    ...                  geometry=[box(3.05, 50.60, 3.07, 50.61)], crs=4326).to_file(f)
    >>> q = read_qpv(f)
    >>> q.loc[0, ["code_qpv", "code_departement", "code_commune"]].tolist()
    ['QN05972M', '59', '59220']
    >>> int(q.loc[0, "millesime"])
    2024
    """
    src = resolve_input(path)
    if src.suffix.lower() in TABLE_SUFFIXES:
        raw = read_geo_table(src, header_candidates=QPV_CODE_COLUMNS)
    else:
        raw = read_vector(src, layer=layer)
    code_col = _require_code_column(raw.columns, src)
    codes = _codes(raw[code_col])
    if codes.isna().any() or (codes == "").any():
        raise DataFormatError(f"{src}: {int((codes.isna() | (codes == '')).sum())} feature(s) "
                              f"have an empty {code_col!r}")
    millesime = qpv_millesime(codes, what=str(src))
    check_unique(codes, what=str(src), column=code_col)

    name_col = find_column(raw.columns, QPV_NAME_COLUMNS)
    names = (raw[name_col].astype("string").str.strip() if name_col
             else pd.Series(pd.NA, index=raw.index, dtype="string"))
    com_col = find_column(raw.columns, COMMUNE_CODE_COLUMNS)
    com_lists = (split_list(raw[com_col].astype("string")) if com_col
                 else pd.Series([[] for _ in range(len(raw))], index=raw.index))
    com_lists = _normalise_code_lists(com_lists)
    comname_col = find_column(raw.columns, COMMUNE_NAME_COLUMNS)
    comname_lists = (split_list(raw[comname_col].astype("string")) if comname_col
                     else pd.Series([[] for _ in range(len(raw))], index=raw.index))

    frame = gpd.GeoDataFrame(
        {
            schema.CODE_QPV: codes.astype("string"),
            schema.NOM_QPV: names.astype("string"),
            schema.MILLESIME: pd.array([millesime] * len(raw), dtype="Int64"),
            schema.CODE_DEPARTEMENT: codes.map(schema.departement_of_qpv).astype("string"),
            schema.CODE_COMMUNE: com_lists.map(lambda xs: xs[0] if xs else pd.NA).astype("string"),
            CODES_COMMUNES: com_lists.map(_join).astype("string"),
            NOMS_COMMUNES: comname_lists.map(_join).astype("string"),
        },
        geometry=raw.geometry.values,
        crs=raw.crs,
        index=raw.index,
    )
    frame = canonical_polygons(frame, crs=crs, path=src, id_column=schema.CODE_QPV)
    if communes is not None:
        frame = _main_commune_by_area(frame, communes, listed=com_lists)
    return frame.reset_index(drop=True)


def _main_commune_by_area(
    qpv: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, *, listed: pd.Series
) -> gpd.GeoDataFrame:
    """Set ``code_commune`` to the commune holding most of each QPV's area.

    Among the communes the publisher lists for the QPV when it lists two or more (the
    overlay only arbitrates between them), among all communes when it lists none; a
    single listed code is kept as published. QPV outside ``communes`` keep what they had.
    """
    schema.require_columns(communes, [schema.CODE_COMMUNE, "geometry"], what="communes")
    com = schema.to_canonical_crs(communes[[schema.CODE_COMMUNE, "geometry"]], what="communes")
    pieces = gpd.overlay(
        qpv[[schema.CODE_QPV, "geometry"]].reset_index(names="_row"),
        com,
        how="intersection",
        keep_geom_type=True,
    )
    pieces["_area"] = pieces.geometry.area
    n_listed = listed.map(len)
    allowed = pd.DataFrame(
        [(row, c) for row, xs in listed.items() if len(xs) > 1 for c in xs],
        columns=["_row", schema.CODE_COMMUNE],
    )
    free_rows = n_listed.index[n_listed == 0]
    from_list = pieces.merge(allowed, on=["_row", schema.CODE_COMMUNE], how="inner")
    free = pieces[pieces["_row"].isin(free_rows)]
    cand = pd.concat([from_list, free], ignore_index=True)
    cand = cand[cand["_area"] > 0]
    best = cand.sort_values(["_row", "_area"], ascending=[True, False]).drop_duplicates("_row")
    out = qpv.copy()
    code = out[schema.CODE_COMMUNE].copy()
    code.loc[best["_row"].to_numpy()] = best[schema.CODE_COMMUNE].astype("string").to_numpy()
    out[schema.CODE_COMMUNE] = code.astype("string")
    return out


# -- membership -------------------------------------------------------------------------


def _read_any_table(src, *, header_candidates: Sequence[str]) -> pd.DataFrame:
    if src.suffix.lower() in TABLE_SUFFIXES:
        return read_table(src, header_candidates=header_candidates)
    try:
        frame = gpd.read_file(src, engine="pyogrio", ignore_geometry=True)
    except Exception as exc:
        raise DataFormatError(f"{src}: cannot read as a table or vector layer: {exc}") from exc
    return pd.DataFrame(frame)


def read_qpv_communes(
    path: PathLike, *, communes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read which communes each QPV covers: one row per (QPV, commune).

    Parameters
    ----------
    path
        ANCT ``qpv2024_code_commune.csv`` or ``centroide-4326_qpv.geojson`` (whose
        ``code_qp`` / ``lib_qp`` hold comma-separated lists, exploded here), SIG Ville
        ``analyse_qpv.csv`` (``COG`` lost its leading zero: restored), ANCT 2024
        contours (``insee_com`` lists), or 2015 sources that only give commune *names*:
        the CGET shapefile (``COMMUNE_QP``) and INSEE ``pop_qp_2013`` csv/xls
        (``liste_des_communes``).
    communes
        Needed for name-only sources (and used to fill missing commune names of the
        others): a frame with ``code_commune`` and ``nom_commune``
        (:func:`~qpvgeo.readers.read_communes` or
        :func:`~qpvgeo.readers.read_commune_population`). Names are matched within the
        QPV's département, ignoring accents, case, hyphens and ``St``/``Saint``; when a
        name has homonyms in the département, the most populated commune is taken if
        ``communes`` has a ``population`` column. "Paris/Lyon/Marseille …
        arrondissement(s)" maps to the whole city (75056, 69123, 13055).

    Returns
    -------
    pandas.DataFrame
        ``code_qpv``, ``nom_qpv``, ``code_commune``, ``nom_commune``,
        ``code_departement`` (the QPV's), sorted by QPV then commune, no duplicate pair.
        Names that match no commune are left out and listed in a
        :class:`~qpvgeo.errors.QpvgeoWarning` (and in ``attrs["unmatched"]``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "list.csv"
    >>> _ = f.write_text("COG,lib_com,codeQPV,lib_qp\\n1053,Bourg-en-Bresse,QN00101M,Reyssouze\\n")
    >>> read_qpv_communes(f)[["code_qpv", "code_commune"]].iloc[0].tolist()
    ['QN00101M', '01053']
    """
    src = resolve_input(path)
    raw = _read_any_table(src, header_candidates=QPV_CODE_COLUMNS)
    code_col = _require_code_column(raw.columns, src)
    name_col = find_column(raw.columns, QPV_NAME_COLUMNS)
    com_col = find_column(raw.columns, COMMUNE_CODE_COLUMNS)
    comname_col = find_column(raw.columns, COMMUNE_NAME_COLUMNS)
    if com_col is None and comname_col is None:
        raise SchemaError(
            f"{src}: no commune column (codes: {list(COMMUNE_CODE_COLUMNS)}, names: "
            f"{list(COMMUNE_NAME_COLUMNS)}); columns present: {list(raw.columns)}"
        )

    def col(c):
        if c is None:
            return pd.Series(pd.NA, index=raw.index, dtype="string")
        return raw[c].astype("string").str.strip().replace("", pd.NA)

    qcodes, qnames = split_list(col(code_col)), col(name_col)
    # A cell listing several QPV ("QN05901M,QN05902M") carries a parallel list of names.
    multi = qcodes.map(len) > 1
    qname_lists = qnames.map(lambda v: [v] if isinstance(v, str) else [])
    if multi.any():
        qname_lists = qname_lists.where(~multi, split_list(qnames[multi]).reindex(raw.index))
        qname_lists = qname_lists.map(lambda v: v if isinstance(v, list) else [])
    ccodes = col(com_col)
    cnames = col(comname_col)
    if com_col is not None:
        ccode_lists = split_list(ccodes)
        cname_lists = split_list(cnames)
    else:
        ccode_lists = pd.Series([[] for _ in range(len(raw))], index=raw.index)
        cname_lists = cnames.map(_split_commune_names)

    rows = []
    for i in raw.index:
        qs, qn = qcodes[i], qname_lists[i]
        qn = qn if len(qn) == len(qs) else [pd.NA] * len(qs)
        cs, cn = ccode_lists[i], cname_lists[i]
        if com_col is not None and not (len(cn) > len(cs) and communes is not None):
            cn = cn if len(cn) == len(cs) else [pd.NA] * len(cs)
        else:
            # Names only, or a list of names richer than the codes (the hackaviz file
            # gives the main commune's code but every commune's name): match the names.
            cs = [pd.NA] * len(cn)
        for q, n in zip(qs, qn, strict=True):
            for c, m in zip(cs, cn, strict=True):
                rows.append((q, n, c, m))
    out = pd.DataFrame(rows, columns=[schema.CODE_QPV, schema.NOM_QPV, schema.CODE_COMMUNE,
                                      schema.NOM_COMMUNE], dtype="string")
    if out.empty:
        raise DataFormatError(f"{src}: no (QPV, commune) pair found")
    out[schema.CODE_QPV] = _codes(out[schema.CODE_QPV])
    qpv_millesime(out[schema.CODE_QPV], what=str(src))
    out[schema.CODE_DEPARTEMENT] = out[schema.CODE_QPV].map(schema.departement_of_qpv).astype(
        "string"
    )
    # One name per QPV even where a row could not pair its list of names.
    named = out.dropna(subset=[schema.NOM_QPV])
    first_name = named.groupby(schema.CODE_QPV)[schema.NOM_QPV].first()
    out[schema.NOM_QPV] = out[schema.CODE_QPV].map(first_name).astype("string")

    unmatched: list[tuple[str, str]] = []
    by_name = out[schema.CODE_COMMUNE].isna() & out[schema.NOM_COMMUNE].notna()
    if com_col is not None and not by_name.any():
        out[schema.CODE_COMMUNE] = schema.normalise_commune_code(out[schema.CODE_COMMUNE])
        out[schema.NOM_COMMUNE] = _commune_names(out, communes)
    elif com_col is not None:
        coded = out[~by_name].copy()
        coded[schema.CODE_COMMUNE] = schema.normalise_commune_code(coded[schema.CODE_COMMUNE])
        coded[schema.NOM_COMMUNE] = _commune_names(coded, communes)
        named, unmatched, _ = _match_names(out[by_name], communes)
        out = pd.concat([coded, named], ignore_index=True)
        if unmatched:
            warn(f"{src}: {len(unmatched)} commune name(s) match no commune and were left "
                 f"out: {', '.join(f'{q}: {n}' for q, n in unmatched[:10])}")
    elif communes is None:
        raise SchemaError(
            f"{src}: this file names communes ({comname_col!r}) but gives no commune code; "
            "pass communes= (a frame with code_commune and nom_commune) to match the names"
        )
    else:
        out, unmatched, n_outside = _match_names(out, communes)
        if n_outside:
            warn(
                f"{src}: {n_outside} QPV lie in départements with no commune in communes= "
                "and were left out"
            )
        if unmatched:
            shown = ", ".join(f"{q}: {n}" for q, n in unmatched[:10])
            shown += " …" if len(unmatched) > 10 else ""
            warn(
                f"{src}: {len(unmatched)} commune name(s) match no commune of the QPV's "
                f"département (nor a unique one of its region) and were left out: {shown}"
            )
    out = out.dropna(subset=[schema.CODE_COMMUNE])
    out = out.drop_duplicates([schema.CODE_QPV, schema.CODE_COMMUNE])
    out = out.sort_values([schema.CODE_QPV, schema.CODE_COMMUNE]).reset_index(drop=True)
    out = out[list(schema.QPV_COMMUNE_COLUMNS)].astype(schema.QPV_COMMUNE_COLUMNS)
    out.attrs["unmatched"] = unmatched
    return out


def _commune_names(pairs: pd.DataFrame, communes: pd.DataFrame | None) -> pd.Series:
    """One name per commune code.

    The ANCT list writes, for a commune whose QPV spans several communes, the names of
    all of them ("Faches-Thumesnil; Lezennes; Lille; Loos" for 59220): such cells are
    not this commune's name. They are replaced by the single name the file gives the
    code elsewhere, else by the name in ``communes``, else left NA.
    """
    names = pairs[schema.NOM_COMMUNE].astype("string")
    names = names.mask(names.str.contains(";", regex=False, na=False))
    counts = (
        pd.DataFrame({"c": pairs[schema.CODE_COMMUNE], "n": names})
        .dropna()
        .value_counts()
        .reset_index()
    )
    single = counts.drop_duplicates("c").set_index("c")["n"]  # most frequent name per code
    filled = names.fillna(pairs[schema.CODE_COMMUNE].map(single))
    if communes is not None and schema.NOM_COMMUNE in communes and schema.CODE_COMMUNE in communes:
        ref = communes.drop_duplicates(schema.CODE_COMMUNE).set_index(
            schema.CODE_COMMUNE
        )[schema.NOM_COMMUNE]
        filled = filled.fillna(pairs[schema.CODE_COMMUNE].map(ref))
    return filled.astype("string")


def _match_names(
    pairs: pd.DataFrame, communes: pd.DataFrame
) -> tuple[pd.DataFrame, list[tuple[str, str]], int]:
    """Give each (QPV, commune name) the code of the same-named commune.

    First within the QPV's département; failing that, a name that is unique among the
    ``communes`` of the QPV's region (a QPV coded in one département may reach into a
    commune of the next: QP062040 covers Ostricourt, Nord). Returns the pairs with
    ``code_commune`` (NA when unmatched), the unmatched (code, name) list, and the
    number of QPV whose département has no commune in ``communes`` at all.
    """
    schema.require_columns(communes, [schema.CODE_COMMUNE, schema.NOM_COMMUNE], what="communes")
    ref = pd.DataFrame(
        {
            "_code": schema.normalise_commune_code(communes[schema.CODE_COMMUNE]).to_numpy(),
            "_nom": communes[schema.NOM_COMMUNE].astype("string").to_numpy(),
            "_pop": (pd.to_numeric(communes[schema.POPULATION], errors="coerce").to_numpy()
                     if schema.POPULATION in communes else np.nan),
        }
    )
    ref["_dep"] = ref["_code"].map(schema.departement_of_commune)
    ref["_reg"] = ref["_dep"].map(schema.REGION_OF_DEPARTEMENT)
    ref["_key"] = _commune_key(ref["_nom"])
    # Homonyms inside a département: the most populated one (first when no population).
    ref = ref.sort_values("_pop", ascending=False, na_position="last", kind="stable")
    by_dep = ref.drop_duplicates(["_dep", "_key"])
    by_reg = ref.drop_duplicates(["_reg", "_key"], keep=False)  # unique names only

    covered = pairs[schema.CODE_DEPARTEMENT].isin(set(ref["_dep"]))
    n_outside = int(pairs.loc[~covered, schema.CODE_QPV].nunique())
    left = pairs[covered].reset_index(drop=True)
    left["_key"] = _commune_key(left[schema.NOM_COMMUNE])
    left["_reg"] = left[schema.CODE_DEPARTEMENT].map(schema.REGION_OF_DEPARTEMENT)
    m1 = left.merge(by_dep[["_dep", "_key", "_code", "_nom"]], how="left",
                    left_on=[schema.CODE_DEPARTEMENT, "_key"], right_on=["_dep", "_key"])
    m2 = left.merge(by_reg[["_reg", "_key", "_code", "_nom"]], how="left",
                    on=["_reg", "_key"])
    code = m1["_code"].fillna(m2["_code"])
    name = m1["_nom"].where(m1["_code"].notna(), m2["_nom"])
    lost = left[code.isna().to_numpy()]
    unmatched = list(zip(lost[schema.CODE_QPV].astype(str), lost[schema.NOM_COMMUNE].astype(str),
                         strict=True))
    out = left.drop(columns=["_key", "_reg"])
    out[schema.CODE_COMMUNE] = code.astype("string").to_numpy()
    # The reference spelling is the canonical one (the 2015 files drop accents at times).
    out[schema.NOM_COMMUNE] = name.astype("string").to_numpy()
    return out, unmatched, n_outside
