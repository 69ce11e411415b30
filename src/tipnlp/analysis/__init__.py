"""What analysts get out: DuckDB views, the Palermo checklist, country signals, the report.

Everything here reads an output folder (``OUT/documents``, ``OUT/sentences``,
``OUT/sentence_labels``, ``OUT/entities``) through DuckDB views and
aggregates in SQL, so it stays fast on large corpora.  Nothing here prints;
the CLI (``tipnlp query``, ``tipnlp report``, ``tipnlp schema``) does.
"""
