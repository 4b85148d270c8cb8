"""Decarbonisation of the neighbourhoods: district heating networks and DPE labels.

Heat networks
    :func:`heat_network_iris` joins the heat delivered per (network, IRIS, sector)
    (:func:`qpvgeo.readers.energy.read_heat_network_deliveries`) to IRIS contours and to
    the networks' official CO2 content and renewable share (arrêté DPE,
    :func:`~qpvgeo.readers.energy.read_heat_network_co2`): one row per IRIS of the
    contours. An IRIS of the contours absent from the deliveries received no network
    heat (0 MWh, measured: the SDES file lists every delivery of every network); a
    delivery under statistical secrecy is unknown (NA), and so is every total it enters.
    :func:`heat_network_exposure` brings those IRIS to the zones: each IRIS's energy is
    split between the zones in proportion to area (or, with a population ``base``, to
    inhabitants) — an *estimate*, the file being published per IRIS. A zone less than
    ``min_coverage`` covered by the IRIS contours gets NA.
DPE
    :func:`dpe_exposure` places each certificate in a zone with
    :func:`qpvgeo.locate.locate_qpv` and counts labels F and G (« passoires
    énergétiques »), energy and climate (GES) labels separately. A zone outside the
    départements the DPE file covers gets NA.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import box
>>> iris = gpd.GeoDataFrame({"code_iris": ["593500101", "593500102"]},
...                         geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=2154)
>>> d = pd.DataFrame({"identifiant_reseau": ["5910C"], "code_iris": ["593500101"],
...                   "filiere": ["chaleur"], "secteur": ["résidentiel"],
...                   "energie_mwh": [1000.0], "points_livraison": [4], "secret": [False]})
>>> z = gpd.GeoDataFrame({"code_qpv": ["QN05901M"]}, geometry=[box(50, 0, 150, 100)], crs=2154)
>>> heat_network_exposure(z, heat_network_iris(d, iris))["chaleur_reseau_residentiel_mwh"].item()
500.0
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.exposure.access import _coverage, _densities, _lattice, _zones

__all__ = ["DPE_COLUMNS", "HEAT_NETWORK_COLUMNS", "dpe_exposure", "heat_network_exposure",
           "heat_network_iris", "iris_extent"]

def iris_extent(data: Any, **_: Any) -> Any:
    """The coverage of :func:`heat_network_iris`: the union of its IRIS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> iris = gpd.GeoDataFrame({"code_iris": ["1", "2"]},
    ...                         geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=2154)
    >>> iris_extent(iris).area
    2.0
    """
    if not isinstance(data, gpd.GeoDataFrame) or not len(data):
        return None
    frame = schema.to_canonical_crs(data, what="IRIS heat")
    return shapely.union_all(np.asarray(frame.geometry.array, dtype=object))


_HEAT_COLUMNS = ("chaleur_reseau_mwh", "chaleur_reseau_residentiel_mwh",
                 "points_livraison_reseau")


def heat_network_iris(
    deliveries: pd.DataFrame,
    iris: gpd.GeoDataFrame,
    *,
    networks: pd.DataFrame | None = None,
    consumption: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Network heat per IRIS of ``iris``: energy, delivery points, CO2 content, renewables.

    Parameters
    ----------
    deliveries : pandas.DataFrame
        From :func:`qpvgeo.readers.energy.read_heat_network_deliveries` (cooling networks
        are left out: ``filiere`` "chaleur" only).
    iris : geopandas.GeoDataFrame
        IRIS contours with ``code_iris`` (:func:`qpvgeo.readers.energy.read_iris_contours`):
        they define the coverage.
    networks : pandas.DataFrame, optional
        :func:`qpvgeo.readers.energy.read_heat_network_co2`; adds the MWh-weighted CO2
        content and renewable share of the heat delivered in each IRIS.
    consumption : pandas.DataFrame, optional
        ``code_iris`` and ``conso_residentielle_mwh`` (all energies, from the SDES local
        energy data): gives the share of residential energy supplied by networks.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code_iris``, ``chaleur_reseau_mwh`` (all sectors), ``chaleur_reseau_residentiel_mwh``,
        ``points_livraison_reseau``, ``n_reseaux``, ``contenu_co2_kg_kwh``,
        ``taux_enrr``, (``conso_residentielle_mwh``), geometry.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> iris = gpd.GeoDataFrame({"code_iris": ["593500101"]}, geometry=[box(0, 0, 1, 1)],
    ...                         crs=2154)
    >>> d = pd.DataFrame({"identifiant_reseau": ["5910C"], "code_iris": ["593500101"],
    ...                   "filiere": ["chaleur"], "secteur": ["tertiaire"],
    ...                   "energie_mwh": [float("nan")], "points_livraison": [pd.NA],
    ...                   "secret": [True]})
    >>> heat_network_iris(d, iris)["chaleur_reseau_mwh"].isna().item()  # secret: unknown
    True
    """
    schema.require_columns(deliveries, ["identifiant_reseau", "code_iris", "filiere",
                                        "secteur", "energie_mwh", "secret"],
                           what="heat deliveries")
    schema.require_columns(iris, ["code_iris"], what="IRIS contours")
    if not isinstance(iris, gpd.GeoDataFrame):
        raise SchemaError("IRIS contours: expected a GeoDataFrame")
    iris = schema.to_canonical_crs(iris, what="IRIS contours")
    codes = iris["code_iris"].astype("string")
    if codes.duplicated().any():
        dup = codes[codes.duplicated()].tolist()[:5]
        raise SchemaError(f"IRIS contours: duplicated codes {dup}")
    d = deliveries[deliveries["filiere"] == "chaleur"].copy()
    d["code_iris"] = d["code_iris"].astype("string")
    d["_res"] = d["secteur"] == "résidentiel"
    d["_e"] = d["energie_mwh"].astype(float)
    pdl = (pd.to_numeric(d["points_livraison"], errors="coerce") if "points_livraison" in d
           else pd.Series(np.nan, index=d.index))
    d["_pdl"] = pdl.astype(float)

    def total(frame: pd.DataFrame, col: str) -> pd.Series:
        # a sum over rows of which one is secret is unknown: min_count and NaN propagate
        return frame.groupby("code_iris")[col].agg(lambda s: s.sum() if s.notna().all()
                                                    else np.nan)

    g = pd.DataFrame(index=pd.Index(codes.unique(), name="code_iris"))
    g["chaleur_reseau_mwh"] = total(d, "_e")
    g["chaleur_reseau_residentiel_mwh"] = total(d[d["_res"]], "_e")
    g["points_livraison_reseau"] = total(d, "_pdl")
    g["n_reseaux"] = d.groupby("code_iris")["identifiant_reseau"].nunique()
    served = g.index.isin(d["code_iris"])
    g.loc[~served, ["chaleur_reseau_mwh", "points_livraison_reseau", "n_reseaux"]] = 0.0
    res_served = g.index.isin(d.loc[d["_res"], "code_iris"])
    g.loc[~res_served, "chaleur_reseau_residentiel_mwh"] = 0.0
    g["contenu_co2_kg_kwh"] = np.nan
    g["taux_enrr"] = np.nan
    if networks is not None:
        schema.require_columns(networks, ["identifiant_reseau", "contenu_co2_kg_kwh",
                                          "taux_enrr"], what="arrêté DPE table")
        n = networks.set_index("identifiant_reseau")
        known = d[d["_e"].notna()].join(n[["contenu_co2_kg_kwh", "taux_enrr"]],
                                        on="identifiant_reseau")
        for col in ("contenu_co2_kg_kwh", "taux_enrr"):
            k = known[known[col].notna()]
            w = k.groupby("code_iris")["_e"].sum()
            s = (k["_e"] * k[col]).groupby(k["code_iris"]).sum()
            g[col] = (s / w).where(w > 0).reindex(g.index)
    if consumption is not None:
        schema.require_columns(consumption, ["code_iris", "conso_residentielle_mwh"],
                               what="residential consumption")
        c = consumption.assign(code_iris=consumption["code_iris"].astype("string"))
        g["conso_residentielle_mwh"] = (c.set_index("code_iris")["conso_residentielle_mwh"]
                                        .astype(float).reindex(g.index))
    out = gpd.GeoDataFrame(g.reset_index(), geometry=np.asarray(
        iris.set_index(codes).loc[g.index].geometry.array, dtype=object), crs=schema.CRS)
    unknown = sorted(set(d["code_iris"]) - set(codes))
    out.attrs["iris_hors_contours"] = len(unknown)
    out.attrs["source"] = "SDES, France Chaleur Urbaine"
    return out


def _shares(zgeoms: np.ndarray, igeoms: np.ndarray, base: Any, step: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, iris, share of the IRIS's area / population in the zone) for each overlap."""
    zi, ii = STRtree(igeoms).query(zgeoms, predicate="intersects")
    if not len(zi):
        return zi, ii, np.zeros(0)
    if base is None:
        a = shapely.area(shapely.intersection(zgeoms[zi], igeoms[ii]))
        return zi, ii, a / shapely.area(igeoms[ii])
    owner, x, y = _lattice(igeoms, step)
    pts = shapely.points(x, y)
    w = _densities(pts, base)
    tot = np.bincount(owner, weights=w, minlength=len(igeoms))
    pz, zz = STRtree(zgeoms).query(pts, predicate="intersects")
    # pairs (zone, iris) -> summed weight of the IRIS's lattice points inside the zone
    pair = pd.DataFrame({"z": zz, "i": owner[pz], "w": w[pz]}).groupby(["z", "i"])["w"].sum()
    inn = pd.Series(pair.to_numpy(), index=pair.index).reindex(
        pd.MultiIndex.from_arrays([zi, ii]), fill_value=0.0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(tot[ii] > 0, inn / tot[ii], 0.0)
    return zi, ii, share


def heat_network_exposure(
    zones: gpd.GeoDataFrame,
    iris_heat: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    min_coverage: float = 0.95,
    step: float = 50.0,
    coverage: bool = True,
    layer: str = "reseaux_chaleur",
) -> pd.DataFrame:
    """Network heat delivered in each zone, and the carbon content of that heat.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygons with a ``key`` column; an official ``population`` column (INSEE) gives
        the residential network heat per inhabitant.
    iris_heat : geopandas.GeoDataFrame
        :func:`heat_network_iris`.
    key : str
        Zone identifier column.
    population : geopandas.GeoDataFrame, optional
        Population base (Filosofi grid ``ind`` or polygons ``population``): each IRIS's
        energy is split by inhabitants instead of area.
    population_method, ancillary
        Accepted for the registry's contract (the split uses the base's cell densities).
    min_coverage : float
        Smallest share of a zone's area inside the IRIS contours for a value (else NA).
    coverage : bool
        ``False`` when the zones are already clipped to the IRIS (as
        :func:`qpvgeo.exposure.exposure_profile` does, adding ``part_couverte_<layer>``
        itself): no coverage column and no ``min_coverage`` test.
    step : float
        Lattice step (m) of the population split.
    layer : str
        Layer name, for ``part_couverte_<layer>``.

    Returns
    -------
    pandas.DataFrame
        ``part_couverte_<layer>``, ``chaleur_reseau_mwh``, ``chaleur_reseau_residentiel_mwh``,
        ``points_livraison_reseau`` (estimates), ``part_surface_desservie_reseau_chaleur``
        (share of the zone's area in IRIS receiving network heat), ``contenu_co2_kg_kwh``
        and ``taux_enrr`` of that heat (NA when none), with an official population
        ``chaleur_reseau_residentiel_kwh_par_habitant``, with a residential consumption
        ``part_chaleur_reseau_residentiel``.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> iris = gpd.GeoDataFrame({"code_iris": ["593500101"]}, geometry=[box(0, 0, 100, 100)],
    ...                         crs=2154)
    >>> d = pd.DataFrame({"identifiant_reseau": ["5910C"], "code_iris": ["593500101"],
    ...                   "filiere": ["chaleur"], "secteur": ["résidentiel"],
    ...                   "energie_mwh": [800.0], "points_livraison": [2], "secret": [False]})
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QN05901M", "QN05902M"]},
    ...                      geometry=[box(0, 0, 50, 100), box(500, 0, 600, 100)], crs=2154)
    >>> heat_network_exposure(z, heat_network_iris(d, iris))["chaleur_reseau_mwh"].tolist()
    [400.0, nan]
    """
    if not 0 < min_coverage <= 1:
        raise QpvgeoError(f"min_coverage must be in (0, 1], got {min_coverage}")
    schema.require_columns(iris_heat, ["code_iris", *_HEAT_COLUMNS], what="IRIS heat")
    index, zgeoms, src, official = _zones(zones, key)
    base = population
    ih = schema.to_canonical_crs(iris_heat, what="IRIS heat")
    igeoms = np.asarray(ih.geometry.array, dtype=object)
    n = len(index)
    union = shapely.union_all(igeoms)
    covered = np.clip(shapely.area(shapely.intersection(zgeoms, union)) / shapely.area(zgeoms),
                      0.0, 1.0)
    ok = covered >= min_coverage if coverage else np.ones(n, dtype=bool)
    zi, ii, share = _shares(zgeoms, igeoms, base, step)
    keep = share > 0
    zi, ii, share = zi[keep], ii[keep], share[keep]
    out: dict[str, np.ndarray] = {f"part_couverte_{layer}": covered} if coverage else {}
    for col in _HEAT_COLUMNS:
        v = ih[col].astype(float).to_numpy()[ii]
        s = np.bincount(zi, weights=np.nan_to_num(share * v), minlength=n)
        unknown = np.bincount(zi, weights=np.isnan(v).astype(float), minlength=n) > 0
        out[col] = np.where(ok & ~unknown, s, np.nan)
    served = (ih["chaleur_reseau_mwh"].astype(float).fillna(1.0).to_numpy() > 0)
    if len(zi):
        a = shapely.area(shapely.intersection(zgeoms[zi], igeoms[ii]))
        sa = np.bincount(zi, weights=a * served[ii], minlength=n)
    else:
        sa = np.zeros(n)
    out["part_surface_desservie_reseau_chaleur"] = np.where(ok, sa / shapely.area(zgeoms),
                                                            np.nan)
    e = ih["chaleur_reseau_mwh"].astype(float).to_numpy()[ii]
    for col in ("contenu_co2_kg_kwh", "taux_enrr"):
        if col not in ih.columns:
            continue
        v = ih[col].astype(float).to_numpy()[ii]
        good = ~np.isnan(v) & ~np.isnan(e)
        w = np.bincount(zi[good], weights=(share * e)[good], minlength=n)
        s = np.bincount(zi[good], weights=(share * e * v)[good], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[col] = np.where(ok & (w > 0), s / w, np.nan)
    pop = official
    if pop is not None and len(pop) == n:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["chaleur_reseau_residentiel_kwh_par_habitant"] = np.where(
                pop > 0, out["chaleur_reseau_residentiel_mwh"] * 1000.0 / pop, np.nan)
    if "conso_residentielle_mwh" in ih.columns:
        c = ih["conso_residentielle_mwh"].astype(float).to_numpy()[ii]
        tot = np.bincount(zi, weights=np.nan_to_num(share * c), minlength=n)
        unknown = np.bincount(zi, weights=np.isnan(c).astype(float), minlength=n) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            out["part_chaleur_reseau_residentiel"] = np.where(
                ok & ~unknown & (tot > 0),
                np.minimum(out["chaleur_reseau_residentiel_mwh"] / tot, 1.0), np.nan)
    frame = pd.DataFrame(out, index=index.copy())
    frame.attrs.update(couche=layer, repartition="surface" if base is None else "population",
                       estimation="énergie de l'IRIS répartie au prorata "
                       + ("de la surface" if base is None else "de la population"))
    return frame


def dpe_exposure(
    zones: gpd.GeoDataFrame,
    dpe: gpd.GeoDataFrame,
    *,
    key: str = schema.CODE_QPV,
    population: gpd.GeoDataFrame | None = None,
    population_method: str = "area",
    ancillary: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
    layer: str = "dpe",
) -> pd.DataFrame:
    """Energy performance certificates in each zone: counts and shares of labels F and G.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        QPV (or their surroundings) with a ``code_qpv`` key: points are placed with
        :func:`qpvgeo.locate.locate_qpv`. Where zones overlap (rings around
        neighbouring QPV), a certificate counts in one of them only.
    dpe : geopandas.GeoDataFrame
        :func:`qpvgeo.readers.energy.read_dpe`.
    key : str
        Zone identifier column (must be ``code_qpv``).
    population, population_method, ancillary : ignored
        Certificates are counted, not weighted (the registry's indicator contract).
    coverage : list of str, polygon or False, optional
        Départements (or area) for which ``dpe`` is complete (default
        ``dpe.attrs["couverture_departements"]``); ``False`` when the zones are already
        clipped to it (:func:`qpvgeo.exposure.exposure_profile`): no coverage column.
    layer : str
        Layer name, for ``part_couverte_<layer>``.

    Returns
    -------
    pandas.DataFrame
        ``part_couverte_<layer>``, ``n_dpe``, ``n_dpe_fg``, ``part_dpe_fg`` (labels F or
        G among labelled certificates, NA without any), ``part_dpe_ges_fg`` (climate
        label), ``n_dpe_bord`` (certificates within the contours' tolerance of an edge:
        their in/out answer is uncertain). NA outside coverage.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> z = gpd.GeoDataFrame({"code_qpv": ["QN05901M"]},
    ...                      geometry=[box(700000, 7050000, 701000, 7051000)], crs=2154)
    >>> d = gpd.GeoDataFrame({"etiquette_dpe": ["F", "C", "G", "D"],
    ...                       "etiquette_ges": ["C", "C", "F", "D"]},
    ...                      geometry=[Point(700500, 7050500), Point(700100, 7050100),
    ...                                Point(700900, 7050900), Point(0, 0)], crs=2154)
    >>> dpe_exposure(z, d, coverage=["59"])[["n_dpe", "part_dpe_fg"]].values.tolist()
    [[3.0, 0.6666666666666666]]
    """
    from qpvgeo.locate import locate_qpv  # points -> QPV: one function for the package

    if key != schema.CODE_QPV:
        raise QpvgeoError(f"dpe_exposure places certificates with locate_qpv: key must be "
                          f"{schema.CODE_QPV!r}, got {key!r}")
    schema.require_columns(dpe, ["etiquette_dpe"], what="DPE")
    index, zgeoms, src, _ = _zones(zones, key)
    covered = _coverage(src, index, zgeoms, dpe, coverage, key, what=layer)
    qpv = gpd.GeoDataFrame({schema.CODE_QPV: index.to_numpy()}, geometry=zgeoms, crs=schema.CRS)
    pts = gpd.GeoDataFrame(dpe[["etiquette_dpe"] + (["etiquette_ges"] if "etiquette_ges" in dpe
                                                    else [])],
                           geometry=dpe.geometry.array, crs=dpe.crs)
    import warnings

    with warnings.catch_warnings():
        # certificates beyond every zone are the rule here, not a data problem
        warnings.simplefilter("ignore")
        placed = locate_qpv(pts, qpv)
    g = next(c for c in placed.columns if c.startswith("code_qpv_") and "proche" not in c)
    mill = g.rsplit("_", 1)[1]
    code = placed[g].astype("string")
    edge = placed[f"bord_qpv_{mill}"].fillna(False).astype(bool)
    inside = code.notna().to_numpy()
    pos = pd.Index(index).get_indexer(code[inside].to_numpy())
    n = len(index)
    lab = placed["etiquette_dpe"].astype("string").to_numpy(dtype=object)[inside]
    labelled = pd.notna(lab)
    fg = labelled & np.isin(lab, ["F", "G"])
    out: dict[str, np.ndarray] = {} if coverage is False else {f"part_couverte_{layer}": covered}
    cov = covered > 0
    n_dpe = np.bincount(pos, minlength=n).astype(float)
    n_lab = np.bincount(pos, weights=labelled, minlength=n)
    n_fg = np.bincount(pos, weights=fg, minlength=n)
    out["n_dpe"] = np.where(cov, n_dpe, np.nan)
    out["n_dpe_fg"] = np.where(cov, n_fg, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["part_dpe_fg"] = np.where(cov & (n_lab > 0), n_fg / n_lab, np.nan)
        if "etiquette_ges" in placed.columns:
            ges = placed["etiquette_ges"].astype("string").to_numpy(dtype=object)[inside]
            gl = pd.notna(ges)
            n_gl = np.bincount(pos, weights=gl, minlength=n)
            n_gfg = np.bincount(pos, weights=gl & np.isin(ges, ["F", "G"]), minlength=n)
            out["part_dpe_ges_fg"] = np.where(cov & (n_gl > 0), n_gfg / n_gl, np.nan)
    out["n_dpe_bord"] = np.where(
        cov, np.bincount(pos, weights=edge.to_numpy()[inside], minlength=n), np.nan)
    frame = pd.DataFrame(out, index=index.copy())
    frame.attrs.update(couche=layer, placement="qpvgeo.locate.locate_qpv",
                       tolerance=placed.attrs.get("tolerance"))
    return frame


def _energy_columns() -> tuple[tuple, tuple]:
    from qpvgeo.schema import Column

    fcu = "SDES, France Chaleur Urbaine"
    heat = (
        Column("part_couverte_reseaux_chaleur", "Part de la zone couverte par les contours IRIS",
               "%", kind="share", source=fcu),
        Column("chaleur_reseau_mwh", "Chaleur livrée par les réseaux (estimation)", "MWh",
               kind="mean", decimals=0, source=fcu,
               description="chaleur livrée en 2019 par les réseaux de chaleur, tous secteurs, "
               "répartie de l'IRIS à la zone au prorata de la surface (ou de la population)"),
        Column("chaleur_reseau_residentiel_mwh",
               "Chaleur livrée par les réseaux au résidentiel (estimation)", "MWh",
               kind="mean", decimals=0, source=fcu),
        Column("points_livraison_reseau", "Points de livraison des réseaux (estimation)", "",
               kind="count", decimals=0, source=fcu),
        Column("part_surface_desservie_reseau_chaleur",
               "Part de la surface dans un IRIS desservi par un réseau de chaleur", "%",
               kind="share", direction=-1, source=fcu),
        Column("contenu_co2_kg_kwh", "Contenu CO2 de la chaleur des réseaux", "kgCO2/kWh",
               kind="mean", direction=1, decimals=3,
               source="arrêté DPE (contenus CO2 des réseaux)",
               description="moyenne des réseaux qui livrent la zone, pondérée par l'énergie"),
        Column("taux_enrr", "Part d'énergies renouvelables et de récupération des réseaux",
               "%", kind="share", direction=-1, source="arrêté DPE"),
        Column("chaleur_reseau_residentiel_kwh_par_habitant",
               "Chaleur de réseau livrée au résidentiel par habitant", "kWh par habitant",
               kind="mean", decimals=0, source=fcu),
        Column("part_chaleur_reseau_residentiel",
               "Part de l'énergie résidentielle fournie par les réseaux de chaleur", "%",
               kind="share", direction=-1, source="SDES"),
    )
    ademe = "ADEME, DPE logements existants"
    dpe = (
        Column("part_couverte_dpe", "Part de la zone couverte par le fichier DPE", "%",
               kind="share", source=ademe),
        Column("n_dpe", "Diagnostics de performance énergétique (DPE)", "DPE", kind="count",
               decimals=0, source=ademe),
        Column("n_dpe_fg", "DPE classés F ou G", "DPE", kind="count", direction=1, decimals=0,
               source=ademe),
        Column("part_dpe_fg", "Part des DPE classés F ou G (passoires énergétiques)", "%",
               kind="share", direction=1, source=ademe),
        Column("part_dpe_ges_fg", "Part des DPE d'étiquette climat (GES) F ou G", "%",
               kind="share", direction=1, source=ademe),
        Column("n_dpe_bord", "DPE proches d'une limite de QPV (placement incertain)", "DPE",
               kind="count", decimals=0, source=ademe),
    )
    return heat, dpe


#: Column catalogue entries of the heat-network and DPE layers.
HEAT_NETWORK_COLUMNS, DPE_COLUMNS = _energy_columns()


# -- demo territory -------------------------------------------------------------------------


def demo_heat_networks(base: Any) -> gpd.GeoDataFrame:
    """Synthetic network heat per synthetic IRIS (2 km squares) of the demo territory.

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> int((demo().layers["reseaux_chaleur"]["chaleur_reseau_mwh"] > 0).sum())
    8
    """
    x0, y0, x1, y1 = base.territory.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, 2000.0), np.arange(y0, y1, 2000.0))
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 2000, ys.ravel() + 2000)
    cells = shapely.intersection(cells, base.territory)
    keep = shapely.area(cells) > 0
    iris = gpd.GeoDataFrame({"code_iris": [f"99001{i:04d}" for i in range(int(keep.sum()))]},
                            geometry=cells[keep], crs=schema.CRS)
    rng = np.random.default_rng(2024)
    served = iris["code_iris"].iloc[::3].to_numpy()
    deliveries = pd.DataFrame({
        "identifiant_reseau": "9901C", "code_iris": served, "filiere": "chaleur",
        "secteur": "résidentiel", "energie_mwh": rng.uniform(200, 3000, len(served)).round(),
        "points_livraison": rng.integers(1, 20, len(served)), "secret": False})
    networks = pd.DataFrame({"identifiant_reseau": ["9901C"], "contenu_co2_kg_kwh": [0.09],
                             "taux_enrr": [0.6]})
    return heat_network_iris(deliveries, iris, networks=networks)


def demo_dpe(base: Any) -> gpd.GeoDataFrame:
    """400 synthetic DPE spread over the demo territory (random labels, fixed seed).

    Examples
    --------
    >>> from qpvgeo.datasets import demo
    >>> len(demo().layers["dpe"])
    400
    """
    rng = np.random.default_rng(2024)
    x0, y0, x1, y1 = base.territory.bounds
    frame = gpd.GeoDataFrame({
        "etiquette_dpe": rng.choice(list("ABCDEFG"), 400,
                                    p=[.02, .05, .15, .30, .25, .15, .08]),
        "etiquette_ges": rng.choice(list("ABCDEFG"), 400),
        schema.CODE_COMMUNE: pd.NA,
    }, geometry=shapely.points(rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)),
        crs=schema.CRS)
    frame.attrs["couverture_departements"] = ["99"]
    return frame
