"""Prefect flows for tipnlp.  Thin: tasks wrap library functions and pass paths.

``scrape.py`` (ingest), ``tag.py`` (tag staged parts), ``train.py`` (train and
evaluate), ``annotate.py`` (the annotation loop), ``run.py`` (scrape + tag +
report, the batch run) and ``prefect.yaml`` (scheduled deployments).
"""
