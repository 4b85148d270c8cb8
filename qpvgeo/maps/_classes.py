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
    colors = class_colors(cmap, edges.size)
    labels = _format.class_labels(float(data.min()), edges, decimals)
    counts = np.bincount(yb[yb >= 0], minlength=edges.size).tolist()
    canonical = "natural_breaks" if _SCHEMES[key] == "FisherJenks" else key
    return Classes(
        scheme=canonical, lower=float(data.min()), bins=edges, yb=yb, colors=colors,
        labels=labels, counts=counts, n_missing=int((~present).sum()),
    )
