"""Industrial sites: distance, counts within radii, Seveso tiers, population within reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import SchemaError
from qpvgeo.exposure._base import (
    _QUAD_SEGS,
    _dissolve,
    _frame,
    _label,
    _measure_inside,
    _near,
    _nearest,
    _population_columns,
    _population_context,
    _prepare_layer,
    _prepare_zones,
    _radii,
)

# -- industrial sites ---------------------------------------------------------------------


def _seveso_levels(sites: gpd.GeoDataFrame) -> pd.Series | None:
    if schema.SEVESO not in sites.columns:
        return None
    lev = sites[schema.SEVESO].astype("string").str.strip().str.lower()
    if lev.isna().all():
        return None  # the source does not say (IREP): unknown is not "non Seveso"
    bad = sorted(set(lev.dropna().unique()) - set(schema.SEVESO_LEVELS))
    if bad:
        raise SchemaError(
            f"sites: column {schema.SEVESO!r} holds {bad}; "
            f"expected {list(schema.SEVESO_LEVELS)} or NA"
        )
    return lev


def _seveso_tiers(sites: Any, levels: pd.Series | None) -> set[str]:
    """The Seveso tiers the source lists. A list of upper-tier sites only (the national
    priority extracts) says nothing about lower-tier sites: their counts are NA.

    ``sites.attrs["seveso_tiers"]`` (set by a reader or the caller) says it outright;
    otherwise a source lists the lower tier when it holds a lower-tier or a non-Seveso
    site (then a full ICPE list), and the upper tier whenever it has a Seveso field.
    """
    declared = (getattr(sites, "attrs", None) or {}).get("seveso_tiers")
    if declared is not None:
        return set(declared)
    if levels is None:
        return set()
    present = set(levels.dropna().unique())
    return {"haut"} | ({"bas"} if present & {"bas", "non"} else set())


def industrial_exposure(
    zones: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    radii: Sequence[float] = (500, 1000, 2000),
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
) -> pd.DataFrame:
    """Distance to the nearest industrial site, sites within each radius, population within reach.

    Distances run from the zone's edge (0 when a site is inside the zone). A site
    counts within radius *r* when its distance is ``<= r``: a site 750 m away counts at
    1,000 m and not at 500 m. The area (and population) within *r* is the part of the zone
    inside the union of the *r*-buffers of all sites.

    Parameters
    ----------
    zones
        Polygons with a ``key`` column.
    sites
        Points (:func:`qpvgeo.readers.environment.read_industrial_sites`): ``code_site``,
        ``nom_site`` and, when known, ``seveso`` in ``haut`` / ``bas`` / ``non`` (NA when
        the source does not say, as in IREP).
    radii
        Distances in metres.
    key, population, population_method
        As in :func:`flood_exposure`.
    coverage
        Where the layer is known to hold data (polygons or a shapely geometry): a zone
        outside gets NA, a partly covered zone is measured on its covered part, and
        ``part_couverte_sites`` comes first (:func:`qpvgeo.exposure.exposure_profile`
        applies the same rule to every layer). Default: the layer measured as given.

    Returns
    -------
    pandas.DataFrame
        ``distance_site_m``, ``site_plus_proche``; with a ``seveso`` column also
        ``distance_seveso_haut_m``, ``seveso_haut_plus_proche``; per radius *r*:
        ``n_sites_<r>m`` and with Seveso levels ``n_seveso_haut_<r>m``,
        ``n_seveso_bas_<r>m`` (NA when the source lists upper-tier sites only: see
        ``_seveso_tiers``); ``part_surface_sites_<r>m`` and with a population
        ``part_population_sites_<r>m``, ``population_sites_<r>m``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QP059001"]}, geometry=[box(0, 0, 100, 100)], crs=2154)
    >>> s = gpd.GeoDataFrame({"code_site": ["A"], "seveso": ["haut"]},
    ...                      geometry=[Point(850, 50)], crs=2154)
    >>> r = industrial_exposure(z, s)
    >>> row = r.iloc[0]
    >>> float(row["distance_site_m"]), int(row["n_sites_500m"]), int(row["n_sites_1000m"])
    (750.0, 0, 1)
    """
    if coverage is not None:
        from qpvgeo.exposure._profile import covered_indicator

        return covered_indicator(
            "sites", industrial_exposure, zones, sites, coverage, key=key,
            population=population, population_method=population_method,
            ancillary=ancillary, radii=radii,
        )
    z = _prepare_zones(zones, key)
    rs = _radii(radii)
    layer = _prepare_layer(sites, what="sites", zones=z, polygons=False, reach=rs[-1])
    ctx = _population_context(z, population, population_method, ancillary=ancillary)
    levels = _seveso_levels(layer)
    tiers = _seveso_tiers(sites, levels)
    geoms = np.asarray(layer.geometry.array, dtype=object)
    label_col = next((c for c in (schema.CODE_SITE, schema.NOM_SITE) if c in layer.columns), None)
    labels = (
        layer[label_col].astype("string").to_numpy(dtype=object)
        if label_col
        else np.asarray(layer.index.astype(str), dtype=object)
    )
    out: dict[str, Any] = {}
    out["distance_site_m"], out["site_plus_proche"] = _nearest(z.geoms, geoms, labels)
    if levels is not None:
        haut = (levels == "haut").fillna(False).to_numpy()
        out["distance_seveso_haut_m"], out["seveso_haut_plus_proche"] = _nearest(
            z.geoms, geoms[haut], labels[haut]
        )
    tree = STRtree(geoms) if len(geoms) else None
    for r in rs:
        lab = _label(r)
        if tree is not None:
            zi, si = tree.query(z.geoms, predicate="dwithin", distance=r)
        else:
            zi = si = np.zeros(0, dtype=int)
        out[f"n_sites_{lab}m"] = np.bincount(zi, minlength=len(z.geoms))
        if levels is not None:
            lv = levels.fillna("").to_numpy(dtype=object)
            for level in ("haut", "bas"):
                sel = lv[si] == level if len(si) else np.zeros(0, dtype=bool)
                counts = pd.array(np.bincount(zi[sel], minlength=len(z.geoms)), dtype="Int64")
                if level not in tiers:
                    counts[:] = pd.NA  # the source does not list this tier: unknown, not 0
                out[f"n_seveso_{level}_{lab}m"] = counts
    reaches = {}
    for r in rs:
        near = _near(layer, z, r) if len(layer) else geoms
        reaches[f"{_label(r)}m"] = (
            _dissolve(shapely.buffer(near, r, quad_segs=_QUAD_SEGS)) if len(near) else None
        )
    # every radius in one call: one population estimate for all their pieces
    out.update(_measure_inside(z, reaches, stem="sites", ctx=ctx, with_area=False))
    return _frame(_population_columns(out, z, ctx), z, layer="sites")


def demo_layer(base: Any) -> gpd.GeoDataFrame:
    """Three fictitious industrial sites, one per Seveso tier (haut, bas, non)."""
    x0, y0 = base.territory.bounds[:2]
    pts = [(4.2e3 + x0, 6.9e3 + y0), (3.2e3 + x0, 0.5e3 + y0), (10.6e3 + x0, 2.2e3 + y0)]
    return gpd.GeoDataFrame(
        {
            schema.CODE_SITE: ["DEMO-0001", "DEMO-0002", "DEMO-0003"],
            schema.NOM_SITE: [
                "Dépôt pétrolier de l'Estuaire (fictif)",
                "Usine chimique Synthèse (fictive)",
                "Plateforme logistique (fictive)",
            ],
            schema.SEVESO: ["haut", "bas", "non"],
        },
        geometry=shapely.points(pts), crs=schema.CRS,
    )
