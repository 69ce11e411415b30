"""The ``tipnlp`` command line: the only place that prints and sets exit codes.

Each area registers its commands from its own module (``cli/<area>.py``);
this module builds the app and maps ``TipnlpError`` to a one-line message and
exit code 2.
"""

from __future__ import annotations

import os

# Offline, quiet defaults before any heavy import (users may override).
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "DASK_LOGGING__DISTRIBUTED": "warning",
}.items():
    os.environ.setdefault(_key, _value)

from tipnlp.cli.app import app, main  # noqa: E402

__all__ = ["app", "main"]
