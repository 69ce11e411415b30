"""Parquet schemas: one ``pyarrow`` schema per table, every field described.

This is the only module that defines table layouts.  Each schema carries its
table name and version in the schema metadata, which travels inside every
Parquet file (``tipnlp.table``, ``tipnlp.schema_version``,
``tipnlp.label_scheme``).  Change a field and bump that table's version.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from tipnlp.labels import LABELS, SCHEME_VERSION

#: Version per table.  Bump when a field is added, removed or changes meaning.
VERSIONS: Final[dict[str, int]] = {
    "documents": 1,
    "sentences": 1,
    "sentence_labels": 1,
    "entities": 1,
    "annotations": 1,
}


def _f(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _schema(table: str, fields: list[pa.Field], description: str) -> pa.Schema:
    meta = {
        "tipnlp.table": table,
        "tipnlp.schema_version": str(VERSIONS[table]),
        "tipnlp.label_scheme": str(SCHEME_VERSION),
        "description": description,
    }
    return pa.schema(fields, metadata=meta)


TIMESTAMP = pa.timestamp("us", tz="UTC")

DOCUMENTS: Final[pa.Schema] = _schema(
    "documents",
    [
        _f(
            "doc_id",
            pa.string(),
            "Stable id: given by the input, else derived from the normalised URL or file path.",
            nullable=False,
        ),
        _f("url", pa.string(), "Canonical URL of the document, null for local files without one."),
        _f(
            "source",
            pa.string(),
            "Where the bytes came from: the fetched URL, file path "
            "or WARC record (path#record-id).",
        ),
        _f("source_name", pa.string(), "Name of the manifest source entry that produced it."),
        _f("title", pa.string(), "Title from the page metadata or the input."),
        _f("author", pa.string(), "Author(s) from the page metadata."),
        _f("sitename", pa.string(), "Site or publisher name from the page metadata."),
        _f(
            "kind",
            pa.string(),
            "statute, treaty, news, press_release, report, other: from the manifest or input.",
        ),
        _f(
            "language",
            pa.string(),
            "ISO 639-1 language: from the input/manifest, else detected with py3langid.",
        ),
        _f(
            "jurisdiction",
            pa.string(),
            "Jurisdiction a statute belongs to (ISO 3166 "
            "alpha-2 or an organisation such as UN, EU), from the manifest or input.",
        ),
        _f(
            "countries",
            pa.list_(pa.string()),
            "ISO 3166 alpha-2 codes the document is about (metadata plus place names in the text).",
        ),
        _f("published", pa.string(), "Publication date, ISO 8601 (YYYY-MM-DD) where known."),
        _f("fetched_at", TIMESTAMP, "When the bytes were fetched or the file read (UTC)."),
        _f(
            "text",
            pa.string(),
            "The extracted text: every character offset in other tables refers to this string.",
        ),
        _f(
            "content_sha256",
            pa.string(),
            "SHA-256 of ``text`` (UTF-8), for exact dedup and change detection.",
        ),
        _f("raw_sha256", pa.string(), "SHA-256 of the raw bytes; key into the raw cache."),
        _f("http_status", pa.int32(), "HTTP status of the final response, null for files."),
        _f("etag", pa.string(), "ETag response header, for conditional re-fetching."),
        _f("last_modified", pa.string(), "Last-Modified response header."),
        _f(
            "duplicate_of",
            pa.string(),
            "doc_id of the document this one duplicates (exact or near duplicate), else null.",
        ),
        _f("n_sentences", pa.int32(), "Number of sentences tagged (null until tagged)."),
        _f(
            "status",
            pa.string(),
            "ok, duplicate, or a failure reason code (dns, timeout, "
            "http_404, http_500, robots, too_large, not_text, empty, bad_input, ...).",
            nullable=False,
        ),
        _f("error", pa.string(), "Human-readable reason when status is not ok."),
        _f("schema_version", pa.int32(), "Version of this table's schema.", nullable=False),
    ],
    "One row per document (fetched page, file or input record), including failures.",
)

SCORE_STRUCT = pa.struct([pa.field(name, pa.float32()) for name in LABELS])

SENTENCES: Final[pa.Schema] = _schema(
    "sentences",
    [
        _f("doc_id", pa.string(), "Document the sentence belongs to.", nullable=False),
        _f(
            "sent_id",
            pa.int32(),
            "0-based position of the sentence in its document.",
            nullable=False,
        ),
        _f("start", pa.int32(), "Start offset into documents.text (characters).", nullable=False),
        _f("end", pa.int32(), "End offset into documents.text, exclusive.", nullable=False),
        _f("text", pa.string(), "The sentence: documents.text[start:end]."),
        _f(
            "unit",
            pa.string(),
            "Statute unit the sentence sits in, e.g. 'Art. 3(a)' or 's. 2(1)'; null when none.",
        ),
        _f("language", pa.string(), "Language of the document (ISO 639-1)."),
        _f(
            "labels",
            pa.list_(pa.string()),
            "Labels whose score passed their threshold (scheme order).",
        ),
        _f(
            "scores",
            SCORE_STRUCT,
            "Probability per label (calibrated for the model, 0/1 for rules).",
        ),
        _f(
            "tagger",
            pa.string(),
            "Which tagger decided: model, rules (language not "
            "covered by the model), or model+rules.",
        ),
        _f(
            "prison_min_years",
            pa.float64(),
            "Minimum prison term in years stated by a penalty sentence; null if not stated.",
        ),
        _f("prison_max_years", pa.float64(), "Maximum prison term in years; null if not stated."),
        _f("prison_life", pa.bool_(), "Life imprisonment is stated."),
        _f("death_penalty", pa.bool_(), "The death penalty is stated."),
        _f("fine_text", pa.string(), "Fine as written, with amount and currency."),
        _f("countries", pa.list_(pa.string()), "ISO 3166 alpha-2 codes named in the sentence."),
        _f("model_version", pa.string(), "Name and version of the model that scored it."),
        _f("schema_version", pa.int32(), "Version of this table's schema.", nullable=False),
    ],
    "One row per sentence of every tagged document.",
)

SENTENCE_LABELS: Final[pa.Schema] = _schema(
    "sentence_labels",
    [
        _f("doc_id", pa.string(), "Document id.", nullable=False),
        _f("sent_id", pa.int32(), "Sentence position, joins sentences.", nullable=False),
        _f("label", pa.string(), "A label the sentence carries.", nullable=False),
        _f("label_group", pa.string(), "provision or signal."),
        _f("score", pa.float32(), "Score of the label for this sentence."),
        _f("threshold", pa.float32(), "Threshold the score passed."),
        _f("source", pa.string(), "Where the label came from: model or rule."),
        _f("model_version", pa.string(), "Model (or rule set) version."),
        _f("schema_version", pa.int32(), "Version of this table's schema.", nullable=False),
    ],
    "One row per (sentence, label) pair: the long form for DuckDB group-bys.",
)

ENTITIES: Final[pa.Schema] = _schema(
    "entities",
    [
        _f("doc_id", pa.string(), "Document id.", nullable=False),
        _f("sent_id", pa.int32(), "Sentence position, null for document-level metadata."),
        _f("start", pa.int32(), "Start offset into documents.text."),
        _f("end", pa.int32(), "End offset into documents.text, exclusive."),
        _f("text", pa.string(), "The matched text."),
        _f("entity_type", pa.string(), "COUNTRY, AGENCY or INSTRUMENT.", nullable=False),
        _f("code", pa.string(), "ISO 3166 alpha-2 for countries, canonical name otherwise."),
        _f("schema_version", pa.int32(), "Version of this table's schema.", nullable=False),
    ],
    "Countries, agencies and legal instruments found in documents.",
)

ANNOTATIONS: Final[pa.Schema] = _schema(
    "annotations",
    [
        _f("task_id", pa.string(), "Label Studio task id (or gold sentence id).", nullable=False),
        _f("doc_id", pa.string(), "Document id."),
        _f("sent_id", pa.int32(), "Sentence position in the document."),
        _f("start", pa.int32(), "Start offset into the document text."),
        _f("end", pa.int32(), "End offset, exclusive."),
        _f("text", pa.string(), "The sentence shown to the annotator.", nullable=False),
        _f("context", pa.string(), "Title and previous sentence shown with it."),
        _f("labels", pa.list_(pa.string()), "Labels the annotator chose."),
        _f("prison_min_years", pa.float64(), "Annotated minimum prison term (years)."),
        _f("prison_max_years", pa.float64(), "Annotated maximum prison term (years)."),
        _f("prison_life", pa.bool_(), "Annotated life imprisonment."),
        _f("death_penalty", pa.bool_(), "Annotated death penalty."),
        _f("fine_text", pa.string(), "Annotated fine text."),
        _f("annotator", pa.string(), "Who annotated (Label Studio user)."),
        _f("annotated_at", TIMESTAMP, "When the annotation was made."),
        _f("label_scheme", pa.int32(), "Label-scheme version the annotation follows."),
        _f("schema_version", pa.int32(), "Version of this table's schema.", nullable=False),
    ],
    "Human annotations imported from Label Studio.",
)

SCHEMAS: Final[dict[str, pa.Schema]] = {
    "documents": DOCUMENTS,
    "sentences": SENTENCES,
    "sentence_labels": SENTENCE_LABELS,
    "entities": ENTITIES,
    "annotations": ANNOTATIONS,
}


def schema_for(table: str) -> pa.Schema:
    """Return the schema of ``table``; raise ``KeyError`` listing known tables."""
    try:
        return SCHEMAS[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(SCHEMAS)}") from None


def version_of(table: str) -> int:
    """Schema version of ``table``, as stored in each file's metadata."""
    return VERSIONS[table]


def describe(table: str) -> list[tuple[str, str, str]]:
    """(name, type, description) per field: the data dictionary, generated not written."""
    return [
        (f.name, str(f.type), (f.metadata or {}).get(b"description", b"").decode())
        for f in schema_for(table)
    ]
