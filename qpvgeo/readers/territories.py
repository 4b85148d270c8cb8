"""Territories: commune, EPCI, département and region boundaries, and EPCI membership.

Layouts read: gregoiredavid/france-geojson (``code``, ``nom``; one file per département
or per region), the derived COG 2025 GeoPackage (``code``, ``nom``, ``dep``, ``reg``),
IGN ADMIN EXPRESS (``INSEE_COM``, ``NOM`` / ``NOM_COM``, ``INSEE_DEP``, ``INSEE_REG``,
``CODE_SIREN``), CARTElette (``REG``), and DGCL ``epcicom`` (``siren``,
``raison_sociale``, ``nature_juridique``, ``insee``).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import (
    PathLike,
    canonical_polygons,
    check_unique,
    find_column,
    read_table,
    read_vector,
    resolve_input,
    resolve_many,
)

NOM_DEPARTEMENT = "nom_departement"
NATURE_JURIDIQUE = "nature_juridique"

_COMMUNE_CODE = ("insee_com", "code_insee", "code_commune", "codgeo", "code", "com", "insee")
_COMMUNE_NAME = ("nom_commune", "nom_com", "nom", "libgeo", "lib_com", "libelle")
_DEP_CODE = ("insee_dep", "code_departement", "code_dep", "dep", "code")
_DEP_NAME = ("nom_departement", "nom_dep", "nom", "libelle", "lib_dep")
_REG_CODE = ("insee_reg", "code_region", "code_reg", "reg", "code")
_REG_NAME = ("nom_region", "nom_reg", "nom", "libelle", "lib_reg")
_EPCI_CODE = ("code_epci", "siren_epci", "siren", "code_siren", "epci")
_EPCI_NAME = ("nom_epci", "raison_sociale", "lib_epci", "nom", "libelle")
_EPCI_NATURE = ("nature_juridique", "nature_epci", "nature")
_EPCI_MEMBER = ("insee", "code_commune", "insee_com", "codgeo", "com")
_EPCI_MEMBER_NAME = ("nom_membre", "nom_commune", "lib_com")


def _read_layers(
    path: PathLike | Sequence[PathLike], *, crs: object | None, layer: str | int | None
) -> tuple[gpd.GeoDataFrame, str]:
    files = resolve_many(path)
    frames = []
    for f in files:
        frames.append(canonical_polygons(read_vector(f, layer=layer), crs=crs, path=f,
                                         id_column=None))
    what = str(files[0]) if len(files) == 1 else f"{len(files)} files under {files[0].parent}"
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=schema.CRS), what


def _boundaries(
    path, *, crs, layer, code_candidates, name_candidates, code_col, name_col, what_kind,
    normalise=None, extra: dict[str, Sequence[str]] | None = None,
) -> gpd.GeoDataFrame:
    raw, what = _read_layers(path, crs=crs, layer=layer)
    code = find_column(raw.columns, code_candidates)
    if code is None:
        raise SchemaError(
            f"{what}: no {what_kind} code column (looked for {list(code_candidates)}); "
            f"columns present: {[c for c in raw.columns if c != 'geometry']}"
        )
    name = find_column([c for c in raw.columns if c != code], name_candidates)
    codes = raw[code].astype("string").str.strip()
    if normalise is not None:
        codes = normalise(codes)
    if codes.isna().any():
        raise DataFormatError(f"{what}: {int(codes.isna().sum())} feature(s) have no {code!r}")
    check_unique(codes, what=what, column=code)
    out = gpd.GeoDataFrame(
        {
            code_col: codes.to_numpy(),
            name_col: (raw[name].astype("string").str.strip().to_numpy() if name
                       else pd.array([pd.NA] * len(raw), dtype="string")),
        },
        geometry=raw.geometry.to_numpy(),
        crs=schema.CRS,
    )
    out = out.astype({code_col: "string", name_col: "string"})
    for column, candidates in (extra or {}).items():
        found = find_column(raw.columns, candidates)
        if found is not None:
            out.insert(len(out.columns) - 1, column, raw[found].astype("string").to_numpy())
    return out


def read_communes(
    path: PathLike | Sequence[PathLike],
    *,
    crs: object | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read commune boundaries into ``code_commune``, ``nom_commune``, geometry (EPSG:2154).

    Parameters
    ----------
    path
        A file (GeoJSON, GeoPackage, shapefile, zip), a folder (every vector file in it,
        e.g. the 13 per-département files of ``communes_occitanie``), a glob pattern
        or a list of files: they are concatenated.
    crs
        CRS of files that declare none.
    layer
        Layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_commune`` (5 characters, leading zero restored), ``nom_commune``,
        ``code_departement`` (from the code), geometry. Invalid geometries are repaired
        with a warning.

    Raises
    ------
    DuplicateCodeError
        A commune code appears twice (e.g. the same département given twice).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "c.geojson"
    >>> gpd.GeoDataFrame({"code": ["59350"], "nom": ["Lille"]}, geometry=[box(3, 50.6, 3.1, 50.7)],
    ...                  crs=4326).to_file(f)
    >>> read_communes(f)[["code_commune", "nom_commune", "code_departement"]].iloc[0].tolist()
    ['59350', 'Lille', '59']
    """
    out = _boundaries(
        path, crs=crs, layer=layer, code_candidates=_COMMUNE_CODE,
        name_candidates=_COMMUNE_NAME, code_col=schema.CODE_COMMUNE,
        name_col=schema.NOM_COMMUNE, what_kind="commune",
        normalise=schema.normalise_commune_code,
    )
    out.insert(2, schema.CODE_DEPARTEMENT,
               out[schema.CODE_COMMUNE].map(schema.departement_of_commune).astype("string"))
    return out


def read_departements(
    path: PathLike | Sequence[PathLike], *, crs: object | None = None, layer=None
) -> gpd.GeoDataFrame:
    """Read département boundaries: ``code_departement``, ``nom_departement``, geometry.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or (zipped) shapefile, a folder of them, a glob or a list
        (concatenated), or a catalogue source name.
    crs
        CRS of a file that declares none (otherwise an error).
    layer
        Layer of a multi-layer GeoPackage (default: the only or first one).

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:2154; invalid geometries repaired (count in a warning).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.geojson"
    >>> gpd.GeoDataFrame({"code": ["59"], "nom": ["Nord"]}, geometry=[box(3, 50, 4, 51)],
    ...                  crs=4326).to_file(f)
    >>> read_departements(f).iloc[0, :2].tolist()
    ['59', 'Nord']
    """
    return _boundaries(
        path, crs=crs, layer=layer, code_candidates=_DEP_CODE, name_candidates=_DEP_NAME,
        code_col=schema.CODE_DEPARTEMENT, name_col=NOM_DEPARTEMENT, what_kind="département",
        normalise=lambda s: s.str.upper().str.zfill(2),
    )


def read_regions(
    path: PathLike | Sequence[PathLike], *, crs: object | None = None, layer=None
) -> gpd.GeoDataFrame:
    """Read region boundaries: ``code_region``, ``nom_region``, geometry.

    Reads the france-geojson region files (``code``, ``nom``) and CARTElette
    (``REG``, ``nom``; its overseas regions are drawn displaced next to the
    metropolis, so use its metropolitan regions only for spatial work).

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or (zipped) shapefile, a folder of them, a glob or a list
        (concatenated), or a catalogue source name.
    crs
        CRS of a file that declares none (otherwise an error).
    layer
        Layer of a multi-layer GeoPackage (default: the only or first one).

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:2154; invalid geometries repaired (count in a warning).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "r.geojson"
    >>> gpd.GeoDataFrame({"REG": ["32"], "nom": ["Hauts-de-France"]}, geometry=[box(2, 49, 4, 51)],
    ...                  crs=4326).to_file(f)
    >>> read_regions(f).iloc[0, :2].tolist()
    ['32', 'Hauts-de-France']
    """
    return _boundaries(
        path, crs=crs, layer=layer, code_candidates=_REG_CODE, name_candidates=_REG_NAME,
        code_col=schema.CODE_REGION, name_col=schema.NOM_REGION, what_kind="region",
        normalise=lambda s: s.str.zfill(2),
    )


def read_epci_boundaries(
    path: PathLike | Sequence[PathLike], *, crs: object | None = None, layer=None
) -> gpd.GeoDataFrame:
    """Read EPCI boundaries: ``code_epci`` (SIREN), ``nom_epci``, ``nature_juridique``, geometry.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or (zipped) shapefile, a folder of them, a glob or a list
        (concatenated), or a catalogue source name.
    crs
        CRS of a file that declares none (otherwise an error).
    layer
        Layer of a multi-layer GeoPackage (default: the only or first one).

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:2154; invalid geometries repaired (count in a warning).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "e.gpkg"
    >>> gpd.GeoDataFrame({"siren": ["200093201"], "raison_sociale": ["MEL"],
    ...                   "nature_juridique": ["METRO"]}, geometry=[box(3, 50.5, 3.3, 50.8)],
    ...                  crs=4326).to_file(f)
    >>> read_epci_boundaries(f).iloc[0, :3].tolist()
    ['200093201', 'MEL', 'METRO']
    """
    out = _boundaries(
        path, crs=crs, layer=layer, code_candidates=_EPCI_CODE, name_candidates=_EPCI_NAME,
        code_col=schema.CODE_EPCI, name_col=schema.NOM_EPCI, what_kind="EPCI",
        extra={NATURE_JURIDIQUE: _EPCI_NATURE},
    )
    return out


def read_epci(path: PathLike, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read the DGCL ``epcicom`` membership file: which EPCI each commune belongs to.

    Parameters
    ----------
    path
        DGCL ``epcicom<year>.xlsx`` (national, one sheet; title rows above the header
        are skipped) or a CSV extract with the same columns.
    sheet
        Spreadsheet sheet; the first by default.

    Returns
    -------
    pandas.DataFrame
        One row per member commune: ``code_commune``, ``code_epci`` (SIREN),
        ``nom_epci``, ``nature_juridique`` (CC, CA, CU, METRO…), ``nom_commune``.

    Raises
    ------
    DuplicateCodeError
        A commune appears in two EPCI.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "epcicom.csv"
    >>> _ = f.write_text("siren,raison_sociale,nature_juridique,insee,nom_membre\\n"
    ...                  "200093201,Métropole Européenne de Lille,METRO,59350,Lille\\n")
    >>> read_epci(f)[["code_commune", "code_epci"]].iloc[0].tolist()
    ['59350', '200093201']
    """
    src = resolve_input(path)
    raw = read_table(src, header_candidates=("siren", "code_epci", "siren_epci"), sheet=sheet)
    code = find_column(raw.columns, _EPCI_MEMBER)
    epci = find_column(raw.columns, _EPCI_CODE)
    if code is None or epci is None:
        raise SchemaError(
            f"{src}: needs a commune column ({list(_EPCI_MEMBER)}) and an EPCI column "
            f"({list(_EPCI_CODE)}); columns present: {list(raw.columns)}"
        )
    name = find_column(raw.columns, _EPCI_NAME)
    nature = find_column(raw.columns, _EPCI_NATURE)
    member = find_column(raw.columns, _EPCI_MEMBER_NAME)
    codes = schema.normalise_commune_code(raw[code])
    check_unique(codes, what=str(src), column=code)

    def text(c):
        return (raw[c].astype("string").str.strip().to_numpy() if c
                else pd.array([pd.NA] * len(raw), dtype="string"))

    out = pd.DataFrame(
        {
            schema.CODE_COMMUNE: codes.to_numpy(),
            schema.CODE_EPCI: text(epci),
            schema.NOM_EPCI: text(name),
            NATURE_JURIDIQUE: text(nature),
            schema.NOM_COMMUNE: text(member),
        }
    )
    return out.astype("string")


__all__ = [
    "read_communes",
    "read_departements",
    "read_epci",
    "read_epci_boundaries",
    "read_regions",
]
