"""Data step of a diagnostic: read the frames of one QPV geography (demo or data directory)."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from qpvgeo import schema
from qpvgeo.diagnostic._files import (
    _READ_ALL,
    DATA_FILES,
    FILE_MILLESIMES,
    LAYER_FILES,
    ROLE_SOURCES,
)
from qpvgeo.errors import DataFormatError, QpvgeoError, QpvgeoWarning
from qpvgeo.territory import Territory


def _layer_labels() -> dict[str, str]:
    from qpvgeo.exposure import LAYERS

    return {name: layer.label for name, layer in LAYERS.items()}


#: French names of the environmental layers (from the exposure registry), for the page.
LAYER_LABELS: dict[str, str] = _layer_labels()

#: Margin (m) around the territory's QPV within which layers are kept: beyond the rings
#: and radii of the indicators.
_LAYER_MARGIN = 3000.0
#: Point layers (stations, sites) are searched further: an indicator looks for the
#: nearest one, which may lie well beyond the rings.
_POINT_MARGIN = 30000.0

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
    other_qpv : GeoDataFrame or None
        Contours of the *other* QPV geography (2015 for a 2024 diagnostic and the
        reverse), when the data directory holds them: the 2015 → 2024 evolution section.
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
    other_qpv: gpd.GeoDataFrame | None = None


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
        layers=dict(d.layers),  # one per registered layer
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
    >>> from qpvgeo.territory import parse_territory
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
    # The other geography's contours, when present, feed the 2015 -> 2024 evolution; absent,
    # the page says so (never a crosswalk against a guessed geography).
    other = 2015 if millesime == 2024 else 2024
    other_paths = files(f"qpv{other}", required=False)
    other_qpv = readers.read_qpv(other_paths[0]) if other_paths else None

    return DiagnosticData(
        millesime=millesime, qpv=qpv, indicators=indicators,
        commune_population=commune_population, membership=membership,
        communes=communes, epci=epci, missing=missing, sources=sources,
        layer_files=_layer_files(root), other_qpv=other_qpv,
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


def _source_extent(frame: gpd.GeoDataFrame, layer) -> object | None:
    """What a whole source file covers, for a layer that declares no coverage rule: the
    extent a reader attached, else the convex hull of its features (the area the
    publisher's extract spans: a region's ICPE register covers that region)."""
    if layer.extent is not None:
        return None
    declared = getattr(frame, "attrs", {}).get("couverture")
    if declared is not None:
        return declared
    import shapely

    g = schema.to_canonical_crs(frame, what=layer.name).geometry
    g = g[g.notna() & ~g.is_empty]
    if not len(g):
        return None
    hull = shapely.convex_hull(shapely.union_all(g.to_numpy()))
    return hull if shapely.get_type_id(hull) in (3, 6) else None


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
    from qpvgeo.exposure import LAYERS

    for name, layer_entry in LAYERS.items():
        label = layer_entry.label
        if name not in data.layers and name not in data.layer_files:
            missing[name] = f"couche {label} absente des données"
            continue
        points = layer_entry.style.kind == "points"
        area = _near_area(qpv_area, _POINT_MARGIN if points else _LAYER_MARGIN)
        if name not in data.layers:
            reader = layer_entry.reader
            if reader is None:
                missing[name] = f"couche {label} : pas de lecteur de fichiers déclaré"
                continue
            frames, extents = [], []
            for path in data.layer_files[name]:
                if not _reaches(path, area):
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", QpvgeoWarning)
                        whole = reader(path)
                        frame = _clip_layer(whole, area)
                except QpvgeoError as exc:
                    missing[name] = f"couche {label} illisible ({path.name}) : {exc}"
                    continue
                if len(frame):
                    frames.append(frame)
                    extents.append(_source_extent(whole, layer_entry))
                    sources.append(_record(path, name))
            if not frames:
                missing.setdefault(name, f"couche {label} : aucune donnée sur ce territoire")
                continue
            layer = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=schema.CRS)
        else:
            whole = data.layers[name]
            layer = _clip_layer(whole, area)
            if not len(layer):
                missing[name] = f"couche {label} : aucune donnée sur ce territoire"
                continue
            extents = [_source_extent(whole, layer_entry)]
        # Clipping to the territory must not shrink what the layer is known to cover: a
        # layer with no coverage rule of its own keeps the extent of the files it came from.
        known = [e for e in extents if e is not None]
        if known and layer_entry.extent is None and "couverture" not in layer.attrs:
            import shapely

            layer.attrs["couverture"] = shapely.union_all(known)
        layers[name] = layer
    return layers, missing
