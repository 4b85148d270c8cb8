"""Exceptions and warnings raised by qpvgeo.

Every error message names the file, the column or the codes at fault, so that an
analyst can fix the input without reading a traceback.

Examples
--------
>>> from qpvgeo.errors import QpvgeoError, DuplicateCodeError
>>> issubclass(DuplicateCodeError, QpvgeoError)
True
"""

from __future__ import annotations


class QpvgeoError(Exception):
    """Base class of every error qpvgeo raises on purpose."""


class DataFormatError(QpvgeoError, ValueError):
    """A file does not have the layout its reader expects (columns, codes, values)."""


class SchemaError(DataFormatError):
    """A frame lacks a canonical column or has the wrong kind of values."""


class MissingCRSError(DataFormatError):
    """A layer has no CRS and none was given."""


class DuplicateCodeError(DataFormatError):
    """Codes that must be unique (QPV, commune) appear more than once."""


class MixedMillesimeError(DataFormatError):
    """A QPV file mixes 2015 (``QP…``) and 2024 (``QN…``) codes."""


class FetchError(QpvgeoError, OSError):
    """A download failed: the message names the URL and where to put the file by hand."""


class ChecksumError(FetchError):
    """A downloaded or cached file does not have the expected sha256."""


class UnsafeArchiveError(FetchError):
    """An archive member would be written outside the extraction folder."""


class QpvgeoWarning(UserWarning):
    """Something was repaired, dropped or could not be placed: the message says what."""
