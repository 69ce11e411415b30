"""The in-memory document record that flows between stages.

Scraping produces ``Document`` objects; tagging consumes them.  Their fields
are exactly the ``documents`` table's, so writing one is ``asdict``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tipnlp.errors import InputError

OK = "ok"
DUPLICATE = "duplicate"

#: Optional JSONL input keys and the documents column they fill.
_OPTIONAL_KEYS = ("url", "title", "language", "kind", "published", "jurisdiction", "source")


def sha256_text(text: str) -> str:
    """SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_doc_id(key: str) -> str:
    """A short stable id from a URL or path (first 16 hex chars of its SHA-256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass
class Document:
    """One document: its text, where it came from, and whether it is usable."""

    doc_id: str
    text: str = ""
    url: str | None = None
    source: str | None = None
    source_name: str | None = None
    title: str | None = None
    author: str | None = None
    sitename: str | None = None
    kind: str | None = None
    language: str | None = None
    jurisdiction: str | None = None
    countries: list[str] = field(default_factory=list)
    published: str | None = None
    fetched_at: datetime | None = None
    content_sha256: str | None = None
    raw_sha256: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    duplicate_of: str | None = None
    n_sentences: int | None = None
    status: str = OK
    error: str | None = None

    def __post_init__(self) -> None:
        if self.content_sha256 is None and self.text:
            self.content_sha256 = sha256_text(self.text)
        if self.fetched_at is None:
            self.fetched_at = datetime.now(UTC)

    @property
    def ok(self) -> bool:
        """True when the document has text to tag."""
        return self.status == OK and bool(self.text.strip())

    def to_row(self) -> dict[str, Any]:
        """The ``documents`` table row."""
        return asdict(self)

    @classmethod
    def failed(cls, doc_id: str, status: str, error: str, **fields: Any) -> Document:
        """A failure row: no text, a status code and a human-readable reason."""
        return cls(doc_id=doc_id, text="", status=status, error=error, **fields)

    @classmethod
    def from_json(cls, obj: dict[str, Any], where: str = "input") -> Document:
        """Build from a ``tipnlp tag`` JSONL object (``doc_id`` and ``text`` required).

        Raises ``InputError`` naming ``where`` when required fields are missing or
        of the wrong type.
        """
        doc_id = obj.get("doc_id")
        text = obj.get("text")
        if not isinstance(doc_id, str | int) or str(doc_id) == "":
            raise InputError(f"{where}: missing or invalid 'doc_id'")
        if not isinstance(text, str):
            raise InputError(f"{where}: doc {doc_id}: missing or non-string 'text'")
        kwargs: dict[str, Any] = {}
        for key in _OPTIONAL_KEYS:
            value = obj.get(key)
            if value is not None:
                kwargs[key] = str(value)
        if kwargs.get("jurisdiction") is None and isinstance(obj.get("country"), str):
            kwargs["jurisdiction"] = obj["country"]
        if "source" not in kwargs:
            kwargs["source"] = kwargs.get("url")
        doc = cls(doc_id=str(doc_id), text=text, **kwargs)
        if not text.strip():
            doc.status, doc.error = "empty", "document has no text"
        return doc
