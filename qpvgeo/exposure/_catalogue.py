"""The column catalogue of the exposure side, read from the registry.

Every layer declares its columns once (:attr:`qpvgeo.exposure.Layer.columns`, with
:class:`qpvgeo.schema.Column` entries, patterns allowed); the profile adds its own
(population base, coverage, surroundings and ratios) and :mod:`qpvgeo.exposure.burden`
its composites. :func:`column_catalogue` gives them all, or one concrete entry per
column of a table, ready for ``schema.column_info(name, extra=column_catalogue(...))``.

Examples
--------
>>> from qpvgeo import schema
>>> extra = column_catalogue(["no2_ratio", "part_couverte_heat"])
>>> schema.column_info("no2_ratio", extra=extra).label
'Concentration moyenne annuelle de NO₂ : rapport QPV / environs'
>>> schema.column_info("part_couverte_heat", extra=extra).label
'Part de la zone couverte par la couche « Sensibilité à la chaleur »'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from qpvgeo.exposure._registry import LAYERS
from qpvgeo.schema import Column, column_info

_SUFFIXES = {
    "_environs": ("{label} : environs (hors QPV)", None),
    "_ratio": ("{label} : rapport QPV / environs", "ratio"),
}

#: The profile's own columns (layer-independent).
PROFILE_COLUMNS: tuple[Column, ...] = (
    Column("population_grille", "Population estimée sur le carroyage", "habitants",
           kind="count", decimals=0, source="INSEE, Filosofi 200 m",
           description="estimation du carroyage (diagnostic de la population officielle)"),
    Column(r"part_couverte_(.+)", "Part de la zone couverte par la couche {0}", "%",
           kind="share", pattern=True,
           description="0 = hors couverture : les indicateurs de la couche sont NA"),
    Column(r"part_population_couverte_(.+)",
           "Part de la population couverte par la couche {0}", "%", kind="share",
           pattern=True),
)


def _layer_of(entry: Column) -> str | None:
    for name, layer in LAYERS.items():
        if entry in layer.columns:
            return name
    return None


def _entries() -> tuple[tuple[Column, str | None], ...]:
    from qpvgeo.exposure.burden import BURDEN_COLUMNS

    own = [(c, None) for c in (*PROFILE_COLUMNS, *BURDEN_COLUMNS)]
    return (*[(c, name) for name, layer in LAYERS.items() for c in layer.columns], *own)


def _words(layer: str | None, group: str | None) -> str:
    if layer is None:
        # The coverage columns name a layer: print its label.
        return f"« {LAYERS[group].label} »" if group in LAYERS else (group or "")
    fn = LAYERS[layer].words
    return fn(group) if fn is not None else (group or "")


def _concrete(name: str) -> tuple[Column, str | None] | None:
    base, suffix = name, ""
    for s in _SUFFIXES:
        if name.endswith(s) and _concrete(name[: -len(s)]) is not None:
            base, suffix = name[: -len(s)], s
            break
    for entry, layer in _entries():
        m = re.fullmatch(entry.name, base) if entry.pattern else None
        if not (m or (not entry.pattern and entry.name == base)):
            continue
        label = entry.label
        if m:
            label = label.format(*[_words(layer, g) for g in m.groups()])
        kind = entry.kind
        unit = entry.unit
        if suffix:
            template, new_kind = _SUFFIXES[suffix]
            label = template.format(label=label)
            if new_kind:
                kind, unit = new_kind, ""
        return dataclasses.replace(entry, name=name, label=label, kind=kind, unit=unit,
                                   pattern=False), layer
    if not suffix:
        general = column_info(name)
        if general is not None:
            return general, None
    return None


def column_catalogue(columns: Iterable[str] | None = None) -> tuple[Column, ...]:
    """The exposure columns: every declared entry, or one concrete entry per column.

    Parameters
    ----------
    columns
        Column names (an :func:`qpvgeo.exposure.exposure_profile` table's columns);
        ``None`` gives the declared entries (patterns included).

    Returns
    -------
    tuple of Column
        For names: concrete entries (``pattern=False``) with the ``{0}`` placeholders of
        the labels filled in, ``_environs`` / ``_ratio`` derived from their base column.
        A name nobody documents is left out (``describe_exposure_columns`` raises).

    Examples
    --------
    >>> [c.label for c in column_catalogue(["part_population_inondable_moyen"])]
    ['Part de la population en zone inondable (scénario moyen)']
    """
    if columns is None:
        return tuple(e for e, _ in _entries())
    out = []
    for name in columns:
        found = _concrete(str(name))
        if found is not None:
            out.append(found[0])
    return tuple(out)


def describe_column(name: str, *, entry: Column | None = None) -> dict[str, str] | None:
    """``unité``, ``couche``, ``description``, ``libellé``, ``définition`` of a column.

    None when no catalogue entry describes it.

    The unit of a share is ``"part 0-1"`` (frames hold fractions; pages print percents).
    """
    if entry is not None:
        found: tuple[Column, str | None] | None = (entry, _layer_of(entry))
    else:
        found = _concrete(name)
    if found is None:
        return None
    col, layer = found
    unit = "part 0-1" if col.kind == "share" else col.unit
    couche = LAYERS[layer].label if layer is not None else (col.source or "exposition")
    # "description" stays the short readable name (the report's column headers read it);
    # "définition" carries the longer note of the catalogue entry.
    return {"unité": unit, "couche": couche, "description": col.label, "libellé": col.label,
            "définition": col.description}
