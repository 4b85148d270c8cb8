"""Building footprints (BDNB, BD TOPO ``batiment``, OpenStreetMap) in one canonical frame.

The building-based population estimate (:func:`qpvgeo.buildings.building_population`)
shares each grid cell's inhabitants among its buildings; it needs, per building, what
says how many people it can hold. The publishers say it in different words:

==========================  =================================  ==============================
canonical column            BD TOPO ``batiment`` (v3; SHP)     BDNB (``batiment_construction``
                                                               / ``batiment_groupe``)
==========================  =================================  ==============================
``id_batiment``             ``cleabs`` (``ID``)                ``batiment_construction_id``
                                                               (``batiment_c``)
``nb_logements``            ``nombre_de_logements``            ``nb_log``, ``ffo_bat_nb_log``
                            (``NB_LOGTS``)
``nb_etages``               ``nombre_d_etages`` (``NB_ETAGES``)  ``nb_niveau``,
                                                               ``ffo_bat_nb_niveau``
``hauteur`` (m)             ``hauteur`` (``HAUTEUR``)          ``hauteur``,
                                                               ``bdtopo_bat_hauteur_mean``
``residentiel``             ``usage_1`` / ``usage_2``          ``usage_niveau_1_txt``,
                            (``USAGE1``/``USAGE2``),           ``ffo_bat_usage_niveau_1_txt``
                            ``construction_legere``, ``etat``
==========================  =================================  ==============================

OpenStreetMap: Geofabrik shapefiles (``osm_id``, ``fclass``, ``type`` = the ``building``
tag) or raw exports (``building``, ``building:levels``, ``building:flats``, ``height``).
``residentiel`` is True for ``house``, ``apartments``, ``residential``…, False for
garages, sheds, churches, shops, industry…, NA for ``yes`` / untyped.

``surface_sol`` is always the footprint area of the geometry in EPSG:2154 (m²), so
that the three sources compare; the publisher's own figure (BDNB ``s_geom_cstr``) is
not used. BDNB *fictive* geometries (``fictive_geom_cstr`` = 1: a parcel standing in for
an unknown footprint) are left out with a warning.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from qpvgeo.errors import DataFormatError, SchemaError
from qpvgeo.readers._common import (
    PathLike,
    canonical_polygons,
    clean_name,
    find_column,
    read_vector,
    resolve_input,
    warn,
)

__all__ = ["BUILDING_COLUMNS", "read_buildings"]

#: Columns of :func:`read_buildings`, in order.
BUILDING_COLUMNS: tuple[str, ...] = (
    "id_batiment", "source", "nb_logements", "nb_etages", "hauteur", "surface_sol",
    "residentiel", "geometry",
)

_ID = ("batiment_construction_id", "batiment_c", "cleabs", "id", "idbdtopo", "osm_id",
       "batiment_groupe_id", "batiment_g", "full_id", "@id")
_DWELLINGS = ("nb_logements", "nb_logements_alloc", "nombre_de_logements", "nb_logts", "nb_log",
              "ffo_bat_nb_log", "building:flats", "building_flats")
_FLOORS = ("nb_etages", "nombre_d_etages", "nb_niveau", "ffo_bat_nb_niveau", "building:levels",
           "building_levels", "levels")
_HEIGHT = ("hauteur", "bdtopo_bat_hauteur_mean", "hauteur_mean", "height")
_USAGE = ("usage_1", "usage1", "usage_niveau_1_txt", "ffo_bat_usage_niveau_1_txt")
_USAGE2 = ("usage_2", "usage2")
_LIGHT = ("construction_legere", "leger")
_STATE = ("etat_de_l_objet", "etat")
_FICTIVE = ("fictive_geom_cstr", "fictive_ge")
_OSM_TYPE = ("building", "type")

#: OSM ``building`` values where people live.
OSM_RESIDENTIAL = frozenset({
    "house", "apartments", "residential", "detached", "semidetached_house", "terrace",
    "bungalow", "dormitory", "farm", "cabin", "static_caravan", "houseboat", "villa",
    "flats", "semi", "semi-detached", "townhouse",
})
#: OSM ``building`` values where nobody lives (a care home is ``residential`` in OSM).
OSM_NON_RESIDENTIAL = frozenset({
    "garage", "garages", "carport", "shed", "hut", "roof", "industrial", "warehouse",
    "commercial", "retail", "supermarket", "kiosk", "office", "church", "chapel",
    "cathedral", "mosque", "temple", "synagogue", "religious", "school", "university",
    "college", "kindergarten", "hospital", "public", "civic", "government", "train_station",
    "transportation", "hangar", "service", "parking", "sports_hall", "sports_centre",
    "stadium", "grandstand", "pavilion", "barn", "cowshed", "stable", "sty",
    "farm_auxiliary", "greenhouse", "glasshouse", "silo", "storage_tank", "water_tower",
    "transformer_tower", "bunker", "bridge", "toilets", "construction", "ruins", "fire_station",
    "hotel", "castle", "monument", "gatehouse", "boathouse", "tech_cab",
})


def _number(frame: pd.DataFrame, candidates) -> pd.Series:
    col = find_column(frame.columns, candidates)
    if col is None:
        return pd.Series(np.nan, index=frame.index, dtype="Float64")
    text = frame[col].astype("string").str.strip().str.replace(",", ".", regex=False)
    # "3;4" or "12 m" in OSM tags: the first number
    text = text.str.extract(r"(-?\d+(?:\.\d+)?)", expand=False)
    values = pd.to_numeric(text, errors="coerce").astype("Float64")
    return values.mask(values < 0)


def _source(columns) -> str:
    names = {clean_name(c) for c in columns}
    if names & {"batiment_construction_id", "batiment_c", "batiment_groupe_id", "batiment_g"}:
        return "bdnb"
    if names & {"cleabs", "nombre_de_logements", "nb_logts", "idbdtopo"}:
        return "bdtopo"
    if names & {"osm_id", "fclass", "building", "@id", "full_id"}:
        return "osm"
    return "autre"


def _residential(raw: pd.DataFrame, source: str) -> pd.Series:
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    usage = find_column(raw.columns, _USAGE)
    if usage is not None:
        u1 = raw[usage].astype("string").str.strip().str.lower()
        u2_col = find_column(raw.columns, _USAGE2)
        u2 = (raw[u2_col].astype("string").str.strip().str.lower() if u2_col
              else pd.Series(pd.NA, index=raw.index, dtype="string"))
        res = u1.str.startswith("résidentiel").fillna(False) | u2.str.startswith(
            "résidentiel").fillna(False)
        unknown = u1.isna() | u1.str.startswith("indiff").fillna(False)
        out = out.mask(res, True).mask(~res & ~unknown, False)
    elif source == "osm":
        col = find_column(raw.columns, _OSM_TYPE)
        if col is not None:
            t = raw[col].astype("string").str.strip().str.lower()
            out = out.mask(t.isin(OSM_RESIDENTIAL).fillna(False), True)
            out = out.mask(t.isin(OSM_NON_RESIDENTIAL).fillna(False), False)
    light = find_column(raw.columns, _LIGHT)
    if light is not None:
        yes = raw[light].astype("string").str.strip().str.lower().isin(["oui", "true", "1"])
        out = out.mask(yes.fillna(False), False)  # sheds, shelters
    state = find_column(raw.columns, _STATE)
    if state is not None:
        s = raw[state].astype("string").str.strip().str.lower()
        gone = s.notna() & ~s.str.startswith("en service").fillna(False)
        out = out.mask(gone.fillna(False), False)  # projects, ruins, under construction
    return out


def read_buildings(
    path: PathLike, *, layer: str | int | None = None, crs: object | None = None
) -> gpd.GeoDataFrame:
    """Read building footprints (BDNB, BD TOPO ``batiment``, OSM) into canonical columns.

    Parameters
    ----------
    path : str or path-like
        GeoPackage, shapefile, GeoJSON, FlatGeobuf or GeoParquet of one of the layouts of
        :mod:`qpvgeo.readers.buildings`.
    layer : str or int, optional
        Layer of a multi-layer file (BD TOPO GeoPackage: ``"batiment"``).
    crs : optional
        CRS of a file that declares none.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`BUILDING_COLUMNS`: ``id_batiment`` (string), ``source`` (``bdnb``,
        ``bdtopo``, ``osm`` or ``autre``), ``nb_logements``, ``nb_etages``, ``hauteur``
        (Float64, NA where the file says nothing), ``surface_sol`` (m², from the
        geometry), ``residentiel`` (boolean: True, False, or NA when unknown) and the
        footprint in EPSG:2154. Invalid footprints are repaired (warning); empty ones
        and BDNB fictive geometries are left out.

    Raises
    ------
    DataFormatError
        Unreadable file, or a layer without polygons.
    SchemaError
        No building identifier column (the message lists the columns present).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "batiment.gpkg"
    >>> gpd.GeoDataFrame({"cleabs": ["BATIMENT01", "BATIMENT02"],
    ...                   "usage_1": ["Résidentiel", "Annexe"],
    ...                   "nombre_de_logements": [12, 0], "nombre_d_etages": [4, 1],
    ...                   "hauteur": [12.5, 2.8]},
    ...                  geometry=[box(652000, 6862000, 652020, 6862010),
    ...                            box(652030, 6862000, 652033, 6862003)],
    ...                  crs=2154).to_file(f)
    >>> b = read_buildings(f)
    >>> b[["id_batiment", "source", "nb_logements", "surface_sol", "residentiel"]].values.tolist()
    [['BATIMENT01', 'bdtopo', 12.0, 200.0, True], ['BATIMENT02', 'bdtopo', 0.0, 9.0, False]]
    """
    src = resolve_input(path)
    raw = read_vector(src, layer=layer)
    if raw.empty:
        raise DataFormatError(f"{src}: the layer holds no building")
    id_col = find_column(raw.columns, _ID)
    if id_col is None:
        shown = [c for c in raw.columns if c != raw.geometry.name]
        raise SchemaError(f"{src}: no building identifier column (looked for {list(_ID)}); "
                          f"columns present: {shown}")
    polygonal = raw.geometry.geom_type.isin(["Polygon", "MultiPolygon"]) | raw.geometry.isna()
    if not polygonal.any():
        raise DataFormatError(f"{src}: no polygon in the layer (building footprints expected)")
    source = _source(raw.columns)
    raw = raw[polygonal.to_numpy()]
    fictive = find_column(raw.columns, _FICTIVE)
    if fictive is not None:
        fake = pd.to_numeric(raw[fictive], errors="coerce").eq(1).to_numpy()
        if fake.any():
            warn(f"{src}: {int(fake.sum())} BDNB fictive geometrie(s) ({fictive} = 1: a parcel "
                 "standing in for an unknown footprint) left out")
            raw = raw[~fake]
    empty = raw.geometry.isna().to_numpy() | raw.geometry.is_empty.to_numpy()
    if empty.any():
        warn(f"{src}: {int(empty.sum())} building(s) without geometry left out")
        raw = raw[~empty]
    frame = gpd.GeoDataFrame(
        {
            "id_batiment": raw[id_col].astype("string").str.strip(),
            "source": pd.array([source] * len(raw), dtype="string"),
            "nb_logements": _number(raw, _DWELLINGS),
            "nb_etages": _number(raw, _FLOORS),
            "hauteur": _number(raw, _HEIGHT),
            "residentiel": _residential(raw, source),
        },
        geometry=raw.geometry.values, crs=raw.crs, index=raw.index,
    )
    frame = canonical_polygons(frame, crs=crs, path=src, id_column="id_batiment")
    frame = frame[~frame.geometry.is_empty.to_numpy()]
    frame["surface_sol"] = frame.geometry.area.astype("float64")
    frame = frame[list(BUILDING_COLUMNS)].reset_index(drop=True)
    frame.attrs["source"] = str(src)
    return frame
