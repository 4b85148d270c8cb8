"""The registry of exposure layers: each layer is declared once, everything else iterates.

A :class:`Layer` says what a layer is (name, French label, family), how it is read
(``reader``), what it computes (``indicator``, a function returning one row per zone),
which columns come out (with their :class:`qpvgeo.schema.Column` entries), how its
coverage is known, its thresholds, which columns are compared with the surroundings, and
how it is drawn on a map. :func:`qpvgeo.exposure.exposure_profile`, the diagnose report,
the maps and the demo read :data:`LAYERS`; none of them names a layer.

Examples
--------
>>> from qpvgeo.exposure._registry import LAYERS
>>> "flood" in LAYERS
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from qpvgeo.errors import QpvgeoError
from qpvgeo.schema import Column

#: Families of layers, in the order of the report.
FAMILIES: dict[str, str] = {
    "nuisances": "Nuisances et risques",
    "chaleur": "Climat et chaleur",
    "nature": "Nature en ville",
    "acces": "Accès aux services",
    "transition": "Transition énergétique",
}

#: How a layer's coverage is known, best first: given by the caller (``coverage=``),
#: derived from the source (the communes, IRIS or TRI it covers), or, as a last resort,
#: the layer's own hull (with a warning).
COVERAGE_RULES: tuple[str, ...] = ("given", "source", "hull")


@dataclass(frozen=True)
class MapStyle:
    """How a layer is drawn: ``kind`` ("polygons", "classes", "points", "lines"), colours."""

    kind: str = "polygons"
    color: str = "#08519c"
    palette: str = "Blues"
    legend: str = ""
    classes: Mapping[str, str] = field(default_factory=dict)  # class value -> colour


@dataclass(frozen=True)
class Layer:
    """One exposure layer, declared once.

    Parameters
    ----------
    name : str
        Key of the layer in :data:`LAYERS` and of ``exposure_profile(layers={name: …})``.
    label : str
        French label ("Zones inondables (TRI)").
    family : str
        One of :data:`FAMILIES`.
    indicator : callable
        ``indicator(zones, data, *, key, population, population_method, ancillary,
        **options) -> DataFrame`` indexed by ``key``: one row per zone. ``zones`` may be
        the prepared zones of :func:`qpvgeo.exposure.exposure_profile` (already clipped to
        the layer's coverage, with the run's population base attached): pass them to
        ``qpvgeo.exposure._base._prepare_zones`` and ``_population_context``, which reuse
        them as they are.
    reader : callable or None
        ``reader(path, **kw) -> GeoDataFrame`` in the canonical schema.
    columns : tuple of Column
        Every column the indicator returns (patterns allowed).
    comparable : tuple of str
        Regular expressions of the columns compared with the surroundings.
    coverage : str
        Where this layer's coverage normally comes from, one of :data:`COVERAGE_RULES`:
        ``"source"`` when ``extent`` derives it from the data, ``"hull"`` when only the
        caller knows it (a regional site list, a city's green spaces: pass
        ``exposure_profile(coverage={name: polygons})``, else the hull is used, with a
        warning). ``attrs["couverture"]`` on the data and ``coverage=`` always come first.
    thresholds : mapping
        Named thresholds the layer reports against ({"oms_2021": {...}, ...}).
    style : MapStyle
        How the maps draw it.
    source : str
        Name of its catalogue source(s) in :mod:`qpvgeo.sources`, ``", "``-joined.
    publisher : str
        Publisher as printed under a map or a table.
    extent : callable or None
        ``extent(data) -> shapely geometry or None``: the extent where the layer is known
        to hold data, derived from the source (the IRIS of a heat layer, the reach of air
        stations…). ``None`` (or a function returning ``None``) falls back to the layer's
        convex hull, with a warning, unless the caller gives ``coverage=``.
    options : mapping
        Default keyword options of ``indicator`` (``exposure_profile(options={name: …})``
        overrides them).
    words : callable or None
        ``words(group) -> str``: turns the regular-expression groups of a pattern column
        (``route_lden_68``) into French words (``routier, Lden ≥ 68 dB(A)``) for the
        ``{0}`` placeholders of the column labels (:func:`qpvgeo.exposure.column_catalogue`).
    incomparable : callable or None
        ``incomparable(zone_values, surroundings_values) -> {column: boolean Series}``:
        rows where a zone / surroundings ratio means nothing (both served by the same air
        station); the ratio is NA there.
    headline : tuple of str
        Regular expressions of the column that stands for the layer in the composites of
        :mod:`qpvgeo.exposure.burden`, best first (the first one present is used).
    demo : callable or None
        ``demo(territory) -> layer data`` building this layer for the synthetic demo
        territory (:func:`qpvgeo.datasets.demo` calls every registered layer's ``demo``).
    zonewise : bool
        Each zone's values depend on that zone's polygon (and population) only: not on
        its label, not on the other zones, and the surroundings' counts are never
        compared. :func:`qpvgeo.exposure.exposure_profile` then runs the indicator once
        on the QPV and their surroundings together (one dissolve, one population
        estimate); otherwise once for each side.
    """

    name: str
    label: str
    family: str
    indicator: Callable[..., Any]
    reader: Callable[..., Any] | None = None
    columns: tuple[Column, ...] = ()
    comparable: tuple[str, ...] = ()
    coverage: str = "source"
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    style: MapStyle = field(default_factory=MapStyle)
    source: str = ""
    publisher: str = ""
    extent: Callable[[Any], Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    words: Callable[[str], str] | None = None
    incomparable: Callable[[Any, Any], Mapping[str, Any]] | None = None
    headline: tuple[str, ...] = ()
    demo: Callable[[Any], Any] | None = None
    zonewise: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise QpvgeoError(
                f"layer {self.name!r}: family {self.family!r} not in {list(FAMILIES)}"
            )
        if self.coverage not in COVERAGE_RULES:
            raise QpvgeoError(
                f"layer {self.name!r}: coverage {self.coverage!r} not in {COVERAGE_RULES}"
            )


class Registry(Mapping[str, Layer]):
    """An ordered, read-only mapping name -> :class:`Layer`, with :meth:`register`."""

    def __init__(self) -> None:
        self._layers: dict[str, Layer] = {}

    def register(self, layer: Layer, *, replace: bool = False) -> Layer:
        """Add ``layer``; a second layer of the same name is an error unless ``replace``."""
        if layer.name in self._layers and not replace:
            raise QpvgeoError(f"an exposure layer named {layer.name!r} is already registered")
        self._layers[layer.name] = layer
        return layer

    def unregister(self, name: str) -> Layer:
        """Remove and return the layer ``name`` (tests register toy layers and remove them)."""
        try:
            return self._layers.pop(name)
        except KeyError:
            raise QpvgeoError(f"no exposure layer named {name!r}") from None

    def __getitem__(self, name: str) -> Layer:
        try:
            return self._layers[name]
        except KeyError:
            raise QpvgeoError(
                f"no exposure layer named {name!r}; known layers: {list(self._layers)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        # Mapping.__contains__ catches KeyError only; __getitem__ raises a QpvgeoError.
        return name in self._layers

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def columns(self) -> tuple[Column, ...]:
        """Every column every layer declares, in registry order."""
        return tuple(c for layer in self._layers.values() for c in layer.columns)


#: The registry every part of qpvgeo iterates over.
LAYERS = Registry()
