"""Choropleth classes shared by the interactive and the static maps (mapclassify).

One function, :func:`classify`, turns a column into classes, colours and legend labels,
so that a Folium map and a matplotlib map of the same indicator draw the same classes.

Schemes
-------
``"quantiles"``
    mapclassify ``Quantiles``: the same number of areas in each class.
``"natural_breaks"`` (aliases ``"fisher_jenks"``, ``"jenks"``)
    mapclassify ``FisherJenks``: Jenks' optimal breaks, computed exactly, hence
    deterministic (mapclassify's ``NaturalBreaks`` uses k-means with a random start and
    can change from one run to the next, which a published map must not do).
``"equal_interval"``
    mapclassify ``EqualInterval``.
``"user_defined"``
    mapclassify ``UserDefined`` with the upper bounds given in ``bins`` (passing
    ``bins`` alone selects it). The data maximum is added as a last bound when it
    exceeds the last one, as mapclassify does.

Missing values (NA, secrecy) are left out of the classification and drawn in grey,
with their own ``n.d.`` legend entry.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qpvgeo.errors import QpvgeoError, SchemaError
from qpvgeo.maps import _format

#: Colour of areas without a value.
MISSING_COLOR = "#d9d9d9"

_SCHEMES = {
    "quantiles": "Quantiles",
    "natural_breaks": "FisherJenks",
    "fisher_jenks": "FisherJenks",
    "jenks": "FisherJenks",
    "equal_interval": "EqualInterval",
    "user_defined": "UserDefined",
}


@dataclass(frozen=True)
class Classes:
    """A classification of one column.

    Attributes
    ----------
    scheme : str
        Canonical scheme name.
    lower : float
        Minimum of the classified values (the lower bound of the first class).
    bins : numpy.ndarray
        Upper bounds of the classes, as mapclassify returns them.
    yb : numpy.ndarray
        Class of every row (``-1`` where the value is missing).
    colors : list of str
        Hex colour of each class.
    labels : list of str
        French legend label of each class, ``"lower – upper"``.
    counts : list of int
        Number of rows in each class.
    n_missing : int
        Rows without a value.
    """

    scheme: str
    lower: float
    bins: np.ndarray
    yb: np.ndarray
    colors: list[str]
    labels: list[str]
    counts: list[int]
    n_missing: int

    def color_of(self) -> list[str]:
        """Colour of every row (grey where missing)."""
        return [self.colors[c] if c >= 0 else MISSING_COLOR for c in self.yb.tolist()]


def class_colors(cmap: str, k: int) -> list[str]:
    """``k`` hex colours sampled evenly from a matplotlib colormap.

    Examples
    --------
    >>> class_colors("Greys", 2)
    ['#ffffff', '#000000']
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    try:
        cm = colormaps[cmap]
    except KeyError:
        raise QpvgeoError(f"unknown colormap {cmap!r}; try 'YlOrRd', 'Blues', 'viridis'…") from None
    if k == 1:
        return [to_hex(cm(0.75))]
    return [to_hex(cm(i / (k - 1))) for i in range(k)]


def classify(
    values: pd.Series,
    *,
    scheme: str | None = "quantiles",
    k: int = 5,
    bins: Sequence[float] | None = None,
    cmap: str = "YlOrRd",
    column: str | None = None,
    decimals: int | None = None,
    rounded: bool = False,
) -> Classes:
    """Classify a numeric column with mapclassify.

    Parameters
    ----------
    values : pandas.Series
        The indicator; NA values get class ``-1``.
    scheme : str, default "quantiles"
        See the module docstring; ignored (``"user_defined"``) when ``bins`` is given.
    k : int, default 5
        Number of classes (fewer when ties make quantiles coincide).
    bins : sequence of float, optional
        Upper bounds of user-defined classes.
    cmap : str, default "YlOrRd"
        matplotlib colormap.
    column : str, optional
        Column name, for error messages.
    decimals : int, optional
        Digits of the legend labels (default: chosen from the magnitude).
    rounded : bool, default False
        Round the inner bounds to a readable step (``38,2`` → ``38``) and label the
        classes as half-open intervals, ``[36 ; 38[`` … ``[42 ; 45]`` (Insee's notation):
        a value equal to a bound goes to the class above. Bounds that round together
        merge, so there are never more classes than distinct values.

    Returns
    -------
    Classes

    Examples
    --------
    >>> c = classify(pd.Series([29.0, 35, 41, 52, None]), scheme="user_defined", bins=[40])
    >>> c.bins.tolist(), c.yb.tolist(), c.n_missing
    ([40.0, 52.0], [0, 0, 1, 1, -1], 1)
    """
    import mapclassify

    what = f"column {column!r}" if column else "values"
    if bins is not None:
        scheme = "user_defined"
    key = (scheme or "quantiles").lower().replace(" ", "_").replace("-", "_")
    if key not in _SCHEMES:
        raise QpvgeoError(
            f"unknown classification scheme {scheme!r}; use one of {sorted(_SCHEMES)}"
        )
    if key == "user_defined" and bins is None:
        raise QpvgeoError("scheme 'user_defined' needs bins=[upper bounds]")
    try:
        y = pd.to_numeric(pd.Series(values), errors="raise").astype("float64")
    except (TypeError, ValueError):
        raise SchemaError(f"{what} is not numeric, so it cannot be mapped as classes") from None
    present = y.notna().to_numpy() & np.isfinite(y.to_numpy(na_value=np.nan))
    data = y.to_numpy(na_value=np.nan)[present]
    if data.size == 0:
        raise SchemaError(f"{what} has no value to classify (all missing)")
    cls = getattr(mapclassify, _SCHEMES[key])
    with warnings.catch_warnings():
        # mapclassify warns when ties leave fewer distinct quantiles than k; the
        # legend then simply shows fewer classes.
        warnings.simplefilter("ignore")
        if key == "user_defined":
            c = cls(data, bins=list(bins))
        else:
            c = cls(data, k=min(int(k), int(np.unique(data).size)))
    edges = np.asarray(c.bins, dtype="float64")
    yb = np.full(y.size, -1, dtype="int64")
    yb[present] = np.asarray(c.yb, dtype="int64")
    if rounded and key != "user_defined":
        return _rounded_classes(data, present, edges, y.size, cmap=cmap, decimals=decimals,
                                scheme="natural_breaks" if _SCHEMES[key] == "FisherJenks"
                                else key)
    colors = class_colors(cmap, edges.size)
    labels = _format.class_labels(float(data.min()), edges, decimals)
    counts = np.bincount(yb[yb >= 0], minlength=edges.size).tolist()
    canonical = "natural_breaks" if _SCHEMES[key] == "FisherJenks" else key
    return Classes(
        scheme=canonical, lower=float(data.min()), bins=edges, yb=yb, colors=colors,
        labels=labels, counts=counts, n_missing=int((~present).sum()),
    )


def round_bounds(bounds: np.ndarray, *, digits: int = 2) -> tuple[np.ndarray, int]:
    """Bounds rounded to ``digits`` significant digits, and the decimals that print them.

    Examples
    --------
    >>> b, d = round_bounds(np.array([38.2, 42.04, 1363.0]))
    >>> b.tolist(), d
    ([38.0, 42.0, 1400.0], 0)
    >>> round_bounds(np.array([0.348, 0.52]))[0].tolist()
    [0.35, 0.52]
    """
    b = np.asarray(bounds, dtype="float64")
    out = b.copy()
    dec = 0
    for i, v in enumerate(b.tolist()):
        if v == 0 or not np.isfinite(v):
            continue
        places = digits - 1 - int(np.floor(np.log10(abs(v))))
        out[i] = round(v, places)
        dec = max(dec, places)
    # decimals that the rounded bounds really need ("38,0" is printed "38")
    need = 0
    for v in out.tolist():
        while need < max(dec, 0) and abs(round(v, need) - v) > 1e-9:
            need += 1
    return out, need


def roundest_between(low: float, high: float) -> tuple[float, int]:
    """The roundest number in ``]low ; high]`` and the decimals that print it.

    Examples
    --------
    >>> roundest_between(12930, 13870), roundest_between(38.21, 38.3)
    ((13000.0, 0), (38.3, 1))
    """
    import math

    if high <= low:
        return float(high), 0
    for power in range(int(math.floor(math.log10(max(abs(high), 1e-12)))) + 1, -7, -1):
        step = 10.0 ** power
        for mult in (10, 5, 2, 1):
            unit = step * mult / 10
            candidate = math.floor(low / unit) * unit + unit
            if low < candidate <= high + 1e-12:
                d = max(0, -int(math.floor(math.log10(unit) + 1e-9)))
                return round(candidate, d), d
    return float(high), 6


def _rounded_classes(data, present, edges, n, *, cmap, decimals, scheme) -> Classes:
    """Classes with mapclassify's very membership, their bounds made round: between the
    largest value of a class and the smallest of the next, the roundest number."""
    import math

    lo, hi = float(data.min()), float(data.max())
    cls = np.searchsorted(edges, data, side="left")  # mapclassify: x <= bin
    cls = np.minimum(cls, edges.size - 1)
    used = np.unique(cls)
    remap = {old: new for new, old in enumerate(used.tolist())}
    yb = np.full(n, -1, dtype="int64")
    yb[present] = [remap[v] for v in cls.tolist()]
    inner, need = [], 0
    for i in range(len(used) - 1):
        top = float(data[cls == used[i]].max())
        nxt = float(data[cls == used[i + 1]].min())
        b, d = roundest_between(top, nxt)
        inner.append(b)
        need = max(need, d)
    if decimals is not None:
        need = decimals
    elif not inner:
        need = _format.auto_decimals([lo, hi])
    scale = 10 ** need
    # the printed extremes enclose the data (floor / ceil at the printed precision)
    bounds = [math.floor(lo * scale + 1e-9) / scale, *inner,
              math.ceil(hi * scale - 1e-9) / scale]
    labels = []
    for i in range(len(bounds) - 1):
        a = _format.format_number(bounds[i], need)
        b = _format.format_number(bounds[i + 1], need)
        last = i == len(bounds) - 2
        labels.append(f"[{a} ; {b}{']' if last else '['}")
    k = len(labels)
    return Classes(
        scheme=scheme, lower=lo, bins=np.asarray([*inner, hi], dtype="float64"), yb=yb,
        colors=class_colors(cmap, k), labels=labels,
        counts=np.bincount(yb[yb >= 0], minlength=k).tolist(), n_missing=int((~present).sum()),
    )
