"""Former home of the diagnose report, now the :mod:`qpvgeo.diagnostic` package.

Kept so that ``from qpvgeo.report import diagnose`` (and the other names) still work.

Examples
--------
>>> from qpvgeo.report import diagnose, build_diagnostic
>>> diagnose.__module__
'qpvgeo.diagnostic'
"""

from qpvgeo.diagnostic import *  # noqa: F403
from qpvgeo.diagnostic import __all__  # noqa: F401
