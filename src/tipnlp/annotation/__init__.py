"""The annotation loop: pick sentences, send them to Label Studio, bring labels back.

``labelstudio`` builds the labelling config and tasks and turns a Label Studio
JSON export into rows of the ``annotations`` table; ``sampling`` chooses which
sentences are worth a human's time (uncertainty plus diversity); ``agreement``
measures how far annotators agree and lists what to adjudicate; ``export``
wires candidates, a tagger and sampling into a task file.  Nothing here prints
or imports Prefect: the CLI and ``pipelines/annotate.py`` do that.
"""

from __future__ import annotations

from tipnlp.annotation.labelstudio import (
    NONE_CHOICE,
    ImportReport,
    import_export,
    labelling_config,
    parse_export,
    read_annotations,
)

__all__ = [
    "NONE_CHOICE",
    "ImportReport",
    "import_export",
    "labelling_config",
    "parse_export",
    "read_annotations",
]
