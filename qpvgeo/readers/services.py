"""Readers of facilities (équipements): INSEE BPE, Éducation nationale, SNCF stations, GTFS.

Every reader returns the same canonical frame of points in EPSG:2154, one row per
facility:

``identifiant``
    The publisher's identifier (UAI, SIRET or BPE row, UIC, GTFS ``stop_id``).
``nom``
    Name as published (may be NA: the BPE has no name for most types).
``type_equipement``
    The publisher's type (BPE ``TYPEQU`` code, Éducation nationale nature…).
``groupe``
    The French group the access indicators work on (:data:`FACILITY_GROUPS`):
    "collège", "lycée général et technologique", "lycée professionnel", "lycée
    polyvalent", "CFA", "France Travail", "gare", "arrêt de transport en commun"…
``code_commune``
    INSEE commune code when the file gives one.
``education_prioritaire``
    "REP+", "REP" or "hors EP" for schools, NA otherwise.
``qualite_xy``
    BPE geolocation quality ("bonne", "acceptable", "mauvaise"), NA otherwise.

``attrs["couverture_departements"]`` lists the départements the file covers (from the
commune codes): the access indicators give NA for zones outside them, because a file of
the Nord's schools says nothing about the nearest school of a QPV of the Somme.

Examples
--------
>>> ACCESS_GROUPS["lycee_general"]
('lycée général et technologique', 'lycée polyvalent')
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import (
    PathLike,
    find_column,
    read_table,
    read_vector,
    resolve_input,
    to_number,
    warn,
)

__all__ = [
    "ACCESS_GROUPS",
    "BPE_TYPES",
    "FACILITY_COLUMNS",
    "FACILITY_GROUPS",
    "read_bpe",
    "read_education_establishments",
    "read_gtfs_stops",
    "read_stations",
]

#: Columns of every facility frame, in order (geometry last).
FACILITY_COLUMNS: tuple[str, ...] = (
    "identifiant", "nom", "type_equipement", "groupe", schema.CODE_COMMUNE,
    "education_prioritaire", "qualite_xy",
)

#: The groups a facility can belong to (``groupe`` column), French as the analysts say.
FACILITY_GROUPS: tuple[str, ...] = (
    "collège", "SEGPA", "lycée général et technologique", "lycée professionnel",
    "lycée polyvalent", "lycée agricole", "CFA", "France Travail", "gare",
    "arrêt de transport en commun", "autre établissement scolaire",
)

#: What each access indicator measures: its slug (used in column names) -> the groups
#: whose facilities count. A lycée polyvalent teaches both the general and the
#: vocational tracks, so it counts for both.
ACCESS_GROUPS: dict[str, tuple[str, ...]] = {
    "college": ("collège",),
    "lycee_general": ("lycée général et technologique", "lycée polyvalent"),
    "lycee_professionnel": ("lycée professionnel", "lycée polyvalent", "lycée agricole"),
    "cfa": ("CFA",),
    "france_travail": ("France Travail",),
    "gare": ("gare",),
    "arret_transport": ("arrêt de transport en commun",),
}

#: BPE ``TYPEQU`` codes read by :func:`read_bpe` -> (label, group). Codes and labels of
#: the INSEE nomenclature of the BPE (editions 2021 and later); other codes are kept
#: with group NA. The C6 (apprentissage) codes changed across editions: check them
#: against the nomenclature of the edition you read, and pass ``types=`` to override.
BPE_TYPES: dict[str, tuple[str, str]] = {
    "A122": ("Réseau spécialisé France Travail (ex-Pôle emploi)", "France Travail"),
    "C201": ("Collège", "collège"),
    "C301": ("Lycée d'enseignement général et/ou technologique",
             "lycée général et technologique"),
    "C302": ("Lycée d'enseignement professionnel", "lycée professionnel"),
    "C303": ("Lycée technique et/ou professionnel agricole", "lycée agricole"),
    "C304": ("Section d'enseignement général et technologique (SGT)",
             "lycée général et technologique"),
    "C305": ("Section d'enseignement professionnel (SEP)", "lycée professionnel"),
    "C601": ("Centre de formation d'apprentis (hors agriculture)", "CFA"),
    "C605": ("Centre de formation d'apprentis agricole", "CFA"),
    "E107": ("Gare de voyageurs d'intérêt national", "gare"),
    "E108": ("Gare de voyageurs d'intérêt régional", "gare"),
    "E109": ("Gare de voyageurs d'intérêt local", "gare"),
}

_QUALITY = {"bonne": "bonne", "acceptable": "acceptable", "mauvaise": "mauvaise",
            "non geolocalise": "non géolocalisé", "non géolocalisé": "non géolocalisé",
            "type_equipement_non_geolocalise": "non géolocalisé"}

#: Éducation nationale ``Nature`` / type (upper-case, accents removed) -> group.
_NATURES = (
    ("COLLEGE SPECIALISE", "autre établissement scolaire"),
    ("LYCEE ENS GENERAL TECHNO PROF AGRICOLE", "lycée agricole"),
    ("SECTION ENSEIGT GENERAL ET TECHNOLOGIQUE", "lycée général et technologique"),
    ("SECTION ENSEIGNT GEN. ET PROF. ADAPTE", "SEGPA"),
    ("SEGPA", "SEGPA"),
    ("LYCEE POLYVALENT", "lycée polyvalent"),
    ("LYCEE PROFESSIONNEL", "lycée professionnel"),
    ("LYCEE AGRICOLE", "lycée agricole"),
    ("LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE", "lycée général et technologique"),
    ("LYCEE D ENSEIGNEMENT GENERAL", "lycée général et technologique"),
    ("LYCEE D ENSEIGNEMENT TECHNOLOGIQUE", "lycée général et technologique"),
    ("LYCEE", "lycée général et technologique"),
    ("COLLEGE", "collège"),
)

_EP = {"REP+": "REP+", "REP PLUS": "REP+", "REP": "REP", "NON": "hors EP", "": "hors EP",
       "HORS EP": "hors EP"}


def _ascii_upper(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip().str.upper()
    s = s.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    return s.str.replace(r"['’]", " ", regex=True).str.replace(r"\s+", " ", regex=True)


def _communes(values: pd.Series) -> pd.Series:
    """INSEE commune codes from text or floats (59008.0 -> '59008'), 5 characters."""
    s = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    s = s.mask(s == "")
    return s.where(s.isna(), s.str.zfill(5))


def _departements(codes: pd.Series) -> list[str]:
    deps = {schema.departement_of_commune(c) for c in codes.dropna().tolist()}
    return sorted(d for d in deps if d)


def _finish(frame: pd.DataFrame, geoms: np.ndarray, *, crs: object, path: Path,
            what: str) -> gpd.GeoDataFrame:
    """Canonical facility frame: fixed columns, points in EPSG:2154, coverage attrs."""
    for c in FACILITY_COLUMNS:
        if c not in frame.columns:
            frame[c] = pd.Series(pd.NA, index=frame.index, dtype="string")
    out = gpd.GeoDataFrame(
        frame[list(FACILITY_COLUMNS)].astype("string").reset_index(drop=True),
        geometry=geoms, crs=crs,
    )
    out = schema.to_canonical_crs(out, what=str(path))
    out.attrs["couverture_departements"] = _departements(out[schema.CODE_COMMUNE])
    out.attrs["source"] = what
    return out


def _lonlat_points(lon: pd.Series, lat: pd.Series, *, path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = to_number(lon).to_numpy(), to_number(lat).to_numpy()
    ok = ~(np.isnan(x) | np.isnan(y))
    bad = ok & ((np.abs(x) > 180) | (np.abs(y) > 90))
    if bad.any():
        raise DataFormatError(
            f"{path}: {int(bad.sum())} longitude/latitude pair(s) out of range "
            f"(e.g. {x[bad][0]}, {y[bad][0]}): are they Lambert-93?"
        )
    return shapely.points(np.where(ok, x, 0.0), np.where(ok, y, 0.0)), ok


def read_bpe(
    path: PathLike,
    *,
    types: dict[str, tuple[str, str]] | None = None,
    qualities: tuple[str, ...] = ("bonne", "acceptable"),
) -> gpd.GeoDataFrame:
    """Read the INSEE Base permanente des équipements (BPE, fichier « ensemble » géolocalisé).

    The layout of the BPE detail files since the 2021 edition: ``;``-separated, one row
    per facility, ``TYPEQU`` (type code), ``DEPCOM`` (commune), ``LAMBERT_X`` /
    ``LAMBERT_Y`` with their ``EPSG`` (2154 in mainland France, a local CRS overseas)
    and ``QUALITE_XY`` (Bonne, Acceptable, Mauvaise, or not geolocated).

    Parameters
    ----------
    path : path-like
        The BPE CSV (or a ``;``-separated extract of it).
    types : dict, optional
        ``{TYPEQU: (label, group)}`` replacing :data:`BPE_TYPES`; rows of other codes
        are dropped (the BPE lists 200 types, most of them out of scope here).
    qualities : tuple of str
        Geolocation qualities kept (default "bonne" and "acceptable": INSEE's
        "mauvaise" means the commune centre or worse, no use for distances under 1 km).
        Rows dropped for quality or missing coordinates are counted in a warning.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`FACILITY_COLUMNS` and points in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "bpe.csv"
    >>> _ = f.write_text("AN;DEPCOM;TYPEQU;LAMBERT_X;LAMBERT_Y;QUALITE_XY;EPSG\\n"
    ...                  "2023;59350;C201;704000;7059000;Bonne;2154\\n")
    >>> read_bpe(f)[["groupe", "code_commune"]].iloc[0].tolist()
    ['collège', '59350']
    """
    path = resolve_input(path)
    table = read_table(path, header_candidates=["typequ"])
    cols = table.columns
    typ = find_column(cols, ["typequ"])
    x, y = find_column(cols, ["lambert_x", "x"]), find_column(cols, ["lambert_y", "y"])
    com = find_column(cols, ["depcom", "codgeo", "code_commune"])
    if x is None or y is None:
        raise SchemaError(f"{path}: BPE without LAMBERT_X / LAMBERT_Y; columns: {list(cols)}")
    mapping = BPE_TYPES if types is None else types
    codes = table[typ].astype("string").str.strip().str.upper()
    table = table[codes.isin(list(mapping)).to_numpy()].reset_index(drop=True)
    codes = codes[codes.isin(list(mapping))].reset_index(drop=True)
    quality = pd.Series(pd.NA, index=table.index, dtype="string")
    qcol = find_column(cols, ["qualite_xy"])
    if qcol is not None:
        raw = table[qcol].astype("string").str.strip().str.lower()
        raw = raw.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
        quality = raw.map(lambda v: _QUALITY.get(v, v) if isinstance(v, str) else v)
    xs, ys = to_number(table[x]), to_number(table[y])
    keep = xs.notna() & ys.notna()
    if qcol is not None:
        keep &= quality.isin(list(qualities)).fillna(False)
    epsg = find_column(cols, ["epsg"])
    crs = "EPSG:2154"
    if epsg is not None:
        found = to_number(table.loc[keep.to_numpy(), epsg]).dropna().unique()
        if len(found) > 1:
            raise DataFormatError(
                f"{path}: column {epsg!r} mixes CRS {sorted(found.tolist())} (mainland and "
                "overseas rows): read each territory's rows separately"
            )
        if len(found):
            crs = f"EPSG:{int(found[0])}"
    dropped = int((~keep).sum())
    if dropped:
        warn(f"{path}: dropped {dropped} facilit(ies) without coordinates or with a "
             f"geolocation quality outside {list(qualities)} (QUALITE_XY)")
    table, codes = table[keep.to_numpy()].reset_index(drop=True), codes[keep].reset_index(
        drop=True)
    frame = pd.DataFrame({
        "identifiant": (table[find_column(cols, ["siret"])] if find_column(cols, ["siret"])
                        else pd.Series(table.index.astype(str), dtype="string")),
        "nom": table[find_column(cols, ["nomrs"])] if find_column(cols, ["nomrs"]) else pd.NA,
        "type_equipement": codes,
        "groupe": codes.map(lambda c: mapping[c][1]),
        schema.CODE_COMMUNE: _communes(table[com]) if com else pd.NA,
        "qualite_xy": quality[keep].reset_index(drop=True),
    })
    geoms = shapely.points(xs[keep].to_numpy(), ys[keep].to_numpy())
    return _finish(frame, geoms, crs=crs, path=path, what="INSEE, BPE")


def read_education_establishments(path: PathLike) -> gpd.GeoDataFrame:
    """Read collèges and lycées with their éducation prioritaire status (Éducation nationale).

    Accepts the Ministry's geolocated establishments as exported per académie
    (``Code etablissement``, ``Nature`` in words, ``CP`` holding the INSEE commune code,
    ``Latitude`` / ``Longitude`` or a point geometry, ``Classement REP``: REP+, REP, NON)
    and the national « Annuaire de l'éducation » (``Identifiant_de_l_etablissement``,
    ``Type_etablissement``, ``Code_commune``, ``latitude`` / ``longitude``,
    ``Appartenance_Education_Prioritaire``).

    Parameters
    ----------
    path : path-like
        GeoJSON / GeoPackage of points, or a CSV with latitude and longitude.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`FACILITY_COLUMNS` (``education_prioritaire`` "REP+", "REP" or "hors EP")
        and points in EPSG:2154; the UAI is ``identifiant``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "clg.csv"
    >>> _ = f.write_text("Code etablissement;Nature;Nom;CP;Latitude;Longitude;Classement REP\\n"
    ...                  "0590002G;COLLEGE;THEODORE MONOD;59008.0;50.33143;3.24635;REP\\n")
    >>> r = read_education_establishments(f).iloc[0]
    >>> r["groupe"], r["code_commune"], r["education_prioritaire"]
    ('collège', '59008', 'REP')
    """
    path = resolve_input(path)
    if path.suffix.lower() in {".csv", ".txt"}:
        table = read_table(path, header_candidates=["code etablissement",
                                                    "identifiant_de_l_etablissement", "uai"])
        geoms, ok = None, None
    else:
        table = read_vector(path)
        if table.crs is None:
            raise DataFormatError(f"{path}: the layer declares no CRS")
        table = schema.to_canonical_crs(table, what=str(path))
        geoms = np.asarray(table.geometry.array, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        table = pd.DataFrame(table.drop(columns=table.geometry.name))
    cols = table.columns
    uai = find_column(cols, ["code etablissement", "identifiant_de_l_etablissement", "uai",
                             "numero_uai"])
    nature = find_column(cols, ["nature", "type_etablissement", "libelle_nature"])
    if uai is None or nature is None:
        raise SchemaError(
            f"{path}: an establishments file needs a UAI column (Code etablissement, "
            f"Identifiant_de_l_etablissement) and a Nature / Type_etablissement column; "
            f"columns present: {list(cols)}"
        )
    name = find_column(cols, ["nom", "nom_etablissement", "appellation_officielle"])
    com = find_column(cols, ["code_commune", "cp", "code commune"])
    ep = find_column(cols, ["classement rep", "appartenance_education_prioritaire", "ep"])
    if geoms is None:
        lon, lat = find_column(cols, ["longitude", "lon"]), find_column(cols, ["latitude", "lat"])
        if lon is None or lat is None:
            raise SchemaError(f"{path}: no Latitude / Longitude columns; columns: {list(cols)}")
        pts, ok = _lonlat_points(table[lon], table[lat], path=path)
        geoms, crs = pts, "EPSG:4326"
    else:
        crs = schema.CRS
    if not ok.all():
        warn(f"{path}: dropped {int((~ok).sum())} establishment(s) without coordinates")
    table = table[ok].reset_index(drop=True)
    nat = _ascii_upper(table[nature])
    groupe = pd.Series(pd.NA, index=table.index, dtype="string")
    for prefix, group in reversed(_NATURES):  # the most specific prefix is applied last
        groupe = groupe.mask(nat.str.startswith(prefix).fillna(False), group)
    groupe = groupe.fillna("autre établissement scolaire")
    if ep is not None:
        raw = table[ep].astype("string").str.strip().str.upper().fillna("")
        unknown = sorted(set(raw) - set(_EP))
        if unknown:
            raise DataFormatError(
                f"{path}: column {ep!r} has unknown éducation prioritaire values {unknown} "
                "(expected REP+, REP or NON)"
            )
        status = raw.map(_EP)
    else:
        status = pd.Series(pd.NA, index=table.index, dtype="string")
    frame = pd.DataFrame({
        "identifiant": table[uai].astype("string").str.strip(),
        "nom": table[name] if name else pd.NA,
        "type_equipement": table[nature].astype("string").str.strip(),
        "groupe": groupe,
        schema.CODE_COMMUNE: _communes(table[com]) if com else pd.NA,
        "education_prioritaire": status,
    })
    return _finish(frame, np.asarray(geoms)[ok], crs=crs, path=path,
                   what="Ministère de l'Éducation nationale")


def read_stations(path: PathLike, *, passengers_only: bool = True) -> gpd.GeoDataFrame:
    """Read SNCF passenger stations (``gares-de-voyageurs`` CSV / GeoJSON, ``liste-des-gares``).

    ``gares-de-voyageurs.csv`` carries ``Position géographique`` ("lat, lon" in one
    field, WGS84), ``Code commune`` and ``Code(s) UIC``; its GeoJSON twin ``nom``,
    ``codeinsee``, ``codes_uic``; ``liste-des-gares.geojson`` lists every point of the
    rail network with ``voyageurs`` (O/N): with ``passengers_only`` only passenger stations
    are kept. ``liste-des-gares`` has no commune code, so its coverage is not known:
    pass ``coverage=`` to the indicator.

    Parameters
    ----------
    path : path-like
        One of the SNCF files above.
    passengers_only : bool
        With ``liste-des-gares``, keep the points open to passengers only.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`FACILITY_COLUMNS` (``groupe`` "gare") and points in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gares.csv"
    >>> _ = f.write_text("Nom;Trigramme;Segment(s) DRG;Position géographique;Code commune;"
    ...                  "Code(s) UIC\\nLille Flandres;LIF;A;50.6365, 3.0707;59350;87286005\\n")
    >>> read_stations(f)[["nom", "code_commune", "groupe"]].iloc[0].tolist()
    ['Lille Flandres', '59350', 'gare']
    """
    path = resolve_input(path)
    if path.suffix.lower() in {".csv", ".txt"}:
        table = read_table(path, header_candidates=["nom", "nom de la gare"])
        cols = table.columns
        pos = find_column(cols, ["position géographique", "position geographique", "geo_point_2d"])
        if pos is None:
            raise SchemaError(f"{path}: no 'Position géographique' column; columns: {list(cols)}")
        parts = table[pos].astype("string").str.split(",", n=1, expand=True)
        if parts.shape[1] < 2:
            raise DataFormatError(f"{path}: column {pos!r} is not 'lat, lon'")
        geoms, ok = _lonlat_points(parts[1], parts[0], path=path)
        crs = "EPSG:4326"
    else:
        gdf = read_vector(path)
        if gdf.crs is None:
            raise DataFormatError(f"{path}: the layer declares no CRS")
        gdf = schema.to_canonical_crs(gdf, what=str(path))
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        table, crs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), schema.CRS
        cols = table.columns
        voy = find_column(cols, ["voyageurs"])
        if passengers_only and voy is not None:
            ok &= (table[voy].astype("string").str.upper() == "O").fillna(False).to_numpy()
    cols = table.columns
    if not ok.all():
        warn(f"{path}: left out {int((~ok).sum())} point(s) without coordinates or not open "
             "to passengers")
    table = table[ok].reset_index(drop=True)
    name = find_column(cols, ["nom", "libelle", "nom de la gare"])
    com = find_column(cols, ["code commune", "codeinsee", "code_commune"])
    uic = find_column(cols, ["code(s) uic", "codes_uic", "code_uic"])
    frame = pd.DataFrame({
        "identifiant": table[uic].astype("string") if uic else pd.NA,
        "nom": table[name] if name else pd.NA,
        "type_equipement": "gare de voyageurs",
        "groupe": "gare",
        schema.CODE_COMMUNE: _communes(table[com]) if com else pd.NA,
    })
    return _finish(frame, np.asarray(geoms)[ok], crs=crs, path=path, what="SNCF")


def read_gtfs_stops(
    path: PathLike, *, stations: bool = True, groupe: str = "arrêt de transport en commun",
    communes: tuple[str, ...] = (),
) -> gpd.GeoDataFrame:
    """Read the stops of a GTFS feed (``stops.txt``, or the feed's folder).

    Parameters
    ----------
    path : path-like
        ``stops.txt`` or the folder holding it.
    stations : bool
        Keep stop areas (``location_type`` 1, one point per station) when the feed has
        them, else stop points (``location_type`` 0 or empty); a metro station's
        platforms are then counted once.
    groupe : str
        Group of the stops (default "arrêt de transport en commun").
    communes : tuple of str
        INSEE codes of the communes the feed serves (GTFS carries none), for the
        coverage of the access indicators.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`FACILITY_COLUMNS` and points in EPSG:2154.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "stops.txt").write_text("stop_id,stop_name,stop_lat,stop_lon,location_type\\n"
    ...                                  "S1,Gare Lille Flandres,50.6367,3.0703,1\\n")
    >>> read_gtfs_stops(d)["nom"].tolist()
    ['Gare Lille Flandres']
    """
    path = resolve_input(path)
    if path.is_dir():
        path = resolve_input(path / "stops.txt")
    table = read_table(path, header_candidates=["stop_id"])
    cols = table.columns
    lat, lon = find_column(cols, ["stop_lat"]), find_column(cols, ["stop_lon"])
    if lat is None or lon is None:
        raise SchemaError(f"{path}: GTFS stops need stop_lat and stop_lon")
    kind = find_column(cols, ["location_type"])
    lt = (table[kind].astype("string").str.strip().replace("", "0").fillna("0")
          if kind else pd.Series("0", index=table.index))
    wanted = "1" if stations and (lt == "1").any() else "0"
    table = table[(lt == wanted).to_numpy()].reset_index(drop=True)
    geoms, ok = _lonlat_points(table[lon], table[lat], path=path)
    table = table[ok].reset_index(drop=True)
    frame = pd.DataFrame({
        "identifiant": table[find_column(cols, ["stop_id"])],
        "nom": table[find_column(cols, ["stop_name"])] if find_column(cols, ["stop_name"])
        else pd.NA,
        "type_equipement": "station" if wanted == "1" else "arrêt",
        "groupe": groupe,
    })
    out = _finish(frame, geoms[ok], crs="EPSG:4326", path=path, what="GTFS")
    out.attrs["couverture_departements"] = _departements(pd.Series(list(communes),
                                                                   dtype="string"))
    return out

