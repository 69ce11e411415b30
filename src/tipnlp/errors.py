"""A small exception hierarchy.  Every message names the item that failed."""

from __future__ import annotations


class TipnlpError(Exception):
    """Base class: the CLI turns these into a one-line message and exit code 2."""


class ManifestError(TipnlpError):
    """A corpus manifest is missing, not YAML, or describes a source wrongly."""


class InputError(TipnlpError):
    """An input file (JSONL documents, gold file, export) is malformed."""


class FetchError(TipnlpError):
    """A page could not be fetched; ``reason`` is a short machine-readable code."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url = url
        self.reason = reason
        self.detail = detail
        super().__init__(f"{url}: {reason}" + (f" ({detail})" if detail else ""))


class ExtractionError(TipnlpError):
    """Text could not be extracted from fetched bytes."""


class AnnotationError(TipnlpError):
    """A Label Studio export or annotation file is invalid; nothing was imported."""


class ModelError(TipnlpError):
    """A model folder is missing or inconsistent with the label scheme."""


class OutputLockedError(TipnlpError):
    """Another run holds the lock on this output folder."""
