"""qpvgeo: population and environmental exposure of France's quartiers prioritaires (QPV).

The public API is flat and re-exported here; see ``__all__``.
"""

from qpvgeo import schema
from qpvgeo.errors import (
    DataFormatError,
    DuplicateCodeError,
    FetchError,
    MissingCRSError,
    MixedMillesimeError,
    QpvgeoError,
    QpvgeoWarning,
    SchemaError,
)

__version__ = "0.1.0"

__all__ = [
    "DataFormatError",
    "DuplicateCodeError",
    "FetchError",
    "MissingCRSError",
    "MixedMillesimeError",
    "QpvgeoError",
    "QpvgeoWarning",
    "SchemaError",
    "__version__",
    "schema",
]
