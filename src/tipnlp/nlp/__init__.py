"""Segmentation, rules, penalty figures and the tagger interface.

Importing this package imports spaCy's numeric backend, thinc, without
letting it import torch.  ``thinc.compat`` imports torch (when installed)
only to record whether GPU shims are possible; spaCy's blank tokenizers and
matchers, all this package uses, never need it, and on the two-core machine
it costs about 1.5 s of every ``tipnlp tag`` start (the ONNX runtimes need
no torch at all).  torch stays importable afterwards (the PyTorch backend
and training import it normally); only thinc's torch shims, which tipnlp
does not use, stay off.  When torch is already imported nothing changes.
"""

from __future__ import annotations

import sys


def _import_thinc_without_torch() -> None:
    """Import ``thinc.compat`` with ``import torch`` failing, then undo that."""
    if "torch" in sys.modules or "thinc.compat" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes "import torch" raise
    try:
        import thinc.compat  # noqa: F401
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


_import_thinc_without_torch()
