"""Exceptions and warnings raised by Prospector.

Every error derives from :class:`ProspectorError` and, where one fits, from the
matching built-in exception so that callers can catch either.  Messages say what
was expected, what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "CRSError",
    "CatalogError",
    "ConfigError",
    "FetchError",
    "GeometryRepairWarning",
    "LandStatusUnknownError",
    "LayerReadError",
    "MissingLayerWarning",
    "OutputExistsError",
    "OutputLockedError",
    "OutputWriteError",
    "ProspectorError",
    "ProspectorWarning",
    "RunTooLargeError",
    "SchemaError",
    "UnmappedCodeWarning",
]


class ProspectorError(Exception):
    """Root of every error Prospector raises on purpose."""


class LayerReadError(ProspectorError, OSError):
    """A layer file could not be opened or read."""


class SchemaError(ProspectorError, ValueError):
    """A layer does not match the canonical schema of its role."""


class CRSError(ProspectorError, ValueError):
    """A coordinate reference system is missing, wrong or mixed."""


class ConfigError(ProspectorError, ValueError):
    """A configuration file or option is invalid."""


class CatalogError(ProspectorError, ValueError):
    """A layer catalogue entry or region file is invalid or unknown."""


class FetchError(ProspectorError, OSError):
    """A download from an official source failed."""


class ArchiveError(ProspectorError, ValueError):
    """An archive is unsafe (path escape, oversized member) or corrupt."""


class LandStatusUnknownError(ProspectorError, ValueError):
    """A step that needs land status (a staking plan) was given no land-status layer."""


class OutputExistsError(ProspectorError, FileExistsError):
    """An output file exists and overwriting was not requested."""


class RunTooLargeError(ProspectorError, MemoryError):
    """A run would need more parcels or memory than allowed; nothing was allocated."""


class OutputWriteError(ProspectorError, OSError):
    """Writing an output failed (disk full, permission, read-only...); partial files removed."""


class OutputLockedError(ProspectorError, BlockingIOError):
    """Another Prospector run is writing into the same output folder."""


class ProspectorWarning(UserWarning):
    """Root of every warning Prospector emits."""


class GeometryRepairWarning(ProspectorWarning):
    """Invalid geometries were repaired (the message counts them)."""


class UnmappedCodeWarning(ProspectorWarning):
    """Published codes could not be mapped to the canonical vocabulary."""


class MissingLayerWarning(ProspectorWarning):
    """A layer the analysis could use was not supplied."""
