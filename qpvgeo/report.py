"""The territory diagnostic: from data to one folder (``qpvgeo diagnose``).

:func:`diagnose` loads the data of one QPV geography (the embedded demo, a local data
directory, or the fetch layer), selects a territory, and writes one folder::

    index.html                summary page: key figures, QPV table, profile, exposure, maps
    carte_interactive.html    Folium map of the QPV (``offline_maps=True`` inlines its assets)
    carte_population.png/pdf  static maps (mapclassify classes, scale bar, north arrow)
    carte_pauvrete.png/pdf    (when the poverty rate is available)
    tableau_qpv.csv           one row per QPV (``;``, UTF-8 with BOM, for Excel)
    tableau_communes.csv      QPV population and share per commune of the territory
    dictionnaire.csv          label, unit and source of every column of the tables
    diagnostic.gpkg           layers ``qpv`` (every column of tableau_qpv) and ``communes``
    provenance.json           sources (sha256), millésimes, qpvgeo version, parameters

The folder is built beside its target under a temporary name and moved in at the end,
so a failure never leaves a half-written report; only the files listed in the folder's
``.qpvgeo-manifest.json`` are ever replaced or removed, and an unsafe ``out`` (a
non-empty folder qpvgeo did not write, the data folder, the project root) is refused
before any computation (:mod:`qpvgeo._output`). A section whose data or module is
missing says so on the page; nothing is ever filled in.

Local data directory
--------------------
``data_dir`` (``--data-dir`` or ``$QPVGEO_DATA_DIR``) is searched for each role below,
first match wins (a role marked *all* reads every match). The names are those of the
publishers' files; the same file may also sit in the fetch cache layout
``<data_dir>/<catalogue name>/<file>`` (see ``qpvgeo sources``). A directory that holds
(or links to) the folders of ``shared/data`` works as it is.

- QPV 2024 contours: ``qpv2024_contours_simplified/qpv2024_simplified.geojson``;
- QPV 2024 x communes: ``qpv2024_list_anct/qpv2024_code_commune.csv``;
- QPV 2024 indicators (*all*): ``qpv2024_indicators_sigville/analyse_qpv.csv``;
- QPV 2015 contours: ``qpv2015_contours_anct/QP_METROPOLE_LB93.shp``, then
  ``qpv2015_contours_anct/QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp``,
  ``qpv2015_occitanie_hackaviz/qp.geojson``;
- QPV 2015 x communes: ``insee_qpv_tables/pop_qp_2013.csv`` (commune names, matched to
  codes with the population file); without it, the communes the contours give;
- QPV 2015 indicators (*all*): ``insee_qpv_tables/DEMO_2022.csv``,
  ``insee_qpv_tables/data_filo19_qp_revdis.csv``, ``insee_qpv_tables/IPRO_2022.csv``,
  ``qpv2015_occitanie_hackaviz/qp.csv``;
- commune populations (required):
  ``insee_population_communes/populations_legales_2023_communes_cog2025.csv``, or the
  2021 file (COG 2023) of the same folder;
- commune boundaries (*all*, optional): ``communes_hdf/communes_hdf_cog2025.gpkg``,
  ``communes_occitanie/communes-<dep>-*.geojson`` (read for the territory's départements);
- EPCI membership (for ``epci:`` territories): ``epci_hdf/epci_membership_hdf_2025.csv``,
  ``epci_hdf/epcicom2025.xlsx`` (the first that lists the SIREN).

After these names, each role also takes the files of its catalogue sources in the fetch
cache layout (:data:`ROLE_SOURCES`: ``qpv2024/…``, ``insee_population_2023/…``,
``epci2025/epcicom2025.xlsx``…). When no data directory is given and
``$QPVGEO_DATA_DIR`` is unset, the fetch cache is used and a missing required source is
downloaded through :func:`qpvgeo.fetch.fetch` (``qpvgeo fetch NAME`` does it beforehand).

For the 2015 geography an indicator column is taken whole from the first file that
carries it (editions are never mixed within a column). The environmental layers are
listed in :data:`LAYER_FILES`; a layer that is absent, or does not reach the territory,
is reported as missing.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "diag"
>>> path = diagnose("region:99", demo=True, out=out, progress=False, dpi=60)
>>> (path / "index.html").is_file()
True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from qpvgeo import __version__, schema
from qpvgeo._atomic import atomic_path
from qpvgeo._output import ReportFolder, check_output_folder
from qpvgeo.errors import DataFormatError, QpvgeoError, QpvgeoWarning
from qpvgeo.profile import GRID_PROFILE_COLUMNS, PROFILE_COLUMNS, socio_economic_profile
from qpvgeo.tables import escape_formulas
from qpvgeo.territory import Territory, TerritorySelection, parse_territory, select_territory

#: The territory of ``qpvgeo diagnose --demo`` when none is given: the whole demo region.
DEMO_TERRITORY = "region:99"

#: Files of the diagnose folder (the static maps come as .png and .pdf).
REPORT_FILES: tuple[str, ...] = (
    "index.html",
    "carte_interactive.html",
    "carte_population.png",
    "carte_population.pdf",
    "tableau_qpv.csv",
    "tableau_communes.csv",
    "dictionnaire.csv",
    "diagnostic.gpkg",
    "provenance.json",
)

#: Role -> files searched in the data directory, first match wins (see module docstring).
DATA_FILES: dict[str, tuple[str, ...]] = {
    "qpv2024": (
        "qpv2024_contours_simplified/qpv2024_simplified.geojson",
    ),
    "qpv2024_communes": ("qpv2024_list_anct/qpv2024_code_commune.csv",),
    "qpv2024_indicators": ("qpv2024_indicators_sigville/analyse_qpv.csv",),
    "qpv2015": (
        "qpv2015_contours_anct/QP_METROPOLE_LB93.shp",
        "qpv2015_contours_anct/QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp",
        "qpv2015_occitanie_hackaviz/qp.geojson",
    ),
    "qpv2015_communes": ("insee_qpv_tables/pop_qp_2013.csv",),
    "qpv2015_indicators": (
        "insee_qpv_tables/DEMO_2022.csv",
        "insee_qpv_tables/data_filo19_qp_revdis.csv",
        "insee_qpv_tables/IPRO_2022.csv",
        "qpv2015_occitanie_hackaviz/qp.csv",
    ),
    "population": (
        "insee_population_communes/populations_legales_2023_communes_cog2025.csv",
        "insee_population_communes/populations_legales_2021_communes_cog2023.csv",
    ),
    "communes": (
        "communes_hdf/communes_hdf_cog2025.gpkg",
        "communes_occitanie/communes-*.geojson",
    ),
    "epci": ("epci_hdf/epci_membership_hdf_2025.csv", "epci_hdf/epcicom2025.xlsx"),
}
#: Role -> catalogue sources (:mod:`qpvgeo.sources`) whose fetch-cache files
#: (``<data_dir>/<name>/…``) also serve it, searched after the names above; with
#: ``fetch_missing`` the first one is downloaded when nothing is found.
ROLE_SOURCES: dict[str, tuple[str, ...]] = {
    "qpv2024": ("qpv2024",),
    "qpv2024_communes": ("qpv2024_communes",),
    "qpv2024_indicators": ("insee_qpv2024_population", "insee_qpv2024_revenus"),
    "qpv2015": ("qpv2015",),
    "qpv2015_indicators": ("insee_qpv2015_population", "insee_qpv2015_revenus"),
    "population": ("insee_population_2023",),
    "communes": ("admin_express_cog2024",),
    "epci": ("epci2025",),
}
#: Millésime of the files of the documented layout, recorded in provenance.json.
FILE_MILLESIMES: dict[str, str] = {
    "qpv2024_simplified.geojson": "QPV 2024 (décret n° 2023-1314), contours ANCT simplifiés",
    "qpv2024_code_commune.csv": "QPV 2024, liste ANCT des communes",
    "analyse_qpv.csv": "population municipale des QPV 2024 (Insee via SIG Ville)",
    "QP_METROPOLE_LB93.shp": "QPV 2015 (décrets n° 2014-1750 et 2014-1751)",
    "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp": "QPV 2015 (décrets n° 2014-1750 et 2014-1751)",
    "qp.geojson": "QPV 2015 (contours ANCT, Hackaviz Occitanie)",
    "qp.csv": "Insee, indicateurs QPV publiés en 2019 (géographie 2015)",
    "pop_qp_2013.csv": "Insee, population RP 2013 des QPV 2015",
    "DEMO_2022.csv": "Insee, base QPV Démographie, édition 2022 (géographie 2015)",
    "data_filo19_qp_revdis.csv": "Insee, Filosofi 2019 (géographie 2015)",
    "IPRO_2022.csv": "Insee, base QPV Insertion professionnelle, édition 2022",
    "populations_legales_2023_communes_cog2025.csv": "Insee, populations légales 2023, COG 2025",
    "populations_legales_2021_communes_cog2023.csv": "Insee, populations légales 2021, COG 2023",
    "communes_hdf_cog2025.gpkg": "IGN ADMIN EXPRESS COG 2018, ramené au COG 2025",
    "epci_membership_hdf_2025.csv": "DGCL, EPCI au 1er janvier 2025",
    "epcicom2025.xlsx": "DGCL, EPCI au 1er janvier 2025",
}
#: Roles whose every matching file is read (the others stop at the first match).
_READ_ALL = frozenset({"qpv2024_indicators", "qpv2015_indicators", "communes"})

#: Environmental layer -> files searched in the data directory. Every match is read
#: (vector files only when their extent reaches the territory) and clipped to it.
LAYER_FILES: dict[str, tuple[str, ...]] = {
    "flood": ("flood_hdf/*.geojson", "georisques_tri_*/**/n_tri_*_inondable_s_*.shp"),
    "sites": ("icpe_hdf/*.gpkg", "icpe_occitanie/*.gpkg", "georisques_icpe/**/*.shp"),
    "air": ("air_quality_occitanie/*.csv", "atmo_occitanie_annual_means/*.csv"),
    "heat": (
        "urban_heat_lcz/*heat_vulnerability.geojson",
        "urban_heat_lcz_occitanie/*heat_vulnerability.geojson",
    ),
    "green_spaces": ("green_spaces_toulouse/*.geojson", "green_spaces_montpellier/*.geojson"),
    "noise": ("noise_*/N_BRUIT_ZBRD_INFRA_*_C_*.shp", "noise_*/*/N_BRUIT_ZBRD_INFRA_*_C_*.shp"),
}

#: French names of the environmental layers, for the page.
LAYER_LABELS: dict[str, str] = {
    "flood": "zones inondables (TRI)",
    "sites": "sites industriels Seveso / ICPE",
    "air": "qualité de l'air (moyennes annuelles)",
    "heat": "vulnérabilité à la chaleur (IRIS)",
    "green_spaces": "espaces verts",
    "noise": "cartes de bruit (type C)",
}

#: Margin (m) around the territory's QPV within which layers are kept: beyond the rings
#: and radii of the indicators; air stations are searched further (nearest station).
_LAYER_MARGIN = 3000.0
_LAYER_MARGINS = {"air": 30000.0}
#: Commune outlines are drawn on the maps of territories with at most this many communes.
_MAX_MAP_COMMUNES = 300


# -- the data of one diagnostic ---------------------------------------------------------


@dataclass
class DiagnosticData:
    """The canonical frames a diagnostic needs, and what is missing.

    Attributes
    ----------
    millesime : int
        QPV geography, 2015 or 2024.
    qpv, indicators, commune_population
        Required frames (canonical schema).
    membership, communes, epci, grid
        Optional frames: (QPV, commune) rows, commune boundaries, EPCI membership,
        Filosofi 200 m grid.
    layers : dict
        Environmental layers already read, by name (keys of :data:`LAYER_LABELS`).
    layer_files : dict
        Files of the environmental layers still to read, by name: read once the
        territory is known, and only those that reach it.
    missing : dict
        Role or layer -> why it is missing (French, shown on the page).
    sources : list of dict
        Provenance records of the files read.
    synthetic : str or None
        Set to the demo's label when the data are synthetic.
    """

    millesime: int
    qpv: gpd.GeoDataFrame
    indicators: pd.DataFrame
    commune_population: pd.DataFrame
    membership: pd.DataFrame | None = None
    communes: gpd.GeoDataFrame | None = None
    epci: pd.DataFrame | None = None
    grid: pd.DataFrame | None = None
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    layer_files: dict[str, list[Path]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)
    synthetic: str | None = None


def demo_data() -> DiagnosticData:
    """The embedded synthetic demo territory as :class:`DiagnosticData` (offline).

    Examples
    --------
    >>> demo_data().millesime
    2024
    """
    from qpvgeo.datasets import demo

    d = demo()
    return DiagnosticData(
        millesime=2024,
        qpv=d.qpv,
        indicators=d.indicators,
        commune_population=d.commune_population,
        membership=d.qpv_communes,
        communes=d.communes,
        epci=d.epci,
        grid=d.grid,
        layers={
            "flood": d.flood, "sites": d.sites, "air": d.air, "heat": d.heat,
            "green_spaces": d.green_spaces, "noise": d.noise,
        },
        sources=[{"source": "demo", "role": "demo", "title": d.label, "publisher": d.source,
                  "url": None, "sha256": None, "origin": "generated", "millesime": None}],
        synthetic=d.label,
    )


def _find(data_dir: Path, patterns: Sequence[str], *, every: bool) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        hits = sorted(p for p in data_dir.glob(pattern) if p.is_file())
        for hit in hits:
            if hit not in found:
                found.append(hit)
        if found and not every:
            return found[:1]
    return found


def _catalogue_patterns(role: str) -> list[str]:
    """Where the fetch cache keeps the files of the role's catalogue sources."""
    try:
        from qpvgeo.sources import get_source
    except ImportError:
        return []
    patterns = []
    for name in ROLE_SOURCES.get(role, ()):
        src = get_source(name)
        main = getattr(src, "main", None)
        if main:
            patterns.append(f"{src.name}/{main}")
        else:
            patterns += [f"{src.name}/{f.filename}" for f in src.files
                         if not getattr(f, "extract", False)]
    return patterns


def _millesime_of(path: Path, role: str) -> str | None:
    if path.name in FILE_MILLESIMES:
        return FILE_MILLESIMES[path.name]
    try:
        from qpvgeo.sources import get_source
    except ImportError:
        return None
    for name in ROLE_SOURCES.get(role, ()):
        if name in path.parts:
            return get_source(name).millesime
    return None


def _record(path: Path, role: str) -> dict:
    """Provenance record of a local file (name, size, sha256: the fetch layer's record,
    the download's when the file came from one), with its role and millésime."""
    from qpvgeo.fetch import record_local_file

    rec = dict(record_local_file(path, source=role))
    rec["role"] = role
    rec["millesime"] = _millesime_of(path, role)
    return rec


def _merge_indicators(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Columns are taken whole from the first frame that carries them (never mixed)."""
    out = frames[0]
    for frame in frames[1:]:
        new = [c for c in frame.columns if c not in out.columns]
        if new:
            out = out.join(frame[new], how="outer")
    out.index.name = schema.CODE_QPV
    return out


def _clip_layer(layer: gpd.GeoDataFrame, area) -> gpd.GeoDataFrame:
    layer = schema.to_canonical_crs(layer, what="layer")
    keep = layer.geometry.notna() & ~layer.geometry.is_empty
    layer = layer[keep]
    return layer[layer.intersects(area)].reset_index(drop=True)


def local_data(
    data_dir: str | os.PathLike,
    *,
    territory: Territory,
    millesime: int = 2024,
    fetch_missing: bool = False,
) -> DiagnosticData:
    """Read a diagnostic's data from a local data directory (layout in the module docstring).

    Parameters
    ----------
    data_dir : path
        The directory (``--data-dir`` / ``$QPVGEO_DATA_DIR``).
    territory : Territory
        Used to read only what concerns the territory (EPCI file, layers nearby).
    millesime : {2024, 2015}
        QPV geography.
    fetch_missing : bool, default False
        Download a missing required source into ``data_dir`` through the fetch layer
        (:data:`ROLE_SOURCES`) instead of failing.

    Returns
    -------
    DiagnosticData

    Raises
    ------
    DataFormatError
        A required file (QPV contours, indicators, commune populations) is absent: the
        message names the role and the file names searched.

    Examples
    --------
    >>> import tempfile
    >>> local_data(tempfile.mkdtemp(), territory=parse_territory("region:32"))
    Traceback (most recent call last):
    ...
    qpvgeo.errors.DataFormatError: ...
    """
    from qpvgeo import readers

    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataFormatError(f"data directory {root}: no such directory")
    if millesime not in (2015, 2024):
        raise DataFormatError(f"millésime {millesime}: the QPV geographies are 2015 and 2024")
    sources: list[dict] = []
    missing: dict[str, str] = {}

    def files(role: str, *, required: bool) -> list[Path]:
        patterns = [*DATA_FILES[role], *_catalogue_patterns(role)]
        found = _find(root, patterns, every=role in _READ_ALL)
        if not found and required and fetch_missing and ROLE_SOURCES.get(role):
            from qpvgeo.fetch import fetch

            found = [fetch(ROLE_SOURCES[role][0], dest=root)]
        if not found and required:
            raise DataFormatError(
                f"data directory {root}: no file for {role!r}; expected one of "
                f"{patterns} (see qpvgeo.report for the layout, or `qpvgeo fetch "
                f"{' '.join(ROLE_SOURCES.get(role, ()))}`)"
            )
        for path in found:
            sources.append(_record(path, role))
        return found

    pop_path = files("population", required=True)[0]
    commune_population = readers.read_commune_population(pop_path)
    epci = None
    if territory.level == "epci":
        for path in _find(root, [*DATA_FILES["epci"], *_catalogue_patterns("epci")],
                          every=True):
            table = readers.read_epci(path)
            if (table[schema.CODE_EPCI].astype(str) == territory.code).any():
                epci = table
                sources.append(_record(path, "epci"))
                break
        if epci is None:
            raise DataFormatError(
                f"data directory {root}: no EPCI membership file lists {territory.code}; "
                f"searched {list(DATA_FILES['epci'])}"
            )

    deps = _territory_departements(territory, commune_population, epci)

    communes = None
    commune_paths = [
        p for p in _find(root, [*DATA_FILES["communes"], *_catalogue_patterns("communes")],
                         every=True)
        if _may_hold(p, deps)
    ]
    for path in commune_paths:
        sources.append(_record(path, "communes"))
    if commune_paths:
        parts = [readers.read_communes(p) for p in commune_paths]
        communes = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=schema.CRS)
        communes = communes.drop_duplicates(schema.CODE_COMMUNE).reset_index(drop=True)
    else:
        missing["communes"] = "contours des communes absents : pas de carte des communes"

    membership = None
    member_paths = files(f"qpv{millesime}_communes", required=False)
    if member_paths:
        membership = readers.read_qpv_communes(member_paths[0], communes=commune_population)
    qpv_path = files(f"qpv{millesime}", required=True)[0]
    # The main commune by area is only needed when no membership table says it.
    qpv = readers.read_qpv(qpv_path, communes=communes if membership is None else None)
    if membership is None:
        membership = _membership_from_contours(qpv)
    indicator_paths = files(f"qpv{millesime}_indicators", required=True)
    indicators = _merge_indicators([readers.read_qpv_indicators(p) for p in indicator_paths])

    return DiagnosticData(
        millesime=millesime, qpv=qpv, indicators=indicators,
        commune_population=commune_population, membership=membership,
        communes=communes, epci=epci, missing=missing, sources=sources,
        layer_files=_layer_files(root),
    )


def _territory_departements(
    territory: Territory, commune_population: pd.DataFrame, epci: pd.DataFrame | None
) -> set[str]:
    if territory.level == "epci" and epci is not None:
        members = epci.loc[epci[schema.CODE_EPCI].astype(str) == territory.code,
                           schema.CODE_COMMUNE]
        return {d for d in members.astype(str).map(schema.departement_of_commune) if d}
    if territory.level == "departement":
        return {territory.code}
    if territory.level == "commune":
        dep = schema.departement_of_commune(territory.code)
        return {dep} if dep else set()
    if territory.level == "region":
        pop = commune_population
        if schema.CODE_REGION in pop:
            return set(pop.loc[pop[schema.CODE_REGION] == territory.code,
                               schema.CODE_DEPARTEMENT].dropna().astype(str))
        return set(schema.DEPARTEMENTS_BY_REGION.get(territory.code, ()))
    return set()


def _may_hold(path: Path, deps: set[str]) -> bool:
    """Files named ``communes-<dep>-….geojson`` (one per département) are read only for
    the territory's départements; any other file is read."""
    match = re.match(r"^communes-(\d{2,3}|2[ab])-", path.name, re.IGNORECASE)
    return not deps or match is None or match.group(1).upper() in deps


def _membership_from_contours(qpv: gpd.GeoDataFrame) -> pd.DataFrame | None:
    """(QPV, commune) rows from the contours: every listed commune, else the main one."""
    listed = "codes_communes"
    if listed in qpv and qpv[listed].notna().any():
        rows = qpv[[schema.CODE_QPV, listed]].dropna()
        rows = rows.assign(**{schema.CODE_COMMUNE: rows[listed].str.split(r"\s*,\s*")})
        return rows.explode(schema.CODE_COMMUNE)[[schema.CODE_QPV, schema.CODE_COMMUNE]]
    if schema.CODE_COMMUNE in qpv and qpv[schema.CODE_COMMUNE].notna().any():
        return pd.DataFrame(qpv[[schema.CODE_QPV, schema.CODE_COMMUNE]].dropna())
    return None


def _layer_files(root: Path) -> dict[str, list[Path]]:
    found = {name: _find(root, patterns, every=True) for name, patterns in LAYER_FILES.items()}
    return {k: v for k, v in found.items() if v}


def _reaches(path: Path, area) -> bool:
    """False only when a vector file's declared extent misses ``area`` (cheap: no read)."""
    if path.suffix.lower() in {".csv", ".txt", ".xlsx"}:
        return True
    try:
        import pyogrio
        from pyproj import CRS, Transformer

        info = pyogrio.read_info(path)
        bounds, crs = info.get("total_bounds"), info.get("crs")
        if bounds is None or crs is None or not np.all(np.isfinite(bounds)):
            return True
        to_l93 = Transformer.from_crs(CRS.from_user_input(crs), schema.CRS, always_xy=True)
        xs, ys = to_l93.transform([bounds[0], bounds[2], bounds[0], bounds[2]],
                                  [bounds[1], bounds[1], bounds[3], bounds[3]])
    except Exception:  # an unreadable header: let the reader give the real error
        return True
    import shapely

    return bool(shapely.box(min(xs), min(ys), max(xs), max(ys)).intersects(area))


def _near_area(qpv: gpd.GeoDataFrame, margin: float):
    """The QPV's bounding boxes widened by ``margin``, merged: a cheap superset of the
    area the indicators look at (buffering the QPV outlines themselves is far slower)."""
    import shapely

    b = qpv.geometry.bounds.to_numpy()
    boxes = shapely.box(b[:, 0] - margin, b[:, 1] - margin, b[:, 2] + margin, b[:, 3] + margin)
    return shapely.union_all(boxes)


def _read_layers(
    data: DiagnosticData, qpv_area: gpd.GeoDataFrame, sources: list[dict]
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """Read (or clip) every environmental layer near the territory; say which are missing."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    missing: dict[str, str] = {}
    readers_ = _layer_readers() if data.layer_files else {}
    for name, label in LAYER_LABELS.items():
        if name not in data.layers and name not in data.layer_files:
            missing[name] = f"couche {label} absente des données"
            continue
        area = _near_area(qpv_area, _LAYER_MARGINS.get(name, _LAYER_MARGIN))
        if name not in data.layers:
            reader = readers_[name]
            frames = []
            for path in data.layer_files[name]:
                if not _reaches(path, area):
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", QpvgeoWarning)
                        frame = _clip_layer(reader(path), area)
                except QpvgeoError as exc:
                    missing[name] = f"couche {label} illisible ({path.name}) : {exc}"
                    continue
                if len(frame):
                    frames.append(frame)
                    sources.append(_record(path, name))
            if not frames:
                missing.setdefault(name, f"couche {label} : aucune donnée sur ce territoire")
                continue
            layer = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=schema.CRS)
        else:
            layer = _clip_layer(data.layers[name], area)
            if not len(layer):
                missing[name] = f"couche {label} : aucune donnée sur ce territoire"
                continue
        layers[name] = layer
    return layers, missing


def _layer_readers() -> dict[str, Callable[[Path], gpd.GeoDataFrame]]:
    """The readers of the real environmental layers, by layer name."""
    from qpvgeo.readers import environment as env

    return {
        "flood": env.read_flood_extents, "sites": env.read_industrial_sites,
        "air": env.read_air_stations, "heat": env.read_heat_iris,
        "green_spaces": env.read_green_spaces, "noise": env.read_noise_map,
    }


# -- the analysis -----------------------------------------------------------------------


@dataclass
class Section:
    """One part of the report: its title, whether it is available, and why not."""

    title: str
    ok: bool
    status: str


@dataclass
class Diagnostic:
    """Everything the report shows, computed once (see :func:`build_diagnostic`)."""

    selection: TerritorySelection
    millesime: int
    key_figures: dict[str, float]
    qpv_table: gpd.GeoDataFrame
    communes_table: pd.DataFrame
    columns: dict[str, tuple[str, str, str]]
    sections: dict[str, Section]
    layers: dict[str, gpd.GeoDataFrame]
    missing: dict[str, str]
    sources: list[dict]
    synthetic: str | None
    communes_geo: gpd.GeoDataFrame | None = None


def _population_step(sel: TerritorySelection, data: DiagnosticData):
    """QPV population by commune and shares; the split comes from qpvgeo.population."""
    from qpvgeo.population import population_shares, qpv_population_by_commune

    by_commune = qpv_population_by_commune(
        sel.qpv, data.indicators, data.communes, membership=sel.membership
    )
    in_territory = by_commune[by_commune[schema.CODE_COMMUNE].isin(set(sel.communes))]
    shares = population_shares(in_territory, sel.commune_population, level="commune")
    return by_commune, in_territory, shares


def build_diagnostic(
    data: DiagnosticData,
    territory: Territory | str,
    *,
    progress: Callable[[str], None] | None = None,
) -> Diagnostic:
    """Compute every table of the report for ``territory``.

    Parameters
    ----------
    data : DiagnosticData
        From :func:`demo_data` or :func:`local_data`.
    territory : Territory or str
        ``region:32``, ``epci:200093201``…
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    Diagnostic

    Examples
    --------
    >>> diag = build_diagnostic(demo_data(), "epci:299000001")
    >>> int(diag.key_figures["n_qpv"])
    3
    """
    step = progress or (lambda _name: None)
    if isinstance(territory, str):
        territory = parse_territory(territory)
    step("territoire")
    sel = select_territory(
        territory, qpv=data.qpv, membership=data.membership,
        commune_population=data.commune_population, epci=data.epci,
    )
    sources = list(data.sources)
    sections: dict[str, Section] = {}
    columns: dict[str, tuple[str, str, str]] = {
        schema.CODE_QPV: ("Code du QPV", "", "contours QPV"),
        schema.NOM_QPV: ("Nom du QPV", "", "contours QPV"),
        "communes": ("Commune(s) du territoire couvertes", "", "liste QPV x communes"),
    }
    table = pd.DataFrame(
        {schema.CODE_QPV: sel.qpv[schema.CODE_QPV].astype(str),
         schema.NOM_QPV: sel.qpv[schema.NOM_QPV].astype(str)}
    ).set_index(schema.CODE_QPV)
    names = sel.commune_population.set_index(schema.CODE_COMMUNE)[schema.NOM_COMMUNE]
    member_names = sel.membership.assign(
        _nom=sel.membership[schema.CODE_COMMUNE].map(names)
    ).dropna(subset=["_nom"])
    table["communes"] = member_names.groupby(schema.CODE_QPV)["_nom"].agg(
        lambda s: ", ".join(sorted(set(map(str, s))))
    )
    pop_territory = float(pd.to_numeric(sel.commune_population[schema.POPULATION]).sum())
    qpv_pop = pd.to_numeric(
        data.indicators[schema.POPULATION], errors="coerce"
    ).groupby(level=0).first().reindex(table.index)
    key = {
        "n_qpv": float(len(sel.qpv)),
        "population_qpv": float(qpv_pop.sum()),
        "n_qpv_sans_population": float(qpv_pop.isna().sum()),
        "population_territoire": pop_territory,
        "n_communes": float(len(sel.commune_population)),
        "n_communes_qpv": float(
            sel.membership[schema.CODE_COMMUNE].loc[
                lambda codes: codes.isin(set(sel.communes))
            ].nunique()
        ),
    }
    table[schema.POPULATION] = qpv_pop
    columns[schema.POPULATION] = ("Population municipale du QPV", "habitants", "Insee")

    step("population")
    communes_table = pd.DataFrame()
    whole = territory.level in {"region", "departement"}
    try:
        by_commune, in_territory, shares = _population_step(sel, data)
    except (ImportError, QpvgeoError) as exc:
        sections["population"] = Section(
            "Population par commune", False, f"indisponible : {exc}"
        )
    else:
        placed = by_commune.groupby(schema.CODE_QPV)[schema.POPULATION_QPV].sum()
        gap = qpv_pop - placed.reindex(qpv_pop.index).fillna(0.0)
        # A QPV over several communes whose outlines are absent cannot be split: its
        # parts are missing, and so would be part of the numerator. Say it, never guess.
        n_listed = sel.membership.groupby(schema.CODE_QPV)[schema.CODE_COMMUNE].nunique()
        fallback = by_commune.loc[
            by_commune[schema.METHODE].isin(["commune_principale", "non_localise"]),
            schema.CODE_QPV,
        ]
        # ... or it went whole to its main commune although it is listed in several.
        guessed = {c for c in fallback if n_listed.get(c, 1) > 1}
        unplaced = sorted(set(gap.index[(gap.abs() >= 0.5) & qpv_pop.notna()]) | guessed)
        inside = in_territory.groupby(schema.CODE_QPV)[schema.POPULATION_QPV].sum()
        table["population_dans_territoire"] = inside.reindex(table.index)
        columns["population_dans_territoire"] = (
            "Population du QPV dans le territoire", "habitants", "Insee, partage par commune"
        )
        communes_table = shares.reset_index() if schema.CODE_COMMUNE not in shares else shares
        communes_table = communes_table[
            pd.to_numeric(communes_table[schema.N_QPV], errors="coerce").fillna(0) > 0
        ].reset_index(drop=True)
        if unplaced:
            sections["population"] = Section(
                "Population par commune", False,
                f"incomplète : {len(unplaced)} QPV à cheval sur plusieurs communes n'ont pas "
                f"pu être partagés (contours de leurs communes absents des données) : "
                f"{', '.join(unplaced[:10])}",
            )
            table.loc[table.index.isin(unplaced), "population_dans_territoire"] = np.nan
        else:
            sections["population"] = Section("Population par commune", True, "disponible")
            key["population_qpv_territoire"] = float(inside.sum())
            key["part_qpv"] = float(inside.sum()) / pop_territory if pop_territory else np.nan
    if whole and "part_qpv" not in key:
        # Every QPV of a region or département lies wholly inside it: no split needed.
        key["population_qpv_territoire"] = key["population_qpv"]
        key["part_qpv"] = key["population_qpv"] / pop_territory if pop_territory else np.nan
    if "part_qpv" in key and pop_territory:
        inside_col = schema.POPULATION if whole else "population_dans_territoire"
        table[schema.PART_QPV] = table[inside_col] / pop_territory
        columns[schema.PART_QPV] = (
            "Part de la population du territoire vivant dans ce QPV", "0-1", "Insee"
        )

    step("profil")
    profile = socio_economic_profile(data.indicators, qpv=sel.qpv, grid=data.grid)
    profile = profile.drop(columns=[schema.POPULATION])
    for col in profile.columns:
        label, unit = PROFILE_COLUMNS.get(col, (col, ""))
        src = "Insee, carroyage Filosofi 200 m" if col in GRID_PROFILE_COLUMNS else (
            "Insee (tableaux par QPV)")
        columns[col] = (label, unit, src)
    table = table.join(profile)
    sections["profil"] = Section(
        "Profil socio-économique", bool(len(profile.columns)),
        "disponible" if len(profile.columns) else "aucun indicateur socio-économique",
    )
    if data.grid is None:
        sections["profil_environs"] = Section(
            "Profil : comparaison aux environs", False,
            "indisponible : pas de carroyage Filosofi 200 m pour ce territoire",
        )

    step("exposition")
    area = sel.qpv if len(sel.qpv) else None
    layers, missing = ({}, {}) if area is None else _read_layers(data, area, sources)
    missing = {**data.missing, **missing}
    if not layers:
        sections["exposition"] = Section(
            "Exposition environnementale", False,
            "indisponible : aucune couche environnementale ne couvre ce territoire",
        )
    else:
        try:
            exposure, described = _exposure_step(sel, layers, data)
        except (ImportError, QpvgeoError) as exc:
            sections["exposition"] = Section(
                "Exposition environnementale", False, f"indisponible : {exc}"
            )
        else:
            table = table.join(exposure)
            columns.update(described)
            sections["exposition"] = Section(
                "Exposition environnementale", True,
                "disponible (" + ", ".join(LAYER_LABELS[k] for k in layers) + ")",
            )
    geo = sel.qpv.set_index(schema.CODE_QPV)[["geometry"]].join(table)
    qpv_table = gpd.GeoDataFrame(geo.reset_index(), geometry="geometry", crs=schema.CRS)
    communes_geo = None
    if data.communes is not None:
        communes_geo = data.communes[
            data.communes[schema.CODE_COMMUNE].isin(set(sel.communes))
        ].reset_index(drop=True)
        if not len(communes_geo):
            communes_geo = None
    return Diagnostic(
        selection=sel, millesime=data.millesime, key_figures=key, qpv_table=qpv_table,
        communes_table=communes_table, columns=columns, sections=sections, layers=layers,
        missing=missing, sources=sources, synthetic=data.synthetic, communes_geo=communes_geo,
    )


def _exposure_step(
    sel: TerritorySelection, layers: dict[str, gpd.GeoDataFrame], data: DiagnosticData
) -> tuple[pd.DataFrame, dict[str, tuple[str, str, str]]]:
    from qpvgeo.exposure import exposure_profile

    # The QPV carry INSEE's population: exposure counts are that official total times the
    # grid's share (the grid alone under-counts QPV populations).
    official = pd.to_numeric(data.indicators[schema.POPULATION], errors="coerce")
    official = official[~official.index.duplicated()]
    zones = sel.qpv[[schema.CODE_QPV, "geometry"]].assign(
        **{schema.POPULATION: sel.qpv[schema.CODE_QPV].map(official).to_numpy()}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        # Calibrated: the rings around each QPV have no official total, and plain area
        # weighting would hand them the dense QPV housing of the cells they share.
        table = exposure_profile(
            zones, **layers, population=data.grid, surroundings="ring", ring=500,
            communes=data.communes,
            population_method="calibrated" if data.grid is not None else "area",
        )
    meta = table.attrs.get("columns") or {}
    table = table.drop(columns=[schema.POPULATION], errors="ignore")
    described = {}
    for col in table.columns:
        info = meta.get(col) or {}
        unit = str(info.get("unité", info.get("unit", "")))
        unit = "0-1" if unit.startswith("part") else unit
        described[col] = (
            str(info.get("description", col)), unit,
            str(info.get("couche", info.get("source", "exposition"))),
        )
    table.index = table.index.astype(str)
    table.index.name = schema.CODE_QPV
    return table, described


#: Exposure columns shown on the page (the CSV and GeoPackage hold them all): the
#: population shares (area shares when no population grid), concentrations, heat score,
#: distances, with their ratio to the surroundings.
_PAGE_EXPOSURE = (
    r"^(part_population_(?!.*couverte).*|no2|pm10|pm25|score_chaleur|distance_.*_m"
    r"|n_seveso_haut_1000m)(_ratio)?$"
)
_PAGE_EXPOSURE_AREA = r"^part_surface_(?!couverte).*?(_ratio)?$"


def _page_exposure_columns(columns: Sequence[str]) -> list[str]:
    shown = [c for c in columns if re.match(_PAGE_EXPOSURE, c)]
    covered = {re.sub(r"^part_population_|_ratio$", "", c) for c in shown}
    for c in columns:
        # an area share is shown only where no population share measures the same thing
        key = re.sub(r"^part_surface_|_ratio$", "", c)
        if re.match(_PAGE_EXPOSURE_AREA, c) and key not in covered:
            shown.append(c)
    # Surroundings values stay in the CSV (the ratio says it); one radius is enough here.
    return [c for c in columns if c in shown and not re.search(r"_environs$|_(500|2000)m", c)]


# -- writing the folder -----------------------------------------------------------------


def _fmt(value: object, unit: str) -> str:
    from qpvgeo.maps._format import format_number, format_percent

    if unit == "0-1":
        return format_percent(value, 1, fraction=True)
    if unit.startswith("%"):
        return format_percent(value, 1)
    if unit in {"ratio", "score"}:
        return format_number(value, 2)
    if unit in {"m", "km²", "ha"} or unit.startswith("µg"):
        return format_number(value, 1)
    if isinstance(value, float | np.floating) and not float(value).is_integer() and not unit:
        return format_number(value, 2)
    if isinstance(value, str):
        return value
    return format_number(value, 0)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Excel (French locale) opens `;`-separated UTF-8 files correctly only with a BOM.
    # Text cells starting with = + - @ are escaped (OWASP CSV injection), see qpvgeo.tables.
    with atomic_path(path) as tmp:
        escape_formulas(frame).to_csv(tmp, sep=";", index=False, encoding="utf-8-sig",
                                      decimal=",")


def _short_label(label: str) -> str:
    """A column header: long explanations (parentheses over 30 characters, clauses after
    ``;``) stay in the tooltip; short qualifiers such as ``(scénario moyen)`` stay."""
    label = re.sub(r" \([^()]{31,}\)", "", label)
    return label.split("; ", 1)[0]


def _html_table(
    frame: pd.DataFrame, columns: dict[str, tuple[str, str, str]], *, table_id: str,
    title: str, intro: str = "", unavailable: str = "", notes: Sequence[str] = (),
) -> dict:
    headers, rows = [], []
    for col in frame.columns:
        label, unit, src = columns.get(col, (col, "", ""))
        short = _short_label(label)
        headers.append({"label": short, "unit": "" if unit in {"", "0-1"} else unit,
                        "title": f"{label} — {col} — {src}" if src else f"{label} — {col}"})
    for _, row in frame.iterrows():
        cells = []
        for col in frame.columns:
            unit = columns.get(col, ("", "", ""))[1]
            value = row[col]
            numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                value, bool
            )
            text = _fmt(value, unit) if numeric or pd.isna(value) else str(value)
            cells.append({"text": text, "num": numeric})
        rows.append(cells)
    return {"id": table_id, "title": title, "intro": intro, "headers": headers, "rows": rows,
            "unavailable": unavailable, "notes": list(notes)}


def _interactive_map(diag: Diagnostic, path: Path, *, offline: bool) -> list[str]:
    """Write the Folium map; return notes on the layers that could not be drawn."""
    from qpvgeo.maps import add_layer, qpv_map, save_html

    qpv = diag.qpv_table
    column = "taux_pauvrete" if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any() \
        else schema.POPULATION
    tooltip = [c for c in (schema.POPULATION, "taux_pauvrete", "taux_emploi") if c in qpv]
    k = max(1, min(5, int(qpv[column].notna().sum())))
    m = qpv_map(
        qpv[[schema.CODE_QPV, schema.NOM_QPV, *tooltip, "geometry"]].assign(
            **{schema.MILLESIME: diag.millesime}), column,
        k=k, tooltip=tooltip, **({"tiles": None} if offline else {}),
        title=f"QPV – {diag.selection.name}", sources=diag.synthetic,
    )
    layers: list[tuple[str, gpd.GeoDataFrame]] = []
    # Thousands of commune outlines (a region) would weigh megabytes for little reading.
    if diag.communes_geo is not None and len(diag.communes_geo) <= _MAX_MAP_COMMUNES:
        layers.append(("communes", diag.communes_geo))
    layers += list(diag.layers.items())
    notes = []
    for kind, layer in layers:
        # One layer that cannot be drawn must not cost the analyst the whole map: the
        # page and a warning say which one and why (the indicators are not affected).
        try:
            add_layer(m, layer, kind=kind)
        except Exception as exc:
            label = LAYER_LABELS.get(kind, kind)
            note = (f"Couche « {label} » non dessinée sur la carte interactive "
                    f"({type(exc).__name__} : {exc})")
            warnings.warn(note, QpvgeoWarning, stacklevel=2)
            notes.append(note)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvgeoWarning)
        save_html(m, path, offline=offline)
    return notes


def _static_maps(diag: Diagnostic, out: Path, *, dpi: int) -> list[dict]:
    from qpvgeo.maps import plot_choropleth, save_figure

    qpv = diag.qpv_table
    maps = [("carte_population", schema.POPULATION, "Population des QPV")]
    if "taux_pauvrete" in qpv and qpv["taux_pauvrete"].notna().any():
        maps.append(("carte_pauvrete", "taux_pauvrete", "Taux de pauvreté des QPV (%)"))
    figures = []
    import matplotlib.pyplot as plt

    # Commune outlines help read a commune or EPCI map; thousands of them only blur a region.
    communes = diag.communes_geo
    background = (
        communes if communes is not None and len(communes) <= _MAX_MAP_COMMUNES else None
    )

    for stem, column, label in maps:
        k = max(1, min(5, int(qpv[column].notna().sum())))
        fig = plot_choropleth(
            qpv, column, k=k, title=f"{label} – {diag.selection.name}",
            background=background, sources=_sources_line(diag),
        )
        try:
            save_figure(fig, out / stem, dpi=dpi, formats=("png", "pdf"))
        finally:
            plt.close(fig)
        figures.append({"png": f"{stem}.png", "pdf": f"{stem}.pdf", "label": label})
    return figures


def _sources_line(diag: Diagnostic) -> str:
    if diag.synthetic:
        return diag.synthetic
    return f"ANCT (QPV {diag.millesime}), Insee ; traitement qpvgeo {__version__}"


def _source_text(record: dict) -> str:
    name = record.get("role") or record.get("source") or ""
    where = record.get("url") or record.get("path") or record.get("publisher") or ""
    sha = record.get("sha256")
    text = f"{name} : {Path(where).name if record.get('origin') == 'local' else where}"
    if record.get("millesime"):
        text += f" – {record['millesime']}"
    if record.get("title"):
        text = f"{name} : {record['title']} ({where})"
    return text + (f" (sha256 {sha[:12]}…)" if sha else "")


def _key_cards(diag: Diagnostic) -> tuple[list[dict], list[str]]:
    k = diag.key_figures
    from qpvgeo.maps._format import format_number, format_percent

    cards = [
        {"value": format_number(k["n_qpv"]), "label": "quartiers prioritaires"},
        {"value": format_number(k["population_qpv"]), "label": "habitants en QPV"},
    ]
    notes = []
    if "part_qpv" in k:
        cards.append({"value": format_percent(k["part_qpv"], 1, fraction=True),
                      "label": "de la population du territoire vit en QPV"})
    else:
        pop = diag.sections.get("population")
        notes.append("Part de la population du territoire en QPV indisponible : population "
                     f"par commune {pop.status if pop else 'non calculée'}.")
    cards += [
        {"value": format_number(k["population_territoire"]),
         "label": "habitants dans le territoire (populations légales)"},
        {"value": f"{format_number(k['n_communes_qpv'])} / {format_number(k['n_communes'])}",
         "label": "communes ayant au moins un QPV"},
    ]
    if abs(k.get("population_qpv_territoire", k["population_qpv"]) - k["population_qpv"]) >= 0.5:
        notes.append(
            f"Des QPV débordent du territoire : {format_number(k['population_qpv_territoire'])}"
            " de leurs habitants y résident (partage au prorata de la surface par commune)."
        )
    if k["n_qpv_sans_population"]:
        notes.append(f"{format_number(k['n_qpv_sans_population'])} QPV sans population "
                     "dans les tableaux Insee (secret statistique ou absence).")
    return cards, notes


def _render_index(diag: Diagnostic, *, figures: list[dict], map_links: list[dict],
                  maps_notes: list[str], files: list[dict], created: str) -> str:
    import jinja2

    template_text = (
        resources.files("qpvgeo") / "report_templates" / "index.html.j2"
    ).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(template_text)
    qpv = pd.DataFrame(diag.qpv_table.drop(columns="geometry"))
    cols = diag.columns
    base = [schema.CODE_QPV, schema.NOM_QPV, "communes", schema.POPULATION,
            "population_dans_territoire", schema.PART_QPV]
    base = [c for c in base if c in qpv]
    profile_cols = [c for c in qpv.columns if c in PROFILE_COLUMNS and c not in base]
    exposure_cols = _page_exposure_columns(
        [c for c in qpv.columns if c not in base and c not in profile_cols]
    )
    ident = [schema.CODE_QPV, schema.NOM_QPV]
    tables = [
        _html_table(qpv[base], cols, table_id="tableau-qpv",
                    title=f"Les {len(qpv)} QPV du territoire",
                    intro="Population municipale de chaque QPV (Insee) et part de la "
                          "population du territoire qu'elle représente."),
    ]
    prof = diag.sections.get("profil")
    tables.append(_html_table(
        qpv[ident + profile_cols], cols, table_id="tableau-profil",
        title="Profil socio-économique",
        intro="Indicateurs Insee par QPV ; « environs » : anneau de 500 m autour du QPV, "
              "les QPV exclus.",
        unavailable="" if prof is None or prof.ok else prof.status,
        notes=[s.status for name, s in diag.sections.items()
               if name == "profil_environs" and not s.ok],
    ))
    expo = diag.sections.get("exposition")
    tables.append(_html_table(
        qpv[ident + exposure_cols], cols, table_id="tableau-exposition",
        title="Exposition environnementale (QPV et environs)",
        intro="Chaque indicateur est donné pour le QPV, pour ses environs (anneau de 500 m) "
              "et en rapport QPV / environs (> 1 : le QPV est plus exposé).",
        unavailable="" if expo is not None and expo.ok else (expo.status if expo else ""),
        notes=[*_ratio_summary(qpv, exposure_cols, cols), *diag.missing.values()],
    ))
    if len(diag.communes_table):
        ct = diag.communes_table
        ccols = {schema.CODE_COMMUNE: ("Code commune", "", ""),
                 schema.NOM_COMMUNE: ("Commune", "", ""),
                 schema.POPULATION: ("Population", "habitants", "populations légales"),
                 schema.POPULATION_QPV: ("Population en QPV", "habitants", "Insee"),
                 schema.PART_QPV: ("Part en QPV", "0-1", ""),
                 schema.N_QPV: ("Nombre de QPV", "", "")}
        shown = [c for c in ccols if c in ct]
        tables.append(_html_table(ct[shown], ccols, table_id="tableau-communes",
                                  title="Communes du territoire ayant un QPV"))
    else:
        pop = diag.sections.get("population")
        tables.append({"id": "tableau-communes", "title": "Communes du territoire ayant un QPV",
                       "intro": "", "headers": [], "rows": [], "notes": [],
                       "unavailable": pop.status if pop else "aucune commune"})
    cards, key_notes = _key_cards(diag)
    sel = diag.selection
    return template.render(
        version=__version__, name=sel.name, territory=str(sel.territory),
        millesime=diag.millesime, created=created, synthetic=diag.synthetic,
        key_figures=cards, key_notes=key_notes, tables=tables, figures=figures,
        map_links=map_links, maps_notes=maps_notes,
        sections=list(diag.sections.values()),
        sources=[_source_text(r) for r in diag.sources], files=files,
    )


def _ratio_summary(
    qpv: pd.DataFrame, shown: Sequence[str], columns: dict[str, tuple[str, str, str]]
) -> list[str]:
    """One line per ratio shown: how many QPV are more exposed than their surroundings."""
    lines = []
    for col in shown:
        if not col.endswith("_ratio"):
            continue
        values = pd.to_numeric(qpv[col], errors="coerce").dropna()
        if not len(values):
            continue
        label = _short_label(columns.get(col, (col, "", ""))[0])
        label = re.sub(r"^rapport zone / environs de : ", "", label)
        lines.append(f"{label} : {int((values > 1).sum())} QPV sur {len(values)} au-dessus "
                     "de leurs environs (rapport QPV / environs > 1).")
    return lines


def _provenance(diag: Diagnostic, parameters: dict, created: str) -> dict:
    sel = diag.selection
    return {
        "qpvgeo_version": __version__,
        "created": created,
        "parameters": parameters,
        "territory": {"level": sel.territory.level, "code": sel.territory.code,
                      "name": sel.name, "departements": list(sel.departements),
                      "communes": len(sel.communes)},
        "millesimes": {
            "qpv": diag.millesime,
            **{r["role"]: r["millesime"] for r in diag.sources if r.get("millesime")},
        },
        "synthetic": diag.synthetic,
        "key_figures": diag.key_figures,
        "sections": {k: {"ok": s.ok, "status": s.status} for k, s in diag.sections.items()},
        "missing_layers": diag.missing,
        "sources": diag.sources,
    }


def write_report(
    diag: Diagnostic,
    out: str | os.PathLike,
    *,
    offline_maps: bool = False,
    dpi: int = 150,
    parameters: dict | None = None,
    progress: Callable[[str], None] | None = None,
    protect: Sequence[str | os.PathLike | None] = (),
) -> Path:
    """Write the diagnose folder for ``diag`` to ``out`` (atomically, see module docstring).

    Parameters
    ----------
    diag : Diagnostic
    out : path
        The folder to write; in an existing qpvgeo folder only the files of its
        manifest are replaced, once the new ones are complete; other files are kept.
    offline_maps : bool, default False
        Inline the interactive map's scripts and styles (no network needed to open it).
    dpi : int, default 150
        Resolution of the PNG maps.
    parameters : dict, optional
        Recorded in ``provenance.json``.
    progress : callable, optional
        Called with the name of each step.
    protect : sequence of paths
        Folders ``out`` must not be or contain (the data folder); see
        :class:`qpvgeo._output.ReportFolder`, which also keeps every file of ``out`` that
        is not in its manifest.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> diag = build_diagnostic(demo_data(), "commune:99001")
    >>> p = write_report(diag, pathlib.Path(tempfile.mkdtemp()) / "d", dpi=50)
    >>> sorted(x.name for x in p.iterdir())[:3]
    ['.qpvgeo-manifest.json', 'carte_interactive.html', 'carte_pauvrete.pdf']
    """
    step = progress or (lambda _name: None)
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    # Only files listed in the folder's manifest are ever replaced (qpvgeo._output).
    with ReportFolder(out, protect=protect) as folder:
        work = folder.work
        step("tableaux")
        qpv = diag.qpv_table
        plain = pd.DataFrame(qpv.drop(columns="geometry"))
        _write_csv(plain, work / "tableau_qpv.csv")
        communes_csv = diag.communes_table if len(diag.communes_table.columns) else (
            pd.DataFrame(columns=[schema.CODE_COMMUNE, schema.NOM_COMMUNE, *schema.SHARE_COLUMNS])
        )
        _write_csv(communes_csv, work / "tableau_communes.csv")
        dictionary = pd.DataFrame(
            [(c, *diag.columns.get(c, (c, "", ""))) for c in plain.columns],
            columns=["colonne", "libelle", "unite", "source"],
        )
        _write_csv(dictionary, work / "dictionnaire.csv")
        with atomic_path(work / "diagnostic.gpkg") as tmp:
            qpv.to_file(tmp, layer="qpv", driver="GPKG")
            if diag.communes_geo is not None:
                communes = diag.communes_geo
                if len(diag.communes_table):
                    communes = communes.merge(
                        diag.communes_table.drop(columns=[schema.NOM_COMMUNE], errors="ignore"),
                        on=schema.CODE_COMMUNE, how="left",
                    )
                communes.to_file(tmp, layer="communes", driver="GPKG")
        files = [
            {"href": "tableau_qpv.csv", "label": "tableau des QPV (CSV ; séparateur « ; »)"},
            {"href": "tableau_communes.csv", "label": "communes du territoire (CSV)"},
            {"href": "dictionnaire.csv", "label": "libellé, unité et source des colonnes"},
            {"href": "diagnostic.gpkg", "label": "GeoPackage : couches qpv et communes"},
            {"href": "provenance.json", "label": "sources, empreintes et paramètres"},
        ]
        step("carte interactive")
        map_links: list[dict] = []
        unavailable = []
        try:
            unavailable += _interactive_map(
                diag, work / "carte_interactive.html", offline=offline_maps
            )
        except (ImportError, QpvgeoError) as exc:
            unavailable.append(f"Carte interactive indisponible : {exc}")
        else:
            map_links.append({"href": "carte_interactive.html",
                              "label": "Carte interactive des QPV et des couches"
                                       + (" (autonome, hors ligne)" if offline_maps else "")})
            files.append({"href": "carte_interactive.html", "label": "carte interactive"})
        step("cartes statiques")
        try:
            figures = _static_maps(diag, work, dpi=dpi)
        except (ImportError, QpvgeoError) as exc:
            figures = []
            unavailable.append(f"Cartes statiques indisponibles : {exc}")
        for fig in figures:
            files += [{"href": fig["png"], "label": f"{fig['label']} (PNG)"},
                      {"href": fig["pdf"], "label": f"{fig['label']} (PDF)"}]
        step("page")
        page = _render_index(diag, figures=figures, map_links=map_links,
                             maps_notes=unavailable, files=files,
                             created=created)
        with atomic_path(work / "index.html") as tmp:
            tmp.write_text(page, encoding="utf-8")
        record = _provenance(diag, parameters or {}, created)
        with atomic_path(work / "provenance.json") as tmp:
            tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str),
                           encoding="utf-8")
        folder.commit()
    return folder.path


_STEPS = ("données", "territoire", "population", "profil", "exposition", "tableaux",
          "carte interactive", "cartes statiques", "page")


def diagnose(
    territory: Territory | str,
    *,
    millesime: int = 2024,
    out: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    demo: bool = False,
    offline_maps: bool = False,
    dpi: int = 150,
    progress: bool = True,
) -> Path:
    """Write the diagnostic folder of one territory; return its path.

    Parameters
    ----------
    territory : Territory or str
        ``region:32``, ``departement:59``, ``epci:<siren>`` or ``commune:<code>``.
    millesime : {2024, 2015}, default 2024
        QPV geography.
    out : path, optional
        Output folder; default ``diagnostic-<level>-<code>-<millesime>`` in the current
        directory.
    data_dir : path, optional
        Local data directory (layout in the module docstring); default
        ``$QPVGEO_DATA_DIR``, then the fetch cache directory.
    demo : bool, default False
        Use the embedded synthetic demo territory (offline; ``region:99``,
        ``departement:99``, ``epci:299000001``, ``commune:99001``…).
    offline_maps : bool, default False
        Inline the interactive map's assets.
    dpi : int, default 150
        Resolution of the PNG maps.
    progress : bool, default True
        Show a tqdm progress bar of the steps.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = diagnose("departement:99", demo=True, progress=False, dpi=50,
    ...              out=pathlib.Path(tempfile.mkdtemp()) / "d")
    >>> (p / "provenance.json").is_file()
    True
    """
    if isinstance(territory, str):
        territory = parse_territory(territory)
    out_path = Path(out) if out is not None else Path(
        f"diagnostic-{territory.slug}-{millesime}"
    )
    # Refuse an unsafe --out before any computation (qpvgeo._output).
    protect = [None if demo else _data_directory(data_dir)]
    check_output_folder(out_path, protect=protect)
    bar = tqdm(total=len(_STEPS), desc="qpvgeo diagnose", unit="étape", disable=not progress,
               leave=True)
    done: list[str] = []

    def step(name: str) -> None:
        if done:
            bar.update(1)
        done.append(name)
        bar.set_postfix_str(name)

    try:
        step("données")
        if demo:
            if millesime != 2024:
                raise DataFormatError("the demo territory exists in the 2024 geography only")
            data = demo_data()
            source_dir = None
        else:
            source_dir = _data_directory(data_dir)
            # Only the fetch cache itself is filled by downloads; a directory the user
            # names is read as it is.
            through_fetch = data_dir is None and not os.environ.get("QPVGEO_DATA_DIR")
            data = local_data(source_dir, territory=territory, millesime=millesime,
                              fetch_missing=through_fetch)
        diag = build_diagnostic(data, territory, progress=step)
        parameters = {"territory": str(territory), "millesime": millesime, "demo": demo,
                      "data_dir": str(source_dir) if source_dir else None,
                      "offline_maps": offline_maps, "dpi": dpi, "out": str(out_path)}
        path = write_report(diag, out_path, offline_maps=offline_maps, dpi=dpi,
                            parameters=parameters, progress=step, protect=protect)
        bar.update(1)
    finally:
        bar.close()
    return path


def _data_directory(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("QPVGEO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    with contextlib.suppress(ImportError):
        from qpvgeo.fetch import cache_dir

        return cache_dir()
    raise DataFormatError(
        "no data directory: pass --data-dir, set QPVGEO_DATA_DIR, or use --demo"
    )
