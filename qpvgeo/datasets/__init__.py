"""Datasets shipped as code: the synthetic demo territory.

Examples
--------
>>> from qpvgeo.datasets import demo
>>> len(demo().qpv)
4
"""

from qpvgeo.datasets._demo import LABEL, DemoTerritory, demo

__all__ = ["LABEL", "DemoTerritory", "demo"]
