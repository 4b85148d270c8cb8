"""From the publishers' files to the population-share table, in one call.

This is what ``qpvgeo shares`` runs; notebooks and other studies can call it too.
It only chains the readers, the commune-code harmonisation and the population
functions: every rule lives in those modules.
"""

from __future__ import annotations

import os

import pandas as pd

from qpvgeo import schema
from qpvgeo.errors import QpvgeoError

PathLike = str | os.PathLike


def _harmonised(frame: pd.DataFrame, movements: pd.DataFrame, *, year: int | None, by=None):
    from qpvgeo.cog import harmonise_communes

    return harmonise_communes(frame, movements=movements, year=year, by=by)


def shares_from_files(
    *,
    demo: bool = False,
    qpv: PathLike | None = None,
    indicators: PathLike | None = None,
    communes: PathLike | None = None,
    membership: PathLike | None = None,
    population: PathLike | None = None,
    epci: PathLike | None = None,
    movements: PathLike | None = None,
    cog_year: int | None = None,
    level: str = "commune",
    metropolitan_only: bool = False,
) -> pd.DataFrame:
    """Population in QPV and its share by territory, from files (or the demo).

    Reads the QPV contours, their populations, the communes (boundaries, to split a
    QPV over several communes by area), the QPV x commune list, the populations
    légales and, for ``level="epci"``, the EPCI membership; optionally brings every
    commune code to the geography of an INSEE movements file first; then calls
    :func:`qpvgeo.population.qpv_population_by_commune` and
    :func:`qpvgeo.population.population_shares`.

    Parameters
    ----------
    demo
        Use the synthetic demo territory instead of files.
    qpv, indicators, population
        Required unless ``demo``: QPV contours, QPV populations (INSEE / SIG Ville),
        populations légales by commune.
    communes, membership, epci
        Optional: commune boundaries, QPV x commune list, EPCI membership.
    movements, cog_year
        INSEE movements file, and the COG year of the commune codes of ``communes``
        and ``membership``: both are harmonised to the movements file's geography.
    level, metropolitan_only
        As in :func:`qpvgeo.population.population_shares`.

    Returns
    -------
    pandas.DataFrame
        ``population``, ``population_qpv``, ``part_qpv`` (0-1), ``n_qpv`` by territory.

    Examples
    --------
    >>> table = shares_from_files(demo=True, level="commune")
    >>> int(table.loc["99001", "n_qpv"])
    2
    """
    from qpvgeo.population import population_shares, qpv_population_by_commune

    if demo:
        from qpvgeo.datasets import demo as make_demo

        d = make_demo()
        qpv_f, ind_f, com_f = d.qpv, d.indicators, d.communes
        memb_f, pop_f, epci_f = d.qpv_communes, d.commune_population, d.epci
    else:
        missing = [n for n, v in (("qpv", qpv), ("indicators", indicators),
                                  ("population", population)) if v is None]
        if missing:
            raise QpvgeoError(
                f"missing input(s): {', '.join('--' + m for m in missing)} (or use --demo)"
            )
        from qpvgeo import readers

        com_f = readers.read_communes(communes) if communes else None
        qpv_f = readers.read_qpv(qpv, communes=com_f)
        ind_f = readers.read_qpv_indicators(indicators)
        memb_f = readers.read_qpv_communes(membership, communes=com_f) if membership else None
        pop_f = readers.read_commune_population(population)
        epci_f = readers.read_epci(epci) if epci else None
        if movements:
            from qpvgeo.readers.cog import read_cog_movements

            mvt = read_cog_movements(movements)
            if com_f is not None:
                com_f = _harmonised(com_f, mvt, year=cog_year)
            if memb_f is not None:
                memb_f = _harmonised(
                    memb_f[[schema.CODE_QPV, schema.CODE_COMMUNE]], mvt, year=cog_year,
                    by=[schema.CODE_QPV],
                )
            if com_f is not None:
                # The main commune is re-derived from the harmonised boundaries.
                qpv_f = readers.read_qpv(qpv, communes=com_f)
            else:
                # No boundaries: bring the QPV file's own commune codes to the movements'
                # geography (they were NA before, and every QPV then failed to place).
                own = pd.DataFrame(qpv_f[[schema.CODE_QPV, schema.CODE_COMMUNE]]).dropna()
                moved = _harmonised(own, mvt, year=cog_year, by=[schema.CODE_QPV]) if len(
                    own) else own
                main = moved.drop_duplicates(schema.CODE_QPV).set_index(schema.CODE_QPV)
                qpv_f = qpv_f.assign(**{schema.CODE_COMMUNE: qpv_f[schema.CODE_QPV].map(
                    main[schema.CODE_COMMUNE]).astype("string")})

    by_commune = qpv_population_by_commune(qpv_f, ind_f, com_f, membership=memb_f)
    return population_shares(
        by_commune, pop_f, level=level, epci=epci_f, metropolitan_only=metropolitan_only
    )
