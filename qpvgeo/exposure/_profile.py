"""The exposure profile: every registered layer, one population base, coverage, surroundings.

:func:`exposure_profile` validates the zones once, builds their surroundings once (minus
every QPV of the geography), computes the population base once (zones and surroundings),
then runs each layer of :data:`qpvgeo.exposure.LAYERS` it is given on the part of each
zone the layer covers. Columns are documented by the registry
(:func:`qpvgeo.exposure.column_catalogue`).
"""

from __future__ import annotations

import dataclasses
import re
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, QpvgeoWarning, SchemaError
from qpvgeo.exposure._base import (
    _population_context,
    _population_of,
    _population_source,
    _prepare_zones,
    _Zones,
)
from qpvgeo.exposure._catalogue import column_catalogue, describe_column
from qpvgeo.exposure._coverage import FULL, NONE, clip_to, covered_share, layer_extent
from qpvgeo.exposure._registry import LAYERS
from qpvgeo.exposure._surroundings import surroundings as _surroundings_of

#: ``population_method`` of :func:`exposure_profile` by default: ``"calibrated"`` for a
#: Filosofi grid (the QPV of the geography say where a cell's dense housing lies),
#: ``"area"`` for population polygons.
AUTO = "auto"


def describe_exposure_columns(columns: pd.DataFrame | Iterable[str] | None = None) -> pd.DataFrame:
    """Document exposure columns: unit, source layer, description (in French).

    Read from the registry (:data:`qpvgeo.exposure.LAYERS`): every layer declares its
    columns once, with :class:`qpvgeo.schema.Column` entries.

    Parameters
    ----------
    columns
        A table returned by an indicator or :func:`exposure_profile`, or column names.
        ``None`` documents the patterns themselves.

    Returns
    -------
    pandas.DataFrame
        ``colonne``, ``unité``, ``couche``, ``description`` (the French label, as
        ``libellé``), ``définition``; an undocumented column is an error (a column
        nobody can read is not published).

    Examples
    --------
    >>> describe_exposure_columns(["part_surface_bruit_route_lden_68"]).iloc[0]["libellé"]
    'Part de la surface exposée au bruit routier, Lden ≥ 68 dB(A)'
    """
    cols = ["colonne", "unité", "couche", "description", "libellé", "définition"]
    if columns is None:
        return pd.DataFrame(
            [{"colonne": c.name, **describe_column(c.name, entry=c)} for c in column_catalogue()],
            columns=cols,
        )
    names = (
        list(columns.columns) if isinstance(columns, pd.DataFrame) else [str(c) for c in columns]
    )
    rows, unknown = [], []
    for name in names:
        doc = describe_column(str(name))
        if doc is None:
            unknown.append(name)
        else:
            rows.append({"colonne": name, **doc})
    if unknown:
        raise SchemaError(f"describe_exposure_columns: undocumented columns {unknown}")
    return pd.DataFrame(rows, columns=cols)


# -- the run ----------------------------------------------------------------------------


@dataclasses.dataclass
class _Run:
    """What every layer of one profile shares: zones, population base, options."""

    population: Any
    method: str
    ancillary: gpd.GeoDataFrame | None
    key: str


def _method_of(population: Any, method: str) -> str:
    if method != AUTO:
        if method not in ("area", "calibrated"):
            raise QpvgeoError(
                f"population_method must be 'auto', 'area' or 'calibrated', got {method!r}"
            )
        return method
    if population is None:
        return "area"
    return "calibrated" if _population_source(population)[2] else "area"


def _with_base(z: _Zones, run: _Run, *, what: str | None = None,
               named: int | None = None) -> _Zones:
    """The zones with the run's population base attached (computed here, once).

    A zone the population source gives no inhabitant at all lies outside it (a grid
    extract lists inhabited cells of its own territory only): its population is NA, not
    0, and ``what`` names the zones in a warning (the first ``named`` zones only: the
    QPV of a set that also holds their surroundings).
    """
    ctx = _population_context(z, run.population, run.method, ancillary=run.ancillary)
    if ctx.population is not None:
        empty = ~(ctx.zone_total > 0)
        if empty.any():
            total = ctx.zone_total.astype(float).copy()
            total[empty] = np.nan
            ctx = dataclasses.replace(ctx, zone_total=total)
            told = empty.copy()
            if named is not None:
                told[named:] = False
            if what is not None and told.any():
                warnings.warn(
                    f"population: no inhabitant of the population source in "
                    f"{int(told.sum())} {what} ({z.index[told].tolist()[:10]}): outside "
                    "its extent; their population shares are NA",
                    QpvgeoWarning, stacklevel=3,
                )
    return dataclasses.replace(z, ctx=ctx)


#: Label suffix of a zone's surroundings when the QPV and their surroundings are
#: measured as one set of zones (:func:`_stack`); never seen outside this module.
_AROUND = " (environs)"


def _stack(z: _Zones, env: _Zones) -> _Zones:
    """The zones, then their surroundings, as one set of zones with distinct labels.

    A zonewise layer (:attr:`qpvgeo.exposure.Layer.zonewise`) measures each zone on
    its own, so one run over both sides gives each side's values with one dissolve of
    the layer and one population estimate instead of two. The surroundings carry no
    official population: their counts scaled by it are NA, and never compared.
    """
    labels = pd.Index([*z.index.tolist(), *(f"{c}{_AROUND}" for c in env.index.tolist())],
                      name=z.key, dtype="string")
    geoms = np.concatenate([z.geoms, env.geoms])
    official = (None if z.official is None
                else np.concatenate([z.official, np.full(len(env.geoms), np.nan)]))
    frame = gpd.GeoDataFrame({z.key: labels.to_numpy()}, geometry=geoms, crs=schema.CRS)
    return _Zones(frame, z.key, labels, geoms, np.concatenate([z.area, env.area]), official)


def _side(z: _Zones, part: _Zones, start: int) -> _Zones:
    """Zones ``start:start + len(part)`` of a stacked set, with their base, as ``part``."""
    ctx = z.ctx
    if ctx is not None:
        ctx = ctx.of(slice(start, start + len(part.index)))
    return dataclasses.replace(part, ctx=ctx)


def _covered_zones(
    z: _Zones, extent: Any, run: _Run
) -> tuple[_Zones | None, np.ndarray, np.ndarray]:
    """The zones clipped to ``extent`` (uncovered ones left out), their area share and
    population share covered (NaN without population)."""
    share = covered_share(z.geoms, extent)
    covered = np.nan_to_num(share) > NONE
    pop_share = np.full(len(z.geoms), np.nan)
    if not covered.any():
        if z.ctx is not None and z.ctx.population is not None:
            pop_share[:] = 0.0
        return None, share, pop_share
    geoms = clip_to(z.geoms[covered], extent, share[covered])
    idx = z.index[covered]
    official = None if z.official is None else z.official[covered].copy()
    ctx = None
    if z.ctx is not None and z.ctx.population is not None:
        total = z.ctx.zone_total[covered].copy()
        part = share[covered] < FULL
        if part.any():
            # Only the partly covered zones need a new estimate: the others keep the base.
            total[part] = _population_of(
                geoms[part], idx[part], run.population, method=run.method, qpv=z.ctx.qpv,
                squares=z.ctx.squares, mask=z.ctx.mask,
            )["population"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(z.ctx.zone_total[covered] > 0,
                             np.minimum(total / z.ctx.zone_total[covered], 1.0), np.nan)
        pop_share[covered] = ratio
        pop_share[~covered] = 0.0
        if official is not None:
            official = official * np.where(part, ratio, 1.0)
        ctx = z.ctx.of(covered, zone_total=total)
    frame = gpd.GeoDataFrame({run.key: idx.to_numpy()}, geometry=geoms, crs=schema.CRS)
    sub = _Zones(frame, run.key, idx, geoms, shapely.area(geoms), official, ctx)
    return sub, share, pop_share


def _layer_frames(
    layer: Any, z: _Zones, data: Any, extent: Any, options: Mapping[str, Any], run: _Run
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Coverage columns of every zone, and the layer's values on the covered zones (or
    ``None`` when the layer covers none)."""
    sub, share, pop_share = _covered_zones(z, extent, run)
    cover = pd.DataFrame({f"part_couverte_{layer.name}": share}, index=z.index.copy())
    if z.ctx is not None and z.ctx.population is not None:
        cover[f"part_population_couverte_{layer.name}"] = pop_share
    if sub is None:
        return cover, None
    with warnings.catch_warnings():
        # "No feature reaches the zones" is said once by the profile, as coverage.
        warnings.filterwarnings("ignore", message=r".*no feature of the layer",
                                category=QpvgeoWarning)
        values = layer.indicator(
            sub, data, key=run.key, population=run.population, population_method=run.method,
            ancillary=run.ancillary, **options,
        )
    values = values.drop(columns=[schema.POPULATION, "population_grille"], errors="ignore")
    return cover, values


def _run_layer(
    layer: Any, z: _Zones, data: Any, extent: Any, options: Mapping[str, Any], run: _Run
) -> pd.DataFrame:
    """One layer on the covered part of each zone; NA outside; coverage columns first."""
    cover, values = _layer_frames(layer, z, data, extent, options, run)
    return cover if values is None else cover.join(values.reindex(z.index))


def _run_layer_both(
    layer: Any, both: _Zones, sides: Sequence[pd.Index], data: Any, extent: Any,
    options: Mapping[str, Any], run: _Run,
) -> list[pd.DataFrame]:
    """A zonewise layer run once on stacked zones (:func:`_stack`), split back into one
    frame per side (``sides``: each side's labels, in stacking order), each exactly what
    :func:`_run_layer` gives on that side alone (a side the layer covers nowhere gets
    its coverage columns only)."""
    cover, values = _layer_frames(layer, both, data, extent, options, run)
    pos = (both.index.get_indexer(values.index) if values is not None
           else np.zeros(0, dtype=np.intp))
    out, start = [], 0
    for index in sides:
        stop = start + len(index)
        side_cover = cover.iloc[start:stop].set_axis(index.copy())
        mine = (pos >= start) & (pos < stop)
        if not mine.any():
            out.append(side_cover)
        else:
            own = values.iloc[np.flatnonzero(mine)].set_axis(index[pos[mine] - start])
            out.append(side_cover.join(own.reindex(index)))
        start = stop
    return out


def _comparable(layer: Any, columns: Iterable[str]) -> list[str]:
    pats = [re.compile(p) for p in layer.comparable]
    # Coverage is reported for both sides (``part_couverte_<couche>_environs``), not compared.
    skip = re.compile(r"^part_(population_|surface_)?couverte_")
    return [c for c in columns if any(p.fullmatch(c) for p in pats) and not skip.match(c)]


def _legacy_layers(legacy: Mapping[str, Any], options: dict[str, dict[str, Any]]) -> dict:
    layers = {}
    for name, value in legacy.items():
        if name == "radii":
            if value is not None:
                options.setdefault("sites", {})["radii"] = value
        elif name in LAYERS:
            if value is not None:
                layers[name] = value
        else:
            raise QpvgeoError(
                f"exposure_profile: unknown keyword {name!r}; layers are given as "
                f"layers={{name: data}} with names among {list(LAYERS)}"
            )
    return layers


def exposure_profile(
    qpv: gpd.GeoDataFrame,
    *,
    layers: Mapping[str, Any] | None = None,
    population: gpd.GeoDataFrame | None = None,
    surroundings: Any = "ring",
    ring: float = 500,
    communes: gpd.GeoDataFrame | None = None,
    all_qpv: gpd.GeoDataFrame | None = None,
    coverage: Mapping[str, Any] | None = None,
    key: str = schema.CODE_QPV,
    population_method: str = AUTO,
    ancillary: gpd.GeoDataFrame | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    **legacy: Any,
) -> pd.DataFrame:
    """Every exposure indicator of each QPV in one table, with coverage and surroundings.

    Each layer of ``layers`` (names of :data:`qpvgeo.exposure.LAYERS`) runs its
    indicator on the part of each QPV it covers:

    - **coverage** — ``part_couverte_<couche>`` is the share of the QPV's area inside the
      layer's coverage (``coverage=``, else derived from the source, else the layer's
      hull with a warning; see :func:`qpvgeo.exposure._coverage.layer_extent`), and
      ``part_population_couverte_<couche>`` its share of population. Outside, every
      indicator of the layer is NA (never 0); a partly covered QPV has its indicators
      computed on the covered part only (area and population);
    - **one population base** — ``population`` (a Filosofi grid with ``ind``, or
      polygons with ``population``) is estimated once for the QPV and once for their
      surroundings, with the calibrated grid estimator by default for a grid (every QPV
      of ``all_qpv`` as the dense-housing layer) and areal weights for polygons; when
      the QPV carry an official ``population`` (INSEE) it is the level, the grid the
      distribution;
    - **surroundings** — built once and minus every QPV of ``all_qpv``; each
      comparable column (the layer's ``comparable``) gets ``<c>_environs`` and
      ``<c>_ratio``, computed on the covered parts of both sides; the ratio is NA when
      either side is uncovered, when the surroundings value is 0, or when the layer says
      the comparison is meaningless (both sides served by the same air station).

    Parameters
    ----------
    qpv
        QPV polygons with a ``key`` column (:func:`qpvgeo.readers.read_qpv`), with an
        official ``population`` column when known.
    layers
        ``{name: data}``, e.g. ``{"flood": gdf, "air": stations}``. The old keywords
        ``flood=``, ``sites=``, ``air=``, ``heat=``, ``green_spaces=``, ``noise=`` (any
        registered name) and ``radii=`` are still accepted.
    population
        Filosofi grid (column ``ind``) or polygons with a ``population`` column.
    surroundings
        ``"ring"`` (default), ``"rest_of_commune"`` or ``"unite_urbaine"`` (need
        ``communes``), a comparison zone (GeoDataFrame or geometry), or ``None``.
    ring
        Width in metres of the ring (default 500).
    communes
        Commune polygons with ``code_commune`` (and ``code_unite_urbaine``).
    all_qpv
        Every QPV of the geography (default: ``qpv``): removed from the surroundings,
        dense-housing layer of the calibrated estimator.
    coverage
        ``{name: polygons}``: where each layer is known to hold data.
    key
        Zone identifier column.
    population_method
        ``"auto"`` (calibrated for a grid, area for polygons), ``"area"`` or
        ``"calibrated"``.
    ancillary
        Dense-housing layer of the calibrated estimator (default ``all_qpv``).
    options
        ``{name: {option: value}}`` passed to the layer's indicator over its defaults
        (``{"sites": {"radii": (300,)}, "air": {"max_distance": 1000}}``).

    Returns
    -------
    pandas.DataFrame
        One row per QPV (index ``key``): ``population`` (official when the QPV carry it)
        and ``population_grille`` (with a population base), then per layer its coverage,
        its indicators and the comparisons.
        ``attrs["columns"]`` documents each column (``unité``, ``couche``,
        ``description``, ``libellé``, ``définition``); ``attrs["couverture"]`` says how each layer's
        coverage was known; ``attrs["environs"]`` and ``attrs["population_method"]``.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> d = demo()
    >>> p = exposure_profile(d.qpv, layers={"flood": d.flood}, surroundings=None)
    >>> p["part_couverte_flood"].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    opts: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (options or {}).items()}
    given = {**dict(layers or {}), **_legacy_layers(legacy, opts)}
    unknown = [n for n in [*given, *opts, *(coverage or {})] if n not in LAYERS]
    if unknown:
        raise QpvgeoError(
            f"exposure_profile: no registered layer {sorted(set(unknown))}; "
            f"known layers: {list(LAYERS)}"
        )
    chosen = {n: given[n] for n in LAYERS if given.get(n) is not None}
    if not chosen:
        raise QpvgeoError(
            f"exposure_profile: give at least one layer (layers={{name: data}}, names among "
            f"{list(LAYERS)})"
        )
    z = _prepare_zones(qpv, key)
    every_qpv = all_qpv if all_qpv is not None else qpv
    method = _method_of(population, population_method)
    anc = ancillary if ancillary is not None else every_qpv
    if population is not None and method == "calibrated":
        anc = gpd.GeoDataFrame(geometry=_prepare_zones(anc, key).geoms
                               if key in getattr(anc, "columns", ()) else
                               np.asarray(anc.geometry.array, dtype=object), crs=schema.CRS)
    run = _Run(population, method, anc if method == "calibrated" else None, key)
    env = both = None
    if surroundings is not None:
        ring_frame = _surroundings_of(
            qpv, how=surroundings, ring=ring, communes=communes, qpv=every_qpv, key=key
        )
        ring_frame = ring_frame[ring_frame.area > 0]
        if len(ring_frame):
            env = _prepare_zones(ring_frame, key)
    if env is None:
        z = _with_base(z, run, what="zones")
    else:
        # One population base for the QPV and their surroundings (one estimate), split
        # for the layers that must run on each side alone.
        both = _with_base(_stack(z, env), run, what="zones", named=len(z.index))
        z, env = _side(both, z, 0), _side(both, env, len(z.index))

    head = pd.DataFrame(index=z.index.copy())
    if population is not None:
        head[schema.POPULATION] = z.official if z.official is not None else z.ctx.zone_total
        head["population_grille"] = z.ctx.zone_total
    elif z.official is not None:
        head[schema.POPULATION] = z.official  # the QPV's official figure, carried along
    blocks = [head]
    rules: dict[str, str] = {}
    for name, data in chosen.items():
        layer = LAYERS[name]
        lopts = {**dict(layer.options), **opts.get(name, {})}
        # Derived once per layer, for the QPV and their surroundings alike.
        extent, rules[name] = layer_extent(
            layer, data, (coverage or {}).get(name), communes=communes, **lopts
        )
        if both is not None and layer.zonewise:
            values, around = _run_layer_both(layer, both, [z.index, env.index], data,
                                             extent, lopts, run)
        else:
            values = _run_layer(layer, z, data, extent, lopts, run)
            around = (None if env is None
                      else _run_layer(layer, env, data, extent, lopts, run))
        if not any(c for c in values.columns if not c.startswith("part_couverte_")
                   and not c.startswith("part_population_couverte_")):
            warnings.warn(
                f"{name}: the layer covers none of the {len(z.index)} zones; its indicators "
                "are NA (hors couverture)",
                QpvgeoWarning, stacklevel=2,
            )
        if around is not None:
            values = _compare(layer, values, around.reindex(z.index))
        blocks.append(values)
    profile = pd.concat(blocks, axis=1)
    profile = profile.loc[:, ~profile.columns.duplicated()]
    profile.index.name = key
    profile.attrs = {
        "columns": {c: describe_column(c) for c in profile.columns},
        "couverture": rules,
        "environs": surroundings if isinstance(surroundings, str | None) else "zone",
        "ring": ring if isinstance(surroundings, str) and surroundings == "ring" else None,
        "population_method": method if population is not None else None,
    }
    return profile


def _compare(layer: Any, values: pd.DataFrame, around: pd.DataFrame) -> pd.DataFrame:
    """``<c>_environs`` and ``<c>_ratio`` for the layer's comparable columns."""
    out = values.copy()
    cover = f"part_couverte_{layer.name}"
    out[f"{cover}_environs"] = around[cover] if cover in around else np.nan
    masks = layer.incomparable(values, around) if layer.incomparable is not None else {}
    for c in _comparable(layer, values.columns):
        zc = pd.to_numeric(values[c], errors="coerce").astype(float)
        ec = (pd.to_numeric(around[c], errors="coerce").astype(float) if c in around
              else pd.Series(np.nan, index=values.index))
        ratio = (zc / ec).where(ec > 0)
        if c in masks:
            ratio = ratio.where(~masks[c].reindex(values.index).fillna(False).astype(bool))
        out[f"{c}_environs"] = ec
        out[f"{c}_ratio"] = ratio
    return out


def covered_indicator(
    name: str,
    indicator: Any,
    zones: gpd.GeoDataFrame,
    data: Any,
    coverage: Any,
    *,
    key: str = schema.CODE_QPV,
    population: Any = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """One indicator on the part of each zone inside ``coverage``; NA outside.

    What the layer functions do when given ``coverage=`` (the rule of
    :func:`exposure_profile`, for one layer and no surroundings): ``part_couverte_<name>``
    first, then the indicator measured on the covered part of each zone.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from qpvgeo.exposure import flood_exposure
    >>> z = gpd.GeoDataFrame({"code_qpv": ["A", "B"]},
    ...                      geometry=[box(0, 0, 100, 100), box(500, 0, 600, 100)], crs=2154)
    >>> f = gpd.GeoDataFrame(geometry=[box(0, 0, 50, 100)], crs=2154)
    >>> r = flood_exposure(z, f, coverage=box(-10, -10, 200, 200))
    >>> r["part_surface_inondable"].tolist()  # B lies outside what the layer covers
    [0.5, nan]
    """
    from qpvgeo.exposure._coverage import as_geometry

    z = _prepare_zones(zones, key)
    anc = None
    if population is not None and population_method == "calibrated":
        anc = ancillary if ancillary is not None else gpd.GeoDataFrame(
            geometry=z.geoms, crs=schema.CRS)
    run = _Run(population, population_method, anc, key)
    z = _with_base(z, run, what="zones")
    layer = types.SimpleNamespace(name=name, indicator=indicator)
    extent = as_geometry(coverage, what=f"coverage of {name!r}")
    values = _run_layer(layer, z, data, extent, options, run)
    if population is not None:
        head = pd.DataFrame(index=z.index.copy())
        head[schema.POPULATION] = z.official if z.official is not None else z.ctx.zone_total
        head["population_grille"] = z.ctx.zone_total
        values = head.join(values)
    values.index.name = key
    values.attrs["couche"] = name
    return values
