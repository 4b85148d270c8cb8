"""The exposure profile and the documentation of its columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.exposure._base import (
    _prepare_zones,
)
from qpvgeo.exposure._surroundings import compare_to_surroundings
from qpvgeo.exposure.air import air_exposure
from qpvgeo.exposure.flood import flood_exposure
from qpvgeo.exposure.green import green_space_access
from qpvgeo.exposure.heat import heat_exposure
from qpvgeo.exposure.noise import noise_exposure
from qpvgeo.exposure.sites import industrial_exposure

# -- profile and column documentation ------------------------------------------------------

_LAYER_DOC = {
    "flood": "flood (zones inondables TRI, read_flood_extents)",
    "sites": "sites (ICPE / Seveso / IREP, read_industrial_sites)",
    "air": "air (stations, grille ou raster de concentrations)",
    "heat": "heat (sensibilité à la chaleur, IRIS / LCZ Cerema)",
    "green_spaces": "green_spaces (espaces verts, read_green_spaces)",
    "noise": "noise (cartes de bruit stratégiques, read_noise_map)",
    "population": "population (grille Filosofi 200 m ou polygones)",
}

_DOCS: list[tuple[str, str, str, str]] = [
    # (regex, unité, couche, description) ; \1… are filled from the match
    (
        r"^population$",
        "habitants",
        "population",
        "population de la zone (officielle si fournie, sinon estimée sur la grille)",
    ),
    (
        r"^population_grille$",
        "habitants",
        "population",
        "population de la zone estimée sur la grille (diagnostic)",
    ),
    (r"^surface_inondable_?(.*)_m2$", "m²", "flood", "surface de la zone en zone inondable {0}"),
    (
        r"^part_surface_inondable_?(.*)$",
        "part 0-1",
        "flood",
        "part de la surface en zone inondable {0}",
    ),
    (
        r"^part_population_inondable_?(.*)$",
        "part 0-1",
        "flood",
        "part de la population en zone inondable {0}",
    ),
    (r"^population_inondable_?(.*)$", "habitants", "flood", "population en zone inondable {0}"),
    (
        r"^distance_site_m$",
        "m",
        "sites",
        "distance du bord de la zone au site industriel le plus proche (0 si dedans)",
    ),
    (r"^site_plus_proche$", "code", "sites", "site industriel le plus proche"),
    (
        r"^distance_seveso_haut_m$",
        "m",
        "sites",
        "distance au site Seveso seuil haut le plus proche",
    ),
    (r"^seveso_haut_plus_proche$", "code", "sites", "site Seveso seuil haut le plus proche"),
    (r"^n_sites_(.*)m$", "sites", "sites", "nombre de sites industriels à {0} m ou moins"),
    (
        r"^n_seveso_(haut|bas)_(.*)m$",
        "sites",
        "sites",
        "nombre de sites Seveso seuil {0} à {1} m ou moins",
    ),
    (
        r"^part_surface_sites_(.*)m$",
        "part 0-1",
        "sites",
        "part de la surface à {0} m ou moins d'un site",
    ),
    (
        r"^part_population_sites_(.*)m$",
        "part 0-1",
        "sites",
        "part de la population à {0} m ou moins d'un site",
    ),
    (r"^population_sites_(.*)m$", "habitants", "sites", "population à {0} m ou moins d'un site"),
    (
        r"^(no2|pm10|pm25)$",
        "µg/m³",
        "air",
        "concentration moyenne annuelle en {0} (pondérée par la population, sinon la "
        "surface; station la plus proche pour des stations)",
    ),
    (r"^(no2|pm10|pm25)_station$", "code", "air", "station de mesure la plus proche mesurant {0}"),
    (r"^(no2|pm10|pm25)_distance_station_m$", "m", "air", "distance de la zone à cette station"),
    (
        r"^part_surface_couverte_air$",
        "part 0-1",
        "air",
        "part de la zone couverte par la couche de qualité de l'air",
    ),
    (
        r"^score_chaleur$",
        "score",
        "heat",
        "score moyen de sensibilité à la chaleur (plus haut = plus exposé)",
    ),
    (
        r"^part_surface_chaleur_(.*)$",
        "part 0-1",
        "heat",
        "part de la surface en sensibilité à la chaleur {0}",
    ),
    (
        r"^part_population_chaleur_(.*)$",
        "part 0-1",
        "heat",
        "part de la population en sensibilité à la chaleur {0}",
    ),
    (
        r"^population_chaleur_(.*)$",
        "habitants",
        "heat",
        "population en sensibilité à la chaleur {0}",
    ),
    (
        r"^part_surface_couverte_chaleur$",
        "part 0-1",
        "heat",
        "part de la zone couverte par la couche chaleur",
    ),
    (
        r"^part_surface_acces_espace_vert$",
        "part 0-1",
        "green_spaces",
        "part de la surface à portée (300 m par défaut) d'un espace vert d'au moins "
        "0,5 ha par défaut (indicateur OMS)",
    ),
    (
        r"^part_population_acces_espace_vert$",
        "part 0-1",
        "green_spaces",
        "part de la population à portée (300 m par défaut) d'un espace vert d'au moins "
        "0,5 ha par défaut (indicateur OMS)",
    ),
    (
        r"^population_acces_espace_vert$",
        "habitants",
        "green_spaces",
        "population à portée d'un espace vert",
    ),
    (
        r"^distance_espace_vert_m$",
        "m",
        "green_spaces",
        "distance au plus proche espace vert d'au moins 0,5 ha (0 s'il touche la zone)",
    ),
    (
        r"^n_espaces_verts$",
        "espaces verts",
        "green_spaces",
        "espaces verts d'au moins 0,5 ha à portée",
    ),
    (r"^surface_bruit_(.*)_m2$", "m²", "noise", "surface exposée au bruit {0}"),
    (r"^part_surface_bruit_(.*)$", "part 0-1", "noise", "part de la surface exposée au bruit {0}"),
    (
        r"^part_population_bruit_(.*)$",
        "part 0-1",
        "noise",
        "part de la population exposée au bruit {0}",
    ),
    (r"^population_bruit_(.*)$", "habitants", "noise", "population exposée au bruit {0}"),
]


def _noise_words(label: str) -> str:
    m = re.match(r"^([a-z]+)_(lden|ln)(?:_(\d+(?:_\d+)?))?$", label)
    if not m:
        return label
    src = {
        "route": "routier",
        "fer": "ferroviaire",
        "aerien": "aérien",
        "industrie": "industriel",
    }.get(m.group(1), m.group(1))
    ind = "Lden" if m.group(2) == "lden" else "Ln"
    level = f" >= {m.group(3).replace('_', '.')} dB(A)" if m.group(3) else ""
    return f"{src}, {ind}{level}"


def _describe(column: str) -> dict[str, str] | None:
    base = column
    suffix = ""
    for s in ("_environs", "_ratio"):
        if column.endswith(s):
            base, suffix = column[: -len(s)], s
            break
    for pattern, unit, layer, desc in _DOCS:
        m = re.match(pattern, base)
        if not m:
            continue
        args = [g or "" for g in m.groups()]
        if layer == "noise" and args:
            args = [_noise_words(args[0])]
        if layer == "flood" and args:
            args = [f"(scénario {args[0]})" if args[0] else ""]
        text = desc.format(*args).replace("  ", " ").strip()
        if suffix == "_environs":
            text, unit = f"même indicateur pour les environs (hors QPV) : {text}", unit
        elif suffix == "_ratio":
            text, unit = f"rapport zone / environs de : {text}", "ratio"
        return {"unité": unit, "couche": _LAYER_DOC.get(layer, layer), "description": text}
    return None


def describe_exposure_columns(columns: pd.DataFrame | Iterable[str] | None = None) -> pd.DataFrame:
    """Document exposure columns: unit, source layer, description (in French).

    Parameters
    ----------
    columns
        A table returned by an indicator or :func:`exposure_profile`, or column names.
        ``None`` documents the patterns themselves.

    Returns
    -------
    pandas.DataFrame
        ``colonne``, ``unité``, ``couche``, ``description``; an undocumented column is an
        error (a column nobody can read is not published).

    Examples
    --------
    >>> describe_exposure_columns(["part_surface_bruit_route_lden_68"]).iloc[0]["description"]
    'part de la surface exposée au bruit routier, Lden >= 68 dB(A)'
    """
    if columns is None:
        return pd.DataFrame(
            [
                {"colonne": p, "unité": u, "couche": _LAYER_DOC.get(c, c), "description": d}
                for p, u, c, d in _DOCS
            ]
        )
    names = (
        list(columns.columns) if isinstance(columns, pd.DataFrame) else [str(c) for c in columns]
    )
    rows, unknown = [], []
    for name in names:
        doc = _describe(str(name))
        if doc is None:
            unknown.append(name)
        else:
            rows.append({"colonne": name, **doc})
    if unknown:
        raise SchemaError(f"describe_exposure_columns: undocumented columns {unknown}")
    return pd.DataFrame(rows, columns=["colonne", "unité", "couche", "description"])


def _air_kwargs(air: Any) -> dict[str, Any]:
    if isinstance(air, gpd.GeoDataFrame):
        kinds = set(shapely.get_type_id(np.asarray(air.geometry.array, dtype=object)).tolist())
        return {"stations": air} if kinds <= {0, 4} else {"grid": air}
    return {"raster": air}


def exposure_profile(
    qpv: gpd.GeoDataFrame,
    *,
    flood: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    air: Any = None,
    heat: gpd.GeoDataFrame | None = None,
    green_spaces: gpd.GeoDataFrame | None = None,
    noise: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    surroundings: str | None = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    key: str = schema.CODE_QPV,
    radii: Sequence[float] = (500, 1000, 2000),
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Every exposure indicator of each QPV in one table, with its ratio to the surroundings.

    Each layer given runs its indicator (:func:`flood_exposure`, :func:`industrial_exposure`,
    :func:`air_exposure` — ``air`` may be stations (points), a polygon grid or a raster
    path —, :func:`heat_exposure`, :func:`green_space_access`, :func:`noise_exposure`);
    with ``surroundings`` (``"ring"`` or ``"rest_of_commune"``; ``None`` to skip) each
    share and mean is also given for the QPV's surroundings, with the ratio.

    Parameters
    ----------
    qpv
        QPV polygons with a ``key`` column (:func:`qpvgeo.readers.read_qpv`).
    flood
        Flood extents for :func:`flood_exposure`.
    sites
        Industrial sites for :func:`industrial_exposure`.
    air
        Air layer for :func:`air_exposure`: station points, a polygon grid, or a raster
        path (or mapping pollutant -> path).
    heat
        Heat-sensitivity polygons for :func:`heat_exposure`.
    green_spaces
        Green-space polygons for :func:`green_space_access` (300 m, 0.5 ha).
    noise
        Canonical noise layer for :func:`noise_exposure`.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column, passed
        to every indicator.
    surroundings
        ``"ring"`` (default), ``"rest_of_commune"`` (needs ``communes``) or ``None`` to
        give the QPV values only; see :func:`surroundings`.
    ring
        Width in metres of the ring with ``surroundings="ring"`` (default 500).
    communes
        Commune polygons with ``code_commune``, for ``surroundings="rest_of_commune"``.
    key
        Zone identifier column.
    radii
        Distances in metres of :func:`industrial_exposure` (default 500, 1000, 2000).
    population_method
        ``method=`` of :func:`qpvgeo.interpolate.grid_population` (``"area"`` or
        ``"calibrated"``).
    ancillary
        QPV contours, the dense-housing layer of ``population_method="calibrated"``
        (default: the zones themselves, right when the zones are the QPV).

    Returns
    -------
    pandas.DataFrame
        One row per QPV (index ``key``). ``attrs["columns"]`` documents each column
        (unit, source layer, description), as :func:`describe_exposure_columns` does.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> p = exposure_profile(d.qpv, flood=d.flood, surroundings=None)
    >>> len(p) == len(d.qpv)
    True
    """
    runs: list[tuple[Callable[..., pd.DataFrame], dict[str, Any]]] = []
    pop = {"population": population, "population_method": population_method}
    if ancillary is not None:
        pop["ancillary"] = ancillary
    if flood is not None:
        runs.append((flood_exposure, {"flood": flood, **pop}))
    if sites is not None:
        runs.append((industrial_exposure, {"sites": sites, "radii": radii, **pop}))
    if air is not None:
        runs.append((air_exposure, {**_air_kwargs(air), **pop}))
    if heat is not None:
        runs.append((heat_exposure, {"lcz_or_score": heat, **pop}))
    if green_spaces is not None:
        runs.append((green_space_access, {"parks": green_spaces, **pop}))
    if noise is not None:
        runs.append((noise_exposure, {"noise": noise, **pop}))
    if not runs:
        raise QpvgeoError("exposure_profile: give at least one layer (flood=, sites=, air=, …)")
    z = _prepare_zones(qpv, key)
    tables = []
    for func, kw in runs:
        if surroundings is None:
            t = func(qpv, key=key, **kw)
        else:
            t = compare_to_surroundings(
                func, qpv, how=surroundings, ring=ring, communes=communes, key=key, **kw
            )
        tables.append(t)
    profile = pd.DataFrame(index=z.index.copy())
    for t in tables:
        new = [c for c in t.columns if c not in profile.columns]
        profile = profile.join(t[new])
    profile.attrs = {}
    doc = describe_exposure_columns(profile)
    profile.attrs["columns"] = {
        r["colonne"]: {"unité": r["unité"], "couche": r["couche"], "description": r["description"]}
        for r in doc.to_dict("records")
    }
    profile.attrs["environs"] = surroundings
    return profile
